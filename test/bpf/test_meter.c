// SPDX-License-Identifier: Apache-2.0
/*
 * BPF_PROG_TEST_RUN tests of the in-kernel meter: the template is rendered
 * and compiled exactly as flowctl does it (ebpf_build), loaded with libbpf
 * without pinning, and fed a corpus of frames built here.  For each frame,
 * through both programs: the verdict is TC_ACT_UNSPEC, the packet comes out
 * unchanged, and the maps hold exactly the expected flow (or the unparsed
 * counter moved by one).  Then the double buffer, a full flow map, GSO.
 *
 * Prints PASS/FAIL/SKIP lines; exit status 1 when anything failed.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
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
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>

#include "bpffs.h"
#include "clock.h"
#include "ebpf_build.h"
#include "flow_abi.h"
#include "log.h"

#define FRAME_MAX	3072	/* test_run takes up to about a page */
#define TEST_MAX_FLOWS	64
#define EGRESS_IIF	42	/* skb->ingress_ifindex given at egress */

static int n_pass, n_fail;
static unsigned int test_ifindex = 1;	/* skb->ifindex of the test runs */

/* ---- frame builder ---------------------------------------------------- */

struct frame {
	uint8_t b[FRAME_MAX];
	size_t len;
	size_t l3;		/* IP header */
	size_t l4;		/* transport header (after ext headers) */
	size_t next_at;		/* byte of the last "next protocol" */
	int ipv;		/* 4, 6 or 0 */
	uint8_t proto;		/* last protocol written into next_at */
	bool fragment;		/* no transport checksum */
};

static uint8_t *put(struct frame *f, size_t n)
{
	uint8_t *p = f->b + f->len;

	if (f->len + n > FRAME_MAX) {
		fprintf(stderr, "frame too long\n");
		exit(2);
	}
	memset(p, 0, n);
	f->len += n;
	return p;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

static void fr_init(struct frame *f)
{
	memset(f, 0, sizeof(*f));
}

static void fr_eth(struct frame *f, uint16_t type)
{
	static const uint8_t macs[12] = { 0x02, 0, 0, 0, 0, 0x02,
					  0x02, 0, 0, 0, 0, 0x01 };
	uint8_t *p = put(f, 14);

	memcpy(p, macs, 12);
	put16(p + 12, type);
}

/* One tag; the type before it (Ethernet or the previous tag) is its TPID. */
static void fr_vlan(struct frame *f, uint16_t tci, uint16_t next_type)
{
	uint8_t *p = put(f, 4);

	put16(p, tci);
	put16(p + 2, next_type);
}

static void fr_set_next(struct frame *f, uint8_t proto)
{
	if (f->next_at)
		f->b[f->next_at] = proto;
	f->proto = proto;
}

static void fr_ipv4(struct frame *f, const char *src, const char *dst,
		    uint8_t tos, uint8_t ttl, uint16_t frag, const uint8_t *opt,
		    size_t opt_len)
{
	size_t hlen = 20 + opt_len;
	uint8_t *p;

	f->l3 = f->len;
	p = put(f, hlen);
	p[0] = 0x40 | (hlen / 4);
	p[1] = tos;
	put16(p + 4, 0x1c46);		/* identification */
	put16(p + 6, frag);
	p[8] = ttl;
	inet_pton(AF_INET, src, p + 12);
	inet_pton(AF_INET, dst, p + 16);
	if (opt_len)
		memcpy(p + 20, opt, opt_len);
	f->ipv = 4;
	f->next_at = f->l3 + 9;
	f->l4 = f->len;
	f->fragment = frag & 0x3fff;
}

static void fr_ipv6(struct frame *f, const char *src, const char *dst,
		    uint8_t tclass, uint8_t hlim, uint32_t flow)
{
	uint8_t *p;

	f->l3 = f->len;
	p = put(f, 40);
	put32(p, 6U << 28 | (uint32_t)tclass << 20 | (flow & 0xfffff));
	p[7] = hlim;
	inet_pton(AF_INET6, src, p + 8);
	inet_pton(AF_INET6, dst, p + 24);
	f->ipv = 6;
	f->next_at = f->l3 + 6;
	f->l4 = f->len;
}

/* Hop-by-hop / destination options (PadN filled) or routing (type 253,
 * segments left 0) or AH, LEN bytes.
 */
static void fr_ip6_ext(struct frame *f, uint8_t type, size_t len)
{
	size_t at = f->len;
	uint8_t *p;

	fr_set_next(f, type);
	p = put(f, len);
	if (type == IPPROTO_AH) {
		p[1] = len / 4 - 2;
		put32(p + 4, 0x1000);		/* SPI */
		put32(p + 8, 1);		/* sequence */
	} else {
		p[1] = len / 8 - 1;
		if (type == IPPROTO_ROUTING) {
			p[2] = 253;	/* experimental routing type */
		} else {
			p[2] = 1;		/* PadN over the rest */
			p[3] = len - 4;
		}
	}
	f->next_at = at;
	f->l4 = f->len;
}

static void fr_ip6_frag(struct frame *f, uint16_t offset8, bool more)
{
	size_t at = f->len;
	uint8_t *p;

	fr_set_next(f, IPPROTO_FRAGMENT);
	p = put(f, 8);
	put16(p + 2, offset8 << 3 | (more ? 1 : 0));
	put32(p + 4, 0xabcd0001);
	f->next_at = at;
	f->l4 = f->len;
	f->fragment = true;
}

static void fr_payload(struct frame *f, size_t n)
{
	uint8_t *p = put(f, n);
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = 'A' + i % 26;
}

static void fr_tcp(struct frame *f, uint16_t sport, uint16_t dport,
		   uint16_t flags, size_t opt_len, size_t payload)
{
	uint8_t *p;

	fr_set_next(f, IPPROTO_TCP);
	f->l4 = f->len;
	p = put(f, 20 + opt_len);
	put16(p, sport);
	put16(p + 2, dport);
	put32(p + 4, 1000);
	put32(p + 8, (flags & 0x10) ? 2000 : 0);
	p[12] = ((20 + opt_len) / 4) << 4 | ((flags >> 8) & 1);
	p[13] = flags;
	put16(p + 14, 64240);
	if (opt_len >= 4) {		/* MSS, then NOPs */
		p[20] = 2;
		p[21] = 4;
		put16(p + 22, 1460);
		memset(p + 24, 1, opt_len - 4);
	}
	fr_payload(f, payload);
}

/* UDP, UDP-Lite or SCTP: ports first. */
static void fr_ports(struct frame *f, uint8_t proto, uint16_t sport,
		     uint16_t dport, size_t payload)
{
	size_t hlen = proto == IPPROTO_SCTP ? 12 : 8;
	uint8_t *p;

	fr_set_next(f, proto);
	f->l4 = f->len;
	p = put(f, hlen);
	put16(p, sport);
	put16(p + 2, dport);
	if (proto == IPPROTO_SCTP)
		put32(p + 4, 0x11223344);	/* verification tag */
	fr_payload(f, payload);
}

static void fr_icmp(struct frame *f, uint8_t proto, uint8_t type,
		    uint8_t code, size_t payload)
{
	uint8_t *p;

	fr_set_next(f, proto);
	f->l4 = f->len;
	p = put(f, 8);
	p[0] = type;
	p[1] = code;
	put16(p + 4, 0x4242);		/* identifier */
	put16(p + 6, 1);		/* sequence */
	fr_payload(f, payload);
}

/* Another protocol, no ports (GRE, ESP, ...). */
static void fr_other(struct frame *f, uint8_t proto, size_t payload)
{
	fr_set_next(f, proto);
	f->l4 = f->len;
	fr_payload(f, payload);
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

/* CRC32c (Castagnoli), as SCTP uses it (RFC 9260 appendix A). */
static uint32_t crc32c(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xffffffff;
	size_t i;
	int k;

	for (i = 0; i < n; i++) {
		crc ^= p[i];
		for (k = 0; k < 8; k++)
			crc = crc >> 1 ^ (0x82f63b78 & -(crc & 1));
	}
	return ~crc;
}

/* Lengths and checksums, once the frame is complete. */
static void fr_finish(struct frame *f)
{
	uint8_t *ip = f->b + f->l3, *l4 = f->b + f->l4;
	size_t l4_len = f->len - f->l4;
	uint32_t sum = 0;
	int off = -1;

	if (f->ipv == 4) {
		put16(ip + 2, f->len - f->l3);
		put16(ip + 10, 0);
		put16(ip + 10, csum_fold(csum_add(0, ip, (ip[0] & 15) * 4)));
		sum = csum_add(0, ip + 12, 8);
	} else if (f->ipv == 6) {
		put16(ip + 4, f->len - f->l3 - 40);
		sum = csum_add(0, ip + 8, 32);
	} else {
		return;
	}
	if (f->fragment)
		return;
	switch (f->proto) {
	case IPPROTO_TCP:
		off = 16;
		break;
	case IPPROTO_UDP:
		put16(l4 + 4, l4_len);
		off = 6;
		break;
	case IPPROTO_UDPLITE:
		put16(l4 + 4, 0);		/* coverage: everything */
		off = 6;
		break;
	case IPPROTO_ICMP:
		if (f->ipv == 4)
			sum = 0;		/* no pseudo header */
		off = 2;
		break;
	case IPPROTO_ICMPV6:
		off = 2;
		break;
	case IPPROTO_SCTP: {
		uint32_t crc;

		put32(l4 + 8, 0);
		crc = crc32c(l4, l4_len);
		/* stored least significant byte first */
		l4[8] = crc;
		l4[9] = crc >> 8;
		l4[10] = crc >> 16;
		l4[11] = crc >> 24;
		return;
	}
	default:
		return;
	}
	if (f->proto != IPPROTO_ICMP || f->ipv == 6) {
		sum += f->proto;
		sum += l4_len;
	}
	put16(l4 + off, 0);
	put16(l4 + off, csum_fold(csum_add(sum, l4, l4_len)));
	if (f->proto == IPPROTO_UDP && l4[6] == 0 && l4[7] == 0)
		put16(l4 + 6, 0xffff);
}

/* ---- expectations ----------------------------------------------------- */

struct expect {
	bool unparsed;
	int ipv;
	uint8_t src[16], dst[16];
	uint8_t proto, tos, ttl;
	uint16_t sport, dport;	/* host order; ICMP: type*256+code */
	uint16_t vlan;
	uint32_t mark;
	uint64_t packets, octets;
	uint32_t tcp_flags, flags;
	/* context of the run */
	uint32_t gso_segs, gso_size;
};

static void exp_addr(struct expect *e, const char *src, const char *dst)
{
	if (strchr(src, ':')) {
		e->ipv = 6;
		inet_pton(AF_INET6, src, e->src);
		inet_pton(AF_INET6, dst, e->dst);
		return;
	}
	e->ipv = 4;
	memset(e->src, 0, 16);
	memset(e->dst, 0, 16);
	e->src[10] = e->src[11] = e->dst[10] = e->dst[11] = 0xff;
	inet_pton(AF_INET, src, e->src + 12);
	inet_pton(AF_INET, dst, e->dst + 12);
}

/* The expected flow of an IP frame F: octets are the IP length. */
static struct expect exp_flow(const struct frame *f, const char *src,
			      const char *dst, uint8_t proto, uint16_t sport,
			      uint16_t dport, uint8_t tos, uint8_t ttl)
{
	struct expect e = { 0 };

	exp_addr(&e, src, dst);
	e.proto = proto;
	e.sport = sport;
	e.dport = dport;
	e.tos = tos;
	e.ttl = ttl;
	e.packets = 1;
	e.octets = f->len - f->l3;
	return e;
}

/* ---- the object under test -------------------------------------------- */

struct meter_obj {
	const char *label;		/* appended to case names */
	struct bpf_object *obj;
	int prog[2];			/* by enum flow_direction */
	int flows[2], ctl, ifstats, counters, events;
	int stamp, latency, stamp_prog;	/* latency knob only, else -1 */
	struct ring_buffer *rb;
	int n_events;
	struct flow_event last_event;
	bool ifstats_on, coarse;
	int ncpus;
};

static int on_event(void *ctx, void *data, size_t size)
{
	struct meter_obj *m = ctx;

	m->n_events++;
	if (size == sizeof(m->last_event))
		memcpy(&m->last_event, data, size);
	return 0;
}

static int map_fd(struct bpf_object *obj, const char *name)
{
	struct bpf_map *map = bpf_object__find_map_by_name(obj, name);

	return map ? bpf_map__fd(map) : -1;
}

/*
 * Render with K (plus FLOWCTL_PKT_LOAD_BYTES_ONLY when LOAD_BYTES), compile
 * into CACHE_DIR, load without pinning.
 */
static int meter_open(struct meter_obj *m, const char *label,
		      const struct ebpf_knobs *k, bool load_bytes,
		      const char *cache_dir)
{
	static const char force[] = "#define FLOWCTL_PKT_LOAD_BYTES_ONLY 1\n";
	char path[PATH_MAX], digest[EBPF_DIGEST_LEN + 1];
	char *src = NULL, *full = NULL;
	struct bpf_program *prog;
	struct bpf_map *map;
	size_t len;
	int err;

	memset(m, 0, sizeof(*m));
	m->label = label;
	m->ifstats_on = k->ifstats;
	m->coarse = k->coarse_time;
	m->ncpus = libbpf_num_possible_cpus();
	err = ebpf_render(k, &src, &len);
	if (err)
		goto out;
	if (load_bytes) {
		full = malloc(len + sizeof(force));
		if (!full) {
			err = -ENOMEM;
			goto out;
		}
		memcpy(full, force, sizeof(force) - 1);
		memcpy(full + sizeof(force) - 1, src, len + 1);
		len += sizeof(force) - 1;
	}
	err = ebpf_compile_source(full ? full : src, len, cache_dir, path,
				  sizeof(path), digest);
	if (err)
		goto out;
	m->obj = bpf_object__open_file(path, NULL);
	if (!m->obj) {
		err = -errno;
		goto out;
	}
	/* tc sets the type from its command line; so do we */
	bpf_object__for_each_program(prog, m->obj)
		bpf_program__set_type(prog, BPF_PROG_TYPE_SCHED_CLS);
	/* no pins: a private copy of every map */
	bpf_object__for_each_map(map, m->obj)
		bpf_map__set_pin_path(map, NULL);
	err = bpf_object__load(m->obj);
	if (err)
		goto out;
	prog = bpf_object__find_program_by_name(m->obj, "flow_ingress");
	m->prog[FLOW_DIR_INGRESS] = prog ? bpf_program__fd(prog) : -1;
	prog = bpf_object__find_program_by_name(m->obj, "flow_egress");
	m->prog[FLOW_DIR_EGRESS] = prog ? bpf_program__fd(prog) : -1;
	m->flows[0] = map_fd(m->obj, FLOW_MAP_FLOWS_0);
	m->flows[1] = map_fd(m->obj, FLOW_MAP_FLOWS_1);
	m->ctl = map_fd(m->obj, FLOW_MAP_CTL);
	m->ifstats = map_fd(m->obj, FLOW_MAP_IFSTATS);
	m->counters = map_fd(m->obj, FLOW_MAP_COUNTERS);
	m->events = map_fd(m->obj, FLOW_MAP_EVENTS);
	m->stamp = map_fd(m->obj, FLOW_MAP_STAMP);
	m->latency = map_fd(m->obj, FLOW_MAP_LATENCY);
	prog = bpf_object__find_program_by_name(m->obj, "flow_ingress_stamp");
	m->stamp_prog = prog ? bpf_program__fd(prog) : -1;
	if (k->latency != (m->stamp >= 0) || k->latency != (m->latency >= 0) ||
	    k->latency != (m->stamp_prog >= 0)) {
		fprintf(stderr, "object %s: latency maps and program %s\n",
			path, k->latency ? "missing" : "present without the knob");
		err = -ENOENT;
		goto out;
	}
	if (m->prog[0] < 0 || m->prog[1] < 0 || m->flows[0] < 0 ||
	    m->flows[1] < 0 || m->ctl < 0 || m->ifstats < 0 ||
	    m->counters < 0 || m->events < 0) {
		fprintf(stderr, "object %s lacks a program or map\n", path);
		err = -ENOENT;
		goto out;
	}
	m->rb = ring_buffer__new(m->events, on_event, m, NULL);
	if (!m->rb)
		err = -errno;
out:
	free(src);
	free(full);
	return err;
}

static void meter_close(struct meter_obj *m)
{
	ring_buffer__free(m->rb);
	bpf_object__close(m->obj);
}

static int map_count(int fd, size_t key_size)
{
	uint8_t key[64], next[64];
	void *prev = NULL;
	int n = 0;

	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, key_size);
		prev = key;
		n++;
	}
	return n;
}

