// SPDX-License-Identifier: Apache-2.0
/*
 * flowctl ipfix: send a flow file to the collectors of a config (the
 * original's dummy-data transmitter), show the compiled templates.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "agent.h"
#include "clock.h"
#include "commands.h"
#include "config.h"
#include "flow_cache.h"
#include "flow_table.h"
#include "flowfile.h"
#include "flowlog.h"
#include "ipfix.h"
#include "ipfix_export.h"
#include "log.h"
#include "option.h"

/* -t: how long to wait for the collectors (ms) */
#define FILE_FLUSH_TIMEOUT_MS	5000
#define FILE_FLUSH_TIMEOUT_MAX_MS	600000

static int load_config(const char *path, struct flowctl_config **cfg)
{
	int ret;

	ret = path ? config_load_file(path, cfg, NULL) :
		     config_load_default(cfg, NULL);
	return ret ? EXIT_USAGE : 0;
}

/* A config that has a collector: 0, or the exit code (message printed). */
static int load_export_config(const char *path, struct flowctl_config **cfg)
{
	int ret = load_config(path, cfg);

	if (ret)
		return ret;
	if (!(*cfg)->n_collectors) {
		pr_err("%s: no collector (outputs: - collector: or collectors:)",
		       path);
		config_free(*cfg);
		*cfg = NULL;
		return EXIT_USAGE;
	}
	return 0;
}

/* -t: milliseconds, 0..FILE_FLUSH_TIMEOUT_MAX_MS; -1 when not a number
 * in range. */
static int parse_timeout_ms(const char *s)
{
	uint32_t v;

	return option_u32("-t", s, 0, FILE_FLUSH_TIMEOUT_MAX_MS, &v) ? -1 : (int)v;
}

static const struct opt ipfix_config_opt[] = {
	{ "config", 'c', 'c', "CONFIG", "the config", OV_FILE },
	{ 0 }
};

static const struct opt ipfix_timeout_opt[] = {
	{ "timeout", 't', 't', "TIMEOUT_MS",
	  "wait for the collectors at most this long,\n"
	  "0.." STRINGIFY(FILE_FLUSH_TIMEOUT_MAX_MS) " ms (default "
	  STRINGIFY(FILE_FLUSH_TIMEOUT_MS) ")" },
	{ 0 }
};

static const struct opt ipfix_file_opts[] = {
	{ "flow-file", 'f', 'f', "FLOWFILE", "the flows to send", OV_FILE },
	{ 0 }
};

static const struct cmd_spec ipfix_file_spec = {
	.path = "ipfix file",
	.help = "send the flows of a YAML flow file to the collectors",
	.synopsis = "[ -c CONFIG ] [ -f FLOWFILE ] [ -t TIMEOUT_MS ]",
	.about =
"Send the templates of CONFIG (default ./config.yaml), then the flows of\n"
"FLOWFILE (default ./flow.yaml), to every collector of CONFIG.  Exit code 0 when every record was sent, 1 when\n"
"any record was not sent (collector down, refused), 2 for a bad\n"
"config or flow file.\n",
	.groups = { ipfix_config_opt, ipfix_file_opts, ipfix_timeout_opt },
};

