// SPDX-License-Identifier: Apache-2.0
/*
 * Flow files (flowsets of literal IE values) for `flowctl ipfix file`.
 */
#include "flowfile.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "strnum.h"
#include "yaml_schema.h"

#define PERR(d, err, node, ...) yaml_doc_error((d), (err), (node), __VA_ARGS__)

static void put_be(uint8_t *p, uint64_t v, unsigned int len)
{
	unsigned int i;

	for (i = len; i > 0; i--) {
		p[i - 1] = v & 0xff;
		v >>= 8;
	}
}

static int parse_s64(const char *s, int64_t *out)
{
	uint64_t v;
	int neg = *s == '-';
	int ret;

	ret = parse_u64(s + neg, &v);
	if (ret)
		return ret;
	if (v > (uint64_t)INT64_MAX + neg)
		return -ERANGE;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

static int hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Variable-length prefix (RFC 7011 7): one octet below 255, else 255 and
 * two octets. */
static unsigned int put_varlen(uint8_t *out, size_t n)
{
	if (n < 255) {
		out[0] = n;
		return 1;
	}
	out[0] = 255;
	out[1] = n >> 8;
	out[2] = n & 0xff;
	return 3;
}

/* Copy N octets into a field of LENGTH: a variable-length field takes at
 * most 65535 octets behind its prefix, a fixed one is padded with zeros. */
static int encode_bytes(const uint8_t *data, size_t n, uint16_t length,
			uint8_t *out)
{
	unsigned int hdr;

	if (length == IPFIX_VARLEN) {
		if (n > IPFIX_MAX_VARLEN)
			return -ERANGE;
		hdr = put_varlen(out, n);
		memcpy(out + hdr, data, n);
		return hdr + n;
	}
	if (n > length)
		return -ERANGE;
	memcpy(out, data, n);
	memset(out + n, 0, length - n);
	return length;
}

/* "0x0102..." into a field of LENGTH, decoded in place. */
static int encode_hex(const char *text, uint16_t length, uint8_t *out)
{
	unsigned int hdr = 0;
	size_t n, i;

	if (text[0] != '0' || (text[1] != 'x' && text[1] != 'X'))
		return -EINVAL;
	text += 2;
	n = strlen(text);
	if (n % 2)
		return -EINVAL;
	n /= 2;
	if (length == IPFIX_VARLEN) {
		if (n > IPFIX_MAX_VARLEN)
			return -ERANGE;
		hdr = put_varlen(out, n);
	} else if (n > length) {
		return -ERANGE;
	}
	for (i = 0; i < n; i++) {
		int hi = hex_nibble(text[2 * i]);
		int lo = hex_nibble(text[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[hdr + i] = hi << 4 | lo;
	}
	if (length == IPFIX_VARLEN)
		return hdr + n;
	memset(out + n, 0, length - n);
	return length;
}

int ipfix_value_encode(const struct ipfix_ie *ie, uint16_t length,
		       const char *text, uint8_t *out)
{
	uint64_t u;
	int64_t s;
	int ret, i;

	switch (ie->type) {
	case IPFIX_T_UNSIGNED8:
	case IPFIX_T_UNSIGNED16:
	case IPFIX_T_UNSIGNED32:
	case IPFIX_T_UNSIGNED64:
	case IPFIX_T_DATETIME_SECONDS:
	case IPFIX_T_DATETIME_MILLISECONDS:
		ret = parse_u64(text, &u);
		if (ret)
			return ret;
		if (length < 8 && u >> (8 * length))
			return -ERANGE;
		put_be(out, u, length);
		return length;
	case IPFIX_T_DATETIME_MICROSECONDS:
	case IPFIX_T_DATETIME_NANOSECONDS:
		ret = parse_u64(text, &u);
		if (ret)
			return ret;
		if (ie->type == IPFIX_T_DATETIME_MICROSECONDS) {
			if (u > UINT64_MAX / 1000)
				return -ERANGE;
			u = ipfix_ntp_us_from_unix_ns(u * 1000);
		} else {
			u = ipfix_ntp_from_unix_ns(u);
		}
		put_be(out, u, 8);
		return 8;
	case IPFIX_T_SIGNED8:
	case IPFIX_T_SIGNED16:
	case IPFIX_T_SIGNED32:
	case IPFIX_T_SIGNED64:
		ret = parse_s64(text, &s);
		if (ret)
			return ret;
		if (length < 8 && (s < -(1LL << (8 * length - 1)) ||
				   s >= (1LL << (8 * length - 1))))
			return -ERANGE;
		put_be(out, (uint64_t)s, length);
		return length;
	case IPFIX_T_FLOAT32:
	case IPFIX_T_FLOAT64: {
		char *end;
		double d = strtod(text, &end);

		if (end == text || *end || !isfinite(d))
			return -EINVAL;
		if (length == 4) {
			float f = d;
			uint32_t b;

			memcpy(&b, &f, 4);
			put_be(out, b, 4);
		} else {
			memcpy(&u, &d, 8);
			put_be(out, u, 8);
		}
		return length;
	}
	case IPFIX_T_BOOLEAN:
		/* RFC 7011 6.1.5: true is 1, false is 2 */
		if (!strcmp(text, "true") || !strcmp(text, "1"))
			out[0] = 1;
		else if (!strcmp(text, "false") || !strcmp(text, "2"))
			out[0] = 2;
		else
			return -EINVAL;
		return 1;
	case IPFIX_T_IPV4: {
		struct in_addr a;

		if (inet_pton(AF_INET, text, &a) == 1) {
			memcpy(out, &a, 4);
			return 4;
		}
		ret = parse_u64(text, &u);
		if (ret)
			return ret;
		if (u > UINT32_MAX)
			return -ERANGE;
		put_be(out, u, 4);
		return 4;
	}
	case IPFIX_T_IPV6:
		if (inet_pton(AF_INET6, text, out) != 1)
			return -EINVAL;
		return 16;
	case IPFIX_T_MAC: {
		unsigned int b[6];
		char tail;

		if (sscanf(text, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1],
			   &b[2], &b[3], &b[4], &b[5], &tail) != 6)
			return -EINVAL;
		for (i = 0; i < 6; i++)
			out[i] = b[i];
		return 6;
	}
	case IPFIX_T_STRING:
		return encode_bytes((const uint8_t *)text, strlen(text), length,
				    out);
	case IPFIX_T_OCTET_ARRAY:
		return encode_hex(text, length, out);
	}
	return -EINVAL;
}

static const char *value_hint(const struct ipfix_ie *ie)
{
	switch (ie->type) {
	case IPFIX_T_IPV4:
		return "an IPv4 address (10.1.0.1 or 0x0a010001)";
	case IPFIX_T_IPV6:
		return "an IPv6 address (fd00::1)";
	case IPFIX_T_MAC:
		return "a MAC address (aa:bb:cc:dd:ee:ff)";
	case IPFIX_T_BOOLEAN:
		return "true or false";
	case IPFIX_T_STRING:
		return "a string";
	case IPFIX_T_OCTET_ARRAY:
		return "hex octets (0x0102...)";
	case IPFIX_T_FLOAT32:
	case IPFIX_T_FLOAT64:
		return "a number";
	case IPFIX_T_DATETIME_SECONDS:
		return "unix time in seconds";
	case IPFIX_T_DATETIME_MILLISECONDS:
		return "unix time in milliseconds";
	case IPFIX_T_DATETIME_MICROSECONDS:
		return "unix time in microseconds";
	case IPFIX_T_DATETIME_NANOSECONDS:
		return "unix time in nanoseconds";
	default:
		return "an integer (decimal or 0x hex)";
	}
}

/*
 * The flow file as libcyaml loads it.  A flow maps element names to
 * values, so its schema is built at load time from the config: one
 * optional string field per element any template of the config (or a
 * built-in one) carries, matched without regard to case; a flow loads as
 * a row of those strings (NULL: not given).  Names that are in no
 * template are ignored by libcyaml and warned about here.
 */
struct cy_flowset {
	char *template_id;
	char **flows;			/* n_flows rows of n_names values */
	unsigned int n_flows;
};

struct cy_flowfile {
	struct cy_flowset *sets;
	unsigned int n_sets;
};

struct flow_schema {
	const struct ipfix_ie **ies;	/* the element of each field */
	size_t n_names, cap;
	cyaml_schema_field_t *fields;
	cyaml_schema_value_t flow;
	cyaml_schema_field_t set_fields[3];
	cyaml_schema_value_t set;
	cyaml_schema_field_t top_fields[2];
	cyaml_schema_value_t top;
};

static int add_names(struct flow_schema *fs, const struct ipfix_field *f,
		     unsigned int n)
{
	unsigned int i;

	if (fs->n_names + n > fs->cap) {
		const struct ipfix_ie **t;

		fs->cap = 2 * (fs->n_names + n);
		t = realloc(fs->ies, fs->cap * sizeof(*t));
		if (!t)
			return -ENOMEM;
		fs->ies = t;
	}
	for (i = 0; i < n; i++)
		fs->ies[fs->n_names++] = f[i].ie;
	return 0;
}

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(const void *const *)a;
	uintptr_t y = (uintptr_t)*(const void *const *)b;

	return x < y ? -1 : x > y;
}

static void flow_schema_free(struct flow_schema *fs)
{
	free(fs->ies);
	free(fs->fields);
}

static int flow_schema_build(struct flow_schema *fs,
			     const struct flowctl_config *cfg)
{
	struct ipfix_plan plan;
	size_t i;
	int ret;

	size_t j;

	memset(fs, 0, sizeof(*fs));
	ret = ipfix_plan_default_v4(&plan);
	ret = ret ?: add_names(fs, plan.fields, plan.n_fields);
	ret = ret ?: ipfix_plan_default_v6(&plan);
	ret = ret ?: add_names(fs, plan.fields, plan.n_fields);
	for (i = 0; !ret && i < cfg->n_templates; i++)
		ret = add_names(fs, cfg->templates[i].fields,
				cfg->templates[i].n_fields);
	if (ret)
		return ret;
	/* each element once */
	qsort(fs->ies, fs->n_names, sizeof(*fs->ies), cmp_ptr);
	for (i = j = 0; i < fs->n_names; i++)
		if (!j || fs->ies[j - 1] != fs->ies[i])
			fs->ies[j++] = fs->ies[i];
	fs->n_names = j;
	fs->fields = calloc(fs->n_names + 1, sizeof(*fs->fields));
	if (!fs->fields)
		return -ENOMEM;
	for (i = 0; i < fs->n_names; i++)
		fs->fields[i] = (cyaml_schema_field_t){
			.key = fs->ies[i]->name,
			.data_offset = i * sizeof(char *),
			.value = {
				CYAML_VALUE_STRING(CYAML_FLAG_POINTER |
						   CYAML_FLAG_OPTIONAL,
						   char, 0, CYAML_UNLIMITED),
			},
		};
	fs->flow = (cyaml_schema_value_t){
		.type = CYAML_MAPPING,
		.flags = CYAML_FLAG_CASE_INSENSITIVE,
		.data_size = fs->n_names * sizeof(char *),
		.mapping.fields = fs->fields,
	};
	fs->set_fields[0] = (cyaml_schema_field_t)
		CYAML_FIELD_STRING_PTR("templateId", CYAML_FLAG_DEFAULT,
				       struct cy_flowset, template_id, 0,
				       CYAML_UNLIMITED);
	fs->set_fields[1] = (cyaml_schema_field_t){
		.key = "flows",
		.data_offset = offsetof(struct cy_flowset, flows),
		.count_offset = offsetof(struct cy_flowset, n_flows),
		.count_size = sizeof(unsigned int),
		.value = {
			.type = CYAML_SEQUENCE,
			.flags = CYAML_FLAG_POINTER,
			.data_size = fs->flow.data_size,
			.sequence = {
				.entry = &fs->flow,
				.min = 0,
				.max = CYAML_UNLIMITED,
			},
		},
	};
	fs->set = (cyaml_schema_value_t){
		CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct cy_flowset,
				    fs->set_fields),
	};
	fs->top_fields[0] = (cyaml_schema_field_t)
		CYAML_FIELD_SEQUENCE_COUNT("flowsets", CYAML_FLAG_POINTER,
					   struct cy_flowfile, sets, n_sets,
					   &fs->set, 0, CYAML_UNLIMITED);
	fs->top = (cyaml_schema_value_t){
		CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct cy_flowfile,
				    fs->top_fields),
	};
	return 0;
}

