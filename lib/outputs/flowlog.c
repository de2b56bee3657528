// SPDX-License-Identifier: Apache-2.0
#include "flowlog.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "strescape.h"

/* ---- formatting: hand-written, no printf, no allocation per record ---- */

static const char digit_pairs[] =
	"0001020304050607080910111213141516171819"
	"2021222324252627282930313233343536373839"
	"4041424344454647484950515253545556575859"
	"6061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

static char *put_u64(char *p, uint64_t v)
{
	char tmp[20], *t = tmp + sizeof(tmp);
	size_t n;

	while (v >= 100) {
		unsigned int i = (unsigned int)(v % 100) * 2;

		v /= 100;
		t -= 2;
		memcpy(t, digit_pairs + i, 2);
	}
	if (v >= 10) {
		t -= 2;
		memcpy(t, digit_pairs + v * 2, 2);
	} else {
		*--t = (char)('0' + v);
	}
	n = tmp + sizeof(tmp) - t;
	memcpy(p, t, n);
	return p + n;
}

/* Append a string literal (its length known at compile time). */
#define PUT_LIT(p, lit) \
	(memcpy((p), (lit), sizeof(lit) - 1), (p) + sizeof(lit) - 1)

static char *put_hex16(char *p, unsigned int v)
{
	static const char hex[] = "0123456789abcdef";

	if (v >= 0x1000)
		*p++ = hex[v >> 12];
	if (v >= 0x100)
		*p++ = hex[(v >> 8) & 15];
	if (v >= 0x10)
		*p++ = hex[(v >> 4) & 15];
	*p++ = hex[v & 15];
	return p;
}

static char *put_ipv4(char *p, const uint8_t *a)
{
	p = put_u64(p, a[0]);
	*p++ = '.';
	p = put_u64(p, a[1]);
	*p++ = '.';
	p = put_u64(p, a[2]);
	*p++ = '.';
	return put_u64(p, a[3]);
}

/*
 * RFC 5952 text, the same as glibc's inet_ntop(): lowercase hex without
 * leading zeros, the longest run (first on a tie) of two or more zero
 * groups as "::", and the last 32 bits dotted for ::ffff:0:0/96 and the
 * old IPv4-compatible ::/96 form.
 */
static char *put_ipv6(char *p, const uint8_t *a)
{
	int best = -1, best_len = 0, run = -1, run_len = 0, i;
	unsigned int w[8];

	for (i = 0; i < 8; i++) {
		w[i] = (unsigned int)a[2 * i] << 8 | a[2 * i + 1];
		if (w[i] == 0) {
			if (run < 0) {
				run = i;
				run_len = 0;
			}
			run_len++;
			if (run_len > best_len) {
				best = run;
				best_len = run_len;
			}
		} else {
			run = -1;
		}
	}
	if (best_len < 2)
		best = -1;
	for (i = 0; i < 8; i++) {
		if (best >= 0 && i >= best && i < best + best_len) {
			if (i == best)
				*p++ = ':';
			continue;
		}
		if (i)
			*p++ = ':';
		if (i == 6 && best == 0 &&
		    (best_len == 6 || (best_len == 5 && w[5] == 0xffff)))
			return put_ipv4(p, a + 12);
		p = put_hex16(p, w[i]);
	}
	if (best >= 0 && best + best_len == 8)
		*p++ = ':';
	return p;
}

static bool is_v4_mapped(const uint8_t *a)
{
	static const uint8_t prefix[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
	};

	return memcmp(a, prefix, sizeof(prefix)) == 0;
}

static char *put_addr(char *p, const uint8_t *a, uint8_t ip_version)
{
	if (ip_version == 4 || (ip_version != 6 && is_v4_mapped(a)))
		return put_ipv4(p, a + 12);
	return put_ipv6(p, a);
}

size_t flowlog_format_addr(char *dst, const uint8_t addr[16],
			   uint8_t ip_version)
{
	char *end = put_addr(dst, addr, ip_version);

	*end = '\0';
	return end - dst;
}

/*
 * A JSON string any strict reader takes: quotes and backslash escaped,
 * control characters and DEL as \n, \t or \u00XX, valid UTF-8 as it is,
 * and each byte of invalid UTF-8 as \u00XX (the byte read as Latin-1, so
 * names that differ stay different).  At most 6 bytes out per byte in.
 */
static char *put_json_str(char *p, const char *str)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;

	*p++ = '"';
	while (*s) {
		unsigned char c = *s;
		size_t n;

		if (c == '"' || c == '\\') {
			*p++ = '\\';
			*p++ = c;
		} else if (c == '\n') {
			p = PUT_LIT(p, "\\n");
		} else if (c == '\t') {
			p = PUT_LIT(p, "\\t");
		} else if (c < 0x20 || c == 0x7f ||
			   (c >= 0x80 && !str_utf8_len(s))) {
			p = PUT_LIT(p, "\\u00");
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		} else {
			n = str_utf8_len(s);
			memcpy(p, s, n);
			p += n;
			s += n;
			continue;
		}
		s++;
	}
	*p++ = '"';
	return p;
}

