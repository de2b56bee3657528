// SPDX-License-Identifier: Apache-2.0
/*
 * The agent's crash journal (flow_journal.h): an mmap-able BPF array of
 * one slot per cache entry, written with plain stores, and a hash map of
 * namespace names, both pinned in <pin root>-journal/.
 *
 * The array is replaced, never resized in place: a new one is filled
 * (copied, or written from the cache), pinned under a temporary name and
 * renamed over the old pin, which is atomic; a kill at any point leaves
 * one complete journal pinned.
 */
#include "flow_journal.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "clock.h"
#include "flow_table.h"
#include "log.h"

#define JBATCH		4096		/* flows per flow_cache_dirty_next */
#define SLOT_FREE	0
#define SLOT_WRITING	1
#define SLOT_VALID	2

struct jns {
	char *name;
	uint32_t id;
};

struct slots {
	int fd;
	struct flow_journal_slot *s;	/* mapped */
	uint32_t cap;
};

struct flow_journal {
	char dir[PATH_MAX];
	char path[PATH_MAX];		/* the slot array's pin */
	char tmp_path[PATH_MAX];	/* its replacement, before the rename */
	char ns_path[PATH_MAX];		/* the names map's pin */
	char pend_path[PATH_MAX];	/* the pending ids' pin */
	int pend_fd;
	uint32_t *pend;			/* mapped: FLOW_TABLE_PERSIST_MAX ids */
	size_t npend;			/* set now (flow_journal_pending) */
	struct slots cur;
	struct slots old;		/* replaced at the end of the sync */
	int nsfd;
	struct jns *ns;			/* ids the names map holds */
	size_t nns;
	uint32_t next_id;
	int64_t *dom_id;		/* cache domain -> id, -1: unknown */
	size_t ndom;
	uint32_t *ibuf, *dbuf;
	struct flow_key *kbuf;
	struct flow_value *vbuf;
	struct flow_journal_stats st;
	bool warned;
};

static size_t slots_bytes(uint32_t cap)
{
	return (size_t)cap * sizeof(struct flow_journal_slot);
}

static void slots_close(struct slots *sl)
{
	if (sl->s)
		munmap(sl->s, slots_bytes(sl->cap));
	if (sl->fd >= 0)
		close(sl->fd);
	sl->s = NULL;
	sl->fd = -1;
	sl->cap = 0;
}

static int slots_map(struct slots *sl)
{
	void *p = mmap(NULL, slots_bytes(sl->cap), PROT_READ | PROT_WRITE,
		       MAP_SHARED, sl->fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	sl->s = p;
	return 0;
}

static int slots_create(struct slots *sl, uint32_t cap)
{
	LIBBPF_OPTS(bpf_map_create_opts, mo, .map_flags = BPF_F_MMAPABLE);
	int err;

	sl->cap = cap;
	sl->s = NULL;
	sl->fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "flowctl_jrnl",
				sizeof(uint32_t),
				sizeof(struct flow_journal_slot), cap, &mo);
	if (sl->fd < 0) {
		err = sl->fd;
		sl->cap = 0;
		return err;
	}
	err = slots_map(sl);
	if (err) {
		slots_close(sl);
		return err;
	}
	/*
	 * The first write to new journal memory is slow (measured here: 2-5
	 * ns a byte, against 0.1 when written again): done once, now.
	 */
	memset(sl->s, 0, slots_bytes(cap));
	return 0;
}