/* Each flowset's plan field I takes the value in column COL[I] of a row. */
struct set_ctx {
	const struct flowctl_config *cfg;
	const struct flow_schema *fs;
	struct ipfix_plan plan;
	size_t col[IPFIX_MAX_FIELDS];
	unsigned int set;		/* index, for paths */
	/* where warnings go: the caller's error (its first warning), or
	 * NULL: printed */
	struct yaml_error *warn_err;
};

static bool in_plan(const struct ipfix_plan *plan, const struct ipfix_ie *ie)
{
	unsigned int i;

	for (i = 0; i < plan->n_fields; i++)
		if (plan->fields[i].ie == ie)
			return true;
	return false;
}

/*
 * Fields of flow FLOW (its row ROW) that its template does not carry are
 * ignored, as the original did, with a warning.  Only a flow with more
 * keys than values of its template is looked at key by key.
 */
static void warn_ignored(struct yaml_doc *d, struct yaml_error *err,
			 const struct set_ctx *sc, char *const *row,
			 unsigned int flow)
{
	yaml_node_t *node, *k, *v;
	yaml_node_pair_t *pair;
	size_t keys, used = 0;
	unsigned int i;

	for (i = 0; i < sc->plan.n_fields; i++)
		used += row[sc->col[i]] != NULL;
	node = yaml_doc_at(d, "flowsets/%u/flows/%u", sc->set, flow);
	if (!yaml_is_map(node))
		return;
	keys = node->data.mapping.pairs.top - node->data.mapping.pairs.start;
	if (keys == used)
		return;
	yaml_map_for_each(d, node, pair, k, v) {
		const struct ipfix_ie *ie;

		if (!yaml_is_scalar(k))
			continue;
		ie = config_ie_by_name(sc->cfg, yaml_str(k));
		if (!ie)
			yaml_doc_warn(d, err, k,
				      "unknown information element '%.100s' ignored",
				      yaml_str(k));
		else if (!in_plan(&sc->plan, ie))
			yaml_doc_warn(d, err, k,
				      "%s is not a field of template %u: ignored",
				      ie->name, sc->plan.id);
	}
}

