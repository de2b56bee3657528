// SPDX-License-Identifier: Apache-2.0
/*
 * Flow table against maps created and pinned here, in a private directory
 * on bpffs (root needed: the tests say SKIP on stderr and pass otherwise).
 */
#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
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

#include "check_main.h"
#include "bpffs.h"
#include "clock.h"
#include "config.h"
#include "flow_cache.h"
#include "flow_maps.h"
#include "flow_table.h"
#include "log.h"
#include "netns_id.h"
#include "obs_domain.h"

#define BPFFS		"/sys/fs/bpf"
#define BPF_FS_MAGIC_	0xcafe4a11

static char root[256];
static bool usable;
static char why[256];

/* ---- fixture: a private pin root ----------------------------------- */

static bool bpffs_ready(void)
{
	struct statfs sf;

	if (statfs(BPFFS, &sf) == 0 && (unsigned long)sf.f_type == BPF_FS_MAGIC_)
		return true;
	if (mount("bpf", BPFFS, "bpf", 0, NULL)) {
		snprintf(why, sizeof(why), "cannot mount bpffs on %s: %s",
			 BPFFS, strerror(errno));
		return false;
	}
	return true;
}

/*
 * The pin roots of earlier runs whose process is gone: a failed check ends
 * its (forked) test before the teardown, which would have removed it.
 * Only flowctl-test-PID with no such process.
 */
static void remove_stale_roots(void)
{
	DIR *d = opendir(BPFFS);
	struct dirent *de;
	char path[PATH_MAX];
	int pid, end;

	if (!d)
		return;
	while ((de = readdir(d))) {
		end = 0;
		if (sscanf(de->d_name, "flowctl-test-%d%n", &pid, &end) != 1 ||
		    !end || de->d_name[end] || pid <= 0 || pid == getpid())
			continue;
		if (kill(pid, 0) == 0 || errno != ESRCH)
			continue;
		snprintf(path, sizeof(path), BPFFS "/%s", de->d_name);
		remove_tree(path);
	}
	closedir(d);
}

static void setup(void)
{
	int fd;

	usable = false;
	if (geteuid() != 0) {
		snprintf(why, sizeof(why), "needs root (bpf maps, bpffs)");
		goto skip;
	}
	if (!bpffs_ready())
		goto skip;
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "probe", 4, 4, 1, NULL);
	if (fd < 0) {
		snprintf(why, sizeof(why), "cannot create BPF maps: %s",
			 strerror(-fd));
		goto skip;
	}
	close(fd);
	remove_stale_roots();
	snprintf(root, sizeof(root), BPFFS "/flowctl-test-%d", getpid());
	remove_tree(root);
	ck_assert_int_eq(mkdir(root, 0700), 0);
	usable = true;
	log_set_level(LOG_LVL_WARN);
	return;
skip:
	fprintf(stderr, "SKIP check_flow_table: %s\n", why);
}

static void teardown(void)
{
	if (usable)
		remove_tree(root);
}

#define REQUIRE_BPF()							\
	do {								\
		if (!usable) {						\
			fprintf(stderr, "SKIP %s: %s\n", __func__, why);\
			return;						\
		}							\
	} while (0)

struct pins {
	int fd[FM_NR];
};

/*
 * Create and pin the maps of namespace NAME like the meter does; with a
 * FLOWS_KEY other than sizeof(struct flow_key), flows_0 is then replaced
 * by one of that key size (pins of another version).
 */
static void make_ns(const char *name, uint32_t max_flows, uint32_t flows_key,
		    struct pins *p)
{
	const struct flow_map_spec *s = &flow_maps[FM_FLOWS0];
	char path[512];

	ck_assert_int_eq(flow_maps_pin(root, name, max_flows, p->fd), 0);
	if (flows_key == s->key_size)
		return;
	snprintf(path, sizeof(path), "%s/%s/%s/%s", root, name,
		 FLOW_PIN_GLOBALS, s->name);
	ck_assert_int_eq(unlink(path), 0);
	close(p->fd[FM_FLOWS0]);
	p->fd[FM_FLOWS0] = bpf_map_create(s->type, s->name, flows_key,
					  s->value_size, max_flows, NULL);
	ck_assert_int_ge(p->fd[FM_FLOWS0], 0);
	ck_assert_int_eq(bpf_obj_pin(p->fd[FM_FLOWS0], path), 0);
}

static void close_pins(struct pins *p)
{
	int i;

	for (i = 0; i < FM_NR; i++)
		close(p->fd[i]);
}

static void unpin_ns(const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", root, name);
	remove_tree(path);
}

static struct flow_key key_n(uint32_t n)
{
	struct flow_key k;

	memset(&k, 0, sizeof(k));
	k.ingress_ifindex = 2 + (n & 1);
	k.src_addr[10] = k.src_addr[11] = 0xff;
	memcpy(&k.src_addr[12], &n, 4);
	k.dst_addr[10] = k.dst_addr[11] = 0xff;
	k.dst_addr[12] = 10;
	k.sport = htons(1000 + (n & 0xfff));
	k.dport = htons(53);
	k.proto = IPPROTO_UDP;
	k.ip_version = 4;
	k.direction = n & 1;
	return k;
}

/* kernel time of the segments filled (0: long ago) */
static uint64_t base_ns;

static struct flow_value val_n(uint64_t pkts)
{
	struct flow_value v;

	memset(&v, 0, sizeof(v));
	v.packets = pkts;
	v.octets = pkts * 100;
	v.first_seen_ns = base_ns + 1000;
	v.last_seen_ns = base_ns + 2000 + pkts;
	v.min_ttl = v.max_ttl = 64;
	return v;
}

