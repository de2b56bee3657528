// SPDX-License-Identifier: Apache-2.0
#include "netns_id.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flow_abi.h"
#include "log.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

/* The cookie of the namespace behind FD (an nsfs file), 0 when unknown. */
static uint64_t netns_cookie(int fd)
{
	uint64_t cookie = 0;
	socklen_t len = sizeof(cookie);
	int self, s;

	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return 0;
	if (setns(fd, CLONE_NEWNET)) {
		close(self);
		return 0;
	}
	s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s >= 0) {
		if (getsockopt(s, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len))
			cookie = 0;
		close(s);
	}
	/* back home: failing here would leave this thread elsewhere */
	if (setns(self, CLONE_NEWNET))
		pr_err("cannot return to our own network namespace: %s",
		       strerror(errno));
	close(self);
	return cookie;
}

int netns_id_get(const char *netns, struct netns_id *id)
{
	char path[256];
	struct stat st;
	int fd, err;

	memset(id, 0, sizeof(*id));
	if (!netns[0] || !strcmp(netns, FLOW_ROOT_NETNS))
		snprintf(path, sizeof(path), "/proc/self/ns/net");
	else
		snprintf(path, sizeof(path), "%s/%s", NETNS_RUN_DIR, netns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		close(fd);
		return err;
	}
	/* a plain file left in /run/netns is no namespace */
	if (!S_ISREG(st.st_mode) || st.st_size != 0) {
		close(fd);
		return -ENOENT;
	}
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	id->cookie = netns_cookie(fd);
	close(fd);
	return 0;
}

bool netns_id_same(const struct netns_id *a, const struct netns_id *b)
{
	if (a->dev != b->dev || a->ino != b->ino)
		return false;
	return !a->cookie || !b->cookie || a->cookie == b->cookie;
}
