// SPDX-License-Identifier: Apache-2.0
/*
 * Metrics: the registry rendered in the Prometheus text format 0.0.4 and
 * parsed back (every sample has HELP and TYPE, labels escaped, values
 * right), histograms, the HTTP server scraped with a plain socket (IPv4 and
 * IPv6, 404, 405, HEAD, Content-Type), a port in use, address parsing,
 * scrapes racing updates from another thread, slow clients that must not
 * starve a scrape, and the series of a namespace dropped when it goes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "clock.h"
#include "flow_abi.h"
#include "metrics.h"

static struct metrics *m;

static void setup(void)
{
	ck_assert_int_eq(metrics_create(&m), 0);
}

static void teardown(void)
{
	metrics_destroy(m);
	m = NULL;
}

/* ---- a small parser of the text format, written from the spec ---- */

#define MAX_SAMPLES 4096
#define MAX_LABELS 8

struct sample {
	char name[128];
	int n_labels;
	char lname[MAX_LABELS][64];
	char lvalue[MAX_LABELS][128];	/* unescaped */
	char value[64];
};

struct exposition {
	int n;
	struct sample s[MAX_SAMPLES];
	int n_fam;
	char fam[128][128];
	char type[128][16];
	char help[128][256];		/* unescaped */
};

static int family_index(const struct exposition *e, const char *name)
{
	int i;

	for (i = 0; i < e->n_fam; i++)
		if (!strcmp(e->fam[i], name))
			return i;
	return -1;
}

/* The family a sample belongs to (histogram suffixes stripped). */
static int sample_family(const struct exposition *e, const char *name)
{
	static const char *const suffixes[] = { "_bucket", "_sum", "_count" };
	char base[128];
	int i = family_index(e, name);
	size_t k;

	if (i >= 0)
		return i;
	for (k = 0; k < 3; k++) {
		size_t nl = strlen(name), sl = strlen(suffixes[k]);

		if (nl > sl && !strcmp(name + nl - sl, suffixes[k])) {
			memcpy(base, name, nl - sl);
			base[nl - sl] = '\0';
			i = family_index(e, base);
			if (i >= 0 && !strcmp(e->type[i], "histogram"))
				return i;
		}
	}
	return -1;
}

/*
 * Check's ck_assert marks a point (a pipe write) even when it passes: the
 * parser checks thousands of things per scrape, so it only calls Check to
 * fail.
 */
#define need(cond, ...) \
	do { if (!(cond)) ck_abort_msg(__VA_ARGS__); } while (0)

static void unescape(char *dst, const char *src, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (src[i] == '\\') {
			i++;
			need(i < n, "dangling backslash");
			need(src[i] == '\\' || src[i] == '"' ||
				      src[i] == 'n', "bad escape \\%c", src[i]);
			*dst++ = src[i] == 'n' ? '\n' : src[i];
		} else {
			*dst++ = src[i];
		}
	}
	*dst = '\0';
}

static void parse_exposition(const char *text, struct exposition *e)
{
	const char *p = text;

	memset(e, 0, sizeof(*e));
	need(*text && text[strlen(text) - 1] == '\n',
		      "must end with a newline");
	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol - p;
		char line[1024];

		need(eol, "no newline at the end");
		need(len < sizeof(line), "line too long");
		memcpy(line, p, len);
		line[len] = '\0';
		p = eol + 1;
		need(len > 0, "empty line");
		if (!strncmp(line, "# HELP ", 7)) {
			char *name = line + 7, *sp = strchr(name, ' ');
			int i;

			need(sp, "no space in %s", line);
			*sp = '\0';
			need(family_index(e, name) < 0,
				      "second HELP for %s", name);
			i = e->n_fam++;
			strcpy(e->fam[i], name);
			/* HELP escapes: only \\ and \n */
			unescape(e->help[i], sp + 1, strlen(sp + 1));
		} else if (!strncmp(line, "# TYPE ", 7)) {
			char *name = line + 7, *sp = strchr(name, ' ');
			int i;

			need(sp, "no space in %s", line);
			*sp = '\0';
			i = family_index(e, name);
			need(i >= 0, "TYPE before HELP for %s", name);
			need(!*e->type[i], "second TYPE for %s", name);
			need(!strcmp(sp + 1, "counter") ||
				      !strcmp(sp + 1, "gauge") ||
				      !strcmp(sp + 1, "histogram"),
				      "type %s", sp + 1);
			strcpy(e->type[i], sp + 1);
		} else {
			struct sample *s = &e->s[e->n++];
			char *q = line, *v;
			int fi;

			need(e->n < MAX_SAMPLES, "too many samples");
			need(line[0] != '#', "stray comment %s", line);
			q += strcspn(q, "{ ");
			memcpy(s->name, line, q - line);
			s->name[q - line] = '\0';
			if (*q == '{') {
				q++;
				while (*q != '}') {
					char *eq = strchr(q, '='), *end;
					int k = s->n_labels++;

					need(eq, "label without =");
					need(k < MAX_LABELS, "too many labels");
					memcpy(s->lname[k], q, eq - q);
					s->lname[k][eq - q] = '\0';
					need(eq[1] == '"', "label value not quoted");
					for (end = eq + 2; *end != '"'; end++) {
						need(*end, "unterminated label value");
						if (*end == '\\')
							end++;
					}
					unescape(s->lvalue[k], eq + 2,
						 end - (eq + 2));
					q = end + 1;
					if (*q == ',')
						q++;
				}
				q++;
			}
			need(*q == ' ', "no space before the value");
			v = q + 1;
			need(*v && !strchr(v, ' '), "value \"%s\"", v);
			strcpy(s->value, v);
			fi = sample_family(e, s->name);
			need(fi >= 0, "%s has no HELP", s->name);
			need(*e->type[fi], "%s has no TYPE", s->name);
		}
	}
}