static void fill(int fd, uint32_t from, uint32_t n, uint64_t *pkts)
{
	uint32_t i;

	for (i = from; i < from + n; i++) {
		struct flow_key k = key_n(i);
		struct flow_value v = val_n(i % 13 + 1);

		ck_assert_int_eq(bpf_map_update_elem(fd, &k, &v, BPF_ANY), 0);
		*pkts += v.packets;
	}
}

static size_t map_count(int fd)
{
	struct flow_key k, next;
	size_t n = 0;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		n++;
	}
	return n;
}

static struct flow_table *open_table(const char *state_dir)
{
	struct flow_table_opts o = { .pin_root = root,
				     .state_dir = state_dir };
	struct flow_table *ft = NULL;

	ck_assert_int_eq(flow_table_open(&o, &ft), 0);
	return ft;
}

/* ---- a drain consumer that sums ------------------------------------- */

struct sums {
	uint64_t segs;
	uint64_t pkts;
	uint64_t octets;
	uint64_t calls;
	char ns[64];
	int begun;
	struct flow_ifstats_key ik[8];
	struct flow_ifstats_value itotal[8];
	struct flow_ifstats_value idelta[8];
	int nif;
	struct flow_counters ctotal;
	struct flow_counters cdelta;
};

static void s_begin(void *ctx, const struct flow_clock *clk)
{
	struct sums *s = ctx;

	(void)clk;
	s->begun++;
}

static void s_flows(void *ctx, const struct flow_ns *ns,
		    const struct flow_key *keys,
		    const struct flow_value *vals, size_t n)
{
	struct sums *s = ctx;
	size_t i;

	(void)keys;
	snprintf(s->ns, sizeof(s->ns), "%s", flow_ns_name(ns));
	s->calls++;
	s->segs += n;
	for (i = 0; i < n; i++) {
		s->pkts += vals[i].packets;
		s->octets += vals[i].octets;
	}
}

static void s_ifstats(void *ctx, const struct flow_ns *ns,
		      const struct flow_ifstats_key *key,
		      const struct flow_ifstats_value *total,
		      const struct flow_ifstats_value *delta)
{
	struct sums *s = ctx;

	(void)ns;
	if (s->nif < 8) {
		s->ik[s->nif] = *key;
		s->itotal[s->nif] = *total;
		s->idelta[s->nif] = *delta;
		s->nif++;
	}
}

static void s_counters(void *ctx, const struct flow_ns *ns,
		       const struct flow_counters *total,
		       const struct flow_counters *delta)
{
	struct sums *s = ctx;

	(void)ns;
	s->ctotal = *total;
	s->cdelta = *delta;
}

static const struct flow_drain_ops sum_ops = {
	.begin = s_begin,
	.flows = s_flows,
	.ifstats = s_ifstats,
	.counters = s_counters,
};

static int find_if(const struct sums *s, uint32_t iif)
{
	int i;

	for (i = 0; i < s->nif; i++)
		if (s->ik[i].ingress_ifindex == iif)
			return i;
	return -1;
}

/* ---- tests ----------------------------------------------------------- */

START_TEST(test_discovery)
{
	struct flow_table *ft;
	struct pins a, b, c;
	struct sums s = { 0 };
	char path[512];

	REQUIRE_BPF();
	make_ns("nsA", 1024, sizeof(struct flow_key), &a);
	make_ns("DEFAULT", 2048, sizeof(struct flow_key), &b);
	/* a pin dir where nothing is attached yet is not a namespace */
	snprintf(path, sizeof(path), "%s/empty", root);
	mkdir(path, 0700);
	ft = open_table(NULL);
	ck_assert_uint_eq(flow_table_ns_count(ft), 2);
	ck_assert_ptr_nonnull(flow_table_ns_find(ft, "nsA"));
	ck_assert_ptr_nonnull(flow_table_ns_find(ft, "DEFAULT"));
	ck_assert_ptr_null(flow_table_ns_find(ft, "empty"));
	ck_assert_uint_eq(flow_ns_max_flows(flow_table_ns_find(ft, "DEFAULT")),
			  2048);
	ck_assert_uint_eq(flow_ns_obs_domain_id(flow_table_ns_find(ft, "nsA")),
			  obs_domain_default("nsA"));
	ck_assert_uint_ne(obs_domain_default("nsA"),
			  obs_domain_default("nsB"));
	ck_assert_str_eq(flow_table_pin_root(ft), root);

	/* nsA detached: its last flows are drained once, then it is gone */
	{
		uint64_t pk = 0;

		fill(a.fd[1], 0, 10, &pk);	/* the idle buffer */
		fill(a.fd[0], 10, 5, &pk);	/* the active one */
		unpin_ns("nsA");
		ck_assert_int_eq(flow_table_rescan(ft), 0);
		ck_assert_ptr_null(flow_table_ns_find(ft, "nsA"));
		ck_assert_int_eq(flow_table_drain(ft, &sum_ops, &s, NULL), 0);
		ck_assert_uint_eq(s.segs, 15);
		ck_assert_uint_eq(s.pkts, pk);
		ck_assert_str_eq(s.ns, "nsA");
		ck_assert_uint_eq(flow_table_ns_count(ft), 1);
	}
	/* a new namespace is picked up at the next rescan */
	make_ns("nsC", 512, sizeof(struct flow_key), &c);
	ck_assert_int_eq(flow_table_rescan(ft), 0);
	ck_assert_uint_eq(flow_table_ns_count(ft), 2);
	ck_assert_ptr_nonnull(flow_table_ns_find(ft, "nsC"));
	/* rescan again: nothing changes, nothing is opened twice */
	ck_assert_int_eq(flow_table_rescan(ft), 0);
	ck_assert_uint_eq(flow_table_ns_count(ft), 2);
	flow_table_close(ft);
	close_pins(&a);
	close_pins(&b);
	close_pins(&c);
}
END_TEST

