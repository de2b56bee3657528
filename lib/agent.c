// SPDX-License-Identifier: Apache-2.0
/*
 * flowctl agent: drains the pinned flow tables, keeps the flow cache and
 * feeds the outputs.
 *
 *   timerfd (scan interval) --+ on_timer, on_map_full
 *   flow_events ring buffers -+--> scan: rescan namespaces, flip + drain,
 *                             |    merge, expire -> emit -> IPFIX, logs
 *   exporter sockets ---------+--> ipfix_async_tick
 *   signalfd -----------------+--> on_signal: TERM/INT: final drain,
 *                                  forced end, flush, return 0; HUP:
 *                                  reload, reopen logs
 *
 * agent_run: agent_start (every step up to the loop), agent_loop,
 * agent_drain_all, agent_stop.
 *
 * Nothing in the loop waits on a collector or a hook: the exporter never
 * blocks and the flow log runs its hooks and writes in its own thread.
 */
#include "agent.h"

#include <errno.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "error.h"
#include "flow_cache.h"
#include "flow_journal.h"
#include "flow_latency.h"
#include "flow_table.h"
#include "flowlog.h"
#include "ifspec.h"
#include "ipfix_async.h"
#include "ipfix_export.h"
#include "lock.h"
#include "log.h"
#include "meter.h"
#include "metrics.h"
#include "strset.h"

#define IPFIX_IE_FLOW_DIRECTION 61	/* flowDirection (IANA) */

#define SHUTDOWN_FLUSH_MS 3000

/* One configuration and the outputs built from it (swapped on SIGHUP). */
struct agent_outputs {
	struct flowctl_config *cfg;
	/*
	 * NULL when no collector.  The exporter runs behind a worker thread:
	 * a scan's records are encoded and sent while the next scan drains.
	 */
	struct ipfix_async *ex;
	struct flowlog **logs;
	size_t n_logs;
	/* metric series of the outputs */
	struct metric **m_coll_msgs, **m_coll_errs, **m_coll_notsent,
		      **m_coll_flows;
	struct metric **m_log_flows, **m_log_errs, **m_log_dropped;
};

/*
 * Per (namespace, ingress, egress) packet and octet totals of one drain,
 * summed from the drained flows (the meter keeps no per-packet interface
 * totals by default: it would cost a second map update per packet).
 */
#define IFACC_SIZE 4096		/* power of two */

struct ifacc {
	const char *netns;		/* interned; NULL: free slot */
	uint32_t iif, oif;
	uint64_t packets, octets;
};

/* One (ingress, egress) pair's latency sum, for the original's gauge. */
struct lat_pair {
	uint32_t iif, oif;
	uint64_t sum_ns;
};

struct agent {
	const struct agent_opts *opts;
	struct ifacc *ifacc;		/* IFACC_SIZE */
	unsigned int ifacc_used;
	/*
	 * Namespace names as the metrics label them, copied once: the flow
	 * table frees a detached namespace at the end of its last drain,
	 * before the accumulators are published.
	 */
	struct strset names;
	const struct flow_ns *last_ns;	/* valid within one drain */
	const char *last_name;
	struct agent_outputs out;
	struct flow_table *ft;
	struct flow_cache *fc;
	struct flow_journal *journal;	/* NULL: --no-journal, or none */
	struct metrics *metrics;
	struct flowctl_metrics mf;
	struct metric *m_cache_flows, *m_drain;
	/* the original's latency gauge: pairs set at the previous scan */
	struct lat_pair *lat_prev;
	size_t n_lat_prev;
	int epfd, sfd, tfd, evfd, exfd;
	int lockfd;			/* the agent lock on the pin root */
	uint64_t scans, records;
	bool stop;
};

/* ---- outputs ------------------------------------------------------------- */

static void outputs_free(struct agent_outputs *o)
{
	size_t i;

	for (i = 0; i < o->n_logs; i++)
		flowlog_close(o->logs[i]);
	free(o->logs);
	ipfix_async_destroy(o->ex, 1000);
	free(o->m_coll_msgs);
	free(o->m_coll_errs);
	free(o->m_coll_notsent);
	free(o->m_coll_flows);
	free(o->m_log_flows);
	free(o->m_log_errs);
	free(o->m_log_dropped);
	config_free(o->cfg);
	memset(o, 0, sizeof(*o));
}

/* Build the outputs of CFG into O, which takes CFG over (freed with the
 * outputs, also when this fails). */
static int outputs_open(struct agent *a, struct flowctl_config *cfg,
			struct agent_outputs *o)
{
	size_t i, n;
	int err;

	memset(o, 0, sizeof(*o));
	o->cfg = cfg;
	if (cfg->n_collectors) {
		struct ipfix_exporter *ex;

		err = config_exporter_create(cfg, &ex);
		if (err) {
			pr_err("cannot set up the IPFIX exporter: %s",
			       strerror(-err));
			goto fail;
		}
		err = ipfix_async_create(ex, 0, &o->ex);
		if (err) {
			ipfix_exporter_destroy(ex);
			goto fail;
		}
	}
	if (cfg->n_logs) {
		o->logs = calloc(cfg->n_logs, sizeof(*o->logs));
		if (!o->logs) {
			err = -ENOMEM;
			goto fail;
		}
	}
	for (i = 0; i < cfg->n_logs; i++) {
		err = config_flowlog_open(cfg, &cfg->logs[i], true,
					  &o->logs[i]);
		if (err)
			goto fail;
		o->n_logs++;
	}

