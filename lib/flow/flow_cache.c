// SPDX-License-Identifier: Apache-2.0
/*
 * Flow cache and expiry (flow_cache.h).
 *
 * Entries live in chunks of 64 Ki entries addressed by 32-bit indexes (no
 * pointer per link, no copy when growing).  A chained hash table of bucket
 * heads finds them.  Expiry uses a timer wheel of 4096 slots of 2^26 ns
 * (67 ms, 275 s per turn): an entry is filed under its earliest deadline;
 * when packets push the deadline later the entry is not moved (that would
 * cost on every merge) but refiled when its slot comes up.  Only a deadline
 * that moves earlier (FIN/RST seen) moves it at once.  So each tick costs
 * the entries filed in the slots that passed, not the whole cache.
 */
#include "flow_cache.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define FC_NIL		UINT32_MAX
#define FC_CHUNK_SHIFT	16
#define FC_CHUNK	(1U << FC_CHUNK_SHIFT)
#define FC_WHEEL_BITS	12
#define FC_WHEEL	(1U << FC_WHEEL_BITS)
#define FC_SLOT_SHIFT	26		/* 2^26 ns = 67.1 ms per slot */
#define FC_NO_SLOT	UINT16_MAX
#define FC_TCP_FLAGS	0x0fff		/* tcpControlBits, no data offset */
#define MS		1000000ULL

/* fc_entry.used: in use; merged since the last journal sync; journaled */
#define FC_USED		0x01
#define FC_DIRTY	0x02
#define FC_JOURNALED	0x04

struct fc_entry {
	struct flow_key key;
	uint32_t dom;
	uint32_t hnext;			/* hash chain, or free list */
	uint64_t packets;		/* since the last export */
	uint64_t octets;
	uint64_t first_ns;		/* first packet of this record */
	uint64_t last_ns;		/* last packet of the flow */
	uint64_t end_ns;		/* when FIN/RST was learned, or 0 */
	uint64_t sched_ns;		/* deadline it is filed under */
	uint32_t wnext;			/* timer wheel slot list */
	uint32_t wprev;
	uint16_t tcp_flags;
	uint8_t min_ttl;
	uint8_t max_ttl;
	uint8_t flags;			/* FLOW_F_* */
	uint8_t used;			/* FC_USED, FC_DIRTY, FC_JOURNALED */
	uint16_t wslot;			/* FC_NO_SLOT when not filed */
};

_Static_assert(sizeof(struct fc_entry) == 128, "one cache line pair");

/*
 * Forwarding latency of an entry (meter attach --latency): a side table
 * indexed like the entries, a chunk allocated when a flow of it first
 * carries a measurement, so the entries stay 128 bytes and a cache without
 * latency costs nothing.  Reset when an entry is created, taken when it is
 * emitted.
 */
struct fc_latency {
	uint64_t sum_ns;
	uint64_t count;
};

struct fc_domain {
	char *name;
	uint32_t obs_domain_id;
};

struct fc_overflow {
	struct flow_ifstats_key key;
	uint32_t dom;
	bool used;
	bool pending;
	uint64_t packets;
	uint64_t octets;
	uint64_t start_ns;
	uint64_t end_ns;
};

struct flow_cache {
	struct flow_cache_params p;
	uint64_t idle_ns;
	uint64_t active_ns;
	uint64_t finished_ns;
	uint64_t linger_ns;

	struct fc_entry **chunks;
	size_t nchunks;
	struct fc_latency **lat;	/* per chunk, NULL until needed */
	size_t nlat;
	uint32_t next_unused;		/* entries ever handed out */
	uint32_t free_head;
	uint64_t count;

	uint32_t *buckets;
	uint32_t bucket_mask;

	uint32_t wheel[FC_WHEEL];
	uint64_t wheel_pos;		/* next slot (absolute) to process */
	bool wheel_started;

	struct fc_domain *doms;
	size_t ndoms;

	struct fc_overflow *ovf;
	size_t ovf_cap;
	size_t ovf_n;

	struct flow_clock clock;
	uint64_t drain_now;		/* mono time of the drain (ops) */

	struct flow_record *out;
	size_t nout;
	/*
	 * Crash journal (params.journal_forget set): the flows of the
	 * records in OUT that the journal holds, forgotten before the emit;
	 * the entries merged since the last sync (may repeat, may be stale).
	 */
	uint32_t *out_jidx;
	size_t nout_j;
	uint32_t *dirty;
	size_t ndirty, dirty_cap, dirty_pos;

	struct flow_cache_stats st;
};

static inline struct fc_entry *E(const struct flow_cache *fc, uint32_t i)
{
	return &fc->chunks[i >> FC_CHUNK_SHIFT][i & (FC_CHUNK - 1)];
}

/* ---- params ---------------------------------------------------------- */

