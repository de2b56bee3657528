// SPDX-License-Identifier: Apache-2.0
#include "hostport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "strnum.h"

int hostport_split(const char *addr, char *host, size_t host_size,
		   const char **port, bool *bracketed)
{
	const char *colon, *hs;
	size_t hlen;

	*bracketed = addr[0] == '[';
	if (*bracketed) {
		const char *close = strchr(addr, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		hs = addr + 1;
		hlen = close - hs;
		colon = close + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon || strchr(addr, ':') != colon)
			return -EINVAL;	/* none, or IPv6 without brackets */
		hs = addr;
		hlen = colon - addr;
	}
	if (hlen >= host_size)
		return -EINVAL;
	memcpy(host, hs, hlen);
	host[hlen] = 0;
	*port = colon + 1;
	return 0;
}

static bool valid_hostname(const char *h)
{
	const char *c;

	if (!*h || strlen(h) > 253)
		return false;
	for (c = h; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '-' || *c == '.' ||
		      *c == '_'))
			return false;
	return true;
}

int hostport_parse(const char *addr, char *host, size_t host_size,
		   uint16_t *port)
{
	struct in6_addr a6;
	struct in_addr a4;
	const char *port_s;
	bool v6;
	uint64_t v;

	if (hostport_split(addr, host, host_size, &port_s, &v6) || !*host)
		return -EINVAL;
	if (parse_u64(port_s, &v) || v > 65535)
		return -EINVAL;
	if (v6) {
		if (inet_pton(AF_INET6, host, &a6) != 1)
			return -EINVAL;
	} else if (strspn(host, "0123456789.") == strlen(host)) {
		if (inet_pton(AF_INET, host, &a4) != 1)
			return -EINVAL;
	} else if (!valid_hostname(host)) {
		return -EINVAL;
	}
	*port = v;
	return 0;
}
