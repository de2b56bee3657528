/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Loading a YAML file into a struct through a libcyaml schema, with
 * flowctl's error rules: one message "FILE:LINE:COL: what is wrong".
 *
 * libcyaml 1.3 hands its caller an error code only; the place is in the
 * backtrace it logs ("in mapping field 'id' (line: 4, column: 7)",
 * "in sequence entry '1' (line: 3, column: 3)").  The backtrace is
 * captured through cyaml_config.log_fn, walked from the outside in over
 * the document's position index (yaml_doc.h) and the schema, and turned
 * into one message about the node it names.
 */
#ifndef FLOWCTL_YAML_SCHEMA_H
#define FLOWCTL_YAML_SCHEMA_H

#include <cyaml/cyaml.h>

#include "yaml_doc.h"

/*
 * A scalar kept as text: integers are loaded as strings and converted by
 * parse_u64(), because libcyaml 1.3 reads "100ms" as 100, "010" as 8 and
 * " 12" as 12 (strtoull without an end check).  Optional; NULL when
 * absent.
 */
#define YAML_FIELD_NUMBER(key, structure, member) \
	CYAML_FIELD_STRING_PTR(key, CYAML_FLAG_OPTIONAL, structure, member, \
			       0, CYAML_UNLIMITED)
/* A string; NULL when absent or given as no value ("", ~, null). */
#define YAML_FIELD_STRING(key, flags, structure, member) \
	CYAML_FIELD_STRING_PTR(key, (flags) | CYAML_FLAG_POINTER_NULL_STR, \
			       structure, member, 0, CYAML_UNLIMITED)

/*
 * Load TEXT (LEN octets), already loaded as D by yaml_doc_load() (which
 * enforces the limits on anchors, aliases, nesting and documents), into
 * *DATA through SCHEMA (a CYAML_FLAG_POINTER mapping).  ROOT_NAME names
 * the top mapping in messages ("config").  Unknown keys are not an error
 * here: yaml_schema_warn_unknown() reports them.  Returns 0, -EINVAL with
 * ERR filled, or -ENOMEM.  An empty document gives *DATA NULL.
 */
int yaml_schema_load(struct yaml_doc *d, const char *text, size_t len,
		     const cyaml_schema_value_t *schema, const char *root_name,
		     void **data, struct yaml_error *err);
void yaml_schema_free(const cyaml_schema_value_t *schema, void *data);

/*
 * A warning (yaml_doc_warn) for each key of D that SCHEMA does not know
 * and libcyaml therefore ignored, naming where it is.  Mappings of schema
 * SKIP are left to the caller.
 */
void yaml_schema_warn_unknown(struct yaml_doc *d,
			      const cyaml_schema_value_t *schema,
			      const char *root_name,
			      const cyaml_schema_value_t *skip,
			      struct yaml_error *err);

/* What a mapping (or list item) at PARENT_KEY is called in messages: the
 * key itself, or its singular for list items ("templates" -> "template"). */
void yaml_schema_item_name(const char *parent_key, char *buf, size_t size);

#endif
