// SPDX-License-Identifier: Apache-2.0
#include "tc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow_abi.h"
#include "ifspec.h"

const char *tc_hook_name(enum tc_hook hook)
{
	return hook == TC_HOOK_INGRESS ? "ingress" : "egress";
}

const char *tc_hook_sec(enum tc_hook hook)
{
	return hook == TC_HOOK_INGRESS ? FLOW_SEC_INGRESS : FLOW_SEC_EGRESS;
}

static void arg(struct tc_cmd *c, const char *s)
{
	if (c->argc < TC_CMD_MAX_ARGS - 1) {
		c->argv[c->argc++] = (char *)s;
		c->argv[c->argc] = NULL;
	}
}

__attribute__((format(printf, 2, 3)))
static char *store(struct tc_cmd *c, const char *fmt, ...)
{
	char *p = c->store + c->used;
	int room = sizeof(c->store) - c->used;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(p, room, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= room)
		n = room - 1;
	c->used += n + 1;
	return p;
}

static void start(struct tc_cmd *c, const char *netns, const char *prog)
{
	memset(c, 0, sizeof(*c));
	if (netns && netns[0]) {
		arg(c, "ip");
		arg(c, "netns");
		arg(c, "exec");
		arg(c, netns);
	}
	arg(c, prog);
}

/* tc qdisc VERB dev DEV clsact */
static void qdisc_clsact(struct tc_cmd *c, const char *netns, const char *verb,
			 const char *dev)
{
	start(c, netns, "tc");
	arg(c, "qdisc");
	arg(c, verb);
	arg(c, "dev");
	arg(c, dev);
	arg(c, "clsact");
}

void tc_cmd_qdisc_add(struct tc_cmd *c, const char *netns, const char *dev)
{
	qdisc_clsact(c, netns, "add", dev);
}

void tc_cmd_qdisc_del(struct tc_cmd *c, const char *netns, const char *dev)
{
	qdisc_clsact(c, netns, "del", dev);
}

void tc_cmd_qdisc_show(struct tc_cmd *c, const char *netns, const char *dev)
{
	start(c, netns, "tc");
	arg(c, "-j");
	arg(c, "qdisc");
	arg(c, "show");
	arg(c, "dev");
	arg(c, dev);
}

void tc_cmd_filter_show(struct tc_cmd *c, const char *netns, const char *dev,
			enum tc_hook hook)
{
	start(c, netns, "tc");
	arg(c, "-j");
	arg(c, "filter");
	arg(c, "show");
	arg(c, "dev");
	arg(c, dev);
	arg(c, tc_hook_name(hook));
}

static void filter_id(struct tc_cmd *c, const struct tc_filter_id *id)
{
	arg(c, "pref");
	arg(c, store(c, "%u", id->pref));
	arg(c, "chain");
	arg(c, store(c, "%u", id->chain));
	arg(c, "handle");
	arg(c, store(c, "0x%x", id->handle));
}

void tc_pin_mnt(const char *netns, char *buf, int size)
{
	/*
	 * `ip netns exec` mounts a fresh sysfs over /sys, hiding the host's
	 * bpffs: tc must reach it through the bind mount outside /sys.
	 */
	if (netns && netns[0])
		snprintf(buf, size, "%s/flowctl/%s", BPFFS_BIND_DIR, netns);
	else
		snprintf(buf, size, "%s/%s", FLOW_PIN_ROOT, FLOW_ROOT_NETNS);
}

/* `tc filter OP dev DEV HOOK pref .. chain .. handle .. bpf da` */
static void filter_bpf_head(struct tc_cmd *c, const char *op,
			    const char *netns, const char *dev,
			    enum tc_hook hook, const struct tc_filter_id *id)
{
	start(c, netns, "tc");
	arg(c, "filter");
	arg(c, op);
	arg(c, "dev");
	arg(c, dev);
	arg(c, tc_hook_name(hook));
	filter_id(c, id);
	arg(c, "bpf");
	arg(c, "da");
}

void tc_cmd_filter_set(struct tc_cmd *c, const char *op, const char *netns,
		       const char *dev, enum tc_hook hook,
		       const struct tc_filter_id *id, const char *obj)
{
	tc_cmd_filter_set_sec(c, op, netns, dev, hook, tc_hook_sec(hook), id,
			      obj);
}