static void map_clear(int fd)
{
	uint8_t key[64];

	while (!bpf_map_get_next_key(fd, NULL, key))
		bpf_map_delete_elem(fd, key);
}

static void counters_read(struct meter_obj *m, uint64_t sum[FLOW_CNT_MAX])
{
	struct flow_counters *pc = calloc(m->ncpus, sizeof(*pc));
	__u32 zero = 0;
	int c, i;

	memset(sum, 0, sizeof(uint64_t) * FLOW_CNT_MAX);
	if (!pc || bpf_map_lookup_elem(m->counters, &zero, pc)) {
		free(pc);
		return;
	}
	for (c = 0; c < m->ncpus; c++)
		for (i = 0; i < FLOW_CNT_MAX; i++)
			sum[i] += pc[c].c[i];
	free(pc);
}

static void set_active(struct meter_obj *m, __u32 active)
{
	struct flow_ctl ctl = { .active = active };
	__u32 zero = 0;

	bpf_map_update_elem(m->ctl, &zero, &ctl, BPF_ANY);
}

static void meter_reset(struct meter_obj *m)
{
	struct flow_counters *pc = calloc(m->ncpus, sizeof(*pc));
	__u32 zero = 0;

	map_clear(m->flows[0]);
	map_clear(m->flows[1]);
	map_clear(m->ifstats);
	if (m->latency >= 0)
		map_clear(m->latency);
	if (pc)
		bpf_map_update_elem(m->counters, &zero, pc, BPF_ANY);
	free(pc);
	set_active(m, 0);
	ring_buffer__consume(m->rb);
	m->n_events = 0;
}

/* ---- running one frame ------------------------------------------------ */

static char why[512];

__attribute__((format(printf, 1, 2)))
static bool failed(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return false;
}

static void report(const char *name, const struct meter_obj *m, bool ok)
{
	if (ok) {
		printf("PASS %s%s\n", name, m->label);
		n_pass++;
	} else {
		printf("FAIL %s%s: %s\n", name, m->label, why);
		n_fail++;
	}
}

/* Run F through PROG once with CTX; check verdict and packet. */
static bool run_ctx(int prog, const struct frame *f, struct __sk_buff *ctx,
		    uint64_t *t0, uint64_t *t1)
{
	uint8_t out[FRAME_MAX + 256];
	int err;
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		.data_in = f->b,
		.data_size_in = f->len,
		.data_out = out,
		.data_size_out = sizeof(out),
		.ctx_in = ctx,
		.ctx_size_in = sizeof(*ctx),
		.repeat = 1,
	);

	*t0 = clock_mono_ns();
	err = bpf_prog_test_run_opts(prog, &opts);
	*t1 = clock_mono_ns();
	if (err)
		return failed("test_run: %s", strerror(errno));
	if ((int)opts.retval != TC_ACT_UNSPEC)
		return failed("verdict %d, want TC_ACT_UNSPEC (-1)",
			      (int)opts.retval);
	if (opts.data_size_out != f->len || memcmp(out, f->b, f->len))
		return failed("packet changed (%u bytes out of %zu)",
			      opts.data_size_out, f->len);
	return true;
}

