// SPDX-License-Identifier: Apache-2.0
/*
 * Flow table: the pinned maps of every metered namespace (flow_table.h).
 */
#include "flow_table.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpffs.h"
#include "clock.h"
#include "flow_maps.h"
#include "log.h"
#include "netns_id.h"
#include "obs_domain.h"

#ifndef ENOTSUPP
#define ENOTSUPP 524	/* kernel-internal, returned by the bpf syscall */
#endif

/* Previous cumulative values of one flow_ifstats entry. */
struct ifstats_prev {
	struct flow_ifstats_key key;
	bool used;
	struct flow_ifstats_value v;
};

struct flow_ns {
	char *name;
	char dir[PATH_MAX];		/* <root>/<name>/tc/globals */
	int dir_fd;			/* flock()ed while draining */
	int fd[FM_NR];
	ino_t ino[FM_NR];		/* pins replaced -> new meter */
	uint32_t max_flows;
	uint32_t ifstats_id;		/* map id: is the saved state ours? */
	uint32_t obs_domain_id;
	bool gone;			/* pins vanished: drain both, forget */
	/* the incarnation the pins were made for (identity pin), if any */
	bool has_id;
	struct netns_id id;
	uint64_t id_ino;		/* inode of the identity pin */
	const char *stale;		/* "deleted", "re-created", or NULL */
	bool flipped;			/* in the drain under way */
	unsigned int idle;		/* buffer to drain (after the flip) */
	uint32_t map_id[2];		/* of flows_0 and flows_1 */
	/* deferred deletion: buffers read, to empty after ops->persist */
	unsigned int drained;		/* bit FM_FLOWS0 + i */
	bool stale_pending;		/* ops->stale after the emptying */
	uint64_t stale_segs, stale_pkts;
	uint64_t prev_drain_ns;
	uint64_t this_drain_ns;
	struct ifstats_prev *prev;
	size_t prev_cap;
	size_t prev_n;
	struct flow_counters cnt_prev;
	bool state_dirty;
	struct ring_buffer *rb;
};

/* A namespace that could not be opened, so its error is printed once. */
struct ns_failure {
	char *name;
	uint64_t sig;
};

struct flow_table {
	char *pin_root;
	char *state_dir;
	char *only_netns;
	uint32_t (*obs_domain_id)(void *ctx, const char *netns);
	void *obs_domain_ctx;
	struct flow_ns **ns;
	size_t nns;
	size_t ns_cap;
	struct ns_failure *fail;
	size_t nfail;
	int gp_outer;			/* ARRAY_OF_MAPS: update = sync */
	int gp_inner;
	bool gp_warned;
	bool batch_broken;
	bool del_broken;
	bool defer;			/* this drain: ops->persist, then delete */
	/*
	 * Deferred deletion in the background: the buffers persisted at the
	 * end of a drain are emptied by this thread (fds dup'ed) while the
	 * consumer goes on; the next drain (or flow_table_settle) waits for
	 * it and calls the ops->cleared of that drain.
	 */
	struct {
		bool on;
		pthread_t thr;
		int *fds;
		size_t n;
		int err;
		const struct flow_drain_ops *ops;
		void *ctx;
		unsigned int batch;
		bool key_by_key;
	} empty;
	unsigned int batch;		/* entries per batch syscall */
	unsigned int workers;		/* drain threads (1: no parallel drain) */
	unsigned int range_min;		/* buckets: cut into ranges from here */
	/*
	 * Two batch buffers: while the worker thread hands one to the
	 * consumer (ops->flows), the kernel fills the other.
	 */
	struct drain_buf {
		struct flow_key *keys;
		struct flow_value *vals;
		unsigned int cap;
		size_t n;
		const struct flow_ns *ns;
		bool full;		/* owned by the worker */
	} buf[2];
	unsigned int cur;		/* buffer the kernel fills next */
	bool worker_on;
	bool worker_stop;
	pthread_t worker;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	const struct flow_drain_ops *wops;
	void *wctx;
	int ncpus;
	void *pcpu;
	int epfd;
	int events;
};

static int empty_wait(struct flow_table *ft, bool cleared);

/* ---- clocks ---------------------------------------------------------- */

void flow_clock_now(struct flow_clock *clk)
{
	uint64_t r1, m, r2;

	/* the monotonic read sits between two realtime reads: average them */
	r1 = clock_real_ns();
	m = clock_mono_ns();
	r2 = clock_real_ns();
	clk->real_ns = r1 + (r2 - r1) / 2;
	clk->mono_ns = m;
}

uint64_t flow_clock_to_unix_ns(const struct flow_clock *clk, uint64_t mono_ns)
{
	if (!mono_ns)
		return 0;
	return clk->real_ns + (int64_t)(mono_ns - clk->mono_ns);
}

/* ---- small helpers --------------------------------------------------- */

/* snprintf for paths and messages: truncation is acceptable there */
static void __attribute__((format(printf, 3, 4)))
fmt(char *buf, size_t size, const char *f, ...)
{
	va_list ap;

	va_start(ap, f);
	vsnprintf(buf, size, f, ap);
	va_end(ap);
}

static bool err_unsupported(int err)
{
	return err == -EINVAL || err == -ENOTSUPP || err == -EOPNOTSUPP;
}

/* Make B hold at least BATCH entries (B is not the worker's now). */
static int buf_reserve(struct drain_buf *b, unsigned int batch)
{
	struct flow_key *k;
	struct flow_value *v;

	if (b->cap >= batch)
		return 0;
	k = realloc(b->keys, (size_t)batch * sizeof(*k));
	if (!k)
		return -ENOMEM;
	b->keys = k;
	v = realloc(b->vals, (size_t)batch * sizeof(*v));
	if (!v)
		return -ENOMEM;
	b->vals = v;
	b->cap = batch;
	return 0;
}

/* ---- the worker thread: consumer callbacks beside the kernel's work -- */

static void *drain_worker(void *arg)
{
	struct flow_table *ft = arg;
	unsigned int w = 0;

	pthread_mutex_lock(&ft->mu);
	for (;;) {
		struct drain_buf *b = &ft->buf[w];

		while (!b->full && !ft->worker_stop)
			pthread_cond_wait(&ft->cv, &ft->mu);
		if (!b->full)
			break;
		pthread_mutex_unlock(&ft->mu);
		ft->wops->flows(ft->wctx, b->ns, b->keys, b->vals, b->n);
		pthread_mutex_lock(&ft->mu);
		b->full = false;
		pthread_cond_broadcast(&ft->cv);
		w ^= 1;
	}
	pthread_mutex_unlock(&ft->mu);
	return NULL;
}

static void worker_start(struct flow_table *ft)
{
	int err;

	if (libbpf_num_possible_cpus() < 2)
		return;		/* nothing to overlap with */
	pthread_mutex_init(&ft->mu, NULL);
	pthread_cond_init(&ft->cv, NULL);
	err = pthread_create(&ft->worker, NULL, drain_worker, ft);
	if (err) {
		pr_warn("no drain worker thread (%s): the consumer runs "
			"between batches", strerror(err));
		pthread_cond_destroy(&ft->cv);
		pthread_mutex_destroy(&ft->mu);
		return;
	}
	ft->worker_on = true;
}

static void worker_stop(struct flow_table *ft)
{
	if (!ft->worker_on)
		return;
	pthread_mutex_lock(&ft->mu);
	ft->worker_stop = true;
	pthread_cond_broadcast(&ft->cv);
	pthread_mutex_unlock(&ft->mu);
	pthread_join(ft->worker, NULL);
	pthread_cond_destroy(&ft->cv);
	pthread_mutex_destroy(&ft->mu);
	ft->worker_on = false;
}

/* The buffer to fill next, once the worker is done with it. */
static struct drain_buf *buf_next(struct flow_table *ft)
{
	struct drain_buf *b = &ft->buf[ft->cur];

	if (ft->worker_on) {
		pthread_mutex_lock(&ft->mu);
		while (b->full)
			pthread_cond_wait(&ft->cv, &ft->mu);
		pthread_mutex_unlock(&ft->mu);
	}
	return b;
}