/*
 * Encode the flow in ROW into REC.  Each value is encoded on its own first
 * and copied into the record only when the record still fits one message
 * of maxIpfixMessageLen; past that the rest is only measured, to say how
 * long the record would be.
 */
static int encode_flow(struct yaml_doc *d, struct yaml_error *err,
		       const struct set_ctx *sc, char *const *row,
		       unsigned int flow, struct flowfile_record *rec)
{
	static uint8_t buf[IPFIX_MAX_RECORD_LEN];
	static uint8_t val[3 + IPFIX_MAX_VARLEN];
	const struct ipfix_plan *plan = &sc->plan;
	size_t len = 0, room = 0;
	uint32_t max_len = sc->cfg->max_ipfix_message_len;
	unsigned int i;
	char tmp[80];

	if (max_len > IPFIX_MSG_HDR_LEN + IPFIX_SET_HDR_LEN)
		room = max_len - IPFIX_MSG_HDR_LEN - IPFIX_SET_HDR_LEN;
	for (i = 0; i < plan->n_fields; i++) {
		const struct ipfix_field *f = &plan->fields[i];
		const char *text = row[sc->col[i]];
		const yaml_node_t *n;
		int ret;

		if (!text) {
			/* left out: zero, or an empty variable field */
			ret = f->length == IPFIX_VARLEN ? 1 : f->length;
			memset(val, 0, ret);
		} else {
			ret = ipfix_value_encode(f->ie, f->length, text, val);
		}
		if (ret < 0)
			n = yaml_doc_at(d, "flowsets/%u/flows/%u/%s", sc->set,
					flow, f->ie->name);
		if (ret == -ERANGE && f->length == IPFIX_VARLEN)
			return PERR(d, err, n,
				    "%s: value too long for a variable-length field (at most %d octets), found %zu characters",
				    f->ie->name, IPFIX_MAX_VARLEN,
				    strlen(text));
		if (ret < 0)
			return PERR(d, err, n, "%s: expected %s%s, found %s",
				    f->ie->name, value_hint(f->ie),
				    ret == -ERANGE ? " that fits the field" : "",
				    n ? yaml_describe(n, tmp, sizeof(tmp)) :
					"another value");
		if (len + ret <= room)
			memcpy(buf + len, val, ret);
		len += ret;
	}
	if (len > room)
		return PERR(d, err,
			    yaml_doc_at(d, "flowsets/%u/flows/%u", sc->set,
					flow),
			    "flow: the record is %zu octets, one message of maxIpfixMessageLen %u holds records of at most %zu octets",
			    len, max_len, room);
	rec->data = malloc(len ?: 1);
	if (!rec->data)
		return -ENOMEM;
	memcpy(rec->data, buf, len);
	rec->len = len;
	return 0;
}

