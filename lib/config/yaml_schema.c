// SPDX-License-Identifier: Apache-2.0
/*
 * libcyaml loads, its backtrace names the place: see yaml_schema.h.
 */
#include "yaml_schema.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Deeper than any of our schemas nest (a config needs 6 levels). */
#define MAX_FRAMES 32

enum frame_kind {
	FRAME_FIELD,		/* in mapping field 'KEY' */
	FRAME_ENTRY,		/* in sequence entry 'N' */
	FRAME_MAPPING,		/* in mapping */
};

struct frame {
	enum frame_kind kind;
	char key[128];
	int line, col;		/* 1-based, of the value being loaded */
};

/* What libcyaml logged about the error: its message, then its backtrace,
 * innermost frame first. */
struct capture {
	char msg[256];
	struct frame frames[MAX_FRAMES];
	int n_frames;
};

__attribute__((format(printf, 3, 0)))
static void capture_log(cyaml_log_t level, void *ctx, const char *fmt,
			va_list ap)
{
	struct capture *c = ctx;
	struct frame f = {};
	char line[512];
	size_t len;

	if (level < CYAML_LOG_ERROR)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	len = strlen(line);
	while (len && line[len - 1] == '\n')
		line[--len] = 0;
	if (sscanf(line, "  in mapping field '%127[^']' (line: %d, column: %d)",
		   f.key, &f.line, &f.col) == 3)
		f.kind = FRAME_FIELD;
	else if (sscanf(line, "  in sequence entry '%*[^']' (line: %d, column: %d)",
			&f.line, &f.col) == 2)
		f.kind = FRAME_ENTRY;
	else if (sscanf(line, "  in mapping (line: %d, column: %d)",
			&f.line, &f.col) == 2)
		f.kind = FRAME_MAPPING;
	else {
		if (!c->msg[0] && strcmp(line, "Load: Backtrace:"))
			snprintf(c->msg, sizeof(c->msg), "%.250s",
				 strncmp(line, "Load: ", 6) ? line : line + 6);
		return;
	}
	if (c->n_frames < MAX_FRAMES)
		c->frames[c->n_frames++] = f;
}

/*
 * libcyaml grows a sequence with one realloc per entry.  glibc mostly
 * grows a block in place, but an allocator that always moves (ASan's, in
 * VARIANT=san and the fuzzers) makes that quadratic: 65000 templates took
 * minutes.  So blocks carry their capacity and grow by doubling.
 */
struct mem_block {
	size_t cap;
	max_align_t data[];
};

static void *schema_mem(void *ctx, void *ptr, size_t size)
{
	struct mem_block *b = ptr ? (struct mem_block *)ptr - 1 : NULL;
	size_t cap;

	if (!size) {
		free(b);
		return NULL;
	}
	if (b && size <= b->cap)
		return ptr;
	cap = b && size < 2 * b->cap ? 2 * b->cap : size;
	if (cap > SIZE_MAX - sizeof(*b))
		return NULL;
	b = realloc(b, sizeof(*b) + cap);
	if (!b)
		return NULL;
	b->cap = cap;
	return b->data;
}

static const cyaml_config_t free_config = {
	.mem_fn = schema_mem,
	.log_level = CYAML_LOG_ERROR,
};

void yaml_schema_item_name(const char *parent_key, char *buf, size_t size)
{
	size_t len = strlen(parent_key);

	if (len > 1 && parent_key[len - 1] == 's')
		snprintf(buf, size, "%.*s", (int)(len - 1), parent_key);
	else
		snprintf(buf, size, "%s item", parent_key);
}

static bool nocase(const cyaml_schema_value_t *s)
{
	return s && (s->flags & CYAML_FLAG_CASE_INSENSITIVE);
}

static const cyaml_schema_field_t *schema_field(const cyaml_schema_value_t *s,
						const char *key)
{
	const cyaml_schema_field_t *f;

	if (!s || s->type != CYAML_MAPPING)
		return NULL;
	for (f = s->mapping.fields; f && f->key; f++)
		if (nocase(s) ? !strcasecmp(f->key, key) : !strcmp(f->key, key))
			return f;
	return NULL;
}

/* The key node of the N-th (0-based) key of MAP equal to KEY. */
static yaml_node_t *map_key(struct yaml_doc *d, const yaml_node_t *map,
			    const char *key, bool ignore_case, int n)
{
	yaml_node_pair_t *pair;
	yaml_node_t *k, *v;

	if (!yaml_is_map(map))
		return NULL;
	yaml_map_for_each(d, map, pair, k, v)
		if (yaml_is_scalar(k) &&
		    (ignore_case ? !strcasecmp(yaml_str(k), key) :
				   !strcmp(yaml_str(k), key)) && !n--)
			return k;
	return NULL;
}

static yaml_node_t *map_value(struct yaml_doc *d, const yaml_node_t *map,
			      const char *key, bool ignore_case)
{
	yaml_node_pair_t *pair;
	yaml_node_t *k, *v;

	yaml_map_for_each(d, map, pair, k, v)
		if (yaml_is_scalar(k) &&
		    (ignore_case ? !strcasecmp(yaml_str(k), key) :
				   !strcmp(yaml_str(k), key)))
			return v;
	return NULL;
}

