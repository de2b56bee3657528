// SPDX-License-Identifier: Apache-2.0
/*
 * YAML documents with positions: libyaml's document loader, the limits
 * checked before libcyaml reads a file (anchors, aliases, nesting, one
 * document), path lookups for messages, and positioned errors and
 * warnings "FILE:LINE:COL: what was expected".
 */
#include "yaml_doc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "strnum.h"

int yaml_read_file(const char *path, char **text, size_t *len)
{
	size_t n = 0, cap = 0;
	char *buf = NULL;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t r;

		if (n + 4096 > cap) {
			char *t;

			cap = cap ? cap * 2 : 16384;
			if (cap > (64U << 20)) {
				ret = -EFBIG;
				goto out;
			}
			t = realloc(buf, cap);
			if (!t) {
				ret = -ENOMEM;
				goto out;
			}
			buf = t;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			goto out;
		}
		if (r == 0)
			break;
		n += r;
	}
	buf[n] = 0;
	*text = buf;
	*len = n;
	buf = NULL;
out:
	close(fd);
	free(buf);
	return ret;
}

/* How many children node N has (sequence items; mapping keys and
 * values), and the I-th of them. */
static size_t node_children(const yaml_node_t *n)
{
	if (n->type == YAML_SEQUENCE_NODE)
		return n->data.sequence.items.top - n->data.sequence.items.start;
	if (n->type == YAML_MAPPING_NODE)
		return 2 * (n->data.mapping.pairs.top -
			    n->data.mapping.pairs.start);
	return 0;
}

static int node_child(const yaml_node_t *n, size_t i)
{
	const yaml_node_pair_t *pair;

	if (n->type == YAML_SEQUENCE_NODE)
		return n->data.sequence.items.start[i];
	pair = &n->data.mapping.pairs.start[i / 2];
	return i % 2 ? pair->value : pair->key;
}

/*
 * An alias makes the reader walk its anchored node once more: nested
 * aliases ("a billion laughs") turn a few KiB into billions of nodes for
 * the config and flow file readers, a recursive one into an endless walk.
 * Count, without walking them, the nodes the aliases stand for (each
 * node's expanded size, computed once, children first) and refuse a
 * document where they add more than YAML_DOC_MAX_ALIAS_NODES or one that
 * contains itself.
 */
static int check_aliases(struct yaml_doc *d, struct yaml_error *err)
{
	struct frame {
		int index;
		size_t next;
	} *stack = NULL;
	size_t n_nodes = d->doc.nodes.top - d->doc.nodes.start;
	uint64_t limit = n_nodes + YAML_DOC_MAX_ALIAS_NODES;
	uint64_t *size = NULL;
	uint8_t *state = NULL;	/* 0 not seen, 1 being counted, 2 counted */
	size_t depth = 0;
	int ret = 0;

	if (!n_nodes)
		return 0;
	size = calloc(n_nodes + 1, sizeof(*size));
	state = calloc(n_nodes + 1, 1);
	stack = calloc(n_nodes, sizeof(*stack));
	if (!size || !state || !stack) {
		ret = -ENOMEM;
		goto out;
	}
	stack[depth++] = (struct frame){ .index = 1 };
	state[1] = 1;
	while (depth) {
		struct frame *f = &stack[depth - 1];
		const yaml_node_t *n = yaml_doc_node(d, f->index);
		size_t i, count = node_children(n);
		uint64_t total = 1;

		if (f->next < count) {
			int c = node_child(n, f->next++);

			if (state[c] == 1) {
				ret = yaml_doc_error(d, err,
						     yaml_doc_node(d, c),
						     "an alias refers to this node from inside it (a recursive alias): write the data out");
				goto out;
			}
			if (state[c] == 0) {
				state[c] = 1;
				stack[depth++] = (struct frame){ .index = c };
			}
			continue;
		}
		for (i = 0; i < count && total <= limit; i++)
			total += size[node_child(n, i)];
		if (total > limit) {
			ret = yaml_doc_error(d, err, n,
					     "aliases expand this node to more than %llu nodes (the file has %zu; at most %d more through aliases): write the data out or use fewer aliases",
					     (unsigned long long)limit,
					     n_nodes, YAML_DOC_MAX_ALIAS_NODES);
			goto out;
		}
		size[f->index] = total;
		state[f->index] = 2;
		depth--;
	}
out:
	free(stack);
	free(state);
	free(size);
	return ret;
}