static int load_set(struct yaml_doc *d, struct yaml_error *err,
		    struct set_ctx *sc, const struct cy_flowset *cs,
		    struct flowfile *ff)
{
	struct flowfile_set *set = &ff->sets[ff->n_sets];
	const yaml_node_t *idn;
	unsigned int i;
	uint64_t id;
	char tmp[80];
	int ret;

	idn = yaml_doc_at(d, "flowsets/%u/templateId", sc->set);
	if (parse_u64(cs->template_id, &id) || id < 256 || id > 65535)
		return PERR(d, err, idn,
			    "templateId: expected an integer in 256..65535, found %s",
			    idn ? yaml_describe(idn, tmp, sizeof(tmp)) :
				  cs->template_id);
	if (id >= IPFIX_TID_EXPORTING_STATS ||
	    config_template_plan(sc->cfg, id, &sc->plan))
		return PERR(d, err, idn, "templateId: no template %u in %s",
			    (unsigned int)id, sc->cfg->file);
	for (i = 0; i < sc->plan.n_fields; i++) {
		const struct ipfix_ie *const *c =
			bsearch(&sc->plan.fields[i].ie, sc->fs->ies,
				sc->fs->n_names, sizeof(*sc->fs->ies),
				cmp_ptr);

		sc->col[i] = c - sc->fs->ies;
	}
	set->template_id = id;
	ff->n_sets++;
	set->records = calloc(cs->n_flows ?: 1, sizeof(*set->records));
	if (!set->records)
		return -ENOMEM;
	for (i = 0; i < cs->n_flows; i++) {
		char *const *row = cs->flows + (size_t)i * sc->fs->n_names;
		struct flowfile_record *r = &set->records[set->n_records];

		warn_ignored(d, sc->warn_err, sc, row, i);
		ret = encode_flow(d, err, sc, row, i, r);
		if (ret)
			return ret;
		set->n_records++;
		ff->n_records++;
		ff->n_bytes += r->len;
		if (ff->n_bytes > FLOWFILE_MAX_BYTES)
			return PERR(d, err,
				    yaml_doc_at(d, "flowsets/%u/flows/%u",
						sc->set, i),
				    "flow: the records of the flow file take more than %u MiB at flow %zu of flowset %zu (aliases included); split it",
				    FLOWFILE_MAX_BYTES >> 20, set->n_records,
				    ff->n_sets);
	}
	return 0;
}

