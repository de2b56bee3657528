// SPDX-License-Identifier: Apache-2.0
#include "strescape.h"

#include <stdlib.h>
#include <string.h>

size_t str_escape_c(char *buf, size_t size, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	for (; *s; s++) {
		unsigned char c = *s;
		char esc[4];
		size_t len;

		if (c == '"' || c == '\'' || c == '\\') {
			esc[0] = '\\';
			esc[1] = c;
			len = 2;
		} else if (c > 0x20 && c < 0x7f) {
			esc[0] = c;
			len = 1;
		} else {
			esc[0] = '\\';
			esc[1] = 'x';
			esc[2] = hex[c >> 4];
			esc[3] = hex[c & 15];
			len = 4;
		}
		/* whole escapes only: a cut one would read as another byte */
		if (size && n + len < size)
			memcpy(buf + n, esc, len);
		else if (size && n < size)
			size = n + 1;	/* full: nothing more is written */
		n += len;
	}
	if (size)
		buf[n < size ? n : size - 1] = '\0';
	return n;
}

char *str_escape_c_dup(const char *s)
{
	size_t n = str_escape_c(NULL, 0, s);
	char *p = malloc(n + 1);

	if (p)
		str_escape_c(p, n + 1, s);
	return p;
}

size_t str_utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];
	size_t n, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;	/* continuation byte, C0/C1, F5..FF */
	for (i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;	/* also stops at the NUL */
	/* overlong 3/4-byte forms, UTF-16 surrogates, above U+10FFFF */
	if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0) ||
	    (c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90))
		return 0;
	return n;
}

char *str_utf8_dup(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	char *out = malloc(strlen(s) * 3 + 1), *o = out;

	if (!out)
		return NULL;
	while (*p) {
		size_t n = str_utf8_len(p);

		if (n) {
			memcpy(o, p, n);
			o += n;
			p += n;
		} else {
			memcpy(o, "\xef\xbf\xbd", 3);	/* U+FFFD */
			o += 3;
			p++;
		}
	}
	*o = '\0';
	return out;
}

size_t str_utf8_copy(char *dst, size_t cap, const char *src)
{
	const unsigned char *p = (const unsigned char *)src;
	size_t o = 0;

	while (*p) {
		size_t n = str_utf8_len(p);
		const void *from = p;

		if (!n) {
			from = "\xef\xbf\xbd";	/* U+FFFD */
			n = 3;
		}
		if (o + n > cap)
			break;
		if (dst)
			memcpy(dst + o, from, n);
		o += n;
		p += from == (const void *)p ? n : 1;
	}
	return o;
}
