// SPDX-License-Identifier: Apache-2.0
/* Interface specifications of `flowctl meter -i`. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
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

/* Names are UTF-8: the bytes above 0x7f are not control characters (a
 * signed char made them so). */
START_TEST(utf8_names)
{
	struct ifspec s;
	const char *err = NULL;

	ck_assert_msg(ifspec_parse("ns-\xc3\xa9:eth0", &s, &err) == 0, "%s",
		      err);
	ck_assert_str_eq(s.netns, "ns-\xc3\xa9");
	ck_assert_msg(ifspec_parse("\xe6\xb5\x8b\xe8\xaf\x95:*", &s, &err) == 0,
		      "%s", err);	/* 测试 */
	ck_assert(s.all);
	ck_assert_msg(ifspec_parse("ns0:v\xc3\xa9th0", &s, &err) == 0, "%s",
		      err);
	ck_assert_msg(ifspec_parse("\xf0\x9f\x90\xa7", &s, &err) == 0, "%s",
		      err);		/* U+1F427, 4 octets */
	ck_assert_int_eq(ifspec_check_netns("ns-\xc3\xa9", &err), 0);
	ck_assert_int_eq(ifspec_check_dev("\xc3\xa9", &err), 0);
}
END_TEST

START_TEST(utf8_rejects)
{
	expect_bad("ns\xff:eth0", "not valid UTF-8");
	expect_bad("ns0:eth\x80", "not valid UTF-8");		/* lone continuation */
	expect_bad("\xc0\xaf:eth0", "not valid UTF-8");	/* overlong '/' */
	expect_bad("\xe0\x80\xaf:eth0", "not valid UTF-8");	/* overlong */
	expect_bad("\xed\xa0\x80:eth0", "not valid UTF-8");	/* surrogate */
	expect_bad("\xf4\x90\x80\x80:eth0", "not valid UTF-8"); /* > U+10FFFF */
	expect_bad("ns\xc3:eth0", "not valid UTF-8");		/* cut short */
	expect_bad("ns\xc2\x85:eth0", "control character");	/* C1 NEL */
	expect_bad("ns\x01:eth0", "control character");
	expect_bad("ns\x7f:eth0", "control character");
	expect_bad("ns0:e\tth0", "control character");
	expect_bad(".:eth0", ". or ..");
	expect_bad("ns0:.", ". or ..");
}
END_TEST

/* Namespace names up to NAME_MAX (255) octets, device names up to 15. */
START_TEST(name_lengths)
{
	char ns[300], spec[320];
	struct ifspec s;
	const char *err = NULL;
	int i;

	for (i = 0; i < 85; i++)		/* 85 x 3 octets: 255 */
		memcpy(ns + 3 * i, "\xe6\xb5\x8b", 3);
	ns[255] = 0;
	snprintf(spec, sizeof(spec), "%s:eth0", ns);
	ck_assert_msg(ifspec_parse(spec, &s, &err) == 0, "%s", err);
	ck_assert_str_eq(s.netns, ns);
	ck_assert_int_eq(ifspec_check_netns(ns, &err), 0);
	strcat(ns, "x");			/* 256 */
	snprintf(spec, sizeof(spec), "%s:eth0", ns);
	expect_bad(spec, "longer than 255 bytes (NAME_MAX");
	ck_assert_int_eq(ifspec_check_netns(ns, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "NAME_MAX"));

	/* 7 x 2 + 1 = 15 octets: the longest device name */
	ck_assert_msg(ifspec_parse("ns0:\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9x",
				   &s, &err) == 0, "%s", err);
	expect_bad("ns0:\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
		   "longer than 15 bytes (IFNAMSIZ - 1)");
}
END_TEST

/* --netns of dump, flush, meter status: a pin directory name. */
START_TEST(pin_names)
{
	const char *err = NULL;

	ck_assert_int_eq(ifspec_check_pin_name("DEFAULT", &err), 0);
	ck_assert_int_eq(ifspec_check_pin_name("ns0", &err), 0);
	ck_assert_int_eq(ifspec_check_pin_name("\xe6\xb5\x8b", &err), 0);
	ck_assert_int_eq(ifspec_check_netns("DEFAULT", &err), -EINVAL);
	ck_assert_int_eq(ifspec_check_pin_name("..", &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, ". or .."));
	ck_assert_int_eq(ifspec_check_pin_name(".", &err), -EINVAL);
	ck_assert_int_eq(ifspec_check_pin_name("../x", &err), -EINVAL);
	ck_assert_int_eq(ifspec_check_pin_name("a/b", &err), -EINVAL);
	ck_assert_int_eq(ifspec_check_pin_name("", &err), -EINVAL);
}
END_TEST

/* Shell-style patterns in both parts, matched against whole names. */
START_TEST(globs)
{
	struct ifspec s;
	const char *err = NULL;

	ck_assert_msg(ifspec_parse("ns*:eth*", &s, &err) == 0, "%s", err);
	ck_assert(s.netns_glob && s.dev_glob && !s.all);
	ck_assert(ifspec_netns_match(&s, "ns0"));
	ck_assert(ifspec_netns_match(&s, "ns"));
	ck_assert(!ifspec_netns_match(&s, "xns0"));	/* no partial match */
	ck_assert(ifspec_dev_match(&s, "eth10"));
	ck_assert(!ifspec_dev_match(&s, "veth1"));
	ck_assert_msg(ifspec_parse("r?:v[0-2]", &s, &err) == 0, "%s", err);
	ck_assert(ifspec_netns_match(&s, "r1"));
	ck_assert(!ifspec_netns_match(&s, "r12"));
	ck_assert(ifspec_dev_match(&s, "v2"));
	ck_assert(!ifspec_dev_match(&s, "v3"));
	ck_assert(!ifspec_dev_match(&s, "v21"));
	/* a pattern never selects lo; the name lo does */
	ck_assert_msg(ifspec_parse("ns0:l*", &s, &err) == 0, "%s", err);
	ck_assert(!ifspec_dev_match(&s, "lo"));
	ck_assert_msg(ifspec_parse("ns0:lo", &s, &err) == 0, "%s", err);
	ck_assert(ifspec_dev_match(&s, "lo") && !s.dev_glob && !s.netns_glob);
	ck_assert(ifspec_netns_match(&s, "ns0"));
	ck_assert(!ifspec_netns_match(&s, "ns00"));
	/* root namespace: a device pattern */
	ck_assert_msg(ifspec_parse("dum*", &s, &err) == 0, "%s", err);
	ck_assert(s.dev_glob && !s.netns[0]);
	ck_assert(ifspec_dev_match(&s, "dummy0"));
	/* NETNS:* is still every device but lo */
	ck_assert_msg(ifspec_parse("ns0:*", &s, &err) == 0, "%s", err);
	ck_assert(s.all && ifspec_dev_match(&s, "eth0") &&
		  !ifspec_dev_match(&s, "lo"));
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
	tcase_add_test(tc, utf8_names);
	tcase_add_test(tc, utf8_rejects);
	tcase_add_test(tc, name_lengths);
	tcase_add_test(tc, pin_names);
	tcase_add_test(tc, globs);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(ifspec_suite)
