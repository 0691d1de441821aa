/*
 * strs.c - string lists and maps (see strs.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "strs.h"
#include "banned.h"

int strs_list_add(struct wire_list *l, const char *s)
{
	char **items;
	char *copy = strdup(s);

	if (!copy)
		return -ENOMEM;
	items = realloc(l->items, (l->n + 1) * sizeof(*items));
	if (!items) {
		free(copy);
		return -ENOMEM;
	}
	items[l->n++] = copy;
	l->items = items;
	return 0;
}

bool strs_list_has(const struct wire_list *l, const char *s)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (!strcmp(l->items[i], s))
			return true;
	return false;
}

int strs_list_add_unique(struct wire_list *l, const char *s)
{
	return strs_list_has(l, s) ? 0 : strs_list_add(l, s);
}

void strs_list_release(struct wire_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->items[i]);
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

int strs_map_set(struct wire_map *m, const char *key, const char *value)
{
	size_t i;

	for (i = 0; i < m->n; i++) {
		if (!strcmp(m->items[i].key, key)) {
			char *v = strdup(value);
			if (!v)
				return -ENOMEM;
			free(m->items[i].value);
			m->items[i].value = v;
			return 0;
		}
	}
	return wire_map_add(m, key, value);
}

int strs_map_merge(struct wire_map *m, const struct wire_map *from)
{
	size_t i;
	int rc;

	for (i = 0; i < from->n; i++)
		if ((rc = strs_map_set(m, from->items[i].key, from->items[i].value)))
			return rc;
	return 0;
}

int strs_map_add_kv(struct wire_map *m, const char *kv, const char *what, struct buf *why)
{
	const char *eq = strchr(kv, '=');
	char *key;
	int rc;

	if (!eq || eq == kv) {
		buf_printf(why, "%s '%s' is not KEY=VALUE", what, kv);
		return -ERR_INVALID;
	}
	key = strndup(kv, (size_t)(eq - kv));
	if (!key)
		return -ENOMEM;
	rc = strs_map_set(m, key, eq + 1);
	free(key);
	return rc;
}

int strs_map_add_kvs(struct wire_map *m, const struct wire_list *list, const char *what,
		     struct buf *why)
{
	size_t i;
	int rc;

	for (i = 0; i < list->n; i++)
		if ((rc = strs_map_add_kv(m, list->items[i], what, why)))
			return rc;
	return 0;
}
