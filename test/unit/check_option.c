// SPDX-License-Identifier: Apache-2.0
/*
 * Numeric command line options: one parser for every option, the same
 * numbers the config takes, the allowed range in the message.
 */
#include <errno.h>
#include <stdint.h>

#include "check_main.h"
#include "option.h"

START_TEST(accepts)
{
	uint64_t v;
	uint32_t u;

	ck_assert_int_eq(option_u64("--x", "0", 0, 10, &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(option_u64("--x", "10", 0, 10, &v), 0);
	ck_assert_uint_eq(v, 10);
	ck_assert_int_eq(option_u64("--x", "010", 0, 10, &v), 0);
	ck_assert_uint_eq(v, 10);		/* decimal, not octal */
	ck_assert_int_eq(option_u64("--x", "0xA", 0, 10, &v), 0);
	ck_assert_uint_eq(v, 10);
	ck_assert_int_eq(option_u64("--x", "18446744073709551615", 0,
				    UINT64_MAX, &v), 0);
	ck_assert_uint_eq(v, UINT64_MAX);
	ck_assert_int_eq(option_u32("--handle", "4294967295", 1, UINT32_MAX,
				    &u), 0);
	ck_assert_uint_eq(u, UINT32_MAX);
}
END_TEST

START_TEST(rejects)
{
	static const char *const bad[] = {
		"", " 5", "5 ", "+5", "-1", "-0", "5x", "0x", "0xg", "1e3",
		"1.0", "99999999999999999999", "18446744073709551616",
		"0x10000000000000000", "4294967296", "0", "65536",
	};
	uint32_t u = 7;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(option_u32("--pref", bad[i], 1, 65535, &u) ==
			      -EINVAL, "'%s' accepted", bad[i]);
		ck_assert_uint_eq(u, 7);	/* untouched */
	}
}
END_TEST

static Suite *option_suite(void)
{
	Suite *s = suite_create("option");
	TCase *tc = tcase_create("numbers");

	tcase_add_test(tc, accepts);
	tcase_add_test(tc, rejects);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(option_suite)