/*
 * A namespace whose name hashes to 0 (FNV-1a): the flow table, without an
 * obs_domain_id callback, gives it the domain the config gives it, not 0.
 */
START_TEST(test_domain_of_zero_hash)
{
	static const char zero[] = "ns-3rs5ic";
	struct flow_table *ft;
	struct pins a;
	uint32_t dom;

	REQUIRE_BPF();
	ck_assert_uint_eq(obs_domain_hash(zero), 0);
	make_ns(zero, 64, sizeof(struct flow_key), &a);
	ft = open_table(NULL);
	ck_assert_ptr_nonnull(flow_table_ns_find(ft, zero));
	dom = flow_ns_obs_domain_id(flow_table_ns_find(ft, zero));
	ck_assert_uint_ne(dom, 0);
	ck_assert_uint_eq(dom, config_obs_domain_id(NULL, zero));
	ck_assert_uint_eq(dom, obs_domain_default(zero));
	flow_table_close(ft);
	close_pins(&a);
}
END_TEST

START_TEST(test_only_netns)
{
	struct flow_table_opts o = { .netns = "nsB" };
	struct flow_table *ft = NULL;
	struct pins a, b;
	struct sums s = { 0 };
	uint64_t pk = 0;

	REQUIRE_BPF();
	o.pin_root = root;
	make_ns("nsA", 64, sizeof(struct flow_key), &a);
	make_ns("nsB", 64, sizeof(struct flow_key), &b);
	fill(a.fd[0], 0, 5, &pk);
	ck_assert_int_eq(flow_table_open(&o, &ft), 0);
	ck_assert_uint_eq(flow_table_ns_count(ft), 1);
	ck_assert_ptr_nonnull(flow_table_ns_find(ft, "nsB"));
	/* the flows of the other namespace stay where they are */
	ck_assert_int_eq(flow_table_drain(ft, &sum_ops, &s, NULL), 0);
	ck_assert_uint_eq(s.segs, 0);
	ck_assert_uint_eq(map_count(a.fd[0]), 5);
	flow_table_close(ft);
	close_pins(&a);
	close_pins(&b);
}
END_TEST

START_TEST(test_pin_root_env)
{
	struct flow_table *ft = NULL;
	struct pins a;

	REQUIRE_BPF();
	make_ns("nsE", 64, sizeof(struct flow_key), &a);
	setenv(FLOW_PIN_ROOT_ENV, root, 1);
	ck_assert_int_eq(flow_table_open(NULL, &ft), 0);
	unsetenv(FLOW_PIN_ROOT_ENV);
	ck_assert_str_eq(flow_table_pin_root(ft), root);
	ck_assert_ptr_nonnull(flow_table_ns_find(ft, "nsE"));
	flow_table_close(ft);
	close_pins(&a);
}
END_TEST

START_TEST(test_size_mismatch)
{
	struct flow_table *ft;
	struct pins bad, good;
	char buf[4096] = "";
	FILE *cap;
	int saved, err;

	REQUIRE_BPF();
	make_ns("nsOld", 64, 52, &bad);	/* an older, smaller flow_key */
	make_ns("nsNew", 64, sizeof(struct flow_key), &good);
	cap = tmpfile();
	ck_assert_ptr_nonnull(cap);
	fflush(stderr);
	saved = dup(2);
	dup2(fileno(cap), 2);
	ft = open_table(NULL);
	err = flow_table_rescan(ft);	/* not printed a second time */
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(cap);
	ck_assert_uint_gt(fread(buf, 1, sizeof(buf) - 1, cap), 0);
	fclose(cap);
	ck_assert_int_eq(err, -EPROTO);
	/* the good namespace is still metered */
	ck_assert_uint_eq(flow_table_ns_count(ft), 1);
	ck_assert_ptr_nonnull(flow_table_ns_find(ft, "nsNew"));
	/* the message names the map and both sizes */
	ck_assert_ptr_nonnull(strstr(buf, "nsOld/tc/globals/flows_0"));
	ck_assert_ptr_nonnull(strstr(buf, "key size 52"));
	ck_assert_ptr_nonnull(strstr(buf, "expects key size 56"));
	ck_assert_ptr_nonnull(strstr(buf, "value size 56"));
	ck_assert_ptr_null(strstr(strstr(buf, "key size 52") + 1,
				  "key size 52"));
	flow_table_close(ft);
	close_pins(&bad);
	close_pins(&good);
}
END_TEST