/* The pinned slot array, if any (sl->fd -1 when there is none). */
static int slots_open(const char *path, struct slots *sl)
{
	struct bpf_map_info info = { 0 };
	uint32_t len = sizeof(info);
	int err;

	sl->fd = bpf_obj_get(path);
	sl->s = NULL;
	sl->cap = 0;
	if (sl->fd < 0)
		return errno == ENOENT ? 0 : -errno;
	err = bpf_obj_get_info_by_fd(sl->fd, &info, &len);
	if (err)
		goto fail;
	if (info.type != BPF_MAP_TYPE_ARRAY ||
	    info.value_size != sizeof(struct flow_journal_slot) ||
	    !(info.map_flags & BPF_F_MMAPABLE)) {
		pr_err("%s: not a crash journal of this flowctl (value size %u, expected %zu): remove it (the flows it holds are lost)",
		       path, info.value_size, sizeof(struct flow_journal_slot));
		err = -EPROTO;
		goto fail;
	}
	sl->cap = info.max_entries;
	err = slots_map(sl);
	if (err)
		goto fail;
	return 0;
fail:
	slots_close(sl);
	return err;
}

/* Pin CUR in place of the old array (atomic rename), drop the old one. */
static int slots_commit(struct flow_journal *j)
{
	int err;

	unlink(j->tmp_path);
	err = bpf_obj_pin(j->cur.fd, j->tmp_path);
	if (!err && rename(j->tmp_path, j->path))
		err = -errno;
	if (err) {
		unlink(j->tmp_path);
		return err;
	}
	slots_close(&j->old);
	return 0;
}

/*
 * Grow to hold index IDX: a copy, committed at the end of the sync (or by
 * the caller).
 */
static int slots_grow(struct flow_journal *j, uint32_t idx)
{
	uint64_t cap = (uint64_t)j->cur.cap * 2;
	struct slots n;
	int err;

	if (cap < (uint64_t)idx + 1)
		cap = idx + 1;
	cap = (cap + FLOW_JOURNAL_STEP - 1) / FLOW_JOURNAL_STEP *
	      FLOW_JOURNAL_STEP;
	if (cap > UINT32_MAX / 2)
		return -E2BIG;
	err = slots_create(&n, cap);
	if (err)
		return err;
	memcpy(n.s, j->cur.s, slots_bytes(j->cur.cap));
	/* the pinned one stays until the commit */
	if (j->old.fd < 0)
		j->old = j->cur;
	else
		slots_close(&j->cur);
	j->cur = n;
	j->st.slots = cap;
	return 0;
}

int flow_journal_reserve(struct flow_journal *j, uint32_t flows)
{
	int err;

	if (flows <= j->cur.cap)
		return 0;
	err = slots_grow(j, flows - 1);
	if (!err && j->old.fd >= 0)
		err = slots_commit(j);
	return err;
}

/* ---- namespace names ----------------------------------------------- */

static int ns_map_get(const char *path)
{
	LIBBPF_OPTS(bpf_map_create_opts, mo, .map_flags = BPF_F_NO_PREALLOC);
	int fd, err;

	fd = bpf_obj_get(path);
	if (fd >= 0)
		return fd;
	if (errno != ENOENT)
		return -errno;
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "flowctl_jrnl_ns",
			    sizeof(uint32_t), FLOW_JOURNAL_NAME_LEN,
			    FLOW_JOURNAL_NS_MAX, &mo);
	if (fd < 0)
		return fd;
	err = bpf_obj_pin(fd, path);
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

