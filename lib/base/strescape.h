/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Names that come from outside flowctl (network namespace and device names:
 * any byte but '/' and NUL, chosen by whoever created them, maybe root of a
 * container) printed in tables without letting them move columns, forge
 * rows or send terminal escape sequences.
 */
#ifndef FLOWCTL_STRESCAPE_H
#define FLOWCTL_STRESCAPE_H

#include <stddef.h>

/*
 * S for a text table: printable ASCII but space, '"', '\'' and '\\' as it
 * is; '"', '\'' and '\\' behind a backslash; every other byte (space,
 * control, DEL, non-ASCII) as \xHH.  Writes at most SIZE bytes with the
 * NUL, never a partial escape, and returns the length the whole escaped
 * string needs (without the NUL), like snprintf.
 */
size_t str_escape_c(char *buf, size_t size, const char *s);

/* The same, malloc'ed (NULL when out of memory). */
char *str_escape_c_dup(const char *s);

/*
 * A malloc'ed copy of S in which every byte that is not part of a valid
 * UTF-8 sequence is replaced by U+FFFD: a JSON string must be UTF-8, and
 * names are bytes.  NULL when out of memory.
 */
char *str_utf8_dup(const char *s);

/*
 * Length of the valid UTF-8 sequence at S (1 to 4), 0 when it is not one
 * (stray continuation, overlong form, surrogate, above U+10FFFF, cut short
 * by the NUL).
 */
size_t str_utf8_len(const unsigned char *s);

/*
 * Copy SRC into DST (CAP bytes, no NUL added) as str_utf8_dup() would,
 * stopping before a sequence that would not fit whole: the result is
 * valid UTF-8 however short CAP is.  Returns the bytes written (DST NULL:
 * only counts them).  For IPFIX strings (RFC 7011 6.1.6: UTF-8).
 */
size_t str_utf8_copy(char *dst, size_t cap, const char *src);

#endif
