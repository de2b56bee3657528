// SPDX-License-Identifier: Apache-2.0
/*
 * Flow cache: merge and every expiry path, driven by a fake clock.
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "clock.h"
#include "flow_cache.h"

#define S	1000000000ULL
#define MSEC	1000000ULL
#define T0	(1000 * S)	/* fake monotonic clock starts here */

struct sink {
	struct flow_record *recs;
	size_t n;
	size_t cap;
	size_t calls;
};

static void sink_emit(void *ctx, const struct flow_record *recs, size_t n)
{
	struct sink *s = ctx;

	if (s->n + n > s->cap) {
		s->cap = (s->n + n) * 2;
		s->recs = realloc(s->recs, s->cap * sizeof(*s->recs));
		ck_assert_ptr_nonnull(s->recs);
	}
	memcpy(s->recs + s->n, recs, n * sizeof(*recs));
	s->n += n;
	s->calls++;
}

static struct sink sink;
static struct flow_cache *fc;
static int dom;

static void setup_params(struct flow_cache_params *p)
{
	flow_cache_params_init(p);
	p->emit = sink_emit;
	p->emit_ctx = &sink;
}

static void new_cache(const struct flow_cache_params *p)
{
	memset(&sink, 0, sizeof(sink));
	ck_assert_int_eq(flow_cache_new(p, &fc), 0);
	dom = flow_cache_domain(fc, "ns0", 42);
	ck_assert_int_ge(dom, 0);
}

static void setup(void)
{
	struct flow_cache_params p;

	setup_params(&p);
	new_cache(&p);
}

static void teardown(void)
{
	flow_cache_free(fc);
	fc = NULL;
	free(sink.recs);
	memset(&sink, 0, sizeof(sink));
}

static struct flow_key mkkey(uint16_t sport, uint8_t proto)
{
	struct flow_key k;

	memset(&k, 0, sizeof(k));
	k.ingress_ifindex = 2;
	k.egress_ifindex = 3;
	k.src_addr[10] = k.src_addr[11] = 0xff;
	k.src_addr[12] = 10;
	k.src_addr[13] = 1;
	k.src_addr[15] = 2;
	k.dst_addr[10] = k.dst_addr[11] = 0xff;
	k.dst_addr[12] = 10;
	k.dst_addr[13] = 2;
	k.dst_addr[15] = 2;
	k.sport = htons(sport);
	k.dport = htons(80);
	k.proto = proto;
	k.direction = FLOW_DIR_EGRESS;
	k.ip_version = 4;
	k.mark = 7;
	return k;
}

static struct flow_value mkval(uint64_t pkts, uint64_t bytes, uint64_t first,
			       uint64_t last)
{
	struct flow_value v;

	memset(&v, 0, sizeof(v));
	v.packets = pkts;
	v.octets = bytes;
	v.first_seen_ns = first;
	v.last_seen_ns = last;
	v.min_ttl = v.max_ttl = 64;
	return v;
}

static void merge1(const struct flow_key *k, const struct flow_value *v,
		   uint64_t now)
{
	flow_cache_merge(fc, dom, k, v, 1, now);
}

static uint64_t sum_packets(void)
{
	uint64_t t = 0;
	size_t i;

	for (i = 0; i < sink.n; i++)
		t += sink.recs[i].packets;
	return t;
}

START_TEST(test_merge_same_key)
{
	struct flow_key k = mkkey(1000, IPPROTO_TCP);
	struct flow_value a = mkval(3, 300, T0 + 1 * S, T0 + 2 * S);
	struct flow_value b = mkval(2, 120, T0 + 3 * S, T0 + 4 * S);
	const struct flow_record *r;

	a.tcp_flags = FLOW_TCP_SYN | 0xf000;	/* data offset must go */
	a.min_ttl = 60;
	a.max_ttl = 62;
	b.tcp_flags = FLOW_TCP_ACK | FLOW_TCP_PSH;
	b.min_ttl = 58;
	b.max_ttl = 61;
	merge1(&k, &a, T0 + 2 * S);
	merge1(&k, &b, T0 + 4 * S);
	ck_assert_uint_eq(flow_cache_count(fc), 1);
	ck_assert_uint_eq(flow_cache_expire(fc, T0 + 5 * S), 0);
	ck_assert_uint_eq(flow_cache_flush(fc, T0 + 5 * S), 1);
	ck_assert_uint_eq(sink.n, 1);
	r = &sink.recs[0];
	ck_assert_uint_eq(r->packets, 5);
	ck_assert_uint_eq(r->octets, 420);
	ck_assert_uint_eq(r->start_ns, T0 + 1 * S);	/* identity clock */
	ck_assert_uint_eq(r->end_ns, T0 + 4 * S);
	ck_assert_uint_eq(r->tcp_flags,
			  FLOW_TCP_SYN | FLOW_TCP_ACK | FLOW_TCP_PSH);
	ck_assert_uint_eq(r->min_ttl, 58);
	ck_assert_uint_eq(r->max_ttl, 62);
	ck_assert_uint_eq(r->end_reason, FLOW_END_FORCED);
	ck_assert_uint_eq(r->finished, 0);
	ck_assert_uint_eq(flow_cache_count(fc), 0);
}
END_TEST

