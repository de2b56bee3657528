// SPDX-License-Identifier: Apache-2.0
/*
 * bench_export: the agent's whole export path, from the kernel map to IPFIX
 * datagrams on the wire, next to the kernel's own batch-drain rate on the
 * same map in the same run.
 *
 *   bare      bpf_map_lookup_and_delete_batch in a loop, nothing else
 *   export    flow_table_drain (flip, grace period, batch drain) -> flow
 *             cache -> expiry (forced end) -> IPFIX encoder -> sendmmsg()
 *             on a UDP socket to a local sink (127.0.0.1), one message per
 *             datagram, 1400 bytes at most: one scan, all in one thread;
 *             again with udpSegmentation: true (runs of messages of one
 *             length as one UDP_SEGMENT send: the same datagrams)
 *   2 scans   what the agent does: the exporter behind its worker thread
 *             (ipfix_async), so that the datagrams of the first scan leave
 *             while the second scan drains; timed until the last datagram
 *             of the second scan is sent
 *
 * Also: CPU time of the export path per million flows (user + system, all
 * threads) and the JSON log formatting of the same records.
 *
 * Then, on every core: N flows in one namespace and spread over eight,
 * one scan as the agent runs it (drain -> cache -> expiry -> the
 * exporter's thread: encoding and sendmmsg) with one drain thread and
 * with one per CPU, against the bare batch drain of the same maps in one
 * thread; the scaling factor between the two.  Needs root.
 * Usage: bench_export [--scale] [FLOWS...]  (default: 100000 1000000;
 * --scale: only the runs on every core)
 */
#include <netinet/in.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "bench_maps.h"
#include "clock.h"
#include "config.h"
#include "flow_cache.h"
#include "flow_journal.h"
#include "flow_maps.h"
#include "flowlog.h"
#include "ipfix_async.h"
#include "ipfix_export.h"
#include "log.h"
#include "obs_domain.h"

#define REPEAT 3

struct sink {
	int fd;
	uint16_t port;
};

/* A UDP socket that receives nothing: datagrams are sent, then dropped. */
static int sink_open(struct sink *s)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(s->fd, (struct sockaddr *)&a, &len))
		return -errno;
	setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &one, sizeof(one));
	s->port = ntohs(a.sin_port);
	return 0;
}

struct export_ctx {
	struct ipfix_exporter *ex;
	uint64_t records;
	struct flowlog_buf log;	/* the JSON log's formatting, if on */
	bool log_on;
	struct flow_journal *j;	/* the agent's crash journal, if on */
	struct flow_cache *fc;
};

static void export_forget(void *ctx, const uint32_t *idx, size_t n)
{
	struct export_ctx *x = ctx;

	flow_journal_forget(x->j, idx, n);
}

static void export_emit(void *ctx, const struct flow_record *r, size_t n)
{
	struct export_ctx *x = ctx;

	ipfix_exporter_export(x->ex, r, n);
	if (x->log_on) {
		x->log.len = 0;
		flowlog_format_batch(r, n, FLOWLOG_LINES, 0, &x->log);
	}
	x->records += n;
}

/* As the agent with its journal: the buffers read are written to it, then
 * emptied (flow_drain_ops.persist). */
static long persist_written;

static void export_persist(void *ctx, const uint32_t *ids, size_t n)
{
	struct export_ctx *x = ctx;

	persist_written += flow_journal_sync(x->j, x->fc);
	flow_journal_pending(x->j, ids, n);
}

static void export_cleared(void *ctx)
{
	flow_journal_pending_clear(((struct export_ctx *)ctx)->j);
}

static void export_flows(void *ctx, const struct flow_ns *ns,
			 const struct flow_key *k, const struct flow_value *v,
			 size_t n)
{
	flow_cache_drain_ops.flows(((struct export_ctx *)ctx)->fc, ns, k, v, n);
}

static void export_begin(void *ctx, const struct flow_clock *clk)
{
	flow_cache_drain_ops.begin(((struct export_ctx *)ctx)->fc, clk);
}

static const struct flow_drain_ops journal_drain_ops = {
	.begin = export_begin,
	.flows = export_flows,
	.persist = export_persist,
	.cleared = export_cleared,
};

