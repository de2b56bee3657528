// SPDX-License-Identifier: Apache-2.0
/* The agent lock: one holder per pin root, seen by others with its pid. */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_main.h"
#include "lock.h"

static char root[PATH_MAX];

static void setup(void)
{
	char tmpl[] = "/tmp/check_lock.XXXXXX";

	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	snprintf(root, sizeof(root), "%s/pins", tmpl);
}

static void teardown(void)
{
	char parent[PATH_MAX];

	rmdir(root);
	snprintf(parent, sizeof(parent), "%s", root);
	*strrchr(parent, '/') = '\0';
	rmdir(parent);
}

START_TEST(free_lock_taken_and_dir_created)
{
	struct stat st;
	int fd;

	ck_assert_int_eq(agent_lock_holder(root), 0);
	fd = agent_lock_take(root);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(stat(root, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0700);
	close(fd);
	ck_assert_int_eq(agent_lock_holder(root), 0);
}
END_TEST

START_TEST(second_taker_refused_with_holder_pid)
{
	int to_parent[2], fd, status;
	pid_t child;
	char c;

	ck_assert_int_eq(pipe(to_parent), 0);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		fd = agent_lock_take(root);
		c = fd >= 0 ? 'y' : 'n';
		if (write(to_parent[1], &c, 1) != 1)
			_exit(2);
		pause();
		_exit(0);
	}
	ck_assert_int_eq(read(to_parent[0], &c, 1), 1);
	ck_assert_int_eq(c, 'y');
	ck_assert_int_eq(agent_lock_holder(root), child);
	ck_assert_int_eq(agent_lock_take(root), -EBUSY);
	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	/* the kernel releases it with the process: nothing stale is left */
	ck_assert_int_eq(agent_lock_holder(root), 0);
	fd = agent_lock_take(root);
	ck_assert_int_ge(fd, 0);
	close(fd);
}
END_TEST

static Suite *lock_suite(void)
{
	Suite *s = suite_create("lock");
	TCase *tc = tcase_create("agent");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, free_lock_taken_and_dir_created);
	tcase_add_test(tc, second_taker_refused_with_holder_pid);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(lock_suite)