static int event_error(const char *file, const yaml_event_t *ev,
		       struct yaml_error *err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int event_error(const char *file, const yaml_event_t *ev,
		       struct yaml_error *err, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	err->line = ev->start_mark.line + 1;
	err->col = ev->start_mark.column + 1;
	snprintf(err->text, sizeof(err->text), "%s:%d:%d: %s", file,
		 err->line, err->col, msg);
	return -EINVAL;
}

/*
 * Costs of libyaml itself, checked on the event stream before the loader
 * runs.  The loader looks every anchor and alias up in a list of the
 * anchors so far: 40000 anchors and their aliases take seconds, a million
 * hours.  The scanner looks at every open flow collection for each token:
 * 100000 nested '[' take a minute.  Refuse more than YAML_DOC_MAX_ANCHORS
 * anchors, YAML_DOC_MAX_ALIASES aliases, or nesting deeper than
 * YAML_DOC_MAX_DEPTH, at the first one too many (the scanner reads at
 * most 1024 characters ahead, so that one comes early).  A syntax error
 * ends the count: the loader reports it.
 */
static int check_events(const char *file, const char *text, size_t len,
			struct yaml_error *err)
{
	size_t anchors = 0, aliases = 0, depth = 0;
	yaml_parser_t parser;
	yaml_event_t ev;
	int ret = 0;

	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	while (!ret && yaml_parser_parse(&parser, &ev)) {
		const yaml_char_t *anchor = NULL;
		bool end = ev.type == YAML_STREAM_END_EVENT;

		if (ev.type == YAML_SCALAR_EVENT)
			anchor = ev.data.scalar.anchor;
		else if (ev.type == YAML_SEQUENCE_START_EVENT)
			anchor = ev.data.sequence_start.anchor;
		else if (ev.type == YAML_MAPPING_START_EVENT)
			anchor = ev.data.mapping_start.anchor;
		if (ev.type == YAML_SEQUENCE_START_EVENT ||
		    ev.type == YAML_MAPPING_START_EVENT)
			depth++;
		else if (ev.type == YAML_SEQUENCE_END_EVENT ||
			 ev.type == YAML_MAPPING_END_EVENT)
			depth--;
		if (anchor && ++anchors > YAML_DOC_MAX_ANCHORS)
			ret = event_error(file, &ev, err,
					  "more than %d YAML anchors in one file: write the data out",
					  YAML_DOC_MAX_ANCHORS);
		else if (ev.type == YAML_ALIAS_EVENT &&
			 ++aliases > YAML_DOC_MAX_ALIASES)
			ret = event_error(file, &ev, err,
					  "more than %d YAML aliases in one file: write the data out",
					  YAML_DOC_MAX_ALIASES);
		else if (depth > YAML_DOC_MAX_DEPTH)
			ret = event_error(file, &ev, err,
					  "lists and mappings nested more than %d levels deep",
					  YAML_DOC_MAX_DEPTH);
		yaml_event_delete(&ev);
		if (end)
			break;
	}
	yaml_parser_delete(&parser);
	return ret;
}

int yaml_doc_load(struct yaml_doc *d, const char *file, const char *text,
		  size_t len, struct yaml_error *err)
{
	yaml_parser_t parser;
	yaml_document_t extra;
	int ret = 0;

	memset(d, 0, sizeof(*d));
	d->file = file;
	ret = check_events(file, text, len, err);
	if (ret)
		return ret;
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &d->doc)) {
		err->line = parser.problem_mark.line + 1;
		err->col = parser.problem_mark.column + 1;
		snprintf(err->text, sizeof(err->text),
			 "%s:%d:%d: invalid YAML: %s%s%s", file, err->line,
			 err->col, parser.problem ? parser.problem : "error",
			 parser.context ? " " : "",
			 parser.context ? parser.context : "");
		ret = -EINVAL;
		goto out;
	}
	d->loaded = true;
	/* a second document in the same file is a mistake, not a feature */
	if (!yaml_parser_load(&parser, &extra)) {
		err->line = parser.problem_mark.line + 1;
		err->col = parser.problem_mark.column + 1;
		snprintf(err->text, sizeof(err->text),
			 "%s:%d:%d: invalid YAML: %s", file, err->line,
			 err->col, parser.problem ? parser.problem : "error");
		ret = -EINVAL;
		goto out;
	}
	if (yaml_document_get_root_node(&extra)) {
		err->line = extra.start_mark.line + 1;
		err->col = extra.start_mark.column + 1;
		snprintf(err->text, sizeof(err->text),
			 "%s:%d:%d: expected one YAML document, found a second",
			 file, err->line, err->col);
		ret = -EINVAL;
	}
	yaml_document_delete(&extra);
	if (!ret)
		ret = check_aliases(d, err);
out:
	yaml_parser_delete(&parser);
	if (ret)
		yaml_doc_free(d);
	return ret;
}

void yaml_error_fail(struct yaml_error *e, const struct yaml_error *caller_err,
		     const char *name, int ret)
{
	if (ret == -ENOMEM)
		snprintf(e->text, sizeof(e->text), "%s: out of memory", name);
	if (!caller_err)
		pr_err("%s", e->text);
}