void flow_cache_params_init(struct flow_cache_params *p)
{
	memset(p, 0, sizeof(*p));
	p->idle_timeout_ms = FLOW_CACHE_IDLE_TIMEOUT_S * 1000;
	p->active_timeout_ms = FLOW_CACHE_ACTIVE_TIMEOUT_S * 1000;
	p->finished_drain_ms = FLOW_CACHE_FINISHED_DRAIN_S * 1000;
	p->end_linger_ms = FLOW_CACHE_END_LINGER_MS;
	p->scan_interval_ms = FLOW_CACHE_SCAN_INTERVAL_MS;
	p->emit_batch = FLOW_CACHE_EMIT_BATCH;
}

/* ---- records --------------------------------------------------------- */

static void out_flush(struct flow_cache *fc)
{
	if (!fc->nout)
		return;
	/* journal first: a crash in between loses, never doubles, a record */
	if (fc->nout_j && fc->p.journal_forget)
		fc->p.journal_forget(fc->p.emit_ctx, fc->out_jidx,
				     fc->nout_j);
	fc->nout_j = 0;
	fc->p.emit(fc->p.emit_ctx, fc->out, fc->nout);
	fc->nout = 0;
}

/* The record just added to OUT is of entry I, which the journal holds. */
static void out_journaled(struct flow_cache *fc, uint32_t i)
{
	if (fc->out_jidx)
		fc->out_jidx[fc->nout_j++] = i;
}

static struct flow_record *out_slot(struct flow_cache *fc, uint8_t reason)
{
	struct flow_record *r;

	if (fc->nout == fc->p.emit_batch)
		out_flush(fc);
	r = &fc->out[fc->nout++];
	memset(r, 0, sizeof(*r));
	r->end_reason = reason;
	fc->st.records[reason]++;
	return r;
}

static void record_key(struct flow_cache *fc, struct flow_record *r,
		       const struct flow_key *k, uint32_t dom)
{
	r->ingress_ifindex = k->ingress_ifindex;
	r->egress_ifindex = k->egress_ifindex;
	memcpy(r->src_addr, k->src_addr, sizeof(r->src_addr));
	memcpy(r->dst_addr, k->dst_addr, sizeof(r->dst_addr));
	r->sport = ntohs(k->sport);
	r->dport = ntohs(k->dport);
	r->vlan_id = k->vlan_id;
	r->proto = k->proto;
	r->tos = k->tos;
	r->direction = k->direction;
	r->ip_version = k->ip_version;
	r->mark = k->mark;
	r->obs_domain_id = fc->doms[dom].obs_domain_id;
	r->netns = fc->doms[dom].name;
}

/* The latency slot of entry I; NULL when it has none and !CREATE. */
static struct fc_latency *lat_slot(struct flow_cache *fc, uint32_t i,
				   bool create)
{
	size_t c = i >> FC_CHUNK_SHIFT;

	if (c >= fc->nlat) {
		struct fc_latency **nl;

		if (!create)
			return NULL;
		nl = realloc(fc->lat, fc->nchunks * sizeof(*nl));
		if (!nl)
			return NULL;
		memset(nl + fc->nlat, 0, (fc->nchunks - fc->nlat) * sizeof(*nl));
		fc->lat = nl;
		fc->nlat = fc->nchunks;
	}
	if (!fc->lat[c]) {
		if (!create)
			return NULL;
		fc->lat[c] = calloc(FC_CHUNK, sizeof(struct fc_latency));
		if (!fc->lat[c])
			return NULL;
		fc->st.bytes += FC_CHUNK * sizeof(struct fc_latency);
	}
	return &fc->lat[c][i & (FC_CHUNK - 1)];
}

/* A segment's measurements into entry I (lost without memory: said by
 * the missing latency fields, never by wrong ones). */
static void lat_add(struct flow_cache *fc, uint32_t i,
		    const struct flow_value *v)
{
	struct fc_latency *l = lat_slot(fc, i, true);

	if (l) {
		l->sum_ns += v->latency_sum_ns;
		l->count += v->latency_count;
	}
}

/* A new entry I starts without measurements. */
static void lat_reset(struct flow_cache *fc, uint32_t i)
{
	struct fc_latency *l = lat_slot(fc, i, false);

	if (l)
		l->sum_ns = l->count = 0;
}

/* Into the record R of entry I; the next record counts from zero. */
static void lat_take(struct flow_cache *fc, uint32_t i, struct flow_record *r)
{
	struct fc_latency *l = lat_slot(fc, i, false);

	if (!l)
		return;
	r->latency_sum_ns = l->sum_ns;
	r->latency_count = l->count;
	l->sum_ns = l->count = 0;
}

static void emit_entry(struct flow_cache *fc, uint32_t i, uint8_t reason)
{
	struct fc_entry *e = E(fc, i);
	struct flow_record *r = out_slot(fc, reason);

	record_key(fc, r, &e->key, e->dom);
	r->packets = e->packets;
	r->octets = e->octets;
	r->start_ns = flow_clock_to_unix_ns(&fc->clock, e->first_ns);
	r->end_ns = flow_clock_to_unix_ns(&fc->clock, e->last_ns);
	r->tcp_flags = e->tcp_flags;
	r->min_ttl = e->min_ttl;
	r->max_ttl = e->max_ttl;
	r->finished = !!(e->flags & FLOW_F_END_SEEN);
	lat_take(fc, i, r);
	if (e->used & FC_JOURNALED) {
		out_journaled(fc, i);
		/* removed or restarting from zero: out of the journal */
		e->used &= ~FC_JOURNALED;
	}
}