START_TEST(test_record_fields)
{
	struct flow_key k = mkkey(40000, IPPROTO_UDP);
	struct flow_value v = mkval(1, 100, T0 + 1 * S, T0 + 1 * S);
	struct flow_clock clk = {
		.real_ns = 1700000000ULL * S,
		.mono_ns = T0 + 10 * S,
	};
	const struct flow_record *r;

	k.tos = 0x10;
	k.vlan_id = 12;
	flow_cache_set_clock(fc, &clk);
	merge1(&k, &v, T0 + 2 * S);
	flow_cache_flush(fc, T0 + 3 * S);
	ck_assert_uint_eq(sink.n, 1);
	r = &sink.recs[0];
	/* ports in host order, key fields copied */
	ck_assert_uint_eq(r->sport, 40000);
	ck_assert_uint_eq(r->dport, 80);
	ck_assert_uint_eq(r->ingress_ifindex, 2);
	ck_assert_uint_eq(r->egress_ifindex, 3);
	ck_assert_uint_eq(r->proto, IPPROTO_UDP);
	ck_assert_uint_eq(r->tos, 0x10);
	ck_assert_uint_eq(r->vlan_id, 12);
	ck_assert_uint_eq(r->direction, FLOW_DIR_EGRESS);
	ck_assert_uint_eq(r->ip_version, 4);
	ck_assert_uint_eq(r->mark, 7);
	ck_assert_mem_eq(r->src_addr, k.src_addr, 16);
	ck_assert_mem_eq(r->dst_addr, k.dst_addr, 16);
	ck_assert_uint_eq(r->obs_domain_id, 42);
	ck_assert_str_eq(r->netns, "ns0");
	/* wall clock: 9 s before the pair's monotonic reading */
	ck_assert_uint_eq(r->start_ns, 1700000000ULL * S - 9 * S);
	ck_assert_uint_eq(r->end_ns, 1700000000ULL * S - 9 * S);
}
END_TEST

START_TEST(test_clock_conversion)
{
	struct flow_clock c = { .real_ns = 1700000000ULL * S + 5,
				.mono_ns = 50 * S };

	ck_assert_uint_eq(flow_clock_to_unix_ns(&c, 50 * S),
			  1700000000ULL * S + 5);
	ck_assert_uint_eq(flow_clock_to_unix_ns(&c, 48 * S + 1),
			  1700000000ULL * S - 2 * S + 6);
	ck_assert_uint_eq(flow_clock_to_unix_ns(&c, 51 * S),
			  1700000001ULL * S + 5);
	ck_assert_uint_eq(flow_clock_to_unix_ns(&c, 0), 0);
	/* a real pair: monotonic now maps to realtime now (within 1 s) */
	flow_clock_now(&c);
	ck_assert_uint_gt(flow_clock_to_unix_ns(&c, clock_mono_ns()),
			  c.real_ns - 1);
	ck_assert_uint_lt(flow_clock_to_unix_ns(&c, clock_mono_ns()),
			  c.real_ns + S);
}
END_TEST