START_TEST(test_drain_exact)
{
	struct flow_table *ft;
	struct flow_drain_stats st;
	struct flow_ctl ctl;
	struct pins p;
	struct sums s = { 0 };
	uint64_t want = 0, want1 = 0, late = 0;
	__u32 zero = 0;

	REQUIRE_BPF();
	make_ns("ns0", 65536, sizeof(struct flow_key), &p);
	fill(p.fd[0], 0, 50000, &want);		/* active buffer: 0 */
	ft = open_table(NULL);
	ck_assert_int_eq(flow_table_drain(ft, &sum_ops, &s, &st), 0);
	ck_assert_int_eq(s.begun, 1);
	ck_assert_uint_eq(st.flows, 50000);
	ck_assert_uint_eq(s.segs, 50000);
	ck_assert_uint_eq(s.pkts, want);
	ck_assert_uint_eq(s.octets, want * 100);
	ck_assert_uint_eq(st.namespaces, 1);
	ck_assert(st.synced);
	ck_assert_uint_gt(s.calls, 1);	/* batches of FLOW_TABLE_BATCH */
	ck_assert_uint_eq(map_count(p.fd[0]), 0);
	ck_assert_int_eq(bpf_map_lookup_elem(p.fd[2], &zero, &ctl), 0);
	ck_assert_uint_eq(ctl.active, 1);
	ck_assert_uint_eq(ctl.flips, 1);
	/* the wall clock pair is now-ish */
	ck_assert_uint_gt(st.clock.real_ns / 1000000000ULL,
			  (uint64_t)time(NULL) - 2);

	/* the meter now fills flows_1; the next drain takes exactly that */
	memset(&s, 0, sizeof(s));
	fill(p.fd[1], 0, 3000, &want1);
	ck_assert_int_eq(flow_table_drain(ft, &sum_ops, &s, &st), 0);
	ck_assert_uint_eq(s.segs, 3000);
	ck_assert_uint_eq(s.pkts, want1);
	ck_assert_int_eq(bpf_map_lookup_elem(p.fd[2], &zero, &ctl), 0);
	ck_assert_uint_eq(ctl.active, 0);
	ck_assert_uint_eq(ctl.flips, 2);
	/* what lands in the active buffer waits for the next flip */
	fill(p.fd[0], 100, 10, &late);
	ck_assert_uint_eq(map_count(p.fd[1]), 0);
	memset(&s, 0, sizeof(s));
	fill(p.fd[1], 200, 7, &late);	/* stray entries in the idle one */
	ck_assert_int_eq(flow_table_drain(ft, &sum_ops, &s, NULL), 0);
	ck_assert_uint_eq(s.segs, 10);
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(flow_table_drain(ft, &sum_ops, &s, NULL), 0);
	ck_assert_uint_eq(s.segs, 7);
	ck_assert_uint_eq(map_count(p.fd[0]) + map_count(p.fd[1]), 0);
	flow_table_close(ft);
	close_pins(&p);
}
END_TEST

START_TEST(test_drain_small_batch)
{
	struct flow_table_opts o = { .batch = 4 };
	struct flow_table *ft;
	struct pins p;
	struct sums s = { 0 };
	uint64_t want = 0;

	REQUIRE_BPF();
	o.pin_root = root;
	make_ns("ns0", 4096, sizeof(struct flow_key), &p);
	fill(p.fd[0], 0, 4000, &want);
	ck_assert_int_eq(flow_table_open(&o, &ft), 0);
	/* buckets hold more than 4 entries at times: -ENOSPC, grown */
	ck_assert_int_eq(flow_table_drain(ft, &sum_ops, &s, NULL), 0);
	ck_assert_uint_eq(s.segs, 4000);
	ck_assert_uint_eq(s.pkts, want);
	flow_table_close(ft);
	close_pins(&p);
}
END_TEST

START_TEST(test_grace_period)
{
	struct flow_table *ft;
	struct pins p;
	uint64_t g1, g2;
	FILE *f;
	int expedited = 0;

	REQUIRE_BPF();
	make_ns("ns0", 64, sizeof(struct flow_key), &p);
	ft = open_table(NULL);
	ck_assert(flow_table_grace_synced(ft));
	g1 = flow_table_grace(ft);
	g2 = flow_table_grace(ft);	/* same inner map again: syncs too */
	fprintf(stderr, "grace period (synchronize_rcu): %.3f ms, %.3f ms\n",
		g1 / 1e6, g2 / 1e6);
	f = fopen("/sys/kernel/rcu_expedited", "r");
	if (f) {
		if (fscanf(f, "%d", &expedited) != 1)
			expedited = 0;
		fclose(f);
	}
	/* a plain map update takes microseconds; a grace period longer */
	if (!expedited) {
		ck_assert_uint_gt(g1, 100000);
		ck_assert_uint_gt(g2, 100000);
	}
	flow_table_close(ft);
	close_pins(&p);
}
END_TEST

START_TEST(test_snapshot_merge)
{
	struct flow_table_opts o = { .no_drain = true };
	struct flow_table *ft;
	struct flow_entry *e = NULL;
	struct pins p;
	struct flow_key k1 = key_n(1), k2 = key_n(2), k3 = key_n(3);
	struct flow_value a = val_n(5), b = val_n(7), c = val_n(1);
	size_t n = 0, i;

	REQUIRE_BPF();
	o.pin_root = root;
	make_ns("ns0", 64, sizeof(struct flow_key), &p);
	a.tcp_flags = FLOW_TCP_SYN;
	a.min_ttl = 60;
	a.first_seen_ns = 500;
	b.tcp_flags = FLOW_TCP_FIN;
	b.flags = FLOW_F_END_SEEN;
	b.max_ttl = 70;
	b.last_seen_ns = 9000;
	ck_assert_int_eq(bpf_map_update_elem(p.fd[0], &k1, &a, 0), 0);
	ck_assert_int_eq(bpf_map_update_elem(p.fd[1], &k1, &b, 0), 0);
	ck_assert_int_eq(bpf_map_update_elem(p.fd[0], &k2, &c, 0), 0);
	ck_assert_int_eq(bpf_map_update_elem(p.fd[1], &k3, &c, 0), 0);
	ck_assert_int_eq(flow_table_open(&o, &ft), 0);
	ck_assert_int_eq(flow_table_snapshot(ft, flow_table_ns_find(ft, "ns0"),
					     &e, &n), 0);
	ck_assert_uint_eq(n, 3);
	for (i = 0; i < n; i++) {
		if (i)	/* sorted by key */
			ck_assert_int_lt(memcmp(&e[i - 1].key, &e[i].key,
						sizeof(e[i].key)), 0);
		if (memcmp(&e[i].key, &k1, sizeof(k1)))
			continue;
		ck_assert_uint_eq(e[i].val.packets, 12);
		ck_assert_uint_eq(e[i].val.octets, 1200);
		ck_assert_uint_eq(e[i].val.tcp_flags,
				  FLOW_TCP_SYN | FLOW_TCP_FIN);
		ck_assert_uint_eq(e[i].val.flags, FLOW_F_END_SEEN);
		ck_assert_uint_eq(e[i].val.min_ttl, 60);
		ck_assert_uint_eq(e[i].val.max_ttl, 70);
		ck_assert_uint_eq(e[i].val.first_seen_ns, 500);
		ck_assert_uint_eq(e[i].val.last_seen_ns, 9000);
	}
	/* read-only: both buffers unchanged */
	ck_assert_uint_eq(map_count(p.fd[0]), 2);
	ck_assert_uint_eq(map_count(p.fd[1]), 2);
	free(e);
	flow_table_close(ft);
	close_pins(&p);
}
END_TEST