/* A segment the cache cannot hold: exported on its own (reason 5). */
static void emit_segment(struct flow_cache *fc, uint32_t dom,
			 const struct flow_key *k, const struct flow_value *v)
{
	struct flow_record *r = out_slot(fc, FLOW_END_LACK_OF_RESOURCES);

	record_key(fc, r, k, dom);
	r->packets = v->packets;
	r->octets = v->octets;
	r->start_ns = flow_clock_to_unix_ns(&fc->clock, v->first_seen_ns);
	r->end_ns = flow_clock_to_unix_ns(&fc->clock, v->last_seen_ns);
	r->tcp_flags = v->tcp_flags & FC_TCP_FLAGS;
	r->min_ttl = v->min_ttl;
	r->max_ttl = v->max_ttl;
	r->finished = !!(v->flags & FLOW_F_END_SEEN);
	r->latency_count = v->latency_count;
	r->latency_sum_ns = v->latency_sum_ns;
	fc->st.rejected++;
}

/* ---- entries and the hash table -------------------------------------- */

static inline uint64_t mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static inline uint64_t key_hash(const struct flow_key *k, uint32_t dom)
{
	uint64_t w[sizeof(*k) / 8], h = 0x9e3779b97f4a7c15ULL ^ dom;
	unsigned int i;

	_Static_assert(sizeof(*k) % 8 == 0, "flow_key in 64-bit words");
	memcpy(w, k, sizeof(*k));
	for (i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		h ^= w[i] * 0x87c37b91114253d5ULL;
		h = (h << 31 | h >> 33) * 0x4cf5ad432745937fULL;
	}
	return mix64(h);
}

/*
 * 8 MiB of entries; pages are touched as entries are used.  (Transparent
 * huge pages were tried: fewer TLB misses at a million flows, but the
 * faults stall for compaction and cost more than they save.)
 */
static struct fc_entry *chunk_alloc(void)
{
	return malloc(FC_CHUNK * sizeof(struct fc_entry));
}

static int entry_alloc(struct flow_cache *fc, uint32_t *idx)
{
	uint32_t i;

	if (fc->free_head != FC_NIL) {
		i = fc->free_head;
		fc->free_head = E(fc, i)->hnext;
		*idx = i;
		return 0;
	}
	if (fc->next_unused == FC_NIL)
		return -ENOSPC;
	if ((fc->next_unused >> FC_CHUNK_SHIFT) >= fc->nchunks) {
		struct fc_entry **c2, *chunk;

		c2 = realloc(fc->chunks, (fc->nchunks + 1) * sizeof(*c2));
		if (!c2)
			return -ENOMEM;
		fc->chunks = c2;
		chunk = chunk_alloc();
		if (!chunk)
			return -ENOMEM;
		fc->chunks[fc->nchunks++] = chunk;
		fc->st.bytes += FC_CHUNK * sizeof(*chunk);
	}
	*idx = fc->next_unused++;
	return 0;
}

static void entry_release(struct flow_cache *fc, uint32_t i)
{
	struct fc_entry *e = E(fc, i);

	e->used = 0;
	e->hnext = fc->free_head;
	fc->free_head = i;
}

/*
 * Twice the buckets.  The entries are walked in memory order, not chain by
 * chain: sequential reads instead of a cache miss per entry.
 */
static int buckets_grow(struct flow_cache *fc)
{
	uint32_t nmask = fc->bucket_mask * 2 + 1, *nb, i;

	nb = malloc(((size_t)nmask + 1) * sizeof(*nb));
	if (!nb)
		return -ENOMEM;
	memset(nb, 0xff, ((size_t)nmask + 1) * sizeof(*nb));
	for (i = 0; i < fc->next_unused; i++) {
		struct fc_entry *e = E(fc, i);
		uint32_t b;

		if (!e->used)
			continue;
		b = key_hash(&e->key, e->dom) & nmask;
		e->hnext = nb[b];
		nb[b] = i;
	}
	fc->st.bytes += ((size_t)nmask - fc->bucket_mask) * sizeof(*nb);
	free(fc->buckets);
	fc->buckets = nb;
	fc->bucket_mask = nmask;
	return 0;
}

static void hash_remove(struct flow_cache *fc, uint32_t i)
{
	struct fc_entry *e = E(fc, i);
	uint32_t *link = &fc->buckets[key_hash(&e->key, e->dom) &
				      fc->bucket_mask];

	while (*link != i)
		link = &E(fc, *link)->hnext;
	*link = e->hnext;
}

/* ---- timer wheel ----------------------------------------------------- */

static void wheel_start(struct flow_cache *fc, uint64_t now)
{
	if (!fc->wheel_started) {
		fc->wheel_pos = now >> FC_SLOT_SHIFT;
		fc->wheel_started = true;
	}
}

