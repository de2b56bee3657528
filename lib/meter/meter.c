// SPDX-License-Identifier: Apache-2.0
/*
 * flowctl meter attach | detach | status.
 *
 * Everything that changes the kernel goes through iproute2 (tc, ip), as the
 * original tool did: `ip netns exec NS tc filter add ... bpf da obj OBJ`
 * with TC_BPF_MNT pointing into the bind-mounted bpffs, so that the maps of
 * every program of a namespace are pinned once, by name, under
 * /sys/fs/bpf/flowctl/NS/tc/globals/ and shared by all its interfaces.
 *
 * A request is all or nothing: every step that changed something is
 * recorded, and on a failure the steps are undone in reverse order.  So is
 * an interrupted one: SIGTERM, SIGINT and SIGHUP are held back while an
 * attach runs and looked for between its steps (the tc and ip children run
 * in their own process group with the default mask: a step is never cut
 * in half).
 *
 * Pins outlive their namespace: each pin dir records the incarnation it
 * was made for (bpffs.h, the identity pin).  Pins of a namespace that is
 * gone or was re-created are stale: a running agent exports and removes
 * them; without one, attach and detach remove them and say what was lost.
 */
#include "meter.h"

#include <errno.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include <bpf/bpf.h>

#include "bpffs.h"
#include "exec.h"
#include "flow_abi.h"
#include "flow_maps.h"
#include "flow_table.h"
#include "lock.h"
#include "log.h"
#include "strescape.h"
#include "strset.h"
#include "netns_id.h"

#define LOCK_TIMEOUT_S 60
/*
 * How long attach and detach wait for a running agent to export and
 * unpin a stale namespace: a few scans at the default interval (1 s) and
 * at anything up to 3 s.
 */
#define AGENT_UNPIN_WAIT_S 10

void meter_opts_default(struct meter_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->id.pref = TC_PREF_DEFAULT;
	o->id.chain = TC_CHAIN_DEFAULT;
	o->id.handle = TC_HANDLE_DEFAULT;
	o->hooks = METER_HOOK_EGRESS;
}

const char *meter_hooks_name(unsigned int hooks)
{
	switch (hooks & METER_HOOKS_BOTH) {
	case METER_HOOK_EGRESS:
		return "egress";
	case METER_HOOK_INGRESS:
		return "ingress";
	case METER_HOOKS_BOTH:
		return "both";
	}
	return "none";
}

int meter_hooks_parse(const char *s, unsigned int *hooks)
{
	if (!strcmp(s, "egress"))
		*hooks = METER_HOOK_EGRESS;
	else if (!strcmp(s, "ingress"))
		*hooks = METER_HOOK_INGRESS;
	else if (!strcmp(s, "both"))
		*hooks = METER_HOOKS_BOTH;
	else
		return -EINVAL;
	return 0;
}

/* The order of hooks in every output: egress first, as the original. */
static const enum tc_hook hook_order[2] = { TC_HOOK_EGRESS, TC_HOOK_INGRESS };

/* ---- running iproute2 ---------------------------------------------- */

/* Last LINES lines of S (for verifier logs). */
static const char *tail_lines(const char *s, int lines)
{
	const char *p = s + strlen(s);

	while (p > s && (p[-1] == '\n' || p[-1] == ' '))
		p--;
	while (p > s) {
		if (p[-1] == '\n' && --lines == 0)
			break;
		p--;
	}
	return p;
}

/*
 * Run C; on failure print WHAT with the command and its stderr tail.
 * Returns 0 or -EIO (-ENOENT when the program is missing).
 */
static int run_cmd(const struct tc_cmd *c, const char *what, int tail,
		   struct exec_result *out)
{
	struct exec_result res;
	int err;

	err = tc_cmd_run(c, &res);
	if (err || res.status) {
		char *line = tc_cmd_str(c);

		if (err)
			pr_err("%s: cannot run %s: %s", what, line,
			       strerror(-err));
		else
			pr_err("%s: `%s` failed (exit %d):\n%s", what, line,
			       res.status, tail_lines(res.err, tail));
		free(line);
		if (!err)
			err = res.status == 127 ? -ENOENT : -EIO;
		exec_result_free(&res);
		return err;
	}
	if (out)
		*out = res;
	else
		exec_result_free(&res);
	return 0;
}

/* ---- namespaces and devices ------------------------------------------ */

struct dev_entry {
	char name[IFNAMSIZ];
	int ifindex;
	char link_type[24];	/* "ether", "loopback", "none" (tun), ... */
};

static bool netns_exists(const char *netns)
{
	char path[PATH_MAX];
	struct stat st;

	if (!netns[0])
		return true;
	snprintf(path, sizeof(path), "%s/%s", NETNS_RUN_DIR, netns);
	return stat(path, &st) == 0;
}

/* The devices of a namespace, from `ip -j link show`. */
static int netns_devices(const char *netns, struct dev_entry **devs, int *n)
{
	struct exec_result res;
	struct json_object *arr;
	struct tc_cmd c;
	int err, i, len;

	*devs = NULL;
	*n = 0;
	ip_cmd_link_show(&c, netns);
	err = run_cmd(&c, netns[0] ? netns : "root namespace", 5, &res);
	if (err)
		return err;
	arr = json_tokener_parse(res.out);
	exec_result_free(&res);
	if (!arr || !json_object_is_type(arr, json_type_array)) {
		pr_err("cannot parse the output of `ip -j link show`");
		json_object_put(arr);
		return -EIO;
	}
	len = json_object_array_length(arr);
	*devs = calloc(len ? len : 1, sizeof(**devs));
	if (!*devs) {
		json_object_put(arr);
		return -ENOMEM;
	}
	for (i = 0; i < len; i++) {
		struct json_object *o = json_object_array_get_idx(arr, i), *v;
		struct dev_entry *d = &(*devs)[*n];

		if (!json_object_object_get_ex(o, "ifname", &v))
			continue;
		snprintf(d->name, sizeof(d->name), "%s",
			 json_object_get_string(v));
		if (json_object_object_get_ex(o, "ifindex", &v))
			d->ifindex = json_object_get_int(v);
		if (json_object_object_get_ex(o, "link_type", &v))
			snprintf(d->link_type, sizeof(d->link_type), "%s",
				 json_object_get_string(v));
		(*n)++;
	}
	json_object_put(arr);
	return 0;
}

/* ---- state of one hook ------------------------------------------------ */

struct hook_state {
	bool present;		/* a filter at pref/chain/handle */
	bool ours;		/* ... and it is an ebpflow object */
	char bpf_name[256];	/* "<digest>.bpf.o:[tc-ingress]" */
	char digest[EBPF_DIGEST_LEN + 1];
	char sec[32];		/* its object section: FLOW_SEC_INGRESS, ... */
	unsigned int prog_id;
};

#define SEC_MAX 32

/*
 * Is NAME "<64 hex>.bpf.o:[tc-...]" (tc loaded the object) or
 * "<64 hex>_tc-...:[*fsobj]" (the program flowctl pinned for the
 * namespace, attached with object-pinned)?  Then copy the digest, and the
 * section (SEC_MAX bytes; may be NULL) when the name has it.
 */
static bool parse_bpf_name(const char *name, char *digest, char *sec)
{
	const char *s;
	size_t n;
	int i;

	for (i = 0; i < EBPF_DIGEST_LEN; i++) {
		char ch = name[i];

		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
			return false;
	}
	if (strncmp(name + EBPF_DIGEST_LEN, ".bpf.o:[tc-", 11) &&
	    strncmp(name + EBPF_DIGEST_LEN, "_tc-", 4))
		return false;
	memcpy(digest, name, EBPF_DIGEST_LEN);
	digest[EBPF_DIGEST_LEN] = '\0';
	if (sec) {
		/* "...bpf.o:[SEC]" or "..._SEC:[*fsobj]" */
		s = name[EBPF_DIGEST_LEN] == '.' ?
		    strchr(name, '[') + 1 : name + EBPF_DIGEST_LEN + 1;
		n = strcspn(s, name[EBPF_DIGEST_LEN] == '.' ? "]" : ":");
		snprintf(sec, SEC_MAX, "%.*s", (int)n, s);
	}
	return true;
}

static unsigned int json_uint(struct json_object *o, const char *key,
			      unsigned int def)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return def;
	if (json_object_is_type(v, json_type_string))
		return strtoul(json_object_get_string(v), NULL, 0);
	return json_object_get_int64(v);
}

/*
 * The filter at ID (or, with ID NULL, the first ebpflow filter at any
 * pref) in ARR, the output of `tc -j filter show dev DEV HOOK`.
 */
static void hook_state_parse(struct json_object *arr,
			     const struct tc_filter_id *id,
			     struct hook_state *st, struct tc_filter_id *found)
{
	int i, len;

	memset(st, 0, sizeof(*st));
	if (!arr || !json_object_is_type(arr, json_type_array))
		return;	/* no clsact qdisc: tc prints nothing */
	len = json_object_array_length(arr);
	for (i = 0; i < len; i++) {
		struct json_object *f = json_object_array_get_idx(arr, i);
		struct json_object *opt, *v, *prog;
		struct tc_filter_id fid;

		if (!json_object_object_get_ex(f, "options", &opt))
			continue;	/* the pref/chain header entry */
		fid.pref = json_uint(f, "pref", 0);
		fid.chain = json_uint(f, "chain", 0);
		fid.handle = json_uint(opt, "handle", 0);
		if (id && (fid.pref != id->pref || fid.chain != id->chain ||
			   fid.handle != id->handle))
			continue;
		if (json_object_object_get_ex(f, "kind", &v) &&
		    !strcmp(json_object_get_string(v), "bpf") &&
		    json_object_object_get_ex(opt, "bpf_name", &v)) {
			snprintf(st->bpf_name, sizeof(st->bpf_name), "%s",
				 json_object_get_string(v));
			st->ours = parse_bpf_name(st->bpf_name, st->digest,
						  st->sec);
			if (json_object_object_get_ex(opt, "prog", &prog))
				st->prog_id = json_uint(prog, "id", 0);
		}
		if (!id && !st->ours)
			continue;
		st->present = true;
		if (found)
			*found = fid;
		break;
	}
}

/* Query the filter at ID (or any ebpflow one) on NETNS:DEV HOOK. */
static int hook_query(const char *netns, const char *dev, enum tc_hook hook,
		      const struct tc_filter_id *id, struct hook_state *st,
		      struct tc_filter_id *found)
{
	struct exec_result res;
	struct json_object *arr;
	struct tc_cmd c;
	char what[NETNS_NAME_MAX + IFNAMSIZ + 16];
	int err;

