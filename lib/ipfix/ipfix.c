// SPDX-License-Identifier: Apache-2.0
/*
 * IPFIX encoding (RFC 7011): encode plans compiled from templates, and
 * messages packed from sets.  This is the hot path of the exporter: one
 * switch per field, no lookups, no allocation.
 */
#include "ipfix.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "strescape.h"

#define IPPROTO_ICMP_NUM	1
#define IPPROTO_TCP_NUM		6
#define IPPROTO_UDP_NUM		17
#define IPPROTO_ICMPV6_NUM	58

/* Operations beyond the enum ipfix_source values (which encode a source
 * at its natural width). */
enum {
	IPFIX_OP_ZERO = IPFIX_SRC_MAX,	/* not measured: zeros */
	IPFIX_OP_ZERO_VARLEN,		/* not measured, variable: length 0 */
	IPFIX_OP_REDUCED,		/* unsigned source, fewer octets */
	IPFIX_OP_STRING_VARLEN,		/* netns name, variable length */
	IPFIX_OP_STRING_FIXED,		/* netns name, zero-padded */
};

/* Natural width of the value of each source (0: not an unsigned). */
static const uint8_t source_width[IPFIX_SRC_MAX] = {
	[IPFIX_SRC_OCTETS] = 8,
	[IPFIX_SRC_PACKETS] = 8,
	[IPFIX_SRC_PROTO] = 1,
	[IPFIX_SRC_TOS] = 1,
	[IPFIX_SRC_DSCP] = 1,
	[IPFIX_SRC_PRECEDENCE] = 1,
	[IPFIX_SRC_SPORT] = 2,
	[IPFIX_SRC_DPORT] = 2,
	[IPFIX_SRC_TCP_SPORT] = 2,
	[IPFIX_SRC_TCP_DPORT] = 2,
	[IPFIX_SRC_UDP_SPORT] = 2,
	[IPFIX_SRC_UDP_DPORT] = 2,
	[IPFIX_SRC_INGRESS_IF] = 4,
	[IPFIX_SRC_EGRESS_IF] = 4,
	[IPFIX_SRC_START_S] = 4,
	[IPFIX_SRC_END_S] = 4,
	[IPFIX_SRC_START_MS] = 8,
	[IPFIX_SRC_END_MS] = 8,
	[IPFIX_SRC_DURATION_MS] = 4,
	[IPFIX_SRC_DURATION_US] = 4,
	[IPFIX_SRC_TCP_FLAGS] = 2,
	[IPFIX_SRC_ICMP_V4] = 2,
	[IPFIX_SRC_ICMP_V6] = 2,
	[IPFIX_SRC_ICMP_TYPE_V4] = 1,
	[IPFIX_SRC_ICMP_CODE_V4] = 1,
	[IPFIX_SRC_ICMP_TYPE_V6] = 1,
	[IPFIX_SRC_ICMP_CODE_V6] = 1,
	[IPFIX_SRC_NEXT_HEADER_V6] = 1,
	[IPFIX_SRC_MIN_TTL] = 1,
	[IPFIX_SRC_MAX_TTL] = 1,
	[IPFIX_SRC_VLAN] = 2,
	[IPFIX_SRC_END_REASON] = 1,
	[IPFIX_SRC_DIRECTION] = 1,
	[IPFIX_SRC_OBS_DOMAIN] = 4,
	[IPFIX_SRC_EXPORTING_PROCESS] = 4,
	[IPFIX_SRC_IP_VERSION] = 1,
	[IPFIX_SRC_MARK] = 4,
	[IPFIX_SRC_FINISHED] = 1,
};

static inline void put_be16(uint8_t *p, uint16_t v)
{
	v = htobe16(v);
	memcpy(p, &v, sizeof(v));
}

static inline void put_be32(uint8_t *p, uint32_t v)
{
	v = htobe32(v);
	memcpy(p, &v, sizeof(v));
}

