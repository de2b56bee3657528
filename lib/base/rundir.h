/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flowctl's run directory and the directories it creates for itself:
 * what is in them is executed, loaded into the kernel or trusted as state,
 * so each must be ours and closed to everyone else.
 */
#ifndef FLOWCTL_RUNDIR_H
#define FLOWCTL_RUNDIR_H

/* The one run directory (/var/run is a symlink to it on Debian). */
#define FLOWCTL_RUN_DIR		"/run/flowctl"
/* A bind mount of /sys/fs/bpf that `ip netns exec` (which remounts /sys)
 * leaves reachable. */
#define BPFFS_BIND_DIR		FLOWCTL_RUN_DIR "/bpffs"

/*
 * mkdir -p DIR (mode 0700 for what it creates), then check it: DIR must be
 * a directory (not a symlink) owned by us and writable by nobody else, and
 * every directory above it (symlinks resolved) root's or ours and writable
 * by nobody else unless sticky (/tmp).  WHAT names DIR's job in the
 * messages.  0 or -errno (-EPERM: a check failed; the message says which).
 */
int private_dir_ensure(const char *dir, const char *what);

#endif
