// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness: the IPFIX encoder (lib/ipfix/ipfix.c) and the value encoder
 * of flow files (ipfix_value_encode, lib/config/flowfile.c).
 *
 * The input's first bytes make a template: a field count, then per field an
 * element (the IANA registry of lib/ipfix/ipfix_ie.c, or an enterprise element
 * for each source flowctl can export) and a length (its default, 1..16,
 * variable, or large).  The rest is a little program of operations on
 * messages of an input-chosen maximum length, in a buffer of exactly that
 * size: add the template, add a data record of an arbitrary flow_record
 * (any netns string), add a record encoded from arbitrary value texts,
 * add an options record of another template, finish the message.
 *
 * Every finished message is parsed here, independently: header (version,
 * length = what ipfix_msg_finish returned, domain), set lengths adding up
 * to the message, template records equal to ipfix_plan_template_record,
 * every data record walked field by field (variable-length prefixes) and
 * equal to the bytes that were encoded for it, in order, and padding only
 * between sets, zero, shorter than a record.
 *
 * Templates whose records cannot fit a message (finding ipfix-1 of
 * docs/fuzzing.md, fixed) must be refused by ipfix_plan_compile().
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flowfile.h"
#include "ipfix.h"
#include "ipfix_ie.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PEN		99999
#define VALUE_ROOM	(3 + 65535)	/* what ipfix_value_encode may write */
#define MAX_EXPECT	(1 << 20)

struct input {
	const uint8_t *p;
	size_t left;
};

static int take(struct input *in, void *dst, size_t n)
{
	if (in->left < n)
		return -1;
	memcpy(dst, in->p, n);
	in->p += n;
	in->left -= n;
	return 0;
}

static unsigned int take8(struct input *in)
{
	uint8_t b = 0;

	take(in, &b, 1);
	return b;
}

static unsigned int take16(struct input *in)
{
	return take8(in) << 8 | take8(in);
}

/* What a message must hold, in order: template records and data records
 * (with their set id), as encoded. */
struct expect {
	uint8_t *buf;
	size_t len;
	uint32_t n_records;
	uint32_t n_templates;
};

static void expect_add(struct expect *e, uint16_t set_id, const uint8_t *rec,
		       size_t len)
{
	if (e->len + 4 + len > MAX_EXPECT)
		abort();
	e->buf[e->len] = set_id >> 8;
	e->buf[e->len + 1] = set_id & 0xff;
	e->buf[e->len + 2] = len >> 8;
	e->buf[e->len + 3] = len & 0xff;
	memcpy(e->buf + e->len + 4, rec, len);
	e->len += 4 + len;
}

static uint16_t be16(const uint8_t *p)
{
	return p[0] << 8 | p[1];
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)be16(p) << 16 | be16(p + 2);
}

/* Length of the data record of PLAN at P (AVAIL octets), 0 if it does not
 * fit. */
static size_t record_len(const struct ipfix_plan *plan, const uint8_t *p,
			 size_t avail)
{
	size_t off = 0;
	unsigned int i;

	for (i = 0; i < plan->n_fields; i++) {
		size_t n = plan->fields[i].length;

		if (n == IPFIX_VARLEN) {
			if (off + 1 > avail)
				return 0;
			n = p[off++];
			if (n == 255) {
				if (off + 2 > avail)
					return 0;
				n = be16(p + off);
				off += 2;
			}
		}
		off += n;
		if (off > avail)
			return 0;
	}
	return off;
}