static int ipfix_file(int argc, char **argv)
{
	const char *config_path = CONFIG_CWD_FILE;
	const char *flow_path = CONFIG_CWD_FLOW_FILE;
	struct opt_parser op;
	struct ipfix_exporter *ex = NULL;
	struct flowctl_config *cfg = NULL;
	struct flowfile *ff = NULL;
	uint64_t records = 0, not_sent = 0, errors = 0;
	int timeout_ms = FILE_FLUSH_TIMEOUT_MS;
	uint32_t domain;
	size_t i, j;
	int c, ret;

	opt_parser_init(&op, &ipfix_file_spec);
	optind = 1;
	while ((c = opt_next(&op, argc, argv)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 'f':
			flow_path = optarg;
			break;
		case 't':
			timeout_ms = parse_timeout_ms(optarg);
			break;
		case 'h':
			opt_usage(stdout, &ipfix_file_spec);
			return 0;
		default:
			opt_usage(stderr, &ipfix_file_spec);
			return EXIT_USAGE;
		}
	}
	if (optind != argc || timeout_ms < 0) {
		opt_usage(stderr, &ipfix_file_spec);
		return EXIT_USAGE;
	}
	ret = load_export_config(config_path, &cfg);
	if (ret)
		return ret;
	ret = EXIT_USAGE;
	if (flowfile_load(flow_path, cfg, &ff, NULL))
		goto out;
	ret = 1;
	if (config_exporter_create(cfg, &ex)) {
		pr_err("cannot set up the IPFIX exporter");
		goto out;
	}
	domain = config_obs_domain_id(cfg, NULL);
	for (i = 0; i < ff->n_sets; i++) {
		const struct flowfile_set *s = &ff->sets[i];

		for (j = 0; j < s->n_records; j++)
			ipfix_exporter_export_encoded(ex, domain,
						      s->template_id,
						      s->records[j].data,
						      s->records[j].len);
		records += s->n_records;
	}
	ipfix_exporter_flush(ex, timeout_ms);
	for (i = 0; i < ipfix_exporter_n_collectors(ex); i++) {
		struct ipfix_collector_stats st;

		ipfix_exporter_stats(ex, i, &st);
		printf("collector %s (%s): %llu messages, %llu of %llu records sent, %llu not sent, %llu send errors\n",
		       st.address, ipfix_transport_name(st.transport),
		       (unsigned long long)st.messages,
		       (unsigned long long)st.records,
		       (unsigned long long)records,
		       (unsigned long long)st.records_not_sent,
		       (unsigned long long)st.send_errors);
		not_sent += st.records_not_sent;
		errors += st.send_errors;
	}
	ret = not_sent || errors ? 1 : 0;
	if (ret)
		pr_warn("%llu record(s) not sent, %llu send error(s)",
			(unsigned long long)not_sent,
			(unsigned long long)errors);
out:
	ipfix_exporter_destroy(ex);
	flowfile_free(ff);
	config_free(cfg);
	return ret;
}

static void print_plan(const struct ipfix_plan *p, const char *role,
		       uint32_t max_msg_len)
{
	unsigned int i, room = max_msg_len - IPFIX_MSG_HDR_LEN -
			       IPFIX_SET_HDR_LEN;

	printf("template %u (%s): %u fields", p->id, role, p->n_fields);
	if (p->n_scope)
		printf(", %u scope", p->n_scope);
	if (p->variable)
		printf(", record %u..%u octets, %u..%u records per message\n",
		       p->min_record_len, p->max_record_len,
		       room / p->max_record_len, room / p->min_record_len);
	else
		printf(", record %u octets, %u records per message\n",
		       p->min_record_len, room / p->min_record_len);
	printf("  %-3s %-32s %5s %10s %6s  %s\n", "#", "element", "id", "pen",
	       "length", "type");
	for (i = 0; i < p->n_fields; i++) {
		const struct ipfix_field *f = &p->fields[i];
		char len[8], pen[12];

		if (f->length == IPFIX_VARLEN)
			snprintf(len, sizeof(len), "var");
		else
			snprintf(len, sizeof(len), "%u", f->length);
		if (f->ie->pen)
			snprintf(pen, sizeof(pen), "%u", f->ie->pen);
		else
			snprintf(pen, sizeof(pen), "-");
		printf("  %-3u %-32s %5u %10s %6s  %s%s%s\n", i + 1,
		       f->ie->name, f->ie->id, pen, len,
		       ipfix_type_name(f->ie->type),
		       i < p->n_scope ? " (scope)" : "",
		       f->ie->source == IPFIX_SRC_NONE && !p->n_scope ?
		       " (not measured: zero)" : "");
	}
}