/* Give N entries of B to the consumer: to the worker, or right here. */
static void buf_hand_over(struct flow_table *ft, struct drain_buf *b,
			  const struct flow_ns *ns, size_t n,
			  const struct flow_drain_ops *ops, void *ctx)
{
	if (!ops || !ops->flows || !n)
		return;
	if (!ft->worker_on) {
		ops->flows(ctx, ns, b->keys, b->vals, n);
		return;
	}
	pthread_mutex_lock(&ft->mu);
	ft->wops = ops;
	ft->wctx = ctx;
	b->ns = ns;
	b->n = n;
	b->full = true;
	pthread_cond_broadcast(&ft->cv);
	pthread_mutex_unlock(&ft->mu);
	ft->cur ^= 1;
}

/* Wait until the consumer has everything handed over so far. */
static void worker_wait_idle(struct flow_table *ft)
{
	if (!ft->worker_on)
		return;
	pthread_mutex_lock(&ft->mu);
	while (ft->buf[0].full || ft->buf[1].full)
		pthread_cond_wait(&ft->cv, &ft->mu);
	pthread_mutex_unlock(&ft->mu);
}

void flow_value_merge(struct flow_value *dst, const struct flow_value *src)
{
	if (!src->packets && !src->first_seen_ns)
		return;
	if (!dst->packets && !dst->first_seen_ns) {
		*dst = *src;
		return;
	}
	dst->packets += src->packets;
	dst->octets += src->octets;
	if (src->first_seen_ns &&
	    (!dst->first_seen_ns || src->first_seen_ns < dst->first_seen_ns))
		dst->first_seen_ns = src->first_seen_ns;
	if (src->last_seen_ns > dst->last_seen_ns)
		dst->last_seen_ns = src->last_seen_ns;
	dst->tcp_flags |= src->tcp_flags;
	dst->flags |= src->flags;
	if (src->min_ttl < dst->min_ttl)
		dst->min_ttl = src->min_ttl;
	if (src->max_ttl > dst->max_ttl)
		dst->max_ttl = src->max_ttl;
	dst->latency_count += src->latency_count;
	dst->latency_sum_ns += src->latency_sum_ns;
}

/*
 * Read every entry of a hash map without changing it, into growing arrays
 * of KSIZE / VSIZE elements.  Batch first; get_next_key + lookup where the
 * kernel has no batch operations.
 */
static int read_all(struct flow_table *ft, int fd, size_t ksize,
		    size_t vsize, void **keysp, void **valsp, size_t *np)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	unsigned char in_tok[64], out_tok[64];
	size_t n = 0, cap = 0;
	void *keys = NULL, *vals = NULL;
	bool first = true;
	unsigned int chunk = ft->batch;
	int err = 0;

	for (;;) {
		__u32 count;

		if (cap - n < chunk) {
			void *k2, *v2;

			cap = n + chunk * 2;
			k2 = realloc(keys, cap * ksize);
			if (!k2) {
				err = -ENOMEM;
				goto out;
			}
			keys = k2;
			v2 = realloc(vals, cap * vsize);
			if (!v2) {
				err = -ENOMEM;
				goto out;
			}
			vals = v2;
		}
		if (ft->batch_broken)
			break;
		count = chunk;
		err = bpf_map_lookup_batch(fd, first ? NULL : in_tok, out_tok,
					   (char *)keys + n * ksize,
					   (char *)vals + n * vsize, &count, &bo);
		n += count;
		if (err == -ENOENT) {
			err = 0;
			goto out;
		}
		if (err == -ENOSPC && !count) {
			chunk *= 2;	/* a bucket larger than the batch */
			continue;
		}
		if (err && first && err_unsupported(err)) {
			ft->batch_broken = true;
			pr_warn("the kernel has no batch map operations (%s): "
				"reading maps key by key (slow, ~10x)",
				strerror(-err));
			break;
		}
		if (err)
			goto out;
		memcpy(in_tok, out_tok, sizeof(in_tok));
		first = false;
	}

	/* key by key (no batch operations in this kernel) */
	n = 0;
	{
		unsigned char *prev = NULL;

		for (;;) {
			if (n == cap) {
				void *k2, *v2;

				cap = cap ? cap * 2 : 1024;
				k2 = realloc(keys, cap * ksize);
				if (!k2) {
					err = -ENOMEM;
					goto out;
				}
				keys = k2;
				v2 = realloc(vals, cap * vsize);
				if (!v2) {
					err = -ENOMEM;
					goto out;
				}
				vals = v2;
				if (n)
					prev = (unsigned char *)keys +
					       (n - 1) * ksize;
			}
			err = bpf_map_get_next_key(fd, prev,
						   (char *)keys + n * ksize);
			if (err == -ENOENT) {
				err = 0;
				break;
			}
			if (err)
				goto out;
			prev = (unsigned char *)keys + n * ksize;
			if (bpf_map_lookup_elem(fd, prev,
						(char *)vals + n * vsize))
				continue;	/* deleted meanwhile */
			n++;
		}
	}
out:
	if (err) {
		free(keys);
		free(vals);
		return err;
	}
	*keysp = keys;
	*valsp = vals;
	*np = n;
	return 0;
}

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