	/* metric series of these outputs */
	n = o->ex ? ipfix_async_n_collectors(o->ex) : 0;
	o->m_coll_msgs = calloc(n + 1, sizeof(void *));
	o->m_coll_errs = calloc(n + 1, sizeof(void *));
	o->m_coll_notsent = calloc(n + 1, sizeof(void *));
	o->m_coll_flows = calloc(n + 1, sizeof(void *));
	o->m_log_flows = calloc(o->n_logs + 1, sizeof(void *));
	o->m_log_errs = calloc(o->n_logs + 1, sizeof(void *));
	/* [i]: reason queue_full, [n_logs + i]: reason write_error */
	o->m_log_dropped = calloc(2 * (o->n_logs + 1), sizeof(void *));
	if (!o->m_coll_msgs || !o->m_coll_errs || !o->m_coll_notsent ||
	    !o->m_coll_flows || !o->m_log_flows || !o->m_log_errs ||
	    !o->m_log_dropped) {
		err = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < n; i++) {
		struct ipfix_collector_stats st;
		char label[300];

		ipfix_async_stats(o->ex, i, &st);
		snprintf(label, sizeof(label), "%s/%s", st.address,
			 ipfix_transport_name(st.transport));
		o->m_coll_msgs[i] = metric_get(a->mf.ipfix_messages, label, NULL);
		o->m_coll_errs[i] = metric_get(a->mf.ipfix_send_errors, label, NULL);
		o->m_coll_notsent[i] = metric_get(a->mf.ipfix_not_sent, label, NULL);
		snprintf(label, sizeof(label), "ipfix:%s/%s", st.address,
			 ipfix_transport_name(st.transport));
		o->m_coll_flows[i] = metric_get(a->mf.flows_exported, label, NULL);
	}
	for (i = 0; i < o->n_logs; i++) {
		char label[300];

		snprintf(label, sizeof(label), "log:%s", flowlog_name(o->logs[i]));
		o->m_log_flows[i] = metric_get(a->mf.flows_exported, label, NULL);
		o->m_log_errs[i] = metric_get(a->mf.log_write_errors, label, NULL);
		o->m_log_dropped[i] = metric_get(a->mf.log_dropped, label,
						 "queue_full", NULL);
		o->m_log_dropped[o->n_logs + i] = metric_get(
			a->mf.log_dropped, label, "write_error", NULL);
	}
	return 0;
fail:
	outputs_free(o);	/* CFG too */
	return err;
}

/* Mirror the outputs' counters into the metrics. */
static void outputs_metrics(struct agent *a)
{
	struct agent_outputs *o = &a->out;
	size_t i, j;
	int w;

	uint64_t dropped = o->ex ? ipfix_async_dropped(o->ex) : 0;

	for (i = 0; o->ex && i < ipfix_async_n_collectors(o->ex); i++) {
		struct ipfix_collector_stats st;

		ipfix_async_stats(o->ex, i, &st);
		if (o->m_coll_msgs[i])
			metric_counter_set(o->m_coll_msgs[i], st.messages);
		if (o->m_coll_errs[i])
			metric_counter_set(o->m_coll_errs[i], st.send_errors);
		/* records the export queue refused reach no collector */
		if (o->m_coll_notsent[i])
			metric_counter_set(o->m_coll_notsent[i],
					   st.records_not_sent + dropped);
		if (o->m_coll_flows[i])
			metric_counter_set(o->m_coll_flows[i], st.records);
	}
	for (i = 0; i < o->n_logs; i++) {
		const struct hook_chain *hc = flowlog_hooks(o->logs[i]);
		struct flowlog_stats st;

		flowlog_get_stats(o->logs[i], &st);
		if (o->m_log_flows[i])
			metric_counter_set(o->m_log_flows[i], st.lines_written);
		if (o->m_log_errs[i])
			metric_counter_set(o->m_log_errs[i], st.write_errors);
		if (o->m_log_dropped[i])
			metric_counter_set(o->m_log_dropped[i],
					   st.records_dropped);
		/* lines a failed write lost (partial lines are cut) */
		if (o->m_log_dropped[o->n_logs + i])
			metric_counter_set(o->m_log_dropped[o->n_logs + i],
					   st.lines_lost);
		for (j = 0; hc && j < hook_chain_len(hc); j++) {
			for (w = 0; w < HOOK_FAIL__MAX; w++) {
				uint64_t v = hook_chain_failures(hc, j, w);
				struct metric *s;

				if (!v)
					continue;
				s = metric_get(a->mf.hook_failures,
					       hook_chain_name(hc, j),
					       hook_failure_name(w), NULL);
				if (s)
					metric_counter_set(s, v);
			}
		}
	}
}

/* ---- the flow pipeline ------------------------------------------------- */

/* Expired records: to every output. */
static void agent_emit(void *ctx, const struct flow_record *recs, size_t n)
{
	struct agent *a = ctx;
	size_t i;

	a->records += n;
	if (a->out.ex)
		ipfix_async_export(a->out.ex, recs, n);
	for (i = 0; i < a->out.n_logs; i++)
		flowlog_submit(a->out.logs[i], recs, n);
}

/* Records about to be emitted: out of the crash journal first. */
static void agent_journal_forget(void *ctx, const uint32_t *idx, size_t n)
{
	struct agent *a = ctx;

	if (a->journal)
		flow_journal_forget(a->journal, idx, n);
}

static uint32_t agent_domain(void *ctx, const char *netns)
{
	struct agent *a = ctx;

	return config_obs_domain_id(a->out.cfg, netns);
}

static void ops_begin(void *ctx, const struct flow_clock *clk)
{
	struct agent *a = ctx;

	a->last_ns = NULL;
	flow_cache_drain_ops.begin(a->fc, clk);
}