static inline void put_be64(uint8_t *p, uint64_t v)
{
	v = htobe64(v);
	memcpy(p, &v, sizeof(v));
}

uint64_t ipfix_ntp_from_unix_ns(uint64_t ns)
{
	uint64_t sec = ns / 1000000000ULL + IPFIX_NTP_UNIX_OFFSET;
	/* rounded to the nearest 2^-32 s: ns survive a round trip */
	uint64_t frac = (((ns % 1000000000ULL) << 32) + 500000000ULL) /
			1000000000ULL;

	return (sec << 32) | frac;
}

/* dateTimeMicroseconds: NTP format with the microsecond part only; the
 * low 11 bits of the fraction are zero (RFC 7011 6.1.9). */
uint64_t ipfix_ntp_us_from_unix_ns(uint64_t ns)
{
	uint64_t us = ns / 1000ULL;
	uint64_t sec = us / 1000000ULL + IPFIX_NTP_UNIX_OFFSET;
	uint64_t frac = (((us % 1000000ULL) << 32) + 500000ULL) / 1000000ULL;

	return (sec << 32) | (frac & 0xfffff800ULL);
}

static inline uint16_t icmp_typecode(const struct flow_record *r, int version)
{
	uint8_t proto = version == 4 ? IPPROTO_ICMP_NUM : IPPROTO_ICMPV6_NUM;

	return r->ip_version == version && r->proto == proto ? r->dport : 0;
}

/* The value of an unsigned source; used for reduced-size encodings. */
static uint64_t source_uint(const struct ipfix_plan *p, uint8_t src,
			    const struct flow_record *r)
{
	switch (src) {
	case IPFIX_SRC_OCTETS: return r->octets;
	case IPFIX_SRC_PACKETS: return r->packets;
	case IPFIX_SRC_PROTO: return r->proto;
	case IPFIX_SRC_TOS: return r->tos;
	case IPFIX_SRC_DSCP: return r->tos >> 2;
	case IPFIX_SRC_PRECEDENCE: return r->tos >> 5;
	case IPFIX_SRC_SPORT: return r->sport;
	case IPFIX_SRC_DPORT: return r->dport;
	case IPFIX_SRC_TCP_SPORT:
		return r->proto == IPPROTO_TCP_NUM ? r->sport : 0;
	case IPFIX_SRC_TCP_DPORT:
		return r->proto == IPPROTO_TCP_NUM ? r->dport : 0;
	case IPFIX_SRC_UDP_SPORT:
		return r->proto == IPPROTO_UDP_NUM ? r->sport : 0;
	case IPFIX_SRC_UDP_DPORT:
		return r->proto == IPPROTO_UDP_NUM ? r->dport : 0;
	case IPFIX_SRC_INGRESS_IF: return r->ingress_ifindex;
	case IPFIX_SRC_EGRESS_IF: return r->egress_ifindex;
	case IPFIX_SRC_START_S: return r->start_ns / 1000000000ULL;
	case IPFIX_SRC_END_S: return r->end_ns / 1000000000ULL;
	case IPFIX_SRC_START_MS: return r->start_ns / 1000000ULL;
	case IPFIX_SRC_END_MS: return r->end_ns / 1000000ULL;
	case IPFIX_SRC_DURATION_MS:
		return r->end_ns > r->start_ns ?
			(r->end_ns - r->start_ns) / 1000000ULL : 0;
	case IPFIX_SRC_DURATION_US:
		return r->end_ns > r->start_ns ?
			(r->end_ns - r->start_ns) / 1000ULL : 0;
	case IPFIX_SRC_TCP_FLAGS: return r->tcp_flags;
	case IPFIX_SRC_ICMP_V4: return icmp_typecode(r, 4);
	case IPFIX_SRC_ICMP_V6: return icmp_typecode(r, 6);
	case IPFIX_SRC_ICMP_TYPE_V4: return icmp_typecode(r, 4) >> 8;
	case IPFIX_SRC_ICMP_CODE_V4: return icmp_typecode(r, 4) & 0xff;
	case IPFIX_SRC_ICMP_TYPE_V6: return icmp_typecode(r, 6) >> 8;
	case IPFIX_SRC_ICMP_CODE_V6: return icmp_typecode(r, 6) & 0xff;
	case IPFIX_SRC_NEXT_HEADER_V6:
		return r->ip_version == 6 ? r->proto : 0;
	case IPFIX_SRC_MIN_TTL: return r->min_ttl;
	case IPFIX_SRC_MAX_TTL: return r->max_ttl;
	case IPFIX_SRC_VLAN: return r->vlan_id;
	case IPFIX_SRC_END_REASON: return r->end_reason;
	case IPFIX_SRC_DIRECTION: return r->direction;
	case IPFIX_SRC_OBS_DOMAIN: return r->obs_domain_id;
	case IPFIX_SRC_EXPORTING_PROCESS: return p->exporting_process_id;
	case IPFIX_SRC_IP_VERSION: return r->ip_version;
	case IPFIX_SRC_MARK: return r->mark;
	case IPFIX_SRC_FINISHED: return r->finished;
	default: return 0;
	}
}

