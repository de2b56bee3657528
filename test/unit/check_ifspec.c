// SPDX-License-Identifier: Apache-2.0
/* Interface specifications of `flowctl meter -i`. */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "check_main.h"
#include "ifspec.h"

START_TEST(netns_dev)
{
	struct ifspec s;
	const char *err = NULL;
	char buf[128];

	ck_assert_int_eq(ifspec_parse("ns0:eth1", &s, &err), 0);
	ck_assert_str_eq(s.netns, "ns0");
	ck_assert_str_eq(s.dev, "eth1");
	ck_assert(!s.all);
	ck_assert_str_eq(ifspec_str(&s, buf, sizeof(buf)), "ns0:eth1");
	ck_assert_str_eq(ifspec_pin_name(s.netns), "ns0");
}
END_TEST

START_TEST(netns_all)
{
	struct ifspec s;
	const char *err = NULL;
	char buf[128];

	ck_assert_int_eq(ifspec_parse("router-1:*", &s, &err), 0);
	ck_assert_str_eq(s.netns, "router-1");
	ck_assert_str_eq(s.dev, "");
	ck_assert(s.all);
	ck_assert_str_eq(ifspec_str(&s, buf, sizeof(buf)), "router-1:*");
}
END_TEST

START_TEST(root_dev)
{
	struct ifspec s;
	const char *err = NULL;

	ck_assert_int_eq(ifspec_parse("enp1s0.100", &s, &err), 0);
	ck_assert_str_eq(s.netns, "");
	ck_assert_str_eq(s.dev, "enp1s0.100");
	ck_assert_str_eq(ifspec_pin_name(s.netns), "DEFAULT");
}
END_TEST

static void expect_bad(const char *spec, const char *msg)
{
	struct ifspec s;
	const char *err = NULL;

	ck_assert_msg(ifspec_parse(spec, &s, &err) == -EINVAL,
		      "'%s' accepted", spec);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, msg), "'%s': '%s' lacks '%s'", spec, err,
		      msg);
}

START_TEST(rejects)
{
	expect_bad("", "empty device");
	expect_bad("*", "needs a namespace");
	expect_bad(":eth0", "empty namespace");
	expect_bad("ns0:", "empty device");
	expect_bad("a:b:c", "more than one ':'");
	expect_bad("ns0:averyveryverylongname", "longer than 15");
	expect_bad("sixteen_chars_xx", "longer than 15");
	expect_bad("ns/0:eth0", "'/'");
	expect_bad("ns0:et h0", "space");
	expect_bad("..:eth0", ". or ..");
	expect_bad("DEFAULT:eth0", "reserved");
	expect_bad("ns0:..", ". or ..");
}
END_TEST

static Suite *ifspec_suite(void)
{
	Suite *s = suite_create("ifspec");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, netns_dev);
	tcase_add_test(tc, netns_all);
	tcase_add_test(tc, root_dev);
	tcase_add_test(tc, rejects);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(ifspec_suite)