START_TEST(test_flush)
{
	struct flow_table_opts o = { .no_drain = true };
	struct flow_table *ft;
	struct flow_match m = { 0 };
	struct flow_ns *ns;
	struct pins p;
	uint64_t removed = 0, pk = 0;

	REQUIRE_BPF();
	o.pin_root = root;
	make_ns("ns0", 1024, sizeof(struct flow_key), &p);
	fill(p.fd[0], 0, 100, &pk);
	fill(p.fd[1], 0, 100, &pk);	/* the same keys in both buffers */
	ck_assert_int_eq(flow_table_open(&o, &ft), 0);
	ns = flow_table_ns_find(ft, "ns0");
	/* one exact key (key_n(7)): one entry per buffer */
	m.key = key_n(7);
	m.fields = FLOW_MATCH_IIF | FLOW_MATCH_PROTO | FLOW_MATCH_SADDR |
		   FLOW_MATCH_SPORT | FLOW_MATCH_DADDR | FLOW_MATCH_DPORT;
	ck_assert(flow_match_key(&m, &m.key));
	ck_assert_int_eq(flow_table_flush(ft, ns, &m, &removed), 0);
	ck_assert_uint_eq(removed, 2);
	ck_assert_uint_eq(map_count(p.fd[0]) + map_count(p.fd[1]), 198);
	ck_assert_int_eq(flow_table_flush(ft, ns, &m, &removed), 0);
	ck_assert_uint_eq(removed, 0);
	/* by ingress ifindex: the odd keys (iif 3) */
	m.fields = FLOW_MATCH_IIF;
	m.key.ingress_ifindex = 3;
	ck_assert_int_eq(flow_table_flush(ft, ns, &m, &removed), 0);
	ck_assert_uint_eq(removed, 98);
	ck_assert_int_eq(flow_table_flush(ft, ns, NULL, &removed), 0);
	ck_assert_uint_eq(removed, 100);
	ck_assert_uint_eq(map_count(p.fd[0]) + map_count(p.fd[1]), 0);
	flow_table_close(ft);
	close_pins(&p);
}
END_TEST

static void set_ifstats(int fd, uint32_t iif, uint64_t pk, uint64_t ovf)
{
	struct flow_ifstats_key k = { .ingress_ifindex = iif,
				      .egress_ifindex = 9,
				      .direction = FLOW_DIR_EGRESS };
	struct flow_ifstats_value v = { .packets = pk, .octets = pk * 100,
					.overflow_packets = ovf,
					.overflow_octets = ovf * 100 };

	ck_assert_int_eq(bpf_map_update_elem(fd, &k, &v, BPF_ANY), 0);
}

static void set_counter(int fd, int cpu, int idx, uint64_t v)
{
	int ncpu = libbpf_num_possible_cpus();
	struct flow_counters *c = calloc(ncpu, sizeof(*c));
	__u32 zero = 0;

	ck_assert_int_eq(bpf_map_lookup_elem(fd, &zero, c), 0);
	c[cpu].c[idx] = v;
	ck_assert_int_eq(bpf_map_update_elem(fd, &zero, c, BPF_ANY), 0);
	free(c);
}

