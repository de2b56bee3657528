// SPDX-License-Identifier: Apache-2.0
/*
 * Option tables (options.h): getopt_long() arrays and --help text.
 */
#include "options.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Added to every command. */
static const struct opt help_opts[] = {
	{ "help", 'h', 'h', NULL, "this text" },
	{ 0 }
};

const struct opt *opt_iter(const struct cmd_spec *spec, int *g, int *i)
{
	while (*g < OPT_GROUPS_MAX + 1) {
		const struct opt *grp = *g < OPT_GROUPS_MAX ?
					spec->groups[*g] : help_opts;

		if (grp && (grp[*i].name || grp[*i].short_name))
			return &grp[(*i)++];
		(*g)++;
		*i = 0;
	}
	return NULL;
}

const char *cmd_spec_name(const struct cmd_spec *spec)
{
	const char *sp = strrchr(spec->path, ' ');

	return sp ? sp + 1 : spec->path;
}

void opt_parser_init(struct opt_parser *p, const struct cmd_spec *spec)
{
	const struct opt *o;
	size_t nl = 0, ns = 0;
	int g = 0, i = 0;

	memset(p, 0, sizeof(*p));
	while ((o = opt_iter(spec, &g, &i))) {
		/* a table larger than OPT_MAX is a programming error: the
		 * check in test-cli-options.sh lists every option */
		if (nl >= OPT_MAX)
			abort();
		if (o->name) {
			p->longopts[nl].name = o->name;
			p->longopts[nl].has_arg = o->arg ? required_argument :
							   no_argument;
			p->longopts[nl].val = o->id;
			nl++;
		}
		if (o->short_name) {
			p->shortopts[ns++] = (char)o->short_name;
			if (o->arg)
				p->shortopts[ns++] = ':';
		}
	}
	p->shortopts[ns] = '\0';
}

int opt_next(const struct opt_parser *p, int argc, char **argv)
{
	return getopt_long(argc, argv, p->shortopts, p->longopts, NULL);
}

int opt_word(const char *name, const char *arg, const char *words)
{
	const char *w = words, *end;
	size_t len = strlen(arg);
	int i = 0;

	for (;; i++) {
		while (*w == ' ')
			w++;
		if (!*w)
			break;
		end = strchr(w, ' ');
		if (!end)
			end = w + strlen(w);
		if ((size_t)(end - w) == len && !strncmp(w, arg, len))
			return i;
		w = end;
	}
	/* "expected a, b or c" */
	fprintf(stderr, "flowctl: error: %s '%s': expected ", name, arg);
	for (w = words, i = 0; *w; i++) {
		end = strchr(w, ' ');
		if (!end)
			end = w + strlen(w);
		fprintf(stderr, "%s%.*s", !i ? "" : *end ? ", " : " or ",
			(int)(end - w), w);
		w = *end ? end + 1 : end;
	}
	fprintf(stderr, "\n");
	return -1;
}

#define HELP_COL	27

/* TEXT with every line after the first indented by INDENT blanks. */
static void print_indented(FILE *f, const char *text, int indent)
{
	const char *nl;

	while ((nl = strchr(text, '\n'))) {
		fprintf(f, "%.*s\n%*s", (int)(nl - text), text, indent, "");
		text = nl + 1;
	}
	fprintf(f, "%s\n", text);
}

void opt_usage(FILE *f, const struct cmd_spec *spec)
{
	const char *syn = spec->synopsis ? spec->synopsis : "";
	const struct opt *o;
	int g = 0, i = 0, n;
	bool first;

	/* each synopsis line is a form of the command; a line that starts
	 * with a blank continues the one before it */
	for (first = true;; first = false) {
		const char *nl = strchr(syn, '\n');
		int len = nl ? (int)(nl - syn) : (int)strlen(syn);

		if (*syn == ' ') {
			while (*syn == ' ' && len) {
				syn++;
				len--;
			}
			fprintf(f, "%*s%.*s\n",
				(int)(strlen("Usage: flowctl ") +
				      strlen(spec->path) + 1), "", len, syn);
		} else {
			fprintf(f, "%sflowctl %s%s%.*s\n",
				first ? "Usage: " : "       ", spec->path,
				len ? " " : "", len, syn);
		}
		if (!nl)
			break;
		syn = nl + 1;
	}
	if (spec->about)
		fprintf(f, "%s", spec->about);
	fprintf(f, "Options:\n");
	while ((o = opt_iter(spec, &g, &i))) {
		if (o->short_name && o->name)
			n = fprintf(f, "  -%c, --%s", o->short_name, o->name);
		else if (o->short_name)
			n = fprintf(f, "  -%c", o->short_name);
		else
			n = fprintf(f, "      --%s", o->name);
		if (o->arg)
			n += fprintf(f, " %s", o->arg);
		if (n >= HELP_COL - 1)
			fprintf(f, "\n%*s", HELP_COL, "");
		else
			fprintf(f, "%*s", HELP_COL - n, "");
		print_indented(f, o->help ? o->help : "", HELP_COL);
	}
	if (spec->notes)
		fprintf(f, "%s", spec->notes);
}
