/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The bpffs and flowctl's pin tree:
 *   /sys/fs/bpf                      bpffs (mounted when missing)
 *   /run/flowctl/bpffs               bind mount of it, reachable under
 *                                    `ip netns exec` (which remounts /sys)
 *   /sys/fs/bpf/flowctl/<NETNS>/tc/globals/<map>   pins of one namespace
 */
#ifndef FLOWCTL_BPFFS_H
#define FLOWCTL_BPFFS_H

#include <stdbool.h>

/* Mount bpffs and the bind mount when missing; create the pin root 0700. */
int bpffs_ensure(void);
/* Is PATH on a bpffs? */
bool bpffs_is_bpffs(const char *path);

/* /sys/fs/bpf/flowctl/<pin name of NETNS> */
void pin_dir_path(const char *netns, char *buf, int size);
/* .../tc/globals/<MAP> */
void pin_map_path(const char *netns, const char *map, char *buf, int size);
bool pin_dir_exists(const char *netns);
/* Create the namespace's pin dir (0700). */
int pin_dir_create(const char *netns);
/* Remove the namespace's pin dir and everything under it. */
int pin_dir_remove(const char *netns);

/* Remove a directory tree (pins and dirs on bpffs, or plain files). */
int remove_tree(const char *path);

#endif
