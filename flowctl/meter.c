// SPDX-License-Identifier: Apache-2.0
/*
 * flowctl meter { attach | detach | status }
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "ebpf_build.h"
#include "ifspec.h"
#include "log.h"
#include "meter.h"
#include "option.h"

#define MAX_SPECS 256

static void meter_usage(FILE *f, const char *sub)
{
	fprintf(f,
"Usage: flowctl meter %s -i { NETNS:DEV | NETNS:* | DEV } [ -i ... ]\n"
"       flowctl meter %s --netns NETNS -n DEV\n"
"Options:\n"
"  -i, --interface SPEC     interface: NETNS:DEV, NETNS:* (every device but lo)\n"
"                           or DEV (root namespace); repeatable; NETNS and\n"
"                           DEV may be shell patterns ('ns*:eth*', exact)\n"
"  -o, --output normal|wide one line per hook (the original's), or with\n"
"                           what was done per hook\n"
"      --netns NETNS        namespace of -n (older form)\n"
"  -n, --name DEV           device (older form)\n"
"      --pref N             tc filter preference, 1..65535 (default 100)\n"
"      --chain N            tc chain, 0..268435455 (default 0)\n"
"      --handle N           tc filter handle, 1..4294967295 (default 1)\n"
"%s"
"      --dry                print the commands, run nothing\n"
"  -v, --verbose            debug messages\n",
		sub, sub,
		strcmp(sub, "attach") ? "" :
"  -l, --interface-max-flow-limit N\n"
"                           flows per namespace and buffer, 1..16777216\n"
"                           (default 65536; kept from the namespace's pins\n"
"                           when omitted)\n"
"  -f, --force              re-attach; replace pins whose limit differs\n"
"      --hooks egress|ingress|both\n"
"                           hooks to meter (default egress: a forwarded\n"
"                           packet is counted once); flowctl's filter on\n"
"                           the other hook is removed\n"
"      --ifstats            per-packet interface totals in the kernel too\n"
"                           (costs ~1.2x an empty program per packet)\n"
"      --precise-time       last-seen times from the precise clock (~0.6x)\n"
"      --no-prealloc        flow maps allocated per flow, not at attach\n"
"                           (memory follows the flows; see benchmarks.md)\n");
}

/* The kernel refuses tc chain indexes above TC_ACT_EXT_VAL_MASK. */
#define TC_CHAIN_MAX	0x0fffffffU

enum { OPT_NETNS = 1000, OPT_PREF, OPT_CHAIN, OPT_HANDLE, OPT_DRY,
       OPT_IFSTATS, OPT_PRECISE_TIME, OPT_HOOKS, OPT_NO_PREALLOC };

