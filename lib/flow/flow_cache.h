/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Flow cache: the flows of every namespace as drained from the kernel
 * (segments merged per key), and their expiry (RFC 5470 style):
 *
 *   FIN or RST seen, then a short linger            -> flowEndReason 3
 *   no packet for the idle timeout                  -> 1
 *   active longer than the active timeout           -> 2 (the flow stays,
 *                                                      its counters restart)
 *   flow_cache_flush() (shutdown)                   -> 4
 *   map-full overflow, a catch-all per (ingress, egress, direction),
 *   or a segment the cache had no room for         -> 5
 *
 * Every packet handed to the cache leaves it in exactly one record.
 * Expired records go, in batches, to one callback; the cache knows nothing
 * of IPFIX or JSON.  Time is passed in by the caller (monotonic ns, the
 * clock of bpf_ktime_get_ns), so tests drive it with a fake clock; records
 * carry unix time converted with the clock pair of the last drain.
 *
 * Memory: 128 bytes per flow (struct fc_entry) + about 4-8 bytes of hash
 * buckets; expiry cost is proportional to the flows that are due (timer
 * wheel), not to the flows in the cache.  Not thread-safe.
 */
#ifndef FLOWCTL_FLOW_CACHE_H
#define FLOWCTL_FLOW_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "flow_abi.h"
#include "flow_record.h"
#include "flow_table.h"

/* Defaults (flow_cache_params_init); the config's own defaults of its
 * timer keys are these (config_cache_params()). */
#define FLOW_CACHE_IDLE_TIMEOUT_S	15
#define FLOW_CACHE_ACTIVE_TIMEOUT_S	60
#define FLOW_CACHE_FINISHED_DRAIN_S	1
#define FLOW_CACHE_END_LINGER_MS	1000
#define FLOW_CACHE_SCAN_INTERVAL_MS	1000
#define FLOW_CACHE_EMIT_BATCH		256

typedef void (*flow_emit_fn)(void *ctx, const struct flow_record *recs,
			     size_t n);

struct flow_cache_params {
	uint32_t idle_timeout_ms;	/* no packet for this long: 1 */
	uint32_t active_timeout_ms;	/* record older than this: 2 */
	/*
	 * Finished flows (FIN/RST) are exported on multiples of this period
	 * (timerFinishedDrainSeconds), after END_LINGER_MS.
	 */
	uint32_t finished_drain_ms;
	uint32_t end_linger_ms;		/* for the last ACK after a FIN */
	uint32_t scan_interval_ms;	/* agent: drain + expire period */
	uint32_t max_flows;		/* 0: no limit; beyond: reason 5 */
	/*
	 * Hash buckets to start with (0: a few): the sum of the namespaces'
	 * flow_ns_max_flows() spares the rehashes while the cache fills.
	 */
	uint32_t expected_flows;
	uint32_t emit_batch;		/* records per emit call */
	flow_emit_fn emit;		/* required */
	void *emit_ctx;
	/*
	 * Crash journal (lib/flow/flow_journal.c), optional.  When set, the cache
	 * tracks the entries merged since the last flow_cache_dirty_next()
	 * and, before each emit, calls this (ctx: emit_ctx) with the entry
	 * indexes of the records of the batch that the journal holds: forget
	 * them first, so that a crash between the two can lose a record but
	 * never export it twice.
	 */
	void (*journal_forget)(void *ctx, const uint32_t *idx, size_t n);
};

/* Every parameter to its default (emit and its context: NULL). */
void flow_cache_params_init(struct flow_cache_params *p);

struct flow_cache;

int flow_cache_new(const struct flow_cache_params *p, struct flow_cache **fcp);
/* Frees everything; flows still cached are NOT exported (flush first). */
void flow_cache_free(struct flow_cache *fc);

/*
 * The observation domain of namespace NETNS: returns its index (>= 0, used
 * by merge/overflow), adding it when new; the id is updated when it
 * changed (config reload).  -ENOMEM on failure.
 */
int flow_cache_domain(struct flow_cache *fc, const char *netns,
		      uint32_t obs_domain_id);

/* The realtime/monotonic pair of the last drain (record times). */
void flow_cache_set_clock(struct flow_cache *fc, const struct flow_clock *clk);

/*
 * Merge N drained segments of domain DOM.  NOW_NS: monotonic time of the
 * drain.  Segments the cache has no room for (max_flows, or no memory) are
 * exported at once with reason 5 (lack of resources): nothing is lost.
 */
void flow_cache_merge(struct flow_cache *fc, int dom,
		      const struct flow_key *keys,
		      const struct flow_value *vals, size_t n, uint64_t now_ns);

/*
 * PACKETS/OCTETS the meter could not put in a flow (map full) between
 * START_NS and END_NS: added to the catch-all of (DOM, KEY), exported
 * at the next flow_cache_expire with reason 5.
 */
void flow_cache_add_overflow(struct flow_cache *fc, int dom,
			     const struct flow_ifstats_key *key,
			     uint64_t packets, uint64_t octets,
			     uint64_t start_ns, uint64_t end_ns);

/* Export what is due at NOW_NS; returns the number of records emitted. */
size_t flow_cache_expire(struct flow_cache *fc, uint64_t now_ns);
/* Shutdown: export everything (reason 4, overflow 5) and empty the cache. */
size_t flow_cache_flush(struct flow_cache *fc, uint64_t now_ns);
/*
 * A namespace gone or re-created: export and drop everything of domain
 * NETNS (reason 4, overflow 5) so a new namespace of the same name starts
 * from nothing.  Returns the records; *PACKETS: their packets (or NULL).
 */
size_t flow_cache_flush_domain(struct flow_cache *fc, const char *netns,
			       uint64_t *packets);

struct flow_cache_stats {
	uint64_t flows;			/* in the cache now */
	uint64_t segments;		/* merged since creation */
	uint64_t created;		/* flows created */
	uint64_t records[6];		/* emitted, by end reason (1..5) */
	uint64_t rejected;		/* segments exported at once (5) */
	uint64_t bytes;			/* memory held by the cache */
};

void flow_cache_get_stats(const struct flow_cache *fc,
			  struct flow_cache_stats *st);
size_t flow_cache_count(const struct flow_cache *fc);
/* Bytes of one cached flow (the entry, without the hash buckets). */
size_t flow_cache_entry_size(void);

/* The name of domain DOM (NULL when there is none). */
const char *flow_cache_domain_name(const struct flow_cache *fc, int dom);

/*
 * Crash journal: up to MAX entries merged since they were last returned:
 * entry index (stable while the flow is cached, < 2^32), domain, key and
 * unexported counters (packets, octets, first and last seen, flags, TTLs
 * as a flow_value); from then on counted as in the journal (forgotten
 * through params.journal_forget when exported).  0 when there are no
 * more.  Only with params.journal_forget.
 */
size_t flow_cache_dirty_next(struct flow_cache *fc, uint32_t *idx,
			     uint32_t *doms, struct flow_key *keys,
			     struct flow_value *vals, size_t max);
/* No journal after all (it could not be opened): stop tracking. */
void flow_cache_journal_stop(struct flow_cache *fc);

/*
 * Drain consumer feeding a cache (ctx: the struct flow_cache *): begin
 * sets the clock, flows are merged, overflow deltas go to the catch-all.
 * Agents that also need ifstats (metrics) call these from their own ops.
 */
extern const struct flow_drain_ops flow_cache_drain_ops;

#endif