/* Run F through the program of DIR once; check verdict and packet. */
static bool run_frame(struct meter_obj *m, int dir, const struct frame *f,
		      const struct expect *e, uint64_t *t0, uint64_t *t1)
{
	struct __sk_buff ctx = { 0 };

	ctx.ifindex = test_ifindex;
	ctx.ingress_ifindex = EGRESS_IIF;
	ctx.mark = e->mark;
	ctx.gso_segs = e->gso_segs;
	ctx.gso_size = e->gso_size;
	return run_ctx(m->prog[dir], f, &ctx, t0, t1);
}

static void key_expected(const struct expect *e, int dir,
			 struct flow_key *k)
{
	memset(k, 0, sizeof(*k));
	if (dir == FLOW_DIR_INGRESS) {
		k->ingress_ifindex = test_ifindex;
	} else {
		k->ingress_ifindex = EGRESS_IIF;
		k->egress_ifindex = test_ifindex;
	}
	memcpy(k->src_addr, e->src, 16);
	memcpy(k->dst_addr, e->dst, 16);
	k->sport = htons(e->sport);
	k->dport = htons(e->dport);
	k->vlan_id = e->vlan;
	k->proto = e->proto;
	k->tos = e->tos;
	k->direction = dir;
	k->ip_version = e->ipv;
	k->mark = e->mark;
}

static void key_str(const struct flow_key *k, char *buf, size_t size)
{
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET6, k->src_addr, s, sizeof(s));
	inet_ntop(AF_INET6, k->dst_addr, d, sizeof(d));
	snprintf(buf, size,
		 "{iif %u oif %u %s:%u > %s:%u proto %u tos %#x vlan %u dir %u v%u mark %#x}",
		 k->ingress_ifindex, k->egress_ifindex, s, ntohs(k->sport), d,
		 ntohs(k->dport), k->proto, k->tos, k->vlan_id, k->direction,
		 k->ip_version, k->mark);
}

/* After one run: exactly the expected flow in flows_ACTIVE. */
static bool check_flow(struct meter_obj *m, int dir, const struct expect *e,
		       int active, uint64_t t0, uint64_t t1)
{
	struct flow_key want, got;
	struct flow_value v;
	uint64_t cnt[FLOW_CNT_MAX];
	char a[256], b[256];
	int n;

	key_expected(e, dir, &want);
	n = map_count(m->flows[active], sizeof(got));
	if (n != 1)
		return failed("flows_%d holds %d flows, want 1", active, n);
	if (map_count(m->flows[!active], sizeof(got)))
		return failed("flows_%d is not empty", !active);
	bpf_map_get_next_key(m->flows[active], NULL, &got);
	if (memcmp(&got, &want, sizeof(got))) {
		key_str(&got, a, sizeof(a));
		key_str(&want, b, sizeof(b));
		return failed("key %s, want %s", a, b);
	}
	if (bpf_map_lookup_elem(m->flows[active], &got, &v))
		return failed("lookup: %s", strerror(errno));
	if (v.packets != e->packets || v.octets != e->octets)
		return failed("%llu packets %llu octets, want %llu %llu",
			      (unsigned long long)v.packets,
			      (unsigned long long)v.octets,
			      (unsigned long long)e->packets,
			      (unsigned long long)e->octets);
	if (v.tcp_flags != e->tcp_flags || v.flags != e->flags)
		return failed("tcp flags %#x flags %#x, want %#x %#x",
			      v.tcp_flags, v.flags, e->tcp_flags, e->flags);
	if (v.min_ttl != e->ttl || v.max_ttl != e->ttl)
		return failed("ttl %u..%u, want %u", v.min_ttl, v.max_ttl,
			      e->ttl);
	/* the coarse clock may lag by up to a tick (<= 10 ms) */
	if (v.first_seen_ns != v.last_seen_ns ||
	    v.first_seen_ns > t1 ||
	    v.first_seen_ns < t0 - (m->coarse ? 20000000ULL : 0))
		return failed("first/last seen %llu/%llu outside the run [%llu, %llu]",
			      (unsigned long long)v.first_seen_ns,
			      (unsigned long long)v.last_seen_ns,
			      (unsigned long long)t0, (unsigned long long)t1);
	counters_read(m, cnt);
	for (n = 0; n < FLOW_CNT_MAX; n++)
		if (cnt[n])
			return failed("flow_counters[%d] = %llu, want 0", n,
				      (unsigned long long)cnt[n]);
	if (m->ifstats_on) {
		struct flow_ifstats_key ik = { 0 };
		struct flow_ifstats_value iv;

		ik.ingress_ifindex = want.ingress_ifindex;
		ik.egress_ifindex = want.egress_ifindex;
		ik.direction = dir;
		if (map_count(m->ifstats, sizeof(ik)) != 1 ||
		    bpf_map_lookup_elem(m->ifstats, &ik, &iv))
			return failed("flow_ifstats: not exactly the entry (%u, %u, %d)",
				      ik.ingress_ifindex, ik.egress_ifindex,
				      dir);
		if (iv.packets != e->packets || iv.octets != e->octets ||
		    iv.overflow_packets || iv.overflow_octets)
			return failed("flow_ifstats %llu/%llu overflow %llu/%llu",
				      (unsigned long long)iv.packets,
				      (unsigned long long)iv.octets,
				      (unsigned long long)iv.overflow_packets,
				      (unsigned long long)iv.overflow_octets);
	} else if (map_count(m->ifstats, 12)) {
		return failed("flow_ifstats is not empty with ifstats off");
	}
	return true;
}

static bool check_unparsed(struct meter_obj *m, const struct frame *f)
{
	uint64_t cnt[FLOW_CNT_MAX];
	int i;

	if (map_count(m->flows[0], sizeof(struct flow_key)) ||
	    map_count(m->flows[1], sizeof(struct flow_key)))
		return failed("a flow was created");
	if (map_count(m->ifstats, sizeof(struct flow_ifstats_key)))
		return failed("flow_ifstats has an entry");
	counters_read(m, cnt);
	if (cnt[FLOW_CNT_UNPARSED_PKTS] != 1 ||
	    cnt[FLOW_CNT_UNPARSED_OCTETS] != f->len)
		return failed("unparsed %llu packets %llu octets, want 1 %zu",
			      (unsigned long long)cnt[FLOW_CNT_UNPARSED_PKTS],
			      (unsigned long long)cnt[FLOW_CNT_UNPARSED_OCTETS],
			      f->len);
	for (i = FLOW_CNT_UNPARSED_OCTETS + 1; i < FLOW_CNT_MAX; i++)
		if (cnt[i])
			return failed("flow_counters[%d] = %llu", i,
				      (unsigned long long)cnt[i]);
	return true;
}

/* One case: F through both programs, each on fresh maps. */
static void run_case(struct meter_obj *m, const char *name,
		     const struct frame *f, const struct expect *e)
{
	static const char *const hook[] = { "ingress", "egress" };
	uint64_t t0, t1;
	bool ok = true;
	int dir;

	for (dir = FLOW_DIR_INGRESS; ok && dir <= FLOW_DIR_EGRESS; dir++) {
		meter_reset(m);
		ok = run_frame(m, dir, f, e, &t0, &t1) &&
		     (e->unparsed ? check_unparsed(m, f) :
				    check_flow(m, dir, e, 0, t0, t1));
		if (!ok) {
			char tmp[sizeof(why)];

			memcpy(tmp, why, sizeof(tmp));
			snprintf(why, sizeof(why), "%s: %.*s", hook[dir],
				 (int)sizeof(why) - 16, tmp);
		}
	}
	report(name, m, ok);
}

static void run_unparsed(struct meter_obj *m, const char *name,
			 const struct frame *f)
{
	struct expect e = { .unparsed = true };

	run_case(m, name, f, &e);
}

/* ---- the corpus ------------------------------------------------------- */

static void build_ipv4_udp(struct frame *f)
{
	fr_init(f);
	fr_eth(f, ETH_P_IP);
	fr_ipv4(f, "10.0.0.1", "10.0.0.2", 0x10, 64, 0, NULL, 0);
	fr_ports(f, IPPROTO_UDP, 1234, 53, 20);
	fr_finish(f);
}

static void build_vlan_ipv4_tcp(struct frame *f)
{
	fr_init(f);
	fr_eth(f, 0x8100);
	fr_vlan(f, 0x2000 | 100, ETH_P_IP);
	fr_ipv4(f, "192.0.2.1", "198.51.100.7", 0, 63, 0x4000, NULL, 0);
	fr_tcp(f, 40000, 443, 0x018, 0, 100);
	fr_finish(f);
}

/* test_run itself refuses an IPv6 ethertype with less than an IPv6 header
 * behind it; a VLAN tag in front lets the meter see such frames too.
 */
static void build_ipv6_ext_tcp(struct frame *f, bool vlan)
{
	fr_init(f);
	if (vlan) {
		fr_eth(f, 0x8100);
		fr_vlan(f, 7, ETH_P_IPV6);
	} else {
		fr_eth(f, ETH_P_IPV6);
	}
	fr_ipv6(f, "2001:db8::1", "2001:db8::2", 0, 64, 0x12345);
	fr_ip6_ext(f, IPPROTO_HOPOPTS, 8);
	fr_ip6_ext(f, IPPROTO_ROUTING, 24);
	fr_tcp(f, 5000, 80, 0x002, 4, 0);
	fr_finish(f);
}

