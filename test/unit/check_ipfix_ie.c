// SPDX-License-Identifier: Apache-2.0
/*
 * The IE registry: IANA ids, types and lengths of the elements flowctl
 * knows, case-insensitive names, the table's own consistency.
 */
#include <string.h>
#include <strings.h>

#include "check_main.h"
#include "ipfix_ie.h"

struct expect_ie {
	const char *name;
	uint16_t id;
	enum ipfix_type type;
	uint16_t length;
};

/* Written from the IANA registry, independently of lib/ipfix/ipfix_ie.c. */
static const struct expect_ie iana[] = {
	{ "octetDeltaCount", 1, IPFIX_T_UNSIGNED64, 8 },
	{ "packetDeltaCount", 2, IPFIX_T_UNSIGNED64, 8 },
	{ "protocolIdentifier", 4, IPFIX_T_UNSIGNED8, 1 },
	{ "ipClassOfService", 5, IPFIX_T_UNSIGNED8, 1 },
	{ "tcpControlBits", 6, IPFIX_T_UNSIGNED16, 2 },
	{ "sourceTransportPort", 7, IPFIX_T_UNSIGNED16, 2 },
	{ "sourceIPv4Address", 8, IPFIX_T_IPV4, 4 },
	{ "sourceIPv4PrefixLength", 9, IPFIX_T_UNSIGNED8, 1 },
	{ "ingressInterface", 10, IPFIX_T_UNSIGNED32, 4 },
	{ "destinationTransportPort", 11, IPFIX_T_UNSIGNED16, 2 },
	{ "destinationIPv4Address", 12, IPFIX_T_IPV4, 4 },
	{ "destinationIPv4PrefixLength", 13, IPFIX_T_UNSIGNED8, 1 },
	{ "egressInterface", 14, IPFIX_T_UNSIGNED32, 4 },
	{ "ipNextHopIPv4Address", 15, IPFIX_T_IPV4, 4 },
	{ "bgpSourceAsNumber", 16, IPFIX_T_UNSIGNED32, 4 },
	{ "bgpDestinationAsNumber", 17, IPFIX_T_UNSIGNED32, 4 },
	{ "bgpNextHopIPv4Address", 18, IPFIX_T_IPV4, 4 },
	{ "sourceIPv6Address", 27, IPFIX_T_IPV6, 16 },
	{ "destinationIPv6Address", 28, IPFIX_T_IPV6, 16 },
	{ "flowLabelIPv6", 31, IPFIX_T_UNSIGNED32, 4 },
	{ "icmpTypeCodeIPv4", 32, IPFIX_T_UNSIGNED16, 2 },
	{ "exportedOctetTotalCount", 40, IPFIX_T_UNSIGNED64, 8 },
	{ "exportedMessageTotalCount", 41, IPFIX_T_UNSIGNED64, 8 },
	{ "exportedFlowRecordTotalCount", 42, IPFIX_T_UNSIGNED64, 8 },
	{ "minimumTTL", 52, IPFIX_T_UNSIGNED8, 1 },
	{ "maximumTTL", 53, IPFIX_T_UNSIGNED8, 1 },
	{ "fragmentIdentification", 54, IPFIX_T_UNSIGNED32, 4 },
	{ "vlanId", 58, IPFIX_T_UNSIGNED16, 2 },
	{ "postVlanId", 59, IPFIX_T_UNSIGNED16, 2 },
	{ "ipVersion", 60, IPFIX_T_UNSIGNED8, 1 },
	{ "flowDirection", 61, IPFIX_T_UNSIGNED8, 1 },
	{ "ipNextHopIPv6Address", 62, IPFIX_T_IPV6, 16 },
	{ "interfaceName", 82, IPFIX_T_STRING, IPFIX_VARLEN },
	{ "octetTotalCount", 85, IPFIX_T_UNSIGNED64, 8 },
	{ "packetTotalCount", 86, IPFIX_T_UNSIGNED64, 8 },
	{ "forwardingStatus", 89, IPFIX_T_UNSIGNED8, 1 },
	{ "flowEndReason", 136, IPFIX_T_UNSIGNED8, 1 },
	{ "icmpTypeCodeIPv6", 139, IPFIX_T_UNSIGNED16, 2 },
	{ "exportingProcessId", 144, IPFIX_T_UNSIGNED32, 4 },
	{ "observationDomainId", 149, IPFIX_T_UNSIGNED32, 4 },
	{ "flowStartSeconds", 150, IPFIX_T_DATETIME_SECONDS, 4 },
	{ "flowEndSeconds", 151, IPFIX_T_DATETIME_SECONDS, 4 },
	{ "flowStartMilliseconds", 152, IPFIX_T_DATETIME_MILLISECONDS, 8 },
	{ "flowEndMilliseconds", 153, IPFIX_T_DATETIME_MILLISECONDS, 8 },
	{ "flowStartNanoseconds", 156, IPFIX_T_DATETIME_NANOSECONDS, 8 },
	{ "flowEndNanoseconds", 157, IPFIX_T_DATETIME_NANOSECONDS, 8 },
	{ "ignoredPacketTotalCount", 164, IPFIX_T_UNSIGNED64, 8 },
	{ "ignoredOctetTotalCount", 165, IPFIX_T_UNSIGNED64, 8 },
	{ "notSentFlowTotalCount", 166, IPFIX_T_UNSIGNED64, 8 },
	{ "notSentPacketTotalCount", 167, IPFIX_T_UNSIGNED64, 8 },
	{ "notSentOctetTotalCount", 168, IPFIX_T_UNSIGNED64, 8 },
	{ "ipTTL", 192, IPFIX_T_UNSIGNED8, 1 },
	{ "dot1qVlanId", 243, IPFIX_T_UNSIGNED16, 2 },
	{ "dot1qCustomerVlanId", 245, IPFIX_T_UNSIGNED16, 2 },
	{ "observationTimeMilliseconds", 323, IPFIX_T_DATETIME_MILLISECONDS, 8 },
};