/* The logger's members that open each line: "level", "ts" (TS_MS), "msg". */
static char *put_head(char *p, uint64_t ts_ms)
{
	p = PUT_LIT(p, "\"level\":\"info\",\"ts\":");
	p = put_u64(p, ts_ms);
	return PUT_LIT(p, ",\"msg\":\"flowlog\"");
}

size_t flowlog_format_head(char *dst, uint64_t ts_ms)
{
	return put_head(dst, ts_ms) - dst;
}

/* The flow's members, "src" .. "obsDomainId" (no braces). */
static char *put_flow(char *p, const struct flow_record *r)
{
	p = PUT_LIT(p, "\"src\":\"");
	p = put_addr(p, r->src_addr, r->ip_version);
	p = PUT_LIT(p, "\",\"dst\":\"");
	p = put_addr(p, r->dst_addr, r->ip_version);
	p = PUT_LIT(p, "\",\"proto\":");
	p = put_u64(p, r->proto);
	p = PUT_LIT(p, ",\"sport\":");
	p = put_u64(p, r->sport);
	p = PUT_LIT(p, ",\"dport\":");
	p = put_u64(p, r->dport);
	p = PUT_LIT(p, ",\"ingressIfindex\":");
	p = put_u64(p, r->ingress_ifindex);
	p = PUT_LIT(p, ",\"egressIfindex\":");
	p = put_u64(p, r->egress_ifindex);
	p = PUT_LIT(p, ",\"pkts\":");
	p = put_u64(p, r->packets);
	p = PUT_LIT(p, ",\"bytes\":");
	p = put_u64(p, r->octets);
	p = PUT_LIT(p, ",\"action\":");
	p = put_u64(p, r->mark);
	p = PUT_LIT(p, ",\"start\":");
	p = put_u64(p, r->start_ns / 1000000);
	p = PUT_LIT(p, ",\"end\":");
	p = put_u64(p, r->end_ns / 1000000);
	p = PUT_LIT(p, ",\"finished\":");
	*p++ = r->finished ? '1' : '0';
	p = PUT_LIT(p, ",\"netns\":");
	p = put_json_str(p, r->netns ? r->netns : "");
	if (r->direction)
		p = PUT_LIT(p, ",\"direction\":\"egress\",\"ipVersion\":");
	else
		p = PUT_LIT(p, ",\"direction\":\"ingress\",\"ipVersion\":");
	p = put_u64(p, r->ip_version);
	if (r->proto == 1 || r->proto == 58) {	/* ICMP, ICMPv6 */
		p = PUT_LIT(p, ",\"icmpType\":");
		p = put_u64(p, r->dport >> 8);
		p = PUT_LIT(p, ",\"icmpCode\":");
		p = put_u64(p, r->dport & 0xff);
	}
	p = PUT_LIT(p, ",\"tos\":");
	p = put_u64(p, r->tos);
	p = PUT_LIT(p, ",\"vlan\":");
	p = put_u64(p, r->vlan_id);
	p = PUT_LIT(p, ",\"tcpFlags\":");
	p = put_u64(p, r->tcp_flags);
	p = PUT_LIT(p, ",\"minTtl\":");
	p = put_u64(p, r->min_ttl);
	p = PUT_LIT(p, ",\"maxTtl\":");
	p = put_u64(p, r->max_ttl);
	p = PUT_LIT(p, ",\"endReason\":");
	p = put_u64(p, r->end_reason);
	p = PUT_LIT(p, ",\"obsDomainId\":");
	p = put_u64(p, r->obs_domain_id);
	if (r->latency_count) {
		/* forwarding latency (meter --latency): mean per packet */
		p = PUT_LIT(p, ",\"latencyMeanNs\":");
		p = put_u64(p, r->latency_sum_ns / r->latency_count);
		p = PUT_LIT(p, ",\"latencyPackets\":");
		p = put_u64(p, r->latency_count);
	}
	return p;
}

size_t flowlog_format_record(char *dst, const struct flow_record *r,
			     uint64_t ts_ms)
{
	char *p = dst;

	*p++ = '{';
	p = put_head(p, ts_ms);
	*p++ = ',';
	p = put_flow(p, r);
	*p++ = '}';
	return p - dst;
}

/* The object a hook gets: the flow's members without the logger's. */
static size_t format_hook_object(char *dst, const struct flow_record *r)
{
	char *p = dst;

	*p++ = '{';
	p = put_flow(p, r);
	*p++ = '}';
	return p - dst;
}

