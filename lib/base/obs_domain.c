// SPDX-License-Identifier: Apache-2.0
#include "obs_domain.h"

uint32_t obs_domain_hash(const char *netns)
{
	const unsigned char *c;
	uint32_t h = 2166136261U;	/* FNV-1a, 32 bits */

	for (c = (const unsigned char *)netns; *c; c++) {
		h ^= *c;
		h *= 16777619U;
	}
	return h;
}

uint32_t obs_domain_default(const char *netns)
{
	return obs_domain_hash(netns ? netns : OBS_DOMAIN_ROOT_NS) ?: 1;
}
