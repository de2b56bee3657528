// SPDX-License-Identifier: Apache-2.0
/*
 * Render the BPF template with its knobs into one self-contained C source,
 * name it by a digest of everything that decides the object (source, clang
 * flags, clang version) and compile it once per digest into a cache
 * directory.  Every interface, and every later run, reuses the object.
 */
#include "ebpf_build.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "embedded.h"
#include "error.h"
#include "exec.h"
#include "flow_abi.h"
#include "log.h"
#include "meter.h"
#include "rundir.h"
#include "sha256.h"

#define EBPF_TEMPLATE		"templates/ebpflow.bpf.c"
#define EBPF_HDR_DIR		"ebpflow/"
#define EBPF_MAX_HEADERS	32	/* distinct headers inlined */
#define EBPF_MAX_INCLUDE_DEPTH	8
#define EBPF_CLANG		"clang"
#define EBPF_CLANG_TIMEOUT_MS	120000
#define EBPF_PROBE_TIMEOUT_MS	10000

/* The flags of every compile; the digest covers them. */
static const char *const clang_flags[] = {
	"-target", "bpf", "-O2", "-g", "-mcpu=v3",
	"-Wall", "-Wextra", "-Werror",
};
#define N_CLANG_FLAGS (sizeof(clang_flags) / sizeof(clang_flags[0]))

/*
 * Variables that would change what clang (or gcc, for the multiarch probe)
 * compiles, or where it writes, without changing the digest: removed from
 * their environment, so an object cached under a digest is what that
 * digest says whatever the caller's environment held.
 */
static char *const compiler_env[] = {
	"CPATH", "C_INCLUDE_PATH", "CPLUS_INCLUDE_PATH", "OBJC_INCLUDE_PATH",
	"OBJCPLUS_INCLUDE_PATH", "CCC_OVERRIDE_OPTIONS", "COMPILER_PATH",
	"GCC_EXEC_PREFIX", "LIBRARY_PATH", "DEPENDENCIES_OUTPUT",
	"SUNPRO_DEPENDENCIES", "SOURCE_DATE_EPOCH", NULL,
};

/* Probed once per process: "clang --version" first line, -I<multiarch>. */
static char *clang_version_line;
static char *multiarch_include;

void ebpf_knobs_default(struct ebpf_knobs *k)
{
	memset(k, 0, sizeof(*k));
	k->max_flows = FLOW_DEFAULT_MAX_FLOWS;
	/*
	 * The defaults keep the meter within its budget (docs/datapath.md):
	 * per-interface totals come from the drained flows, and only the
	 * last-seen time of a flow uses the per-tick clock.
	 */
	k->ifstats = false;
	k->coarse_time = true;
}

/* A growing string; the first allocation failure sticks in ERR. */
struct text {
	char *p;
	size_t len, cap;
	int err;
};

static void text_add(struct text *t, const char *s, size_t n)
{
	if (t->err)
		return;
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 16384;
		char *p;

		while (cap < t->len + n + 1)
			cap *= 2;
		p = realloc(t->p, cap);
		if (!p) {
			t->err = -ENOMEM;
			return;
		}
		t->p = p;
		t->cap = cap;
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

__attribute__((format(printf, 2, 3)))
static void text_printf(struct text *t, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		t->err = t->err ? t->err : -EOVERFLOW;
		return;
	}
	text_add(t, buf, n);
}

struct render_state {
	struct text out;
	char inlined[EBPF_MAX_HEADERS][160];
	int n_inlined;
};

/*
 * If LINE (N bytes, no NUL) is `#include "NAME"`, copy NAME and return 1.
 * System includes (<...>) and everything else return 0.
 */
static int parse_quoted_include(const char *line, size_t n, char *name,
				size_t name_size)
{
	const char *p = line, *end = line + n, *q;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p == end || *p++ != '#')
		return 0;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if ((size_t)(end - p) < 7 || memcmp(p, "include", 7))
		return 0;
	p += 7;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p == end || *p++ != '"')
		return 0;
	q = memchr(p, '"', end - p);
	if (!q || (size_t)(q - p) + 1 > name_size)
		return 0;
	memcpy(name, p, q - p);
	name[q - p] = '\0';
	return 1;
}

static bool render_seen(const struct render_state *st, const char *path)
{
	int i;

	for (i = 0; i < st->n_inlined; i++)
		if (!strcmp(st->inlined[i], path))
			return true;
	return false;
}

