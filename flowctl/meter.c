// SPDX-License-Identifier: Apache-2.0
/*
 * flowctl meter { attach | detach | status }
 */
#include <errno.h>
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

/* The kernel refuses tc chain indexes above TC_ACT_EXT_VAL_MASK. */

enum { OPT_NETNS = 1000, OPT_PREF, OPT_CHAIN, OPT_HANDLE, OPT_DRY,
       OPT_IFSTATS, OPT_PRECISE_TIME, OPT_LATENCY, OPT_HOOKS,
       OPT_NO_PREALLOC };

static const struct opt meter_if_opts[] = {
	{ "interface", 'i', 'i', "SPEC",
	  "interface: NETNS:DEV, NETNS:* (every device but lo)\n"
	  "or DEV (root namespace); repeatable; NETNS and\n"
	  "DEV may be shell patterns ('ns*:eth*', whole names)",
	  OV_IFSPEC },
	{ "output", 'o', 'o', "FORMAT",
	  "normal (default: one line per hook, the original's)\n"
	  "or wide (with what was done per hook)", OV_WORDS,
	  "normal wide" },
	{ "netns", 0, OPT_NETNS, "NETNS", "namespace of -n (older form)",
	  OV_NETNS },
	{ "name", 'n', 'n', "DEV", "device (older form)" },
	{ "pref", 0, OPT_PREF, "N",
	  "tc filter preference, 1.." STRINGIFY(TC_PREF_MAX)
	  " (default " STRINGIFY(TC_PREF_DEFAULT) ")" },
	{ "chain", 0, OPT_CHAIN, "N",
	  "tc chain, 0.." STRINGIFY(TC_CHAIN_MAX)
	  " (default " STRINGIFY(TC_CHAIN_DEFAULT) ")" },
	{ "handle", 0, OPT_HANDLE, "N",
	  "tc filter handle, 1.." STRINGIFY(TC_HANDLE_MAX)
	  " (default " STRINGIFY(TC_HANDLE_DEFAULT) ")" },
	{ 0 }
};

static const struct opt meter_attach_opts[] = {
	{ "interface-max-flow-limit", 'l', 'l', "N",
	  "flows per namespace and buffer, " MAX_FLOWS_RANGE "\n"
	  "(default " MAX_FLOWS_DEFAULT "; kept from the namespace's pins\n"
	  "when omitted)" },
	{ "force", 'f', 'f', NULL,
	  "re-attach; replace pins whose limit differs" },
	{ "ifstats", 0, OPT_IFSTATS, NULL,
	  "per-packet interface totals in the kernel too\n"
	  "(costs ~1.2x an empty program per packet)" },
	{ "precise-time", 0, OPT_PRECISE_TIME, NULL,
	  "last-seen times from the precise clock (~0.6x)" },
	{ "hooks", 0, OPT_HOOKS, "HOOKS",
	  "hooks to meter: egress (default: a forwarded packet\n"
	  "is counted once), ingress or both; flowctl's filter\n"
	  "on the other hook is removed", OV_WORDS,
	  "egress ingress both" },
	{ "no-prealloc", 0, OPT_NO_PREALLOC, NULL,
	  "flow maps allocated per flow, not at attach\n"
	  "(memory follows the flows; see benchmarks.md)" },
	{ "latency", 0, OPT_LATENCY, NULL,
	  "forwarding latency: stamp at ingress, measure at\n"
	  "egress (metrics, per-flow mean in the flow log)" },
	{ 0 }
};

static const struct opt meter_tail_opts[] = {
	{ "dry", 0, OPT_DRY, NULL, "print the commands, run nothing" },
	{ "verbose", 'v', 'v', NULL, "debug messages" },
	{ 0 }
};

static const struct cmd_spec meter_attach_spec = {
	.path = "meter attach",
	.help = "attach the meter to interfaces",
	.synopsis = "-i { NETNS:DEV | NETNS:* | DEV } [ -i ... ] [ --pref N ]\n"
		    " [ --chain N ] [ --handle N ] [ -l N ] [ -f ]\n"
		    " [ --hooks egress|ingress|both ] [ --no-prealloc ] [ --latency ]\n"
		    " [ -o normal|wide ] [ --dry ]\n"
		    "--netns NETNS -n DEV [ ... ]",
	.groups = { meter_if_opts, meter_attach_opts, meter_tail_opts },
};