void yaml_doc_free(struct yaml_doc *d)
{
	if (d->loaded)
		yaml_document_delete(&d->doc);
	d->loaded = false;
}

yaml_node_t *yaml_doc_root(struct yaml_doc *d)
{
	yaml_node_t *root = yaml_document_get_root_node(&d->doc);

	if (root && yaml_is_null(root))
		return NULL;
	return root;
}

yaml_node_t *yaml_doc_node(struct yaml_doc *d, int index)
{
	return yaml_document_get_node(&d->doc, index);
}

int yaml_doc_error(struct yaml_doc *d, struct yaml_error *err,
		   const yaml_node_t *node, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (node) {
		err->line = node->start_mark.line + 1;
		err->col = node->start_mark.column + 1;
		snprintf(err->text, sizeof(err->text), "%s:%d:%d: %s",
			 d->file, err->line, err->col, msg);
	} else {
		err->line = 0;
		err->col = 0;
		snprintf(err->text, sizeof(err->text), "%s: %s", d->file, msg);
	}
	return -EINVAL;
}

bool yaml_is_null(const yaml_node_t *n)
{
	const char *s;

	if (!yaml_is_scalar(n) ||
	    (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE &&
	     n->data.scalar.style != YAML_ANY_SCALAR_STYLE))
		return false;
	s = yaml_str(n);
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") ||
	       !strcmp(s, "Null") || !strcmp(s, "NULL");
}

const char *yaml_describe(const yaml_node_t *n, char *buf, size_t size)
{
	if (!n)
		return "nothing";
	if (n->type == YAML_MAPPING_NODE)
		return "a mapping";
	if (n->type == YAML_SEQUENCE_NODE)
		return "a list";
	if (yaml_is_null(n))
		return "no value";
	snprintf(buf, size, "'%.60s'", yaml_str(n));
	return buf;
}

static void format_at(char *buf, size_t size, const char *file,
		      const yaml_node_t *node, const char *msg)
{
	if (node)
		snprintf(buf, size, "%s:%zu:%zu: %s", file,
			 node->start_mark.line + 1,
			 node->start_mark.column + 1, msg);
	else
		snprintf(buf, size, "%s: %s", file, msg);
}

void yaml_doc_warn(struct yaml_doc *d, struct yaml_error *err,
		   const yaml_node_t *node, const char *fmt, ...)
{
	char msg[512], text[640];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	d->n_warnings++;
	if (err) {
		if (!err->n_warnings++)
			format_at(err->warning, sizeof(err->warning), d->file,
				  node, msg);
		return;
	}
	if (d->n_warnings > YAML_DOC_MAX_PRINTED_WARNINGS)
		return;
	format_at(text, sizeof(text), d->file, node, msg);
	pr_warn("%s", text);
}

void yaml_doc_warn_done(struct yaml_doc *d, const struct yaml_error *err)
{
	if (!err && d->n_warnings > YAML_DOC_MAX_PRINTED_WARNINGS)
		pr_warn("%s: %u more warnings like these", d->file,
			d->n_warnings - YAML_DOC_MAX_PRINTED_WARNINGS);
}

/* The child of N named by COMPONENT (LEN octets): a list index, or a
 * mapping key (exact, else without regard to case). */
static yaml_node_t *path_child(struct yaml_doc *d, const yaml_node_t *n,
			       const char *component, size_t len)
{
	yaml_node_pair_t *pair;
	yaml_node_t *key, *val, *nocase = NULL;

	if (yaml_is_seq(n)) {
		char num[24];
		uint64_t i;

		if (!len || len >= sizeof(num))
			return NULL;
		memcpy(num, component, len);
		num[len] = 0;
		if (parse_u64(num, &i) || i >= yaml_seq_len(n))
			return NULL;
		return yaml_doc_node(d, n->data.sequence.items.start[i]);
	}
	if (!yaml_is_map(n))
		return NULL;
	yaml_map_for_each(d, n, pair, key, val) {
		if (!yaml_is_scalar(key) || strlen(yaml_str(key)) != len)
			continue;
		if (!memcmp(yaml_str(key), component, len))
			return val;
		if (!nocase && !strncasecmp(yaml_str(key), component, len))
			nocase = val;
	}
	return nocase;
}

yaml_node_t *yaml_doc_at(struct yaml_doc *d, const char *fmt, ...)
{
	yaml_node_t *n = yaml_document_get_root_node(&d->doc);
	char path[512];
	const char *c;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	for (c = path; n && *c;) {
		size_t len = strcspn(c, "/");

		n = path_child(d, n, c, len);
		c += len;
		if (*c == '/')
			c++;
	}
	return n;
}
