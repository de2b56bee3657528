// SPDX-License-Identifier: Apache-2.0
/*
 * bpf_flow_drain: the drain under concurrent writers, and the drain driver
 * of test/integration/test-flowtable.sh.
 *
 * Without arguments (test/run.sh): a small BPF program written here in raw
 * instructions plays the meter (reads flow_ctl, adds one packet to a flow
 * of flows_0 or flows_1).  Two threads run it with BPF_PROG_TEST_RUN, which
 * runs programs inside an RCU read-side section like tc does, while the
 * main thread drains every millisecond through flow_table_drain and the
 * flow cache.  The packets exported must equal the runs, exactly.
 *
 * --watch: drain the real pinned maps every --interval-ms into a flow cache
 * until --until FILE exists (or --max-ms passed), then drain both buffers
 * and flush; print per hook the packets and octets of the flows matching
 * --proto/--dport/--iif, and of the overflow catch-all records (--iif):
 *   drains=N map_full_events=E
 *   ingress packets=P octets=O overflow_packets=P overflow_octets=O
 *   egress ...
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "bpffs.h"
#include "clock.h"
#include "flow_cache.h"
#include "flow_maps.h"
#include "flow_table.h"
#include "log.h"
#include "obs_domain.h"

#define BPFFS		"/sys/fs/bpf"
#define BPF_FS_MAGIC_	0xcafe4a11

static int npass, nfail;

static void pass(const char *name)
{
	printf("PASS %s\n", name);
	npass++;
}

static void __attribute__((format(printf, 2, 3)))
fail(const char *name, const char *fmt, ...)
{
	va_list ap;

	printf("FAIL %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	nfail++;
}

/* ---- sums of exported records --------------------------------------- */

struct totals {
	uint64_t packets[2];		/* by direction */
	uint64_t octets[2];
	uint64_t ovf_packets[2];
	uint64_t ovf_octets[2];
	uint64_t records;
	int proto;			/* -1: any */
	int dport;			/* -1: any */
	long iif;			/* -1: any (catch-alls too) */
};

static void sum_emit(void *ctx, const struct flow_record *r, size_t n)
{
	struct totals *t = ctx;
	size_t i;

	for (i = 0; i < n; i++, r++) {
		int d = r->direction & 1;

		t->records++;
		if (t->iif >= 0 && r->ingress_ifindex != t->iif)
			continue;
		if (r->end_reason == FLOW_END_LACK_OF_RESOURCES &&
		    !r->proto && !r->sport && !r->dport) {
			t->ovf_packets[d] += r->packets;
			t->ovf_octets[d] += r->octets;
			continue;
		}
		if (t->proto >= 0 && r->proto != t->proto)
			continue;
		if (t->dport >= 0 && r->dport != t->dport)
			continue;
		t->packets[d] += r->packets;
		t->octets[d] += r->octets;
	}
}

/* ---- a private pin root with the meter's maps ------------------------ */

static int make_pins(const char *root, int fd[FM_NR])
{
	return flow_maps_pin(root, "t", 4096, fd);
}

/* ---- the stand-in meter, in raw BPF instructions ---------------------- */

#define INSN(c, d, s, o, i) \
	((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), \
			    .off = (o), .imm = (i) })
