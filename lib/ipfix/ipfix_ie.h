/* SPDX-License-Identifier: Apache-2.0 */
/*
 * IPFIX Information Element registry: IANA element ids, abstract data types
 * and default lengths (RFC 7011, RFC 7012, the IANA "IPFIX Information
 * Elements" registry), and for each element where its value comes from in a
 * struct flow_record.
 */
#ifndef FLOWCTL_IPFIX_IE_H
#define FLOWCTL_IPFIX_IE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Field length meaning "variable length" in a template (RFC 7011 7). */
#define IPFIX_VARLEN		65535

/* Abstract data types (RFC 7012 3.1). */
enum ipfix_type {
	IPFIX_T_OCTET_ARRAY = 0,
	IPFIX_T_UNSIGNED8,
	IPFIX_T_UNSIGNED16,
	IPFIX_T_UNSIGNED32,
	IPFIX_T_UNSIGNED64,
	IPFIX_T_SIGNED8,
	IPFIX_T_SIGNED16,
	IPFIX_T_SIGNED32,
	IPFIX_T_SIGNED64,
	IPFIX_T_FLOAT32,
	IPFIX_T_FLOAT64,
	IPFIX_T_BOOLEAN,
	IPFIX_T_MAC,
	IPFIX_T_STRING,
	IPFIX_T_DATETIME_SECONDS,
	IPFIX_T_DATETIME_MILLISECONDS,
	IPFIX_T_DATETIME_MICROSECONDS,
	IPFIX_T_DATETIME_NANOSECONDS,
	IPFIX_T_IPV4,
	IPFIX_T_IPV6,
};

/*
 * Where the value of an element comes from in a struct flow_record.  The
 * encoder compiles a template into one operation per field from this (see
 * ipfix_plan_compile); IPFIX_SRC_NONE elements are sent as zeros (the meter
 * does not measure them, e.g. BGP fields).
 */
enum ipfix_source {
	IPFIX_SRC_NONE = 0,
	IPFIX_SRC_OCTETS,
	IPFIX_SRC_PACKETS,
	IPFIX_SRC_PROTO,
	IPFIX_SRC_TOS,
	IPFIX_SRC_DSCP,
	IPFIX_SRC_PRECEDENCE,
	IPFIX_SRC_SPORT,
	IPFIX_SRC_DPORT,
	IPFIX_SRC_TCP_SPORT,		/* port when proto is TCP, else 0 */
	IPFIX_SRC_TCP_DPORT,
	IPFIX_SRC_UDP_SPORT,
	IPFIX_SRC_UDP_DPORT,
	IPFIX_SRC_SRC_V4,
	IPFIX_SRC_DST_V4,
	IPFIX_SRC_SRC_V6,
	IPFIX_SRC_DST_V6,
	IPFIX_SRC_INGRESS_IF,
	IPFIX_SRC_EGRESS_IF,
	IPFIX_SRC_START_S,
	IPFIX_SRC_END_S,
	IPFIX_SRC_START_MS,
	IPFIX_SRC_END_MS,
	IPFIX_SRC_START_US,		/* NTP format, RFC 7011 6.1.9 */
	IPFIX_SRC_END_US,
	IPFIX_SRC_START_NS,		/* NTP format, RFC 7011 6.1.10 */
	IPFIX_SRC_END_NS,
	IPFIX_SRC_DURATION_MS,
	IPFIX_SRC_DURATION_US,
	IPFIX_SRC_TCP_FLAGS,
	IPFIX_SRC_ICMP_V4,		/* type*256+code when proto is ICMP */
	IPFIX_SRC_ICMP_V6,		/* ... when proto is ICMPv6 */
	IPFIX_SRC_ICMP_TYPE_V4,
	IPFIX_SRC_ICMP_CODE_V4,
	IPFIX_SRC_ICMP_TYPE_V6,
	IPFIX_SRC_ICMP_CODE_V6,
	IPFIX_SRC_NEXT_HEADER_V6,	/* proto of an IPv6 flow */
	IPFIX_SRC_MIN_TTL,
	IPFIX_SRC_MAX_TTL,
	IPFIX_SRC_VLAN,
	IPFIX_SRC_END_REASON,
	IPFIX_SRC_DIRECTION,
	IPFIX_SRC_OBS_DOMAIN,
	IPFIX_SRC_EXPORTING_PROCESS,	/* the exporter's id, a constant */
	IPFIX_SRC_IP_VERSION,
	IPFIX_SRC_MARK,
	IPFIX_SRC_FINISHED,
	IPFIX_SRC_NETNS,		/* string: the network namespace name */
	IPFIX_SRC_MAX,
};

struct ipfix_ie {
	const char *name;	/* IANA name (or config name of an enterprise IE) */
	uint32_t pen;		/* private enterprise number, 0 for IANA */
	uint16_t id;		/* element id (without the enterprise bit) */
	uint16_t length;	/* default field length, IPFIX_VARLEN */
	uint8_t type;		/* enum ipfix_type */
	uint8_t source;		/* enum ipfix_source */
};

/* IANA element ids this code refers to by number. */
enum {
	IPFIX_IE_OCTET_DELTA_COUNT = 1,
	IPFIX_IE_PACKET_DELTA_COUNT = 2,
	IPFIX_IE_EXPORTED_OCTET_TOTAL_COUNT = 40,
	IPFIX_IE_EXPORTED_MESSAGE_TOTAL_COUNT = 41,
	IPFIX_IE_EXPORTED_FLOW_RECORD_TOTAL_COUNT = 42,
	IPFIX_IE_EXPORTING_PROCESS_ID = 144,
	IPFIX_IE_OBSERVATION_DOMAIN_ID = 149,
	IPFIX_IE_IGNORED_PACKET_TOTAL_COUNT = 164,
	IPFIX_IE_IGNORED_OCTET_TOTAL_COUNT = 165,
	IPFIX_IE_NOT_SENT_FLOW_TOTAL_COUNT = 166,
	IPFIX_IE_NOT_SENT_PACKET_TOTAL_COUNT = 167,
	IPFIX_IE_NOT_SENT_OCTET_TOTAL_COUNT = 168,
};

/* IANA element by name, case-insensitive ("SourceIPv4Address"), or NULL. */
const struct ipfix_ie *ipfix_ie_by_name(const char *name);
/* IANA element by id (enterprise 0), or NULL. */
const struct ipfix_ie *ipfix_ie_by_id(uint16_t id);
/* The registry as an array, for listing: *count entries. */
const struct ipfix_ie *ipfix_ie_table(size_t *count);

const char *ipfix_type_name(enum ipfix_type type);
/* Octets of a value of TYPE (0 for octetArray and string: variable). */
unsigned int ipfix_type_size(enum ipfix_type type);
bool ipfix_type_is_unsigned(enum ipfix_type type);
/* Whether LENGTH is a valid field length for TYPE (RFC 7011 6.2 reduced
 * size encoding included). */
bool ipfix_type_length_ok(enum ipfix_type type, uint16_t length);
/* 4 or 6 when the type is an address of that IP version, else 0. */
int ipfix_type_addr_version(enum ipfix_type type);

/*
 * Sources an enterprise-specific element may be declared with in the config
 * ("mark", "netns", ...): the name, its value type and default length.
 */
struct ipfix_source_info {
	const char *name;
	uint8_t source;		/* enum ipfix_source */
	uint8_t type;		/* enum ipfix_type of the value */
	uint16_t length;
};

const struct ipfix_source_info *ipfix_source_by_name(const char *name);
const struct ipfix_source_info *ipfix_source_table(size_t *count);

#endif