/* Before libcyaml expands them: at most FLOWFILE_MAX_RECORDS flows,
 * aliases counted as what they stand for. */
static int check_flow_count(struct yaml_doc *d, struct yaml_error *err)
{
	const yaml_node_t *flows;
	size_t total = 0;
	unsigned int i;

	for (i = 0; yaml_doc_at(d, "flowsets/%u", i); i++) {
		flows = yaml_doc_at(d, "flowsets/%u/flows", i);
		if (!yaml_is_seq(flows))
			continue;
		total += yaml_seq_len(flows);
		if (total > FLOWFILE_MAX_RECORDS)
			return PERR(d, err, flows,
				    "flows: the flow file has more than %d flows (aliases included); split it",
				    FLOWFILE_MAX_RECORDS);
	}
	return 0;
}

static int parse_flowfile(struct yaml_doc *d, const char *text, size_t len,
			  struct yaml_error *e, struct yaml_error *warn_err,
			  const struct flowctl_config *cfg,
			  struct flowfile *ff)
{
	struct cy_flowfile *cy = NULL;
	struct set_ctx sc = { .cfg = cfg, .warn_err = warn_err };
	struct flow_schema fs;
	unsigned int i;
	int ret;

	if (!yaml_doc_root(d))
		return PERR(d, e, NULL, "flow file: missing key 'flowsets'");
	ret = check_flow_count(d, e);
	if (ret)
		return ret;
	ret = flow_schema_build(&fs, cfg);
	if (ret)
		goto out;
	sc.fs = &fs;
	ret = yaml_schema_load(d, text, len, &fs.top, "flow file",
			       (void **)&cy, e);
	if (ret)
		goto out;
	yaml_schema_warn_unknown(d, &fs.top, "flow file", &fs.flow, warn_err);
	ff->sets = calloc(cy->n_sets ?: 1, sizeof(*ff->sets));
	if (!ff->sets) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < cy->n_sets && !ret; i++) {
		sc.set = i;
		ret = load_set(d, e, &sc, &cy->sets[i], ff);
	}
	yaml_doc_warn_done(d, warn_err);
