// SPDX-License-Identifier: Apache-2.0
/*
 * JSON flow log: exact lines written by hand for IPv4/IPv6/ICMP/TCP records,
 * the array form through json-c (every field round-trips), RFC 5952 text
 * against inet_ntop, the file output (create, append, reopen after rename,
 * write errors, stdout) and the async writer with its bounded queue; the
 * path opened safely as root (symlinks, hard links, FIFOs, other owners,
 * loose modes and directories refused), whole lines on a full disk
 * (RLIMIT_FSIZE), hostile namespace names escaped for strict readers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "check_main.h"
#include "flowlog.h"

#define TS 1700000002000ULL

static void v4(uint8_t a[16], uint8_t b0, uint8_t b1, uint8_t b2, uint8_t b3)
{
	memset(a, 0, 16);
	a[10] = a[11] = 0xff;
	a[12] = b0;
	a[13] = b1;
	a[14] = b2;
	a[15] = b3;
}

static void v6(uint8_t a[16], const char *text)
{
	ck_assert_int_eq(inet_pton(AF_INET6, text, a), 1);
}

static struct flow_record rec_udp4(void)
{
	struct flow_record r = {
		.ingress_ifindex = 2,
		.egress_ifindex = 3,
		.sport = 1234,
		.dport = 53,
		.proto = 17,
		.ip_version = 4,
		.packets = 10,
		.octets = 840,
		.start_ns = 1700000000123456789ULL,
		.end_ns = 1700000001999000000ULL,
		.min_ttl = 63,
		.max_ttl = 64,
		.end_reason = FLOW_END_IDLE_TIMEOUT,
		.obs_domain_id = 7,
		.netns = "ns0",
	};

	v4(r.src_addr, 10, 1, 0, 2);
	v4(r.dst_addr, 10, 2, 0, 2);
	return r;
}

static struct flow_record rec_tcp6(void)
{
	struct flow_record r = {
		.ingress_ifindex = 4294967295u,
		.egress_ifindex = 0,
		.sport = 65535,
		.dport = 443,
		.vlan_id = 100,
		.proto = 6,
		.tos = 0xb8,
		.direction = 1,
		.ip_version = 6,
		.mark = 0xffffffff,
		.packets = 1ULL << 40,
		.octets = UINT64_MAX,
		.start_ns = 999,
		.end_ns = 1000000,
		.tcp_flags = 0x1b,
		.min_ttl = 1,
		.max_ttl = 255,
		.end_reason = FLOW_END_OF_FLOW,
		.finished = 1,
		.obs_domain_id = 4000000000u,
		.netns = "DEFAULT",
	};

	v6(r.src_addr, "2001:db8::1");
	v6(r.dst_addr, "fd00:1:2:3:4:5:6:7");
	return r;
}

static struct flow_record rec_icmp4(void)
{
	struct flow_record r = rec_udp4();

	r.proto = 1;
	r.sport = 0;
	r.dport = 8 * 256 + 0;		/* echo request */
	r.packets = 1;
	r.octets = 84;
	r.end_reason = FLOW_END_ACTIVE_TIMEOUT;
	return r;
}

static struct flow_record rec_icmp6(void)
{
	struct flow_record r = rec_tcp6();

	r.proto = 58;
	r.sport = 0;
	r.dport = 1 * 256 + 4;		/* unreachable, port unreachable */
	r.tcp_flags = 0;
	r.finished = 0;
	r.end_reason = FLOW_END_FORCED;
	r.vlan_id = 0;
	r.tos = 0;
	r.netns = NULL;
	return r;
}

static size_t count_char(const char *s, char c)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == c;
	return n;
}

static char *format_one(const struct flow_record *r)
{
	static char buf[FLOWLOG_RECORD_MAX(64) + 1];
	size_t len = flowlog_format_record(buf, r, TS);

	buf[len] = '\0';
	return buf;
}

START_TEST(test_line_udp4)
{
	struct flow_record r = rec_udp4();

	ck_assert_str_eq(format_one(&r),
		"{\"level\":\"info\",\"ts\":1700000002000,\"msg\":\"flowlog\","
		"\"src\":\"10.1.0.2\",\"dst\":\"10.2.0.2\",\"proto\":17,"
		"\"sport\":1234,\"dport\":53,\"ingressIfindex\":2,"
		"\"egressIfindex\":3,\"pkts\":10,\"bytes\":840,\"action\":0,"
		"\"start\":1700000000123,\"end\":1700000001999,\"finished\":0,"
		"\"netns\":\"ns0\",\"direction\":\"ingress\",\"ipVersion\":4,"
		"\"tos\":0,\"vlan\":0,\"tcpFlags\":0,\"minTtl\":63,"
		"\"maxTtl\":64,\"endReason\":1,\"obsDomainId\":7}");
}
END_TEST

START_TEST(test_line_tcp6)
{
	struct flow_record r = rec_tcp6();

	ck_assert_str_eq(format_one(&r),
		"{\"level\":\"info\",\"ts\":1700000002000,\"msg\":\"flowlog\","
		"\"src\":\"2001:db8::1\",\"dst\":\"fd00:1:2:3:4:5:6:7\","
		"\"proto\":6,\"sport\":65535,\"dport\":443,"
		"\"ingressIfindex\":4294967295,\"egressIfindex\":0,"
		"\"pkts\":1099511627776,\"bytes\":18446744073709551615,"
		"\"action\":4294967295,\"start\":0,\"end\":1,\"finished\":1,"
		"\"netns\":\"DEFAULT\",\"direction\":\"egress\","
		"\"ipVersion\":6,\"tos\":184,\"vlan\":100,\"tcpFlags\":27,"
		"\"minTtl\":1,\"maxTtl\":255,\"endReason\":3,"
		"\"obsDomainId\":4000000000}");
}
END_TEST