static const struct sample *find_sample(const struct exposition *e,
					const char *name, ...)
{
	const char *want[2 * MAX_LABELS];
	int n_want = 0, i, k;
	va_list ap;

	va_start(ap, name);
	while ((want[n_want] = va_arg(ap, const char *)))
		n_want++;
	va_end(ap);
	for (i = 0; i < e->n; i++) {
		const struct sample *s = &e->s[i];
		bool match = !strcmp(s->name, name) &&
			s->n_labels == n_want / 2;

		for (k = 0; match && k < n_want / 2; k++)
			match = !strcmp(s->lname[k], want[2 * k]) &&
				!strcmp(s->lvalue[k], want[2 * k + 1]);
		if (match)
			return s;
	}
	return NULL;
}

static void render_parse(struct exposition *e)
{
	size_t len;
	char *text;

	ck_assert_int_eq(metrics_render(m, &text, &len), 0);
	ck_assert_uint_eq(strlen(text), len);
	parse_exposition(text, e);
	free(text);
}

static struct exposition ex;

START_TEST(test_counters_gauges_labels)
{
	static const char *const pair[] = { "ingressIfindex", "egressIfindex",
		NULL };
	struct metric_family *pk, *g, *plain;
	struct metric *a, *b, *a2, *gs;
	const struct sample *s;

	pk = metrics_register(m, "test_pkts", METRIC_COUNTER, "Packets", pair);
	ck_assert_ptr_nonnull(pk);
	g = metrics_register(m, "test_temp", METRIC_GAUGE, "A gauge", NULL);
	ck_assert_ptr_nonnull(g);
	plain = metrics_register(m, "test_events_total", METRIC_COUNTER,
				 "Events", NULL);
	ck_assert_ptr_nonnull(plain);
	a = metric_get(pk, "2", "3", NULL);
	b = metric_get(pk, "3", "2", NULL);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_ne(a, b);
	/* the same labels: the same handle */
	a2 = metric_get(pk, "2", "3", NULL);
	ck_assert_ptr_eq(a, a2);
	metric_add(a, 1000);
	metric_inc(a);
	metric_add(b, 18446744073709551615ULL);
	gs = metric_get(g, NULL);
	metric_set(gs, -2.5);
	metric_gauge_add(gs, 0.25);
	ck_assert(metric_gauge_value(gs) == -2.25);
	ck_assert_uint_eq(metric_counter_value(a), 1001);

	render_parse(&ex);
	ck_assert_int_eq(ex.n_fam, 3);
	ck_assert_str_eq(ex.fam[0], "test_pkts");
	ck_assert_str_eq(ex.type[0], "counter");
	ck_assert_str_eq(ex.help[0], "Packets");
	ck_assert_str_eq(ex.type[1], "gauge");
	s = find_sample(&ex, "test_pkts", "ingressIfindex", "2",
			"egressIfindex", "3", NULL);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s->value, "1001");
	s = find_sample(&ex, "test_pkts", "ingressIfindex", "3",
			"egressIfindex", "2", NULL);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s->value, "18446744073709551615");
	s = find_sample(&ex, "test_temp", NULL);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s->value, "-2.25");
	/* unlabelled metrics exist from registration, at 0 */
	s = find_sample(&ex, "test_events_total", NULL);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s->value, "0");
	ck_assert_int_eq(ex.n, 4);
}
END_TEST

START_TEST(test_escaping)
{
	static const char *const lbl[] = { "path", "other", NULL };
	struct metric_family *f;
	struct metric *s;
	const struct sample *smp;
	char *text;
	size_t len;

	f = metrics_register(m, "test_escape", METRIC_GAUGE,
			     "Help with a \\ backslash\nand a newline", lbl);
	ck_assert_ptr_nonnull(f);
	s = metric_get(f, "C:\\dir \"quoted\"\nnext", "", NULL);
	ck_assert_ptr_nonnull(s);
	metric_set(s, 1);
	ck_assert_int_eq(metrics_render(m, &text, &len), 0);
	/* the exact escaped text ... */
	ck_assert_ptr_nonnull(strstr(text,
		"# HELP test_escape Help with a \\\\ backslash\\nand a newline\n"));
	ck_assert_ptr_nonnull(strstr(text,
		"test_escape{path=\"C:\\\\dir \\\"quoted\\\"\\nnext\",other=\"\"} 1\n"));
	free(text);
	/* ... and what a parser makes of it */
	render_parse(&ex);
	ck_assert_str_eq(ex.help[0], "Help with a \\ backslash\nand a newline");
	smp = find_sample(&ex, "test_escape", "path",
			  "C:\\dir \"quoted\"\nnext", "other", "", NULL);
	ck_assert_ptr_nonnull(smp);
}
END_TEST

START_TEST(test_gauge_values)
{
	struct metric_family *f;
	struct metric *s;
	const struct sample *smp;
	static const char *const lbl[] = { "k", NULL };
	static const struct {
		const char *key;
		double v;
		const char *text;
	} cases[] = {
		{ "a", 0.1, "0.1" }, { "b", 1e-9, "1e-09" },
		{ "c", 123456789012.0, "123456789012" },
		{ "d", 1.0 / 3, "0.33333333333333331" },
		{ "e", 1.0 / 0.0, "+Inf" }, { "f", -1.0 / 0.0, "-Inf" },
		{ "g", 0.0 / 0.0, "NaN" },
	};
	size_t i;

	f = metrics_register(m, "test_g", METRIC_GAUGE, "g", lbl);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s = metric_get(f, cases[i].key, NULL);
		metric_set(s, cases[i].v);
	}
	render_parse(&ex);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		smp = find_sample(&ex, "test_g", "k", cases[i].key, NULL);
		ck_assert_ptr_nonnull(smp);
		ck_assert_str_eq(smp->value, cases[i].text);
		if (i < 4)
			ck_assert(strtod(smp->value, NULL) == cases[i].v);
	}
}
END_TEST

