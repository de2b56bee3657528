// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness: what reads what a flow-log hook prints back
 * (lib/outputs/hooks.c) and the text around it (lib/outputs/flowlog.c).  The input is
 * three things at once:
 *  - a hook's stdout: a chain of one command hook, "cat", is run on it
 *    through hook_chain_run(), so the bytes come back as the hook's output
 *    and go through the same reader (JSON array of objects, nothing after
 *    it) and re-serialisation (one compact object per line) the agent
 *    uses.  A result must be one JSON object per line, res.n_lines of them;
 *    a refused output must leave *out NULL and count one failure.
 *    The child process is not started: this file defines
 *    exec_run_bounded() (the one lib/base/exec.c has is then not linked) as a
 *    "cat" that exits 0, or fails as a hook can when the input's length
 *    says so, or prints past its output limit.  Forking for
 *    every input made ~20 runs a second; this makes thousands.
 *  - log lines for flowlog_lines_to_array(): the array built must be
 *    "[\n" + the lines joined by ",\n" + "\n]\n", appended to what the
 *    buffer held.
 *  - a config `command:` line for hook_argv_split().
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "exec.h"
#include "flowlog.h"
#include "hooks.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct hook_chain *chain;

/* The hook: "cat" in process.  Every 16th length fails instead (exit 1,
 * killed, timeout), so the bypass paths run too. */
int exec_run_bounded(char *const argv[], char *const env[], const char *in,
		     size_t in_len, int timeout_ms, size_t max_out,
		     size_t max_err, struct exec_result *res)
{
	memset(res, 0, sizeof(*res));
	if (max_out && in_len > max_out) {
		res->too_large = "stdout";
		res->out = strdup("");
		res->err = strdup("");
		return -EFBIG;
	}
	switch (in_len % 64) {
	case 16:
		res->status = 1;
		break;
	case 32:
		res->status = 128 + 9;
		break;
	case 48:
		res->err = strdup("timed out\nsecond line");
		return -ETIMEDOUT;
	}
	res->out = malloc(in_len + 1);
	if (!res->out)
		return -ENOMEM;
	memcpy(res->out, in, in_len);
	res->out[in_len] = '\0';
	res->out_len = in_len;
	res->err = strdup("some stderr\n");
	return 0;
}

void exec_result_free(struct exec_result *res)
{
	free(res->out);
	free(res->err);
	res->out = res->err = NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char *const cat_argv[] = { "cat", NULL };
	struct hook_spec spec = {
		.name = "fuzz-cat",
		.kind = HOOK_COMMAND,
		.argv = cat_argv,
	};
	struct hook_chain_opts opts = { .timeout_ms = 5000 };

	/* the reader's complaints are pr_warn: keep the fuzzer quiet */
	log_set_level(LOG_LVL_ERROR);
	if (hook_chain_create(&chain, &spec, 1, &opts))
		abort();
	return 0;
}

/* *OUT must be N lines, each one JSON object and nothing else. */
static void check_lines(const char *out, size_t len, size_t n)
{
	const char *p = out, *end = out + len;
	size_t lines = 0;

	if (len && out[len - 1] != '\n')
		abort();
	while (p < end) {
		const char *nl = memchr(p, '\n', end - p);
		struct json_tokener *tok = json_tokener_new();
		struct json_object *o;

		if (!nl || !tok)
			abort();
		o = json_tokener_parse_ex(tok, p, (int)(nl - p));
		if (!o || !json_object_is_type(o, json_type_object) ||
		    json_tokener_get_parse_end(tok) != (size_t)(nl - p))
			abort();	/* not exactly one object per line */
		json_object_put(o);
		json_tokener_free(tok);
		lines++;
		p = nl + 1;
	}
	if (lines != n)
		abort();
}

static void fuzz_hook_output(const uint8_t *data, size_t size)
{
	uint64_t before = hook_chain_failures_total(chain);
	struct hook_run_result res;
	char *out = (void *)1;
	size_t out_len = 1;

	if (hook_chain_run(chain, (const char *)data, size, &out, &out_len,
			   &res)) {
		if (out)
			abort();
		return;
	}
	if (res.modified) {
		if (!out || res.n_failed)
			abort();
		check_lines(out, out_len, res.n_lines);
		free(out);
		return;
	}
	/* refused: the batch is logged as it was, the failure counted */
	if (out || out_len || res.n_failed != 1 ||
	    hook_chain_failures_total(chain) != before + 1)
		abort();
}

/* '{"level":"info","ts":DIGITS,"msg":"flowlog",' at S: its length, or 0. */
static size_t logger_head(const char *s, size_t len)
{
	const char *a = "{\"level\":\"info\",\"ts\":";
	const char *b = ",\"msg\":\"flowlog\",";
	size_t i = strlen(a), d;

	if (len < i || strncmp(s, a, i))
		return 0;
	for (d = i; i < len && s[i] >= '0' && s[i] <= '9'; i++)
		;
	if (i == d || len - i < strlen(b) || strncmp(s + i, b, strlen(b)))
		return 0;
	return i + strlen(b);
}

static void fuzz_lines_to_array(const uint8_t *data, size_t size)
{
	struct flowlog_buf b = { 0 };
	size_t i, o, pre = size % 7;	/* something already in the buffer */
	char *want;

	if (pre && flowlog_lines_to_array("{}", 2, &b))
		return;
	pre = b.len;
	if (flowlog_lines_to_array((const char *)data, size, &b))
		goto out;
	/* what it must have appended, built the obvious way */
	want = malloc(2 * size + 8);
	if (!want)
		abort();
	o = 0;
	want[o++] = '[';
	want[o++] = '\n';
	for (i = 0; i < size; i++) {
		if (i == 0 || data[i - 1] == '\n') {
			/* a log line's logger members are left out */
			size_t h = logger_head((const char *)data + i,
					       size - i);

			if (h) {
				want[o++] = '{';
				i += h;
				if (i >= size)
					break;
			}
		}
		if (data[i] == '\n' && i + 1 < size)
			want[o++] = ',';
		want[o++] = data[i];
	}
	if (size && data[size - 1] != '\n')
		want[o++] = '\n';
	want[o++] = ']';
	want[o++] = '\n';
	if (b.len != pre + o || memcmp(b.data + pre, want, o) ||
	    b.data[b.len] != '\0')
		abort();
	free(want);
out:
	flowlog_buf_free(&b);
}

static void fuzz_argv_split(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), **argv;
	size_t i;

	if (!s)
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	if (!hook_argv_split(s, &argv)) {
		if (!argv || !argv[0])
			abort();
		for (i = 0; argv[i]; i++)
			if (strlen(argv[i]) > size)
				abort();
		hook_argv_free(argv);
	} else if (argv) {
		abort();
	}
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_lines_to_array(data, size);
	fuzz_argv_split(data, size);
	fuzz_hook_output(data, size);
	return 0;
}