/* Forwarding latency: the mean and the packets measured, only when any. */
START_TEST(test_line_latency)
{
	struct flow_record r = rec_tcp6();
	const char *line;
	size_t len;
	char *big;

	r.latency_count = 3;
	r.latency_sum_ns = 3500;
	line = format_one(&r);
	ck_assert_ptr_nonnull(strstr(line,
		"\"obsDomainId\":4000000000,\"latencyMeanNs\":1166,"
		"\"latencyPackets\":3}"));
	r.latency_count = 0;
	ck_assert_ptr_null(strstr(format_one(&r), "latency"));
	/* the longest line still fits FLOWLOG_RECORD_MAX */
	r.latency_count = 1;
	r.latency_sum_ns = UINT64_MAX;
	r.netns = "\x01\x01\x01\x01";
	big = malloc(FLOWLOG_RECORD_MAX(4) + 1);
	ck_assert_ptr_nonnull(big);
	len = flowlog_format_record(big, &r, UINT64_MAX);
	ck_assert_uint_le(len, FLOWLOG_RECORD_MAX(4));
	free(big);
}
END_TEST

START_TEST(test_line_icmp)
{
	struct flow_record r4 = rec_icmp4(), r6 = rec_icmp6();

	ck_assert_str_eq(format_one(&r4),
		"{\"level\":\"info\",\"ts\":1700000002000,\"msg\":\"flowlog\","
		"\"src\":\"10.1.0.2\",\"dst\":\"10.2.0.2\",\"proto\":1,"
		"\"sport\":0,\"dport\":2048,\"ingressIfindex\":2,"
		"\"egressIfindex\":3,\"pkts\":1,\"bytes\":84,\"action\":0,"
		"\"start\":1700000000123,\"end\":1700000001999,\"finished\":0,"
		"\"netns\":\"ns0\",\"direction\":\"ingress\",\"ipVersion\":4,"
		"\"icmpType\":8,\"icmpCode\":0,"
		"\"tos\":0,\"vlan\":0,\"tcpFlags\":0,\"minTtl\":63,"
		"\"maxTtl\":64,\"endReason\":2,\"obsDomainId\":7}");
	ck_assert_str_eq(format_one(&r6),
		"{\"level\":\"info\",\"ts\":1700000002000,\"msg\":\"flowlog\","
		"\"src\":\"2001:db8::1\",\"dst\":\"fd00:1:2:3:4:5:6:7\","
		"\"proto\":58,\"sport\":0,\"dport\":260,"
		"\"ingressIfindex\":4294967295,\"egressIfindex\":0,"
		"\"pkts\":1099511627776,\"bytes\":18446744073709551615,"
		"\"action\":4294967295,\"start\":0,\"end\":1,\"finished\":0,"
		"\"netns\":\"\",\"direction\":\"egress\",\"ipVersion\":6,"
		"\"icmpType\":1,\"icmpCode\":4,"
		"\"tos\":0,\"vlan\":0,\"tcpFlags\":0,"
		"\"minTtl\":1,\"maxTtl\":255,\"endReason\":4,"
		"\"obsDomainId\":4000000000}");
}
END_TEST

START_TEST(test_netns_escaped)
{
	struct flow_record r = rec_udp4();
	const char *line;

	r.netns = "a\"b\\c\n\x01";
	line = format_one(&r);
	ck_assert_ptr_nonnull(strstr(line,
		",\"netns\":\"a\\\"b\\\\c\\n\\u0001\",\"direction\""));
}
END_TEST

static void check_addr(const uint8_t a[16])
{
	char ours[64], ref[INET6_ADDRSTRLEN];

	flowlog_format_addr(ours, a, 6);
	ck_assert_ptr_nonnull(inet_ntop(AF_INET6, a, ref, sizeof(ref)));
	ck_assert_str_eq(ours, ref);
}

START_TEST(test_ipv6_rfc5952)
{
	static const char *const cases[] = {
		"::", "::1", "1::", "2001:db8::", "2001:db8:0:0:1:0:0:1",
		"2001:db8:0:1:1:1:1:1", "2001:0:0:1:0:0:0:1", "fe80::1:0:0:0",
		"1:0:1:0:1:0:1:0", "::ffff:10.0.0.1", "::10.0.0.1",
		"::ffff:0:1.2.3.4", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
		"0:0:1::", "::2:3", "1:2:3:4:5:6:7::", "::1:0:0:0:0:0",
	};
	uint8_t a[16];
	char text[64];
	unsigned int seed = 1;
	size_t i;
	int k;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v6(a, cases[i]);
		check_addr(a);
	}
	/* random addresses, many zero groups so that runs compete */
	for (k = 0; k < 20000; k++) {
		for (i = 0; i < 8; i++) {
			unsigned int w = rand_r(&seed) % 3 ? 0 :
				rand_r(&seed) & 0xffff;

			if (rand_r(&seed) % 4 == 0)
				w = rand_r(&seed) % 16;
			a[2 * i] = w >> 8;
			a[2 * i + 1] = w & 0xff;
		}
		check_addr(a);
	}
	/* IPv4-mapped with ipVersion 4, or unknown: dotted */
	v4(a, 192, 0, 2, 255);
	flowlog_format_addr(text, a, 4);
	ck_assert_str_eq(text, "192.0.2.255");
	flowlog_format_addr(text, a, 0);
	ck_assert_str_eq(text, "192.0.2.255");
	flowlog_format_addr(text, a, 6);
	ck_assert_str_eq(text, "::ffff:192.0.2.255");
}
END_TEST

static struct flow_record *mixed_batch(size_t n)
{
	struct flow_record *r = calloc(n, sizeof(*r));
	size_t i;