START_TEST(test_histogram)
{
	static const char *const lbl[] = { "netns", NULL };
	static const double bounds[] = { 0.01, 0.1, 1 };
	static const double obs[] = { 0.005, 0.01, 0.05, 0.5, 0.5, 3 };
	struct metric_family *f;
	struct metric *s;
	const struct sample *smp;
	static const struct {
		const char *le, *count;
	} want[] = {
		{ "0.01", "2" }, { "0.1", "3" }, { "1", "5" }, { "+Inf", "6" },
	};
	size_t i;

	f = metrics_register_histogram(m, "test_drain_seconds", "drains", lbl,
				       bounds, 3);
	ck_assert_ptr_nonnull(f);
	s = metric_get(f, "ns0", NULL);
	for (i = 0; i < sizeof(obs) / sizeof(obs[0]); i++)
		metric_observe(s, obs[i]);
	render_parse(&ex);
	ck_assert_str_eq(ex.type[0], "histogram");
	for (i = 0; i < 4; i++) {
		smp = find_sample(&ex, "test_drain_seconds_bucket", "netns",
				  "ns0", "le", want[i].le, NULL);
		ck_assert_msg(smp != NULL, "no bucket le=%s", want[i].le);
		ck_assert_str_eq(smp->value, want[i].count);
	}
	smp = find_sample(&ex, "test_drain_seconds_count", "netns", "ns0",
			  NULL);
	ck_assert_ptr_nonnull(smp);
	ck_assert_str_eq(smp->value, "6");
	smp = find_sample(&ex, "test_drain_seconds_sum", "netns", "ns0", NULL);
	ck_assert_ptr_nonnull(smp);
	ck_assert(fabs(strtod(smp->value, NULL) - 4.065) < 1e-12);
	ck_assert_int_eq(ex.n, 6);
}
END_TEST

START_TEST(test_register_rules)
{
	static const char *const one[] = { "a", NULL };
	static const char *const other[] = { "b", NULL };
	static const char *const dup[] = { "a", "a", NULL };
	static const char *const le[] = { "le", NULL };
	static const char *const reserved[] = { "__x", NULL };
	static const double bad_bounds[] = { 1, 1 };
	struct metric_family *f;

	f = metrics_register(m, "x_total", METRIC_COUNTER, "x", one);
	ck_assert_ptr_nonnull(f);
	/* same again: the same family */
	ck_assert_ptr_eq(metrics_register(m, "x_total", METRIC_COUNTER, "x",
					  one), f);
	ck_assert_ptr_eq(metrics_family(m, "x_total"), f);
	ck_assert_ptr_null(metrics_family(m, "nope"));
	/* another shape under the same name */
	errno = 0;
	ck_assert_ptr_null(metrics_register(m, "x_total", METRIC_GAUGE, "x",
					    one));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(metrics_register(m, "x_total", METRIC_COUNTER, "x",
					    other));
	/* names and labels */
	ck_assert_ptr_null(metrics_register(m, "1abc", METRIC_GAUGE, "", NULL));
	ck_assert_ptr_null(metrics_register(m, "a-b", METRIC_GAUGE, "", NULL));
	ck_assert_ptr_null(metrics_register(m, "", METRIC_GAUGE, "", NULL));
	ck_assert_ptr_nonnull(metrics_register(m, "ns:sub_x", METRIC_GAUGE, "",
					       NULL));
	ck_assert_ptr_null(metrics_register(m, "y", METRIC_GAUGE, "", dup));
	ck_assert_ptr_null(metrics_register(m, "y", METRIC_GAUGE, "",
					    reserved));
	ck_assert_ptr_null(metrics_register_histogram(m, "h", "", le, NULL, 0));
	ck_assert_ptr_null(metrics_register_histogram(m, "h", "", NULL,
						      bad_bounds, 2));
	/* wrong number of label values */
	errno = 0;
	ck_assert_ptr_null(metric_get(f, NULL));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(metric_get(f, "1", "2", NULL));
}
END_TEST

START_TEST(test_many_series)
{
	static const char *const lbl[] = { "i", NULL };
	struct metric_family *f;
	char key[16];
	int i;

	f = metrics_register(m, "test_many", METRIC_COUNTER, "many", lbl);
	for (i = 0; i < 300; i++) {
		snprintf(key, sizeof(key), "%d", i);
		metric_add(metric_get(f, key, NULL), i);
	}
	/* lookups after the table grew find the same series */
	for (i = 0; i < 300; i++) {
		snprintf(key, sizeof(key), "%d", i);
		ck_assert_uint_eq(metric_counter_value(metric_get(f, key,
								  NULL)), i);
	}
	render_parse(&ex);
	ck_assert_int_eq(ex.n, 300);
	ck_assert_str_eq(find_sample(&ex, "test_many", "i", "299",
				     NULL)->value, "299");
}
END_TEST

