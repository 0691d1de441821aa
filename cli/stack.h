/*
 * stack.h - the stack file (stack.yml), OpenFaaS format.
 *
 *   version: 1.0
 *   provider: {name: openfaas, gateway: http://127.0.0.1:8080}
 *   configuration: {copy: [./common]}
 *   functions:
 *     NAME: {lang, handler, image, fprocess, namespace, environment,
 *            environment_file, secrets, labels, annotations, limits,
 *            requests, constraints, build_args, build_options,
 *            readonly_root_filesystem, skip_build}
 *
 * Every value may use ${VAR} and ${VAR:-default} (see ytree.h). Unknown
 * keys, wrong types and bad values are refused with "file:line:col:
 * reason". environment_file entries are YAML files (relative to the stack
 * file) holding an `environment:` map; their values come first, then the
 * function's own `environment` overrides them.
 */
#ifndef CLI_STACK_H
#define CLI_STACK_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "wire.h"
#include "ytree.h"

struct stack_res {
	char *memory; /* "128Mi" or NULL */
	char *cpu;    /* "100m" or NULL */
};

/* A position in the stack file, for messages about a value. */
struct stack_pos {
	int line;
	int col;
};

struct stack_fn {
	char *name;
	struct stack_pos at;        /* the function's key */
	char *lang;                 /* NULL when not set */
	struct stack_pos lang_at;
	char *handler;              /* as written, relative to the stack file */
	struct stack_pos handler_at;
	char *image;                /* NAME:latest when not set */
	char *fprocess;             /* NULL when not set */
	char *namespace;            /* NULL when not set */
	struct wire_map environment;
	struct wire_map labels;
	struct wire_map annotations;
	struct wire_map build_args;
	struct wire_list secrets;
	struct wire_list constraints;
	struct wire_list build_options;
	struct stack_res limits;
	struct stack_res requests;
	bool readonly_root_filesystem;
	bool skip_build;
};

struct stack {
	char *path;                 /* the file as named */
	char *dir;                  /* its folder: "." for a bare name */
	char *provider;             /* provider.name or NULL */
	char *gateway;              /* provider.gateway or NULL */
	struct wire_list copy;      /* configuration.copy */
	struct stack_fn *fns;
	size_t nfns;
	/* Layout, so `cfaas new` can append a function in the same style. */
	bool has_functions;         /* a `functions` key exists */
	bool functions_last;        /* ... and it is the last top-level key */
	bool functions_block;       /* ... in block style (or empty) */
	int fn_col;                 /* column of function names, 0 if none */
	int prop_col;               /* column of their keys, 0 if unknown */
};

/* Reads and checks the stack file at path. lookup resolves ${VAR}
 * (NULL: no substitution). 0, or a negative code with "path:line:col:
 * reason" in why. The caller releases out with stack_release. */
int stack_load(const char *path, ytree_lookup lookup, struct stack *out, struct buf *why);

/* Frees everything s owns and zeroes it; safe on a zeroed stack. */
void stack_release(struct stack *s);

/* The function called name, or NULL. */
const struct stack_fn *stack_find(const struct stack *s, const char *name);

/* Picks the functions to act on: all, or those whose name matches the
 * wildcard glob (fnmatch) and/or the extended regular expression regex.
 * *idx is a new array of indexes into s->fns (caller frees). 0; -ERR_INVALID
 * with why for a bad regex or when nothing matches. */
int stack_select(const struct stack *s, const char *glob, const char *regex, size_t **idx,
		 size_t *n, struct buf *why);

/* Appends the path of rel (relative to the stack file's folder; absolute
 * paths are kept) to out. */
int stack_path(const struct stack *s, const char *rel, struct buf *out);

/* Writes "path:line:col: message" into why (emptied first); returns
 * -ERR_INVALID. */
int stack_err(const struct stack *s, struct stack_pos at, struct buf *why, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
