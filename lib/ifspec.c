// SPDX-License-Identifier: Apache-2.0
#include "ifspec.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "flow_abi.h"

int ifspec_check_netns(const char *ns, const char **err)
{
	size_t len = strlen(ns);
	const char *p;

	if (!len) {
		*err = "empty namespace name";
		return -EINVAL;
	}
	if (len >= NETNS_NAME_MAX) {
		*err = "namespace name too long";
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
	for (p = ns; *p; p++) {
		if (*p == '/' || *p == ':' || *p <= ' ' || *p == 0x7f) {
			*err = "namespace name contains '/', ':', a space or a control character";
			return -EINVAL;
		}
	}
	return 0;
}

int ifspec_check_dev(const char *dev, const char **err)
{
	size_t len = strlen(dev);
	const char *p;

	if (!len) {
		*err = "empty device name";
		return -EINVAL;
	}
	if (len >= IFNAMSIZ) {
		*err = "device name longer than 15 characters";
		return -EINVAL;
	}
	for (p = dev; *p; p++) {
		if (*p == '/' || *p == ':' || *p <= ' ' || *p == 0x7f) {
			*err = "device name contains '/', ':', a space or a control character";
			return -EINVAL;
		}
	}
	if (!strcmp(dev, ".") || !strcmp(dev, "..")) {
		*err = "device name cannot be . or ..";
		return -EINVAL;
	}
	return 0;
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
		return 0;
	}
	if (strchr(colon + 1, ':')) {
		*err = "more than one ':' (expected NETNS:DEV)";
		return -EINVAL;
	}
	if ((size_t)(colon - s) >= sizeof(spec->netns)) {
		*err = "namespace name too long";
		return -EINVAL;
	}
	memcpy(spec->netns, s, colon - s);
	spec->netns[colon - s] = '\0';
	if (ifspec_check_netns(spec->netns, err))
		return -EINVAL;
	if (!strcmp(colon + 1, "*")) {
		spec->all = true;
		return 0;
	}
	if (ifspec_check_dev(colon + 1, err))
		return -EINVAL;
	strcpy(spec->dev, colon + 1);
	return 0;
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
