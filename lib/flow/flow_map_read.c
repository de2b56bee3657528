// SPDX-License-Identifier: Apache-2.0
/*
 * Reading a whole hash map without changing it (snapshots, ifstats, the
 * key-by-key drain): batch lookups, or key by key where the kernel has no
 * batch operations, into growing arrays of keys and values.
 */
#include "flow_table_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "log.h"

int ft_kv_grow(void **keys, void **vals, size_t cap, size_t ksize,
	       size_t vsize)
{
	void *p;

	p = realloc(*keys, cap * ksize);
	if (!p)
		return -ENOMEM;
	*keys = p;
	p = realloc(*vals, cap * vsize);
	if (!p)
		return -ENOMEM;
	*vals = p;
	return 0;
}

/* A map being read: FD, and its entries so far. */
struct map_read {
	int fd;
	size_t ksize, vsize;
	void *keys, *vals;
	size_t n, cap;
};

static void *rd_key(const struct map_read *r, size_t i)
{
	return (char *)r->keys + i * r->ksize;
}

static void *rd_val(const struct map_read *r, size_t i)
{
	return (char *)r->vals + i * r->vsize;
}

/* Room for ROOM more entries (at least doubling, so that growing is cheap). */
static int rd_room(struct map_read *r, size_t room)
{
	size_t cap = r->cap ? r->cap * 2 : 1024;
	int err;

	if (r->cap - r->n >= room)
		return 0;
	if (cap < r->n + room * 2)
		cap = r->n + room * 2;
	err = ft_kv_grow(&r->keys, &r->vals, cap, r->ksize, r->vsize);
	if (!err)
		r->cap = cap;
	return err;
}

/*
 * Batch lookups, CHUNK entries per call (more for a bucket that does not
 * fit).  *NO_BATCH: the first call failed because the kernel has no batch
 * operations (the error is returned, nothing was read).
 */
static int read_batch(struct map_read *r, unsigned int chunk, bool *no_batch)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	unsigned char in_tok[64], out_tok[64];
	bool first = true;
	int err;

	for (;;) {
		__u32 count = chunk;

		err = rd_room(r, chunk);
		if (err)
			return err;
		err = bpf_map_lookup_batch(r->fd, first ? NULL : in_tok,
					   out_tok, rd_key(r, r->n),
					   rd_val(r, r->n), &count, &bo);
		r->n += count;
		if (err == -ENOENT)
			return 0;
		if (err == -ENOSPC && !count) {
			chunk *= 2;	/* a bucket larger than the batch */
			continue;
		}
		if (err) {
			*no_batch = first && err_unsupported(err);
			return err;
		}
		memcpy(in_tok, out_tok, sizeof(in_tok));
		first = false;
	}
}

/* get_next_key + lookup, from the first key. */
static int read_key_by_key(struct map_read *r)
{
	size_t prev = SIZE_MAX;	/* slot of the key to go on from; none */
	int err;

	r->n = 0;
	for (;;) {
		err = rd_room(r, 1);
		if (err)
			return err;
		err = bpf_map_get_next_key(r->fd, prev == SIZE_MAX ? NULL :
					   rd_key(r, prev), rd_key(r, r->n));
		if (err == -ENOENT)
			return 0;
		if (err)
			return err;
		prev = r->n;
		/* deleted meanwhile: not kept, but its key leads on */
		if (!bpf_map_lookup_elem(r->fd, rd_key(r, r->n),
					 rd_val(r, r->n)))
			r->n++;
	}
}

int ft_read_all(struct flow_table *ft, int fd, size_t ksize, size_t vsize,
		void **keysp, void **valsp, size_t *np)
{
	struct map_read r = { .fd = fd, .ksize = ksize, .vsize = vsize };
	bool no_batch = false;
	int err = 0;

	if (!ft->batch_broken) {
		err = read_batch(&r, ft->batch, &no_batch);
		if (no_batch) {
			ft->batch_broken = true;
			pr_warn("the kernel has no batch map operations (%s): "
				"reading maps key by key (slow, ~10x)",
				strerror(-err));
		}
	}
	if (ft->batch_broken)
		err = read_key_by_key(&r);
	if (err) {
		free(r.keys);
		free(r.vals);
		return err;
	}
	*keysp = r.keys;
	*valsp = r.vals;
	*np = r.n;
	return 0;
}