static void corpus_ipv4(struct meter_obj *m)
{
	static const uint8_t rr_opt[12] = { 7, 11, 4, 0 }; /* record route */
	struct frame f;
	struct expect e;

	build_ipv4_udp(&f);
	e = exp_flow(&f, "10.0.0.1", "10.0.0.2", IPPROTO_UDP, 1234, 53,
		     0x10, 64);
	run_case(m, "ipv4_udp", &f, &e);

	e.mark = 0xdeadbeef;
	run_case(m, "ipv4_udp_mark", &f, &e);

	fr_init(&f);
	fr_eth(&f, ETH_P_IP);
	fr_ipv4(&f, "10.1.0.2", "10.2.0.2", 0, 64, 0x4000, NULL, 0);
	fr_tcp(&f, 33000, 22, 0x002, 4, 0);
	fr_finish(&f);
	e = exp_flow(&f, "10.1.0.2", "10.2.0.2", IPPROTO_TCP, 33000, 22, 0,
		     64);
	e.tcp_flags = FLOW_TCP_SYN;
	run_case(m, "ipv4_tcp_syn_mss", &f, &e);

	fr_init(&f);
	fr_eth(&f, ETH_P_IP);
	fr_ipv4(&f, "10.1.0.2", "10.2.0.2", 0, 64, 0x4000, NULL, 0);
	fr_tcp(&f, 33000, 22, FLOW_TCP_FIN | FLOW_TCP_ACK, 0, 0);
	fr_finish(&f);
	e = exp_flow(&f, "10.1.0.2", "10.2.0.2", IPPROTO_TCP, 33000, 22, 0,
		     64);
	e.tcp_flags = FLOW_TCP_FIN | FLOW_TCP_ACK;
	e.flags = FLOW_F_END_SEEN;
	run_case(m, "ipv4_tcp_fin_ack", &f, &e);

	fr_init(&f);
	fr_eth(&f, ETH_P_IP);
	fr_ipv4(&f, "10.1.0.2", "10.2.0.2", 0, 64, 0x4000, NULL, 0);
	fr_tcp(&f, 33000, 22, FLOW_TCP_RST, 0, 0);
	fr_finish(&f);
	e = exp_flow(&f, "10.1.0.2", "10.2.0.2", IPPROTO_TCP, 33000, 22, 0,
		     64);
	e.tcp_flags = FLOW_TCP_RST;
	e.flags = FLOW_F_END_SEEN;
	run_case(m, "ipv4_tcp_rst", &f, &e);

	/* all nine flag bits but FIN/RST, ECN codepoint in the TOS */
	fr_init(&f);
	fr_eth(&f, ETH_P_IP);
	fr_ipv4(&f, "10.1.0.2", "10.2.0.2", 0x02, 1, 0, NULL, 0);
	fr_tcp(&f, 1, 65535, FLOW_TCP_NS | FLOW_TCP_CWR | FLOW_TCP_ECE |
	       FLOW_TCP_URG | FLOW_TCP_ACK | FLOW_TCP_PSH | FLOW_TCP_SYN,
	       0, 10);
	fr_finish(&f);
	e = exp_flow(&f, "10.1.0.2", "10.2.0.2", IPPROTO_TCP, 1, 65535, 0x02,
		     1);
	e.tcp_flags = 0x1fa;
	run_case(m, "ipv4_tcp_ns_cwr_ece_urg", &f, &e);

	fr_init(&f);
	fr_eth(&f, ETH_P_IP);
	fr_ipv4(&f, "10.1.0.2", "10.2.0.2", 0, 64, 0, NULL, 0);
	fr_icmp(&f, IPPROTO_ICMP, 8, 0, 56);
	fr_finish(&f);
	e = exp_flow(&f, "10.1.0.2", "10.2.0.2", IPPROTO_ICMP, 0, 8 << 8, 0,
		     64);
	run_case(m, "ipv4_icmp_echo", &f, &e);

	fr_init(&f);
	fr_eth(&f, ETH_P_IP);
	fr_ipv4(&f, "10.2.0.1", "10.1.0.2", 0xc0, 255, 0, NULL, 0);
	fr_icmp(&f, IPPROTO_ICMP, 3, 1, 28);
	fr_finish(&f);
	e = exp_flow(&f, "10.2.0.1", "10.1.0.2", IPPROTO_ICMP, 0, 3 << 8 | 1,
		     0xc0, 255);
	run_case(m, "ipv4_icmp_host_unreachable", &f, &e);

	/* IHL 8: the ports are after 12 bytes of options */
	fr_init(&f);
	fr_eth(&f, ETH_P_IP);
	fr_ipv4(&f, "10.0.0.1", "10.0.0.2", 0, 64, 0, rr_opt, sizeof(rr_opt));
	fr_ports(&f, IPPROTO_UDP, 5353, 5353, 30);
	fr_finish(&f);
	e = exp_flow(&f, "10.0.0.1", "10.0.0.2", IPPROTO_UDP, 5353, 5353, 0,
		     64);
	run_case(m, "ipv4_options_udp", &f, &e);

	fr_init(&f);
	fr_eth(&f, ETH_P_IP);
	fr_ipv4(&f, "10.0.0.1", "10.0.0.2", 0, 64, 0x2000, NULL, 0);
	fr_ports(&f, IPPROTO_UDP, 4000, 4001, 1472);
	fr_finish(&f);
	e = exp_flow(&f, "10.0.0.1", "10.0.0.2", IPPROTO_UDP, 4000, 4001, 0,
		     64);
	e.flags = FLOW_F_FRAGMENT;
	run_case(m, "ipv4_first_fragment", &f, &e);

	fr_init(&f);
	fr_eth(&f, ETH_P_IP);
	fr_ipv4(&f, "10.0.0.1", "10.0.0.2", 0, 64, 0x2000 | 185, NULL, 0);
	fr_other(&f, IPPROTO_UDP, 1480);
	fr_finish(&f);
	e = exp_flow(&f, "10.0.0.1", "10.0.0.2", IPPROTO_UDP, 0, 0, 0, 64);
	e.flags = FLOW_F_FRAGMENT;
	run_case(m, "ipv4_middle_fragment", &f, &e);

	fr_init(&f);
	fr_eth(&f, ETH_P_IP);
	fr_ipv4(&f, "10.0.0.1", "10.0.0.2", 0, 64, 370, NULL, 0);
	fr_other(&f, IPPROTO_UDP, 100);
	fr_finish(&f);
	e = exp_flow(&f, "10.0.0.1", "10.0.0.2", IPPROTO_UDP, 0, 0, 0, 64);
	e.flags = FLOW_F_FRAGMENT;
	run_case(m, "ipv4_last_fragment", &f, &e);

	/* GRE: keyed without ports */
	fr_init(&f);
	fr_eth(&f, ETH_P_IP);
	fr_ipv4(&f, "203.0.113.1", "203.0.113.2", 0, 64, 0, NULL, 0);
	fr_other(&f, 47, 64);
	put16(f.b + f.l4 + 2, ETH_P_IP);	/* GRE protocol type */
	fr_finish(&f);
	e = exp_flow(&f, "203.0.113.1", "203.0.113.2", 47, 0, 0, 0, 64);
	run_case(m, "ipv4_gre", &f, &e);

	fr_init(&f);
	fr_eth(&f, ETH_P_IP);
	fr_ipv4(&f, "10.0.0.1", "10.0.0.2", 0, 64, 0x4000, NULL, 0);
	fr_ports(&f, IPPROTO_SCTP, 38412, 38412, 16);
	fr_finish(&f);
	e = exp_flow(&f, "10.0.0.1", "10.0.0.2", IPPROTO_SCTP, 38412, 38412,
		     0, 64);
	run_case(m, "ipv4_sctp", &f, &e);

	fr_init(&f);
	fr_eth(&f, ETH_P_IP);
	fr_ipv4(&f, "10.0.0.1", "10.0.0.2", 0, 64, 0, NULL, 0);
	fr_ports(&f, IPPROTO_UDPLITE, 7000, 7001, 12);
	fr_finish(&f);
	e = exp_flow(&f, "10.0.0.1", "10.0.0.2", IPPROTO_UDPLITE, 7000, 7001,
		     0, 64);
	run_case(m, "ipv4_udplite", &f, &e);

	/* a 60-byte frame carrying 29 bytes of IP: octets from the IP
	 * header, not skb->len (L2 header and padding)
	 */
	fr_init(&f);
	fr_eth(&f, ETH_P_IP);
	fr_ipv4(&f, "10.0.0.1", "10.0.0.2", 0, 64, 0, NULL, 0);
	fr_ports(&f, IPPROTO_UDP, 9, 9, 1);
	fr_finish(&f);
	e = exp_flow(&f, "10.0.0.1", "10.0.0.2", IPPROTO_UDP, 9, 9, 0, 64);
	put(&f, 60 - f.len);
	e.octets = 29;
	run_case(m, "ipv4_ethernet_padding", &f, &e);
}

static void corpus_vlan(struct meter_obj *m)
{
	struct frame f;
	struct expect e;

	build_vlan_ipv4_tcp(&f);
	e = exp_flow(&f, "192.0.2.1", "198.51.100.7", IPPROTO_TCP, 40000, 443,
		     0, 63);
	e.vlan = 100;
	e.tcp_flags = FLOW_TCP_ACK | FLOW_TCP_PSH;
	run_case(m, "vlan_8021q_ipv4_tcp", &f, &e);

	/* QinQ: the outer (service) tag is the key's VLAN */
	fr_init(&f);
	fr_eth(&f, 0x88a8);
	fr_vlan(&f, 200, 0x8100);
	fr_vlan(&f, 0xe000 | 300, ETH_P_IP);
	fr_ipv4(&f, "10.0.0.1", "10.0.0.2", 0, 64, 0, NULL, 0);
	fr_ports(&f, IPPROTO_UDP, 1000, 2000, 8);
	fr_finish(&f);
	e = exp_flow(&f, "10.0.0.1", "10.0.0.2", IPPROTO_UDP, 1000, 2000, 0,
		     64);
	e.vlan = 200;
	run_case(m, "qinq_8021ad_ipv4_udp", &f, &e);

	fr_init(&f);
	fr_eth(&f, 0x8100);
	fr_vlan(&f, 4094, 0x8100);
	fr_vlan(&f, 5, ETH_P_IPV6);
	fr_ipv6(&f, "fd00:1::2", "fd00:2::2", 0x20, 64, 0);
	fr_tcp(&f, 45000, 8080, FLOW_TCP_ACK, 0, 200);
	fr_finish(&f);
	e = exp_flow(&f, "fd00:1::2", "fd00:2::2", IPPROTO_TCP, 45000, 8080,
		     0x20, 64);
	e.vlan = 4094;
	e.tcp_flags = FLOW_TCP_ACK;
	run_case(m, "double_8021q_ipv6_tcp", &f, &e);

	/* priority-tagged: VLAN id 0 */
	fr_init(&f);
	fr_eth(&f, 0x8100);
	fr_vlan(&f, 0xa000, ETH_P_IP);
	fr_ipv4(&f, "10.0.0.1", "10.0.0.2", 0, 64, 0, NULL, 0);
	fr_ports(&f, IPPROTO_UDP, 1000, 2000, 8);
	fr_finish(&f);
	e = exp_flow(&f, "10.0.0.1", "10.0.0.2", IPPROTO_UDP, 1000, 2000, 0,
		     64);
	run_case(m, "vlan_priority_tag_only", &f, &e);
}