static void wheel_link(struct flow_cache *fc, uint32_t i, uint64_t deadline)
{
	struct fc_entry *e = E(fc, i);
	uint64_t abs = deadline >> FC_SLOT_SHIFT;
	uint16_t slot;

	/* a deadline already behind the wheel goes to the next slot due */
	if (abs < fc->wheel_pos)
		abs = fc->wheel_pos;
	slot = abs & (FC_WHEEL - 1);
	e->sched_ns = deadline;
	e->wslot = slot;
	e->wprev = FC_NIL;
	e->wnext = fc->wheel[slot];
	if (e->wnext != FC_NIL)
		E(fc, e->wnext)->wprev = i;
	fc->wheel[slot] = i;
}

static void wheel_unlink(struct flow_cache *fc, uint32_t i)
{
	struct fc_entry *e = E(fc, i);

	if (e->wslot == FC_NO_SLOT)
		return;
	if (e->wprev != FC_NIL)
		E(fc, e->wprev)->wnext = e->wnext;
	else
		fc->wheel[e->wslot] = e->wnext;
	if (e->wnext != FC_NIL)
		E(fc, e->wnext)->wprev = e->wprev;
	e->wslot = FC_NO_SLOT;
}

static uint64_t end_deadline(const struct flow_cache *fc,
			     const struct fc_entry *e)
{
	uint64_t d = (e->end_ns > e->last_ns ? e->end_ns : e->last_ns) +
		     fc->linger_ns;

	/* finished flows go out together, every finished_drain period */
	if (fc->finished_ns)
		d = (d + fc->finished_ns - 1) / fc->finished_ns *
		    fc->finished_ns;
	return d;
}

static uint64_t entry_deadline(const struct flow_cache *fc,
			       const struct fc_entry *e)
{
	uint64_t d = e->last_ns + fc->idle_ns;

	if (e->packets && e->first_ns + fc->active_ns < d)
		d = e->first_ns + fc->active_ns;
	if (e->flags & FLOW_F_END_SEEN) {
		uint64_t de = end_deadline(fc, e);

		if (de < d)
			d = de;
	}
	return d;
}

/* ---- create / free --------------------------------------------------- */

int flow_cache_new(const struct flow_cache_params *p, struct flow_cache **fcp)
{
	struct flow_cache *fc;
	int err = -ENOMEM;

	if (!p->emit || !p->idle_timeout_ms || !p->active_timeout_ms) {
		pr_err("flow cache: an emit callback and non-zero timeouts "
		       "are required");
		return -EINVAL;
	}
	fc = calloc(1, sizeof(*fc));
	if (!fc)
		return -ENOMEM;
	fc->p = *p;
	if (!fc->p.emit_batch)
		fc->p.emit_batch = FLOW_CACHE_EMIT_BATCH;
	fc->idle_ns = p->idle_timeout_ms * MS;
	fc->active_ns = p->active_timeout_ms * MS;
	fc->finished_ns = p->finished_drain_ms * MS;
	fc->linger_ns = p->end_linger_ms * MS;
	fc->free_head = FC_NIL;
	memset(fc->wheel, 0xff, sizeof(fc->wheel));
	fc->bucket_mask = 1023;
	while (fc->bucket_mask + 1ULL < p->expected_flows &&
	       fc->bucket_mask < (1U << 30) - 1)
		fc->bucket_mask = fc->bucket_mask * 2 + 1;
	fc->buckets = malloc((fc->bucket_mask + 1ULL) * sizeof(*fc->buckets));
	fc->out = calloc(fc->p.emit_batch, sizeof(*fc->out));
	if (!fc->buckets || !fc->out)
		goto out;
	if (p->journal_forget) {
		fc->out_jidx = calloc(fc->p.emit_batch, sizeof(*fc->out_jidx));
		if (!fc->out_jidx)
			goto out;
	}
	memset(fc->buckets, 0xff,
	       (fc->bucket_mask + 1ULL) * sizeof(*fc->buckets));
	fc->st.bytes = sizeof(*fc) + (fc->bucket_mask + 1ULL) * 4 +
		       fc->p.emit_batch * sizeof(*fc->out);
	err = 0;
out:
	if (err) {
		flow_cache_free(fc);
		return err;
	}
	*fcp = fc;
	return 0;
}

void flow_cache_free(struct flow_cache *fc)
{
	size_t i;

	if (!fc)
		return;
	for (i = 0; i < fc->nchunks; i++)
		free(fc->chunks[i]);
	free(fc->chunks);
	for (i = 0; i < fc->nlat; i++)
		free(fc->lat[i]);
	free(fc->lat);
	free(fc->buckets);
	for (i = 0; i < fc->ndoms; i++)
		free(fc->doms[i].name);
	free(fc->doms);
	free(fc->ovf);
	free(fc->out);
	free(fc->out_jidx);
	free(fc->dirty);
	free(fc);
}

