// SPDX-License-Identifier: Apache-2.0
/*
 * bench_drain: how fast the agent empties a flow buffer, next to the
 * kernel's own ceiling, in one run on the same maps.
 *
 *   bare      bpf_map_lookup_and_delete_batch in a loop, nothing else
 *   per key   get_next_key + lookup + delete (how the original read maps)
 *   drain     flow_table_drain (flip, grace period, batch drain) feeding
 *             the flow cache: new flows, then the same flows again (merge)
 *
 * Maps are filled from user space with the real flow_key / flow_value
 * layout and pinned in a private directory on bpffs.  Also prints the
 * memory per tracked flow (kernel map and cache) and the grace period.
 * Needs root.  Usage: bench_drain [FLOWS...]  (default: 100000 1000000)
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "flow_cache.h"
#include "flow_table.h"
#include "log.h"

#define BPFFS		"/sys/fs/bpf"
#define BPF_FS_MAGIC_	0xcafe4a11
#define BATCH		FLOW_TABLE_BATCH

static char root[256];
static char globals[512];

static struct flow_key *keys;
static struct flow_value *vals;

struct maps {
	int fd[6];
	uint32_t max;
};

static const char *const names[6] = {
	FLOW_MAP_FLOWS_0, FLOW_MAP_FLOWS_1, FLOW_MAP_CTL, FLOW_MAP_IFSTATS,
	FLOW_MAP_COUNTERS, FLOW_MAP_EVENTS,
};

static double secs(uint64_t ns)
{
	return ns / 1e9;
}

static void rm_tree(const char *path)
{
	struct dirent *de;
	DIR *d = opendir(path);
	char p[1024];

	if (!d) {
		unlink(path);
		return;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
		rm_tree(p);
	}
	closedir(d);
	rmdir(path);
}

static int make_maps(uint32_t max, struct maps *m)
{
	char path[1024];
	int i;

	m->max = max;
	m->fd[0] = bpf_map_create(BPF_MAP_TYPE_HASH, "flows_0",
				  sizeof(struct flow_key),
				  sizeof(struct flow_value), max, NULL);
	m->fd[1] = bpf_map_create(BPF_MAP_TYPE_HASH, "flows_1",
				  sizeof(struct flow_key),
				  sizeof(struct flow_value), max, NULL);
	m->fd[2] = bpf_map_create(BPF_MAP_TYPE_ARRAY, "flow_ctl", 4,
				  sizeof(struct flow_ctl), 1, NULL);
	m->fd[3] = bpf_map_create(BPF_MAP_TYPE_HASH, "flow_ifstats",
				  sizeof(struct flow_ifstats_key),
				  sizeof(struct flow_ifstats_value),
				  FLOW_IFSTATS_MAX, NULL);
	m->fd[4] = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "flow_counters",
				  4, sizeof(struct flow_counters), 1, NULL);
	m->fd[5] = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "flow_events", 0, 0,
				  FLOW_EVENTS_RING_SIZE, NULL);
	for (i = 0; i < 6; i++) {
		if (m->fd[i] < 0) {
			fprintf(stderr, "bench_drain: cannot create %s: %s\n",
				names[i], strerror(-m->fd[i]));
			return m->fd[i];
		}
		snprintf(path, sizeof(path), "%s/%s", globals, names[i]);
		if (bpf_obj_pin(m->fd[i], path)) {
			fprintf(stderr, "bench_drain: pin %s: %s\n", path,
				strerror(errno));
			return -errno;
		}
	}
	return 0;
}

static void drop_maps(struct maps *m)
{
	char path[1024];
	int i;

	for (i = 0; i < 6; i++) {
		snprintf(path, sizeof(path), "%s/%s", globals, names[i]);
		unlink(path);
		if (m->fd[i] >= 0)
			close(m->fd[i]);
	}
}

/* N distinct keys, shaped like router traffic (v4 and v6, both hooks). */
static void make_keys(uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		struct flow_key *k = &keys[i];
		struct flow_value *v = &vals[i];

		memset(k, 0, sizeof(*k));
		memset(v, 0, sizeof(*v));
		k->ingress_ifindex = 2 + (i & 3);
		k->egress_ifindex = (i & 4) ? 3 : 0;
		k->direction = (i & 4) ? FLOW_DIR_EGRESS : FLOW_DIR_INGRESS;
		if (i % 5 == 0) {
			k->ip_version = 6;
			k->src_addr[0] = 0xfd;
			memcpy(&k->src_addr[12], &i, 4);
			k->dst_addr[0] = 0xfd;
			k->dst_addr[15] = 1;
		} else {
			k->ip_version = 4;
			k->src_addr[10] = k->src_addr[11] = 0xff;
			memcpy(&k->src_addr[12], &i, 4);
			k->dst_addr[10] = k->dst_addr[11] = 0xff;
			k->dst_addr[12] = 10;
			k->dst_addr[15] = 2;
		}
		k->proto = (i & 8) ? IPPROTO_TCP : IPPROTO_UDP;
		k->sport = htons(1024 + (i % 50000));
		k->dport = htons(443);
		v->packets = 1 + i % 17;
		v->octets = v->packets * 700;
		v->first_seen_ns = flow_mono_ns();
		v->last_seen_ns = v->first_seen_ns;
		v->min_ttl = v->max_ttl = 63;
	}
}

