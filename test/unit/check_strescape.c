// SPDX-License-Identifier: Apache-2.0
/*
 * Escaping of outside names for text tables (str_escape_c) and their UTF-8
 * repair for JSON (str_utf8_dup).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "strescape.h"

static void expect_c(const char *in, const char *want)
{
	char *got = str_escape_c_dup(in);

	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, want);
	ck_assert_uint_eq(str_escape_c(NULL, 0, in), strlen(want));
	free(got);
}

START_TEST(plain_names_unchanged)
{
	expect_c("", "");
	expect_c("ns0", "ns0");
	expect_c("eth0.100", "eth0.100");
	expect_c("veth-a_b:c@d", "veth-a_b:c@d");
}
END_TEST

START_TEST(hostile_bytes_escaped)
{
	expect_c("a b", "a\\x20b");
	expect_c("q\"uote", "q\\\"uote");
	expect_c("it's", "it\\'s");
	expect_c("back\\slash", "back\\\\slash");
	expect_c("nl\nrow", "nl\\x0arow");
	expect_c("tab\t", "tab\\x09");
	expect_c("\x1b[31mred", "\\x1b[31mred");	/* no terminal escapes */
	expect_c("\x7f", "\\x7f");
	expect_c("caf\xc3\xa9", "caf\\xc3\\xa9");	/* non-ASCII: bytes */
	expect_c("\xff\x80", "\\xff\\x80");
}
END_TEST

/* A short buffer holds whole escapes only, NUL-terminated. */
START_TEST(truncation_keeps_escapes_whole)
{
	char buf[6];

	memset(buf, 'Z', sizeof(buf));
	ck_assert_uint_eq(str_escape_c(buf, sizeof(buf), "ab\ncd"), 8);
	ck_assert_str_eq(buf, "ab");	/* "\x0a" does not fit: stop */
	ck_assert_uint_eq(str_escape_c(buf, sizeof(buf), "abcdefg"), 7);
	ck_assert_str_eq(buf, "abcde");
	ck_assert_uint_eq(str_escape_c(buf, 1, "abc"), 3);
	ck_assert_str_eq(buf, "");
}
END_TEST

static void expect_utf8(const char *in, const char *want)
{
	char *got = str_utf8_dup(in);

	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, want);
	free(got);
}

START_TEST(utf8_repair)
{
	expect_utf8("ns0", "ns0");
	expect_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
		    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	expect_utf8("a\xff" "b", "a\xef\xbf\xbd" "b");
	expect_utf8("\xc3", "\xef\xbf\xbd");			/* cut short */
	expect_utf8("\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd");	/* overlong */
	expect_utf8("\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	expect_utf8("\xf4\x90\x80\x80",				/* > U+10FFFF */
		    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	expect_utf8("\x01\"", "\x01\"");	/* JSON escaping is not its job */
}
END_TEST

START_TEST(utf8_copy_never_splits)
{
	char buf[16];

	/* 'a' + U+20AC (3 bytes): a cap of 3 keeps only 'a' */
	ck_assert_uint_eq(str_utf8_copy(buf, 3, "a\xe2\x82\xac"), 1);
	ck_assert_int_eq(buf[0], 'a');
	ck_assert_uint_eq(str_utf8_copy(buf, 4, "a\xe2\x82\xac"), 4);
	ck_assert_int_eq(memcmp(buf, "a\xe2\x82\xac", 4), 0);
	/* an invalid byte is U+FFFD, and is not cut either */
	ck_assert_uint_eq(str_utf8_copy(buf, 3, "a\xff"), 1);
	ck_assert_uint_eq(str_utf8_copy(buf, sizeof(buf), "a\xff"), 4);
	ck_assert_int_eq(memcmp(buf, "a\xef\xbf\xbd", 4), 0);
	/* counting only */
	ck_assert_uint_eq(str_utf8_copy(NULL, 254, "\xff\xfe"), 6);
	ck_assert_uint_eq(str_utf8_copy(buf, 0, "abc"), 0);
}
END_TEST

static Suite *strescape_suite(void)
{
	Suite *s = suite_create("strescape");
	TCase *tc = tcase_create("strescape");

	tcase_add_test(tc, plain_names_unchanged);
	tcase_add_test(tc, hostile_bytes_escaped);
	tcase_add_test(tc, truncation_keeps_escapes_whole);
	tcase_add_test(tc, utf8_repair);
	tcase_add_test(tc, utf8_copy_never_splits);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(strescape_suite)