	ck_assert_ptr_nonnull(r);
	for (i = 0; i < n; i++) {
		switch (i % 4) {
		case 0: r[i] = rec_udp4(); break;
		case 1: r[i] = rec_tcp6(); break;
		case 2: r[i] = rec_icmp4(); break;
		default: r[i] = rec_icmp6(); break;
		}
		r[i].sport ^= i & 0xff;
		r[i].packets += i;
		r[i].octets -= i;
		r[i].ingress_ifindex += i;
	}
	return r;
}

static uint64_t get_u64(struct json_object *o, const char *key)
{
	struct json_object *v;

	ck_assert_msg(json_object_object_get_ex(o, key, &v), "no %s", key);
	ck_assert_int_eq(json_object_get_type(v), json_type_int);
	return json_object_get_uint64(v);
}

static const char *get_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	ck_assert_msg(json_object_object_get_ex(o, key, &v), "no %s", key);
	ck_assert_int_eq(json_object_get_type(v), json_type_string);
	return json_object_get_string(v);
}

/* Every field of R in the parsed object O, and nothing else; LOGGER: a
 * log line (with "level", "ts", "msg"), else a hook's input (without). */
static void check_roundtrip(struct json_object *o, const struct flow_record *r,
			    bool logger)
{
	bool icmp = r->proto == 1 || r->proto == 58;
	struct json_object *v;
	char addr[64];

	if (logger) {
		ck_assert_str_eq(get_str(o, "level"), "info");
		ck_assert_uint_eq(get_u64(o, "ts"), TS);
		ck_assert_str_eq(get_str(o, "msg"), "flowlog");
	} else {
		ck_assert(!json_object_object_get_ex(o, "level", &v));
		ck_assert(!json_object_object_get_ex(o, "ts", &v));
		ck_assert(!json_object_object_get_ex(o, "msg", &v));
	}
	flowlog_format_addr(addr, r->src_addr, r->ip_version);
	ck_assert_str_eq(get_str(o, "src"), addr);
	flowlog_format_addr(addr, r->dst_addr, r->ip_version);
	ck_assert_str_eq(get_str(o, "dst"), addr);
	ck_assert_uint_eq(get_u64(o, "proto"), r->proto);
	ck_assert_uint_eq(get_u64(o, "sport"), r->sport);
	ck_assert_uint_eq(get_u64(o, "dport"), r->dport);
	ck_assert_uint_eq(get_u64(o, "ingressIfindex"), r->ingress_ifindex);
	ck_assert_uint_eq(get_u64(o, "egressIfindex"), r->egress_ifindex);
	ck_assert_uint_eq(get_u64(o, "pkts"), r->packets);
	ck_assert_uint_eq(get_u64(o, "bytes"), r->octets);
	ck_assert_uint_eq(get_u64(o, "action"), r->mark);
	ck_assert_uint_eq(get_u64(o, "start"), r->start_ns / 1000000);
	ck_assert_uint_eq(get_u64(o, "end"), r->end_ns / 1000000);
	ck_assert_uint_eq(get_u64(o, "finished"), r->finished);
	ck_assert_str_eq(get_str(o, "netns"), r->netns ? r->netns : "");
	ck_assert_str_eq(get_str(o, "direction"),
			 r->direction ? "egress" : "ingress");
	ck_assert_uint_eq(get_u64(o, "ipVersion"), r->ip_version);
	if (icmp) {
		ck_assert_uint_eq(get_u64(o, "icmpType"), r->dport >> 8);
		ck_assert_uint_eq(get_u64(o, "icmpCode"), r->dport & 0xff);
	} else {
		ck_assert(!json_object_object_get_ex(o, "icmpType", NULL));
		ck_assert(!json_object_object_get_ex(o, "icmpCode", NULL));
	}
	ck_assert_uint_eq(get_u64(o, "tos"), r->tos);
	ck_assert_uint_eq(get_u64(o, "vlan"), r->vlan_id);
	ck_assert_uint_eq(get_u64(o, "tcpFlags"), r->tcp_flags);
	ck_assert_uint_eq(get_u64(o, "minTtl"), r->min_ttl);
	ck_assert_uint_eq(get_u64(o, "maxTtl"), r->max_ttl);
	ck_assert_uint_eq(get_u64(o, "endReason"), r->end_reason);
	ck_assert_uint_eq(get_u64(o, "obsDomainId"), r->obs_domain_id);
	ck_assert_int_eq(json_object_object_length(o),
			 (icmp ? 28 : 26) - (logger ? 0 : 3));
}

START_TEST(test_array_roundtrip)
{
	const size_t n = 64;
	struct flow_record *r = mixed_batch(n);
	struct flowlog_buf buf = { 0 };
	struct json_tokener *tok = json_tokener_new();
	struct json_object *arr;
	size_t i;

	ck_assert_int_eq(flowlog_format_batch(r, n, FLOWLOG_ARRAY, TS, &buf),
			 0);
	ck_assert_uint_eq(strlen(buf.data), buf.len);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	arr = json_tokener_parse_ex(tok, buf.data, (int)buf.len);
	ck_assert_ptr_nonnull(arr);
	/* the whole buffer was one value (and the final newline) */
	ck_assert_uint_ge(json_tokener_get_parse_end(tok), buf.len - 1);
	ck_assert_str_eq(buf.data + buf.len - 4, "}\n]\n");
	ck_assert_int_eq(json_object_get_type(arr), json_type_array);
	ck_assert_uint_eq(json_object_array_length(arr), n);
	for (i = 0; i < n; i++)
		check_roundtrip(json_object_array_get_idx(arr, i), &r[i],
				false);
	json_object_put(arr);
	json_tokener_free(tok);
	flowlog_buf_free(&buf);
	free(r);
}
END_TEST

