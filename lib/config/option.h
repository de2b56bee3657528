/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Numeric values of command line options, all read the same way as the
 * config's integers (parse_u64): decimal or 0x hexadecimal, no sign, no
 * blanks, nothing after the number.
 */
#ifndef FLOWCTL_OPTION_H
#define FLOWCTL_OPTION_H

#include <stdint.h>

/*
 * Parse ARG, the value of option OPT ("--pref"), as an integer in
 * MIN..MAX.  0, or -EINVAL with "OPT 'ARG': expected an integer in
 * MIN..MAX" printed (the caller exits 2).
 */
int option_u64(const char *opt, const char *arg, uint64_t min, uint64_t max,
	       uint64_t *out);
int option_u32(const char *opt, const char *arg, uint32_t min, uint32_t max,
	       uint32_t *out);

#endif
