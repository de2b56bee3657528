// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness: interface specifications (lib/base/ifspec.c), as given to
 * `flowctl meter` and in the config's `interfaces`: NETNS:DEV, NETNS:*,
 * DEV.  The input is the text (NUL-terminated copy).  Checks, besides the
 * sanitizers: a spec that parses prints back (ifspec_str) to text that
 * parses to the same spec, its names pass the name checks on their own,
 * and every error comes with a reason.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ifspec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ifspec spec, again;
	const char *err = NULL;
	char buf[NETNS_NAME_MAX + IFNAMSIZ + 2];
	char *s = malloc(size + 1);

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	if (ifspec_parse(s, &spec, &err)) {
		if (!err || !*err)
			abort();	/* an error without a reason */
		goto out;
	}
	/* what parsed is well-formed on its own ... */
	if (spec.netns[0] && ifspec_check_netns(spec.netns, &err))
		abort();
	if (!spec.all && ifspec_check_dev(spec.dev, &err))
		abort();
	if (spec.all && (spec.dev[0] || !spec.netns[0]))
		abort();
	/* ... and survives a round trip through its text form */
	ifspec_str(&spec, buf, sizeof(buf));
	if (strcmp(buf, s))
		abort();
	if (ifspec_parse(buf, &again, &err) ||
	    memcmp(&spec, &again, sizeof(spec)))
		abort();
	if (strcmp(ifspec_pin_name(spec.netns[0] ? spec.netns : NULL),
		   spec.netns[0] ? spec.netns : "DEFAULT"))
		abort();
	/* the name checks alone: must not read past the strings */
	ifspec_check_netns(s, &err);
	ifspec_check_dev(s, &err);
out:
	free(s);
	return 0;
}
