// SPDX-License-Identifier: Apache-2.0
/*
 * flowctl agent [-c CONFIG] [--log-level L] [--log-format json|text]
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "commands.h"
#include "config.h"
#include "log.h"

#define LOG_FORMATS "json text"	/* --log-format, json first */

enum { OPT_LOG_LEVEL = 256, OPT_LOG_FORMAT, OPT_METRICS_ADDRESS,
       OPT_NO_ATTACH, OPT_NO_JOURNAL };

static const struct opt agent_opts[] = {
	{ "config", 'c', 'c', "CONFIG",
	  "the config (default: the embedded one)", OV_FILE },
	{ "log-level", 0, OPT_LOG_LEVEL, "LEVEL", "error, warn, info (default) or debug",
	  OV_WORDS, "error warn info debug" },
	{ "log-format", 0, OPT_LOG_FORMAT, "FORMAT", "json (default) or text",
	  OV_WORDS, LOG_FORMATS },
	{ "metrics-address", 0, OPT_METRICS_ADDRESS, "ADDR",
	  "serve metrics here instead of the config's\n"
	  "metricsAddress (HOST:PORT, [V6]:PORT, *:PORT)" },
	{ "no-attach", 0, OPT_NO_ATTACH, NULL,
	  "do not attach the config's interfaces" },
	{ "no-journal", 0, OPT_NO_JOURNAL, NULL, "no crash journal" },
	{ 0 }
};

const struct cmd_spec agent_spec = {
	.path = "agent",
	.help = "run the exporter daemon",
	.synopsis = "[ -c CONFIG ] [ --log-level error|warn|info|debug ]\n"
		    " [ --log-format json|text ] [ --metrics-address ADDR ]\n"
		    " [ --no-attach ] [ --no-journal ]",
	.about =
"Drains the flow tables of every metered namespace and exports the flows\n"
"(IPFIX, JSON log, metrics) until SIGTERM or SIGINT; SIGHUP reloads CONFIG\n"
"and reopens the log files.  Without -c: ./config.yaml when it exists (as\n"
"linux-flow-exporter), else the embedded default config (flowctl ipfix\n"
"template shows its templates; see docs/config.md).\n"
"One agent per pin root (a second one is refused).  The flows drained and\n"
"not yet exported are kept in a crash journal pinned under the pin root, so\n"
"that an agent killed (SIGKILL, OOM) loses nothing: the next one exports\n"
"them; --no-journal turns it off (docs/flowcache.md).\n",
	.groups = { agent_opts },
};

int cmd_agent(int argc, char **argv)
{
	struct agent_opts o = { 0 };
	struct opt_parser op;
	bool json = true;
	enum log_level lvl;
	int c;

	opt_parser_init(&op, &agent_spec);
	optind = 1;
	while ((c = opt_next(&op, argc, argv)) != -1) {
		switch (c) {
		case 'c':
			o.config = optarg;
			break;
		case OPT_LOG_LEVEL:
			if (log_level_parse(optarg, &lvl)) {
				pr_err("--log-level %s: expected error, warn, info or debug",
				       optarg);
				return EXIT_USAGE;
			}
			log_set_level(lvl);
			break;
		case OPT_LOG_FORMAT:
			c = opt_word("--log-format", optarg, LOG_FORMATS);
			if (c < 0)
				return EXIT_USAGE;
			json = c == 0;
			break;
		case OPT_METRICS_ADDRESS:
			o.metrics_address = optarg;
			break;
		case OPT_NO_ATTACH:
			o.no_attach = true;
			break;
		case OPT_NO_JOURNAL:
			o.no_journal = true;
			break;
		case 'h':
			opt_usage(stdout, &agent_spec);
			return 0;
		default:
			opt_usage(stderr, &agent_spec);
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
	return exit_code(agent_run(&o));
}
