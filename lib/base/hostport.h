/* SPDX-License-Identifier: Apache-2.0 */
/*
 * "HOST:PORT" and "[IPV6]:PORT" addresses, split in one place for the
 * config's collectors, the IPFIX exporter and the metrics address.
 */
#ifndef FLOWCTL_HOSTPORT_H
#define FLOWCTL_HOSTPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Split ADDR at its port colon: HOST (HOST_SIZE bytes) gets the host part
 * without brackets, possibly empty; *PORT the text after the colon, to be
 * read by the caller; *BRACKETED whether the host was in [].  -EINVAL when
 * there is no colon, "]:" does not close a bracket, an IPv6 address is not
 * in brackets, or the host does not fit HOST.
 */
int hostport_split(const char *addr, char *host, size_t host_size,
		   const char **port, bool *bracketed);

/*
 * A collector's address: a host that is an IPv6 address in brackets, an
 * IPv4 address or a host name (letters, digits, - . _; 253 at most), and a
 * port 0..65535 (decimal or 0x).  HOST gets the host (brackets removed),
 * *PORT the port.  -EINVAL when malformed.
 */
int hostport_parse(const char *addr, char *host, size_t host_size,
		   uint16_t *port);

#endif