static int meter_parse(int argc, char **argv, bool attach,
		       struct ifspec *specs, int *n, struct meter_opts *o)
{
	static const struct option longopts[] = {
		{ "interface", required_argument, NULL, 'i' },
		{ "netns", required_argument, NULL, OPT_NETNS },
		{ "name", required_argument, NULL, 'n' },
		{ "pref", required_argument, NULL, OPT_PREF },
		{ "chain", required_argument, NULL, OPT_CHAIN },
		{ "handle", required_argument, NULL, OPT_HANDLE },
		{ "interface-max-flow-limit", required_argument, NULL, 'l' },
		{ "force", no_argument, NULL, 'f' },
		{ "dry", no_argument, NULL, OPT_DRY },
		{ "ifstats", no_argument, NULL, OPT_IFSTATS },
		{ "precise-time", no_argument, NULL, OPT_PRECISE_TIME },
		{ "hooks", required_argument, NULL, OPT_HOOKS },
		{ "no-prealloc", no_argument, NULL, OPT_NO_PREALLOC },
		{ "output", required_argument, NULL, 'o' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *netns = NULL, *err;
	char *devs[MAX_SPECS];
	int ndevs = 0, c, i;

	meter_opts_default(o);
	*n = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, attach ? "i:n:l:o:fvh" : "i:n:o:vh",
				longopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			if (*n >= MAX_SPECS) {
				pr_err("too many -i (at most %d)", MAX_SPECS);
				return -EINVAL;
			}
			if (ifspec_parse(optarg, &specs[*n], &err)) {
				pr_err("-i %s: %s", optarg, err);
				return -EINVAL;
			}
			(*n)++;
			break;
		case 'n':
			if (ndevs >= MAX_SPECS) {
				pr_err("too many -n (at most %d)", MAX_SPECS);
				return -EINVAL;
			}
			devs[ndevs++] = optarg;
			break;
		case OPT_NETNS:
			netns = optarg;
			break;
		case OPT_PREF:
			if (option_u32("--pref", optarg, 1, 0xffff,
				       &o->id.pref))
				return -EINVAL;
			break;
		case OPT_CHAIN:
			if (option_u32("--chain", optarg, 0, TC_CHAIN_MAX,
				       &o->id.chain))
				return -EINVAL;
			break;
		case OPT_HANDLE:
			if (option_u32("--handle", optarg, 1, UINT32_MAX,
				       &o->id.handle))
				return -EINVAL;
			break;
		case 'l':
			if (!attach)
				return -EINVAL;
			if (option_u32("-l", optarg, 1, EBPF_MAX_FLOWS_LIMIT,
				       &o->max_flows))
				return -EINVAL;
			break;
		case 'f':
			o->force = true;
			break;
		case 'o':
			if (!strcmp(optarg, "wide")) {
				o->output = METER_OUT_WIDE;
			} else if (strcmp(optarg, "normal")) {
				pr_err("-o %s: expected normal or wide", optarg);
				return -EINVAL;
			}
			break;
		case OPT_HOOKS:
			if (!attach) {
				meter_usage(stderr, argv[0]);
				return -EINVAL;
			}
			if (meter_hooks_parse(optarg, &o->hooks)) {
				pr_err("--hooks %s: expected egress, ingress or both",
				       optarg);
				return -EINVAL;
			}
			break;
		case OPT_DRY:
			o->dry = true;
			break;
		case OPT_IFSTATS:
		case OPT_PRECISE_TIME:
		case OPT_NO_PREALLOC:
			if (!attach) {
				meter_usage(stderr, argv[0]);
				return -EINVAL;
			}
			if (c == OPT_IFSTATS)
				o->ifstats = true;
			else if (c == OPT_NO_PREALLOC)
				o->no_prealloc = true;
			else
				o->precise_time = true;
			break;
		case 'v':
			log_set_level(LOG_LVL_DEBUG);
			break;
		case 'h':
			meter_usage(stdout, argv[0]);
			return 1;
		default:
			meter_usage(stderr, argv[0]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		pr_err("unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	if (netns && !ndevs) {
		pr_err("--netns needs -n DEV (or use -i %s:DEV)", netns);
		return -EINVAL;
	}
	if (netns && ifspec_check_netns(netns, &err)) {
		pr_err("--netns %s: %s", netns, err);
		return -EINVAL;
	}
	for (i = 0; i < ndevs; i++) {
		struct ifspec *s = &specs[*n];

		if (*n >= MAX_SPECS) {
			pr_err("too many interfaces (at most %d)", MAX_SPECS);
			return -EINVAL;
		}
		memset(s, 0, sizeof(*s));
		if (ifspec_check_dev(devs[i], &err)) {
			pr_err("-n %s: %s", devs[i], err);
			return -EINVAL;
		}
		if (netns)
			snprintf(s->netns, sizeof(s->netns), "%s", netns);
		snprintf(s->dev, sizeof(s->dev), "%s", devs[i]);
		(*n)++;
	}
	if (!*n) {
		pr_err("no interface given (-i NETNS:DEV, NETNS:* or DEV)");
		meter_usage(stderr, argv[0]);
		return -EINVAL;
	}
	return 0;
}

static int exit_code(int err)
{
	if (!err)
		return 0;
	return err == -METER_EUSAGE ? EXIT_USAGE : 1;
}

static int need_root(void)
{
	if (geteuid() != 0) {
		pr_err("this needs root (CAP_NET_ADMIN, CAP_BPF, CAP_SYS_ADMIN)");
		return 1;
	}
	return 0;
}

static int do_attach(int argc, char **argv)
{
	static struct ifspec specs[MAX_SPECS];
	struct meter_opts o;
	int n, err;

	err = meter_parse(argc, argv, true, specs, &n, &o);
	if (err)
		return err > 0 ? 0 : EXIT_USAGE;
	if (!o.dry && need_root())
		return 1;
	return exit_code(meter_attach(specs, n, &o));
}

static int do_detach(int argc, char **argv)
{
	static struct ifspec specs[MAX_SPECS];
	struct meter_opts o;
	int n, err;

	err = meter_parse(argc, argv, false, specs, &n, &o);
	if (err)
		return err > 0 ? 0 : EXIT_USAGE;
	if (!o.dry && need_root())
		return 1;
	return exit_code(meter_detach(specs, n, &o));
}

static int do_status(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "netns", required_argument, NULL, OPT_NETNS },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *netns = NULL, *err;
	enum meter_output out = METER_OUT_NORMAL;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (!strcmp(optarg, "json")) {
				out = METER_OUT_JSON;
			} else if (!strcmp(optarg, "wide")) {
				out = METER_OUT_WIDE;
			} else if (strcmp(optarg, "normal")) {
				pr_err("-o %s: expected normal, wide or json",
				       optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_NETNS:
			netns = optarg;
			break;
		case 'h':
			printf("Usage: flowctl meter status [ -o normal|wide|json ] [ --netns NETNS ]\n");
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		pr_err("unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (netns && ifspec_check_pin_name(netns, &err)) {
		pr_err("--netns %s: %s", netns, err);
		return EXIT_USAGE;
	}
	if (need_root())
		return 1;
	return exit_code(meter_status(netns, out));
}

int cmd_meter(int argc, char **argv)
{
	static const struct subcmd cmds[] = {
		{ "attach", do_attach, "attach the meter to interfaces" },
		{ "detach", do_detach, "detach it and remove unused pins" },
		{ "status", do_status, "show what is attached where" },
		{ 0 }
	};

	return subcmd_dispatch("meter", cmds, argc, argv);
}
