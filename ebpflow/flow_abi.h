/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * flow_abi.h - the one definition of what the in-kernel meter (ebpflow) and
 * user space (lib/, flowctl) share: map names, pin layout, key and value
 * layouts, counters and enums.  Included by the BPF template (rendered
 * inline) and by user space.  Nothing here may depend on libc.
 *
 * Do not reorder fields: the layouts are the ABI of the pinned maps.  A
 * change of any struct here must change FLOW_ABI_VERSION; user space checks
 * the key and value sizes of pinned maps against these structs.
 */
#ifndef FLOWCTL_FLOW_ABI_H
#define FLOWCTL_FLOW_ABI_H

#include <linux/types.h>

#define FLOW_ABI_VERSION 2

/* Pin layout: /sys/fs/bpf/flowctl/<NETNS>/tc/globals/<map> */
#define FLOW_PIN_ROOT		"/sys/fs/bpf/flowctl"
#define FLOW_PIN_GLOBALS	"tc/globals"
#define FLOW_ROOT_NETNS		"DEFAULT"	/* pin dir of the root netns */

/*
 * Map names (as pinned by tc's loader with LIBBPF_PIN_BY_NAME): the
 * template declares each map under its _SYM identifier, user space uses
 * the string, made of the same token.
 */
#define FLOW_STR_(x)		#x
#define FLOW_STR(x)		FLOW_STR_(x)

#define FLOW_MAP_FLOWS_0_SYM	flows_0
#define FLOW_MAP_FLOWS_1_SYM	flows_1
#define FLOW_MAP_CTL_SYM	flow_ctl
#define FLOW_MAP_IFSTATS_SYM	flow_ifstats
#define FLOW_MAP_COUNTERS_SYM	flow_counters
#define FLOW_MAP_EVENTS_SYM	flow_events
/* Only with the latency knob (meter attach --latency): */
#define FLOW_MAP_STAMP_SYM	flow_stamp
#define FLOW_MAP_LATENCY_SYM	flow_latency

#define FLOW_MAP_FLOWS_0	FLOW_STR(FLOW_MAP_FLOWS_0_SYM)
#define FLOW_MAP_FLOWS_1	FLOW_STR(FLOW_MAP_FLOWS_1_SYM)
#define FLOW_MAP_CTL		FLOW_STR(FLOW_MAP_CTL_SYM)
#define FLOW_MAP_IFSTATS	FLOW_STR(FLOW_MAP_IFSTATS_SYM)
#define FLOW_MAP_COUNTERS	FLOW_STR(FLOW_MAP_COUNTERS_SYM)
#define FLOW_MAP_EVENTS		FLOW_STR(FLOW_MAP_EVENTS_SYM)
#define FLOW_MAP_STAMP		FLOW_STR(FLOW_MAP_STAMP_SYM)
#define FLOW_MAP_LATENCY	FLOW_STR(FLOW_MAP_LATENCY_SYM)

/* Program sections (SEC() in the template, tc's "sec" in user space). */
#define FLOW_SEC_INGRESS	"tc-ingress"
#define FLOW_SEC_EGRESS		"tc-egress"
/*
 * With the latency knob: an ingress program that only stamps (for an
 * interface whose ingress is not metered but whose forwarded packets'
 * latency is measured at egress).
 */
#define FLOW_SEC_INGRESS_STAMP	"tc-ingress-stamp"

/* Default number of flows per netns and per buffer (knob -l). */
#define FLOW_DEFAULT_MAX_FLOWS	65536
#define FLOW_IFSTATS_MAX	4096

enum flow_direction {
	FLOW_DIR_INGRESS = 0,	/* same values as IPFIX flowDirection */
	FLOW_DIR_EGRESS = 1,
};

/*
 * Flow key.  Zeroed as a whole before it is filled: the padding is part of
 * the hashed bytes.
 * Addresses: IPv6 as is, IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d).
 * Ports in network byte order.  ICMP and ICMPv6: sport is 0 and dport holds
 * type * 256 + code (network byte order), the value of icmpTypeCodeIPv4/6.
 * Later IPv4 fragments and protocols without ports: both ports 0.
 */
struct flow_key {
	__u32 ingress_ifindex;	/* 0 when unknown */
	__u32 egress_ifindex;	/* 0 at the ingress hook */
	__u8 src_addr[16];
	__u8 dst_addr[16];
	__be16 sport;
	__be16 dport;
	__u16 vlan_id;		/* host order, 0 when untagged */
	__u8 proto;		/* IP protocol / IPv6 upper-layer header */
	__u8 tos;		/* IPv4 TOS / IPv6 traffic class */
	__u8 direction;		/* enum flow_direction: the hook */
	__u8 ip_version;	/* 4 or 6 */
	__u8 pad[2];
	__u32 mark;		/* skb->mark */
};

/* Value flags. */
#define FLOW_F_END_SEEN		(1U << 0)	/* TCP FIN or RST seen */
#define FLOW_F_FRAGMENT		(1U << 1)	/* an IPv4/IPv6 fragment seen */

struct flow_value {
	__u64 packets;
	__u64 octets;		/* IP header + payload (octetDeltaCount) */
	__u64 first_seen_ns;	/* bpf_ktime_get_ns() */
	__u64 last_seen_ns;
	__u32 tcp_flags;	/* OR of TCP flags, low 12 bits used */
	__u32 flags;		/* FLOW_F_* */
	__u8 min_ttl;		/* TTL / hop limit */
	__u8 max_ttl;
	__u8 pad[2];
	/*
	 * Forwarding latency (latency knob, egress only): packets (skbs: a
	 * GSO packet once) whose ingress stamp was matched, and the sum of
	 * their latencies.  0 without the knob.
	 */
	__u32 latency_count;
	__u64 latency_sum_ns;
};