static void state_path(const struct flow_table *ft, const struct flow_ns *ns,
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
	state_path(ft, ns, path, sizeof(path), "");
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

static int state_save(struct flow_table *ft, struct flow_ns *ns)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	size_t i;
	FILE *f;
	int fd, err = 0;

	if (!ft->state_dir)
		return 0;
	state_path(ft, ns, path, sizeof(path), "");
	state_path(ft, ns, tmp, sizeof(tmp), ".tmp");
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
static int ns_baselines(struct flow_table *ft, struct flow_ns *ns)
{
	struct flow_ifstats_key *keys = NULL;
	struct flow_ifstats_value *vals = NULL;
	size_t i, n = 0;
	bool added;
	int err;

	state_load(ft, ns);
	err = read_all(ft, ns->fd[FM_IFSTATS], sizeof(*keys), sizeof(*vals),
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

/* ---- namespaces ----------------------------------------------------- */

static void ns_free(struct flow_table *ft, struct flow_ns *ns)
{
	int i;

	if (!ns)
		return;
	if (ns->rb) {
		epoll_ctl(ft->epfd, EPOLL_CTL_DEL,
			  ring_buffer__epoll_fd(ns->rb), NULL);
		ring_buffer__free(ns->rb);
	}
	for (i = 0; i < FM_NR; i++)
		if (ns->fd[i] >= 0)
			close(ns->fd[i]);
	if (ns->dir_fd >= 0)
		close(ns->dir_fd);
	free(ns->prev);
	free(ns->name);
	free(ns);
}

static uint64_t pins_signature(const char *dir)
{
	char path[PATH_MAX];
	uint64_t sig = 1469598103934665603ULL;
	struct stat st;
	int i;

	for (i = 0; i < FM_NR; i++) {
		fmt(path, sizeof(path), "%s/%s", dir, flow_maps[i].name);
		sig ^= stat(path, &st) ? 0 : (uint64_t)st.st_ino;
		sig *= 1099511628211ULL;
	}
	return sig;
}

static int ring_event(void *ctx, void *data, size_t size)
{
	struct flow_table *ft = ctx;
	const struct flow_event *ev = data;

	if (size >= sizeof(*ev) && ev->type == FLOW_EV_MAP_FULL)
		ft->events++;
	return 0;
}

/* Open and check the pins of one namespace; an error is put into MSG. */
static int ns_open(struct flow_table *ft, const char *name,
		   struct flow_ns **nsp, char *msg, size_t msg_size)
{
	struct flow_ns *ns;
	char path[PATH_MAX], why[384];
	int i, err = 0;

	ns = calloc(1, sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	ns->dir_fd = -1;
	for (i = 0; i < FM_NR; i++)
		ns->fd[i] = -1;
	ns->name = strdup(name);
	if (!ns->name) {
		err = -ENOMEM;
		goto out;
	}
	fmt(ns->dir, sizeof(ns->dir), "%s/%s/%s", ft->pin_root, name,
		 FLOW_PIN_GLOBALS);
	for (i = 0; i < FM_NR; i++) {
		const struct flow_map_spec *s = &flow_maps[i];
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		struct stat st;

		fmt(path, sizeof(path), "%s/%s", ns->dir, s->name);
		if (stat(path, &st)) {
			err = -errno;
			fmt(msg, msg_size, "%s: %s (the meter of "
				 "namespace %s is incomplete: attach it again)",
				 path, strerror(errno), name);
			goto out;
		}
		ns->ino[i] = st.st_ino;
		ns->fd[i] = bpf_obj_get(path);
		if (ns->fd[i] < 0) {
			err = ns->fd[i];
			fmt(msg, msg_size, "%s: cannot open the pinned "
				 "map: %s", path, strerror(-err));
			goto out;
		}
		err = bpf_obj_get_info_by_fd(ns->fd[i], &info, &len);
		if (err) {
			fmt(msg, msg_size, "%s: cannot read the map "
				 "info: %s", path, strerror(-err));
			goto out;
		}
		if (flow_map_check(i, &info, 0, why, sizeof(why))) {
			err = -EPROTO;
			fmt(msg, msg_size, "%s: %s (detach and attach the "
			    "meter again)", path, why);
			goto out;
		}
		if (i == FM_FLOWS0)
			ns->max_flows = info.max_entries;
		if (i == FM_FLOWS0 || i == FM_FLOWS1)
			ns->map_id[i - FM_FLOWS0] = info.id;
		if (i == FM_IFSTATS)
			ns->ifstats_id = info.id;
	}
	ns->dir_fd = open(ns->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ns->dir_fd < 0) {
		err = -errno;
		fmt(msg, msg_size, "%s: %s", ns->dir, strerror(errno));
		goto out;
	}
	/* no identity (an older flowctl, a test's own root): never stale */
	ns->has_id = pin_identity_read(ft->pin_root, name, &ns->id,
				       &ns->id_ino) == 0;
	ns->obs_domain_id = ft->obs_domain_id ?
		ft->obs_domain_id(ft->obs_domain_ctx, name) :
		obs_domain_default(name);
	err = ns_baselines(ft, ns);
	if (err) {
		fmt(msg, msg_size, "%s: cannot read the counters: %s",
			 ns->dir, strerror(-err));
		goto out;
	}
	ns->prev_drain_ns = clock_mono_ns();
	if (ft->epfd >= 0) {
		ns->rb = ring_buffer__new(ns->fd[FM_EVENTS], ring_event, ft,
					  NULL);
		if (!ns->rb) {
			pr_warn("%s/%s: cannot read map-full events (%s): full "
				"maps are seen at the next scan only", ns->dir,
				FLOW_MAP_EVENTS, strerror(errno));
		} else {
			struct epoll_event ev = { .events = EPOLLIN };

			ev.data.ptr = ns;
			if (epoll_ctl(ft->epfd, EPOLL_CTL_ADD,
				      ring_buffer__epoll_fd(ns->rb), &ev))
				pr_warn("epoll: %s", strerror(errno));
		}
	}
out:
	if (err) {
		ns_free(ft, ns);
		return err;
	}
	*nsp = ns;
	return 0;
}

/* Are the pins of NS still those we opened? */
static bool ns_pins_intact(const struct flow_ns *ns)
{
	char path[PATH_MAX];
	struct stat st;
	int i;

	for (i = 0; i < FM_NR; i++) {
		fmt(path, sizeof(path), "%s/%s", ns->dir,
			 flow_maps[i].name);
		if (stat(path, &st) || st.st_ino != ns->ino[i])
			return false;
	}
	return true;
}

/*
 * Is the namespace these pins were made for gone ("deleted") or another
 * one now ("re-created")?  NULL: it is the same, or it cannot be told.
 */
static const char *ns_stale(const struct flow_ns *ns)
{
	struct netns_id now;
	int err;

	if (!ns->has_id || !strcmp(ns->name, FLOW_ROOT_NETNS))
		return NULL;
	err = netns_id_get(ns->name, &now);
	if (err == -ENOENT)
		return "deleted";
	if (err)
		return NULL;
	return netns_id_same(&ns->id, &now) ? NULL : "re-created";
}

/*
 * Remove the pins of stale NS: its pin dir, if it still holds the identity
 * pin NS was opened with (not a new incarnation's), and its overflow
 * state.  Returns true when the pins are gone.
 */
static bool ns_unpin(struct flow_table *ft, struct flow_ns *ns)
{
	char path[PATH_MAX];
	struct netns_id id;
	uint64_t ino = 0;
	int err;

	if (pin_identity_read(ft->pin_root, ns->name, &id, &ino) ||
	    ino != ns->id_ino)
		return false;
	if (ft->state_dir) {
		state_path(ft, ns, path, sizeof(path), "");
		unlink(path);
	}
	fmt(path, sizeof(path), "%s/%s", ft->pin_root, ns->name);
	err = remove_tree(path);
	if (err)
		pr_err("namespace %s: cannot remove its pins %s: %s", ns->name,
		       path, strerror(-err));
	return !err;
}

static bool ns_known(const struct flow_table *ft, const char *name)
{
	size_t i;

	/* a stale one keeps its name until its pins are removed */
	for (i = 0; i < ft->nns; i++)
		if ((!ft->ns[i]->gone || ft->ns[i]->stale) &&
		    !strcmp(ft->ns[i]->name, name))
			return true;
	return false;
}

/* Print an open error once per state of the pins (not every scan). */
static void report_failure(struct flow_table *ft, const char *name,
			   uint64_t sig, const char *msg)
{
	struct ns_failure *f;
	size_t i;

	for (i = 0; i < ft->nfail; i++) {
		f = &ft->fail[i];
		if (strcmp(f->name, name))
			continue;
		if (f->sig != sig) {
			f->sig = sig;
			pr_err("%s", msg);
		}
		return;
	}
	pr_err("%s", msg);
	f = realloc(ft->fail, (ft->nfail + 1) * sizeof(*f));
	if (!f)
		return;
	ft->fail = f;
	f[ft->nfail].name = strdup(name);
	f[ft->nfail].sig = sig;
	if (f[ft->nfail].name)
		ft->nfail++;
}

static void forget_failure(struct flow_table *ft, const char *name)
{
	size_t i;

	for (i = 0; i < ft->nfail; i++) {
		if (strcmp(ft->fail[i].name, name))
			continue;
		free(ft->fail[i].name);
		ft->fail[i] = ft->fail[--ft->nfail];
		return;
	}
}

int flow_table_rescan(struct flow_table *ft)
{
	char path[PATH_MAX], msg[1024];
	struct dirent *de;
	struct stat st;
	int ret = 0, err;
	size_t i;
	DIR *d;

	for (i = 0; i < ft->nns; i++) {
		struct flow_ns *ns = ft->ns[i];

		if (ns->gone)
			continue;
		ns->stale = ns_stale(ns);
		if (ns->stale) {
			pr_info("namespace %s: %s: last drain of its maps, "
				"then its pins go", ns->name, ns->stale);
			ns->gone = true;
		} else if (!ns_pins_intact(ns)) {
			pr_info("namespace %s: the meter was detached or "
				"replaced: last drain of its maps", ns->name);
			ns->gone = true;
		}
	}
	d = opendir(ft->pin_root);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		struct flow_ns *ns;
		uint64_t sig;

		if (de->d_name[0] == '.')
			continue;
		if (ft->only_netns && strcmp(ft->only_netns, de->d_name))
			continue;
		fmt(path, sizeof(path), "%s/%s/%s/%s", ft->pin_root,
			 de->d_name, FLOW_PIN_GLOBALS, FLOW_MAP_FLOWS_0);
		/* a pin dir without flows_0: nothing attached there yet */
		if (stat(path, &st))
			continue;
		if (ns_known(ft, de->d_name))
			continue;
		fmt(path, sizeof(path), "%s/%s/%s", ft->pin_root,
			 de->d_name, FLOW_PIN_GLOBALS);
		sig = pins_signature(path);
		msg[0] = 0;
		err = ns_open(ft, de->d_name, &ns, msg, sizeof(msg));
		if (err) {
			if (err == -ENOMEM) {
				ret = err;
				break;
			}
			report_failure(ft, de->d_name, sig, msg);
			ret = err;
			continue;
		}
		forget_failure(ft, de->d_name);
		if (ft->nns == ft->ns_cap) {
			size_t ncap = ft->ns_cap ? ft->ns_cap * 2 : 8;
			struct flow_ns **n2 = realloc(ft->ns,
						      ncap * sizeof(*n2));

			if (!n2) {
				ns_free(ft, ns);
				ret = -ENOMEM;
				break;
			}
			ft->ns = n2;
			ft->ns_cap = ncap;
		}
		ft->ns[ft->nns++] = ns;
		pr_debug("namespace %s: metered (%u flows per buffer, "
			 "observation domain %u)", ns->name, ns->max_flows,
			 ns->obs_domain_id);
	}
	closedir(d);
	return ret;
}

/* ---- open / close ---------------------------------------------------- */

static int gp_setup(struct flow_table *ft)
{
	LIBBPF_OPTS(bpf_map_create_opts, mo);
	int err;

	ft->gp_inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "flowctl_gp_in",
				      sizeof(__u32), sizeof(__u32), 1, NULL);
	if (ft->gp_inner < 0)
		return ft->gp_inner;
	mo.inner_map_fd = ft->gp_inner;
	ft->gp_outer = bpf_map_create(BPF_MAP_TYPE_ARRAY_OF_MAPS, "flowctl_gp",
				      sizeof(__u32), sizeof(__u32), 1, &mo);
	if (ft->gp_outer < 0) {
		err = ft->gp_outer;
		close(ft->gp_inner);
		ft->gp_inner = -1;
		return err;
	}
	return 0;
}

const char *flow_pin_root(const char *pin_root)
{
	if (!pin_root)
		pin_root = getenv(FLOW_PIN_ROOT_ENV);
	if (!pin_root || !*pin_root)
		pin_root = FLOW_PIN_ROOT;
	return pin_root;
}

int flow_table_open(const struct flow_table_opts *opts, struct flow_table **ftp)
{
	static const struct flow_table_opts none;
	struct flow_table *ft;
	const char *root;
	int err;

	if (!opts)
		opts = &none;
	ft = calloc(1, sizeof(*ft));
	if (!ft)
		return -ENOMEM;
	ft->gp_outer = ft->gp_inner = ft->epfd = -1;
	root = flow_pin_root(opts->pin_root);
	ft->pin_root = strdup(root);
	if (!ft->pin_root) {
		err = -ENOMEM;
		goto out;
	}
	if (opts->state_dir) {
		ft->state_dir = strdup(opts->state_dir);
		if (!ft->state_dir) {
			err = -ENOMEM;
			goto out;
		}
		if (private_dir_ensure(ft->state_dir,
				       "the saved overflow totals")) {
			pr_warn("overflow totals are not kept across "
				"restarts (%s refused)", ft->state_dir);
			free(ft->state_dir);
			ft->state_dir = NULL;
		}
	}
	if (opts->netns) {
		ft->only_netns = strdup(opts->netns);
		if (!ft->only_netns) {
			err = -ENOMEM;
			goto out;
		}
	}
	ft->obs_domain_id = opts->obs_domain_id;
	ft->obs_domain_ctx = opts->obs_domain_ctx;
	ft->batch = opts->batch ? opts->batch : FLOW_TABLE_BATCH;
	/* no_worker: every callback in the calling thread */
	ft->workers = opts->no_worker && !opts->workers ? 1 : opts->workers;
	if (!ft->workers) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);

		ft->workers = cpus > 0 ? (unsigned int)cpus : 1;
	}
	if (ft->workers > FLOW_TABLE_MAX_WORKERS)
		ft->workers = FLOW_TABLE_MAX_WORKERS;
	ft->range_min = opts->range_min_buckets ? opts->range_min_buckets :
			FLOW_TABLE_RANGE_MIN_BUCKETS;
	ft->ncpus = libbpf_num_possible_cpus();
	if (ft->ncpus <= 0) {
		err = ft->ncpus ? ft->ncpus : -EINVAL;
		pr_err("cannot count the possible CPUs: %s", strerror(-err));
		goto out;
	}
	ft->pcpu = calloc(ft->ncpus, sizeof(struct flow_counters));
	if (!ft->pcpu) {
		err = -ENOMEM;
		goto out;
	}
	if (!opts->no_drain) {
		ft->epfd = epoll_create1(EPOLL_CLOEXEC);
		if (ft->epfd < 0)
			pr_warn("epoll_create1: %s", strerror(errno));
		err = gp_setup(ft);
		if (err) {
			pr_warn("cannot create the map-in-map that waits for "
				"running BPF programs (%s): sleeping %d ms at "
				"each drain instead", strerror(-err),
				FLOW_GRACE_FALLBACK_MS);
			ft->gp_warned = true;
		}
		if (!opts->no_worker)
			worker_start(ft);
	}
	err = flow_table_rescan(ft);
	if (err == -ENOMEM)
		goto out;
	err = 0;
out:
	if (err) {
		flow_table_close(ft);
		return err;
	}
	*ftp = ft;
	return 0;
}

