// SPDX-License-Identifier: Apache-2.0
/*
 * Config loading, in three steps:
 *   1. yaml_doc_load(): libyaml's document tree, the position index, and
 *      the limits on anchors, aliases and nesting (before libcyaml reads
 *      anything: its alias replay would otherwise expand a bomb);
 *   2. yaml_schema_load(): libcyaml fills struct cy_config through the
 *      static schemas below; its errors come back as FILE:LINE:COL;
 *   3. parse_config(): what a schema cannot say (numbers and their
 *      ranges, addresses, element names, template ids, sizes) is checked
 *      while struct flowctl_config is built, each error at the node
 *      yaml_doc_at() finds for the value's path.
 * Unknown keys are warnings (the original ignored them).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "embedded.h"
#include "flow_cache.h"
#include "flow_table.h"
#include "hostport.h"
#include "hooks.h"
#include "ifspec.h"
#include "log.h"
#include "metrics.h"
#include "obs_domain.h"
#include "strnum.h"
#include "yaml_schema.h"

/*
 * The file as libcyaml loads it: one struct and one static schema per
 * mapping, every scalar as text (checked and converted below, where the
 * message can name the node: see YAML_FIELD_NUMBER).
 */
struct cy_collector {
	char *address;			/* the README's collectors: form */
	char *remote_address;
	char *local_address;
	enum ipfix_transport transport;
	char *reconnect_interval;
	int udp_segmentation;
};

static const cyaml_strval_t transport_strings[] = {
	{ "udp", IPFIX_TRANSPORT_UDP },
	{ "tcp", IPFIX_TRANSPORT_TCP },
};

/* YAML 1.2's booleans, strictly (libcyaml's bool takes any other word as
 * true) */
static const cyaml_strval_t bool_strings[] = {
	{ "true", 1 }, { "false", 0 },
	{ "True", 1 }, { "False", 0 },
	{ "TRUE", 1 }, { "FALSE", 0 },
};

static const cyaml_schema_field_t collector_fields[] = {
	YAML_FIELD_STRING("address", CYAML_FLAG_OPTIONAL, struct cy_collector,
			  address),
	YAML_FIELD_STRING("remoteAddress", CYAML_FLAG_OPTIONAL,
			  struct cy_collector, remote_address),
	YAML_FIELD_STRING("localAddress", CYAML_FLAG_OPTIONAL,
			  struct cy_collector, local_address),
	CYAML_FIELD_ENUM("transport", CYAML_FLAG_OPTIONAL | CYAML_FLAG_STRICT,
			 struct cy_collector, transport, transport_strings,
			 CYAML_ARRAY_LEN(transport_strings)),
	YAML_FIELD_NUMBER("reconnectIntervalSeconds", struct cy_collector,
			  reconnect_interval),
	CYAML_FIELD_ENUM("udpSegmentation",
			 CYAML_FLAG_OPTIONAL | CYAML_FLAG_STRICT,
			 struct cy_collector, udp_segmentation, bool_strings,
			 CYAML_ARRAY_LEN(bool_strings)),
	CYAML_FIELD_END
};

static const cyaml_schema_value_t collector_schema = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct cy_collector,
			    collector_fields),
};

struct cy_hook {
	char *name;
	char *command;
	char *shell;
};

static const cyaml_schema_field_t hook_fields[] = {
	YAML_FIELD_STRING("name", CYAML_FLAG_OPTIONAL, struct cy_hook, name),
	YAML_FIELD_STRING("command", CYAML_FLAG_OPTIONAL, struct cy_hook,
			  command),
	YAML_FIELD_STRING("shell", CYAML_FLAG_OPTIONAL, struct cy_hook, shell),
	CYAML_FIELD_END
};

static const cyaml_schema_value_t hook_schema = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct cy_hook, hook_fields),
};

struct cy_log {
	char *file;
	struct cy_hook *hooks;
	unsigned int n_hooks;
};

static const cyaml_schema_field_t log_fields[] = {
	YAML_FIELD_STRING("file", CYAML_FLAG_DEFAULT, struct cy_log, file),
	CYAML_FIELD_SEQUENCE_COUNT("hooks",
				   CYAML_FLAG_OPTIONAL |
				   CYAML_FLAG_POINTER_NULL_STR,
				   struct cy_log, hooks, n_hooks, &hook_schema,
				   0, CYAML_UNLIMITED),
	CYAML_FIELD_END
};

struct cy_output {
	struct cy_collector *collector;
	struct cy_log *log;
};

static const cyaml_schema_field_t output_fields[] = {
	CYAML_FIELD_MAPPING_PTR("collector", CYAML_FLAG_OPTIONAL,
				struct cy_output, collector, collector_fields),
	CYAML_FIELD_MAPPING_PTR("log", CYAML_FLAG_OPTIONAL, struct cy_output,
				log, log_fields),
	CYAML_FIELD_END
};

static const cyaml_schema_value_t output_schema = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct cy_output,
			    output_fields),
};

struct cy_field {
	char *name;
	char *length;
};

static const cyaml_schema_field_t field_fields[] = {
	YAML_FIELD_STRING("name", CYAML_FLAG_DEFAULT, struct cy_field, name),
	YAML_FIELD_NUMBER("length", struct cy_field, length),
	CYAML_FIELD_END
};

