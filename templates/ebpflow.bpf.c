// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * ebpflow - the in-kernel flow meter.  Attached with tc (clsact) at ingress
 * and egress of each metered interface; counts every packet into a flow of
 * flows_0 or flows_1 (whichever flow_ctl says is active).  It never drops
 * and never writes to the packet: every path returns TC_ACT_UNSPEC.
 *
 * flowctl renders this template (lib/meter/ebpf_build.c): the knobs below arrive
 * as #defines at the top and the "..." includes of ebpflow/ are inlined.
 * Map layouts and names: ebpflow/flow_abi.h.  Parsing: ebpflow/parse.h.
 */
#ifndef FLOWCTL_MAX_FLOWS
#error "knob FLOWCTL_MAX_FLOWS (flows per buffer) is not defined"
#endif
#ifndef FLOWCTL_IFSTATS
#error "knob FLOWCTL_IFSTATS (per-interface totals, 0 or 1) is not defined"
#endif
#ifndef FLOWCTL_COARSE_TIME
#error "knob FLOWCTL_COARSE_TIME (1: coarse clock) is not defined"
#endif
#ifndef FLOWCTL_LATENCY
#error "knob FLOWCTL_LATENCY (forwarding latency, 0 or 1) is not defined"
#endif

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/errno.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "flow_abi.h"
#include "parse.h"

#define READ_ONCE(x)	(*(volatile typeof(x) *)&(x))

/*
 * Timestamps are CLOCK_MONOTONIC in both modes.  The coarse clock moves once
 * per tick (1-4 ms) but costs a fraction of a clock-source read, which is
 * the single most expensive step of the meter on a virtual machine.  With
 * FLOWCTL_COARSE_TIME only the last-seen time of existing flows uses it: a
 * new flow reads the precise clock once for its first-seen time.
 */
#if FLOWCTL_COARSE_TIME
#define meter_now()	bpf_ktime_get_coarse_ns()
#else
#define meter_now()	bpf_ktime_get_ns()
#endif
#define meter_now_precise()	bpf_ktime_get_ns()

#ifndef FLOWCTL_NO_PREALLOC
#define FLOWCTL_NO_PREALLOC 0	/* templates rendered before the knob */
#endif

/*
 * Both buffers: the agent drains the idle one while this fills the other.
 * Preallocated by default (max_entries elements locked at load); with
 * FLOWCTL_NO_PREALLOC an element is allocated per new flow.
 */
struct flow_table {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FLOWCTL_MAX_FLOWS);
#if FLOWCTL_NO_PREALLOC
	__uint(map_flags, BPF_F_NO_PREALLOC);
#endif
	__type(key, struct flow_key);
	__type(value, struct flow_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
};

struct flow_table FLOW_MAP_FLOWS_0_SYM SEC(".maps");
struct flow_table FLOW_MAP_FLOWS_1_SYM SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct flow_ctl);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} FLOW_MAP_CTL_SYM SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FLOW_IFSTATS_MAX);
	__type(key, struct flow_ifstats_key);
	__type(value, struct flow_ifstats_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} FLOW_MAP_IFSTATS_SYM SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct flow_counters);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} FLOW_MAP_COUNTERS_SYM SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, FLOW_EVENTS_RING_SIZE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} FLOW_MAP_EVENTS_SYM SEC(".maps");

#if FLOWCTL_LATENCY
/*
 * Forwarding latency (docs/datapath.md): the ingress program leaves a
 * stamp in this CPU's slot, the egress program of the same packet, on the
 * same CPU and in the same softirq, takes it.  Pinned: the programs of
 * every interface of the namespace share it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct flow_stamp);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} FLOW_MAP_STAMP_SYM SEC(".maps");

/* Cumulative per (ingress, egress): count, sum and histogram buckets. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, FLOW_IFSTATS_MAX);
	__type(key, struct flow_latency_key);
	__type(value, struct flow_latency_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} FLOW_MAP_LATENCY_SYM SEC(".maps");
#endif

/* One packet as it is accounted (a GSO packet counts all its segments). */
struct meter_pkt {
	__u64 packets;
	__u64 octets;
	__u64 now;
	__u64 latency_ns;	/* 0: not measured */
	__u32 tcp_flags;
	__u32 flags;
	__u8 ttl;
};