/* Big-endian in LEN octets; a value too large for them saturates (a
 * reduced-size counter must not wrap to a small number). */
static void put_uint_n(uint8_t *p, uint64_t v, unsigned int len)
{
	unsigned int i;

	if (len < 8 && v >> (8 * len))
		v = (1ULL << (8 * len)) - 1;
	for (i = len; i > 0; i--) {
		p[i - 1] = v & 0xff;
		v >>= 8;
	}
}

/*
 * The namespace name as an IPFIX string: a name is any bytes, a string
 * must be UTF-8 (RFC 7011 6.1.6), so invalid bytes become U+FFFD and a cut
 * never splits a character.  Writes at most CAP bytes to BUF (NULL: only
 * counts them).
 */
static size_t netns_string(const struct flow_record *r, char *buf, size_t cap)
{
	return r->netns ? str_utf8_copy(buf, cap, r->netns) : 0;
}

int ipfix_plan_compile(struct ipfix_plan *plan, uint16_t id,
		       const struct ipfix_field *fields, unsigned int n,
		       unsigned int n_scope)
{
	unsigned int i, min = 0, max = 0, tlen;

	if (n == 0 || n > IPFIX_MAX_FIELDS || n_scope > n ||
	    id < IPFIX_MIN_DATA_SET_ID)
		return -EINVAL;
	memset(plan, 0, sizeof(*plan));
	plan->id = id;
	plan->n_fields = n;
	plan->n_scope = n_scope;
	tlen = n_scope ? 6 : 4;
	for (i = 0; i < n; i++) {
		const struct ipfix_ie *ie = fields[i].ie;
		uint16_t len = fields[i].length;
		struct ipfix_op *op = &plan->ops[i];
		uint8_t src = ie->source;
		int v;

		if (len != IPFIX_VARLEN && !ipfix_type_length_ok(ie->type, len))
			return -EINVAL;
		if (len == IPFIX_VARLEN && ie->type != IPFIX_T_STRING &&
		    ie->type != IPFIX_T_OCTET_ARRAY)
			return -EINVAL;
		plan->fields[i] = fields[i];
		op->source = src;
		op->len = len == IPFIX_VARLEN ? 0 : len;
		tlen += ie->pen ? 8 : 4;
		v = ipfix_type_addr_version(ie->type);
		if (v == 4)
			plan->addr_versions |= IPFIX_ADDR_V4;
		else if (v == 6)
			plan->addr_versions |= IPFIX_ADDR_V6;

		if (len == IPFIX_VARLEN) {
			plan->variable = true;
			op->kind = src == IPFIX_SRC_NETNS ?
				IPFIX_OP_STRING_VARLEN : IPFIX_OP_ZERO_VARLEN;
			min += 1;
			max += src == IPFIX_SRC_NETNS ?
				1 + IPFIX_MAX_VARLEN_STRING : 1;
			continue;
		}
		min += len;
		max += len;
		if (src == IPFIX_SRC_NONE)
			op->kind = IPFIX_OP_ZERO;
		else if (src == IPFIX_SRC_NETNS)
			op->kind = IPFIX_OP_STRING_FIXED;
		else if (source_width[src] == len)
			op->kind = src;
		else if (source_width[src] > len)
			op->kind = IPFIX_OP_REDUCED;
		else if (source_width[src] == 0 && (len == 4 || len == 16))
			op->kind = src;	/* addresses */
		else if (source_width[src] == 0 && len == 8)
			op->kind = src;	/* NTP timestamps */
		else
			return -EINVAL;
	}
	/* 60 fields of up to 65534 octets: the sums need more than 16 bits */
	if (max > IPFIX_MAX_RECORD_LEN)
		return -EMSGSIZE;
	plan->min_record_len = min;
	plan->max_record_len = max;
	plan->template_record_len = tlen;
	return 0;
}