int flow_cache_domain(struct flow_cache *fc, const char *netns,
		      uint32_t obs_domain_id)
{
	struct fc_domain *d;
	size_t i;

	for (i = 0; i < fc->ndoms; i++) {
		if (!strcmp(fc->doms[i].name, netns)) {
			fc->doms[i].obs_domain_id = obs_domain_id;
			return i;
		}
	}
	d = realloc(fc->doms, (fc->ndoms + 1) * sizeof(*d));
	if (!d)
		return -ENOMEM;
	fc->doms = d;
	d[fc->ndoms].name = strdup(netns);
	if (!d[fc->ndoms].name)
		return -ENOMEM;
	d[fc->ndoms].obs_domain_id = obs_domain_id;
	return fc->ndoms++;
}

void flow_cache_set_clock(struct flow_cache *fc, const struct flow_clock *clk)
{
	fc->clock = *clk;
}

/* ---- merge ----------------------------------------------------------- */

static void entry_add(struct fc_entry *e, const struct flow_value *v,
		      uint64_t now)
{
	if (!e->packets) {
		/* a new record starts (new flow, or after an export) */
		e->first_ns = v->first_seen_ns;
		e->min_ttl = v->min_ttl;
		e->max_ttl = v->max_ttl;
	} else {
		if (v->first_seen_ns && v->first_seen_ns < e->first_ns)
			e->first_ns = v->first_seen_ns;
		if (v->min_ttl < e->min_ttl)
			e->min_ttl = v->min_ttl;
		if (v->max_ttl > e->max_ttl)
			e->max_ttl = v->max_ttl;
	}
	e->packets += v->packets;
	e->octets += v->octets;
	e->tcp_flags |= v->tcp_flags & FC_TCP_FLAGS;
	e->flags |= v->flags;
	if (v->last_seen_ns > e->last_ns)
		e->last_ns = v->last_seen_ns;
	if ((v->flags & FLOW_F_END_SEEN) && !e->end_ns)
		e->end_ns = now;
}

/* With a journal: a merged entry is dirty (written at the next sync). */
static void entry_mark(struct flow_cache *fc, uint32_t i)
{
	struct fc_entry *e = E(fc, i);

	if (!fc->p.journal_forget)
		return;
	if (e->used & FC_DIRTY)
		return;
	if (fc->ndirty == fc->dirty_cap) {
		size_t ncap = fc->dirty_cap ? fc->dirty_cap * 2 : 4096;
		uint32_t *nd = realloc(fc->dirty, ncap * sizeof(*nd));

		/* no memory: not journaled (lost if the agent is killed) */
		if (!nd)
			return;
		fc->st.bytes += (ncap - fc->dirty_cap) * sizeof(*nd);
		fc->dirty = nd;
		fc->dirty_cap = ncap;
	}
	fc->dirty[fc->ndirty++] = i;
	e->used |= FC_DIRTY;
}

/* Merge one segment; H is the hash of its key. */
static void merge_one(struct flow_cache *fc, uint32_t dom, uint64_t h,
		      const struct flow_key *k, const struct flow_value *v,
		      uint64_t now_ns)
{
	uint32_t *head = &fc->buckets[h & fc->bucket_mask];
	struct fc_entry *e = NULL;
	uint32_t i;

	for (i = *head; i != FC_NIL; i = e->hnext) {
		e = E(fc, i);
		if (e->dom == dom && !memcmp(&e->key, k, sizeof(*k)))
			break;
	}
	fc->st.segments++;
	if (i != FC_NIL) {
		uint64_t d;

		entry_add(e, v, now_ns);
		if (v->latency_count)
			lat_add(fc, i, v);
		entry_mark(fc, i);
		/* later deadlines are refiled lazily, earlier ones now */
		d = entry_deadline(fc, e);
		if (d < e->sched_ns) {
			wheel_unlink(fc, i);
			wheel_link(fc, i, d);
		}
		return;
	}
	if ((fc->p.max_flows && fc->count >= fc->p.max_flows) ||
	    entry_alloc(fc, &i)) {
		emit_segment(fc, dom, k, v);
		return;
	}
	e = E(fc, i);
	memset(e, 0, sizeof(*e));
	e->key = *k;
	e->dom = dom;
	e->used = FC_USED;
	e->wslot = FC_NO_SLOT;
	entry_add(e, v, now_ns);
	if (fc->lat)
		lat_reset(fc, i);
	if (v->latency_count)
		lat_add(fc, i, v);
	entry_mark(fc, i);
	e->hnext = *head;
	*head = i;
	fc->count++;
	fc->st.created++;
	wheel_link(fc, i, entry_deadline(fc, e));
	if (fc->count > fc->bucket_mask + 1ULL)
		buckets_grow(fc);	/* on failure: longer chains */
}

/*
 * At a million flows nearly every bucket and entry access misses the caches
 * (and the TLB), so the merge is software-pipelined: the bucket of segment
 * j + 2 * MERGE_AHEAD is prefetched, the first entry of the chain of
 * segment j + MERGE_AHEAD too, while segment j is merged.
 */
#define MERGE_AHEAD	8
#define MERGE_RING	32	/* > 2 * MERGE_AHEAD, a power of two */