static int fill(int fd, uint32_t n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	uint32_t done = 0;

	while (done < n) {
		__u32 cnt = n - done < 65536 ? n - done : 65536;
		int err = bpf_map_update_batch(fd, keys + done, vals + done,
					       &cnt, &bo);

		if (err) {
			fprintf(stderr, "bench_drain: fill: %s\n",
				strerror(-err));
			return err;
		}
		done += cnt;
	}
	return 0;
}

/* The kernel's ceiling: lookup_and_delete_batch and nothing else. */
static double bare_drain(int fd, uint32_t n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	struct flow_key *k = malloc(BATCH * sizeof(*k));
	struct flow_value *v = malloc(BATCH * sizeof(*v));
	__u32 in = 0, out = 0;
	uint64_t t0, got = 0;
	bool first = true;
	int err;

	t0 = flow_mono_ns();
	do {
		__u32 cnt = BATCH;

		err = bpf_map_lookup_and_delete_batch(fd, first ? NULL : &in,
						      &out, k, v, &cnt, &bo);
		got += cnt;
		in = out;
		first = false;
	} while (!err);
	t0 = flow_mono_ns() - t0;
	free(k);
	free(v);
	if (err != -ENOENT || got != n)
		fprintf(stderr, "bench_drain: bare drain: %s, %llu of %u\n",
			strerror(-err), (unsigned long long)got, n);
	return n / secs(t0);
}

/* The original's way: walk with get_next_key, look up, then delete. */
static double per_key_drain(int fd, uint32_t n)
{
	struct flow_key *k = malloc((size_t)n * sizeof(*k));
	struct flow_value v;
	uint64_t t0;
	uint32_t i = 0, j;

	t0 = flow_mono_ns();
	while (i < n && !bpf_map_get_next_key(fd, i ? &k[i - 1] : NULL,
					       &k[i])) {
		if (!bpf_map_lookup_elem(fd, &k[i], &v))
			i++;
	}
	for (j = 0; j < i; j++)
		bpf_map_delete_elem(fd, &k[j]);
	t0 = flow_mono_ns() - t0;
	free(k);
	if (i != n)
		fprintf(stderr, "bench_drain: per key: %u of %u\n", i, n);
	return n / secs(t0);
}

static uint64_t emitted;

static void count_emit(void *ctx, const struct flow_record *r, size_t n)
{
	(void)ctx;
	(void)r;
	emitted += n;
}