size_t ipfix_plan_record_len(const struct ipfix_plan *plan,
			     const struct flow_record *r)
{
	size_t len = plan->min_record_len;
	unsigned int i;

	if (!plan->variable)
		return len;
	for (i = 0; i < plan->n_fields; i++)
		if (plan->ops[i].kind == IPFIX_OP_STRING_VARLEN)
			len += netns_string(r, NULL,
					   IPFIX_MAX_VARLEN_STRING);
	return len;
}

static inline size_t encode_record(const struct ipfix_plan *plan,
				   const struct flow_record *r, uint8_t *out)
{
	const struct ipfix_op *op = plan->ops;
	const struct ipfix_op *end = op + plan->n_fields;
	uint8_t *o = out;

	for (; op < end; o += op->len, op++) {
		switch (op->kind) {
		case IPFIX_SRC_OCTETS:
			put_be64(o, r->octets);
			break;
		case IPFIX_SRC_PACKETS:
			put_be64(o, r->packets);
			break;
		case IPFIX_SRC_PROTO:
			*o = r->proto;
			break;
		case IPFIX_SRC_TOS:
			*o = r->tos;
			break;
		case IPFIX_SRC_SPORT:
			put_be16(o, r->sport);
			break;
		case IPFIX_SRC_DPORT:
			put_be16(o, r->dport);
			break;
		case IPFIX_SRC_SRC_V4:
			memcpy(o, r->src_addr + 12, 4);
			break;
		case IPFIX_SRC_DST_V4:
			memcpy(o, r->dst_addr + 12, 4);
			break;
		case IPFIX_SRC_SRC_V6:
			memcpy(o, r->src_addr, 16);
			break;
		case IPFIX_SRC_DST_V6:
			memcpy(o, r->dst_addr, 16);
			break;
		case IPFIX_SRC_INGRESS_IF:
			put_be32(o, r->ingress_ifindex);
			break;
		case IPFIX_SRC_EGRESS_IF:
			put_be32(o, r->egress_ifindex);
			break;
		case IPFIX_SRC_START_MS:
			put_be64(o, r->start_ns / 1000000ULL);
			break;
		case IPFIX_SRC_END_MS:
			put_be64(o, r->end_ns / 1000000ULL);
			break;
		case IPFIX_SRC_START_S:
			put_be32(o, r->start_ns / 1000000000ULL);
			break;
		case IPFIX_SRC_END_S:
			put_be32(o, r->end_ns / 1000000000ULL);
			break;
		case IPFIX_SRC_START_NS:
			put_be64(o, ipfix_ntp_from_unix_ns(r->start_ns));
			break;
		case IPFIX_SRC_END_NS:
			put_be64(o, ipfix_ntp_from_unix_ns(r->end_ns));
			break;
		case IPFIX_SRC_START_US:
			put_be64(o, ipfix_ntp_us_from_unix_ns(r->start_ns));
			break;
		case IPFIX_SRC_END_US:
			put_be64(o, ipfix_ntp_us_from_unix_ns(r->end_ns));
			break;
		case IPFIX_SRC_TCP_FLAGS:
			put_be16(o, r->tcp_flags);
			break;
		case IPFIX_SRC_MIN_TTL:
			*o = r->min_ttl;
			break;
		case IPFIX_SRC_MAX_TTL:
			*o = r->max_ttl;
			break;
		case IPFIX_SRC_VLAN:
			put_be16(o, r->vlan_id);
			break;
		case IPFIX_SRC_END_REASON:
			*o = r->end_reason;
			break;
		case IPFIX_SRC_DIRECTION:
			*o = r->direction;
			break;
		case IPFIX_SRC_IP_VERSION:
			*o = r->ip_version;
			break;
		case IPFIX_SRC_OBS_DOMAIN:
			put_be32(o, r->obs_domain_id);
			break;
		case IPFIX_OP_ZERO:
			memset(o, 0, op->len);
			break;
		case IPFIX_OP_ZERO_VARLEN:
			*o++ = 0;
			break;
		case IPFIX_OP_STRING_VARLEN: {
			size_t n = netns_string(r, (char *)o + 1,
						IPFIX_MAX_VARLEN_STRING);

			*o++ = n;
			o += n;
			break;
		}
		case IPFIX_OP_STRING_FIXED:
			memset(o, 0, op->len);
			netns_string(r, (char *)o, op->len);
			break;
		case IPFIX_OP_REDUCED:
			put_uint_n(o, source_uint(plan, op->source, r), op->len);
			break;
		default:
			/* the other unsigned sources at their natural width */
			put_uint_n(o, source_uint(plan, op->kind, r), op->len);
			break;
		}
	}
	return o - out;
}