void flow_cache_merge(struct flow_cache *fc, int dom,
		      const struct flow_key *keys,
		      const struct flow_value *vals, size_t n, uint64_t now_ns)
{
	uint64_t h[MERGE_RING];
	size_t j;

	wheel_start(fc, now_ns);
	for (j = 0; j < n + 2 * MERGE_AHEAD; j++) {
		if (j < n) {
			h[j % MERGE_RING] = key_hash(&keys[j], dom);
			__builtin_prefetch(&fc->buckets[h[j % MERGE_RING] &
							fc->bucket_mask]);
		}
		if (j >= MERGE_AHEAD && j - MERGE_AHEAD < n) {
			size_t m = j - MERGE_AHEAD;
			uint32_t i = fc->buckets[h[m % MERGE_RING] &
						 fc->bucket_mask];

			if (i != FC_NIL) {
				const char *e = (const char *)E(fc, i);

				__builtin_prefetch(e, 1);
				__builtin_prefetch(e + 64, 1);
			}
		}
		if (j >= 2 * MERGE_AHEAD) {
			size_t m = j - 2 * MERGE_AHEAD;

			merge_one(fc, dom, h[m % MERGE_RING], &keys[m],
				  &vals[m], now_ns);
		}
	}
	out_flush(fc);
}

/* ---- overflow catch-all ---------------------------------------------- */

static uint32_t ovf_hash(uint32_t dom, const struct flow_ifstats_key *k)
{
	return mix64(((uint64_t)k->ingress_ifindex << 32 | k->egress_ifindex) ^
		     ((uint64_t)dom << 8 | k->direction) *
		     0x9e3779b97f4a7c15ULL);
}

static struct fc_overflow *ovf_slot(struct flow_cache *fc, uint32_t dom,
				    const struct flow_ifstats_key *k)
{
	struct fc_overflow *o;
	size_t i, mask;

	if ((fc->ovf_n + 1) * 2 > fc->ovf_cap) {
		size_t ncap = fc->ovf_cap ? fc->ovf_cap * 2 : 64;
		struct fc_overflow *no = calloc(ncap, sizeof(*no));

		if (!no)
			return NULL;
		for (i = 0; i < fc->ovf_cap; i++) {
			size_t j;

			if (!fc->ovf[i].used)
				continue;
			j = ovf_hash(fc->ovf[i].dom, &fc->ovf[i].key) &
			    (ncap - 1);
			while (no[j].used)
				j = (j + 1) & (ncap - 1);
			no[j] = fc->ovf[i];
		}
		fc->st.bytes += (ncap - fc->ovf_cap) * sizeof(*no);
		free(fc->ovf);
		fc->ovf = no;
		fc->ovf_cap = ncap;
	}
	mask = fc->ovf_cap - 1;
	for (i = ovf_hash(dom, k) & mask;; i = (i + 1) & mask) {
		o = &fc->ovf[i];
		if (!o->used)
			break;
		if (o->dom == dom &&
		    o->key.ingress_ifindex == k->ingress_ifindex &&
		    o->key.egress_ifindex == k->egress_ifindex &&
		    o->key.direction == k->direction)
			return o;
	}
	memset(o, 0, sizeof(*o));
	o->used = true;
	o->dom = dom;
	o->key.ingress_ifindex = k->ingress_ifindex;
	o->key.egress_ifindex = k->egress_ifindex;
	o->key.direction = k->direction;
	fc->ovf_n++;
	return o;
}

void flow_cache_add_overflow(struct flow_cache *fc, int dom,
			     const struct flow_ifstats_key *key,
			     uint64_t packets, uint64_t octets,
			     uint64_t start_ns, uint64_t end_ns)
{
	struct fc_overflow *o;

	if (!packets && !octets)
		return;
	o = ovf_slot(fc, dom, key);
	if (!o) {
		pr_err("flow cache: no memory for the overflow catch-all: "
		       "%llu packets not exported",
		       (unsigned long long)packets);
		return;
	}
	if (!o->pending || start_ns < o->start_ns)
		o->start_ns = start_ns;
	if (!o->pending || end_ns > o->end_ns)
		o->end_ns = end_ns;
	o->packets += packets;
	o->octets += octets;
	o->pending = true;
}

/*
 * The pending catch-all counts as lack-of-resources records: of domain
 * DOM only, or of all (DOM < 0).  Returns the packets they carry.
 */
static uint64_t emit_overflow(struct flow_cache *fc, int64_t dom)
{
	uint64_t packets = 0;
	size_t i;

	for (i = 0; i < fc->ovf_cap; i++) {
		struct fc_overflow *o = &fc->ovf[i];
		struct flow_record *r;

		if (!o->used || !o->pending || (dom >= 0 && o->dom != dom))
			continue;
		r = out_slot(fc, FLOW_END_LACK_OF_RESOURCES);
		/* no addresses or ports: all flows of this pair of ports */
		r->ingress_ifindex = o->key.ingress_ifindex;
		r->egress_ifindex = o->key.egress_ifindex;
		r->direction = o->key.direction;
		r->packets = o->packets;
		r->octets = o->octets;
		r->start_ns = flow_clock_to_unix_ns(&fc->clock, o->start_ns);
		r->end_ns = flow_clock_to_unix_ns(&fc->clock, o->end_ns);
		r->obs_domain_id = fc->doms[o->dom].obs_domain_id;
		r->netns = fc->doms[o->dom].name;
		packets += o->packets;
		o->packets = o->octets = 0;
		o->pending = false;
	}
	return packets;
}