/* flow_ctl: ARRAY of one entry; which of flows_0/flows_1 the program fills. */
struct flow_ctl {
	__u32 active;		/* 0 or 1 */
	__u32 pad;
	__u64 flips;		/* incremented by user space at each flip */
};

/* flow_ifstats: HASH, per (ingress, egress, direction) totals. */
struct flow_ifstats_key {
	__u32 ingress_ifindex;
	__u32 egress_ifindex;
	__u8 direction;
	__u8 pad[3];
};

struct flow_ifstats_value {
	__u64 packets;		/* everything metered (flows + overflow) */
	__u64 octets;
	__u64 overflow_packets;	/* not in a flow: the flow map was full */
	__u64 overflow_octets;
};

/*
 * flow_stamp: PERCPU_ARRAY of one entry, written by the ingress program
 * (latency knob) and consumed by the egress program on the same CPU: the
 * path from tc ingress to tc egress of a forwarded packet runs in one
 * softirq on one CPU, so the last stamp of this CPU is the packet's own
 * when the skb and the ingress interface match.
 */
struct flow_stamp {
	__u64 skb;		/* the skb's address: identity only */
	__u64 ts_ns;		/* bpf_ktime_get_ns() at ingress */
	__u32 ifindex;		/* ingress interface; 0: consumed */
	__u32 pad;
};

/*
 * Upper bounds (ns) of the forwarding latency histogram buckets; the last
 * bucket (FLOW_LAT_BUCKETS - 1) is +Inf.  X(bound) per bound, increasing.
 */
#define FLOW_LAT_BOUNDS(X)						\
	X(1000) X(2000) X(5000) X(10000) X(20000) X(50000) X(100000)	\
	X(200000) X(500000) X(1000000) X(2000000) X(5000000)		\
	X(10000000) X(100000000)
#define FLOW_LAT_N_BOUNDS	14
#define FLOW_LAT_BUCKETS	(FLOW_LAT_N_BOUNDS + 1)

/* flow_latency: PERCPU_HASH, cumulative per (ingress, egress) pair. */
struct flow_latency_key {
	__u32 ingress_ifindex;
	__u32 egress_ifindex;
};

struct flow_latency_value {
	__u64 count;		/* packets measured */
	__u64 sum_ns;
	__u64 buckets[FLOW_LAT_BUCKETS];	/* not cumulative */
	__u64 pad;
};

/* flow_counters: PERCPU_ARRAY of one struct flow_counters. */
enum flow_counter {
	FLOW_CNT_UNPARSED_PKTS = 0,	/* not IP, truncated, malformed */
	FLOW_CNT_UNPARSED_OCTETS,	/* skb->len of those */
	FLOW_CNT_OVERFLOW_PKTS,		/* flow map full */
	FLOW_CNT_OVERFLOW_OCTETS,
	FLOW_CNT_IFSTATS_FULL,		/* flow_ifstats itself full */
	FLOW_CNT_EVENTS_SENT,
	FLOW_CNT_EVENTS_LOST,
	FLOW_CNT_LAST_EVENT_NS,		/* rate limit of map-full events */
	FLOW_CNT_LATENCY_FULL,		/* flow_latency full: not counted */
	FLOW_CNT_MAX,
};

struct flow_counters {
	__u64 c[FLOW_CNT_MAX];
};

/* flow_events: RINGBUF; records sent to wake the agent. */
enum flow_event_type {
	FLOW_EV_MAP_FULL = 1,
};

struct flow_event {
	__u32 type;		/* enum flow_event_type */
	__u32 active;		/* buffer that was full */
	__u64 ts_ns;
};

#define FLOW_EVENTS_RING_SIZE	4096
#define FLOW_EVENT_MIN_GAP_NS	10000000ULL	/* at most 100 events/s/cpu */

/* TCP flag bits as in the TCP header (tcpControlBits, RFC 9293). */
#define FLOW_TCP_FIN	0x001
#define FLOW_TCP_SYN	0x002
#define FLOW_TCP_RST	0x004
#define FLOW_TCP_PSH	0x008
#define FLOW_TCP_ACK	0x010
#define FLOW_TCP_URG	0x020
#define FLOW_TCP_ECE	0x040
#define FLOW_TCP_CWR	0x080
#define FLOW_TCP_NS	0x100

_Static_assert(sizeof(struct flow_key) == 56, "flow_key layout");
_Static_assert(sizeof(struct flow_value) == 56, "flow_value layout");
_Static_assert(sizeof(struct flow_stamp) == 24, "flow_stamp layout");
_Static_assert(sizeof(struct flow_latency_key) == 8, "latency key layout");
_Static_assert(sizeof(struct flow_latency_value) == 8 * (FLOW_LAT_BUCKETS + 3),
	       "latency value layout");
_Static_assert(sizeof(struct flow_ctl) == 16, "flow_ctl layout");
_Static_assert(sizeof(struct flow_ifstats_key) == 12, "ifstats key layout");
_Static_assert(sizeof(struct flow_ifstats_value) == 32, "ifstats layout");
_Static_assert(sizeof(struct flow_counters) == 8 * FLOW_CNT_MAX, "counters");
_Static_assert(sizeof(struct flow_event) == 16, "flow_event layout");

#endif /* FLOWCTL_FLOW_ABI_H */