/* The agent's own copy of a namespace's name (NULL without memory). */
static const char *ns_label(struct agent *a, const struct flow_ns *ns)
{
	const char *name;

	if (ns == a->last_ns)
		return a->last_name;
	name = strset_intern(&a->names, flow_ns_name(ns));
	if (name) {
		a->last_ns = ns;
		a->last_name = name;
	}
	return name;
}

/* Add to the interface totals metrics (and forget) one accumulator. */
static void ifacc_publish(struct agent *a, const char *netns, uint32_t iif,
			  uint32_t oif, uint64_t packets, uint64_t octets)
{
	char si[16], so[16];
	struct metric *s;

	snprintf(si, sizeof(si), "%u", iif);
	snprintf(so, sizeof(so), "%u", oif);
	if ((s = metric_get(a->mf.total_pkts, si, so, netns, NULL)))
		metric_add(s, packets);
	if ((s = metric_get(a->mf.total_bytes, si, so, netns, NULL)))
		metric_add(s, octets);
	/* the original's gauges: every namespace together */
	if ((s = metric_get(a->mf.orig_total_pkts, si, so, NULL)))
		metric_gauge_add(s, packets);
	if ((s = metric_get(a->mf.orig_total_bytes, si, so, NULL)))
		metric_gauge_add(s, octets);
}

static void ifacc_add(struct agent *a, const struct flow_ns *ns,
		      uint32_t iif, uint32_t oif, uint64_t packets,
		      uint64_t octets)
{
	const char *netns = ns_label(a, ns);
	uint64_t h = ((uint64_t)iif * 0x9e3779b97f4a7c15ULL) ^
		     ((uint64_t)oif * 0xc2b2ae3d27d4eb4fULL) ^
		     (uint64_t)(uintptr_t)netns;
	unsigned int i, probe;

	if (!netns)
		return;
	h ^= h >> 29;
	for (probe = 0; a->ifacc && probe < 16; probe++) {
		struct ifacc *e;

		i = (h + probe) & (IFACC_SIZE - 1);
		e = &a->ifacc[i];
		if (!e->netns) {
			*e = (struct ifacc){ netns, iif, oif, 0, 0 };
			a->ifacc_used++;
		} else if (e->netns != netns || e->iif != iif ||
			   e->oif != oif) {
			continue;
		}
		e->packets += packets;
		e->octets += octets;
		return;
	}
	/* crowded: straight to the metrics */
	ifacc_publish(a, netns, iif, oif, packets, octets);
}

static void ifacc_flush(struct agent *a)
{
	unsigned int i;

	/* namespace pointers are not valid past the drain */
	a->last_ns = NULL;
	if (!a->ifacc_used)
		return;
	for (i = 0; i < IFACC_SIZE; i++) {
		struct ifacc *e = &a->ifacc[i];

		if (!e->netns)
			continue;
		ifacc_publish(a, e->netns, e->iif, e->oif, e->packets,
			      e->octets);
		e->netns = NULL;
	}
	a->ifacc_used = 0;
}

static void ops_flows(void *ctx, const struct flow_ns *ns,
		      const struct flow_key *keys,
		      const struct flow_value *vals, size_t n)
{
	struct agent *a = ctx;
	size_t i;

	flow_cache_drain_ops.flows(a->fc, ns, keys, vals, n);
	for (i = 0; i < n; i++)
		ifacc_add(a, ns, keys[i].ingress_ifindex,
			  keys[i].egress_ifindex, vals[i].packets,
			  vals[i].octets);
}

static void ops_ifstats(void *ctx, const struct flow_ns *ns,
			const struct flow_ifstats_key *key,
			const struct flow_ifstats_value *total,
			const struct flow_ifstats_value *delta)
{
	struct agent *a = ctx;
	char iif[16], oif[16];
	struct metric *s;

	flow_cache_drain_ops.ifstats(a->fc, ns, key, total, delta);
	if (!delta->overflow_packets)
		return;
	/* what overflowed is metered too: it counts in the totals */
	ifacc_add(a, ns, key->ingress_ifindex, key->egress_ifindex,
		  delta->overflow_packets, delta->overflow_octets);
	snprintf(iif, sizeof(iif), "%u", key->ingress_ifindex);
	snprintf(oif, sizeof(oif), "%u", key->egress_ifindex);
	if ((s = metric_get(a->mf.overflow_pkts, iif, oif, flow_ns_name(ns), NULL)))
		metric_add(s, delta->overflow_packets);
	if ((s = metric_get(a->mf.overflow_bytes, iif, oif, flow_ns_name(ns), NULL)))
		metric_add(s, delta->overflow_octets);
	if ((s = metric_get(a->mf.orig_overflow_pkts, iif, oif, NULL)))
		metric_gauge_add(s, delta->overflow_packets);
	if ((s = metric_get(a->mf.orig_overflow_bytes, iif, oif, NULL)))
		metric_gauge_add(s, delta->overflow_octets);
}

static void ops_counters(void *ctx, const struct flow_ns *ns,
			 const struct flow_counters *total,
			 const struct flow_counters *delta)
{
	struct agent *a = ctx;
	struct metric *s;

	if (flow_cache_drain_ops.counters)
		flow_cache_drain_ops.counters(a->fc, ns, total, delta);
	s = metric_get(a->mf.unparsed_packets, flow_ns_name(ns), NULL);
	if (s)
		metric_add(s, delta->c[FLOW_CNT_UNPARSED_PKTS]);
	/* packets the meter saw but could not put in any flow */
	if (a->out.ex)
		ipfix_async_set_metering(a->out.ex,
					    flow_ns_obs_domain_id(ns),
					    total->c[FLOW_CNT_UNPARSED_PKTS],
					    total->c[FLOW_CNT_UNPARSED_OCTETS]);
}