#define MOV_REG(d, s)	INSN(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define MOV_IMM(d, i)	INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define ADD_IMM(d, i)	INSN(BPF_ALU64 | BPF_ADD | BPF_K, d, 0, 0, i)
#define AND_IMM(d, i)	INSN(BPF_ALU64 | BPF_AND | BPF_K, d, 0, 0, i)
#define ST_DW(d, o, i)	INSN(BPF_ST | BPF_DW | BPF_MEM, d, 0, o, i)
#define ST_W(d, o, i)	INSN(BPF_ST | BPF_W | BPF_MEM, d, 0, o, i)
#define STX_W(d, s, o)	INSN(BPF_STX | BPF_W | BPF_MEM, d, s, o, 0)
#define LDX_W(d, s, o)	INSN(BPF_LDX | BPF_W | BPF_MEM, d, s, o, 0)
#define XADD_DW(d, s, o) INSN(BPF_STX | BPF_DW | BPF_ATOMIC, d, s, o, BPF_ADD)
#define JEQ_IMM(d, i, o) INSN(BPF_JMP | BPF_JEQ | BPF_K, d, 0, o, i)
#define JNE_IMM(d, i, o) INSN(BPF_JMP | BPF_JNE | BPF_K, d, 0, o, i)
#define JA(o)		INSN(BPF_JMP | BPF_JA, 0, 0, o, 0)
#define CALL(f)		INSN(BPF_JMP | BPF_CALL, 0, 0, 0, f)
#define EXIT()		INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/* ld_imm64 of a map: two instruction slots */
static void ld_map(struct bpf_insn *p, int *n, int reg, int fd)
{
	p[(*n)++] = INSN(BPF_LD | BPF_DW | BPF_IMM, reg, BPF_PSEUDO_MAP_FD, 0,
			 fd);
	p[(*n)++] = INSN(0, 0, 0, 0, 0);
}

#define KEY_OFF		(-64)	/* struct flow_key, 56 bytes */
#define VAL_OFF		(-112)	/* struct flow_value, 48 bytes */
#define NKEYS		1024
#define OCTETS		100

/* Account one packet to the flow at KEY_OFF of map FD (r9: lost count). */
static int emit_account(struct bpf_insn *p, int fd)
{
	int n = 0, j;

	ld_map(p, &n, BPF_REG_1, fd);
	p[n++] = MOV_REG(BPF_REG_2, BPF_REG_10);
	p[n++] = ADD_IMM(BPF_REG_2, KEY_OFF);
	p[n++] = CALL(BPF_FUNC_map_lookup_elem);
	p[n++] = JEQ_IMM(BPF_REG_0, 0, 6);		/* -> insert */
	p[n++] = MOV_IMM(BPF_REG_1, 1);
	p[n++] = XADD_DW(BPF_REG_0, BPF_REG_1, 0);	/* packets */
	p[n++] = MOV_IMM(BPF_REG_1, OCTETS);
	p[n++] = XADD_DW(BPF_REG_0, BPF_REG_1, 8);	/* octets */
	p[n++] = MOV_IMM(BPF_REG_0, 0);
	p[n++] = EXIT();
	/* insert: a new value of one packet */
	for (j = 0; j < 6; j++)
		p[n++] = ST_DW(BPF_REG_10, VAL_OFF + 8 * j, 0);
	p[n++] = ST_DW(BPF_REG_10, VAL_OFF, 1);
	p[n++] = ST_DW(BPF_REG_10, VAL_OFF + 8, OCTETS);
	ld_map(p, &n, BPF_REG_1, fd);
	p[n++] = MOV_REG(BPF_REG_2, BPF_REG_10);
	p[n++] = ADD_IMM(BPF_REG_2, KEY_OFF);
	p[n++] = MOV_REG(BPF_REG_3, BPF_REG_10);
	p[n++] = ADD_IMM(BPF_REG_3, VAL_OFF);
	p[n++] = MOV_IMM(BPF_REG_4, BPF_NOEXIST);
	p[n++] = CALL(BPF_FUNC_map_update_elem);
	p[n++] = JNE_IMM(BPF_REG_0, 0, 2);		/* -> race */
	p[n++] = MOV_IMM(BPF_REG_0, 0);
	p[n++] = EXIT();
	/* race: created by the other CPU in between; add to it */
	ld_map(p, &n, BPF_REG_1, fd);
	p[n++] = MOV_REG(BPF_REG_2, BPF_REG_10);
	p[n++] = ADD_IMM(BPF_REG_2, KEY_OFF);
	p[n++] = CALL(BPF_FUNC_map_lookup_elem);
	p[n++] = JEQ_IMM(BPF_REG_0, 0, 6);		/* gone: lost */
	p[n++] = MOV_IMM(BPF_REG_1, 1);
	p[n++] = XADD_DW(BPF_REG_0, BPF_REG_1, 0);
	p[n++] = MOV_IMM(BPF_REG_1, OCTETS);
	p[n++] = XADD_DW(BPF_REG_0, BPF_REG_1, 8);
	p[n++] = MOV_IMM(BPF_REG_0, 0);
	p[n++] = EXIT();
	p[n++] = MOV_IMM(BPF_REG_0, 2);		/* lost: returns 2 */
	p[n++] = EXIT();
	return n;
}