static int buf_reserve(struct flowlog_buf *b, size_t extra)
{
	size_t cap;
	char *p;

	if (b->cap - b->len >= extra)
		return 0;
	cap = b->cap ? b->cap : 4096;
	while (cap - b->len < extra)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

void flowlog_buf_free(struct flowlog_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

int flowlog_format_batch(const struct flow_record *r, size_t n,
			 enum flowlog_form form, uint64_t ts_ms,
			 struct flowlog_buf *out)
{
	bool array = form == FLOWLOG_ARRAY;
	size_t start = out->len, i;

	if (buf_reserve(out, 4))
		return -ENOMEM;
	if (array)
		out->data[out->len++] = '[';
	if (array)
		out->data[out->len++] = '\n';
	for (i = 0; i < n; i++) {
		size_t ns_len = r[i].netns ? strlen(r[i].netns) : 0;

		/* record, ",\n", and "]\n" + NUL after the last one */
		if (buf_reserve(out, FLOWLOG_RECORD_MAX(ns_len) + 5)) {
			out->len = start;
			if (out->data)
				out->data[start] = '\0';
			return -ENOMEM;
		}
		out->len += array ?
			format_hook_object(out->data + out->len, &r[i]) :
			flowlog_format_record(out->data + out->len, &r[i],
					      ts_ms);
		if (array && i + 1 < n)
			out->data[out->len++] = ',';
		out->data[out->len++] = '\n';
	}
	if (array) {
		out->data[out->len++] = ']';
		out->data[out->len++] = '\n';
	}
	out->data[out->len] = '\0';
	return 0;
}

/*
 * Length of the logger's members at the start of LINE (LEN bytes), with
 * the "{" before and the "," after them: '{"level":"info","ts":DIGITS,
 * "msg":"flowlog",'; 0 when LINE does not start so.
 */
static size_t head_len(const char *line, size_t len)
{
	static const char a[] = "{\"level\":\"info\",\"ts\":";
	static const char b[] = ",\"msg\":\"flowlog\",";
	size_t i = sizeof(a) - 1, d;

	if (len < i || memcmp(line, a, i))
		return 0;
	for (d = i; i < len && line[i] >= '0' && line[i] <= '9'; i++)
		;
	if (i == d || len - i < sizeof(b) - 1 ||
	    memcmp(line + i, b, sizeof(b) - 1))
		return 0;
	return i + sizeof(b) - 1;
}

int flowlog_lines_to_array(const char *lines, size_t len,
			   struct flowlog_buf *out)
{
	const char *p = lines, *end = lines + len;
	size_t n_lines = 0;

	for (const char *q = p; q < end && (q = memchr(q, '\n', end - q));
	     q++)
		n_lines++;
	if (buf_reserve(out, len + n_lines + 6))
		return -ENOMEM;
	out->data[out->len++] = '[';
	out->data[out->len++] = '\n';
	while (p < end) {
		const char *nl = memchr(p, '\n', end - p);
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
		size_t skip = head_len(p, l);

		if (skip) {
			/* "{" stays, the logger's members and their "," go */
			out->data[out->len++] = '{';
			p += skip;
			l -= skip;
		}
		memcpy(out->data + out->len, p, l);
		out->len += l;
		p += l + 1;
		if (p < end)
			out->data[out->len++] = ',';
		out->data[out->len++] = '\n';
	}
	out->data[out->len++] = ']';
	out->data[out->len++] = '\n';
	out->data[out->len] = '\0';
	return 0;
}

/* ---- the output: file or stdout, optional hooks, optional worker ---- */

struct batch {
	struct batch *next;
	char *text;			/* FLOWLOG_LINES */
	size_t len;
	size_t n;
};

struct flowlog {
	char *name;
	char *path;
	bool is_stream;			/* stdout or stderr: not ours */
	bool async;
	size_t queue_max;
	struct hook_chain *hooks;

	/* the fd, swapped by reopen while the worker may be writing */
	pthread_mutex_t fd_lock;
	int fd;
	bool write_failing;		/* in a burst of write errors */
	bool need_newline;		/* a partial line could not be cut */
	uint64_t burst_errors;

	/* sync mode: one reusable buffer (caller's thread only) */
	struct flowlog_buf scratch;

	/* async mode */
	pthread_mutex_t q_lock;
	pthread_cond_t q_wake;		/* work queued or stop */
	pthread_cond_t q_idle;		/* a batch finished */
	struct batch *head, *tail;
	bool busy, stop, worker_started;
	bool dropping;			/* in a burst of queue overflows */
	uint64_t burst_dropped;
	pthread_t worker;

	_Atomic uint64_t batches, records_in, records_dropped;
	_Atomic uint64_t lines_written, lines_lost, write_errors;
	_Atomic uint64_t queued_bytes;
};

#define STAT_ADD(fl, field, v) \
	atomic_fetch_add_explicit(&(fl)->field, (v), memory_order_relaxed)
#define STAT_GET(fl, field) \
	atomic_load_explicit(&(fl)->field, memory_order_relaxed)

static bool uid_trusted(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

/* The real path of FD for messages ("?" when /proc is not there). */
static const char *fd_path(int fd, char *buf, size_t size)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, size - 1);
	if (n < 0)
		return "?";
	buf[n] = '\0';
	return buf;
}

/*
 * A directory we look a name up in must not let anyone but root and us
 * swap that name for a symlink: owned by root or by us, and not
 * world-writable unless sticky (/tmp is fine).  Group-writable is allowed
 * (Debian's /var/log is root:syslog 0775): that group is trusted.
 */
static int check_dir(const struct flowlog *fl, int dirfd)
{
	char buf[PATH_MAX];
	const char *why = NULL;
	struct stat st;

	if (fstat(dirfd, &st))
		return -errno;
	if (!uid_trusted(st.st_uid))
		why = "is owned by another user";
	else if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX))
		why = "is world-writable without the sticky bit";
	if (!why)
		return 0;
	pr_err("flowlog %s: refusing %s: its directory %s %s (uid %u, mode %04o): anyone who can write there could redirect the log; use a directory owned by root",
	       fl->name, fl->path, fd_path(dirfd, buf, sizeof(buf)), why,
	       (unsigned int)st.st_uid, (unsigned int)(st.st_mode & 07777));
	return -EINVAL;
}