static void check_message(const uint8_t *msg, uint16_t len,
			  const struct ipfix_msg *m, uint16_t max_len,
			  uint32_t domain, const struct ipfix_plan *const *plans,
			  unsigned int n_plans, const struct expect *e)
{
	size_t off = IPFIX_MSG_HDR_LEN, eoff = 0;
	uint32_t records = 0, templates = 0;

	if (len != m->len || len > max_len || len < IPFIX_MSG_HDR_LEN)
		abort();
	if (be16(msg) != IPFIX_VERSION || be16(msg + 2) != len ||
	    be32(msg + 12) != domain)
		abort();
	while (off < len) {
		uint16_t id, slen;
		size_t end, pos, min = 0;
		const struct ipfix_plan *plan = NULL;
		unsigned int i;

		if (off + IPFIX_SET_HDR_LEN > len)
			abort();	/* a set header cut short */
		id = be16(msg + off);
		slen = be16(msg + off + 2);
		if (slen < IPFIX_SET_HDR_LEN || off + slen > len)
			abort();	/* set length inconsistent */
		end = off + slen;
		pos = off + IPFIX_SET_HDR_LEN;
		if (pos == end)
			abort();	/* an empty set */
		for (;;) {
			const uint8_t *rec;
			size_t rlen, want_len;
			uint16_t want_id;

			if (eoff == e->len)
				break;
			want_id = be16(e->buf + eoff);
			want_len = be16(e->buf + eoff + 2);
			rec = e->buf + eoff + 4;
			if (want_id != id)
				break;	/* the next record is another set's */
			if (id == IPFIX_SET_ID_TEMPLATE ||
			    id == IPFIX_SET_ID_OPTIONS_TEMPLATE) {
				rlen = want_len;
				min = id == IPFIX_SET_ID_TEMPLATE ? 4 : 6;
				templates++;
			} else {
				for (i = 0; i < n_plans; i++)
					if (plans[i]->id == id)
						plan = plans[i];
				if (!plan)
					abort();
				min = plan->min_record_len;
				rlen = record_len(plan, msg + pos, end - pos);
				if (!rlen || rlen != want_len)
					abort();	/* record length */
				records++;
			}
			if (pos + rlen > end || memcmp(msg + pos, rec, rlen))
				abort();	/* not what was encoded */
			pos += rlen;
			eoff += 4 + want_len;
			if (id == IPFIX_SET_ID_OPTIONS_TEMPLATE)
				break;	/* one per set */
		}
		if (pos == off + IPFIX_SET_HDR_LEN)
			abort();	/* a set none of the records went to */
		/* padding: only before another set, zero, short */
		if (pos != end) {
			if (end == len || end - pos >= min || end - pos > 3 ||
			    end % 4)
				abort();
			for (; pos < end; pos++)
				if (msg[pos])
					abort();
		}
		off = end;
	}
	if (off != len || eoff != e->len || records != m->n_data ||
	    templates != m->n_templates || records != e->n_records ||
	    templates != e->n_templates)
		abort();
}

