// SPDX-License-Identifier: Apache-2.0
/*
 * Flow files (flowsets of literal IE values) for `flowctl ipfix file`.
 */
#include "flowfile.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

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
 * Encode FLOW into REC.  Each value is encoded on its own first and copied
 * into the record only when the record still fits one message of
 * maxIpfixMessageLen; past that the rest is only measured, to say how long
 * the record would be.
 */
static int encode_flow(struct yaml_doc *d, struct yaml_error *err,
		       const struct flowctl_config *cfg,
		       const struct ipfix_plan *plan, const yaml_node_t *flow,
		       struct flowfile_record *rec)
{
	static uint8_t buf[IPFIX_MAX_RECORD_LEN];
	static uint8_t val[3 + IPFIX_MAX_VARLEN];
	const yaml_node_t *values[IPFIX_MAX_FIELDS] = {};
	yaml_node_pair_t *pair;
	yaml_node_t *key, *v;
	size_t len = 0, room = 0;
	unsigned int i;
	char tmp[80];

	if (cfg->max_ipfix_message_len > IPFIX_MSG_HDR_LEN + IPFIX_SET_HDR_LEN)
		room = cfg->max_ipfix_message_len - IPFIX_MSG_HDR_LEN -
		       IPFIX_SET_HDR_LEN;
	if (!yaml_is_map(flow))
		return PERR(d, err, flow,
			    "flow: expected a mapping of information elements to values, found %s",
			    yaml_describe(flow, tmp, sizeof(tmp)));
	yaml_map_for_each(d, flow, pair, key, v) {
		const struct ipfix_ie *ie;

		if (!yaml_is_scalar(key))
			return PERR(d, err, key, "flow: expected an information element name, found %s",
				    yaml_describe(key, tmp, sizeof(tmp)));
		ie = config_ie_by_name(cfg, yaml_str(key));
		if (!ie)
			return PERR(d, err, key,
				    "unknown information element '%s'",
				    yaml_str(key));
		for (i = 0; i < plan->n_fields; i++)
			if (plan->fields[i].ie == ie)
				break;
		if (i == plan->n_fields)
			return PERR(d, err, key,
				    "%s is not a field of template %u",
				    ie->name, plan->id);
		if (values[i])
			return PERR(d, err, key,
				    "duplicate element '%s' (first at line %zu)",
				    yaml_str(key),
				    values[i]->start_mark.line + 1);
		if (!yaml_is_scalar(v) || yaml_is_null(v))
			return PERR(d, err, v, "%s: expected %s, found %s",
				    ie->name, value_hint(ie),
				    yaml_describe(v, tmp, sizeof(tmp)));
		values[i] = v;
	}
	for (i = 0; i < plan->n_fields; i++) {
		const struct ipfix_field *f = &plan->fields[i];
		int n;

		if (!values[i]) {
			/* left out: zero, or an empty variable field */
			n = f->length == IPFIX_VARLEN ? 1 : f->length;
			memset(val, 0, n);
		} else {
			n = ipfix_value_encode(f->ie, f->length,
					       yaml_str(values[i]), val);
		}
		if (n == -ERANGE && f->length == IPFIX_VARLEN)
			return PERR(d, err, values[i],
				    "%s: value too long for a variable-length field (at most %d octets), found %zu characters",
				    f->ie->name, IPFIX_MAX_VARLEN,
				    strlen(yaml_str(values[i])));
		if (n < 0)
			return PERR(d, err, values[i],
				    "%s: expected %s%s, found '%.60s'",
				    f->ie->name, value_hint(f->ie),
				    n == -ERANGE ? " that fits the field" : "",
				    yaml_str(values[i]));
		if (len + n <= room)
			memcpy(buf + len, val, n);
		len += n;
	}
	if (len > room)
		return PERR(d, err, flow,
			    "flow: the record is %zu octets, one message of maxIpfixMessageLen %u holds records of at most %zu octets",
			    len, cfg->max_ipfix_message_len, room);
	rec->data = malloc(len ?: 1);
	if (!rec->data)
		return -ENOMEM;
	memcpy(rec->data, buf, len);
	rec->len = len;
	return 0;
}

