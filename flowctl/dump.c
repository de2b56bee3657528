// SPDX-License-Identifier: Apache-2.0
/*
 * flowctl dump [ -o normal|wide|json ] [ --netns NS ]
 *
 * The live flows of every metered namespace: both buffers of the flow table
 * read without changing them and merged per key.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "flow_table.h"
#include "ifspec.h"
#include "log.h"
#include "strescape.h"

/* in the order of DUMP_FORMATS */
enum dump_format { DUMP_NORMAL, DUMP_WIDE, DUMP_JSON };
#define DUMP_FORMATS "normal wide json"

enum { OPT_NETNS = 1000 };

static const struct opt dump_opts[] = {
	{ "output", 'o', 'o', "FORMAT",
	  "normal (default), wide (adds start, end, finished,\n"
	  "ToS, VLAN, TTL) or json (an array of objects)",
	  OV_WORDS, DUMP_FORMATS },
	{ "netns", 0, OPT_NETNS, "NS",
	  "only namespace NS (its pin directory name;\n"
	  "DEFAULT is the root namespace)", OV_PIN },
	{ 0 }
};

const struct cmd_spec dump_spec = {
	.path = "dump",
	.help = "print the flows in the kernel maps",
	.synopsis = "[ -o { normal | wide | json } ] [ --netns NS ]",
	.about = "Print the flows the meter holds now (both buffers, merged per key).\n"
		 "The first columns are linux-flow-exporter's (IFINDEX PROTO SRC DST\n"
		 "PKTS BYTES, with -o wide START END FINISHED); flowctl's follow.\n",
	.notes = "Environment: " FLOW_PIN_ROOT_ENV " replaces the pin root "
		 FLOW_PIN_ROOT ".\n",
	.groups = { dump_opts },
};

static bool is_icmp(const struct flow_key *k)
{
	return k->proto == IPPROTO_ICMP || k->proto == IPPROTO_ICMPV6;
}

/* IPv4-mapped addresses print as IPv4. */
static void addr_str(const struct flow_key *k, const uint8_t *a, char *buf,
		     size_t size)
{
	if (k->ip_version == 4)
		inet_ntop(AF_INET, a + 12, buf, size);
	else
		inet_ntop(AF_INET6, a, buf, size);
}

/*
 * ADDR:PORT as the original printed it, [ADDR]:PORT for IPv6; always with
 * the port (0 without ports; ICMP: 0 and type * 256 + code, the key's
 * ports).
 */
static void endpoint_str(const struct flow_key *k, const uint8_t *a,
			 uint16_t port_be, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN];

	addr_str(k, a, ip, sizeof(ip));
	if (k->ip_version == 6)
		snprintf(buf, size, "[%s]:%u", ip, ntohs(port_be));
	else
		snprintf(buf, size, "%s:%u", ip, ntohs(port_be));
}

static void tcp_flags_str(const struct flow_key *k, uint32_t flags,
			  char *buf, size_t size)
{
	static const char letters[] = "FSRPAUECN";
	size_t n = 0;
	int i;

	if (k->proto != IPPROTO_TCP || !flags) {
		snprintf(buf, size, "-");
		return;
	}
	for (i = 0; letters[i] && n + 1 < size; i++)
		if (flags & (1U << i))
			buf[n++] = letters[i];
	buf[n] = 0;
}

/*
 * One row of text: the cells, then printed with the column widths.  The
 * namespace cell points to its name escaped once (str_escape_c: a name is
 * any bytes and must not move columns or reach the terminal raw).
 */
enum dump_col {
	/* linux-flow-exporter's columns, in its order and formats */
	COL_IFINDEX, COL_PROTO, COL_SRC, COL_DST, COL_PKTS, COL_BYTES,
	COL_START, COL_END, COL_FINISHED,
	/* flowctl's */
	COL_NETNS, COL_DIR, COL_OIF, COL_MARK, COL_FLAGS, COL_TOS, COL_VLAN,
	COL_TTL,
	NCOLS
};

