/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The meter's lifecycle: attach, detach and status of the ebpflow programs
 * on tc clsact hooks, through iproute2, with one set of pinned maps per
 * network namespace.
 */
#ifndef FLOWCTL_METER_H
#define FLOWCTL_METER_H

#include <stdbool.h>

#include "ebpf_build.h"
#include "error.h"
#include "ifspec.h"
#include "tc.h"

/* Hooks to meter (--hooks): bits of enum tc_hook. */
#define METER_HOOK_INGRESS	(1U << TC_HOOK_INGRESS)
#define METER_HOOK_EGRESS	(1U << TC_HOOK_EGRESS)
#define METER_HOOKS_BOTH	(METER_HOOK_INGRESS | METER_HOOK_EGRESS)

/* "egress", "ingress", "both" (or "none") */
const char *meter_hooks_name(unsigned int hooks);
/* Parse --hooks: 0 or -EINVAL. */
int meter_hooks_parse(const char *s, unsigned int *hooks);

enum meter_output {
	METER_OUT_NORMAL,	/* the original's lines */
	METER_OUT_WIDE,		/* ... and flowctl's columns */
	METER_OUT_JSON,
};

struct meter_opts {
	struct tc_filter_id id;		/* pref 100, chain 0, handle 1 */
	/*
	 * Hooks to meter, METER_HOOK_EGRESS by default: a forwarded packet
	 * is counted once, where both its ifindexes are known (as the
	 * original did).  A hook of the device not asked for that carries
	 * flowctl's filter is detached.
	 */
	unsigned int hooks;
	enum meter_output output;
	unsigned int max_flows;		/* -l; 0: keep the namespace's own */
	bool ifstats;			/* --ifstats: per-packet totals */
	bool precise_time;		/* --precise-time: last seen too */
	bool latency;			/* --latency: forwarding latency */
	bool no_prealloc;		/* --no-prealloc: flow maps grow */
	bool force;			/* -f: re-attach, replace pins */
	bool dry;			/* print the commands, run nothing */
	/*
	 * The caller is the agent (its config's interfaces): it may hold
	 * the pin root's agent lock itself, so stale pins are not left to
	 * "the agent" but counted and removed here.
	 */
	bool in_agent;
};

void meter_opts_default(struct meter_opts *o);

/*
 * Attach to every interface of SPECS, both hooks.  All or nothing: on a
 * failure what this call did is undone.  Prints NETNS:DEV:HOOK (state) per
 * hook.  Returns 0, -FLOWCTL_EREQUEST for a request to change (bad interface,
 * flow limit conflict without --force), or -errno.
 */
int meter_attach(const struct ifspec *specs, int n,
		 const struct meter_opts *o);

/* Remove the filters flowctl added (matching pref/chain/handle); remove a
 * namespace's pins when no meter is left in it. */
int meter_detach(const struct ifspec *specs, int n,
		 const struct meter_opts *o);

/* Print every namespace and interface, per hook attached or not. */
int meter_status(const char *netns, enum meter_output out);

/*
 * Which hooks flowctl meters on the devices of every namespace pinned
 * under ROOT (the union of what `meter attach` recorded).  BOTH_WHERE
 * (may be NULL) receives the first namespace (pin name) that meters
 * both hooks, where a forwarded packet is counted twice.
 */
unsigned int meter_hooks_in_use(const char *root, char *both_where,
				int size);

#endif
