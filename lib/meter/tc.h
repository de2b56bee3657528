/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Command lines for iproute2 (tc, ip), built as argv arrays (never shell
 * strings).  A command in a named namespace runs as `ip netns exec NS tc ...`;
 * one in the root namespace as `tc ...`.
 */
#ifndef FLOWCTL_TC_H
#define FLOWCTL_TC_H

#include <stdbool.h>

#include "exec.h"
#include "rundir.h"

enum tc_hook {
	TC_HOOK_INGRESS = 0,
	TC_HOOK_EGRESS = 1,
};

const char *tc_hook_name(enum tc_hook hook);	/* "ingress" / "egress" */
const char *tc_hook_sec(enum tc_hook hook);	/* FLOW_SEC_INGRESS / ... */

/*
 * flowctl's filter: its tc preference, chain and handle (--pref, --chain,
 * --handle), their defaults and ranges (decimal: the CLI's help texts
 * print them).
 */
struct tc_filter_id {
	unsigned int pref;
	unsigned int chain;
	unsigned int handle;
};
#define TC_PREF_DEFAULT		100
#define TC_PREF_MAX		65535
#define TC_CHAIN_DEFAULT	0
#define TC_CHAIN_MAX		268435455	/* 2^28 - 1 */
#define TC_HANDLE_DEFAULT	1
#define TC_HANDLE_MAX		4294967295	/* 2^32 - 1 */

#define TC_CMD_MAX_ARGS 40

struct tc_cmd {
	char *argv[TC_CMD_MAX_ARGS];
	char *env[2];		/* TC_BPF_MNT=... for filter add/replace */
	int argc;
	char store[1024];	/* backing store of the numbers and env */
	int used;
};

void tc_cmd_qdisc_add(struct tc_cmd *c, const char *netns, const char *dev);
void tc_cmd_qdisc_del(struct tc_cmd *c, const char *netns, const char *dev);
void tc_cmd_qdisc_show(struct tc_cmd *c, const char *netns, const char *dev);
void tc_cmd_filter_show(struct tc_cmd *c, const char *netns, const char *dev,
			enum tc_hook hook);
/* OP: "add" or "replace".  OBJ: object path.  */
void tc_cmd_filter_set(struct tc_cmd *c, const char *op, const char *netns,
		       const char *dev, enum tc_hook hook,
		       const struct tc_filter_id *id, const char *obj);
/* The same with the object's section SEC (e.g. FLOW_SEC_INGRESS_STAMP). */
void tc_cmd_filter_set_sec(struct tc_cmd *c, const char *op,
			   const char *netns, const char *dev,
			   enum tc_hook hook, const char *sec,
			   const struct tc_filter_id *id, const char *obj);
void tc_cmd_filter_del(struct tc_cmd *c, const char *netns, const char *dev,
		       enum tc_hook hook, const struct tc_filter_id *id);
void ip_cmd_link_show(struct tc_cmd *c, const char *netns);
/* `tc -j qdisc show` of every device of the namespace. */
void tc_cmd_qdisc_show_all(struct tc_cmd *c, const char *netns);
/* `tc [-j] -batch -`: commands from stdin, one per line. */
void tc_cmd_batch(struct tc_cmd *c, const char *netns, bool json);
/*
 * Attach the program pinned at PIN (a path tc reaches inside the
 * namespace, see tc_pin_mnt) instead of loading an object:
 * `tc filter OP ... bpf da object-pinned PIN`.
 */
void tc_cmd_filter_set_pinned(struct tc_cmd *c, const char *op,
			      const char *netns, const char *dev,
			      enum tc_hook hook, const struct tc_filter_id *id,
			      const char *pin);
/*
 * Append C as one line of a `tc -batch` input to *BUF (realloc'ed,
 * *LEN bytes used).  -EINVAL when an argument cannot be written on a
 * batch line (blank, quote, backslash, '#'): run C on its own then.
 */
int tc_cmd_batch_line(const struct tc_cmd *c, char **buf, size_t *len);

/* TC_BPF_MNT of a namespace: where tc pins tc/globals/ maps. */
void tc_pin_mnt(const char *netns, char *buf, int size);

/* Run it; 0 when it ran (res->status says how), -errno otherwise. */
int tc_cmd_run(const struct tc_cmd *c, struct exec_result *res);
/* The same with IN (LEN bytes) on its stdin. */
int tc_cmd_run_in(const struct tc_cmd *c, const char *in, size_t len,
		  struct exec_result *res);

/* Printable line ("TC_BPF_MNT=... ip netns exec ..."), malloc'ed. */
char *tc_cmd_str(const struct tc_cmd *c);

#endif