	memset(st, 0, sizeof(*st));
	tc_cmd_filter_show(&c, netns, dev, hook);
	snprintf(what, sizeof(what), "%s%s%s:%s", netns, netns[0] ? ":" : "",
		 dev, tc_hook_name(hook));
	err = run_cmd(&c, what, 5, &res);
	if (err)
		return err;
	arr = json_tokener_parse(res.out);
	exec_result_free(&res);
	hook_state_parse(arr, id, st, found);
	json_object_put(arr);
	return 0;
}

typedef void (*filters_fn)(void *ctx, int i, enum tc_hook h,
			   struct json_object *arr);

/*
 * The filter list (a JSON array, NULL when tc printed none) of both hooks
 * of each device DEVS[i] of NETNS that has a clsact qdisc (CLSACT[i]),
 * handed to FN(CTX, i, hook): one `tc -j -batch` of `filter show` for
 * them all; a device whose name cannot go on a batch line is asked on its
 * own.  Returns 0 or -errno (printed).
 */
static int devs_filters(const char *netns, const char *const *devs, int n,
			const bool *clsact, filters_fn fn, void *ctx)
{
	struct json_tokener *tok = NULL;
	struct exec_result res = { 0 };
	bool *alone = calloc(2 * n + 1, sizeof(*alone));
	struct json_object *a;
	struct tc_cmd c;
	char *in = NULL, *p;
	size_t len = 0;
	int i, k, err = 0;

	if (!alone)
		return -ENOMEM;
	for (i = 0; i < n && !err; i++) {
		if (!clsact[i])
			continue;
		for (k = 0; k < 2 && !err; k++) {
			tc_cmd_filter_show(&c, netns, devs[i], k);
			if (tc_cmd_batch_line(&c, &in, &len) == 0)
				continue;
			alone[2 * i + k] = true;
			err = run_cmd(&c, devs[i], 5, &res);
			if (err)
				break;
			a = json_tokener_parse(res.out);
			exec_result_free(&res);
			fn(ctx, i, k, a);
			json_object_put(a);
		}
	}
	if (err || !len)
		goto out;
	tc_cmd_batch(&c, netns, true);
	err = tc_cmd_run_in(&c, in, len, &res);
	if (!err && res.status) {
		pr_err("%s: `tc -j -batch` (filter show) failed:\n%s",
		       ifspec_pin_name(netns), tail_lines(res.err, 5));
		err = -EIO;
	}
	if (err)
		goto out;
	/* one JSON array per line, in order */
	tok = json_tokener_new();
	p = res.out;
	for (i = 0; i < n && tok && !err; i++) {
		if (!clsact[i])
			continue;
		for (k = 0; k < 2; k++) {
			if (alone[2 * i + k])
				continue;
			while (*p == '\n' || *p == ' ')
				p++;
			json_tokener_reset(tok);
			a = json_tokener_parse_ex(tok, p, strlen(p));
			if (!a) {
				pr_err("%s: cannot parse the output of `tc -j -batch`",
				       ifspec_pin_name(netns));
				err = -EIO;
				break;
			}
			p += json_tokener_get_parse_end(tok);
			fn(ctx, i, k, a);
			json_object_put(a);
		}
	}
out:
	exec_result_free(&res);
	if (tok)
		json_tokener_free(tok);
	free(in);
	free(alone);
	return err;
}

/* Which devices DEVS[i] of NETNS have a clsact qdisc: one `tc qdisc show`. */
static int devs_clsact(const char *netns, const char *const *devs, int n,
		       bool *clsact)
{
	struct json_object *arr;
	struct exec_result res;
	struct tc_cmd c;
	int i, q, nq, err;

	tc_cmd_qdisc_show_all(&c, netns);
	err = run_cmd(&c, ifspec_pin_name(netns), 5, &res);
	if (err)
		return err;
	arr = json_tokener_parse(res.out);
	exec_result_free(&res);
	nq = arr && json_object_is_type(arr, json_type_array) ?
	     (int)json_object_array_length(arr) : 0;
	for (i = 0; i < n; i++) {
		clsact[i] = false;
		for (q = 0; q < nq; q++) {
			struct json_object *o = json_object_array_get_idx(arr, q);
			struct json_object *v, *d;

			if (json_object_object_get_ex(o, "kind", &v) &&
			    !strcmp(json_object_get_string(v), "clsact") &&
			    json_object_object_get_ex(o, "dev", &d) &&
			    !strcmp(json_object_get_string(d), devs[i]))
				clsact[i] = true;
		}
	}
	json_object_put(arr);
	return 0;
}

/* The state of both hooks of every device of a namespace. */
struct dev_hooks {
	struct hook_state st[2];	/* by enum tc_hook */
	struct tc_filter_id fid[2];
};

struct dev_hooks_ctx {
	struct dev_hooks *out;
	const struct tc_filter_id *id;
};

static void dev_hooks_one(void *ctx, int i, enum tc_hook h,
			  struct json_object *arr)
{
	struct dev_hooks_ctx *c = ctx;

	hook_state_parse(arr, c->id, &c->out[i].st[h], &c->out[i].fid[h]);
}

/*
 * Both hooks of each of the ND devices DEVS of NETNS, at ID (NULL: any
 * ebpflow filter): *OUT (malloc'ed, ND entries; a device without clsact
 * has nothing present).  Two processes whatever the number of devices.
 */
static int devs_hook_states(const char *netns, const struct dev_entry *devs,
			    int nd, const struct tc_filter_id *id,
			    struct dev_hooks **out)
{
	struct dev_hooks_ctx c = { .id = id };
	const char **names = calloc(nd + 1, sizeof(*names));
	bool *clsact = calloc(nd + 1, sizeof(*clsact));
	int j, err = -ENOMEM;

	c.out = calloc(nd + 1, sizeof(*c.out));
	if (!names || !clsact || !c.out)
		goto out;
	for (j = 0; j < nd; j++)
		names[j] = devs[j].name;
	err = devs_clsact(netns, names, nd, clsact);
	if (!err)
		err = devs_filters(netns, names, nd, clsact, dev_hooks_one, &c);
out:
	free(names);
	free(clsact);
	if (err) {
		free(c.out);
		return err;
	}
	*out = c.out;
	return 0;
}


/* ---- pinned maps of a namespace ---------------------------------------- */

static int pinned_map_info(const char *netns, const char *map,
			   struct bpf_map_info *info)
{
	__u32 len = sizeof(*info);
	char path[512];
	int fd, err = 0;

	pin_map_path(netns, map, path, sizeof(path));
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	memset(info, 0, sizeof(*info));
	if (bpf_obj_get_info_by_fd(fd, info, &len))
		err = -errno;
	close(fd);
	return err;
}

/* The flow limit of a namespace's pinned maps (0 when none). */
static unsigned int pinned_flow_limit(const char *netns)
{
	struct bpf_map_info info;

	if (pinned_map_info(netns, FLOW_MAP_FLOWS_0, &info))
		return 0;
	return info.max_entries;
}

/*
 * Do the pinned maps of NETNS (if any) fit an object built for MAX_FLOWS?
 * Returns 0 when they do (or there are none), else -EEXIST with REASON.
 */
static int pins_compatible(const char *netns, unsigned int max_flows,
			   bool no_prealloc, char *reason, int size)
{
	__u32 flags = no_prealloc ? BPF_F_NO_PREALLOC : 0;
	char why[320];
	int i;

	for (i = 0; i < FM_NR; i++) {
		const char *name = flow_maps[i].name;
		bool flows = i == FM_FLOWS0 || i == FM_FLOWS1;
		struct bpf_map_info info;
		int err = pinned_map_info(netns, name, &info);

		if (err == -ENOENT)
			continue;
		if (err) {
			snprintf(reason, size, "cannot read pinned map %s: %s",
				 name, strerror(-err));
			return -EEXIST;
		}
		if (flows && info.max_entries != max_flows) {
			snprintf(reason, size,
				 "its pinned maps hold at most %u flows, the request asks for %u",
				 info.max_entries, max_flows);
			return -EEXIST;
		}
		if (flows && (info.map_flags & BPF_F_NO_PREALLOC) != flags) {
			snprintf(reason, size,
				 "its pinned flow maps are %s, the request asks for %s maps",
				 flags ? "preallocated" : "allocated per flow",
				 flags ? "--no-prealloc" : "preallocated");
			return -EEXIST;
		}
		if (flow_map_check(i, &info, max_flows, why, sizeof(why))) {
			snprintf(reason, size, "pinned map %s: %s", name, why);
			return -EEXIST;
		}
	}
	return 0;
}

/* ---- signals that end a request --------------------------------------- */

static void term_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
}

/* The terminating signal pending now (held back by the mask), or 0. */
static int pending_term_signal(void)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
	sigset_t p;
	size_t i;

	if (sigpending(&p))
		return 0;
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigismember(&p, sigs[i]))
			return sigs[i];
	return 0;
}

/* ---- stale pins ---------------------------------------------------------- */

/* Flows (per key, both buffers) and packets in the pinned maps of NETNS. */
static int stale_counts(const char *netns, uint64_t *flows,
			uint64_t *packets)
{
	struct flow_table_opts fo = {
		.pin_root = FLOW_PIN_ROOT,
		.no_drain = true,
		.netns = ifspec_pin_name(netns),
	};
	struct flow_entry *e = NULL;
	struct flow_table *ft;
	struct flow_ns *ns;
	size_t n = 0, i;
	int err;

	*flows = *packets = 0;
	err = flow_table_open(&fo, &ft);
	if (err)
		return err;
	ns = flow_table_ns_find(ft, fo.netns);
	err = ns ? flow_table_snapshot(ft, ns, &e, &n) : -ENOENT;
	for (i = 0; !err && i < n; i++)
		*packets += e[i].val.packets;
	if (!err)
		*flows = n;
	free(e);
	flow_table_close(ft);
	return err;
}

/*
 * Take the stale pins of NETNS away (FATE: gone or replaced).  A running
 * agent exports them and removes them itself: wait for it (bounded).
 * Without an agent: count what is lost, remove them, say so.  Returns 0,
 * -EINTR (a terminating signal came while waiting), -ETIMEDOUT or -errno.
 */