static const struct cmd_spec meter_detach_spec = {
	.path = "meter detach",
	.help = "detach it and remove unused pins",
	.synopsis = "-i { NETNS:DEV | NETNS:* | DEV } [ -i ... ] [ --pref N ]\n"
		    " [ --chain N ] [ --handle N ] [ -o normal|wide ] [ --dry ]\n"
		    "--netns NETNS -n DEV [ ... ]",
	.groups = { meter_if_opts, meter_tail_opts },
};

static const struct opt meter_status_opts[] = {
	{ "output", 'o', 'o', "FORMAT",
	  "normal (default: the original's lines), wide\n"
	  "(flowctl's table) or json", OV_WORDS, "normal wide json" },
	{ "netns", 0, OPT_NETNS, "NETNS",
	  "only this namespace (pin directory name; DEFAULT\n"
	  "is the root namespace)", OV_PIN },
	{ 0 }
};

static const struct cmd_spec meter_status_spec = {
	.path = "meter status",
	.help = "show what is attached where",
	.synopsis = "[ -o normal|wide|json ] [ --netns NETNS ]",
	.groups = { meter_status_opts },
};

static int meter_parse(int argc, char **argv, const struct cmd_spec *spec,
		       struct ifspec *specs, int *n, struct meter_opts *o)
{
	struct opt_parser op;
	const char *netns = NULL, *err;
	char *devs[MAX_SPECS];
	int ndevs = 0, c, i;

	meter_opts_default(o);
	*n = 0;
	opt_parser_init(&op, spec);
	optind = 1;
	while ((c = opt_next(&op, argc, argv)) != -1) {
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
			if (option_u32("--pref", optarg, 1, TC_PREF_MAX,
				       &o->id.pref))
				return -EINVAL;
			break;
		case OPT_CHAIN:
			if (option_u32("--chain", optarg, 0, TC_CHAIN_MAX,
				       &o->id.chain))
				return -EINVAL;
			break;
		case OPT_HANDLE:
			if (option_u32("--handle", optarg, 1, TC_HANDLE_MAX,
				       &o->id.handle))
				return -EINVAL;
			break;
		case 'l':
			if (option_u32("-l", optarg, 1, EBPF_MAX_FLOWS_LIMIT,
				       &o->max_flows))
				return -EINVAL;
			break;
		case 'f':
			o->force = true;
			break;
		case 'o':
			c = opt_word("-o", optarg, "normal wide");
			if (c < 0)
				return -EINVAL;
			o->output = c ? METER_OUT_WIDE : METER_OUT_NORMAL;
			break;
		case OPT_HOOKS:
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
			o->ifstats = true;
			break;
		case OPT_PRECISE_TIME:
			o->precise_time = true;
			break;
		case OPT_LATENCY:
			o->latency = true;
			break;
		case OPT_NO_PREALLOC:
			o->no_prealloc = true;
			break;
		case 'v':
			log_set_level(LOG_LVL_DEBUG);
			break;
		case 'h':
			opt_usage(stdout, spec);
			return 1;
		default:
			opt_usage(stderr, spec);
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
		opt_usage(stderr, spec);
		return -EINVAL;
	}
	return 0;
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

	err = meter_parse(argc, argv, &meter_attach_spec, specs, &n, &o);
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

	err = meter_parse(argc, argv, &meter_detach_spec, specs, &n, &o);
	if (err)
		return err > 0 ? 0 : EXIT_USAGE;
	if (!o.dry && need_root())
		return 1;
	return exit_code(meter_detach(specs, n, &o));
}

static int do_status(int argc, char **argv)
{
	const char *netns = NULL, *err;
	struct opt_parser op;
	enum meter_output out = METER_OUT_NORMAL;
	int c;

	opt_parser_init(&op, &meter_status_spec);
	optind = 1;
	while ((c = opt_next(&op, argc, argv)) != -1) {
		switch (c) {
		case 'o':
			c = opt_word("-o", optarg, "normal wide json");
			if (c < 0)
				return EXIT_USAGE;
			out = c == 2 ? METER_OUT_JSON : c ? METER_OUT_WIDE :
			      METER_OUT_NORMAL;
			break;
		case OPT_NETNS:
			netns = optarg;
			break;
		case 'h':
			opt_usage(stdout, &meter_status_spec);
			return 0;
		default:
			opt_usage(stderr, &meter_status_spec);
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

const struct subcmd meter_subcmds[] = {
	{ &meter_attach_spec, do_attach },
	{ &meter_detach_spec, do_detach },
	{ &meter_status_spec, do_status },
	{ 0 }
};

int cmd_meter(int argc, char **argv)
{
	return subcmd_dispatch("meter", meter_subcmds, argc, argv);
}