/*
 * BY_MARK: the flow's ingress_ifindex is skb->mark (set by the caller of
 * BPF_PROG_TEST_RUN), so the caller knows each flow's packets; else
 * 1 + a random number below NKEYS.
 */
static int load_meter(int ctl_fd, int f0_fd, int f1_fd, bool by_mark)
{
	struct bpf_insn prog[160];
	int n = 0, j, branch;

	prog[n++] = MOV_REG(BPF_REG_6, BPF_REG_1);	/* the skb */
	/* active = flow_ctl[0].active (0 when missing) */
	prog[n++] = ST_W(BPF_REG_10, -4, 0);
	ld_map(prog, &n, BPF_REG_1, ctl_fd);
	prog[n++] = MOV_REG(BPF_REG_2, BPF_REG_10);
	prog[n++] = ADD_IMM(BPF_REG_2, -4);
	prog[n++] = CALL(BPF_FUNC_map_lookup_elem);
	prog[n++] = MOV_IMM(BPF_REG_7, 0);
	prog[n++] = JEQ_IMM(BPF_REG_0, 0, 1);
	prog[n++] = LDX_W(BPF_REG_7, BPF_REG_0, 0);
	/* a zeroed key, ingress_ifindex = 1 + random % NKEYS */
	for (j = 0; j < 7; j++)
		prog[n++] = ST_DW(BPF_REG_10, KEY_OFF + 8 * j, 0);
	if (by_mark) {
		prog[n++] = LDX_W(BPF_REG_0, BPF_REG_6,
				  offsetof(struct __sk_buff, mark));
	} else {
		prog[n++] = CALL(BPF_FUNC_get_prandom_u32);
		prog[n++] = AND_IMM(BPF_REG_0, NKEYS - 1);
		prog[n++] = ADD_IMM(BPF_REG_0, 1);
	}
	prog[n++] = STX_W(BPF_REG_10, BPF_REG_0, KEY_OFF);
	/* direction 0, ip_version 4 (bytes 48, 49 of the key) */
	prog[n++] = ST_W(BPF_REG_10, KEY_OFF + 48, 0x0400);
	/* one block per buffer: each call sees one constant map */
	branch = n++;
	n += emit_account(prog + n, f0_fd);
	prog[branch] = JNE_IMM(BPF_REG_7, 0, n - branch - 1);
	n += emit_account(prog + n, f1_fd);
	{
		LIBBPF_OPTS(bpf_prog_load_opts, o);
		char log[4096] = "";
		int fd;

		o.log_buf = log;
		o.log_size = sizeof(log);
		o.log_level = 0;
		fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "drain_test", "GPL",
				   prog, n, &o);
		if (fd < 0) {
			o.log_level = 1;
			fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS,
					   "drain_test", "GPL", prog, n, &o);
			fprintf(stderr, "verifier: %s\n", log);
		}
		return fd;
	}
}

static int writers_left;
static int writers_stop;

struct writer {
	int prog_fd;
	int rounds;
	int repeat;
	uint64_t runs;
	uint64_t lost;
	int err;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	unsigned char pkt[64] = { 0 };
	int i;