out:
	yaml_schema_free(&fs.top, cy);
	flow_schema_free(&fs);
	return ret;
}

int flowfile_load_string(const char *name, const char *text, size_t len,
			 const struct flowctl_config *cfg,
			 struct flowfile **out, struct yaml_error *err)
{
	struct yaml_error local_err;
	struct yaml_error *e = err ?: &local_err;
	struct flowfile *ff;
	struct yaml_doc d;
	int ret;

	*out = NULL;
	memset(e, 0, sizeof(*e));
	ff = calloc(1, sizeof(*ff));
	if (!ff)
		return -ENOMEM;
	ret = yaml_doc_load(&d, name, text, len, e);
	if (!ret) {
		ret = parse_flowfile(&d, text, len, e, err, cfg, ff);
		yaml_doc_free(&d);
	}
	if (ret) {
		yaml_error_fail(e, err, name, ret);
		flowfile_free(ff);
		return ret;
	}
	*out = ff;
	return 0;
}

int flowfile_load(const char *path, const struct flowctl_config *cfg,
		  struct flowfile **out, struct yaml_error *err)
{
	char *text;
	size_t len;
	int ret;

	*out = NULL;
	ret = yaml_read_file(path, &text, &len);
	if (ret) {
		if (err) {
			memset(err, 0, sizeof(*err));
			snprintf(err->text, sizeof(err->text),
				 "%s: cannot read flow file: %s", path,
				 strerror(-ret));
		} else {
			pr_err("%s: cannot read flow file: %s", path,
			       strerror(-ret));
		}
		return ret;
	}
	ret = flowfile_load_string(path, text, len, cfg, out, err);
	free(text);
	return ret;
}

void flowfile_free(struct flowfile *ff)
{
	size_t i, j;

	if (!ff)
		return;
	for (i = 0; i < ff->n_sets; i++) {
		for (j = 0; j < ff->sets[i].n_records; j++)
			free(ff->sets[i].records[j].data);
		free(ff->sets[i].records);
	}
	free(ff->sets);
	free(ff);
}