static const struct cmd_spec ipfix_template_spec = {
	.path = "ipfix template",
	.help = "print the templates a config compiles to",
	.synopsis = "[ -c CONFIG ]",
	.about =
"Print the templates CONFIG compiles to (without -c: the built-in\n"
"default config): elements, ids, lengths, record size, records per\n"
"message, and which template IPv4 and IPv6 flows use.\n",
	.groups = { ipfix_config_opt },
};

/* Which template the kernel flows of VERSION use, and why: one line. */
static uint16_t print_choice(const struct flowctl_config *cfg,
			     const struct ipfix_plan *plans, int version)
{
	struct ipfix_plan_choice ch;
	char why[256];

	if (ipfix_plan_choose(plans, cfg->n_templates, version,
			      version == 4 ? cfg->flow_templates.ipv4 :
			      cfg->flow_templates.ipv6, &ch))
		return 0;	/* the loader refused such a pin */
	ipfix_plan_choice_explain(&ch, why, sizeof(why));
	if (ch.plan)
		printf("IPv%d flows: template %u: %s\n", version, ch.plan->id,
		       why);
	else
		printf("IPv%d flows: built-in template %u: %s\n", version,
		       version == 4 ? IPFIX_TID_DEFAULT_V4 :
		       IPFIX_TID_DEFAULT_V6, why);
	return ch.plan ? ch.plan->id : 0;
}