	for (i = 0; i < w->rounds &&
		    !__atomic_load_n(&writers_stop, __ATOMIC_SEQ_CST); i++) {
		LIBBPF_OPTS(bpf_test_run_opts, o);

		o.data_in = pkt;
		o.data_size_in = sizeof(pkt);
		o.repeat = w->repeat;
		w->err = bpf_prog_test_run_opts(w->prog_fd, &o);
		if (w->err)
			break;
		w->runs += w->repeat;
		if (o.retval == 2)
			w->lost++;	/* the last run of the round lost */
	}
	__atomic_sub_fetch(&writers_left, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* Read and delete everything in FD as a naive drain would; packets read. */
static uint64_t naive_drain(int fd)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	static struct flow_key k[1024];
	static struct flow_value v[1024];
	__u32 in = 0, out = 0, cnt, i;
	uint64_t sum = 0;
	bool first = true;
	int err;

	do {
		cnt = 1024;
		err = bpf_map_lookup_and_delete_batch(fd, first ? NULL : &in,
						      &out, k, v, &cnt, &bo);
		for (i = 0; i < cnt; i++)
			sum += v[i].packets;
		in = out;
		first = false;
	} while (!err);
	return sum;
}

/*
 * The same writers, drained the naive way (no flip, no grace period: the
 * buffer being written is read and deleted).  Not a pass/fail case, the
 * race may or may not hit in a short run: it shows what the flip prevents.
 */
static void naive_control(int prog, const int fd[FM_NR])
{
	struct flow_ctl ctl = { 0 };
	struct timespec ms = { 0, 1000000 };
	uint64_t got = 0, runs = 0, t0 = clock_mono_ns();
	struct writer w[2];
	pthread_t th[2];
	__u32 zero = 0;
	int i, n;

	bpf_map_update_elem(fd[2], &zero, &ctl, BPF_ANY);
	writers_stop = 0;
	writers_left = 2;
	for (i = 0; i < 2; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].prog_fd = prog;
		w[i].rounds = 100000;
		w[i].repeat = 500;
		if (pthread_create(&th[i], NULL, writer_main, &w[i])) {
			writers_stop = 1;
			if (i)
				pthread_join(th[0], NULL);
			return;
		}
	}
	for (n = 0; n < 300 && clock_mono_ns() - t0 < 1000000000ULL; n++) {
		got += naive_drain(fd[0]);
		nanosleep(&ms, NULL);
	}
	__atomic_store_n(&writers_stop, 1, __ATOMIC_SEQ_CST);
	for (i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		runs += w[i].runs;
	}
	got += naive_drain(fd[0]) + naive_drain(fd[1]);
	printf("INFO drain_without_flip: %llu packets counted, %llu read by "
	       "%d naive drains (%lld)\n", (unsigned long long)runs,
	       (unsigned long long)got, n, (long long)(got - runs));
}

/*
 * Drain every millisecond while the writers run: 100 drains under load,
 * 2 s at most, then the writers are stopped.  Returns the drains.
 */
static uint64_t drain_while_writing(struct flow_table *ft,
				   struct flow_cache *fc)
{
	struct timespec ms = { 0, 1000000 };
	uint64_t drains = 0, t0 = clock_mono_ns();

	for (;;) {
		bool running = __atomic_load_n(&writers_left,
					       __ATOMIC_SEQ_CST) > 0;

		if (drains == 100 || clock_mono_ns() - t0 > 2000000000ULL)
			__atomic_store_n(&writers_stop, 1, __ATOMIC_SEQ_CST);
		flow_table_drain(ft, &flow_cache_drain_ops, fc, NULL);
		flow_cache_expire(fc, clock_mono_ns());
		drains++;
		if (!running)
			return drains;
		nanosleep(&ms, NULL);
	}
}

