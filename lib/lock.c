// SPDX-License-Identifier: Apache-2.0
#include "lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

int flowctl_lock(int timeout_s)
{
	struct timespec pause = { 0, 50 * 1000 * 1000 };
	int fd, i, err;

	if (mkdir(FLOWCTL_RUN_DIR, 0700) && errno != EEXIST) {
		err = -errno;
		pr_err("cannot create %s: %s", FLOWCTL_RUN_DIR, strerror(errno));
		return err;
	}
	fd = open(FLOWCTL_LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
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
