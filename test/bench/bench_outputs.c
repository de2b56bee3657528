// SPDX-License-Identifier: Apache-2.0
/*
 * Costs of the agent's non-IPFIX outputs, measured side by side:
 *  - flow log formatting of 1 M records: flowlog_format_batch() next to a
 *    plain snprintf + inet_ntop formatter of the same fields (checked to
 *    give the same bytes) and a memcpy of the same bytes;
 *  - hooks: one batch of 258 and of 10,000 flows through one `jq .`
 *    command hook (and through `cat`), next to one bare fork+exec of
 *    /bin/true, per batch and per flow.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "exec.h"
#include "flowlog.h"
#include "hooks.h"
#include "log.h"

#define N_FLOWS 1000000
#define ROUNDS 3

static void make_flows(struct flow_record *r, size_t n)
{
	static const char *const netns[] = { "ns0", "ns1", "DEFAULT" };
	size_t i;

	for (i = 0; i < n; i++) {
		struct flow_record *f = &r[i];

		memset(f, 0, sizeof(*f));
		f->ingress_ifindex = 2 + i % 7;
		f->egress_ifindex = 3 + i % 5;
		if (i % 4 == 3) {
			f->ip_version = 6;
			f->src_addr[0] = 0x20;
			f->src_addr[1] = 0x01;
			f->src_addr[2] = 0x0d;
			f->src_addr[3] = 0xb8;
			f->src_addr[15] = i & 0xff;
			f->dst_addr[0] = 0xfd;
			f->dst_addr[13] = (i >> 8) & 0xff;
			f->dst_addr[15] = 1;
			f->proto = i % 8 == 7 ? 58 : 6;
		} else {
			f->ip_version = 4;
			f->src_addr[10] = f->src_addr[11] = 0xff;
			f->dst_addr[10] = f->dst_addr[11] = 0xff;
			f->src_addr[12] = 10;
			f->src_addr[13] = (i >> 16) & 0xff;
			f->src_addr[14] = (i >> 8) & 0xff;
			f->src_addr[15] = i & 0xff;
			f->dst_addr[12] = 192;
			f->dst_addr[13] = 168;
			f->dst_addr[15] = i % 250 + 1;
			f->proto = i % 3 == 0 ? 17 : i % 3 == 1 ? 6 : 1;
		}
		if (f->proto == 1 || f->proto == 58) {
			f->dport = 8 * 256;
		} else {
			f->sport = 1024 + i % 60000;
			f->dport = i % 2 ? 443 : 53;
		}
		f->packets = 1 + i % 1000;
		f->octets = f->packets * (64 + i % 1400);
		f->start_ns = 1700000000000000000ULL + i * 1000;
		f->end_ns = f->start_ns + 5000000000ULL;
		f->tcp_flags = f->proto == 6 ? 0x1b : 0;
		f->min_ttl = 63;
		f->max_ttl = 64;
		f->end_reason = 1 + i % 5;
		f->finished = f->end_reason == 3;
		f->direction = i % 2;
		f->netns = netns[i % 3];
	}
}

/* The same line with the C library: what a straightforward port does. */
static size_t format_snprintf(char *dst, size_t size,
			      const struct flow_record *r, uint64_t ts)
{
	char src[INET6_ADDRSTRLEN], dst_a[INET6_ADDRSTRLEN], icmp[64] = "";
	char ns[128];

	if (r->ip_version == 4) {
		inet_ntop(AF_INET, r->src_addr + 12, src, sizeof(src));
		inet_ntop(AF_INET, r->dst_addr + 12, dst_a, sizeof(dst_a));
	} else {
		inet_ntop(AF_INET6, r->src_addr, src, sizeof(src));
		inet_ntop(AF_INET6, r->dst_addr, dst_a, sizeof(dst_a));
	}
	if (r->proto == 1 || r->proto == 58)
		snprintf(icmp, sizeof(icmp), ",\"icmpType\":%u,\"icmpCode\":%u",
			 r->dport >> 8, r->dport & 0xff);
	json_escape(ns, sizeof(ns), r->netns);
	return snprintf(dst, size,
		"{\"level\":\"info\",\"ts\":%" PRIu64 ",\"msg\":\"flowlog\","
		"\"src\":\"%s\",\"dst\":\"%s\",\"proto\":%u,\"sport\":%u,"
		"\"dport\":%u,\"ingressIfindex\":%u,\"egressIfindex\":%u,"
		"\"pkts\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"action\":%u,"
		"\"start\":%" PRIu64 ",\"end\":%" PRIu64 ",\"finished\":%u,"
		"\"netns\":%s,\"direction\":\"%s\",\"ipVersion\":%u%s,"
		"\"tos\":%u,\"vlan\":%u,\"tcpFlags\":%u,\"minTtl\":%u,"
		"\"maxTtl\":%u,\"endReason\":%u,\"obsDomainId\":%u}\n",
		ts, src, dst_a, r->proto, r->sport, r->dport,
		r->ingress_ifindex, r->egress_ifindex, r->packets, r->octets,
		r->mark, r->start_ns / 1000000, r->end_ns / 1000000,
		r->finished, ns, r->direction ? "egress" : "ingress",
		r->ip_version, icmp, r->tos, r->vlan_id, r->tcp_flags,
		r->min_ttl, r->max_ttl, r->end_reason, r->obs_domain_id);
}

