/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Command families of the CLI.  Each returns the process exit code:
 * 0 success, 1 runtime failure, 2 bad usage or bad config.
 */
#ifndef FLOWCTL_COMMANDS_H
#define FLOWCTL_COMMANDS_H

#define EXIT_USAGE 2

int cmd_meter(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_flush(int argc, char **argv);
int cmd_ipfix(int argc, char **argv);
int cmd_agent(int argc, char **argv);
int cmd_dependency_check(int argc, char **argv);
int cmd_ebpf(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_completion(int argc, char **argv);

/* Subcommand dispatch shared by the families. */
struct subcmd {
	const char *name;
	int (*func)(int argc, char **argv);
	const char *help;
};

int subcmd_dispatch(const char *family, const struct subcmd *cmds, int argc,
		    char **argv);

#endif