START_TEST(test_domains_separate)
{
	struct flow_key k = mkkey(1000, IPPROTO_UDP);
	struct flow_value v = mkval(1, 10, T0, T0);
	int d2 = flow_cache_domain(fc, "ns9", 9);

	ck_assert_int_ne(d2, dom);
	ck_assert_int_eq(flow_cache_domain(fc, "ns0", 43), dom);
	merge1(&k, &v, T0);
	flow_cache_merge(fc, d2, &k, &v, 1, T0);
	ck_assert_uint_eq(flow_cache_count(fc), 2);
	flow_cache_flush(fc, T0);
	ck_assert_uint_eq(sink.n, 2);
	ck_assert_uint_ne(sink.recs[0].obs_domain_id,
			  sink.recs[1].obs_domain_id);
	/* the id was updated to 43 for ns0 */
	ck_assert(sink.recs[0].obs_domain_id == 43 ||
		  sink.recs[1].obs_domain_id == 43);
}
END_TEST

START_TEST(test_idle_timeout)
{
	struct flow_key k = mkkey(1000, IPPROTO_UDP);
	struct flow_value v = mkval(4, 400, T0, T0 + 1 * S);
	uint64_t t;

	merge1(&k, &v, T0 + 1 * S);
	/* scans every second: nothing before last + 15 s */
	for (t = T0 + 2 * S; t < T0 + 16 * S; t += S)
		ck_assert_uint_eq(flow_cache_expire(fc, t), 0);
	ck_assert_uint_eq(flow_cache_expire(fc, T0 + 16 * S + 100 * MSEC), 1);
	ck_assert_uint_eq(sink.recs[0].end_reason, FLOW_END_IDLE_TIMEOUT);
	ck_assert_uint_eq(sink.recs[0].packets, 4);
	ck_assert_uint_eq(flow_cache_count(fc), 0);
	ck_assert_uint_eq(flow_cache_expire(fc, T0 + 100 * S), 0);
}
END_TEST

START_TEST(test_idle_pushed_by_traffic)
{
	struct flow_key k = mkkey(1000, IPPROTO_UDP);
	struct flow_value v = mkval(1, 100, T0, T0);
	struct flow_value v2 = mkval(1, 100, T0 + 10 * S, T0 + 10 * S);

	merge1(&k, &v, T0);
	merge1(&k, &v2, T0 + 10 * S);
	/* the first deadline (T0 + 15) passes: refiled, not exported */
	ck_assert_uint_eq(flow_cache_expire(fc, T0 + 16 * S), 0);
	ck_assert_uint_eq(flow_cache_expire(fc, T0 + 24 * S), 0);
	ck_assert_uint_eq(flow_cache_expire(fc, T0 + 25 * S + 100 * MSEC), 1);
	ck_assert_uint_eq(sink.recs[0].packets, 2);
	ck_assert_uint_eq(sink.recs[0].end_reason, FLOW_END_IDLE_TIMEOUT);
}
END_TEST

START_TEST(test_active_timeout_deltas)
{
	struct flow_key k = mkkey(2000, IPPROTO_TCP);
	uint64_t t, sent = 0, octets = 0, exported_octets = 0;
	size_t i, nactive = 0;

	/* 1 segment per second, each 10 packets, for 150 s; active 60 s */
	for (t = T0; t < T0 + 150 * S; t += S) {
		struct flow_value v = mkval(10, 1000, t, t + 500 * MSEC);

		merge1(&k, &v, t + S - 1);
		sent += 10;
		octets += 1000;
		flow_cache_expire(fc, t + S - 1);
	}
	flow_cache_flush(fc, T0 + 151 * S);
	for (i = 0; i < sink.n; i++) {
		const struct flow_record *r = &sink.recs[i];

		exported_octets += r->octets;
		if (r->end_reason == FLOW_END_ACTIVE_TIMEOUT) {
			nactive++;
			/* a record spans at most the active timeout + 1 scan */
			ck_assert_uint_le(r->end_ns - r->start_ns, 61 * S);
		}
		if (i > 0)	/* records follow each other */
			ck_assert_uint_gt(r->start_ns, sink.recs[i - 1].end_ns);
	}
	ck_assert_uint_eq(nactive, 2);
	ck_assert_uint_eq(sink.recs[sink.n - 1].end_reason, FLOW_END_FORCED);
	/* every packet exported exactly once */
	ck_assert_uint_eq(sum_packets(), sent);
	ck_assert_uint_eq(exported_octets, octets);
	ck_assert_uint_eq(sink.recs[0].start_ns, T0);
	ck_assert_uint_eq(sink.recs[1].start_ns, sink.recs[0].end_ns +
			  500 * MSEC);
}
END_TEST