static const char *const headers[NCOLS] = {
	[COL_IFINDEX] = "IFINDEX", [COL_PROTO] = "PROTO", [COL_SRC] = "SRC",
	[COL_DST] = "DST", [COL_PKTS] = "PKTS", [COL_BYTES] = "BYTES",
	[COL_START] = "START", [COL_END] = "END", [COL_FINISHED] = "FINISHED",
	[COL_NETNS] = "NETNS", [COL_DIR] = "DIR", [COL_OIF] = "OIF",
	[COL_MARK] = "MARK", [COL_FLAGS] = "FLAGS", [COL_TOS] = "TOS",
	[COL_VLAN] = "VLAN", [COL_TTL] = "TTL",
};

/* The original's columns first, flowctl's additions after them. */
static const enum dump_col normal_cols[] = {
	COL_IFINDEX, COL_PROTO, COL_SRC, COL_DST, COL_PKTS, COL_BYTES,
	COL_NETNS, COL_DIR, COL_OIF, COL_MARK, COL_FLAGS,
};
static const enum dump_col wide_cols[] = {
	COL_IFINDEX, COL_PROTO, COL_SRC, COL_DST, COL_PKTS, COL_BYTES,
	COL_START, COL_END, COL_FINISHED,
	COL_NETNS, COL_DIR, COL_OIF, COL_MARK, COL_FLAGS, COL_TOS, COL_VLAN,
	COL_TTL,
};

#define CELL 64
struct row {
	const char *ns;
	char c[NCOLS][CELL];
};

static const char *cell(const struct row *r, enum dump_col c)
{
	return c == COL_NETNS ? r->ns : r->c[c];
}

static void fill_row(struct row *r, const char *ns, const struct flow_entry *e,
		     const struct flow_clock *clk)
{
	const struct flow_key *k = &e->key;
	const struct flow_value *v = &e->val;

	r->ns = ns;
	snprintf(r->c[COL_IFINDEX], CELL, "%u", k->ingress_ifindex);
	snprintf(r->c[COL_PROTO], CELL, "%u", k->proto);
	endpoint_str(k, k->src_addr, k->sport, r->c[COL_SRC], CELL);
	endpoint_str(k, k->dst_addr, k->dport, r->c[COL_DST], CELL);
	snprintf(r->c[COL_PKTS], CELL, "%llu", (unsigned long long)v->packets);
	snprintf(r->c[COL_BYTES], CELL, "%llu", (unsigned long long)v->octets);
	/* unix milliseconds (the original printed its kernel clock) */
	snprintf(r->c[COL_START], CELL, "%llu", (unsigned long long)
		 (flow_clock_to_unix_ns(clk, v->first_seen_ns) / 1000000ULL));
	snprintf(r->c[COL_END], CELL, "%llu", (unsigned long long)
		 (flow_clock_to_unix_ns(clk, v->last_seen_ns) / 1000000ULL));
	snprintf(r->c[COL_FINISHED], CELL, "%s",
		 v->flags & FLOW_F_END_SEEN ? "true" : "false");
	r->c[COL_NETNS][0] = '\0';
	snprintf(r->c[COL_DIR], CELL, "%s", k->direction ? "egress" : "ingress");
	snprintf(r->c[COL_OIF], CELL, "%u", k->egress_ifindex);
	snprintf(r->c[COL_MARK], CELL, "%u", k->mark);
	tcp_flags_str(k, v->tcp_flags, r->c[COL_FLAGS], CELL);
	snprintf(r->c[COL_TOS], CELL, "0x%02x", k->tos);
	snprintf(r->c[COL_VLAN], CELL, "%u", k->vlan_id);
	snprintf(r->c[COL_TTL], CELL, "%u-%u", v->min_ttl, v->max_ttl);
}

/* Left-aligned columns two blanks apart, upper-case headers (as the
 * original's table writer printed them); the header alone without rows. */
