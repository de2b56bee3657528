// SPDX-License-Identifier: Apache-2.0
/*
 * The parallel drain: several threads empty the idle buffers, one
 * namespace or a range of hash buckets each.
 */
#include "flow_table_int.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include "flow_maps.h"
#include "log.h"

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

void ft_par_hand_over(struct par_drain *par, const struct flow_ns *ns,
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
		it->err = ft_drain_map(&d, it->ns,
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
int ft_par_drain_run(struct flow_table *ft, unsigned int threads,
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
			errs[i] = ft_drain_map(&d, ns, ns->fd[FM_FLOWS0 + ns->idle],
					    0, 0, ops, ctx, &flows[i], NULL);
			continue;
		}
		if (pieces[i] < 2 || errs[i])
			continue;
		err = ft_drain_map(&d, ns, ns->fd[FM_FLOWS0 + ns->idle], 0, 0,
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
