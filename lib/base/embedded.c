// SPDX-License-Identifier: Apache-2.0
#include "embedded.h"

#include <string.h>

const char *embedded_file(const char *path, size_t *len)
{
	const struct embedded_file *f;

	for (f = embedded_files; f->path; f++) {
		if (strcmp(f->path, path) == 0) {
			if (len)
				*len = f->len;
			return f->data;
		}
	}
	return NULL;
}