static void print_rows(const struct row *rows, size_t n, bool wide)
{
	const enum dump_col *cols = wide ? wide_cols : normal_cols;
	int ncols = wide ? (int)(sizeof(wide_cols) / sizeof(wide_cols[0])) :
		    (int)(sizeof(normal_cols) / sizeof(normal_cols[0]));
	int w[NCOLS], c;
	size_t i;

	for (c = 0; c < ncols; c++)
		w[c] = strlen(headers[cols[c]]);
	for (i = 0; i < n; i++)
		for (c = 0; c < ncols; c++)
			if ((int)strlen(cell(&rows[i], cols[c])) > w[c])
				w[c] = strlen(cell(&rows[i], cols[c]));
	for (c = 0; c < ncols; c++)
		printf("%-*s%s", c == ncols - 1 ? 0 : w[c], headers[cols[c]],
		       c == ncols - 1 ? "\n" : "  ");
	for (i = 0; i < n; i++)
		for (c = 0; c < ncols; c++)
			printf("%-*s%s", c == ncols - 1 ? 0 : w[c],
			       cell(&rows[i], cols[c]),
			       c == ncols - 1 ? "\n" : "  ");
}

/*
 * NAME as a JSON string (quotes included), malloc'ed: bytes that are not
 * UTF-8 become U+FFFD, then json_escape() at its full length (a fixed
 * buffer would cut an escape or the closing quote).
 */
static char *json_name(const char *name)
{
	char *utf8 = str_utf8_dup(name), *q = NULL;
	int n;

	if (!utf8)
		return NULL;
	n = json_escape(NULL, 0, utf8);
	q = malloc(n + 1);
	if (q)
		json_escape(q, n + 1, utf8);
	free(utf8);
	return q;
}

/* NSQ: the namespace name as a JSON string (json_name). */
static void print_json(const char *nsq, const struct flow_entry *e,
		       const struct flow_clock *clk, bool first)
{
	const struct flow_key *k = &e->key;
	const struct flow_value *v = &e->val;
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	bool icmp = is_icmp(k);

	addr_str(k, k->src_addr, src, sizeof(src));
	addr_str(k, k->dst_addr, dst, sizeof(dst));
	printf("%s\n  {\"netns\":%s,\"direction\":\"%s\","
	       "\"ingressIfindex\":%u,\"egressIfindex\":%u,\"ipVersion\":%u,"
	       "\"proto\":%u,\"src\":\"%s\",\"dst\":\"%s\",\"sport\":%u,"
	       "\"dport\":%u,\"icmpType\":%u,\"icmpCode\":%u,\"tos\":%u,"
	       "\"vlan\":%u,\"mark\":%u,\"pkts\":%llu,\"bytes\":%llu,"
	       "\"tcpFlags\":%u,\"minTtl\":%u,\"maxTtl\":%u,\"start\":%llu,"
	       "\"end\":%llu,\"finished\":%u}",
	       first ? "" : ",", nsq, k->direction ? "egress" : "ingress",
	       k->ingress_ifindex, k->egress_ifindex, k->ip_version, k->proto,
	       src, dst, icmp ? 0 : ntohs(k->sport), icmp ? 0 : ntohs(k->dport),
	       icmp ? ntohs(k->dport) >> 8 : 0,
	       icmp ? ntohs(k->dport) & 0xff : 0, k->tos, k->vlan_id, k->mark,
	       (unsigned long long)v->packets, (unsigned long long)v->octets,
	       v->tcp_flags & 0x0fff, v->min_ttl, v->max_ttl,
	       (unsigned long long)(flow_clock_to_unix_ns(clk,
							  v->first_seen_ns) /
				    1000000ULL),
	       (unsigned long long)(flow_clock_to_unix_ns(clk,
							  v->last_seen_ns) /
				    1000000ULL),
	       !!(v->flags & FLOW_F_END_SEEN));
}