/* The memory devices /dev/null, /dev/zero and /dev/full. */
static bool is_null_device(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && major(st->st_rdev) == 1 &&
		(minor(st->st_rdev) == 3 || minor(st->st_rdev) == 5 ||
		 minor(st->st_rdev) == 7);
}

/* Why the opened log FD is not safe to append to as root, or NULL. */
static const char *file_unsafe(const struct stat *st, char *buf,
			       size_t size)
{
	if (is_null_device(st))
		return NULL;
	if (!S_ISREG(st->st_mode))
		return "is not a regular file (a FIFO, socket, device or directory)";
	if (st->st_uid != geteuid()) {
		snprintf(buf, size, "is owned by uid %u, not by the agent (uid %u)",
			 (unsigned int)st->st_uid, (unsigned int)geteuid());
		return buf;
	}
	if (st->st_nlink != 1) {
		snprintf(buf, size, "has %lu hard links (a log file has one)",
			 (unsigned long)st->st_nlink);
		return buf;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return "is group- or world-writable (chmod go-w it)";
	return NULL;
}

/*
 * Walk the directory part of fl->path from / (or the working directory)
 * one name at a time without following symlinks blindly: a missing
 * directory is created 0750; a symlink is followed only when root or we
 * own it; every directory looked in must pass check_dir().  *DIRFD gets
 * the parent (O_PATH), *LAST points at the file name in *WORK (free it).
 */
#define LOG_MAX_SYMLINKS 40

static int open_parent(const struct flowlog *fl, int *dirfd, char **work,
		       const char **last)
{
	int dfd, fd = -1, links = 0, ret = 0;
	char *w = strdup(fl->path), *p = NULL, *slash;
	struct stat st;

	*dirfd = -1;
	*work = NULL;
	if (!w)
		return -ENOMEM;
	dfd = open(*w == '/' ? "/" : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		ret = -errno;
		goto out;
	}
	for (p = w;;) {
		char target[PATH_MAX], *next;
		ssize_t n;

		while (*p == '/')
			p++;
		slash = strchr(p, '/');
		if (!slash)
			break;
		*slash = '\0';
		if (!strcmp(p, ".")) {
			p = slash + 1;
			continue;
		}
		ret = check_dir(fl, dfd);
		if (ret)
			goto out;
		fd = openat(dfd, p, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT) {
			if (mkdirat(dfd, p, 0750) && errno != EEXIST) {
				ret = -errno;
				goto out;
			}
			fd = openat(dfd, p, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		}
		if (fd < 0 || fstat(fd, &st)) {
			ret = -errno;
			goto out;
		}
		if (S_ISDIR(st.st_mode)) {
			close(dfd);
			dfd = fd;
			fd = -1;
			p = slash + 1;
			continue;
		}
		if (!S_ISLNK(st.st_mode)) {
			ret = -ENOTDIR;
			goto out;
		}
		if (!uid_trusted(st.st_uid)) {
			pr_err("flowlog %s: refusing %s: \"%s\" in it is a symbolic link owned by uid %u: give the real path",
			       fl->name, fl->path, p, (unsigned int)st.st_uid);
			ret = -EINVAL;
			goto out;
		}
		n = readlinkat(fd, "", target, sizeof(target) - 1);
		if (n < 0 || ++links > LOG_MAX_SYMLINKS) {
			ret = n < 0 ? -errno : -ELOOP;
			goto out;
		}
		target[n] = '\0';
		close(fd);
		fd = -1;
		/* go on with TARGET/REST */
		if (asprintf(&next, "%s/%s", target, slash + 1) < 0) {
			ret = -ENOMEM;
			goto out;
		}
		free(w);
		w = p = next;
		if (*target == '/') {
			close(dfd);
			dfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (dfd < 0) {
				ret = -errno;
				goto out;
			}
		}
	}
	ret = check_dir(fl, dfd);
out:
	if (fd >= 0)
		close(fd);
	if (ret) {
		if (dfd >= 0)
			close(dfd);
		free(w);
		return ret;
	}
	*dirfd = dfd;
	*work = w;
	*last = p;
	return 0;
}

/*
 * Open the log for appending as a root daemon safely: never through a
 * symlink (O_NOFOLLOW), never blocking (O_NONBLOCK: a FIFO without a
 * reader fails at once with ENXIO instead of hanging the agent), and only
 * a regular file of ours with one link and no group/world write (or one
 * of the null devices).  An unsafe path is -EINVAL, the reason printed.
 */
static int open_output(const struct flowlog *fl, int *fd)
{
	char *work = NULL, buf[128];
	const char *last, *why = NULL;
	struct stat st;
	int dirfd, ret;

	*fd = -1;
	ret = open_parent(fl, &dirfd, &work, &last);
	if (ret) {
		if (ret != -EINVAL)
			pr_err("flowlog %s: cannot open the directory of %s: %s",
			       fl->name, fl->path, strerror(-ret));
		return ret;
	}
	*fd = openat(dirfd, last, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
		     O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0640);
	if (*fd < 0) {
		ret = -errno;
		if (ret == -ELOOP)
			why = "is a symbolic link (a log is never opened through one: give the real path)";
		else if (ret == -ENXIO)
			why = "is not a regular file (a FIFO or socket without a reader, or a missing device)";
	} else if (fstat(*fd, &st)) {
		ret = -errno;
	} else {
		why = file_unsafe(&st, buf, sizeof(buf));
	}
	if (why) {
		pr_err("flowlog %s: refusing %s: it %s", fl->name, fl->path,
		       why);
		ret = -EINVAL;
	} else if (ret) {
		pr_err("flowlog %s: cannot open %s: %s", fl->name, fl->path,
		       strerror(-ret));
	} else if (fcntl(*fd, F_SETFL, fcntl(*fd, F_GETFL) & ~O_NONBLOCK)) {
		/* writes block as usual (a full disk is an error anyway) */
		ret = -errno;
		pr_err("flowlog %s: cannot set up %s: %s", fl->name, fl->path,
		       strerror(-ret));
	}
	if (ret && *fd >= 0) {
		close(*fd);
		*fd = -1;
	}
	close(dirfd);
	free(work);
	return ret;
}

static size_t count_lines(const char *p, size_t len)
{
	const char *end = p + len;
	size_t n = 0;

	while (p < end && (p = memchr(p, '\n', end - p))) {
		n++;
		p++;
	}
	return n;
}

/* write(2) all of it; 0 or -errno with *DONE bytes written. */
static int write_all(int fd, const char *p, size_t len, size_t *done)
{
	sigset_t sigpipe_set, old_mask, pending;
	bool was_pending;
	int ret = 0;

	/* a closed stdout pipe must not kill the agent: see exec.c */
	sigemptyset(&sigpipe_set);
	sigaddset(&sigpipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &sigpipe_set, &old_mask);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	*done = 0;
	while (*done < len) {
		ssize_t w = write(fd, p + *done, len - *done);

		if (w >= 0) {
			*done += w;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN) {
			/* someone handed us a non-blocking stdout */
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };

			if (poll(&pfd, 1, 5000) > 0)
				continue;
			errno = EAGAIN;
		}
		ret = -errno;
		break;
	}
	sigpending(&pending);
	if (!was_pending && sigismember(&pending, SIGPIPE)) {
		struct timespec zero = { 0 };

		sigtimedwait(&sigpipe_set, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	return ret;
}

/*
 * After a failed write left DONE of LEN bytes of TEXT at the end of the
 * file (it had SIZE bytes before): cut the partial last line so that every
 * line in the log is whole.  Returns the bytes kept (whole lines).  When
 * the cut cannot be made (not a regular file, someone else changed the
 * file, ftruncate failed), the next write starts with a newline: a broken
 * line stays alone and the next record is never glued onto it.
 */
static size_t cut_partial_line(struct flowlog *fl, const char *text,
			       size_t done, off_t size)
{
	const char *nl = done ? memrchr(text, '\n', done) : NULL;
	size_t keep = nl ? (size_t)(nl - text) + 1 : 0;
	struct stat st;

	if (done == keep)
		return keep;
	if (size >= 0 && !fstat(fl->fd, &st) &&
	    st.st_size == size + (off_t)done &&
	    !ftruncate(fl->fd, size + (off_t)keep))
		return keep;
	fl->need_newline = true;
	return keep;
}

static void write_lines(struct flowlog *fl, const char *text, size_t len,
			size_t n_lines)
{
	size_t done = 0, lost, keep;
	off_t size = -1;
	struct stat st;
	int ret;

	if (!len)
		return;
	pthread_mutex_lock(&fl->fd_lock);
	/* single writer: the file ends here unless our write fails */
	if (!fl->is_stream && !fstat(fl->fd, &st) && S_ISREG(st.st_mode))
		size = st.st_size;
	ret = 0;
	if (fl->need_newline) {
		ret = write_all(fl->fd, "\n", 1, &done);
		if (!ret) {
			fl->need_newline = false;
			if (size >= 0)
				size++;
		}
		done = 0;
	}
	if (!ret)
		ret = write_all(fl->fd, text, len, &done);
	if (ret) {
		keep = cut_partial_line(fl, text, done, size);
		lost = count_lines(text + keep, len - keep);
		STAT_ADD(fl, write_errors, 1);
		STAT_ADD(fl, lines_lost, lost);
		STAT_ADD(fl, lines_written, n_lines - lost);
		fl->burst_errors++;
		if (!fl->write_failing)
			pr_err("flowlog %s: write failed: %s; %zu lines lost (counted; further write errors are not reported until a write succeeds)",
			       fl->name, strerror(-ret), lost);
		fl->write_failing = true;
	} else {
		STAT_ADD(fl, lines_written, n_lines);
		if (fl->write_failing)
			pr_warn("flowlog %s: writing again after %llu failed writes",
				fl->name,
				(unsigned long long)fl->burst_errors);
		fl->write_failing = false;
		fl->burst_errors = 0;
	}
	pthread_mutex_unlock(&fl->fd_lock);
}

/* Hooks (if any), then the write.  Caller's thread (sync) or worker. */
static void process_batch(struct flowlog *fl, const char *lines, size_t len,
			  size_t n, struct flowlog_buf *scratch)
{
	static const char *const logger_keys[] = { "level", "ts", "msg", NULL };
	char members[FLOWLOG_HEAD_MAX];
	struct hook_line_head head = { members, logger_keys };
	struct hook_run_result res;
	char *out = NULL;
	size_t out_len;

	if (hook_chain_len(fl->hooks) && n) {
		/* the log line gets them back after the hooks, whatever
		 * the hooks returned; "ts": when it is written */
		members[flowlog_format_head(members, clock_real_ms())] = '\0';
		scratch->len = 0;
		if (flowlog_lines_to_array(lines, len, scratch)) {
			pr_err("flowlog %s: out of memory; batch logged without hooks",
			       fl->name);
		} else if (!hook_chain_run_head(fl->hooks, scratch->data,
						scratch->len, &head, &out,
						&out_len, &res) &&
			   res.modified) {
			write_lines(fl, out, out_len, res.n_lines);
			free(out);
			return;
		}
	}
	write_lines(fl, lines, len, n);
}

static void *flowlog_worker(void *arg)
{
	struct flowlog *fl = arg;
	struct flowlog_buf scratch = { 0 };
	struct batch *b;

	pthread_mutex_lock(&fl->q_lock);
	for (;;) {
		struct batch *list;
		size_t len = 0, n = 0;
		char *text;

		while (!fl->head && !fl->stop)
			pthread_cond_wait(&fl->q_wake, &fl->q_lock);
		list = fl->head;
		if (!list)
			break;		/* stopping and nothing left */
		/*
		 * Take everything queued: when the hooks or the output fell
		 * behind, the backlog goes through the hooks as one batch, so
		 * a slow hook costs one run per wake-up, not one per drain.
		 */
		fl->head = fl->tail = NULL;
		fl->busy = true;
		pthread_mutex_unlock(&fl->q_lock);

		for (b = list; b; b = b->next) {
			len += b->len;
			n += b->n;
		}
		text = list->next ? malloc(len + 1) : NULL;
		if (text) {
			size_t off = 0;

			for (b = list; b; b = b->next) {
				memcpy(text + off, b->text, b->len);
				off += b->len;
			}
			text[len] = '\0';
			process_batch(fl, text, len, n, &scratch);
			free(text);
		} else {
			/* one batch, or no memory to join them */
			for (b = list; b; b = b->next)
				process_batch(fl, b->text, b->len, b->n,
					      &scratch);
		}

		pthread_mutex_lock(&fl->q_lock);
		atomic_fetch_sub_explicit(&fl->queued_bytes, len,
					  memory_order_relaxed);
		fl->busy = false;
		pthread_cond_broadcast(&fl->q_idle);
		while (list) {
			b = list->next;
			free(list->text);
			free(list);
			list = b;
		}
	}
	pthread_mutex_unlock(&fl->q_lock);
	flowlog_buf_free(&scratch);
	return NULL;
}

static int start_worker(struct flowlog *fl)
{
	sigset_t all, old;
	int ret;

	/* signals belong to the agent's main thread (signalfd) */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = -pthread_create(&fl->worker, NULL, flowlog_worker, fl);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		pr_err("flowlog %s: cannot start the writer thread: %s",
		       fl->name, strerror(-ret));
		return ret;
	}
	fl->worker_started = true;
	return 0;
}

/*
 * The standard stream PATH names ("-" or "stdout", "stderr": the names the
 * original's logger knew), or -1 for a file.  Streams are the caller's:
 * not opened, checked, reopened or closed here.
 */
static int stream_fd(const char *path)
{
	if (!strcmp(path, "-") || !strcmp(path, "stdout"))
		return STDOUT_FILENO;
	if (!strcmp(path, "stderr"))
		return STDERR_FILENO;
	return -1;
}

bool flowlog_writes_stdout(const struct flowlog *fl)
{
	return fl->is_stream && fl->fd == STDOUT_FILENO;
}

int flowlog_open(struct flowlog **out, const struct flowlog_config *cfg)
{
	struct hook_chain_opts hopts = {
		.timeout_ms = cfg->hook_timeout_ms,
		.dir = cfg->hook_dir,
	};
	struct flowlog *fl;
	int ret = 0;

	*out = NULL;
	if (!cfg->path || !*cfg->path) {
		pr_err("flowlog: no file given (a path, or \"-\" for stdout)");
		return -EINVAL;
	}
	fl = calloc(1, sizeof(*fl));
	if (!fl)
		return -ENOMEM;
	fl->fd = -1;
	pthread_mutex_init(&fl->fd_lock, NULL);
	pthread_mutex_init(&fl->q_lock, NULL);
	pthread_cond_init(&fl->q_wake, NULL);
	pthread_cond_init(&fl->q_idle, NULL);
	fl->path = strdup(cfg->path);
	fl->name = strdup(cfg->name ? cfg->name : cfg->path);
	if (!fl->path || !fl->name) {
		ret = -ENOMEM;
		goto out;
	}
	fl->async = cfg->async;
	fl->queue_max = cfg->queue_max_bytes ? cfg->queue_max_bytes :
		FLOWLOG_DEFAULT_QUEUE_MAX;
	fl->fd = stream_fd(cfg->path);
	fl->is_stream = fl->fd >= 0;
	if (!fl->is_stream) {
		ret = open_output(fl, &fl->fd);
		if (ret)
			goto out;
	}
	if (cfg->n_hooks) {
		ret = hook_chain_create(&fl->hooks, cfg->hooks, cfg->n_hooks,
					&hopts);
		if (ret)
			goto out;
	}
	if (fl->async)
		ret = start_worker(fl);
out:
	if (ret) {
		if (ret == -ENOMEM)
			pr_err("flowlog: out of memory");
		flowlog_close(fl);
		return ret;
	}
	*out = fl;
	return 0;
}

static int submit_async(struct flowlog *fl, char *text, size_t len,
			size_t n)
{
	struct batch *b = malloc(sizeof(*b));
	uint64_t dropped = 0;
	bool overflow, resumed = false;

	if (!b) {
		free(text);
		STAT_ADD(fl, records_dropped, n);
		pr_err("flowlog %s: out of memory: %zu records dropped (counted)",
		       fl->name, n);
		return -ENOMEM;
	}
	*b = (struct batch){ .text = text, .len = len, .n = n };
	pthread_mutex_lock(&fl->q_lock);
	/* always take a batch when idle, however large: it cannot wait */
	overflow = (fl->head || fl->busy) &&
		STAT_GET(fl, queued_bytes) + len > fl->queue_max;
	if (overflow) {
		fl->burst_dropped += n;
		if (!fl->dropping)
			dropped = n;
		fl->dropping = true;
	} else {
		if (fl->dropping) {
			resumed = true;
			dropped = fl->burst_dropped;
		}
		fl->dropping = false;
		fl->burst_dropped = 0;
		if (fl->tail)
			fl->tail->next = b;
		else
			fl->head = b;
		fl->tail = b;
		STAT_ADD(fl, queued_bytes, len);
		pthread_cond_signal(&fl->q_wake);
	}
	pthread_mutex_unlock(&fl->q_lock);

	if (resumed)
		pr_warn("flowlog %s: queue accepting again after dropping %llu records",
			fl->name, (unsigned long long)dropped);
	if (!overflow)
		return 0;
	STAT_ADD(fl, records_dropped, n);
	if (dropped)
		pr_err("flowlog %s: queue full (%zu bytes: hooks or output too slow): dropping batches (counted; reported again when it recovers)",
		       fl->name, fl->queue_max);
	free(b->text);
	free(b);
	return -ENOBUFS;
}

int flowlog_submit(struct flowlog *fl, const struct flow_record *r,
		   size_t n)
{
	struct flowlog_buf text = { 0 };
	uint64_t ts = clock_real_ms();
	int ret;

	if (!n)
		return 0;
	STAT_ADD(fl, batches, 1);
	STAT_ADD(fl, records_in, n);
	if (!fl->async) {
		fl->scratch.len = 0;
		ret = flowlog_format_batch(r, n, FLOWLOG_LINES, ts,
					   &fl->scratch);
		if (!ret) {
			struct flowlog_buf hook_in = { 0 };

			process_batch(fl, fl->scratch.data, fl->scratch.len, n,
				      &hook_in);
			flowlog_buf_free(&hook_in);
			return 0;
		}
	} else {
		ret = flowlog_format_batch(r, n, FLOWLOG_LINES, ts, &text);
		if (!ret)
			return submit_async(fl, text.data, text.len, n);
	}
	flowlog_buf_free(&text);
	STAT_ADD(fl, records_dropped, n);
	pr_err("flowlog %s: out of memory: %zu records dropped (counted)",
	       fl->name, n);
	return ret;
}

int flowlog_reopen(struct flowlog *fl)
{
	struct stat st;
	int fd, old, ret;

	if (fl->is_stream)
		return 0;
	ret = open_output(fl, &fd);
	if (ret)
		return ret;	/* keep writing to the old file */
	pthread_mutex_lock(&fl->fd_lock);
	old = fl->fd;
	fl->fd = fd;
	/* a partial line to close off is only in a file that has data */
	if (fl->need_newline && !fstat(fd, &st) && st.st_size == 0)
		fl->need_newline = false;
	pthread_mutex_unlock(&fl->fd_lock);
	close(old);
	pr_debug("flowlog %s: reopened %s", fl->name, fl->path);
	return 0;
}

void flowlog_flush(struct flowlog *fl)
{
	if (!fl->worker_started)
		return;
	pthread_mutex_lock(&fl->q_lock);
	while (fl->head || fl->busy)
		pthread_cond_wait(&fl->q_idle, &fl->q_lock);
	pthread_mutex_unlock(&fl->q_lock);
}

void flowlog_close(struct flowlog *fl)
{
	if (!fl)
		return;
	if (fl->worker_started) {
		/* the worker writes what is queued, then exits */
		pthread_mutex_lock(&fl->q_lock);
		fl->stop = true;
		pthread_cond_signal(&fl->q_wake);
		pthread_mutex_unlock(&fl->q_lock);
		pthread_join(fl->worker, NULL);
	}
	if (fl->fd >= 0 && !fl->is_stream)
		close(fl->fd);
	hook_chain_destroy(fl->hooks);
	flowlog_buf_free(&fl->scratch);
	pthread_cond_destroy(&fl->q_idle);
	pthread_cond_destroy(&fl->q_wake);
	pthread_mutex_destroy(&fl->q_lock);
	pthread_mutex_destroy(&fl->fd_lock);
	free(fl->name);
	free(fl->path);
	free(fl);
}

void flowlog_get_stats(const struct flowlog *fl, struct flowlog_stats *st)
{
	/* the counters are atomics: reading them never waits for the worker */
	struct flowlog *m = (struct flowlog *)fl;

	st->batches = STAT_GET(m, batches);
	st->records_in = STAT_GET(m, records_in);
	st->records_dropped = STAT_GET(m, records_dropped);
	st->lines_written = STAT_GET(m, lines_written);
	st->lines_lost = STAT_GET(m, lines_lost);
	st->write_errors = STAT_GET(m, write_errors);
	st->queued_bytes = STAT_GET(m, queued_bytes);
	st->hook_failures = hook_chain_failures_total(fl->hooks);
}

const char *flowlog_name(const struct flowlog *fl)
{
	return fl->name;
}

const struct hook_chain *flowlog_hooks(const struct flowlog *fl)
{
	return fl->hooks;
}