static int self_test(void)
{
	char root[256];
	struct flow_table_opts to = { 0 };
	struct flow_cache_params cp;
	struct flow_cache *fc = NULL;
	struct flow_table *ft = NULL;
	struct totals t = { .proto = -1, .dport = -1, .iif = -1 };
	struct writer w[2];
	pthread_t th[2];
	struct statfs sf;
	int fd[FM_NR], prog = -1, i, err;
	uint64_t drains = 0, runs = 0, got;

	memset(fd, -1, sizeof(fd));
	if (geteuid()) {
		printf("SKIP drain_concurrent: needs root (BPF)\n");
		return 0;
	}
	if ((statfs(BPFFS, &sf) || (unsigned long)sf.f_type != BPF_FS_MAGIC_)
	    && mount("bpf", BPFFS, "bpf", 0, NULL)) {
		printf("SKIP drain_concurrent: no bpffs on %s\n", BPFFS);
		return 0;
	}
	snprintf(root, sizeof(root), BPFFS "/flowctl-drain-%d", getpid());
	err = make_pins(root, fd);
	if (err) {
		fail("drain_concurrent", "cannot create the maps: %s",
		     strerror(-err));
		goto out;
	}
	prog = load_meter(fd[2], fd[0], fd[1], false);
	if (prog < 0) {
		fail("drain_concurrent", "cannot load the stand-in meter: %s",
		     strerror(-prog));
		goto out;
	}
	to.pin_root = root;
	flow_cache_params_init(&cp);
	cp.emit = sum_emit;
	cp.emit_ctx = &t;
	if (flow_table_open(&to, &ft) || flow_cache_new(&cp, &fc) ||
	    flow_table_ns_count(ft) != 1) {
		fail("drain_concurrent", "cannot open the flow table");
		goto out;
	}
	writers_left = 2;
	for (i = 0; i < 2; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].prog_fd = prog;
		w[i].rounds = 100000;	/* until stopped */
		w[i].repeat = 500;
		if (pthread_create(&th[i], NULL, writer_main, &w[i])) {
			fail("drain_concurrent", "pthread_create");
			writers_stop = 1;
			if (i)
				pthread_join(th[0], NULL);
			goto out;
		}
	}
	drains = drain_while_writing(ft, fc);
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	/* the writers are done: both buffers once more, then everything */
	flow_table_drain(ft, &flow_cache_drain_ops, fc, NULL);
	flow_table_drain(ft, &flow_cache_drain_ops, fc, NULL);
	flow_cache_flush(fc, clock_mono_ns());
	for (i = 0; i < 2; i++) {
		if (w[i].err) {
			fail("drain_concurrent", "BPF_PROG_TEST_RUN: %s",
			     strerror(-w[i].err));
			goto out;
		}
		runs += w[i].runs;
	}
	got = t.packets[0] + t.packets[1];
	printf("drain_concurrent: %llu packets counted by 2 writers, %llu "
	       "exported over %llu drains\n", (unsigned long long)runs,
	       (unsigned long long)got, (unsigned long long)drains);
	if (got == runs && t.octets[0] + t.octets[1] == runs * OCTETS &&
	    !w[0].lost && !w[1].lost && drains >= 20)
		pass("drain_concurrent");
	else
		fail("drain_concurrent", "%llu packets counted, %llu "
		     "exported (%lld), %llu drains",
		     (unsigned long long)runs, (unsigned long long)got,
		     (long long)(got - runs), (unsigned long long)drains);
	naive_control(prog, fd);
out:
	flow_cache_free(fc);
	flow_table_close(ft);
	if (prog >= 0)
		close(prog);
	for (i = 0; i < FM_NR; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	remove_tree(root);
	return nfail ? 1 : 0;
}

/* ---- parallel drain over several namespaces, exact per flow ---------- */

#define PAR_NS_MAX	8
#define PAR_KEYS_MAX	30000
#define PAR_REPEAT	20

struct par_ns {
	char name[16];
	uint32_t keys;			/* flows 1..keys (skb->mark) */
	int fd[FM_NR];
	int prog;
	uint64_t *want;			/* [keys + 1]: packets run */
	uint64_t *got;			/* [keys + 1]: packets exported */
};

struct par_test {
	struct par_ns ns[PAR_NS_MAX];
	int nns;
	uint64_t strays;		/* records of no known flow */
};

struct par_writer {
	struct par_test *t;
	unsigned int seed;
	uint64_t **want;		/* [ns][key], this writer's */
	uint64_t lost;
	int err;
};

