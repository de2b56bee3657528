// SPDX-License-Identifier: Apache-2.0
/*
 * Config loading.  libyaml's document tree (yaml_doc.c) is walked by hand
 * rather than through a libcyaml schema: the original tool's files mix two
 * forms of the same keys (a template field is a name or a {name} mapping;
 * collectors come as `outputs: - collector:` or as `collectors:`), and
 * every error must say at which line and column the file is wrong, which
 * libcyaml 1.3 only prints in its log backtrace, never hands back.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "embedded.h"
#include "hooks.h"
#include "ifspec.h"
#include "log.h"
#include "metrics.h"

struct parser {
	struct yaml_doc *d;
	struct yaml_error *err;
	struct flowctl_config *cfg;
	const yaml_node_t *max_msg_len_node;
};

#define PERR(p, node, ...) yaml_doc_error((p)->d, (p)->err, (node), __VA_ARGS__)

static const char *const top_keys[] = {
	"maxIpfixMessageLen", "timerFinishedDrainSeconds",
	"timerForceDrainSeconds", "timerTemplateFlushSeconds", "outputs",
	"collectors", "templates", "observationDomainId", "exportingProcessId",
	"idleTimeoutSeconds", "activeTimeoutSeconds",
	"scanIntervalMilliseconds", "metricsAddress", "interfaces",
	"hookTimeoutSeconds", "enterpriseElements", "flowTemplates", NULL
};

static yaml_node_t *map_get(struct yaml_doc *d, const yaml_node_t *map,
			    const char *name)
{
	yaml_node_pair_t *pair;
	yaml_node_t *key, *val;

	yaml_map_for_each(d, map, pair, key, val)
		if (yaml_is_scalar(key) && !strcmp(yaml_str(key), name))
			return val;
	return NULL;
}

static yaml_node_t *map_key_node(struct yaml_doc *d, const yaml_node_t *map,
				 const char *name)
{
	yaml_node_pair_t *pair;
	yaml_node_t *key, *val;

	yaml_map_for_each(d, map, pair, key, val)
		if (yaml_is_scalar(key) && !strcmp(yaml_str(key), name))
			return key;
	return NULL;
}

static int expect_map(struct parser *p, const yaml_node_t *n,
		      const char *what)
{
	char buf[80];

	if (yaml_is_map(n))
		return 0;
	return PERR(p, n, "%s: expected a mapping, found %s", what,
		    yaml_describe(n, buf, sizeof(buf)));
}

/* A list; a key without a value counts as an empty list. */
static int expect_seq(struct parser *p, const yaml_node_t *n,
		      const char *what)
{
	char buf[80];

	if (yaml_is_seq(n) || yaml_is_null(n))
		return 0;
	return PERR(p, n, "%s: expected a list, found %s", what,
		    yaml_describe(n, buf, sizeof(buf)));
}

static size_t seq_len(const yaml_node_t *n)
{
	return yaml_is_seq(n) ? yaml_seq_len(n) : 0;
}

static int get_u32(struct parser *p, const yaml_node_t *map, const char *key,
		   uint32_t min, uint32_t max, uint32_t *out)
{
	yaml_node_t *n = map_get(p->d, map, key);

	if (!n)
		return 0;
	return yaml_get_u32(p->d, p->err, n, key, min, max, out);
}

static bool valid_hostname(const char *h)
{
	const char *c;

	if (!*h || strlen(h) > 253)
		return false;
	for (c = h; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '-' || *c == '.' ||
		      *c == '_'))
			return false;
	return true;
}

int config_split_address(const char *addr, char *host, size_t host_size,
			 uint16_t *port)
{
	const char *colon, *hs;
	size_t hlen;
	uint64_t v;
	struct in6_addr a6;
	struct in_addr a4;

	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		hs = addr + 1;
		hlen = close - hs;
		colon = close + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon || strchr(addr, ':') != colon)
			return -EINVAL;	/* none, or IPv6 without brackets */
		hs = addr;
		hlen = colon - addr;
	}
	if (hlen == 0 || hlen >= host_size)
		return -EINVAL;
	memcpy(host, hs, hlen);
	host[hlen] = 0;
	if (parse_u64(colon + 1, &v) || v > 65535)
		return -EINVAL;
	if (addr[0] == '[') {
		if (inet_pton(AF_INET6, host, &a6) != 1)
			return -EINVAL;
	} else if (strspn(host, "0123456789.") == hlen) {
		if (inet_pton(AF_INET, host, &a4) != 1)
			return -EINVAL;
	} else if (!valid_hostname(host)) {
		return -EINVAL;
	}
	*port = v;
	return 0;
}

/* An address "host:port"; PORT_ZERO_OK for local (bind) addresses. */
static int get_address(struct parser *p, const yaml_node_t *n,
		       const char *what, bool port_zero_ok, char **out)
{
	char host[256];
	uint16_t port;
	int ret;

	ret = yaml_get_str(p->d, p->err, n, what, out);
	if (ret)
		return ret;
	if (config_split_address(*out, host, sizeof(host), &port) ||
	    (!port_zero_ok && port == 0)) {
		ret = PERR(p, n,
			   "%s: bad address '%s' (expected HOST:PORT, IPV4:PORT or [IPV6]:PORT with a port in %d..65535)",
			   what, *out, port_zero_ok ? 0 : 1);
		free(*out);
		*out = NULL;
	}
	return ret;
}

