/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The IPFIX observation domain of a network namespace when the config sets
 * none (observationDomainId): one per namespace, because ifindex values of
 * different namespaces must not be mixed in one domain.  The flow table
 * (lib/flow) and the config (lib/config) both ask here, so a namespace has
 * the same domain whoever names it.
 */
#ifndef FLOWCTL_OBS_DOMAIN_H
#define FLOWCTL_OBS_DOMAIN_H

#include <stdint.h>

/* The root namespace's name (NULL means it too). */
#define OBS_DOMAIN_ROOT_NS "DEFAULT"

/* 32-bit FNV-1a of the name, as it is (0 for some names). */
uint32_t obs_domain_hash(const char *netns);

/*
 * The default domain of NETNS (NULL: the root namespace): its
 * obs_domain_hash(), except 1 where that is 0.  Never 0: in IPFIX an
 * observation domain of 0 means "no specific domain".
 */
uint32_t obs_domain_default(const char *netns);

#endif