START_TEST(test_ifstats_deltas)
{
	struct flow_table *ft;
	struct pins p;
	struct sums s;
	char state[256];
	int i;

	REQUIRE_BPF();
	snprintf(state, sizeof(state), "/tmp/flowctl-test-state-%d", getpid());
	make_ns("ns0", 64, sizeof(struct flow_key), &p);
	set_ifstats(p.fd[3], 2, 100, 10);	/* counted before the agent */
	set_counter(p.fd[4], 0, FLOW_CNT_UNPARSED_PKTS, 4);
	ft = open_table(state);

	/*
	 * First drain: the metering totals start from now (delta 0), the
	 * overflow from zero (no saved state): the 10 are handed over.
	 */
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(flow_table_drain(ft, &sum_ops, &s, NULL), 0);
	ck_assert_int_eq(s.nif, 1);
	ck_assert_uint_eq(s.itotal[0].packets, 100);
	ck_assert_uint_eq(s.idelta[0].packets, 0);
	ck_assert_uint_eq(s.idelta[0].overflow_packets, 10);
	ck_assert_uint_eq(s.idelta[0].overflow_octets, 1000);
	ck_assert_uint_eq(s.cdelta.c[FLOW_CNT_UNPARSED_PKTS], 0);
	ck_assert_uint_eq(s.ctotal.c[FLOW_CNT_UNPARSED_PKTS], 4);

	/* more traffic, a new pair, counters on two CPUs */
	set_ifstats(p.fd[3], 2, 150, 15);
	set_ifstats(p.fd[3], 3, 7, 1);
	set_counter(p.fd[4], 0, FLOW_CNT_UNPARSED_PKTS, 6);
	if (libbpf_num_possible_cpus() > 1)
		set_counter(p.fd[4], 1, FLOW_CNT_UNPARSED_PKTS, 5);
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(flow_table_drain(ft, &sum_ops, &s, NULL), 0);
	ck_assert_int_eq(s.nif, 2);
	i = find_if(&s, 2);
	ck_assert_int_ge(i, 0);
	ck_assert_uint_eq(s.idelta[i].packets, 50);
	ck_assert_uint_eq(s.idelta[i].octets, 5000);
	ck_assert_uint_eq(s.idelta[i].overflow_packets, 5);
	i = find_if(&s, 3);
	ck_assert_int_ge(i, 0);
	ck_assert_uint_eq(s.idelta[i].packets, 7);	/* new: from zero */
	ck_assert_uint_eq(s.idelta[i].overflow_packets, 1);
	ck_assert_uint_eq(s.cdelta.c[FLOW_CNT_UNPARSED_PKTS],
			  libbpf_num_possible_cpus() > 1 ? 7 : 2);
	/* nothing new: zero deltas, never counted twice */
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(flow_table_drain(ft, &sum_ops, &s, NULL), 0);
	for (i = 0; i < s.nif; i++) {
		ck_assert_uint_eq(s.idelta[i].packets, 0);
		ck_assert_uint_eq(s.idelta[i].overflow_packets, 0);
	}
	flow_table_close(ft);

	/*
	 * Agent restart: overflow while it was down is handed over, what the
	 * previous agent handed over is not.
	 */
	set_ifstats(p.fd[3], 2, 160, 18);
	ft = open_table(state);
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(flow_table_drain(ft, &sum_ops, &s, NULL), 0);
	i = find_if(&s, 2);
	ck_assert_int_ge(i, 0);
	ck_assert_uint_eq(s.idelta[i].overflow_packets, 3);
	ck_assert_uint_eq(s.idelta[i].packets, 0);
	i = find_if(&s, 3);
	ck_assert_int_ge(i, 0);
	ck_assert_uint_eq(s.idelta[i].overflow_packets, 0);
	flow_table_close(ft);

	/* a new meter (another flow_ifstats map): the saved state is not its */
	close_pins(&p);
	unpin_ns("ns0");
	make_ns("ns0", 64, sizeof(struct flow_key), &p);
	set_ifstats(p.fd[3], 2, 20, 2);
	ft = open_table(state);
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(flow_table_drain(ft, &sum_ops, &s, NULL), 0);
	ck_assert_int_eq(s.nif, 1);
	ck_assert_uint_eq(s.idelta[0].overflow_packets, 2);
	flow_table_close(ft);
	close_pins(&p);
	remove_tree(state);
}
END_TEST

/* The drain feeding the cache: flows and the overflow catch-all. */
struct rsink {
	uint64_t pkts;
	uint64_t n;
	uint64_t lack;
	uint64_t lack_pkts;
	char ns[32];
};

static void r_emit(void *ctx, const struct flow_record *r, size_t n)
{
	struct rsink *s = ctx;
	size_t i;

	for (i = 0; i < n; i++) {
		s->n++;
		s->pkts += r[i].packets;
		snprintf(s->ns, sizeof(s->ns), "%s", r[i].netns);
		if (r[i].end_reason == FLOW_END_LACK_OF_RESOURCES) {
			s->lack++;
			s->lack_pkts += r[i].packets;
		}
	}
}

START_TEST(test_drain_into_cache)
{
	struct flow_cache_params cp;
	struct flow_cache *fc;
	struct flow_table *ft;
	struct rsink rs = { 0 };
	struct pins p;
	uint64_t want = 0;

	REQUIRE_BPF();
	make_ns("nsX", 4096, sizeof(struct flow_key), &p);
	ft = open_table(NULL);
	flow_cache_params_init(&cp);
	cp.emit = r_emit;
	cp.emit_ctx = &rs;
	ck_assert_int_eq(flow_cache_new(&cp, &fc), 0);
	base_ns = clock_mono_ns();	/* flows seen now: none idle yet */
	fill(p.fd[0], 0, 1000, &want);
	set_ifstats(p.fd[3], 2, 5, 4);
	ck_assert_int_eq(flow_table_drain(ft, &flow_cache_drain_ops, fc,
					  NULL), 0);
	ck_assert_uint_eq(flow_cache_count(fc), 1000);
	/* the catch-all goes out at the next expiry */
	flow_cache_expire(fc, clock_mono_ns());
	ck_assert_uint_eq(flow_cache_count(fc), 1000);
	ck_assert_uint_eq(rs.lack, 1);
	ck_assert_uint_eq(rs.lack_pkts, 4);
	/* the same keys again: merged into the cached flows */
	fill(p.fd[1], 0, 1000, &want);
	ck_assert_int_eq(flow_table_drain(ft, &flow_cache_drain_ops, fc,
					  NULL), 0);
	ck_assert_uint_eq(flow_cache_count(fc), 1000);
	flow_cache_flush(fc, clock_mono_ns());
	ck_assert_uint_eq(rs.pkts, want + 4);
	ck_assert_uint_eq(rs.n, 1000 + 1);
	ck_assert_str_eq(rs.ns, "nsX");
	base_ns = 0;
	flow_cache_free(fc);
	flow_table_close(ft);
	close_pins(&p);
}
END_TEST