static void corpus_ipv6(struct meter_obj *m)
{
	struct frame f;
	struct expect e;
	int i;

	fr_init(&f);
	fr_eth(&f, ETH_P_IPV6);
	fr_ipv6(&f, "2001:db8::1", "2001:db8:ffff::2", 0xb8, 255, 0xabcde);
	fr_ports(&f, IPPROTO_UDP, 123, 123, 48);
	fr_finish(&f);
	e = exp_flow(&f, "2001:db8::1", "2001:db8:ffff::2", IPPROTO_UDP, 123,
		     123, 0xb8, 255);
	run_case(m, "ipv6_udp_tclass_flowlabel", &f, &e);

	fr_init(&f);
	fr_eth(&f, ETH_P_IPV6);
	fr_ipv6(&f, "2001:db8::1", "2001:db8::2", 0, 64, 0);
	fr_tcp(&f, 50000, 443, FLOW_TCP_SYN | FLOW_TCP_ECE | FLOW_TCP_CWR, 12,
	       0);
	fr_finish(&f);
	e = exp_flow(&f, "2001:db8::1", "2001:db8::2", IPPROTO_TCP, 50000,
		     443, 0, 64);
	e.tcp_flags = FLOW_TCP_SYN | FLOW_TCP_ECE | FLOW_TCP_CWR;
	run_case(m, "ipv6_tcp_syn", &f, &e);

	fr_init(&f);
	fr_eth(&f, ETH_P_IPV6);
	fr_ipv6(&f, "fe80::1", "ff02::1", 0, 1, 0);
	fr_icmp(&f, IPPROTO_ICMPV6, 128, 0, 56);
	fr_finish(&f);
	e = exp_flow(&f, "fe80::1", "ff02::1", IPPROTO_ICMPV6, 0, 128 << 8, 0,
		     1);
	run_case(m, "ipv6_icmpv6_echo", &f, &e);

	fr_init(&f);
	fr_eth(&f, ETH_P_IPV6);
	fr_ipv6(&f, "fe80::1", "ff02::1:ff00:2", 0, 255, 0);
	fr_icmp(&f, IPPROTO_ICMPV6, 135, 0, 16);
	fr_finish(&f);
	e = exp_flow(&f, "fe80::1", "ff02::1:ff00:2", IPPROTO_ICMPV6, 0,
		     135 << 8, 0, 255);
	run_case(m, "ipv6_neighbor_solicitation", &f, &e);

	/* ICMP (v4) inside IPv6 is just another protocol */
	fr_init(&f);
	fr_eth(&f, ETH_P_IPV6);
	fr_ipv6(&f, "2001:db8::1", "2001:db8::2", 0, 64, 0);
	fr_icmp(&f, IPPROTO_ICMP, 8, 0, 8);
	fr_finish(&f);
	e = exp_flow(&f, "2001:db8::1", "2001:db8::2", IPPROTO_ICMP, 0, 0, 0,
		     64);
	run_case(m, "ipv6_carrying_icmpv4", &f, &e);

	fr_init(&f);
	fr_eth(&f, ETH_P_IPV6);
	fr_ipv6(&f, "2001:db8::1", "2001:db8::2", 0, 64, 0);
	fr_ip6_ext(&f, IPPROTO_HOPOPTS, 8);
	fr_ports(&f, IPPROTO_UDP, 546, 547, 30);
	fr_finish(&f);
	e = exp_flow(&f, "2001:db8::1", "2001:db8::2", IPPROTO_UDP, 546, 547,
		     0, 64);
	run_case(m, "ipv6_hopopts_udp", &f, &e);

	fr_init(&f);
	fr_eth(&f, ETH_P_IPV6);
	fr_ipv6(&f, "2001:db8::1", "2001:db8::2", 0, 64, 0);
	fr_ip6_ext(&f, IPPROTO_HOPOPTS, 16);
	fr_ip6_ext(&f, IPPROTO_DSTOPTS, 8);
	fr_ip6_ext(&f, IPPROTO_ROUTING, 24);
	fr_ip6_ext(&f, IPPROTO_DSTOPTS, 40);
	fr_tcp(&f, 7, 9, FLOW_TCP_ACK, 0, 33);
	fr_finish(&f);
	e = exp_flow(&f, "2001:db8::1", "2001:db8::2", IPPROTO_TCP, 7, 9, 0,
		     64);
	e.tcp_flags = FLOW_TCP_ACK;
	run_case(m, "ipv6_ext_chain_tcp", &f, &e);

	fr_init(&f);
	fr_eth(&f, ETH_P_IPV6);
	fr_ipv6(&f, "2001:db8::1", "2001:db8::2", 0, 64, 0);
	fr_ip6_ext(&f, IPPROTO_AH, 24);
	fr_tcp(&f, 179, 50001, FLOW_TCP_ACK | FLOW_TCP_PSH, 0, 19);
	fr_finish(&f);
	e = exp_flow(&f, "2001:db8::1", "2001:db8::2", IPPROTO_TCP, 179,
		     50001, 0, 64);
	e.tcp_flags = FLOW_TCP_ACK | FLOW_TCP_PSH;
	run_case(m, "ipv6_ah_tcp", &f, &e);

	fr_init(&f);
	fr_eth(&f, ETH_P_IPV6);
	fr_ipv6(&f, "2001:db8::1", "2001:db8::2", 0, 64, 0);
	fr_ip6_frag(&f, 0, true);
	fr_ports(&f, IPPROTO_UDP, 4000, 4001, 1232);
	fr_finish(&f);
	e = exp_flow(&f, "2001:db8::1", "2001:db8::2", IPPROTO_UDP, 4000,
		     4001, 0, 64);
	e.flags = FLOW_F_FRAGMENT;
	run_case(m, "ipv6_first_fragment", &f, &e);

	fr_init(&f);
	fr_eth(&f, ETH_P_IPV6);
	fr_ipv6(&f, "2001:db8::1", "2001:db8::2", 0, 64, 0);
	fr_ip6_frag(&f, 155, false);
	fr_other(&f, IPPROTO_UDP, 300);
	fr_finish(&f);
	e = exp_flow(&f, "2001:db8::1", "2001:db8::2", IPPROTO_UDP, 0, 0, 0,
		     64);
	e.flags = FLOW_F_FRAGMENT;
	run_case(m, "ipv6_later_fragment", &f, &e);

	/* seven extension headers: more than the walk follows; keyed by
	 * the header it stopped at, without ports
	 */
	fr_init(&f);
	fr_eth(&f, ETH_P_IPV6);
	fr_ipv6(&f, "2001:db8::1", "2001:db8::2", 0, 64, 0);
	for (i = 0; i < 7; i++)
		fr_ip6_ext(&f, IPPROTO_DSTOPTS, 8);
	fr_ports(&f, IPPROTO_UDP, 1, 2, 4);
	fr_finish(&f);
	e = exp_flow(&f, "2001:db8::1", "2001:db8::2", IPPROTO_DSTOPTS, 0, 0,
		     0, 64);
	run_case(m, "ipv6_seven_ext_headers", &f, &e);

	fr_init(&f);
	fr_eth(&f, ETH_P_IPV6);
	fr_ipv6(&f, "2001:db8::1", "2001:db8::2", 0, 64, 0);
	fr_other(&f, IPPROTO_NONE, 0);
	fr_finish(&f);
	e = exp_flow(&f, "2001:db8::1", "2001:db8::2", IPPROTO_NONE, 0, 0, 0,
		     64);
	run_case(m, "ipv6_no_next_header", &f, &e);

	fr_init(&f);
	fr_eth(&f, ETH_P_IPV6);
	fr_ipv6(&f, "2001:db8::1", "2001:db8::2", 0, 64, 0);
	fr_other(&f, IPPROTO_ESP, 80);
	fr_finish(&f);
	e = exp_flow(&f, "2001:db8::1", "2001:db8::2", IPPROTO_ESP, 0, 0, 0,
		     64);
	run_case(m, "ipv6_esp", &f, &e);
}

/* F cut at LEN bytes (the IP length left as it was: longer than the frame). */
static void run_cut(struct meter_obj *m, const char *what,
		    const struct frame *f, size_t len)
{
	char name[128];
	struct frame c = *f;

	c.len = len;
	snprintf(name, sizeof(name), "truncated_%s_at_%zu", what, len);
	run_unparsed(m, name, &c);
}

/* F cut at LEN bytes and its IP length set to match: a complete IP packet
 * whose transport (or extension) header is cut short.
 */
static void run_short_ip(struct meter_obj *m, const char *what,
			 const struct frame *f, size_t len)
{
	char name[128];
	struct frame c = *f;

	c.len = len;
	if (c.ipv == 4) {
		put16(c.b + c.l3 + 2, len - c.l3);
		put16(c.b + c.l3 + 10, 0);
		put16(c.b + c.l3 + 10,
		      csum_fold(csum_add(0, c.b + c.l3, (c.b[c.l3] & 15) * 4)));
	} else {
		put16(c.b + c.l3 + 4, len - c.l3 - 40);
	}
	snprintf(name, sizeof(name), "short_ip_%s_at_%zu", what, len);
	run_unparsed(m, name, &c);
}

