// SPDX-License-Identifier: Apache-2.0
/*
 * IPFIX encoding and export.  The byte vectors below were written by hand
 * from RFC 7011 (header 3.1, sets 3.3, template records 3.4, padding
 * 3.3.1, variable length 7, enterprise fields 3.2, NTP times 6.1.10); the
 * exporter tests send to sockets on 127.0.0.1 and walk what arrives with a
 * small independent IPFIX parser.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "clock.h"
#include "config.h"
#include "ipfix.h"
#include "ipfix_export.h"

#define T0_NS 1700000000000000000ULL	/* 2023-11-14 22:13:20 UTC */

static void set_v4(uint8_t *a, uint8_t b0, uint8_t b1, uint8_t b2, uint8_t b3)
{
	memset(a, 0, 16);
	a[10] = 0xff;
	a[11] = 0xff;
	a[12] = b0;
	a[13] = b1;
	a[14] = b2;
	a[15] = b3;
}

static void compile(struct ipfix_plan *p, uint16_t id, const uint16_t *ids,
		    const uint16_t *lens, unsigned int n, unsigned int n_scope)
{
	struct ipfix_field f[IPFIX_MAX_FIELDS];
	unsigned int i;

	for (i = 0; i < n; i++) {
		f[i].ie = ipfix_ie_by_id(ids[i]);
		ck_assert_ptr_nonnull(f[i].ie);
		f[i].length = lens ? lens[i] : f[i].ie->length;
	}
	ck_assert_int_eq(ipfix_plan_compile(p, id, f, n, n_scope), 0);
}

#define ck_bytes(got, got_len, want) do {				\
	ck_assert_uint_eq((got_len), sizeof(want));			\
	ck_assert_mem_eq((got), (want), sizeof(want));			\
} while (0)

START_TEST(test_template_set)
{
	static const uint16_t ids[] = { 8, 12, 1 };
	static const uint8_t want[] = {
		0x00, 0x0a, 0x00, 0x24,		/* version 10, length 36 */
		0x5f, 0x5e, 0x10, 0x00,		/* export time */
		0x00, 0x00, 0x00, 0x00,		/* sequence 0 */
		0x01, 0x02, 0x03, 0x04,		/* observation domain */
		0x00, 0x02, 0x00, 0x14,		/* template set, 20 octets */
		0x01, 0x00, 0x00, 0x03,		/* template 256, 3 fields */
		0x00, 0x08, 0x00, 0x04,		/* sourceIPv4Address, 4 */
		0x00, 0x0c, 0x00, 0x04,		/* destinationIPv4Address */
		0x00, 0x01, 0x00, 0x08,		/* octetDeltaCount, 8 */
	};
	struct ipfix_plan p;
	struct ipfix_msg m;
	uint8_t buf[1400];

	compile(&p, 256, ids, NULL, 3, 0);
	ck_assert_uint_eq(p.template_record_len, 16);
	ipfix_msg_begin(&m, buf, sizeof(buf), 0x01020304);
	ck_assert(ipfix_msg_empty(&m));
	ck_assert_int_eq(ipfix_msg_add_template(&m, &p), 0);
	ck_bytes(buf, ipfix_msg_finish(&m, 0x5f5e1000, 0), want);
	ck_assert_uint_eq(m.n_data, 0);		/* templates: no sequence */
}
END_TEST

START_TEST(test_options_template_and_padding)
{
	static const uint8_t want[] = {
		0x00, 0x0a, 0x00, 0x70,		/* length 112 */
		0x65, 0x53, 0xf1, 0x00,
		0x00, 0x00, 0x00, 0x09,		/* sequence 9 */
		0x00, 0x00, 0x00, 0x07,
		0x00, 0x03, 0x00, 0x28,		/* options template set, 40 */
		0xff, 0xfe, 0x00, 0x07,		/* template 65534, 7 fields */
		0x00, 0x01,			/* 1 scope field */
		0x00, 0x90, 0x00, 0x04,		/* exportingProcessId */
		0x00, 0x29, 0x00, 0x08,		/* exportedMessageTotalCount */
		0x00, 0x2a, 0x00, 0x08,		/* exportedFlowRecordTotalCount */
		0x00, 0x28, 0x00, 0x08,		/* exportedOctetTotalCount */
		0x00, 0xa6, 0x00, 0x08,		/* notSentFlowTotalCount */
		0x00, 0xa7, 0x00, 0x08,		/* notSentPacketTotalCount */
		0x00, 0xa8, 0x00, 0x08,		/* notSentOctetTotalCount */
		0x00, 0x00,			/* padding: another set follows */
		0xff, 0xfe, 0x00, 0x38,		/* its data set, 56 octets */
		0x00, 0x00, 0x00, 0x2a,		/* exportingProcessId 42 */
		0, 0, 0, 0, 0, 0, 0, 2,
		0, 0, 0, 0, 0, 0, 0, 3,
		0, 0, 0, 0, 0, 0, 0, 4,
		0, 0, 0, 0, 0, 0, 0, 5,
		0, 0, 0, 0, 0, 0, 0, 6,
		0, 0, 0, 0, 0, 0, 0, 7,
	};
	struct ipfix_exporting_stats s = { 42, 2, 3, 4, 5, 6, 7 };
	struct ipfix_plan p;
	struct ipfix_msg m;
	uint8_t buf[1400], rec[64];
	size_t len;

	ck_assert_int_eq(ipfix_plan_exporting_stats(&p), 0);
	ipfix_msg_begin(&m, buf, sizeof(buf), 7);
	ck_assert_int_eq(ipfix_msg_add_template(&m, &p), 0);
	len = ipfix_encode_exporting_stats(&s, rec);
	ck_assert_uint_eq(len, 52);
	ck_assert_int_eq(ipfix_msg_add_encoded(&m, &p, rec, len), 0);
	ck_bytes(buf, ipfix_msg_finish(&m, 1700000000, 9), want);
	ck_assert_uint_eq(m.n_data, 1);		/* options data counts */
}
END_TEST

START_TEST(test_one_options_template_per_set)
{
	static const uint8_t want_tail[] = {
		0x00, 0x03, 0x00, 0x18,		/* set 3, 22 + 2 padding */
		0xff, 0xff, 0x00, 0x03, 0x00, 0x01,
		0x00, 0x95, 0x00, 0x04,		/* observationDomainId */
		0x00, 0xa4, 0x00, 0x08,		/* ignoredPacketTotalCount */
		0x00, 0xa5, 0x00, 0x08,		/* ignoredOctetTotalCount */
		0x00, 0x00,
		0x00, 0x03, 0x00, 0x16,		/* again a set of its own, last:
						 * no padding */
		0xff, 0xff, 0x00, 0x03, 0x00, 0x01,
		0x00, 0x95, 0x00, 0x04,
		0x00, 0xa4, 0x00, 0x08,
		0x00, 0xa5, 0x00, 0x08,
	};
	struct ipfix_plan p;
	struct ipfix_msg m;
	uint8_t buf[1400];
	uint16_t len;

	ck_assert_int_eq(ipfix_plan_metering_stats(&p), 0);
	ipfix_msg_begin(&m, buf, sizeof(buf), 7);
	ck_assert_int_eq(ipfix_msg_add_template(&m, &p), 0);
	ck_assert_int_eq(ipfix_msg_add_template(&m, &p), 0);
	len = ipfix_msg_finish(&m, 0, 0);
	ck_assert_uint_eq(len, 16 + sizeof(want_tail));
	ck_assert_mem_eq(buf + 16, want_tail, sizeof(want_tail));
}
END_TEST