/*
 * Copy DATA (the file PATH) into the output, replacing each include of an
 * ebpflow/ header by the header itself (recursively, once per header).
 * #line directives keep clang's messages pointing at the original files.
 */
static int render_file(struct render_state *st, const char *path,
		       const char *data, size_t len, int depth)
{
	const char *line = data, *end = data + len;
	unsigned int lineno = 1;
	int err;

	if (depth > EBPF_MAX_INCLUDE_DEPTH) {
		pr_err("%s: includes nested deeper than %d", path,
		       EBPF_MAX_INCLUDE_DEPTH);
		return -ELOOP;
	}
	for (; line < end; lineno++) {
		const char *nl = memchr(line, '\n', end - line);
		size_t n = nl ? (size_t)(nl - line + 1) : (size_t)(end - line);
		char name[128], hpath[sizeof(st->inlined[0])];
		const char *hdr;
		size_t hlen;

		if (!parse_quoted_include(line, n, name, sizeof(name))) {
			text_add(&st->out, line, n);
			if (!nl)
				text_add(&st->out, "\n", 1);
			line += n;
			continue;
		}
		line += n;
		snprintf(hpath, sizeof(hpath), "%s%s", EBPF_HDR_DIR, name);
		hdr = strchr(name, '/') ? NULL : embedded_file(hpath, &hlen);
		if (!hdr) {
			pr_err("%s:%u: #include \"%s\" is not a header of %s",
			       path, lineno, name, EBPF_HDR_DIR);
			return -EINVAL;
		}
		if (render_seen(st, hpath)) {
			/* one line for one line: numbering stays right */
			text_printf(&st->out, "/* %s: inlined above */\n",
				    hpath);
			continue;
		}
		if (st->n_inlined == EBPF_MAX_HEADERS) {
			pr_err("%s: more than %d headers included", path,
			       EBPF_MAX_HEADERS);
			return -E2BIG;
		}
		memcpy(st->inlined[st->n_inlined++], hpath, sizeof(hpath));
		text_printf(&st->out, "/* ---- inlined %s ---- */\n", hpath);
		text_printf(&st->out, "#line 1 \"%s\"\n", hpath);
		err = render_file(st, hpath, hdr, hlen, depth + 1);
		if (err)
			return err;
		text_printf(&st->out, "/* ---- end of %s ---- */\n", hpath);
		text_printf(&st->out, "#line %u \"%s\"\n", lineno + 1, path);
	}
	return st->out.err;
}

/*
 * FLOWCTL_EBPF_TEMPLATE=FILE renders FILE instead of the built-in template:
 * for work on the meter without rebuilding flowctl, and for tests that need
 * a template that fails on purpose.  Its "..." includes still come from
 * the built-in ebpflow/ headers.
 *
 * What FILE says is compiled and loaded into the kernel by root, so it must
 * be a regular file (not a device that never ends, a FIFO that blocks, a
 * directory that reads as empty) that only its owner may write, and at most
 * EBPF_TEMPLATE_MAX bytes.  Symlinks are followed: the caller named the
 * path, and the checks apply to the file that is opened and read (fstat of
 * the same descriptor), so they cannot be raced.
 */
#define EBPF_TEMPLATE_ENV	"FLOWCTL_EBPF_TEMPLATE"
#define EBPF_TEMPLATE_MAX	(1U << 20)