static void bench_format(void)
{
	const uint64_t ts = 1700000009000ULL;
	struct flow_record *r = malloc(N_FLOWS * sizeof(*r));
	struct flowlog_buf ours = { 0 };
	char *ref, *copy;
	double t, best_ours = 1e9, best_printf = 1e9, best_copy = 1e9;
	size_t i, off;
	int k;

	make_flows(r, N_FLOWS);
	for (k = 0; k < ROUNDS; k++) {
		ours.len = 0;
		t = clock_mono_s();
		if (flowlog_format_batch(r, N_FLOWS, FLOWLOG_LINES, ts, &ours))
			abort();
		t = clock_mono_s() - t;
		if (t < best_ours)
			best_ours = t;
	}
	ref = malloc(ours.len + 4096);
	copy = malloc(ours.len + 1);
	for (k = 0; k < ROUNDS; k++) {
		t = clock_mono_s();
		for (i = 0, off = 0; i < N_FLOWS; i++)
			off += format_snprintf(ref + off, 4096, &r[i], ts);
		t = clock_mono_s() - t;
		if (t < best_printf)
			best_printf = t;
	}
	if (off != ours.len || memcmp(ref, ours.data, off)) {
		fprintf(stderr, "bench: the snprintf formatter differs\n");
		exit(1);
	}
	for (k = 0; k < ROUNDS; k++) {
		t = clock_mono_s();
		memcpy(copy, ours.data, ours.len);
		t = clock_mono_s() - t;
		__asm__ volatile("" : : "r"(copy) : "memory");
		if (t < best_copy)
			best_copy = t;
	}
	printf("flow log formatting, %d flows (%.0f bytes/line), best of %d:\n",
	       N_FLOWS, (double)ours.len / N_FLOWS, ROUNDS);
	printf("  flowlog_format_batch  %8.1f ns/flow  %6.2f M flows/s\n",
	       best_ours * 1e9 / N_FLOWS, N_FLOWS / best_ours / 1e6);
	printf("  snprintf+inet_ntop    %8.1f ns/flow  %6.2f M flows/s  (%.1fx ours)\n",
	       best_printf * 1e9 / N_FLOWS, N_FLOWS / best_printf / 1e6,
	       best_printf / best_ours);
	printf("  memcpy of the bytes   %8.1f ns/flow  %6.2f M flows/s  (ours = %.1fx memcpy)\n",
	       best_copy * 1e9 / N_FLOWS, N_FLOWS / best_copy / 1e6,
	       best_ours / best_copy);
	flowlog_buf_free(&ours);
	free(ref);
	free(copy);
	free(r);
}

static double time_hook(struct hook_chain *c, const struct flowlog_buf *in,
			int reps)
{
	struct hook_run_result res;
	double t = clock_mono_s();
	size_t len;
	char *out;
	int k;

	for (k = 0; k < reps; k++) {
		if (hook_chain_run(c, in->data, in->len, &out, &len, &res) ||
		    !res.modified) {
			fprintf(stderr, "bench: hook failed\n");
			exit(1);
		}
		free(out);
	}
	return (clock_mono_s() - t) / reps;
}

static void bench_hooks(void)
{
	static char *const jq[] = { "jq", ".", NULL };
	static char *const cat[] = { "cat", NULL };
	static char *const true_argv[] = { "/bin/true", NULL };
	static const size_t sizes[] = { 258, 10000 };
	struct hook_spec jq_spec = {
		.name = "jq", .kind = HOOK_COMMAND, .argv = jq,
	};
	struct hook_spec cat_spec = {
		.name = "cat", .kind = HOOK_COMMAND, .argv = cat,
	};
	struct flow_record *r = malloc(10000 * sizeof(*r));
	struct hook_chain *jq_chain, *cat_chain;
	struct exec_result res;
	double t, bare;
	size_t i;
	int k, reps = 50;

	make_flows(r, 10000);
	if (hook_chain_create(&jq_chain, &jq_spec, 1, NULL) ||
	    hook_chain_create(&cat_chain, &cat_spec, 1, NULL))
		exit(1);
	t = clock_mono_s();
	for (k = 0; k < reps; k++) {
		if (exec_run(true_argv, NULL, NULL, 0, 0, &res) || res.status)
			exit(1);
		exec_result_free(&res);
	}
	bare = (clock_mono_s() - t) / reps;
	printf("hooks (one process per batch):\n");
	printf("  fork+exec /bin/true          %8.2f ms\n", bare * 1e3);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct flowlog_buf in = { 0 };
		size_t n = sizes[i];
		int hreps = n > 1000 ? 5 : 20;
		double tj, tc;

		flowlog_format_batch(r, n, FLOWLOG_ARRAY, 1700000009000ULL,
				     &in);
		tc = time_hook(cat_chain, &in, hreps);
		tj = time_hook(jq_chain, &in, hreps);
		printf("  %5zu flows, `cat` hook       %8.2f ms/batch %7.2f us/flow  (%.1fx bare exec)\n",
		       n, tc * 1e3, tc * 1e6 / n, tc / bare);
		printf("  %5zu flows, `jq .` hook      %8.2f ms/batch %7.2f us/flow  (%.1fx bare exec)\n",
		       n, tj * 1e3, tj * 1e6 / n, tj / bare);
		if (n == 258)
			printf("         the original: ~8000 ms per 258 flows with one jq hook: %.0fx slower\n",
			       8.0 / tj);
		flowlog_buf_free(&in);
	}
	hook_chain_destroy(jq_chain);
	hook_chain_destroy(cat_chain);
	free(r);
}

int main(void)
{
	bench_format();
	bench_hooks();
	return 0;
}
