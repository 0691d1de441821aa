/*
 * strs.h - growable string lists and string maps for the CLI, in the shapes
 * of wire.h (struct wire_list, struct wire_map) so a stack file's values go
 * straight into a FunctionDeployment.
 *
 * Every string is a heap copy owned by its list or map; release with
 * strs_list_release / wire_map_release (they accept zeroed structs and
 * leave them zeroed).
 */
#ifndef CLI_STRS_H
#define CLI_STRS_H

#include <stdbool.h>

#include "buf.h"
#include "wire.h"

/* Appends a copy of s. 0 or -ENOMEM. */
int strs_list_add(struct wire_list *l, const char *s);

/* Appends a copy of s unless l holds it already. 0 or -ENOMEM. */
int strs_list_add_unique(struct wire_list *l, const char *s);

/* True if l holds s. */
bool strs_list_has(const struct wire_list *l, const char *s);

/* Frees the strings and the array; l is left zeroed. */
void strs_list_release(struct wire_list *l);

/* Sets key to a copy of value, replacing an earlier value in place (the
 * order of first insertion is kept). 0 or -ENOMEM. */
int strs_map_set(struct wire_map *m, const char *key, const char *value);

/* Copies every entry of from into m (later wins). 0 or -ENOMEM. */
int strs_map_merge(struct wire_map *m, const struct wire_map *from);

/* Parses "KEY=VALUE" (VALUE may be empty or hold '=') into m. -ERR_INVALID
 * with "<what> 'text' is not KEY=VALUE" in why when there is no '=' or the
 * key is empty. what is borrowed (e.g. "-e", "--label"). */
int strs_map_add_kv(struct wire_map *m, const char *kv, const char *what, struct buf *why);

/* Parses every "KEY=VALUE" of list into m. Same errors. */
int strs_map_add_kvs(struct wire_map *m, const struct wire_list *list, const char *what,
		     struct buf *why);

#endif