static bool has_ctrl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* Returns 0, -FLOWCTL_EREQUEST (FILE cannot be a template) or -ENOMEM. */
static int read_template(const char *path, char **data, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	size_t n = 0;
	int fd, err = 0;

	*data = NULL;
	*len = 0;
	/* O_NONBLOCK: opening a FIFO must not wait for a writer */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		pr_err("%s=%s: %s", EBPF_TEMPLATE_ENV, path, strerror(errno));
		return -FLOWCTL_EREQUEST;
	}
	if (fstat(fd, &st)) {
		pr_err("%s=%s: %s", EBPF_TEMPLATE_ENV, path, strerror(errno));
		err = -FLOWCTL_EREQUEST;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		pr_err("%s=%s: not a regular file; name a C source file",
		       EBPF_TEMPLATE_ENV, path);
		err = -FLOWCTL_EREQUEST;
		goto out;
	}
	if (st.st_mode & 022) {
		pr_err("%s=%s: writable by group or others (mode %04o): whoever can write it chooses the code loaded into the kernel; chmod go-w it",
		       EBPF_TEMPLATE_ENV, path,
		       (unsigned int)(st.st_mode & 07777));
		err = -FLOWCTL_EREQUEST;
		goto out;
	}
	buf = malloc(EBPF_TEMPLATE_MAX + 1);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	/* st_size may lie (procfs) or change: the read itself is bounded */
	for (;;) {
		ssize_t r = read(fd, buf + n, EBPF_TEMPLATE_MAX + 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			pr_err("%s=%s: %s", EBPF_TEMPLATE_ENV, path,
			       strerror(errno));
			err = -FLOWCTL_EREQUEST;
			goto out;
		}
		if (r == 0)
			break;
		n += r;
		if (n > EBPF_TEMPLATE_MAX) {
			pr_err("%s=%s: larger than %u bytes: not a BPF template",
			       EBPF_TEMPLATE_ENV, path, EBPF_TEMPLATE_MAX);
			err = -FLOWCTL_EREQUEST;
			goto out;
		}
	}
	buf[n] = '\0';
	*data = buf;
	*len = n;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return err;
}

int ebpf_render(const struct ebpf_knobs *k, char **src, size_t *len)
{
	struct render_state st = { 0 };
	const char *tmpl, *tname = EBPF_TEMPLATE;
	const char *override = getenv(EBPF_TEMPLATE_ENV);
	char *own = NULL;
	size_t tlen;
	int err;

	*src = NULL;
	*len = 0;
	if (k->max_flows < 1 || k->max_flows > EBPF_MAX_FLOWS_LIMIT) {
		pr_err("max flows %u out of range 1..%u", k->max_flows,
		       EBPF_MAX_FLOWS_LIMIT);
		return -EINVAL;
	}
	if (override && *override) {
		/* the path is written into a comment and a #line directive */
		if (strpbrk(override, "\"\\") || strstr(override, "*/") ||
		    has_ctrl(override)) {
			pr_err("%s: the path may not contain quotes, backslashes, \"*/\" or control characters",
			       EBPF_TEMPLATE_ENV);
			return -FLOWCTL_EREQUEST;
		}
		err = read_template(override, &own, &tlen);
		if (err)
			return err;
		tmpl = own;
		tname = override;
	} else {
		tmpl = embedded_file(EBPF_TEMPLATE, &tlen);
	}
	if (!tmpl) {
		pr_err("%s is not built into this flowctl", EBPF_TEMPLATE);
		return -ENOENT;
	}

	text_printf(&st.out,
		    "/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */\n"
		    "/*\n"
		    " * Rendered by flowctl from %s and the ebpflow/ headers it\n"
		    " * includes: this is exactly the source that is compiled.\n"
		    " * Knobs:\n"
		    " *   FLOWCTL_MAX_FLOWS    %u (flows per buffer, flows_0 and flows_1)\n"
		    " *   FLOWCTL_IFSTATS      %d (per-interface totals in flow_ifstats)\n"
		    " *   FLOWCTL_COARSE_TIME  %d (1: last seen from the per-tick clock)\n"
		    " *   FLOWCTL_LATENCY      %d (forwarding latency, ingress stamp)\n"
		    " *   FLOWCTL_NO_PREALLOC  %d (1: flow maps allocated per flow)\n"
		    " */\n",
		    tname, k->max_flows, k->ifstats ? 1 : 0,
		    k->coarse_time ? 1 : 0, k->latency ? 1 : 0,
		    k->no_prealloc ? 1 : 0);
	text_printf(&st.out, "#define FLOWCTL_MAX_FLOWS %u\n", k->max_flows);
	text_printf(&st.out, "#define FLOWCTL_IFSTATS %d\n", k->ifstats ? 1 : 0);
	text_printf(&st.out, "#define FLOWCTL_COARSE_TIME %d\n",
		    k->coarse_time ? 1 : 0);
	text_printf(&st.out, "#define FLOWCTL_LATENCY %d\n", k->latency ? 1 : 0);
	text_printf(&st.out, "#define FLOWCTL_NO_PREALLOC %d\n",
		    k->no_prealloc ? 1 : 0);
	text_printf(&st.out, "#line 1 \"%s\"\n", tname);
	err = render_file(&st, tname, tmpl, tlen, 0);
	free(own);
	if (err) {
		free(st.out.p);
		return err;
	}
	*src = st.out.p;
	*len = st.out.len;
	return 0;
}

