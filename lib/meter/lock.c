// SPDX-License-Identifier: Apache-2.0
#include "lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

int flowctl_lock(int timeout_s)
{
	struct timespec pause = { 0, 50 * 1000 * 1000 };
	int fd, i, err;

	err = private_dir_ensure(FLOWCTL_RUN_DIR, "flowctl's run directory");
	if (err)
		return err;
	fd = open(FLOWCTL_LOCK_FILE,
		  O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		pr_err("cannot open %s: %s", FLOWCTL_LOCK_FILE, strerror(errno));
		return err;
	}
	for (i = 0; i <= timeout_s * 20; i++) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return fd;
		if (errno != EWOULDBLOCK) {
			err = -errno;
			pr_err("cannot lock %s: %s", FLOWCTL_LOCK_FILE,
			       strerror(errno));
			close(fd);
			return err;
		}
		if (i == 0)
			pr_info("waiting for another flowctl (lock %s)",
				FLOWCTL_LOCK_FILE);
		nanosleep(&pause, NULL);
	}
	pr_err("another flowctl holds %s for more than %d s; giving up",
	       FLOWCTL_LOCK_FILE, timeout_s);
	close(fd);
	return -ETIMEDOUT;
}

void flowctl_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}

/*
 * The agent's lock is an flock on the pin root directory itself (as
 * xdp-tools locks its pin directory): it lives exactly as long as the
 * agent's process, is released by the kernel when the agent dies, and
 * needs no pid file that could go stale.  The holder's pid is read from
 * /proc/locks, for the message only.
 */
static int pin_root_open(const char *pin_root)
{
	int fd;

	fd = open(pin_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		if (mkdir(pin_root, 0700) && errno != EEXIST)
			return -errno;
		fd = open(pin_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	return fd < 0 ? -errno : fd;
}

static int lock_holder_pid(int fd)
{
	unsigned int maj, min;
	unsigned long long ino;
	struct stat st;
	char line[256];
	FILE *f;
	int pid = 0, p;

	if (fstat(fd, &st))
		return 0;
	f = fopen("/proc/locks", "re");
	if (!f)
		return 0;
	/* "1: FLOCK  ADVISORY  WRITE 1234 00:1a:5678 0 EOF" */
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*d: FLOCK %*s %*s %d %x:%x:%llu", &p, &maj,
			   &min, &ino) != 4)
			continue;
		if (ino == (unsigned long long)st.st_ino &&
		    maj == major(st.st_dev) && min == minor(st.st_dev) &&
		    p != getpid()) {
			pid = p;
			break;
		}
	}
	fclose(f);
	return pid;
}

int agent_lock_take(const char *pin_root)
{
	int fd, pid, err;

	fd = pin_root_open(pin_root);
	if (fd < 0) {
		pr_err("cannot open the pin root %s: %s", pin_root,
		       strerror(-fd));
		return fd;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		return fd;
	err = -errno;
	if (err == -EWOULDBLOCK) {
		pid = lock_holder_pid(fd);
		if (pid > 0)
			pr_err("another flowctl agent (pid %d) already drains the flow tables under %s; only one agent may run per pin root",
			       pid, pin_root);
		else
			pr_err("another flowctl agent already drains the flow tables under %s; only one agent may run per pin root",
			       pin_root);
		err = -EBUSY;
	} else {
		pr_err("cannot lock %s: %s", pin_root, strerror(-err));
	}
	close(fd);
	return err;
}

int agent_lock_holder(const char *pin_root)
{
	int fd, pid;

	fd = open(pin_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		close(fd);
		return 0;
	}
	if (errno != EWOULDBLOCK) {
		pid = -errno;
		close(fd);
		return pid;
	}
	pid = lock_holder_pid(fd);
	close(fd);
	return pid > 0 ? pid : 1;
}
