// SPDX-License-Identifier: Apache-2.0
/*
 * The drain worker thread: the consumer callbacks (ops->flows) run on it
 * while the kernel fills the other batch buffer (flow_table_drain).
 */
#include "flow_table_int.h"

#include <pthread.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "log.h"

/* Make B hold at least BATCH entries (B is not the worker's now). */
int ft_buf_reserve(struct drain_buf *b, unsigned int batch)
{
	void *k = b->keys, *v = b->vals;
	int err;

	if (b->cap >= batch)
		return 0;
	err = ft_kv_grow(&k, &v, batch, sizeof(*b->keys), sizeof(*b->vals));
	b->keys = k;
	b->vals = v;
	if (!err)
		b->cap = batch;
	return err;
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

void ft_worker_start(struct flow_table *ft)
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

void ft_worker_stop(struct flow_table *ft)
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
struct drain_buf *ft_buf_next(struct flow_table *ft)
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
void ft_buf_hand_over(struct flow_table *ft, struct drain_buf *b,
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
void ft_worker_wait_idle(struct flow_table *ft)
{
	if (!ft->worker_on)
		return;
	pthread_mutex_lock(&ft->mu);
	while (ft->buf[0].full || ft->buf[1].full)
		pthread_cond_wait(&ft->cv, &ft->mu);
	pthread_mutex_unlock(&ft->mu);
}
