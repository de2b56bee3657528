// SPDX-License-Identifier: Apache-2.0
/*
 * flowctl - eBPF flow meter and IPFIX exporter for Linux routers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "error.h"
#include "log.h"

const struct cmd_family flowctl_families[] = {
	{ "meter", cmd_meter, "attach, detach and show the in-kernel meter",
	  NULL, meter_subcmds },
	{ "dump", cmd_dump, NULL, &dump_spec },
	{ "flush", cmd_flush, NULL, &flush_spec },
	{ "ipfix", cmd_ipfix, "IPFIX: send a flow file, export, show templates",
	  NULL, ipfix_subcmds },
	{ "agent", cmd_agent, NULL, &agent_spec },
	{ "dependency-check", cmd_dependency_check, NULL,
	  &dependency_check_spec },
	{ "ebpf", cmd_ebpf, "show the BPF source that is compiled", NULL,
	  ebpf_subcmds },
	{ "version", cmd_version, NULL, &version_spec },
	{ "completion", cmd_completion, "print a shell completion script",
	  NULL, completion_subcmds },
	{ 0 }
};

int exit_code(int err)
{
	if (!err)
		return 0;
	return err == -FLOWCTL_EREQUEST ? EXIT_USAGE : 1;
}

static void usage(FILE *f)
{
	const struct cmd_family *c;

	fprintf(f, "Usage: flowctl COMMAND [ARGS...]\n\nCommands:\n");
	for (c = flowctl_families; c->name; c++)
		fprintf(f, "  %-18s %s\n", c->name,
			c->help ? c->help : c->leaf->help);
	fprintf(f, "\nRun 'flowctl COMMAND --help' for a command's options.\n");
}

int subcmd_dispatch(const char *family, const struct subcmd *cmds_,
		    int argc, char **argv)
{
	const struct subcmd *c;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		FILE *f = argc < 2 ? stderr : stdout;

		fprintf(f, "Usage: flowctl %s SUBCOMMAND [ARGS...]\n\n", family);
		for (c = cmds_; c->spec; c++)
			fprintf(f, "  %-10s %s\n", cmd_spec_name(c->spec),
				c->spec->help);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	for (c = cmds_; c->spec; c++)
		if (!strcmp(cmd_spec_name(c->spec), argv[1]))
			return c->func(argc - 1, argv + 1);
	pr_err("unknown command 'flowctl %s %s' (try 'flowctl %s --help')",
	       family, argv[1], family);
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	const struct cmd_family *c;

	log_setup_libbpf();
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version"))
		return cmd_version(1, argv + 1);
	/* exact names only: no prefix matching */
	for (c = flowctl_families; c->name; c++)
		if (!strcmp(c->name, argv[1]))
			return c->func(argc - 1, argv + 1);
	pr_err("unknown command '%s' (try 'flowctl --help')", argv[1]);
	return EXIT_USAGE;
}
