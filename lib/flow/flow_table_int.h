/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the parts of the flow table (flow_table.c, flow_drain*.c,
 * flow_map_read.c, flow_state.c) share: the table and namespace structs
 * and the functions one part calls in another.  Not for use outside
 * lib/flow/flow_*.c: the API is flow_table.h.
 */
#ifndef FLOWCTL_FLOW_TABLE_INT_H
#define FLOWCTL_FLOW_TABLE_INT_H

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <bpf/libbpf.h>

#include "flow_maps.h"
#include "flow_table.h"
#include "netns_id.h"

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

struct par_drain;

/* snprintf for paths and messages: truncation is acceptable there */
static inline void __attribute__((format(printf, 3, 4)))
fmt(char *buf, size_t size, const char *f, ...)
{
	va_list ap;

	va_start(ap, f);
	vsnprintf(buf, size, f, ap);
	va_end(ap);
}

static inline bool err_unsupported(int err)
{
	return err == -EINVAL || err == -ENOTSUPP || err == -EOPNOTSUPP;
}

/* flow_table.c */
void ft_ns_free(struct flow_table *ft, struct flow_ns *ns);
bool ft_ns_unpin(struct flow_table *ft, struct flow_ns *ns);

/* flow_drain_worker.c */
int ft_buf_reserve(struct drain_buf *b, unsigned int batch);
void ft_worker_start(struct flow_table *ft);
void ft_worker_stop(struct flow_table *ft);
struct drain_buf *ft_buf_next(struct flow_table *ft);
void ft_buf_hand_over(struct flow_table *ft, struct drain_buf *b,
		      const struct flow_ns *ns, size_t n,
		      const struct flow_drain_ops *ops, void *ctx);
void ft_worker_wait_idle(struct flow_table *ft);

/* flow_map_read.c */
/*
 * Grow *KEYS and *VALS to CAP elements of KSIZE / VSIZE bytes: 0 or
 * -ENOMEM (then what could be grown is, and both stay valid).
 */
int ft_kv_grow(void **keys, void **vals, size_t cap, size_t ksize,
	       size_t vsize);
/*
 * Read every entry of the hash map FD without changing it, into malloc'ed
 * arrays of KSIZE / VSIZE elements: batch first; get_next_key + lookup
 * where the kernel has no batch operations (ft->batch_broken, warned once).
 */
int ft_read_all(struct flow_table *ft, int fd, size_t ksize, size_t vsize,
		void **keysp, void **valsp, size_t *np);

/* flow_state.c */
void ft_state_path(const struct flow_table *ft, const struct flow_ns *ns,
		   char *buf, size_t size, const char *suffix);
int ft_state_save(struct flow_table *ft, struct flow_ns *ns);
int ft_ns_baselines(struct flow_table *ft, struct flow_ns *ns);
int ft_ns_read_ifstats(struct flow_table *ft, struct flow_ns *ns,
		       const struct flow_drain_ops *ops, void *ctx);

/* flow_drain.c */
int ft_ns_lock(struct flow_ns *ns);
void ft_ns_unlock(struct flow_ns *ns);
int ft_drain_map(struct drainer *d, struct flow_ns *ns, int fd,
		 __u32 start, __u32 end,
		 const struct flow_drain_ops *ops, void *ctx,
		 uint64_t *count, uint64_t *packets);

/* flow_drain_par.c */
void ft_par_hand_over(struct par_drain *par, const struct flow_ns *ns,
		      const struct drain_buf *b, size_t n);
int ft_par_drain_run(struct flow_table *ft, unsigned int threads,
		     const struct flow_drain_ops *ops, void *ctx,
		     uint64_t *flows, int *errs);

/* flow_drain_defer.c */
int ft_map_empty(int fd, unsigned int batch, bool key_by_key,
		 uint64_t *removed);
int ft_empty_wait(struct flow_table *ft, bool cleared);
int ft_drain_persist(struct flow_table *ft,
		     const struct flow_drain_ops *ops, void *ctx,
		     bool async);

#endif