/* metricsAddress: what `flowctl agent --metrics-address` takes, checked
 * by the same function. */
static int get_metrics_address(struct parser *p, const yaml_node_t *n,
			       char **out)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int ret;

	ret = yaml_get_str(p->d, p->err, n, "metricsAddress", out);
	if (ret)
		return ret;
	if (metrics_parse_addr_quiet(*out, &ss, &len)) {
		ret = PERR(p, n,
			   "metricsAddress: bad address '%s' (expected HOST:PORT: an IPv4 address, [IPv6], localhost, or * or nothing for every IPv4 address, and a port in 0..65535)",
			   *out);
		free(*out);
		*out = NULL;
	}
	return ret;
}

static int parse_collector(struct parser *p, const yaml_node_t *map,
			   bool old_form)
{
	static const char *const keys[] = {
		"remoteAddress", "localAddress", "transport",
		"reconnectIntervalSeconds", NULL
	};
	static const char *const old_keys[] = {
		"address", "remoteAddress", "localAddress", "transport",
		"reconnectIntervalSeconds", NULL
	};
	struct flowctl_config *cfg = p->cfg;
	struct config_collector *c;
	yaml_node_t *remote, *n;
	int ret;

	ret = expect_map(p, map, "collector");
	if (ret)
		return ret;
	ret = yaml_check_keys(p->d, p->err, map, "collector",
			      old_form ? old_keys : keys);
	if (ret)
		return ret;
	remote = map_get(p->d, map, "remoteAddress");
	n = old_form ? map_get(p->d, map, "address") : NULL;
	if (n && remote)
		return PERR(p, n,
			    "collector: give either 'address' or 'remoteAddress', not both");
	if (n)
		remote = n;
	if (!remote)
		return PERR(p, map, "collector: missing key '%s'",
			    old_form ? "address" : "remoteAddress");

	c = &cfg->collectors[cfg->n_collectors++];
	c->transport = CONFIG_TRANSPORT_UDP;
	c->reconnect_interval_s = CONFIG_DEFAULT_RECONNECT_S;
	c->line = map->start_mark.line + 1;
	ret = get_address(p, remote, "remoteAddress", false,
			  &c->remote_address);
	if (ret)
		return ret;
	n = map_get(p->d, map, "localAddress");
	if (n) {
		ret = get_address(p, n, "localAddress", true,
				  &c->local_address);
		if (ret)
			return ret;
	}
	n = map_get(p->d, map, "transport");
	if (n) {
		char buf[80];

		if (yaml_is_scalar(n) && !strcmp(yaml_str(n), "udp"))
			c->transport = CONFIG_TRANSPORT_UDP;
		else if (yaml_is_scalar(n) && !strcmp(yaml_str(n), "tcp"))
			c->transport = CONFIG_TRANSPORT_TCP;
		else
			return PERR(p, n,
				    "transport: expected 'udp' or 'tcp', found %s",
				    yaml_describe(n, buf, sizeof(buf)));
	}
	return get_u32(p, map, "reconnectIntervalSeconds", 1, 86400,
		       &c->reconnect_interval_s);
}

static int parse_hook(struct parser *p, const yaml_node_t *map,
		      struct config_hook *h)
{
	static const char *const keys[] = { "name", "command", "shell", NULL };
	yaml_node_t *cmd, *shell, *n;
	yaml_node_item_t *item;
	char buf[80];
	int ret;

	ret = expect_map(p, map, "hook");
	if (ret)
		return ret;
	ret = yaml_check_keys(p->d, p->err, map, "hook", keys);
	if (ret)
		return ret;
	n = map_get(p->d, map, "name");
	if (n) {
		ret = yaml_get_str(p->d, p->err, n, "name", &h->name);
		if (ret)
			return ret;
	}
	cmd = map_get(p->d, map, "command");
	shell = map_get(p->d, map, "shell");
	if (cmd && shell)
		return PERR(p, shell,
			    "hook: give either 'command' or 'shell', not both");
	if (!cmd && !shell)
		return PERR(p, map, "hook: missing key 'command' or 'shell'");
	if (shell)
		return yaml_get_str(p->d, p->err, shell, "shell", &h->shell);

