// SPDX-License-Identifier: Apache-2.0
/*
 * The IPFIX Information Element registry.  Ids, abstract data types and
 * default lengths are IANA's ("IPFIX Information Elements", RFC 7012); the
 * source column says which struct flow_record field feeds each element.
 */
#include "ipfix_ie.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Default field length of each abstract data type. */
#define LEN_OCTET_ARRAY			IPFIX_VARLEN
#define LEN_STRING			IPFIX_VARLEN
#define LEN_UNSIGNED8			1
#define LEN_UNSIGNED16			2
#define LEN_UNSIGNED32			4
#define LEN_UNSIGNED64			8
#define LEN_MAC				6
#define LEN_DATETIME_SECONDS		4
#define LEN_DATETIME_MILLISECONDS	8
#define LEN_DATETIME_MICROSECONDS	8
#define LEN_DATETIME_NANOSECONDS	8
#define LEN_IPV4			4
#define LEN_IPV6			16

#define IE(n, i, t, s) { .name = #n, .id = i, .type = IPFIX_T_##t, \
			 .length = LEN_##t, .source = IPFIX_SRC_##s }

/* Sorted by id (ipfix_ie_by_id searches it by bisection). */
static const struct ipfix_ie ie_table[] = {
	IE(octetDeltaCount, 1, UNSIGNED64, OCTETS),
	IE(packetDeltaCount, 2, UNSIGNED64, PACKETS),
	IE(deltaFlowCount, 3, UNSIGNED64, NONE),
	IE(protocolIdentifier, 4, UNSIGNED8, PROTO),
	IE(ipClassOfService, 5, UNSIGNED8, TOS),
	IE(tcpControlBits, 6, UNSIGNED16, TCP_FLAGS),
	IE(sourceTransportPort, 7, UNSIGNED16, SPORT),
	IE(sourceIPv4Address, 8, IPV4, SRC_V4),
	IE(sourceIPv4PrefixLength, 9, UNSIGNED8, NONE),
	IE(ingressInterface, 10, UNSIGNED32, INGRESS_IF),
	IE(destinationTransportPort, 11, UNSIGNED16, DPORT),
	IE(destinationIPv4Address, 12, IPV4, DST_V4),
	IE(destinationIPv4PrefixLength, 13, UNSIGNED8, NONE),
	IE(egressInterface, 14, UNSIGNED32, EGRESS_IF),
	IE(ipNextHopIPv4Address, 15, IPV4, NONE),
	IE(bgpSourceAsNumber, 16, UNSIGNED32, NONE),
	IE(bgpDestinationAsNumber, 17, UNSIGNED32, NONE),
	IE(bgpNextHopIPv4Address, 18, IPV4, NONE),
	IE(postMCastPacketDeltaCount, 19, UNSIGNED64, NONE),
	IE(postMCastOctetDeltaCount, 20, UNSIGNED64, NONE),
	IE(flowEndSysUpTime, 21, UNSIGNED32, NONE),
	IE(flowStartSysUpTime, 22, UNSIGNED32, NONE),
	IE(postOctetDeltaCount, 23, UNSIGNED64, NONE),
	IE(postPacketDeltaCount, 24, UNSIGNED64, NONE),
	IE(minimumIpTotalLength, 25, UNSIGNED64, NONE),
	IE(maximumIpTotalLength, 26, UNSIGNED64, NONE),
	IE(sourceIPv6Address, 27, IPV6, SRC_V6),
	IE(destinationIPv6Address, 28, IPV6, DST_V6),
	IE(sourceIPv6PrefixLength, 29, UNSIGNED8, NONE),
	IE(destinationIPv6PrefixLength, 30, UNSIGNED8, NONE),
	IE(flowLabelIPv6, 31, UNSIGNED32, NONE),
	IE(icmpTypeCodeIPv4, 32, UNSIGNED16, ICMP_V4),
	IE(igmpType, 33, UNSIGNED8, NONE),
	IE(samplingInterval, 34, UNSIGNED32, NONE),
	IE(samplingAlgorithm, 35, UNSIGNED8, NONE),
	IE(flowActiveTimeout, 36, UNSIGNED16, NONE),
	IE(flowIdleTimeout, 37, UNSIGNED16, NONE),
	IE(engineType, 38, UNSIGNED8, NONE),
	IE(engineId, 39, UNSIGNED8, NONE),
	IE(exportedOctetTotalCount, 40, UNSIGNED64, NONE),
	IE(exportedMessageTotalCount, 41, UNSIGNED64, NONE),
	IE(exportedFlowRecordTotalCount, 42, UNSIGNED64, NONE),
	IE(sourceIPv4Prefix, 44, IPV4, NONE),
	IE(destinationIPv4Prefix, 45, IPV4, NONE),
	IE(mplsTopLabelType, 46, UNSIGNED8, NONE),
	IE(mplsTopLabelIPv4Address, 47, IPV4, NONE),
	IE(minimumTTL, 52, UNSIGNED8, MIN_TTL),
	IE(maximumTTL, 53, UNSIGNED8, MAX_TTL),
	IE(fragmentIdentification, 54, UNSIGNED32, NONE),
	IE(postIpClassOfService, 55, UNSIGNED8, NONE),
	IE(sourceMacAddress, 56, MAC, NONE),
	IE(postDestinationMacAddress, 57, MAC, NONE),
	IE(vlanId, 58, UNSIGNED16, VLAN),
	IE(postVlanId, 59, UNSIGNED16, VLAN),
	IE(ipVersion, 60, UNSIGNED8, IP_VERSION),
	IE(flowDirection, 61, UNSIGNED8, DIRECTION),
	IE(ipNextHopIPv6Address, 62, IPV6, NONE),
	IE(bgpNextHopIPv6Address, 63, IPV6, NONE),
	IE(ipv6ExtensionHeaders, 64, UNSIGNED32, NONE),
	IE(destinationMacAddress, 80, MAC, NONE),
	IE(postSourceMacAddress, 81, MAC, NONE),
	IE(interfaceName, 82, STRING, NONE),
	IE(interfaceDescription, 83, STRING, NONE),
	IE(octetTotalCount, 85, UNSIGNED64, NONE),
	IE(packetTotalCount, 86, UNSIGNED64, NONE),
	IE(fragmentOffset, 88, UNSIGNED16, NONE),
	IE(forwardingStatus, 89, UNSIGNED8, NONE),
	IE(bgpNextAdjacentAsNumber, 128, UNSIGNED32, NONE),
	IE(bgpPrevAdjacentAsNumber, 129, UNSIGNED32, NONE),
	IE(exporterIPv4Address, 130, IPV4, NONE),
	IE(exporterIPv6Address, 131, IPV6, NONE),
	IE(droppedOctetDeltaCount, 132, UNSIGNED64, NONE),
	IE(droppedPacketDeltaCount, 133, UNSIGNED64, NONE),
	IE(droppedOctetTotalCount, 134, UNSIGNED64, NONE),
	IE(droppedPacketTotalCount, 135, UNSIGNED64, NONE),
	IE(flowEndReason, 136, UNSIGNED8, END_REASON),
	IE(commonPropertiesId, 137, UNSIGNED64, NONE),
	IE(observationPointId, 138, UNSIGNED64, NONE),
	IE(icmpTypeCodeIPv6, 139, UNSIGNED16, ICMP_V6),
	IE(mplsTopLabelIPv6Address, 140, IPV6, NONE),
	IE(lineCardId, 141, UNSIGNED32, NONE),
	IE(portId, 142, UNSIGNED32, NONE),
	IE(meteringProcessId, 143, UNSIGNED32, NONE),
	IE(exportingProcessId, 144, UNSIGNED32, EXPORTING_PROCESS),
	IE(templateId, 145, UNSIGNED16, NONE),
	IE(flowId, 148, UNSIGNED64, NONE),
	IE(observationDomainId, 149, UNSIGNED32, OBS_DOMAIN),
	IE(flowStartSeconds, 150, DATETIME_SECONDS, START_S),
	IE(flowEndSeconds, 151, DATETIME_SECONDS, END_S),
	IE(flowStartMilliseconds, 152, DATETIME_MILLISECONDS, START_MS),
	IE(flowEndMilliseconds, 153, DATETIME_MILLISECONDS, END_MS),
	IE(flowStartMicroseconds, 154, DATETIME_MICROSECONDS, START_US),
	IE(flowEndMicroseconds, 155, DATETIME_MICROSECONDS, END_US),
	IE(flowStartNanoseconds, 156, DATETIME_NANOSECONDS, START_NS),
	IE(flowEndNanoseconds, 157, DATETIME_NANOSECONDS, END_NS),
	IE(flowStartDeltaMicroseconds, 158, UNSIGNED32, NONE),
	IE(flowEndDeltaMicroseconds, 159, UNSIGNED32, NONE),
	IE(systemInitTimeMilliseconds, 160, DATETIME_MILLISECONDS, NONE),
	IE(flowDurationMilliseconds, 161, UNSIGNED32, DURATION_MS),
	IE(flowDurationMicroseconds, 162, UNSIGNED32, DURATION_US),
	IE(observedFlowTotalCount, 163, UNSIGNED64, NONE),
	IE(ignoredPacketTotalCount, 164, UNSIGNED64, NONE),
	IE(ignoredOctetTotalCount, 165, UNSIGNED64, NONE),
	IE(notSentFlowTotalCount, 166, UNSIGNED64, NONE),
	IE(notSentPacketTotalCount, 167, UNSIGNED64, NONE),
	IE(notSentOctetTotalCount, 168, UNSIGNED64, NONE),
	IE(icmpTypeIPv4, 176, UNSIGNED8, ICMP_TYPE_V4),
	IE(icmpCodeIPv4, 177, UNSIGNED8, ICMP_CODE_V4),
	IE(icmpTypeIPv6, 178, UNSIGNED8, ICMP_TYPE_V6),
	IE(icmpCodeIPv6, 179, UNSIGNED8, ICMP_CODE_V6),
	IE(udpSourcePort, 180, UNSIGNED16, UDP_SPORT),
	IE(udpDestinationPort, 181, UNSIGNED16, UDP_DPORT),
	IE(tcpSourcePort, 182, UNSIGNED16, TCP_SPORT),
	IE(tcpDestinationPort, 183, UNSIGNED16, TCP_DPORT),
	IE(tcpSequenceNumber, 184, UNSIGNED32, NONE),
	IE(tcpAcknowledgementNumber, 185, UNSIGNED32, NONE),
	IE(tcpWindowSize, 186, UNSIGNED16, NONE),
	IE(ipHeaderLength, 189, UNSIGNED8, NONE),
	IE(totalLengthIPv4, 190, UNSIGNED16, NONE),
	IE(payloadLengthIPv6, 191, UNSIGNED16, NONE),
	IE(ipTTL, 192, UNSIGNED8, MAX_TTL),
	IE(nextHeaderIPv6, 193, UNSIGNED8, NEXT_HEADER_V6),
	IE(ipDiffServCodePoint, 195, UNSIGNED8, DSCP),
	IE(ipPrecedence, 196, UNSIGNED8, PRECEDENCE),
	IE(fragmentFlags, 197, UNSIGNED8, NONE),
	IE(udpMessageLength, 205, UNSIGNED16, NONE),
	IE(isMulticast, 206, UNSIGNED8, NONE),
	IE(paddingOctets, 210, OCTET_ARRAY, NONE),
	IE(exportProtocolVersion, 214, UNSIGNED8, NONE),
	IE(exportTransportProtocol, 215, UNSIGNED8, NONE),
	IE(collectorTransportPort, 216, UNSIGNED16, NONE),
	IE(exporterTransportPort, 217, UNSIGNED16, NONE),
	IE(tcpSynTotalCount, 218, UNSIGNED64, NONE),
	IE(tcpFinTotalCount, 219, UNSIGNED64, NONE),
	IE(tcpRstTotalCount, 220, UNSIGNED64, NONE),
	IE(tcpPshTotalCount, 221, UNSIGNED64, NONE),
	IE(tcpAckTotalCount, 222, UNSIGNED64, NONE),
	IE(tcpUrgTotalCount, 223, UNSIGNED64, NONE),
	IE(ipTotalLength, 224, UNSIGNED64, NONE),
	IE(postNATSourceIPv4Address, 225, IPV4, NONE),
	IE(postNATDestinationIPv4Address, 226, IPV4, NONE),
	IE(postNAPTSourceTransportPort, 227, UNSIGNED16, NONE),
	IE(postNAPTDestinationTransportPort, 228, UNSIGNED16, NONE),
	IE(biflowDirection, 239, UNSIGNED8, NONE),
	IE(dot1qVlanId, 243, UNSIGNED16, VLAN),
	IE(dot1qPriority, 244, UNSIGNED8, NONE),
	IE(dot1qCustomerVlanId, 245, UNSIGNED16, NONE),
	IE(dot1qCustomerPriority, 246, UNSIGNED8, NONE),
	IE(ethernetType, 256, UNSIGNED16, NONE),
	IE(observationTimeSeconds, 322, DATETIME_SECONDS, NONE),
	IE(observationTimeMilliseconds, 323, DATETIME_MILLISECONDS, NONE),
	IE(observationTimeMicroseconds, 324, DATETIME_MICROSECONDS, NONE),
	IE(observationTimeNanoseconds, 325, DATETIME_NANOSECONDS, NONE),
};

