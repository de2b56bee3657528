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
#include <time.h>

#include "commands.h"
#include "flow_table.h"
#include "ifspec.h"
#include "log.h"
#include "strescape.h"

enum dump_format { DUMP_NORMAL, DUMP_WIDE, DUMP_JSON };

static void dump_usage(FILE *f)
{
	fprintf(f,
"Usage: flowctl dump [ -o { normal | wide | json } ] [ --netns NS ]\n"
"Print the flows the meter holds now (both buffers, merged per key).\n"
"  -o, --output FORMAT   normal (default), wide (adds ToS, VLAN, TTL, start,\n"
"                        end, finished) or json (an array of objects)\n"
"      --netns NS        only namespace NS (its pin directory name;\n"
"                        DEFAULT is the root namespace)\n"
"Environment: " FLOW_PIN_ROOT_ENV " replaces the pin root " FLOW_PIN_ROOT ".\n");
}

static bool is_icmp(const struct flow_key *k)
{
	return k->proto == IPPROTO_ICMP || k->proto == IPPROTO_ICMPV6;
}

static const char *proto_name(uint8_t proto, char *buf, size_t size)
{
	switch (proto) {
	case IPPROTO_TCP: return "tcp";
	case IPPROTO_UDP: return "udp";
	case IPPROTO_ICMP: return "icmp";
	case IPPROTO_ICMPV6: return "icmpv6";
	case IPPROTO_SCTP: return "sctp";
	case IPPROTO_GRE: return "gre";
	case IPPROTO_ESP: return "esp";
	default:
		snprintf(buf, size, "%u", proto);
		return buf;
	}
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

/* ADDR:PORT, [ADDR]:PORT for IPv6, ADDR alone without ports. */
static void endpoint_str(const struct flow_key *k, const uint8_t *a,
			 uint16_t port_be, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN];

	addr_str(k, a, ip, sizeof(ip));
	if (is_icmp(k) || (!k->sport && !k->dport))
		snprintf(buf, size, "%s", ip);
	else if (k->ip_version == 6)
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

static void time_str(uint64_t unix_ns, char *buf, size_t size)
{
	time_t t = unix_ns / 1000000000ULL;
	struct tm tm;
	size_t n;

	if (!unix_ns) {
		snprintf(buf, size, "-");
		return;
	}
	gmtime_r(&t, &tm);
	n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, size - n, ".%03uZ",
		 (unsigned int)(unix_ns / 1000000ULL % 1000));
}

/*
 * One row of text: the cells, then printed with the column widths.  The
 * namespace cell points to its name escaped once (str_escape_c: a name is
 * any bytes and must not move columns or reach the terminal raw).
 */
#define NCOLS 17
struct row {
	const char *ns;
	char c[NCOLS][64];
};

static const char *cell(const struct row *r, int c)
{
	return c ? r->c[c] : r->ns;
}

static const char *const headers[NCOLS] = {
	"Netns", "Dir", "Iif", "Oif", "Proto", "Src", "Dst", "Mark", "Pkts",
	"Bytes", "Flags", "Tos", "Vlan", "Ttl", "Start", "End", "Finished",
};

static void fill_row(struct row *r, const char *ns, const struct flow_entry *e,
		     const struct flow_clock *clk)
{
	const struct flow_key *k = &e->key;
	const struct flow_value *v = &e->val;
	char pbuf[8];

	r->ns = ns;
	r->c[0][0] = '\0';
	snprintf(r->c[1], 64, "%s", k->direction ? "egress" : "ingress");
	snprintf(r->c[2], 64, "%u", k->ingress_ifindex);
	snprintf(r->c[3], 64, "%u", k->egress_ifindex);
	if (is_icmp(k))
		snprintf(r->c[4], 64, "%s(%u/%u)",
			 proto_name(k->proto, pbuf, sizeof(pbuf)),
			 ntohs(k->dport) >> 8, ntohs(k->dport) & 0xff);
	else
		snprintf(r->c[4], 64, "%s",
			 proto_name(k->proto, pbuf, sizeof(pbuf)));
	endpoint_str(k, k->src_addr, k->sport, r->c[5], 64);
	endpoint_str(k, k->dst_addr, k->dport, r->c[6], 64);
	snprintf(r->c[7], 64, "%u", k->mark);
	snprintf(r->c[8], 64, "%llu", (unsigned long long)v->packets);
	snprintf(r->c[9], 64, "%llu", (unsigned long long)v->octets);
	tcp_flags_str(k, v->tcp_flags, r->c[10], 64);
	snprintf(r->c[11], 64, "0x%02x", k->tos);
	snprintf(r->c[12], 64, "%u", k->vlan_id);
	snprintf(r->c[13], 64, "%u-%u", v->min_ttl, v->max_ttl);
	time_str(flow_clock_to_unix_ns(clk, v->first_seen_ns), r->c[14], 64);
	time_str(flow_clock_to_unix_ns(clk, v->last_seen_ns), r->c[15], 64);
	snprintf(r->c[16], 64, "%u", !!(v->flags & FLOW_F_END_SEEN));
}

static void print_rows(const struct row *rows, size_t n, bool wide)
{
	int ncols = wide ? NCOLS : 11, w[NCOLS], c;
	size_t i;

	for (c = 0; c < ncols; c++)
		w[c] = strlen(headers[c]);
	for (i = 0; i < n; i++)
		for (c = 0; c < ncols; c++)
			if ((int)strlen(cell(&rows[i], c)) > w[c])
				w[c] = strlen(cell(&rows[i], c));
	for (c = 0; c < ncols; c++)
		printf("%-*s%s", c == ncols - 1 ? 0 : w[c], headers[c],
		       c == ncols - 1 ? "\n" : "  ");
	for (i = 0; i < n; i++)
		for (c = 0; c < ncols; c++)
			printf("%-*s%s", c == ncols - 1 ? 0 : w[c],
			       cell(&rows[i], c), c == ncols - 1 ? "\n" : "  ");
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

enum { OPT_NETNS = 1000 };

int cmd_dump(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "netns", required_argument, NULL, OPT_NETNS },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct flow_table_opts topts = { .no_drain = true };
	enum dump_format fmt = DUMP_NORMAL;
	const char *netns = NULL, *why;
	struct flow_table *ft = NULL;
	struct row *rows = NULL;
	char **names = NULL;	/* escaped namespace names, per namespace */
	size_t nrows = 0, nnames = 0, i, j;
	bool first = true;
	int c, err, ret = 0;

	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (!strcmp(optarg, "normal")) {
				fmt = DUMP_NORMAL;
			} else if (!strcmp(optarg, "wide")) {
				fmt = DUMP_WIDE;
			} else if (!strcmp(optarg, "json")) {
				fmt = DUMP_JSON;
			} else {
				pr_err("-o: unknown format '%s' (normal, wide, "
				       "json)", optarg);
				return EXIT_USAGE;
			}
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
			dump_usage(stdout);
			return 0;
		default:
			dump_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		pr_err("unexpected argument '%s'", argv[optind]);
		dump_usage(stderr);
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
		if (fmt == DUMP_JSON)
			printf("[]\n");
		else
			printf("no meter attached (no pinned maps under %s); "
			       "attach one with 'flowctl meter attach'\n",
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
	else if (nrows)
		print_rows(rows, nrows, fmt == DUMP_WIDE);
	else
		printf("no flows\n");
out:
	free(rows);
	for (i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	flow_table_close(ft);
	return ret;
}
