// SPDX-License-Identifier: Apache-2.0
/*
 * Per-namespace interface totals and counters: the baselines taken at
 * open, the deltas of each drain, and the overflow state saved in
 * STATE_DIR so that a restarted agent does not report totals twice.
 */
#include "flow_table_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "flow_maps.h"
#include "log.h"

/* ---- ifstats baselines and the saved overflow state ----------------- */

static uint32_t ifstats_hash(const struct flow_ifstats_key *k)
{
	uint64_t h = ((uint64_t)k->ingress_ifindex << 32 | k->egress_ifindex) *
		     0x9e3779b97f4a7c15ULL;

	h ^= (uint64_t)k->direction * 0xc2b2ae3d27d4eb4fULL;
	return (uint32_t)(h >> 32);
}

static bool ifstats_key_eq(const struct flow_ifstats_key *a,
			   const struct flow_ifstats_key *b)
{
	return a->ingress_ifindex == b->ingress_ifindex &&
	       a->egress_ifindex == b->egress_ifindex &&
	       a->direction == b->direction;
}

/* Find KEY in the baselines of NS, adding it (zeroed) when new. */
static struct ifstats_prev *ifstats_slot(struct flow_ns *ns,
					 const struct flow_ifstats_key *key,
					 bool *added)
{
	struct ifstats_prev *p;
	size_t i, mask;

	if ((ns->prev_n + 1) * 2 > ns->prev_cap) {
		size_t ncap = ns->prev_cap ? ns->prev_cap * 2 : 64;
		struct ifstats_prev *np = calloc(ncap, sizeof(*np));

		if (!np)
			return NULL;
		for (i = 0; i < ns->prev_cap; i++) {
			size_t j;

			if (!ns->prev[i].used)
				continue;
			j = ifstats_hash(&ns->prev[i].key) & (ncap - 1);
			while (np[j].used)
				j = (j + 1) & (ncap - 1);
			np[j] = ns->prev[i];
		}
		free(ns->prev);
		ns->prev = np;
		ns->prev_cap = ncap;
	}
	mask = ns->prev_cap - 1;
	for (i = ifstats_hash(key) & mask;; i = (i + 1) & mask) {
		p = &ns->prev[i];
		if (!p->used)
			break;
		if (ifstats_key_eq(&p->key, key)) {
			*added = false;
			return p;
		}
	}
	memset(p, 0, sizeof(*p));
	p->used = true;
	p->key.ingress_ifindex = key->ingress_ifindex;
	p->key.egress_ifindex = key->egress_ifindex;
	p->key.direction = key->direction;
	ns->prev_n++;
	*added = true;
	return p;
}

void ft_state_path(const struct flow_table *ft, const struct flow_ns *ns,
		   char *buf, size_t size, const char *suffix)
{
	fmt(buf, size, "%s/%s.overflow%s", ft->state_dir, ns->name,
		 suffix);
}

/*
 * The overflow totals already handed over, saved by a previous agent for
 * the same flow_ifstats map (same map id): they are the baseline, so what
 * overflowed while no agent ran is handed over once, and nothing twice.
 */
static void state_load(struct flow_table *ft, struct flow_ns *ns)
{
	char path[PATH_MAX];
	unsigned long long pk, oc;
	unsigned int iif, oif, dir, id;
	bool added;
	FILE *f;
	int fd;

	if (!ft->state_dir)
		return;
	ft_state_path(ft, ns, path, sizeof(path), "");
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return;
	}
	if (fscanf(f, "flowctl-overflow 1 map %u\n", &id) != 1 ||
	    id != ns->ifstats_id) {
		pr_info("%s: saved overflow totals belong to another meter "
			"instance: ignored", path);
		goto out;
	}
	while (fscanf(f, "%u %u %u %llu %llu\n", &iif, &oif, &dir, &pk,
		      &oc) == 5) {
		struct flow_ifstats_key k = {
			.ingress_ifindex = iif,
			.egress_ifindex = oif,
			.direction = dir,
		};
		struct ifstats_prev *p = ifstats_slot(ns, &k, &added);

		if (!p)
			break;
		p->v.overflow_packets = pk;
		p->v.overflow_octets = oc;
	}
out:
	fclose(f);
}