static __always_inline struct flow_counters *meter_counters(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&FLOW_MAP_COUNTERS_SYM, &zero);
}

static __always_inline void meter_count_unparsed(struct __sk_buff *skb)
{
	struct flow_counters *cnt = meter_counters();

	/* per-CPU: no atomics needed */
	if (cnt) {
		cnt->c[FLOW_CNT_UNPARSED_PKTS]++;
		cnt->c[FLOW_CNT_UNPARSED_OCTETS] += skb->len;
	}
}

static __always_inline void flow_value_add(struct flow_value *v,
					   const struct meter_pkt *p)
{
	__sync_fetch_and_add(&v->packets, p->packets);
	__sync_fetch_and_add(&v->octets, p->octets);
	/* racy but benign: another CPU may store a slightly older time */
	if (p->now > v->last_seen_ns)
		v->last_seen_ns = p->now;
	/* the common case sets no new bit: no locked op then */
	if (p->tcp_flags & ~READ_ONCE(v->tcp_flags))
		__sync_fetch_and_or(&v->tcp_flags, p->tcp_flags);
	if (p->flags & ~READ_ONCE(v->flags))
		__sync_fetch_and_or(&v->flags, p->flags);
	if (p->ttl < v->min_ttl)
		v->min_ttl = p->ttl;
	if (p->ttl > v->max_ttl)
		v->max_ttl = p->ttl;
#if FLOWCTL_LATENCY
	if (p->latency_ns) {
		__sync_fetch_and_add(&v->latency_count, 1);
		__sync_fetch_and_add(&v->latency_sum_ns, p->latency_ns);
	}
#endif
}

/*
 * Account P to the flow KEY of FLOWS.  Returns 0, or the (negative) error of
 * the insert when the map is full.
 */
static __always_inline int flow_update(void *flows,
				       const struct flow_key *key,
				       const struct meter_pkt *p)
{
	struct flow_value *v;
	struct flow_value nv;
	long err;

	v = bpf_map_lookup_elem(flows, key);
	if (v) {
		flow_value_add(v, p);
		return 0;
	}
	__builtin_memset(&nv, 0, sizeof(nv));
	nv.packets = p->packets;
	nv.octets = p->octets;
	/* a new flow: once per flow, the precise clock */
	nv.first_seen_ns = FLOWCTL_COARSE_TIME ? meter_now_precise() : p->now;
	nv.last_seen_ns = nv.first_seen_ns;
	nv.tcp_flags = p->tcp_flags;
	nv.flags = p->flags;
	nv.min_ttl = p->ttl;
	nv.max_ttl = p->ttl;
	if (FLOWCTL_LATENCY && p->latency_ns) {
		nv.latency_count = 1;
		nv.latency_sum_ns = p->latency_ns;
	}
	err = bpf_map_update_elem(flows, key, &nv, BPF_NOEXIST);
	if (err != -EEXIST)
		return err;
	/* another CPU created it in between */
	v = bpf_map_lookup_elem(flows, key);
	if (!v)
		return -ENOENT;	/* and already drained: overflow */
	flow_value_add(v, p);
	return 0;
}

/* Per (ingress, egress, direction) totals, and what did not fit a flow. */
static __always_inline void ifstats_update(const struct flow_key *key,
					   const struct meter_pkt *p,
					   int overflow)
{
	struct flow_ifstats_key ik;
	struct flow_ifstats_value *v;
	struct flow_ifstats_value nv;
	struct flow_counters *cnt;
	long err;

	__builtin_memset(&ik, 0, sizeof(ik));
	ik.ingress_ifindex = key->ingress_ifindex;
	ik.egress_ifindex = key->egress_ifindex;
	ik.direction = key->direction;

	v = bpf_map_lookup_elem(&FLOW_MAP_IFSTATS_SYM, &ik);
	if (!v) {
		__builtin_memset(&nv, 0, sizeof(nv));
		if (FLOWCTL_IFSTATS) {
			nv.packets = p->packets;
			nv.octets = p->octets;
		}
		if (overflow) {
			nv.overflow_packets = p->packets;
			nv.overflow_octets = p->octets;
		}
		err = bpf_map_update_elem(&FLOW_MAP_IFSTATS_SYM, &ik, &nv, BPF_NOEXIST);
		if (!err)
			return;
		v = err == -EEXIST ? bpf_map_lookup_elem(&FLOW_MAP_IFSTATS_SYM, &ik) :
				     NULL;
		if (!v) {
			cnt = meter_counters();
			if (cnt)
				cnt->c[FLOW_CNT_IFSTATS_FULL]++;
			return;
		}
	}
	if (FLOWCTL_IFSTATS) {
		__sync_fetch_and_add(&v->packets, p->packets);
		__sync_fetch_and_add(&v->octets, p->octets);
	}
	if (overflow) {
		__sync_fetch_and_add(&v->overflow_packets, p->packets);
		__sync_fetch_and_add(&v->overflow_octets, p->octets);
	}
}