/* ---- a namespace that is gone ---------------------------------------- */

struct stale_seen {
	struct sums s;
	int calls;
	char why[32];
	char ns[64];
	uint64_t segs, pkts, segs_before;
	bool unpinned;
};

static void s_flows_st(void *ctx, const struct flow_ns *ns,
		       const struct flow_key *keys,
		       const struct flow_value *vals, size_t n)
{
	s_flows(&((struct stale_seen *)ctx)->s, ns, keys, vals, n);
}

static void s_stale(void *ctx, const struct flow_ns *ns, const char *reason,
		    uint64_t segments, uint64_t packets, bool unpinned)
{
	struct stale_seen *st = ctx;

	st->calls++;
	snprintf(st->why, sizeof(st->why), "%s", reason);
	snprintf(st->ns, sizeof(st->ns), "%s", flow_ns_name(ns));
	st->segs = segments;
	st->pkts = packets;
	st->unpinned = unpinned;
	st->segs_before = st->s.segs;	/* what flows() had by then */
}

static const struct flow_drain_ops stale_ops = {
	.flows = s_flows_st,
	.stale = s_stale,
};

START_TEST(test_stale_namespace)
{
	struct stale_seen seen = { 0 };
	struct netns_id id;
	struct flow_table *ft;
	struct pins p, q;
	char gone[64], legacy[64], path[512];
	uint64_t want = 0, other = 0;

	REQUIRE_BPF();
	/* names no namespace has: their pins outlived them */
	snprintf(gone, sizeof(gone), "ftgone%d", getpid());
	snprintf(legacy, sizeof(legacy), "ftold%d", getpid());
	make_ns(gone, 1024, sizeof(struct flow_key), &p);
	make_ns(legacy, 1024, sizeof(struct flow_key), &q);
	ck_assert_int_eq(netns_id_get("", &id), 0);
	ck_assert_int_eq(pin_identity_write(root, gone, &id), 0);
	ck_assert_int_eq(pin_fate(root, gone, NULL), PIN_GONE);
	ck_assert_int_eq(pin_fate(root, FLOW_ROOT_NETNS, NULL), PIN_LIVE);
	fill(p.fd[0], 0, 100, &want);	/* both buffers hold flows */
	fill(p.fd[1], 100, 50, &want);
	fill(q.fd[0], 0, 10, &other);
	ft = open_table(NULL);
	ck_assert_uint_eq(flow_table_ns_count(ft), 2);
	ck_assert_int_eq(flow_table_rescan(ft), 0);
	ck_assert_int_eq(flow_table_drain(ft, &stale_ops, &seen, NULL), 0);
	ck_assert_int_eq(seen.calls, 1);
	ck_assert_str_eq(seen.ns, gone);
	ck_assert_str_eq(seen.why, "deleted");
	ck_assert_uint_eq(seen.segs, 150);
	ck_assert_uint_eq(seen.pkts, want);
	ck_assert(seen.unpinned);
	ck_assert_uint_eq(seen.s.pkts, want + other);
	snprintf(path, sizeof(path), "%s/%s", root, gone);
	ck_assert_int_eq(access(path, F_OK), -1);
	/* pins without identity are never judged: still there, still drained */
	snprintf(path, sizeof(path), "%s/%s", root, legacy);
	ck_assert_int_eq(access(path, F_OK), 0);
	ck_assert_int_eq(flow_table_rescan(ft), 0);
	ck_assert_uint_eq(flow_table_ns_count(ft), 1);
	ck_assert_ptr_nonnull(flow_table_ns_find(ft, legacy));
	ck_assert_int_eq(flow_table_drain(ft, &stale_ops, &seen, NULL), 0);
	ck_assert_int_eq(seen.calls, 1);
	flow_table_close(ft);
	close_pins(&p);
	close_pins(&q);
	unpin_ns(legacy);
}
END_TEST

/* Deferred deletion: what the consumer sees when it is asked to persist. */
struct persist_seen {
	struct sums s;
	int fd[2];			/* the namespace's buffers */
	uint32_t ids[8];
	size_t nids;
	int calls, cleared;
	size_t in_maps_at_persist;	/* entries still in the buffers */
	uint64_t segs_at_persist;
	int stale_calls;
	int stale_after_clear;
};

static void p_flows(void *ctx, const struct flow_ns *ns,
		    const struct flow_key *k, const struct flow_value *v,
		    size_t n)
{
	s_flows(&((struct persist_seen *)ctx)->s, ns, k, v, n);
}

static void p_persist(void *ctx, const uint32_t *ids, size_t n)
{
	struct persist_seen *p = ctx;
	size_t i;

	p->calls++;
	for (i = 0; i < n && p->nids < 8; i++)
		p->ids[p->nids++] = ids[i];
	p->in_maps_at_persist = map_count(p->fd[0]) + map_count(p->fd[1]);
	p->segs_at_persist = p->s.segs;
}

static void p_cleared(void *ctx)
{
	((struct persist_seen *)ctx)->cleared++;
}

static void p_stale(void *ctx, const struct flow_ns *ns, const char *reason,
		    uint64_t segs, uint64_t pkts, bool unpinned)
{
	struct persist_seen *p = ctx;

	(void)ns; (void)reason; (void)segs; (void)pkts; (void)unpinned;
	p->stale_calls++;
	p->stale_after_clear = p->cleared;
}

static const struct flow_drain_ops persist_ops = {
	.flows = p_flows,
	.persist = p_persist,
	.cleared = p_cleared,
	.stale = p_stale,
};