START_TEST(test_lines_form)
{
	const size_t n = 9;
	struct flow_record *r = mixed_batch(n);
	struct flowlog_buf lines = { 0 }, arr1 = { 0 }, arr2 = { 0 };
	char *line, *save = NULL;
	size_t i = 0;

	ck_assert_int_eq(flowlog_format_batch(r, n, FLOWLOG_LINES, TS, &lines),
			 0);
	/* the lines are exactly the single records, each plus '\n' */
	for (line = strtok_r(lines.data, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save), i++) {
		struct json_object *o = json_tokener_parse(line);

		ck_assert_str_eq(line, format_one(&r[i]));
		ck_assert_ptr_nonnull(o);
		check_roundtrip(o, &r[i], true);
		json_object_put(o);
	}
	ck_assert_uint_eq(i, n);
	/* lines -> array is the same text as the array form */
	flowlog_buf_free(&lines);
	ck_assert_int_eq(flowlog_format_batch(r, n, FLOWLOG_LINES, TS, &lines),
			 0);
	ck_assert_int_eq(flowlog_lines_to_array(lines.data, lines.len, &arr1),
			 0);
	ck_assert_int_eq(flowlog_format_batch(r, n, FLOWLOG_ARRAY, TS, &arr2),
			 0);
	ck_assert_str_eq(arr1.data, arr2.data);
	/* appending keeps what was there */
	i = lines.len;
	ck_assert_int_eq(flowlog_format_batch(r + 1, 1, FLOWLOG_LINES, TS,
					      &lines), 0);
	ck_assert_uint_eq(count_char(lines.data, '\n'), n + 1);
	lines.data[lines.len - 1] = '\0';
	ck_assert_str_eq(lines.data + i, format_one(&r[1]));
	flowlog_buf_free(&lines);
	flowlog_buf_free(&arr1);
	flowlog_buf_free(&arr2);
	free(r);
}
END_TEST

START_TEST(test_empty_batch)
{
	struct flowlog_buf b = { 0 };

	ck_assert_int_eq(flowlog_format_batch(NULL, 0, FLOWLOG_ARRAY, TS, &b),
			 0);
	ck_assert_str_eq(b.data, "[\n]\n");
	flowlog_buf_free(&b);
	ck_assert_int_eq(flowlog_format_batch(NULL, 0, FLOWLOG_LINES, TS, &b),
			 0);
	ck_assert_uint_eq(b.len, 0);
	flowlog_buf_free(&b);
	ck_assert_int_eq(flowlog_lines_to_array("", 0, &b), 0);
	ck_assert_str_eq(b.data, "[\n]\n");
	flowlog_buf_free(&b);
}
END_TEST

/* ---- the output ---- */

static char tmpdir[64];

static void setup_dir(void)
{
	strcpy(tmpdir, "/tmp/check_flowlog.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown_dir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long size;

	ck_assert_msg(f != NULL, "cannot open %s", path);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	rewind(f);
	buf = malloc(size + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, size, f), (size_t)size);
	buf[size] = '\0';
	*len = size;
	fclose(f);
	return buf;
}

/* Each line of TEXT parses and carries R's fields (ts is "now"). */
static void check_file_lines(const char *text, const struct flow_record *r,
			     size_t n)
{
	char *copy = strdup(text), *line, *save = NULL;
	size_t i = 0;

	for (line = strtok_r(copy, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save), i++) {
		struct json_object *o = json_tokener_parse(line);
		char addr[64];

		ck_assert_msg(o != NULL, "line %zu does not parse: %s", i, line);
		ck_assert_uint_lt(i, n);
		flowlog_format_addr(addr, r[i].src_addr, r[i].ip_version);
		ck_assert_str_eq(get_str(o, "src"), addr);
		ck_assert_uint_eq(get_u64(o, "pkts"), r[i].packets);
		ck_assert_uint_eq(get_u64(o, "bytes"), r[i].octets);
		ck_assert_uint_eq(get_u64(o, "ingressIfindex"),
				  r[i].ingress_ifindex);
		json_object_put(o);
	}
	ck_assert_uint_eq(i, n);
	free(copy);
}

START_TEST(test_file_create_append)
{
	struct flow_record *r = mixed_batch(7);
	struct flowlog_config cfg = { 0 };
	struct flowlog_stats st;
	struct flowlog *fl;
	char path[192], dir[128], *text;
	struct stat sb;
	size_t len;
	mode_t old = umask(022);

	snprintf(dir, sizeof(dir), "%s/a/b", tmpdir);
	snprintf(path, sizeof(path), "%s/flows.log", dir);
	cfg.path = path;
	ck_assert_int_eq(flowlog_open(&fl, &cfg), 0);
	ck_assert_int_eq(stat(dir, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 07777, 0750);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 07777, 0640);
	ck_assert_int_eq(flowlog_submit(fl, r, 4), 0);
	ck_assert_int_eq(flowlog_submit(fl, r + 4, 2), 0);
	ck_assert_int_eq(flowlog_submit(fl, r, 0), 0);
	flowlog_get_stats(fl, &st);
	ck_assert_uint_eq(st.batches, 2);
	ck_assert_uint_eq(st.records_in, 6);
	ck_assert_uint_eq(st.lines_written, 6);
	ck_assert_uint_eq(st.write_errors, 0);
	ck_assert_str_eq(flowlog_name(fl), path);
	flowlog_close(fl);

	/* a second open appends */
	ck_assert_int_eq(flowlog_open(&fl, &cfg), 0);
	ck_assert_int_eq(flowlog_submit(fl, r + 6, 1), 0);
	flowlog_close(fl);
	text = slurp(path, &len);
	check_file_lines(text, r, 7);
	free(text);
	free(r);
	umask(old);
}
END_TEST

