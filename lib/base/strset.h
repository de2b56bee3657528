/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A set of strings copied once and kept until strset_free(): stable
 * pointers for names (network namespaces) whose owners may go away.
 * Linear search: meant for tens or hundreds of names.  Not thread-safe.
 */
#ifndef FLOWCTL_STRSET_H
#define FLOWCTL_STRSET_H

#include <stddef.h>

struct strset {
	char **s;
	size_t n, cap;
};

/* The set's copy of NAME (added if new); NULL for NULL or no memory. */
const char *strset_intern(struct strset *set, const char *name);
void strset_free(struct strset *set);

#endif
