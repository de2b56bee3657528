// SPDX-License-Identifier: Apache-2.0
/*
 * Flow table: the pinned maps of every metered namespace (flow_table.h):
 * discovery and opening of namespaces, open / close, the grace period,
 * snapshot and flush, map-full events.  The drain is in flow_drain*.c,
 * the saved state in flow_state.c, the map reader in flow_map_read.c;
 * what they share is flow_table_int.h.
 */
#include "flow_table_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
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

/* ---- namespaces ----------------------------------------------------- */

void ft_ns_free(struct flow_table *ft, struct flow_ns *ns)
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
	err = ft_ns_baselines(ft, ns);
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
		ft_ns_free(ft, ns);
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
bool ft_ns_unpin(struct flow_table *ft, struct flow_ns *ns)
{
	char path[PATH_MAX];
	struct netns_id id;
	uint64_t ino = 0;
	int err;

	if (pin_identity_read(ft->pin_root, ns->name, &id, &ino) ||
	    ino != ns->id_ino)
		return false;
	if (ft->state_dir) {
		ft_state_path(ft, ns, path, sizeof(path), "");
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
				ft_ns_free(ft, ns);
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
			ft_worker_start(ft);
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
	ft_empty_wait(ft, false);
	for (i = 0; i < ft->nns; i++)
		ft_ns_free(ft, ft->ns[i]);
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
	ft_worker_stop(ft);
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

unsigned int flow_table_workers(const struct flow_table *ft)
{
	return ft->workers;
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
		err = ft_read_all(ft, ns->fd[FM_FLOWS0 + b], sizeof(struct flow_key),
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
	err = ft_ns_lock(ns);
	if (err)
		return err;
	for (b = 0; b < 2; b++) {
		int fd = ns->fd[FM_FLOWS0 + b];

		err = ft_read_all(ft, fd, sizeof(*keys), sizeof(*vals),
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
	ft_ns_unlock(ns);
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