	if (yaml_is_seq(cmd)) {
		size_t i = 0;

		if (!yaml_seq_len(cmd))
			return PERR(p, cmd, "command: expected a program and its arguments, found an empty list");
		h->argv = calloc(yaml_seq_len(cmd) + 1, sizeof(char *));
		if (!h->argv)
			return -ENOMEM;
		yaml_seq_for_each(p->d, cmd, item, n) {
			ret = yaml_get_str(p->d, p->err, n, "command",
					   &h->argv[i]);
			if (ret)
				return ret;
			i++;
		}
		return 0;
	}
	if (!yaml_is_scalar(cmd) || yaml_is_null(cmd) ||
	    !yaml_str(cmd)[strspn(yaml_str(cmd), " \t\n")])
		return PERR(p, cmd,
			    "command: expected a program path and arguments (a string or a list), found %s",
			    yaml_describe(cmd, buf, sizeof(buf)));
	/* words as docs/outputs.md says: blanks, '...', "...", backslash */
	ret = hook_argv_split(yaml_str(cmd), &h->argv);
	if (ret == -EINVAL)
		return PERR(p, cmd, "command: a quote is not closed (words are split at blanks; '...', \"...\" and backslash quote)");
	return ret;
}

static int parse_log(struct parser *p, const yaml_node_t *map)
{
	static const char *const keys[] = { "file", "hooks", NULL };
	struct flowctl_config *cfg = p->cfg;
	struct config_log *l;
	yaml_node_item_t *item;
	yaml_node_t *n, *hooks;
	int ret;

	ret = expect_map(p, map, "log");
	if (ret)
		return ret;
	ret = yaml_check_keys(p->d, p->err, map, "log", keys);
	if (ret)
		return ret;
	n = map_get(p->d, map, "file");
	if (!n)
		return PERR(p, map, "log: missing key 'file'");
	l = &cfg->logs[cfg->n_logs++];
	ret = yaml_get_str(p->d, p->err, n, "file", &l->file);
	if (ret)
		return ret;
	hooks = map_get(p->d, map, "hooks");
	if (!hooks)
		return 0;
	ret = expect_seq(p, hooks, "hooks");
	if (ret || !seq_len(hooks))
		return ret;
	l->hooks = calloc(seq_len(hooks), sizeof(*l->hooks));
	if (!l->hooks)
		return -ENOMEM;
	yaml_seq_for_each(p->d, hooks, item, n) {
		ret = parse_hook(p, n, &l->hooks[l->n_hooks++]);
		if (ret)
			return ret;
	}
	return 0;
}

static int parse_outputs(struct parser *p, const yaml_node_t *outputs)
{
	static const char *const keys[] = { "collector", "log", NULL };
	yaml_node_item_t *item;
	yaml_node_t *n;
	int ret;

	yaml_seq_for_each(p->d, outputs, item, n) {
		yaml_node_t *c, *l;

		ret = expect_map(p, n, "output");
		if (ret)
			return ret;
		ret = yaml_check_keys(p->d, p->err, n, "output", keys);
		if (ret)
			return ret;
		c = map_get(p->d, n, "collector");
		l = map_get(p->d, n, "log");
		if (c && l)
			return PERR(p, map_key_node(p->d, n, "log"),
				    "output: one output is either 'collector' or 'log', not both (start another list item)");
		if (!c && !l)
			return PERR(p, n,
				    "output: expected 'collector' or 'log'");
		ret = c ? parse_collector(p, c, false) : parse_log(p, l);
		if (ret)
			return ret;
	}
	return 0;
}

static int cmp_ie_name(const void *a, const void *b)
{
	const struct ipfix_ie *x = *(const struct ipfix_ie *const *)a;
	const struct ipfix_ie *y = *(const struct ipfix_ie *const *)b;

	return strcasecmp(x->name, y->name);
}

/* Template fields look enterprise elements up by name: sort them once. */
static int index_enterprise_ies(struct flowctl_config *cfg)
{
	size_t i;

	cfg->enterprise_by_name = calloc(cfg->n_enterprise_ies,
					 sizeof(*cfg->enterprise_by_name));
	if (!cfg->enterprise_by_name)
		return -ENOMEM;
	for (i = 0; i < cfg->n_enterprise_ies; i++)
		cfg->enterprise_by_name[i] = &cfg->enterprise_ies[i];
	qsort(cfg->enterprise_by_name, cfg->n_enterprise_ies,
	      sizeof(*cfg->enterprise_by_name), cmp_ie_name);
	return 0;
}