static const cyaml_schema_value_t field_schema = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct cy_field, field_fields),
};

struct cy_template {
	char *id;
	struct cy_field *fields;
	unsigned int n_fields;
};

static const cyaml_schema_field_t template_fields[] = {
	CYAML_FIELD_STRING_PTR("id", CYAML_FLAG_DEFAULT, struct cy_template,
			       id, 0, CYAML_UNLIMITED),
	CYAML_FIELD_SEQUENCE_COUNT("template", CYAML_FLAG_POINTER_NULL_STR,
				   struct cy_template, fields, n_fields,
				   &field_schema, 0, CYAML_UNLIMITED),
	CYAML_FIELD_END
};

static const cyaml_schema_value_t template_schema = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct cy_template,
			    template_fields),
};

struct cy_enterprise_ie {
	char *name;
	char *enterprise_number;
	char *id;
	char *source;
	char *length;
};

static const cyaml_schema_field_t enterprise_ie_fields[] = {
	YAML_FIELD_STRING("name", CYAML_FLAG_DEFAULT, struct cy_enterprise_ie,
			  name),
	CYAML_FIELD_STRING_PTR("enterpriseNumber", CYAML_FLAG_DEFAULT,
			       struct cy_enterprise_ie, enterprise_number, 0,
			       CYAML_UNLIMITED),
	CYAML_FIELD_STRING_PTR("id", CYAML_FLAG_DEFAULT,
			       struct cy_enterprise_ie, id, 0,
			       CYAML_UNLIMITED),
	YAML_FIELD_STRING("source", CYAML_FLAG_DEFAULT,
			  struct cy_enterprise_ie, source),
	YAML_FIELD_NUMBER("length", struct cy_enterprise_ie, length),
	CYAML_FIELD_END
};

static const cyaml_schema_value_t enterprise_ie_schema = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct cy_enterprise_ie,
			    enterprise_ie_fields),
};

struct cy_flow_templates {
	char *ipv4;
	char *ipv6;
};

static const cyaml_schema_field_t flow_templates_fields[] = {
	YAML_FIELD_NUMBER("ipv4", struct cy_flow_templates, ipv4),
	YAML_FIELD_NUMBER("ipv6", struct cy_flow_templates, ipv6),
	CYAML_FIELD_END
};

static const cyaml_schema_value_t string_schema = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER_NULL_STR, char, 0,
			   CYAML_UNLIMITED),
};

struct cy_config {
	/* the original's keys */
	char *max_ipfix_message_len;
	char *timer_finished_drain;
	char *timer_force_drain;
	char *timer_template_flush;
	struct cy_output *outputs;
	unsigned int n_outputs;
	struct cy_collector *collectors;
	unsigned int n_collectors;
	struct cy_template *templates;
	unsigned int n_templates;
	/* flowctl's own */
	char *observation_domain_id;
	char *exporting_process_id;
	char *idle_timeout;
	char *active_timeout;
	char *scan_interval;
	char *drain_threads;
	char *hook_timeout;
	char *metrics_address;
	char **interfaces;
	unsigned int n_interfaces;
	struct cy_enterprise_ie *enterprise_ies;
	unsigned int n_enterprise_ies;
	struct cy_flow_templates *flow_templates;
};

#define SEQ_FIELD(key, member, n_member, entry)				\
	CYAML_FIELD_SEQUENCE_COUNT(key,					\
				   CYAML_FLAG_OPTIONAL |		\
				   CYAML_FLAG_POINTER_NULL_STR,	\
				   struct cy_config, member, n_member,	\
				   entry, 0, CYAML_UNLIMITED)

static const cyaml_schema_field_t config_fields[] = {
	YAML_FIELD_NUMBER("maxIpfixMessageLen", struct cy_config,
			  max_ipfix_message_len),
	YAML_FIELD_NUMBER("timerFinishedDrainSeconds", struct cy_config,
			  timer_finished_drain),
	YAML_FIELD_NUMBER("timerForceDrainSeconds", struct cy_config,
			  timer_force_drain),
	YAML_FIELD_NUMBER("timerTemplateFlushSeconds", struct cy_config,
			  timer_template_flush),
	SEQ_FIELD("outputs", outputs, n_outputs, &output_schema),
	SEQ_FIELD("collectors", collectors, n_collectors, &collector_schema),
	SEQ_FIELD("templates", templates, n_templates, &template_schema),
	YAML_FIELD_NUMBER("observationDomainId", struct cy_config,
			  observation_domain_id),
	YAML_FIELD_NUMBER("exportingProcessId", struct cy_config,
			  exporting_process_id),
	YAML_FIELD_NUMBER("idleTimeoutSeconds", struct cy_config,
			  idle_timeout),
	YAML_FIELD_NUMBER("activeTimeoutSeconds", struct cy_config,
			  active_timeout),
	YAML_FIELD_NUMBER("scanIntervalMilliseconds", struct cy_config,
			  scan_interval),
	YAML_FIELD_NUMBER("drainThreads", struct cy_config, drain_threads),
	YAML_FIELD_NUMBER("hookTimeoutSeconds", struct cy_config,
			  hook_timeout),
	YAML_FIELD_STRING("metricsAddress", CYAML_FLAG_OPTIONAL,
			  struct cy_config, metrics_address),
	SEQ_FIELD("interfaces", interfaces, n_interfaces, &string_schema),
	SEQ_FIELD("enterpriseElements", enterprise_ies, n_enterprise_ies,
		  &enterprise_ie_schema),
	CYAML_FIELD_MAPPING_PTR("flowTemplates", CYAML_FLAG_OPTIONAL,
				struct cy_config, flow_templates,
				flow_templates_fields),
	CYAML_FIELD_END
};