static void test_reopen_mode(bool async)
{
	struct flow_record *r = mixed_batch(5);
	struct flowlog_config cfg = { .async = async };
	struct flowlog *fl;
	char path[128], moved[128], *text;
	size_t len;

	snprintf(path, sizeof(path), "%s/flows.log", tmpdir);
	snprintf(moved, sizeof(moved), "%s/flows.log.1", tmpdir);
	cfg.path = path;
	ck_assert_int_eq(flowlog_open(&fl, &cfg), 0);
	ck_assert_int_eq(flowlog_submit(fl, r, 3), 0);
	flowlog_flush(fl);
	/* logrotate: rename, then SIGHUP */
	ck_assert_int_eq(rename(path, moved), 0);
	ck_assert_int_eq(flowlog_reopen(fl), 0);
	ck_assert_int_eq(flowlog_submit(fl, r + 3, 2), 0);
	flowlog_close(fl);

	text = slurp(moved, &len);
	check_file_lines(text, r, 3);
	free(text);
	text = slurp(path, &len);
	check_file_lines(text, r + 3, 2);
	free(text);
	free(r);
}

START_TEST(test_reopen)
{
	test_reopen_mode(false);
}
END_TEST

START_TEST(test_reopen_async)
{
	test_reopen_mode(true);
}
END_TEST

START_TEST(test_reopen_failure_keeps_old)
{
	struct flow_record r = rec_udp4();
	struct flowlog_config cfg = { 0 };
	struct flowlog *fl;
	char path[128], sub[128], moved[128], *text;
	size_t len;

	snprintf(sub, sizeof(sub), "%s/d", tmpdir);
	snprintf(path, sizeof(path), "%s/d/flows.log", tmpdir);
	snprintf(moved, sizeof(moved), "%s/flows.log.1", tmpdir);
	cfg.path = path;
	ck_assert_int_eq(flowlog_open(&fl, &cfg), 0);
	ck_assert_int_eq(rename(path, moved), 0);
	/* the directory becomes a file: reopen cannot work */
	ck_assert_int_eq(rmdir(sub), 0);
	ck_assert_int_eq(close(open(sub, O_CREAT | O_WRONLY, 0600)), 0);
	ck_assert_int_lt(flowlog_reopen(fl), 0);
	ck_assert_int_eq(flowlog_submit(fl, &r, 1), 0);
	flowlog_close(fl);
	text = slurp(moved, &len);
	check_file_lines(text, &r, 1);
	free(text);
}
END_TEST

START_TEST(test_write_errors_counted)
{
	struct flow_record *r = mixed_batch(3);
	struct flowlog_config cfg = { .path = "/dev/full", .name = "full" };
	struct flowlog_stats st;
	struct flowlog *fl;

	ck_assert_int_eq(flowlog_open(&fl, &cfg), 0);
	ck_assert_int_eq(flowlog_submit(fl, r, 3), 0);
	ck_assert_int_eq(flowlog_submit(fl, r, 2), 0);
	flowlog_get_stats(fl, &st);
	ck_assert_uint_eq(st.write_errors, 2);
	ck_assert_uint_eq(st.lines_lost, 5);
	ck_assert_uint_eq(st.lines_written, 0);
	ck_assert_uint_eq(st.records_in, 5);
	flowlog_close(fl);
	free(r);
}
END_TEST

START_TEST(test_bad_path)
{
	struct flowlog_config cfg = { .path = "" };
	struct flowlog *fl = (struct flowlog *)1;
	char path[160];

	ck_assert_int_eq(flowlog_open(&fl, &cfg), -EINVAL);
	ck_assert_ptr_null(fl);
	/* a parent that is a file */
	snprintf(path, sizeof(path), "%s/file", tmpdir);
	ck_assert_int_eq(close(open(path, O_CREAT | O_WRONLY, 0600)), 0);
	snprintf(path, sizeof(path), "%s/file/x.log", tmpdir);
	cfg.path = path;
	ck_assert_int_lt(flowlog_open(&fl, &cfg), 0);
	ck_assert_ptr_null(fl);
}
END_TEST

/* The standard streams by name ("stdout", "stderr": the original's
 * logger's names; "-"): written there, never reopened or closed. */
static const struct {
	const char *path;
	int fd;
} streams[] = {
	{ "-", STDOUT_FILENO },
	{ "stdout", STDOUT_FILENO },
	{ "stderr", STDERR_FILENO },
};

START_TEST(test_streams)
{
	struct flow_record *r = mixed_batch(4);
	struct flowlog_config cfg = { .path = streams[_i].path };
	int sfd = streams[_i].fd;
	struct flowlog *fl;
	char path[128], *text;
	int saved, fd;
	size_t len;

	snprintf(path, sizeof(path), "%s/stream", tmpdir);
	fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	fflush(stdout);
	fflush(stderr);
	saved = dup(sfd);
	dup2(fd, sfd);
	close(fd);
	ck_assert_int_eq(flowlog_open(&fl, &cfg), 0);
	ck_assert(flowlog_writes_stdout(fl) == (sfd == STDOUT_FILENO));
	ck_assert_int_eq(flowlog_submit(fl, r, 4), 0);
	ck_assert_int_eq(flowlog_reopen(fl), 0);
	flowlog_close(fl);
	dup2(saved, sfd);
	close(saved);
	/* closing the log left our stream alone */
	ck_assert_int_ne(fcntl(sfd, F_GETFD), -1);
	text = slurp(path, &len);
	check_file_lines(text, r, 4);
	free(text);
	free(r);
}
END_TEST

START_TEST(test_async_order)
{
	const size_t n = 200;
	struct flow_record *r = mixed_batch(n);
	struct flowlog_config cfg = { .async = true };
	struct flowlog_stats st;
	struct flowlog *fl;
	char path[128], *text;
	size_t len, i;

	snprintf(path, sizeof(path), "%s/async.log", tmpdir);
	cfg.path = path;
	ck_assert_int_eq(flowlog_open(&fl, &cfg), 0);
	for (i = 0; i < n; i += 20)
		ck_assert_int_eq(flowlog_submit(fl, r + i, 20), 0);
	flowlog_flush(fl);
	flowlog_get_stats(fl, &st);
	ck_assert_uint_eq(st.lines_written, n);
	ck_assert_uint_eq(st.queued_bytes, 0);
	ck_assert_uint_eq(st.records_dropped, 0);
	flowlog_close(fl);
	text = slurp(path, &len);
	check_file_lines(text, r, n);
	free(text);
	free(r);
}
END_TEST

