/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Interface specifications of `flowctl meter`:
 *   NETNS:DEV   a device in a named network namespace (ip netns)
 *   NETNS:*     every device of that namespace but lo
 *   DEV         a device in the root namespace
 * Either part may be a shell-style pattern (`*`, `?`, `[...]`, fnmatch(3)
 * without flags): it matches whole names only, never a part of one, and
 * never `lo` (name lo to meter it).
 */
#ifndef FLOWCTL_IFSPEC_H
#define FLOWCTL_IFSPEC_H

#include <limits.h>
#include <net/if.h>
#include <stdbool.h>

/* ip netns names are file names in /run/netns: at most NAME_MAX octets. */
#define NETNS_NAME_MAX (NAME_MAX + 1)

struct ifspec {
	char netns[NETNS_NAME_MAX];	/* "" for the root namespace */
	char dev[IFNAMSIZ];		/* "" when all is set */
	bool all;			/* NETNS:* */
	bool netns_glob;		/* NETNS is a pattern */
	bool dev_glob;			/* DEV is a pattern (not "*") */
};

/* Does S hold a pattern character ('*', '?', '[')? */
bool ifspec_is_glob(const char *s);
/* Does device NAME match SPEC's device part (exact name or pattern)? */
bool ifspec_dev_match(const struct ifspec *spec, const char *name);
/* Does namespace NAME match SPEC's namespace part? */
bool ifspec_netns_match(const struct ifspec *spec, const char *name);

/*
 * Parse S into SPEC.  Returns 0, or -EINVAL with a reason in ERR (a static
 * string) when S is not a valid specification.
 */
int ifspec_parse(const char *s, struct ifspec *spec, const char **err);

/*
 * Validate a namespace name / device name on their own (0 or -EINVAL).
 * Names are valid UTF-8 without control characters, ' ', '/' or ':', not
 * "." or ".."; namespace names at most 255 octets (NAME_MAX) and not
 * DEFAULT, device names at most 15 (IFNAMSIZ - 1).  ERR may point to a
 * static buffer, valid until the next call.
 */
int ifspec_check_netns(const char *ns, const char **err);
int ifspec_check_dev(const char *dev, const char **err);
/* A pin directory name: DEFAULT (the root namespace) or a namespace name. */
int ifspec_check_pin_name(const char *name, const char **err);

/* "NETNS:DEV", "NETNS:*" or "DEV" into BUF. */
const char *ifspec_str(const struct ifspec *spec, char *buf, int size);

/* The pin directory name of a namespace: its name, or "DEFAULT" for root. */
const char *ifspec_pin_name(const char *netns);

#endif
