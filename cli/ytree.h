/*
 * ytree.h - a YAML document as a small tree that remembers where every
 * node was (line and column), so the stack file's checks can say
 * "stack.yml:7:5: ..." about any value.
 *
 * Built from libyaml's event stream. Only the first document is read.
 * Anchors and aliases are supported (an alias shares the anchored node),
 * and so is the merge key `<<` (a map, or a list of maps, whose keys fill
 * in what the map does not set itself). Duplicate keys are an error.
 *
 * When a lookup function is given, every scalar (keys included) has its
 * `${VAR}` and `${VAR:-default}` references replaced by the variable's
 * value (an unset VAR without a default gives ""); `$$` is a literal `$`;
 * any other `$` stays as it is.
 *
 * Limits: files up to YTREE_MAX_FILE bytes, YTREE_MAX_NODES nodes, nesting
 * up to YTREE_MAX_DEPTH.
 */
#ifndef CLI_YTREE_H
#define CLI_YTREE_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

#define YTREE_MAX_FILE (4u * 1024 * 1024)
#define YTREE_MAX_NODES 200000
#define YTREE_MAX_DEPTH 64

enum ynode_type { YNODE_SCALAR, YNODE_MAP, YNODE_SEQ };

struct ynode {
	enum ynode_type type;
	int line;              /* 1-based */
	int col;               /* 1-based */
	char *value;           /* scalar text after substitution */
	bool plain;            /* an unquoted scalar: may mean null, a bool, a number */
	bool flow;             /* a map or list written {...} / [...] */
	struct ynode **kids;   /* map: key, value, key, value, ...; list: items */
	size_t n;              /* number of kids (twice the pairs for a map) */
	size_t alloc;
	struct ynode *next_alloc; /* every node of the document, for freeing */
};

struct ydoc {
	char *file;            /* the name used in messages */
	struct ynode *root;    /* NULL for an empty document */
	struct ynode *all;
	size_t nodes;
};

typedef const char *(*ytree_lookup)(const char *name);

/* Reads the YAML file at path into doc (caller releases with
 * ytree_release). lookup: NULL for no substitution. 0, or a negative code
 * with "path:line:col: reason" (or "cannot open 'path': reason") in why. */
int ytree_load(const char *path, ytree_lookup lookup, struct ydoc *doc, struct buf *why);

/* The same from text in memory; name is used in messages. */
int ytree_parse(const char *name, const char *text, size_t len, ytree_lookup lookup,
		struct ydoc *doc, struct buf *why);

/* Frees every node and zeroes doc; safe on a zeroed doc. */
void ytree_release(struct ydoc *doc);

/* True for an unquoted empty scalar, `~` or `null`. */
bool ynode_is_null(const struct ynode *n);

/* The value of a scalar as a boolean (true/false, yes/no, on/off in any
 * case, as go-yaml reads them). 0 or -ERR_INVALID. */
int ynode_bool(const struct ynode *n, bool *out);

/* "a map", "a list", "null" or "text": the node's kind, for messages. */
const char *ynode_kind(const struct ynode *n);

/* The value of key in a map, or NULL. */
const struct ynode *ynode_get(const struct ynode *map, const char *key);

/* Appends "file:line:col: " and the formatted message to why (emptied
 * first). Returns -ERR_INVALID, so callers can `return ytree_err(...)`. */
int ytree_err(struct buf *why, const struct ydoc *doc, const struct ynode *at,
	      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