void flow_table_close(struct flow_table *ft)
{
	size_t i;

	if (!ft)
		return;
	/* its consumer may be gone: the ids stay noted, emptied again */
	empty_wait(ft, false);
	for (i = 0; i < ft->nns; i++)
		ns_free(ft, ft->ns[i]);
	free(ft->ns);
	for (i = 0; i < ft->nfail; i++)
		free(ft->fail[i].name);
	free(ft->fail);
	if (ft->gp_outer >= 0)
		close(ft->gp_outer);
	if (ft->gp_inner >= 0)
		close(ft->gp_inner);
	if (ft->epfd >= 0)
		close(ft->epfd);
	worker_stop(ft);
	for (i = 0; i < 2; i++) {
		free(ft->buf[i].keys);
		free(ft->buf[i].vals);
	}
	free(ft->pcpu);
	free(ft->pin_root);
	free(ft->state_dir);
	free(ft->only_netns);
	free(ft);
}

const char *flow_table_pin_root(const struct flow_table *ft)
{
	return ft->pin_root;
}

size_t flow_table_ns_count(const struct flow_table *ft)
{
	return ft->nns;
}

struct flow_ns *flow_table_ns(struct flow_table *ft, size_t i)
{
	return i < ft->nns ? ft->ns[i] : NULL;
}

struct flow_ns *flow_table_ns_find(struct flow_table *ft, const char *name)
{
	size_t i;

	for (i = 0; i < ft->nns; i++)
		if (!ft->ns[i]->gone && !strcmp(ft->ns[i]->name, name))
			return ft->ns[i];
	return NULL;
}

const char *flow_ns_name(const struct flow_ns *ns)
{
	return ns->name;
}

uint32_t flow_ns_obs_domain_id(const struct flow_ns *ns)
{
	return ns->obs_domain_id;
}

uint32_t flow_ns_max_flows(const struct flow_ns *ns)
{
	return ns->max_flows;
}

void flow_ns_interval(const struct flow_ns *ns, uint64_t *start_ns,
		      uint64_t *end_ns)
{
	*start_ns = ns->prev_drain_ns;
	*end_ns = ns->this_drain_ns;
}

/* ---- the grace period ------------------------------------------------ */

uint64_t flow_table_grace(struct flow_table *ft)
{
	struct timespec pause = { 0, FLOW_GRACE_FALLBACK_MS * 1000000L };
	uint64_t t0 = clock_mono_ns();
	__u32 zero = 0;
	int err;

	if (ft->gp_outer >= 0) {
		/*
		 * A successful update of an ARRAY_OF_MAPS returns only after
		 * synchronize_rcu() (maybe_wait_bpf_programs() in
		 * kernel/bpf/syscall.c): every tc program running when we
		 * wrote flow_ctl has returned.  The value may be the same
		 * inner map each time: the wait does not depend on it.
		 */
		err = bpf_map_update_elem(ft->gp_outer, &zero, &ft->gp_inner,
					  BPF_ANY);
		if (!err)
			return clock_mono_ns() - t0;
		pr_warn("map-in-map update failed (%s): sleeping %d ms at "
			"each drain instead of waiting for the kernel",
			strerror(-err), FLOW_GRACE_FALLBACK_MS);
		ft->gp_warned = true;
		close(ft->gp_outer);
		close(ft->gp_inner);
		ft->gp_outer = ft->gp_inner = -1;
	} else if (!ft->gp_warned) {
		pr_warn("no map-in-map to wait for running BPF programs: "
			"sleeping %d ms at each drain", FLOW_GRACE_FALLBACK_MS);
		ft->gp_warned = true;
	}
	while (nanosleep(&pause, &pause) && errno == EINTR)
		;
	return clock_mono_ns() - t0;
}