int cmd_dump(int argc, char **argv)
{
	struct opt_parser op;
	struct flow_table_opts topts = { .no_drain = true };
	enum dump_format fmt = DUMP_NORMAL;
	const char *netns = NULL, *why;
	struct flow_table *ft = NULL;
	struct row *rows = NULL;
	char **names = NULL;	/* escaped namespace names, per namespace */
	size_t nrows = 0, nnames = 0, i, j;
	bool first = true;
	int c, err, ret = 0;

	opt_parser_init(&op, &dump_spec);
	optind = 1;
	while ((c = opt_next(&op, argc, argv)) != -1) {
		switch (c) {
		case 'o':
			c = opt_word("-o", optarg, DUMP_FORMATS);
			if (c < 0)
				return EXIT_USAGE;
			fmt = c;
			break;
		case OPT_NETNS:
			/* a pin directory name: nothing outside the pin root */
			if (ifspec_check_pin_name(optarg, &why)) {
				pr_err("--netns %s: %s", optarg, why);
				return EXIT_USAGE;
			}
			netns = optarg;
			break;
		case 'h':
			opt_usage(stdout, &dump_spec);
			return 0;
		default:
			opt_usage(stderr, &dump_spec);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		pr_err("unexpected argument '%s'", argv[optind]);
		opt_usage(stderr, &dump_spec);
		return EXIT_USAGE;
	}
	topts.netns = netns;
	err = flow_table_open(&topts, &ft);
	if (err) {
		pr_err("cannot open the flow table: %s", strerror(-err));
		return 1;
	}
	/* a namespace whose pins do not match was reported by the open */
	if (flow_table_rescan(ft))
		ret = 1;
	if (netns && !flow_table_ns_find(ft, netns)) {
		pr_err("namespace %s is not metered (no pins under %s/%s)",
		       netns, flow_table_pin_root(ft), netns);
		ret = 1;
		goto out;
	}
	if (!flow_table_ns_count(ft)) {
		/* the header alone, as with no flows; the note to stderr */
		if (fmt == DUMP_JSON)
			printf("[]\n");
		else
			print_rows(NULL, 0, fmt == DUMP_WIDE);
		pr_info("no meter attached (no pinned maps under %s); "
			"attach one with 'flowctl meter attach'",
			flow_table_pin_root(ft));
		goto out;
	}
	names = calloc(flow_table_ns_count(ft), sizeof(*names));
	if (!names) {
		pr_err("out of memory");
		ret = 1;
		goto out;
	}
	if (fmt == DUMP_JSON)
		printf("[");
	for (i = 0; i < flow_table_ns_count(ft); i++) {
		struct flow_ns *ns = flow_table_ns(ft, i);
		struct flow_entry *e = NULL;
		struct flow_clock clk;
		size_t n = 0;
		char *name;

		if (netns && strcmp(netns, flow_ns_name(ns)))
			continue;
		name = fmt == DUMP_JSON ? json_name(flow_ns_name(ns)) :
		       str_escape_c_dup(flow_ns_name(ns));
		if (!name) {
			pr_err("out of memory");
			ret = 1;
			continue;
		}
		names[nnames++] = name;
		err = flow_table_snapshot(ft, ns, &e, &n);
		if (err) {
			ret = 1;
			continue;
		}
		flow_clock_now(&clk);
		if (fmt == DUMP_JSON) {
			for (j = 0; j < n; j++, first = false)
				print_json(name, &e[j], &clk, first);
		} else if (n) {
			struct row *r2 = realloc(rows,
						 (nrows + n) * sizeof(*rows));

			if (!r2) {
				pr_err("out of memory");
				free(e);
				ret = 1;
				goto out;
			}
			rows = r2;
			for (j = 0; j < n; j++)
				fill_row(&rows[nrows++], name, &e[j], &clk);
		}
		free(e);
	}
	if (fmt == DUMP_JSON)
		printf("%s]\n", first ? "" : "\n");
	else
		print_rows(rows, nrows, fmt == DUMP_WIDE);
out:
	free(rows);
	for (i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	flow_table_close(ft);
	return ret;
}