int ft_state_save(struct flow_table *ft, struct flow_ns *ns)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	size_t i;
	FILE *f;
	int fd, err = 0;

	if (!ft->state_dir)
		return 0;
	ft_state_path(ft, ns, path, sizeof(path), "");
	ft_state_path(ft, ns, tmp, sizeof(tmp), ".tmp");
	/* the directory is private (private_dir_ensure); still, never
	 * follow a link or reuse a file someone left there */
	if (unlink(tmp) && errno != ENOENT) {
		err = -errno;
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	f = fdopen(fd, "w");
	if (!f) {
		err = -errno;
		close(fd);
		goto out;
	}
	fprintf(f, "flowctl-overflow 1 map %u\n", ns->ifstats_id);
	for (i = 0; i < ns->prev_cap; i++) {
		const struct ifstats_prev *p = &ns->prev[i];

		if (!p->used || (!p->v.overflow_packets &&
				 !p->v.overflow_octets))
			continue;
		fprintf(f, "%u %u %u %llu %llu\n", p->key.ingress_ifindex,
			p->key.egress_ifindex, p->key.direction,
			(unsigned long long)p->v.overflow_packets,
			(unsigned long long)p->v.overflow_octets);
	}
	if (fclose(f)) {
		err = -errno;
		goto out;
	}
	if (rename(tmp, path))
		err = -errno;
out:
	if (err)
		pr_warn("cannot save the overflow totals in %s: %s", path,
			strerror(-err));
	else
		ns->state_dirty = false;
	return err;
}

static int read_counters(struct flow_table *ft, struct flow_ns *ns,
			 struct flow_counters *sum)
{
	const struct flow_counters *c = ft->pcpu;
	__u32 zero = 0;
	int cpu, i;

	if (bpf_map_lookup_elem(ns->fd[FM_COUNTERS], &zero, ft->pcpu))
		return -errno;
	memset(sum, 0, sizeof(*sum));
	for (cpu = 0; cpu < ft->ncpus; cpu++)
		for (i = 0; i < FLOW_CNT_MAX; i++)
			sum->c[i] += c[cpu].c[i];
	return 0;
}

/* Baselines at open: metering totals from now, overflow from the state. */
int ft_ns_baselines(struct flow_table *ft, struct flow_ns *ns)
{
	struct flow_ifstats_key *keys = NULL;
	struct flow_ifstats_value *vals = NULL;
	size_t i, n = 0;
	bool added;
	int err;

	state_load(ft, ns);
	err = ft_read_all(ft, ns->fd[FM_IFSTATS], sizeof(*keys), sizeof(*vals),
		       (void **)&keys, (void **)&vals, &n);
	if (err)
		return err;
	for (i = 0; i < n; i++) {
		struct ifstats_prev *p = ifstats_slot(ns, &keys[i], &added);

		if (!p) {
			err = -ENOMEM;
			break;
		}
		p->v.packets = vals[i].packets;
		p->v.octets = vals[i].octets;
		/* more handed over than the map holds: not our map */
		if (p->v.overflow_packets > vals[i].overflow_packets ||
		    p->v.overflow_octets > vals[i].overflow_octets) {
			p->v.overflow_packets = 0;
			p->v.overflow_octets = 0;
		}
	}
	free(keys);
	free(vals);
	if (!err)
		err = read_counters(ft, ns, &ns->cnt_prev);
	return err;
}

static uint64_t delta_u64(uint64_t now, uint64_t prev)
{
	return now >= prev ? now - prev : now;	/* map recreated: restart */
}

int ft_ns_read_ifstats(struct flow_table *ft, struct flow_ns *ns,
		       const struct flow_drain_ops *ops, void *ctx)
{
	struct flow_ifstats_key *keys = NULL;
	struct flow_ifstats_value *vals = NULL;
	struct flow_counters sum, delta;
	size_t i, n;
	bool added;
	int err, j;

	err = ft_read_all(ft, ns->fd[FM_IFSTATS], sizeof(*keys), sizeof(*vals),
		       (void **)&keys, (void **)&vals, &n);
	if (err) {
		pr_err("%s/%s: %s", ns->dir, FLOW_MAP_IFSTATS, strerror(-err));
		return err;
	}
	for (i = 0; i < n; i++) {
		struct ifstats_prev *p = ifstats_slot(ns, &keys[i], &added);
		struct flow_ifstats_value d;

		if (!p) {
			err = -ENOMEM;
			break;
		}
		/* a key that is new since the open started from zero */
		d.packets = delta_u64(vals[i].packets, p->v.packets);
		d.octets = delta_u64(vals[i].octets, p->v.octets);
		d.overflow_packets = delta_u64(vals[i].overflow_packets,
					       p->v.overflow_packets);
		d.overflow_octets = delta_u64(vals[i].overflow_octets,
					      p->v.overflow_octets);
		if (d.overflow_packets || d.overflow_octets)
			ns->state_dirty = true;
		p->v = vals[i];
		if (ops && ops->ifstats)
			ops->ifstats(ctx, ns, &keys[i], &vals[i], &d);
	}
	free(keys);
	free(vals);
	if (err)
		return err;
	err = read_counters(ft, ns, &sum);
	if (err) {
		pr_err("%s/%s: %s", ns->dir, FLOW_MAP_COUNTERS, strerror(-err));
		return err;
	}
	for (j = 0; j < FLOW_CNT_MAX; j++)
		delta.c[j] = delta_u64(sum.c[j], ns->cnt_prev.c[j]);
	ns->cnt_prev = sum;
	if (ops && ops->counters)
		ops->counters(ctx, ns, &sum, &delta);
	return 0;
}