/* The flow map is full: count it and wake the agent, rate-limited per CPU. */
static __always_inline void meter_overflow(const struct meter_pkt *p,
					   __u32 active)
{
	struct flow_counters *cnt = meter_counters();
	struct flow_event ev;

	if (!cnt)
		return;
	cnt->c[FLOW_CNT_OVERFLOW_PKTS] += p->packets;
	cnt->c[FLOW_CNT_OVERFLOW_OCTETS] += p->octets;
	if (p->now - cnt->c[FLOW_CNT_LAST_EVENT_NS] < FLOW_EVENT_MIN_GAP_NS)
		return;
	cnt->c[FLOW_CNT_LAST_EVENT_NS] = p->now;
	__builtin_memset(&ev, 0, sizeof(ev));
	ev.type = FLOW_EV_MAP_FULL;
	ev.active = active;
	ev.ts_ns = p->now;
	if (bpf_ringbuf_output(&FLOW_MAP_EVENTS_SYM, &ev, sizeof(ev), 0))
		cnt->c[FLOW_CNT_EVENTS_LOST]++;
	else
		cnt->c[FLOW_CNT_EVENTS_SENT]++;
}

#if FLOWCTL_LATENCY
/*
 * The skb's address is its identity between the two hooks (it is never
 * dereferenced, and the stamp map is only readable by root).
 */
#define skb_identity(skb)	((__u64)(unsigned long)(skb))

/* Ingress: this CPU's stamp is now this packet's. */
static __always_inline void latency_stamp(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct flow_stamp *s = bpf_map_lookup_elem(&FLOW_MAP_STAMP_SYM, &zero);

	if (!s)
		return;
	s->skb = skb_identity(skb);
	s->ifindex = skb->ifindex;
	s->ts_ns = bpf_ktime_get_ns();
}

/*
 * Egress: the time since this packet's ingress stamp, consumed, or 0 when
 * the stamp is another packet's (a packet generated here, or one whose
 * ingress is not on a stamping interface) or was already taken.
 */
static __always_inline __u64 latency_take(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct flow_stamp *s = bpf_map_lookup_elem(&FLOW_MAP_STAMP_SYM, &zero);
	__u64 lat;

	if (!s || !s->ifindex || s->ifindex != skb->ingress_ifindex ||
	    s->skb != skb_identity(skb))
		return 0;
	s->ifindex = 0;
	lat = bpf_ktime_get_ns() - s->ts_ns;
	return lat ? lat : 1;
}

static __always_inline __u32 latency_bucket(__u64 ns)
{
	__u32 i = 0;

#define FLOW_LAT_ABOVE(bound)	i += ns > (bound);
	FLOW_LAT_BOUNDS(FLOW_LAT_ABOVE)
#undef FLOW_LAT_ABOVE
	return i < FLOW_LAT_BUCKETS ? i : FLOW_LAT_BUCKETS - 1;
}

