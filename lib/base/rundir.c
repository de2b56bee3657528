// SPDX-License-Identifier: Apache-2.0
#include "rundir.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

/*
 * May ANCESTOR (a directory above one of ours) stay as it is?  Whoever can
 * write a directory can rename what is in it and put their own in its
 * place, between our checks and clang or tc opening the files.  So each
 * one must be root's or ours, and writable by nobody else unless it is
 * sticky (/tmp: others may add entries but not move ours).
 */
static bool ancestor_trusted(const struct stat *st)
{
	if (st->st_uid != 0 && st->st_uid != geteuid())
		return false;
	return !(st->st_mode & 022) || (st->st_mode & S_ISVTX);
}

int private_dir_ensure(const char *dir, const char *what)
{
	char path[4096], *real = NULL;
	struct stat st;
	size_t i, n = strlen(dir);
	int err = 0;

	if (!n || n >= sizeof(path)) {
		pr_err("bad directory '%s' for %s", dir, what);
		return -EINVAL;
	}
	memcpy(path, dir, n + 1);
	for (i = 1; i <= n; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0700) && errno != EEXIST) {
			err = -errno;
			pr_err("cannot create %s: %s", path, strerror(errno));
			return err;
		}
		path[i] = i < n ? '/' : '\0';
	}
	if (lstat(dir, &st)) {
		err = -errno;
		pr_err("%s: %s", dir, strerror(errno));
		return err;
	}
	if (S_ISLNK(st.st_mode)) {
		pr_err("%s (%s) is a symbolic link: it must be a directory",
		       dir, what);
		return -EPERM;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 022)) {
		pr_err("%s (%s) must be a directory owned by uid %u, not writable by group or others (mode %04o, uid %u)",
		       dir, what, (unsigned int)geteuid(),
		       (unsigned int)(st.st_mode & 07777),
		       (unsigned int)st.st_uid);
		return -EPERM;
	}
	real = realpath(dir, NULL);
	if (!real) {
		err = -errno;
		pr_err("%s: %s", dir, strerror(errno));
		return err;
	}
	/* "/a/b/obj": check "/", "/a", "/a/b" */
	for (i = strlen(real); i > 0; i--) {
		if (real[i] != '/')
			continue;
		real[i] = '\0';
		if (lstat(real, &st)) {
			err = -errno;
			pr_err("%s: %s", real, strerror(errno));
			goto out;
		}
		if (!ancestor_trusted(&st)) {
			pr_err("%s, above %s %s, is owned by uid %u with mode %04o: only root (or uid %u) may be able to write it, or it must be sticky",
			       real, what, dir, (unsigned int)st.st_uid,
			       (unsigned int)(st.st_mode & 07777),
			       (unsigned int)geteuid());
			err = -EPERM;
			goto out;
		}
	}
	if (lstat("/", &st) || !ancestor_trusted(&st)) {
		pr_err("/ is not root's: refusing to use %s %s", what, dir);
		err = -EPERM;
	}
out:
	free(real);
	return err;
}