/* Run ARGV and return its first line of stdout (malloc'ed), or NULL. */
static char *probe_first_line(char *const argv[])
{
	struct exec_result res;
	char *line = NULL;
	int err;

	err = exec_run(argv, compiler_env, NULL, 0, EBPF_PROBE_TIMEOUT_MS,
		       &res);
	if (!err && res.status == 0 && res.out && res.out[0] &&
	    res.out[0] != '\n')
		line = strndup(res.out, strcspn(res.out, "\n"));
	exec_result_free(&res);
	return line;
}

/* clang's version and the multiarch include dir (asm/types.h), once. */
static int toolchain_probe(void)
{
	char *version_argv[] = { EBPF_CLANG, "--version", NULL };
	char *gcc_argv[] = { "gcc", "-print-multiarch", NULL };
	char *clang_argv[] = { EBPF_CLANG, "-print-multiarch", NULL };
	char *ma;

	if (!clang_version_line) {
		clang_version_line = probe_first_line(version_argv);
		if (!clang_version_line) {
			pr_err("cannot run '%s --version': the BPF object is compiled at run time; install clang (scripts/deps.sh)",
			       EBPF_CLANG);
			return -ENOENT;
		}
	}
	if (!multiarch_include) {
		ma = probe_first_line(gcc_argv);
		if (!ma)
			ma = probe_first_line(clang_argv);
		if (!ma) {
			pr_err("cannot tell the multiarch include directory ('gcc -print-multiarch' and 'clang -print-multiarch' failed)");
			return -ENOENT;
		}
		if (asprintf(&multiarch_include, "-I/usr/include/%s", ma) < 0)
			multiarch_include = NULL;
		free(ma);
		if (!multiarch_include)
			return -ENOMEM;
	}
	return 0;
}

int ebpf_digest(const char *src, size_t len, char digest[EBPF_DIGEST_LEN + 1])
{
	uint8_t d[SHA256_DIGEST_SIZE];
	struct sha256_ctx ctx;
	size_t i;
	int err;

	err = toolchain_probe();
	if (err)
		return err;
	sha256_init(&ctx);
	sha256_update(&ctx, src, len);
	/* NUL separators: no two different inputs concatenate alike */
	sha256_update(&ctx, "", 1);
	for (i = 0; i < N_CLANG_FLAGS; i++) {
		sha256_update(&ctx, clang_flags[i], strlen(clang_flags[i]));
		sha256_update(&ctx, " ", 1);
	}
	sha256_update(&ctx, multiarch_include, strlen(multiarch_include));
	sha256_update(&ctx, "", 1);
	sha256_update(&ctx, clang_version_line, strlen(clang_version_line));
	sha256_final(&ctx, d);
	sha256_to_hex(d, digest);
	return 0;
}

/*
 * A cached object is used only if it is a regular non-empty ELF file that
 * we own and nobody else may write (the directory check makes that so for
 * what flowctl creates; a file copied in by hand with a loose mode is
 * rebuilt rather than trusted).
 */
static bool object_usable(const char *path)
{
	unsigned char magic[4];
	struct stat st;
	bool ok = false;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return false;
	if (!fstat(fd, &st) && S_ISREG(st.st_mode) && st.st_size > 4 &&
	    st.st_uid == geteuid() && !(st.st_mode & 022) &&
	    read(fd, magic, 4) == 4 && !memcmp(magic, "\177ELF", 4))
		ok = true;
	close(fd);
	if (!ok && !access(path, F_OK))
		pr_info("%s is not a usable cached object (owner, mode or content): rebuilding it",
			path);
	return ok;
}

/*
 * Create a new empty file PATH.XXXXXX (mkstemp) in TMP (SIZE bytes), to be
 * renamed over PATH.  Its fd, or -errno (printed).
 */
static int tmp_beside(const char *path, char *tmp, size_t size)
{
	int fd;

	if (snprintf(tmp, size, "%s.XXXXXX", path) >= (int)size)
		return -ENAMETOOLONG;
	fd = mkstemp(tmp);
	if (fd < 0) {
		fd = -errno;
		pr_err("cannot create %s: %s", tmp, strerror(errno));
	}
	return fd;
}

