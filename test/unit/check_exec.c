// SPDX-License-Identifier: Apache-2.0
/*
 * Child processes: programs come from EXEC_PATH, not from the caller's PATH;
 * the child's environment (PATH, variables set and removed); scripts without
 * "#!" still run; exit codes.
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
#include "exec.h"

static char tmpdir[64];

static void setup(void)
{
	strcpy(tmpdir, "/tmp/check_exec.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/flowctl-planted", tmpdir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/sh", tmpdir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/noshebang", tmpdir);
	unlink(path);
	rmdir(tmpdir);
}

static void write_exec(const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	ck_assert_int_eq(chmod(path, 0755), 0);
}

/* Run ARGV with ENV; return its stdout (malloc'ed) and exit status. */
static char *run(char *const argv[], char *const env[], int *status)
{
	struct exec_result res;
	char *out;

	ck_assert_int_eq(exec_run(argv, env, NULL, 0, 10000, &res), 0);
	*status = res.status;
	out = strdup(res.out);
	exec_result_free(&res);
	return out;
}

/*
 * A caller whose PATH starts with a directory someone else can write
 * (here: planted "sh" and "flowctl-planted") does not run what is there.
 */
START_TEST(path_is_fixed)
{
	char *const planted[] = { "flowctl-planted", NULL };
	char *const sh[] = { "sh", "-c", "echo \"$PATH\"", NULL };
	char path_env[256];
	int status;
	char *out;

	write_exec("flowctl-planted", "#!/bin/sh\necho planted\n");
	write_exec("sh", "#!/bin/sh\necho planted\n");
	snprintf(path_env, sizeof(path_env), "%s:/usr/bin:/bin", tmpdir);
	ck_assert_int_eq(setenv("PATH", path_env, 1), 0);

	out = run(planted, NULL, &status);
	ck_assert_int_eq(status, 127);
	ck_assert_str_eq(out, "");
	free(out);

	/* the real sh, and it sees the fixed PATH too */
	out = run(sh, NULL, &status);
	ck_assert_int_eq(status, 0);
	ck_assert_str_eq(out, EXEC_PATH "\n");
	free(out);
}
END_TEST

/* exec_which() names what exec_run() runs: from EXEC_PATH only. */
START_TEST(which_uses_exec_path)
{
	char path_env[256], *p;

	write_exec("sh", "#!/bin/sh\necho planted\n");
	snprintf(path_env, sizeof(path_env), "%s:/usr/bin:/bin", tmpdir);
	ck_assert_int_eq(setenv("PATH", path_env, 1), 0);
	p = exec_which("sh");
	ck_assert_ptr_nonnull(p);
	ck_assert(!strcmp(p, "/usr/bin/sh") || !strcmp(p, "/bin/sh"));
	free(p);
	ck_assert_ptr_null(exec_which("flowctl-no-such-program"));
	p = exec_which("/bin/sh");
	ck_assert_str_eq(p, "/bin/sh");
	free(p);
}
END_TEST

/* With a slash, argv[0] is used as it is. */
START_TEST(absolute_path_runs)
{
	char path[128];
	char *const argv[] = { path, NULL };
	int status;
	char *out;

	write_exec("flowctl-planted", "#!/bin/sh\necho direct\n");
	snprintf(path, sizeof(path), "%s/flowctl-planted", tmpdir);
	out = run(argv, NULL, &status);
	ck_assert_int_eq(status, 0);
	ck_assert_str_eq(out, "direct\n");
	free(out);
}
END_TEST

/* A script without "#!" runs with /bin/sh, as with execvp(). */
START_TEST(script_without_shebang)
{
	char path[128];
	char *const argv[] = { path, "one", "two", NULL };
	int status;
	char *out;

	write_exec("noshebang", "echo \"$# $1 $2\"\n");
	snprintf(path, sizeof(path), "%s/noshebang", tmpdir);
	out = run(argv, NULL, &status);
	ck_assert_int_eq(status, 0);
	ck_assert_str_eq(out, "2 one two\n");
	free(out);
}
END_TEST

/* ENV: "NAME=value" sets, a bare "NAME" removes; ours is untouched. */
START_TEST(env_set_and_unset)
{
	char *const argv[] = {
		"sh", "-c", "echo \"${CPATH-unset} ${FLOWCTL_X-unset} $KEEP\"",
		NULL,
	};
	char *const env[] = { "CPATH", "FLOWCTL_X=set", NULL };
	int status;
	char *out;

	ck_assert_int_eq(setenv("CPATH", "/somewhere", 1), 0);
	ck_assert_int_eq(setenv("KEEP", "kept", 1), 0);
	out = run(argv, env, &status);
	ck_assert_int_eq(status, 0);
	ck_assert_str_eq(out, "unset set kept\n");
	free(out);
	ck_assert_str_eq(getenv("CPATH"), "/somewhere");
	ck_assert_ptr_null(getenv("FLOWCTL_X"));
}
END_TEST

START_TEST(missing_program_127)
{
	char *const argv[] = { "flowctl-no-such-program", NULL };
	struct exec_result res;

	ck_assert_int_eq(exec_run(argv, NULL, NULL, 0, 10000, &res), 0);
	ck_assert_int_eq(res.status, 127);
	ck_assert_ptr_nonnull(strstr(res.err, "flowctl-no-such-program"));
	exec_result_free(&res);
}
END_TEST

static Suite *exec_suite(void)
{
	Suite *s = suite_create("exec");
	TCase *tc = tcase_create("exec");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, path_is_fixed);
	tcase_add_test(tc, which_uses_exec_path);
	tcase_add_test(tc, absolute_path_runs);
	tcase_add_test(tc, script_without_shebang);
	tcase_add_test(tc, env_set_and_unset);
	tcase_add_test(tc, missing_program_127);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(exec_suite)
