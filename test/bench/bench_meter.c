// SPDX-License-Identifier: Apache-2.0
/*
 * Cost of the in-kernel meter per packet, side by side in one run with
 * BPF_PROG_TEST_RUN (kernel.bpf_stats_enabled=0 for the run): an empty tc
 * program, a naive IPv4 5-tuple counter (HASH + atomic add, the reference),
 * and the meter with its knobs, on an IPv4/UDP and an IPv6/TCP frame.
 * Measurements are interleaved (round robin, several rounds); the median and
 * the minimum are reported, with ratios to the empty program on the same
 * frame.  The verdict uses the minimum (the least disturbed run on a shared
 * machine).  The target: meter <= 3.5 x empty.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "bpffs.h"
#include "clock.h"
#include "ebpf_build.h"
#include "flow_abi.h"
#include "log.h"

#define STATS_SYSCTL	"/proc/sys/kernel/bpf_stats_enabled"
#define ROUNDS		5
#define TARGET_NS	300000000ULL	/* per measurement: ~0.3 s */
#define MIN_REPEAT	1000000
#define MAX_REPEAT	10000000
#define TARGET_RATIO	3.5

static const char empty_src[] =
	"// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)\n"
	"#include <linux/bpf.h>\n"
	"#include <linux/pkt_cls.h>\n"
	"#include <bpf/bpf_helpers.h>\n"
	"SEC(\"" FLOW_SEC_INGRESS "\")\n"
	"int empty(struct __sk_buff *skb)\n"
	"{\n"
	"	(void)skb;\n"
	"	return TC_ACT_UNSPEC;\n"
	"}\n"
	"char _license[] SEC(\"license\") = \"Dual BSD/GPL\";\n";

/* The reference: what a minimal IPv4-only 5-tuple counter costs. */
static const char naive_src[] =
	"// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)\n"
	"#include <linux/bpf.h>\n"
	"#include <linux/pkt_cls.h>\n"
	"#include <linux/if_ether.h>\n"
	"#include <linux/in.h>\n"
	"#include <linux/ip.h>\n"
	"#include <bpf/bpf_helpers.h>\n"
	"#include <bpf/bpf_endian.h>\n"
	"struct k { __be32 saddr, daddr; __be16 sport, dport; __u8 proto, pad[3]; };\n"
	"struct v { __u64 packets, octets; };\n"
	"struct {\n"
	"	__uint(type, BPF_MAP_TYPE_HASH);\n"
	"	__uint(max_entries, 65536);\n"
	"	__type(key, struct k);\n"
	"	__type(value, struct v);\n"
	"} naive_flows SEC(\".maps\");\n"
	"SEC(\"" FLOW_SEC_INGRESS "\")\n"
	"int naive(struct __sk_buff *skb)\n"
	"{\n"
	"	void *data = (void *)(long)skb->data;\n"
	"	void *end = (void *)(long)skb->data_end;\n"
	"	struct ethhdr *eth = data;\n"
	"	struct iphdr *ip = (void *)(eth + 1);\n"
	"	struct k key = {};\n"
	"	__be16 *ports;\n"
	"	struct v *v;\n"
	"	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))\n"
	"		return TC_ACT_UNSPEC;\n"
	"	key.saddr = ip->saddr;\n"
	"	key.daddr = ip->daddr;\n"
	"	key.proto = ip->protocol;\n"
	"	ports = (void *)ip + ip->ihl * 4;\n"
	"	if ((ip->protocol == IPPROTO_TCP || ip->protocol == IPPROTO_UDP) &&\n"
	"	    (void *)(ports + 2) <= end) {\n"
	"		key.sport = ports[0];\n"
	"		key.dport = ports[1];\n"
	"	}\n"
	"	v = bpf_map_lookup_elem(&naive_flows, &key);\n"
	"	if (v) {\n"
	"		__sync_fetch_and_add(&v->packets, 1);\n"
	"		__sync_fetch_and_add(&v->octets, bpf_ntohs(ip->tot_len));\n"
	"	} else {\n"
	"		struct v nv = { 1, bpf_ntohs(ip->tot_len) };\n"
	"		bpf_map_update_elem(&naive_flows, &key, &nv, BPF_NOEXIST);\n"
	"	}\n"
	"	return TC_ACT_UNSPEC;\n"
	"}\n"
	"char _license[] SEC(\"license\") = \"Dual BSD/GPL\";\n";