/*
 * A namespace that was deleted or re-created: its last flows are in the
 * cache now; they leave at once, as the old namespace's, so that nothing
 * of it merges with a new namespace of the same name.
 */
static void ops_stale(void *ctx, const struct flow_ns *ns, const char *why,
		      uint64_t segments, uint64_t packets, bool unpinned)
{
	struct agent *a = ctx;
	uint64_t exported = 0;
	size_t recs;

	recs = flow_cache_flush_domain(a->fc, flow_ns_name(ns), &exported);
	pr_info("namespace %s was %s: last drain %llu segments (%llu packets); %zu flows, %llu packets exported (forced end); %s",
		flow_ns_name(ns), why, (unsigned long long)segments,
		(unsigned long long)packets, recs,
		(unsigned long long)exported,
		unpinned ? "its pins are removed" :
		"its pins were already removed");
	/*
	 * Its metric series go at the next scan: the rescan finds its pins
	 * gone and forget_namespaces() drops them after that last drain.
	 */
}

static void ops_end(void *ctx)
{
	struct agent *a = ctx;

	if (flow_cache_drain_ops.end)
		flow_cache_drain_ops.end(a->fc);
	ifacc_flush(a);
}

/*
 * With the crash journal: the buffers just read are written to it before
 * the table empties them (flow_drain_ops.persist), so a kill at any point
 * of the drain loses nothing and counts nothing twice.
 */
/*
 * FLOWCTL_TEST_KILL_POINT=before-persist|after-persist: the agent kills
 * itself (SIGKILL) there, at the first drain that read anything; for the
 * tests of the crash journal (test-agent-crash-points.sh).
 */
static void test_kill_point(const char *point)
{
	const char *want = getenv("FLOWCTL_TEST_KILL_POINT");

	if (want && !strcmp(want, point)) {
		pr_warn("FLOWCTL_TEST_KILL_POINT=%s: killing myself", point);
		raise(SIGKILL);
	}
}

static void ops_persist(void *ctx, const uint32_t *map_ids, size_t n)
{
	struct agent *a = ctx;

	if (flow_cache_count(a->fc))
		test_kill_point("before-persist");
	flow_journal_sync(a->journal, a->fc);
	flow_journal_pending(a->journal, map_ids, n);
	if (flow_cache_count(a->fc))
		test_kill_point("after-persist");
}

static void ops_cleared(void *ctx)
{
	struct agent *a = ctx;

	flow_journal_pending_clear(a->journal);
}

static const struct flow_drain_ops agent_drain_ops = {
	.begin = ops_begin,
	.flows = ops_flows,
	.ifstats = ops_ifstats,
	.counters = ops_counters,
	.stale = ops_stale,
	.end = ops_end,
};

static const struct flow_drain_ops agent_journal_drain_ops = {
	.begin = ops_begin,
	.flows = ops_flows,
	.ifstats = ops_ifstats,
	.counters = ops_counters,
	.stale = ops_stale,
	.persist = ops_persist,
	.cleared = ops_cleared,
	.end = ops_end,
};

/*
 * Namespaces the rescan marked gone (meter detached or replaced): the
 * table still lists them until their last drain, but no longer finds
 * them by name.  Their names (the agent's copies), malloc'ed; NULL when
 * none.
 */
static const char **gone_namespaces(struct agent *a, size_t *n)
{
	size_t i, count = flow_table_ns_count(a->ft);
	const char **gone = NULL;

	*n = 0;
	for (i = 0; i < count; i++) {
		struct flow_ns *ns = flow_table_ns(a->ft, i);
		const char *name = flow_ns_name(ns);

		if (flow_table_ns_find(a->ft, name) == ns)
			continue;
		if (!gone && !(gone = calloc(count, sizeof(*gone))))
			break;
		if ((gone[*n] = strset_intern(&a->names, name)))
			(*n)++;
	}
	return gone;
}

/* After their last drain: their metric series go (unless a namespace of
 * the same name is metered again), so churned namespaces do not pile up. */
static void forget_namespaces(struct agent *a, const char **gone, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (flow_table_ns_find(a->ft, gone[i]))
			continue;
		pr_debug("namespace %s: %zu metric series dropped", gone[i],
			 metrics_forget_netns(a->metrics, gone[i]));
	}
	/* a namespace named "all" took the drain histogram's series along */
	if (n)
		a->m_drain = metric_get(a->mf.drain_duration, "all", NULL);
	free(gone);
}

/* ---- forwarding latency (meter attach --latency) ---------------------- */

struct lat_scan {
	struct agent *a;
	const char *netns;
	struct lat_pair *v;
	size_t n, cap;
};

static void latency_pair(void *ctx, const struct flow_latency_key *k,
			 const struct flow_latency_value *t)
{
	struct lat_scan *ls = ctx;
	uint64_t buckets[FLOW_LAT_BUCKETS];
	char si[16], so[16];
	struct metric *s;
	size_t b;

	snprintf(si, sizeof(si), "%u", k->ingress_ifindex);
	snprintf(so, sizeof(so), "%u", k->egress_ifindex);
	for (b = 0; b < FLOW_LAT_BUCKETS; b++)
		buckets[b] = t->buckets[b];
	s = metric_get(ls->a->mf.latency, si, so, ls->netns, NULL);
	if (s)
		metric_histogram_set(s, buckets, FLOW_LAT_BUCKETS, t->count,
				     t->sum_ns / 1e9);
	if (ls->n == ls->cap) {
		size_t ncap = ls->cap ? ls->cap * 2 : 64;
		struct lat_pair *nv = realloc(ls->v, ncap * sizeof(*nv));

		if (!nv)
			return;
		ls->v = nv;
		ls->cap = ncap;
	}
	ls->v[ls->n++] = (struct lat_pair){ k->ingress_ifindex,
					    k->egress_ifindex, t->sum_ns };
}