static const cyaml_schema_value_t config_schema = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct cy_config,
			    config_fields),
};

struct parser {
	struct yaml_doc *d;
	struct yaml_error *err;
	struct flowctl_config *cfg;
	const struct cy_config *cy;
};

#define PERR(p, node, ...) yaml_doc_error((p)->d, (p)->err, (node), __VA_ARGS__)

/* The node at a path (yaml_doc_at), for a message. */
#define AT(p, ...) yaml_doc_at((p)->d, __VA_ARGS__)

/* The key a message about PATH names: its last component, or for a list
 * item ("interfaces/3") the list's key.  PATH is changed. */
static const char *path_key(char *path)
{
	char *slash = strrchr(path, '/');

	if (slash && slash[1] && strspn(slash + 1, "0123456789") ==
				 strlen(slash + 1)) {
		*slash = 0;
		slash = strrchr(path, '/');
	}
	return slash ? slash + 1 : path;
}

/*
 * TEXT (NULL: absent, *OUT untouched) as an integer in MIN..MAX, decimal
 * or 0x hexadecimal.  PATH names the node for the message.
 */
__attribute__((format(printf, 6, 7)))
static int get_number(struct parser *p, const char *text, uint64_t min,
		      uint64_t max, uint64_t *out, const char *fmt, ...)
{
	char path[256], buf[80];
	const yaml_node_t *n;
	va_list ap;
	uint64_t v;

	if (!text)
		return 0;
	if (!parse_u64(text, &v) && v >= min && v <= max) {
		*out = v;
		return 0;
	}
	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	n = AT(p, "%s", path);
	return PERR(p, n, "%s: expected an integer in %llu..%llu, found %s",
		    path_key(path), (unsigned long long)min,
		    (unsigned long long)max,
		    n ? yaml_describe(n, buf, sizeof(buf)) : text);
}

/* The longest timer or interval a config may set: a day (the keys in
 * seconds; docs/config.md). */
#define CONFIG_MAX_SECONDS	86400

#define GET_U32(p, text, min, max, out, ...)				\
	({								\
		uint64_t v_ = *(out);					\
		int r_ = get_number((p), (text), (min), (max), &v_,	\
				    __VA_ARGS__);			\
		*(out) = v_;						\
		r_;							\
	})

/*
 * A string the config requires (not absent, not empty): TEXT as loaded
 * (YAML_FIELD_STRING: NULL for no value), *OUT a copy.
 */
__attribute__((format(printf, 4, 5)))
static int get_string(struct parser *p, const char *text, char **out,
		      const char *fmt, ...)
{
	char path[256], buf[80];
	const yaml_node_t *n;
	va_list ap;

	if (text && *text) {
		*out = strdup(text);
		return *out ? 0 : -ENOMEM;
	}
	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	n = AT(p, "%s", path);
	return PERR(p, n, "%s: expected a non-empty string, found %s",
		    path_key(path),
		    n ? yaml_describe(n, buf, sizeof(buf)) : "no value");
}

/* An optional string: absent is fine, given it must not be empty. */
__attribute__((format(printf, 4, 5)))
static int get_opt_string(struct parser *p, const char *text, char **out,
			  const char *fmt, ...)
{
	char path[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	if (!text && !AT(p, "%s", path))
		return 0;
	return get_string(p, text, out, "%s", path);
}

/* An address "host:port" at PATH; PORT_ZERO_OK for local (bind)
 * addresses. */
static int get_address(struct parser *p, const char *text, const char *path,
		       bool port_zero_ok, char **out)
{
	char host[256], key[256];
	uint16_t port;
	int ret;

	ret = get_string(p, text, out, "%s", path);
	if (ret)
		return ret;
	if (hostport_parse(*out, host, sizeof(host), &port) ||
	    (!port_zero_ok && port == 0)) {
		ret = PERR(p, AT(p, "%s", path),
			   "%s: bad address '%s' (expected HOST:PORT, IPV4:PORT or [IPV6]:PORT with a port in %d..65535)",
			   path_key(strcpy(key, path)), *out,
			   port_zero_ok ? 0 : 1);
		free(*out);
		*out = NULL;
	}
	return ret;
}

/* metricsAddress: what `flowctl agent --metrics-address` takes, checked
 * by the same function. */
static int get_metrics_address(struct parser *p, const char *text,
			       char **out)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int ret;

	ret = get_string(p, text, out, "metricsAddress");
	if (ret)
		return ret;
	if (metrics_parse_addr_quiet(*out, &ss, &len)) {
		ret = PERR(p, AT(p, "metricsAddress"),
			   "metricsAddress: bad address '%s' (expected HOST:PORT: an IPv4 address, [IPv6], localhost, or * or nothing for every IPv4 address, and a port in 0..65535)",
			   *out);
		free(*out);
		*out = NULL;
	}
	return ret;
}