static int parse_flowfile(struct yaml_doc *d, struct yaml_error *err,
			  const struct flowctl_config *cfg,
			  struct flowfile *ff)
{
	static const char *const top_keys[] = { "flowsets", NULL };
	static const char *const set_keys[] = { "templateId", "flows", NULL };
	yaml_node_t *root = yaml_doc_root(d), *sets, *set;
	yaml_node_item_t *item, *fitem;
	char tmp[80];
	int ret;

	if (!yaml_is_map(root))
		return PERR(d, err, root,
			    "flow file: expected a mapping with 'flowsets', found %s",
			    yaml_describe(root, tmp, sizeof(tmp)));
	ret = yaml_check_keys(d, err, root, "flow file", top_keys);
	if (ret)
		return ret;
	if (root->data.mapping.pairs.start == root->data.mapping.pairs.top)
		return PERR(d, err, root, "flow file: missing key 'flowsets'");
	sets = yaml_doc_node(d, root->data.mapping.pairs.start->value);
	if (!yaml_is_seq(sets))
		return PERR(d, err, sets, "flowsets: expected a list, found %s",
			    yaml_describe(sets, tmp, sizeof(tmp)));
	ff->sets = calloc(yaml_seq_len(sets) ?: 1, sizeof(*ff->sets));
	if (!ff->sets)
		return -ENOMEM;
	yaml_seq_for_each(d, sets, item, set) {
		struct flowfile_set *fs = &ff->sets[ff->n_sets];
		yaml_node_t *idn = NULL, *flows = NULL, *flow, *k, *v;
		struct ipfix_plan plan;
		yaml_node_pair_t *pair;
		uint32_t id;

		if (!yaml_is_map(set))
			return PERR(d, err, set,
				    "flowset: expected a mapping, found %s",
				    yaml_describe(set, tmp, sizeof(tmp)));
		ret = yaml_check_keys(d, err, set, "flowset", set_keys);
		if (ret)
			return ret;
		yaml_map_for_each(d, set, pair, k, v) {
			if (!strcmp(yaml_str(k), "templateId"))
				idn = v;
			else
				flows = v;
		}
		if (!idn)
			return PERR(d, err, set, "flowset: missing key 'templateId'");
		if (!flows)
			return PERR(d, err, set, "flowset: missing key 'flows'");
		ret = yaml_get_u32(d, err, idn, "templateId", 256, 65535, &id);
		if (ret)
			return ret;
		if (config_template_plan(cfg, id, &plan) ||
		    id >= IPFIX_TID_EXPORTING_STATS)
			return PERR(d, err, idn,
				    "templateId: no template %u in %s", id,
				    cfg->file);
		if (!yaml_is_seq(flows))
			return PERR(d, err, flows, "flows: expected a list, found %s",
				    yaml_describe(flows, tmp, sizeof(tmp)));
		fs->template_id = id;
		ff->n_sets++;
		if (yaml_seq_len(flows) > FLOWFILE_MAX_RECORDS - ff->n_records)
			return PERR(d, err, flows,
				    "flows: the flow file has more than %d flows (aliases included); split it",
				    FLOWFILE_MAX_RECORDS);
		fs->records = calloc(yaml_seq_len(flows) ?: 1,
				     sizeof(*fs->records));
		if (!fs->records)
			return -ENOMEM;
		yaml_seq_for_each(d, flows, fitem, flow) {
			struct flowfile_record *r = &fs->records[fs->n_records];

			ret = encode_flow(d, err, cfg, &plan, flow, r);
			if (ret)
				return ret;
			fs->n_records++;
			ff->n_records++;
			ff->n_bytes += r->len;
			if (ff->n_bytes > FLOWFILE_MAX_BYTES)
				return PERR(d, err, flow,
					    "flow: the records of the flow file take more than %u MiB at flow %zu of flowset %zu (aliases included); split it",
					    FLOWFILE_MAX_BYTES >> 20,
					    fs->n_records, ff->n_sets);
		}
	}
	return 0;
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
		ret = parse_flowfile(&d, e, cfg, ff);
		yaml_doc_free(&d);
	}
	if (ret) {
		if (ret == -ENOMEM)
			snprintf(e->text, sizeof(e->text), "%s: out of memory",
				 name);
		if (!err)
			pr_err("%s", e->text);
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