static void *par_writer_main(void *arg)
{
	struct par_writer *w = arg;
	unsigned char pkt[64] = { 0 };

	while (!__atomic_load_n(&writers_stop, __ATOMIC_SEQ_CST)) {
		LIBBPF_OPTS(bpf_test_run_opts, o);
		struct __sk_buff skb = { 0 };
		int i = rand_r(&w->seed) % w->t->nns;
		struct par_ns *ns = &w->t->ns[i];

		skb.mark = 1 + rand_r(&w->seed) % ns->keys;
		o.data_in = pkt;
		o.data_size_in = sizeof(pkt);
		o.ctx_in = &skb;
		o.ctx_size_in = sizeof(skb);
		o.repeat = PAR_REPEAT;
		w->err = bpf_prog_test_run_opts(ns->prog, &o);
		if (w->err)
			break;
		w->want[i][skb.mark] += PAR_REPEAT;
		if (o.retval == 2)
			w->lost++;
	}
	__atomic_sub_fetch(&writers_left, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void par_emit(void *ctx, const struct flow_record *r, size_t n)
{
	struct par_test *t = ctx;
	size_t i;
	int k;

	for (i = 0; i < n; i++, r++) {
		for (k = 0; k < t->nns; k++)
			if (!strcmp(r->netns, t->ns[k].name))
				break;
		if (k == t->nns || !r->ingress_ifindex ||
		    r->ingress_ifindex > t->ns[k].keys ||
		    r->octets != r->packets * OCTETS ||
		    r->obs_domain_id != obs_domain_default(r->netns)) {
			t->strays++;
			continue;
		}
		t->ns[k].got[r->ingress_ifindex] += r->packets;
	}
}

/*
 * NSMALL namespaces of 4096 flows and NBIG of 65536 (PAR_KEYS_MAX flows
 * in use: drained in bucket ranges when there are more threads than
 * namespaces), written by two threads while the main thread drains them
 * every millisecond with WORKERS threads (BATCH entries per system call,
 * 0: the default): every flow of every namespace
 * must be exported with exactly the packets run for it, in its own
 * observation domain.
 */
static void par_drain_test(const char *name, int nsmall, int nbig,
			   unsigned int workers, unsigned int batch)
{
	struct par_test t = { 0 };
	struct par_writer w[2] = { 0 };
	struct flow_table_opts to = { .workers = workers, .batch = batch,
				      .range_min_buckets = 8192 };
	struct flow_cache_params cp;
	struct flow_cache *fc = NULL;
	struct flow_table *ft = NULL;
	pthread_t th[2];
	char root[256];
	uint64_t drains = 0, total = 0, bad = 0;
	int i, k, started = 0;

	snprintf(root, sizeof(root), BPFFS "/flowctl-pdrain-%d", getpid());
	t.nns = nsmall + nbig;
	for (i = 0; i < t.nns; i++) {
		struct par_ns *ns = &t.ns[i];
		int err;

		memset(ns->fd, -1, sizeof(ns->fd));
		ns->prog = -1;
		snprintf(ns->name, sizeof(ns->name), "p%d", i);
		ns->keys = i < nsmall ? 3000 : PAR_KEYS_MAX;
		ns->want = calloc(ns->keys + 1, sizeof(uint64_t));
		ns->got = calloc(ns->keys + 1, sizeof(uint64_t));
		err = flow_maps_pin(root, ns->name, i < nsmall ? 4096 : 65536,
				   ns->fd);
		if (!err) {
			ns->prog = load_meter(ns->fd[2], ns->fd[0], ns->fd[1],
					      true);
			err = ns->prog < 0 ? ns->prog : 0;
		}
		if (err || !ns->want || !ns->got) {
			fail(name, "namespace %s: %s", ns->name,
			     strerror(err ? -err : ENOMEM));
			goto out;
		}
	}
	to.pin_root = root;
	flow_cache_params_init(&cp);
	cp.emit = par_emit;
	cp.emit_ctx = &t;
	if (flow_table_open(&to, &ft) || flow_cache_new(&cp, &fc) ||
	    flow_table_ns_count(ft) != (size_t)t.nns) {
		fail(name, "cannot open the flow table");
		goto out;
	}
	writers_stop = 0;
	writers_left = 2;
	for (i = 0; i < 2; i++) {
		w[i].t = &t;
		w[i].seed = 12345 + i;
		w[i].want = calloc(t.nns, sizeof(*w[i].want));
		for (k = 0; w[i].want && k < t.nns; k++)
			w[i].want[k] = calloc(t.ns[k].keys + 1,
					      sizeof(uint64_t));
		if (!w[i].want || !w[i].want[t.nns - 1] ||
		    pthread_create(&th[i], NULL, par_writer_main, &w[i])) {
			fail(name, "cannot start the writers");
			__atomic_store_n(&writers_stop, 1, __ATOMIC_SEQ_CST);
			goto join;
		}
		started++;
	}
	drains = drain_while_writing(ft, fc);
join:
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	if (started < 2)
		goto out;
	flow_table_drain(ft, &flow_cache_drain_ops, fc, NULL);
	flow_table_drain(ft, &flow_cache_drain_ops, fc, NULL);
	flow_cache_flush(fc, clock_mono_ns());
	for (i = 0; i < t.nns; i++) {
		for (k = 1; k <= (int)t.ns[i].keys; k++) {
			uint64_t want = w[0].want[i][k] + w[1].want[i][k];

			total += want;
			if (want != t.ns[i].got[k])
				bad++;
		}
	}
	printf("%s: %d namespaces, %u drain threads, %llu packets run, %llu drains, %llu flows wrong, %llu strays\n",
	       name, t.nns, workers, (unsigned long long)total,
	       (unsigned long long)drains, (unsigned long long)bad,
	       (unsigned long long)t.strays);
	if (w[0].err || w[1].err)
		fail(name, "BPF_PROG_TEST_RUN: %s",
		     strerror(-(w[0].err ? w[0].err : w[1].err)));
	else if (!bad && !t.strays && !w[0].lost && !w[1].lost &&
		 drains >= 20 && total > 0)
		pass(name);
	else
		fail(name, "%llu flows with other totals than run, %llu strays, %llu lost, %llu drains",
		     (unsigned long long)bad, (unsigned long long)t.strays,
		     (unsigned long long)(w[0].lost + w[1].lost),
		     (unsigned long long)drains);
out:
	flow_cache_free(fc);
	flow_table_close(ft);
	for (i = 0; i < 2; i++) {
		for (k = 0; w[i].want && k < t.nns; k++)
			free(w[i].want[k]);
		free(w[i].want);
	}
	for (i = 0; i < t.nns; i++) {
		for (k = 0; k < FM_NR; k++)
			if (t.ns[i].fd[k] >= 0)
				close(t.ns[i].fd[k]);
		if (t.ns[i].prog >= 0)
			close(t.ns[i].prog);
		free(t.ns[i].want);
		free(t.ns[i].got);
	}
	remove_tree(root);
}

static int parallel_tests(void)
{
	struct statfs sf;

	if (geteuid()) {
		printf("SKIP drain_parallel: needs root (BPF)\n");
		return 0;
	}
	if ((statfs(BPFFS, &sf) || (unsigned long)sf.f_type != BPF_FS_MAGIC_)
	    && mount("bpf", BPFFS, "bpf", 0, NULL)) {
		printf("SKIP drain_parallel: no bpffs on %s\n", BPFFS);
		return 0;
	}
	/* one namespace at a time per thread */
	par_drain_test("drain_parallel_namespaces", 6, 0, 2, 0);
	/*
	 * More threads than namespaces: the big one in bucket ranges, small
	 * batches so that each range takes several calls.
	 */
	par_drain_test("drain_parallel_ranges", 1, 1, 4, 64);
	return nfail ? 1 : 0;
}

/* ---- --watch: the driver of the integration test ---------------------- */

static void usage(FILE *f)
{
	fprintf(f,
"Usage: bpf_flow_drain                       (self-test)\n"
"       bpf_flow_drain --watch [--interval-ms N] [--until FILE]\n"
"                      [--max-ms N] [--netns NS] [--proto P] [--dport N]\n"
"                      [--iif IFINDEX]\n");
}

static int watch(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "watch", no_argument, NULL, 'w' },
		{ "interval-ms", required_argument, NULL, 'i' },
		{ "until", required_argument, NULL, 'u' },
		{ "max-ms", required_argument, NULL, 'm' },
		{ "netns", required_argument, NULL, 'n' },
		{ "proto", required_argument, NULL, 'p' },
		{ "dport", required_argument, NULL, 'd' },
		{ "iif", required_argument, NULL, 'I' },
		{ 0 }
	};
	struct totals t = { .proto = -1, .dport = -1, .iif = -1 };
	struct flow_table_opts to = { 0 };
	struct flow_cache_params cp;
	struct flow_cache *fc = NULL;
	struct flow_table *ft = NULL;
	const char *until = NULL, *netns = NULL;
	long interval = 10, max_ms = 60000;
	uint64_t t0, drains = 0, events = 0;
	struct timespec pause;
	struct stat st;
	int c, d, ret = 1;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'w':
			break;
		case 'i':
			interval = atol(optarg);
			break;
		case 'u':
			until = optarg;
			break;
		case 'm':
			max_ms = atol(optarg);
			break;
		case 'n':
			netns = optarg;
			break;
		case 'p':
			t.proto = atoi(optarg);
			break;
		case 'd':
			t.dport = atoi(optarg);
			break;
		case 'I':
			t.iif = atol(optarg);
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	flow_cache_params_init(&cp);
	cp.emit = sum_emit;
	cp.emit_ctx = &t;
	to.netns = netns;	/* the flows of other namespaces stay put */
	if (flow_table_open(&to, &ft) || flow_cache_new(&cp, &fc))
		goto out;
	if (netns && !flow_table_ns_find(ft, netns)) {
		fprintf(stderr, "bpf_flow_drain: namespace %s is not metered\n",
			netns);
		goto out;
	}
	pause.tv_sec = interval / 1000;
	pause.tv_nsec = interval % 1000 * 1000000L;
	t0 = clock_mono_ns();
	while (!(until && !stat(until, &st)) &&
	       clock_mono_ns() - t0 < (uint64_t)max_ms * 1000000ULL) {
		c = flow_table_events_consume(ft);
		if (c > 0)
			events += c;
		if (flow_table_drain(ft, &flow_cache_drain_ops, fc, NULL))
			goto out;
		flow_cache_expire(fc, clock_mono_ns());
		drains++;
		nanosleep(&pause, NULL);
	}
	/* both buffers once more, then everything the cache holds */
	for (c = 0; c < 2; c++)
		if (flow_table_drain(ft, &flow_cache_drain_ops, fc, NULL))
			goto out;
	flow_cache_flush(fc, clock_mono_ns());
	printf("drains=%llu map_full_events=%llu\n",
	       (unsigned long long)drains + 2, (unsigned long long)events);
	for (d = 0; d < 2; d++)
		printf("%s packets=%llu octets=%llu overflow_packets=%llu "
		       "overflow_octets=%llu\n", d ? "egress" : "ingress",
		       (unsigned long long)t.packets[d],
		       (unsigned long long)t.octets[d],
		       (unsigned long long)t.ovf_packets[d],
		       (unsigned long long)t.ovf_octets[d]);
	ret = 0;
out:
	flow_cache_free(fc);
	flow_table_close(ft);
	return ret;
}

int main(int argc, char **argv)
{
	log_set_level(LOG_LVL_WARN);
	if (argc > 1 && !strcmp(argv[1], "--watch"))
		return watch(argc, argv);
	if (argc > 1) {
		usage(argc > 1 && !strcmp(argv[1], "--help") ? stdout : stderr);
		return 2;
	}
	self_test();
	return parallel_tests();
}