START_TEST(test_async_overflow_counted)
{
	/* a slow hook keeps the worker busy; a tiny queue overflows */
	static char *const slow[] = {
		"/bin/sh", "-c", "sleep 0.5; cat", NULL,
	};
	struct hook_spec hook = {
		.name = "slow", .kind = HOOK_COMMAND, .argv = slow,
	};
	struct flow_record *r = mixed_batch(10);
	struct flowlog_config cfg = {
		.async = true, .hooks = &hook, .n_hooks = 1,
		.queue_max_bytes = 1,
	};
	struct flowlog_stats st;
	struct flowlog *fl;
	char path[128], *text;
	size_t len;
	int i;

	snprintf(path, sizeof(path), "%s/overflow.log", tmpdir);
	cfg.path = path;
	ck_assert_int_eq(flowlog_open(&fl, &cfg), 0);
	/* the first batch is always taken (the worker was idle); the others
	 * find it busy with the first for 0.5 s */
	ck_assert_int_eq(flowlog_submit(fl, r, 2), 0);
	for (i = 1; i < 5; i++)
		ck_assert_int_eq(flowlog_submit(fl, r + 2 * i, 2), -ENOBUFS);
	flowlog_flush(fl);
	flowlog_get_stats(fl, &st);
	ck_assert_uint_eq(st.records_in, 10);
	ck_assert_uint_eq(st.records_dropped, 8);
	ck_assert_uint_eq(st.lines_written, 2);
	ck_assert_uint_eq(st.hook_failures, 0);
	/* accepted again once the worker is idle */
	ck_assert_int_eq(flowlog_submit(fl, r + 2, 2), 0);
	flowlog_close(fl);
	text = slurp(path, &len);
	check_file_lines(text, r, 4);
	free(text);
	free(r);
}
END_TEST

/* ---- the output path is opened safely (the agent runs as root) ---- */

#define VICTIM_TEXT "precious\n"

/* A file of root's ("/etc/shadow") the log must never append to. */
static void make_victim(char *victim, size_t size)
{
	int fd;

	snprintf(victim, size, "%s/victim", tmpdir);
	fd = open(victim, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, VICTIM_TEXT, strlen(VICTIM_TEXT)),
			 (ssize_t)strlen(VICTIM_TEXT));
	close(fd);
}

static void assert_victim_intact(const char *victim)
{
	size_t len;
	char *text = slurp(victim, &len);

	ck_assert_str_eq(text, VICTIM_TEXT);
	free(text);
}

/* flowlog_open(PATH) is refused with -EINVAL (exit 2 in the agent). */
static void assert_refused(const char *path)
{
	struct flowlog_config cfg = { .path = path };
	struct flow_record r = rec_udp4();
	struct flowlog *fl = NULL;
	int ret = flowlog_open(&fl, &cfg);

	if (!ret) {
		flowlog_submit(fl, &r, 1);
		flowlog_close(fl);
	}
	ck_assert_msg(ret == -EINVAL, "%s: flowlog_open gave %d, not -EINVAL",
		      path, ret);
	ck_assert_ptr_null(fl);
}

START_TEST(test_refuse_symlink)
{
	char victim[128], link[128];

	make_victim(victim, sizeof(victim));
	snprintf(link, sizeof(link), "%s/x.json", tmpdir);
	ck_assert_int_eq(symlink(victim, link), 0);
	assert_refused(link);
	assert_victim_intact(victim);
}
END_TEST

START_TEST(test_refuse_hard_link)
{
	char victim[128], hard[128];

	make_victim(victim, sizeof(victim));
	snprintf(hard, sizeof(hard), "%s/x.json", tmpdir);
	ck_assert_int_eq(link(victim, hard), 0);
	assert_refused(hard);
	assert_victim_intact(victim);
}
END_TEST

