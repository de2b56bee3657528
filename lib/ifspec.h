/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Interface specifications of `flowctl meter`:
 *   NETNS:DEV   a device in a named network namespace (ip netns)
 *   NETNS:*     every device of that namespace but lo
 *   DEV         a device in the root namespace
 */
#ifndef FLOWCTL_IFSPEC_H
#define FLOWCTL_IFSPEC_H

#include <net/if.h>
#include <stdbool.h>

#define NETNS_NAME_MAX 64	/* ip netns names: a file name in /run/netns */

struct ifspec {
	char netns[NETNS_NAME_MAX];	/* "" for the root namespace */
	char dev[IFNAMSIZ];		/* "" when all is set */
	bool all;			/* NETNS:* */
};

/*
 * Parse S into SPEC.  Returns 0, or -EINVAL with a reason in ERR (a static
 * string) when S is not a valid specification.
 */
int ifspec_parse(const char *s, struct ifspec *spec, const char **err);

/* Validate a namespace name / device name on their own (0 or -EINVAL). */
int ifspec_check_netns(const char *ns, const char **err);
int ifspec_check_dev(const char *dev, const char **err);

/* "NETNS:DEV", "NETNS:*" or "DEV" into BUF. */
const char *ifspec_str(const struct ifspec *spec, char *buf, int size);

/* The pin directory name of a namespace: its name, or "DEFAULT" for root. */
const char *ifspec_pin_name(const char *netns);

#endif
