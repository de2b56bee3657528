// SPDX-License-Identifier: Apache-2.0
#include "hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "exec.h"
#include "log.h"

struct hook {
	char *name;
	enum hook_kind kind;
	char **argv;			/* what exec_run_bounded() runs */
	char *script;			/* HOOK_SHELL: our private file */
	_Atomic uint64_t failures[HOOK_FAIL__MAX];
};

struct hook_chain {
	size_t n;
	int timeout_ms;
	size_t max_output;		/* floor of the stdout limit */
	struct hook *hooks;
};

static const char *const failure_names[HOOK_FAIL__MAX] = {
	[HOOK_FAIL_EXEC] = "exec",
	[HOOK_FAIL_EXIT] = "exit",
	[HOOK_FAIL_TIMEOUT] = "timeout",
	[HOOK_FAIL_INVALID] = "invalid_output",
	[HOOK_FAIL_TOO_LARGE] = "output_too_large",
};

const char *hook_failure_name(enum hook_failure why)
{
	return why < HOOK_FAIL__MAX ? failure_names[why] : "unknown";
}

/*
 * DIR must end up a real directory (not a symlink) owned by us and closed
 * to everyone else: the scripts in it are run as root.  A directory left
 * behind by someone else is refused, not adopted.
 */
static int prepare_script_dir(const char *dir)
{
	struct stat st;
	int fd = -1, ret;

	ret = private_dir_ensure(dir, "the hook scripts");
	if (ret)
		return ret;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		ret = -errno;
		goto out;
	}
	/* ours (checked above); also closed to reading */
	if ((st.st_mode & 07777) != 0700 && fchmod(fd, 0700)) {
		ret = -errno;
		goto out;
	}
out:
	if (ret && ret != -EPERM)
		pr_err("hooks: cannot prepare the script directory %s: %s",
		       dir, strerror(-ret));
	if (fd >= 0)
		close(fd);
	return ret;
}

static int write_script(struct hook *h, const char *dir, const char *body)
{
	size_t len = strlen(body), off = 0;
	char *path = NULL;
	int fd = -1, ret = 0;

	if (asprintf(&path, "%s/hook-XXXXXX", dir) < 0) {
		path = NULL;
		ret = -ENOMEM;
		goto out;
	}
	fd = mkstemp(path);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	if (fchmod(fd, 0700)) {
		ret = -errno;
		goto out;
	}
	while (off < len) {
		ssize_t w = write(fd, body + off, len - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			goto out;
		}
		off += w;
	}
	if (close(fd)) {
		fd = -1;
		ret = -errno;
		goto out;
	}
	fd = -1;
	h->script = path;
	path = NULL;
out:
	if (ret)
		pr_err("hooks: %s: cannot write the script to %s: %s", h->name,
		       dir, strerror(-ret));
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
	free(path);
	return ret;
}

static char **argv_dup(char *const *argv)
{
	size_t n = 0, i;
	char **copy;

	while (argv[n])
		n++;
	copy = calloc(n + 1, sizeof(*copy));
	if (!copy)
		return NULL;
	for (i = 0; i < n; i++) {
		copy[i] = strdup(argv[i]);
		if (!copy[i]) {
			hook_argv_free(copy);
			return NULL;
		}
	}
	return copy;
}

static int hook_setup(struct hook *h, const struct hook_spec *spec,
		      const char *dir, bool *dir_ready)
{
	int ret;

	h->kind = spec->kind;
	h->name = strdup(spec->name && *spec->name ? spec->name : "(unnamed)");
	if (!h->name)
		return -ENOMEM;
	switch (spec->kind) {
	case HOOK_COMMAND:
		if (!spec->argv || !spec->argv[0] || !*spec->argv[0]) {
			pr_err("hooks: %s: command hook without a command",
			       h->name);
			return -EINVAL;
		}
		h->argv = argv_dup(spec->argv);
		return h->argv ? 0 : -ENOMEM;
	case HOOK_SHELL:
		if (!spec->shell) {
			pr_err("hooks: %s: shell hook without a script",
			       h->name);
			return -EINVAL;
		}
		if (!*dir_ready) {
			ret = prepare_script_dir(dir);
			if (ret)
				return ret;
			*dir_ready = true;
		}
		ret = write_script(h, dir, spec->shell);
		if (ret)
			return ret;
		/*
		 * Executed as a file: its #! line chooses the interpreter
		 * (bash, python3, ...); without one exec_run() falls back to
		 * /bin/sh on ENOEXEC, as execvp() does.
		 */
		h->argv = calloc(2, sizeof(*h->argv));
		if (!h->argv)
			return -ENOMEM;
		h->argv[0] = strdup(h->script);
		return h->argv[0] ? 0 : -ENOMEM;
	}
	pr_err("hooks: %s: unknown hook kind %d", h->name, spec->kind);
	return -EINVAL;
}

