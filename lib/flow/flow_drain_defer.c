// SPDX-License-Identifier: Apache-2.0
/*
 * Deferred deletion: with ops->persist the drained buffers are only read;
 * they are emptied after the consumer has persisted them, maybe in a
 * background thread (flow_table_settle waits for it).
 */
#include "flow_table_int.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "flow_maps.h"
#include "log.h"

/*
 * Empty the flow map FD (no writer: idle after the grace period, or
 * detached): batches of BATCH entries read and deleted, thrown away; key
 * by key when the kernel has no batch operations.  *REMOVED (may be NULL)
 * adds the entries deleted.  Returns 0 or -errno.
 */
int ft_map_empty(int fd, unsigned int batch, bool key_by_key,
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
		err = ft_map_empty(fd, FLOW_TABLE_BATCH, false, removed);
	close(fd);
	return err;
}

static void *empty_worker(void *arg)
{
	struct flow_table *ft = arg;
	size_t i;
	int err;

	for (i = 0; i < ft->empty.n; i++) {
		err = ft_map_empty(ft->empty.fds[i], ft->empty.batch,
				ft->empty.key_by_key, NULL);
		if (err)
			ft->empty.err = err;
	}
	return NULL;
}

/* Wait for the background emptying, if any; CLEARED: tell its consumer. */
int ft_empty_wait(struct flow_table *ft, bool cleared)
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
	return ft_empty_wait(ft, true);
}

/*
 * Empty the buffers of IDS in the background (ft_drain_persist): 0, or
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
int ft_drain_persist(struct flow_table *ft,
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
				err = ft_map_empty(ns->fd[FM_FLOWS0 + b], ft->batch,
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
		unpinned = ft_ns_unpin(ft, ns);
		if (ops->stale)
			ops->stale(ctx, ns, ns->stale, ns->stale_segs,
				   ns->stale_pkts, unpinned);
	}
	return ret;
}