static int lat_pair_cmp(const void *x, const void *y)
{
	const struct lat_pair *p = x, *q = y;

	if (p->iif != q->iif)
		return p->iif < q->iif ? -1 : 1;
	if (p->oif != q->oif)
		return p->oif < q->oif ? -1 : 1;
	return 0;
}

static void lat_gauge_set(struct agent *a, const struct lat_pair *p,
			  double v)
{
	char si[16], so[16];
	struct metric *s;

	snprintf(si, sizeof(si), "%u", p->iif);
	snprintf(so, sizeof(so), "%u", p->oif);
	if ((s = metric_get(a->mf.orig_total_latency, si, so, NULL)))
		metric_set(s, v);
}

/*
 * Mirror the kernel's latency totals of every namespace metered with
 * --latency: the histograms per namespace, and the original's gauge per
 * pair summed over the namespaces (a pair no namespace has any more goes
 * back to 0, as the original's map read would).
 */
static void latency_publish(struct agent *a)
{
	struct lat_scan ls = { .a = a };
	size_t i, j, n, count = flow_table_ns_count(a->ft);

	for (i = 0; i < count; i++) {
		struct flow_ns *ns = flow_table_ns(a->ft, i);

		ls.netns = flow_ns_name(ns);
		if (flow_table_ns_find(a->ft, ls.netns) != ns)
			continue;	/* gone: its series are forgotten */
		flow_latency_read(flow_table_pin_root(a->ft), ls.netns,
				  latency_pair, &ls);
	}
	if (!ls.n && !a->n_lat_prev)
		return;
	qsort(ls.v, ls.n, sizeof(*ls.v), lat_pair_cmp);
	for (i = 0, n = 0; i < ls.n; i++) {
		if (n && !lat_pair_cmp(&ls.v[n - 1], &ls.v[i]))
			ls.v[n - 1].sum_ns += ls.v[i].sum_ns;
		else
			ls.v[n++] = ls.v[i];
	}
	for (i = 0; i < n; i++)
		lat_gauge_set(a, &ls.v[i], (double)ls.v[i].sum_ns);
	/* both sorted: the pairs of the previous scan not seen now */
	for (i = 0, j = 0; i < a->n_lat_prev; i++) {
		while (j < n && lat_pair_cmp(&ls.v[j], &a->lat_prev[i]) < 0)
			j++;
		if (j == n || lat_pair_cmp(&ls.v[j], &a->lat_prev[i]))
			lat_gauge_set(a, &a->lat_prev[i], 0);
	}
	free(a->lat_prev);
	a->lat_prev = ls.v;
	a->n_lat_prev = n;
}

/* One scan: pick up namespaces, drain, expire, tick the exporter. */
static void agent_scan(struct agent *a, bool final)
{
	struct flow_drain_stats st;
	struct flow_cache_stats cs;
	const char **gone;
	size_t n_gone;
	uint64_t now;

	flow_table_rescan(a->ft);
	gone = gone_namespaces(a, &n_gone);
	if (flow_table_drain(a->ft, a->journal ? &agent_journal_drain_ops :
			     &agent_drain_ops, a, &st) == 0 &&
	    a->m_drain)
		metric_observe(a->m_drain, st.total_ns / 1e9);
	forget_namespaces(a, gone, n_gone);
	latency_publish(a);
	now = clock_mono_ns();
	if (final)
		flow_cache_flush(a->fc, now);
	else
		flow_cache_expire(a->fc, now);
	/* what this scan merged and still holds: into the crash journal */
	if (a->journal)
		flow_journal_sync(a->journal, a->fc);
	if (a->out.ex)
		ipfix_async_tick(a->out.ex);
	flow_cache_get_stats(a->fc, &cs);
	if (a->m_cache_flows)
		metric_set(a->m_cache_flows, cs.flows);
	outputs_metrics(a);
	a->scans++;
	pr_debug("scan %llu: %llu segments drained from %u namespace(s) in %.3f ms (grace %.3f ms), %llu flows cached",
		 (unsigned long long)a->scans, (unsigned long long)st.flows,
		 st.namespaces, st.total_ns / 1e6, st.grace_ns / 1e6,
		 (unsigned long long)cs.flows);
}

/* ---- setup --------------------------------------------------------------- */

static int load_config(const char *path, struct flowctl_config **cfg)
{
	int err;

	if (path)
		err = config_load_file(path, cfg, NULL);
	else
		err = config_load_default(cfg, NULL);
	return err;
}

static void cache_params(struct agent *a, const struct flowctl_config *cfg,
			 struct flow_cache_params *p)
{
	flow_cache_params_init(p);
	config_cache_params(cfg, p);
	p->emit = agent_emit;
	p->emit_ctx = a;
	if (!a->opts->no_journal)
		p->journal_forget = agent_journal_forget;
}

static bool has_interface(const struct flowctl_config *cfg, const char *s)
{
	size_t i;

	for (i = 0; cfg && i < cfg->n_interfaces; i++)
		if (!strcmp(cfg->interfaces[i], s))
			return true;
	return false;
}

