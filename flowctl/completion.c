// SPDX-License-Identifier: Apache-2.0
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "log.h"

static const char bash_completion[] =
"# bash completion for flowctl  (flowctl completion bash > /etc/bash_completion.d/flowctl)\n"
"_flowctl()\n"
"{\n"
"	local cur prev words cword\n"
"	_init_completion || return\n"
"	local cmds='meter dump flush ipfix agent dependency-check ebpf version completion'\n"
"	if [ \"$cword\" -eq 1 ]; then\n"
"		COMPREPLY=($(compgen -W \"$cmds\" -- \"$cur\"))\n"
"		return\n"
"	fi\n"
"	case \"$prev\" in\n"
"	-c|--config|-f|--file) _filedir; return ;;\n"
"	--netns) COMPREPLY=($(compgen -W \"$(ip netns list 2>/dev/null | cut -d' ' -f1)\" -- \"$cur\")); return ;;\n"
"	-o|--output) COMPREPLY=($(compgen -W 'normal wide json' -- \"$cur\")); return ;;\n"
"	-i|--interface)\n"
"		local ns list=''\n"
"		for ns in $(ip netns list 2>/dev/null | cut -d' ' -f1); do list=\"$list $ns:*\"; done\n"
"		COMPREPLY=($(compgen -W \"$list\" -- \"$cur\")); return ;;\n"
"	esac\n"
"	case \"${words[1]}\" in\n"
"	meter)\n"
"		if [ \"$cword\" -eq 2 ]; then COMPREPLY=($(compgen -W 'attach detach status' -- \"$cur\")); return; fi\n"
"		COMPREPLY=($(compgen -W '-i --interface --netns -n --pref --chain --handle -l --interface-max-flow-limit -f --force --dry --ifstats --precise-time --hooks -o --output' -- \"$cur\")) ;;\n"
"	ipfix)\n"
"		if [ \"$cword\" -eq 2 ]; then COMPREPLY=($(compgen -W 'file dump template' -- \"$cur\")); return; fi\n"
"		COMPREPLY=($(compgen -W '-c --config -f --file' -- \"$cur\")) ;;\n"
"	ebpf) COMPREPLY=($(compgen -W 'code-dump' -- \"$cur\")) ;;\n"
"	completion) COMPREPLY=($(compgen -W 'bash' -- \"$cur\")) ;;\n"
"	dump) COMPREPLY=($(compgen -W '-o --output --netns' -- \"$cur\")) ;;\n"
"	flush) COMPREPLY=($(compgen -W '-A --all -i -p -s -S -d -D --netns' -- \"$cur\")) ;;\n"
"	agent) COMPREPLY=($(compgen -W '-c --config --log-level' -- \"$cur\")) ;;\n"
"	esac\n"
"}\n"
"complete -F _flowctl flowctl\n";

int cmd_completion(int argc, char **argv)
{
	if (argc != 2 || strcmp(argv[1], "bash")) {
		pr_err("usage: flowctl completion bash");
		return EXIT_USAGE;
	}
	fputs(bash_completion, stdout);
	return 0;
}
