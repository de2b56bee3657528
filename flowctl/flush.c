// SPDX-License-Identifier: Apache-2.0
/*
 * flowctl flush { -A | -i IFINDEX -p PROTO -s SADDR -S SPORT -d DADDR
 *                 -D DPORT } [ --netns NS ]   (long forms: flush_opts)
 *
 * Remove flows from the meter's maps (both buffers, both hooks).  The
 * packets they held are not exported.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <unistd.h>

#include "agent.h"
#include "commands.h"
#include "flow_table.h"
#include "ifspec.h"
#include "log.h"
#include "option.h"

enum { OPT_NETNS = 1000 };

/*
 * --saddr/--daddr are linux-flow-exporter's names, --src/--dst flowctl's
 * older ones: both stay.
 */
static const struct opt flush_opts[] = {
	{ "all", 'A', 'A', NULL, "every flow" },
	{ "ifindex", 'i', 'i', "N", "ingress interface index, 0..2147483647" },
	{ "proto", 'p', 'p', "P",
	  "number 0..255, or tcp, udp, icmp, icmpv6, sctp",
	  OV_WORDS, "tcp udp icmp icmpv6 sctp" },
	{ "saddr", 's', 's', "ADDR", "source address (IPv4 or IPv6)" },
	{ "src", 0, 's', "ADDR", "the same as --saddr" },
	{ "sport", 'S', 'S', "N", "source port, 0..65535" },
	{ "daddr", 'd', 'd', "ADDR", "destination address" },
	{ "dst", 0, 'd', "ADDR", "the same as --daddr" },
	{ "dport", 'D', 'D', "N", "destination port, 0..65535" },
	{ "netns", 0, OPT_NETNS, "NS",
	  "only namespace NS (pin directory name; DEFAULT is\n"
	  "the root namespace)", OV_PIN },
	{ 0 }
};

const struct cmd_spec flush_spec = {
	.path = "flush",
	.help = "remove flows from the kernel maps",
	.synopsis = "{ -A | [ -i IFINDEX ] [ -p PROTO ] [ -s SADDR ] [ -S SPORT ]\n"
		    " [ -d DADDR ] [ -D DPORT ] } [ --netns NS ]",
	.about = "Remove flows from the meter's maps (both buffers, both hooks); their\n"
		 "packets are not exported.  Fields left out match every value.\n",
	.notes = "A key that matches nothing is an error (exit 1); so is a running agent\n"
		 "(stop it first: it holds drained flows and drains the maps).\n",
	.groups = { flush_opts },
};

static int parse_proto(const char *s, uint8_t *proto)
{
	static const struct { const char *name; uint8_t num; } names[] = {
		{ "tcp", IPPROTO_TCP }, { "udp", IPPROTO_UDP },
		{ "icmp", IPPROTO_ICMP }, { "icmpv6", IPPROTO_ICMPV6 },
		{ "ipv6-icmp", IPPROTO_ICMPV6 }, { "sctp", IPPROTO_SCTP },
	};
	uint32_t v;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcasecmp(s, names[i].name)) {
			*proto = names[i].num;
			return 0;
		}
	}
	if (option_u32("-p", s, 0, 255, &v))
		return -EINVAL;
	*proto = v;
	return 0;
}

/* IPv4 as IPv4-mapped IPv6, as the meter keys it. */
static int parse_addr(const char *opt, const char *s, uint8_t addr[16],
		      int *family)
{
	struct in_addr a4;

	if (inet_pton(AF_INET, s, &a4) == 1) {
		memset(addr, 0, 16);
		addr[10] = addr[11] = 0xff;
		memcpy(addr + 12, &a4, 4);
		*family = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, addr) == 1) {
		*family = 6;
		return 0;
	}
	pr_err("%s: '%s' is not an IPv4 or IPv6 address", opt, s);
	return -EINVAL;
}

