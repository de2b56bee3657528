// SPDX-License-Identifier: Apache-2.0
/*
 * The drain (flow_table_drain): flip every namespace's buffers, wait the
 * grace period, empty the idle buffers (batch, key by key, or in
 * parallel), then interface totals, counters and the saved state.
 */
#include "flow_table_int.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "clock.h"
#include "flow_maps.h"
#include "log.h"

/* ---- drain ----------------------------------------------------------- */

int ft_ns_lock(struct flow_ns *ns)
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

void ft_ns_unlock(struct flow_ns *ns)
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
	err = ft_read_all(ft, fd, sizeof(*keys), sizeof(*vals), (void **)&keys,
		       (void **)&vals, &n);
	if (err)
		return err;
	for (i = 0; i < n; i++) {
		if (ft->defer) {
			/* deleted after ops->persist (ft_map_empty) */
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

static struct drain_buf *drainer_buf(struct drainer *d, unsigned int **batch)
{
	if (!d->par) {
		*batch = &d->ft->batch;
		return ft_buf_next(d->ft);
	}
	*batch = &d->batch;
	return &d->own;
}

static void drainer_hand_over(struct drainer *d, struct drain_buf *b,
			      const struct flow_ns *ns, size_t n,
			      const struct flow_drain_ops *ops, void *ctx)
{
	if (d->par)
		ft_par_hand_over(d->par, ns, b, n);
	else
		ft_buf_hand_over(d->ft, b, ns, n, ops, ctx);
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
int ft_drain_map(struct drainer *d, struct flow_ns *ns, int fd,
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

		err = ft_buf_reserve(b, n);
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
		ft_worker_wait_idle(ft);
	return err;
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

	err = ft_ns_read_ifstats(ft, ns, ops, ctx);
	if (ns->state_dirty)
		ft_state_save(ft, ns);
	ns->prev_drain_ns = ns->this_drain_ns;
	st->namespaces++;
	ns->flipped = false;
	/*
	 * A stale namespace leaves now, before a new one of the same name
	 * (later in the array) is drained.  If the drain failed its pins
	 * stay: the next agent tries again.
	 */
	if (ns->stale && !drain_err && ft->defer) {
		/* after its buffers are emptied (ft_drain_persist) */
		ns->stale_pending = true;
		ns->stale_segs = segs;
		ns->stale_pkts = pkts;
	} else if (ns->stale && !drain_err) {
		bool unpinned = ft_ns_unpin(ft, ns);

		if (ops && ops->stale)
			ops->stale(ctx, ns, ns->stale, segs, pkts, unpinned);
	}
	return err;
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
	ft_empty_wait(ft, true);
	ft->defer = ops && ops->persist;
	for (i = 0; i < ft->nns; i++) {
		struct flow_ns *ns = ft->ns[i];

		ns->flipped = false;
		ns->drained = 0;
		err = ft_ns_lock(ns);
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
		err = ft_drain_map(&serial, ns, ns->fd[FM_FLOWS0], 0, 0, ops, ctx,
				&segs, &pkts);
		if (!err)
			err = ft_drain_map(&serial, ns, ns->fd[FM_FLOWS1], 0, 0,
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
		err = ft_drain_persist(ft, ops, ctx, false);
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
			 ft_par_drain_run(ft, ft->workers, ops, ctx, flows,
				       errs) == 0)
			;
		else
			for (i = 0; i < ft->nns; i++)
				if (ft->ns[i]->flipped)
					errs[i] = ft_drain_map(&serial, ft->ns[i],
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
		err = ft_drain_persist(ft, ops, ctx, true);
		if (err)
			ret = err;
	}
	/* forget the namespaces whose meter is gone */
	for (i = 0, kept = 0; i < ft->nns; i++) {
		struct flow_ns *ns = ft->ns[i];

		ft_ns_unlock(ns);
		if (ns->gone) {
			if (ft->state_dir) {
				char path[PATH_MAX];

				ft_state_path(ft, ns, path, sizeof(path), "");
				if (!flow_table_ns_find(ft, ns->name))
					unlink(path);
			}
			ft_ns_free(ft, ns);
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