static bool node_at(const yaml_node_t *n, int line, int col)
{
	return n && (int)n->start_mark.line + 1 == line &&
	       (int)n->start_mark.column + 1 == col;
}

/* One step of the walk down the document along the backtrace. */
struct level {
	yaml_node_t *node;
	const cyaml_schema_value_t *schema;	/* NULL when not known */
	char name[128];
};

/* Follow the frames from the outside in; returns the number of levels
 * reached (at least the root). */
static int walk_frames(struct yaml_doc *d, const struct capture *c,
		       const cyaml_schema_value_t *schema,
		       const char *root_name, struct level *lv)
{
	int i, n = 1;

	lv[0].node = yaml_document_get_root_node(&d->doc);
	lv[0].schema = schema;
	snprintf(lv[0].name, sizeof(lv[0].name), "%s", root_name);
	for (i = c->n_frames - 1; i >= 0; i--) {
		const struct frame *f = &c->frames[i];
		struct level *cur = &lv[n - 1], *next = &lv[n];

		if (f->kind == FRAME_MAPPING)
			continue;
		if (f->kind == FRAME_FIELD) {
			const cyaml_schema_field_t *sf;

			if (!yaml_is_map(cur->node))
				break;
			next->node = map_value(d, cur->node, f->key,
					       nocase(cur->schema));
			if (!next->node)
				break;
			sf = schema_field(cur->schema, f->key);
			next->schema = sf ? &sf->value : NULL;
			snprintf(next->name, sizeof(next->name), "%s", f->key);
		} else {
			yaml_node_item_t *item;
			yaml_node_t *it;

			if (!yaml_is_seq(cur->node))
				break;
			next->node = NULL;
			yaml_seq_for_each(d, cur->node, item, it)
				if (node_at(it, f->line, f->col)) {
					next->node = it;
					break;
				}
			if (!next->node)
				break;
			next->schema = cur->schema &&
				       cur->schema->type == CYAML_SEQUENCE ?
				       cur->schema->sequence.entry : NULL;
			yaml_schema_item_name(cur->name, next->name,
					      sizeof(next->name));
		}
		n++;
	}
	return n;
}

/* "a mapping", "one of 'udp', 'tcp'": what SCHEMA takes. */
static const char *schema_describe(const cyaml_schema_value_t *s,
				   char *buf, size_t size)
{
	size_t off = 0;
	uint32_t i;

	switch (s->type) {
	case CYAML_MAPPING:
		return "a mapping";
	case CYAML_SEQUENCE:
	case CYAML_SEQUENCE_FIXED:
		return "a list";
	case CYAML_STRING:
		return s->string.min ? "a non-empty value" : "a single value";
	case CYAML_INT:
	case CYAML_UINT:
		return "an integer";
	case CYAML_BOOL:
		return "true or false";
	case CYAML_ENUM:
		off = snprintf(buf, size, "one of");
		for (i = 0; i < s->enumeration.count && off < size; i++)
			off += snprintf(buf + off, size - off, "%s '%s'",
					i ? "," : "",
					s->enumeration.strings[i].str);
		return buf;
	default:
		return "another value";
	}
}

/* Whether node N is of the kind schema S takes (a mapping, a list, a
 * scalar): then libcyaml refused something else about it. */
static bool kind_matches(const cyaml_schema_value_t *s, const yaml_node_t *n)
{
	switch (s->type) {
	case CYAML_MAPPING:
		return yaml_is_map(n);
	case CYAML_SEQUENCE:
	case CYAML_SEQUENCE_FIXED:
		return yaml_is_seq(n);
	default:
		return false;	/* a scalar refused: say what it takes */
	}
}

