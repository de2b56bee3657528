// SPDX-License-Identifier: Apache-2.0
/*
 * flowctl ebpf code-dump | build: show the BPF source flowctl compiles, or
 * compile it into the object cache.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "ebpf_build.h"
#include "flow_abi.h"
#include "log.h"
#include "meter.h"
#include "option.h"

enum {
	OPT_IFSTATS = 256,
	OPT_PRECISE_TIME,
	OPT_LATENCY,
	OPT_CACHE_DIR,
};

static const struct option ebpf_opts[] = {
	{ "interface-max-flow-limit", required_argument, NULL, 'l' },
	{ "ifstats", no_argument, NULL, OPT_IFSTATS },
	{ "precise-time", no_argument, NULL, OPT_PRECISE_TIME },
	{ "latency", no_argument, NULL, OPT_LATENCY },
	{ "cache-dir", required_argument, NULL, OPT_CACHE_DIR },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void ebpf_usage(FILE *f, const char *sub)
{
	fprintf(f,
		"Usage: flowctl ebpf %s [ -l N ] [ --ifstats ] [ --precise-time ] [ --latency ]%s\n"
		"  -l, --interface-max-flow-limit N  flows per buffer (default %u)\n"
		"  --ifstats        per-packet totals in flow_ifstats too\n"
		"  --precise-time   last-seen times from bpf_ktime_get_ns (default:\n"
		"                   the per-tick clock; first-seen is always precise)\n"
		"  --latency        forwarding latency (ingress stamp, egress match)\n",
		sub, strcmp(sub, "build") ? "" : " [ --cache-dir DIR ]",
		FLOW_DEFAULT_MAX_FLOWS);
	if (!strcmp(sub, "build"))
		fprintf(f, "  --cache-dir DIR  object cache (default %s)\n",
			EBPF_CACHE_DIR);
}

/* Parse the options of SUB into K (and CACHE_DIR); EXIT_USAGE, 0 or -1 for
 * --help.
 */
static int ebpf_parse_opts(int argc, char **argv, struct ebpf_knobs *k,
			   const char **cache_dir)
{
	const char *sub = argv[0];
	int c;

	ebpf_knobs_default(k);
	optind = 1;
	while ((c = getopt_long(argc, argv, "l:h", ebpf_opts, NULL)) != -1) {
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
				ebpf_usage(stderr, sub);
				return EXIT_USAGE;
			}
			*cache_dir = optarg;
			break;
		case 'h':
			ebpf_usage(stdout, sub);
			return -1;
		default:
			ebpf_usage(stderr, sub);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		pr_err("unexpected argument '%s'", argv[optind]);
		ebpf_usage(stderr, sub);
		return EXIT_USAGE;
	}
	return 0;
}

/* A bad FLOWCTL_EBPF_TEMPLATE is the user's to fix: exit 2. */
static int exit_code(int err)
{
	return err == -METER_EUSAGE ? EXIT_USAGE : 1;
}

static int ebpf_code_dump(int argc, char **argv)
{
	struct ebpf_knobs k;
	size_t len;
	char *src;
	int ret;

	ret = ebpf_parse_opts(argc, argv, &k, NULL);
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

	ret = ebpf_parse_opts(argc, argv, &k, &cache_dir);
	if (ret)
		return ret < 0 ? 0 : ret;
	ret = ebpf_build(&k, cache_dir, obj, sizeof(obj), digest);
	if (ret)
		return exit_code(ret);
	printf("%s\n", obj);
	return 0;
}

static const struct subcmd ebpf_cmds[] = {
	{ "code-dump", ebpf_code_dump, "print the rendered BPF C source" },
	{ "build", ebpf_build_cmd, "compile it (cached) and print the object path" },
	{ NULL, NULL, NULL },
};

int cmd_ebpf(int argc, char **argv)
{
	return subcmd_dispatch("ebpf", ebpf_cmds, argc, argv);
}