bool flow_table_grace_synced(const struct flow_table *ft)
{
	return ft->gp_outer >= 0;
}

/* ---- drain ----------------------------------------------------------- */

static int ns_lock(struct flow_ns *ns)
{
	while (flock(ns->dir_fd, LOCK_EX)) {
		if (errno != EINTR) {
			int err = -errno;

			pr_err("%s: flock: %s", ns->dir, strerror(errno));
			return err;
		}
	}
	return 0;
}

static void ns_unlock(struct flow_ns *ns)
{
	flock(ns->dir_fd, LOCK_UN);
}

static int ns_flip(struct flow_ns *ns)
{
	struct flow_ctl ctl;
	__u32 zero = 0;
	int err;

	err = bpf_map_lookup_elem(ns->fd[FM_CTL], &zero, &ctl);
	if (!err) {
		ns->idle = ctl.active & 1;
		ctl.active = ns->idle ^ 1;
		ctl.flips++;
		err = bpf_map_update_elem(ns->fd[FM_CTL], &zero, &ctl, BPF_ANY);
	}
	if (err) {
		pr_err("%s/%s: cannot switch buffers: %s", ns->dir,
		       FLOW_MAP_CTL, strerror(-err));
		return err;
	}
	return 0;
}

/* Hand over and delete the entries the batch calls could not take. */
static int drain_key_by_key(struct flow_table *ft, struct flow_ns *ns, int fd,
			    const struct flow_drain_ops *ops, void *ctx,
			    uint64_t *count, uint64_t *packets)
{
	struct flow_key *keys = NULL;
	struct flow_value *vals = NULL;
	size_t i, n, out = 0;
	int err;

	/* the map has no writer: list it, then take each entry */
	err = read_all(ft, fd, sizeof(*keys), sizeof(*vals), (void **)&keys,
		       (void **)&vals, &n);
	if (err)
		return err;
	for (i = 0; i < n; i++) {
		if (ft->defer) {
			/* deleted after ops->persist (map_empty) */
			err = bpf_map_lookup_elem(fd, &keys[i], &vals[i]);
		} else if (!ft->del_broken) {
			err = bpf_map_lookup_and_delete_elem(fd, &keys[i],
							     &vals[i]);
			if (err && err_unsupported(err)) {
				ft->del_broken = true;
				pr_warn("no lookup-and-delete in this kernel: "
					"lookup, then delete");
			}
		}
		if (!ft->defer && ft->del_broken) {
			err = bpf_map_lookup_elem(fd, &keys[i], &vals[i]);
			if (!err)
				err = bpf_map_delete_elem(fd, &keys[i]);
		}
		if (err == -ENOENT)
			continue;
		if (err)
			break;
		keys[out] = keys[i];
		vals[out] = vals[i];
		if (packets)
			*packets += vals[i].packets;
		out++;
	}
	if (out && ops && ops->flows)
		ops->flows(ctx, ns, keys, vals, out);
	*count += out;
	free(keys);
	free(vals);
	if (err)
		pr_err("%s: draining: %s", ns->dir, strerror(-err));
	return err;
}

/*
 * Who drains: the calling thread, with the table's pipeline (the kernel
 * fills one of ft->buf while the worker thread hands the other to the
 * consumer), or one of the parallel drain's threads (par_worker), with a
 * buffer of its own and the consumer called under par->mu.
 */
struct drainer {
	struct flow_table *ft;
	struct par_drain *par;		/* NULL: the table's pipeline */
	struct drain_buf own;		/* parallel: this thread's buffer */
	unsigned int batch;		/* parallel: entries per call */
};

static struct drain_buf *drainer_buf(struct drainer *d, unsigned int **batch)
{
	if (!d->par) {
		*batch = &d->ft->batch;
		return buf_next(d->ft);
	}
	*batch = &d->batch;
	return &d->own;
}

static void par_hand_over(struct par_drain *par, const struct flow_ns *ns,
			  const struct drain_buf *b, size_t n);

static void drainer_hand_over(struct drainer *d, struct drain_buf *b,
			      const struct flow_ns *ns, size_t n,
			      const struct flow_drain_ops *ops, void *ctx)
{
	if (d->par)
		par_hand_over(d->par, ns, b, n);
	else
		buf_hand_over(d->ft, b, ns, n, ops, ctx);
}

/*
 * Empty the hash buckets [START, END) of FD (END 0: to the last one) and
 * hand the entries over.  The batch token of a hash map is the index of
 * the next bucket (kernel/bpf/hashtab.c), so several threads can share one
 * map: each entry is taken under its bucket's lock, by exactly one of
 * them, whatever the ranges; a range only decides where a thread starts
 * and stops (see flow_table_drain for the sweep that does not rely on it).
 * PACKETS (may be NULL): add the packets of what was drained.
 */
static int drain_map(struct drainer *d, struct flow_ns *ns, int fd,
		     __u32 start, __u32 end,
		     const struct flow_drain_ops *ops, void *ctx,
		     uint64_t *count, uint64_t *packets)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	struct flow_table *ft = d->ft;
	__u32 in_tok = start, out_tok = 0;
	bool first = true;
	int err;

	if (ft->batch_broken) {
		if (d->par)
			return -EOPNOTSUPP;	/* the caller's thread does it */
		return drain_key_by_key(ft, ns, fd, ops, ctx, count, packets);
	}
	for (;;) {
		unsigned int *batch;
		struct drain_buf *b = drainer_buf(d, &batch);
		__u32 n = *batch;

		err = buf_reserve(b, n);
		if (err)
			break;
		/* deferred: read only, emptied after ops->persist */
		err = (ft->defer ? bpf_map_lookup_batch :
		       bpf_map_lookup_and_delete_batch)(fd,
						first && !start ? NULL :
						&in_tok, &out_tok,
						b->keys, b->vals, &n, &bo);
		if (n && packets) {
			__u32 j;

			for (j = 0; j < n; j++)
				*packets += b->vals[j].packets;
		}
		if (n) {
			drainer_hand_over(d, b, ns, n, ops, ctx);
			*count += n;
		}
		if (err == -ENOENT) {
			err = 0;
			break;
		}
		if (err == -ENOSPC && !n) {
			/* one hash bucket holds more entries than a batch */
			*batch *= 2;
			continue;
		}
		if (err && first && err_unsupported(err)) {
			if (d->par)
				break;		/* the caller's thread does it */
			ft->batch_broken = true;
			pr_warn("the kernel has no batch map operations (%s): "
				"draining key by key (slow, ~10x)",
				strerror(-err));
			err = drain_key_by_key(ft, ns, fd, ops, ctx, count,
					       packets);
			break;
		}
		if (err) {
			pr_err("%s: draining: %s", ns->dir, strerror(-err));
			break;
		}
		if (end && out_tok >= end)
			break;		/* the next range's thread goes on */
		in_tok = out_tok;
		first = false;
	}
	/* the other callbacks never run beside flows() */
	if (!d->par)
		worker_wait_idle(ft);
	return err;
}

static uint64_t delta_u64(uint64_t now, uint64_t prev)
{
	return now >= prev ? now - prev : now;	/* map recreated: restart */
}