/*
 * Forwarding latency sums: carried per record (added over segments, taken
 * at export so the next record counts from zero), none on a flow without
 * measurements, and an entry reused by another flow starts clean.
 */
START_TEST(test_latency_sums)
{
	struct flow_key k = mkkey(2100, IPPROTO_UDP);
	struct flow_key k2 = mkkey(2101, IPPROTO_UDP);
	struct flow_value v = mkval(10, 1000, T0, T0 + MSEC);

	v.latency_count = 8;
	v.latency_sum_ns = 8000;
	merge1(&k, &v, T0 + MSEC);
	v = mkval(10, 1000, T0 + S, T0 + S + MSEC);
	v.latency_count = 2;
	v.latency_sum_ns = 6000;
	merge1(&k, &v, T0 + S + MSEC);
	/* past the active timeout (60 s): one record, then a fresh one */
	flow_cache_expire(fc, T0 + 61 * S);
	ck_assert_uint_eq(sink.n, 1);
	ck_assert_uint_eq(sink.recs[0].latency_count, 10);
	ck_assert_uint_eq(sink.recs[0].latency_sum_ns, 14000);
	v = mkval(1, 100, T0 + 62 * S, T0 + 62 * S);
	merge1(&k, &v, T0 + 62 * S);
	/* idle out; then another flow takes the freed entry */
	flow_cache_expire(fc, T0 + 200 * S);
	ck_assert_uint_eq(sink.n, 2);
	ck_assert_uint_eq(sink.recs[1].packets, 1);
	ck_assert_uint_eq(sink.recs[1].latency_count, 0);
	ck_assert_uint_eq(sink.recs[1].latency_sum_ns, 0);
	v = mkval(5, 500, T0 + 201 * S, T0 + 201 * S);
	merge1(&k2, &v, T0 + 201 * S);
	flow_cache_flush(fc, T0 + 202 * S);
	ck_assert_uint_eq(sink.n, 3);
	ck_assert_uint_eq(sink.recs[2].packets, 5);
	ck_assert_uint_eq(sink.recs[2].latency_count, 0);
}
END_TEST

START_TEST(test_active_then_silent)
{
	struct flow_key k = mkkey(2001, IPPROTO_UDP);
	struct flow_cache_params p;
	uint64_t t;

	teardown();
	setup_params(&p);
	p.active_timeout_ms = 5000;
	p.idle_timeout_ms = 10000;
	new_cache(&p);
	for (t = T0; t <= T0 + 6 * S; t += S) {
		struct flow_value v = mkval(1, 10, t, t);

		merge1(&k, &v, t);
	}
	/* active timeout: one record, the flow stays with empty counters */
	ck_assert_uint_eq(flow_cache_expire(fc, T0 + 6 * S + 100 * MSEC), 1);
	ck_assert_uint_eq(sink.recs[0].end_reason, FLOW_END_ACTIVE_TIMEOUT);
	ck_assert_uint_eq(sink.recs[0].packets, 7);
	ck_assert_uint_eq(flow_cache_count(fc), 1);
	/* then silence: it goes away at the idle timeout without a record */
	ck_assert_uint_eq(flow_cache_expire(fc, T0 + 17 * S), 0);
	ck_assert_uint_eq(flow_cache_count(fc), 0);
	ck_assert_uint_eq(sink.n, 1);
}
END_TEST

