// SPDX-License-Identifier: Apache-2.0
/*
 * flowctl ebpf code-dump | build: show the BPF source flowctl compiles, or
 * compile it into the object cache.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "ebpf_build.h"
#include "flow_abi.h"
#include "log.h"
#include "option.h"

enum {
	OPT_IFSTATS = 256,
	OPT_PRECISE_TIME,
	OPT_LATENCY,
	OPT_CACHE_DIR,
};

static const struct opt ebpf_knob_opts[] = {
	{ "interface-max-flow-limit", 'l', 'l', "N",
	  "flows per buffer, " MAX_FLOWS_RANGE " (default "
	  MAX_FLOWS_DEFAULT ")" },
	{ "ifstats", 0, OPT_IFSTATS, NULL,
	  "per-packet totals in flow_ifstats too" },
	{ "precise-time", 0, OPT_PRECISE_TIME, NULL,
	  "last-seen times from bpf_ktime_get_ns (default:\n"
	  "the per-tick clock; first-seen is always precise)" },
	{ "latency", 0, OPT_LATENCY, NULL,
	  "forwarding latency (ingress stamp, egress match)" },
	{ 0 }
};

static const struct opt ebpf_build_opts[] = {
	{ "cache-dir", 0, OPT_CACHE_DIR, "DIR",
	  "object cache (default " EBPF_CACHE_DIR ")", OV_DIR },
	{ 0 }
};

static const struct cmd_spec ebpf_code_dump_spec = {
	.path = "ebpf code-dump",
	.help = "print the rendered BPF C source",
	.synopsis = "[ -l N ] [ --ifstats ] [ --precise-time ] [ --latency ]",
	.groups = { ebpf_knob_opts },
};

static const struct cmd_spec ebpf_build_spec = {
	.path = "ebpf build",
	.help = "compile it (cached) and print the object path",
	.synopsis = "[ -l N ] [ --ifstats ] [ --precise-time ] [ --latency ]\n"
		    "[ --cache-dir DIR ]",
	.groups = { ebpf_knob_opts, ebpf_build_opts },
};

/* Parse the options of SUB into K (and CACHE_DIR); EXIT_USAGE, 0 or -1 for
 * --help.
 */
static int ebpf_parse_opts(int argc, char **argv, const struct cmd_spec *spec,
			   struct ebpf_knobs *k, const char **cache_dir)
{
	struct opt_parser op;
	int c;

	ebpf_knobs_default(k);
	opt_parser_init(&op, spec);
	optind = 1;
	while ((c = opt_next(&op, argc, argv)) != -1) {
		switch (c) {
		case 'l':
			if (option_u32("-l", optarg, 1, EBPF_MAX_FLOWS_LIMIT,
				       &k->max_flows))
				return EXIT_USAGE;
			break;
		case OPT_IFSTATS:
			k->ifstats = true;
			break;
		case OPT_PRECISE_TIME:
			k->coarse_time = false;
			break;
		case OPT_LATENCY:
			k->latency = true;
			break;
		case OPT_CACHE_DIR:
			if (!cache_dir) {
				opt_usage(stderr, spec);
				return EXIT_USAGE;
			}
			*cache_dir = optarg;
			break;
		case 'h':
			opt_usage(stdout, spec);
			return -1;
		default:
			opt_usage(stderr, spec);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		pr_err("unexpected argument '%s'", argv[optind]);
		opt_usage(stderr, spec);
		return EXIT_USAGE;
	}
	return 0;
}

static int ebpf_code_dump(int argc, char **argv)
{
	struct ebpf_knobs k;
	size_t len;
	char *src;
	int ret;

	ret = ebpf_parse_opts(argc, argv, &ebpf_code_dump_spec, &k, NULL);
	if (ret)
		return ret < 0 ? 0 : ret;
	ret = ebpf_render(&k, &src, &len);
	if (ret)
		return exit_code(ret);
	ret = fwrite(src, 1, len, stdout) == len ? 0 : 1;
	free(src);
	return ret;
}

static int ebpf_build_cmd(int argc, char **argv)
{
	char obj[PATH_MAX], digest[EBPF_DIGEST_LEN + 1];
	const char *cache_dir = EBPF_CACHE_DIR;
	struct ebpf_knobs k;
	int ret;

	ret = ebpf_parse_opts(argc, argv, &ebpf_build_spec, &k, &cache_dir);
	if (ret)
		return ret < 0 ? 0 : ret;
	ret = ebpf_build(&k, cache_dir, obj, sizeof(obj), digest);
	if (ret)
		return exit_code(ret);
	printf("%s\n", obj);
	return 0;
}

const struct subcmd ebpf_subcmds[] = {
	{ &ebpf_code_dump_spec, ebpf_code_dump },
	{ &ebpf_build_spec, ebpf_build_cmd },
	{ 0 }
};

int cmd_ebpf(int argc, char **argv)
{
	return subcmd_dispatch("ebpf", ebpf_subcmds, argc, argv);
}
