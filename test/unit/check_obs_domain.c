// SPDX-License-Identifier: Apache-2.0
/*
 * The default observation domain of a namespace (obs_domain_default): the
 * FNV-1a hash of its name, never 0, the same whether the config
 * (config_obs_domain_id) or the flow table asks.
 */
#include <check.h>
#include <stdint.h>

#include "check_main.h"
#include "config.h"
#include "obs_domain.h"

/* found by meeting in the middle: FNV-1a-32("ns-3rs5ic") == 0 */
static const char zero_name[] = "ns-3rs5ic";

START_TEST(hash_is_fnv1a)
{
	/* the published FNV-1a-32 test vectors */
	ck_assert_uint_eq(obs_domain_hash(""), 0x811c9dc5U);
	ck_assert_uint_eq(obs_domain_hash("a"), 0xe40c292cU);
	ck_assert_uint_eq(obs_domain_hash("foobar"), 0xbf9cf968U);
	/* the bytes count unsigned */
	ck_assert_uint_ne(obs_domain_hash("\xff"), obs_domain_hash("\x7f"));
}
END_TEST

START_TEST(zero_hash_is_not_zero_domain)
{
	ck_assert_uint_eq(obs_domain_hash(zero_name), 0);
	ck_assert_uint_eq(obs_domain_default(zero_name), 1);
	ck_assert_uint_eq(config_obs_domain_id(NULL, zero_name),
			  obs_domain_default(zero_name));
}
END_TEST

START_TEST(config_and_default_agree)
{
	static const char *const names[] = { "ns0", "ns1", "DEFAULT",
					     "a b", "\xff\x01" };
	unsigned int i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		ck_assert_uint_eq(config_obs_domain_id(NULL, names[i]),
				  obs_domain_default(names[i]));
		ck_assert_uint_eq(obs_domain_default(names[i]),
				  obs_domain_hash(names[i]));
		ck_assert_uint_ne(obs_domain_default(names[i]), 0);
	}
	/* NULL is the root namespace */
	ck_assert_uint_eq(obs_domain_default(NULL),
			  obs_domain_default(OBS_DOMAIN_ROOT_NS));
	ck_assert_uint_eq(config_obs_domain_id(NULL, NULL),
			  obs_domain_default(NULL));
}
END_TEST

static Suite *obs_domain_suite(void)
{
	Suite *s = suite_create("obs_domain");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, hash_is_fnv1a);
	tcase_add_test(tc, zero_hash_is_not_zero_domain);
	tcase_add_test(tc, config_and_default_agree);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(obs_domain_suite)