static int ns_read_ifstats(struct flow_table *ft, struct flow_ns *ns,
			   const struct flow_drain_ops *ops, void *ctx)
{
	struct flow_ifstats_key *keys = NULL;
	struct flow_ifstats_value *vals = NULL;
	struct flow_counters sum, delta;
	size_t i, n;
	bool added;
	int err, j;

	err = read_all(ft, ns->fd[FM_IFSTATS], sizeof(*keys), sizeof(*vals),
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

/* ---- the parallel drain ---------------------------------------------- */

/*
 * One piece of work of a parallel drain: the idle buffer of a namespace,
 * or a range of its hash buckets when there are fewer namespaces than
 * threads.
 */
struct drain_item {
	struct flow_ns *ns;
	size_t idx;			/* of ns in ft->ns */
	__u32 start, end;		/* buckets; end 0: to the last one */
	uint64_t flows;
	int err;
};

struct par_drain {
	struct flow_table *ft;
	const struct flow_drain_ops *ops;
	void *ctx;
	struct drain_item *items;
	size_t n_items;
	size_t next;			/* atomic: the next item to take */
	pthread_mutex_t mu;		/* every ops->flows call */
};

static void par_hand_over(struct par_drain *par, const struct flow_ns *ns,
			  const struct drain_buf *b, size_t n)
{
	if (!par->ops || !par->ops->flows)
		return;
	pthread_mutex_lock(&par->mu);
	par->ops->flows(par->ctx, ns, b->keys, b->vals, n);
	pthread_mutex_unlock(&par->mu);
}

/* A drain thread: take the next item until there is none. */
static void *par_worker(void *arg)
{
	struct par_drain *par = arg;
	struct drainer d = { .ft = par->ft, .par = par,
			     .batch = par->ft->batch };

	for (;;) {
		size_t i = __atomic_fetch_add(&par->next, 1, __ATOMIC_RELAXED);
		struct drain_item *it;

		if (i >= par->n_items)
			break;
		it = &par->items[i];
		it->err = drain_map(&d, it->ns,
				    it->ns->fd[FM_FLOWS0 + it->ns->idle],
				    it->start, it->end, par->ops, par->ctx,
				    &it->flows, NULL);
	}
	free(d.own.keys);
	free(d.own.vals);
	return NULL;
}

/* Hash buckets of a HASH map of MAX entries (kernel: roundup_pow_of_two). */
static __u32 hash_buckets(uint32_t max)
{
	__u32 nb = 1;

	while (nb < max && nb < (1U << 31))
		nb <<= 1;
	return nb;
}

/*
 * The work of a parallel drain: each flipped namespace, cut into bucket
 * ranges when there are fewer namespaces than threads (4 ranges per thread
 * it gets, so a thread slowed down by others does not hold the drain up;
 * a range is at least one batch of buckets).  *PIECES per namespace index.
 */
static struct drain_item *par_items(struct flow_table *ft, unsigned int threads,
				    size_t *n_items, unsigned int *pieces)
{
	struct drain_item *items;
	size_t i, n = 0, flipped = 0, cap = 0;

	for (i = 0; i < ft->nns; i++)
		flipped += ft->ns[i]->flipped;
	for (i = 0; i < ft->nns; i++) {
		struct flow_ns *ns = ft->ns[i];
		__u32 nb = hash_buckets(ns->max_flows);
		unsigned int p = 1;

		pieces[i] = 0;
		if (!ns->flipped)
			continue;
		/*
		 * A read-only batch (deferred deletion) may run past the
		 * end of its range into the next one's: whole maps only.
		 */
		if (flipped < threads && nb >= ft->range_min && !ft->defer)
			p = 4 * ((threads + flipped - 1) / flipped);
		if (p > nb / FLOW_TABLE_BATCH)
			p = nb / FLOW_TABLE_BATCH;
		pieces[i] = p ? p : 1;
		cap += pieces[i];
	}
	items = calloc(cap ? cap : 1, sizeof(*items));
	if (!items)
		return NULL;
	for (i = 0; i < ft->nns; i++) {
		struct flow_ns *ns = ft->ns[i];
		__u32 nb = hash_buckets(ns->max_flows);
		unsigned int k;

		for (k = 0; k < pieces[i]; k++) {
			items[n].ns = ns;
			items[n].idx = i;
			items[n].start = (__u32)((uint64_t)nb * k / pieces[i]);
			items[n].end = k + 1 == pieces[i] ? 0 :
				(__u32)((uint64_t)nb * (k + 1) / pieces[i]);
			n++;
		}
	}
	*n_items = n;
	return items;
}

/*
 * Drain the idle buffer of every flipped namespace with THREADS threads
 * (this one among them).  Per namespace: *FLOWS drained, *ERR the last
 * error (-EOPNOTSUPP: no batch operations, the caller drains it itself).
 * A namespace cut into ranges is swept once more by this thread from its
 * first bucket: empty when the batch token is the bucket index, as it is
 * in every kernel with batch operations, and still exact if that ever
 * changed (an entry is taken by one thread only, under its bucket lock).
 */
static int par_drain_run(struct flow_table *ft, unsigned int threads,
			 const struct flow_drain_ops *ops, void *ctx,
			 uint64_t *flows, int *errs)
{
	struct par_drain par = { .ft = ft, .ops = ops, .ctx = ctx };
	pthread_t tid[FLOW_TABLE_MAX_WORKERS];
	unsigned int *pieces, t, started = 0;
	sigset_t all, old;
	size_t i;

	pieces = calloc(ft->nns ? ft->nns : 1, sizeof(*pieces));
	par.items = pieces ? par_items(ft, threads, &par.n_items, pieces) :
		    NULL;
	if (!par.items) {
		free(pieces);
		return -ENOMEM;
	}
	if (par.n_items < 2) {
		/* nothing to share: the pipelined drain does it better */
		free(par.items);
		free(pieces);
		return -EAGAIN;
	}
	if (threads > par.n_items)
		threads = par.n_items;
	pthread_mutex_init(&par.mu, NULL);
	/* signals stay with the caller (the agent's signalfd) */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (t = 1; t < threads; t++) {
		if (pthread_create(&tid[started], NULL, par_worker, &par))
			break;		/* fewer threads: same result */
		started++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	par_worker(&par);
	for (t = 0; t < started; t++)
		pthread_join(tid[t], NULL);
	pthread_mutex_destroy(&par.mu);

	for (i = 0; i < par.n_items; i++) {
		struct drain_item *it = &par.items[i];

		flows[it->idx] += it->flows;
		if (it->err)
			errs[it->idx] = it->err;
	}
	for (i = 0; i < ft->nns; i++) {
		struct flow_ns *ns = ft->ns[i];
		struct drainer d = { .ft = ft };
		uint64_t swept = 0;
		int err;

		if (!ns->flipped)
			continue;
		if (errs[i] == -EOPNOTSUPP || errs[i] == -EINVAL ||
		    errs[i] == -ENOTSUPP) {
			/* no batch operations: drain_map says so, key by key */
			errs[i] = drain_map(&d, ns, ns->fd[FM_FLOWS0 + ns->idle],
					    0, 0, ops, ctx, &flows[i], NULL);
			continue;
		}
		if (pieces[i] < 2 || errs[i])
			continue;
		err = drain_map(&d, ns, ns->fd[FM_FLOWS0 + ns->idle], 0, 0,
				ops, ctx, &swept, NULL);
		if (err)
			errs[i] = err;
		if (swept)
			pr_debug("%s: %llu flows left by the ranged drain "
				 "(taken by the sweep)", ns->dir,
				 (unsigned long long)swept);
		flows[i] += swept;
	}
	free(par.items);
	free(pieces);
	return 0;
}

/*
 * After NS's buffers were drained (SEGS segments, PKTS packets for a gone
 * one, DRAIN_ERR): its interface totals and counters, its saved state,
 * and, for a stale namespace, its pins.
 */
static int ns_drained(struct flow_table *ft, struct flow_ns *ns,
		      const struct flow_drain_ops *ops, void *ctx,
		      struct flow_drain_stats *st, uint64_t segs,
		      uint64_t pkts, int drain_err)
{
	int err;

	err = ns_read_ifstats(ft, ns, ops, ctx);
	if (ns->state_dirty)
		state_save(ft, ns);
	ns->prev_drain_ns = ns->this_drain_ns;
	st->namespaces++;
	ns->flipped = false;
	/*
	 * A stale namespace leaves now, before a new one of the same name
	 * (later in the array) is drained.  If the drain failed its pins
	 * stay: the next agent tries again.
	 */
	if (ns->stale && !drain_err && ft->defer) {
		/* after its buffers are emptied (drain_persist) */
		ns->stale_pending = true;
		ns->stale_segs = segs;
		ns->stale_pkts = pkts;
	} else if (ns->stale && !drain_err) {
		bool unpinned = ns_unpin(ft, ns);

		if (ops && ops->stale)
			ops->stale(ctx, ns, ns->stale, segs, pkts, unpinned);
	}
	return err;
}

/*
 * Empty the flow map FD (no writer: idle after the grace period, or
 * detached): batches of BATCH entries read and deleted, thrown away; key
 * by key when the kernel has no batch operations.  *REMOVED (may be NULL)
 * adds the entries deleted.  Returns 0 or -errno.
 */
static int map_empty(int fd, unsigned int batch, bool key_by_key,
		     uint64_t *removed)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	struct flow_key *keys = NULL, k;
	struct flow_value *vals = NULL;
	__u32 in_tok = 0, out_tok = 0;
	bool first = true;
	int err = 0;

	while (!key_by_key) {
		__u32 n = batch;

		if (!keys) {
			keys = malloc((size_t)batch * sizeof(*keys));
			vals = malloc((size_t)batch * sizeof(*vals));
			if (!keys || !vals) {
				err = -ENOMEM;
				break;
			}
		}
		err = bpf_map_lookup_and_delete_batch(fd, first ? NULL :
						      &in_tok, &out_tok, keys,
						      vals, &n, &bo);
		if (removed)
			*removed += n;
		if (err == -ENOENT) {
			err = 0;
			break;
		}
		if (err == -ENOSPC && !n) {
			free(keys);
			free(vals);
			keys = NULL;
			vals = NULL;
			batch *= 2;
			continue;
		}
		if (err && first && err_unsupported(err)) {
			key_by_key = true;
			break;
		}
		if (err)
			break;
		in_tok = out_tok;
		first = false;
	}
	free(keys);
	free(vals);
	if (!key_by_key)
		return err;
	/* no batch operations: the first key, deleted, until none is left */
	while (!(err = bpf_map_get_next_key(fd, NULL, &k))) {
		err = bpf_map_delete_elem(fd, &k);
		if (err && err != -ENOENT)
			return err;
		if (!err && removed)
			(*removed)++;
	}
	return err == -ENOENT ? 0 : err;
}

int flow_table_clear_map_id(uint32_t id, uint64_t *removed)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int fd, err;

	if (removed)
		*removed = 0;
	fd = bpf_map_get_fd_by_id(id);
	if (fd < 0)
		return fd;
	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	if (!err)	/* -EPROTO: the id is another map's now */
		err = flow_map_check(FM_FLOWS0, &info, 0, NULL, 0);
	if (!err)
		err = map_empty(fd, FLOW_TABLE_BATCH, false, removed);
	close(fd);
	return err;
}

static void *empty_worker(void *arg)
{
	struct flow_table *ft = arg;
	size_t i;
	int err;

	for (i = 0; i < ft->empty.n; i++) {
		err = map_empty(ft->empty.fds[i], ft->empty.batch,
				ft->empty.key_by_key, NULL);
		if (err)
			ft->empty.err = err;
	}
	return NULL;
}

/* Wait for the background emptying, if any; CLEARED: tell its consumer. */
static int empty_wait(struct flow_table *ft, bool cleared)
{
	size_t i;
	int err;

	if (!ft->empty.on)
		return 0;
	pthread_join(ft->empty.thr, NULL);
	ft->empty.on = false;
	for (i = 0; i < ft->empty.n; i++)
		close(ft->empty.fds[i]);
	free(ft->empty.fds);
	ft->empty.fds = NULL;
	err = ft->empty.err;
	if (err)
		pr_err("%s: cannot empty the flow buffers after the drain: %s (their flows are counted again at the next one)",
		       ft->pin_root, strerror(-err));
	else if (cleared && ft->empty.ops->cleared)
		ft->empty.ops->cleared(ft->empty.ctx);
	return err;
}

int flow_table_settle(struct flow_table *ft)
{
	return empty_wait(ft, true);
}

/*
 * Empty the buffers of IDS in the background (drain_persist): 0, or
 * -errno when it must be done here (no memory, no thread).
 */
static int empty_start(struct flow_table *ft, const struct flow_drain_ops *ops,
		       void *ctx)
{
	sigset_t all, old;
	size_t i, n = 0;
	int b, err;

	ft->empty.fds = calloc(2 * (ft->nns ? ft->nns : 1), sizeof(int));
	if (!ft->empty.fds)
		return -ENOMEM;
	for (i = 0; i < ft->nns; i++)
		for (b = 0; b < 2; b++)
			if (ft->ns[i]->drained & (1U << b)) {
				int fd = dup(ft->ns[i]->fd[FM_FLOWS0 + b]);

				if (fd < 0)
					goto fail;
				ft->empty.fds[n++] = fd;
			}
	ft->empty.n = n;
	ft->empty.err = 0;
	ft->empty.ops = ops;
	ft->empty.ctx = ctx;
	ft->empty.batch = ft->batch;
	ft->empty.key_by_key = ft->batch_broken;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&ft->empty.thr, NULL, empty_worker, ft);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		goto fail;
	ft->empty.on = true;
	for (i = 0; i < ft->nns; i++)
		ft->ns[i]->drained = 0;
	return 0;
fail:
	while (n)
		close(ft->empty.fds[--n]);
	free(ft->empty.fds);
	ft->empty.fds = NULL;
	return -EAGAIN;
}