static int stale_pins_clear(const char *netns, enum pin_fate fate,
			    bool has_id, bool in_agent)
{
	const char *pin = ifspec_pin_name(netns);
	const char *what = fate == PIN_GONE ? "deleted" : "re-created";
	struct timespec nap = { 0, 100 * 1000 * 1000 };
	uint64_t flows = 0, packets = 0;
	int agent, i, err;

	agent = in_agent ? 0 : agent_lock_holder(FLOW_PIN_ROOT);
	if (agent > 0 && has_id) {
		pr_info("%s: the namespace was %s; waiting up to %d s for the agent (pid %d) to export its last flows and remove its pins",
			pin, what, AGENT_UNPIN_WAIT_S, agent);
		for (i = 0; i < AGENT_UNPIN_WAIT_S * 10; i++) {
			if (!pin_dir_exists(netns)) {
				pr_info("%s: stale pins (namespace %s) exported and removed by the agent (pid %d)",
					pin, what, agent);
				return 0;
			}
			if (pending_term_signal())
				return -EINTR;
			nanosleep(&nap, NULL);
		}
		pr_err("%s: the agent (pid %d) did not remove the stale pins within %d s (is its scan interval longer?); run this again later",
		       pin, agent, AGENT_UNPIN_WAIT_S);
		return -ETIMEDOUT;
	}
	if (agent > 0) {
		/*
		 * Pins of an older flowctl, without identity: the agent
		 * cannot tell them stale.  Once unpinned it drains what it
		 * holds open of them one last time.
		 */
		err = pin_dir_remove(netns);
		if (!err)
			pr_info("%s: stale pins (namespace %s) removed; the agent (pid %d) exports what it had open of them",
				pin, what, agent);
		return err;
	}
	err = stale_counts(netns, &flows, &packets);
	if (err && err != -ENOENT)
		pr_warn("%s: cannot count the flows in the stale pins: %s",
			pin, strerror(-err));
	err = pin_dir_remove(netns);
	if (!err)
		pr_warn("%s: stale pins (namespace %s) removed: %llu flows, %llu packets discarded (no agent ran to export them)",
			pin, what, (unsigned long long)flows,
			(unsigned long long)packets);
	return err;
}

/* ---- the request: targets and undo log ------------------------------ */

struct target {
	char netns[NETNS_NAME_MAX];
	char dev[IFNAMSIZ];
	int ifindex;
	int ns;			/* index into the namespaces of the request */
	unsigned int hooks;	/* METER_HOOK_* to meter */
};

struct ns_plan {
	char netns[NETNS_NAME_MAX];
	unsigned int max_flows;
	bool pins_existed;
	bool replace_pins;	/* --force over incompatible pins */
	char obj[512];
	char digest[EBPF_DIGEST_LEN + 1];
};

struct request {
	struct target *t;
	int nt;
	struct ns_plan *ns;
	int nns;
};

enum undo_kind {
	UNDO_QDISC_ADDED,	/* tc qdisc del clsact */
	UNDO_FILTER_ADDED,	/* tc filter del */
	UNDO_FILTER_REPLACED,	/* tc filter replace with the old object */
	UNDO_FILTER_DELETED,	/* tc filter add with the old object */
};

struct undo {
	enum undo_kind kind;
	int target;
	enum tc_hook hook;
	char old_digest[EBPF_DIGEST_LEN + 1];	/* the filter it replaced */
	char old_sec[SEC_MAX];	/* ... its section */
	bool old_pinned;	/* ... attached as flowctl's pinned program */
};

static void request_free(struct request *r)
{
	free(r->t);
	free(r->ns);
}

