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

#include "bench_maps.h"
#include "clock.h"

/* The original's way: walk with get_next_key, look up, then delete. */
static double per_key_drain(int fd, uint32_t n)
{
	struct flow_key *k = malloc((size_t)n * sizeof(*k));
	struct flow_value v;
	uint64_t t0;
	uint32_t i = 0, j;

	t0 = clock_mono_ns();
	while (i < n && !bpf_map_get_next_key(fd, i ? &k[i - 1] : NULL,
					       &k[i])) {
		if (!bpf_map_lookup_elem(fd, &k[i], &v))
			i++;
	}
	for (j = 0; j < i; j++)
		bpf_map_delete_elem(fd, &k[j]);
	t0 = clock_mono_ns() - t0;
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
		flow_cache_flush(fc, clock_mono_ns());
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
	if (bench_setup("bench_drain", max))
		return 1;
	for (i = 0; i < nsizes; i++)
		rc |= run(sizes[i]);
	grace_cost();
	bench_teardown();
	return rc;
}