static int ipfix_template(int argc, char **argv)
{
	const char *config_path = NULL;
	struct flowctl_config *cfg = NULL;
	struct ipfix_plan *plans = NULL, *plan;
	uint16_t v4, v6;
	struct opt_parser op;
	size_t i;
	int c, ret;

	opt_parser_init(&op, &ipfix_template_spec);
	optind = 1;
	while ((c = opt_next(&op, argc, argv)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 'h':
			opt_usage(stdout, &ipfix_template_spec);
			return 0;
		default:
			opt_usage(stderr, &ipfix_template_spec);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		opt_usage(stderr, &ipfix_template_spec);
		return EXIT_USAGE;
	}
	ret = load_config(config_path, &cfg);
	if (ret)
		return ret;
	ret = 1;
	/* the configured templates, then one spare for the built-ins */
	plans = calloc(cfg->n_templates + 1, sizeof(*plans));
	if (!plans)
		goto out;
	for (i = 0; i < cfg->n_templates; i++)
		if (config_template_plan(cfg, cfg->templates[i].id, &plans[i]))
			goto out;
	plan = &plans[cfg->n_templates];
	printf("config %s: maxIpfixMessageLen %u, template refresh %u s\n",
	       cfg->file, cfg->max_ipfix_message_len,
	       cfg->timer_template_flush_s);
	v4 = print_choice(cfg, plans, 4);
	v6 = print_choice(cfg, plans, 6);
	printf("\n");
	for (i = 0; i < cfg->n_templates; i++) {
		uint16_t id = plans[i].id;
		const char *role = id == v4 && id == v6 ? "IPv4 and IPv6 flows" :
				   id == v4 ? "IPv4 flows" :
				   id == v6 ? "IPv6 flows" : "flow file only";

		print_plan(&plans[i], role, cfg->max_ipfix_message_len);
		printf("\n");
	}
	if (!v4) {
		ipfix_plan_default_v4(plan);
		print_plan(plan, "built-in, IPv4 flows",
			   cfg->max_ipfix_message_len);
		printf("\n");
	}
	if (!v6) {
		ipfix_plan_default_v6(plan);
		print_plan(plan, "built-in, IPv6 flows",
			   cfg->max_ipfix_message_len);
		printf("\n");
	}
	ipfix_plan_exporting_stats(plan);
	print_plan(plan, "options: Exporting Process Reliability Statistics",
		   cfg->max_ipfix_message_len);
	printf("\n");
	ipfix_plan_metering_stats(plan);
	print_plan(plan, "options: Metering Process Reliability Statistics",
		   cfg->max_ipfix_message_len);
	ret = 0;
out:
	free(plans);
	config_free(cfg);
	return ret;
}

/* ---- ipfix dump: one-shot export of the kernel flow tables ---------- */

struct dump_ctx {
	struct ipfix_exporter *ex;	/* NULL: no collector */
	struct flowlog **logs;
	size_t n_logs;
	uint64_t records;
};

static void dump_emit(void *ctx, const struct flow_record *recs, size_t n)
{
	struct dump_ctx *d = ctx;
	size_t i;

	if (d->ex)
		ipfix_exporter_export(d->ex, recs, n);
	for (i = 0; i < d->n_logs; i++)
		flowlog_submit(d->logs[i], recs, n);
	d->records += n;
}

static uint32_t dump_domain(void *ctx, const char *netns)
{
	return config_obs_domain_id(ctx, netns);
}

static const struct cmd_spec ipfix_dump_spec = {
	.path = "ipfix dump",
	.help = "export the flows in the kernel maps once",
	.synopsis = "[ -c CONFIG ] [ -t TIMEOUT_MS ]",
	.about =
"Read the flow tables of every metered namespace without changing them\n"
"(as linux-flow-exporter did: a running agent still exports every packet)\n"
"and send what they hold now, with flowEndReason forcedEnd (4), to the\n"
"outputs of CONFIG (default ./config.yaml): its collectors and its\n"
"log: files, through their hooks.  With an agent running, the tables\n"
"hold what was counted since its last drain.  Exit code 0 when every\n"
"record was sent, 1 when none is metered or any record was not sent,\n"
"2 for a bad config.\n",
	.groups = { ipfix_config_opt, ipfix_timeout_opt },
};

/* Snapshot every namespace of FT into FC (nothing is removed). */
static int dump_read(struct flow_table *ft, struct flow_cache *fc)
{
	struct flow_key *keys = NULL;
	struct flow_value *vals = NULL;
	int ret = 0;
	size_t i, j;

	for (i = 0; i < flow_table_ns_count(ft); i++) {
		struct flow_ns *ns = flow_table_ns(ft, i);
		struct flow_entry *e = NULL;
		struct flow_clock clk;
		size_t n = 0;
		int dom;

		if (flow_table_snapshot(ft, ns, &e, &n)) {
			ret = -EIO;
			continue;
		}
		dom = flow_cache_domain(fc, flow_ns_name(ns),
					flow_ns_obs_domain_id(ns));
		keys = n ? malloc(n * sizeof(*keys)) : NULL;
		vals = n ? malloc(n * sizeof(*vals)) : NULL;
		if (dom < 0 || (n && (!keys || !vals))) {
			pr_err("out of memory");
			free(e);
			free(keys);
			free(vals);
			return -ENOMEM;
		}
		for (j = 0; j < n; j++) {
			keys[j] = e[j].key;
			vals[j] = e[j].val;
		}
		flow_clock_now(&clk);
		flow_cache_set_clock(fc, &clk);
		flow_cache_merge(fc, dom, keys, vals, n, clock_mono_ns());
		free(e);
		free(keys);
		free(vals);
		keys = NULL;
		vals = NULL;
	}
	return ret;
}

static int ipfix_dump(int argc, char **argv)
{
	struct flow_table_opts fto = { 0 };
	struct opt_parser op;
	struct flow_cache_params fcp;
	struct flow_table *ft = NULL;
	struct flow_cache *fc = NULL;
	struct flowctl_config *cfg = NULL;
	struct dump_ctx d = { 0 };
	const char *config_path = CONFIG_CWD_FILE;
	int timeout_ms = FILE_FLUSH_TIMEOUT_MS;
	uint64_t not_sent = 0;
	FILE *out = stdout;
	int c, ret;
	size_t i;

	opt_parser_init(&op, &ipfix_dump_spec);
	optind = 1;
	while ((c = opt_next(&op, argc, argv)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 't':
			timeout_ms = parse_timeout_ms(optarg);
			break;
		case 'h':
			opt_usage(stdout, &ipfix_dump_spec);
			return 0;
		default:
			opt_usage(stderr, &ipfix_dump_spec);
			return EXIT_USAGE;
		}
	}
	if (optind != argc || timeout_ms < 0) {
		opt_usage(stderr, &ipfix_dump_spec);
		return EXIT_USAGE;
	}
	ret = load_config(config_path, &cfg);
	if (ret)
		return ret;
	if (!cfg->n_collectors && !cfg->n_logs) {
		pr_err("%s: no output (outputs: - collector: or - log:)",
		       cfg->file);
		config_free(cfg);
		return EXIT_USAGE;
	}
	ret = 1;
	if (geteuid() != 0) {
		pr_err("reading the pinned flow tables needs root");
		goto out;
	}
	/*
	 * Read only: no agent lock, no flip.  A running agent keeps
	 * draining the same maps and exports every packet itself.
	 */
	fto.no_drain = true;
	fto.obs_domain_id = dump_domain;
	fto.obs_domain_ctx = cfg;
	if (flow_table_open(&fto, &ft))
		goto out;
	if (!flow_table_ns_count(ft)) {
		pr_err("no meter is attached (no pinned flow table under %s); see flowctl meter attach",
		       flow_table_pin_root(ft));
		goto out;
	}
	if (cfg->n_collectors && config_exporter_create(cfg, &d.ex)) {
		pr_err("cannot set up the IPFIX exporter");
		goto out;
	}
	d.logs = calloc(cfg->n_logs ?: 1, sizeof(*d.logs));
	if (!d.logs)
		goto out;
	for (i = 0; i < cfg->n_logs; i++, d.n_logs++)
		if (config_flowlog_open(cfg, &cfg->logs[i], false,
					&d.logs[i])) {
			ret = EXIT_USAGE;
			goto out;
		}
	flow_cache_params_init(&fcp);
	fcp.emit = dump_emit;
	fcp.emit_ctx = &d;
	if (flow_cache_new(&fcp, &fc))
		goto out;
	if (dump_read(ft, fc) == -ENOMEM)
		goto out;
	flow_cache_flush(fc, clock_mono_ns());
	if (d.ex)
		ipfix_exporter_flush(d.ex, timeout_ms);
	/* a log on stdout keeps it for itself: the summary goes to stderr */
	for (i = 0; i < d.n_logs; i++)
		if (flowlog_writes_stdout(d.logs[i]))
			out = stderr;
	for (i = 0; d.ex && i < ipfix_exporter_n_collectors(d.ex); i++) {
		struct ipfix_collector_stats st;

		ipfix_exporter_stats(d.ex, i, &st);
		fprintf(out, "collector %s (%s): %llu of %llu records sent, %llu not sent\n",
		       st.address, ipfix_transport_name(st.transport),
		       (unsigned long long)st.records,
		       (unsigned long long)d.records,
		       (unsigned long long)st.records_not_sent);
		not_sent += st.records_not_sent;
	}
	for (i = 0; i < d.n_logs; i++) {
		struct flowlog_stats st;

		flowlog_get_stats(d.logs[i], &st);
		fprintf(out, "log %s: %llu of %llu records written\n",
			flowlog_name(d.logs[i]),
			(unsigned long long)st.lines_written,
			(unsigned long long)st.records_in);
		not_sent += st.lines_lost;
	}
	fprintf(out, "%llu flow record(s) from %zu namespace(s)\n",
		(unsigned long long)d.records, flow_table_ns_count(ft));
	ret = not_sent ? 1 : 0;
out:
	flow_cache_free(fc);
	for (i = 0; i < d.n_logs; i++)
		flowlog_close(d.logs[i]);
	free(d.logs);
	if (d.ex)
		ipfix_exporter_destroy(d.ex);
	flow_table_close(ft);
	config_free(cfg);
	return ret;
}

const struct subcmd ipfix_subcmds[] = {
	{ &ipfix_dump_spec, ipfix_dump },
	{ &ipfix_file_spec, ipfix_file },
	{ &ipfix_template_spec, ipfix_template },
	{ 0 }
};

int cmd_ipfix(int argc, char **argv)
{
	return subcmd_dispatch("ipfix", ipfix_subcmds, argc, argv);
}