size_t ipfix_plan_encode(const struct ipfix_plan *plan,
			 const struct flow_record *r, uint8_t *out)
{
	return encode_record(plan, r, out);
}

size_t ipfix_plan_template_record(const struct ipfix_plan *plan, uint8_t *out)
{
	uint8_t *o = out;
	unsigned int i;

	put_be16(o, plan->id);
	put_be16(o + 2, plan->n_fields);
	o += 4;
	if (plan->n_scope) {
		put_be16(o, plan->n_scope);
		o += 2;
	}
	for (i = 0; i < plan->n_fields; i++) {
		const struct ipfix_ie *ie = plan->fields[i].ie;

		put_be16(o, ie->pen ? (ie->id | 0x8000) : ie->id);
		put_be16(o + 2, plan->fields[i].length);
		o += 4;
		if (ie->pen) {
			put_be32(o, ie->pen);
			o += 4;
		}
	}
	return o - out;
}

static int plan_from_ids(struct ipfix_plan *plan, uint16_t tid,
			 const uint16_t *ids, unsigned int n,
			 unsigned int n_scope)
{
	struct ipfix_field f[IPFIX_MAX_FIELDS];
	unsigned int i;

	for (i = 0; i < n; i++) {
		f[i].ie = ipfix_ie_by_id(ids[i]);
		if (!f[i].ie)
			return -EINVAL;
		f[i].length = f[i].ie->length;
	}
	return ipfix_plan_compile(plan, tid, f, n, n_scope);
}

/*
 * The built-in default templates (the same elements as the templates of
 * templates/config.yaml): what the meter measures, per IP version.
 */
