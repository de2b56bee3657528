/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What tells one incarnation of a network namespace from the next one of
 * the same name: the nsfs device and inode of /run/netns/NAME (the root
 * namespace, which is flowctl's own: /proc/self/ns/net; /proc/1 may be
 * out of reach in a container) and the kernel's netns cookie.
 *
 * The inode alone is not enough: nsfs inode numbers are reused as soon as
 * a namespace is freed (`ip netns del X; ip netns add X` a moment later
 * gets the same inode here), the cookie never is (SO_NETNS_COOKIE, Linux
 * >= 5.14; 0 where the kernel has none, then the inode decides alone).
 */
#ifndef FLOWCTL_NETNS_ID_H
#define FLOWCTL_NETNS_ID_H

#include <stdbool.h>
#include <stdint.h>

#define NETNS_RUN_DIR	"/run/netns"

struct netns_id {
	uint64_t dev;		/* st_dev of the nsfs file */
	uint64_t ino;		/* st_ino: the namespace's inode number */
	uint64_t cookie;	/* SO_NETNS_COOKIE; 0: unknown */
};

/*
 * The identity of namespace NETNS ("" or FLOW_ROOT_NETNS: the root
 * namespace) now.  Returns 0, -ENOENT when no such namespace exists, or
 * -errno.  Enters the namespace for a moment (setns, this thread only) to
 * read its cookie.
 */
int netns_id_get(const char *netns, struct netns_id *id);

/* The same incarnation?  (A cookie of 0 on either side is not compared.) */
bool netns_id_same(const struct netns_id *a, const struct netns_id *b);

#endif