/* ---- expiry ---------------------------------------------------------- */

static void entry_remove(struct flow_cache *fc, uint32_t i)
{
	wheel_unlink(fc, i);
	hash_remove(fc, i);
	entry_release(fc, i);
	fc->count--;
}

/* I is due (its slot passed): export what has ended, refile the rest. */
static void entry_expire(struct flow_cache *fc, uint32_t i, uint64_t now)
{
	struct fc_entry *e = E(fc, i);

	if ((e->flags & FLOW_F_END_SEEN) && end_deadline(fc, e) <= now) {
		emit_entry(fc, i, FLOW_END_OF_FLOW);
		entry_remove(fc, i);
		return;
	}
	if (e->last_ns + fc->idle_ns <= now) {
		/* nothing since an active-timeout export: nothing to say */
		if (e->packets)
			emit_entry(fc, i, FLOW_END_IDLE_TIMEOUT);
		entry_remove(fc, i);
		return;
	}
	if (e->packets && e->first_ns + fc->active_ns <= now) {
		emit_entry(fc, i, FLOW_END_ACTIVE_TIMEOUT);
		/* the flow stays; its next record counts from zero */
		e->packets = 0;
		e->octets = 0;
		e->first_ns = 0;
		e->tcp_flags = 0;
		e->flags = 0;
		e->end_ns = 0;
	}
	wheel_link(fc, i, entry_deadline(fc, e));
}

size_t flow_cache_expire(struct flow_cache *fc, uint64_t now_ns)
{
	uint64_t before = 0, after = 0, cur;
	int r;

	for (r = 1; r <= 5; r++)
		before += fc->st.records[r];
	wheel_start(fc, now_ns);
	emit_overflow(fc, -1);
	/* only slots wholly in the past: everything filed there is due */
	cur = now_ns >> FC_SLOT_SHIFT;
	if (cur > fc->wheel_pos + FC_WHEEL)
		fc->wheel_pos = cur - FC_WHEEL;
	while (fc->wheel_pos < cur) {
		uint32_t slot = fc->wheel_pos & (FC_WHEEL - 1);
		uint32_t i = fc->wheel[slot], next;

		/* detach the list: entries refiled here wait a turn */
		fc->wheel[slot] = FC_NIL;
		fc->wheel_pos++;
		for (; i != FC_NIL; i = next) {
			struct fc_entry *e = E(fc, i);

			next = e->wnext;
			e->wslot = FC_NO_SLOT;
			if (e->sched_ns > now_ns) {
				/* a far deadline passing by on this turn */
				wheel_link(fc, i, e->sched_ns);
				continue;
			}
			entry_expire(fc, i, now_ns);
		}
	}
	out_flush(fc);
	for (r = 1; r <= 5; r++)
		after += fc->st.records[r];
	return after - before;
}

size_t flow_cache_flush(struct flow_cache *fc, uint64_t now_ns)
{
	uint64_t before = 0, after = 0;
	uint32_t i;
	int r;

	(void)now_ns;
	for (r = 1; r <= 5; r++)
		before += fc->st.records[r];
	emit_overflow(fc, -1);
	for (i = 0; i < fc->next_unused; i++) {
		struct fc_entry *e = E(fc, i);

		if (e->used && e->packets)
			emit_entry(fc, i, FLOW_END_FORCED);
	}
	out_flush(fc);
	/* empty: every entry back to unused, the chunks are kept */
	fc->next_unused = 0;
	fc->free_head = FC_NIL;
	fc->count = 0;
	memset(fc->buckets, 0xff, (fc->bucket_mask + 1ULL) * sizeof(uint32_t));
	memset(fc->wheel, 0xff, sizeof(fc->wheel));
	fc->ndirty = fc->dirty_pos = 0;
	for (r = 1; r <= 5; r++)
		after += fc->st.records[r];
	return after - before;
}

/* ---- crash journal ------------------------------------------------- */

const char *flow_cache_domain_name(const struct flow_cache *fc, int dom)
{
	return dom >= 0 && (size_t)dom < fc->ndoms ? fc->doms[dom].name : NULL;
}

void flow_cache_journal_stop(struct flow_cache *fc)
{
	fc->p.journal_forget = NULL;
	free(fc->dirty);
	fc->dirty = NULL;
	fc->ndirty = fc->dirty_cap = fc->dirty_pos = 0;
}

size_t flow_cache_dirty_next(struct flow_cache *fc, uint32_t *idx,
			     uint32_t *doms, struct flow_key *keys,
			     struct flow_value *vals, size_t max)
{
	size_t n = 0;