static int parse_enterprise_ies(struct parser *p, const yaml_node_t *seq)
{
	static const char *const keys[] = {
		"name", "enterpriseNumber", "id", "source", "length", NULL
	};
	struct flowctl_config *cfg = p->cfg;
	yaml_node_item_t *item;
	yaml_node_t *n;
	int ret;

	if (!seq_len(seq))
		return 0;
	if (seq_len(seq) > CONFIG_MAX_ENTERPRISE_IES)
		return PERR(p, seq,
			    "enterpriseElements: %zu elements; at most %d are allowed",
			    seq_len(seq), CONFIG_MAX_ENTERPRISE_IES);
	cfg->enterprise_ies = calloc(seq_len(seq), sizeof(struct ipfix_ie));
	if (!cfg->enterprise_ies)
		return -ENOMEM;
	yaml_seq_for_each(p->d, seq, item, n) {
		struct ipfix_ie *ie = &cfg->enterprise_ies[cfg->n_enterprise_ies];
		const struct ipfix_source_info *src;
		yaml_node_t *v;
		uint32_t u;
		char *name;
		size_t i;

		ret = expect_map(p, n, "enterprise element");
		if (ret)
			return ret;
		ret = yaml_check_keys(p->d, p->err, n, "enterprise element",
				      keys);
		if (ret)
			return ret;
		for (i = 0; keys[i] && strcmp(keys[i], "length"); i++)
			if (!map_get(p->d, n, keys[i]))
				return PERR(p, n,
					    "enterprise element: missing key '%s'",
					    keys[i]);
		v = map_get(p->d, n, "name");
		ret = yaml_get_str(p->d, p->err, v, "name", &name);
		if (ret)
			return ret;
		ie->name = name;
		cfg->n_enterprise_ies++;
		for (i = 0; cfg->enterprise_ies + i < ie; i++)
			if (!strcasecmp(cfg->enterprise_ies[i].name, name))
				break;
		if (cfg->enterprise_ies + i < ie || ipfix_ie_by_name(name))
			return PERR(p, v,
				    "enterprise element: name '%s' is already taken by another element",
				    name);
		ret = get_u32(p, n, "enterpriseNumber", 1, UINT32_MAX,
			      &ie->pen);
		if (ret)
			return ret;
		ret = get_u32(p, n, "id", 1, 32767, &u);
		if (ret)
			return ret;
		ie->id = u;
		v = map_get(p->d, n, "source");
		src = yaml_is_scalar(v) ? ipfix_source_by_name(yaml_str(v)) :
					  NULL;
		if (!src) {
			size_t count, k, off = 0;
			const struct ipfix_source_info *t =
				ipfix_source_table(&count);
			char names[300], buf[80];

			for (k = 0; k < count && off < sizeof(names); k++)
				off += snprintf(names + off,
						sizeof(names) - off, "%s%s",
						k ? ", " : "", t[k].name);
			return PERR(p, v,
				    "source: expected one of %s, found %s",
				    names, yaml_describe(v, buf, sizeof(buf)));
		}
		ie->source = src->source;
		ie->type = src->type;
		ie->length = src->length;
		v = map_get(p->d, n, "length");
		if (v) {
			ret = yaml_get_u32(p->d, p->err, v, "length", 1,
					   IPFIX_VARLEN, &u);
			if (ret)
				return ret;
			if (!(u == IPFIX_VARLEN &&
			      (ie->type == IPFIX_T_STRING ||
			       ie->type == IPFIX_T_OCTET_ARRAY)) &&
			    !ipfix_type_length_ok(ie->type, u))
				return PERR(p, v,
					    "length: %u does not fit source '%s' (%s of %u octets)",
					    u, src->name,
					    ipfix_type_name(ie->type),
					    src->length);
			ie->length = u;
		}
	}
	return index_enterprise_ies(cfg);
}

static int parse_template_field(struct parser *p, const yaml_node_t *n,
				struct ipfix_field *f)
{
	static const char *const keys[] = { "name", "length", NULL };
	const yaml_node_t *name = n, *len = NULL;
	const struct ipfix_ie *ie;
	char buf[80];
	uint32_t u;
	int ret;

	if (yaml_is_map(n)) {
		ret = yaml_check_keys(p->d, p->err, n, "template field", keys);
		if (ret)
			return ret;
		name = map_get(p->d, n, "name");
		if (!name)
			return PERR(p, n, "template field: missing key 'name'");
		len = map_get(p->d, n, "length");
	}
	if (!yaml_is_scalar(name) || yaml_is_null(name))
		return PERR(p, name,
			    "template field: expected an information element name or {name: NAME}, found %s",
			    yaml_describe(name, buf, sizeof(buf)));
	ie = config_ie_by_name(p->cfg, yaml_str(name));
	if (!ie)
		return PERR(p, name,
			    "unknown information element '%s' (IANA names, case-insensitive; see docs/ipfix.md)",
			    yaml_str(name));
	f->ie = ie;
	f->length = ie->length;
	if (!len)
		return 0;
	ret = yaml_get_u32(p->d, p->err, len, "length", 1, IPFIX_VARLEN, &u);
	if (ret)
		return ret;
	if (u == IPFIX_VARLEN && (ie->type == IPFIX_T_STRING ||
				  ie->type == IPFIX_T_OCTET_ARRAY)) {
		f->length = u;
		return 0;
	}
	if (!ipfix_type_length_ok(ie->type, u))
		return PERR(p, len,
			    "length: %u is not a valid length for %s (%s; unsigned and signed types may be shortened, RFC 7011 6.2)",
			    u, ie->name, ipfix_type_name(ie->type));
	f->length = u;
	return 0;
}

static int cmp_template_id(const void *a, const void *b, void *arg)
{
	const struct config_template *t = arg;

	return (int)t[*(const uint16_t *)a].id - t[*(const uint16_t *)b].id;
}

/* config_template_plan looks templates up by id: sort them once. */
static int index_templates(struct flowctl_config *cfg)
{
	size_t i;

	cfg->template_order = calloc(cfg->n_templates,
				     sizeof(*cfg->template_order));
	if (!cfg->template_order)
		return -ENOMEM;
	for (i = 0; i < cfg->n_templates; i++)
		cfg->template_order[i] = i;
	qsort_r(cfg->template_order, cfg->n_templates,
		sizeof(*cfg->template_order), cmp_template_id,
		cfg->templates);
	return 0;
}