/* A collector of outputs: (PATH .../collector) or of the older
 * collectors: list (OLD_FORM, PATH collectors/N). */
static int parse_collector(struct parser *p, const struct cy_collector *cc,
			   const char *path, bool old_form)
{
	struct flowctl_config *cfg = p->cfg;
	struct config_collector *c;
	const yaml_node_t *map = AT(p, "%s", path);
	char sub[256];
	int ret;

	if (cc->address && cc->remote_address)
		return PERR(p, AT(p, "%s/address", path),
			    "collector: give either 'address' or 'remoteAddress', not both");
	if (!cc->address && !cc->remote_address &&
	    !AT(p, "%s/address", path) && !AT(p, "%s/remoteAddress", path))
		return PERR(p, map, "collector: missing key '%s'",
			    old_form ? "address" : "remoteAddress");
	if (cc->udp_segmentation && cc->transport != IPFIX_TRANSPORT_UDP)
		return PERR(p, AT(p, "%s/udpSegmentation", path),
			    "udpSegmentation: applies to UDP collectors only (this one has transport: tcp)");
	c = &cfg->collectors[cfg->n_collectors++];
	c->transport = cc->transport;
	c->udp_segmentation = cc->udp_segmentation != 0;
	c->reconnect_interval_s = CONFIG_DEFAULT_RECONNECT_S;
	c->line = map ? (int)map->start_mark.line + 1 : 0;
	snprintf(sub, sizeof(sub), "%s/%s", path,
		 cc->address || (!cc->remote_address &&
				 AT(p, "%s/address", path)) ?
		 "address" : "remoteAddress");
	ret = get_address(p, cc->address ?: cc->remote_address, sub, false,
			  &c->remote_address);
	if (ret)
		return ret;
	if (cc->local_address || AT(p, "%s/localAddress", path)) {
		snprintf(sub, sizeof(sub), "%s/localAddress", path);
		ret = get_address(p, cc->local_address, sub, true,
				  &c->local_address);
		if (ret)
			return ret;
	}
	return GET_U32(p, cc->reconnect_interval, 1, CONFIG_MAX_SECONDS,
		       &c->reconnect_interval_s,
		       "%s/reconnectIntervalSeconds", path);
}

static int parse_hook(struct parser *p, const struct cy_hook *ch,
		      const char *path, struct config_hook *h)
{
	bool cmd = ch->command || AT(p, "%s/command", path);
	bool shell = ch->shell || AT(p, "%s/shell", path);
	int ret;

	ret = get_opt_string(p, ch->name, &h->name, "%s/name", path);
	if (ret)
		return ret;
	if (cmd && shell)
		return PERR(p, AT(p, "%s/shell", path),
			    "hook: give either 'command' or 'shell', not both");
	if (!cmd && !shell)
		return PERR(p, AT(p, "%s", path),
			    "hook: missing key 'command' or 'shell'");
	if (shell)
		return get_string(p, ch->shell, &h->shell, "%s/shell", path);
	if (!ch->command || !ch->command[strspn(ch->command, " \t\n")])
		return get_string(p, NULL, &h->shell, "%s/command", path);
	/* words and quotes as the hook runner documents them */
	ret = hook_argv_split(ch->command, &h->argv);
	if (ret == -EINVAL)
		return PERR(p, AT(p, "%s/command", path),
			    "command: a quote is not closed in '%.200s'",
			    ch->command);
	if (ret)
		return ret;
	if (!h->argv[0][0])
		return PERR(p, AT(p, "%s/command", path),
			    "command: the program name is empty in '%.200s'",
			    ch->command);
	return 0;
}

static int parse_log(struct parser *p, const struct cy_log *cl,
		     const char *path)
{
	struct flowctl_config *cfg = p->cfg;
	struct config_log *l = &cfg->logs[cfg->n_logs++];
	unsigned int i;
	int ret;

	/* stdout and stderr name the standard streams */
	ret = get_string(p, cl->file, &l->file, "%s/file", path);
	if (ret || !cl->n_hooks)
		return ret;
	l->hooks = calloc(cl->n_hooks, sizeof(*l->hooks));
	if (!l->hooks)
		return -ENOMEM;
	for (i = 0; i < cl->n_hooks; i++) {
		char sub[256];

		snprintf(sub, sizeof(sub), "%s/hooks/%u", path, i);
		ret = parse_hook(p, &cl->hooks[i], sub, &l->hooks[l->n_hooks++]);
		if (ret)
			return ret;
	}
	return 0;
}

/* The key node KEY of the mapping at PATH. */
static const yaml_node_t *map_key_node(struct parser *p, const char *path,
				       const char *key)
{
	const yaml_node_t *map = AT(p, "%s", path);
	yaml_node_pair_t *pair;
	yaml_node_t *k, *v;

	if (!yaml_is_map(map))
		return map;
	yaml_map_for_each(p->d, map, pair, k, v)
		if (yaml_is_scalar(k) && !strcmp(yaml_str(k), key))
			return k;
	return map;
}