int hook_chain_create(struct hook_chain **out, const struct hook_spec *specs,
		      size_t n, const struct hook_chain_opts *opts)
{
	const char *dir = opts && opts->dir ? opts->dir : HOOK_DEFAULT_DIR;
	struct hook_chain *c;
	bool dir_ready = false;
	size_t i;
	int ret = 0;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->timeout_ms = opts && opts->timeout_ms > 0 ? opts->timeout_ms :
		HOOK_DEFAULT_TIMEOUT_MS;
	c->max_output = opts && opts->max_output ? opts->max_output :
		HOOK_MAX_OUTPUT;
	if (n) {
		c->hooks = calloc(n, sizeof(*c->hooks));
		if (!c->hooks) {
			ret = -ENOMEM;
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		/* counted as we go so that destroy frees the partial chain */
		c->n = i + 1;
		ret = hook_setup(&c->hooks[i], &specs[i], dir, &dir_ready);
		if (ret)
			goto out;
	}
	*out = c;
out:
	if (ret) {
		if (ret == -ENOMEM)
			pr_err("hooks: out of memory");
		hook_chain_destroy(c);
	}
	return ret;
}

void hook_chain_destroy(struct hook_chain *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->n; i++) {
		struct hook *h = &c->hooks[i];

		if (h->script) {
			unlink(h->script);
			free(h->script);
		}
		if (h->argv)
			hook_argv_free(h->argv);
		free(h->name);
	}
	free(c->hooks);
	free(c);
}

size_t hook_chain_len(const struct hook_chain *c)
{
	return c ? c->n : 0;
}

const char *hook_chain_name(const struct hook_chain *c, size_t i)
{
	return c && i < c->n ? c->hooks[i].name : NULL;
}

const char *hook_chain_script(const struct hook_chain *c, size_t i)
{
	return c && i < c->n ? c->hooks[i].script : NULL;
}

uint64_t hook_chain_failures(const struct hook_chain *c, size_t i,
			     enum hook_failure why)
{
	if (!c || i >= c->n || why >= HOOK_FAIL__MAX)
		return 0;
	return atomic_load_explicit(&c->hooks[i].failures[why],
				    memory_order_relaxed);
}

uint64_t hook_chain_failures_total(const struct hook_chain *c)
{
	uint64_t sum = 0;
	size_t i;
	int why;

	for (i = 0; c && i < c->n; i++)
		for (why = 0; why < HOOK_FAIL__MAX; why++)
			sum += hook_chain_failures(c, i, why);
	return sum;
}

/*
 * Parse a hook's output: exactly one JSON array of objects, nothing but
 * white space around it.  Returns the array (caller puts it) or NULL with
 * a reason in WHY.
 */
static struct json_object *parse_hook_output(const char *s, size_t len,
					     const char **why)
{
	struct json_object *arr = NULL;
	struct json_tokener *tok;
	size_t end, i, n;

	if (len > INT_MAX) {
		*why = "output too large";
		return NULL;
	}
	tok = json_tokener_new();
	if (!tok) {
		*why = "out of memory";
		return NULL;
	}
	/* strict, and valid UTF-8 only: what the log gets must be JSON */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
			       JSON_TOKENER_VALIDATE_UTF8);
	arr = json_tokener_parse_ex(tok, s, (int)len);
	if (!arr) {
		*why = json_tokener_get_error(tok) == json_tokener_continue ?
			"output is not valid JSON (truncated or empty)" :
			"output is not valid JSON";
		goto out;
	}
	for (end = json_tokener_get_parse_end(tok); end < len; end++) {
		if (!strchr(" \t\r\n", s[end])) {
			*why = "output has data after the JSON value";
			goto bad;
		}
	}
	if (!json_object_is_type(arr, json_type_array)) {
		*why = "output is not a JSON array";
		goto bad;
	}
	n = json_object_array_length(arr);
	for (i = 0; i < n; i++) {
		if (!json_object_is_type(json_object_array_get_idx(arr, i),
					 json_type_object)) {
			*why = "output array has an element that is not an object";
			goto bad;
		}
	}
	goto out;