/* Turn what libcyaml logged into one positioned message. */
static int translate(struct yaml_doc *d, const struct capture *c,
		     const cyaml_schema_value_t *schema,
		     const char *root_name, struct yaml_error *err)
{
	static const char missing[] = "Missing required mapping field: ";
	static const char seen[] = "Mapping field already seen: ";
	bool dup = !strncmp(c->msg, seen, sizeof(seen) - 1);
	bool absent = !strncmp(c->msg, missing, sizeof(missing) - 1);
	struct level lv[MAX_FRAMES + 1], *l;
	char want[256], found[80];
	yaml_node_pair_t *pair;
	yaml_node_t *k, *v;
	const char *key;
	int n, i;

	n = walk_frames(d, c, schema, root_name, lv);
	l = &lv[n - 1];
	if (dup || absent) {
		key = c->msg + (dup ? sizeof(seen) : sizeof(missing)) - 1;
		/* the innermost mapping of the walk that has this field */
		for (i = n - 1; i >= 0; i--) {
			yaml_node_t *k2;

			l = &lv[i];
			if (!yaml_is_map(l->node) || !schema_field(l->schema, key))
				continue;
			if (absent)
				return yaml_doc_error(d, err, l->node,
						      "%s: missing key '%s'",
						      l->name, key);
			k2 = map_key(d, l->node, key, nocase(l->schema), 1);
			if (!k2)
				continue;
			return yaml_doc_error(d, err, k2,
					      "%s: duplicate key '%s' (first at line %zu)",
					      l->name, yaml_str(k2),
					      map_key(d, l->node, key,
						      nocase(l->schema), 0)
						      ->start_mark.line + 1);
		}
	} else if (l->node && l->schema && !kind_matches(l->schema, l->node)) {
		return yaml_doc_error(d, err, l->node,
				      "%s: expected %s, found %s", l->name,
				      schema_describe(l->schema, want,
						      sizeof(want)),
				      yaml_describe(l->node, found,
						    sizeof(found)));
	} else {
		/* what else a mapping on the way can hold wrong: a key that
		 * is no name (libcyaml's frame may be a field past it) */
		for (i = n - 1; i >= 0; i--) {
			if (!yaml_is_map(lv[i].node))
				continue;
			yaml_map_for_each(d, lv[i].node, pair, k, v)
				if (!yaml_is_scalar(k))
					return yaml_doc_error(d, err, k,
							      "%s: expected a key name, found %s",
							      lv[i].name,
							      yaml_describe(k, found,
									    sizeof(found)));
		}
	}
	if (l->node && !dup && !absent)
		return yaml_doc_error(d, err, l->node, "%s: %s", l->name,
				      c->msg);
	/* not found in the document: the innermost place libcyaml named */
	if (c->n_frames) {
		err->line = c->frames[0].line;
		err->col = c->frames[0].col;
		snprintf(err->text, sizeof(err->text), "%s:%d:%d: %s",
			 d->file, err->line, err->col, c->msg);
		return -EINVAL;
	}
	return yaml_doc_error(d, err, lv[0].node, "%s", c->msg);
}

int yaml_schema_load(struct yaml_doc *d, const char *text, size_t len,
		     const cyaml_schema_value_t *schema, const char *root_name,
		     void **data, struct yaml_error *err)
{
	struct capture c = {};
	cyaml_config_t config = {
		.log_fn = capture_log,
		.log_ctx = &c,
		.mem_fn = schema_mem,
		.log_level = CYAML_LOG_ERROR,
		/* unknown keys warn (yaml_schema_warn_unknown), as the
		 * original ignored them */
		.flags = CYAML_CFG_IGNORE_UNKNOWN_KEYS,
	};
	cyaml_err_t ret;

	*data = NULL;
	if (!yaml_doc_root(d))
		return 0;
	ret = cyaml_load_data((const uint8_t *)text, len, &config, schema,
			      data, NULL);
	if (ret == CYAML_OK)
		return 0;
	*data = NULL;
	if (ret == CYAML_ERR_OOM)
		return -ENOMEM;
	if (!c.msg[0])
		snprintf(c.msg, sizeof(c.msg), "%s", cyaml_strerror(ret));
	return translate(d, &c, schema, root_name, err);
}

void yaml_schema_free(const cyaml_schema_value_t *schema, void *data)
{
	if (data)
		cyaml_free(&free_config, schema, data, 0);
}

/* "a, b, c": the keys of mapping schema S. */
static void schema_keys(const cyaml_schema_value_t *s, char *buf, size_t size)
{
	const cyaml_schema_field_t *f;
	size_t off = 0;

	buf[0] = 0;
	for (f = s->mapping.fields; f->key && off < size; f++)
		off += snprintf(buf + off, size - off, "%s%s",
				f == s->mapping.fields ? "" : ", ", f->key);
}

static void warn_walk(struct yaml_doc *d, const yaml_node_t *n,
		      const cyaml_schema_value_t *s, const char *name,
		      const cyaml_schema_value_t *skip,
		      struct yaml_error *err)
{
	yaml_node_item_t *item;
	yaml_node_pair_t *pair;
	yaml_node_t *k, *v;
	char buf[400];

	if (s == skip)
		return;
	if (s->type == CYAML_SEQUENCE && yaml_is_seq(n)) {
		yaml_schema_item_name(name, buf, sizeof(buf));
		yaml_seq_for_each(d, n, item, v)
			warn_walk(d, v, s->sequence.entry, buf, skip, err);
		return;
	}
	if (s->type != CYAML_MAPPING || !yaml_is_map(n))
		return;
	yaml_map_for_each(d, n, pair, k, v) {
		const cyaml_schema_field_t *f;

		if (!yaml_is_scalar(k))
			continue;
		f = schema_field(s, yaml_str(k));
		if (f) {
			warn_walk(d, v, &f->value, f->key, skip, err);
			continue;
		}
		schema_keys(s, buf, sizeof(buf));
		yaml_doc_warn(d, err, k,
			      "unknown key '%.100s' in %s ignored (known keys: %s)",
			      yaml_str(k), name, buf);
	}
}

void yaml_schema_warn_unknown(struct yaml_doc *d,
			      const cyaml_schema_value_t *schema,
			      const char *root_name,
			      const cyaml_schema_value_t *skip,
			      struct yaml_error *err)
{
	yaml_node_t *root = yaml_doc_root(d);

	if (root)
		warn_walk(d, root, schema, root_name, skip, err);
}