static uint32_t bench_domain(void *ctx, const char *netns)
{
	(void)ctx;
	return obs_domain_default(netns);
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

struct result {
	double rate;		/* flows per second */
	double cpu;		/* CPU seconds per million flows */
	uint64_t journal_ns;	/* in flow_journal_sync */
	uint64_t grow_ns;	/* making room for the flows, first time */
	uint64_t messages;
	/* one scan's two phases: the drain (flip, grace period, batch
	 * drain, merge into the cache), then expiry, encoding, sending */
	uint64_t drain_ns, flush_ns;
};

/* FLOWS exported in NS ns of wall time and CPU_S of CPU, MESSAGES sent. */
static void result_set(struct result *res, double flows, uint64_t ns,
		       double cpu_s, uint64_t messages)
{
	res->rate = flows / secs(ns);
	res->cpu = cpu_s / (flows / 1e6);
	res->messages = messages;
}

/*
 * Drain N flows of flows_0 and export them; rate and CPU.  With the crash
 * journal J, as the agent does it and at its worst: the buffer read
 * without deleting, every flow written to the journal (as if it stayed in
 * the cache), the buffer emptied, every flow deleted from the journal
 * before its export.
 */
static int export_once(struct flow_table *ft, const struct flowctl_config *cfg,
		       uint32_t n, bool log_on, bool j, struct result *res)
{
	struct export_ctx x = { .log_on = log_on };
	uint64_t replayed;
	struct ipfix_collector_stats st;
	struct flow_cache_params cp;
	struct flow_cache *fc = NULL;
	double c0, c1;
	uint64_t t0, td, t1;
	int err;

	err = config_exporter_create(cfg, &x.ex);
	if (err)
		return err;
	flow_cache_params_init(&cp);
	cp.emit = export_emit;
	cp.emit_ctx = &x;
	cp.expected_flows = n;
	if (j)
		cp.journal_forget = export_forget;
	err = flow_cache_new(&cp, &fc);
	if (err)
		goto out;
	x.fc = fc;
	if (j) {
		/* a fresh journal per run, sized for the first chunk */
		err = flow_journal_open(root, fc, bench_domain, NULL, 0,
					&replayed, &x.j);
		/* the agent's steady state: the slots exist (timed apart) */
		if (!err) {
			uint64_t g0 = clock_mono_ns();

			err = flow_journal_reserve(x.j, n);
			res->grow_ns = clock_mono_ns() - g0;
		}
		if (err)
			goto out;
	}
	c0 = cpu_s();
	t0 = clock_mono_ns();
	persist_written = 0;
	if (j)
		err = flow_table_drain(ft, &journal_drain_ops, &x, NULL);
	else
		err = flow_table_drain(ft, &flow_cache_drain_ops, fc, NULL);
	if (!err && j && persist_written != n) {
		fprintf(stderr, "bench_export: journal: not every flow written\n");
		err = -EIO;
	}
	td = clock_mono_ns();
	if (!err)
		flow_cache_flush(fc, td);
	t1 = clock_mono_ns();
	/* the journal's buffers are emptied beside the export (a thread of
	 * the table): its CPU counts, its time overlaps, as in the agent */
	if (j && flow_table_settle(ft))
		err = -EIO;
	c1 = cpu_s();
	if (err)
		goto out;
	ipfix_exporter_stats(x.ex, 0, &st);
	if (x.records != n || st.records != n || st.records_not_sent) {
		fprintf(stderr, "bench_export: %llu of %u records, %llu sent, %llu not sent\n",
			(unsigned long long)x.records, n,
			(unsigned long long)st.records,
			(unsigned long long)st.records_not_sent);
		err = -EIO;
		goto out;
	}
	result_set(res, n, t1 - t0, c1 - c0, st.messages);
	res->drain_ns = td - t0;
	res->flush_ns = t1 - td;
out:
	if (x.j) {
		struct flow_journal_stats js;

		flow_journal_get_stats(x.j, &js);
		res->journal_ns = js.sync_ns;
		flow_journal_remove(x.j);
	}
	flow_cache_free(fc);
	ipfix_exporter_destroy(x.ex);
	flowlog_buf_free(&x.log);
	return err;
}

struct async_ctx {
	struct ipfix_async *a;
	uint64_t records;
};

static void async_emit(void *ctx, const struct flow_record *r, size_t n)
{
	struct async_ctx *x = ctx;

	ipfix_async_export(x->a, r, n);
	x->records += n;
}

/*
 * The agent's exporter behind its thread (a queue of QUEUE records) and a
 * cache for N flows emitting into it.  On error nothing is left to free
 * but *FCP (NULL) and X->a (flow_cache_free and ipfix_async_destroy take
 * NULL).
 */
static int async_setup(const struct flowctl_config *cfg, size_t queue,
		       uint64_t n, struct async_ctx *x, struct flow_cache **fcp)
{
	struct ipfix_exporter *ex;
	struct flow_cache_params cp;
	int err;

	*fcp = NULL;
	err = config_exporter_create(cfg, &ex);
	if (err)
		return err;
	err = ipfix_async_create(ex, queue, &x->a);
	if (err) {
		ipfix_exporter_destroy(ex);
		return err;
	}
	flow_cache_params_init(&cp);
	cp.emit = async_emit;
	cp.emit_ctx = x;
	cp.expected_flows = n;
	err = flow_cache_new(&cp, fcp);
	if (err) {
		ipfix_async_destroy(x->a, 1000);
		x->a = NULL;
	}
	return err;
}

/*
 * Two scans as the agent runs them: both buffers hold N flows each (the
 * second N distinct from the first); drain, expire, hand over; drain,
 * expire, hand over; wait for the last datagram.  *DRAINS counts the flips.
 */
static int export_two_scans(struct flow_table *ft,
			    const struct flowctl_config *cfg, struct maps *m,
			    uint32_t n, unsigned int *drains, struct result *res)
{
	struct ipfix_collector_stats st;
	struct async_ctx x = { 0 };
	struct flow_cache *fc = NULL;
	double c0, c1;
	uint64_t t0, t1;
	int err, scan;

	err = async_setup(cfg, 4 * (size_t)n, n, &x, &fc);
	if (err)
		return err;
	/* the buffer drained first gets keys[0, n), the other keys[n, 2n) */
	err = fill_from(m->fd[*drains & 1], 0, n);
	err = err ?: fill_from(m->fd[(*drains + 1) & 1], n, n);
	if (err)
		goto out;
	c0 = cpu_s();
	t0 = clock_mono_ns();
	for (scan = 0; scan < 2 && !err; scan++) {
		err = flow_table_drain(ft, &flow_cache_drain_ops, fc, NULL);
		(*drains)++;
		if (!err)
			flow_cache_flush(fc, clock_mono_ns());
	}
	if (!err)
		ipfix_async_wait(x.a);	/* every datagram handed to the kernel */
	t1 = clock_mono_ns();
	c1 = cpu_s();
	if (err)
		goto out;
	ipfix_async_stats(x.a, 0, &st);
	if (x.records != 2ULL * n || st.records != 2ULL * n ||
	    st.records_not_sent || ipfix_async_dropped(x.a)) {
		fprintf(stderr, "bench_export: 2 scans: %llu of %u records, %llu sent, %llu not sent, %llu dropped\n",
			(unsigned long long)x.records, 2 * n,
			(unsigned long long)st.records,
			(unsigned long long)st.records_not_sent,
			(unsigned long long)ipfix_async_dropped(x.a));
		err = -EIO;
		goto out;
	}
	result_set(res, 2.0 * n, t1 - t0, c1 - c0, st.messages);
out:
	flow_cache_free(fc);
	ipfix_async_destroy(x.a, 1000);
	return err;
}

/* Fill the buffer the next drain takes, export it once, keep the best. */
static int fill_and_export(struct flow_table *ft,
			   const struct flowctl_config *cfg,
			   const struct maps *m, uint32_t n,
			   unsigned int *drains, bool log_on, bool j,
			   struct result *best)
{
	struct result r;
	int err;

	err = fill(m->fd[(*drains)++ & 1], n);
	if (!err)
		err = export_once(ft, cfg, n, log_on, j, &r);
	if (!err && r.rate > best->rate)
		*best = r;
	return err;
}

static int run(uint32_t n, const struct flowctl_config *cfg,
	       const struct flowctl_config *cfg_gso)
{
	struct flow_table_opts to = { .pin_root = root };
	struct result best = { 0 }, best_log = { 0 }, best2 = { 0 }, r;
	struct result best_j = { 0 }, best_gso = { 0 };
	struct flow_table *ft = NULL;
	double bare = 0, b;
	unsigned int drains = 0;
	struct maps m;
	int err, rep;

	err = make_maps(n + n / 8, &m);
	if (err)
		goto out;
	make_keys(2 * n);
	err = flow_table_open(&to, &ft);
	if (err)
		goto out;
	for (rep = 0; rep < REPEAT; rep++) {
		/* the kernel's ceiling, on the same map */
		err = fill(m.fd[0], n);
		if (err)
			goto out;
		b = bare_drain(m.fd[0], n);
		bare = b > bare ? b : bare;

		/*
		 * Each drain flips the buffers and takes the one the meter
		 * filled until then: flows_0 at the 1st, 3rd, ... drain.
		 */
		err = fill_and_export(ft, cfg, &m, n, &drains, false, false,
				      &best);
		err = err ?: fill_and_export(ft, cfg_gso, &m, n, &drains,
					     false, false, &best_gso);
		err = err ?: fill_and_export(ft, cfg, &m, n, &drains, false,
					     true, &best_j);
		err = err ?: fill_and_export(ft, cfg, &m, n, &drains, true,
					     false, &best_log);
		if (err)
			goto out;
		err = export_two_scans(ft, cfg, &m, n, &drains, &r);
		if (err)
			goto out;
		if (r.rate > best2.rate)
			best2 = r;
	}
	printf("%u flows, best of %d:\n", n, REPEAT);
	printf("  %-50s %6.2f M flows/s  1.00 (kernel ceiling)\n",
	       "bare lookup_and_delete_batch", bare / 1e6);
	printf("  %-50s %6.2f M flows/s  %.2f  (target >= 0.70)  %.2f CPU s per M flows, %llu datagrams\n",
	       "map -> cache -> IPFIX -> UDP datagrams", best.rate / 1e6,
	       best.rate / bare, best.cpu, (unsigned long long)best.messages);
	printf("  %-50s drain %.0f ns per flow (rate %.2f of the bare drain), then expiry + IPFIX + send %.0f ns per flow\n",
	       "  of which, in that run:", (double)best.drain_ns / n,
	       1e9 / bare / ((double)best.drain_ns / n),
	       (double)best.flush_ns / n);
	printf("  %-50s %6.2f M flows/s  %.2f  %.2f CPU s per M flows, then expiry + IPFIX + send %.0f ns per flow: %.2fx faster than one send per datagram\n",
	       "same, udpSegmentation: true", best_gso.rate / 1e6,
	       best_gso.rate / bare, best_gso.cpu,
	       (double)best_gso.flush_ns / n,
	       (double)best.flush_ns / (double)best_gso.flush_ns);
	printf("  %-50s %6.2f M flows/s  %.2f  %.2f CPU s per M flows\n",
	       "same, plus JSON log formatting", best_log.rate / 1e6,
	       best_log.rate / bare, best_log.cpu);
	printf("  %-50s %6.2f M flows/s  %.2f  %.2f CPU s per M flows, %.0f %% of the rate without it (target >= 80 %%), sync %.0f ns per flow\n",
	       "same, crash journal: each flow written + freed",
	       best_j.rate / 1e6, best_j.rate / bare, best_j.cpu,
	       100 * best_j.rate / best.rate,
	       (double)best_j.journal_ns / n);
	printf("  %-50s %.0f ns per flow (once per slot, when the journal grows)\n",
	       "crash journal growth (allocate, copy, first touch)",
	       (double)best_j.grow_ns / n);
	printf("  %-50s %6.2f M flows/s  %.2f  (target >= 0.70)  %.2f CPU s per M flows\n",
	       "2 scans as the agent runs them (send overlaps drain)",
	       best2.rate / 1e6, best2.rate / bare, best2.cpu);
out:
	flow_table_close(ft);
	drop_maps(&m);
	if (err)
		fprintf(stderr, "bench_export: %s\n", strerror(-err));
	return err ? 1 : 0;
}

/* ---- drain and export on every core ----------------------------------- */

#define SCALE_NS_MAX	8

struct scale {
	char root[300];
	struct maps m[SCALE_NS_MAX];
	unsigned int nns;
	uint32_t per_ns;		/* flows in each namespace */
};

static void scale_teardown(struct scale *s)
{
	unsigned int i, j;

	for (i = 0; i < s->nns; i++)
		for (j = 0; j < FM_NR; j++)
			if (s->m[i].fd[j] >= 0)
				close(s->m[i].fd[j]);
	remove_tree(s->root);
}

/* NNS namespaces under a pin root of their own, N flows spread over them. */
static int scale_setup(struct scale *s, uint32_t n, unsigned int nns)
{
	char name[16];
	unsigned int i;
	int err = 0;

	memset(s, 0, sizeof(*s));
	snprintf(s->root, sizeof(s->root), "%s-scale", root);
	mkdir(s->root, 0700);
	s->per_ns = n / nns;
	for (i = 0; i < nns && !err; i++) {
		memset(s->m[i].fd, -1, sizeof(s->m[i].fd));
		snprintf(name, sizeof(name), "s%u", i);
		s->nns++;
		err = make_ns_maps(s->root, name, s->per_ns + s->per_ns / 8,
				   &s->m[i]);
	}
	return err;
}

/* The buffer the next drain takes (DRAINS: drains so far), every ns. */
static int scale_fill(struct scale *s, unsigned int drains)
{
	unsigned int i;
	int err = 0;

	/* each namespace its own slice of the keys: all flows distinct */
	for (i = 0; i < s->nns && !err; i++)
		err = fill_from(s->m[i].fd[drains & 1], i * s->per_ns,
				s->per_ns);
	return err;
}

/* The kernel's ceiling, one thread: every namespace's map in turn. */
static double scale_bare(struct scale *s)
{
	uint64_t t0 = clock_mono_ns();
	unsigned int i;

	for (i = 0; i < s->nns; i++)
		bare_drain(s->m[i].fd[0], s->per_ns);
	return (double)s->per_ns * s->nns / secs(clock_mono_ns() - t0);
}

/*
 * One way of running the export, kept for every round at one size: its
 * table (drain threads), its exporter thread and its flow cache.  The cache
 * and the exporter live as long as in the agent: the first round grows the
 * cache (its entries' pages touched once), the next ones reuse it, as the
 * agent does from its second scan on.  ONE_CPU: the table and the
 * exporter were made, and each round runs, with the calling thread bound
 * to the first CPU allowed, so that every thread of the export (drain,
 * merge worker, IPFIX thread) and its kernel work share one core.
 */
struct scale_way {
	const char *what;
	unsigned int workers;
	bool one_cpu;
	bool gso;			/* udpSegmentation: true */
	struct flow_table *ft;
	struct async_ctx x;
	struct flow_cache *fc;
	uint64_t records_sent;		/* by the exporter, before this round */
	uint64_t messages_sent;
	struct result best;
	uint64_t wait_ns;		/* in the best round: the exporter's tail */
};

static cpu_set_t cpus_all;

/* Bind the calling thread to one CPU (ON), or back to every CPU allowed. */
static int bind_one_cpu(bool on)
{
	cpu_set_t one;
	int c;

	if (!on)
		return sched_setaffinity(0, sizeof(cpus_all), &cpus_all) ?
		       -errno : 0;
	CPU_ZERO(&one);
	for (c = 0; c < CPU_SETSIZE && !CPU_ISSET(c, &cpus_all); c++)
		;
	CPU_SET(c, &one);
	return sched_setaffinity(0, sizeof(one), &one) ? -errno : 0;
}

static int scale_way_open(struct scale_way *w, const char *pin_root,
			  const struct flowctl_config *cfg, uint64_t n)
{
	struct flow_table_opts to = { .pin_root = pin_root,
				      .workers = w->workers };
	int err;

	if (w->one_cpu) {
		err = bind_one_cpu(true);
		if (err)
			return err;
	}
	err = flow_table_open(&to, &w->ft);
	if (!err)
		err = async_setup(cfg, 2 * n, n, &w->x, &w->fc);
	if (w->one_cpu)
		err = bind_one_cpu(false) ?: err;
	return err;
}

static void scale_way_close(struct scale_way *w)
{
	flow_cache_free(w->fc);
	ipfix_async_destroy(w->x.a, 1000);
	flow_table_close(w->ft);
}

/*
 * One scan as the agent runs it, timed from the flip until the last
 * datagram is handed to the kernel: flip + grace period + drain with the
 * table's threads (merging into the cache), expiry of every flow, the
 * exporter's thread encoding and sending with sendmmsg().  The three
 * phases are timed too: drain, then expiry (records into the exporter's
 * queue, sent meanwhile), then the exporter's tail.
 */
static int scale_export(struct scale *s, struct scale_way *w,
			unsigned int *drains)
{
	uint64_t n = (uint64_t)s->per_ns * s->nns, rec0 = w->x.records;
	struct ipfix_collector_stats st;
	struct flow_drain_stats ds;
	struct result r = { 0 };
	double c0, c1;
	uint64_t t0, td, tf, t1;
	int err;

	err = scale_fill(s, *drains);
	if (err)
		return err;
	if (w->one_cpu) {
		err = bind_one_cpu(true);
		if (err)
			return err;
	}
	c0 = cpu_s();
	t0 = clock_mono_ns();
	err = flow_table_drain(w->ft, &flow_cache_drain_ops, w->fc, &ds);
	(*drains)++;
	td = tf = clock_mono_ns();
	if (!err) {
		flow_cache_flush(w->fc, td);
		tf = clock_mono_ns();
		ipfix_async_wait(w->x.a);
	}
	t1 = clock_mono_ns();
	c1 = cpu_s();
	if (w->one_cpu)
		err = bind_one_cpu(false) ?: err;
	if (err)
		return err;
	ipfix_async_stats(w->x.a, 0, &st);
	if (w->x.records - rec0 != n || st.records - w->records_sent != n ||
	    st.records_not_sent || ds.flows != n) {
		fprintf(stderr, "bench_export: scale: %llu drained, %llu of %llu records, %llu sent, %llu not sent\n",
			(unsigned long long)ds.flows,
			(unsigned long long)(w->x.records - rec0),
			(unsigned long long)n,
			(unsigned long long)(st.records - w->records_sent),
			(unsigned long long)st.records_not_sent);
		return -EIO;
	}
	w->records_sent = st.records;
	result_set(&r, n, t1 - t0, c1 - c0, st.messages - w->messages_sent);
	w->messages_sent = st.messages;
	r.drain_ns = td - t0;
	r.flush_ns = tf - td;
	if (r.rate > w->best.rate) {
		w->best = r;
		w->wait_ns = t1 - tf;
	}
	return 0;
}

static void print_loadavg(void)
{
	char buf[128] = "";
	FILE *f = fopen("/proc/loadavg", "r");

	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = 0;
		fclose(f);
	}
	buf[strcspn(buf, "\n")] = 0;
	printf("  load average: %s\n", buf);
}