static const uint16_t default_v4_ids[] = {
	152, 153,	/* flowStartMilliseconds, flowEndMilliseconds */
	1, 2,		/* octetDeltaCount, packetDeltaCount */
	8, 12,		/* sourceIPv4Address, destinationIPv4Address */
	7, 11,		/* sourceTransportPort, destinationTransportPort */
	4, 5, 6,	/* protocolIdentifier, ipClassOfService, tcpControlBits */
	32,		/* icmpTypeCodeIPv4 */
	10, 14,		/* ingressInterface, egressInterface */
	61, 136,	/* flowDirection, flowEndReason */
	52, 53,		/* minimumTTL, maximumTTL */
	58,		/* vlanId */
};

static const uint16_t default_v6_ids[] = {
	152, 153, 1, 2,
	27, 28,		/* sourceIPv6Address, destinationIPv6Address */
	7, 11, 4, 5, 6,
	139,		/* icmpTypeCodeIPv6 */
	10, 14, 61, 136, 52, 53, 58,
};

static const uint16_t exporting_stats_ids[] = {
	IPFIX_IE_EXPORTING_PROCESS_ID,
	IPFIX_IE_EXPORTED_MESSAGE_TOTAL_COUNT,
	IPFIX_IE_EXPORTED_FLOW_RECORD_TOTAL_COUNT,
	IPFIX_IE_EXPORTED_OCTET_TOTAL_COUNT,
	IPFIX_IE_NOT_SENT_FLOW_TOTAL_COUNT,
	IPFIX_IE_NOT_SENT_PACKET_TOTAL_COUNT,
	IPFIX_IE_NOT_SENT_OCTET_TOTAL_COUNT,
};

