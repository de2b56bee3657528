/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the drain and export benchmarks share: a private pin root on bpffs
 * holding one namespace ("bench") with the meter's maps created from user
 * space, N flows shaped like router traffic, and the kernel's ceiling (a
 * bare lookup_and_delete_batch loop).  Header-only: each benchmark is one
 * program.
 */
#ifndef FLOWCTL_BENCH_MAPS_H
#define FLOWCTL_BENCH_MAPS_H

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

#include "bpffs.h"
#include "clock.h"
#include "flow_abi.h"
#include "flow_maps.h"
#include "flow_table.h"

#define BPFFS		"/sys/fs/bpf"
#define BPF_FS_MAGIC_	0xcafe4a11
#define BATCH		FLOW_TABLE_BATCH

static const char *bench_name = "bench";
static char root[256];
static char globals[512];

static struct flow_key *keys;
static struct flow_value *vals;

struct maps {
	int fd[FM_NR];
	uint32_t max;
};

static inline double secs(uint64_t ns)
{
	return ns / 1e9;
}

/* The meter's maps of namespace NS under pin root DIR, MAX flows. */
static inline int make_ns_maps(const char *dir, const char *ns, uint32_t max,
			       struct maps *m)
{
	int err;

	m->max = max;
	err = flow_maps_pin(dir, ns, max, m->fd);
	if (err)
		fprintf(stderr, "%s: cannot make the maps of %s under %s: %s\n",
			bench_name, ns, dir, strerror(-err));
	return err;
}

static inline int make_maps(uint32_t max, struct maps *m)
{
	return make_ns_maps(root, "bench", max, m);
}

static inline void drop_maps(struct maps *m)
{
	char path[1024];
	int i;

	for (i = 0; i < FM_NR; i++) {
		snprintf(path, sizeof(path), "%s/%s", globals, flow_maps[i].name);
		unlink(path);
		if (m->fd[i] >= 0)
			close(m->fd[i]);
	}
}

/* N distinct keys, shaped like router traffic (v4 and v6, both hooks). */
static inline void make_keys(uint32_t n)
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
		v->first_seen_ns = clock_mono_ns();
		v->last_seen_ns = v->first_seen_ns;
		v->min_ttl = v->max_ttl = 63;
	}
}

/* Put keys[first, first + n) into the map FD. */
static inline int fill_from(int fd, uint32_t first, uint32_t n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	uint32_t done = 0;

	while (done < n) {
		__u32 cnt = n - done < 65536 ? n - done : 65536;
		int err = bpf_map_update_batch(fd, keys + first + done,
					       vals + first + done, &cnt, &bo);

		if (err) {
			fprintf(stderr, "%s: fill: %s\n", bench_name,
				strerror(-err));
			return err;
		}
		done += cnt;
	}
	return 0;
}

static inline int fill(int fd, uint32_t n)
{
	return fill_from(fd, 0, n);
}

/* The kernel's ceiling: lookup_and_delete_batch and nothing else. */
static inline double bare_drain(int fd, uint32_t n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	struct flow_key *k = malloc(BATCH * sizeof(*k));
	struct flow_value *v = malloc(BATCH * sizeof(*v));
	__u32 in = 0, out = 0;
	uint64_t t0, got = 0;
	bool first = true;
	int err;

	t0 = clock_mono_ns();
	do {
		__u32 cnt = BATCH;

		err = bpf_map_lookup_and_delete_batch(fd, first ? NULL : &in,
						      &out, k, v, &cnt, &bo);
		got += cnt;
		in = out;
		first = false;
	} while (!err);
	t0 = clock_mono_ns() - t0;
	free(k);
	free(v);
	if (err != -ENOENT || got != n)
		fprintf(stderr, "%s: bare drain: %s, %llu of %u\n", bench_name,
			strerror(-err), (unsigned long long)got, n);
	return n / secs(t0);
}


/* Mount bpffs if needed, make ROOT/bench/tc/globals, room for MAX flows. */
static inline int bench_setup(const char *tool, uint32_t max)
{
	struct statfs sf;
	char path[1024];

	bench_name = tool;
	if ((statfs(BPFFS, &sf) || (unsigned long)sf.f_type != BPF_FS_MAGIC_)
	    && mount("bpf", BPFFS, "bpf", 0, NULL)) {
		fprintf(stderr, "%s: no bpffs on %s\n", bench_name, BPFFS);
		return -1;
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
		return -1;
	return 0;
}

static inline void bench_teardown(void)
{
	free(keys);
	free(vals);
	remove_tree(root);
}

#endif