/* Resident memory, from the page tables (statm lags for other threads). */
static long rss_kib(void)
{
	char line[256];
	long kib = 0;
	FILE *f = fopen("/proc/self/smaps_rollup", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Rss: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static unsigned long long memlock(int fd)
{
	unsigned long long v = 0;
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %llu", &v) == 1)
			break;
	fclose(f);
	return v;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

#define REPEAT 3

/* One drain of N flows from FD into FC; returns flows/s, or 0 on error. */
static double table_drain(struct flow_table *ft, struct flow_cache *fc,
			  uint32_t n, uint64_t *grace, uint64_t *total)
{
	struct flow_drain_stats st;
	int err;

	err = flow_table_drain(ft, &flow_cache_drain_ops, fc, &st);
	if (err || st.flows != n) {
		fprintf(stderr, "bench_drain: drain: %s, %llu of %u\n",
			strerror(-err), (unsigned long long)st.flows, n);
		return 0;
	}
	*grace = st.grace_ns;
	*total = st.total_ns;
	return n / secs(st.total_ns);
}

static double best(double a, double b)
{
	return a > b ? a : b;
}

/*
 * Every measure REPEAT times, interleaved, best kept: the machine is shared
 * and a slow round says more about the neighbours than about the code.
 */
static int run(uint32_t n)
{
	struct flow_table_opts to = { .pin_root = root };
	struct flow_cache_params cp;
	struct flow_cache_stats cs;
	struct flow_cache *fc = NULL;
	struct flow_table *ft = NULL;
	struct flow_ctl ctl = { 0 };
	double bare = 0, perkey, d_new = 0, d_merge = 0, r;
	uint64_t g_new = 0, g_merge = 0, t_new = 0, t_merge = 0, g, t;
	long rss0 = 0, rss1 = 0;
	struct maps m;
	__u32 zero = 0;
	int err, rep;

	err = make_maps(n + n / 8, &m);
	if (err)
		goto out;
	make_keys(n);
	err = flow_table_open(&to, &ft);
	if (err)
		goto out;
	flow_cache_params_init(&cp);
	cp.emit = count_emit;
	cp.expected_flows = n;
	err = -EIO;
	for (rep = 0; rep < REPEAT; rep++) {
		/* the kernel's ceiling */
		if (fill(m.fd[0], n))
			goto out;
		bare = best(bare, bare_drain(m.fd[0], n));

		/* flow_table_drain into a new cache: new flows */
		if (rep == 0)
			rss0 = rss_kib();
		if (flow_cache_new(&cp, &fc))
			goto out;
		bpf_map_update_elem(m.fd[2], &zero, &ctl, BPF_ANY);
		if (fill(m.fd[0], n))
			goto out;
		r = table_drain(ft, fc, n, &g, &t);
		if (!r)
			goto out;
		if (r > d_new) {
			d_new = r;
			g_new = g;
			t_new = t;
		}
		if (rep == 0) {
			rss1 = rss_kib();
			flow_cache_get_stats(fc, &cs);
		}
		/* the meter filled flows_1 with the same flows: merges */
		if (fill(m.fd[1], n))
			goto out;
		r = table_drain(ft, fc, n, &g, &t);
		if (!r || flow_cache_count(fc) != n)
			goto out;
		if (r > d_merge) {
			d_merge = r;
			g_merge = g;
			t_merge = t;
		}
		flow_cache_flush(fc, flow_mono_ns());
		flow_cache_free(fc);
		fc = NULL;
	}
	/* get_next_key + lookup + delete: once, capped (it is slow) */
	{
		uint32_t pk = n > 200000 ? 200000 : n;

		if (fill(m.fd[0], pk))
			goto out;
		perkey = per_key_drain(m.fd[0], pk);
	}

	printf("%u flows (flow_key %zu B + flow_value %zu B), batch %u, "
	       "best of %d:\n", n, sizeof(struct flow_key),
	       sizeof(struct flow_value), BATCH, REPEAT);
	printf("  %-42s %6.2f M flows/s  1.00 (kernel ceiling)\n",
	       "bare lookup_and_delete_batch", bare / 1e6);
	printf("  %-42s %6.2f M flows/s  %.2f\n",
	       "get_next_key + lookup + delete (original)", perkey / 1e6,
	       perkey / bare);
	printf("  %-42s %6.2f M flows/s  %.2f  (%.2f without the %.1f ms "
	       "grace period)\n", "flow_table_drain + cache, new flows",
	       d_new / 1e6, d_new / bare,
	       n / secs(t_new - g_new) / bare, g_new / 1e6);
	printf("  %-42s %6.2f M flows/s  %.2f  (%.2f without the %.1f ms "
	       "grace period)\n", "flow_table_drain + cache, known flows",
	       d_merge / 1e6, d_merge / bare,
	       n / secs(t_merge - g_merge) / bare, g_merge / 1e6);
	printf("  memory per flow: kernel map %.0f B (memlock %llu B / %u "
	       "entries, preallocated); cache %zu B/entry, %.0f B with "
	       "buckets, RSS +%.0f B\n",
	       (double)memlock(m.fd[0]) / m.max, memlock(m.fd[0]), m.max,
	       flow_cache_entry_size(), (double)cs.bytes / n,
	       (rss1 - rss0) * 1024.0 / n);
	err = 0;
out:
	flow_cache_free(fc);
	flow_table_close(ft);
	drop_maps(&m);
	return err ? 1 : 0;
}

static void grace_cost(void)
{
	struct flow_table_opts to = { .pin_root = root };
	struct flow_table *ft = NULL;
	uint64_t g[21];
	int i;

	if (flow_table_open(&to, &ft))
		return;
	for (i = 0; i < 21; i++)
		g[i] = flow_table_grace(ft);
	qsort(g, 21, sizeof(g[0]), cmp_u64);
	printf("grace period (%s): min %.2f ms, median %.2f ms, max %.2f "
	       "ms over 21 drains\n",
	       flow_table_grace_synced(ft) ? "map-in-map update, "
	       "synchronize_rcu" : "fixed sleep", g[0] / 1e6, g[10] / 1e6,
	       g[20] / 1e6);
	flow_table_close(ft);
}

int main(int argc, char **argv)
{
	uint32_t sizes[8] = { 100000, 1000000 }, max = 0;
	int nsizes = 2, i, rc = 0;
	struct statfs sf;
	char path[1024];

	if (geteuid()) {
		fprintf(stderr, "bench_drain: needs root (BPF maps)\n");
		return 1;
	}
	if (argc > 1) {
		nsizes = 0;
		for (i = 1; i < argc && nsizes < 8; i++)
			sizes[nsizes++] = strtoul(argv[i], NULL, 0);
	}
	for (i = 0; i < nsizes; i++)
		if (sizes[i] > max)
			max = sizes[i];
	log_set_level(LOG_LVL_WARN);
	if ((statfs(BPFFS, &sf) || (unsigned long)sf.f_type != BPF_FS_MAGIC_)
	    && mount("bpf", BPFFS, "bpf", 0, NULL)) {
		fprintf(stderr, "bench_drain: no bpffs on %s\n", BPFFS);
		return 1;
	}
	snprintf(root, sizeof(root), BPFFS "/flowctl-bench-%d", getpid());
	snprintf(globals, sizeof(globals), "%s/bench/tc/globals", root);
	mkdir(root, 0700);
	snprintf(path, sizeof(path), "%s/bench", root);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/bench/tc", root);
	mkdir(path, 0700);
	mkdir(globals, 0700);
	keys = malloc((size_t)max * sizeof(*keys));
	vals = malloc((size_t)max * sizeof(*vals));
	if (!keys || !vals)
		return 1;
	for (i = 0; i < nsizes; i++)
		rc |= run(sizes[i]);
	grace_cost();
	free(keys);
	free(vals);
	rm_tree(root);
	return rc;
}
