/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A YAML document loaded with libyaml (libcyaml's own parser) as a node
 * tree that keeps the line and column of every node: the position index
 * of the config and flow file readers.  libcyaml fills their structs
 * (yaml_schema.h); this tree is where the limits on aliases, anchors and
 * nesting are enforced before libcyaml sees the text, and where a check
 * made after the load finds the place it is about (yaml_doc_at).
 */
#ifndef FLOWCTL_YAML_DOC_H
#define FLOWCTL_YAML_DOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

/* One error, as "FILE:LINE:COL: MESSAGE" in text, and the warnings of a
 * file that loaded (unknown keys, ignored flow fields): their number and
 * the first of them. */
struct yaml_error {
	char text[640];
	int line;		/* 1-based, 0 when not about a position */
	int col;
	unsigned int n_warnings;
	char warning[640];
};

struct yaml_doc {
	yaml_document_t doc;
	const char *file;	/* name used in messages */
	bool loaded;
	unsigned int n_warnings;
};

/* Warnings printed per file; the rest are counted (yaml_doc_warn_done). */
#define YAML_DOC_MAX_PRINTED_WARNINGS	10

/* Read a whole file (at most 64 MiB) into a malloc'ed, NUL-terminated
 * buffer. */
int yaml_read_file(const char *path, char **text, size_t *len);

/* Nodes the aliases of one document may add to it (see yaml_doc_load). */
#define YAML_DOC_MAX_ALIAS_NODES	1000000
/* Anchors and aliases in one document: libyaml searches its anchors
 * linearly for each, so their product must stay small. */
#define YAML_DOC_MAX_ANCHORS		1000
#define YAML_DOC_MAX_ALIASES		100000
/* Nesting of lists and mappings: libyaml's scanner costs the depth of open
 * flow collections per token.  Configs and flow files need 6 levels. */
#define YAML_DOC_MAX_DEPTH		64

/* Parse TEXT (LEN octets) named FILE.  -EINVAL with ERR filled on a syntax
 * error, when the text holds more than one document, when an alias refers
 * to a node from inside that node, when aliases make the document more
 * than YAML_DOC_MAX_ALIAS_NODES nodes larger than it is written (each
 * alias counts as the whole node it stands for), when it has more than
 * YAML_DOC_MAX_ANCHORS anchors or YAML_DOC_MAX_ALIASES aliases, or nests
 * lists and mappings deeper than YAML_DOC_MAX_DEPTH. */
int yaml_doc_load(struct yaml_doc *d, const char *file, const char *text,
		  size_t len, struct yaml_error *err);
void yaml_doc_free(struct yaml_doc *d);

/* The root node, or NULL for an empty document. */
yaml_node_t *yaml_doc_root(struct yaml_doc *d);
yaml_node_t *yaml_doc_node(struct yaml_doc *d, int index);

/*
 * The end of a failed load of NAME (error RET) whose message is in E:
 * "NAME: out of memory" for -ENOMEM; printed when the caller takes no
 * report (CALLER_ERR NULL, E then its own).
 */
void yaml_error_fail(struct yaml_error *e, const struct yaml_error *caller_err,
		     const char *name, int ret);

/* Fill ERR with "FILE:LINE:COL: MESSAGE" about NODE (NULL: no position);
 * returns -EINVAL. */
int yaml_doc_error(struct yaml_doc *d, struct yaml_error *err,
		   const yaml_node_t *node, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static inline bool yaml_is_scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE;
}

static inline bool yaml_is_map(const yaml_node_t *n)
{
	return n && n->type == YAML_MAPPING_NODE;
}

static inline bool yaml_is_seq(const yaml_node_t *n)
{
	return n && n->type == YAML_SEQUENCE_NODE;
}

/*
 * A warning "FILE:LINE:COL: MESSAGE" about NODE: recorded in ERR when the
 * caller passed one (no output), else printed with pr_warn (the first
 * YAML_DOC_MAX_PRINTED_WARNINGS of a file; yaml_doc_warn_done says how
 * many more there were).
 */
void yaml_doc_warn(struct yaml_doc *d, struct yaml_error *err,
		   const yaml_node_t *node, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void yaml_doc_warn_done(struct yaml_doc *d, const struct yaml_error *err);

/*
 * The node at PATH, a printf format: mapping keys and list indices
 * separated by '/' ("outputs/2/collector/remoteAddress"; "" is the root).
 * Keys match exactly, else without regard to case (information element
 * names).  NULL when there is no such node.
 */
yaml_node_t *yaml_doc_at(struct yaml_doc *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A plain "", "~" or "null": a key given without a value. */
bool yaml_is_null(const yaml_node_t *n);
static inline const char *yaml_str(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}
/* What the node is, for messages: "a mapping", "a list", "'abc'". */
const char *yaml_describe(const yaml_node_t *n, char *buf, size_t size);

#define yaml_map_for_each(d, map, pair, key_node, val_node)		\
	for ((pair) = (map)->data.mapping.pairs.start;			\
	     (pair) < (map)->data.mapping.pairs.top &&			\
	     ((key_node) = yaml_doc_node((d), (pair)->key)) &&		\
	     ((val_node) = yaml_doc_node((d), (pair)->value));		\
	     (pair)++)

#define yaml_seq_for_each(d, seq, item, node)				\
	for ((item) = (seq)->data.sequence.items.start;			\
	     (item) < (seq)->data.sequence.items.top &&			\
	     ((node) = yaml_doc_node((d), *(item)));			\
	     (item)++)

static inline size_t yaml_seq_len(const yaml_node_t *seq)
{
	return seq->data.sequence.items.top - seq->data.sequence.items.start;
}

#endif
