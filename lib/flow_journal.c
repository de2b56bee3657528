// SPDX-License-Identifier: Apache-2.0
/*
 * The agent's crash journal (flow_journal.h): two BPF hash maps of the
 * agent's own, pinned under <pin root>/.agent/, written with batch system
 * calls after each scan.
 */
#include "flow_journal.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "log.h"

#define JBATCH	4096		/* flows per batch system call */

struct jns {
	char *name;
	uint32_t id;
};

struct flow_journal {
	char dir[PATH_MAX];
	char path[PATH_MAX];		/* the journal map's pin */
	char ns_path[PATH_MAX];		/* the names map's pin */
	int fd, nsfd;
	struct jns *ns;			/* ids the names map holds */
	size_t nns;
	uint32_t next_id;
	int64_t *dom_id;		/* cache domain -> id, -1: unknown */
	size_t ndom;
	struct flow_journal_key *kbuf;
	struct flow_value *vbuf;
	struct flow_key *fkbuf;
	uint32_t *dbuf;
	struct flow_journal_stats st;
	bool warned;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* The pinned map at PATH, or a new one pinned there. */
static int map_get(const char *path, const char *name, uint32_t key_size,
		   uint32_t value_size, uint32_t max)
{
	LIBBPF_OPTS(bpf_map_create_opts, mo, .map_flags = BPF_F_NO_PREALLOC);
	struct bpf_map_info info = { 0 };
	uint32_t len = sizeof(info);
	int fd, err;

	fd = bpf_obj_get(path);
	if (fd >= 0) {
		err = bpf_obj_get_info_by_fd(fd, &info, &len);
		if (err) {
			close(fd);
			return err;
		}
		if (info.type != BPF_MAP_TYPE_HASH ||
		    info.key_size != key_size ||
		    info.value_size != value_size) {
			pr_err("%s: not a crash journal of this flowctl (key size %u, value size %u; expected %u, %u): remove it (the flows it holds are lost)",
			       path, info.key_size, info.value_size, key_size,
			       value_size);
			close(fd);
			return -EPROTO;
		}
		return fd;
	}
	if (errno != ENOENT)
		return -errno;
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, name, key_size, value_size,
			    max, &mo);
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

int flow_journal_open(const char *pin_root, struct flow_journal **jp)
{
	struct flow_journal *j;
	size_t len;
	int err;

	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->fd = j->nsfd = -1;
	len = strlen(pin_root);
	while (len > 1 && pin_root[len - 1] == '/')
		len--;
	if (snprintf(j->dir, sizeof(j->dir), "%.*s%s", (int)len, pin_root,
		     FLOW_JOURNAL_SUFFIX) >= (int)sizeof(j->dir) ||
	    snprintf(j->path, sizeof(j->path), "%s/%s", j->dir,
		     FLOW_JOURNAL_MAP) >= (int)sizeof(j->path) ||
	    snprintf(j->ns_path, sizeof(j->ns_path), "%s/%s", j->dir,
		     FLOW_JOURNAL_NS_MAP) >= (int)sizeof(j->ns_path)) {
		err = -ENAMETOOLONG;
		pr_err("%s: pin root path too long for the crash journal",
		       pin_root);
		goto out;
	}
	j->kbuf = calloc(JBATCH, sizeof(*j->kbuf));
	j->vbuf = calloc(JBATCH, sizeof(*j->vbuf));
	j->fkbuf = calloc(JBATCH, sizeof(*j->fkbuf));
	j->dbuf = calloc(JBATCH, sizeof(*j->dbuf));
	if (!j->kbuf || !j->vbuf || !j->fkbuf || !j->dbuf) {
		err = -ENOMEM;
		goto out;
	}
	if (mkdir(j->dir, 0700) && errno != EEXIST) {
		err = -errno;
		pr_err("cannot create %s: %s", j->dir, strerror(errno));
		goto out;
	}
	/* names first: a flow entry never refers to a name not pinned */
	j->nsfd = map_get(j->ns_path, "flowctl_jrnl_ns", sizeof(uint32_t),
			  FLOW_JOURNAL_NAME_LEN, FLOW_JOURNAL_NS_MAX);
	if (j->nsfd < 0) {
		err = j->nsfd;
		goto fail;
	}
	j->fd = map_get(j->path, "flowctl_jrnl",
			sizeof(struct flow_journal_key),
			sizeof(struct flow_value), FLOW_JOURNAL_MAX_FLOWS);
	if (j->fd < 0) {
		err = j->fd;
		goto fail;
	}
	err = ns_load(j);
	if (err)
		goto fail;
	*jp = j;
	return 0;
fail:
	if (err != -EPROTO)
		pr_err("cannot open the crash journal under %s: %s", j->dir,
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
	if (j->fd >= 0)
		close(j->fd);
	if (j->nsfd >= 0)
		close(j->nsfd);
	for (i = 0; i < j->nns; i++)
		free(j->ns[i].name);
	free(j->ns);
	free(j->dom_id);
	free(j->kbuf);
	free(j->vbuf);
	free(j->fkbuf);
	free(j->dbuf);
	free(j);
}

int flow_journal_remove(struct flow_journal *j)
{
	int err = 0;

	if (unlink(j->path) && errno != ENOENT)
		err = -errno;
	if (unlink(j->ns_path) && errno != ENOENT && !err)
		err = -errno;
	if (!err && rmdir(j->dir) && errno != ENOENT && errno != ENOTEMPTY)
		err = -errno;
	if (err)
		pr_warn("cannot remove the crash journal %s: %s", j->dir,
			strerror(-err));
	flow_journal_close(j);
	return err;
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

int flow_journal_replay(struct flow_journal *j, struct flow_cache *fc,
			uint32_t (*domain)(void *ctx, const char *netns),
			void *ctx, uint64_t now, uint64_t *flows)
{
	uint64_t batch_in = 0, batch_out = 0;
	bool first = true, done = false;
	int err = 0;

	while (!done) {
		uint32_t count = JBATCH, i, run;

		err = bpf_map_lookup_batch(j->fd, first ? NULL : &batch_in,
					   &batch_out, j->kbuf, j->vbuf,
					   &count, NULL);
		first = false;
		if (err == -ENOENT) {
			done = true;
			err = 0;
		} else if (err) {
			pr_err("crash journal %s: cannot read it: %s", j->path,
			       strerror(-err));
			break;
		}
		batch_in = batch_out;
		/* runs of one namespace, merged at once */
		for (i = 0; i < count; i += run) {
			const char *name = ns_name(j, j->kbuf[i].ns);
			int dom;

			for (run = 0; i + run < count &&
			     j->kbuf[i + run].ns == j->kbuf[i].ns; run++)
				j->fkbuf[run] = j->kbuf[i + run].key;
			if (!name) {
				pr_err("crash journal: %u flows of an unknown namespace id %u: not exported",
				       run, j->kbuf[i].ns);
				continue;
			}
			dom = flow_cache_domain(fc, name, domain(ctx, name));
			if (dom < 0 || dom_set(j, dom, j->kbuf[i].ns)) {
				err = -ENOMEM;
				goto out;
			}
			flow_cache_restore(fc, dom, j->fkbuf, j->vbuf + i, run,
					   now);
			*flows += run;
		}
	}
out:
	return err;
}

long flow_journal_sync(struct flow_journal *j, struct flow_cache *fc)
{
	uint64_t t0 = now_ns();
	long written = 0;
	size_t n;

	while ((n = flow_cache_dirty_next(fc, j->dbuf, j->fkbuf, j->vbuf,
					  JBATCH))) {
		size_t i, m = 0, done = 0;

		for (i = 0; i < n; i++) {
			int64_t id = dom_id(j, fc, j->dbuf[i]);

			if (id < 0) {
				j->st.failed++;
				warn_once(j, "cannot name a namespace", (int)id);
				continue;
			}
			j->kbuf[m].ns = id;
			j->kbuf[m].pad = 0;
			j->kbuf[m].key = j->fkbuf[i];
			if (m != i)
				j->vbuf[m] = j->vbuf[i];
			m++;
		}
		while (done < m) {
			uint32_t count = m - done;
			int err;

			err = bpf_map_update_batch(j->fd, j->kbuf + done,
						   j->vbuf + done, &count,
						   NULL);
			done += count;
			written += count;
			if (err) {
				/* journal full (-E2BIG) or no memory */
				j->st.failed += m - done;
				warn_once(j, "cannot write flows", err);
				break;
			}
		}
	}
	j->st.written += written;
	j->st.sync_ns += now_ns() - t0;
	return written;
}

void flow_journal_forget(struct flow_journal *j, const struct flow_cache *fc,
			 const uint32_t *doms, const struct flow_key *keys,
			 size_t n)
{
	uint64_t t0 = now_ns();
	size_t i, m = 0, done = 0;

	for (i = 0; i < n && m < JBATCH; i++) {
		if (doms[i] >= j->ndom || j->dom_id[doms[i]] < 0)
			continue;	/* never written */
		j->kbuf[m].ns = j->dom_id[doms[i]];
		j->kbuf[m].pad = 0;
		j->kbuf[m].key = keys[i];
		m++;
	}
	(void)fc;
	while (done < m) {
		uint32_t count = m - done;
		int err;

		err = bpf_map_delete_batch(j->fd, j->kbuf + done, &count, NULL);
		done += count;
		j->st.forgotten += count;
		if (err == -ENOENT) {
			done++;		/* a flow the journal had no room for */
		} else if (err) {
			warn_once(j, "cannot delete exported flows", err);
			break;
		}
	}
	j->st.sync_ns += now_ns() - t0;
}

void flow_journal_get_stats(const struct flow_journal *j,
			    struct flow_journal_stats *st)
{
	*st = j->st;
}
