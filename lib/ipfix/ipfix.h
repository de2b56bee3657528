/* SPDX-License-Identifier: Apache-2.0 */
/*
 * IPFIX (RFC 7011) encoding: templates compiled into encode plans, and
 * messages built from template, options template and data sets.  No I/O
 * here; lib/ipfix/ipfix_export.c sends what this builds.
 *
 * Everything written into a message buffer is in network byte order.
 */
#ifndef FLOWCTL_IPFIX_H
#define FLOWCTL_IPFIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow_record.h"
#include "ipfix_ie.h"

#define IPFIX_VERSION			10
#define IPFIX_MSG_HDR_LEN		16
#define IPFIX_SET_HDR_LEN		4
#define IPFIX_SET_ID_TEMPLATE		2
#define IPFIX_SET_ID_OPTIONS_TEMPLATE	3
#define IPFIX_MIN_DATA_SET_ID		256
/* Wireshark's limit, and so ours: at most 60 fields in a template. */
#define IPFIX_MAX_FIELDS		60
#define IPFIX_MAX_MSG_LEN		65535
/* Seconds between the NTP epoch (1900) and the unix epoch (1970). */
#define IPFIX_NTP_UNIX_OFFSET		2208988800ULL
/* Longest string a variable-length field carries (one length octet). */
#define IPFIX_MAX_VARLEN_STRING		254
/* Longest value any variable-length field carries: 255 and a 16-bit length
 * (RFC 7011 7). */
#define IPFIX_MAX_VARLEN		65535
/* Longest record: what a message of 65535 octets holds behind its header
 * and one set header. */
#define IPFIX_MAX_RECORD_LEN \
	(IPFIX_MAX_MSG_LEN - IPFIX_MSG_HDR_LEN - IPFIX_SET_HDR_LEN)

/* Template ids flowctl uses for its own templates (config: 256..65279). */
#define IPFIX_TID_CONFIG_MAX		65279
#define IPFIX_TID_DEFAULT_V4		65280	/* built-in default templates */
#define IPFIX_TID_DEFAULT_V6		65281
#define IPFIX_TID_EXPORTING_STATS	65534	/* options templates */
#define IPFIX_TID_METERING_STATS	65535

/* One field of a template: an element and its length on the wire. */
struct ipfix_field {
	const struct ipfix_ie *ie;
	uint16_t length;	/* IPFIX_VARLEN for variable length */
};

/* One compiled operation per field (see ipfix_plan_encode). */
struct ipfix_op {
	uint8_t kind;		/* enum ipfix_source, or an IPFIX_OP_* */
	uint8_t source;		/* enum ipfix_source */
	uint16_t len;		/* octets on the wire (fixed-length fields) */
};

/*
 * A template compiled once: the template record as sent, and the encode
 * operations for data records.  No name lookups when encoding.
 */
struct ipfix_plan {
	uint16_t id;			/* template id = data set id */
	uint16_t n_fields;
	uint16_t n_scope;		/* options template: scope fields */
	uint16_t min_record_len;	/* every variable field empty */
	uint16_t max_record_len;	/* longest record it can encode */
	uint16_t template_record_len;	/* the template record itself */
	bool variable;			/* has variable-length fields */
	uint8_t addr_versions;		/* bit 4 / bit 6: carries such addrs */
	uint32_t exporting_process_id;	/* value of exportingProcessId */
	struct ipfix_field fields[IPFIX_MAX_FIELDS];
	struct ipfix_op ops[IPFIX_MAX_FIELDS];
};

#define IPFIX_ADDR_V4	(1U << 0)
#define IPFIX_ADDR_V6	(1U << 1)

/*
 * Compile FIELDS (N of them, the first N_SCOPE are scope fields of an
 * options template) into PLAN.  -EINVAL when a length does not fit the
 * element's type, N is 0 or above IPFIX_MAX_FIELDS, or the id is below 256;
 * -EMSGSIZE when a record can be longer than IPFIX_MAX_RECORD_LEN.
 */
int ipfix_plan_compile(struct ipfix_plan *plan, uint16_t id,
		       const struct ipfix_field *fields, unsigned int n,
		       unsigned int n_scope);

/*
 * Encode one data record of R into OUT (room for plan->max_record_len
 * octets) and return its length.  Fixed-length plans always return
 * plan->min_record_len.
 */
size_t ipfix_plan_encode(const struct ipfix_plan *plan,
			 const struct flow_record *r, uint8_t *out);

/* Length the record of R will have (differs from min only when variable). */
size_t ipfix_plan_record_len(const struct ipfix_plan *plan,
			     const struct flow_record *r);

/* Write the (options) template record into OUT; returns its length. */
size_t ipfix_plan_template_record(const struct ipfix_plan *plan, uint8_t *out);

/* The built-in templates: default IPv4/IPv6 data templates (used when the
 * config has none for a version) and the two options templates. */
int ipfix_plan_default_v4(struct ipfix_plan *plan);
int ipfix_plan_default_v6(struct ipfix_plan *plan);
int ipfix_plan_exporting_stats(struct ipfix_plan *plan);
int ipfix_plan_metering_stats(struct ipfix_plan *plan);

/* Fields of PLAN the meter fills (the others are sent as zeros). */
unsigned int ipfix_plan_measured(const struct ipfix_plan *plan);