START_TEST(test_flowctl_families)
{
	static const struct {
		const char *name, *type, *labels;
	} want[] = {
		/* the original's five: its names, labels and type */
		{ "linux_flow_exporter_total_pkts", "gauge",
		  "ingressIfindex,egressIfindex" },
		{ "linux_flow_exporter_total_bytes", "gauge",
		  "ingressIfindex,egressIfindex" },
		{ "linux_flow_exporter_overflow_pkts", "gauge",
		  "ingressIfindex,egressIfindex" },
		{ "linux_flow_exporter_overflow_bytes", "gauge",
		  "ingressIfindex,egressIfindex" },
		{ "linux_flow_exporter_total_latency_nanoseconds", "gauge",
		  "ingressIfindex,egressIfindex" },
		{ "flowctl_packets_total", "counter",
		  "ingress_ifindex,egress_ifindex,netns" },
		{ "flowctl_bytes_total", "counter",
		  "ingress_ifindex,egress_ifindex,netns" },
		{ "flowctl_overflow_packets_total", "counter",
		  "ingress_ifindex,egress_ifindex,netns" },
		{ "flowctl_overflow_bytes_total", "counter",
		  "ingress_ifindex,egress_ifindex,netns" },
		{ "flowctl_forwarding_latency_seconds", "histogram",
		  "ingress_ifindex,egress_ifindex,netns" },
		{ "flowctl_flows_exported_total", "counter", "output" },
		{ "flowctl_ipfix_messages_total", "counter", "collector" },
		{ "flowctl_ipfix_send_errors_total", "counter", "collector" },
		{ "flowctl_ipfix_records_not_sent_total", "counter",
		  "collector" },
		{ "flowctl_flow_cache_flows", "gauge", "" },
		{ "flowctl_hook_failures_total", "counter", "hook,reason" },
		{ "flowctl_unparsed_packets_total", "counter", "netns" },
		{ "flowctl_log_write_errors_total", "counter", "output" },
		{ "flowctl_log_records_dropped_total", "counter",
		  "output,reason" },
		{ "flowctl_build_info", "gauge", "version" },
		{ "flowctl_drain_duration_seconds", "histogram", "netns" },
	};
	uint64_t lat[FLOW_LAT_BUCKETS] = { 0 };
	struct flowctl_metrics fm;
	const struct sample *s;
	size_t i;

	ck_assert_int_eq(metrics_register_flowctl(m, &fm), 0);
	metric_set(metric_get(fm.orig_total_pkts, "2", "3", NULL), 10);
	metric_set(metric_get(fm.orig_total_bytes, "2", "3", NULL), 840);
	metric_set(metric_get(fm.orig_overflow_pkts, "2", "3", NULL), 1);
	metric_set(metric_get(fm.orig_overflow_bytes, "2", "3", NULL), 84);
	metric_set(metric_get(fm.orig_total_latency, "2", "3", NULL), 30000);
	/* the kernel's buckets: 1 of 1..2 us, 2 of 10..20 us */
	lat[1] = 1;
	lat[4] = 2;
	ck_assert_int_eq(metric_histogram_set(
		metric_get(fm.latency, "2", "3", "ns0", NULL), lat,
		FLOW_LAT_BUCKETS, 3, 30000 / 1e9), 0);
	ck_assert_int_eq(metric_histogram_set(
		metric_get(fm.latency, "2", "3", "ns0", NULL), lat,
		FLOW_LAT_BUCKETS - 1, 3, 30000 / 1e9), -EINVAL);
	ck_assert_int_eq(metric_histogram_set(
		metric_get(fm.drain_duration, "ns0", NULL), lat,
		FLOW_LAT_BUCKETS, 3, 1), -EINVAL);
	metric_add(metric_get(fm.total_pkts, "2", "3", "ns0", NULL), 10);
	metric_add(metric_get(fm.total_bytes, "2", "3", "ns0", NULL), 840);
	metric_add(metric_get(fm.overflow_pkts, "2", "3", "ns0", NULL), 1);
	metric_add(metric_get(fm.overflow_bytes, "2", "3", "ns0", NULL), 84);
	metric_add(metric_get(fm.flows_exported, "log", NULL), 1);
	metric_add(metric_get(fm.ipfix_messages, "127.0.0.1:4739", NULL), 1);
	metric_add(metric_get(fm.ipfix_send_errors, "127.0.0.1:4739", NULL),
		   1);
	metric_add(metric_get(fm.ipfix_not_sent, "127.0.0.1:4739", NULL), 1);
	metric_set(metric_get(fm.cache_flows, NULL), 7);
	metric_inc(metric_get(fm.hook_failures, "jq", "timeout", NULL));
	metric_inc(metric_get(fm.unparsed_packets, "ns0", NULL));
	metric_inc(metric_get(fm.log_write_errors, "log", NULL));
	metric_inc(metric_get(fm.log_dropped, "log", "queue_full", NULL));
	metric_observe(metric_get(fm.drain_duration, "ns0", NULL), 0.003);
	/* registering twice is harmless (SIGHUP reload) */
	ck_assert_int_eq(metrics_register_flowctl(m, &fm), 0);

	render_parse(&ex);
	ck_assert_int_eq(ex.n_fam, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		int fi = family_index(&ex, want[i].name), k, found = 0;

		ck_assert_msg(fi >= 0, "no family %s", want[i].name);
		ck_assert_str_eq(ex.type[fi], want[i].type);
		ck_assert_msg(strlen(ex.help[fi]) > 5, "no help for %s",
			      want[i].name);
		for (k = 0; k < ex.n; k++) {
			char labels[256] = "";
			int l;

			if (sample_family(&ex, ex.s[k].name) != fi ||
			    strstr(ex.s[k].name, "_bucket"))
				continue;
			for (l = 0; l < ex.s[k].n_labels; l++) {
				if (l)
					strcat(labels, ",");
				strcat(labels, ex.s[k].lname[l]);
			}
			ck_assert_str_eq(labels, want[i].labels);
			found++;
		}
		ck_assert_msg(found, "no sample of %s", want[i].name);
	}
	s = find_sample(&ex, "linux_flow_exporter_total_bytes",
			"ingressIfindex", "2", "egressIfindex", "3", NULL);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s->value, "840");
	s = find_sample(&ex, "flowctl_bytes_total", "ingress_ifindex", "2",
			"egress_ifindex", "3", "netns", "ns0", NULL);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s->value, "840");
	/* cumulative buckets from the kernel's per-bucket counts */
	s = find_sample(&ex, "flowctl_forwarding_latency_seconds_bucket",
			"ingress_ifindex", "2", "egress_ifindex", "3", "netns",
			"ns0", "le", "1e-06", NULL);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s->value, "0");
	s = find_sample(&ex, "flowctl_forwarding_latency_seconds_bucket",
			"ingress_ifindex", "2", "egress_ifindex", "3", "netns",
			"ns0", "le", "2e-06", NULL);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s->value, "1");
	s = find_sample(&ex, "flowctl_forwarding_latency_seconds_bucket",
			"ingress_ifindex", "2", "egress_ifindex", "3", "netns",
			"ns0", "le", "+Inf", NULL);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s->value, "3");
	s = find_sample(&ex, "flowctl_forwarding_latency_seconds_count",
			"ingress_ifindex", "2", "egress_ifindex", "3", "netns",
			"ns0", NULL);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s->value, "3");
	s = find_sample(&ex, "flowctl_build_info", "version", FLOWCTL_VERSION,
			NULL);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s->value, "1");
	s = find_sample(&ex, "flowctl_drain_duration_seconds_bucket", "netns",
			"ns0", "le", "0.0025", NULL);
	ck_assert_str_eq(s->value, "0");
	s = find_sample(&ex, "flowctl_drain_duration_seconds_bucket", "netns",
			"ns0", "le", "0.005", NULL);
	ck_assert_str_eq(s->value, "1");
}
END_TEST

