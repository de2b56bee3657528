// SPDX-License-Identifier: Apache-2.0
/*
 * Flow log hooks: command hooks (jq, cat), shell hooks (private script file
 * in a 0700 root-only directory, removed at teardown), chains in order, and
 * every failure (exit 3, timeout with the whole process group killed,
 * invalid JSON, not an array, not objects, cannot exec) passing the batch on
 * unmodified and counted.  Also the flowlog output with hooks, end to end.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "check_main.h"
#include "clock.h"
#include "flowlog.h"
#include "hooks.h"

#define TS 1700000002000ULL
#define N_FLOWS 5

static struct flow_record flows[N_FLOWS];
static struct flowlog_buf batch;	/* the flows as a JSON array */
static struct hook_chain *chain;
static char tmpdir[64];

static void setup(void)
{
	size_t i;

	for (i = 0; i < N_FLOWS; i++) {
		struct flow_record *r = &flows[i];

		memset(r, 0, sizeof(*r));
		r->src_addr[10] = r->src_addr[11] = 0xff;
		r->dst_addr[10] = r->dst_addr[11] = 0xff;
		r->src_addr[12] = 10;
		r->src_addr[15] = i + 1;
		r->dst_addr[12] = 192;
		r->dst_addr[13] = 168;
		r->dst_addr[15] = 1;
		r->proto = 17;
		r->ip_version = 4;
		r->sport = 1000 + i;
		r->dport = 53;
		r->ingress_ifindex = 2;
		r->egress_ifindex = 3;
		r->packets = 10 + i;
		r->octets = 1000 * (i + 1);
		r->end_reason = FLOW_END_IDLE_TIMEOUT;
		r->netns = "ns0";
	}
	memset(&batch, 0, sizeof(batch));
	ck_assert_int_eq(flowlog_format_batch(flows, N_FLOWS, FLOWLOG_ARRAY,
					      TS, &batch), 0);
	chain = NULL;
	strcpy(tmpdir, "/tmp/check_hooks.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
	char cmd[128];

	hook_chain_destroy(chain);
	chain = NULL;
	flowlog_buf_free(&batch);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static struct hook_spec cmd_hook(const char *name, char *const *argv)
{
	return (struct hook_spec){
		.name = name, .kind = HOOK_COMMAND, .argv = argv,
	};
}

static struct hook_spec sh_hook(const char *name, const char *body)
{
	return (struct hook_spec){
		.name = name, .kind = HOOK_SHELL, .shell = body,
	};
}

/* Parse OUT (lines); check each is flows[i] with EXTRA_KEY = EXTRA_VAL. */
static void check_lines(const char *out, size_t n, const char *extra_key,
			const char *extra_val)
{
	char *copy = strdup(out), *line, *save = NULL;
	size_t i = 0;

	for (line = strtok_r(copy, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save), i++) {
		struct json_object *o = json_tokener_parse(line), *v;

		ck_assert_msg(o != NULL, "not JSON: %s", line);
		ck_assert_uint_lt(i, n);
		/* compact: what json-c makes of it, no spaces */
		ck_assert_ptr_null(strstr(line, ": "));
		ck_assert(json_object_object_get_ex(o, "sport", &v));
		ck_assert_int_eq(json_object_get_int(v), flows[i].sport);
		ck_assert(json_object_object_get_ex(o, "bytes", &v));
		ck_assert_int_eq(json_object_get_int64(v), flows[i].octets);
		ck_assert(json_object_object_get_ex(o, "src", &v));
		ck_assert_int_eq(json_object_get_string(v)[0], '1');
		if (extra_key) {
			ck_assert(json_object_object_get_ex(o, extra_key, &v));
			ck_assert_str_eq(json_object_get_string(v), extra_val);
		}
		json_object_put(o);
	}
	ck_assert_uint_eq(i, n);
	free(copy);
}

static int run(char **out, size_t *len, struct hook_run_result *res)
{
	return hook_chain_run(chain, batch.data, batch.len, out, len, res);
}

START_TEST(test_command_cat)
{
	static char *const cat[] = { "cat", NULL };
	struct hook_spec spec = cmd_hook("cat", cat);
	struct hook_run_result res;
	size_t len;
	char *out;

	ck_assert_int_eq(hook_chain_create(&chain, &spec, 1, NULL), 0);
	ck_assert_uint_eq(hook_chain_len(chain), 1);
	ck_assert_str_eq(hook_chain_name(chain, 0), "cat");
	ck_assert_ptr_null(hook_chain_script(chain, 0));
	ck_assert_int_eq(run(&out, &len, &res), 0);
	ck_assert(res.modified);
	ck_assert_uint_eq(res.n_failed, 0);
	ck_assert_uint_eq(res.n_lines, N_FLOWS);
	ck_assert_uint_eq(strlen(out), len);
	check_lines(out, N_FLOWS, "netns", "ns0");
	free(out);
	ck_assert_uint_eq(hook_chain_failures_total(chain), 0);
}
END_TEST

START_TEST(test_command_jq_adds_field)
{
	static char *const jq[] = {
		"/usr/bin/jq", "-c", "map(. + {\"site\": \"lab\"})", NULL,
	};
	struct hook_spec spec = cmd_hook("jq-site", jq);
	struct hook_run_result res;
	size_t len;
	char *out;

	ck_assert_int_eq(hook_chain_create(&chain, &spec, 1, NULL), 0);
	ck_assert_int_eq(run(&out, &len, &res), 0);
	ck_assert(res.modified);
	check_lines(out, N_FLOWS, "site", "lab");
	free(out);
}
END_TEST

START_TEST(test_command_filter_to_empty)
{
	/* a hook may drop flows: [] logs nothing, and that is a success */
	static char *const jq[] = {
		"jq", "-c", "map(select(.bytes > 3000))", NULL,
	};
	struct hook_spec spec = cmd_hook("filter", jq);
	struct hook_run_result res;
	size_t len;
	char *out;

	ck_assert_int_eq(hook_chain_create(&chain, &spec, 1, NULL), 0);
	ck_assert_int_eq(run(&out, &len, &res), 0);
	ck_assert(res.modified);
	ck_assert_uint_eq(res.n_lines, 2);	/* 4000 and 5000 bytes */
	ck_assert_ptr_nonnull(strstr(out, "\"bytes\":4000"));
	ck_assert_ptr_nonnull(strstr(out, "\"bytes\":5000"));
	ck_assert_ptr_null(strstr(out, "\"bytes\":3000"));
	free(out);
}
END_TEST

START_TEST(test_shell_hook_private_file)
{
	struct hook_spec spec = sh_hook("sed-msg",
		"# comment\nsed 's/\"netns\":\"ns0\"/\"netns\":\"hooked\"/g'\n");
	struct hook_run_result res;
	char *out, *script, *dir, *slash;
	struct stat st;
	size_t len;

	if (geteuid() != 0) {
		/* the default directory is under /run: root only */
		fprintf(stderr, "SKIP default hook directory: needs root\n");
		return;
	}
	ck_assert_int_eq(hook_chain_create(&chain, &spec, 1, NULL), 0);
	script = strdup(hook_chain_script(chain, 0));
	/* private file in the root-only directory, never a /tmp name */
	ck_assert_int_eq(strncmp(script, HOOK_DEFAULT_DIR "/hook-",
				 strlen(HOOK_DEFAULT_DIR "/hook-")), 0);
	ck_assert_ptr_null(strstr(script, "/tmp"));
	ck_assert_int_eq(lstat(script, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_int_eq(st.st_mode & 07777, 0700);
	ck_assert_uint_eq(st.st_uid, geteuid());
	dir = strdup(script);
	slash = strrchr(dir, '/');
	*slash = '\0';
	ck_assert_int_eq(lstat(dir, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_int_eq(st.st_mode & 07777, 0700);
	ck_assert_uint_eq(st.st_uid, geteuid());

	ck_assert_int_eq(run(&out, &len, &res), 0);
	ck_assert(res.modified);
	check_lines(out, N_FLOWS, "netns", "hooked");
	free(out);

	hook_chain_destroy(chain);
	chain = NULL;
	ck_assert_int_eq(access(script, F_OK), -1);
	ck_assert_int_eq(errno, ENOENT);
	free(script);
	free(dir);
}
END_TEST

START_TEST(test_shell_hook_jq_and_unique_files)
{
	struct hook_spec specs[2] = {
		sh_hook("a", "jq -c 'map(.tag = \"a\")'"),
		sh_hook("b", "jq -c 'map(.tag += \"b\")'"),
	};
	struct hook_run_result res;
	size_t len;
	char *out;

	ck_assert_int_eq(hook_chain_create(&chain, specs, 2, NULL), 0);
	ck_assert_str_ne(hook_chain_script(chain, 0),
			 hook_chain_script(chain, 1));
	ck_assert_int_eq(run(&out, &len, &res), 0);
	check_lines(out, N_FLOWS, "tag", "ab");
	free(out);
}
END_TEST

/* A shell: hook in TMPDIR whose every output object has "shell": WANT. */
static void check_interpreter(const char *body, const char *want)
{
	struct hook_chain_opts o = { .dir = tmpdir };
	struct hook_spec spec = sh_hook("interp", body);
	struct hook_run_result res;
	size_t len;
	char *out;

	ck_assert_int_eq(hook_chain_create(&chain, &spec, 1, &o), 0);
	ck_assert_int_eq(run(&out, &len, &res), 0);
	ck_assert_msg(res.modified, "the %s hook failed", want);
	check_lines(out, N_FLOWS, "shell", want);
	free(out);
	ck_assert_uint_eq(hook_chain_failures_total(chain), 0);
}

START_TEST(test_shell_hook_shebang_bash)
{
	/* bash only: [[ ]] and $BASH_VERSION; /bin/sh (dash) fails */
	check_interpreter("#!/bin/bash\n"
			  "[[ -n $BASH_VERSION ]] || exit 9\n"
			  "jq -c --arg sh bash 'map(. + {shell: $sh})'\n",
			  "bash");
}
END_TEST

START_TEST(test_shell_hook_shebang_python3)
{
	check_interpreter("#!/usr/bin/env python3\n"
			  "import json, sys\n"
			  "flows = json.load(sys.stdin)\n"
			  "for f in flows:\n"
			  "    f['shell'] = 'python3'\n"
			  "json.dump(flows, sys.stdout)\n",
			  "python3");
}
END_TEST

START_TEST(test_shell_hook_without_shebang_is_sh)
{
	/* no #! line: /bin/sh runs it; $0 is the script's own file */
	check_interpreter("case $0 in */hook-*) s=sh;; *) s=other;; esac\n"
			  "jq -c --arg sh \"$s\" 'map(. + {shell: $sh})'\n",
			  "sh");
}
END_TEST

START_TEST(test_hook_line_head)
{
	/* the hook sees no logger members; the lines get them back first,
	 * once, whatever the hook set */
	static char *const jq[] = {
		"jq", "-c",
		"map(. + {saw: has(\"level\"), level: \"debug\", ts: 0, "
		"msg: \"x\"}) + [{}]",
		NULL,
	};
	static const char *const keys[] = { "level", "ts", "msg", NULL };
	static const char head_text[] =
		"{\"level\":\"info\",\"ts\":5,\"msg\":\"flowlog\"";
	struct hook_line_head head = {
		"\"level\":\"info\",\"ts\":5,\"msg\":\"flowlog\"", keys,
	};
	struct hook_spec spec = cmd_hook("head", jq);
	struct hook_run_result res;
	char *out, *line, *save = NULL;
	size_t len, n = 0;

	ck_assert_ptr_null(strstr(batch.data, "\"level\""));
	ck_assert_ptr_null(strstr(batch.data, "\"msg\""));
	ck_assert_int_eq(hook_chain_create(&chain, &spec, 1, NULL), 0);
	ck_assert_int_eq(hook_chain_run_head(chain, batch.data, batch.len,
					     &head, &out, &len, &res), 0);
	ck_assert(res.modified);
	ck_assert_uint_eq(res.n_lines, N_FLOWS + 1);
	for (line = strtok_r(out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save), n++) {
		struct json_object *o = json_tokener_parse(line);

		ck_assert_msg(o != NULL, "not JSON: %s", line);
		ck_assert_int_eq(strncmp(line, head_text,
					 strlen(head_text)), 0);
		ck_assert_ptr_null(strstr(line + 1, "\"level\":\"debug\""));
		ck_assert_ptr_null(strstr(line + 1, "\"ts\":0"));
		if (n < N_FLOWS) {
			ck_assert_ptr_nonnull(strstr(line, ",\"saw\":false"));
			ck_assert_int_eq(json_object_object_length(o), 27);
		} else {
			/* the hook's empty object: the head alone */
			ck_assert_str_eq(line, "{\"level\":\"info\",\"ts\":5,\"msg\":\"flowlog\"}");
		}
		json_object_put(o);
	}
	ck_assert_uint_eq(n, N_FLOWS + 1);
	free(out);
}
END_TEST

START_TEST(test_two_hooks_in_order)
{
	static char *const first[] = {
		"jq", "-c", "map(. + {\"tag\": \"a\"})", NULL,
	};
	static char *const second[] = {
		"jq", "-c", "map(.tag += \"b\")", NULL,
	};
	struct hook_spec specs[2] = {
		cmd_hook("first", first), cmd_hook("second", second),
	};
	struct hook_run_result res;
	size_t len;
	char *out;

	/* in this order "ab"; the other way round it would be "a" */
	ck_assert_int_eq(hook_chain_create(&chain, specs, 2, NULL), 0);
	ck_assert_int_eq(run(&out, &len, &res), 0);
	ck_assert(res.modified);
	ck_assert_uint_eq(res.n_failed, 0);
	check_lines(out, N_FLOWS, "tag", "ab");
	free(out);
	hook_chain_destroy(chain);

	specs[0] = cmd_hook("second", second);
	specs[1] = cmd_hook("first", first);
	ck_assert_int_eq(hook_chain_create(&chain, specs, 2, NULL), 0);
	ck_assert_int_eq(run(&out, &len, &res), 0);
	check_lines(out, N_FLOWS, "tag", "a");
	free(out);
}
END_TEST

/* A single failing hook: the batch is logged unmodified, counted once. */
static void expect_failure(const struct hook_spec *spec, int timeout_ms,
			   enum hook_failure why)
{
	struct hook_chain_opts opts = { .timeout_ms = timeout_ms };
	struct hook_run_result res;
	size_t len;
	char *out;
	int w;

	ck_assert_int_eq(hook_chain_create(&chain, spec, 1, &opts), 0);
	ck_assert_int_eq(run(&out, &len, &res), 0);
	ck_assert(!res.modified);
	ck_assert_ptr_null(out);
	ck_assert_uint_eq(res.n_failed, 1);
	for (w = 0; w < HOOK_FAIL__MAX; w++)
		ck_assert_uint_eq(hook_chain_failures(chain, 0, w),
				  w == (int)why ? 1 : 0);
	ck_assert_uint_eq(hook_chain_failures_total(chain), 1);
	/* and again: each failure counted */
	ck_assert_int_eq(run(&out, &len, &res), 0);
	ck_assert_uint_eq(hook_chain_failures(chain, 0, why), 2);
}

START_TEST(test_fail_exit3)
{
	static char *const argv[] = {
		"/bin/sh", "-c", "cat >/dev/null; echo broken >&2; exit 3",
		NULL,
	};
	struct hook_spec spec = cmd_hook("exit3", argv);

	expect_failure(&spec, 0, HOOK_FAIL_EXIT);
}
END_TEST

/* PID exists and is not a zombie. */
static bool process_running(int pid)
{
	char path[64], buf[512], *paren;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X';
}

START_TEST(test_fail_timeout_kills_group)
{
	char pidfile[128], body[256];
	struct hook_spec spec;
	double t0, dt;
	FILE *f;
	int pid = 0;

	/* the script's own child must die too, not only /bin/sh */
	snprintf(pidfile, sizeof(pidfile), "%s/sleep.pid", tmpdir);
	snprintf(body, sizeof(body),
		 "sleep 30 & echo $! > %s; wait\n", pidfile);
	spec = sh_hook("hang", body);
	t0 = clock_mono_s();
	expect_failure(&spec, 1000, HOOK_FAIL_TIMEOUT);
	dt = clock_mono_s() - t0;
	/* two runs of 1 s each */
	ck_assert_msg(dt >= 1.9 && dt < 5, "took %.2f s", dt);
	f = fopen(pidfile, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fscanf(f, "%d", &pid), 1);
	fclose(f);
	ck_assert_int_gt(pid, 1);
	/* killed with its group (a zombie until init reaps it) */
	for (int i = 0; i < 100 && process_running(pid); i++)
		usleep(10000);
	ck_assert_msg(!process_running(pid), "sleep %d still runs", pid);
}
END_TEST

START_TEST(test_fail_timeout_command)
{
	static char *const argv[] = { "sleep", "30", NULL };
	struct hook_spec spec = cmd_hook("sleep", argv);
	struct hook_chain_opts opts = { .timeout_ms = 1000 };
	struct hook_run_result res;
	size_t len;
	char *out;
	double t0 = clock_mono_s(), dt;

	ck_assert_int_eq(hook_chain_create(&chain, &spec, 1, &opts), 0);
	ck_assert_int_eq(run(&out, &len, &res), 0);
	dt = clock_mono_s() - t0;
	ck_assert_msg(dt >= 0.95 && dt < 2.5, "took %.2f s", dt);
	ck_assert(!res.modified);
	ck_assert_uint_eq(hook_chain_failures(chain, 0, HOOK_FAIL_TIMEOUT), 1);
}
END_TEST

START_TEST(test_fail_invalid_json)
{
	static char *const argv[] = {
		"/bin/sh", "-c", "cat >/dev/null; echo '[{\"a\":1},'", NULL,
	};
	struct hook_spec spec = cmd_hook("truncated", argv);

	expect_failure(&spec, 0, HOOK_FAIL_INVALID);
}
END_TEST

START_TEST(test_fail_not_array)
{
	static char *const argv[] = {
		"/bin/sh", "-c", "cat >/dev/null; echo '{\"a\":1}'", NULL,
	};
	struct hook_spec spec = cmd_hook("object", argv);

	expect_failure(&spec, 0, HOOK_FAIL_INVALID);
}
END_TEST

START_TEST(test_fail_not_objects)
{
	static char *const argv[] = { "jq", "-c", "map(.sport)", NULL };
	struct hook_spec spec = cmd_hook("numbers", argv);

	expect_failure(&spec, 0, HOOK_FAIL_INVALID);
}
END_TEST

START_TEST(test_fail_trailing_garbage)
{
	/* two arrays one after the other: not one JSON value */
	static char *const argv[] = { "jq", "-c", ".,.", NULL };
	struct hook_spec spec = cmd_hook("twice", argv);

	expect_failure(&spec, 0, HOOK_FAIL_INVALID);
}
END_TEST

START_TEST(test_fail_empty_output)
{
	static char *const argv[] = { "true", NULL };
	struct hook_spec spec = cmd_hook("silent", argv);

	/* true does not read its stdin: no SIGPIPE may reach us */
	expect_failure(&spec, 0, HOOK_FAIL_INVALID);
}
END_TEST

START_TEST(test_fail_exec)
{
	static char *const argv[] = { "/nonexistent/flowctl-hook", NULL };
	struct hook_spec spec = cmd_hook("missing", argv);

	expect_failure(&spec, 0, HOOK_FAIL_EXEC);
}
END_TEST

START_TEST(test_failure_in_middle_bypassed)
{
	static char *const add_a[] = {
		"jq", "-c", "map(. + {\"tag\": \"a\"})", NULL,
	};
	static char *const fail[] = { "/bin/sh", "-c", "exit 3", NULL };
	static char *const add_c[] = { "jq", "-c", "map(.tag += \"c\")", NULL };
	struct hook_spec specs[3] = {
		cmd_hook("a", add_a), cmd_hook("fail", fail),
		cmd_hook("c", add_c),
	};
	struct hook_run_result res;
	size_t len;
	char *out;

	ck_assert_int_eq(hook_chain_create(&chain, specs, 3, NULL), 0);
	ck_assert_int_eq(run(&out, &len, &res), 0);
	ck_assert(res.modified);
	ck_assert_uint_eq(res.n_failed, 1);
	/* hook c got what "fail" was given: a's output */
	check_lines(out, N_FLOWS, "tag", "ac");
	free(out);
	ck_assert_uint_eq(hook_chain_failures(chain, 0, HOOK_FAIL_EXIT), 0);
	ck_assert_uint_eq(hook_chain_failures(chain, 1, HOOK_FAIL_EXIT), 1);
	ck_assert_uint_eq(hook_chain_failures(chain, 2, HOOK_FAIL_EXIT), 0);
}
END_TEST

START_TEST(test_large_batch_not_read)
{
	/* megabytes of input that the hook never reads */
	static char *const argv[] = { "/bin/sh", "-c", "echo '[]'", NULL };
	struct hook_spec spec = cmd_hook("ignore-input", argv);
	struct flow_record *many = calloc(20000, sizeof(*many));
	struct flowlog_buf big = { 0 };
	struct hook_run_result res;
	size_t i, len;
	char *out;

	for (i = 0; i < 20000; i++)
		many[i] = flows[i % N_FLOWS];
	ck_assert_int_eq(flowlog_format_batch(many, 20000, FLOWLOG_ARRAY, TS,
					      &big), 0);
	ck_assert_int_eq(hook_chain_create(&chain, &spec, 1, NULL), 0);
	ck_assert_int_eq(hook_chain_run(chain, big.data, big.len, &out, &len,
					&res), 0);
	ck_assert(res.modified);
	ck_assert_uint_eq(res.n_lines, 0);
	ck_assert_uint_eq(len, 0);
	free(out);
	flowlog_buf_free(&big);
	free(many);
}
END_TEST

START_TEST(test_bad_specs)
{
	static char *const empty[] = { NULL };
	struct hook_spec bad_cmd = cmd_hook("x", empty);
	struct hook_spec no_argv = cmd_hook("x", NULL);
	struct hook_spec no_body = sh_hook("x", NULL);

	ck_assert_int_eq(hook_chain_create(&chain, &bad_cmd, 1, NULL),
			 -EINVAL);
	ck_assert_ptr_null(chain);
	ck_assert_int_eq(hook_chain_create(&chain, &no_argv, 1, NULL),
			 -EINVAL);
	ck_assert_int_eq(hook_chain_create(&chain, &no_body, 1, NULL),
			 -EINVAL);
	/* no hooks: a chain that changes nothing */
	ck_assert_int_eq(hook_chain_create(&chain, NULL, 0, NULL), 0);
	ck_assert_uint_eq(hook_chain_len(chain), 0);
}
END_TEST

START_TEST(test_unsafe_dir_refused)
{
	struct hook_spec spec = sh_hook("s", "cat");
	struct hook_chain_opts opts;
	char dir[128], link[160], target[128];
	struct stat st;

	/* a directory owned by someone else */
	snprintf(dir, sizeof(dir), "%s/theirs", tmpdir);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	if (geteuid() == 0) {
		ck_assert_int_eq(chown(dir, 65534, 65534), 0);
		opts = (struct hook_chain_opts){ .dir = dir };
		ck_assert_int_eq(hook_chain_create(&chain, &spec, 1, &opts),
				 -EPERM);
		ck_assert_ptr_null(chain);
	}
	/* a symlink to a directory */
	snprintf(target, sizeof(target), "%s/target", tmpdir);
	snprintf(link, sizeof(link), "%s/link", tmpdir);
	ck_assert_int_eq(mkdir(target, 0700), 0);
	ck_assert_int_eq(symlink(target, link), 0);
	opts = (struct hook_chain_opts){ .dir = link };
	ck_assert_int_lt(hook_chain_create(&chain, &spec, 1, &opts), 0);
	ck_assert_ptr_null(chain);
	/* ours but writable by others (who may have swapped things in it):
	 * refused; only read access is tightened */
	snprintf(dir, sizeof(dir), "%s/open", tmpdir);
	ck_assert_int_eq(mkdir(dir, 0777), 0);
	ck_assert_int_eq(chmod(dir, 0777), 0);
	opts = (struct hook_chain_opts){ .dir = dir };
	ck_assert_int_eq(hook_chain_create(&chain, &spec, 1, &opts), -EPERM);
	ck_assert_ptr_null(chain);
	ck_assert_int_eq(chmod(dir, 0755), 0);
	ck_assert_int_eq(hook_chain_create(&chain, &spec, 1, &opts), 0);
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0700);
	hook_chain_destroy(chain);
	/* missing parents are created, 0700 too */
	snprintf(dir, sizeof(dir), "%s/new/deeper/hooks", tmpdir);
	opts = (struct hook_chain_opts){ .dir = dir };
	ck_assert_int_eq(hook_chain_create(&chain, &spec, 1, &opts), 0);
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0700);
}
END_TEST

START_TEST(test_argv_split)
{
	char **argv;

	ck_assert_int_eq(hook_argv_split("  jq -c  'map(. + {\"a\": 1})'\t",
					 &argv), 0);
	ck_assert_str_eq(argv[0], "jq");
	ck_assert_str_eq(argv[1], "-c");
	ck_assert_str_eq(argv[2], "map(. + {\"a\": 1})");
	ck_assert_ptr_null(argv[3]);
	hook_argv_free(argv);

	ck_assert_int_eq(hook_argv_split("a\\ b \"c \\\"d\\\\\" ''", &argv),
			 0);
	ck_assert_str_eq(argv[0], "a b");
	ck_assert_str_eq(argv[1], "c \"d\\");
	ck_assert_str_eq(argv[2], "");
	ck_assert_ptr_null(argv[3]);
	hook_argv_free(argv);

	/* no shell: $HOME and globs are plain text */
	ck_assert_int_eq(hook_argv_split("echo $HOME * x'y'z", &argv), 0);
	ck_assert_str_eq(argv[1], "$HOME");
	ck_assert_str_eq(argv[2], "*");
	ck_assert_str_eq(argv[3], "xyz");
	hook_argv_free(argv);

	ck_assert_int_eq(hook_argv_split("   ", &argv), -EINVAL);
	ck_assert_ptr_null(argv);
	ck_assert_int_eq(hook_argv_split("jq 'unterminated", &argv), -EINVAL);
	ck_assert_ptr_null(argv);
}
END_TEST

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long size;

	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	rewind(f);
	buf = calloc(1, size + 1);
	ck_assert_uint_eq(fread(buf, 1, size, f), (size_t)size);
	fclose(f);
	return buf;
}

static void flowlog_with_hooks(bool async)
{
	static char *const jq[] = {
		"jq", "-c", "map(. + {\"site\": \"lab\"})", NULL,
	};
	static char *const fail[] = { "/bin/sh", "-c", "exit 3", NULL };
	struct hook_spec ok = cmd_hook("site", jq), bad = cmd_hook("bad", fail);
	struct flowlog_config cfg = {
		.hooks = &ok, .n_hooks = 1, .async = async,
	};
	struct flowlog_stats st;
	struct flowlog *fl;
	char path[128], *text;

	snprintf(path, sizeof(path), "%s/hooked.log", tmpdir);
	cfg.path = path;
	ck_assert_int_eq(flowlog_open(&fl, &cfg), 0);
	ck_assert_uint_eq(hook_chain_len(flowlog_hooks(fl)), 1);
	ck_assert_int_eq(flowlog_submit(fl, flows, N_FLOWS), 0);
	flowlog_flush(fl);
	flowlog_get_stats(fl, &st);
	ck_assert_uint_eq(st.lines_written, N_FLOWS);
	ck_assert_uint_eq(st.hook_failures, 0);
	flowlog_close(fl);
	text = slurp(path);
	check_lines(text, N_FLOWS, "site", "lab");
	free(text);

	/* a failing hook: the lines as they were, nothing lost */
	unlink(path);
	cfg.hooks = &bad;
	ck_assert_int_eq(flowlog_open(&fl, &cfg), 0);
	ck_assert_int_eq(flowlog_submit(fl, flows, N_FLOWS), 0);
	flowlog_flush(fl);
	flowlog_get_stats(fl, &st);
	ck_assert_uint_eq(st.lines_written, N_FLOWS);
	ck_assert_uint_eq(st.hook_failures, 1);
	ck_assert_uint_eq(hook_chain_failures(flowlog_hooks(fl), 0,
					      HOOK_FAIL_EXIT), 1);
	flowlog_close(fl);
	text = slurp(path);
	check_lines(text, N_FLOWS, "msg", "flowlog");
	ck_assert_ptr_null(strstr(text, "site"));
	free(text);
}

START_TEST(test_flowlog_hooks_sync)
{
	flowlog_with_hooks(false);
}
END_TEST

START_TEST(test_flowlog_hooks_async)
{
	flowlog_with_hooks(true);
}
END_TEST

/* Hostile names reach a hook as valid JSON and come back as valid JSON. */
START_TEST(test_hostile_names_through_hook)
{
	static char *const argv[] = {
		"jq", "-c", "map(. + {seen: .netns})", NULL,
	};
	char all[256], *out, *line, *save = NULL;
	struct hook_spec spec;
	struct flowlog_buf in = { 0 };
	struct hook_run_result res;
	struct json_tokener *tok;
	size_t len, i, n = 0;

	for (i = 0; i < 255; i++)
		all[i] = (char)(i + 1);
	all[255] = '\0';
	flows[0].netns = all;
	flows[1].netns = "\"; rm -rf / #";
	flows[2].netns = "\xff\xfe\xc0\xaf";
	ck_assert_int_eq(flowlog_format_batch(flows, 3, FLOWLOG_ARRAY, TS,
					      &in), 0);
	spec = cmd_hook("names", argv);
	ck_assert_int_eq(hook_chain_create(&chain, &spec, 1, NULL), 0);
	ck_assert_int_eq(hook_chain_run(chain, in.data, in.len, &out, &len,
					&res), 0);
	/* jq read the input (strict about UTF-8 and escapes) */
	ck_assert(res.modified);
	ck_assert_uint_eq(res.n_lines, 3);
	tok = json_tokener_new();
	for (line = strtok_r(out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save), n++) {
		struct json_object *o, *a, *b;

		json_tokener_reset(tok);
		json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
				       JSON_TOKENER_VALIDATE_UTF8);
		o = json_tokener_parse_ex(tok, line, (int)strlen(line));
		ck_assert_msg(o != NULL, "not strict JSON: %s", line);
		ck_assert(json_object_object_get_ex(o, "netns", &a));
		ck_assert(json_object_object_get_ex(o, "seen", &b));
		ck_assert_str_eq(json_object_get_string(a),
				 json_object_get_string(b));
		json_object_put(o);
	}
	ck_assert_uint_eq(n, 3);
	json_tokener_free(tok);
	free(out);
	flowlog_buf_free(&in);
}
END_TEST

/* ---- hooks that print without end ---- */

/* One run of SPEC with OPTS fails for WHY, bypassed, within MAX_S. */
static void expect_failure_fast(const struct hook_spec *spec,
				const struct hook_chain_opts *opts,
				enum hook_failure why, double max_s)
{
	struct hook_run_result res;
	double t0 = clock_mono_s(), dt;
	size_t len;
	char *out;

	ck_assert_int_eq(hook_chain_create(&chain, spec, 1, opts), 0);
	ck_assert_int_eq(run(&out, &len, &res), 0);
	dt = clock_mono_s() - t0;
	ck_assert(!res.modified);
	ck_assert_ptr_null(out);
	ck_assert_uint_eq(res.n_failed, 1);
	ck_assert_msg(hook_chain_failures(chain, 0, why) == 1,
		      "not failed as %s", hook_failure_name(why));
	ck_assert_uint_eq(hook_chain_failures_total(chain), 1);
	ck_assert_msg(dt < max_s, "took %.2f s", dt);
}

static long max_rss_mb(void)
{
	struct rusage ru;

	ck_assert_int_eq(getrusage(RUSAGE_SELF, &ru), 0);
	return ru.ru_maxrss / 1024;
}

START_TEST(test_output_endless_killed)
{
	/* `yes` fills any buffer: killed at the limit, long before its
	 * timeout, and the agent does not grow by gigabytes */
	static char *const argv[] = { "yes", NULL };
	struct hook_spec spec = cmd_hook("yes", argv);
	struct hook_chain_opts opts = {
		.timeout_ms = 10000, .max_output = 1 << 20,
	};

	expect_failure_fast(&spec, &opts, HOOK_FAIL_TOO_LARGE, 5);
	ck_assert_str_eq(hook_failure_name(HOOK_FAIL_TOO_LARGE),
			 "output_too_large");
	ck_assert_msg(max_rss_mb() < 100, "grew to %ld MB", max_rss_mb());
}
END_TEST

START_TEST(test_output_default_limit)
{
	/* 40 MB of output for a small batch: over max(16 MiB, 4 x input) */
	static char *const argv[] = {
		"/bin/sh", "-c", "cat >/dev/null; head -c 40000000 /dev/zero",
		NULL,
	};
	struct hook_spec spec = cmd_hook("big", argv);
	struct hook_chain_opts opts = { .timeout_ms = 10000 };

	expect_failure_fast(&spec, &opts, HOOK_FAIL_TOO_LARGE, 5);
}
END_TEST

START_TEST(test_stderr_endless_killed)
{
	static char *const argv[] = {
		"/bin/sh", "-c", "cat; yes >&2", NULL,
	};
	struct hook_spec spec = cmd_hook("noisy", argv);
	struct hook_chain_opts opts = { .timeout_ms = 10000 };

	expect_failure_fast(&spec, &opts, HOOK_FAIL_TOO_LARGE, 5);
	ck_assert_msg(max_rss_mb() < 100, "grew to %ld MB", max_rss_mb());
}
END_TEST

START_TEST(test_output_limit_scales_with_input)
{
	/* a hook that doubles a 3 MB batch is fine (limit 4 x input) */
	static char *const argv[] = { "jq", "-c", ". + .", NULL };
	struct hook_spec spec = cmd_hook("double", argv);
	struct hook_chain_opts opts = { .timeout_ms = 20000,
					.max_output = 1 << 20 };
	struct flowlog_buf big = { 0 };
	struct hook_run_result res;
	size_t len, n = 10000, i;
	struct flow_record *many = calloc(n, sizeof(*many));
	char *out;

	ck_assert_ptr_nonnull(many);
	for (i = 0; i < n; i++)
		many[i] = flows[i % N_FLOWS];
	ck_assert_int_eq(flowlog_format_batch(many, n, FLOWLOG_ARRAY, TS,
					      &big), 0);
	ck_assert_uint_gt(big.len, 1 << 20);
	ck_assert_int_eq(hook_chain_create(&chain, &spec, 1, &opts), 0);
	ck_assert_int_eq(hook_chain_run(chain, big.data, big.len, &out, &len,
					&res), 0);
	ck_assert(res.modified);
	ck_assert_uint_eq(res.n_lines, 2 * n);
	free(out);
	flowlog_buf_free(&big);
	free(many);
}
END_TEST

/* Invalid UTF-8 from a hook would make the log line invalid JSON. */
START_TEST(test_output_invalid_utf8)
{
	static char *const argv[] = {
		"/bin/sh", "-c",
		"cat >/dev/null; printf '[{\"netns\":\"a\\377b\"}]\\n'", NULL,
	};
	struct hook_spec spec = cmd_hook("latin1", argv);

	expect_failure(&spec, 0, HOOK_FAIL_INVALID);
}
END_TEST

static Suite *hooks_suite(void)
{
	Suite *s = suite_create("hooks");
	TCase *tc = tcase_create("hooks");
	TCase *limits = tcase_create("limits");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_command_cat);
	tcase_add_test(tc, test_command_jq_adds_field);
	tcase_add_test(tc, test_command_filter_to_empty);
	tcase_add_test(tc, test_shell_hook_private_file);
	tcase_add_test(tc, test_shell_hook_shebang_bash);
	tcase_add_test(tc, test_shell_hook_shebang_python3);
	tcase_add_test(tc, test_shell_hook_without_shebang_is_sh);
	tcase_add_test(tc, test_hook_line_head);
	tcase_add_test(tc, test_shell_hook_jq_and_unique_files);
	tcase_add_test(tc, test_two_hooks_in_order);
	tcase_add_test(tc, test_fail_exit3);
	tcase_add_test(tc, test_fail_timeout_kills_group);
	tcase_add_test(tc, test_fail_timeout_command);
	tcase_add_test(tc, test_fail_invalid_json);
	tcase_add_test(tc, test_fail_not_array);
	tcase_add_test(tc, test_fail_not_objects);
	tcase_add_test(tc, test_fail_trailing_garbage);
	tcase_add_test(tc, test_fail_empty_output);
	tcase_add_test(tc, test_fail_exec);
	tcase_add_test(tc, test_failure_in_middle_bypassed);
	tcase_add_test(tc, test_large_batch_not_read);
	tcase_add_test(tc, test_bad_specs);
	tcase_add_test(tc, test_unsafe_dir_refused);
	tcase_add_test(tc, test_argv_split);
	tcase_add_test(tc, test_flowlog_hooks_sync);
	tcase_add_test(tc, test_flowlog_hooks_async);
	tcase_add_test(tc, test_output_invalid_utf8);
	tcase_add_test(tc, test_hostile_names_through_hook);
	tcase_add_test(limits, test_output_endless_killed);
	tcase_add_test(limits, test_output_default_limit);
	tcase_add_test(limits, test_stderr_endless_killed);
	tcase_add_test(limits, test_output_limit_scales_with_input);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(limits, setup, teardown);
	tcase_set_timeout(limits, 60);
	suite_add_tcase(s, limits);
	return s;
}

CHECK_MAIN(hooks_suite)