START_TEST(test_data_sets_padding)
{
	static const uint16_t ids_a[] = { 4, 7, 11 };	/* 5-octet records */
	static const uint16_t ids_b[] = { 2 };
	static const uint16_t lens_b[] = { 4 };		/* reduced size */
	static const uint8_t want[] = {
		0x00, 0x0a, 0x00, 0x28,		/* 40 */
		0x00, 0x00, 0x00, 0x01,
		0x00, 0x00, 0x00, 0x05,
		0x00, 0x00, 0x00, 0x00,
		0x01, 0x2c, 0x00, 0x10,		/* set 300: 4 + 2 * 5 + 2 pad */
		0x11, 0x00, 0x35, 0x14, 0xe9,	/* UDP 53 -> 5353 */
		0x06, 0x9c, 0x40, 0x01, 0xbb,	/* TCP 40000 -> 443 */
		0x00, 0x00,			/* padding, zero */
		0x01, 0x2d, 0x00, 0x08,		/* set 301, last: not padded */
		0x00, 0x00, 0x00, 0x07,
	};
	struct flow_record r1 = { .proto = 17, .sport = 53, .dport = 5353 };
	struct flow_record r2 = { .proto = 6, .sport = 40000, .dport = 443,
				  .packets = 7 };
	struct ipfix_plan a, b;
	struct ipfix_msg m;
	uint8_t buf[1400];

	compile(&a, 300, ids_a, NULL, 3, 0);
	compile(&b, 301, ids_b, lens_b, 1, 0);
	ipfix_msg_begin(&m, buf, sizeof(buf), 0);
	ck_assert_int_eq(ipfix_msg_add_record(&m, &a, &r1), 0);
	ck_assert_int_eq(ipfix_msg_add_record(&m, &a, &r2), 0);
	ck_assert_int_eq(ipfix_msg_add_record(&m, &b, &r2), 0);
	ck_bytes(buf, ipfix_msg_finish(&m, 1, 5), want);
	ck_assert_uint_eq(m.n_data, 3);
}
END_TEST

START_TEST(test_no_padding_when_not_shorter_than_record)
{
	static const uint16_t ids_a[] = { 4 };		/* 1-octet records */
	static const uint16_t ids_b[] = { 5 };
	static const uint8_t want[] = {
		0x00, 0x0a, 0x00, 0x1a,		/* 26 */
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0x01, 0x2c, 0x00, 0x05,		/* 3 octets of padding would
						 * read as 3 more records */
		0x06,
		0x01, 0x2d, 0x00, 0x05,
		0xb8,
	};
	struct flow_record r = { .proto = 6, .tos = 0xb8 };
	struct ipfix_plan a, b;
	struct ipfix_msg m;
	uint8_t buf[1400];

	compile(&a, 300, ids_a, NULL, 1, 0);
	compile(&b, 301, ids_b, NULL, 1, 0);
	ipfix_msg_begin(&m, buf, sizeof(buf), 0);
	ck_assert_int_eq(ipfix_msg_add_record(&m, &a, &r), 0);
	ck_assert_int_eq(ipfix_msg_add_record(&m, &b, &r), 0);
	ck_bytes(buf, ipfix_msg_finish(&m, 0, 0), want);
}
END_TEST

START_TEST(test_varlen_enterprise)
{
	static const uint8_t want[] = {
		0x00, 0x0a, 0x00, 0x30,		/* 48 */
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
		0x00, 0x02, 0x00, 0x14,		/* template set, 20 */
		0x01, 0x90, 0x00, 0x02,		/* template 400, 2 fields */
		0x80, 0x01, 0xff, 0xff,		/* enterprise bit | 1, var */
		0x00, 0x01, 0x86, 0x9f,		/* PEN 99999 */
		0x00, 0x0a, 0x00, 0x04,		/* ingressInterface */
		0x01, 0x90, 0x00, 0x0c,		/* data set 400, 12 */
		0x03, 'n', 's', '0',		/* length 3, "ns0" */
		0x00, 0x00, 0x00, 0x05,
	};
	struct ipfix_ie netns = {
		.name = "netnsName", .pen = 99999, .id = 1,
		.length = IPFIX_VARLEN, .type = IPFIX_T_STRING,
		.source = IPFIX_SRC_NETNS,
	};
	struct ipfix_field f[2] = {
		{ &netns, IPFIX_VARLEN },
		{ ipfix_ie_by_id(10), 4 },
	};
	struct flow_record r = { .ingress_ifindex = 5, .netns = "ns0" };
	struct flow_record empty = { .ingress_ifindex = 5 };
	struct ipfix_plan p;
	struct ipfix_msg m;
	uint8_t buf[1400];

	ck_assert_int_eq(ipfix_plan_compile(&p, 400, f, 2, 0), 0);
	ck_assert(p.variable);
	ck_assert_uint_eq(p.min_record_len, 5);
	ck_assert_uint_eq(p.max_record_len, 5 + IPFIX_MAX_VARLEN_STRING);
	ck_assert_uint_eq(ipfix_plan_record_len(&p, &r), 8);
	ipfix_msg_begin(&m, buf, sizeof(buf), 1);
	ck_assert_int_eq(ipfix_msg_add_template(&m, &p), 0);
	ck_assert_int_eq(ipfix_msg_add_record(&m, &p, &r), 0);
	ck_bytes(buf, ipfix_msg_finish(&m, 0, 0), want);
	/* no namespace name: an empty string, length 0 */
	ck_assert_uint_eq(ipfix_plan_encode(&p, &empty, buf), 5);
	ck_assert_uint_eq(buf[0], 0);
}
END_TEST

/*
 * A namespace name is bytes; an IPFIX string is UTF-8 (RFC 7011 6.1.6):
 * invalid bytes go out as U+FFFD, and the 254-byte cut never splits a
 * character.  The planned length is the encoded one.
 */