static int parse_templates(struct parser *p, const yaml_node_t *seq)
{
	static const char *const keys[] = { "id", "template", NULL };
	struct flowctl_config *cfg = p->cfg;
	uint64_t seen[(UINT16_MAX + 1) / 64] = {};	/* ids so far */
	yaml_node_item_t *item, *fitem;
	yaml_node_t *n, *fn;
	size_t i;
	int ret;

	if (!seq_len(seq))
		return 0;
	if (seq_len(seq) > CONFIG_MAX_TEMPLATES)
		return PERR(p, seq,
			    "templates: %zu templates; at most %d are allowed (one per id 256..%d)",
			    seq_len(seq), CONFIG_MAX_TEMPLATES,
			    IPFIX_TID_CONFIG_MAX);
	cfg->templates = calloc(seq_len(seq), sizeof(*cfg->templates));
	if (!cfg->templates)
		return -ENOMEM;
	yaml_seq_for_each(p->d, seq, item, n) {
		struct config_template *t = &cfg->templates[cfg->n_templates];
		yaml_node_t *idn, *fields;
		uint32_t id;

		ret = expect_map(p, n, "template");
		if (ret)
			return ret;
		ret = yaml_check_keys(p->d, p->err, n, "template", keys);
		if (ret)
			return ret;
		idn = map_get(p->d, n, "id");
		fields = map_get(p->d, n, "template");
		if (!idn)
			return PERR(p, n, "template: missing key 'id'");
		if (!fields)
			return PERR(p, n, "template: missing key 'template' (the list of fields)");
		ret = yaml_get_u32(p->d, p->err, idn, "id", 0, UINT16_MAX, &id);
		if (ret)
			return ret;
		if (id < IPFIX_MIN_DATA_SET_ID || id > IPFIX_TID_CONFIG_MAX)
			return PERR(p, idn,
				    "id: template id %u is out of range (expected 256..%d; below 256 are set ids, %d..65535 are flowctl's own templates)",
				    id, IPFIX_TID_CONFIG_MAX,
				    IPFIX_TID_CONFIG_MAX + 1);
		if (seen[id / 64] & 1ULL << id % 64) {
			for (i = 0; cfg->templates[i].id != id; i++)
				;
			return PERR(p, idn,
				    "id: duplicate template id %u (first at line %d)",
				    id, cfg->templates[i].line);
		}
		seen[id / 64] |= 1ULL << id % 64;
		t->id = id;
		t->line = n->start_mark.line + 1;
		t->col = n->start_mark.column + 1;
		if (!yaml_is_seq(fields) || !yaml_seq_len(fields)) {
			char buf[80];

			return PERR(p, fields,
				    "template: expected a list of information elements, found %s",
				    yaml_is_seq(fields) ? "an empty list" :
				    yaml_describe(fields, buf, sizeof(buf)));
		}
		if (yaml_seq_len(fields) > IPFIX_MAX_FIELDS)
			return PERR(p, fields,
				    "template %u has %zu fields; at most %d are allowed",
				    id, yaml_seq_len(fields), IPFIX_MAX_FIELDS);
		yaml_seq_for_each(p->d, fields, fitem, fn) {
			ret = parse_template_field(p, fn,
						   &t->fields[t->n_fields]);
			if (ret)
				return ret;
			t->n_fields++;
		}
		cfg->n_templates++;
	}
	return index_templates(cfg);
}

/* Whether one message of maxIpfixMessageLen holds PLAN's template record
 * and its longest data record. */
static int check_fits(struct parser *p, const struct ipfix_plan *plan,
		      const yaml_node_t *where, const char *what)
{
	unsigned int need, rec;

	rec = plan->template_record_len > plan->max_record_len ?
		plan->template_record_len : plan->max_record_len;
	need = IPFIX_MSG_HDR_LEN + IPFIX_SET_HDR_LEN + rec;
	if (need <= p->cfg->max_ipfix_message_len)
		return 0;
	return PERR(p, p->max_msg_len_node ? p->max_msg_len_node : where,
		    "maxIpfixMessageLen %u is too small for %s %u: one record needs %u octets (message header %d + set header %d + record %u)",
		    p->cfg->max_ipfix_message_len, what, plan->id, need,
		    IPFIX_MSG_HDR_LEN, IPFIX_SET_HDR_LEN, rec);
}