/* ---- HTTP ---- */

struct http_reply {
	int status;
	char content_type[128];
	long content_length;
	char *body;
	size_t body_len;
};

static const struct timeval rcv_timeout = { .tv_sec = 5 };

static void http_request(int family, uint16_t port, const char *req,
			 struct http_reply *r)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sl;
	char *buf = NULL, *hdr_end, *line;
	size_t len = 0, cap = 0;
	int fd;

	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		a->sin6_addr = in6addr_loopback;
		sl = sizeof(*a);
	}
	fd = socket(family, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	/* a server that does not answer fails the test, it does not hang */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rcv_timeout,
		   sizeof(rcv_timeout));
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&ss, sl), 0);
	ck_assert_int_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	for (;;) {
		ssize_t n;

		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap);
		}
		n = read(fd, buf + len, cap - len - 1);
		ck_assert_int_ge(n, 0);
		if (n == 0)
			break;
		len += n;
	}
	close(fd);
	buf[len] = '\0';
	memset(r, 0, sizeof(*r));
	r->content_length = -1;
	ck_assert_int_eq(sscanf(buf, "HTTP/1.%*d %d", &r->status), 1);
	hdr_end = strstr(buf, "\r\n\r\n");
	ck_assert_ptr_nonnull(hdr_end);
	*hdr_end = '\0';
	for (line = strstr(buf, "\r\n"); line; line = strstr(line, "\r\n")) {
		line += 2;
		if (!strncasecmp(line, "Content-Type: ", 14))
			sscanf(line + 14, "%127[^\r]", r->content_type);
		if (!strncasecmp(line, "Content-Length: ", 16))
			r->content_length = atol(line + 16);
	}
	r->body_len = len - (hdr_end + 4 - buf);
	r->body = malloc(r->body_len + 1);
	memcpy(r->body, hdr_end + 4, r->body_len);
	r->body[r->body_len] = '\0';
	free(buf);
}

static void fill_some(void)
{
	static const char *const lbl[] = { "x", NULL };
	struct metric_family *f;

	f = metrics_register(m, "test_http_total", METRIC_COUNTER,
			     "Scraped", lbl);
	metric_add(metric_get(f, "a\"b", NULL), 42);
}

static void check_scrape(int family)
{
	struct http_reply r;
	uint16_t port = metrics_port(m);
	const struct sample *s;
	size_t len;
	char *text;

	ck_assert_uint_gt(port, 0);
	http_request(family, port,
		     "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		     &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.content_type,
			 "text/plain; version=0.0.4; charset=utf-8");
	ck_assert_int_eq(r.content_length, (long)r.body_len);
	ck_assert_int_eq(metrics_render(m, &text, &len), 0);
	ck_assert_str_eq(r.body, text);
	free(text);
	parse_exposition(r.body, &ex);
	s = find_sample(&ex, "test_http_total", "x", "a\"b", NULL);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s->value, "42");
	free(r.body);

	http_request(family, port,
		     "GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		     &r);
	ck_assert_int_eq(r.status, 404);
	free(r.body);
	http_request(family, port,
		     "GET /metrics/x HTTP/1.0\r\n\r\n", &r);
	ck_assert_int_eq(r.status, 404);
	free(r.body);
	http_request(family, port,
		     "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
		     &r);
	ck_assert_int_eq(r.status, 405);
	free(r.body);
	http_request(family, port,
		     "HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		     &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.body_len, 0);
	free(r.body);
}

START_TEST(test_http_ipv4)
{
	fill_some();
	ck_assert_int_eq(metrics_serve(m, "127.0.0.1:0"), 0);
	ck_assert_int_eq(metrics_serve(m, "127.0.0.1:0"), -EALREADY);
	check_scrape(AF_INET);
	metrics_stop(m);
	ck_assert_uint_eq(metrics_port(m), 0);
	/* and again after a stop */
	ck_assert_int_eq(metrics_serve(m, "127.0.0.1:0"), 0);
	check_scrape(AF_INET);
}
END_TEST

START_TEST(test_http_ipv6)
{
	fill_some();
	ck_assert_int_eq(metrics_serve(m, "[::1]:0"), 0);
	check_scrape(AF_INET6);
}
END_TEST

START_TEST(test_port_in_use)
{
	struct sockaddr_in a = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	socklen_t sl = sizeof(a);
	char addr[64];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &sl), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(a.sin_port));
	ck_assert_int_eq(metrics_serve(m, addr), -EADDRINUSE);
	ck_assert_uint_eq(metrics_port(m), 0);
	close(fd);
	/* a bad address is a config error */
	ck_assert_int_eq(metrics_serve(m, "127.0.0.1"), -EINVAL);
	/* an address we do not have */
	ck_assert_int_eq(metrics_serve(m, "192.0.2.1:0"), -EADDRNOTAVAIL);
}
END_TEST