bad:
	json_object_put(arr);
	arr = NULL;
out:
	json_tokener_free(tok);
	return arr;
}

/* First line of a child's stderr, trimmed, for the failure message. */
static void first_line(const char *s, char *buf, size_t size)
{
	size_t n = strcspn(s, "\n");

	if (n >= size)
		n = size - 1;
	memcpy(buf, s, n);
	buf[n] = '\0';
}

static void hook_failed(struct hook *h, enum hook_failure why,
			const char *detail, const char *err)
{
	char line[256];

	atomic_fetch_add_explicit(&h->failures[why], 1, memory_order_relaxed);
	first_line(err ? err : "", line, sizeof(line));
	pr_warn("hook %s failed (%s): %s; its input is passed on unmodified%s%s",
		h->name, failure_names[why], detail, *line ? "; stderr: " : "",
		line);
}

/*
 * Run one hook on IN.  On success returns its parsed array and hands its
 * stdout (the next hook's input) to *OUT; otherwise counts and reports the
 * failure and returns NULL.
 */
static struct json_object *hook_run_one(struct hook *h, int timeout_ms,
					size_t max_output, const char *in,
					size_t in_len, char **out,
					size_t *out_len)
{
	struct exec_result res;
	struct json_object *arr = NULL;
	const char *why = NULL;
	size_t max_out = max_output;
	char detail[160];
	int ret;

	/* a hook may enrich its records, within reason */
	if (in_len <= SIZE_MAX / HOOK_OUTPUT_FACTOR &&
	    in_len * HOOK_OUTPUT_FACTOR > max_out)
		max_out = in_len * HOOK_OUTPUT_FACTOR;
	ret = exec_run_bounded(h->argv, NULL, in, in_len, timeout_ms, max_out,
			       HOOK_MAX_STDERR, &res);
	if (ret == -EFBIG) {
		snprintf(detail, sizeof(detail),
			 "its %s passed %zu bytes: killed", res.too_large,
			 !strcmp(res.too_large, "stdout") ? max_out :
			 (size_t)HOOK_MAX_STDERR);
		hook_failed(h, HOOK_FAIL_TOO_LARGE, detail, res.err);
	} else if (ret == -ETIMEDOUT) {
		snprintf(detail, sizeof(detail), "killed after %d ms",
			 timeout_ms);
		hook_failed(h, HOOK_FAIL_TIMEOUT, detail, res.err);
	} else if (ret < 0) {
		snprintf(detail, sizeof(detail), "cannot run it: %s",
			 strerror(-ret));
		hook_failed(h, HOOK_FAIL_EXEC, detail, res.err);
	} else if (res.status == 127) {
		hook_failed(h, HOOK_FAIL_EXEC, "cannot execute it (exit 127)",
			    res.err);
	} else if (res.status) {
		snprintf(detail, sizeof(detail), res.status > 128 ?
			 "killed by signal %d" : "exit status %d",
			 res.status > 128 ? res.status - 128 : res.status);
		hook_failed(h, HOOK_FAIL_EXIT, detail, res.err);
	} else {
		arr = parse_hook_output(res.out, res.out_len, &why);
		if (!arr)
			hook_failed(h, HOOK_FAIL_INVALID, why, res.err);
	}
	if (arr) {
		*out = res.out;
		*out_len = res.out_len;
		res.out = NULL;
	}
	exec_result_free(&res);
	return arr;
}

/*
 * One compact object per line: what the log file gets.  With HEAD, each
 * object loses HEAD's keys and starts with HEAD's members.
 */
