/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Command families of the CLI.  Each returns the process exit code:
 * 0 success, 1 runtime failure, 2 bad usage or bad config.  The library
 * returns errors (-errno, -FLOWCTL_EREQUEST); exit_code() alone turns
 * them into exit codes.
 */
#ifndef FLOWCTL_COMMANDS_H
#define FLOWCTL_COMMANDS_H

#include "ebpf_build.h"
#include "flow_abi.h"
#include "options.h"

#define EXIT_USAGE 2

/* The exit code of a library call's result ERR: 0 for 0, EXIT_USAGE for
 * -FLOWCTL_EREQUEST (a request the user must change), else 1. */
int exit_code(int err);

/* -l in help texts (option tables are constant strings) */
#define STRINGIFY_(x)	#x
#define STRINGIFY(x)	STRINGIFY_(x)
#define MAX_FLOWS_RANGE	"1.." STRINGIFY(EBPF_MAX_FLOWS_LIMIT)
#define MAX_FLOWS_DEFAULT STRINGIFY(FLOW_DEFAULT_MAX_FLOWS)

int cmd_meter(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_flush(int argc, char **argv);
int cmd_ipfix(int argc, char **argv);
int cmd_agent(int argc, char **argv);
int cmd_dependency_check(int argc, char **argv);
int cmd_ebpf(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_completion(int argc, char **argv);

/* The option table of each command (options.h). */
extern const struct subcmd meter_subcmds[];
extern const struct subcmd ipfix_subcmds[];
extern const struct subcmd ebpf_subcmds[];
extern const struct subcmd completion_subcmds[];
extern const struct cmd_spec dump_spec;
extern const struct cmd_spec flush_spec;
extern const struct cmd_spec agent_spec;
extern const struct cmd_spec dependency_check_spec;
extern const struct cmd_spec version_spec;

/* Subcommand dispatch shared by the families. */
int subcmd_dispatch(const char *family, const struct subcmd *cmds, int argc,
		    char **argv);

#endif