START_TEST(test_parse_addr)
{
	static const struct {
		const char *s;
		int family;
		const char *host;
		int port;
	} good[] = {
		{ "127.0.0.1:9999", AF_INET, "127.0.0.1", 9999 },
		{ "[::1]:9999", AF_INET6, "::1", 9999 },
		{ "[::]:0", AF_INET6, "::", 0 },
		{ "0.0.0.0:65535", AF_INET, "0.0.0.0", 65535 },
		{ ":9100", AF_INET, "0.0.0.0", 9100 },
		{ "*:9100", AF_INET, "0.0.0.0", 9100 },
		{ "localhost:80", AF_INET, "127.0.0.1", 80 },
		{ "9999", AF_INET, "127.0.0.1", 9999 },		/* bare port */
		{ "0", AF_INET, "127.0.0.1", 0 },
		{ "[fe80::1%1]:1", -1, NULL, 0 },	/* no zone ids */
	};
	static const char *const bad[] = {
		"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536",
		"127.0.0.1:-1", "127.0.0.1:99x", "::1:9999", "[::1]9999",
		"[::1", "1.2.3:80", "256.1.1.1:80", "[127.0.0.1]:80",
		"example.com:80", "127.0.0.1: 80", "99999", "9999x", "-1",
		"1.2.3.4", "*", "[::]",
	};
	struct sockaddr_storage ss;
	socklen_t len;
	char host[64];
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int ret = metrics_parse_addr(good[i].s, &ss, &len);

		if (good[i].family < 0) {
			ck_assert_int_eq(ret, -EINVAL);
			continue;
		}
		ck_assert_msg(ret == 0, "%s refused", good[i].s);
		ck_assert_int_eq(ss.ss_family, good[i].family);
		if (good[i].family == AF_INET) {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;

			ck_assert_uint_eq(len, sizeof(*a));
			inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
			ck_assert_int_eq(ntohs(a->sin_port), good[i].port);
		} else {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

			ck_assert_uint_eq(len, sizeof(*a));
			inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
			ck_assert_int_eq(ntohs(a->sin6_port), good[i].port);
		}
		ck_assert_str_eq(host, good[i].host);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(metrics_parse_addr(bad[i], &ss, &len) == -EINVAL,
			      "\"%s\" accepted", bad[i]);
	ck_assert_int_eq(metrics_parse_addr(NULL, &ss, &len), -EINVAL);
}
END_TEST

struct updater {
	struct metric *c, *h;
	struct metric_family *f;
	atomic_bool stop;
	uint64_t adds;
};

static void *update_loop(void *arg)
{
	struct updater *u = arg;
	char key[16];
	int i = 0;

	while (!atomic_load(&u->stop)) {
		metric_inc(u->c);
		metric_observe(u->h, (i % 100) / 100.0);
		/* new series appear while scrapes walk the list */
		if (i < 2000) {
			snprintf(key, sizeof(key), "%d", i);
			metric_inc(metric_get(u->f, key, NULL));
		}
		i++;
		u->adds++;
	}
	return NULL;
}

START_TEST(test_scrape_while_updating)
{
	static const char *const lbl[] = { "k", NULL };
	struct updater u = { 0 };
	uint64_t last = 0;
	pthread_t t;
	int i;

	u.c = metric_get(metrics_register(m, "race_total", METRIC_COUNTER,
					  "r", NULL), NULL);
	u.h = metric_get(metrics_register(m, "race_seconds",
					  METRIC_HISTOGRAM, "h", NULL), NULL);
	u.f = metrics_register(m, "race_series_total", METRIC_COUNTER, "s",
			       lbl);
	ck_assert_int_eq(metrics_serve(m, "127.0.0.1:0"), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, update_loop, &u), 0);
	for (i = 0; i < 100; i++) {
		struct http_reply r;
		const struct sample *s, *inf;
		uint64_t v;

		http_request(AF_INET, metrics_port(m),
			     "GET /metrics HTTP/1.0\r\n\r\n", &r);
		ck_assert_int_eq(r.status, 200);
		parse_exposition(r.body, &ex);
		s = find_sample(&ex, "race_total", NULL);
		v = strtoull(s->value, NULL, 10);
		ck_assert_uint_ge(v, last);	/* counters never go back */
		last = v;
		/* a histogram is one consistent snapshot */
		s = find_sample(&ex, "race_seconds_count", NULL);
		inf = find_sample(&ex, "race_seconds_bucket", "le", "+Inf",
				  NULL);
		ck_assert_str_eq(s->value, inf->value);
		free(r.body);
	}
	atomic_store(&u.stop, true);
	pthread_join(t, NULL);
	ck_assert_uint_eq(metric_counter_value(u.c), u.adds);
}
END_TEST

