/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A YAML document loaded with libyaml (libcyaml's own parser) as a node
 * tree that keeps the line and column of every node, so that the config
 * and flow file readers can say exactly where a file is wrong.
 */
#ifndef FLOWCTL_YAML_DOC_H
#define FLOWCTL_YAML_DOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

/* One error, as "FILE:LINE:COL: MESSAGE" in text. */
struct yaml_error {
	char text[640];
	int line;		/* 1-based, 0 when not about a position */
	int col;
};

struct yaml_doc {
	yaml_document_t doc;
	const char *file;	/* name used in messages */
	bool loaded;
};

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

/* A plain "", "~" or "null": a key given without a value. */
bool yaml_is_null(const yaml_node_t *n);
static inline const char *yaml_str(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}
/* What the node is, for messages: "a mapping", "a list", "'abc'". */
const char *yaml_describe(const yaml_node_t *n, char *buf, size_t size);

/*
 * Integer scalars: decimal or 0x hexadecimal, within [MIN, MAX].  WHAT
 * names the key for the message ("maxIpfixMessageLen").
 */
int yaml_get_u64(struct yaml_doc *d, struct yaml_error *err,
		 const yaml_node_t *n, const char *what, uint64_t min,
		 uint64_t max, uint64_t *out);
int yaml_get_u32(struct yaml_doc *d, struct yaml_error *err,
		 const yaml_node_t *n, const char *what, uint32_t min,
		 uint32_t max, uint32_t *out);
/* A string scalar (not empty); *OUT is a malloc'ed copy. */
int yaml_get_str(struct yaml_doc *d, struct yaml_error *err,
		 const yaml_node_t *n, const char *what, char **out);

/* Parse "0x.." or decimal into *OUT; -EINVAL unless the whole string is a
 * number, -ERANGE when it does not fit 64 bits. */
int parse_u64(const char *s, uint64_t *out);

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

/*
 * Check a mapping's keys: every key a scalar, no key twice, each one of
 * KEYS (NULL-terminated).  WHAT names the mapping ("collector").
 */
int yaml_check_keys(struct yaml_doc *d, struct yaml_error *err,
		    const yaml_node_t *map, const char *what,
		    const char *const *keys);

#endif