static int check_templates(struct parser *p, const yaml_node_t *seq)
{
	struct flowctl_config *cfg = p->cfg;
	struct ipfix_plan plan;
	yaml_node_item_t *item;
	yaml_node_t *n;
	size_t i = 0;
	int ret;

	if (cfg->n_templates) {
		yaml_seq_for_each(p->d, seq, item, n) {
			struct config_template *t = &cfg->templates[i++];

			ret = ipfix_plan_compile(&plan, t->id, t->fields,
						 t->n_fields, 0);
			if (ret == -EMSGSIZE)
				return PERR(p, n,
					    "template %u: a record of its fields is longer than the %d octets any IPFIX message holds (shorten the fields)",
					    t->id, IPFIX_MAX_RECORD_LEN);
			if (ret)
				return PERR(p, n, "template %u: cannot be compiled",
					    t->id);
			ret = check_fits(p, &plan, n, "template");
			if (ret)
				return ret;
		}
	}
	if (ipfix_plan_exporting_stats(&plan) ||
	    check_fits(p, &plan, NULL, "options template"))
		return -EINVAL;
	if (ipfix_plan_metering_stats(&plan) ||
	    check_fits(p, &plan, NULL, "options template"))
		return -EINVAL;
	return 0;
}

/*
 * flowTemplates: {ipv4: ID, ipv6: ID}: the template of the kernel flows of
 * each IP version, instead of the one ipfix_plan_choose() picks.  After
 * the templates: the ids must be among them and fit the version.
 */
static int parse_flow_templates(struct parser *p, const yaml_node_t *map)
{
	static const char *const keys[] = { "ipv4", "ipv6", NULL };
	static const char *const other[] = { "IPv6", "IPv4" };
	struct flowctl_config *cfg = p->cfg;
	uint16_t *ids[] = { &cfg->flow_templates.ipv4,
			    &cfg->flow_templates.ipv6 };
	struct ipfix_plan plan;
	int ret, v;

	ret = expect_map(p, map, "flowTemplates");
	ret = ret ?: yaml_check_keys(p->d, p->err, map, "flowTemplates", keys);
	if (ret)
		return ret;
	for (v = 0; v < 2; v++) {
		yaml_node_t *n = map_get(p->d, map, keys[v]);
		uint32_t id;

		if (!n)
			continue;
		ret = yaml_get_u32(p->d, p->err, n, keys[v],
				   IPFIX_MIN_DATA_SET_ID, IPFIX_TID_CONFIG_MAX,
				   &id);
		if (ret)
			return ret;
		if (config_template_plan(cfg, id, &plan))
			return PERR(p, n, "%s: template %u is not in templates",
				    keys[v], id);
		if (plan.addr_versions & (v ? IPFIX_ADDR_V4 : IPFIX_ADDR_V6))
			return PERR(p, n,
				    "%s: template %u has %s addresses: it cannot carry %s flows",
				    keys[v], id, other[v], v ? "IPv6" : "IPv4");
		*ids[v] = id;
	}
	return 0;
}

static int parse_interfaces(struct parser *p, const yaml_node_t *seq)
{
	struct flowctl_config *cfg = p->cfg;
	yaml_node_item_t *item;
	yaml_node_t *n;
	int ret;

	if (!seq_len(seq))
		return 0;
	cfg->interfaces = calloc(seq_len(seq) + 1, sizeof(char *));
	if (!cfg->interfaces)
		return -ENOMEM;
	yaml_seq_for_each(p->d, seq, item, n) {
		struct ifspec spec;
		const char *why;
		char *v;

		ret = yaml_get_str(p->d, p->err, n, "interfaces", &v);
		if (ret)
			return ret;
		cfg->interfaces[cfg->n_interfaces++] = v;
		/* what `flowctl meter attach -i` takes */
		if (ifspec_parse(v, &spec, &why))
			return PERR(p, n,
				    "interfaces: bad interface '%.300s': %s (expected NETNS:DEV, NETNS:* or DEV)",
				    v, why);
	}
	return 0;
}

