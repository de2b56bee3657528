/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The bpffs and flowctl's pin tree:
 *   /sys/fs/bpf                      bpffs (mounted when missing)
 *   /run/flowctl/bpffs               bind mount of it, reachable under
 *                                    `ip netns exec` (which remounts /sys)
 *   /sys/fs/bpf/flowctl/<NETNS>/tc/globals/<map>   pins of one namespace
 *   /sys/fs/bpf/flowctl/<NETNS>/identity        which incarnation of the
 *                                    namespace those pins belong to
 */
#ifndef FLOWCTL_BPFFS_H
#define FLOWCTL_BPFFS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <linux/types.h>

#include "netns_id.h"

/*
 * The identity pin: an ARRAY map of one struct netns_id, pinned beside
 * tc/ in a namespace's pin dir by `meter attach` before the first hook
 * pins its maps.  User space only (the BPF program never sees it, so the
 * object's digest does not depend on it); bpffs holds no regular files.
 */
#define PIN_IDENTITY		"identity"
#define PIN_IDENTITY_MAP	"flowctl_nsid"	/* the map's own name */

/*
 * The hooks pin: which tc hooks `meter attach` put flowctl's filter on,
 * per device of the namespace.  A HASH map ifindex (__u32) -> hook bits
 * (__u32, 1 << enum tc_hook), pinned beside the identity, not
 * preallocated (a few entries).  The agent reads it to warn when both
 * hooks are metered; the BPF program never sees it.
 */
#define PIN_HOOKS		"hooks"
#define PIN_HOOKS_MAP		"flowctl_hooks"
#define PIN_HOOKS_MAX		65536

/* Mount bpffs and the bind mount when missing; create the pin root 0700. */
int bpffs_ensure(void);
/* Is PATH on a bpffs? */
bool bpffs_is_bpffs(const char *path);
/* mkdir -p PATH (up to 511 bytes): 0 or -errno. */
int bpffs_mkdir_p(const char *path, mode_t mode);

/* /sys/fs/bpf/flowctl/<pin name of NETNS> */
void pin_dir_path(const char *netns, char *buf, int size);
/* .../tc/globals/<MAP> */
void pin_map_path(const char *netns, const char *map, char *buf, int size);
bool pin_dir_exists(const char *netns);
/* Create the namespace's pin dir (0700). */
int pin_dir_create(const char *netns);
/* Remove the namespace's pin dir and everything under it. */
int pin_dir_remove(const char *netns);

/*
 * Record ID in <ROOT>/<PIN_NAME>/identity (replacing an older one).
 * Returns 0 or -errno (printed).
 */
int pin_identity_write(const char *root, const char *pin_name,
		       const struct netns_id *id);
/*
 * Read it back.  *PIN_INO (may be NULL): the inode of the pin, to tell it
 * from a later one.  Returns 0, -ENOENT (no identity pin) or -errno.
 */
int pin_identity_read(const char *root, const char *pin_name,
		      struct netns_id *id, uint64_t *pin_ino);

/*
 * Record HOOKS (0: forget the device) for IFINDEX in the hooks pin of
 * <ROOT>/<PIN_NAME>, creating the pin when missing.  0 or -errno.
 */
int pin_hooks_set(const char *root, const char *pin_name, __u32 ifindex,
		  __u32 hooks);
/*
 * Call FN for each device recorded in <ROOT>/<PIN_NAME>'s hooks pin.
 * Returns 0, -ENOENT (no hooks pin) or -errno.
 */
int pin_hooks_each(const char *root, const char *pin_name,
		   void (*fn)(__u32 ifindex, __u32 hooks, void *arg),
		   void *arg);

/* What became of the namespace a pin dir was made for. */
enum pin_fate {
	PIN_LIVE,	/* the recorded incarnation is the current one */
	PIN_NOID,	/* no identity recorded (older flowctl), it exists */
	PIN_GONE,	/* no namespace of that name any more */
	PIN_REPLACED,	/* a namespace of that name, another incarnation */
};

/*
 * The fate of <ROOT>/<PIN_NAME> (the root namespace's DEFAULT is always
 * live).  *HAS_ID (may be NULL): an identity pin was found.
 */
enum pin_fate pin_fate(const char *root, const char *pin_name, bool *has_id);
/* "live", "noid", "gone", "replaced" */
const char *pin_fate_name(enum pin_fate f);
static inline bool pin_fate_stale(enum pin_fate f)
{
	return f == PIN_GONE || f == PIN_REPLACED;
}

/* Remove a directory tree (pins and dirs on bpffs, or plain files). */
int remove_tree(const char *path);

#endif