static int array_to_lines(struct json_object *arr,
			  const struct hook_line_head *head, char **out,
			  size_t *out_len, size_t *n_lines)
{
	size_t n = json_object_array_length(arr), i, len = 0, cap = 4096;
	size_t hl = head ? strlen(head->members) : 0;
	char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(arr, i);
		const char *s, *const *k;
		size_t sl;

		for (k = head ? head->keys : NULL; k && *k; k++)
			json_object_object_del(o, *k);
		s = json_object_to_json_string_ext(o,
			JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
		if (!s) {
			free(buf);
			return -ENOMEM;
		}
		sl = strlen(s);
		if (len + hl + sl + 3 > cap) {
			char *p;

			while (len + hl + sl + 3 > cap)
				cap *= 2;
			p = realloc(buf, cap);
			if (!p) {
				free(buf);
				return -ENOMEM;
			}
			buf = p;
		}
		if (hl) {
			/* '{' HEAD, then ',' and the members, or '}' */
			buf[len++] = '{';
			memcpy(buf + len, head->members, hl);
			len += hl;
			if (strcmp(s, "{}"))
				buf[len++] = ',';
			s++;
			sl--;
		}
		memcpy(buf + len, s, sl);
		len += sl;
		buf[len++] = '\n';
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	*n_lines = n;
	return 0;
}

int hook_chain_run(struct hook_chain *c, const char *in, size_t in_len,
		   char **out, size_t *out_len, struct hook_run_result *res)
{
	return hook_chain_run_head(c, in, in_len, NULL, out, out_len, res);
}

int hook_chain_run_head(struct hook_chain *c, const char *in, size_t in_len,
			const struct hook_line_head *head, char **out,
			size_t *out_len, struct hook_run_result *res)
{
	struct json_object *last = NULL;
	const char *cur = in;
	size_t cur_len = in_len, i;
	char *owned = NULL;		/* cur when it is a hook's output */
	int ret = 0;

	*out = NULL;
	*out_len = 0;
	memset(res, 0, sizeof(*res));
	for (i = 0; i < c->n; i++) {
		struct json_object *arr;
		char *next;
		size_t next_len;

		arr = hook_run_one(&c->hooks[i], c->timeout_ms,
				   c->max_output, cur, cur_len, &next,
				   &next_len);
		if (!arr) {
			res->n_failed++;
			continue;
		}
		json_object_put(last);
		last = arr;
		free(owned);
		owned = next;
		cur = next;
		cur_len = next_len;
	}
	if (last) {
		ret = array_to_lines(last, head, out, out_len, &res->n_lines);
		if (ret)
			pr_err("hooks: out of memory; logging the batch as it was before the hooks");
		else
			res->modified = true;
	}
	json_object_put(last);
	free(owned);
	return ret;
}

int hook_argv_split(const char *line, char ***argv)
{
	size_t n = 0, cap = 8, len = strlen(line);
	char **v = calloc(cap, sizeof(*v)), *word = NULL, *w;
	const char *p = line;
	int ret = 0;

	*argv = NULL;
	if (!v)
		return -ENOMEM;
	for (;;) {
		char quote = 0;

		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (!*p)
			break;
		word = w = malloc(len + 1);
		if (!word) {
			ret = -ENOMEM;
			goto out;
		}
		for (; *p; p++) {
			if (quote) {
				if (*p == quote) {
					quote = 0;
				} else if (quote == '"' && *p == '\\' &&
					   (p[1] == '"' || p[1] == '\\')) {
					*w++ = *++p;
				} else {
					*w++ = *p;
				}
			} else if (*p == '\'' || *p == '"') {
				quote = *p;
			} else if (*p == '\\' && p[1]) {
				*w++ = *++p;
			} else if (*p == ' ' || *p == '\t' || *p == '\n') {
				break;
			} else {
				*w++ = *p;
			}
		}
		if (quote) {
			ret = -EINVAL;
			goto out;
		}
		*w = '\0';
		if (n + 2 > cap) {
			char **nv = realloc(v, 2 * cap * sizeof(*v));

			if (!nv) {
				ret = -ENOMEM;
				goto out;
			}
			v = nv;
			cap *= 2;
		}
		v[n++] = word;
		v[n] = NULL;
		word = NULL;
	}
	if (!n)
		ret = -EINVAL;
out:
	free(word);
	if (ret) {
		hook_argv_free(v);
		return ret;
	}
	*argv = v;
	return 0;
}

void hook_argv_free(char **argv)
{
	size_t i;

	for (i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
}