static int parse_config(struct parser *p, yaml_node_t *root)
{
	struct flowctl_config *cfg = p->cfg;
	yaml_node_t *n, *outputs, *collectors, *templates;
	yaml_node_item_t *item;
	size_t n_coll;
	int ret;

	if (!root)
		goto defaults;
	ret = expect_map(p, root, "config");
	if (ret)
		return ret;
	ret = yaml_check_keys(p->d, p->err, root, "config", top_keys);
	if (ret)
		return ret;

	p->max_msg_len_node = map_get(p->d, root, "maxIpfixMessageLen");
	ret = get_u32(p, root, "maxIpfixMessageLen", 1, IPFIX_MAX_MSG_LEN,
		      &cfg->max_ipfix_message_len);
	ret = ret ?: get_u32(p, root, "timerFinishedDrainSeconds", 0, 86400,
			     &cfg->timer_finished_drain_s);
	ret = ret ?: get_u32(p, root, "timerForceDrainSeconds", 1, 86400,
			     &cfg->timer_force_drain_s);
	ret = ret ?: get_u32(p, root, "timerTemplateFlushSeconds", 1, 86400,
			     &cfg->timer_template_flush_s);
	ret = ret ?: get_u32(p, root, "idleTimeoutSeconds", 1, 86400,
			     &cfg->idle_timeout_s);
	ret = ret ?: get_u32(p, root, "activeTimeoutSeconds", 1, 86400,
			     &cfg->active_timeout_s);
	ret = ret ?: get_u32(p, root, "scanIntervalMilliseconds", 10, 60000,
			     &cfg->scan_interval_ms);
	ret = ret ?: get_u32(p, root, "hookTimeoutSeconds", 1, 3600,
			     &cfg->hook_timeout_s);
	if (ret)
		return ret;
	n = map_get(p->d, root, "observationDomainId");
	if (n) {
		ret = yaml_get_u32(p->d, p->err, n, "observationDomainId", 0,
				   UINT32_MAX, &cfg->obs_domain_id);
		if (ret)
			return ret;
		cfg->obs_domain_id_set = true;
	}
	n = map_get(p->d, root, "exportingProcessId");
	if (n) {
		ret = yaml_get_u32(p->d, p->err, n, "exportingProcessId", 0,
				   UINT32_MAX, &cfg->exporting_process_id);
		if (ret)
			return ret;
		cfg->exporting_process_id_set = true;
	}
	n = map_get(p->d, root, "metricsAddress");
	if (n) {
		ret = get_metrics_address(p, n, &cfg->metrics_address);
		if (ret)
			return ret;
	}
	n = map_get(p->d, root, "interfaces");
	if (n) {
		ret = expect_seq(p, n, "interfaces");
		ret = ret ?: parse_interfaces(p, n);
		if (ret)
			return ret;
	}

	outputs = map_get(p->d, root, "outputs");
	collectors = map_get(p->d, root, "collectors");
	ret = outputs ? expect_seq(p, outputs, "outputs") : 0;
	ret = ret ?: (collectors ? expect_seq(p, collectors, "collectors") : 0);
	if (ret)
		return ret;
	n_coll = seq_len(outputs) + seq_len(collectors);
	if (n_coll) {
		cfg->collectors = calloc(n_coll, sizeof(*cfg->collectors));
		cfg->logs = calloc(seq_len(outputs) ?: 1, sizeof(*cfg->logs));
		if (!cfg->collectors || !cfg->logs)
			return -ENOMEM;
	}
	if (seq_len(outputs)) {
		ret = parse_outputs(p, outputs);
		if (ret)
			return ret;
	}
	if (seq_len(collectors)) {
		yaml_seq_for_each(p->d, collectors, item, n) {
			ret = parse_collector(p, n, true);
			if (ret)
				return ret;
		}
	}

	n = map_get(p->d, root, "enterpriseElements");
	if (n) {
		ret = expect_seq(p, n, "enterpriseElements");
		ret = ret ?: parse_enterprise_ies(p, n);
		if (ret)
			return ret;
	}
	templates = map_get(p->d, root, "templates");
	if (templates) {
		ret = expect_seq(p, templates, "templates");
		ret = ret ?: parse_templates(p, templates);
		if (ret)
			return ret;
	}
defaults:
	if (!cfg->max_ipfix_message_len)
		cfg->max_ipfix_message_len = CONFIG_DEFAULT_MAX_MSG_LEN;
	if (!cfg->timer_template_flush_s)
		cfg->timer_template_flush_s = CONFIG_DEFAULT_TEMPLATE_FLUSH_S;
	if (!cfg->idle_timeout_s)
		cfg->idle_timeout_s = CONFIG_DEFAULT_IDLE_TIMEOUT_S;
	if (!cfg->active_timeout_s)
		cfg->active_timeout_s = cfg->timer_force_drain_s ?:
					CONFIG_DEFAULT_ACTIVE_TIMEOUT_S;
	if (!cfg->scan_interval_ms)
		cfg->scan_interval_ms = CONFIG_DEFAULT_SCAN_INTERVAL_MS;
	if (!cfg->hook_timeout_s)
		cfg->hook_timeout_s = CONFIG_DEFAULT_HOOK_TIMEOUT_S;
	if (!cfg->exporting_process_id_set)
		cfg->exporting_process_id = 1;
	if (!cfg->metrics_address) {
		cfg->metrics_address = strdup(CONFIG_DEFAULT_METRICS_ADDRESS);
		if (!cfg->metrics_address)
			return -ENOMEM;
	}
	ret = check_templates(p, root ? map_get(p->d, root, "templates") :
				      NULL);
	n = root ? map_get(p->d, root, "flowTemplates") : NULL;
	if (!ret && n)
		ret = parse_flow_templates(p, n);
	return ret;
}

static void timer_default(struct flowctl_config *cfg)
{
	cfg->timer_finished_drain_s = CONFIG_DEFAULT_FINISHED_DRAIN_S;
}

int config_load_string(const char *name, const char *text, size_t len,
		       struct flowctl_config **out, struct yaml_error *err)
{
	struct yaml_error local_err;
	struct yaml_error *e = err ?: &local_err;
	struct flowctl_config *cfg;
	struct parser p = {};
	struct yaml_doc d;
	int ret;