/* Frames: Ethernet + IPv4 + UDP (18 bytes payload: a 60-byte frame), and
 * Ethernet + IPv6 + TCP (ACK, 32 bytes payload).  Only the meter and the
 * naive counter read them; checksums do not matter here.
 */
static const uint8_t frame_ipv4_udp[60] = {
	0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00,
	0x45, 0x00, 0x00, 46, 0x1c, 0x46, 0x40, 0x00, 64, 17, 0, 0,
	10, 1, 0, 2, 10, 2, 0, 2,
	0x04, 0xd2, 0x00, 0x35, 0x00, 26, 0, 0,
};

static const uint8_t frame_ipv6_tcp[14 + 40 + 20 + 32] = {
	0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x86, 0xdd,
	0x60, 0, 0, 0, 0x00, 52, 6, 64,
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
	0xc3, 0x50, 0x01, 0xbb, 0, 0, 0x03, 0xe8, 0, 0, 0x07, 0xd0,
	0x50, 0x10, 0xfa, 0xf0, 0, 0, 0, 0,
};

/*
 * A forwarded packet's two hooks back to back on one skb, as the router
 * runs them (tc ingress, then tc egress in the same softirq): appended to
 * the rendered template, so that the latency knob's stamp is matched.
 */
static const char forward_src[] =
	/* two calls, as two programs: clang may not share ctx pointers */
	"static __noinline int bench_in(struct __sk_buff *skb)\n"
	"{\n"
	"	ingress_hook(skb);\n"
	"	return 0;\n"
	"}\n"
	"static __noinline int bench_out(struct __sk_buff *skb)\n"
	"{\n"
	"	egress_hook(skb);\n"
	"	return 0;\n"
	"}\n"
	"SEC(\"tc-forward\")\n"
	"int bench_forward(struct __sk_buff *skb)\n"
	"{\n"
	"	bench_in(skb);\n"
	"	bench_out(skb);\n"
	"	return TC_ACT_UNSPEC;\n"
	"}\n";

/*
 * A new flow at every run: the ports (4 bytes after the IP header) are
 * overwritten with a counter before the egress hook, so every run inserts
 * a flow (the insert path, where BPF_F_NO_PREALLOC allocates).  The
 * wrapper's own cost is the same with and without preallocation.
 */
static const char newflow_src[] =
	"struct {\n"
	"	__uint(type, BPF_MAP_TYPE_ARRAY);\n"
	"	__uint(max_entries, 1);\n"
	"	__type(key, __u32);\n"
	"	__type(value, __u32);\n"
	"} bench_seq SEC(\".maps\");\n"
	"SEC(\"tc-newflow\")\n"
	"int bench_newflow(struct __sk_buff *skb)\n"
	"{\n"
	"	__u32 zero = 0, v, *seq = bpf_map_lookup_elem(&bench_seq, &zero);\n"
	"\n"
	"	if (!seq)\n"
	"		return TC_ACT_UNSPEC;\n"
	"	v = ++*seq;\n"
	"	bpf_skb_store_bytes(skb, skb->protocol == bpf_htons(ETH_P_IP) ?\n"
	"			    14 + 20 : 14 + 40, &v, sizeof(v), 0);\n"
	"	egress_hook(skb);\n"
	"	return TC_ACT_UNSPEC;\n"
	"}\n";

/* Runs of a new-flow measurement: the flow maps hold them all (the
 * default limit, 65536), emptied before each measurement. */
#define NEWFLOW_REPEAT	50000

/* ifindex of the forward runs: the stamp's interface is the egress
 * skb's ingress_ifindex (lo exists everywhere) */
#define FORWARD_IFINDEX	1

struct frame {
	const char *name;
	const uint8_t *data;
	size_t len;
};

static const struct frame frames[] = {
	{ "ipv4_udp", frame_ipv4_udp, sizeof(frame_ipv4_udp) },
	{ "ipv6_tcp", frame_ipv6_tcp, sizeof(frame_ipv6_tcp) },
};
#define N_FRAMES (sizeof(frames) / sizeof(frames[0]))

enum prog_kind { PK_EMPTY, PK_NAIVE, PK_METER };