static int ns_add(struct flow_journal *j, const char *name, uint32_t id)
{
	struct jns *n = realloc(j->ns, (j->nns + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	j->ns = n;
	n[j->nns].name = strdup(name);
	if (!n[j->nns].name)
		return -ENOMEM;
	n[j->nns].id = id;
	j->nns++;
	if (id >= j->next_id)
		j->next_id = id + 1;
	return 0;
}

static const char *ns_name(const struct flow_journal *j, uint32_t id)
{
	size_t i;

	for (i = 0; i < j->nns; i++)
		if (j->ns[i].id == id)
			return j->ns[i].name;
	return NULL;
}

static int ns_load(struct flow_journal *j)
{
	char name[FLOW_JOURNAL_NAME_LEN];
	uint32_t key, next;
	void *prev = NULL;
	int err;

	while (!bpf_map_get_next_key(j->nsfd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(j->nsfd, &key, name))
			continue;
		name[sizeof(name) - 1] = 0;
		err = ns_add(j, name, key);
		if (err)
			return err;
	}
	return 0;
}

/* Remember that cache domain DOM is journal namespace ID. */
static int dom_set(struct flow_journal *j, int dom, uint32_t id)
{
	if ((size_t)dom >= j->ndom) {
		size_t n = dom + 16, i;
		int64_t *d = realloc(j->dom_id, n * sizeof(*d));

		if (!d)
			return -ENOMEM;
		for (i = j->ndom; i < n; i++)
			d[i] = -1;
		j->dom_id = d;
		j->ndom = n;
	}
	j->dom_id[dom] = id;
	return 0;
}

/* The journal id of cache domain DOM (named in the names map first). */
static int64_t dom_id(struct flow_journal *j, const struct flow_cache *fc,
		      uint32_t dom)
{
	char name[FLOW_JOURNAL_NAME_LEN] = { 0 };
	const char *n;
	uint32_t id;
	size_t i;

	if (dom < j->ndom && j->dom_id[dom] >= 0)
		return j->dom_id[dom];
	n = flow_cache_domain_name(fc, dom);
	if (!n || strlen(n) >= sizeof(name))
		return -EINVAL;
	for (i = 0; i < j->nns; i++)
		if (!strcmp(j->ns[i].name, n))
			break;
	if (i < j->nns) {
		id = j->ns[i].id;
	} else {
		id = j->next_id;
		strcpy(name, n);
		if (bpf_map_update_elem(j->nsfd, &id, name, BPF_ANY))
			return -errno;
		if (ns_add(j, n, id))
			return -ENOMEM;
	}
	if (dom_set(j, dom, id))
		return -ENOMEM;
	return id;
}

static void warn_once(struct flow_journal *j, const char *what, int err)
{
	if (j->warned)
		return;
	j->warned = true;
	pr_warn("crash journal: %s: %s; flows not in the journal are lost if the agent is killed (said once)",
		what, strerror(-err));
}

/* ---- buffers to empty ------------------------------------------------ */

static size_t pend_bytes(void)
{
	return FLOW_TABLE_PERSIST_MAX * sizeof(uint32_t);
}

/* The pinned array of flow buffer ids to empty (made if missing), mapped. */
static int pend_open(struct flow_journal *j)
{
	LIBBPF_OPTS(bpf_map_create_opts, mo, .map_flags = BPF_F_MMAPABLE);
	struct bpf_map_info info = { 0 };
	uint32_t len = sizeof(info);
	void *p;
	int err;

	j->pend_fd = bpf_obj_get(j->pend_path);
	if (j->pend_fd < 0 && errno != ENOENT)
		return -errno;
	if (j->pend_fd >= 0) {
		err = bpf_obj_get_info_by_fd(j->pend_fd, &info, &len);
		if (err)
			return err;
		if (info.type != BPF_MAP_TYPE_ARRAY ||
		    info.value_size != sizeof(uint32_t) ||
		    info.max_entries != FLOW_TABLE_PERSIST_MAX ||
		    !(info.map_flags & BPF_F_MMAPABLE)) {
			pr_err("%s: not a crash journal of this flowctl: remove it (the flows it holds are lost)",
			       j->pend_path);
			return -EPROTO;
		}
	} else {
		j->pend_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY,
					    "flowctl_jrnl_pd",
					    sizeof(uint32_t), sizeof(uint32_t),
					    FLOW_TABLE_PERSIST_MAX, &mo);
		if (j->pend_fd < 0)
			return j->pend_fd;
		err = bpf_obj_pin(j->pend_fd, j->pend_path);
		if (err)
			return err;
	}
	p = mmap(NULL, pend_bytes(), PROT_READ | PROT_WRITE, MAP_SHARED,
		 j->pend_fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	j->pend = p;
	return 0;
}

/*
 * Buffers a killed agent had read, written to the journal and not yet
 * emptied: their flows are in the journal, so they are emptied now, not
 * drained again.  Nobody has switched buffers since (the agent alone
 * does), so they are still idle.
 */
static int pend_replay(struct flow_journal *j)
{
	uint64_t removed, total = 0;
	size_t i, n = 0;
	int err;

	for (i = 0; i < FLOW_TABLE_PERSIST_MAX; i++) {
		uint32_t id = j->pend[i];

		if (!id)
			continue;
		err = flow_table_clear_map_id(id, &removed);
		if (err && err != -ENOENT && err != -EPROTO) {
			pr_err("crash journal: cannot empty flow buffer (map id %u), whose flows the journal holds: %s",
			       id, strerror(-err));
			return err;
		}
		total += removed;
		n++;
	}
	if (n)
		pr_info("crash journal: %zu flow buffer(s) read by the killed agent emptied (%llu segments, already in the journal)",
			n, (unsigned long long)total);
	memset(j->pend, 0, pend_bytes());
	return 0;
}

void flow_journal_pending(struct flow_journal *j, const uint32_t *ids,
			  size_t n)
{
	size_t i;

	if (n > FLOW_TABLE_PERSIST_MAX)
		n = FLOW_TABLE_PERSIST_MAX;
	/* the slots written before (flow_journal_sync) come first */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	for (i = 0; i < n; i++)
		__atomic_store_n(&j->pend[i], ids[i], __ATOMIC_RELAXED);
	for (; i < j->npend; i++)
		__atomic_store_n(&j->pend[i], 0, __ATOMIC_RELAXED);
	j->npend = n;
}

void flow_journal_pending_clear(struct flow_journal *j)
{
	size_t i;

	for (i = 0; i < j->npend; i++)
		__atomic_store_n(&j->pend[i], 0, __ATOMIC_RELAXED);
	j->npend = 0;
}

/* ---- read back ------------------------------------------------------ */

static int replay_run(struct flow_journal *j, struct flow_cache *fc,
		      uint32_t id, size_t n,
		      uint32_t (*domain)(void *ctx, const char *netns),
		      void *ctx, uint64_t now)
{
	const char *name = ns_name(j, id);
	int dom;

	if (!n)
		return 0;
	if (!name) {
		pr_err("crash journal: %zu flows of an unknown namespace id %u: not exported",
		       n, id);
		return 0;
	}
	dom = flow_cache_domain(fc, name, domain(ctx, name));
	if (dom < 0 || dom_set(j, dom, id))
		return -ENOMEM;
	flow_cache_merge(fc, dom, j->kbuf, j->vbuf, n, now);
	return 0;
}

static int replay(struct flow_journal *j, struct flow_cache *fc,
		  uint32_t (*domain)(void *ctx, const char *netns),
		  void *ctx, uint64_t now, uint64_t *flows)
{
	uint32_t i, id = 0;
	size_t n = 0;
	int err;

	for (i = 0; i < j->old.cap; i++) {
		const struct flow_journal_slot *s = &j->old.s[i];
		uint32_t st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);

		if (st == SLOT_FREE)
			continue;
		if (st != SLOT_VALID) {
			j->st.torn++;
			continue;
		}
		if (n && (s->ns != id || n == JBATCH)) {
			err = replay_run(j, fc, id, n, domain, ctx, now);
			if (err)
				return err;
			n = 0;
		}
		id = s->ns;
		j->kbuf[n] = s->key;
		j->vbuf[n] = s->val;
		n++;
		(*flows)++;
	}
	return replay_run(j, fc, id, n, domain, ctx, now);
}

/* ---- open / close --------------------------------------------------- */

int flow_journal_open(const char *pin_root, struct flow_cache *fc,
		      uint32_t (*domain)(void *ctx, const char *netns),
		      void *ctx, uint64_t now, uint64_t *flows,
		      struct flow_journal **jp)
{
	struct flow_journal *j;
	uint64_t cap;
	size_t len;
	int err;

	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->cur.fd = j->old.fd = j->nsfd = j->pend_fd = -1;
	len = strlen(pin_root);
	while (len > 1 && pin_root[len - 1] == '/')
		len--;
	if (snprintf(j->dir, sizeof(j->dir), "%.*s%s", (int)len, pin_root,
		     FLOW_JOURNAL_SUFFIX) >= (int)sizeof(j->dir) ||
	    snprintf(j->path, sizeof(j->path), "%s/%s", j->dir,
		     FLOW_JOURNAL_MAP) >= (int)sizeof(j->path) ||
	    snprintf(j->tmp_path, sizeof(j->tmp_path), "%s/%s-new", j->dir,
		     FLOW_JOURNAL_MAP) >= (int)sizeof(j->tmp_path) ||
	    snprintf(j->ns_path, sizeof(j->ns_path), "%s/%s", j->dir,
		     FLOW_JOURNAL_NS_MAP) >= (int)sizeof(j->ns_path) ||
	    snprintf(j->pend_path, sizeof(j->pend_path), "%s/%s", j->dir,
		     FLOW_JOURNAL_PENDING_MAP) >= (int)sizeof(j->pend_path)) {
		err = -ENAMETOOLONG;
		pr_err("%s: pin root path too long for the crash journal",
		       pin_root);
		goto out;
	}
	j->ibuf = calloc(JBATCH, sizeof(*j->ibuf));
	j->dbuf = calloc(JBATCH, sizeof(*j->dbuf));
	j->kbuf = calloc(JBATCH, sizeof(*j->kbuf));
	j->vbuf = calloc(JBATCH, sizeof(*j->vbuf));
	if (!j->ibuf || !j->dbuf || !j->kbuf || !j->vbuf) {
		err = -ENOMEM;
		goto out;
	}
	if (mkdir(j->dir, 0700) && errno != EEXIST) {
		err = -errno;
		pr_err("cannot create %s: %s", j->dir, strerror(errno));
		goto out;
	}
	/* names first: a slot never refers to a name not pinned */
	j->nsfd = ns_map_get(j->ns_path);
	if (j->nsfd < 0) {
		err = j->nsfd;
		goto fail;
	}
	err = ns_load(j);
	if (err)
		goto fail;
	/* what a killed agent left: into the cache, as drained flows */
	*flows = 0;
	err = slots_open(j->path, &j->old);
	if (err == -EPROTO)
		goto out;
	if (err)
		goto fail;
	if (j->old.fd >= 0) {
		err = replay(j, fc, domain, ctx, now, flows);
		if (err)
			goto fail;
	}
	/* buffers whose flows the old journal holds: emptied, not drained
	 * again (a kill from here on finds the old journal and no ids) */
	err = pend_open(j);
	if (err == -EPROTO)
		goto out;
	if (!err)
		err = pend_replay(j);
	if (err)
		goto fail;
	/*
	 * A new array at the cache's indexes, filled and pinned in place
	 * of the old one now, before any record is emitted: from here on
	 * the cache and the journal agree.
	 */
	cap = (flow_cache_count(fc) + FLOW_JOURNAL_STEP) /
	      FLOW_JOURNAL_STEP * FLOW_JOURNAL_STEP;
	err = slots_create(&j->cur, cap);
	if (err)
		goto fail;
	j->st.slots = cap;
	if (j->old.fd < 0) {
		/* nothing to replace: pinned at once */
		err = bpf_obj_pin(j->cur.fd, j->path);
		if (err)
			goto fail;
	}
	/* the flows read back, at their new indexes; then the new array
	 * replaces the old one (rename) */
	if (flow_journal_sync(j, fc) < 0 || j->st.failed) {
		err = -EIO;
		goto fail;
	}
	if (j->st.torn)
		pr_warn("crash journal: %llu flows were being written when the agent was killed: not read back",
			(unsigned long long)j->st.torn);
	*jp = j;
	return 0;
fail:
	pr_err("cannot open the crash journal in %s: %s", j->dir,
	       strerror(-err));
out:
	flow_journal_close(j);
	return err;
}

void flow_journal_close(struct flow_journal *j)
{
	size_t i;

	if (!j)
		return;
	slots_close(&j->cur);
	slots_close(&j->old);
	if (j->pend)
		munmap(j->pend, pend_bytes());
	if (j->pend_fd >= 0)
		close(j->pend_fd);
	if (j->nsfd >= 0)
		close(j->nsfd);
	for (i = 0; i < j->nns; i++)
		free(j->ns[i].name);
	free(j->ns);
	free(j->dom_id);
	free(j->ibuf);
	free(j->dbuf);
	free(j->kbuf);
	free(j->vbuf);
	free(j);
}

int flow_journal_remove(struct flow_journal *j)
{
	int err = 0;

	if (unlink(j->path) && errno != ENOENT)
		err = -errno;
	if (unlink(j->ns_path) && errno != ENOENT && !err)
		err = -errno;
	if (unlink(j->pend_path) && errno != ENOENT && !err)
		err = -errno;
	unlink(j->tmp_path);
	if (!err && rmdir(j->dir) && errno != ENOENT && errno != ENOTEMPTY)
		err = -errno;
	if (err)
		pr_warn("cannot remove the crash journal %s: %s", j->dir,
			strerror(-err));
	flow_journal_close(j);
	return err;
}

/* ---- write ---------------------------------------------------------- */

long flow_journal_sync(struct flow_journal *j, struct flow_cache *fc)
{
	uint64_t t0 = clock_mono_ns();
	long written = 0;
	size_t n, i;
	int err;

	while ((n = flow_cache_dirty_next(fc, j->ibuf, j->dbuf, j->kbuf,
					  j->vbuf, JBATCH))) {
		for (i = 0; i < n; i++) {
			struct flow_journal_slot *s;
			int64_t id = dom_id(j, fc, j->dbuf[i]);

			if (id < 0) {
				j->st.failed++;
				warn_once(j, "cannot name a namespace", (int)id);
				continue;
			}
			if (j->ibuf[i] >= j->cur.cap) {
				err = slots_grow(j, j->ibuf[i]);
				if (err) {
					j->st.failed++;
					warn_once(j, "cannot grow", err);
					continue;
				}
			}
			/*
			 * Marked as being written first: a kill in the
			 * middle leaves a slot that is not read back, never
			 * a mix of two versions.
			 */
			s = &j->cur.s[j->ibuf[i]];
			__atomic_store_n(&s->state, SLOT_WRITING,
					 __ATOMIC_RELAXED);
			__atomic_signal_fence(__ATOMIC_SEQ_CST);
			s->ns = id;
			s->key = j->kbuf[i];
			s->val = j->vbuf[i];
			__atomic_store_n(&s->state, SLOT_VALID,
					 __ATOMIC_RELEASE);
			written++;
		}
	}
	if (j->old.fd >= 0) {
		err = slots_commit(j);
		if (err) {
			j->st.failed++;
			warn_once(j, "cannot pin the new journal", err);
		}
	}
	j->st.written += written;
	j->st.sync_ns += clock_mono_ns() - t0;
	return written;
}

void flow_journal_forget(struct flow_journal *j, const uint32_t *idx,
			 size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (idx[i] >= j->cur.cap)
			continue;	/* never written */
		__atomic_store_n(&j->cur.s[idx[i]].state, SLOT_FREE,
				 __ATOMIC_RELEASE);
	}
	j->st.forgotten += n;
}

void flow_journal_get_stats(const struct flow_journal *j,
			    struct flow_journal_stats *st)
{
	*st = j->st;
}
