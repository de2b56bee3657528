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

#include <bpf/bpf.h>

#include "flow_abi.h"
#include "flow_table.h"
#include "ifspec.h"
#include "log.h"
#include "rundir.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

bool bpffs_is_bpffs(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

int bpffs_mkdir_p(const char *path, mode_t mode)
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
		bpffs_mkdir_p("/sys/fs/bpf", 0700);
		if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700")) {
			err = -errno;
			pr_err("cannot mount bpffs on /sys/fs/bpf: %s",
			       strerror(errno));
			return err;
		}
		pr_debug("mounted bpffs on /sys/fs/bpf");
	}
	if (!bpffs_is_bpffs(BPFFS_BIND_DIR)) {
		err = private_dir_ensure(BPFFS_BIND_DIR,
					 "the bind mount of the BPF file system");
		if (err)
			return err;
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

/* ---- the identity pin -------------------------------------------------- */

static void identity_path(const char *root, const char *pin_name, char *buf,
			  int size)
{
	snprintf(buf, size, "%s/%s/%s", root, pin_name, PIN_IDENTITY);
}

int pin_identity_write(const char *root, const char *pin_name,
		       const struct netns_id *id)
{
	char path[512];
	__u32 zero = 0;
	int fd, err = 0;

	identity_path(root, pin_name, path, sizeof(path));
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, PIN_IDENTITY_MAP,
			    sizeof(__u32), sizeof(*id), 1, NULL);
	if (fd < 0) {
		err = fd;
		pr_err("cannot create the identity map of %s: %s", pin_name,
		       strerror(-err));
		return err;
	}
	err = bpf_map_update_elem(fd, &zero, id, BPF_ANY);
	if (!err) {
		if (unlink(path) && errno != ENOENT)
			err = -errno;
		else
			err = bpf_obj_pin(fd, path);
	}
	if (err)
		pr_err("cannot pin %s: %s", path, strerror(-err));
	close(fd);
	return err;
}

int pin_identity_read(const char *root, const char *pin_name,
		      struct netns_id *id, uint64_t *pin_ino)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info), zero = 0;
	char path[512];
	struct stat st;
	int fd, err;

	memset(id, 0, sizeof(*id));
	identity_path(root, pin_name, path, sizeof(path));
	if (stat(path, &st))
		return -errno;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return fd;
	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	if (!err && (info.type != BPF_MAP_TYPE_ARRAY ||
		     info.value_size != sizeof(*id)))
		err = -EPROTO;
	if (!err)
		err = bpf_map_lookup_elem(fd, &zero, id);
	close(fd);
	if (!err && pin_ino)
		*pin_ino = st.st_ino;
	return err;
}

/* ---- the hooks pin ------------------------------------------------------ */

static int hooks_map_open(const char *path, bool create)
{
	LIBBPF_OPTS(bpf_map_create_opts, mo, .map_flags = BPF_F_NO_PREALLOC);
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);
	int fd;

	fd = bpf_obj_get(path);
	if (fd >= 0) {
		if (bpf_obj_get_info_by_fd(fd, &info, &len) ||
		    info.type != BPF_MAP_TYPE_HASH ||
		    info.key_size != sizeof(__u32) ||
		    info.value_size != sizeof(__u32)) {
			close(fd);
			return -EPROTO;
		}
		return fd;
	}
	if (errno != ENOENT || !create)
		return -errno;
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, PIN_HOOKS_MAP, sizeof(__u32),
			    sizeof(__u32), PIN_HOOKS_MAX, &mo);
	if (fd < 0)
		return fd;
	if (bpf_obj_pin(fd, path)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int pin_hooks_set(const char *root, const char *pin_name, __u32 ifindex,
		  __u32 hooks)
{
	char path[512];
	int fd, err;

	snprintf(path, sizeof(path), "%s/%s/%s", root, pin_name, PIN_HOOKS);
	fd = hooks_map_open(path, hooks != 0);
	if (fd == -ENOENT && !hooks)
		return 0;
	if (fd < 0) {
		pr_err("cannot record the hooks in %s: %s", path,
		       strerror(-fd));
		return fd;
	}
	if (hooks)
		err = bpf_map_update_elem(fd, &ifindex, &hooks, BPF_ANY);
	else
		err = bpf_map_delete_elem(fd, &ifindex);
	if (err == -ENOENT && !hooks)
		err = 0;
	if (err)
		pr_err("cannot record the hooks in %s: %s", path,
		       strerror(-err));
	close(fd);
	return err;
}

int pin_hooks_each(const char *root, const char *pin_name,
		   void (*fn)(__u32 ifindex, __u32 hooks, void *arg),
		   void *arg)
{
	char path[512];
	__u32 key, next, val;
	__u32 *prev = NULL;
	int fd;

	snprintf(path, sizeof(path), "%s/%s/%s", root, pin_name, PIN_HOOKS);
	fd = hooks_map_open(path, false);
	if (fd < 0)
		return fd;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		if (bpf_map_lookup_elem(fd, &next, &val) == 0)
			fn(next, val, arg);
		key = next;
		prev = &key;
	}
	close(fd);
	return 0;
}

enum pin_fate pin_fate(const char *root, const char *pin_name, bool *has_id)
{
	struct netns_id rec, now;
	bool have;
	int err;

	have = pin_identity_read(root, pin_name, &rec, NULL) == 0;
	if (has_id)
		*has_id = have;
	if (!strcmp(pin_name, FLOW_ROOT_NETNS))
		return PIN_LIVE;
	err = netns_id_get(pin_name, &now);
	if (err == -ENOENT)
		return PIN_GONE;
	if (!have || err)
		return have ? PIN_LIVE : PIN_NOID;	/* cannot tell: keep */
	return netns_id_same(&rec, &now) ? PIN_LIVE : PIN_REPLACED;
}

const char *pin_fate_name(enum pin_fate f)
{
	switch (f) {
	case PIN_LIVE:
		return "live";
	case PIN_NOID:
		return "noid";
	case PIN_GONE:
		return "gone";
	case PIN_REPLACED:
		return "replaced";
	}
	return "?";
}