static int request_ns(struct request *r, const char *netns)
{
	int i;
	struct ns_plan *p;

	for (i = 0; i < r->nns; i++)
		if (!strcmp(r->ns[i].netns, netns))
			return i;
	p = realloc(r->ns, (r->nns + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	r->ns = p;
	memset(&p[r->nns], 0, sizeof(*p));
	snprintf(p[r->nns].netns, sizeof(p->netns), "%s", netns);
	return r->nns++;
}

/*
 * Add NETNS:D with HOOKS to the request.  Named twice: once is enough;
 * with MERGE its hooks are added to the first one's.
 */
static int request_add(struct request *r, const char *netns,
		       const struct dev_entry *d, unsigned int hooks,
		       bool merge)
{
	struct target *t;
	int i, ns;

	for (i = 0; i < r->nt; i++) {
		if (strcmp(r->t[i].netns, netns) || strcmp(r->t[i].dev, d->name))
			continue;
		if (merge)
			r->t[i].hooks |= hooks;
		return 0;
	}
	ns = request_ns(r, netns);
	if (ns < 0)
		return ns;
	t = realloc(r->t, (r->nt + 1) * sizeof(*t));
	if (!t)
		return -ENOMEM;
	r->t = t;
	memset(&t[r->nt], 0, sizeof(*t));
	snprintf(t[r->nt].netns, sizeof(t->netns), "%s", netns);
	snprintf(t[r->nt].dev, sizeof(t->dev), "%s", d->name);
	t[r->nt].ifindex = d->ifindex;
	t[r->nt].ns = ns;
	t[r->nt].hooks = hooks;
	r->nt++;
	return 0;
}

static int list_netns(char ***names, int *n);

static void free_names(char **names, int n)
{
	int i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/*
 * SPECS with their namespace patterns expanded: one spec per matching
 * namespace (ip netns list; with PINS also the pin dirs of namespaces
 * that are gone), in name order.  (*ORIGIN)[k] is the index in SPECS that
 * spec k came from.  A pattern that matches no namespace is refused.
 */
static int specs_expand(const struct ifspec *specs, int n, bool pins,
			struct ifspec **out, int **origin, int *nout)
{
	char **names = NULL;
	int nn = 0, i, j, cnt = 0, cap = n + 1, err = 0;
	struct ifspec *x = calloc(cap, sizeof(*x));
	int *o = calloc(cap, sizeof(*o));

	if (!x || !o) {
		err = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < n; i++)
		if (specs[i].netns_glob)
			break;
	if (i < n)
		list_netns(&names, &nn);
	for (i = 0; i < n; i++) {
		const struct ifspec *s = &specs[i];
		bool any = false;

		for (j = -1; j < (s->netns_glob ? nn : 0); j++) {
			if (j >= 0 && (!ifspec_netns_match(s, names[j]) ||
				       (!pins && !netns_exists(names[j]))))
				continue;
			if (cnt == cap) {
				struct ifspec *nx;
				int *no;

				cap *= 2;
				nx = realloc(x, cap * sizeof(*x));
				if (nx)
					x = nx;
				no = realloc(o, cap * sizeof(*o));
				if (no)
					o = no;
				if (!nx || !no) {
					err = -ENOMEM;
					goto fail;
				}
			}
			x[cnt] = *s;
			if (j >= 0) {
				snprintf(x[cnt].netns, sizeof(x->netns), "%s",
					 names[j]);
				x[cnt].netns_glob = false;
			} else if (s->netns_glob) {
				continue;	/* the pattern itself */
			}
			o[cnt++] = i;
			any = true;
		}
		if (s->netns_glob && !any) {
			pr_err("-i %s:%s: no network namespace matches '%s' (see `ip netns list`)",
			       s->netns, s->all ? "*" : s->dev, s->netns);
			err = -FLOWCTL_EREQUEST;
			goto fail;
		}
	}
	free_names(names, nn);
	*out = x;
	*origin = o;
	*nout = cnt;
	return 0;
fail:
	free_names(names, nn);
	free(x);
	free(o);
	return err;
}

/*
 * Resolve SPECS into targets metering HOOKS: namespaces exist, devices
 * exist, patterns expanded.  A device pattern that matches no device in
 * any of its namespaces is refused; NETNS:* of a namespace without
 * devices is only a warning.
 */
static int request_resolve(const struct ifspec *specs, int n,
			   struct request *r, bool need_devices,
			   unsigned int hooks)
{
	struct ifspec *x = NULL;
	int *origin = NULL, *found = NULL;
	int i, j, nx = 0, err;

	memset(r, 0, sizeof(*r));
	err = specs_expand(specs, n, !need_devices, &x, &origin, &nx);
	if (err)
		return err;
	found = calloc(n + 1, sizeof(*found));
	if (!found) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < nx && !err; i++) {
		const struct ifspec *s = &x[i];
		bool pattern = s->all || s->dev_glob;
		struct dev_entry *devs;
		char name[NETNS_NAME_MAX + IFNAMSIZ + 8];
		int nd, hits = 0;

		ifspec_str(s, name, sizeof(name));
		if (!netns_exists(s->netns)) {
			pr_err("%s: network namespace '%s' does not exist (see `ip netns list`)",
			       name, s->netns);
			err = -FLOWCTL_EREQUEST;
			goto out;
		}
		err = netns_devices(s->netns, &devs, &nd);
		if (err)
			goto out;
		for (j = 0; j < nd && !err; j++) {
			bool ether = !strcmp(devs[j].link_type, "ether");

			if (!ifspec_dev_match(s, devs[j].name))
				continue;
			hits++;
			/*
			 * The meter parses Ethernet frames: an L3 device (tun,
			 * WireGuard, ...) would see every packet as unparsed.
			 */
			if (!ether && need_devices && pattern) {
				pr_info("%s%s%s: skipped (link type %s, not Ethernet)",
					s->netns, s->netns[0] ? ":" : "",
					devs[j].name, devs[j].link_type);
				continue;
			}
			if (!ether && need_devices) {
				pr_err("%s: link type %s is not Ethernet; the meter parses Ethernet frames only",
				       name, devs[j].link_type);
				err = -FLOWCTL_EREQUEST;
				break;
			}
			err = request_add(r, s->netns, &devs[j], hooks, false);
		}
		free(devs);
		if (err)
			goto out;
		found[origin[i]] += hits;
		if (!hits && !pattern) {
			pr_err("%s: no device '%s' in %s", name, s->dev,
			       s->netns[0] ? s->netns : "the root namespace");
			err = -FLOWCTL_EREQUEST;
			goto out;
		}
		if (!hits && need_devices && s->all)
			pr_warn("%s: the namespace has no device but lo", name);
	}
	for (i = 0; i < n && need_devices; i++) {
		char name[NETNS_NAME_MAX + IFNAMSIZ + 8];

		if (!specs[i].dev_glob || found[i])
			continue;
		pr_err("-i %s: no device matches '%s'",
		       ifspec_str(&specs[i], name, sizeof(name)),
		       specs[i].dev);
		err = -FLOWCTL_EREQUEST;
		goto out;
	}
out:
	free(x);
	free(origin);
	free(found);
	return err;
}

static const char *target_name(const struct target *t, enum tc_hook hook,
			       char *buf, int size)
{
	if (t->netns[0])
		snprintf(buf, size, "%s:%s:%s", t->netns, t->dev,
			 tc_hook_name(hook));
	else
		snprintf(buf, size, "%s:%s", t->dev, tc_hook_name(hook));
	return buf;
}

/* ---- attach ------------------------------------------------------------ */

static void print_dry(const struct tc_cmd *c, const char *comment)
{
	char *line = tc_cmd_str(c);

	printf("%s%s%s\n", line ? line : "?", comment ? "    # " : "",
	       comment ? comment : "");
	free(line);
}

/*
 * The pin of the program of DIGEST, section SEC, in NETNS's pin dir: the
 * host's path, or (IN_NS) the one tc reaches under `ip netns exec`.
 * bpffs refuses '.' in names: "<digest>_tc-egress".
 */
static void prog_pin_path(const char *netns, const char *digest,
			  const char *sec, bool in_ns, char *buf, int size)
{
	char dir[400];	/* pin root + a 255-octet name */

	if (in_ns)
		tc_pin_mnt(netns, dir, sizeof(dir));
	else
		pin_dir_path(netns, dir, sizeof(dir));
	snprintf(buf, size, "%s/%.64s_%s", dir, digest, sec);
}

/*
 * C: put back the filter U replaced or deleted (OP "replace" or "add"),
 * from its pinned program or its object.  False when neither is left.
 */
static bool old_filter_cmd(struct tc_cmd *c, const struct target *t,
			   const struct undo *u, const struct tc_filter_id *id,
			   const char *op)
{
	char path[512];

	if (u->old_pinned) {
		prog_pin_path(t->netns, u->old_digest, u->old_sec, false,
			      path, sizeof(path));
		if (access(path, F_OK))
			return false;
		prog_pin_path(t->netns, u->old_digest, u->old_sec, true, path,
			      sizeof(path));
		tc_cmd_filter_set_pinned(c, op, t->netns, t->dev, u->hook, id,
					 path);
		return true;
	}
	snprintf(path, sizeof(path), "%s/%s.bpf.o", EBPF_CACHE_DIR,
		 u->old_digest);
	if (access(path, R_OK))
		return false;
	tc_cmd_filter_set_sec(c, op, t->netns, t->dev, u->hook, u->old_sec,
			      id, path);
	return true;
}

static void undo_all(struct request *r, struct undo *u, int nu,
		     const struct tc_filter_id *id)
{
	struct tc_cmd c;
	char name[NETNS_NAME_MAX + IFNAMSIZ + 32];
	int i;

	for (i = nu - 1; i >= 0; i--) {
		struct target *t = &r->t[u[i].target];

		switch (u[i].kind) {
		case UNDO_FILTER_ADDED:
			tc_cmd_filter_del(&c, t->netns, t->dev, u[i].hook, id);
			break;
		case UNDO_FILTER_REPLACED:
		case UNDO_FILTER_DELETED:
			if (!old_filter_cmd(&c, t, &u[i], id, u[i].kind ==
					    UNDO_FILTER_REPLACED ? "replace" :
								   "add")) {
				if (u[i].kind == UNDO_FILTER_DELETED)
					continue;	/* nothing to put back */
				tc_cmd_filter_del(&c, t->netns, t->dev,
						  u[i].hook, id);
			}
			break;
		case UNDO_QDISC_ADDED:
			tc_cmd_qdisc_del(&c, t->netns, t->dev);
			break;
		}
		if (u[i].kind == UNDO_QDISC_ADDED)
			snprintf(name, sizeof(name), "%s%s%s: clsact qdisc",
				 t->netns, t->netns[0] ? ":" : "", t->dev);
		else
			target_name(t, u[i].hook, name, sizeof(name));
		if (run_cmd(&c, "rollback", 5, NULL))
			pr_warn("rollback of %s incomplete", name);
		else
			pr_info("%s: rolled back", name);
	}
	for (i = 0; i < r->nns; i++)
		if (!r->ns[i].pins_existed && pin_dir_exists(r->ns[i].netns))
			pin_dir_remove(r->ns[i].netns);
}

/* Every ebpflow hook (at ID) on any device of NETNS. */
static int netns_our_hooks(const char *netns, const struct tc_filter_id *id,
			   struct request *out)
{
	struct dev_entry *devs;
	struct dev_hooks *dh;
	int nd, j, h, err;

	err = netns_devices(netns, &devs, &nd);
	if (err)
		return err;
	err = devs_hook_states(netns, devs, nd, id, &dh);
	for (j = 0; j < nd && !err; j++)
		for (h = 0; h < 2 && !err; h++)
			if (dh[j].st[h].present && dh[j].st[h].ours)
				err = request_add(out, netns, &devs[j], 1U << h,
						  true);
	if (!err)
		free(dh);
	free(devs);
	return err;
}

/*
 * --force over pins that do not fit: take every flowctl filter of the
 * namespace off, drop the pins, and put the filters back with the new
 * object (so no interface of the namespace is left unmetered).
 */
static int replace_pins(struct request *r, int ns,
			const struct tc_filter_id *id)
{
	struct request old = { 0 };
	struct tc_cmd c;
	int i, err;

	err = netns_our_hooks(r->ns[ns].netns, id, &old);
	for (i = 0; !err && i < old.nt; i++) {
		struct dev_entry d = { .ifindex = old.t[i].ifindex };
		int h;

		snprintf(d.name, sizeof(d.name), "%s", old.t[i].dev);
		for (h = 0; h < 2; h++) {
			tc_cmd_filter_del(&c, old.t[i].netns, old.t[i].dev, h,
					  id);
			run_cmd(&c, "detach before replacing pins", 5, NULL);
		}
		/* keeps the hooks it had, unless the request names it */
		err = request_add(r, old.t[i].netns, &d, old.t[i].hooks, false);
	}
	request_free(&old);
	if (err)
		return err;
	pr_warn("%s: replacing its pinned maps (flows not yet exported are lost)",
		ifspec_pin_name(r->ns[ns].netns));
	err = pin_dir_remove(r->ns[ns].netns);
	r->ns[ns].pins_existed = false;
	return err;
}

/*
 * Run CMDS in order: those that fit on a batch line through one
 * `ip netns exec NETNS tc -batch -` per run of them, the others alone.
 * *DONE: how many succeeded, in order (tc's batch stops at the first
 * failure and names its line).  Returns 0 or -errno (printed).
 */
static int run_cmds(const char *netns, struct tc_cmd *cmds, int n,
		    int *done)
{
	int i = 0, err = 0;

	*done = 0;
	while (i < n && !err) {
		struct exec_result res;
		struct tc_cmd b;
		char *in = NULL;
		size_t len = 0;
		int k = i;
		const char *line;

		while (k < n && tc_cmd_batch_line(&cmds[k], &in, &len) == 0)
			k++;
		if (k == i) {	/* runs on its own */
			free(in);
			err = run_cmd(&cmds[i], ifspec_pin_name(netns), 25,
				      NULL);
			if (!err)
				(*done)++, i++;
			break;
		}
		tc_cmd_batch(&b, netns, false);
		err = tc_cmd_run_in(&b, in, len, &res);
		if (!err && !res.status) {
			*done += k - i;
			i = k;
			free(in);
			exec_result_free(&res);
			continue;
		}
		if (err) {
			pr_err("%s: cannot run tc -batch: %s",
			       ifspec_pin_name(netns), strerror(-err));
			free(in);
			break;
		}
		/* "Command failed -:LINE": the lines before it were done */
		line = strstr(res.err, "Command failed -:");
		if (line) {
			int l = atoi(line + strlen("Command failed -:"));

			if (l > 0 && l <= k - i)
				*done += l - 1;
		}
		pr_err("%s: `tc -batch` failed (exit %d) at `%.*s`:\n%s",
		       ifspec_pin_name(netns), res.status,
			(int)strcspn(in + 0, "\n"), in, tail_lines(res.err, 25));
		err = -EIO;
		free(in);
		exec_result_free(&res);
	}
	return err;
}

/* What attach does to one hook of a target. */
enum hook_op { OP_NONE, OP_KEEP, OP_ADD, OP_REPLACE, OP_DEL };

struct hook_plan {
	enum hook_op op;
	struct hook_state st;
	const char *what;	/* -o wide */
	bool done;
};

/* The targets of namespace NS as a device list (TIDX: their indexes). */
struct ns_devs {
	const char **devs;
	int *tidx;
	bool *clsact;
	int n;
	filters_fn fn;		/* called with the target's index */
	void *ctx;
};

static void ns_devs_free(struct ns_devs *d)
{
	free(d->devs);
	free(d->tidx);
	free(d->clsact);
}

static int ns_devs_get(const struct request *r, int ns, struct ns_devs *d)
{
	int i;

	memset(d, 0, sizeof(*d));
	d->devs = calloc(r->nt + 1, sizeof(*d->devs));
	d->tidx = calloc(r->nt + 1, sizeof(*d->tidx));
	d->clsact = calloc(r->nt + 1, sizeof(*d->clsact));
	if (!d->devs || !d->tidx || !d->clsact) {
		ns_devs_free(d);
		return -ENOMEM;
	}
	for (i = 0; i < r->nt; i++)
		if (r->t[i].ns == ns) {
			d->tidx[d->n] = i;
			d->devs[d->n++] = r->t[i].dev;
		}
	return 0;
}

static void ns_devs_call(void *ctx, int i, enum tc_hook h,
			 struct json_object *arr)
{
	struct ns_devs *d = ctx;

	d->fn(d->ctx, d->tidx[i], h, arr);
}

/*
 * devs_clsact and devs_filters for the targets of namespace NS:
 * CLSACT[t] and FN(CTX, t, hook, arr) by target index.
 */
static int ns_filters(struct request *r, int ns, bool *clsact, filters_fn fn,
		      void *ctx)
{
	const char *netns = r->ns[ns].netns;
	struct ns_devs d;
	int i, err;

	err = ns_devs_get(r, ns, &d);
	if (err)
		return err;
	d.fn = fn;
	d.ctx = ctx;
	err = devs_clsact(netns, d.devs, d.n, d.clsact);
	for (i = 0; i < d.n && !err; i++)
		clsact[d.tidx[i]] = d.clsact[i];
	if (!err && fn)
		err = devs_filters(netns, d.devs, d.n, d.clsact, ns_devs_call,
				   &d);
	ns_devs_free(&d);
	return err;
}

struct query_ctx {
	struct hook_plan (*hp)[2];
	const struct tc_filter_id *id;
};

static void query_one(void *ctx, int t, enum tc_hook h,
		      struct json_object *arr)
{
	struct query_ctx *q = ctx;

	hook_state_parse(arr, q->id, &q->hp[t][h].st, NULL);
}

/*
 * The state of both hooks of the targets of namespace NS: one `tc qdisc
 * show` for the namespace, one batch of `tc filter show` for the devices
 * that have clsact.
 */
static int ns_query(struct request *r, int ns, const struct tc_filter_id *id,
		    struct hook_plan (*hp)[2], bool *clsact)
{
	struct query_ctx q = { .hp = hp, .id = id };
	int i, err;

	for (i = 0; i < r->nt; i++)
		if (r->t[i].ns == ns)
			memset(&hp[i], 0, sizeof(hp[i]));
	err = ns_filters(r, ns, clsact, query_one, &q);
	return err;
}

/*
 * One line per hook: the original's `NETNS:DEV:HOOK (changed|unchanged)`
 * (DEFAULT for the root namespace); -o wide adds what was done.
 */
static void print_hook_plan(const struct target *t, enum tc_hook hook,
			    const struct hook_plan *hp,
			    const struct meter_opts *o)
{
	if (hp->op == OP_NONE)
		return;
	printf("%s:%s:%s (%s)", ifspec_pin_name(t->netns), t->dev,
	       tc_hook_name(hook), hp->op == OP_KEEP ? "unchanged" : "changed");
	if (o->output == METER_OUT_WIDE)
		printf(" %s", hp->what);
	printf("\n");
}

/* Record the undo of plan HP (target TI, HOOK) after it was done. */
static void undo_push(struct undo *u, int *nu, int ti, enum tc_hook hook,
		      const struct hook_plan *hp)
{
	struct undo *x = &u[(*nu)++];

	memset(x, 0, sizeof(*x));
	x->target = ti;
	x->hook = hook;
	x->kind = hp->op == OP_ADD ? UNDO_FILTER_ADDED :
		  hp->op == OP_DEL ? UNDO_FILTER_DELETED :
				     UNDO_FILTER_REPLACED;
	if (hp->st.present) {
		memcpy(x->old_digest, hp->st.digest, sizeof(x->old_digest));
		memcpy(x->old_sec, hp->st.sec, sizeof(x->old_sec));
		x->old_pinned = strstr(hp->st.bpf_name, ":[*fsobj]") != NULL;
	}
}

/*
 * Pin the program tc loaded for the filter at ID on NETNS:DEV HOOK as the
 * namespace's program of DIGEST for that hook.
 */
static int prog_pin(const char *netns, const char *dev, enum tc_hook hook,
		    const struct tc_filter_id *id, const char *digest,
		    const char *sec)
{
	struct hook_state st;
	char path[512];
	int fd, err;

	err = hook_query(netns, dev, hook, id, &st, NULL);
	if (err)
		return err;
	if (!st.present || !st.prog_id)
		return -ENOENT;
	fd = bpf_prog_get_fd_by_id(st.prog_id);
	if (fd < 0)
		return -errno;
	prog_pin_path(netns, digest, sec, false, path, sizeof(path));
	unlink(path);
	err = bpf_obj_pin(fd, path) ? -errno : 0;
	close(fd);
	return err;
}

/*
 * --latency with the egress hook alone: the ingress hook of each target
 * gets the stamp-only program (FLOW_SEC_INGRESS_STAMP): it stamps, it
 * meters nothing, so each forwarded packet is still counted once.
 */
static bool stamp_only(const struct meter_opts *o)
{
	return o->latency && !(o->hooks & METER_HOOK_INGRESS);
}

/* Does target T want a filter on HOOK (STAMP: stamp_only())? */
static bool target_wants(const struct target *t, enum tc_hook h, bool stamp)
{
	return (t->hooks & (1U << h)) ||
	       (stamp && h == TC_HOOK_INGRESS && (t->hooks & (1U << TC_HOOK_EGRESS)));
}

/*
 * Attach the hooks of the targets of namespace NS, and take flowctl's
 * filter off the hooks they do not ask for.  The object is loaded (by
 * tc, from the object file) once per hook section and namespace; the
 * program is then pinned in the namespace's pin dir and every other hook
 * attaches it with `object-pinned`, all in one `tc -batch`.  Every change
 * is recorded in U.  With INTERRUPTIBLE, a pending terminating signal
 * stops it before the next step (-EINTR).
 */
static int attach_ns(struct request *r, int ns, const struct meter_opts *o,
		     struct undo *u, int *nu, bool interruptible)
{
	struct ns_plan *p = &r->ns[ns];
	struct hook_plan (*hp)[2] = calloc(r->nt, sizeof(*hp));
	bool *clsact = calloc(r->nt, sizeof(*clsact));
	struct tc_cmd *cmds = calloc(2 * r->nt + 1, sizeof(*cmds));
	int *cmd_t = calloc(2 * r->nt + 1, sizeof(*cmd_t));
	char name[NETNS_NAME_MAX + IFNAMSIZ + 32], path[512];
	bool pinned[2] = { false, false };
	const char *sec[2];
	bool stamp = stamp_only(o);
	int i, k, n, done, err;

	sec[TC_HOOK_EGRESS] = tc_hook_sec(TC_HOOK_EGRESS);
	sec[TC_HOOK_INGRESS] = stamp ? FLOW_SEC_INGRESS_STAMP :
				       tc_hook_sec(TC_HOOK_INGRESS);
	if (!hp || !clsact || !cmds || !cmd_t) {
		err = -ENOMEM;
		goto out;
	}
	err = ns_query(r, ns, &o->id, hp, clsact);
	if (err)
		goto out;
	/* plan: refuse a foreign filter before anything changes here */
	for (i = 0; i < r->nt; i++) {
		struct target *t = &r->t[i];

		if (t->ns != ns)
			continue;
		for (k = 0; k < 2; k++) {
			enum tc_hook h = hook_order[k];
			struct hook_plan *x = &hp[i][h];
			bool want = target_wants(t, h, stamp);

			x->op = OP_NONE;
			if (!want && !(x->st.present && x->st.ours))
				continue;	/* not ours to touch */
			if (x->st.present && !x->st.ours) {
				target_name(t, h, name, sizeof(name));
				pr_err("%s: pref %u chain %u handle %u holds a filter that is not flowctl's (%s); choose another --pref/--handle",
				       name, o->id.pref, o->id.chain,
				       o->id.handle, x->st.bpf_name[0] ?
				       x->st.bpf_name : "not bpf");
				err = -FLOWCTL_EREQUEST;
				goto out;
			}
			if (!want) {
				x->op = OP_DEL;
				x->what = "removed";
			} else if (!x->st.present) {
				x->op = OP_ADD;
				x->what = "added";
			} else if (strcmp(x->st.digest, p->digest) ||
				   strcmp(x->st.sec, sec[h])) {
				x->op = OP_REPLACE;
				x->what = "replaced";
			} else if (o->force) {
				x->op = OP_REPLACE;
				x->what = "forced";
			} else {
				x->op = OP_KEEP;
				x->what = "kept";
			}
		}
	}
	/* clsact where a filter goes and there is none: one batch */
	for (i = n = 0; i < r->nt; i++)
		if (r->t[i].ns == ns && !clsact[i] && r->t[i].hooks) {
			tc_cmd_qdisc_add(&cmds[n], r->t[i].netns, r->t[i].dev);
			cmd_t[n++] = i;
		}
	if (n && interruptible && pending_term_signal()) {
		err = -EINTR;
		goto out;
	}
	err = run_cmds(p->netns, cmds, n, &done);
	for (k = 0; k < done; k++)
		u[(*nu)++] = (struct undo){ .kind = UNDO_QDISC_ADDED,
					    .target = cmd_t[k] };
	if (err)
		goto out;
	/*
	 * One load per hook section: --force loads afresh; otherwise the
	 * pinned program of this digest, when the namespace has it, serves.
	 */
	for (k = 0; k < 2; k++) {
		enum tc_hook h = hook_order[k];
		int first = -1;

		prog_pin_path(p->netns, p->digest, sec[h], false, path,
			      sizeof(path));
		if (o->force)
			unlink(path);
		pinned[h] = access(path, F_OK) == 0;
		for (i = 0; i < r->nt && first < 0; i++)
			if (r->t[i].ns == ns && (hp[i][h].op == OP_ADD ||
						 hp[i][h].op == OP_REPLACE))
				first = i;
		if (first < 0 || pinned[h])
			continue;
		if (interruptible && pending_term_signal()) {
			err = -EINTR;
			goto out;
		}
		target_name(&r->t[first], h, name, sizeof(name));
		tc_cmd_filter_set_sec(&cmds[0], hp[first][h].op == OP_ADD ?
				      "add" : "replace", p->netns,
				      r->t[first].dev, h, sec[h], &o->id,
				      p->obj);
		err = run_cmd(&cmds[0], name, 25, NULL);
		if (err) {
			pr_err("%s: attach failed (see the loader's message above)",
			       name);
			goto out;
		}
		undo_push(u, nu, first, h, &hp[first][h]);
		hp[first][h].done = true;
		err = prog_pin(p->netns, r->t[first].dev, h, &o->id,
			       p->digest, sec[h]);
		if (err)	/* each hook then loads the object itself */
			pr_warn("%s: cannot pin the loaded program (%s): every hook loads the object",
				name, strerror(-err));
		pinned[h] = err == 0;
		err = 0;
	}
	/* every other change: one batch */
	for (i = n = 0; i < r->nt; i++) {
		struct target *t = &r->t[i];

		for (k = 0; k < 2 && t->ns == ns; k++) {
			enum tc_hook h = hook_order[k];
			struct hook_plan *x = &hp[i][h];
			const char *op = x->op == OP_ADD ? "add" : "replace";

			if (x->done || x->op == OP_NONE || x->op == OP_KEEP)
				continue;
			prog_pin_path(p->netns, p->digest, sec[h], true, path,
				      sizeof(path));
			if (x->op == OP_DEL)
				tc_cmd_filter_del(&cmds[n], t->netns, t->dev, h,
						  &o->id);
			else if (pinned[h])
				tc_cmd_filter_set_pinned(&cmds[n], op, t->netns,
							 t->dev, h, &o->id,
							 path);
			else
				tc_cmd_filter_set_sec(&cmds[n], op, t->netns,
						      t->dev, h, sec[h],
						      &o->id, p->obj);
			cmd_t[n++] = i * 2 + h;
		}
	}
	if (n && interruptible && pending_term_signal()) {
		err = -EINTR;
		goto out;
	}
	err = run_cmds(p->netns, cmds, n, &done);
	for (k = 0; k < done; k++) {
		int ti = cmd_t[k] / 2;
		enum tc_hook h = cmd_t[k] % 2;

		undo_push(u, nu, ti, h, &hp[ti][h]);
		hp[ti][h].done = true;
	}
	if (err) {
		if (done < n) {
			target_name(&r->t[cmd_t[done] / 2], cmd_t[done] % 2,
				    name, sizeof(name));
			pr_err("%s: attach failed (see tc's message above)",
			       name);
		}
		goto out;
	}
	for (i = 0; i < r->nt; i++)
		for (k = 0; k < 2 && r->t[i].ns == ns; k++)
			print_hook_plan(&r->t[i], hook_order[k],
					&hp[i][hook_order[k]], o);
out:
	free(hp);
	free(clsact);
	free(cmds);
	free(cmd_t);
	return err;
}

static int attach_dry(struct request *r, const struct meter_opts *o)
{
	struct tc_cmd c;
	int i, k;

	printf("# dry run: nothing is executed\n");
	printf("mount -t bpf bpf /sys/fs/bpf    # if not mounted\n");
	printf("mount --bind /sys/fs/bpf %s    # if not mounted\n",
	       BPFFS_BIND_DIR);
	for (i = 0; i < r->nns; i++) {
		struct ns_plan *p = &r->ns[i];

		printf("mkdir -p %s/%s\n", FLOW_PIN_ROOT,
		       ifspec_pin_name(p->netns));
		printf("clang ... -o %s    # if not cached (flowctl ebpf code-dump -l %u%s%s%s)\n",
		       p->obj, p->max_flows, o->ifstats ? " --ifstats" : "",
		       o->precise_time ? " --precise-time" : "",
		       o->latency ? " --latency" : "");
	}
	for (i = 0; i < r->nt; i++) {
		struct target *t = &r->t[i];

		tc_cmd_qdisc_add(&c, t->netns, t->dev);
		print_dry(&c, "if clsact is missing");
		for (k = 0; k < 2; k++) {
			enum tc_hook h = hook_order[k];

			if (target_wants(t, h, stamp_only(o))) {
				tc_cmd_filter_set_sec(&c, "add", t->netns,
						      t->dev, h,
						      h == TC_HOOK_INGRESS &&
						      stamp_only(o) ?
						      FLOW_SEC_INGRESS_STAMP :
						      tc_hook_sec(h),
						      &o->id, r->ns[t->ns].obj);
				print_dry(&c, NULL);
			} else {
				tc_cmd_filter_del(&c, t->netns, t->dev, h,
						  &o->id);
				print_dry(&c, "if flowctl's filter is there");
			}
		}
	}
	return 0;
}

/*
 * Stale pins among the namespaces of R: take them away first, so that no
 * new incarnation is ever attached to the maps of an old one.
 */
static int attach_clear_stale(struct request *r, bool dry, bool in_agent)
{
	int i, err;

	for (i = 0; i < r->nns; i++) {
		const char *netns = r->ns[i].netns;
		enum pin_fate fate;
		bool has_id;

		if (!pin_dir_exists(netns))
			continue;
		fate = pin_fate(FLOW_PIN_ROOT, ifspec_pin_name(netns), &has_id);
		if (!pin_fate_stale(fate))
			continue;
		if (dry) {
			printf("rm -r %s/%s    # stale pins: the namespace was %s\n",
			       FLOW_PIN_ROOT, ifspec_pin_name(netns),
			       pin_fate_name(fate));
			continue;
		}
		err = stale_pins_clear(netns, fate, has_id, in_agent);
		if (err)
			return err;
	}
	return 0;
}

/* Record, in each pin dir of R, which incarnation it belongs to. */
static int attach_write_identity(struct request *r)
{
	int i, err;

	for (i = 0; i < r->nns; i++) {
		const char *pin = ifspec_pin_name(r->ns[i].netns);
		struct netns_id now, rec;

		err = netns_id_get(r->ns[i].netns, &now);
		if (err) {
			pr_err("%s: cannot identify the namespace: %s", pin,
			       strerror(-err));
			return err;
		}
		/* pins of an older flowctl are adopted by the namespace */
		if (pin_identity_read(FLOW_PIN_ROOT, pin, &rec, NULL) == 0 &&
		    netns_id_same(&rec, &now))
			continue;
		err = pin_identity_write(FLOW_PIN_ROOT, pin, &now);
		if (err)
			return err;
	}
	return 0;
}

int meter_attach(const struct ifspec *specs, int n,
		 const struct meter_opts *o)
{
	struct request r = { 0 };
	struct undo *u = NULL;
	int lock = -1, nu = 0, i, err, sig = 0;
	bool interruptible = true, changed = false;
	sigset_t term, old_mask;
	char reason[512];

	/*
	 * The latency is measured at egress (stamped at ingress, by the
	 * metering program or, with egress alone, by a stamp-only one):
	 * without the egress hook there is nothing to measure.
	 */
	if (o->latency && !(o->hooks & METER_HOOK_EGRESS)) {
		pr_err("--latency is measured at the egress hook: use --hooks egress (the default) or both");
		return -FLOWCTL_EREQUEST;
	}
	lock = o->dry ? -1 : flowctl_lock(LOCK_TIMEOUT_S);
	if (lock < 0 && !o->dry)
		return lock;
	/*
	 * From here on a terminating signal waits for the next step
	 * boundary: then what this request did is rolled back.
	 */
	term_signals(&term);
	sigprocmask(SIG_BLOCK, &term, &old_mask);
	err = request_resolve(specs, n, &r, true, o->hooks);
	if (err)
		goto out;
	if (!r.nt) {
		pr_err("no interface to attach to");
		err = -FLOWCTL_EREQUEST;
		goto out;
	}
	if (!o->dry) {
		err = bpffs_ensure();
		if (err)
			goto out;
	}
	err = attach_clear_stale(&r, o->dry, o->in_agent);
	if (err)
		goto out;

	/* Plan each namespace: its flow limit, its object, its pins. */
	for (i = 0; i < r.nns; i++) {
		struct ns_plan *p = &r.ns[i];
		unsigned int pinned = pinned_flow_limit(p->netns);
		struct ebpf_knobs k;
		char *src;
		size_t len;

		ebpf_knobs_default(&k);
		if (o->ifstats)
			k.ifstats = true;
		if (o->precise_time)
			k.coarse_time = false;
		k.latency = o->latency;
		k.no_prealloc = o->no_prealloc;
		p->pins_existed = pin_dir_exists(p->netns);
		/* no -l: keep the namespace's limit (or the default) */
		p->max_flows = o->max_flows ? o->max_flows :
			       pinned ? pinned : k.max_flows;
		k.max_flows = p->max_flows;
		if (pins_compatible(p->netns, p->max_flows, o->no_prealloc,
				    reason, sizeof(reason))) {
			if (!o->force) {
				pr_err("%s: %s; run again with --force to replace them (flows not yet exported are lost)",
				       ifspec_pin_name(p->netns), reason);
				err = -FLOWCTL_EREQUEST;
				goto out;
			}
			p->replace_pins = true;
		}
		if (o->dry) {
			err = ebpf_render(&k, &src, &len);
			if (!err) {
				err = ebpf_digest(src, len, p->digest);
				free(src);
			}
			snprintf(p->obj, sizeof(p->obj), "%s/%s.bpf.o",
				 EBPF_CACHE_DIR, p->digest);
		} else {
			err = ebpf_build(&k, EBPF_CACHE_DIR, p->obj,
					 sizeof(p->obj), p->digest);
		}
		if (err)
			goto out;
		if (!o->dry && (sig = pending_term_signal())) {
			err = -EINTR;
			goto out;
		}
	}
	if (o->dry) {
		err = attach_dry(&r, o);
		goto out;
	}

	for (i = 0; i < r.nns; i++) {
		if (!r.ns[i].replace_pins)
			continue;
		/* the old maps are gone now: nothing to go back to */
		interruptible = false;
		changed = true;
		err = replace_pins(&r, i, &o->id);
		if (err)
			goto out;
	}
	/* after replace_pins: it adds the namespace's other devices */
	u = calloc(r.nt * 3 + 1, sizeof(*u));
	if (!u) {
		err = -ENOMEM;
		goto out;
	}
	changed = true;
	for (i = 0; i < r.nns && !err; i++)
		err = pin_dir_create(r.ns[i].netns);
	if (!err)
		err = attach_write_identity(&r);
	for (i = 0; i < r.nns && !err; i++) {
		if (interruptible && (sig = pending_term_signal()))
			err = -EINTR;
		else
			err = attach_ns(&r, i, o, u, &nu, interruptible);
	}
	/* what the agent reads: the hooks of each device */
	for (i = 0; i < r.nt && !err; i++)
		if (pin_hooks_set(FLOW_PIN_ROOT, ifspec_pin_name(r.t[i].netns),
				  r.t[i].ifindex, r.t[i].hooks))
			pr_warn("%s: the hooks metered are not recorded for the agent",
				r.t[i].dev);
	if (err == -EINTR && !sig)
		sig = pending_term_signal();
	if (err && err == -EINTR) {
		undo_all(&r, u, nu, &o->id);
		pr_err("interrupted: rolled back (%s; %d change(s) of this request undone)",
		       sig ? strsignal(sig) : "signal", nu);
	} else if (err) {
		pr_err("rolling back the %d change(s) of this request", nu);
		undo_all(&r, u, nu, &o->id);
	}
out:
	if (err == -EINTR && !changed)
		pr_err("interrupted: nothing was changed (%s)",
		       sig ? strsignal(sig) : "signal");
	free(u);
	request_free(&r);
	flowctl_unlock(lock);
	/*
	 * A signal that ended the request was handled: take it off (unless
	 * the caller itself holds it back, like the agent's signalfd).  One
	 * that came after the last step ends the process as usual.
	 */
	if (err == -EINTR) {
		struct timespec zero = { 0 };
		sigset_t mine = term;
		int k;

		for (k = 1; k < NSIG; k++)
			if (sigismember(&old_mask, k))
				sigdelset(&mine, k);
		while (sigtimedwait(&mine, NULL, &zero) > 0)
			;
	}
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	return err;
}

/* ---- detach ------------------------------------------------------------ */

static bool strset_holds(const struct strset *set, const char *name)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		if (!strcmp(set->s[i], name))
			return true;
	return false;
}

/*
 * Does any device of NETNS still carry an ebpflow filter (any pref)?
 * Pinned programs (<digest>_tc-HOOK) no filter uses any more are unpinned.
 */
struct meter_scan {
	struct strset used;	/* "<digest>_tc-HOOK" of the filters seen */
	bool any;
};

static void meter_scan_one(void *ctx, int i, enum tc_hook h,
			   struct json_object *arr)
{
	struct meter_scan *m = ctx;
	struct hook_state st;
	char key[EBPF_DIGEST_LEN + SEC_MAX + 2];

	hook_state_parse(arr, NULL, &st, NULL);
	if (!st.present)
		return;
	m->any = true;
	snprintf(key, sizeof(key), "%s_%s", st.digest, st.sec);
	strset_intern(&m->used, key);
}

static bool netns_has_meter(const char *netns)
{
	struct meter_scan m = { .any = false };
	struct dev_entry *devs;
	const char **names = NULL;
	bool *clsact = NULL;
	char dir[400];
	struct dirent *de;
	int nd, j;
	bool any, unknown = false;
	DIR *d;

	if (netns_devices(netns, &devs, &nd))
		return true;	/* unknown: keep the pins */
	names = calloc(nd + 1, sizeof(*names));
	clsact = calloc(nd + 1, sizeof(*clsact));
	for (j = 0; names && j < nd; j++)
		names[j] = devs[j].name;
	/* two processes for the namespace, whatever its devices */
	if (!names || !clsact ||
	    devs_clsact(netns, names, nd, clsact) ||
	    devs_filters(netns, names, nd, clsact, meter_scan_one, &m))
		unknown = m.any = true;
	any = m.any;
	free(names);
	free(clsact);
	free(devs);
	pin_dir_path(netns, dir, sizeof(dir));
	d = unknown || !any ? NULL : opendir(dir);
	while (d && (de = readdir(d))) {
		char digest[EBPF_DIGEST_LEN + 1], path[700];

		if (!strchr(de->d_name, '_') ||
		    strlen(de->d_name) <= EBPF_DIGEST_LEN ||
		    de->d_name[EBPF_DIGEST_LEN] != '_' ||
		    !parse_bpf_name(de->d_name, digest, NULL) ||
		    strset_holds(&m.used, de->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (unlink(path) == 0)
			pr_debug("%s: unpinned %s (no filter uses it)",
				 ifspec_pin_name(netns), de->d_name);
	}
	if (d)
		closedir(d);
	strset_free(&m.used);
	return any;
}

/*
 * Detach from namespaces that are gone but left pins: there is nothing to
 * take off, only the pins.  SPECS of such namespaces are moved out of the
 * request into GONE (pin names), the others are kept in LIVE.
 */
static void detach_split(const struct ifspec *specs, int n,
			 struct ifspec *live, int *nlive,
			 char (*gone)[NETNS_NAME_MAX], int *ngone)
{
	int i, j;

	*nlive = *ngone = 0;
	for (i = 0; i < n; i++) {
		const char *ns = specs[i].netns;
		bool dup = false;

		if (!ns[0] || netns_exists(ns) || !pin_dir_exists(ns)) {
			live[(*nlive)++] = specs[i];	/* resolved as before */
			continue;
		}
		for (j = 0; j < *ngone; j++)
			dup |= !strcmp(gone[j], ns);
		if (!dup)
			snprintf(gone[(*ngone)++], NETNS_NAME_MAX, "%s", ns);
	}
}

/* Pins of NETNS left by a namespace that is gone or was re-created. */
static int detach_stale(const char *netns, bool dry)
{
	enum pin_fate fate;
	bool has_id;

	fate = pin_fate(FLOW_PIN_ROOT, ifspec_pin_name(netns), &has_id);
	if (!pin_fate_stale(fate))
		return 0;
	if (dry) {
		printf("rm -r %s/%s    # stale pins: the namespace was %s\n",
		       FLOW_PIN_ROOT, ifspec_pin_name(netns),
		       pin_fate_name(fate));
		return 0;
	}
	return stale_pins_clear(netns, fate, has_id, false);
}

/* Hooks of the targets that still hold any filter (empty[t]: none). */
static void count_filters(void *ctx, int t, enum tc_hook h,
			  struct json_object *arr)
{
	bool *empty = ctx;

	if (arr && json_object_is_type(arr, json_type_array) &&
	    json_object_array_length(arr))
		empty[t] = false;
}

/*
 * Take flowctl's filters off the hooks of the targets of namespace NS, in
 * a fixed number of processes whatever their number: one query (ns_query),
 * one `tc -batch` of `filter del`, one query of what is left, one
 * `tc -batch` of `qdisc del` for the clsact qdiscs left empty.  Prints the
 * original's line `NETNS:DEV (changed|unchanged)` per target, in order;
 * -o wide adds each hook's state.  Returns the number of failures.
 */
static int detach_ns(struct request *r, int ns, const struct meter_opts *o)
{
	const char *netns = r->ns[ns].netns;
	struct hook_plan (*hp)[2] = calloc(r->nt, sizeof(*hp));
	const char *(*state)[2] = calloc(r->nt, sizeof(*state));
	bool *clsact = calloc(r->nt, sizeof(*clsact));
	bool *empty = calloc(r->nt, sizeof(*empty));
	bool *changed = calloc(r->nt, sizeof(*changed));
	struct tc_cmd *cmds = calloc(2 * r->nt + 1, sizeof(*cmds));
	int *cmd_t = calloc(2 * r->nt + 1, sizeof(*cmd_t));
	char name[NETNS_NAME_MAX + IFNAMSIZ + 32];
	int i, k, n = 0, done = 0, failed = 0;

	if (!hp || !state || !clsact || !empty || !changed || !cmds ||
	    !cmd_t) {
		failed++;
		goto out;
	}
	for (i = 0; i < r->nt; i++)
		for (k = 0; k < 2; k++)
			state[i][k] = "-";
	if (o->dry) {
		for (i = 0; i < r->nt; i++)
			for (k = 0; k < 2 && r->t[i].ns == ns; k++) {
				tc_cmd_filter_del(&cmds[0], netns, r->t[i].dev,
						  hook_order[k], &o->id);
				print_dry(&cmds[0], "if attached");
			}
		goto out;
	}
	if (ns_query(r, ns, &o->id, hp, clsact)) {
		for (i = 0; i < r->nt; i++)
			failed += r->t[i].ns == ns;
		goto out;
	}
	for (i = 0; i < r->nt; i++) {
		for (k = 0; k < 2 && r->t[i].ns == ns; k++) {
			enum tc_hook h = hook_order[k];
			const struct hook_state *st = &hp[i][h].st;

			state[i][k] = "not-attached";
			if (!st->present)
				continue;
			if (!st->ours) {
				target_name(&r->t[i], h, name, sizeof(name));
				pr_warn("%s: the filter at pref %u handle %u is not flowctl's (%s); left alone",
					name, o->id.pref, o->id.handle,
					st->bpf_name);
				state[i][k] = "foreign";
				continue;
			}
			tc_cmd_filter_del(&cmds[n], netns, r->t[i].dev, h,
					  &o->id);
			cmd_t[n++] = i * 2 + k;
		}
	}
	run_cmds(netns, cmds, n, &done);
	for (k = 0; k < n; k++) {
		i = cmd_t[k] / 2;
		state[i][cmd_t[k] % 2] = k < done ? "detached" : "failed";
		if (k < done)
			changed[i] = true;
		else
			failed++;
	}
	/* clsact qdiscs nothing else uses any more: one batch */
	for (i = 0; i < r->nt; i++)
		empty[i] = r->t[i].ns == ns && clsact[i];
	if (ns_filters(r, ns, clsact, count_filters, empty) == 0) {
		for (i = 0; i < r->nt; i++)
			empty[i] = empty[i] && clsact[i];
		for (i = n = 0; i < r->nt; i++)
			if (empty[i]) {
				tc_cmd_qdisc_del(&cmds[n], netns, r->t[i].dev);
				cmd_t[n++] = i;
			}
		run_cmds(netns, cmds, n, &done);
	}
	for (i = 0; i < r->nt; i++) {
		const struct target *t = &r->t[i];

		if (t->ns != ns)
			continue;
		if (pin_dir_exists(t->netns))
			pin_hooks_set(FLOW_PIN_ROOT, ifspec_pin_name(t->netns),
				      t->ifindex, 0);
		printf("%s:%s (%s)", ifspec_pin_name(t->netns), t->dev,
		       changed[i] ? "changed" : "unchanged");
		if (o->output == METER_OUT_WIDE)
			printf(" egress=%s ingress=%s", state[i][0],
			       state[i][1]);
		printf("\n");
	}
out:
	free(hp);
	free(state);
	free(clsact);
	free(empty);
	free(changed);
	free(cmds);
	free(cmd_t);
	return failed;
}

int meter_detach(const struct ifspec *specs, int n,
		 const struct meter_opts *o)
{
	struct request r = { 0 };
	char (*gone)[NETNS_NAME_MAX] = NULL;
	struct ifspec *live = NULL, *x = NULL;
	int *origin = NULL;
	int lock, i, err, failed = 0, nlive = 0, ngone = 0, nx = 0;

	lock = o->dry ? -1 : flowctl_lock(LOCK_TIMEOUT_S);
	if (lock < 0 && !o->dry)
		return lock;
	/* patterns: live namespaces and the pins of gone ones */
	err = specs_expand(specs, n, true, &x, &origin, &nx);
	if (err)
		goto out;
	live = calloc(nx + 1, sizeof(*live));
	gone = calloc(nx + 1, sizeof(*gone));
	if (!live || !gone) {
		err = -ENOMEM;
		goto out;
	}
	detach_split(x, nx, live, &nlive, gone, &ngone);
	err = request_resolve(live, nlive, &r, false, METER_HOOKS_BOTH);
	if (err)
		goto out;
	for (i = 0; i < ngone; i++)
		if (detach_stale(gone[i], o->dry))
			failed++;
	for (i = 0; i < r.nns; i++)
		failed += detach_ns(&r, i, o);
	for (i = 0; i < r.nns && !o->dry; i++) {
		const char *ns = r.ns[i].netns;

		if (pin_dir_exists(ns) && !netns_has_meter(ns)) {
			enum pin_fate fate;
			bool has_id;

			/* a re-created namespace: the pins are its
			 * predecessor's */
			fate = pin_fate(FLOW_PIN_ROOT, ifspec_pin_name(ns),
					&has_id);
			if (pin_fate_stale(fate)) {
				if (stale_pins_clear(ns, fate, has_id, false))
					failed++;
				continue;
			}
			if (pin_dir_remove(ns) == 0)
				pr_info("%s: no meter left, pins removed",
					ifspec_pin_name(ns));
			else
				failed++;
		}
	}
	err = failed ? -EIO : 0;
out:
	free(x);
	free(origin);
	free(live);
	free(gone);
	request_free(&r);
	flowctl_unlock(lock);
	return err;
}

/* ---- status ------------------------------------------------------------ */

/* Wall-clock time (unix seconds) of a program's load. */
static long long prog_load_time(unsigned int id)
{
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info);
	struct timespec rt, bt;
	int fd;

	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		close(fd);
		return 0;
	}
	close(fd);
	/* load_time is in CLOCK_BOOTTIME nanoseconds */
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_BOOTTIME, &bt);
	return rt.tv_sec - (bt.tv_sec - (long long)(info.load_time / 1000000000ULL));
}

