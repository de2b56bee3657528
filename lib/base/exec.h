/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Child processes: fork + execvp(argv) + waitpid, never a shell string.
 */
#ifndef FLOWCTL_EXEC_H
#define FLOWCTL_EXEC_H

#include <stddef.h>

struct exec_result {
	int status;		/* exit code, or 128 + signal */
	char *out;		/* captured stdout (NUL-terminated), or NULL */
	size_t out_len;
	char *err;		/* captured stderr (NUL-terminated), or NULL */
	size_t err_len;
	const char *too_large;	/* "stdout"/"stderr": killed at its limit */
};

/*
 * Where a program named without a slash is looked up, whatever PATH the
 * caller has (flowctl runs as root: a PATH with "." or a user's directory
 * in it must not choose the clang, ip or tc it runs).  The child gets
 * PATH=EXEC_PATH too, for what it runs itself (`ip netns exec NS tc`).
 */
#define EXEC_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/*
 * Run ARGV (argv[0] looked up in EXEC_PATH).  ENV: NULL-terminated strings
 * applied to the child's copy of our environment, "NAME=value" sets NAME,
 * a bare "NAME" removes it; or NULL.  IN: bytes written to
 * the child's stdin (or NULL: /dev/null).  TIMEOUT_MS: kill the child after
 * this long (0: no limit).  Returns 0 when the child ran (see res->status),
 * -errno when it could not be started or timed out (-ETIMEDOUT).
 */
int exec_run(char *const argv[], char *const env[], const char *in,
	     size_t in_len, int timeout_ms, struct exec_result *res);
/*
 * exec_run(), bounded in what the child may print: as soon as its stdout
 * passes MAX_OUT bytes or its stderr MAX_ERR (0: no limit), its process
 * group is killed and -EFBIG returned (res->too_large names the stream;
 * nothing past the limit is kept).  Hooks run through this.
 */
int exec_run_bounded(char *const argv[], char *const env[], const char *in,
		     size_t in_len, int timeout_ms, size_t max_out,
		     size_t max_err, struct exec_result *res);
void exec_result_free(struct exec_result *res);

/* The file exec_run() runs for NAME (malloc'ed), or NULL: not found. */
char *exec_which(const char *name);

/* "a b 'c d'": ARGV as one line for messages and --dry output. */
char *exec_argv_str(char *const argv[]);

#endif
