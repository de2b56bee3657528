/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A flow record as user space hands it around: what the flow cache expires
 * and what the exporters (IPFIX, JSON log) consume.  Host byte order
 * throughout, wall-clock times.
 */
#ifndef FLOWCTL_FLOW_RECORD_H
#define FLOWCTL_FLOW_RECORD_H

#include <stdint.h>

/* flowEndReason, IANA registry values */
enum flow_end_reason {
	FLOW_END_IDLE_TIMEOUT = 1,
	FLOW_END_ACTIVE_TIMEOUT = 2,
	FLOW_END_OF_FLOW = 3,
	FLOW_END_FORCED = 4,
	FLOW_END_LACK_OF_RESOURCES = 5,
};

struct flow_record {
	/* key */
	uint32_t ingress_ifindex;
	uint32_t egress_ifindex;
	uint8_t src_addr[16];		/* IPv4: IPv4-mapped (::ffff:a.b.c.d) */
	uint8_t dst_addr[16];
	uint16_t sport;			/* host order; 0 for ICMP */
	uint16_t dport;			/* ICMP: type * 256 + code */
	uint16_t vlan_id;
	uint8_t proto;
	uint8_t tos;
	uint8_t direction;		/* 0 ingress, 1 egress */
	uint8_t ip_version;		/* 4 or 6 */
	uint32_t mark;
	/* counters and state (deltas since the last export of this flow) */
	uint64_t packets;
	uint64_t octets;
	uint64_t start_ns;		/* unix epoch ns (wall clock) */
	uint64_t end_ns;
	uint16_t tcp_flags;
	uint8_t min_ttl;
	uint8_t max_ttl;
	uint8_t end_reason;		/* enum flow_end_reason */
	uint8_t finished;		/* FIN/RST seen */
	uint32_t obs_domain_id;		/* observation domain (per netns) */
	/* forwarding latency (meter --latency): packets measured, sum */
	uint64_t latency_count;
	uint64_t latency_sum_ns;
	/* the flow cache's copy of the domain's name (flow_cache_domain),
	 * freed with the cache; the IPFIX sender thread interns its own */
	const char *netns;
};

#endif