/* Why a template was chosen for the kernel flows of one IP version. */
enum ipfix_choice_reason {
	IPFIX_CHOICE_NONE,	/* no configured template can carry them */
	IPFIX_CHOICE_PINNED,	/* named by the config (flowTemplates) */
	IPFIX_CHOICE_MOST,	/* the most measured fields */
};

struct ipfix_plan_choice {
	const struct ipfix_plan *plan;	/* NULL: IPFIX_CHOICE_NONE */
	enum ipfix_choice_reason reason;
	int version;			/* 4 or 6 */
	unsigned int measured;		/* ipfix_plan_measured(plan) */
	unsigned int n_candidates;	/* templates without the other
					 * version's addresses */
	uint16_t tie_ids[4];		/* MOST: other candidates with as
					 * many measured fields (first 4) */
	unsigned int n_ties;
	uint16_t runner_up;		/* MOST: best of the others, or 0 */
	unsigned int runner_up_measured;
};

/*
 * The template the kernel flows of IP version VERSION (4 or 6) are
 * exported with, among PLANS (N of them, any order): template PINNED when
 * it is not 0; else, of the templates without addresses of the other
 * version, the one with the most fields the meter fills (ties: the lowest
 * id).  With the original linux-flow-exporter's templates 1001, 1002,
 * 1004 and 1005 that is 1004 for IPv4 (the template it hard-coded).
 * Returns 0 (CHOICE->plan NULL when there is no candidate), -ENOENT when
 * PINNED is not among PLANS, -EINVAL when it carries addresses of the
 * other version.
 */
int ipfix_plan_choose(const struct ipfix_plan *plans, size_t n, int version,
		      uint16_t pinned, struct ipfix_plan_choice *choice);

/* One line saying why CHOICE was made ("10 measured fields, the most; ..."). */
void ipfix_plan_choice_explain(const struct ipfix_plan_choice *choice,
			       char *buf, size_t size);

/* Values of the Exporting Process Reliability Statistics (RFC 7011 4.3). */
struct ipfix_exporting_stats {
	uint32_t exporting_process_id;		/* scope */
	uint64_t messages;			/* exportedMessageTotalCount */
	uint64_t records;			/* exportedFlowRecordTotalCount */
	uint64_t octets;			/* exportedOctetTotalCount */
	uint64_t not_sent_flows;		/* notSentFlowTotalCount */
	uint64_t not_sent_packets;		/* notSentPacketTotalCount */
	uint64_t not_sent_octets;		/* notSentOctetTotalCount */
};

/* Values of the Metering Process Reliability Statistics (RFC 7011 4.2). */
struct ipfix_metering_stats {
	uint32_t obs_domain_id;			/* scope */
	uint64_t ignored_packets;		/* ignoredPacketTotalCount */
	uint64_t ignored_octets;		/* ignoredOctetTotalCount */
};

/* Encode the options data records of the two plans above; return length. */
size_t ipfix_encode_exporting_stats(const struct ipfix_exporting_stats *s,
				    uint8_t *out);
size_t ipfix_encode_metering_stats(const struct ipfix_metering_stats *s,
				   uint8_t *out);

/* Conversions of unix-epoch nanoseconds (exposed for the tests). */
uint64_t ipfix_ntp_from_unix_ns(uint64_t ns);
uint64_t ipfix_ntp_us_from_unix_ns(uint64_t ns);

/*
 * A message being built in a caller's buffer of max_len octets.  Sets are
 * opened as records of another set id arrive; a set is zero-padded to a
 * 4-octet boundary only when another set follows it and the padding is
 * shorter than its shortest record (RFC 7011 3.3.1).  A record is never
 * split: adding one that does not fit returns -ENOSPC, and the caller
 * finishes the message and begins the next.
 */
struct ipfix_msg {
	uint8_t *buf;
	uint16_t max_len;
	uint16_t len;
	uint16_t set_off;	/* offset of the open set's header, 0: none */
	uint16_t set_id;
	uint16_t set_min_record;
	uint32_t n_data;	/* data and options data records (sequence) */
	uint32_t n_templates;
	uint32_t obs_domain_id;
};

void ipfix_msg_begin(struct ipfix_msg *m, uint8_t *buf, uint16_t max_len,
		     uint32_t obs_domain_id);
/* Add PLAN's template record: set 2, or a set 3 of its own (options). */
int ipfix_msg_add_template(struct ipfix_msg *m, const struct ipfix_plan *plan);
/* Add a data record of R encoded with PLAN. */
int ipfix_msg_add_record(struct ipfix_msg *m, const struct ipfix_plan *plan,
			 const struct flow_record *r);
/* Add a record already encoded for PLAN (LEN octets). */
int ipfix_msg_add_encoded(struct ipfix_msg *m, const struct ipfix_plan *plan,
			  const uint8_t *rec, uint16_t len);
static inline bool ipfix_msg_empty(const struct ipfix_msg *m)
{
	return m->len <= IPFIX_MSG_HDR_LEN;
}
/*
 * Close the open set and write the header: EXPORT_TIME in unix seconds,
 * SEQ the number of data records sent before this message in this
 * transport session and observation domain.  Returns the message length.
 */
uint16_t ipfix_msg_finish(struct ipfix_msg *m, uint32_t export_time,
			  uint32_t seq);

#endif