/* Write DATA to PATH through a temporary file and rename(). */
static int write_file_atomic(const char *path, const char *data, size_t len)
{
	char tmp[4200];
	size_t off = 0;
	int fd, err = 0;

	fd = tmp_beside(path, tmp, sizeof(tmp));
	if (fd < 0)
		return fd;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			err = -errno;
			pr_err("cannot write %s: %s", tmp, strerror(errno));
			goto out;
		}
		off += w;
	}
	if (fsync(fd)) {
		err = -errno;
		pr_err("cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (rename(tmp, path)) {
		err = -errno;
		pr_err("cannot rename %s to %s: %s", tmp, path, strerror(errno));
	}
out:
	close(fd);
	if (err)
		unlink(tmp);
	return err;
}

static int clang_compile(const char *src_path, const char *obj_path)
{
	char *argv[N_CLANG_FLAGS + 7];
	struct exec_result res = { 0 };
	char tmp[4200], *cmd = NULL;
	size_t i, n = 0;
	int fd, err;

	fd = tmp_beside(obj_path, tmp, sizeof(tmp));
	if (fd < 0)
		return fd;
	close(fd);

	argv[n++] = EBPF_CLANG;
	for (i = 0; i < N_CLANG_FLAGS; i++)
		argv[n++] = (char *)clang_flags[i];
	argv[n++] = multiarch_include;
	argv[n++] = "-c";
	argv[n++] = (char *)src_path;
	argv[n++] = "-o";
	argv[n++] = tmp;
	argv[n] = NULL;

	pr_debug("compiling %s with %s", src_path, clang_version_line);
	err = exec_run(argv, compiler_env, NULL, 0, EBPF_CLANG_TIMEOUT_MS,
		       &res);
	if (err || res.status != 0) {
		cmd = exec_argv_str(argv);
		pr_err("compiling the BPF object failed (%s): %s\n%scommand: %s\nclang: %s",
		       err ? strerror(-err) : "clang exited with an error",
		       src_path, res.err ? res.err : "",
		       cmd ? cmd : EBPF_CLANG, clang_version_line);
		err = -EINVAL;
		goto out;
	}
	/* clang may have replaced the file: its mode follows our umask,
	 * which could be 0; object_usable() wants 0600
	 */
	fd = open(tmp, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fchmod(fd, 0600)) {
		err = -errno;
		pr_err("cannot open %s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		goto out;
	}
	fsync(fd);
	close(fd);
	if (rename(tmp, obj_path)) {
		err = -errno;
		pr_err("cannot rename %s to %s: %s", tmp, obj_path,
		       strerror(errno));
	}
out:
	if (err)
		unlink(tmp);
	free(cmd);
	exec_result_free(&res);
	return err;
}

int ebpf_compile_source(const char *src, size_t len, const char *cache_dir,
			char *obj, size_t obj_size,
			char digest[EBPF_DIGEST_LEN + 1])
{
	char dg[EBPF_DIGEST_LEN + 1], src_path[4096], obj_path[4096];
	int err;

	err = ebpf_digest(src, len, dg);
	if (err)
		return err;
	/* known even when the compile fails: it names the source file */
	if (digest)
		memcpy(digest, dg, sizeof(dg));
	err = private_dir_ensure(cache_dir, "the BPF object cache");
	if (err)
		return err;
	if (snprintf(src_path, sizeof(src_path), "%s/%s.bpf.c", cache_dir,
		     dg) >= (int)sizeof(src_path) ||
	    snprintf(obj_path, sizeof(obj_path), "%s/%s.bpf.o", cache_dir,
		     dg) >= (int)sizeof(obj_path) ||
	    strlen(obj_path) >= obj_size) {
		pr_err("cache directory path too long: %s", cache_dir);
		return -ENAMETOOLONG;
	}
	if (object_usable(obj_path)) {
		pr_debug("BPF object %s is cached", obj_path);
	} else {
		err = write_file_atomic(src_path, src, len);
		if (err)
			return err;
		err = clang_compile(src_path, obj_path);
		if (err)
			return err;
	}
	memcpy(obj, obj_path, strlen(obj_path) + 1);
	return 0;
}

int ebpf_build(const struct ebpf_knobs *k, const char *cache_dir,
	       char *obj, size_t obj_size,
	       char digest[EBPF_DIGEST_LEN + 1])
{
	size_t len;
	char *src;
	int err;

	err = ebpf_render(k, &src, &len);
	if (err)
		return err;
	err = ebpf_compile_source(src, len, cache_dir, obj, obj_size, digest);
	free(src);
	return err;
}