/* Per (ingress, egress): count, sum, histogram.  Per-CPU: no atomics. */
static __always_inline void latency_account(struct __sk_buff *skb, __u64 lat)
{
	struct flow_latency_key k;
	struct flow_latency_value *v, nv;
	__u32 b = latency_bucket(lat);
	struct flow_counters *cnt;

	k.ingress_ifindex = skb->ingress_ifindex;
	k.egress_ifindex = skb->ifindex;
	v = bpf_map_lookup_elem(&FLOW_MAP_LATENCY_SYM, &k);
	if (v) {
		v->count++;
		v->sum_ns += lat;
		v->buckets[b]++;
		return;
	}
	__builtin_memset(&nv, 0, sizeof(nv));
	nv.count = 1;
	nv.sum_ns = lat;
	nv.buckets[b] = 1;
	/* per-CPU: only this CPU's copy is set, a race cannot lose it */
	if (bpf_map_update_elem(&FLOW_MAP_LATENCY_SYM, &k, &nv, BPF_ANY)) {
		cnt = meter_counters();
		if (cnt)
			cnt->c[FLOW_CNT_LATENCY_FULL]++;
	}
}
#endif

static __always_inline void meter_packet(struct __sk_buff *skb,
					 __u8 direction, __u64 latency_ns)
{
	struct flow_key key;
	struct pkt_meta meta;
	struct meter_pkt p;
	struct flow_ctl *ctl;
	__u32 zero = 0, active = 0, segs = 1;
	int err;

	__builtin_memset(&key, 0, sizeof(key));
	__builtin_memset(&meta, 0, sizeof(meta));
	if (parse_packet(skb, &key, &meta) < 0) {
		meter_count_unparsed(skb);
		return;
	}
	if (direction == FLOW_DIR_INGRESS) {
		key.ingress_ifindex = skb->ifindex;
	} else {
		/* 0 for locally generated packets */
		key.ingress_ifindex = skb->ingress_ifindex;
		key.egress_ifindex = skb->ifindex;
	}
	key.direction = direction;
	key.mark = skb->mark;

	/* A GSO packet leaves as gso_segs packets, each with its own copy of
	 * the headers: count what goes on the wire.
	 */
	if (skb->gso_size && skb->gso_segs > 1)
		segs = skb->gso_segs;
	p.packets = segs;
	p.octets = meta.ip_len + (__u64)(segs - 1) * meta.hdr_len;
	p.tcp_flags = meta.tcp_flags;
	p.flags = meta.flags;
	p.ttl = meta.ttl;
	p.now = meter_now();
	p.latency_ns = latency_ns;

	/* read once: the agent may flip it while this packet is handled */
	ctl = bpf_map_lookup_elem(&FLOW_MAP_CTL_SYM, &zero);
	if (ctl)
		active = READ_ONCE(ctl->active);
	/* two calls so that each sees a constant map pointer */
	if (active)
		err = flow_update(&FLOW_MAP_FLOWS_1_SYM, &key, &p);
	else
		err = flow_update(&FLOW_MAP_FLOWS_0_SYM, &key, &p);
	if (err)
		meter_overflow(&p, active);
	if (FLOWCTL_IFSTATS || err)
		ifstats_update(&key, &p, err != 0);
}

/* The hooks' work, inlined into the programs (and into benchmarks that
 * run a forwarded packet's two hooks back to back). */
static __always_inline void ingress_hook(struct __sk_buff *skb)
{
	meter_packet(skb, FLOW_DIR_INGRESS, 0);
#if FLOWCTL_LATENCY
	/* last: the meter's own time is not the router's */
	latency_stamp(skb);
#endif
}

static __always_inline void egress_hook(struct __sk_buff *skb)
{
	__u64 lat = 0;

#if FLOWCTL_LATENCY
	/* first, for the same reason */
	lat = latency_take(skb);
	if (lat)
		latency_account(skb, lat);
#endif
	meter_packet(skb, FLOW_DIR_EGRESS, lat);
}

SEC(FLOW_SEC_INGRESS)
int flow_ingress(struct __sk_buff *skb)
{
	ingress_hook(skb);
	return TC_ACT_UNSPEC;
}

SEC(FLOW_SEC_EGRESS)
int flow_egress(struct __sk_buff *skb)
{
	egress_hook(skb);
	return TC_ACT_UNSPEC;
}

#if FLOWCTL_LATENCY
/* Ingress of an interface whose ingress is not metered: stamp only. */
SEC(FLOW_SEC_INGRESS_STAMP)
int flow_ingress_stamp(struct __sk_buff *skb)
{
	latency_stamp(skb);
	return TC_ACT_UNSPEC;
}
#endif

char _license[] SEC("license") = "Dual BSD/GPL";