/*
 * N flows in NNS namespaces: the bare batch drain (one thread), the
 * export with one drain thread and with one per CPU, with every thread of
 * the export on one CPU, and with one per CPU and udpSegmentation, side
 * by side (each REPEAT times, interleaved, best kept).
 */
#define NWAYS 4

static int run_scale(uint32_t n, unsigned int nns,
		     const struct flowctl_config *cfg,
		     const struct flowctl_config *cfg_gso)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned int all = cpus > 1 ? (unsigned int)cpus : 1;
	struct scale_way way[NWAYS] = {
		{ .what = "export, drain with  1 thread ", .workers = 1 },
		{ .what = "export, drain with  N threads", .workers = all },
		{ .what = "export, all threads on 1 CPU ", .workers = 1,
		  .one_cpu = true },
		{ .what = "export, N threads, udpSegmentation", .workers = all,
		  .gso = true },
	};
	unsigned int drains = 0;	/* flips of flow_ctl, by every table */
	double bare = 0, b;
	struct scale s;
	int err, rep, w;
	char what[64];

	err = scale_setup(&s, n, nns);
	for (w = 0; w < NWAYS && !err; w++)
		err = scale_way_open(&way[w], s.root,
				     way[w].gso ? cfg_gso : cfg,
				     (uint64_t)s.per_ns * s.nns);
	for (rep = 0; rep < REPEAT && !err; rep++) {
		err = scale_fill(&s, 0);
		if (err)
			break;
		b = scale_bare(&s);
		bare = b > bare ? b : bare;
		for (w = 0; w < NWAYS && !err; w++)
			err = scale_export(&s, &way[w], &drains);
	}
	if (!err) {
		uint64_t nn = (uint64_t)s.per_ns * s.nns;

		printf("%u flows in %u namespace%s, best of %d (the flow cache reused from round 2, as in the agent):\n",
		       n, nns, nns > 1 ? "s" : "", REPEAT);
		print_loadavg();
		printf("  %-50s %6.2f M flows/s  1.00 (one thread)\n",
		       "bare lookup_and_delete_batch", bare / 1e6);
		for (w = 0; w < NWAYS; w++) {
			struct result *r = &way[w].best;

			snprintf(what, sizeof(what), "%s", way[w].what);
			if (way[w].workers > 1 && !way[w].gso)
				snprintf(what, sizeof(what),
					 "export, drain with %2u threads",
					 way[w].workers);
			printf("  %-50s %6.2f M flows/s  %.2f  %.2f CPU s per M flows, %.1f records per datagram\n",
			       what, r->rate / 1e6, r->rate / bare, r->cpu,
			       (double)nn / (double)r->messages);
			printf("  %-50s drain %.0f, expiry %.0f, exporter's tail %.0f ns per flow\n",
			       "    of which:", (double)r->drain_ns / nn,
			       (double)r->flush_ns / nn,
			       (double)way[w].wait_ns / nn);
		}
		printf("  %-50s %6.2fx\n", "scaling (N drain threads / one)",
		       way[1].best.rate / way[0].best.rate);
		printf("  %-50s %6.2fx\n", "scaling (all CPUs / one CPU)",
		       way[1].best.rate / way[2].best.rate);
	}
	for (w = 0; w < NWAYS; w++)
		scale_way_close(&way[w]);
	scale_teardown(&s);
	if (err)
		fprintf(stderr, "bench_export: scale: %s\n", strerror(-err));
	return err ? 1 : 0;
}

