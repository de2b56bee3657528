/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Flow table: user-space access to the maps the in-kernel meter pins under
 * <pin root>/<NETNS>/tc/globals/ (flow_abi.h), for every metered namespace.
 *
 * Drain (the agent, every scan): flip flow_ctl.active in every namespace,
 * wait once until every BPF program that may have read the old index has
 * returned (an update of a private ARRAY_OF_MAPS makes the kernel call
 * synchronize_rcu()), then empty the now idle buffers with
 * bpf_map_lookup_and_delete_batch.  No program writes an idle buffer, so
 * every packet is handed over exactly once.  See docs/flowcache.md.
 *
 * Not thread-safe: one thread uses a flow table (the table runs the
 * callbacks in threads of its own, one at a time, see struct
 * flow_drain_ops; opts.workers: the namespaces are drained in parallel).  Two
 * processes draining the same namespace are serialised by flock() on its
 * tc/globals directory.
 */
#ifndef FLOWCTL_FLOW_TABLE_H
#define FLOWCTL_FLOW_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow_abi.h"
#include "rundir.h"

/* Overrides FLOW_PIN_ROOT (tests use a private directory on bpffs). */
#define FLOW_PIN_ROOT_ENV	"FLOWCTL_PIN_ROOT"
/* Where the agent keeps the overflow totals it has exported (tmpfs). */
#define FLOW_TABLE_STATE_DIR	FLOWCTL_RUN_DIR "/state"
/* Grace period used when the kernel cannot be asked to synchronise. */
#define FLOW_GRACE_FALLBACK_MS	20
/* Entries per batch system call. */
#define FLOW_TABLE_BATCH	8192
/* Most threads one drain uses. */
#define FLOW_TABLE_MAX_WORKERS	64
/*
 * A namespace is cut into bucket ranges for a parallel drain only from
 * this many hash buckets per buffer (4 M flows): below, on the machine
 * measured (docs/benchmarks.md), ranges cost more than they gave.
 */
#define FLOW_TABLE_RANGE_MIN_BUCKETS	(1U << 22)

/*
 * A CLOCK_REALTIME / CLOCK_MONOTONIC pair read back to back: converts
 * bpf_ktime_get_ns() (CLOCK_MONOTONIC) to unix time.
 */
struct flow_clock {
	uint64_t real_ns;
	uint64_t mono_ns;
};

void flow_clock_now(struct flow_clock *clk);
/* Unix ns of monotonic MONO_NS (0 stays 0: "never"). */
uint64_t flow_clock_to_unix_ns(const struct flow_clock *clk, uint64_t mono_ns);

/* The pin root: PIN_ROOT if set, else $FLOWCTL_PIN_ROOT, else FLOW_PIN_ROOT. */
const char *flow_pin_root(const char *pin_root);

struct flow_table;
struct flow_ns;		/* one metered namespace (one pin directory) */

struct flow_table_opts {
	/* NULL: $FLOWCTL_PIN_ROOT, else FLOW_PIN_ROOT */
	const char *pin_root;
	/*
	 * Directory where the overflow totals already handed over are kept
	 * across agent restarts (FLOW_TABLE_STATE_DIR for the agent); NULL:
	 * not kept, overflow counted since the meter was attached is handed
	 * over at the first drain.
	 */
	const char *state_dir;
	/* Observation domain of a namespace; NULL: obs_domain_default */
	uint32_t (*obs_domain_id)(void *ctx, const char *netns);
	void *obs_domain_ctx;
	/* Readers (dump, flush) need no grace-period map. */
	bool no_drain;
	/* Entries per batch syscall; 0: FLOW_TABLE_BATCH. */
	unsigned int batch;
	/* Call ops->flows from the draining thread only (see the ops). */
	bool no_worker;
	/*
	 * Threads that drain the namespaces after the grace period, a
	 * namespace (or a range of the buckets of one) at a time; the
	 * calling thread is one of them.  0: one per online CPU (1 with
	 * no_worker); 1: the calling thread alone (with the flows() worker
	 * beside it unless no_worker).
	 */
	unsigned int workers;
	/* Buckets from which a namespace is drained in ranges; 0: default. */
	unsigned int range_min_buckets;
	/* Only this namespace (pin dir name); NULL: every one. */
	const char *netns;
};

/*
 * Open the flow table and discover the namespaces (flow_table_rescan).
 * OPTS may be NULL.  Returns 0 or -errno; a namespace whose pins do not
 * match flow_abi.h is reported and left out, it does not fail the open
 * (flow_table_rescan's return value tells).
 */