/* Every form of metricsAddress serves, IPv4 clients included. */
START_TEST(test_serve_address_forms)
{
	static const char *const forms[] = { "*:0", "[::]:0", "127.0.0.1:0",
					     "0", ":0" };
	size_t i;

	fill_some();
	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		struct http_reply r;

		ck_assert_msg(metrics_serve(m, forms[i]) == 0, "%s", forms[i]);
		http_request(AF_INET, metrics_port(m),
			     "GET /metrics HTTP/1.0\r\n\r\n", &r);
		ck_assert_int_eq(r.status, 200);
		free(r.body);
		metrics_stop(m);
	}
}
END_TEST

/* A connection to the server from SRC (127.x.y.z), not waiting. */
static int connect_from(const char *src, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	inet_pton(AF_INET, src, &a.sin_addr);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/*
 * Clients that send their request a byte at a time (40 from the
 * scraper's own address, 100 from another one) hold connections; a
 * normal scrape must still be answered at once.
 */
#define SLOW_SAME 40
#define SLOW_OTHER 100

START_TEST(test_slow_clients_do_not_starve)
{
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: slow\r\n";
	int fds[SLOW_SAME + SLOW_OTHER];
	struct http_reply r;
	uint64_t t0;
	int i, k;

	fill_some();
	ck_assert_int_eq(metrics_serve(m, "127.0.0.1:0"), 0);
	for (i = 0; i < SLOW_SAME + SLOW_OTHER; i++)
		fds[i] = connect_from(i < SLOW_SAME ? "127.0.0.1" :
				      "127.0.0.2", metrics_port(m));
	/* a few bytes each, never the end of the headers */
	for (k = 0; k < 3; k++) {
		for (i = 0; i < SLOW_SAME + SLOW_OTHER; i++)
			send(fds[i], req + k, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		usleep(100000);
	}
	t0 = clock_mono_ms();
	http_request(AF_INET, metrics_port(m),
		     "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		     &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_lt(clock_mono_ms() - t0, 1000);
	free(r.body);
	for (i = 0; i < SLOW_SAME + SLOW_OTHER; i++)
		close(fds[i]);
}
END_TEST

/* Headers beyond the connection's memory: refused, the server goes on. */
START_TEST(test_header_size_bounded)
{
	size_t big = 4 * METRICS_CONNECTION_MEMORY, off;
	char *req = malloc(big + 64);
	struct http_reply r;

	fill_some();
	ck_assert_int_eq(metrics_serve(m, "127.0.0.1:0"), 0);
	off = sprintf(req, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ");
	memset(req + off, 'a', big);
	strcpy(req + off + big, "\r\nConnection: close\r\n\r\n");
	http_request(AF_INET, metrics_port(m), req, &r);
	ck_assert_int_ge(r.status, 400);
	ck_assert_int_lt(r.status, 500);
	free(r.body);
	free(req);
	http_request(AF_INET, metrics_port(m),
		     "GET /metrics HTTP/1.0\r\n\r\n", &r);
	ck_assert_int_eq(r.status, 200);
	free(r.body);
}
END_TEST

/* A connection that says nothing is closed after the timeout. */
START_TEST(test_silent_connection_closed)
{
	struct pollfd p;
	uint64_t t0;
	char c;
	int fd;

	ck_assert_int_eq(metrics_serve(m, "127.0.0.1:0"), 0);
	fd = connect_from("127.0.0.1", metrics_port(m));
	t0 = clock_mono_ms();
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	ck_assert_int_eq(poll(&p, 1, (METRICS_CONNECTION_TIMEOUT_S + 3) * 1000),
			 1);
	ck_assert_int_le(read(fd, &c, 1), 0);
	ck_assert_uint_ge(clock_mono_ms() - t0, METRICS_CONNECTION_TIMEOUT_S * 1000 - 500);
	close(fd);
}
END_TEST

/* ---- dropping the series of a namespace ---- */

static int count_lines_with(const char *text, const char *needle)
{
	const char *p = text;
	int n = 0;

	while ((p = strstr(p, needle))) {
		n++;
		p++;
	}
	return n;
}

START_TEST(test_forget_netns)
{
	static const char *const pair[] = {
		"ingressIfindex", "egressIfindex", "netns", NULL,
	};
	static const char *const netns[] = { "netns", NULL };
	static const char *const output[] = { "output", NULL };
	struct metric_family *tot, *hist, *other;
	char *text, name[32];
	size_t len;
	int i;

	tot = metrics_register(m, "t_total", METRIC_COUNTER, "t", pair);
	hist = metrics_register(m, "t_seconds", METRIC_HISTOGRAM, "h", netns);
	other = metrics_register(m, "t_out_total", METRIC_COUNTER, "o", output);
	metric_add(metric_get(tot, "1", "2", "ns1", NULL), 5);
	metric_add(metric_get(tot, "3", "2", "ns1", NULL), 6);
	metric_add(metric_get(tot, "1", "2", "ns2", NULL), 7);
	metric_observe(metric_get(hist, "ns1", NULL), 0.5);
	metric_observe(metric_get(hist, "ns2", NULL), 0.5);
	metric_add(metric_get(other, "ns1", NULL), 1);	/* not a netns */

	ck_assert_uint_eq(metrics_forget_netns(m, "ns1"), 3);
	ck_assert_uint_eq(metrics_forget_netns(m, "ns1"), 0);
	ck_assert_int_eq(metrics_render(m, &text, &len), 0);
	ck_assert_int_eq(count_lines_with(text, "netns=\"ns1\""), 0);
	ck_assert_int_eq(count_lines_with(text, "\nt_total{"), 1);
	ck_assert_ptr_nonnull(strstr(text,
		"t_total{ingressIfindex=\"1\",egressIfindex=\"2\",netns=\"ns2\"} 7\n"));
	ck_assert_ptr_nonnull(strstr(text, "t_seconds_count{netns=\"ns2\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(text, "t_out_total{output=\"ns1\"} 1\n"));
	free(text);

	/* the namespace comes back: new series, from 0 */
	ck_assert_uint_eq(metric_counter_value(metric_get(tot, "1", "2", "ns1",
							  NULL)), 0);
	metric_add(metric_get(tot, "1", "2", "ns1", NULL), 2);
	ck_assert_int_eq(metrics_render(m, &text, &len), 0);
	ck_assert_ptr_nonnull(strstr(text,
		"t_total{ingressIfindex=\"1\",egressIfindex=\"2\",netns=\"ns1\"} 2\n"));
	ck_assert_int_eq(count_lines_with(text, "\nt_total{"), 2);
	free(text);

	/* 60 namespaces come and go: no series of theirs stays */
	for (i = 0; i < 60; i++) {
		snprintf(name, sizeof(name), "churn%d", i);
		metric_add(metric_get(tot, "1", "2", name, NULL), 1);
		metric_add(metric_get(tot, "2", "1", name, NULL), 1);
		metric_observe(metric_get(hist, name, NULL), 0.1);
		ck_assert_uint_eq(metrics_forget_netns(m, name), 3);
	}
	ck_assert_int_eq(metrics_render(m, &text, &len), 0);
	ck_assert_int_eq(count_lines_with(text, "churn"), 0);
	ck_assert_int_eq(count_lines_with(text, "\nt_total{"), 2);
	free(text);
}
END_TEST

/* Series dropped while scrapes walk them (run it under valgrind). */
struct churner {
	struct metric_family *f;
	atomic_bool stop;
	atomic_int rounds;
};

static void *churn_loop(void *arg)
{
	struct churner *c = arg;
	char name[32];
	int i;

	while (!atomic_load(&c->stop)) {
		for (i = 0; i < 20; i++) {
			snprintf(name, sizeof(name), "ns%d", i);
			metric_inc(metric_get(c->f, name, NULL));
		}
		for (i = 0; i < 20; i++) {
			snprintf(name, sizeof(name), "ns%d", i);
			metrics_forget_netns(m, name);
		}
		atomic_fetch_add(&c->rounds, 1);
	}
	return NULL;
}

START_TEST(test_forget_while_scraping)
{
	static const char *const netns[] = { "netns", NULL };
	struct churner c = { 0 };
	pthread_t t;
	char *text;
	size_t len;
	int i;

	c.f = metrics_register(m, "churn_total", METRIC_COUNTER, "c", netns);
	metric_inc(metric_get(c.f, "stays", NULL));
	ck_assert_int_eq(pthread_create(&t, NULL, churn_loop, &c), 0);
	/* bounded: 300 renders, and more until the other thread has
	 * churned a while */
	for (i = 0; i < 300 || (atomic_load(&c.rounds) < 50 && i < 100000);
	     i++) {
		ck_assert_int_eq(metrics_render(m, &text, &len), 0);
		ck_assert_ptr_nonnull(strstr(text,
			"churn_total{netns=\"stays\"} 1\n"));
		free(text);
	}
	atomic_store(&c.stop, true);
	pthread_join(t, NULL);
	ck_assert_int_ge(atomic_load(&c.rounds), 50);
}
END_TEST

/* Label values: any bytes in, valid UTF-8 text format out. */
START_TEST(test_label_values_utf8)
{
	static const char *const lbl[] = { "v", NULL };
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xa7",
		  "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xa7" },
		{ "a\xff" "b", "a\xef\xbf\xbd" "b" },
		{ "cut\xc3", "cut\xef\xbf\xbd" },
		{ "\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd" },	/* overlong */
		{ "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
		{ "q\"b\\n\nx\t", "q\\\"b\\\\n\\nx\t" },
	};
	struct metric_family *f;
	char *text, want[128];
	size_t len, i;

	f = metrics_register(m, "utf8", METRIC_GAUGE, "u", lbl);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		metric_set(metric_get(f, cases[i].in, NULL), i);
	ck_assert_int_eq(metrics_render(m, &text, &len), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(want, sizeof(want), "utf8{v=\"%s\"} %zu\n",
			 cases[i].out, i);
		ck_assert_msg(strstr(text, want), "case %zu: %s", i, text);
	}
	free(text);
	render_parse(&ex);
}
END_TEST

static Suite *metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *reg = tcase_create("registry");
	TCase *http = tcase_create("http");

	tcase_add_checked_fixture(reg, setup, teardown);
	tcase_add_test(reg, test_counters_gauges_labels);
	tcase_add_test(reg, test_escaping);
	tcase_add_test(reg, test_gauge_values);
	tcase_add_test(reg, test_histogram);
	tcase_add_test(reg, test_register_rules);
	tcase_add_test(reg, test_many_series);
	tcase_add_test(reg, test_flowctl_families);
	tcase_add_test(reg, test_parse_addr);
	tcase_add_test(reg, test_forget_netns);
	tcase_add_test(reg, test_forget_while_scraping);
	tcase_add_test(reg, test_label_values_utf8);
	suite_add_tcase(s, reg);

	tcase_add_checked_fixture(http, setup, teardown);
	tcase_set_timeout(http, 30);
	tcase_add_test(http, test_http_ipv4);
	tcase_add_test(http, test_http_ipv6);
	tcase_add_test(http, test_port_in_use);
	tcase_add_test(http, test_scrape_while_updating);
	tcase_add_test(http, test_serve_address_forms);
	tcase_add_test(http, test_slow_clients_do_not_starve);
	tcase_add_test(http, test_header_size_bounded);
	tcase_add_test(http, test_silent_connection_closed);
	suite_add_tcase(s, http);
	return s;
}

CHECK_MAIN(metrics_suite)