static void corpus_unparsed(struct meter_obj *m)
{
	static const size_t v4_cuts[] = { 14, 17, 18, 37, 38, 57 };
	static const size_t v6_cuts[] = { 57, 58, 65, 66, 89, 90, 109, 113 };
	struct frame f, g;
	size_t i;

	/* every header boundary of VLAN + IPv4 + TCP (18 + 20 + 20 + 100),
	 * one byte short of and at each boundary
	 */
	build_vlan_ipv4_tcp(&f);
	for (i = 0; i < sizeof(v4_cuts) / sizeof(v4_cuts[0]); i++)
		run_cut(m, "vlan_ipv4_tcp", &f, v4_cuts[i]);
	run_short_ip(m, "vlan_ipv4_tcp", &f, 38);
	run_short_ip(m, "vlan_ipv4_tcp", &f, 57);

	/* VLAN + IPv6 + hop-by-hop (8) + routing (24) + TCP with MSS (24) */
	build_ipv6_ext_tcp(&f, true);
	for (i = 0; i < sizeof(v6_cuts) / sizeof(v6_cuts[0]); i++)
		run_cut(m, "ipv6_ext_tcp", &f, v6_cuts[i]);
	run_short_ip(m, "ipv6_ext_tcp", &f, 65);
	run_short_ip(m, "ipv6_ext_tcp", &f, 89);
	run_short_ip(m, "ipv6_ext_tcp", &f, 109);

	/* UDP and ICMP headers shorter than 8 bytes */
	build_ipv4_udp(&f);
	run_short_ip(m, "ipv4_udp", &f, 14 + 20 + 7);
	fr_init(&g);
	fr_eth(&g, ETH_P_IP);
	fr_ipv4(&g, "10.0.0.1", "10.0.0.2", 0, 64, 0, NULL, 0);
	fr_icmp(&g, IPPROTO_ICMP, 0, 0, 0);
	fr_finish(&g);
	run_short_ip(m, "ipv4_icmp", &g, 14 + 20 + 4);

	/* bad IHL: below 5, and larger than the total length */
	build_ipv4_udp(&f);
	f.b[14] = 0x44;
	run_unparsed(m, "ipv4_ihl_4", &f);
	build_ipv4_udp(&f);
	f.b[14] = 0x4f;			/* 60 bytes of header > 48 of IP */
	run_unparsed(m, "ipv4_ihl_15_beyond_total_length", &f);
	build_ipv4_udp(&f);
	put16(f.b + 16, 10);		/* total length < header */
	run_unparsed(m, "ipv4_total_length_below_ihl", &f);
	build_ipv4_udp(&f);
	put16(f.b + 16, f.len - 14 + 1);	/* one byte more than there is */
	run_unparsed(m, "ipv4_total_length_beyond_frame", &f);
	build_ipv4_udp(&f);
	f.b[14] = 0x65;			/* version 6 in an IPv4 frame */
	run_unparsed(m, "ipv4_wrong_version", &f);
	fr_init(&f);
	fr_eth(&f, ETH_P_IP);
	fr_ipv4(&f, "10.0.0.1", "10.0.0.2", 0, 64, 0, NULL, 0);
	fr_tcp(&f, 1, 2, FLOW_TCP_SYN, 0, 0);
	fr_finish(&f);
	f.b[f.l4 + 12] = 4 << 4;	/* data offset 16 bytes < 20 */
	run_unparsed(m, "tcp_data_offset_4", &f);
	fr_init(&f);
	fr_eth(&f, ETH_P_IP);
	fr_ipv4(&f, "10.0.0.1", "10.0.0.2", 0, 64, 0, NULL, 0);
	fr_tcp(&f, 1, 2, FLOW_TCP_SYN, 0, 0);
	fr_finish(&f);
	f.b[f.l4 + 12] = 15 << 4;	/* 60 bytes > what the packet has */
	run_unparsed(m, "tcp_data_offset_beyond_packet", &f);

	build_ipv6_ext_tcp(&f, false);
	f.b[14] = 0x40;			/* version 4 in an IPv6 frame */
	run_unparsed(m, "ipv6_wrong_version", &f);
	build_ipv6_ext_tcp(&f, false);
	f.b[14 + 40 + 8 + 1] = 200;	/* routing header runs past the end */
	run_unparsed(m, "ipv6_ext_header_beyond_packet", &f);
	/* ... by 8 bytes, and no transport header is looked for after it */
	fr_init(&f);
	fr_eth(&f, ETH_P_IPV6);
	fr_ipv6(&f, "2001:db8::1", "2001:db8::2", 0, 64, 0);
	fr_ip6_ext(&f, IPPROTO_DSTOPTS, 16);
	fr_other(&f, IPPROTO_NONE, 0);
	fr_finish(&f);
	f.b[f.l3 + 40 + 1] = 2;		/* 24 bytes claimed, 16 there */
	run_unparsed(m, "ipv6_ext_header_beyond_packet_no_next", &f);

	/* ARP request */
	fr_init(&f);
	fr_eth(&f, 0x0806);
	put16(put(&f, 2), 1);
	put16(put(&f, 2), 0x0800);
	*put(&f, 1) = 6;
	*put(&f, 1) = 4;
	put16(put(&f, 2), 1);
	put(&f, 20);
	put(&f, 18);			/* padding to 60 */
	run_unparsed(m, "arp_request", &f);

	fr_init(&f);
	fr_eth(&f, 0x88cc);		/* LLDP */
	fr_payload(&f, 46);
	run_unparsed(m, "lldp", &f);

	fr_init(&f);
	fr_eth(&f, 0x8100);
	fr_vlan(&f, 1, 0x8100);
	fr_vlan(&f, 2, 0x8100);
	fr_vlan(&f, 3, ETH_P_IP);
	fr_ipv4(&f, "10.0.0.1", "10.0.0.2", 0, 64, 0, NULL, 0);
	fr_ports(&f, IPPROTO_UDP, 1, 2, 4);
	fr_finish(&f);
	run_unparsed(m, "three_vlan_tags", &f);

	/* garbage after an IPv4 ethertype */
	fr_init(&f);
	fr_eth(&f, ETH_P_IP);
	for (i = 0; i < 50; i++)
		*put(&f, 1) = (uint8_t)(i * 37 + 0x91);
	run_unparsed(m, "ipv4_garbage", &f);

	/* the shortest frame test_run takes: an Ethernet header alone
	 * (test_run refuses IP ethertypes without an IP header itself)
	 */
	fr_init(&f);
	fr_eth(&f, 0x88a8);
	run_unparsed(m, "ethernet_header_only", &f);
}

/* ---- beyond single frames --------------------------------------------- */

static void test_double_buffer(struct meter_obj *m)
{
	struct frame f;
	struct expect e;
	uint64_t t0, t1;
	bool ok;

	build_ipv4_udp(&f);
	e = exp_flow(&f, "10.0.0.1", "10.0.0.2", IPPROTO_UDP, 1234, 53, 0x10,
		     64);
	meter_reset(m);
	set_active(m, 1);
	ok = run_frame(m, FLOW_DIR_EGRESS, &f, &e, &t0, &t1) &&
	     check_flow(m, FLOW_DIR_EGRESS, &e, 1, t0, t1);
	report("double_buffer_active_1", m, ok);

	/* flip back: the next packet goes to flows_0 again */
	set_active(m, 0);
	ok = run_frame(m, FLOW_DIR_EGRESS, &f, &e, &t0, &t1);
	if (ok && (map_count(m->flows[0], sizeof(struct flow_key)) != 1 ||
		   map_count(m->flows[1], sizeof(struct flow_key)) != 1))
		ok = failed("want one flow in each buffer after the flip");
	report("double_buffer_flip_back", m, ok);
}

/* Several packets of one flow: sums, OR-ed flags, TTL range, times. */
static void test_accumulate(struct meter_obj *m)
{
	static const struct {
		uint8_t ttl;
		uint16_t flags;
		size_t payload;
	} pk[] = {
		{ 64, FLOW_TCP_SYN, 0 },
		{ 60, FLOW_TCP_ACK, 100 },
		{ 70, FLOW_TCP_ACK | FLOW_TCP_PSH, 1000 },
		{ 64, FLOW_TCP_FIN | FLOW_TCP_ACK, 0 },
	};
	struct expect e = { 0 };
	struct flow_key key;
	struct flow_value v;
	uint64_t t0, t1, first = 0, octets = 0;
	struct frame f;
	size_t i;
	bool ok = true;

	meter_reset(m);
	for (i = 0; ok && i < sizeof(pk) / sizeof(pk[0]); i++) {
		fr_init(&f);
		fr_eth(&f, ETH_P_IP);
		fr_ipv4(&f, "10.1.0.2", "10.3.0.2", 0, pk[i].ttl, 0x4000,
			NULL, 0);
		fr_tcp(&f, 41000, 5201, pk[i].flags, 0, pk[i].payload);
		fr_finish(&f);
		octets += f.len - f.l3;
		ok = run_frame(m, FLOW_DIR_INGRESS, &f, &e, &t0, &t1);
		if (!i)
			first = t0;
	}
	if (ok && (map_count(m->flows[0], sizeof(key)) != 1 ||
		   bpf_map_get_next_key(m->flows[0], NULL, &key) ||
		   bpf_map_lookup_elem(m->flows[0], &key, &v)))
		ok = failed("want exactly one flow");
	if (ok && (v.packets != 4 || v.octets != octets))
		ok = failed("%llu packets %llu octets, want 4 %llu",
			    (unsigned long long)v.packets,
			    (unsigned long long)v.octets,
			    (unsigned long long)octets);
	if (ok && v.tcp_flags != (FLOW_TCP_SYN | FLOW_TCP_ACK | FLOW_TCP_PSH |
				  FLOW_TCP_FIN))
		ok = failed("tcp flags %#x", v.tcp_flags);
	if (ok && v.flags != FLOW_F_END_SEEN)
		ok = failed("flags %#x", v.flags);
	if (ok && (v.min_ttl != 60 || v.max_ttl != 70))
		ok = failed("ttl %u..%u, want 60..70", v.min_ttl, v.max_ttl);
	/* the coarse clock lags by up to a tick and may not move */
	if (m->coarse)
		first -= 20000000ULL;
	if (ok && !(first <= v.first_seen_ns &&
		    v.first_seen_ns <= v.last_seen_ns && v.last_seen_ns <= t1 &&
		    (m->coarse || v.first_seen_ns < v.last_seen_ns)))
		ok = failed("first/last seen %llu/%llu not in order in [%llu, %llu]",
			    (unsigned long long)v.first_seen_ns,
			    (unsigned long long)v.last_seen_ns,
			    (unsigned long long)first, (unsigned long long)t1);
	report("one_flow_four_packets", m, ok);
}