/*
 * Deferred deletion (ops->persist): the buffers of the namespaces read in
 * this drain (ns->drained) are made durable by the consumer, then emptied;
 * then the stale namespaces among them leave (their pins, ops->stale).
 * The ids go to ops->persist in groups of FLOW_TABLE_PERSIST_MAX.  ASYNC:
 * the emptying may go on in the background when nothing waits for it (no
 * stale namespace, one group).
 */
static int drain_persist(struct flow_table *ft,
			 const struct flow_drain_ops *ops, void *ctx,
			 bool async)
{
	uint32_t ids[FLOW_TABLE_PERSIST_MAX];
	size_t i = 0, n, first;
	int ret = 0, err, b;

	while (i < ft->nns) {
		first = i;
		for (n = 0; i < ft->nns; i++) {
			struct flow_ns *ns = ft->ns[i];
			size_t need = __builtin_popcount(ns->drained);

			if (n + need > FLOW_TABLE_PERSIST_MAX)
				break;
			for (b = 0; b < 2; b++)
				if (ns->drained & (1U << b))
					ids[n++] = ns->map_id[b];
		}
		if (!n)
			continue;
		ops->persist(ctx, ids, n);
		if (async && first == 0 && i == ft->nns) {
			for (i = 0; i < ft->nns; i++)
				if (ft->ns[i]->stale_pending)
					break;
			if (i == ft->nns && !empty_start(ft, ops, ctx))
				return 0;
			i = ft->nns;
		}
		for (; first < i; first++) {
			struct flow_ns *ns = ft->ns[first];

			for (b = 0; b < 2; b++) {
				if (!(ns->drained & (1U << b)))
					continue;
				err = map_empty(ns->fd[FM_FLOWS0 + b], ft->batch,
						ft->batch_broken, NULL);
				if (err) {
					pr_err("%s/%s: cannot empty it after the drain: %s (its flows are counted again at the next one)",
					       ns->dir, flow_maps[FM_FLOWS0 + b].name,
					       strerror(-err));
					ret = err;
				}
			}
			ns->drained = 0;
		}
		if (ops->cleared)
			ops->cleared(ctx);
	}
	for (i = 0; i < ft->nns; i++) {
		struct flow_ns *ns = ft->ns[i];
		bool unpinned;

		if (!ns->stale_pending)
			continue;
		ns->stale_pending = false;
		unpinned = ns_unpin(ft, ns);
		if (ops->stale)
			ops->stale(ctx, ns, ns->stale, ns->stale_segs,
				   ns->stale_pkts, unpinned);
	}
	return ret;
}