/*
 * Attach the meter to the interfaces of CFG that OLD does not list (OLD
 * NULL: all of them).  All or nothing (meter_attach).
 */
static int attach_interfaces(const struct flowctl_config *cfg,
			     const struct flowctl_config *old)
{
	struct ifspec *specs;
	struct meter_opts o;
	size_t i, n = 0;
	int err;

	if (!cfg->n_interfaces)
		return 0;
	specs = calloc(cfg->n_interfaces, sizeof(*specs));
	if (!specs)
		return -ENOMEM;
	for (i = 0; i < cfg->n_interfaces; i++) {
		const char *why;

		if (old && has_interface(old, cfg->interfaces[i]))
			continue;
		if (ifspec_parse(cfg->interfaces[i], &specs[n], &why)) {
			pr_err("%s: interfaces: '%s': %s", cfg->file,
			       cfg->interfaces[i], why);
			free(specs);
			return -FLOWCTL_EREQUEST;
		}
		if (old)
			pr_info("reload: attaching the meter to %s",
				cfg->interfaces[i]);
		n++;
	}
	meter_opts_default(&o);
	o.in_agent = true;	/* stale pins: not left to ourselves */
	err = n ? meter_attach(specs, n, &o) : 0;
	free(specs);
	return err;
}

/*
 * Both hooks metered in a namespace count each forwarded packet twice
 * (once per hook, told apart only by flowDirection): say so once, at
 * start, when a template would send such records without it.
 */
static void warn_double_count(const struct flowctl_config *cfg,
			      const char *root)
{
	char where[NETNS_NAME_MAX];
	size_t i;
	unsigned int j;

	if (meter_hooks_in_use(root, where, sizeof(where)) !=
	    METER_HOOKS_BOTH || !where[0])
		return;
	for (i = 0; i < cfg->n_templates; i++) {
		const struct config_template *t = &cfg->templates[i];

		for (j = 0; j < t->n_fields; j++)
			if (!t->fields[j].ie->pen &&
			    t->fields[j].ie->id == IPFIX_IE_FLOW_DIRECTION)
				break;
		if (j < t->n_fields)
			continue;
		pr_warn("namespace %s is metered at ingress and at egress (meter attach --hooks both) and template %u has no flowDirection: collectors will see each forwarded flow twice",
			where, t->id);
		return;
	}
}

static int set_timer(int tfd, uint32_t ms)
{
	struct itimerspec its = {
		.it_interval = { ms / 1000, (ms % 1000) * 1000000L },
		.it_value = { ms / 1000, (ms % 1000) * 1000000L },
	};

	return timerfd_settime(tfd, 0, &its, NULL) ? -errno : 0;
}