void tc_cmd_filter_set_sec(struct tc_cmd *c, const char *op,
			   const char *netns, const char *dev,
			   enum tc_hook hook, const char *sec,
			   const struct tc_filter_id *id, const char *obj)
{
	char mnt[512];

	filter_bpf_head(c, op, netns, dev, hook, id);
	arg(c, "obj");
	arg(c, obj);
	arg(c, "sec");
	arg(c, sec);
	tc_pin_mnt(netns, mnt, sizeof(mnt));
	c->env[0] = store(c, "TC_BPF_MNT=%s", mnt);
	c->env[1] = NULL;
}

void tc_cmd_filter_del(struct tc_cmd *c, const char *netns, const char *dev,
		       enum tc_hook hook, const struct tc_filter_id *id)
{
	start(c, netns, "tc");
	arg(c, "filter");
	arg(c, "del");
	arg(c, "dev");
	arg(c, dev);
	arg(c, tc_hook_name(hook));
	filter_id(c, id);
	arg(c, "bpf");
}

void ip_cmd_link_show(struct tc_cmd *c, const char *netns)
{
	memset(c, 0, sizeof(*c));
	arg(c, "ip");
	if (netns && netns[0]) {
		arg(c, "-n");
		arg(c, netns);
	}
	arg(c, "-j");
	arg(c, "link");
	arg(c, "show");
}

void tc_cmd_qdisc_show_all(struct tc_cmd *c, const char *netns)
{
	start(c, netns, "tc");
	arg(c, "-j");
	arg(c, "qdisc");
	arg(c, "show");
}

void tc_cmd_batch(struct tc_cmd *c, const char *netns, bool json)
{
	start(c, netns, "tc");
	if (json)
		arg(c, "-j");
	arg(c, "-batch");
	arg(c, "-");
}

void tc_cmd_filter_set_pinned(struct tc_cmd *c, const char *op,
			      const char *netns, const char *dev,
			      enum tc_hook hook, const struct tc_filter_id *id,
			      const char *pin)
{
	filter_bpf_head(c, op, netns, dev, hook, id);
	arg(c, "object-pinned");
	/* a copy: callers build several commands from one path buffer */
	arg(c, store(c, "%s", pin));
}

int tc_cmd_batch_line(const struct tc_cmd *c, char **buf, size_t *len)
{
	size_t need = 2;
	char *p;
	int i, first;

	/* the arguments after "tc" (and "ip netns exec NS") */
	for (first = 0; first < c->argc && strcmp(c->argv[first], "tc");
	     first++)
		;
	if (first >= c->argc || c->env[0])
		return -EINVAL;
	/* global options (-j) belong to the batch's own command line */
	while (first + 1 < c->argc && c->argv[first + 1][0] == '-')
		first++;
	for (i = first + 1; i < c->argc; i++) {
		/* tc's batch reader splits at blanks, takes quotes and
		 * backslashes, and a '#' starts a comment */
		if (strpbrk(c->argv[i], " \t\n\"'\\#") || !c->argv[i][0])
			return -EINVAL;
		need += strlen(c->argv[i]) + 1;
	}
	p = realloc(*buf, *len + need);
	if (!p)
		return -ENOMEM;
	*buf = p;
	for (i = first + 1; i < c->argc; i++)
		*len += sprintf(p + *len, "%s%s", i > first + 1 ? " " : "",
				c->argv[i]);
	p[(*len)++] = '\n';
	p[*len] = '\0';
	return 0;
}

int tc_cmd_run_in(const struct tc_cmd *c, const char *in, size_t len,
		  struct exec_result *res)
{
	return exec_run(c->argv, c->env[0] ? c->env : NULL, in, len, 120000,
			res);
}

int tc_cmd_run(const struct tc_cmd *c, struct exec_result *res)
{
	return exec_run(c->argv, c->env[0] ? c->env : NULL, NULL, 0, 60000,
			res);
}

char *tc_cmd_str(const struct tc_cmd *c)
{
	char *cmd = exec_argv_str(c->argv), *s;

	if (!cmd || !c->env[0])
		return cmd;
	if (asprintf(&s, "%s %s", c->env[0], cmd) < 0)
		s = NULL;
	free(cmd);
	return s;
}
