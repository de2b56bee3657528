// SPDX-License-Identifier: Apache-2.0
#include <stdio.h>
#include <string.h>

#include "build_info.h"
#include "commands.h"
#include "flow_abi.h"

int cmd_version(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "-o") == 0 && argc > 2 &&
	    strcmp(argv[2], "json") == 0) {
		printf("{\"version\":\"%s\",\"gitCommit\":\"%s\","
		       "\"buildDate\":\"%s\",\"abiVersion\":%d}\n",
		       FLOWCTL_VERSION, FLOWCTL_GIT_COMMIT, FLOWCTL_BUILD_DATE,
		       FLOW_ABI_VERSION);
		return 0;
	}
	printf("flowctl %s\ngit commit: %s\nbuild date: %s\nmap ABI: %d\n",
	       FLOWCTL_VERSION, FLOWCTL_GIT_COMMIT, FLOWCTL_BUILD_DATE,
	       FLOW_ABI_VERSION);
	return 0;
}