/* GSO: gso_segs packets, each segment with its own IP and TCP header. */
static void test_gso(struct meter_obj *m)
{
	struct frame f;
	struct expect e;

	fr_init(&f);
	fr_eth(&f, ETH_P_IP);
	fr_ipv4(&f, "10.1.0.2", "10.3.0.2", 0, 64, 0x4000, NULL, 0);
	fr_tcp(&f, 41000, 5201, FLOW_TCP_ACK, 12, 3 * 800 + 500);
	fr_finish(&f);
	e = exp_flow(&f, "10.1.0.2", "10.3.0.2", IPPROTO_TCP, 41000, 5201, 0,
		     64);
	e.tcp_flags = FLOW_TCP_ACK;
	e.gso_segs = 4;
	e.gso_size = 800;
	e.packets = 4;
	e.octets = (f.len - f.l3) + 3 * (20 + 32);
	run_case(m, "gso_ipv4_tcp_4_segments", &f, &e);

	fr_init(&f);
	fr_eth(&f, ETH_P_IPV6);
	fr_ipv6(&f, "2001:db8::1", "2001:db8::2", 0, 64, 0);
	fr_ip6_ext(&f, IPPROTO_HOPOPTS, 8);
	fr_ports(&f, IPPROTO_UDP, 4433, 443, 2 * 1200 + 1);
	fr_finish(&f);
	e = exp_flow(&f, "2001:db8::1", "2001:db8::2", IPPROTO_UDP, 4433, 443,
		     0, 64);
	e.gso_segs = 3;
	e.gso_size = 1200;
	e.packets = 3;
	e.octets = (f.len - f.l3) + 2 * (40 + 8 + 8);
	run_case(m, "gso_ipv6_udp_3_segments", &f, &e);

	/* BIG TCP: IPv4 total length 0, the skb holds the length */
	fr_init(&f);
	fr_eth(&f, ETH_P_IP);
	fr_ipv4(&f, "10.1.0.2", "10.3.0.2", 0, 64, 0x4000, NULL, 0);
	fr_tcp(&f, 41000, 5201, FLOW_TCP_ACK, 0, 2 * 1000);
	fr_finish(&f);
	e = exp_flow(&f, "10.1.0.2", "10.3.0.2", IPPROTO_TCP, 41000, 5201, 0,
		     64);
	put16(f.b + f.l3 + 2, 0);
	e.tcp_flags = FLOW_TCP_ACK;
	e.gso_segs = 2;
	e.gso_size = 1000;
	e.packets = 2;
	e.octets = (f.len - f.l3) + 1 * (20 + 20);
	run_case(m, "gso_big_tcp_ipv4_length_0", &f, &e);

	/* gso_size without more than one segment: one packet */
	build_ipv4_udp(&f);
	e = exp_flow(&f, "10.0.0.1", "10.0.0.2", IPPROTO_UDP, 1234, 53, 0x10,
		     64);
	e.gso_segs = 1;
	e.gso_size = 1000;
	run_case(m, "gso_one_segment", &f, &e);
}

/* Fill a TEST_MAX_FLOWS map; what does not fit goes to the overflow
 * counters and wakes user space through the ring buffer, rate-limited.
 */
static void test_map_full(struct meter_obj *m)
{
	struct flow_ifstats_key ik = { .ingress_ifindex = 0 };
	struct flow_ifstats_value iv;
	uint64_t cnt[FLOW_CNT_MAX], t0, t1, t_first = 0, t_ev = 0;
	struct expect e = { 0 };
	struct flow_key key;
	struct flow_value v;
	struct frame f;
	uint32_t ip_len = 0;
	bool ok = true;
	int i, n;

	meter_reset(m);
	for (i = 0; ok && i < TEST_MAX_FLOWS + 2; i++) {
		fr_init(&f);
		fr_eth(&f, ETH_P_IP);
		fr_ipv4(&f, "10.0.0.1", "10.0.0.2", 0, 64, 0, NULL, 0);
		fr_ports(&f, IPPROTO_UDP, 1000 + i, 53, 20);
		fr_finish(&f);
		ip_len = f.len - f.l3;
		ok = run_frame(m, FLOW_DIR_INGRESS, &f, &e, &t0, &t1);
		if (i == TEST_MAX_FLOWS) {
			t_first = t0;
			t_ev = t1;
		}
		if (i == TEST_MAX_FLOWS + 1)
			t_ev = t1 - t_ev;	/* gap between the two */
	}
	n = map_count(m->flows[0], sizeof(key));
	if (ok && n != TEST_MAX_FLOWS)
		ok = failed("flows_0 holds %d flows, want %d", n,
			    TEST_MAX_FLOWS);
	counters_read(m, cnt);
	if (ok && (cnt[FLOW_CNT_OVERFLOW_PKTS] != 2 ||
		   cnt[FLOW_CNT_OVERFLOW_OCTETS] != 2 * ip_len))
		ok = failed("overflow counters %llu/%llu, want 2/%u",
			    (unsigned long long)cnt[FLOW_CNT_OVERFLOW_PKTS],
			    (unsigned long long)cnt[FLOW_CNT_OVERFLOW_OCTETS],
			    2 * ip_len);
	ik.ingress_ifindex = test_ifindex;
	if (ok && bpf_map_lookup_elem(m->ifstats, &ik, &iv))
		ok = failed("no flow_ifstats entry for ifindex %u",
			    test_ifindex);
	if (ok && (iv.overflow_packets != 2 ||
		   iv.overflow_octets != 2 * ip_len))
		ok = failed("flow_ifstats overflow %llu/%llu, want 2/%u",
			    (unsigned long long)iv.overflow_packets,
			    (unsigned long long)iv.overflow_octets, 2 * ip_len);
	if (ok && m->ifstats_on &&
	    (iv.packets != TEST_MAX_FLOWS + 2 ||
	     iv.octets != (TEST_MAX_FLOWS + 2) * (uint64_t)ip_len))
		ok = failed("flow_ifstats totals %llu/%llu, want %d/%llu",
			    (unsigned long long)iv.packets,
			    (unsigned long long)iv.octets, TEST_MAX_FLOWS + 2,
			    (TEST_MAX_FLOWS + 2) * (unsigned long long)ip_len);
	if (ok && !m->ifstats_on && (iv.packets || iv.octets))
		ok = failed("flow_ifstats totals counted with ifstats off");
	report("map_full_overflow_counters", m, ok);

	/* one event for two overflows in quick succession */
	ring_buffer__consume(m->rb);
	ok = true;
	if (m->n_events < 1 || cnt[FLOW_CNT_EVENTS_SENT] < 1)
		ok = failed("no map-full event (%d read, %llu sent)",
			    m->n_events,
			    (unsigned long long)cnt[FLOW_CNT_EVENTS_SENT]);
	else if (m->last_event.type != FLOW_EV_MAP_FULL ||
		 m->last_event.active != 0 ||
		 /* the per-tick clock may lag by up to a tick */
		 m->last_event.ts_ns + (m->coarse ? 20000000ULL : 0) < t_first)
		ok = failed("event type %u active %u ts %llu",
			    m->last_event.type, m->last_event.active,
			    (unsigned long long)m->last_event.ts_ns);
	else if (t_ev < FLOW_EVENT_MIN_GAP_NS &&
		 (m->n_events != 1 || cnt[FLOW_CNT_EVENTS_SENT] != 1))
		ok = failed("%d events read, %llu sent, want 1 (rate limit)",
			    m->n_events,
			    (unsigned long long)cnt[FLOW_CNT_EVENTS_SENT]);
	else if (cnt[FLOW_CNT_EVENTS_LOST])
		ok = failed("%llu events lost",
			    (unsigned long long)cnt[FLOW_CNT_EVENTS_LOST]);
	report("map_full_event_rate_limited", m, ok);

	/* a known flow is still counted while the map is full */
	fr_init(&f);
	fr_eth(&f, ETH_P_IP);
	fr_ipv4(&f, "10.0.0.1", "10.0.0.2", 0, 64, 0, NULL, 0);
	fr_ports(&f, IPPROTO_UDP, 1000, 53, 20);
	fr_finish(&f);
	ok = run_frame(m, FLOW_DIR_INGRESS, &f, &e, &t0, &t1);
	key_expected(&(struct expect){ 0 }, FLOW_DIR_INGRESS, &key);
	exp_addr(&e, "10.0.0.1", "10.0.0.2");
	e.proto = IPPROTO_UDP;
	e.sport = 1000;
	e.dport = 53;
	key_expected(&e, FLOW_DIR_INGRESS, &key);
	if (ok && (bpf_map_lookup_elem(m->flows[0], &key, &v) ||
		   v.packets != 2))
		ok = failed("the existing flow was not updated");
	counters_read(m, cnt);
	if (ok && cnt[FLOW_CNT_OVERFLOW_PKTS] != 2)
		ok = failed("counted as overflow");
	report("map_full_existing_flow_counted", m, ok);
}

/* ---- forwarding latency (latency knob) ------------------------------- */

/* Run F through PROG with the interfaces given; verdict and packet kept. */
static bool run_hook(int prog, const struct frame *f, unsigned int ifindex,
		     unsigned int ingress_ifindex, uint64_t *t0, uint64_t *t1)
{
	struct __sk_buff ctx = { 0 };

	ctx.ifindex = ifindex;
	ctx.ingress_ifindex = ingress_ifindex;
	return run_ctx(prog, f, &ctx, t0, t1);
}