START_TEST(test_end_of_flow)
{
	struct flow_key k = mkkey(3000, IPPROTO_TCP);
	struct flow_value a = mkval(5, 500, T0, T0 + 1 * S);
	struct flow_value fin = mkval(1, 40, T0 + 2 * S, T0 + 2 * S);
	struct flow_value ack = mkval(1, 40, T0 + 2 * S + 300 * MSEC,
				      T0 + 2 * S + 300 * MSEC);

	fin.tcp_flags = FLOW_TCP_FIN | FLOW_TCP_ACK;
	fin.flags = FLOW_F_END_SEEN;
	ack.tcp_flags = FLOW_TCP_ACK;
	merge1(&k, &a, T0 + 1 * S);
	merge1(&k, &fin, T0 + 2 * S + 100 * MSEC);
	/* lingers (1 s) for the last ACK */
	ck_assert_uint_eq(flow_cache_expire(fc, T0 + 2 * S + 200 * MSEC), 0);
	merge1(&k, &ack, T0 + 2 * S + 400 * MSEC);
	ck_assert_uint_eq(flow_cache_expire(fc, T0 + 2 * S + 900 * MSEC), 0);
	/* learned at 2.1 s + 1 s linger, on the 1 s finished-drain tick */
	ck_assert_uint_eq(flow_cache_expire(fc, T0 + 4 * S + 100 * MSEC), 1);
	ck_assert_uint_eq(sink.recs[0].end_reason, FLOW_END_OF_FLOW);
	ck_assert_uint_eq(sink.recs[0].finished, 1);
	ck_assert_uint_eq(sink.recs[0].packets, 7);
	ck_assert_uint_eq(sink.recs[0].tcp_flags, FLOW_TCP_FIN | FLOW_TCP_ACK);
	ck_assert_uint_eq(flow_cache_count(fc), 0);
}
END_TEST

START_TEST(test_finished_drain_period)
{
	struct flow_key k = mkkey(3001, IPPROTO_TCP);
	struct flow_value fin = mkval(2, 80, T0, T0);
	struct flow_cache_params p;

	teardown();
	setup_params(&p);
	p.finished_drain_ms = 5000;	/* timerFinishedDrainSeconds: 5 */
	new_cache(&p);
	fin.flags = FLOW_F_END_SEEN;
	merge1(&k, &fin, T0 + 1 * S);
	/* linger ends at T0 + 2 s; exported at the next 5 s boundary */
	ck_assert_uint_eq(flow_cache_expire(fc, T0 + 3 * S), 0);
	ck_assert_uint_eq(flow_cache_expire(fc, T0 + 4 * S + 900 * MSEC), 0);
	ck_assert_uint_eq(flow_cache_expire(fc, T0 + 5 * S + 100 * MSEC), 1);
	ck_assert_uint_eq(sink.recs[0].end_reason, FLOW_END_OF_FLOW);
}
END_TEST

START_TEST(test_overflow_catch_all)
{
	struct flow_ifstats_key ik = { .ingress_ifindex = 2,
				       .egress_ifindex = 3,
				       .direction = FLOW_DIR_EGRESS };
	struct flow_ifstats_key ik2 = { .ingress_ifindex = 4,
					.direction = FLOW_DIR_INGRESS };
	const struct flow_record *r;
	static const uint8_t zero[16];
	size_t i;

	flow_cache_add_overflow(fc, dom, &ik, 10, 1000, T0, T0 + 1 * S);
	flow_cache_add_overflow(fc, dom, &ik, 5, 500, T0 + 1 * S, T0 + 2 * S);
	flow_cache_add_overflow(fc, dom, &ik2, 1, 60, T0 + 1 * S, T0 + 2 * S);
	flow_cache_add_overflow(fc, dom, &ik2, 0, 0, T0 + 1 * S, T0 + 2 * S);
	ck_assert_uint_eq(flow_cache_expire(fc, T0 + 2 * S), 2);
	for (i = 0; i < 2; i++) {
		r = &sink.recs[i];
		ck_assert_uint_eq(r->end_reason, FLOW_END_LACK_OF_RESOURCES);
		ck_assert_mem_eq(r->src_addr, zero, 16);
		ck_assert_mem_eq(r->dst_addr, zero, 16);
		ck_assert_uint_eq(r->sport, 0);
		ck_assert_uint_eq(r->dport, 0);
		ck_assert_str_eq(r->netns, "ns0");
		if (r->ingress_ifindex == 2) {
			ck_assert_uint_eq(r->egress_ifindex, 3);
			ck_assert_uint_eq(r->direction, FLOW_DIR_EGRESS);
			ck_assert_uint_eq(r->packets, 15);
			ck_assert_uint_eq(r->octets, 1500);
			ck_assert_uint_eq(r->start_ns, T0);
			ck_assert_uint_eq(r->end_ns, T0 + 2 * S);
		} else {
			ck_assert_uint_eq(r->ingress_ifindex, 4);
			ck_assert_uint_eq(r->packets, 1);
			ck_assert_uint_eq(r->octets, 60);
		}
	}
	/* handed over once */
	ck_assert_uint_eq(flow_cache_expire(fc, T0 + 3 * S), 0);
	flow_cache_add_overflow(fc, dom, &ik, 7, 70, T0 + 3 * S, T0 + 4 * S);
	ck_assert_uint_eq(flow_cache_flush(fc, T0 + 4 * S), 1);
	ck_assert_uint_eq(sink.recs[2].packets, 7);
	ck_assert_uint_eq(sink.recs[2].end_reason, FLOW_END_LACK_OF_RESOURCES);
}
END_TEST