START_TEST(test_netns_string_is_utf8)
{
	struct ipfix_ie netns = {
		.name = "netnsName", .pen = 99999, .id = 1,
		.length = IPFIX_VARLEN, .type = IPFIX_T_STRING,
		.source = IPFIX_SRC_NETNS,
	};
	struct ipfix_field f[1] = { { &netns, IPFIX_VARLEN } };
	struct ipfix_field fixed[1] = { { &netns, 4 } };
	char name[256];
	struct flow_record r = { .netns = "a\xff" "b" };
	struct ipfix_plan p;
	uint8_t buf[512];
	size_t n, i;

	ck_assert_int_eq(ipfix_plan_compile(&p, 400, f, 1, 0), 0);
	n = ipfix_plan_encode(&p, &r, buf);
	ck_assert_uint_eq(n, ipfix_plan_record_len(&p, &r));
	ck_assert_uint_eq(n, 1 + 5);
	ck_assert_int_eq(memcmp(buf, "\x05" "a\xef\xbf\xbd" "b", 6), 0);
	/* 'x' then 127 two-byte characters: 255 bytes, cut at 253 */
	name[0] = 'x';
	for (i = 0; i < 127; i++)
		memcpy(name + 1 + 2 * i, "\xc3\xa9", 2);
	name[255] = '\0';
	r.netns = name;
	n = ipfix_plan_encode(&p, &r, buf);
	ck_assert_uint_eq(n, ipfix_plan_record_len(&p, &r));
	ck_assert_uint_eq(buf[0], 253);
	ck_assert_uint_eq(buf[253], 0xa9);	/* ends on a whole character */
	/* a fixed 4-byte field: "a\xc3\xa9" + padding, not a cut sequence */
	r.netns = "a\xc3\xa9\xc3\xa9";
	ck_assert_int_eq(ipfix_plan_compile(&p, 401, fixed, 1, 0), 0);
	ck_assert_uint_eq(ipfix_plan_encode(&p, &r, buf), 4);
	ck_assert_int_eq(memcmp(buf, "a\xc3\xa9\0", 4), 0);
}
END_TEST

START_TEST(test_times)
{
	/* flowStartNanoseconds, flowEndMilliseconds, flowStartSeconds,
	 * flowEndNanoseconds, flowDurationMilliseconds */
	static const uint16_t ids[] = { 156, 153, 150, 157, 161 };
	static const uint8_t want[] = {
		/* 1700000000.25 s: NTP seconds 1700000000 + 2208988800 =
		 * 0xe8fe6f80, fraction 0.25 * 2^32 */
		0xe8, 0xfe, 0x6f, 0x80, 0x40, 0x00, 0x00, 0x00,
		/* 1700000001999 ms since 1970 */
		0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x6f, 0xcf,
		/* 1700000000 s since 1970 */
		0x65, 0x53, 0xf1, 0x00,
		/* 1700000001.999 s: fraction round(0.999 * 2^32) */
		0xe8, 0xfe, 0x6f, 0x81, 0xff, 0xbe, 0x76, 0xc9,
		/* 1749 ms */
		0x00, 0x00, 0x06, 0xd5,
	};
	struct flow_record r = {
		.start_ns = T0_NS + 250000000ULL,
		.end_ns = T0_NS + 1999000000ULL,
	};
	struct ipfix_plan p;
	uint8_t buf[64];

	compile(&p, 256, ids, NULL, 5, 0);
	ck_bytes(buf, ipfix_plan_encode(&p, &r, buf), want);
}
END_TEST

START_TEST(test_ntp_conversions)
{
	/* the NTP epoch is 2208988800 s before the unix one */
	ck_assert_uint_eq(ipfix_ntp_from_unix_ns(0), 2208988800ULL << 32);
	ck_assert_uint_eq(ipfix_ntp_from_unix_ns(500000000ULL),
			  (2208988800ULL << 32) | 0x80000000ULL);
	/* every nanosecond value survives the round trip */
	ck_assert_uint_eq(((ipfix_ntp_from_unix_ns(123456789ULL) &
			    0xffffffffULL) * 1000000000ULL + (1ULL << 31)) >> 32,
			  123456789ULL);
	/* 1 us = 4294.97 / 2^32: microsecond precision keeps the low 11 bits
	 * of the fraction zero (RFC 7011 6.1.9) */
	ck_assert_uint_eq(ipfix_ntp_us_from_unix_ns(T0_NS + 1000ULL),
			  (0xe8fe6f80ULL << 32) | 0x1000ULL);
	ck_assert_uint_eq(ipfix_ntp_us_from_unix_ns(T0_NS + 1999ULL),
			  (0xe8fe6f80ULL << 32) | 0x1000ULL);
}
END_TEST

/* The built-in IPv4 template: every measured field, byte by byte. */
START_TEST(test_default_v4_record)
{
	static const uint8_t want_icmp[] = {
		0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0xfa,	/* start ms */
		0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x6b, 0xe8,	/* end ms */
		0, 0, 0, 0, 0, 0, 0x05, 0xdc,	/* 1500 octets */
		0, 0, 0, 0, 0, 0, 0, 3,		/* 3 packets */
		10, 1, 0, 2,
		10, 2, 0, 2,
		0x00, 0x00,			/* sport */
		0x08, 0x00,			/* dport: type 8 code 0 */
		0x01,				/* ICMP */
		0xb8,				/* tos */
		0x00, 0x00,			/* tcpControlBits */
		0x08, 0x00,			/* icmpTypeCodeIPv4 */
		0, 0, 0, 3,			/* ingressInterface */
		0, 0, 0, 4,			/* egressInterface */
		0x01,				/* egress */
		0x02,				/* active timeout */
		63, 64,				/* min/max TTL */
		0x00, 0x64,			/* vlan 100 */
	};
	struct flow_record r = {
		.ingress_ifindex = 3, .egress_ifindex = 4,
		.sport = 0, .dport = 0x0800, .vlan_id = 100, .proto = 1,
		.tos = 0xb8, .direction = 1, .ip_version = 4,
		.packets = 3, .octets = 1500,
		.start_ns = T0_NS + 250000000ULL,
		.end_ns = T0_NS + 1000000000ULL,
		.min_ttl = 63, .max_ttl = 64,
		.end_reason = FLOW_END_ACTIVE_TIMEOUT,
	};
	struct ipfix_plan p;
	uint8_t buf[128];

	set_v4(r.src_addr, 10, 1, 0, 2);
	set_v4(r.dst_addr, 10, 2, 0, 2);
	ck_assert_int_eq(ipfix_plan_default_v4(&p), 0);
	ck_assert_uint_eq(p.id, IPFIX_TID_DEFAULT_V4);
	ck_assert_uint_eq(p.addr_versions, IPFIX_ADDR_V4);
	ck_bytes(buf, ipfix_plan_encode(&p, &r, buf), want_icmp);

	/* TCP: the port is not an ICMP type/code */
	r.proto = 6;
	r.sport = 40000;
	r.dport = 443;
	r.tcp_flags = 0x1b;
	ipfix_plan_encode(&p, &r, buf);
	ck_assert_mem_eq(buf + 40, "\x9c\x40\x01\xbb\x06\xb8\x00\x1b\x00\x00",
			 10);
}
END_TEST