	*out = NULL;
	memset(e, 0, sizeof(*e));
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return -ENOMEM;
	cfg->file = strdup(name);
	if (!cfg->file) {
		free(cfg);
		return -ENOMEM;
	}
	timer_default(cfg);
	ret = yaml_doc_load(&d, cfg->file, text, len, e);
	if (ret)
		goto out;
	p.d = &d;
	p.err = e;
	p.cfg = cfg;
	ret = parse_config(&p, yaml_doc_root(&d));
	yaml_doc_free(&d);
out:
	if (ret) {
		if (ret == -ENOMEM)
			snprintf(e->text, sizeof(e->text), "%s: out of memory",
				 name);
		if (!err)
			pr_err("%s", e->text);
		config_free(cfg);
		return ret;
	}
	*out = cfg;
	return 0;
}

int config_load_file(const char *path, struct flowctl_config **out,
		     struct yaml_error *err)
{
	struct yaml_error local_err;
	struct yaml_error *e = err ?: &local_err;
	size_t len;
	char *text;
	int ret;

	*out = NULL;
	ret = yaml_read_file(path, &text, &len);
	if (ret) {
		memset(e, 0, sizeof(*e));
		snprintf(e->text, sizeof(e->text),
			 "%s: cannot read config: %s", path, strerror(-ret));
		if (!err)
			pr_err("%s", e->text);
		return ret;
	}
	ret = config_load_string(path, text, len, out, err);
	free(text);
	return ret;
}

int config_load_default(struct flowctl_config **out, struct yaml_error *err)
{
	size_t len;
	const char *text = embedded_file(CONFIG_DEFAULT_FILE, &len);

	if (!text) {
		if (err)
			snprintf(err->text, sizeof(err->text),
				 "no embedded %s", CONFIG_DEFAULT_FILE);
		else
			pr_err("no embedded %s", CONFIG_DEFAULT_FILE);
		return -ENOENT;
	}
	return config_load_string("(embedded " CONFIG_DEFAULT_FILE ")", text,
				  len, out, err);
}

void config_free(struct flowctl_config *cfg)
{
	size_t i, j;

	if (!cfg)
		return;
	free(cfg->file);
	free(cfg->metrics_address);
	for (i = 0; i < cfg->n_interfaces; i++)
		free(cfg->interfaces[i]);
	free(cfg->interfaces);
	for (i = 0; i < cfg->n_collectors; i++) {
		free(cfg->collectors[i].remote_address);
		free(cfg->collectors[i].local_address);
	}
	free(cfg->collectors);
	for (i = 0; i < cfg->n_logs; i++) {
		struct config_log *l = &cfg->logs[i];

		free(l->file);
		for (j = 0; j < l->n_hooks; j++) {
			char **a;

			free(l->hooks[j].name);
			free(l->hooks[j].shell);
			for (a = l->hooks[j].argv; a && *a; a++)
				free(*a);
			free(l->hooks[j].argv);
		}
		free(l->hooks);
	}
	free(cfg->logs);
	free(cfg->templates);
	free(cfg->template_order);
	for (i = 0; i < cfg->n_enterprise_ies; i++)
		free((char *)cfg->enterprise_ies[i].name);
	free(cfg->enterprise_ies);
	free(cfg->enterprise_by_name);
	free(cfg);
}

const struct ipfix_ie *config_ie_by_name(const struct flowctl_config *cfg,
					 const char *name)
{
	size_t lo = 0;
	size_t hi = cfg && cfg->enterprise_by_name ? cfg->n_enterprise_ies : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcasecmp(name, cfg->enterprise_by_name[mid]->name);

		if (!c)
			return cfg->enterprise_by_name[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return ipfix_ie_by_name(name);
}

uint32_t config_obs_domain_id(const struct flowctl_config *cfg,
			      const char *netns)
{
	const unsigned char *c;
	uint32_t h = 2166136261U;	/* FNV-1a, 32 bits */

	if (cfg && cfg->obs_domain_id_set)
		return cfg->obs_domain_id;
	if (!netns)
		netns = "DEFAULT";
	for (c = (const unsigned char *)netns; *c; c++) {
		h ^= *c;
		h *= 16777619U;
	}
	return h ?: 1;
}

const char *config_transport_name(enum config_transport t)
{
	return t == CONFIG_TRANSPORT_TCP ? "tcp" : "udp";
}

int config_template_plan(const struct flowctl_config *cfg, uint16_t id,
			 struct ipfix_plan *plan)
{
	size_t lo = 0, hi = cfg->n_templates;
	int ret = -ENOENT;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct config_template *t =
			&cfg->templates[cfg->template_order[mid]];

		if (t->id == id) {
			ret = ipfix_plan_compile(plan, id, t->fields,
						 t->n_fields, 0);
			break;
		}
		if (t->id > id)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (lo >= hi) {
		switch (id) {
		case IPFIX_TID_DEFAULT_V4:
			ret = ipfix_plan_default_v4(plan);
			break;
		case IPFIX_TID_DEFAULT_V6:
			ret = ipfix_plan_default_v6(plan);
			break;
		case IPFIX_TID_EXPORTING_STATS:
			ret = ipfix_plan_exporting_stats(plan);
			break;
		case IPFIX_TID_METERING_STATS:
			ret = ipfix_plan_metering_stats(plan);
			break;
		}
	}
	if (!ret)
		plan->exporting_process_id = cfg->exporting_process_id;
	return ret;
}