static int epoll_add(int epfd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	if (fd < 0)
		return 0;
	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

/*
 * Interfaces a reloaded config adds are attached; those it drops stay
 * attached (detaching would end their flows in the middle): said.
 */
static int reload_interfaces(struct agent *a, const struct flowctl_config *cfg,
			     const struct flowctl_config *old)
{
	size_t i;

	for (i = 0; i < old->n_interfaces; i++)
		if (!has_interface(cfg, old->interfaces[i]))
			pr_warn("reload: %s is no longer in the config but stays metered (flowctl meter detach -i %s)",
				old->interfaces[i], old->interfaces[i]);
	if (a->opts->no_attach) {
		for (i = 0; i < cfg->n_interfaces; i++)
			if (!has_interface(old, cfg->interfaces[i]))
				pr_warn("reload: %s added to the config is not attached (--no-attach)",
					cfg->interfaces[i]);
		return 0;
	}
	return attach_interfaces(cfg, old);
}

/* SIGHUP: reopen the logs (logrotate), load the config again. */
static void agent_reload(struct agent *a)
{
	struct flowctl_config *cfg = NULL;
	struct agent_outputs next;
	const struct flowctl_config *old = a->out.cfg;
	int err;

	pr_info("SIGHUP: reloading %s", a->opts->config ? a->opts->config :
		"the embedded default config");
	err = load_config(a->opts->config, &cfg);
	if (err) {
		size_t i;

		pr_err("reload failed, keeping the running config");
		for (i = 0; i < a->out.n_logs; i++)
			flowlog_reopen(a->out.logs[i]);
		return;
	}
	if (cfg->idle_timeout_s != old->idle_timeout_s ||
	    cfg->active_timeout_s != old->active_timeout_s ||
	    cfg->timer_force_drain_s != old->timer_force_drain_s ||
	    cfg->timer_finished_drain_s != old->timer_finished_drain_s)
		pr_warn("reload: flow timeouts apply to flows from a restart on; the running cache keeps its timeouts");
	if (cfg->drain_threads != old->drain_threads)
		pr_warn("reload: drainThreads changes at the next restart");
	if (strcmp(cfg->metrics_address ? cfg->metrics_address : "",
		   old->metrics_address ? old->metrics_address : ""))
		pr_warn("reload: metricsAddress changes at the next restart");
	/*
	 * Send what the old outputs hold, then swap: records expired from
	 * now on go to the new outputs.
	 */
	err = outputs_open(a, cfg, &next);
	if (err) {
		pr_err("reload: cannot build the new outputs; keeping the running config");
		return;
	}
	/* interfaces added to the config: attached now (all or nothing) */
	err = reload_interfaces(a, cfg, old);
	if (err) {
		outputs_free(&next);
		pr_err("reload: cannot attach the new interfaces; keeping the running config");
		return;
	}
	if (a->out.ex)
		ipfix_async_flush(a->out.ex, 1000);
	outputs_free(&a->out);
	a->out = next;
	if (a->out.cfg->scan_interval_ms)
		set_timer(a->tfd, a->out.cfg->scan_interval_ms);
	pr_info("reload: %zu collector(s), %zu log(s)", a->out.cfg->n_collectors,
		a->out.n_logs);
}

/* Close and free everything agent_start() set up, the config too. */
static void agent_stop(struct agent *a)
{
	if (a->epfd >= 0)
		close(a->epfd);
	if (a->sfd >= 0)
		close(a->sfd);
	if (a->tfd >= 0)
		close(a->tfd);
	outputs_free(&a->out);
	if (a->fc)
		flow_cache_free(a->fc);
	flow_journal_close(a->journal);
	if (a->ft)
		flow_table_close(a->ft);
	metrics_destroy(a->metrics);
	strset_free(&a->names);
	free(a->ifacc);
	free(a->lat_prev);
	if (a->lockfd >= 0)
		close(a->lockfd);
}

int agent_lock_exclude(const char *pin_root, const char *what)
{
	const char *root = flow_pin_root(pin_root);
	struct stat st;
	int pid;

	pid = agent_lock_holder(root);
	if (pid > 0) {
		pr_err("a flowctl agent (pid %d) is draining the flow tables under %s: %s would race it; stop the agent first",
		       pid, root, what);
		return -EBUSY;
	}
	if (pid < 0) {
		pr_err("cannot check the agent lock of %s: %s", root,
		       strerror(-pid));
		return pid;
	}
	if (stat(root, &st))
		return errno == ENOENT ? -ENOENT : -errno;
	/* an agent starting between the check and now: refused here */
	return agent_lock_take(root);
}

/*
 * The running config belongs to a->out (struct agent_outputs) from the
 * moment it is loaded: outputs_free() frees it, in agent_stop() or when a
 * reload swaps in the outputs of a new config.  The steps below use it
 * as a->out.cfg and never free it themselves.
 */

/* Signals first: a TERM during setup still ends cleanly.  A signalfd
 * that cannot be made fails loop_open(). */
static void signals_open(struct agent *a)
{
	sigset_t sigs;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	a->sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* The metrics server, on --metrics-address or the config's. */
static int metrics_open(struct agent *a, const char *maddr)
{
	int err;

	a->ifacc = calloc(IFACC_SIZE, sizeof(*a->ifacc));
	if (!a->ifacc || metrics_create(&a->metrics) ||
	    metrics_register_flowctl(a->metrics, &a->mf)) {
		pr_err("cannot set up metrics");
		return -ENOMEM;
	}
	a->m_cache_flows = metric_get(a->mf.cache_flows, NULL);
	a->m_drain = metric_get(a->mf.drain_duration, "all", NULL);
	err = metrics_serve(a->metrics, maddr);
	/* -EINVAL: a bad address */
	return err == -EINVAL ? -FLOWCTL_EREQUEST : err;
}

/* The flow cache, the pinned flow tables and the crash journal. */
static int flows_open(struct agent *a)
{
	const struct agent_opts *opts = a->opts;
	struct flow_table_opts fto = { 0 };
	struct flow_cache_params fcp;
	uint64_t flows = 0;
	int err;

	cache_params(a, a->out.cfg, &fcp);
	err = flow_cache_new(&fcp, &a->fc);
	if (err) {
		pr_err("cannot create the flow cache: %s", strerror(-err));
		return err;
	}
	fto.pin_root = opts->pin_root;
	fto.state_dir = opts->state_dir ? opts->state_dir :
			FLOW_TABLE_STATE_DIR;
	fto.obs_domain_id = agent_domain;
	fto.obs_domain_ctx = a;
	fto.workers = a->out.cfg->drain_threads;	/* 0: one per CPU */
	err = flow_table_open(&fto, &a->ft);
	if (err) {
		pr_err("cannot open the flow tables: %s", strerror(-err));
		return err;
	}
	/*
	 * The crash journal (under the agent lock): what a killed agent
	 * drained and did not export is read back, before any drain.
	 */
	if (opts->no_journal)
		return 0;
	if (flow_journal_open(flow_pin_root(opts->pin_root), a->fc,
			      agent_domain, a, clock_mono_ns(), &flows,
			      &a->journal)) {
		pr_warn("running without a crash journal: flows in the cache are lost if the agent is killed");
		flow_cache_journal_stop(a->fc);
	} else if (flows) {
		pr_info("crash journal: %llu flows drained by an agent that did not exit cleanly read back; exported at their timeouts",
			(unsigned long long)flows);
	}
	return 0;
}

/* Watch the exporter's fd, the current outputs' (after a reload too). */
static void watch_exporter(struct agent *a)
{
	int fd = a->out.ex ? ipfix_async_fd(a->out.ex) : -1;

	if (fd == a->exfd)
		return;
	if (a->exfd >= 0)
		epoll_ctl(a->epfd, EPOLL_CTL_DEL, a->exfd, NULL);
	a->exfd = fd;
	epoll_add(a->epfd, a->exfd);
}

/* epoll over the signals, the scan timer and the map-full events. */
static int loop_open(struct agent *a)
{
	int err;

	a->epfd = epoll_create1(EPOLL_CLOEXEC);
	a->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	a->evfd = flow_table_events_fd(a->ft);
	if (a->epfd < 0 || a->tfd < 0 || a->sfd < 0 ||
	    set_timer(a->tfd, a->out.cfg->scan_interval_ms) ||
	    epoll_add(a->epfd, a->sfd) || epoll_add(a->epfd, a->tfd) ||
	    epoll_add(a->epfd, a->evfd)) {
		err = errno ? -errno : -EIO;
		pr_err("cannot set up the event loop: %s", strerror(-err));
		return err;
	}
	watch_exporter(a);
	return 0;
}

/* Everything up to the event loop; on an error agent_stop() undoes it. */
static int agent_start(struct agent *a)
{
	const struct agent_opts *opts = a->opts;
	const struct flowctl_config *cfg;
	const char *maddr;
	int err;

	/* a config that is bad or cannot be read: the user's to fix */
	if (load_config(opts->config, &a->out.cfg))
		return -FLOWCTL_EREQUEST;
	cfg = a->out.cfg;
	/*
	 * One agent per pin root, before anything is attached, served or
	 * drained: a second one would flip and drain the same maps and split
	 * every flow in two records.  Held until the process ends.
	 */
	a->lockfd = agent_lock_take(flow_pin_root(opts->pin_root));
	if (a->lockfd < 0)
		return a->lockfd;
	signals_open(a);
	maddr = opts->metrics_address ? opts->metrics_address :
		cfg->metrics_address;
	err = metrics_open(a, maddr);
	/*
	 * The outputs before the meter: a collector or log the agent cannot
	 * open stops it with nothing attached.
	 */
	if (!err) {
		err = outputs_open(a, a->out.cfg, &a->out);
		/* -EINVAL: a collector or log it cannot use */
		if (err == -EINVAL)
			err = -FLOWCTL_EREQUEST;
	}
	if (!err && !opts->no_attach)
		err = attach_interfaces(cfg, NULL);
	err = err ?: flows_open(a);
	err = err ?: loop_open(a);
	if (err)
		return err;

	pr_info("agent started: config %s%s, %zu collector(s), %zu log(s), metrics on %s (port %u), scan every %u ms, %u drain thread(s), %zu namespace(s) metered",
		cfg->file ? cfg->file : "(embedded default)",
		opts->config_from_cwd ? " (no -c: found in the working directory)" :
		!opts->config ? " (no -c and no " CONFIG_CWD_FILE ")" : "",
		cfg->n_collectors, a->out.n_logs, maddr ? maddr : "default",
		metrics_port(a->metrics), cfg->scan_interval_ms,
		flow_table_workers(a->ft), flow_table_ns_count(a->ft));
	warn_double_count(cfg, flow_pin_root(opts->pin_root));
	return 0;
}

/* ---- event handlers ------------------------------------------------------ */

/* SIGHUP reloads; SIGTERM and SIGINT end the loop. */
static void on_signal(struct agent *a)
{
	struct signalfd_siginfo si;

	while (read(a->sfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			agent_reload(a);
			watch_exporter(a);
			continue;
		}
		pr_info("%s: draining and exporting everything before exit",
			strsignal(si.ssi_signo));
		a->stop = true;
	}
}

/* The scan timer: drain, expire, export. */
static void on_timer(struct agent *a)
{
	uint64_t ticks;

	if (read(a->tfd, &ticks, sizeof(ticks)) > 0)
		agent_scan(a, false);
}

/* A flow map is full: drain now. */
static void on_map_full(struct agent *a)
{
	if (flow_table_events_consume(a->ft) > 0) {
		pr_debug("map-full event: draining at once");
		agent_scan(a, false);
	}
}

static void agent_loop(struct agent *a)
{
	while (!a->stop) {
		struct epoll_event evs[8];
		int n, i;

		n = epoll_wait(a->epfd, evs, 8, 1000);
		if (n < 0 && errno != EINTR) {
			pr_err("epoll_wait: %s", strerror(errno));
			break;
		}
		for (i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == a->sfd)
				on_signal(a);
			else if (fd == a->tfd)
				on_timer(a);
			else if (fd == a->evfd)
				on_map_full(a);
			else if (fd == a->exfd && a->out.ex)
				ipfix_async_tick(a->out.ex);
		}
		if (n == 0 && a->out.ex)
			ipfix_async_tick(a->out.ex);
	}
}

/* Shutdown: everything counted so far leaves with a forced end. */
static void agent_drain_all(struct agent *a)
{
	agent_scan(a, true);
	if (a->out.ex && ipfix_async_flush(a->out.ex, SHUTDOWN_FLUSH_MS))
		pr_warn("some IPFIX records could not be sent before exit (counted as not sent)");
	outputs_metrics(a);
	if (a->journal) {
		struct flow_journal_stats js;

		flow_journal_get_stats(a->journal, &js);
		pr_debug("crash journal: %llu flow updates written, %llu flows freed, %llu not journaled, %.1f ms, %llu slots",
			 (unsigned long long)js.written,
			 (unsigned long long)js.forgotten,
			 (unsigned long long)js.failed, js.sync_ns / 1e6,
			 (unsigned long long)js.slots);
		/* everything was handed to the outputs: nothing to keep */
		flow_table_settle(a->ft);
		flow_journal_remove(a->journal);
		a->journal = NULL;
	}
	pr_info("agent stopped: %llu flow records expired over %llu scans",
		(unsigned long long)a->records, (unsigned long long)a->scans);
}

int agent_run(const struct agent_opts *opts)
{
	struct agent a = {
		.opts = opts, .epfd = -1, .sfd = -1, .tfd = -1, .evfd = -1,
		.exfd = -1, .lockfd = -1,
	};
	int err;

	err = agent_start(&a);
	if (!err) {
		agent_loop(&a);
		agent_drain_all(&a);
	}
	agent_stop(&a);
	return err;
}
