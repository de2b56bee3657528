/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON flow log: one JSON object per line per flow, in the original's shape
 *
 *   {"level":"info","ts":<unix ms>,"msg":"flowlog","src":"10.1.0.2",
 *    "dst":"10.2.0.2","proto":17,"sport":1234,"dport":53,
 *    "ingressIfindex":2,"egressIfindex":3,"pkts":10,"bytes":840,
 *    "action":<mark>,"start":<unix ms>,"end":<unix ms>,"finished":0|1,
 *    "netns":"ns0","direction":"ingress"|"egress","ipVersion":4|6,
 *    ["icmpType":8,"icmpCode":0,]  (ICMP and ICMPv6 only)
 *    "tos":0,"vlan":0,"tcpFlags":0,"minTtl":64,"maxTtl":64,
 *    "endReason":<IPFIX flowEndReason>,"obsDomainId":0}
 *
 * written by a hand-made formatter (no allocation per flow, no printf), to a
 * file opened O_APPEND or to stdout, optionally through hooks (hooks.h).
 *
 * Threading: in async mode (recommended for the agent) flowlog_submit()
 * only formats the batch (~100-200 ns per flow) and queues the text; a
 * worker thread runs the hooks and writes.  The queue is bounded
 * (queue_max_bytes): a batch that does not fit is dropped and counted in
 * records_dropped, never lost silently.  In sync mode flowlog_submit() runs
 * the hooks and the write itself (and blocks up to hook_timeout_ms per
 * hook).  Write errors are counted and reported once per burst, never fatal.
 * A write is all-or-nothing per line: after a short write (disk full) the
 * partial last line is cut off again with ftruncate (one writer), and the
 * lines not written are counted in lines_lost; when the cut is impossible,
 * the next write starts with a newline so that lines are never glued.
 *
 * Writing to a closed stdout pipe raises SIGPIPE: the agent should ignore
 * SIGPIPE (as every daemon with sockets does); flowlog blocks it around its
 * own writes anyway.
 */
#ifndef FLOWCTL_FLOWLOG_H
#define FLOWCTL_FLOWLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow_record.h"
#include "hooks.h"

#define FLOWLOG_DEFAULT_QUEUE_MAX	(256u << 20)	/* bytes */

/* A growable byte buffer (data is NUL-terminated when len > 0). */
struct flowlog_buf {
	char *data;
	size_t len;
	size_t cap;
};

void flowlog_buf_free(struct flowlog_buf *b);

enum flowlog_form {
	FLOWLOG_LINES,		/* "{...}\n{...}\n": the log file */
	FLOWLOG_ARRAY,		/* "[\n{...},\n{...}\n]\n": hook input: the
				 * flows without the logger's "level",
				 * "ts" and "msg" */
};

/* Bytes flowlog_format_head() may write. */
#define FLOWLOG_HEAD_MAX	64

/* The logger's members that open each line, without braces or comma:
 * "level":"info","ts":TS_MS,"msg":"flowlog".  Returns the length. */
size_t flowlog_format_head(char *dst, uint64_t ts_ms);

/* Bytes flowlog_format_record() may write for a NETNS_LEN-byte netns. */
#define FLOWLOG_RECORD_MAX(netns_len)	(832 + 6 * (size_t)(netns_len))

/*
 * One record as a JSON object (no newline, no NUL) into DST, which has room
 * for FLOWLOG_RECORD_MAX(strlen(r->netns)) bytes.  TS_MS: the "ts" field
 * (unix ms: when the line is logged).  Returns the length.
 */
size_t flowlog_format_record(char *dst, const struct flow_record *r,
			     uint64_t ts_ms);

/* Append N records to OUT in FORM (an empty batch gives "[\n]\n" or "").
 * Returns 0 or -ENOMEM (OUT keeps what it had). */
int flowlog_format_batch(const struct flow_record *r, size_t n,
			 enum flowlog_form form, uint64_t ts_ms,
			 struct flowlog_buf *out);