int flow_table_open(const struct flow_table_opts *opts, struct flow_table **ftp);
/* Closes every map; namespaces still holding flows are NOT drained. */
void flow_table_close(struct flow_table *ft);

/*
 * Look for namespaces again (the agent calls it every scan): new pin
 * directories are opened, namespaces whose pins disappeared or were
 * replaced are marked gone: the next drain empties both of their buffers
 * one last time and forgets them.  So are namespaces whose pins record an
 * identity (bpffs.h) that is no longer the one of the namespace of that
 * name (deleted, or re-created): stale; after their last drain the table
 * removes their pins and overflow state, and calls ops->stale.  Returns 0, or the last -errno of a
 * namespace that could not be opened (size mismatch: -EPROTO; the others
 * are kept).  Errors of one namespace are printed once, not every scan.
 */
int flow_table_rescan(struct flow_table *ft);

const char *flow_table_pin_root(const struct flow_table *ft);
size_t flow_table_ns_count(const struct flow_table *ft);
/* Threads that drain after a flip (opts.workers, 0 resolved). */
unsigned int flow_table_workers(const struct flow_table *ft);
struct flow_ns *flow_table_ns(struct flow_table *ft, size_t i);
struct flow_ns *flow_table_ns_find(struct flow_table *ft, const char *name);

const char *flow_ns_name(const struct flow_ns *ns);	/* pin dir name */
uint32_t flow_ns_obs_domain_id(const struct flow_ns *ns);
/* Max entries of flows_0 (the meter's -l). */
uint32_t flow_ns_max_flows(const struct flow_ns *ns);
/*
 * Interval covered by the current drain of NS (valid inside the drain
 * callbacks): monotonic ns of the previous drain (or of the open) and of
 * this one.
 */
void flow_ns_interval(const struct flow_ns *ns, uint64_t *start_ns,
		      uint64_t *end_ns);

/*
 * Drain consumer.  Every callback may be NULL.  Pointers are valid only
 * during the call.  Callbacks must not call back into the flow table.
 * flows() runs in a thread of the table (unless opts.no_worker and
 * opts.workers 1), beside the kernel draining the next batch; with several
 * drain threads the flows() of different namespaces (or of parts of one)
 * interleave in any order, and the ifstats/counters/stale of a namespace
 * come after all of its flows().  The callbacks never run at the same time
 * as each other or after flow_table_drain returns, so a consumer that is
 * only used from the drain needs no locking.
 */
struct flow_drain_ops {
	/* Once per drain, after the grace period, before any data. */
	void (*begin)(void *ctx, const struct flow_clock *clk);
	/* N flow segments drained from NS (keys and values as in the map). */
	void (*flows)(void *ctx, const struct flow_ns *ns,
		      const struct flow_key *keys,
		      const struct flow_value *vals, size_t n);
	/*
	 * One flow_ifstats entry: TOTAL as the kernel counts it (since the
	 * map was created), DELTA since the previous drain.  Baselines: the
	 * metering totals start from the values seen when the namespace was
	 * opened; the overflow counters from what was handed over before
	 * (state_dir) or from zero (see docs/flowcache.md).
	 */
	void (*ifstats)(void *ctx, const struct flow_ns *ns,
			const struct flow_ifstats_key *key,
			const struct flow_ifstats_value *total,
			const struct flow_ifstats_value *delta);
	/*
	 * NS was stale (WHY: "deleted" or "re-created"): its last drain is
	 * done (SEGMENTS and PACKETS in it, already handed to flows()) and
	 * its pins are removed (UNPINNED false: someone else did, or they
	 * could not be).  Called right after that namespace, before the
	 * next one is drained.
	 */
	void (*stale)(void *ctx, const struct flow_ns *ns, const char *why,
		      uint64_t segments, uint64_t packets, bool unpinned);
	/* flow_counters summed over the CPUs: total and delta. */
	void (*counters)(void *ctx, const struct flow_ns *ns,
			 const struct flow_counters *total,
			 const struct flow_counters *delta);
	/*
	 * Deferred deletion (PERSIST set; CLEARED may be NULL): the drain
	 * reads the buffers without deleting anything.  Once every segment
	 * of the buffers MAP_IDS (map ids, at most FLOW_TABLE_PERSIST_MAX)
	 * is handed to flows(), PERSIST makes them durable (the agent's
	 * crash journal) and notes the ids; then the table empties those
	 * buffers and calls CLEARED.  A consumer killed in between finds
	 * the ids again and empties them itself (flow_table_clear_map_id)
	 * instead of draining their segments twice: so no segment is lost
	 * or counted twice whenever the consumer dies.  Stale namespaces
	 * get ops->stale after the emptying.  Large namespaces are not
	 * drained in bucket ranges then (a read-only batch may cross
	 * into the next range).  The emptying at the end of a drain goes on
	 * in a thread of the table after flow_table_drain returns; CLEARED
	 * is called by the next flow_table_drain or flow_table_settle
	 * (never by flow_table_close: the ids stay noted, and emptying an
	 * empty buffer again costs nothing).
	 */
	void (*persist)(void *ctx, const uint32_t *map_ids, size_t n);
	void (*cleared)(void *ctx);
	/* Once per drain, after everything. */
	void (*end)(void *ctx);
};