static const uint16_t metering_stats_ids[] = {
	IPFIX_IE_OBSERVATION_DOMAIN_ID,
	IPFIX_IE_IGNORED_PACKET_TOTAL_COUNT,
	IPFIX_IE_IGNORED_OCTET_TOTAL_COUNT,
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

int ipfix_plan_default_v4(struct ipfix_plan *plan)
{
	return plan_from_ids(plan, IPFIX_TID_DEFAULT_V4, default_v4_ids,
			     N(default_v4_ids), 0);
}

int ipfix_plan_default_v6(struct ipfix_plan *plan)
{
	return plan_from_ids(plan, IPFIX_TID_DEFAULT_V6, default_v6_ids,
			     N(default_v6_ids), 0);
}

int ipfix_plan_exporting_stats(struct ipfix_plan *plan)
{
	return plan_from_ids(plan, IPFIX_TID_EXPORTING_STATS,
			     exporting_stats_ids, N(exporting_stats_ids), 1);
}

int ipfix_plan_metering_stats(struct ipfix_plan *plan)
{
	return plan_from_ids(plan, IPFIX_TID_METERING_STATS,
			     metering_stats_ids, N(metering_stats_ids), 1);
}

unsigned int ipfix_plan_measured(const struct ipfix_plan *plan)
{
	unsigned int i, n = 0;

	for (i = 0; i < plan->n_fields; i++)
		if (plan->fields[i].ie->source != IPFIX_SRC_NONE)
			n++;
	return n;
}

/* Does P rank before BEST: more measured fields, or as many and a lower id? */
static bool choice_better(const struct ipfix_plan *p, unsigned int m,
			  const struct ipfix_plan *best, unsigned int best_m)
{
	return !best || m > best_m || (m == best_m && p->id < best->id);
}

int ipfix_plan_choose(const struct ipfix_plan *plans, size_t n, int version,
		      uint16_t pinned, struct ipfix_plan_choice *choice)
{
	uint8_t other = version == 6 ? IPFIX_ADDR_V4 : IPFIX_ADDR_V6;
	const struct ipfix_plan *best = NULL;
	unsigned int best_m = 0;
	size_t i;

	memset(choice, 0, sizeof(*choice));
	choice->version = version == 6 ? 6 : 4;
	for (i = 0; i < n; i++) {
		const struct ipfix_plan *p = &plans[i];
		unsigned int m = ipfix_plan_measured(p);

		if (p->addr_versions & other)
			continue;
		choice->n_candidates++;
		if (choice_better(p, m, best, best_m)) {
			best = p;
			best_m = m;
		}
	}
	if (pinned) {
		for (i = 0; i < n && plans[i].id != pinned; i++)
			;
		if (i == n)
			return -ENOENT;
		if (plans[i].addr_versions & other)
			return -EINVAL;
		choice->plan = &plans[i];
		choice->reason = IPFIX_CHOICE_PINNED;
		choice->measured = ipfix_plan_measured(&plans[i]);
		return 0;
	}
	if (!best)
		return 0;
	choice->plan = best;
	choice->reason = IPFIX_CHOICE_MOST;
	choice->measured = best_m;
	for (i = 0; i < n; i++) {
		const struct ipfix_plan *p = &plans[i];
		unsigned int m = ipfix_plan_measured(p);

		if (p == best || (p->addr_versions & other))
			continue;
		if (m == best_m) {
			if (choice->n_ties < N(choice->tie_ids))
				choice->tie_ids[choice->n_ties] = p->id;
			choice->n_ties++;
		} else if (!choice->runner_up ||
			   m > choice->runner_up_measured ||
			   (m == choice->runner_up_measured &&
			    p->id < choice->runner_up)) {
			choice->runner_up = p->id;
			choice->runner_up_measured = m;
		}
	}
	return 0;
}

void ipfix_plan_choice_explain(const struct ipfix_plan_choice *c, char *buf,
			       size_t size)
{
	size_t len = 0;
	unsigned int i;

#define ADD(...) (len += snprintf(buf + len, len < size ? size - len : 0, \
				  __VA_ARGS__))
	switch (c->reason) {
	case IPFIX_CHOICE_NONE:
		ADD("no configured template is without IPv%d addresses",
		    c->version == 6 ? 4 : 6);
		break;
	case IPFIX_CHOICE_PINNED:
		ADD("named by flowTemplates in the config (%u measured fields)",
		    c->measured);
		break;
	case IPFIX_CHOICE_MOST:
		ADD("the most measured fields: %u", c->measured);
		if (c->n_ties) {
			ADD(", as many as");
			for (i = 0; i < c->n_ties && i < N(c->tie_ids); i++)
				ADD("%s %u", i ? "," : "", c->tie_ids[i]);
			if (c->n_ties > N(c->tie_ids))
				ADD(" and %u more", c->n_ties -
				    (unsigned int)N(c->tie_ids));
			ADD(" (the lowest id wins)");
		}
		if (c->runner_up)
			ADD("; next: %u with %u", c->runner_up,
			    c->runner_up_measured);
		break;
	}
#undef ADD
	if (size && len >= size)
		buf[size - 1] = '\0';
}

size_t ipfix_encode_exporting_stats(const struct ipfix_exporting_stats *s,
				    uint8_t *out)
{
	put_be32(out, s->exporting_process_id);
	put_be64(out + 4, s->messages);
	put_be64(out + 12, s->records);
	put_be64(out + 20, s->octets);
	put_be64(out + 28, s->not_sent_flows);
	put_be64(out + 36, s->not_sent_packets);
	put_be64(out + 44, s->not_sent_octets);
	return 52;
}

size_t ipfix_encode_metering_stats(const struct ipfix_metering_stats *s,
				   uint8_t *out)
{
	put_be32(out, s->obs_domain_id);
	put_be64(out + 4, s->ignored_packets);
	put_be64(out + 12, s->ignored_octets);
	return 20;
}

void ipfix_msg_begin(struct ipfix_msg *m, uint8_t *buf, uint16_t max_len,
		     uint32_t obs_domain_id)
{
	m->buf = buf;
	m->max_len = max_len;
	m->len = IPFIX_MSG_HDR_LEN;
	m->set_off = 0;
	m->set_id = 0;
	m->set_min_record = 0;
	m->n_data = 0;
	m->n_templates = 0;
	m->obs_domain_id = obs_domain_id;
}