START_TEST(test_refuse_other_owner_and_modes)
{
	char path[128];
	int fd;

	/* a file someone else made for us to fill */
	snprintf(path, sizeof(path), "%s/theirs.json", tmpdir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fchown(fd, 65534, 65534), 0);
	close(fd);
	assert_refused(path);
	/* ours but writable by the group or the world */
	snprintf(path, sizeof(path), "%s/open.json", tmpdir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fchmod(fd, 0662), 0);
	close(fd);
	assert_refused(path);
	/* a directory */
	snprintf(path, sizeof(path), "%s/dir.json", tmpdir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_lt(flowlog_open(&(struct flowlog *){ NULL },
				      &(struct flowlog_config){ .path = path }),
			 0);
}
END_TEST

/* A symlinked directory in the path: followed only when root owns it. */
START_TEST(test_dir_symlinks)
{
	char real[128], link[128], path[192], victim[128];
	struct flowlog_config cfg = { 0 };
	struct flowlog *fl;

	snprintf(real, sizeof(real), "%s/real", tmpdir);
	ck_assert_int_eq(mkdir(real, 0755), 0);
	snprintf(link, sizeof(link), "%s/ours", tmpdir);
	ck_assert_int_eq(symlink("real", link), 0);
	snprintf(path, sizeof(path), "%s/ours/a/flows.json", tmpdir);
	cfg.path = path;
	ck_assert_int_eq(flowlog_open(&fl, &cfg), 0);
	flowlog_close(fl);
	snprintf(path, sizeof(path), "%s/real/a/flows.json", tmpdir);
	ck_assert_int_eq(access(path, F_OK), 0);

	/* a user's symlink to a root directory: refused */
	make_victim(victim, sizeof(victim));
	snprintf(link, sizeof(link), "%s/theirs", tmpdir);
	ck_assert_int_eq(symlink(tmpdir, link), 0);
	ck_assert_int_eq(lchown(link, 65534, 65534), 0);
	snprintf(path, sizeof(path), "%s/theirs/victim", tmpdir);
	assert_refused(path);
	assert_victim_intact(victim);
}
END_TEST

START_TEST(test_refuse_unsafe_dir)
{
	char dir[128], path[192];

	/* world-writable without the sticky bit: anyone can swap the file */
	snprintf(dir, sizeof(dir), "%s/open", tmpdir);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	ck_assert_int_eq(chmod(dir, 0777), 0);
	snprintf(path, sizeof(path), "%s/flows.json", dir);
	assert_refused(path);
	/* with the sticky bit (/tmp) it is fine */
	ck_assert_int_eq(chmod(dir, 01777), 0);
	{
		struct flowlog_config cfg = { .path = path };
		struct flowlog *fl;

		ck_assert_int_eq(flowlog_open(&fl, &cfg), 0);
		flowlog_close(fl);
	}
	/* a directory of another user in the path */
	snprintf(dir, sizeof(dir), "%s/user", tmpdir);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	ck_assert_int_eq(chown(dir, 65534, 65534), 0);
	snprintf(path, sizeof(path), "%s/user/sub/flows.json", tmpdir);
	assert_refused(path);
}
END_TEST

START_TEST(test_null_device_ok)
{
	struct flowlog_config cfg = { .path = "/dev/null" };
	struct flow_record r = rec_udp4();
	struct flowlog_stats st;
	struct flowlog *fl;

	ck_assert_int_eq(flowlog_open(&fl, &cfg), 0);
	ck_assert_int_eq(flowlog_submit(fl, &r, 1), 0);
	flowlog_get_stats(fl, &st);
	ck_assert_uint_eq(st.lines_written, 1);
	flowlog_close(fl);
	/* not other devices */
	assert_refused("/dev/urandom");
}
END_TEST

/* A FIFO must not block open() (the agent would hang, deaf to SIGTERM). */
START_TEST(test_refuse_fifo_no_hang)
{
	struct flow_record r = rec_udp4();
	struct flowlog_config cfg = { 0 };
	struct flowlog *fl;
	char path[128], fifo[128];

	alarm(5);
	snprintf(fifo, sizeof(fifo), "%s/fifo.json", tmpdir);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	assert_refused(fifo);
	/* SIGHUP: the log path became a FIFO; the old file is kept */
	snprintf(path, sizeof(path), "%s/flows.json", tmpdir);
	cfg.path = path;
	ck_assert_int_eq(flowlog_open(&fl, &cfg), 0);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(flowlog_reopen(fl), -EINVAL);
	ck_assert_int_eq(flowlog_submit(fl, &r, 1), 0);
	flowlog_close(fl);
	alarm(0);
}
END_TEST

/*
 * A full disk (here: RLIMIT_FSIZE, which fails a write with EFBIG after a
 * partial one) must leave only whole lines: the partial line is cut, the
 * lost lines counted, and writing resumes cleanly once there is room.
 */
#define FSIZE_LIMIT 3000

struct fsize_result {
	struct flowlog_stats full, after;
	int ret;
};

static void fsize_child(const char *path, int wfd)
{
	struct flow_record *r = mixed_batch(40);
	struct flowlog_config cfg = { .path = path };
	struct fsize_result res = { 0 };
	struct rlimit rl = { .rlim_cur = FSIZE_LIMIT,
			     .rlim_max = RLIM_INFINITY };
	struct flowlog *fl;
	int i;

	signal(SIGXFSZ, SIG_IGN);
	res.ret = flowlog_open(&fl, &cfg);
	if (!res.ret && setrlimit(RLIMIT_FSIZE, &rl))
		res.ret = -errno;
	if (!res.ret) {
		/* batches of 3 lines (~1000 bytes) until well past the limit */
		for (i = 0; i < 10; i++)
			flowlog_submit(fl, r + 3 * i, 3);
		flowlog_get_stats(fl, &res.full);
		/* room again */
		rl.rlim_cur = RLIM_INFINITY;
		setrlimit(RLIMIT_FSIZE, &rl);
		flowlog_submit(fl, r + 30, 4);
		flowlog_get_stats(fl, &res.after);
		flowlog_close(fl);
	}
	if (write(wfd, &res, sizeof(res)) != sizeof(res))
		_exit(1);
	_exit(0);
}

START_TEST(test_disk_full_whole_lines)
{
	struct fsize_result res;
	char path[128], *text, *line, *save = NULL;
	size_t len, n = 0;
	int pfd[2], status;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/full.json", tmpdir);
	ck_assert_int_eq(pipe(pfd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(pfd[0]);
		fsize_child(path, pfd[1]);
	}
	close(pfd[1]);
	ck_assert_int_eq(read(pfd[0], &res, sizeof(res)), (ssize_t)sizeof(res));
	close(pfd[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_int_eq(res.ret, 0);
	ck_assert_uint_gt(res.full.write_errors, 0);
	ck_assert_uint_gt(res.full.lines_lost, 0);
	ck_assert_uint_eq(res.full.lines_written + res.full.lines_lost, 30);
	ck_assert_uint_eq(res.after.lines_written, res.full.lines_written + 4);

	/* every line in the file is one whole JSON object */
	text = slurp(path, &len);
	ck_assert_uint_gt(len, 0);
	ck_assert_int_eq(text[len - 1], '\n');
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save), n++) {
		struct json_object *o = json_tokener_parse(line);

		ck_assert_msg(o != NULL, "line %zu is not JSON: %s", n, line);
		json_object_put(o);
	}
	ck_assert_uint_eq(n, res.after.lines_written);
	free(text);
}
END_TEST

/*
 * Hostile namespace names: every byte 0x01-0xff, quotes, backslashes,
 * blanks, valid UTF-8 of each length and invalid UTF-8 of each kind come
 * out as JSON that strict readers (json-c validating UTF-8, python3)
 * take; valid UTF-8 is kept, an invalid byte is \u00XX.
 */
static void assert_python_reads(const char *line)
{
	FILE *py;
	int status;

	if (access("/usr/bin/python3", X_OK))
		return;
	py = popen("/usr/bin/python3 -c 'import sys, json; "
		   "json.loads(sys.stdin.buffer.read().decode(\"utf-8\"))'",
		   "w");
	ck_assert_ptr_nonnull(py);
	fputs(line, py);
	status = pclose(py);
	ck_assert_msg(status == 0, "python3 json.loads refused: %s", line);
}

static struct json_object *parse_strict(const char *line)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;

	ck_assert_ptr_nonnull(tok);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
			       JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, line, (int)strlen(line));
	ck_assert_msg(o != NULL, "json-c (strict, UTF-8) refused: %s", line);
	json_tokener_free(tok);
	return o;
}

