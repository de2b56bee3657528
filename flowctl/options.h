/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One option table per command.  The getopt_long() arrays, the --help
 * text and both completion scripts (bash, zsh) are built from it, so they
 * cannot drift apart.
 *
 * A command (struct cmd_spec) names its options in up to OPT_GROUPS_MAX
 * groups, so that options shared by several commands (meter attach and
 * detach) are written once.  -h/--help is added to every command.
 */
#ifndef FLOWCTL_OPTIONS_H
#define FLOWCTL_OPTIONS_H

#include <getopt.h>
#include <stdio.h>

/* What completes the value of an option. */
enum opt_value {
	OV_NONE,	/* free text (a number, an address) */
	OV_WORDS,	/* one of .words */
	OV_FILE,	/* a file name */
	OV_DIR,		/* a directory */
	OV_NETNS,	/* a name of `ip netns list` */
	OV_PIN,		/* a pin directory: DEFAULT or a netns name */
	OV_IFSPEC,	/* NETNS:DEV, NETNS:* or DEV */
};

struct opt {
	const char *name;	/* long name without "--", or NULL */
	int short_name;		/* 'i', or 0 */
	int id;			/* what getopt_long returns: short_name, or
				 * a command's own OPT_* value >= 256 */
	const char *arg;	/* the value's name ("N", "SPEC"); NULL: the
				 * option takes no value */
	const char *help;	/* lines separated by '\n' */
	enum opt_value value;
	const char *words;	/* OV_WORDS: blank-separated */
};

/* -o of the commands with a text table and JSON */
#define OUTPUT_FORMATS	"normal json"

#define OPT_GROUPS_MAX	4
#define OPT_MAX		64	/* options of one command, -h included */

struct cmd_spec {
	const char *path;	/* "meter attach" */
	const char *help;	/* one line, for the command lists */
	/* grammar form after "flowctl PATH", lines separated by '\n' (each
	 * further line is a second form of the command) */
	const char *synopsis;
	const char *about;	/* paragraph after the synopsis, or NULL */
	const char *notes;	/* text after the options, or NULL */
	const struct opt *groups[OPT_GROUPS_MAX];	/* each ends with {0} */
};

/* getopt_long() arrays built from a spec; -h/--help return 'h'. */
struct opt_parser {
	struct option longopts[OPT_MAX + 1];
	char shortopts[2 * OPT_MAX + 2];
};

void opt_parser_init(struct opt_parser *p, const struct cmd_spec *spec);
/* getopt_long() over ARGV with P's arrays (optind reset by the caller). */
int opt_next(const struct opt_parser *p, int argc, char **argv);

/*
 * The index of ARG among the blank-separated WORDS (an option's .words),
 * or -1 with "NAME 'ARG': expected W1, W2 or W3" printed.
 */
int opt_word(const char *name, const char *arg, const char *words);

/* The --help text: synopsis, about, options, notes. */
void opt_usage(FILE *f, const struct cmd_spec *spec);

/* Iterate over a spec's options: *G and *I start at 0; NULL at the end. */
const struct opt *opt_iter(const struct cmd_spec *spec, int *g, int *i);

/* A subcommand: its name is the last word of spec->path. */
struct subcmd {
	const struct cmd_spec *spec;
	int (*func)(int argc, char **argv);
};

/* A command family of `flowctl --help`. */
struct cmd_family {
	const char *name;
	int (*func)(int argc, char **argv);
	const char *help;		/* NULL: leaf->help */
	const struct cmd_spec *leaf;	/* a command without subcommands */
	const struct subcmd *subs;	/* or its subcommands, {0}-ended */
};

/* Every command of the CLI, in the order of `flowctl --help` (main.c). */
extern const struct cmd_family flowctl_families[];

/* The last word of SPEC's path: "attach" for "meter attach". */
const char *cmd_spec_name(const struct cmd_spec *spec);

void completion_bash(FILE *f);
void completion_zsh(FILE *f);
/* One line per option of every command (the test compares help and
 * completions with it): PATH<TAB>-s<TAB>--long<TAB>ARG */
void completion_list(FILE *f);

#endif
