// SPDX-License-Identifier: Apache-2.0
/*
 * private_dir_ensure(): the directories flowctl keeps what it runs, loads or
 * trusts in are created private and refused when someone else could write
 * them.  The ownership case needs root (chown): without root it is not run
 * and a SKIP line says so.
 */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_main.h"
#include "rundir.h"

static char top[PATH_MAX];

static void setup(void)
{
	char tmpl[] = "/tmp/check_rundir.XXXXXX";

	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	snprintf(top, sizeof(top), "%s", tmpl);
}

static void teardown(void)
{
	char cmd[PATH_MAX + 16];

	/* a path from mkdtemp: no quoting needed */
	snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
	ck_assert_int_eq(system(cmd), 0);
}

static void path_of(char *buf, size_t size, const char *rel)
{
	ck_assert_int_lt(snprintf(buf, size, "%s/%s", top, rel), (int)size);
}

START_TEST(created_private_with_parents)
{
	char dir[PATH_MAX], mid[PATH_MAX];
	struct stat st;

	path_of(dir, sizeof(dir), "a/b/c");
	path_of(mid, sizeof(mid), "a/b");
	ck_assert_int_eq(private_dir_ensure(dir, "a test"), 0);
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0700);
	/* parents too: not 0755 as a plain mkdir -p with a loose mode */
	ck_assert_int_eq(stat(mid, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0700);
	/* idempotent */
	ck_assert_int_eq(private_dir_ensure(dir, "a test"), 0);
}
END_TEST

START_TEST(group_or_world_writable_refused)
{
	char dir[PATH_MAX];

	path_of(dir, sizeof(dir), "loose");
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	ck_assert_int_eq(chmod(dir, 0770), 0);
	ck_assert_int_eq(private_dir_ensure(dir, "a test"), -EPERM);
	ck_assert_int_eq(chmod(dir, 0757), 0);
	ck_assert_int_eq(private_dir_ensure(dir, "a test"), -EPERM);
	ck_assert_int_eq(chmod(dir, 0755), 0);
	ck_assert_int_eq(private_dir_ensure(dir, "a test"), 0);
}
END_TEST

START_TEST(symlink_refused)
{
	char dir[PATH_MAX], real[PATH_MAX];

	path_of(real, sizeof(real), "real");
	path_of(dir, sizeof(dir), "link");
	ck_assert_int_eq(mkdir(real, 0700), 0);
	ck_assert_int_eq(symlink(real, dir), 0);
	ck_assert_int_eq(private_dir_ensure(dir, "a test"), -EPERM);
}
END_TEST

START_TEST(loose_ancestor_refused_sticky_accepted)
{
	char dir[PATH_MAX], parent[PATH_MAX];

	path_of(parent, sizeof(parent), "shared");
	path_of(dir, sizeof(dir), "shared/ours");
	ck_assert_int_eq(mkdir(parent, 0700), 0);
	ck_assert_int_eq(chmod(parent, 0777), 0);
	/* others could rename ours away and put theirs in its place */
	ck_assert_int_eq(private_dir_ensure(dir, "a test"), -EPERM);
	ck_assert_int_eq(chmod(parent, 01777), 0);
	ck_assert_int_eq(private_dir_ensure(dir, "a test"), 0);
}
END_TEST

START_TEST(other_owner_refused)
{
	char dir[PATH_MAX], parent[PATH_MAX];

	path_of(dir, sizeof(dir), "theirs");
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	ck_assert_int_eq(chown(dir, 65534, 65534), 0);
	ck_assert_int_eq(private_dir_ensure(dir, "a test"), -EPERM);
	/* an ancestor of another user, even closed to others */
	path_of(parent, sizeof(parent), "theirs/ours");
	ck_assert_int_eq(chmod(dir, 0755), 0);
	ck_assert_int_eq(mkdir(parent, 0700), 0);
	ck_assert_int_eq(private_dir_ensure(parent, "a test"), -EPERM);
}
END_TEST

static Suite *rundir_suite(void)
{
	Suite *s = suite_create("rundir");
	TCase *tc = tcase_create("private_dir_ensure");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, created_private_with_parents);
	tcase_add_test(tc, group_or_world_writable_refused);
	tcase_add_test(tc, symlink_refused);
	tcase_add_test(tc, loose_ancestor_refused_sticky_accepted);
	if (geteuid() == 0)
		tcase_add_test(tc, other_owner_refused);
	else
		printf("SKIP other_owner_refused: needs root (chown)\n");
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(rundir_suite)