static void msg_close_set(struct ipfix_msg *m, bool pad)
{
	if (!m->set_off)
		return;
	if (pad) {
		unsigned int n = -(unsigned int)m->len & 3;

		/* padding must be shorter than any record of the set */
		if (n && n < m->set_min_record) {
			memset(m->buf + m->len, 0, n);
			m->len += n;
		}
	}
	put_be16(m->buf + m->set_off + 2, m->len - m->set_off);
	m->set_off = 0;
	m->set_id = 0;
}

/* Make room for a record of NEED octets in a set SET_ID; open a new set
 * (after closing and padding the current one) unless SAME_SET allows to
 * continue the open one. */
static int msg_reserve(struct ipfix_msg *m, uint16_t set_id, bool same_set,
		       uint16_t min_record, size_t need)
{
	unsigned int pad = 0;

	if (same_set && m->set_off && m->set_id == set_id)
		return m->len + need <= m->max_len ? 0 : -ENOSPC;
	if (m->set_off) {
		pad = -(unsigned int)m->len & 3;
		if (pad >= m->set_min_record)
			pad = 0;
	}
	if (m->len + pad + IPFIX_SET_HDR_LEN + need > m->max_len)
		return -ENOSPC;
	msg_close_set(m, true);
	m->set_off = m->len;
	m->set_id = set_id;
	m->set_min_record = min_record;
	put_be16(m->buf + m->len, set_id);
	m->len += IPFIX_SET_HDR_LEN;
	return 0;
}

int ipfix_msg_add_template(struct ipfix_msg *m, const struct ipfix_plan *plan)
{
	bool options = plan->n_scope > 0;
	uint16_t set_id = options ? IPFIX_SET_ID_OPTIONS_TEMPLATE :
				    IPFIX_SET_ID_TEMPLATE;
	int err;

	/* one options template per set: nfdump reads only the first */
	err = msg_reserve(m, set_id, !options, options ? 6 : 4,
			  plan->template_record_len);
	if (err)
		return err;
	m->len += ipfix_plan_template_record(plan, m->buf + m->len);
	m->n_templates++;
	return 0;
}

int ipfix_msg_add_record(struct ipfix_msg *m, const struct ipfix_plan *plan,
			 const struct flow_record *r)
{
	size_t need;
	int err;

	/* the common case: one more fixed-length record in the open set */
	if (__builtin_expect(m->set_id == plan->id && m->set_off &&
			     !plan->variable, 1)) {
		if (m->len + plan->min_record_len > m->max_len)
			return -ENOSPC;
		m->len += encode_record(plan, r, m->buf + m->len);
		m->n_data++;
		return 0;
	}
	need = plan->variable ? ipfix_plan_record_len(plan, r) :
				plan->min_record_len;
	err = msg_reserve(m, plan->id, true, plan->min_record_len, need);
	if (err)
		return err;
	m->len += encode_record(plan, r, m->buf + m->len);
	m->n_data++;
	return 0;
}

int ipfix_msg_add_encoded(struct ipfix_msg *m, const struct ipfix_plan *plan,
			  const uint8_t *rec, uint16_t len)
{
	int err;

	err = msg_reserve(m, plan->id, true, plan->min_record_len, len);
	if (err)
		return err;
	memcpy(m->buf + m->len, rec, len);
	m->len += len;
	m->n_data++;
	return 0;
}

uint16_t ipfix_msg_finish(struct ipfix_msg *m, uint32_t export_time,
			  uint32_t seq)
{
	msg_close_set(m, false);
	put_be16(m->buf, IPFIX_VERSION);
	put_be16(m->buf + 2, m->len);
	put_be32(m->buf + 4, export_time);
	put_be32(m->buf + 8, seq);
	put_be32(m->buf + 12, m->obs_domain_id);
	return m->len;
}
