// SPDX-License-Identifier: Apache-2.0
/*
 * Numeric values of command line options (see option.h).
 */
#include "option.h"

#include <errno.h>

#include "log.h"
#include "strnum.h"
#include "yaml_doc.h"

int option_u64(const char *opt, const char *arg, uint64_t min, uint64_t max,
	       uint64_t *out)
{
	uint64_t v;

	if (parse_u64(arg, &v) || v < min || v > max) {
		pr_err("%s '%s': expected an integer in %llu..%llu", opt, arg,
		       (unsigned long long)min, (unsigned long long)max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int option_u32(const char *opt, const char *arg, uint32_t min, uint32_t max,
	       uint32_t *out)
{
	uint64_t v;
	int ret;

	ret = option_u64(opt, arg, min, max, &v);
	if (!ret)
		*out = v;
	return ret;
}
