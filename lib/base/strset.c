// SPDX-License-Identifier: Apache-2.0
#include "strset.h"

#include <stdlib.h>
#include <string.h>

const char *strset_intern(struct strset *set, const char *name)
{
	size_t i;

	if (!name)
		return NULL;
	for (i = 0; i < set->n; i++)
		if (!strcmp(set->s[i], name))
			return set->s[i];
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 16;
		char **p = realloc(set->s, cap * sizeof(*p));

		if (!p)
			return NULL;
		set->s = p;
		set->cap = cap;
	}
	set->s[set->n] = strdup(name);
	return set->s[set->n] ? set->s[set->n++] : NULL;
}

void strset_free(struct strset *set)
{
	while (set->n)
		free(set->s[--set->n]);
	free(set->s);
	set->s = NULL;
	set->cap = 0;
}