	while (n < max && fc->dirty_pos < fc->ndirty) {
		uint32_t i = fc->dirty[fc->dirty_pos++];
		struct fc_entry *e = E(fc, i);
		struct flow_value *v = &vals[n];

		/* removed, or listed twice (freed and reused) */
		if (!(e->used & FC_DIRTY))
			continue;
		e->used &= ~FC_DIRTY;
		/* exported since (active timeout): nothing to keep */
		if (!e->packets)
			continue;
		e->used |= FC_JOURNALED;
		idx[n] = i;
		doms[n] = e->dom;
		keys[n] = e->key;
		memset(v, 0, sizeof(*v));
		v->packets = e->packets;
		v->octets = e->octets;
		v->first_seen_ns = e->first_ns;
		v->last_seen_ns = e->last_ns;
		v->tcp_flags = e->tcp_flags;
		v->flags = e->flags;
		v->min_ttl = e->min_ttl;
		v->max_ttl = e->max_ttl;
		if (fc->lat) {
			struct fc_latency *l = lat_slot(fc, i, false);

			if (l && l->count) {
				/* the journal's slot holds 32 bits: a mean
				 * over fewer packets, still a true mean */
				uint64_t c = l->count > UINT32_MAX ?
					     UINT32_MAX : l->count;

				v->latency_count = c;
				v->latency_sum_ns = l->sum_ns / l->count * c;
			}
		}
		n++;
	}
	if (fc->dirty_pos == fc->ndirty)
		fc->ndirty = fc->dirty_pos = 0;
	return n;
}

/*
 * A namespace that is gone or was re-created (the agent's last drain of
 * its maps): export every flow and catch-all of domain NETNS now (forced
 * end, overflow: lack of resources) and drop them, so that nothing of the
 * old namespace merges with the flows of a new one of the same name.
 * Returns the records emitted; *PACKETS (may be NULL): their packets.
 */
size_t flow_cache_flush_domain(struct flow_cache *fc, const char *netns,
			       uint64_t *packets)
{
	uint64_t before = 0, after = 0, pk = 0;
	uint32_t dom, i;
	int r;

	for (dom = 0; dom < fc->ndoms; dom++)
		if (!strcmp(fc->doms[dom].name, netns))
			break;
	if (packets)
		*packets = 0;
	if (dom == fc->ndoms)
		return 0;
	for (r = 1; r <= 5; r++)
		before += fc->st.records[r];
	pk = emit_overflow(fc, dom);
	for (i = 0; i < fc->next_unused; i++) {
		struct fc_entry *e = E(fc, i);

		if (!e->used || e->dom != dom)
			continue;
		if (e->packets) {
			emit_entry(fc, i, FLOW_END_FORCED);
			pk += e->packets;
		}
		entry_remove(fc, i);
	}
	out_flush(fc);
	for (r = 1; r <= 5; r++)
		after += fc->st.records[r];
	if (packets)
		*packets = pk;
	return after - before;
}

/* ---- stats ----------------------------------------------------------- */

void flow_cache_get_stats(const struct flow_cache *fc,
			  struct flow_cache_stats *st)
{
	*st = fc->st;
	st->flows = fc->count;
}

size_t flow_cache_count(const struct flow_cache *fc)
{
	return fc->count;
}

size_t flow_cache_entry_size(void)
{
	return sizeof(struct fc_entry);
}

/* ---- drain consumer -------------------------------------------------- */

static void ops_begin(void *ctx, const struct flow_clock *clk)
{
	struct flow_cache *fc = ctx;

	fc->clock = *clk;
	fc->drain_now = clk->mono_ns;
}

static int ops_domain(struct flow_cache *fc, const struct flow_ns *ns)
{
	int dom = flow_cache_domain(fc, flow_ns_name(ns),
				    flow_ns_obs_domain_id(ns));

	if (dom < 0)
		pr_err("flow cache: no memory for namespace %s",
		       flow_ns_name(ns));
	return dom;
}

static void ops_flows(void *ctx, const struct flow_ns *ns,
		      const struct flow_key *keys,
		      const struct flow_value *vals, size_t n)
{
	struct flow_cache *fc = ctx;
	int dom = ops_domain(fc, ns);

	if (dom >= 0)
		flow_cache_merge(fc, dom, keys, vals, n, fc->drain_now);
}

static void ops_ifstats(void *ctx, const struct flow_ns *ns,
			const struct flow_ifstats_key *key,
			const struct flow_ifstats_value *total,
			const struct flow_ifstats_value *delta)
{
	struct flow_cache *fc = ctx;
	uint64_t start, end;
	int dom;

	(void)total;
	if (!delta->overflow_packets && !delta->overflow_octets)
		return;
	dom = ops_domain(fc, ns);
	if (dom < 0)
		return;
	flow_ns_interval(ns, &start, &end);
	flow_cache_add_overflow(fc, dom, key, delta->overflow_packets,
				delta->overflow_octets, start, end);
}

const struct flow_drain_ops flow_cache_drain_ops = {
	.begin = ops_begin,
	.flows = ops_flows,
	.ifstats = ops_ifstats,
};