/* Append the FLOWLOG_LINES text LINES as FLOWLOG_ARRAY to OUT (the
 * logger's members at the start of a line are left out). */
int flowlog_lines_to_array(const char *lines, size_t len,
			   struct flowlog_buf *out);

/* Text form of an address as the log writes it (dotted IPv4 when the
 * address is IPv4-mapped and IP_VERSION is not 6; RFC 5952 otherwise,
 * as inet_ntop).  DST: at least 46 bytes.  Returns the length. */
size_t flowlog_format_addr(char *dst, const uint8_t addr[16],
			   uint8_t ip_version);

struct flowlog_config {
	const char *name;		/* messages/metrics; NULL: path */
	const char *path;		/* file (appended); "-" or "stdout",
					 * "stderr": that stream */
	const struct hook_spec *hooks;	/* applied in order; may be NULL */
	size_t n_hooks;
	int hook_timeout_ms;		/* 0: HOOK_DEFAULT_TIMEOUT_MS */
	const char *hook_dir;		/* NULL: HOOK_DEFAULT_DIR */
	bool async;			/* worker thread + bounded queue */
	size_t queue_max_bytes;		/* 0: FLOWLOG_DEFAULT_QUEUE_MAX */
};

struct flowlog_stats {
	uint64_t batches;		/* flowlog_submit() calls with n > 0 */
	uint64_t records_in;		/* records submitted */
	uint64_t records_dropped;	/* refused: queue full (async) */
	uint64_t lines_written;		/* lines written (after hooks) */
	uint64_t lines_lost;		/* lines a failed write lost (metric
					 * records_dropped reason write_error) */
	uint64_t write_errors;		/* failed write(2) calls */
	uint64_t hook_failures;		/* all hooks, all reasons */
	uint64_t queued_bytes;		/* now waiting for the worker */
};

struct flowlog;

/*
 * Open the output (O_APPEND | O_CREAT, mode 0640; missing parent
 * directories created 0750), set up the hooks, start the worker (async).
 * The agent runs as root, so the path is opened safely: never through a
 * symlink in its last name (O_NOFOLLOW) nor through one in a directory
 * name unless root or we own it; never blocking (O_NONBLOCK: a FIFO is
 * refused at once, not waited on); the file must be a regular file owned
 * by our euid with one link and no group/world write bit (or one of the
 * null devices /dev/null, /dev/zero, /dev/full); every directory looked
 * in must be owned by root or us and not world-writable unless sticky.
 * Errors are printed; returns 0 or -errno (-EINVAL: bad config or an
 * unsafe path, the reason printed).
 */
int flowlog_open(struct flowlog **out, const struct flowlog_config *cfg);

/*
 * Log N records (the "ts" is now).  Async: format and queue, returns at
 * once; -ENOBUFS when the queue was full (batch dropped and counted).
 * Sync: hooks and write done on return.  Returns 0 or -errno; never fatal
 * for the caller, every loss is in the stats.
 */
int flowlog_submit(struct flowlog *fl, const struct flow_record *r,
		   size_t n);

/*
 * Open the path again (SIGHUP after logrotate moved the file): later
 * writes go to the new file.  On failure the old file is kept and -errno
 * returned.  No-op for stdout.
 */
int flowlog_reopen(struct flowlog *fl);

/* Async: wait until every queued batch has been written.  Sync: no-op. */
void flowlog_flush(struct flowlog *fl);

/* Flush, stop the worker, remove hook scripts, close.  NULL is fine. */
void flowlog_close(struct flowlog *fl);

void flowlog_get_stats(const struct flowlog *fl, struct flowlog_stats *st);
const char *flowlog_name(const struct flowlog *fl);
/* Whether FL writes to standard output (path "-" or "stdout"). */
bool flowlog_writes_stdout(const struct flowlog *fl);
/* The output's hooks (per-hook failure counters), NULL when none. */
const struct hook_chain *flowlog_hooks(const struct flowlog *fl);

#endif