START_TEST(test_default_v6_record)
{
	static const uint8_t src[16] = { 0xfd, 0, 0, 1, [15] = 2 };
	static const uint8_t dst[16] = { 0xfd, 0, 0, 2, [15] = 2 };
	struct flow_record r = {
		.proto = 58, .dport = 0x8000, .ip_version = 6,	/* echo */
	};
	struct ipfix_plan p;
	uint8_t buf[128];

	memcpy(r.src_addr, src, 16);
	memcpy(r.dst_addr, dst, 16);
	ck_assert_int_eq(ipfix_plan_default_v6(&p), 0);
	ck_assert_uint_eq(p.addr_versions, IPFIX_ADDR_V6);
	ck_assert_uint_eq(ipfix_plan_encode(&p, &r, buf), 88);
	ck_assert_mem_eq(buf + 32, src, 16);
	ck_assert_mem_eq(buf + 48, dst, 16);
	ck_assert_mem_eq(buf + 68, "\x3a\x00\x00\x00\x80\x00", 6);
	/* ICMP (v4) in an IPv6 record is not icmpTypeCodeIPv6 */
	r.proto = 1;
	ipfix_plan_encode(&p, &r, buf);
	ck_assert_mem_eq(buf + 72, "\x00\x00", 2);
}
END_TEST

START_TEST(test_reduced_size_saturates)
{
	static const uint16_t ids[] = { 1, 2, 10 };
	static const uint16_t lens[] = { 4, 2, 2 };
	struct flow_record r = {
		.octets = 0x100000000ULL,	/* does not fit 4 octets */
		.packets = 0x1234,
		.ingress_ifindex = 70000,
	};
	struct ipfix_plan p;
	uint8_t buf[16];

	compile(&p, 256, ids, lens, 3, 0);
	ck_assert_uint_eq(ipfix_plan_encode(&p, &r, buf), 8);
	ck_assert_mem_eq(buf, "\xff\xff\xff\xff\x12\x34\xff\xff", 8);
}
END_TEST

START_TEST(test_not_measured_is_zero)
{
	static const uint16_t ids[] = { 16, 7, 31 };	/* bgp, sport, label */
	struct flow_record r = { .sport = 0xabcd };
	struct ipfix_plan p;
	uint8_t buf[16];

	memset(buf, 0x55, sizeof(buf));
	compile(&p, 256, ids, NULL, 3, 0);
	ck_assert_uint_eq(ipfix_plan_encode(&p, &r, buf), 10);
	ck_assert_mem_eq(buf, "\0\0\0\0\xab\xcd\0\0\0\0", 10);
}
END_TEST

START_TEST(test_message_limit)
{
	static const uint16_t ids[] = { 4, 7, 11 };	/* 5 octets */
	struct flow_record r = { .proto = 6 };
	struct ipfix_plan p;
	struct ipfix_msg m;
	uint8_t buf[64];

	compile(&p, 300, ids, NULL, 3, 0);
	/* room for the header, a set header and two records, not three */
	ipfix_msg_begin(&m, buf, 16 + 4 + 2 * 5 + 4, 0);
	ck_assert_int_eq(ipfix_msg_add_record(&m, &p, &r), 0);
	ck_assert_int_eq(ipfix_msg_add_record(&m, &p, &r), 0);
	ck_assert_int_eq(ipfix_msg_add_record(&m, &p, &r), -ENOSPC);
	ck_assert_uint_eq(m.n_data, 2);
	ck_assert_uint_eq(ipfix_msg_finish(&m, 0, 0), 30);

	/* a new set that would not fit leaves nothing behind: no empty set */
	ipfix_msg_begin(&m, buf, 16 + 4 + 4, 0);
	ck_assert_int_eq(ipfix_msg_add_record(&m, &p, &r), -ENOSPC);
	ck_assert(ipfix_msg_empty(&m));
	ck_assert_uint_eq(ipfix_msg_finish(&m, 0, 0), 16);
}
END_TEST

START_TEST(test_compile_rejects)
{
	struct ipfix_field f[IPFIX_MAX_FIELDS + 1];
	struct ipfix_plan p;
	unsigned int i;

	for (i = 0; i <= IPFIX_MAX_FIELDS; i++) {
		f[i].ie = ipfix_ie_by_id(1);
		f[i].length = 8;
	}
	ck_assert_int_eq(ipfix_plan_compile(&p, 256, f, IPFIX_MAX_FIELDS, 0), 0);
	ck_assert_int_eq(ipfix_plan_compile(&p, 256, f, IPFIX_MAX_FIELDS + 1, 0),
			 -EINVAL);
	ck_assert_int_eq(ipfix_plan_compile(&p, 256, f, 0, 0), -EINVAL);
	ck_assert_int_eq(ipfix_plan_compile(&p, 255, f, 1, 0), -EINVAL);
	f[0].length = 9;
	ck_assert_int_eq(ipfix_plan_compile(&p, 256, f, 1, 0), -EINVAL);
	f[0].length = IPFIX_VARLEN;	/* a counter cannot be variable */
	ck_assert_int_eq(ipfix_plan_compile(&p, 256, f, 1, 0), -EINVAL);
	f[0].ie = ipfix_ie_by_id(8);
	f[0].length = 16;		/* an IPv4 address is 4 octets */
	ck_assert_int_eq(ipfix_plan_compile(&p, 256, f, 1, 0), -EINVAL);
}
END_TEST

/* ---- a small IPFIX reader for what the exporter sends ---- */

struct reader {
	uint16_t tmpl_id[64];
	uint16_t tmpl_len[64];	/* record length of each known template */
	int n_tmpl;
	uint32_t domain[8];
	uint32_t next_seq[8];
	int n_domain;
	/* what was read */
	int messages;
	int template_records;
	int options_template_records;
	int data_records;		/* sets >= 256 except the options */
	int options_records;
	int max_msg_len;
	uint32_t last_seq;
	uint32_t last_export_time;
	uint64_t last_exported_messages;	/* from the options record */
	uint64_t last_not_sent;
};