START_TEST(test_iana_ids)
{
	const struct expect_ie *e = &iana[_i];
	const struct ipfix_ie *ie = ipfix_ie_by_name(e->name);

	ck_assert_msg(ie, "%s missing", e->name);
	ck_assert_str_eq(ie->name, e->name);
	ck_assert_uint_eq(ie->id, e->id);
	ck_assert_int_eq(ie->type, e->type);
	ck_assert_uint_eq(ie->length, e->length);
	ck_assert_uint_eq(ie->pen, 0);
	ck_assert_ptr_eq(ipfix_ie_by_id(e->id), ie);
}
END_TEST

START_TEST(test_case_insensitive)
{
	const struct ipfix_ie *ie = ipfix_ie_by_name("sourceIPv4Address");

	ck_assert_ptr_nonnull(ie);
	ck_assert_ptr_eq(ipfix_ie_by_name("SourceIPv4Address"), ie);
	ck_assert_ptr_eq(ipfix_ie_by_name("SOURCEIPV4ADDRESS"), ie);
	ck_assert_ptr_eq(ipfix_ie_by_name("FlowEndMilliseconds"),
			 ipfix_ie_by_id(153));
	ck_assert_ptr_null(ipfix_ie_by_name("sourceIPv4Addres"));
	ck_assert_ptr_null(ipfix_ie_by_name(""));
	ck_assert_ptr_null(ipfix_ie_by_id(0));
	ck_assert_ptr_null(ipfix_ie_by_id(65535));
}
END_TEST

START_TEST(test_table_consistent)
{
	size_t n, i, j;
	const struct ipfix_ie *t = ipfix_ie_table(&n);

	ck_assert_uint_ge(n, 100);
	for (i = 0; i < n; i++) {
		unsigned int size = ipfix_type_size(t[i].type);

		/* sorted by id, so the bisection finds every entry */
		if (i)
			ck_assert_msg(t[i - 1].id < t[i].id, "%s not sorted",
				      t[i].name);
		ck_assert_ptr_eq(ipfix_ie_by_id(t[i].id), &t[i]);
		ck_assert_uint_eq(t[i].length, size ? size : IPFIX_VARLEN);
		for (j = 0; j < i; j++)
			ck_assert_msg(strcasecmp(t[i].name, t[j].name),
				      "%s twice", t[i].name);
		/* what the meter fills has a value of a fitting type */
		if (ipfix_type_addr_version(t[i].type) == 4)
			ck_assert(t[i].source == IPFIX_SRC_NONE ||
				  t[i].source == IPFIX_SRC_SRC_V4 ||
				  t[i].source == IPFIX_SRC_DST_V4);
	}
}
END_TEST

