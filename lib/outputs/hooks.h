/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Flow log hooks: external programs that see each batch of flows as one JSON
 * array on stdin and return the (possibly modified) array on stdout.  Hooks
 * run in order, once per batch (never once per flow); a batch of N flows
 * costs one process start per hook.
 *
 * A hook is either a command (argv, run directly with execvp, no shell) or a
 * shell script body, written once at setup to a private mkstemp file in a
 * root-only directory (default /run/flowctl/hooks, 0700) and executed as a
 * file: its "#!" line chooses the interpreter, /bin/sh when it has none.
 *
 * Failure handling: a hook that cannot be started, exits non-zero, is killed
 * at its timeout or at its output limit (HOOK_MAX_OUTPUT) or prints anything
 * but a JSON array of objects (valid UTF-8) is bypassed:
 * the next hook (or the log) gets exactly the input the failing hook was
 * given.  So the work of the hooks before it is kept (a redaction hook that
 * ran is never undone) and the hooks after it still run; no record is lost.
 * Each failure is counted per hook and reason and logged once (pr_warn).
 *
 * hook_chain_run() blocks for as long as the hooks take, bounded by
 * timeout_ms per hook: call it from a worker thread (flowlog's async mode),
 * not from an event loop that must stay responsive.
 */
#ifndef FLOWCTL_HOOKS_H
#define FLOWCTL_HOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "rundir.h"

#define HOOK_DEFAULT_TIMEOUT_MS	10000
#define HOOK_DEFAULT_DIR	FLOWCTL_RUN_DIR "/hooks"
/*
 * What a hook may print: stdout up to max(HOOK_MAX_OUTPUT,
 * HOOK_OUTPUT_FACTOR x its input) bytes, stderr up to HOOK_MAX_STDERR.
 * Past either, its process group is killed at once and the run is a
 * failure (output_too_large): a hook that prints without end (`yes`)
 * costs the agent at most that much memory, not all of it until timeout.
 */
#define HOOK_MAX_OUTPUT		(16u << 20)
#define HOOK_OUTPUT_FACTOR	4
#define HOOK_MAX_STDERR		(1u << 20)

enum hook_kind {
	HOOK_COMMAND,
	HOOK_SHELL,
};

struct hook_spec {
	const char *name;		/* for messages and metrics */
	enum hook_kind kind;
	char *const *argv;		/* HOOK_COMMAND: NULL-terminated */
	const char *shell;		/* HOOK_SHELL: script body */
};

struct hook_chain_opts {
	int timeout_ms;		/* per hook run; 0: 10 s */
	const char *dir;	/* for shell scripts; NULL: HOOK_DEFAULT_DIR */
	size_t max_output;	/* stdout floor; 0: HOOK_MAX_OUTPUT */
};

enum hook_failure {
	HOOK_FAIL_EXEC,		/* could not start (fork, exec: 127) */
	HOOK_FAIL_EXIT,		/* non-zero exit or killed by a signal */
	HOOK_FAIL_TIMEOUT,	/* killed at timeout_ms */
	HOOK_FAIL_INVALID,	/* output not a JSON array of objects
				 * (or not valid UTF-8) */
	HOOK_FAIL_TOO_LARGE,	/* killed: stdout or stderr over the limit */
	HOOK_FAIL__MAX,
};

struct hook_chain;

/* "exec", "exit", "timeout", "invalid_output", "output_too_large"
 * (metrics label values) */
const char *hook_failure_name(enum hook_failure why);

/*
 * Copy SPECS (N of them), write the shell scripts.  Errors (bad spec,
 * unsafe directory, I/O) are printed; returns 0 or -errno (-EINVAL: bad
 * spec, fix the config).
 */
int hook_chain_create(struct hook_chain **out, const struct hook_spec *specs,
		      size_t n, const struct hook_chain_opts *opts);
/* Remove the script files and free everything.  NULL is fine. */
void hook_chain_destroy(struct hook_chain *c);

/* The accessors below accept a NULL chain (no hooks): 0 / NULL. */
size_t hook_chain_len(const struct hook_chain *c);
const char *hook_chain_name(const struct hook_chain *c, size_t i);
/* Path of hook I's script file, NULL for a command hook. */
const char *hook_chain_script(const struct hook_chain *c, size_t i);
/* Failures of hook I for WHY so far (safe from any thread). */
uint64_t hook_chain_failures(const struct hook_chain *c, size_t i,
			     enum hook_failure why);
/* Sum over every hook and reason. */
uint64_t hook_chain_failures_total(const struct hook_chain *c);

struct hook_run_result {
	bool modified;		/* a hook succeeded: *out has its result */
	size_t n_failed;	/* hooks bypassed in this run */
	size_t n_lines;		/* lines in *out */
};

/*
 * Run the chain on the JSON array IN (IN_LEN bytes).  When at least one
 * hook succeeded, *OUT (malloc'd, caller frees) holds the last successful
 * hook's array re-serialised as one compact JSON object per line, and
 * res->modified is true.  Otherwise *OUT is NULL: log the original batch.
 * Returns 0, or -ENOMEM (nothing run or nothing usable: log the original).
 */
int hook_chain_run(struct hook_chain *c, const char *in, size_t in_len,
		   char **out, size_t *out_len, struct hook_run_result *res);

/* What each line of a chain's result starts with (the flow log's logger
 * members): KEYS (NULL-terminated) are removed from every object the last
 * hook returned, then MEMBERS ('"a":1,"b":"x"', no braces) put first. */
struct hook_line_head {
	const char *members;
	const char *const *keys;
};

/* hook_chain_run(), each line of *OUT starting with HEAD (or NULL). */
int hook_chain_run_head(struct hook_chain *c, const char *in, size_t in_len,
			const struct hook_line_head *head, char **out,
			size_t *out_len, struct hook_run_result *res);

/*
 * Split a command line into argv the way a config's `command: "jq -c ."`
 * means it: words separated by blanks, '...' and "..." quoting, backslash
 * escapes; no variables, globs or other shell syntax.  *ARGV is
 * NULL-terminated; free with hook_argv_free().  -EINVAL: empty or
 * unterminated quote.
 */
int hook_argv_split(const char *line, char ***argv);
void hook_argv_free(char **argv);

#endif