int flow_table_drain(struct flow_table *ft, const struct flow_drain_ops *ops,
		     void *ctx, struct flow_drain_stats *st)
{
	struct flow_drain_stats local;
	struct drainer serial = { .ft = ft };
	uint64_t *flows = NULL;
	int *errs = NULL;
	bool wait = false, gone_drained = false;
	uint64_t t0 = clock_mono_ns();
	size_t i, kept, flipped = 0;
	int ret = 0, err;

	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));
	/* the buffers of the previous drain are empty before any flip */
	empty_wait(ft, true);
	ft->defer = ops && ops->persist;
	for (i = 0; i < ft->nns; i++) {
		struct flow_ns *ns = ft->ns[i];

		ns->flipped = false;
		ns->drained = 0;
		err = ns_lock(ns);
		if (err) {
			ret = err;
			continue;
		}
		if (ns->gone) {
			wait = true;	/* detached just now: let them end */
			continue;
		}
		err = ns_flip(ns);
		if (err) {
			ret = err;
			continue;
		}
		ns->flipped = true;
		flipped++;
		wait = true;
	}
	if (wait)
		st->grace_ns = flow_table_grace(ft);
	st->synced = flow_table_grace_synced(ft);
	flow_clock_now(&st->clock);
	if (ops && ops->begin)
		ops->begin(ctx, &st->clock);
	/*
	 * First the namespaces that are gone, both buffers, one after the
	 * other: a stale one's flows leave (ops->stale) before anything of
	 * a new namespace of the same name is handed over.
	 */
	for (i = 0; i < ft->nns; i++) {
		struct flow_ns *ns = ft->ns[i];
		uint64_t segs = 0, pkts = 0;

		ns->this_drain_ns = st->clock.mono_ns;
		if (ns->flipped || !ns->gone)
			continue;
		err = drain_map(&serial, ns, ns->fd[FM_FLOWS0], 0, 0, ops, ctx,
				&segs, &pkts);
		if (!err)
			err = drain_map(&serial, ns, ns->fd[FM_FLOWS1], 0, 0,
					ops, ctx, &segs, &pkts);
		/* what was handed over is emptied even after an error:
		 * never twice (the error says what may be lost) */
		ns->drained = 3;
		st->flows += segs;
		if (err)
			ret = err;
		err = ns_drained(ft, ns, ops, ctx, st, segs, pkts, err) ?: err;
		if (err)
			ret = err;
		gone_drained = true;
	}
	/* a stale namespace's flows leave before a new one's arrive */
	if (ft->defer && gone_drained) {
		err = drain_persist(ft, ops, ctx, false);
		if (err)
			ret = err;
	}
	/* then the idle buffers of the others: in parallel when it pays */
	if (flipped) {
		flows = calloc(ft->nns, sizeof(*flows));
		errs = calloc(ft->nns, sizeof(*errs));
		if (!flows || !errs)
			ret = -ENOMEM;
		else if (ft->workers > 1 && !ft->batch_broken &&
			 par_drain_run(ft, ft->workers, ops, ctx, flows,
				       errs) == 0)
			;
		else
			for (i = 0; i < ft->nns; i++)
				if (ft->ns[i]->flipped)
					errs[i] = drain_map(&serial, ft->ns[i],
						ft->ns[i]->fd[FM_FLOWS0 +
							      ft->ns[i]->idle],
						0, 0, ops, ctx, &flows[i],
						NULL);
	}
	for (i = 0; flows && errs && i < ft->nns; i++) {
		struct flow_ns *ns = ft->ns[i];

		if (!ns->flipped)
			continue;
		ns->drained = 1U << ns->idle;
		st->flows += flows[i];
		if (errs[i])
			ret = errs[i];
		err = ns_drained(ft, ns, ops, ctx, st, flows[i], 0, errs[i]);
		if (err)
			ret = err;
	}
	free(flows);
	free(errs);
	if (ft->defer) {
		err = drain_persist(ft, ops, ctx, true);
		if (err)
			ret = err;
	}
	/* forget the namespaces whose meter is gone */
	for (i = 0, kept = 0; i < ft->nns; i++) {
		struct flow_ns *ns = ft->ns[i];

		ns_unlock(ns);
		if (ns->gone) {
			if (ft->state_dir) {
				char path[PATH_MAX];

				state_path(ft, ns, path, sizeof(path), "");
				if (!flow_table_ns_find(ft, ns->name))
					unlink(path);
			}
			ns_free(ft, ns);
			continue;
		}
		ft->ns[kept++] = ns;
	}
	ft->nns = kept;
	if (ops && ops->end)
		ops->end(ctx);
	st->total_ns = clock_mono_ns() - t0;
	return ret;
}

/* ---- snapshot and flush ---------------------------------------------- */

static int entry_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct flow_entry *)a)->key,
		      &((const struct flow_entry *)b)->key,
		      sizeof(struct flow_key));
}

int flow_table_snapshot(struct flow_table *ft, struct flow_ns *ns,
			struct flow_entry **entries, size_t *np)
{
	struct flow_key *keys[2] = {};
	struct flow_value *vals[2] = {};
	struct flow_entry *e = NULL;
	size_t n[2] = {}, i, j, out;
	int b, err;

	for (b = 0; b < 2; b++) {
		err = read_all(ft, ns->fd[FM_FLOWS0 + b], sizeof(struct flow_key),
			       sizeof(struct flow_value), (void **)&keys[b],
			       (void **)&vals[b], &n[b]);
		if (err) {
			pr_err("%s/%s: %s", ns->dir, flow_maps[b].name,
			       strerror(-err));
			goto out;
		}
	}
	e = malloc((n[0] + n[1] + 1) * sizeof(*e));
	if (!e) {
		err = -ENOMEM;
		goto out;
	}
	for (b = 0, j = 0; b < 2; b++)
		for (i = 0; i < n[b]; i++, j++) {
			e[j].key = keys[b][i];
			e[j].val = vals[b][i];
		}
	qsort(e, j, sizeof(*e), entry_cmp);
	for (i = 0, out = 0; i < j; i++) {
		if (out && !entry_cmp(&e[out - 1], &e[i])) {
			flow_value_merge(&e[out - 1].val, &e[i].val);
			continue;
		}
		e[out++] = e[i];
	}
	*entries = e;
	*np = out;
	e = NULL;
	err = 0;
out:
	free(e);
	for (b = 0; b < 2; b++) {
		free(keys[b]);
		free(vals[b]);
	}
	return err;
}

bool flow_match_key(const struct flow_match *m, const struct flow_key *k)
{
	const struct flow_key *w = &m->key;

	if ((m->fields & FLOW_MATCH_IIF) &&
	    k->ingress_ifindex != w->ingress_ifindex)
		return false;
	if ((m->fields & FLOW_MATCH_PROTO) && k->proto != w->proto)
		return false;
	if ((m->fields & FLOW_MATCH_SADDR) &&
	    memcmp(k->src_addr, w->src_addr, sizeof(k->src_addr)))
		return false;
	if ((m->fields & FLOW_MATCH_SPORT) && k->sport != w->sport)
		return false;
	if ((m->fields & FLOW_MATCH_DADDR) &&
	    memcmp(k->dst_addr, w->dst_addr, sizeof(k->dst_addr)))
		return false;
	if ((m->fields & FLOW_MATCH_DPORT) && k->dport != w->dport)
		return false;
	return true;
}

int flow_table_flush(struct flow_table *ft, struct flow_ns *ns,
		     const struct flow_match *m, uint64_t *removed)
{
	struct flow_key *keys = NULL;
	struct flow_value *vals = NULL;
	size_t i, n;
	int b, err;

	*removed = 0;
	err = ns_lock(ns);
	if (err)
		return err;
	for (b = 0; b < 2; b++) {
		int fd = ns->fd[FM_FLOWS0 + b];

		err = read_all(ft, fd, sizeof(*keys), sizeof(*vals),
			       (void **)&keys, (void **)&vals, &n);
		if (err) {
			pr_err("%s/%s: %s", ns->dir, flow_maps[b].name,
			       strerror(-err));
			break;
		}
		for (i = 0; i < n; i++) {
			if (m && !flow_match_key(m, &keys[i]))
				continue;
			err = bpf_map_delete_elem(fd, &keys[i]);
			if (!err)
				(*removed)++;
			else if (err != -ENOENT)
				break;
			err = 0;
		}
		free(keys);
		free(vals);
		keys = NULL;
		vals = NULL;
		if (err) {
			pr_err("%s/%s: delete: %s", ns->dir, flow_maps[b].name,
			       strerror(-err));
			break;
		}
	}
	ns_unlock(ns);
	return err;
}

/* ---- map-full events ------------------------------------------------- */

int flow_table_events_fd(const struct flow_table *ft)
{
	return ft->epfd;
}

int flow_table_events_consume(struct flow_table *ft)
{
	size_t i;
	int err;

	ft->events = 0;
	for (i = 0; i < ft->nns; i++) {
		if (!ft->ns[i]->rb)
			continue;
		err = ring_buffer__consume(ft->ns[i]->rb);
		if (err < 0)
			return err;
	}
	return ft->events;
}
