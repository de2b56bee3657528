/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Each test/unit/check_<module>.c defines its Suite and ends with
 * CHECK_MAIN(<module>_suite): one binary per module, exit status from
 * srunner_ntests_failed, CK_FORK=no valgrind-friendly.
 */
#ifndef FLOWCTL_CHECK_MAIN_H
#define FLOWCTL_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

#define CHECK_MAIN(suite_fn)						\
int main(void)								\
{									\
	SRunner *sr = srunner_create(suite_fn());			\
	int failed;							\
									\
	srunner_run_all(sr, CK_ENV);					\
	failed = srunner_ntests_failed(sr);				\
	srunner_free(sr);						\
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;			\
}

#endif
