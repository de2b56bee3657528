// SPDX-License-Identifier: Apache-2.0
#include "ifspec.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "flow_abi.h"

/*
 * Length of the UTF-8 character at S (1..4), or 0 when S does not start a
 * valid one: overlong forms, surrogates and code points above U+10FFFF are
 * invalid (RFC 3629).
 */
static int utf8_char_len(const unsigned char *s)
{
	int n, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;	/* also stops at the NUL */
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

/*
 * The characters of a name: printable ASCII but ' ', '/' and ':' (the
 * separator of NETNS:DEV), and any valid UTF-8 character that is not a
 * C1 control character (U+0080..U+009F).  The kernel takes any octet but
 * '/' for a file under /run/netns, and for a device any but '/', ':' and
 * blanks; flowctl writes the names into JSON and IPFIX strings, which
 * are UTF-8.
 */
static int check_chars(const char *name, const char *what, const char **err)
{
	static char msg[128];
	const unsigned char *p = (const unsigned char *)name;

	while (*p) {
		int n = utf8_char_len(p);

		if (!n) {
			snprintf(msg, sizeof(msg),
				 "%s name is not valid UTF-8", what);
			*err = msg;
			return -EINVAL;
		}
		if (*p == '/' || *p == ':' || *p <= ' ' || *p == 0x7f ||
		    (n == 2 && p[0] == 0xc2 && p[1] < 0xa0)) {
			snprintf(msg, sizeof(msg),
				 "%s name contains '/', ':', a space or a control character",
				 what);
			*err = msg;
			return -EINVAL;
		}
		p += n;
	}
	return 0;
}

int ifspec_check_netns(const char *ns, const char **err)
{
	size_t len = strnlen(ns, NETNS_NAME_MAX);

	if (!len) {
		*err = "empty namespace name";
		return -EINVAL;
	}
	if (len >= NETNS_NAME_MAX) {
		*err = "namespace name longer than 255 bytes (NAME_MAX: ip netns names are file names in /run/netns)";
		return -EINVAL;
	}
	if (!strcmp(ns, ".") || !strcmp(ns, "..")) {
		*err = "namespace name cannot be . or ..";
		return -EINVAL;
	}
	if (!strcmp(ns, FLOW_ROOT_NETNS)) {
		*err = "namespace name " FLOW_ROOT_NETNS
		       " is reserved for the root namespace's pins";
		return -EINVAL;
	}
	return check_chars(ns, "namespace", err);
}

int ifspec_check_pin_name(const char *name, const char **err)
{
	if (!strcmp(name, FLOW_ROOT_NETNS))
		return 0;
	return ifspec_check_netns(name, err);
}

int ifspec_check_dev(const char *dev, const char **err)
{
	size_t len = strnlen(dev, IFNAMSIZ);

	if (!len) {
		*err = "empty device name";
		return -EINVAL;
	}
	if (len >= IFNAMSIZ) {
		*err = "device name longer than 15 bytes (IFNAMSIZ - 1)";
		return -EINVAL;
	}
	if (!strcmp(dev, ".") || !strcmp(dev, "..")) {
		*err = "device name cannot be . or ..";
		return -EINVAL;
	}
	return check_chars(dev, "device", err);
}

int ifspec_parse(const char *s, struct ifspec *spec, const char **err)
{
	const char *colon = strchr(s, ':');

	memset(spec, 0, sizeof(*spec));
	if (!colon) {
		if (!strcmp(s, "*")) {
			*err = "'*' needs a namespace (NETNS:*)";
			return -EINVAL;
		}
		if (ifspec_check_dev(s, err))
			return -EINVAL;
		strcpy(spec->dev, s);
		spec->dev_glob = ifspec_is_glob(s);
		return 0;
	}
	if (strchr(colon + 1, ':')) {
		*err = "more than one ':' (expected NETNS:DEV)";
		return -EINVAL;
	}
	if ((size_t)(colon - s) >= sizeof(spec->netns)) {
		*err = "namespace name longer than 255 bytes (NAME_MAX: ip netns names are file names in /run/netns)";
		return -EINVAL;
	}
	memcpy(spec->netns, s, colon - s);
	spec->netns[colon - s] = '\0';
	if (ifspec_check_netns(spec->netns, err))
		return -EINVAL;
	spec->netns_glob = ifspec_is_glob(spec->netns);
	if (!strcmp(colon + 1, "*")) {
		spec->all = true;
		return 0;
	}
	if (ifspec_check_dev(colon + 1, err))
		return -EINVAL;
	strcpy(spec->dev, colon + 1);
	spec->dev_glob = ifspec_is_glob(spec->dev);
	return 0;
}

bool ifspec_is_glob(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

bool ifspec_dev_match(const struct ifspec *spec, const char *name)
{
	if (!spec->all && !spec->dev_glob)
		return !strcmp(spec->dev, name);
	/* a pattern never selects the loopback device */
	if (!strcmp(name, "lo"))
		return false;
	return spec->all || fnmatch(spec->dev, name, 0) == 0;
}

bool ifspec_netns_match(const struct ifspec *spec, const char *name)
{
	if (!spec->netns_glob)
		return !strcmp(spec->netns, name);
	return fnmatch(spec->netns, name, 0) == 0;
}

const char *ifspec_str(const struct ifspec *spec, char *buf, int size)
{
	if (!spec->netns[0])
		snprintf(buf, size, "%s", spec->dev);
	else
		snprintf(buf, size, "%s:%s", spec->netns,
			 spec->all ? "*" : spec->dev);
	return buf;
}

const char *ifspec_pin_name(const char *netns)
{
	return netns && netns[0] ? netns : FLOW_ROOT_NETNS;
}
