// SPDX-License-Identifier: Apache-2.0
/*
 * flowctl - eBPF flow meter and IPFIX exporter for Linux routers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "log.h"

/*
 * Families another part of the tree may not provide yet are weak: the table
 * says so instead of failing to link.
 */

static const struct cmd {
	const char *name;
	int (*func)(int argc, char **argv);
	const char *help;
} cmds[] = {
	{ "meter", cmd_meter, "attach, detach and show the in-kernel meter" },
	{ "dump", cmd_dump, "print the flows in the kernel maps" },
	{ "flush", cmd_flush, "remove flows from the kernel maps" },
	{ "ipfix", cmd_ipfix, "IPFIX: send a flow file, export, show templates" },
	{ "agent", cmd_agent, "run the exporter daemon" },
	{ "dependency-check", cmd_dependency_check,
	  "check clang, kernel, iproute2, bpffs, BTF, headers" },
	{ "ebpf", cmd_ebpf, "show the BPF source that is compiled" },
	{ "version", cmd_version, "print version, git commit, build date" },
	{ "completion", cmd_completion, "print a shell completion script" },
	{ 0 }
};

static void usage(FILE *f)
{
	const struct cmd *c;

	fprintf(f, "Usage: flowctl COMMAND [ARGS...]\n\nCommands:\n");
	for (c = cmds; c->name; c++)
		if (c->func)
			fprintf(f, "  %-18s %s\n", c->name, c->help);
	fprintf(f, "\nRun 'flowctl COMMAND --help' for a command's options.\n");
}

const char *flowctl_command_names(int i);
const char *flowctl_command_names(int i)
{
	int n = 0;
	const struct cmd *c;

	for (c = cmds; c->name; c++) {
		if (!c->func)
			continue;
		if (n++ == i)
			return c->name;
	}
	return NULL;
}

int subcmd_dispatch(const char *family, const struct subcmd *cmds_,
		    int argc, char **argv)
{
	const struct subcmd *c;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		FILE *f = argc < 2 ? stderr : stdout;

		fprintf(f, "Usage: flowctl %s SUBCOMMAND [ARGS...]\n\n", family);
		for (c = cmds_; c->name; c++)
			fprintf(f, "  %-10s %s\n", c->name, c->help);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	for (c = cmds_; c->name; c++)
		if (!strcmp(c->name, argv[1]))
			return c->func(argc - 1, argv + 1);
	pr_err("unknown command 'flowctl %s %s' (try 'flowctl %s --help')",
	       family, argv[1], family);
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	const struct cmd *c;

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
	for (c = cmds; c->name; c++) {
		if (strcmp(c->name, argv[1]))
			continue;
		if (!c->func) {
			pr_err("'%s' is not part of this build", c->name);
			return 1;
		}
		return c->func(argc - 1, argv + 1);
	}
	pr_err("unknown command '%s' (try 'flowctl --help')", argv[1]);
	return EXIT_USAGE;
}