static uint16_t get16(const uint8_t *p)
{
	return p[0] << 8 | p[1];
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

static int reader_tmpl(struct reader *rd, uint16_t id)
{
	int i;

	for (i = 0; i < rd->n_tmpl; i++)
		if (rd->tmpl_id[i] == id)
			return i;
	return -1;
}

static uint32_t *reader_seq(struct reader *rd, uint32_t domain)
{
	int i;

	for (i = 0; i < rd->n_domain; i++)
		if (rd->domain[i] == domain)
			return &rd->next_seq[i];
	ck_assert_int_lt(rd->n_domain, 8);
	rd->domain[rd->n_domain] = domain;
	rd->next_seq[rd->n_domain] = 0;
	return &rd->next_seq[rd->n_domain++];
}

/* Walk one message; assert everything RFC 7011 requires of it. */
static void reader_msg(struct reader *rd, const uint8_t *b, size_t len)
{
	uint32_t *seq, n_data = 0;
	size_t off = 16;

	ck_assert_uint_ge(len, 20);	/* never a message without a set */
	ck_assert_uint_eq(get16(b), 10);
	ck_assert_uint_eq(get16(b + 2), len);
	ck_assert_uint_ge(get32(b + 4), rd->last_export_time);
	rd->last_export_time = get32(b + 4);
	seq = reader_seq(rd, get32(b + 12));
	ck_assert_msg(get32(b + 8) == *seq, "sequence %u, expected %u",
		      get32(b + 8), *seq);
	rd->last_seq = get32(b + 8);
	rd->messages++;
	if ((int)len > rd->max_msg_len)
		rd->max_msg_len = len;
	while (off < len) {
		uint16_t id = get16(b + off), slen = get16(b + off + 2);
		size_t p = off + 4, end = off + slen;

		ck_assert_uint_gt(slen, 4);	/* never an empty set */
		ck_assert_uint_le(end, len);
		if (id == 2 || id == 3) {
			int k = 0;

			do {
				uint16_t tid = get16(b + p);
				uint16_t n = get16(b + p + 2), i, rl = 0;
				int t;

				ck_assert_uint_ge(tid, 256);
				p += id == 3 ? 6 : 4;
				for (i = 0; i < n; i++) {
					uint16_t fid = get16(b + p);

					rl += get16(b + p + 2);
					p += fid & 0x8000 ? 8 : 4;
				}
				t = reader_tmpl(rd, tid);
				if (t < 0) {
					t = rd->n_tmpl++;
					rd->tmpl_id[t] = tid;
				}
				rd->tmpl_len[t] = rl;
				if (id == 2)
					rd->template_records++;
				else
					rd->options_template_records++;
				k++;
			} while (id == 2 && end - p >= 4);
			/* one options template per set */
			ck_assert(id == 2 || k == 1);
		} else {
			int t = reader_tmpl(rd, id);
			uint16_t rl;

			ck_assert_msg(t >= 0, "data set %u before its template",
				      id);
			rl = rd->tmpl_len[t];
			while (end - p >= rl) {
				if (id == IPFIX_TID_EXPORTING_STATS) {
					rd->options_records++;
					rd->last_exported_messages =
						get64(b + p + 4);
					rd->last_not_sent = get64(b + p + 28);
				} else if (id == IPFIX_TID_METERING_STATS) {
					rd->options_records++;
				} else {
					rd->data_records++;
				}
				n_data++;
				p += rl;
			}
		}
		/* padding: shorter than a record, zeros */
		ck_assert_uint_lt(end - p, 4);
		for (; p < end; p++)
			ck_assert_uint_eq(b[p], 0);
		off = end;
	}
	*seq += n_data;
}

/* ---- exporter over UDP ---- */

static uint64_t fake_now = T0_NS;

static uint64_t fake_clock(void)
{
	return fake_now;
}

static int udp_listen(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	ck_assert_int_ge(fd, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* A port on 127.0.0.1 nobody listens on. */
static uint16_t closed_port(int type)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, type, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static void udp_read_all(int fd, struct reader *rd)
{
	uint8_t buf[65536];
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	while (poll(&pfd, 1, 200) > 0) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n <= 0)
			break;
		reader_msg(rd, buf, n);
	}
}

static struct flowctl_config *make_config(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static struct flowctl_config *make_config(const char *fmt, ...)
{
	struct flowctl_config *cfg;
	struct yaml_error err;
	char text[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	ck_assert_msg(config_load_string("test", text, strlen(text), &cfg,
					 &err) == 0, "%s", err.text);
	return cfg;
}

/* 20-octet IPv4 records; 4 of them fit a 100-octet message. */
#define SMALL_TEMPLATE							\
	"templates:\n"							\
	"- id: 256\n"							\
	"  template: [{name: sourceIPv4Address}, "			\
	"{name: destinationIPv4Address}, {name: packetDeltaCount}, "	\
	"{name: ingressInterface}]\n"

static void fill_records(struct flow_record *r, int n, uint32_t domain)
{
	int i;

	memset(r, 0, n * sizeof(*r));
	for (i = 0; i < n; i++) {
		r[i].ip_version = 4;
		set_v4(r[i].src_addr, 10, 1, i >> 8, i & 0xff);
		set_v4(r[i].dst_addr, 10, 2, 0, 1);
		r[i].packets = i + 1;
		r[i].octets = 100 * (i + 1);
		r[i].ingress_ifindex = 2;
		r[i].obs_domain_id = domain;
	}
}

START_TEST(test_udp_sequence_and_split)
{
	struct ipfix_collector_stats st;
	struct flowctl_config *cfg;
	struct ipfix_exporter *ex;
	struct flow_record recs[10];
	struct reader rd = {};
	uint16_t port;
	int fd = udp_listen(&port);

	cfg = make_config("maxIpfixMessageLen: 100\n"
			  "collectors: [{address: 127.0.0.1:%u}]\n"
			  SMALL_TEMPLATE, port);
	ck_assert_int_eq(config_exporter_create(cfg, &ex), 0);
	ipfix_exporter_set_clock(ex, fake_clock);
	fill_records(recs, 10, 5);
	ipfix_exporter_export(ex, recs, 10);
	udp_read_all(fd, &rd);

	ck_assert_int_eq(rd.data_records, 10);
	/* 16 + 4 + 4 * 20 = 100: 4, 4 and 2 records */
	ck_assert_int_le(rd.max_msg_len, 100);
	ck_assert_int_eq(rd.template_records, 1);
	ck_assert_int_eq(rd.options_template_records, 2);
	ck_assert_int_eq(rd.options_records, 2);
	/* the last data message: 2 options + 8 data records before it */
	ck_assert_uint_eq(rd.last_seq, 10);
	ck_assert_uint_eq(rd.last_export_time, 1700000000);

	/* a second batch continues the sequence */
	ipfix_exporter_export(ex, recs, 3);
	udp_read_all(fd, &rd);
	ck_assert_int_eq(rd.data_records, 13);
	ck_assert_uint_eq(rd.last_seq, 12);
	ck_assert_uint_eq(rd.next_seq[0], 15);

	ipfix_exporter_stats(ex, 0, &st);
	ck_assert_uint_eq(st.records, 13);
	ck_assert_uint_eq(st.records_not_sent, 0);
	ck_assert_uint_eq(st.send_errors, 0);
	ck_assert_uint_eq(st.messages, rd.messages);
	ck_assert_int_eq(ipfix_exporter_flush(ex, 100), 0);
	ipfix_exporter_destroy(ex);
	config_free(cfg);
	close(fd);
}
END_TEST

START_TEST(test_udp_domains_and_refresh)
{
	struct flowctl_config *cfg;
	struct ipfix_exporter *ex;
	struct flow_record recs[6];
	struct reader rd = {};
	uint16_t port;
	int fd = udp_listen(&port), i;

	cfg = make_config("timerTemplateFlushSeconds: 60\n"
			  "collectors: [{address: 127.0.0.1:%u}]\n"
			  SMALL_TEMPLATE, port);
	ck_assert_int_eq(config_exporter_create(cfg, &ex), 0);
	fake_now = T0_NS;
	ipfix_exporter_set_clock(ex, fake_clock);
	fill_records(recs, 6, 5);
	for (i = 1; i < 6; i += 2)
		recs[i].obs_domain_id = 6;
	ipfix_exporter_set_metering(ex, 6, 11, 1100);
	ipfix_exporter_export(ex, recs, 6);
	udp_read_all(fd, &rd);
	/* each domain got its templates (256 and the built-in IPv6 one)
	 * and has its own counter */
	ck_assert_int_eq(rd.n_domain, 2);
	ck_assert_int_eq(rd.template_records, 4);
	ck_assert_int_eq(rd.data_records, 6);
	ck_assert_uint_eq(rd.next_seq[0], 2 + 3);
	ck_assert_uint_eq(rd.next_seq[1], 2 + 3);

	/* nothing to refresh yet */
	fake_now += 59 * 1000000000ULL;
	ipfix_exporter_tick(ex);
	udp_read_all(fd, &rd);
	ck_assert_int_eq(rd.template_records, 4);

	/* refresh: templates again, the options records advance the
	 * sequence, the export time follows the clock */
	fake_now += 2 * 1000000000ULL;
	ipfix_exporter_tick(ex);
	udp_read_all(fd, &rd);
	ck_assert_int_eq(rd.template_records, 8);
	ck_assert_int_eq(rd.options_records, 8);
	ck_assert_uint_eq(rd.next_seq[0], 2 + 3 + 2);
	ck_assert_uint_eq(rd.last_export_time, 1700000061);
	ck_assert_uint_ge(rd.last_exported_messages, 2);
	ipfix_exporter_destroy(ex);
	config_free(cfg);
	close(fd);
}
END_TEST

START_TEST(test_udp_templates_at_start)
{
	struct flowctl_config *cfg;
	struct ipfix_exporter *ex;
	struct flow_record recs[2];
	struct reader rd = {};
	uint16_t port;
	int fd = udp_listen(&port);

	cfg = make_config("observationDomainId: 9\n"
			  "collectors: [{address: 127.0.0.1:%u}]\n"
			  SMALL_TEMPLATE, port);
	ck_assert_int_eq(config_exporter_create(cfg, &ex), 0);
	/* the configured domain's templates leave at once */
	udp_read_all(fd, &rd);
	ck_assert_int_eq(rd.template_records, 2);
	ck_assert_int_eq(rd.data_records, 0);
	ck_assert_uint_eq(rd.domain[0], 9);
	/* an announced domain too, once */
	ipfix_exporter_add_domain(ex, 10);
	ipfix_exporter_add_domain(ex, 10);
	udp_read_all(fd, &rd);
	ck_assert_int_eq(rd.template_records, 4);
	/* and no second copy before the records */
	fill_records(recs, 2, 10);
	ipfix_exporter_export(ex, recs, 2);
	udp_read_all(fd, &rd);
	ck_assert_int_eq(rd.template_records, 4);
	ck_assert_int_eq(rd.data_records, 2);
	ipfix_exporter_destroy(ex);
	config_free(cfg);
	close(fd);
}
END_TEST

START_TEST(test_udp_collector_down)
{
	struct ipfix_collector_stats st;
	struct flowctl_config *cfg;
	struct ipfix_exporter *ex;
	struct flow_record recs[40];
	int i;

	cfg = make_config("maxIpfixMessageLen: 100\n"
			  "collectors: [{address: 127.0.0.1:%u}]\n"
			  SMALL_TEMPLATE, closed_port(SOCK_DGRAM));
	ck_assert_int_eq(config_exporter_create(cfg, &ex), 0);
	fill_records(recs, 40, 1);
	for (i = 0; i < 4; i++)
		ipfix_exporter_export(ex, recs + 10 * i, 10);
	ipfix_exporter_flush(ex, 100);
	ipfix_exporter_stats(ex, 0, &st);
	/* refusals (ICMP port unreachable) are counted, never fatal */
	ck_assert_uint_gt(st.send_errors, 0);
	ck_assert_uint_gt(st.records_not_sent, 0);
	ck_assert_uint_eq(st.records + st.records_not_sent, 40);
	ck_assert_uint_eq(st.packets_not_sent > 0, 1);
	ipfix_exporter_destroy(ex);
	config_free(cfg);
}
END_TEST

START_TEST(test_one_collector_down_others_fine)
{
	struct ipfix_collector_stats st;
	struct flowctl_config *cfg;
	struct ipfix_exporter *ex;
	struct flow_record recs[20];
	struct reader rd = {};
	uint16_t port;
	int fd = udp_listen(&port);

	cfg = make_config("outputs:\n"
			  "- collector: {remoteAddress: 127.0.0.1:%u, transport: tcp}\n"
			  "- collector: {remoteAddress: 127.0.0.1:%u}\n"
			  "- collector: {remoteAddress: 127.0.0.1:%u}\n"
			  SMALL_TEMPLATE, closed_port(SOCK_STREAM),
			  closed_port(SOCK_DGRAM), port);
	ck_assert_int_eq(config_exporter_create(cfg, &ex), 0);
	ck_assert_uint_eq(ipfix_exporter_n_collectors(ex), 3);
	fill_records(recs, 20, 1);
	ipfix_exporter_export(ex, recs, 10);
	ipfix_exporter_tick(ex);
	ipfix_exporter_export(ex, recs + 10, 10);
	ipfix_exporter_flush(ex, 500);
	udp_read_all(fd, &rd);
	ck_assert_int_eq(rd.data_records, 20);
	ipfix_exporter_stats(ex, 2, &st);
	ck_assert_uint_eq(st.records, 20);
	ck_assert_uint_eq(st.records_not_sent, 0);
	ipfix_exporter_stats(ex, 0, &st);
	ck_assert_uint_eq(st.records, 0);
	ck_assert_uint_eq(st.records_not_sent, 20);
	ipfix_exporter_destroy(ex);
	config_free(cfg);
	close(fd);
}
END_TEST

/* ---- exporter over TCP ---- */

static int tcp_listen(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static int tcp_accept(int lfd, struct ipfix_exporter *ex)
{
	struct pollfd pfd = { .fd = lfd, .events = POLLIN };
	int i;

	for (i = 0; i < 100; i++) {
		ipfix_exporter_tick(ex);
		if (poll(&pfd, 1, 10) > 0)
			return accept(lfd, NULL, NULL);
	}
	ck_abort_msg("the exporter did not connect");
	return -1;
}

/* Read whole messages from a stream until it is quiet. */
static void tcp_read_all(int fd, struct reader *rd, struct ipfix_exporter *ex)
{
	static uint8_t buf[1 << 16];
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t have = 0;

	for (;;) {
		ssize_t n;

		if (ex)
			ipfix_exporter_tick(ex);
		if (poll(&pfd, 1, 200) <= 0)
			break;
		n = recv(fd, buf + have, sizeof(buf) - have, 0);
		if (n <= 0)
			break;
		have += n;
		while (have >= 4 && have >= get16(buf + 2)) {
			size_t len = get16(buf + 2);

			reader_msg(rd, buf, len);
			memmove(buf, buf + len, have - len);
			have -= len;
		}
	}
	ck_assert_uint_eq(have, 0);
}

START_TEST(test_tcp_session)
{
	struct ipfix_collector_stats st;
	struct flowctl_config *cfg;
	struct ipfix_exporter *ex;
	struct flow_record recs[30];
	struct reader rd = {};
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	uint16_t port;
	int lfd = tcp_listen(&port), cfd, i;

	cfg = make_config("maxIpfixMessageLen: 200\n"
			  "outputs:\n"
			  "- collector: {remoteAddress: 127.0.0.1:%u, "
			  "transport: tcp, reconnectIntervalSeconds: 5}\n"
			  SMALL_TEMPLATE, port);
	ck_assert_int_eq(config_exporter_create(cfg, &ex), 0);
	fake_now = T0_NS;
	ipfix_exporter_set_clock(ex, fake_clock);
	ck_assert_int_ge(ipfix_exporter_fd(ex), 0);
	cfd = tcp_accept(lfd, ex);
	ck_assert_int_ge(cfd, 0);
	fill_records(recs, 30, 3);
	ipfix_exporter_export(ex, recs, 30);
	ck_assert_int_eq(ipfix_exporter_flush(ex, 1000), 0);
	tcp_read_all(cfd, &rd, NULL);
	ck_assert_int_eq(rd.data_records, 30);
	ck_assert_int_eq(rd.template_records, 2);	/* 256, built-in v6 */
	ck_assert_uint_eq(rd.next_seq[0], 32);

	/* TCP: no template refresh, the statistics still go out */
	fake_now += 61 * 1000000000ULL;
	ipfix_exporter_tick(ex);
	tcp_read_all(cfd, &rd, ex);
	ck_assert_int_eq(rd.template_records, 2);
	ck_assert_int_eq(rd.options_records, 4);
	ck_assert_uint_eq(rd.next_seq[0], 34);
	ipfix_exporter_stats(ex, 0, &st);
	ck_assert(st.up);
	ck_assert_uint_eq(st.connects, 1);
	ck_assert_uint_eq(st.records, 30);

	/* the collector resets the connection */
	setsockopt(cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(cfd);
	for (i = 0; i < 50; i++) {
		ipfix_exporter_tick(ex);
		ipfix_exporter_stats(ex, 0, &st);
		if (!st.up)
			break;
		usleep(10000);
	}
	ck_assert(!st.up);
	/* down: records are counted, not queued */
	ipfix_exporter_export(ex, recs, 5);
	ipfix_exporter_stats(ex, 0, &st);
	ck_assert_uint_eq(st.records_not_sent, 5);
	/* not before reconnectIntervalSeconds */
	fake_now += 4 * 1000000000ULL;
	ipfix_exporter_tick(ex);
	usleep(50000);
	{
		struct pollfd pfd = { .fd = lfd, .events = POLLIN };

		ck_assert_int_eq(poll(&pfd, 1, 0), 0);
	}
	fake_now += 2 * 1000000000ULL;
	cfd = tcp_accept(lfd, ex);
	ck_assert_int_ge(cfd, 0);
	ipfix_exporter_export(ex, recs, 7);
	ck_assert_int_eq(ipfix_exporter_flush(ex, 1000), 0);
	/* a new session: templates again, sequence from 0 */
	memset(&rd, 0, sizeof(rd));
	tcp_read_all(cfd, &rd, NULL);
	ck_assert_int_eq(rd.template_records, 2);
	ck_assert_int_eq(rd.data_records, 7);
	ck_assert_uint_eq(rd.next_seq[0], 9);
	ipfix_exporter_stats(ex, 0, &st);
	ck_assert_uint_eq(st.connects, 2);
	ck_assert_uint_eq(st.records, 37);
	ipfix_exporter_destroy(ex);
	config_free(cfg);
	close(cfd);
	close(lfd);
}
END_TEST

START_TEST(test_tcp_collector_down)
{
	struct ipfix_collector_stats st;
	struct flowctl_config *cfg;
	struct ipfix_exporter *ex;
	struct flow_record recs[5];

	cfg = make_config("outputs:\n"
			  "- collector: {remoteAddress: 127.0.0.1:%u, transport: tcp}\n"
			  SMALL_TEMPLATE, closed_port(SOCK_STREAM));
	ck_assert_int_eq(config_exporter_create(cfg, &ex), 0);
	fill_records(recs, 5, 1);
	ipfix_exporter_export(ex, recs, 5);
	ipfix_exporter_flush(ex, 1000);
	ipfix_exporter_stats(ex, 0, &st);
	ck_assert(!st.up);
	ck_assert_uint_eq(st.records, 0);
	ck_assert_uint_eq(st.records_not_sent, 5);
	ck_assert_uint_ge(st.send_errors, 1);
	ipfix_exporter_destroy(ex);
	config_free(cfg);
}
END_TEST

START_TEST(test_tcp_queue_bounded)
{
	struct ipfix_collector_stats st;
	struct flowctl_config *cfg;
	struct ipfix_exporter *ex;
	static struct flow_record recs[1000];
	uint16_t port;
	int lfd = tcp_listen(&port), cfd, i;
	double t0, worst = 0;

	cfg = make_config("outputs:\n"
			  "- collector: {remoteAddress: 127.0.0.1:%u, transport: tcp}\n"
			  SMALL_TEMPLATE, port);
	ck_assert_int_eq(config_exporter_create(cfg, &ex), 0);
	cfd = tcp_accept(lfd, ex);
	fill_records(recs, 1000, 1);
	/* the collector never reads: kernel buffers, then our queue fill,
	 * and the rest is counted; the caller is never blocked */
	for (i = 0; i < 1000; i++) {
		t0 = clock_mono_s();
		ipfix_exporter_export(ex, recs, 1000);
		ipfix_exporter_tick(ex);
		if (clock_mono_s() - t0 > worst)
			worst = clock_mono_s() - t0;
		ipfix_exporter_stats(ex, 0, &st);
		if (st.records_not_sent)
			break;
	}
	ck_assert_uint_gt(st.records_not_sent, 0);
	ck_assert_msg(worst < 0.5, "an export call took %.3f s", worst);
	ck_assert(st.up);
	ipfix_exporter_destroy(ex);
	config_free(cfg);
	close(cfd);
	close(lfd);
}
END_TEST

/* ---- which template kernel flows use ---- */

/* A plan of template ID from element names (default lengths). */
static void plan_of(struct ipfix_plan *p, uint16_t id,
		    const char *const *names)
{
	struct ipfix_field f[IPFIX_MAX_FIELDS];
	unsigned int n = 0;

	for (; *names; names++, n++) {
		f[n].ie = ipfix_ie_by_name(*names);
		ck_assert_msg(f[n].ie != NULL, "%s", *names);
		f[n].length = f[n].ie->length;
	}
	ck_assert_int_eq(ipfix_plan_compile(p, id, f, n, 0), 0);
}

/* The original linux-flow-exporter's four templates, in a given order. */
static const char *const t1001[] = {
	"sourceIPv4Address", "destinationIPv4Address",
	"protocolIdentifier", "octetDeltaCount", "packetDeltaCount", NULL,
};
static const char *const t1002[] = {
	"sourceIPv4Address", "destinationIPv4Address",
	"protocolIdentifier", "sourceTransportPort",
	"destinationTransportPort", "ingressInterface", "octetDeltaCount",
	"packetDeltaCount", NULL,
};
static const char *const t1004[] = {
	"sourceIPv4Address", "destinationIPv4Address",
	"protocolIdentifier", "sourceTransportPort",
	"destinationTransportPort", "ingressInterface", "octetDeltaCount",
	"packetDeltaCount", "flowStartMilliseconds", "flowEndMilliseconds",
	NULL,
};
static const char *const t1005[] = {
	"sourceIPv4Address", "destinationIPv4Address",
	"protocolIdentifier", "sourceTransportPort",
	"destinationTransportPort", "ingressInterface", "octetDeltaCount",
	"packetDeltaCount", "flowStartNanoseconds", "flowEndNanoseconds",
	NULL,
};
static const char *const v6_small[] = {
	"sourceIPv6Address", "destinationIPv6Address", "octetDeltaCount",
	NULL,
};
/* more fields than 1004, but two the meter does not fill */
static const char *const t_unmeasured[] = {
	"sourceIPv4Address", "destinationIPv4Address",
	"protocolIdentifier", "octetDeltaCount", "packetDeltaCount",
	"bgpSourceAsNumber", "bgpDestinationAsNumber",
	"bgpNextHopIPv4Address", "ipNextHopIPv4Address",
	"flowLabelIPv6", "samplingInterval", "postNATSourceIPv4Address",
	NULL,
};

START_TEST(test_choose_original_config)
{
	struct ipfix_plan p[4];
	struct ipfix_plan_choice c;
	char why[256];

	/* order of the config must not matter: 1005 first, 1004 last */
	plan_of(&p[0], 1005, t1005);
	plan_of(&p[1], 1002, t1002);
	plan_of(&p[2], 1001, t1001);
	plan_of(&p[3], 1004, t1004);
	ck_assert_uint_eq(ipfix_plan_measured(&p[2]), 5);
	ck_assert_uint_eq(ipfix_plan_measured(&p[3]), 10);
	ck_assert_int_eq(ipfix_plan_choose(p, 4, 4, 0, &c), 0);
	ck_assert_ptr_eq(c.plan, &p[3]);	/* 1004, as the original */
	ck_assert_int_eq(c.reason, IPFIX_CHOICE_MOST);
	ck_assert_uint_eq(c.measured, 10);
	ck_assert_uint_eq(c.n_ties, 1);		/* 1005: as many, higher id */
	ck_assert_uint_eq(c.tie_ids[0], 1005);
	ck_assert_uint_eq(c.runner_up, 1002);
	ck_assert_uint_eq(c.n_candidates, 4);
	ipfix_plan_choice_explain(&c, why, sizeof(why));
	ck_assert_str_eq(why, "the most measured fields: 10, as many as 1005 (the lowest id wins); next: 1002 with 8");
	/* no template without IPv4 addresses: IPv6 gets none (built-in) */
	ck_assert_int_eq(ipfix_plan_choose(p, 4, 6, 0, &c), 0);
	ck_assert_ptr_null(c.plan);
	ck_assert_int_eq(c.reason, IPFIX_CHOICE_NONE);
	ipfix_plan_choice_explain(&c, why, sizeof(why));
	ck_assert_str_eq(why, "no configured template is without IPv4 addresses");
}
END_TEST

START_TEST(test_choose_pinned_and_versions)
{
	struct ipfix_plan p[4];
	struct ipfix_plan_choice c;

	plan_of(&p[0], 1001, t1001);
	plan_of(&p[1], 1004, t1004);
	plan_of(&p[2], 2006, v6_small);
	plan_of(&p[3], 900, t_unmeasured);
	/* fields the meter leaves zero do not count: 900 has 12 fields,
	 * 5 measured */
	ck_assert_uint_eq(ipfix_plan_measured(&p[3]), 5);
	ck_assert_int_eq(ipfix_plan_choose(p, 4, 4, 0, &c), 0);
	ck_assert_uint_eq(c.plan->id, 1004);
	ck_assert_int_eq(ipfix_plan_choose(p, 4, 6, 0, &c), 0);
	ck_assert_uint_eq(c.plan->id, 2006);
	ck_assert_uint_eq(c.n_candidates, 1);
	/* pinned: that one, whatever it measures */
	ck_assert_int_eq(ipfix_plan_choose(p, 4, 4, 1001, &c), 0);
	ck_assert_uint_eq(c.plan->id, 1001);
	ck_assert_int_eq(c.reason, IPFIX_CHOICE_PINNED);
	ck_assert_int_eq(ipfix_plan_choose(p, 4, 4, 1234, &c), -ENOENT);
	ck_assert_int_eq(ipfix_plan_choose(p, 4, 4, 2006, &c), -EINVAL);
	ck_assert_int_eq(ipfix_plan_choose(p, 4, 6, 1004, &c), -EINVAL);
	ck_assert_int_eq(ipfix_plan_choose(NULL, 0, 4, 0, &c), 0);
	ck_assert_ptr_null(c.plan);
}
END_TEST

static Suite *ipfix_suite(void)
{
	Suite *s = suite_create("ipfix");
	TCase *enc = tcase_create("encoder");
	TCase *exp = tcase_create("exporter");

	tcase_add_test(enc, test_template_set);
	tcase_add_test(enc, test_options_template_and_padding);
	tcase_add_test(enc, test_one_options_template_per_set);
	tcase_add_test(enc, test_data_sets_padding);
	tcase_add_test(enc, test_no_padding_when_not_shorter_than_record);
	tcase_add_test(enc, test_varlen_enterprise);
	tcase_add_test(enc, test_netns_string_is_utf8);
	tcase_add_test(enc, test_times);
	tcase_add_test(enc, test_ntp_conversions);
	tcase_add_test(enc, test_default_v4_record);
	tcase_add_test(enc, test_default_v6_record);
	tcase_add_test(enc, test_reduced_size_saturates);
	tcase_add_test(enc, test_not_measured_is_zero);
	tcase_add_test(enc, test_message_limit);
	tcase_add_test(enc, test_compile_rejects);
	tcase_add_test(enc, test_choose_original_config);
	tcase_add_test(enc, test_choose_pinned_and_versions);
	suite_add_tcase(s, enc);

	tcase_set_timeout(exp, 20);
	tcase_add_test(exp, test_udp_sequence_and_split);
	tcase_add_test(exp, test_udp_domains_and_refresh);
	tcase_add_test(exp, test_udp_templates_at_start);
	tcase_add_test(exp, test_udp_collector_down);
	tcase_add_test(exp, test_one_collector_down_others_fine);
	tcase_add_test(exp, test_tcp_session);
	tcase_add_test(exp, test_tcp_collector_down);
	tcase_add_test(exp, test_tcp_queue_bounded);
	suite_add_tcase(s, exp);
	return s;
}

CHECK_MAIN(ipfix_suite)