/* This CPU's stamp (the tests run pinned to one CPU). */
static bool stamp_read(struct meter_obj *m, struct flow_stamp *st)
{
	struct flow_stamp *pc = calloc(m->ncpus, sizeof(*pc));
	__u32 zero = 0;
	int cpu = sched_getcpu();
	bool ok = pc && cpu >= 0 && cpu < m->ncpus &&
		  !bpf_map_lookup_elem(m->stamp, &zero, pc);

	if (ok)
		*st = pc[cpu];
	free(pc);
	return ok;
}

/* The egress flow of F (latency fields), summed over both buffers. */
static bool egress_flow(struct meter_obj *m, struct flow_value *out)
{
	struct flow_key k, *prev = NULL;
	struct flow_value v;
	int n = 0;

	memset(out, 0, sizeof(*out));
	while (!bpf_map_get_next_key(m->flows[0], prev, &k)) {
		if (!bpf_map_lookup_elem(m->flows[0], &k, &v) &&
		    k.direction == FLOW_DIR_EGRESS) {
			out->packets += v.packets;
			out->latency_count += v.latency_count;
			out->latency_sum_ns += v.latency_sum_ns;
			n++;
		}
		prev = &k;
	}
	return n > 0;
}

/* flow_latency summed over the CPUs for (IIF, OIF); false when absent. */
static bool latency_read(struct meter_obj *m, unsigned int iif,
			 unsigned int oif, struct flow_latency_value *sum)
{
	struct flow_latency_value *pc = calloc(m->ncpus, sizeof(*pc));
	struct flow_latency_key k = { iif, oif };
	bool ok = pc && !bpf_map_lookup_elem(m->latency, &k, pc);
	int c, b;

	memset(sum, 0, sizeof(*sum));
	for (c = 0; ok && c < m->ncpus; c++) {
		sum->count += pc[c].count;
		sum->sum_ns += pc[c].sum_ns;
		for (b = 0; b < FLOW_LAT_BUCKETS; b++)
			sum->buckets[b] += pc[c].buckets[b];
	}
	free(pc);
	return ok;
}

static void test_latency(struct meter_obj *m)
{
	unsigned int in = test_ifindex, out = 1;	/* lo: ctx ifindex must exist */
	struct flow_latency_value lv;
	struct flow_stamp st;
	struct flow_value v;
	uint64_t t0, t1, e0, e1, span = 0, n = 0;
	struct frame f;
	int tries, b;
	bool ok;

	build_ipv4_udp(&f);

	/* the stamp-only program: a stamp, and no flow */
	meter_reset(m);
	ok = run_hook(m->stamp_prog, &f, in, 0, &t0, &t1) &&
	     stamp_read(m, &st);
	if (ok && (st.ifindex != in || st.ts_ns < t0 || st.ts_ns > t1 ||
		   !st.skb))
		ok = failed("stamp ifindex %u ts %llu, want %u in [%llu, %llu]",
			    st.ifindex, (unsigned long long)st.ts_ns, in,
			    (unsigned long long)t0, (unsigned long long)t1);
	if (ok && (map_count(m->flows[0], sizeof(struct flow_key)) ||
		   map_count(m->flows[1], sizeof(struct flow_key))))
		ok = failed("the stamp-only program metered a flow");
	report("latency_stamp_only_program", m, ok);

	/*
	 * A packet from another interface than the stamp's (generated
	 * here: ingress_ifindex 0, or from an unstamped interface) is not
	 * measured, whatever its skb; the stamp stays for its own packet.
	 */
	meter_reset(m);
	ok = run_hook(m->prog[FLOW_DIR_INGRESS], &f, in, 0, &t0, &t1) &&
	     run_hook(m->prog[FLOW_DIR_EGRESS], &f, out, 0, &e0, &e1) &&
	     run_hook(m->prog[FLOW_DIR_EGRESS], &f, out, EGRESS_IIF, &e0,
		      &e1) &&
	     egress_flow(m, &v) && stamp_read(m, &st);
	if (ok && (v.packets != 2 || v.latency_count || v.latency_sum_ns))
		ok = failed("%llu packets, %u measured: want 2, 0",
			    (unsigned long long)v.packets, v.latency_count);
	if (ok && map_count(m->latency, sizeof(struct flow_latency_key)))
		ok = failed("flow_latency has an entry");
	if (ok && st.ifindex != in)
		ok = failed("the stamp was taken (ifindex %u)", st.ifindex);
	report("latency_other_interface_not_measured", m, ok);

	/*
	 * The packet itself: test_run frees the ingress run's skb and the
	 * egress run, on the same CPU, gets it back from the allocator at
	 * the same address (as the forwarded packet is one skb) most of the
	 * time; allow a few tries for an allocation in between.
	 */
	for (tries = 0; tries < 50; tries++) {
		meter_reset(m);
		ok = run_hook(m->prog[FLOW_DIR_INGRESS], &f, in, 0, &t0,
			      &t1) &&
		     run_hook(m->prog[FLOW_DIR_EGRESS], &f, out, in, &e0,
			      &e1) &&
		     egress_flow(m, &v);
		if (!ok || v.latency_count)
			break;
	}
	if (ok && v.latency_count != 1)
		ok = failed("no match in %d tries", tries);
	span = e1 - t0;
	if (ok && (!v.latency_sum_ns || v.latency_sum_ns > span))
		ok = failed("latency %llu ns, want 1..%llu",
			    (unsigned long long)v.latency_sum_ns,
			    (unsigned long long)span);
	if (ok && !latency_read(m, in, out, &lv))
		ok = failed("no flow_latency entry for (%u, %u)", in, out);
	for (b = 0, n = 0; ok && b < FLOW_LAT_BUCKETS; b++)
		n += lv.buckets[b];
	if (ok && (lv.count != 1 || lv.sum_ns != v.latency_sum_ns || n != 1))
		ok = failed("flow_latency count %llu sum %llu buckets %llu, want 1 %llu 1",
			    (unsigned long long)lv.count,
			    (unsigned long long)lv.sum_ns,
			    (unsigned long long)n,
			    (unsigned long long)v.latency_sum_ns);
	report("latency_stamp_matched_at_egress", m, ok);

	/* taken: the same skb again at egress is not measured twice */
	if (ok) {
		ok = run_hook(m->prog[FLOW_DIR_EGRESS], &f, out, in, &e0,
			      &e1) &&
		     egress_flow(m, &v) && stamp_read(m, &st);
		if (ok && (v.packets != 2 || v.latency_count != 1))
			ok = failed("%llu packets, %u measured: want 2, 1",
				    (unsigned long long)v.packets,
				    v.latency_count);
		if (ok && st.ifindex)
			ok = failed("the stamp is still there");
		report("latency_stamp_taken_once", m, ok);
	}
}

/* The cache dir holds the sources and objects compiled here only. */
static void pick_ifindex(void)
{
	struct if_nameindex *ifs = if_nameindex(), *i;

	/* a real device other than lo, to tell ifindex from defaults */
	for (i = ifs; i && i->if_index; i++) {
		if (i->if_index != 1) {
			test_ifindex = i->if_index;
			break;
		}
	}
	if_freenameindex(ifs);
}

static int open_or_fail(struct meter_obj *m, const char *label,
			const struct ebpf_knobs *k, bool load_bytes,
			const char *dir)
{
	int err = meter_open(m, label, k, load_bytes, dir);

	if (err) {
		printf("FAIL load%s: %s\n", label, strerror(-err));
		n_fail++;
		meter_close(m);
	}
	return err;
}

int main(void)
{
	char cache[] = "/tmp/flowctl-bpf-test.XXXXXX";
	struct meter_obj m;
	struct ebpf_knobs k;
	cpu_set_t cpus;

	if (geteuid() != 0) {
		printf("SKIP bpf_test_meter: needs root (BPF_PROG_TEST_RUN of tc programs)\n");
		return 0;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	log_setup_libbpf();
	/* the rate limit of events is per CPU: stay on one */
	CPU_ZERO(&cpus);
	CPU_SET(sched_getcpu(), &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);
	pick_ifindex();
	if (!mkdtemp(cache)) {
		printf("FAIL setup: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	printf("# cache %s, ifindex %u, egress ingress_ifindex %u\n", cache,
	       test_ifindex, EGRESS_IIF);

	ebpf_knobs_default(&k);
	k.max_flows = TEST_MAX_FLOWS;
	if (!open_or_fail(&m, "", &k, false, cache)) {
		corpus_ipv4(&m);
		corpus_vlan(&m);
		corpus_ipv6(&m);
		corpus_unparsed(&m);
		test_accumulate(&m);
		test_double_buffer(&m);
		test_gso(&m);
		test_map_full(&m);
		meter_close(&m);
	}

	/* the same corpus through bpf_skb_load_bytes() only */
	if (!open_or_fail(&m, " [load_bytes]", &k, true, cache)) {
		corpus_ipv4(&m);
		corpus_vlan(&m);
		corpus_ipv6(&m);
		corpus_unparsed(&m);
		test_gso(&m);
		meter_close(&m);
	}

	k.ifstats = true;
	if (!open_or_fail(&m, " [ifstats on]", &k, false, cache)) {
		corpus_ipv4(&m);
		test_map_full(&m);
		meter_close(&m);
	}

	ebpf_knobs_default(&k);
	k.coarse_time = false;
	if (!open_or_fail(&m, " [precise time]", &k, false, cache)) {
		corpus_ipv4(&m);
		test_accumulate(&m);
		meter_close(&m);
	}

	/* forwarding latency: the corpus is unchanged, the stamp matched */
	ebpf_knobs_default(&k);
	k.max_flows = TEST_MAX_FLOWS;
	k.latency = true;
	if (!open_or_fail(&m, " [latency]", &k, false, cache)) {
		corpus_ipv4(&m);
		corpus_ipv6(&m);
		corpus_unparsed(&m);
		test_accumulate(&m);
		test_gso(&m);
		test_map_full(&m);
		test_latency(&m);
		meter_close(&m);
	}

	remove_tree(cache);
	printf("# %d passed, %d failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}