START_TEST(test_flush_domain)
{
	struct flow_ifstats_key ik = { .ingress_ifindex = 2,
				       .egress_ifindex = 3,
				       .direction = FLOW_DIR_EGRESS };
	struct flow_key k1 = mkkey(1000, IPPROTO_UDP);
	struct flow_key k2 = mkkey(1001, IPPROTO_UDP);
	struct flow_value v = mkval(3, 30, T0, T0);
	int d2 = flow_cache_domain(fc, "ns9", 9);
	uint64_t pk = 0;
	size_t i;

	merge1(&k1, &v, T0);
	merge1(&k2, &v, T0);
	flow_cache_add_overflow(fc, dom, &ik, 4, 40, T0, T0 + S);
	flow_cache_merge(fc, d2, &k1, &v, 1, T0);
	flow_cache_add_overflow(fc, d2, &ik, 5, 50, T0, T0 + S);
	/* ns0 goes: its 2 flows and its catch-all, nothing of ns9 */
	ck_assert_uint_eq(flow_cache_flush_domain(fc, "ns0", &pk), 3);
	ck_assert_uint_eq(pk, 3 + 3 + 4);
	ck_assert_uint_eq(sink.n, 3);
	for (i = 0; i < sink.n; i++) {
		ck_assert_str_eq(sink.recs[i].netns, "ns0");
		ck_assert_uint_eq(sink.recs[i].end_reason,
				  sink.recs[i].sport ? FLOW_END_FORCED :
				  FLOW_END_LACK_OF_RESOURCES);
	}
	ck_assert_uint_eq(flow_cache_count(fc), 1);
	/* a new ns0 starts from nothing: the same key is a new record */
	merge1(&k1, &v, T0 + S);
	ck_assert_uint_eq(flow_cache_flush_domain(fc, "ns0", NULL), 1);
	ck_assert_uint_eq(sink.recs[3].packets, 3);
	ck_assert_uint_eq(flow_cache_flush_domain(fc, "nsX", &pk), 0);
	ck_assert_uint_eq(pk, 0);
	/* ns9 untouched until the end */
	ck_assert_uint_eq(flow_cache_flush(fc, T0 + 2 * S), 2);
	ck_assert_str_eq(sink.recs[4].netns, "ns9");
	ck_assert_uint_eq(sum_packets(), 3 + 3 + 4 + 3 + 3 + 5);
}
END_TEST

START_TEST(test_max_flows)
{
	struct flow_cache_params p;
	struct flow_key k[3] = { mkkey(1, 17), mkkey(2, 17), mkkey(3, 17) };
	struct flow_value v[3] = { mkval(1, 10, T0, T0), mkval(2, 20, T0, T0),
				   mkval(3, 30, T0, T0) };
	struct flow_cache_stats st;

	teardown();
	setup_params(&p);
	p.max_flows = 2;
	new_cache(&p);
	flow_cache_merge(fc, dom, k, v, 3, T0);
	ck_assert_uint_eq(flow_cache_count(fc), 2);
	ck_assert_uint_eq(sink.n, 1);	/* the third, at once */
	ck_assert_uint_eq(sink.recs[0].end_reason, FLOW_END_LACK_OF_RESOURCES);
	ck_assert_uint_eq(sink.recs[0].packets, 3);
	ck_assert_uint_eq(sink.recs[0].sport, 3);
	/* a known key still merges */
	flow_cache_merge(fc, dom, k, v, 1, T0);
	flow_cache_flush(fc, T0);
	ck_assert_uint_eq(sum_packets(), 3 + 1 + 2 + 1);
	flow_cache_get_stats(fc, &st);
	ck_assert_uint_eq(st.rejected, 1);
	ck_assert_uint_eq(st.records[FLOW_END_FORCED], 2);
}
END_TEST