static uint32_t map_id_of(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	ck_assert_int_eq(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
	return info.id;
}

START_TEST(test_drain_deferred_delete)
{
	struct persist_seen ps = { 0 };
	struct flow_table *ft;
	struct netns_id id;
	struct pins p;
	char gone[64];
	uint64_t want = 0, late = 0, removed = 0;

	REQUIRE_BPF();
	make_ns("nsP", 4096, sizeof(struct flow_key), &p);
	ps.fd[0] = p.fd[0];
	ps.fd[1] = p.fd[1];
	fill(p.fd[0], 0, 3000, &want);		/* active buffer: 0 */
	ft = open_table(NULL);
	ck_assert_int_eq(flow_table_drain(ft, &persist_ops, &ps, NULL), 0);
	/* everything handed over, and still in the buffer, when asked */
	ck_assert_int_eq(ps.calls, 1);
	ck_assert_uint_eq(ps.segs_at_persist, 3000);
	ck_assert_uint_eq(ps.s.pkts, want);
	ck_assert_uint_eq(ps.in_maps_at_persist, 3000);
	ck_assert_uint_eq(ps.nids, 1);
	ck_assert_uint_eq(ps.ids[0], map_id_of(p.fd[0]));
	/* then emptied (in the background), then told */
	ck_assert_int_eq(flow_table_settle(ft), 0);
	ck_assert_int_eq(ps.cleared, 1);
	ck_assert_uint_eq(map_count(p.fd[0]), 0);
	/* the next drain waits for it too: nothing read twice */
	fill(p.fd[1], 0, 500, &late);
	ck_assert_int_eq(flow_table_drain(ft, &persist_ops, &ps, NULL), 0);
	ck_assert_int_eq(ps.calls, 2);
	ck_assert_uint_eq(ps.s.segs, 3500);
	fill(p.fd[0], 0, 40, &late);
	ck_assert_int_eq(flow_table_drain(ft, &persist_ops, &ps, NULL), 0);
	ck_assert_int_eq(ps.cleared, 2);
	ck_assert_uint_eq(ps.s.segs, 3540);
	ck_assert_int_eq(flow_table_settle(ft), 0);
	ck_assert_int_eq(ps.cleared, 3);
	ck_assert_uint_eq(map_count(p.fd[0]) + map_count(p.fd[1]), 0);
	late = 0;

	/* a consumer killed after persist: the next one empties by id */
	fill(p.fd[0], 0, 20, &late);
	ck_assert_int_eq(flow_table_clear_map_id(map_id_of(p.fd[0]), &removed),
			 0);
	ck_assert_uint_eq(removed, 20);
	ck_assert_uint_eq(map_count(p.fd[0]), 0);
	/* an id that is not a flow buffer is refused, not emptied */
	ck_assert_int_eq(flow_table_clear_map_id(map_id_of(p.fd[2]), NULL),
			 -EPROTO);
	flow_table_close(ft);
	close_pins(&p);
	unpin_ns("nsP");

	/* a stale namespace: ops->stale after its buffers are emptied */
	memset(&ps, 0, sizeof(ps));
	snprintf(gone, sizeof(gone), "ftpgone%d", getpid());
	make_ns(gone, 1024, sizeof(struct flow_key), &p);
	ck_assert_int_eq(netns_id_get("", &id), 0);
	ck_assert_int_eq(pin_identity_write(root, gone, &id), 0);
	ps.fd[0] = p.fd[0];
	ps.fd[1] = p.fd[1];
	fill(p.fd[0], 0, 30, &want);
	fill(p.fd[1], 30, 40, &want);
	ft = open_table(NULL);
	ck_assert_int_eq(flow_table_rescan(ft), 0);
	ck_assert_int_eq(flow_table_drain(ft, &persist_ops, &ps, NULL), 0);
	ck_assert_uint_eq(ps.in_maps_at_persist, 70);
	ck_assert_uint_eq(ps.nids, 2);
	ck_assert_int_eq(ps.stale_calls, 1);
	ck_assert_int_eq(ps.stale_after_clear, 1);
	ck_assert_uint_eq(map_count(p.fd[0]) + map_count(p.fd[1]), 0);
	flow_table_close(ft);
	close_pins(&p);
}
END_TEST

START_TEST(test_no_pin_root)
{
	struct flow_table_opts o = { .pin_root = "/nonexistent/flowctl" };
	struct flow_table *ft = NULL;
	struct sums s = { 0 };

	/* no meter anywhere: an empty table, not an error */
	ck_assert_int_eq(flow_table_open(&o, &ft), 0);
	ck_assert_uint_eq(flow_table_ns_count(ft), 0);
	ck_assert_int_eq(flow_table_drain(ft, &sum_ops, &s, NULL), 0);
	ck_assert_uint_eq(s.segs, 0);
	flow_table_close(ft);
}
END_TEST

static Suite *flow_table_suite(void)
{
	Suite *s = suite_create("flow_table");
	TCase *tc = tcase_create("pinned maps");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_discovery);
	tcase_add_test(tc, test_domain_of_zero_hash);
	tcase_add_test(tc, test_only_netns);
	tcase_add_test(tc, test_pin_root_env);
	tcase_add_test(tc, test_size_mismatch);
	tcase_add_test(tc, test_drain_exact);
	tcase_add_test(tc, test_drain_small_batch);
	tcase_add_test(tc, test_grace_period);
	tcase_add_test(tc, test_snapshot_merge);
	tcase_add_test(tc, test_flush);
	tcase_add_test(tc, test_ifstats_deltas);
	tcase_add_test(tc, test_drain_into_cache);
	tcase_add_test(tc, test_no_pin_root);
	tcase_add_test(tc, test_stale_namespace);
	tcase_add_test(tc, test_drain_deferred_delete);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(flow_table_suite)