#define FLOW_TABLE_PERSIST_MAX	4096

/*
 * Wait until the buffers of the last drain are emptied (deferred
 * deletion) and call its ops->cleared.  Returns 0 or the -errno of the
 * emptying.
 */
int flow_table_settle(struct flow_table *ft);

/*
 * Empty the flow buffer of map id ID, if that id is still a flow buffer
 * (it must have no writer: idle since a drain).  *REMOVED (may be NULL):
 * entries deleted.  Returns 0, -ENOENT (no such map any more), -EPROTO
 * (the id is another kind of map) or -errno.
 */
int flow_table_clear_map_id(uint32_t id, uint64_t *removed);

struct flow_drain_stats {
	uint64_t flows;			/* segments handed over */
	uint64_t grace_ns;		/* waiting for running programs */
	uint64_t total_ns;		/* the whole drain */
	struct flow_clock clock;	/* pair taken at this drain */
	unsigned int namespaces;	/* namespaces drained */
	bool synced;			/* synchronize_rcu, not a sleep */
};

/*
 * Flip, wait, drain every namespace; hand everything to OPS.  Returns 0, or
 * the last -errno (the other namespaces are still drained).  ST may be NULL.
 */
int flow_table_drain(struct flow_table *ft, const struct flow_drain_ops *ops,
		     void *ctx, struct flow_drain_stats *st);

/*
 * Wait until every BPF program running now has returned (the grace period
 * of the drain).  Returns the time it took in ns.
 */
uint64_t flow_table_grace(struct flow_table *ft);
/* Does the grace period use synchronize_rcu (false: a fixed sleep)? */
bool flow_table_grace_synced(const struct flow_table *ft);

struct flow_entry {
	struct flow_key key;
	struct flow_value val;
};

/* Merge SRC into DST (sums, flags OR, min/max TTL, first/last seen). */
void flow_value_merge(struct flow_value *dst, const struct flow_value *src);

/*
 * Read both buffers of NS without changing them (bpf_map_lookup_batch) and
 * merge them per key.  *ENTRIES is malloc'ed (free it), sorted by key.
 */
int flow_table_snapshot(struct flow_table *ft, struct flow_ns *ns,
			struct flow_entry **entries, size_t *n);

/* Which fields of flow_match.key must match (flush). */
#define FLOW_MATCH_IIF		(1U << 0)
#define FLOW_MATCH_PROTO	(1U << 1)
#define FLOW_MATCH_SADDR	(1U << 2)
#define FLOW_MATCH_SPORT	(1U << 3)
#define FLOW_MATCH_DADDR	(1U << 4)
#define FLOW_MATCH_DPORT	(1U << 5)

struct flow_match {
	unsigned int fields;	/* FLOW_MATCH_*; 0 matches everything */
	struct flow_key key;	/* as in the map: mapped IPv4, ports BE */
};

bool flow_match_key(const struct flow_match *m, const struct flow_key *k);

/*
 * Delete the entries of NS matching M (NULL: all) from both buffers and
 * both hooks.  *REMOVED: entries deleted.  Returns 0 or -errno.
 */
int flow_table_flush(struct flow_table *ft, struct flow_ns *ns,
		     const struct flow_match *m, uint64_t *removed);

/*
 * Map-full events (flow_events ring buffers of every namespace): a
 * pollable fd that stays the same for the life of the table (-1 when no
 * ring buffer could be opened), and the consumer: returns the number of
 * FLOW_EV_MAP_FULL events read (drain at once when > 0) or -errno.
 */
int flow_table_events_fd(const struct flow_table *ft);
int flow_table_events_consume(struct flow_table *ft);

#endif