START_TEST(test_many_flows_and_batches)
{
	enum { N = 200000 };
	struct flow_key *k = malloc(N * sizeof(*k));
	struct flow_value *v = malloc(N * sizeof(*v));
	struct flow_cache_stats st;
	size_t i;

	ck_assert_ptr_nonnull(k);
	ck_assert_ptr_nonnull(v);
	for (i = 0; i < N; i++) {
		k[i] = mkkey(i & 0xffff, 17);
		k[i].ingress_ifindex = 10 + (i >> 16);
		v[i] = mkval(i % 7 + 1, 100, T0, T0 + (i % 10) * S);
	}
	flow_cache_merge(fc, dom, k, v, N, T0 + 10 * S);
	ck_assert_uint_eq(flow_cache_count(fc), N);
	/* the same segments again: no new flow */
	flow_cache_merge(fc, dom, k, v, N, T0 + 10 * S);
	ck_assert_uint_eq(flow_cache_count(fc), N);
	/* flows idle since T0 + 0..9 s: at T0 + 20 s half are due */
	ck_assert_uint_eq(flow_cache_expire(fc, T0 + 20 * S), N / 2);
	ck_assert_uint_eq(flow_cache_count(fc), N / 2);
	ck_assert_uint_eq(flow_cache_expire(fc, T0 + 30 * S), N / 2);
	ck_assert_uint_eq(flow_cache_count(fc), 0);
	ck_assert_uint_eq(sink.n, N);
	/* batches of at most emit_batch records */
	ck_assert_uint_ge(sink.calls, N / FLOW_CACHE_EMIT_BATCH);
	{
		uint64_t want = 0;

		for (i = 0; i < N; i++)
			want += 2 * (i % 7 + 1);
		ck_assert_uint_eq(sum_packets(), want);
	}
	flow_cache_get_stats(fc, &st);
	ck_assert_uint_eq(st.created, N);
	ck_assert_uint_eq(st.segments, 2 * N);
	ck_assert_uint_ge(st.bytes, N * flow_cache_entry_size());
	/* entries are reused after expiry: no new memory */
	{
		uint64_t bytes = st.bytes;

		flow_cache_merge(fc, dom, k, v, N, T0 + 40 * S);
		flow_cache_get_stats(fc, &st);
		ck_assert_uint_eq(st.bytes, bytes);
	}
	free(k);
	free(v);
}
END_TEST

START_TEST(test_far_deadline_wraps_wheel)
{
	struct flow_cache_params p;
	struct flow_key k = mkkey(5, 17);
	uint64_t t;

	teardown();
	setup_params(&p);
	/* timeouts beyond one turn of the wheel (275 s) */
	p.idle_timeout_ms = 600 * 1000;
	p.active_timeout_ms = 3600 * 1000;
	new_cache(&p);
	{
		struct flow_value v = mkval(1, 1, T0, T0);

		merge1(&k, &v, T0);
	}
	for (t = T0; t < T0 + 600 * S; t += 7 * S)
		ck_assert_uint_eq(flow_cache_expire(fc, t), 0);
	ck_assert_uint_eq(flow_cache_expire(fc, T0 + 601 * S), 1);
	ck_assert_uint_eq(sink.recs[0].end_reason, FLOW_END_IDLE_TIMEOUT);
}
END_TEST

START_TEST(test_clock_jump_forward)
{
	struct flow_key k = mkkey(6, 17);
	struct flow_value v = mkval(1, 1, T0, T0);

	merge1(&k, &v, T0);
	/* an expire long after (more than a wheel turn): still exported */
	ck_assert_uint_eq(flow_cache_expire(fc, T0 + 3600 * S), 1);
}
END_TEST

START_TEST(test_params_init)
{
	struct flow_cache_params p;

	p.emit = sink_emit;
	flow_cache_params_init(&p);
	ck_assert_uint_eq(p.idle_timeout_ms, 15000);
	ck_assert_uint_eq(p.active_timeout_ms, 60000);
	ck_assert_uint_eq(p.finished_drain_ms, 1000);
	ck_assert_uint_eq(p.scan_interval_ms, 1000);
	ck_assert_ptr_null(p.emit);
}
END_TEST

/*
 * Crash journal hooks, with the journal modelled in memory: after each
 * scan's sync, what the journal holds plus what was exported equals what
 * was merged (a crash there loses nothing, doubles nothing); the slot of
 * an exported flow is freed before its record is emitted.
 */
