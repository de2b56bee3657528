/* SPDX-License-Identifier: Apache-2.0 */
/* Files compiled into flowctl (see scripts/embed.sh). */
#ifndef FLOWCTL_EMBEDDED_H
#define FLOWCTL_EMBEDDED_H

#include <stddef.h>

struct embedded_file {
	const char *path;	/* path in the source tree */
	const char *data;	/* NUL-terminated */
	size_t len;
};

extern const struct embedded_file embedded_files[];

/* The file at PATH (e.g. "templates/config.yaml"), or NULL. */
const char *embedded_file(const char *path, size_t *len);

#endif
