// SPDX-License-Identifier: Apache-2.0
/*
 * flowctl agent [-c CONFIG] [--log-level L] [--log-format json|text]
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "commands.h"
#include "config.h"
#include "log.h"

static void agent_usage(FILE *f)
{
	fprintf(f,
"Usage: flowctl agent [ -c CONFIG ] [ --log-level error|warn|info|debug ]\n"
"                     [ --log-format json|text ] [ --metrics-address ADDR ]\n"
"                     [ --no-attach ] [ --no-journal ]\n"
"Drains the flow tables of every metered namespace and exports the flows\n"
"(IPFIX, JSON log, metrics) until SIGTERM or SIGINT; SIGHUP reloads CONFIG\n"
"and reopens the log files.  Without -c: ./config.yaml when it exists (as\n"
"linux-flow-exporter), else the embedded default config (flowctl ipfix\n"
"template shows its templates; see docs/config.md).\n"
"One agent per pin root (a second one is refused).  The flows drained and\n"
"not yet exported are kept in a crash journal pinned under the pin root, so\n"
"that an agent killed (SIGKILL, OOM) loses nothing: the next one exports\n"
"them; --no-journal turns it off (docs/flowcache.md).\n");
}

int cmd_agent(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "log-format", required_argument, NULL, 'F' },
		{ "metrics-address", required_argument, NULL, 'M' },
		{ "no-attach", no_argument, NULL, 'N' },
		{ "no-journal", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct agent_opts o = { 0 };
	bool json = true;
	enum log_level lvl;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o.config = optarg;
			break;
		case 'L':
			if (log_level_parse(optarg, &lvl)) {
				pr_err("--log-level %s: expected error, warn, info or debug",
				       optarg);
				return EXIT_USAGE;
			}
			log_set_level(lvl);
			break;
		case 'F':
			if (!strcmp(optarg, "text")) {
				json = false;
			} else if (strcmp(optarg, "json")) {
				pr_err("--log-format %s: expected json or text",
				       optarg);
				return EXIT_USAGE;
			}
			break;
		case 'M':
			o.metrics_address = optarg;
			break;
		case 'N':
			o.no_attach = true;
			break;
		case 'J':
			o.no_journal = true;
			break;
		case 'h':
			agent_usage(stdout);
			return 0;
		default:
			agent_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		pr_err("unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (!o.config && !access(CONFIG_CWD_FILE, F_OK)) {
		o.config = CONFIG_CWD_FILE;
		o.config_from_cwd = true;
	}
	if (geteuid() != 0) {
		pr_err("the agent needs root (CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN)");
		return 1;
	}
	log_set_json(json);
	return agent_run(&o);
}