#define N_IES (sizeof(ie_table) / sizeof(ie_table[0]))

/* The table by name, sorted at first use: a config names every field of
 * up to 65024 templates. */
static const struct ipfix_ie *ie_by_name[N_IES];
static pthread_once_t ie_by_name_once = PTHREAD_ONCE_INIT;

static int cmp_ie_name(const void *a, const void *b)
{
	return strcasecmp((*(const struct ipfix_ie *const *)a)->name,
			  (*(const struct ipfix_ie *const *)b)->name);
}

static void ie_by_name_init(void)
{
	size_t i;

	for (i = 0; i < N_IES; i++)
		ie_by_name[i] = &ie_table[i];
	qsort(ie_by_name, N_IES, sizeof(ie_by_name[0]), cmp_ie_name);
}

const struct ipfix_ie *ipfix_ie_by_name(const char *name)
{
	size_t lo = 0, hi = N_IES;

	pthread_once(&ie_by_name_once, ie_by_name_init);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcasecmp(name, ie_by_name[mid]->name);

		if (!c)
			return ie_by_name[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const struct ipfix_ie *ipfix_ie_by_id(uint16_t id)
{
	size_t lo = 0, hi = N_IES;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (ie_table[mid].id == id)
			return &ie_table[mid];
		if (ie_table[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct ipfix_ie *ipfix_ie_table(size_t *count)
{
	*count = N_IES;
	return ie_table;
}

static const struct {
	const char *name;
	unsigned int size;
} type_info[] = {
	[IPFIX_T_OCTET_ARRAY] = { "octetArray", 0 },
	[IPFIX_T_UNSIGNED8] = { "unsigned8", 1 },
	[IPFIX_T_UNSIGNED16] = { "unsigned16", 2 },
	[IPFIX_T_UNSIGNED32] = { "unsigned32", 4 },
	[IPFIX_T_UNSIGNED64] = { "unsigned64", 8 },
	[IPFIX_T_SIGNED8] = { "signed8", 1 },
	[IPFIX_T_SIGNED16] = { "signed16", 2 },
	[IPFIX_T_SIGNED32] = { "signed32", 4 },
	[IPFIX_T_SIGNED64] = { "signed64", 8 },
	[IPFIX_T_FLOAT32] = { "float32", 4 },
	[IPFIX_T_FLOAT64] = { "float64", 8 },
	[IPFIX_T_BOOLEAN] = { "boolean", 1 },
	[IPFIX_T_MAC] = { "macAddress", 6 },
	[IPFIX_T_STRING] = { "string", 0 },
	[IPFIX_T_DATETIME_SECONDS] = { "dateTimeSeconds", 4 },
	[IPFIX_T_DATETIME_MILLISECONDS] = { "dateTimeMilliseconds", 8 },
	[IPFIX_T_DATETIME_MICROSECONDS] = { "dateTimeMicroseconds", 8 },
	[IPFIX_T_DATETIME_NANOSECONDS] = { "dateTimeNanoseconds", 8 },
	[IPFIX_T_IPV4] = { "ipv4Address", 4 },
	[IPFIX_T_IPV6] = { "ipv6Address", 16 },
};

const char *ipfix_type_name(enum ipfix_type type)
{
	if ((unsigned int)type >= sizeof(type_info) / sizeof(type_info[0]))
		return "?";
	return type_info[type].name;
}

unsigned int ipfix_type_size(enum ipfix_type type)
{
	if ((unsigned int)type >= sizeof(type_info) / sizeof(type_info[0]))
		return 0;
	return type_info[type].size;
}

bool ipfix_type_is_unsigned(enum ipfix_type type)
{
	return type >= IPFIX_T_UNSIGNED8 && type <= IPFIX_T_UNSIGNED64;
}

bool ipfix_type_length_ok(enum ipfix_type type, uint16_t length)
{
	unsigned int size = ipfix_type_size(type);

	switch (type) {
	case IPFIX_T_OCTET_ARRAY:
	case IPFIX_T_STRING:
		return length > 0;
	case IPFIX_T_UNSIGNED16:
	case IPFIX_T_UNSIGNED32:
	case IPFIX_T_UNSIGNED64:
	case IPFIX_T_SIGNED16:
	case IPFIX_T_SIGNED32:
	case IPFIX_T_SIGNED64:
		/* reduced-size encoding (RFC 7011 6.2): 1..size octets */
		return length >= 1 && length <= size;
	case IPFIX_T_FLOAT64:
		return length == 4 || length == 8;
	default:
		return length == size;
	}
}

int ipfix_type_addr_version(enum ipfix_type type)
{
	if (type == IPFIX_T_IPV4)
		return 4;
	if (type == IPFIX_T_IPV6)
		return 6;
	return 0;
}

static const struct ipfix_source_info source_table[] = {
	{ "mark", IPFIX_SRC_MARK, IPFIX_T_UNSIGNED32, 4 },
	{ "netns", IPFIX_SRC_NETNS, IPFIX_T_STRING, IPFIX_VARLEN },
	{ "finished", IPFIX_SRC_FINISHED, IPFIX_T_UNSIGNED8, 1 },
	{ "octets", IPFIX_SRC_OCTETS, IPFIX_T_UNSIGNED64, 8 },
	{ "packets", IPFIX_SRC_PACKETS, IPFIX_T_UNSIGNED64, 8 },
	{ "protocol", IPFIX_SRC_PROTO, IPFIX_T_UNSIGNED8, 1 },
	{ "tos", IPFIX_SRC_TOS, IPFIX_T_UNSIGNED8, 1 },
	{ "vlanId", IPFIX_SRC_VLAN, IPFIX_T_UNSIGNED16, 2 },
	{ "direction", IPFIX_SRC_DIRECTION, IPFIX_T_UNSIGNED8, 1 },
	{ "ingressIfindex", IPFIX_SRC_INGRESS_IF, IPFIX_T_UNSIGNED32, 4 },
	{ "egressIfindex", IPFIX_SRC_EGRESS_IF, IPFIX_T_UNSIGNED32, 4 },
	{ "tcpFlags", IPFIX_SRC_TCP_FLAGS, IPFIX_T_UNSIGNED16, 2 },
	{ "minTtl", IPFIX_SRC_MIN_TTL, IPFIX_T_UNSIGNED8, 1 },
	{ "maxTtl", IPFIX_SRC_MAX_TTL, IPFIX_T_UNSIGNED8, 1 },
	{ "endReason", IPFIX_SRC_END_REASON, IPFIX_T_UNSIGNED8, 1 },
	{ "ipVersion", IPFIX_SRC_IP_VERSION, IPFIX_T_UNSIGNED8, 1 },
	{ "observationDomainId", IPFIX_SRC_OBS_DOMAIN, IPFIX_T_UNSIGNED32, 4 },
	{ "none", IPFIX_SRC_NONE, IPFIX_T_OCTET_ARRAY, 4 },
};

const struct ipfix_source_info *ipfix_source_by_name(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(source_table) / sizeof(source_table[0]); i++)
		if (strcasecmp(source_table[i].name, name) == 0)
			return &source_table[i];
	return NULL;
}

const struct ipfix_source_info *ipfix_source_table(size_t *count)
{
	*count = sizeof(source_table) / sizeof(source_table[0]);
	return source_table;
}