START_TEST(test_hostile_names)
{
	static const struct {
		const char *name;	/* raw bytes */
		const char *json;	/* as the log writes it */
		const char *value;	/* what a reader gets (UTF-8) */
	} cases[] = {
		{ "a\"b\\c d", "\"a\\\"b\\\\c d\"", "a\"b\\c d" },
		{ "\x01\x1f\x7f\r\b", "\"\\u0001\\u001f\\u007f\\u000d\\u0008\"",
		  "\x01\x1f\x7f\r\b" },
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
		  "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"",
		  "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80" },
		/* a lone 0xff, a stray continuation byte */
		{ "x\xffy\x80", "\"x\\u00ffy\\u0080\"",
		  "x\xc3\xbfy\xc2\x80" },
		/* overlong "/", a UTF-16 surrogate, above U+10FFFF */
		{ "\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80",
		  "\"\\u00c0\\u00af\\u00ed\\u00a0\\u0080\\u00f4\\u0090\\u0080\\u0080\"",
		  "\xc3\x80\xc2\xaf\xc3\xad\xc2\xa0\xc2\x80\xc3\xb4\xc2\x90\xc2\x80\xc2\x80" },
		/* cut short by the end of the name */
		{ "\xe2\x82", "\"\\u00e2\\u0082\"", "\xc3\xa2\xc2\x82" },
	};
	char all[256], *line, *want;
	struct flow_record r = rec_udp4();
	size_t i, len;

	for (i = 0; i < 255; i++)
		all[i] = (char)(i + 1);
	all[255] = '\0';
	line = malloc(FLOWLOG_RECORD_MAX(255) + 1);
	ck_assert_ptr_nonnull(line);
	for (i = 0; i <= sizeof(cases) / sizeof(cases[0]); i++) {
		struct json_object *o;

		r.netns = i < sizeof(cases) / sizeof(cases[0]) ?
			cases[i].name : all;
		len = flowlog_format_record(line, &r, TS);
		ck_assert_uint_le(len, FLOWLOG_RECORD_MAX(strlen(r.netns)));
		line[len] = '\0';
		o = parse_strict(line);
		assert_python_reads(line);
		if (i < sizeof(cases) / sizeof(cases[0])) {
			ck_assert_int_ge(asprintf(&want, ",\"netns\":%s,",
						  cases[i].json), 0);
			ck_assert_msg(strstr(line, want) != NULL,
				      "case %zu: %s not in %s", i, want, line);
			free(want);
			ck_assert_str_eq(get_str(o, "netns"), cases[i].value);
		}
		json_object_put(o);
	}
	free(line);
}
END_TEST

static Suite *flowlog_suite(void)
{
	Suite *s = suite_create("flowlog");
	TCase *tc = tcase_create("format");
	TCase *out = tcase_create("output");

	tcase_add_test(tc, test_line_udp4);
	tcase_add_test(tc, test_line_tcp6);
	tcase_add_test(tc, test_line_latency);
	tcase_add_test(tc, test_line_icmp);
	tcase_add_test(tc, test_netns_escaped);
	tcase_add_test(tc, test_hostile_names);
	tcase_add_test(tc, test_ipv6_rfc5952);
	tcase_add_test(tc, test_array_roundtrip);
	tcase_add_test(tc, test_lines_form);
	tcase_add_test(tc, test_empty_batch);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(out, setup_dir, teardown_dir);
	tcase_set_timeout(out, 30);
	tcase_add_test(out, test_file_create_append);
	tcase_add_test(out, test_reopen);
	tcase_add_test(out, test_reopen_async);
	tcase_add_test(out, test_reopen_failure_keeps_old);
	tcase_add_test(out, test_write_errors_counted);
	tcase_add_test(out, test_bad_path);
	tcase_add_loop_test(out, test_streams, 0,
			    sizeof(streams) / sizeof(streams[0]));
	tcase_add_test(out, test_async_order);
	tcase_add_test(out, test_async_overflow_counted);
	tcase_add_test(out, test_refuse_symlink);
	tcase_add_test(out, test_refuse_hard_link);
	tcase_add_test(out, test_refuse_other_owner_and_modes);
	tcase_add_test(out, test_dir_symlinks);
	tcase_add_test(out, test_refuse_unsafe_dir);
	tcase_add_test(out, test_null_device_ok);
	tcase_add_test(out, test_refuse_fifo_no_hang);
	tcase_add_test(out, test_disk_full_whole_lines);
	suite_add_tcase(s, out);
	return s;
}

CHECK_MAIN(flowlog_suite)