START_TEST(test_measured_sources)
{
	/* the elements the meter fills, and those it sends as zero */
	ck_assert_int_eq(ipfix_ie_by_name("octetDeltaCount")->source,
			 IPFIX_SRC_OCTETS);
	ck_assert_int_eq(ipfix_ie_by_name("icmpTypeCodeIPv4")->source,
			 IPFIX_SRC_ICMP_V4);
	ck_assert_int_eq(ipfix_ie_by_name("icmpTypeCodeIPv6")->source,
			 IPFIX_SRC_ICMP_V6);
	ck_assert_int_eq(ipfix_ie_by_name("flowStartNanoseconds")->source,
			 IPFIX_SRC_START_NS);
	ck_assert_int_eq(ipfix_ie_by_name("dot1qVlanId")->source,
			 IPFIX_SRC_VLAN);
	ck_assert_int_eq(ipfix_ie_by_name("bgpSourceAsNumber")->source,
			 IPFIX_SRC_NONE);
	ck_assert_int_eq(ipfix_ie_by_name("flowLabelIPv6")->source,
			 IPFIX_SRC_NONE);
}
END_TEST

START_TEST(test_types)
{
	ck_assert_str_eq(ipfix_type_name(IPFIX_T_DATETIME_NANOSECONDS),
			 "dateTimeNanoseconds");
	ck_assert_uint_eq(ipfix_type_size(IPFIX_T_MAC), 6);
	ck_assert(ipfix_type_length_ok(IPFIX_T_UNSIGNED64, 4));
	ck_assert(ipfix_type_length_ok(IPFIX_T_UNSIGNED64, 1));
	ck_assert(!ipfix_type_length_ok(IPFIX_T_UNSIGNED64, 9));
	ck_assert(!ipfix_type_length_ok(IPFIX_T_UNSIGNED8, 2));
	ck_assert(!ipfix_type_length_ok(IPFIX_T_IPV4, 2));
	ck_assert(!ipfix_type_length_ok(IPFIX_T_IPV6, 4));
	ck_assert(ipfix_type_length_ok(IPFIX_T_FLOAT64, 4));
	ck_assert(ipfix_type_length_ok(IPFIX_T_STRING, 20));
	ck_assert(!ipfix_type_length_ok(IPFIX_T_DATETIME_MILLISECONDS, 4));
	ck_assert_int_eq(ipfix_type_addr_version(IPFIX_T_IPV6), 6);
	ck_assert_int_eq(ipfix_type_addr_version(IPFIX_T_UNSIGNED32), 0);
}
END_TEST

START_TEST(test_sources)
{
	const struct ipfix_source_info *s = ipfix_source_by_name("netns");

	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(s->type, IPFIX_T_STRING);
	ck_assert_uint_eq(s->length, IPFIX_VARLEN);
	s = ipfix_source_by_name("Mark");
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(s->source, IPFIX_SRC_MARK);
	ck_assert_uint_eq(s->length, 4);
	ck_assert_ptr_null(ipfix_source_by_name("skb_mark"));
}
END_TEST

static Suite *ipfix_ie_suite(void)
{
	Suite *s = suite_create("ipfix_ie");
	TCase *tc = tcase_create("registry");

	tcase_add_loop_test(tc, test_iana_ids, 0,
			    sizeof(iana) / sizeof(iana[0]));
	tcase_add_test(tc, test_case_insensitive);
	tcase_add_test(tc, test_table_consistent);
	tcase_add_test(tc, test_measured_sources);
	tcase_add_test(tc, test_types);
	tcase_add_test(tc, test_sources);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(ipfix_ie_suite)