struct bench_prog {
	const char *name;
	enum prog_kind kind;
	bool ifstats, coarse_time;
	bool latency;		/* the latency knob */
	bool forward;		/* ingress + egress on one skb */
	bool newflow;		/* a new flow at every run */
	bool no_prealloc;	/* flow maps with BPF_F_NO_PREALLOC */
	bool ipv4_only;
	struct bpf_object *obj;
	int fd;
	/* per frame */
	unsigned int repeat[N_FRAMES];
	double ns[N_FRAMES][ROUNDS];
};

static struct bench_prog progs[] = {
	{ .name = "empty tc program", .kind = PK_EMPTY },
	{ .name = "naive IPv4 5-tuple counter", .kind = PK_NAIVE,
	  .ipv4_only = true },
	{ .name = "meter (default knobs)", .kind = PK_METER,
	  .coarse_time = true },
	{ .name = "meter, ifstats on", .kind = PK_METER, .ifstats = true,
	  .coarse_time = true },
	{ .name = "meter, precise time", .kind = PK_METER },
	{ .name = "meter, ifstats on, precise time", .kind = PK_METER,
	  .ifstats = true },
	{ .name = "forwarded (in+out), default", .kind = PK_METER,
	  .coarse_time = true, .forward = true },
	{ .name = "forwarded (in+out), --latency", .kind = PK_METER,
	  .coarse_time = true, .forward = true, .latency = true },
	{ .name = "meter, --no-prealloc", .kind = PK_METER,
	  .coarse_time = true, .no_prealloc = true },
	{ .name = "new flow each packet", .kind = PK_METER,
	  .coarse_time = true, .newflow = true },
	{ .name = "new flow each packet, --no-prealloc", .kind = PK_METER,
	  .coarse_time = true, .newflow = true, .no_prealloc = true },
};
#define N_PROGS (sizeof(progs) / sizeof(progs[0]))

static int stats_old = -1;