static int parse_outputs(struct parser *p)
{
	const struct cy_config *cy = p->cy;
	unsigned int i;
	int ret;

	for (i = 0; i < cy->n_outputs; i++) {
		const struct cy_output *o = &cy->outputs[i];
		char path[64];

		snprintf(path, sizeof(path), "outputs/%u", i);
		if (o->collector && o->log)
			return PERR(p, map_key_node(p, path, "log"),
				    "output: one output is either 'collector' or 'log', not both (start another list item)");
		if (!o->collector && !o->log)
			return PERR(p, AT(p, "%s", path),
				    "output: expected 'collector' or 'log'");
		if (o->collector) {
			snprintf(path, sizeof(path), "outputs/%u/collector", i);
			ret = parse_collector(p, o->collector, path, false);
		} else {
			snprintf(path, sizeof(path), "outputs/%u/log", i);
			ret = parse_log(p, o->log, path);
		}
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

static int parse_enterprise_ie(struct parser *p,
			       const struct cy_enterprise_ie *ce, unsigned int i)
{
	struct flowctl_config *cfg = p->cfg;
	struct ipfix_ie *ie = &cfg->enterprise_ies[cfg->n_enterprise_ies];
	const struct ipfix_source_info *src;
	char *name;
	uint32_t u = 0;
	size_t k;
	int ret;

	ret = get_string(p, ce->name, &name, "enterpriseElements/%u/name", i);
	if (ret)
		return ret;
	ie->name = name;
	cfg->n_enterprise_ies++;
	for (k = 0; cfg->enterprise_ies + k < ie; k++)
		if (!strcasecmp(cfg->enterprise_ies[k].name, name))
			break;
	if (cfg->enterprise_ies + k < ie || ipfix_ie_by_name(name))
		return PERR(p, AT(p, "enterpriseElements/%u/name", i),
			    "enterprise element: name '%s' is already taken by another element",
			    name);
	ret = GET_U32(p, ce->enterprise_number, 1, UINT32_MAX, &ie->pen,
		      "enterpriseElements/%u/enterpriseNumber", i);
	ret = ret ?: GET_U32(p, ce->id, 1, 32767, &u,
			     "enterpriseElements/%u/id", i);
	if (ret)
		return ret;
	ie->id = u;
	src = ce->source ? ipfix_source_by_name(ce->source) : NULL;
	if (!src) {
		size_t count, off = 0;
		const struct ipfix_source_info *t = ipfix_source_table(&count);
		char names[300], buf[80];
		const yaml_node_t *n = AT(p, "enterpriseElements/%u/source", i);

		for (k = 0; k < count && off < sizeof(names); k++)
			off += snprintf(names + off, sizeof(names) - off,
					"%s%s", k ? ", " : "", t[k].name);
		return PERR(p, n, "source: expected one of %s, found %s",
			    names, yaml_describe(n, buf, sizeof(buf)));
	}
	ie->source = src->source;
	ie->type = src->type;
	ie->length = src->length;
	if (!ce->length)
		return 0;
	ret = GET_U32(p, ce->length, 1, IPFIX_VARLEN, &u,
		      "enterpriseElements/%u/length", i);
	if (ret)
		return ret;
	if (!(u == IPFIX_VARLEN && (ie->type == IPFIX_T_STRING ||
				    ie->type == IPFIX_T_OCTET_ARRAY)) &&
	    !ipfix_type_length_ok(ie->type, u))
		return PERR(p, AT(p, "enterpriseElements/%u/length", i),
			    "length: %u does not fit source '%s' (%s of %u octets)",
			    u, src->name, ipfix_type_name(ie->type),
			    src->length);
	ie->length = u;
	return 0;
}

static int parse_enterprise_ies(struct parser *p)
{
	const struct cy_config *cy = p->cy;
	unsigned int i;
	int ret;

	if (!cy->n_enterprise_ies)
		return 0;
	if (cy->n_enterprise_ies > CONFIG_MAX_ENTERPRISE_IES)
		return PERR(p, AT(p, "enterpriseElements"),
			    "enterpriseElements: %u elements; at most %d are allowed",
			    cy->n_enterprise_ies, CONFIG_MAX_ENTERPRISE_IES);
	p->cfg->enterprise_ies = calloc(cy->n_enterprise_ies,
					sizeof(struct ipfix_ie));
	if (!p->cfg->enterprise_ies)
		return -ENOMEM;
	for (i = 0; i < cy->n_enterprise_ies; i++) {
		ret = parse_enterprise_ie(p, &cy->enterprise_ies[i], i);
		if (ret)
			return ret;
	}
	return index_enterprise_ies(p->cfg);
}

static int parse_template_field(struct parser *p, const struct cy_field *cf,
				unsigned int t, unsigned int i,
				struct ipfix_field *f)
{
	const struct ipfix_ie *ie;
	char *name = NULL;
	uint32_t u = 0;
	int ret;

	ret = get_string(p, cf->name, &name, "templates/%u/template/%u/name",
			 t, i);
	if (ret)
		return ret;
	ie = config_ie_by_name(p->cfg, name);
	free(name);
	if (!ie)
		return PERR(p, AT(p, "templates/%u/template/%u/name", t, i),
			    "unknown information element '%s' (IANA names, case-insensitive; see docs/ipfix.md)",
			    cf->name);
	f->ie = ie;
	f->length = ie->length;
	if (!cf->length)
		return 0;
	ret = GET_U32(p, cf->length, 1, IPFIX_VARLEN, &u,
		      "templates/%u/template/%u/length", t, i);
	if (ret)
		return ret;
	if (u == IPFIX_VARLEN && (ie->type == IPFIX_T_STRING ||
				  ie->type == IPFIX_T_OCTET_ARRAY)) {
		f->length = u;
		return 0;
	}
	if (!ipfix_type_length_ok(ie->type, u))
		return PERR(p, AT(p, "templates/%u/template/%u/length", t, i),
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

static int parse_template(struct parser *p, const struct cy_template *ct,
			  unsigned int i, uint64_t *seen)
{
	struct flowctl_config *cfg = p->cfg;
	struct config_template *t = &cfg->templates[cfg->n_templates];
	const yaml_node_t *n = AT(p, "templates/%u", i);
	unsigned int j;
	uint32_t id = 0;
	size_t k;
	int ret;

	ret = GET_U32(p, ct->id, 0, UINT16_MAX, &id, "templates/%u/id", i);
	if (ret)
		return ret;
	if (id < IPFIX_MIN_DATA_SET_ID || id > IPFIX_TID_CONFIG_MAX)
		return PERR(p, AT(p, "templates/%u/id", i),
			    "id: template id %u is out of range (expected 256..%d; below 256 are set ids, %d..65535 are flowctl's own templates)",
			    id, IPFIX_TID_CONFIG_MAX, IPFIX_TID_CONFIG_MAX + 1);
	if (seen[id / 64] & 1ULL << id % 64) {
		for (k = 0; cfg->templates[k].id != id; k++)
			;
		return PERR(p, AT(p, "templates/%u/id", i),
			    "id: duplicate template id %u (first at line %d)",
			    id, cfg->templates[k].line);
	}
	seen[id / 64] |= 1ULL << id % 64;
	t->id = id;
	t->line = n ? (int)n->start_mark.line + 1 : 0;
	t->col = n ? (int)n->start_mark.column + 1 : 0;
	if (!ct->n_fields) {
		const yaml_node_t *f = AT(p, "templates/%u/template", i);
		char buf[80];

		return PERR(p, f,
			    "template: expected a list of information elements, found %s",
			    yaml_is_seq(f) ? "an empty list" :
			    yaml_describe(f, buf, sizeof(buf)));
	}
	if (ct->n_fields > IPFIX_MAX_FIELDS)
		return PERR(p, AT(p, "templates/%u/template", i),
			    "template %u has %u fields; at most %d are allowed",
			    id, ct->n_fields, IPFIX_MAX_FIELDS);
	for (j = 0; j < ct->n_fields; j++) {
		ret = parse_template_field(p, &ct->fields[j], i, j,
					   &t->fields[t->n_fields]);
		if (ret)
			return ret;
		t->n_fields++;
	}
	cfg->n_templates++;
	return 0;
}

static int parse_templates(struct parser *p)
{
	const struct cy_config *cy = p->cy;
	uint64_t seen[(UINT16_MAX + 1) / 64] = {};	/* ids so far */
	unsigned int i;
	int ret;

	if (!cy->n_templates)
		return 0;
	if (cy->n_templates > CONFIG_MAX_TEMPLATES)
		return PERR(p, AT(p, "templates"),
			    "templates: %u templates; at most %d are allowed (one per id 256..%d)",
			    cy->n_templates, CONFIG_MAX_TEMPLATES,
			    IPFIX_TID_CONFIG_MAX);
	p->cfg->templates = calloc(cy->n_templates,
				   sizeof(*p->cfg->templates));
	if (!p->cfg->templates)
		return -ENOMEM;
	for (i = 0; i < cy->n_templates; i++) {
		ret = parse_template(p, &cy->templates[i], i, seen);
		if (ret)
			return ret;
	}
	return index_templates(p->cfg);
}

/* Whether one message of maxIpfixMessageLen holds PLAN's template record
 * and its longest data record. */
static int check_fits(struct parser *p, const struct ipfix_plan *plan,
		      const yaml_node_t *where, const char *what)
{
	const yaml_node_t *len_node = AT(p, "maxIpfixMessageLen");
	unsigned int need, rec;

	rec = plan->template_record_len > plan->max_record_len ?
		plan->template_record_len : plan->max_record_len;
	need = IPFIX_MSG_HDR_LEN + IPFIX_SET_HDR_LEN + rec;
	if (need <= p->cfg->max_ipfix_message_len)
		return 0;
	return PERR(p, len_node ? len_node : where,
		    "maxIpfixMessageLen %u is too small for %s %u: one record needs %u octets (message header %d + set header %d + record %u)",
		    p->cfg->max_ipfix_message_len, what, plan->id, need,
		    IPFIX_MSG_HDR_LEN, IPFIX_SET_HDR_LEN, rec);
}

static int check_templates(struct parser *p)
{
	struct flowctl_config *cfg = p->cfg;
	struct ipfix_plan plan;
	size_t i;
	int ret;

	for (i = 0; i < cfg->n_templates; i++) {
		struct config_template *t = &cfg->templates[i];
		const yaml_node_t *n = AT(p, "templates/%zu", i);

		ret = ipfix_plan_compile(&plan, t->id, t->fields, t->n_fields,
					 0);
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
	if (ipfix_plan_exporting_stats(&plan) ||
	    check_fits(p, &plan, NULL, "options template"))
		return -EINVAL;
	if (ipfix_plan_metering_stats(&plan) ||
	    check_fits(p, &plan, NULL, "options template"))
		return -EINVAL;
	return 0;
}

/* flowTemplates: {ipv4: ID, ipv6: ID}: a configured template without
 * addresses of the other version. */
static int parse_flow_template(struct parser *p, const char *text,
			       const char *version, unsigned int other,
			       uint16_t *out)
{
	struct ipfix_plan plan;
	uint32_t id = 0;
	int ret;

	ret = GET_U32(p, text, 0, UINT16_MAX, &id, "flowTemplates/%s",
		      version);
	if (ret || !id)
		return ret;
	if (!config_is_template(p->cfg, id))
		return PERR(p, AT(p, "flowTemplates/%s", version),
			    "%s: no template %u among the config's templates (0 or no key: chosen automatically)",
			    version, id);
	ret = config_template_plan(p->cfg, id, &plan);
	if (ret)
		return ret;
	if (plan.addr_versions & other)
		return PERR(p, AT(p, "flowTemplates/%s", version),
			    "%s: template %u carries %s addresses; %s flows need a template without them",
			    version, id, other == IPFIX_ADDR_V6 ? "IPv6" : "IPv4",
			    version);
	*out = id;
	return 0;
}

static int parse_interfaces(struct parser *p)
{
	const struct cy_config *cy = p->cy;
	struct flowctl_config *cfg = p->cfg;
	unsigned int i;
	int ret;

	if (!cy->n_interfaces)
		return 0;
	cfg->interfaces = calloc(cy->n_interfaces + 1, sizeof(char *));
	if (!cfg->interfaces)
		return -ENOMEM;
	for (i = 0; i < cy->n_interfaces; i++) {
		struct ifspec spec;
		const char *why;
		char *v;

		ret = get_string(p, cy->interfaces[i], &v, "interfaces/%u", i);
		if (ret)
			return ret;
		cfg->interfaces[cfg->n_interfaces++] = v;
		/* what `flowctl meter attach -i` takes */
		if (ifspec_parse(v, &spec, &why))
			return PERR(p, AT(p, "interfaces/%u", i),
				    "interfaces: bad interface '%.300s': %s (expected NETNS:DEV, NETNS:* or DEV)",
				    v, why);
	}
	return 0;
}

/* The template field shorthand `template: [Name, ...]` of the
 * original's README (its code never read it): refused with the fix. */
static int check_no_shorthand(struct parser *p)
{
	const yaml_node_t *list;
	unsigned int i, j;
	char buf[80];

	for (i = 0; (list = AT(p, "templates/%u", i)); i++) {
		const yaml_node_t *f;

		list = AT(p, "templates/%u/template", i);
		for (j = 0; yaml_is_seq(list) &&
			    (f = AT(p, "templates/%u/template/%u", i, j)); j++)
			if (yaml_is_scalar(f) && !yaml_is_null(f))
				return PERR(p, f,
					    "template field: expected a mapping {name: NAME}, found %s (write '- name: %.60s'; the shorthand [Name, ...] is not read)",
					    yaml_describe(f, buf, sizeof(buf)),
					    yaml_str(f));
	}
	return 0;
}

static int parse_config(struct parser *p)
{
	const struct cy_config *cy = p->cy;
	struct flowctl_config *cfg = p->cfg;
	size_t n_coll;
	unsigned int i;
	int ret;

	if (!cy)
		goto defaults;
	ret = GET_U32(p, cy->max_ipfix_message_len, 1, IPFIX_MAX_MSG_LEN,
		      &cfg->max_ipfix_message_len, "maxIpfixMessageLen");
	ret = ret ?: GET_U32(p, cy->timer_finished_drain, 0, CONFIG_MAX_SECONDS,
			     &cfg->timer_finished_drain_s,
			     "timerFinishedDrainSeconds");
	ret = ret ?: GET_U32(p, cy->timer_force_drain, 1, CONFIG_MAX_SECONDS,
			     &cfg->timer_force_drain_s,
			     "timerForceDrainSeconds");
	ret = ret ?: GET_U32(p, cy->timer_template_flush, 1, CONFIG_MAX_SECONDS,
			     &cfg->timer_template_flush_s,
			     "timerTemplateFlushSeconds");
	ret = ret ?: GET_U32(p, cy->idle_timeout, 1, CONFIG_MAX_SECONDS,
			     &cfg->idle_timeout_s, "idleTimeoutSeconds");
	ret = ret ?: GET_U32(p, cy->active_timeout, 1, CONFIG_MAX_SECONDS,
			     &cfg->active_timeout_s, "activeTimeoutSeconds");
	ret = ret ?: GET_U32(p, cy->scan_interval, 10, 60000,
			     &cfg->scan_interval_ms,
			     "scanIntervalMilliseconds");
	ret = ret ?: GET_U32(p, cy->drain_threads, 0, FLOW_TABLE_MAX_WORKERS,
			     &cfg->drain_threads, "drainThreads");
	ret = ret ?: GET_U32(p, cy->hook_timeout, 1, 3600,
			     &cfg->hook_timeout_s, "hookTimeoutSeconds");
	ret = ret ?: GET_U32(p, cy->observation_domain_id, 0, UINT32_MAX,
			     &cfg->obs_domain_id, "observationDomainId");
	ret = ret ?: GET_U32(p, cy->exporting_process_id, 0, UINT32_MAX,
			     &cfg->exporting_process_id, "exportingProcessId");
	if (ret)
		return ret;
	cfg->obs_domain_id_set = cy->observation_domain_id;
	cfg->exporting_process_id_set = cy->exporting_process_id;
	if (cy->metrics_address || AT(p, "metricsAddress")) {
		ret = get_metrics_address(p, cy->metrics_address,
					  &cfg->metrics_address);
		if (ret)
			return ret;
	}
	ret = parse_interfaces(p);
	if (ret)
		return ret;

	n_coll = cy->n_outputs + cy->n_collectors;
	if (n_coll) {
		cfg->collectors = calloc(n_coll, sizeof(*cfg->collectors));
		cfg->logs = calloc(cy->n_outputs ?: 1, sizeof(*cfg->logs));
		if (!cfg->collectors || !cfg->logs)
			return -ENOMEM;
	}
	ret = parse_outputs(p);
	if (ret)
		return ret;
	for (i = 0; i < cy->n_collectors; i++) {
		char path[64];

		snprintf(path, sizeof(path), "collectors/%u", i);
		ret = parse_collector(p, &cy->collectors[i], path, true);
		if (ret)
			return ret;
	}
	ret = parse_enterprise_ies(p);
	ret = ret ?: parse_templates(p);
	if (ret)
		return ret;
defaults:
	if (!cfg->max_ipfix_message_len)
		cfg->max_ipfix_message_len = CONFIG_DEFAULT_MAX_MSG_LEN;
	if (!cfg->timer_template_flush_s)
		cfg->timer_template_flush_s = CONFIG_DEFAULT_TEMPLATE_FLUSH_S;
	if (!cfg->idle_timeout_s)
		cfg->idle_timeout_s = FLOW_CACHE_IDLE_TIMEOUT_S;
	if (!cfg->active_timeout_s)
		cfg->active_timeout_s = cfg->timer_force_drain_s ?:
					FLOW_CACHE_ACTIVE_TIMEOUT_S;
	if (!cfg->scan_interval_ms)
		cfg->scan_interval_ms = FLOW_CACHE_SCAN_INTERVAL_MS;
	if (!cfg->hook_timeout_s)
		cfg->hook_timeout_s = CONFIG_DEFAULT_HOOK_TIMEOUT_S;
	if (!cfg->exporting_process_id_set)
		cfg->exporting_process_id = 1;
	if (!cfg->metrics_address) {
		cfg->metrics_address = strdup(METRICS_DEFAULT_ADDR);
		if (!cfg->metrics_address)
			return -ENOMEM;
	}
	ret = check_templates(p);
	if (ret || !cy || !cy->flow_templates)
		return ret;
	ret = parse_flow_template(p, cy->flow_templates->ipv4, "ipv4",
				  IPFIX_ADDR_V6, &cfg->flow_templates.ipv4);
	return ret ?: parse_flow_template(p, cy->flow_templates->ipv6, "ipv6",
					  IPFIX_ADDR_V4,
					  &cfg->flow_templates.ipv6);
}

static void timer_default(struct flowctl_config *cfg)
{
	cfg->timer_finished_drain_s = FLOW_CACHE_FINISHED_DRAIN_S;
}

int config_load_string(const char *name, const char *text, size_t len,
		       struct flowctl_config **out, struct yaml_error *err)
{
	struct yaml_error local_err;
	struct yaml_error *e = err ?: &local_err;
	struct flowctl_config *cfg;
	struct cy_config *cy = NULL;
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
	/* the position index, and the limits libcyaml does not have */
	ret = yaml_doc_load(&d, cfg->file, text, len, e);
	if (ret)
		goto out;
	p.d = &d;
	p.err = e;
	p.cfg = cfg;
	ret = check_no_shorthand(&p);
	ret = ret ?: yaml_schema_load(&d, text, len, &config_schema, "config",
				      (void **)&cy, e);
	if (!ret) {
		yaml_schema_warn_unknown(&d, &config_schema, "config", NULL,
					 err);
		p.cy = cy;
		ret = parse_config(&p);
		yaml_doc_warn_done(&d, err);
	}
	yaml_schema_free(&config_schema, cy);
	yaml_doc_free(&d);
out:
	if (ret) {
		yaml_error_fail(e, err, name, ret);
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
	if (cfg && cfg->obs_domain_id_set)
		return cfg->obs_domain_id;
	return obs_domain_default(netns);
}

/* The configured template ID, or NULL. */
static const struct config_template *
find_template(const struct flowctl_config *cfg, uint16_t id)
{
	size_t lo = 0, hi = cfg->n_templates;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct config_template *t =
			&cfg->templates[cfg->template_order[mid]];

		if (t->id == id)
			return t;
		if (t->id > id)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

bool config_is_template(const struct flowctl_config *cfg, uint16_t id)
{
	return find_template(cfg, id) != NULL;
}

int config_template_plan(const struct flowctl_config *cfg, uint16_t id,
			 struct ipfix_plan *plan)
{
	const struct config_template *t = find_template(cfg, id);
	int ret = -ENOENT;

	if (t) {
		ret = ipfix_plan_compile(plan, id, t->fields, t->n_fields, 0);
	} else {
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