int main(int argc, char **argv)
{
	uint32_t sizes[8] = { 100000, 1000000 }, max = 0;
	struct flowctl_config *cfg = NULL, *cfg_gso = NULL;
	struct sink sink = { -1, 0 };
	bool scale_only = false;
	char text[256];
	int nsizes = 2, i, rc = 0;

	if (geteuid()) {
		fprintf(stderr, "bench_export: needs root (BPF maps)\n");
		return 1;
	}
	if (argc > 1 && !strcmp(argv[1], "--scale")) {
		scale_only = true;
		argc--;
		argv++;
	}
	if (argc > 1) {
		nsizes = 0;
		for (i = 1; i < argc && nsizes < 8; i++)
			sizes[nsizes++] = strtoul(argv[i], NULL, 0);
	}
	for (i = 0; i < nsizes; i++)
		if (sizes[i] > max)
			max = sizes[i];
	log_set_level(LOG_LVL_WARN);
	if (sched_getaffinity(0, sizeof(cpus_all), &cpus_all)) {
		fprintf(stderr, "bench_export: sched_getaffinity: %s\n",
			strerror(errno));
		return 1;
	}
	if (sink_open(&sink)) {
		fprintf(stderr, "bench_export: no UDP sink: %s\n",
			strerror(errno));
		return 1;
	}
	/* the built-in IPv4 and IPv6 templates, 1400-byte messages */
	snprintf(text, sizeof(text),
		 "outputs:\n- collector:\n    remoteAddress: 127.0.0.1:%u\n",
		 sink.port);
	if (config_load_string("bench", text, strlen(text), &cfg, NULL))
		return 1;
	/* the same with UDP segmentation offload (same datagrams) */
	snprintf(text, sizeof(text),
		 "outputs:\n- collector:\n    remoteAddress: 127.0.0.1:%u\n"
		 "    udpSegmentation: true\n", sink.port);
	if (config_load_string("bench", text, strlen(text), &cfg_gso, NULL))
		return 1;
	if (bench_setup("bench_export", 2 * max))
		return 1;
	for (i = 0; i < nsizes && !scale_only; i++)
		rc |= run(sizes[i], cfg, cfg_gso);
	/* drain and export on every core: one namespace, then eight */
	make_keys(max);
	for (i = 0; i < nsizes; i++) {
		rc |= run_scale(sizes[i], 1, cfg, cfg_gso);
		rc |= run_scale(sizes[i], SCALE_NS_MAX, cfg, cfg_gso);
	}
	bench_teardown();
	config_free(cfg);
	config_free(cfg_gso);
	close(sink.fd);
	return rc;
}