static int stats_read(void)
{
	char buf[16] = { 0 };
	int fd = open(STATS_SYSCTL, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? atoi(buf) : -1;
}

static int stats_write(int v)
{
	char buf[4];
	int fd = open(STATS_SYSCTL, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	snprintf(buf, sizeof(buf), "%d\n", v);
	if (write(fd, buf, strlen(buf)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static void stats_restore(void)
{
	if (stats_old > 0)
		stats_write(stats_old);
}

static void on_signal(int sig)
{
	stats_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

static int prog_load(struct bench_prog *p, const char *cache)
{
	char path[PATH_MAX], digest[EBPF_DIGEST_LEN + 1];
	struct bpf_program *prog;
	struct bpf_map *map;
	int err;

	if (p->kind == PK_METER) {
		struct ebpf_knobs k;
		size_t len;
		char *src;

		ebpf_knobs_default(&k);
		k.ifstats = p->ifstats;
		k.coarse_time = p->coarse_time;
		k.latency = p->latency;
		k.no_prealloc = p->no_prealloc;
		err = ebpf_render(&k, &src, &len);
		if (err)
			return err;
		if (p->forward || p->newflow) {
			const char *add = p->forward ? forward_src : newflow_src;
			size_t alen = strlen(add);
			char *full = malloc(len + alen + 1);

			if (!full) {
				free(src);
				return -ENOMEM;
			}
			memcpy(full, src, len);
			memcpy(full + len, add, alen + 1);
			free(src);
			src = full;
			len += alen;
		}
		err = ebpf_compile_source(src, len, cache, path, sizeof(path),
					  digest);
		free(src);
	} else {
		const char *src = p->kind == PK_EMPTY ? empty_src : naive_src;

		err = ebpf_compile_source(src, strlen(src), cache, path,
					  sizeof(path), digest);
	}
	if (err)
		return err;
	p->obj = bpf_object__open_file(path, NULL);
	if (!p->obj)
		return -errno;
	bpf_object__for_each_program(prog, p->obj)
		bpf_program__set_type(prog, BPF_PROG_TYPE_SCHED_CLS);
	bpf_object__for_each_map(map, p->obj)
		bpf_map__set_pin_path(map, NULL);
	err = bpf_object__load(p->obj);
	if (err)
		return err;
	/* the first program: flow_ingress for the meter */
	prog = p->forward ?
	       bpf_object__find_program_by_name(p->obj, "bench_forward") :
	       p->newflow ?
	       bpf_object__find_program_by_name(p->obj, "bench_newflow") :
	       bpf_object__next_program(p->obj, NULL);
	p->fd = prog ? bpf_program__fd(prog) : -1;
	return p->fd < 0 ? -ENOENT : 0;
}

/* Empty the flow maps of P (new-flow runs insert into flows_0). */
static int flows_empty(const struct bench_prog *p)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	static struct flow_key keys[4096];
	static struct flow_value vals[4096];
	const char *names[] = { FLOW_MAP_FLOWS_0, FLOW_MAP_FLOWS_1 };
	size_t i;

	for (i = 0; i < 2; i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(p->obj,
								 names[i]);
		__u32 in = 0, out = 0, n;
		bool first = true;
		int fd, err;

		if (!m)
			return -ENOENT;
		fd = bpf_map__fd(m);
		do {
			n = 4096;
			err = bpf_map_lookup_and_delete_batch(fd,
				first ? NULL : &in, &out, keys, vals, &n, &bo);
			in = out;
			first = false;
		} while (!err);
		if (err != -ENOENT)
			return err;
	}
	return 0;
}

/* Average ns per run of REPEAT runs of P on F, or < 0. */
static double measure(const struct bench_prog *p, const struct frame *f,
		      unsigned int repeat)
{
	struct __sk_buff ctx = {
		.ifindex = FORWARD_IFINDEX,
		.ingress_ifindex = FORWARD_IFINDEX,
	};
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		.data_in = f->data,
		.data_size_in = f->len,
		.repeat = repeat,
	);

	if (p->forward) {
		opts.ctx_in = &ctx;
		opts.ctx_size_in = sizeof(ctx);
	}
	if (bpf_prog_test_run_opts(p->fd, &opts))
		return -1;
	return opts.duration;	/* the kernel's total / repeat */
}

/* The kernel reports whole ns: time a long batch for a finer figure. */
static double measure_fine(const struct bench_prog *p, const struct frame *f,
			   unsigned int repeat)
{
	uint64_t t0;

	if (p->newflow && (flows_empty(p) || repeat > NEWFLOW_REPEAT))
		return -1;
	t0 = clock_mono_ns();
	if (measure(p, f, repeat) < 0)
		return -1;
	return (double)(clock_mono_ns() - t0) / repeat;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const double *v, double *min)
{
	double s[ROUNDS];

	memcpy(s, v, sizeof(s));
	qsort(s, ROUNDS, sizeof(s[0]), cmp_double);
	*min = s[0];
	return s[ROUNDS / 2];
}

int main(void)
{
	char cache[] = "/tmp/flowctl-bench.XXXXXX";
	double empty_med[N_FRAMES] = { 0 }, empty_min[N_FRAMES] = { 0 };
	double worst_default = 0, fwd_min[N_FRAMES][2] = { { 0 } };
	double fwd_med[N_FRAMES][2] = { { 0 } };
	size_t i, f;
	int r, ret = 1;
	cpu_set_t cpus;

	if (geteuid() != 0) {
		printf("SKIP bench_meter: needs root (BPF_PROG_TEST_RUN)\n");
		return 0;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	log_setup_libbpf();
	stats_old = stats_read();
	if (stats_old < 0) {
		fprintf(stderr, "bench_meter: cannot read %s\n", STATS_SYSCTL);
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	atexit(stats_restore);
	/* run time stats add two clock reads to every program run */
	if (stats_old && stats_write(0)) {
		fprintf(stderr, "bench_meter: cannot set %s to 0\n",
			STATS_SYSCTL);
		return 1;
	}
	CPU_ZERO(&cpus);
	CPU_SET(sched_getcpu(), &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);
	if (!mkdtemp(cache)) {
		perror("bench_meter: mkdtemp");
		return 1;
	}

	for (i = 0; i < N_PROGS; i++) {
		int err = prog_load(&progs[i], cache);

		if (err) {
			fprintf(stderr, "bench_meter: %s: load failed: %s\n",
				progs[i].name, strerror(-err));
			goto out;
		}
		/* calibrate: about TARGET_NS per measurement */
		for (f = 0; f < N_FRAMES; f++) {
			double ns;
			unsigned long long n;

			if (progs[i].newflow) {
				/* the maps' room, not the time, sets it */
				progs[i].repeat[f] = NEWFLOW_REPEAT;
				continue;
			}
			ns = measure_fine(&progs[i], &frames[f], 200000);
			if (ns <= 0) {
				fprintf(stderr, "bench_meter: test_run: %s\n",
					strerror(errno));
				goto out;
			}
			n = TARGET_NS / ns;
			progs[i].repeat[f] = n < MIN_REPEAT ? MIN_REPEAT :
					     n > MAX_REPEAT ? MAX_REPEAT : n;
		}
	}

	/* round robin: drifts of the machine hit every program alike */
	for (r = 0; r < ROUNDS; r++) {
		for (f = 0; f < N_FRAMES; f++) {
			for (i = 0; i < N_PROGS; i++) {
				struct bench_prog *p = &progs[i];

				if (p->ipv4_only && f != 0)
					continue;
				p->ns[f][r] = measure_fine(p, &frames[f],
							   p->repeat[f]);
				if (p->ns[f][r] < 0) {
					fprintf(stderr, "bench_meter: test_run: %s\n",
						strerror(errno));
					goto out;
				}
			}
		}
	}

	printf("ns per packet, BPF_PROG_TEST_RUN, kernel.bpf_stats_enabled=%d during the run (was %d),\n"
	       "one CPU; %d interleaved rounds of 1-10 M runs each: median and minimum,\n"
	       "ratios to the empty program on the same frame (the minimum is the\n"
	       "least disturbed figure when other work shares the machine)\n\n",
	       stats_read(), stats_old, ROUNDS);
	printf("%-9s %-32s %8s %8s %9s %9s\n", "frame", "program", "median",
	       "min", "x (med)", "x (min)");
	for (f = 0; f < N_FRAMES; f++) {
		for (i = 0; i < N_PROGS; i++) {
			struct bench_prog *p = &progs[i];
			double med, min;

			if (p->ipv4_only && f != 0)
				continue;
			med = median(p->ns[f], &min);
			if (p->kind == PK_EMPTY) {
				empty_med[f] = med;
				empty_min[f] = min;
			}
			if (p->forward) {
				fwd_med[f][p->latency] = med;
				fwd_min[f][p->latency] = min;
			}
			if (p->kind == PK_METER && !p->ifstats && !p->forward &&
			    !p->newflow && !p->no_prealloc && p->coarse_time &&
			    min / empty_min[f] > worst_default)
				worst_default = min / empty_min[f];
			printf("%-9s %-32s %8.1f %8.1f %8.2fx %8.2fx\n",
			       frames[f].name, p->name, med, min,
			       med / empty_med[f], min / empty_min[f]);
		}
	}
	printf("\nforwarding latency (--latency), per forwarded packet (ingress + egress):\n");
	for (f = 0; f < N_FRAMES; f++)
		printf("  %-9s +%.1f ns median (%.2fx the pair without it), +%.1f ns minimum (%.2fx)\n",
		       frames[f].name, fwd_med[f][1] - fwd_med[f][0],
		       fwd_med[f][1] / fwd_med[f][0],
		       fwd_min[f][1] - fwd_min[f][0],
		       fwd_min[f][1] / fwd_min[f][0]);
	for (f = 0; f < N_FRAMES; f++) {
		const struct bench_prog *pre = NULL, *nop = NULL;
		const struct bench_prog *dflt = NULL, *dnop = NULL;
		double m0, m1, m2, m3;

		for (i = 0; i < N_PROGS; i++) {
			const struct bench_prog *p = &progs[i];

			if (p->newflow)
				*(p->no_prealloc ? &nop : &pre) = p;
			else if (p->kind == PK_METER && !p->ifstats &&
				 !p->forward && p->coarse_time)
				*(p->no_prealloc ? &dnop : &dflt) = p;
		}
		if (!pre || !nop || !dflt || !dnop)
			break;
		median(pre->ns[f], &m0);
		median(nop->ns[f], &m1);
		median(dflt->ns[f], &m2);
		median(dnop->ns[f], &m3);
		if (f == 0)
			printf("\n--no-prealloc (minimum ns per packet, this run):\n");
		printf("  %-9s existing flow %.1f vs %.1f preallocated (%.2fx); new flow each packet %.1f vs %.1f (%.2fx, +%.1f ns per new flow)\n",
		       frames[f].name, m3, m2, m3 / m2, m1, m0, m1 / m0,
		       m1 - m0);
	}
	printf("\nmeter with default knobs: %.2fx empty (minimum, worst frame); target <= %.1fx: %s\n",
	       worst_default, TARGET_RATIO,
	       worst_default <= TARGET_RATIO ? "met" : "NOT met");
	ret = 0;
out:
	for (i = 0; i < N_PROGS; i++)
		bpf_object__close(progs[i].obj);
	remove_tree(cache);
	return ret;
}
