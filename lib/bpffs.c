// SPDX-License-Identifier: Apache-2.0
#include "bpffs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "flow_abi.h"
#include "flow_table.h"
#include "ifspec.h"
#include "log.h"
#include "tc.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

bool bpffs_is_bpffs(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

static int mkdir_p(const char *path, mode_t mode)
{
	char tmp[512];
	char *p;

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

int bpffs_ensure(void)
{
	int err;

	if (!bpffs_is_bpffs("/sys/fs/bpf")) {
		mkdir_p("/sys/fs/bpf", 0700);
		if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700")) {
			err = -errno;
			pr_err("cannot mount bpffs on /sys/fs/bpf: %s",
			       strerror(errno));
			return err;
		}
		pr_debug("mounted bpffs on /sys/fs/bpf");
	}
	if (!bpffs_is_bpffs(BPFFS_BIND_DIR)) {
		err = mkdir_p(BPFFS_BIND_DIR, 0700);
		if (err) {
			pr_err("cannot create %s: %s", BPFFS_BIND_DIR,
			       strerror(-err));
			return err;
		}
		if (mount("/sys/fs/bpf", BPFFS_BIND_DIR, NULL, MS_BIND, NULL)) {
			err = -errno;
			pr_err("cannot bind-mount /sys/fs/bpf on %s: %s",
			       BPFFS_BIND_DIR, strerror(errno));
			return err;
		}
		pr_debug("bind-mounted /sys/fs/bpf on %s", BPFFS_BIND_DIR);
	}
	if (mkdir(FLOW_PIN_ROOT, 0700) && errno != EEXIST) {
		err = -errno;
		pr_err("cannot create %s: %s", FLOW_PIN_ROOT, strerror(errno));
		return err;
	}
	/* the pin tree is root's alone, whoever created it first */
	if (chmod(FLOW_PIN_ROOT, 0700)) {
		err = -errno;
		pr_err("cannot chmod %s: %s", FLOW_PIN_ROOT, strerror(errno));
		return err;
	}
	return 0;
}

void pin_dir_path(const char *netns, char *buf, int size)
{
	snprintf(buf, size, "%s/%s", FLOW_PIN_ROOT, ifspec_pin_name(netns));
}

void pin_map_path(const char *netns, const char *map, char *buf, int size)
{
	snprintf(buf, size, "%s/%s/%s/%s", FLOW_PIN_ROOT,
		 ifspec_pin_name(netns), FLOW_PIN_GLOBALS, map);
}

bool pin_dir_exists(const char *netns)
{
	char path[512];
	struct stat st;

	pin_dir_path(netns, path, sizeof(path));
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int pin_dir_create(const char *netns)
{
	char path[512];

	pin_dir_path(netns, path, sizeof(path));
	if (mkdir(path, 0700) && errno != EEXIST) {
		int err = -errno;

		pr_err("cannot create %s: %s", path, strerror(errno));
		return err;
	}
	return 0;
}

int remove_tree(const char *path)
{
	struct dirent *de;
	struct stat st;
	int err = 0;
	DIR *d;

	if (lstat(path, &st))
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) ? -errno : 0;
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char sub[1024];
		int e;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		e = remove_tree(sub);
		if (e && !err)
			err = e;
	}
	closedir(d);
	if (rmdir(path) && !err)
		err = -errno;
	return err;
}

int pin_dir_remove(const char *netns)
{
	char path[512];
	int err;

	/* the agent's overflow bookkeeping of these maps goes with them */
	snprintf(path, sizeof(path), "%s/%s.overflow", FLOW_TABLE_STATE_DIR,
		 ifspec_pin_name(netns));
	unlink(path);
	pin_dir_path(netns, path, sizeof(path));
	err = remove_tree(path);
	if (err)
		pr_err("cannot remove pins %s: %s", path, strerror(-err));
	return err;
}