static const uint16_t lengths[] = {
	0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
	IPFIX_VARLEN, 255, 1000, 65000,
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct ipfix_ie ent[64];
	struct ipfix_field fields[IPFIX_MAX_FIELDS];
	struct ipfix_plan plan, v4, stats;
	const struct ipfix_plan *plans[3] = { &plan, &v4, &stats };
	const struct ipfix_ie *table;
	const struct ipfix_source_info *src;
	size_t n_table, n_src, i, total;
	unsigned int n, n_scope, b;
	uint16_t max_len, need;
	uint32_t domain;
	struct expect e = { 0 };
	static uint8_t rec[IPFIX_MAX_MSG_LEN], val[VALUE_ROOM];
	static uint8_t expect_buf[MAX_EXPECT];
	uint8_t *msg;
	struct ipfix_msg m;
	unsigned int ops = 0;

	table = ipfix_ie_table(&n_table);
	src = ipfix_source_table(&n_src);
	if (n_src > N(ent))
		abort();
	for (i = 0; i < n_src; i++) {
		ent[i] = (struct ipfix_ie){
			.name = src[i].name, .pen = PEN, .id = i + 1,
			.length = src[i].length, .type = src[i].type,
			.source = src[i].source,
		};
	}

	/* the template */
	b = take8(&in);
	n = b % IPFIX_MAX_FIELDS + 1;
	n_scope = b & 0x80 ? take8(&in) % n + 1 : 0;
	for (i = 0; i < n; i++) {
		unsigned int which = take8(&in) % (n_table + n_src);
		unsigned int len = take8(&in) % N(lengths);

		fields[i].ie = which < n_table ? &table[which] :
						 &ent[which - n_table];
		fields[i].length = lengths[len] ?: fields[i].ie->length;
	}
	total = 0;
	for (i = 0; i < n; i++)
		total += fields[i].length == IPFIX_VARLEN ?
			 1 : fields[i].length;
	if (ipfix_plan_compile(&plan, 256 + take8(&in), fields, n, n_scope))
		return 0;
	/* ipfix-1: a record too long for 16 bits never compiles */
	if (total > IPFIX_MAX_RECORD_LEN || plan.min_record_len != total)
		abort();
	if (plan.min_record_len > plan.max_record_len ||
	    plan.n_fields != n)
		abort();
	if (ipfix_plan_default_v4(&v4) || ipfix_plan_exporting_stats(&stats))
		abort();
	plan.exporting_process_id = take16(&in);

	/* the message size: at least one of each record */
	need = IPFIX_MSG_HDR_LEN + IPFIX_SET_HDR_LEN + 64;
	if (plan.max_record_len + IPFIX_MSG_HDR_LEN + IPFIX_SET_HDR_LEN >
	    need)
		need = plan.max_record_len + IPFIX_MSG_HDR_LEN +
		       IPFIX_SET_HDR_LEN;
	if (plan.template_record_len + IPFIX_MSG_HDR_LEN + IPFIX_SET_HDR_LEN >
	    need)
		need = plan.template_record_len + IPFIX_MSG_HDR_LEN +
		       IPFIX_SET_HDR_LEN;
	max_len = take16(&in);
	if (max_len < need)
		max_len = need;
	domain = take16(&in);

	/* exactly max_len: a write past the message's end is caught */
	msg = malloc(max_len);
	if (!msg)
		abort();
	e.buf = expect_buf;
	ipfix_msg_begin(&m, msg, max_len, domain);

	while (in.left && ops++ < 256) {
		unsigned int op = take8(&in) % 6;
		const struct ipfix_plan *p = &plan;
		size_t rlen = 0;
		int ret;

		switch (op) {
		case 0: {	/* a template record */
			const struct ipfix_plan *tp = take8(&in) & 1 ?
				&plan : &stats;

			if (ipfix_plan_template_record(tp, rec) !=
			    tp->template_record_len)
				abort();
			ret = ipfix_msg_add_template(&m, tp);
			if (ret == -ENOSPC) {
				if (ipfix_msg_empty(&m))
					abort();	/* never fits */
				goto finish;
			}
			if (ret)
				abort();
			expect_add(&e, tp->n_scope ?
				   IPFIX_SET_ID_OPTIONS_TEMPLATE :
				   IPFIX_SET_ID_TEMPLATE, rec,
				   tp->template_record_len);
			e.n_templates++;
			continue;
		}
		case 1:		/* a data record of an arbitrary flow */
		case 2: {
			struct flow_record r;
			char netns[300];
			unsigned int nl;

			memset(&r, 0, sizeof(r));
			take(&in, &r, offsetof(struct flow_record, netns));
			nl = take8(&in) + (op == 2 ? 45 : 0);
			memset(netns, 'n', sizeof(netns));
			if (nl > in.left)
				nl = in.left;
			take(&in, netns, nl);
			netns[nl < sizeof(netns) ? nl : sizeof(netns) - 1] = 0;
			r.netns = take8(&in) & 1 ? netns : NULL;
			if (op == 2)
				p = &v4;
			rlen = ipfix_plan_encode(p, &r, rec);
			if (rlen != ipfix_plan_record_len(p, &r) ||
			    rlen < p->min_record_len ||
			    rlen > p->max_record_len)
				abort();
			ret = ipfix_msg_add_record(&m, p, &r);
			break;
		}
		case 3: {	/* a record from value texts */
			for (i = 0; i < plan.n_fields; i++) {
				const struct ipfix_field *f = &plan.fields[i];
				unsigned int tl = take8(&in);
				char text[256];
				int vn;

				if (tl > in.left)
					tl = in.left;
				take(&in, text, tl);
				text[tl] = 0;
				vn = ipfix_value_encode(f->ie, f->length, text,
							val);
				if (vn < 0) {
					if (vn != -EINVAL && vn != -ERANGE)
						abort();
					/* left out: zero, or empty */
					vn = f->length == IPFIX_VARLEN ?
						1 : f->length;
					memset(val, 0, vn);
				} else if (f->length != IPFIX_VARLEN &&
					   vn != f->length) {
					abort();	/* wrong size */
				}
				if (vn > VALUE_ROOM)
					abort();
				if (rlen + vn > IPFIX_MAX_MSG_LEN)
					break;
				memcpy(rec + rlen, val, vn);
				rlen += vn;
			}
			if (i < plan.n_fields ||
			    rlen + IPFIX_MSG_HDR_LEN + IPFIX_SET_HDR_LEN >
			    max_len)
				continue;	/* too long for any message */
			if (record_len(&plan, rec, rlen) != rlen)
				abort();
			ret = ipfix_msg_add_encoded(&m, &plan, rec, rlen);
			break;
		}
		case 4: {	/* an options record */
			struct ipfix_exporting_stats s;

			memset(&s, 0, sizeof(s));
			take(&in, &s, sizeof(s));
			p = &stats;
			rlen = ipfix_encode_exporting_stats(&s, rec);
			if (rlen != stats.min_record_len)
				abort();
			ret = ipfix_msg_add_encoded(&m, p, rec, rlen);
			break;
		}
		default:
			goto finish;
		}
		if (ret == -ENOSPC) {
			if (ipfix_msg_empty(&m))
				abort();	/* fits no message */
			goto finish;
		}
		if (ret)
			abort();
		expect_add(&e, p->id, rec, rlen);
		e.n_records++;
		continue;
finish:
		check_message(msg, ipfix_msg_finish(&m, 1700000000, 7), &m,
			      max_len, domain, plans, 3, &e);
		e.len = e.n_records = e.n_templates = 0;
		ipfix_msg_begin(&m, msg, max_len, domain);
	}
	check_message(msg, ipfix_msg_finish(&m, 1700000000, 7), &m, max_len,
		      domain, plans, 3, &e);
	free(msg);
	return 0;
}
