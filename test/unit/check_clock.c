// SPDX-License-Identifier: Apache-2.0
/*
 * The clock module: timespec conversion, the units agree with each other,
 * CLOCK_MONOTONIC never goes back and follows a known sleep.
 */
#include <check.h>
#include <stdint.h>
#include <time.h>

#include "check_main.h"
#include "clock.h"

START_TEST(timespec_to_ns)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = 0 };

	ck_assert_uint_eq(clock_ts_ns(&ts), 0);
	ts.tv_nsec = 999999999;
	ck_assert_uint_eq(clock_ts_ns(&ts), 999999999ULL);
	ts.tv_sec = 3;
	ts.tv_nsec = 7;
	ck_assert_uint_eq(clock_ts_ns(&ts), 3000000007ULL);
	/* past 2^32 seconds: no 32-bit overflow on the way */
	ts.tv_sec = 5000000000LL;
	ts.tv_nsec = 1;
	ck_assert_uint_eq(clock_ts_ns(&ts), 5000000000000000001ULL);
}
END_TEST

START_TEST(mono_never_goes_back)
{
	uint64_t prev = clock_mono_ns(), now;
	int i;

	ck_assert_uint_gt(prev, 0);
	for (i = 0; i < 10000; i++) {
		now = clock_mono_ns();
		ck_assert_uint_ge(now, prev);
		prev = now;
	}
}
END_TEST

START_TEST(units_agree)
{
	uint64_t ns = clock_mono_ns();
	uint64_t ms = clock_mono_ms();
	double s = clock_mono_s();
	uint64_t ns2 = clock_mono_ns();

	/* each later read lies between the nanosecond reads around it */
	ck_assert_uint_ge(ms, ns / CLOCK_NS_PER_MS);
	ck_assert_uint_le(ms, ns2 / CLOCK_NS_PER_MS);
	ck_assert_double_ge(s, (double)ns / CLOCK_NS_PER_SEC - 1e-6);
	ck_assert_double_le(s, (double)ns2 / CLOCK_NS_PER_SEC + 1e-6);
	ck_assert_uint_eq(clock_ns(CLOCK_MONOTONIC) / CLOCK_NS_PER_SEC,
			  clock_mono_ns() / CLOCK_NS_PER_SEC);
}
END_TEST

START_TEST(mono_follows_sleep)
{
	struct timespec d = { .tv_sec = 0, .tv_nsec = 20 * CLOCK_NS_PER_MS };
	uint64_t t0 = clock_mono_ns(), dt;

	nanosleep(&d, NULL);
	dt = clock_mono_ns() - t0;
	ck_assert_uint_ge(dt, 20 * CLOCK_NS_PER_MS);
	ck_assert_uint_lt(dt, 5 * CLOCK_NS_PER_SEC);
}
END_TEST

START_TEST(realtime_is_unix_time)
{
	uint64_t ns = clock_real_ns();
	uint64_t ms = clock_real_ms();
	time_t t = time(NULL);

	/* 2020-01-01 .. 2200: nanoseconds since 1970, not since boot */
	ck_assert_uint_gt(ns, 1577836800ULL * CLOCK_NS_PER_SEC);
	ck_assert_uint_lt(ns, 7258118400ULL * CLOCK_NS_PER_SEC);
	ck_assert_uint_ge(ms, ns / CLOCK_NS_PER_MS);
	ck_assert_int_le(ns / CLOCK_NS_PER_SEC, (uint64_t)t);
	ck_assert_int_ge(ns / CLOCK_NS_PER_SEC + 2, (uint64_t)t);
}
END_TEST

static Suite *clock_suite(void)
{
	Suite *s = suite_create("clock");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, timespec_to_ns);
	tcase_add_test(tc, mono_never_goes_back);
	tcase_add_test(tc, units_agree);
	tcase_add_test(tc, mono_follows_sleep);
	tcase_add_test(tc, realtime_is_unix_time);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(clock_suite)
