/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Numbers in text, as the config and the CLI take them: decimal or 0x
 * hexadecimal, no sign, no blanks, nothing after.
 */
#ifndef FLOWCTL_STRNUM_H
#define FLOWCTL_STRNUM_H

#include <stdint.h>

/* Parse "0x.." or decimal into *OUT; -EINVAL unless the whole string is a
 * number, -ERANGE when it does not fit 64 bits. */
int parse_u64(const char *s, uint64_t *out);

#endif