#define JMODEL 64

static struct {
	uint64_t packets[JMODEL];
	bool valid[JMODEL];
	size_t forgets;
} jm;

static void jm_forget(void *ctx, const uint32_t *idx, size_t n)
{
	size_t i;

	(void)ctx;
	for (i = 0; i < n; i++) {
		ck_assert_uint_lt(idx[i], JMODEL);
		ck_assert(jm.valid[idx[i]]);
		jm.valid[idx[i]] = false;
	}
	jm.forgets += n;
}

static uint64_t jm_sync(void)
{
	uint32_t idx[8], doms[8];
	struct flow_key keys[8];
	struct flow_value vals[8];
	uint64_t t = 0;
	size_t n, i;

	while ((n = flow_cache_dirty_next(fc, idx, doms, keys, vals, 8))) {
		for (i = 0; i < n; i++) {
			ck_assert_uint_lt(idx[i], JMODEL);
			ck_assert_int_eq(doms[i], dom);
			ck_assert_uint_gt(vals[i].packets, 0);
			jm.packets[idx[i]] = vals[i].packets;
			jm.valid[idx[i]] = true;
		}
	}
	for (i = 0; i < JMODEL; i++)
		if (jm.valid[i])
			t += jm.packets[i];
	return t;
}

START_TEST(test_journal_hooks)
{
	struct flow_cache_params p;
	struct flow_key k[3] = { mkkey(3000, IPPROTO_TCP),
				 mkkey(3001, IPPROTO_UDP),
				 mkkey(3002, IPPROTO_UDP) };
	uint64_t t, sent = 0;
	int f;

	flow_cache_free(fc);
	memset(&jm, 0, sizeof(jm));
	setup_params(&p);
	p.journal_forget = jm_forget;
	new_cache(&p);
	/* 3 flows for 130 s: one steady (active timeouts), one with gaps
	 * (idle timeouts), one that ends with a FIN at 70 s */
	for (t = T0; t < T0 + 130 * S; t += S) {
		for (f = 0; f < 3; f++) {
			struct flow_value v = mkval(5, 500, t, t + 100 * MSEC);

			if (f == 1 && (t - T0) / S % 40 >= 20)
				continue;
			if (f == 2 && t > T0 + 70 * S)
				continue;
			if (f == 2 && t == T0 + 70 * S)
				v.flags |= FLOW_F_END_SEEN;
			merge1(&k[f], &v, t + S - 1);
			sent += 5;
		}
		flow_cache_expire(fc, t + S - 1);
		/* a crash here: journal + exported == merged */
		ck_assert_uint_eq(jm_sync() + sum_packets(), sent);
	}
	ck_assert_uint_gt(jm.forgets, 3);
	flow_cache_flush(fc, T0 + 131 * S);
	/* a clean stop: everything exported, the journal empty */
	ck_assert_uint_eq(jm_sync(), 0);
	ck_assert_uint_eq(sum_packets(), sent);
}
END_TEST

static Suite *flow_cache_suite(void)
{
	Suite *s = suite_create("flow_cache");
	TCase *tc = tcase_create("cache");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_merge_same_key);
	tcase_add_test(tc, test_record_fields);
	tcase_add_test(tc, test_clock_conversion);
	tcase_add_test(tc, test_domains_separate);
	tcase_add_test(tc, test_idle_timeout);
	tcase_add_test(tc, test_idle_pushed_by_traffic);
	tcase_add_test(tc, test_active_timeout_deltas);
	tcase_add_test(tc, test_latency_sums);
	tcase_add_test(tc, test_active_then_silent);
	tcase_add_test(tc, test_end_of_flow);
	tcase_add_test(tc, test_finished_drain_period);
	tcase_add_test(tc, test_overflow_catch_all);
	tcase_add_test(tc, test_flush_domain);
	tcase_add_test(tc, test_max_flows);
	tcase_add_test(tc, test_many_flows_and_batches);
	tcase_add_test(tc, test_far_deadline_wraps_wheel);
	tcase_add_test(tc, test_clock_jump_forward);
	tcase_add_test(tc, test_params_init);
	tcase_add_test(tc, test_journal_hooks);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(flow_cache_suite)
