// SPDX-License-Identifier: Apache-2.0
/*
 * "HOST:PORT" addresses: the split shared by the config, the exporter and
 * the metrics address, and the collector address check on top of it.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>

#include "check_main.h"
#include "hostport.h"

START_TEST(parse_collector_addresses)
{
	char host[64];
	uint16_t port;

	ck_assert_int_eq(hostport_parse("127.0.0.1:4739", host,
					sizeof(host), &port), 0);
	ck_assert_str_eq(host, "127.0.0.1");
	ck_assert_uint_eq(port, 4739);
	ck_assert_int_eq(hostport_parse("[::1]:4739", host, sizeof(host),
					&port), 0);
	ck_assert_str_eq(host, "::1");
	ck_assert_int_eq(hostport_parse("[fd00:1::2]:2055", host,
					sizeof(host), &port), 0);
	ck_assert_str_eq(host, "fd00:1::2");
	ck_assert_uint_eq(port, 2055);
	ck_assert_int_eq(hostport_parse("collector-1.example:9", host,
					sizeof(host), &port), 0);
	ck_assert_str_eq(host, "collector-1.example");
	ck_assert_int_eq(hostport_parse("::1:4739", host, sizeof(host),
					&port), -EINVAL);
	ck_assert_int_eq(hostport_parse("[::1]4739", host, sizeof(host),
					&port), -EINVAL);
	ck_assert_int_eq(hostport_parse("[::x]:4739", host, sizeof(host),
					&port), -EINVAL);
	ck_assert_int_eq(hostport_parse("host:", host, sizeof(host),
					&port), -EINVAL);
	ck_assert_int_eq(hostport_parse(":4739", host, sizeof(host),
					&port), -EINVAL);
	ck_assert_int_eq(hostport_parse("a b:1", host, sizeof(host),
					&port), -EINVAL);
	ck_assert_int_eq(hostport_parse("1.2.3.4:65536", host,
					sizeof(host), &port), -EINVAL);
	ck_assert_int_eq(hostport_parse("1.2.3.4:+1", host,
					sizeof(host), &port), -EINVAL);
}
END_TEST

START_TEST(split_keeps_port_text)
{
	char host[8];
	const char *port;
	bool v6;

	ck_assert_int_eq(hostport_split("*:9999", host, sizeof(host), &port,
					&v6), 0);
	ck_assert_str_eq(host, "*");
	ck_assert_str_eq(port, "9999");
	ck_assert(!v6);
	ck_assert_int_eq(hostport_split(":0x10", host, sizeof(host), &port,
					&v6), 0);
	ck_assert_str_eq(host, "");
	ck_assert_str_eq(port, "0x10");
	ck_assert_int_eq(hostport_split("[::1]:", host, sizeof(host), &port,
					&v6), 0);
	ck_assert_str_eq(host, "::1");
	ck_assert_str_eq(port, "");
	ck_assert(v6);
	/* the host must fit, with its NUL */
	ck_assert_int_eq(hostport_split("1234567:1", host, sizeof(host),
					&port, &v6), 0);
	ck_assert_int_eq(hostport_split("12345678:1", host, sizeof(host),
					&port, &v6), -EINVAL);
	ck_assert_int_eq(hostport_split("nocolon", host, sizeof(host), &port,
					&v6), -EINVAL);
	ck_assert_int_eq(hostport_split("::1:80", host, sizeof(host), &port,
					&v6), -EINVAL);
	ck_assert_int_eq(hostport_split("[::1]80", host, sizeof(host), &port,
					&v6), -EINVAL);
}
END_TEST

static Suite *hostport_suite(void)
{
	Suite *s = suite_create("hostport");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, parse_collector_addresses);
	tcase_add_test(tc, split_keeps_port_text);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(hostport_suite)