static void fmt_time(long long t, char *buf, int size)
{
	struct tm tm;
	time_t tt = t;

	if (!t) {
		snprintf(buf, size, "-");
		return;
	}
	gmtime_r(&tt, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Named namespaces (/run/netns) plus pin dirs of vanished ones. */
static int list_netns(char ***names, int *n)
{
	const char *dirs[] = { NETNS_RUN_DIR, FLOW_PIN_ROOT };
	char **v = NULL;
	int cnt = 0, i, k;

	for (k = 0; k < 2; k++) {
		struct dirent *de;
		DIR *d = opendir(dirs[k]);

		if (!d)
			continue;
		while ((de = readdir(d))) {
			bool dup = false;
			char **nv;

			if (de->d_name[0] == '.' ||
			    !strcmp(de->d_name, FLOW_ROOT_NETNS))
				continue;
			for (i = 0; i < cnt; i++)
				dup |= !strcmp(v[i], de->d_name);
			if (dup)
				continue;
			nv = realloc(v, (cnt + 1) * sizeof(*v));
			if (!nv)
				break;
			v = nv;
			v[cnt++] = strdup(de->d_name);
		}
		closedir(d);
	}
	if (cnt)
		qsort(v, cnt, sizeof(*v), cmp_str);
	*names = v;
	*n = cnt;
	return 0;
}

/*
 * S as the status output shows it: escaped for the text table, UTF-8 for
 * JSON (json-c escapes the rest); names are any bytes.  Into BUF.
 */
static const char *status_name(const char *s, bool json, char *buf,
			       size_t size)
{
	char *utf8;

	if (!json) {
		str_escape_c(buf, size, s);
		return buf;
	}
	utf8 = str_utf8_dup(s);
	snprintf(buf, size, "%s", utf8 ? utf8 : "?");
	free(utf8);
	return buf;
}

/* The locked kernel memory of the BPF object pinned at PATH (fdinfo). */
static unsigned long long pin_memlock(const char *path)
{
	unsigned long long v = 0;
	char fdinfo[64], line[128];
	FILE *f;
	int fd = bpf_obj_get(path);

	if (fd < 0)
		return 0;
	snprintf(fdinfo, sizeof(fdinfo), "/proc/self/fdinfo/%d", fd);
	f = fopen(fdinfo, "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %llu", &v) == 1)
			break;
	if (f)
		fclose(f);
	close(fd);
	return v;
}

/*
 * The locked kernel memory of everything pinned for NETNS: its maps
 * (tc/globals), the identity and hooks maps and its pinned programs.
 */
static unsigned long long ns_memlock(const char *netns)
{
	unsigned long long sum = 0;
	char dir[400], sub[480], path[800];
	const char *dirs[2] = { dir, sub };
	int k;

	pin_dir_path(netns, dir, sizeof(dir));
	snprintf(sub, sizeof(sub), "%s/%s", dir, FLOW_PIN_GLOBALS);
	for (k = 0; k < 2; k++) {
		struct dirent *de;
		DIR *d = opendir(dirs[k]);

		while (d && (de = readdir(d))) {
			if (de->d_name[0] == '.' || de->d_type == DT_DIR)
				continue;
			snprintf(path, sizeof(path), "%s/%s", dirs[k],
				 de->d_name);
			sum += pin_memlock(path);
		}
		if (d)
			closedir(d);
	}
	return sum;
}

/* The original's time format (Go's time.String()), in UTC. */
static void fmt_time_go(long long t, char *buf, int size)
{
	struct tm tm;
	time_t tt = t;

	gmtime_r(&tt, &tm);
	strftime(buf, size, "%Y-%m-%d %H:%M:%S +0000 UTC", &tm);
}

/* "pref/chain/handle" (static buffer) */
static const char *pch(const struct tc_filter_id *id)
{
	static char buf[48];

	snprintf(buf, sizeof(buf), "%u/%u/%u", id->pref, id->chain,
		 id->handle);
	return buf;
}

/*
 * One hook in the original's lines: `NETNS:DEV:HOOK = <nil>`, or
 * `.digest`, `.limit` and `.attached` lines.
 */
static void status_hook_normal(const char *pin, const char *dev,
			       enum tc_hook h, const struct hook_state *st,
			       unsigned int limit, long long at)
{
	char when[64];

	if (!st->present) {
		printf("%s:%s:%s = <nil>\n", pin, dev, tc_hook_name(h));
		return;
	}
	fmt_time_go(at, when, sizeof(when));
	printf("%s:%s:%s.digest = %s\n", pin, dev, tc_hook_name(h),
	       st->digest);
	printf("%s:%s:%s.limit = %u\n", pin, dev, tc_hook_name(h), limit);
	printf("%s:%s:%s.attached = %s\n", pin, dev, tc_hook_name(h), when);
}

static void status_ns(const char *netns, enum meter_output out,
		      struct json_object *jarr)
{
	bool json = out == METER_OUT_JSON;
	struct dev_hooks *dh = NULL;
	char pin_buf[4 * 256 + 1], dev_buf[4 * IFNAMSIZ + 1];
	const char *pin = status_name(ifspec_pin_name(netns), json, pin_buf,
				      sizeof(pin_buf));
	bool pinned = pin_dir_exists(netns);
	enum pin_fate fate = pinned ? pin_fate(FLOW_PIN_ROOT,
						 ifspec_pin_name(netns), NULL) :
			     PIN_LIVE;
	unsigned int limit = pinned_flow_limit(netns);
	unsigned long long memlock = pinned && out != METER_OUT_NORMAL ?
				     ns_memlock(netns) : 0;
	struct json_object *jns = NULL, *jifs = NULL;
	struct dev_entry *devs = NULL;
	int nd = 0, j, k;

	if (json) {
		jns = json_object_new_object();
		json_object_object_add(jns, "netns", json_object_new_string(pin));
		json_object_object_add(jns, "exists",
				       json_object_new_boolean(netns_exists(netns)));
		json_object_object_add(jns, "pinned", json_object_new_boolean(pinned));
		json_object_object_add(jns, "flowLimit", json_object_new_int64(limit));
		json_object_object_add(jns, "memlockBytes", json_object_new_int64(memlock));
		json_object_object_add(jns, "stale",
				       json_object_new_boolean(pin_fate_stale(fate)));
		if (pin_fate_stale(fate))
			json_object_object_add(jns, "staleReason",
					       json_object_new_string(pin_fate_name(fate)));
		jifs = json_object_new_array();
		json_object_object_add(jns, "interfaces", jifs);
		json_object_array_add(jarr, jns);
	}
	if (pin_fate_stale(fate)) {
		if (out == METER_OUT_WIDE)
			printf("%-12s %-12s %-8s %-9s (pins of a namespace that was %s: `flowctl meter detach -i %s:*` exports or discards them)\n",
			       pin, "-", "-", "stale",
			       fate == PIN_GONE ? "deleted" : "re-created",
			       pin);
		else if (!json)
			pr_warn("%s: pins of a namespace that was %s (stale): `flowctl meter detach -i %s:*` exports or discards them",
				pin, fate == PIN_GONE ? "deleted" : "re-created",
				pin);
		return;
	}
	if (!netns_exists(netns))
		return;
	if (netns_devices(netns, &devs, &nd))
		return;
	/* every hook of the namespace in two processes; unknown: absent */
	if (devs_hook_states(netns, devs, nd, NULL, &dh))
		dh = calloc(nd + 1, sizeof(*dh));
	for (j = 0; j < nd && dh; j++) {
		struct json_object *jif = NULL;
		const char *dev = status_name(devs[j].name, json, dev_buf,
					      sizeof(dev_buf));

		if (!strcmp(devs[j].name, "lo"))
			continue;
		if (json) {
			jif = json_object_new_object();
			json_object_object_add(jif, "device",
					       json_object_new_string(dev));
			json_object_object_add(jif, "ifindex",
					       json_object_new_int(devs[j].ifindex));
			json_object_array_add(jifs, jif);
		}
		for (k = 0; k < 2; k++) {
			enum tc_hook h = hook_order[k];
			struct hook_state st = dh[j].st[h];
			struct tc_filter_id fid = dh[j].fid[h];
			long long at = 0;
			char when[32];

			if (st.present)
				at = prog_load_time(st.prog_id);
			if (out == METER_OUT_NORMAL) {
				status_hook_normal(pin, dev, h, &st, limit, at);
				continue;
			}
			fmt_time(at, when, sizeof(when));
			if (json) {
				struct json_object *jh = json_object_new_object();

				json_object_object_add(jh, "attached",
						       json_object_new_boolean(st.present));
				if (st.present) {
					json_object_object_add(jh, "digest", json_object_new_string(st.digest));
					json_object_object_add(jh, "flowLimit", json_object_new_int64(limit));
					json_object_object_add(jh, "progId", json_object_new_int64(st.prog_id));
					json_object_object_add(jh, "pref", json_object_new_int64(fid.pref));
					json_object_object_add(jh, "chain", json_object_new_int64(fid.chain));
					json_object_object_add(jh, "handle", json_object_new_int64(fid.handle));
					json_object_object_add(jh, "attachedAt", json_object_new_string(when));
				}
				json_object_object_add(jif, tc_hook_name(h), jh);
				continue;
			}
			if (!st.present) {
				printf("%-12s %-12s %-8s %-9s\n", pin, dev,
				       tc_hook_name(h), "-");
				continue;
			}
			printf("%-12s %-12s %-8s %-9s %-12.12s %-10u %-7u %-20s %-17s %llu\n",
			       pin, dev, tc_hook_name(h), "attached",
			       st.digest, limit, st.prog_id, when, pch(&fid),
			       memlock);
		}
	}
	free(dh);
	free(devs);
}

/*
 * -o normal is the original's: one `NETNS:DEV:HOOK...` group of lines per
 * hook, the named namespaces first, the root namespace (DEFAULT) last.
 * -o wide is flowctl's table; -o json the same as JSON.
 */
int meter_status(const char *netns, enum meter_output out)
{
	bool json = out == METER_OUT_JSON;
	struct json_object *jarr = json ? json_object_new_array() : NULL;
	char **names = NULL;
	int n = 0, i;

	if (netns && netns[0] && !netns_exists(netns) && !pin_dir_exists(netns)) {
		pr_err("network namespace '%s' does not exist", netns);
		json_object_put(jarr);
		return -FLOWCTL_EREQUEST;
	}
	if (out == METER_OUT_WIDE)
		printf("%-12s %-12s %-8s %-9s %-12s %-10s %-7s %-20s %-17s %s\n",
		       "NETNS", "DEVICE", "HOOK", "STATE", "DIGEST",
		       "FLOWLIMIT", "PROGID", "ATTACHED", "PREF/CHAIN/HANDLE",
		       "MEMLOCK");
	if (netns) {
		status_ns(strcmp(netns, FLOW_ROOT_NETNS) ? netns : "", out,
			  jarr);
	} else {
		if (out != METER_OUT_NORMAL)
			status_ns("", out, jarr);
		list_netns(&names, &n);
		for (i = 0; i < n; i++)
			status_ns(names[i], out, jarr);
		free_names(names, n);
		if (out == METER_OUT_NORMAL)
			status_ns("", out, jarr);
	}
	if (json) {
		printf("%s\n", json_object_to_json_string_ext(jarr,
			JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(jarr);
	}
	return 0;
}

/* ---- the hooks in use, for the agent ------------------------------------ */

static void hooks_union(__u32 ifindex, __u32 hooks, void *arg)
{
	(void)ifindex;
	*(unsigned int *)arg |= hooks & METER_HOOKS_BOTH;
}

/*
 * A forwarded packet is counted twice when it enters a device metered at
 * ingress and leaves one metered at egress: both hooks in use within one
 * namespace (not necessarily on one device).
 */
unsigned int meter_hooks_in_use(const char *root, char *both_where, int size)
{
	unsigned int all = 0;
	struct dirent *de;
	DIR *d = opendir(root);

	if (both_where && size)
		both_where[0] = '\0';
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		unsigned int ns = 0;

		if (de->d_name[0] == '.')
			continue;
		pin_hooks_each(root, de->d_name, hooks_union, &ns);
		if (ns == METER_HOOKS_BOTH && both_where && size &&
		    !both_where[0])
			snprintf(both_where, size, "%s", de->d_name);
		all |= ns;
	}
	closedir(d);
	return all;
}