int cmd_flush(int argc, char **argv)
{
	struct opt_parser op;
	struct flow_table_opts topts = { .no_drain = true };
	struct flow_match m = { 0 };
	struct flow_table *ft = NULL;
	const char *netns = NULL, *why;
	uint64_t total = 0;
	uint32_t v;
	int c, err, ret = 0, sfam = 0, dfam = 0, lockfd;
	bool all = false;
	size_t i;

	opt_parser_init(&op, &flush_spec);
	optind = 1;
	while ((c = opt_next(&op, argc, argv)) != -1) {
		switch (c) {
		case 'A':
			all = true;
			break;
		case 'i':
			if (option_u32("-i", optarg, 0, INT32_MAX, &v))
				return EXIT_USAGE;
			m.key.ingress_ifindex = v;
			m.fields |= FLOW_MATCH_IIF;
			break;
		case 'p':
			if (parse_proto(optarg, &m.key.proto))
				return EXIT_USAGE;
			m.fields |= FLOW_MATCH_PROTO;
			break;
		case 's':
			if (parse_addr("-s/--saddr", optarg, m.key.src_addr, &sfam))
				return EXIT_USAGE;
			m.fields |= FLOW_MATCH_SADDR;
			break;
		case 'S':
			if (option_u32("-S", optarg, 0, 65535, &v))
				return EXIT_USAGE;
			m.key.sport = htons(v);
			m.fields |= FLOW_MATCH_SPORT;
			break;
		case 'd':
			if (parse_addr("-d/--daddr", optarg, m.key.dst_addr, &dfam))
				return EXIT_USAGE;
			m.fields |= FLOW_MATCH_DADDR;
			break;
		case 'D':
			if (option_u32("-D", optarg, 0, 65535, &v))
				return EXIT_USAGE;
			m.key.dport = htons(v);
			m.fields |= FLOW_MATCH_DPORT;
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
			opt_usage(stdout, &flush_spec);
			return 0;
		default:
			opt_usage(stderr, &flush_spec);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		pr_err("unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (all == !!m.fields) {
		pr_err(all ? "-A flushes everything: no key options with it" :
		       "give a key (-i, -p, -s, -S, -d, -D) or -A");
		opt_usage(stderr, &flush_spec);
		return EXIT_USAGE;
	}
	if (sfam && dfam && sfam != dfam) {
		pr_err("-s and -d: one IPv4 and one IPv6 address match nothing");
		return EXIT_USAGE;
	}
	/*
	 * Not while an agent runs: it holds drained flows in its cache and
	 * drains the maps under us.  The agent lock is held until the flush
	 * is done, so no agent starts in the middle of it.
	 */
	lockfd = agent_lock_exclude(NULL, "flushing its maps");
	if (lockfd < 0 && lockfd != -ENOENT)
		return 1;
	topts.netns = netns;
	err = flow_table_open(&topts, &ft);
	if (err) {
		pr_err("cannot open the flow table: %s", strerror(-err));
		ret = 1;
		goto out;
	}
	if (netns && !flow_table_ns_find(ft, netns)) {
		pr_err("namespace %s is not metered (no pins under %s/%s)",
		       netns, flow_table_pin_root(ft), netns);
		ret = 1;
		goto out;
	}
	if (!flow_table_ns_count(ft)) {
		printf("no meter attached (no pinned maps under %s): nothing "
		       "to flush\n", flow_table_pin_root(ft));
		ret = all ? 0 : 1;
		goto out;
	}
	for (i = 0; i < flow_table_ns_count(ft); i++) {
		struct flow_ns *ns = flow_table_ns(ft, i);
		uint64_t removed = 0;

		if (netns && strcmp(netns, flow_ns_name(ns)))
			continue;
		err = flow_table_flush(ft, ns, all ? NULL : &m, &removed);
		if (err)
			ret = 1;
		if (removed)
			printf("%s: removed %llu entr%s\n", flow_ns_name(ns),
			       (unsigned long long)removed,
			       removed == 1 ? "y" : "ies");
		total += removed;
	}
	if (all) {
		printf("removed %llu entr%s in all\n",
		       (unsigned long long)total, total == 1 ? "y" : "ies");
	} else if (!total && !ret) {
		printf("no flow matches the key: nothing removed\n");
		ret = 1;
	}
out:
	if (ft)
		flow_table_close(ft);
	if (lockfd >= 0)
		close(lockfd);
	return ret;
}
