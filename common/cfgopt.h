/*
 * cfgopt.h - a binary's settings from a table: environment variables first,
 * then --flags, each one stored into a field of the binary's config struct.
 *
 * Each entry names a flag (without "--"), the environment variable that sets
 * the same thing, a kind and the field (CFGOPT_FIELD). An empty variable is
 * ignored. Errors are one line naming the flag or variable.
 */
#ifndef CFAAS_CFGOPT_H
#define CFAAS_CFGOPT_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

enum cfgopt_kind {
	CFGOPT_STR,      /* char[size]; max: 1 when it may not be empty */
	CFGOPT_PORT,     /* int, 0-65535 */
	CFGOPT_COUNT,    /* unsigned, 1-max */
	CFGOPT_DUR,      /* int64_t milliseconds: 30, 500ms, 10s, 1m5s */
	CFGOPT_SIZE,     /* uint64_t bytes above zero: 512, 16Ki, 4Mi */
	CFGOPT_BOOL,     /* bool: the flag sets it, the variable says true or false */
	CFGOPT_NBOOL,    /* bool: the flag ("--no-x") clears it, the variable says */
};

struct cfgopt {
	const char *flag;
	const char *env;
	enum cfgopt_kind kind;
	size_t off, size;
	unsigned max;
};

/* off, size and max of a table entry for field of struct type. */
#define CFGOPT_FIELD_MAX(type, field, max) \
	offsetof(type, field), sizeof(((type *)0)->field), (max)
#define CFGOPT_FIELD(type, field) CFGOPT_FIELD_MAX(type, field, 0)

/* What the binary says for --help and --version. */
struct cfgopt_about {
	const char *usage;   /* printed as is */
	const char *version; /* one line, without the newline */
};

/*
 * Fills cfg (defaults already in it) from the variables get() returns, then
 * from argv. 0; 1 when --help or --version was answered (on stdout); or
 * -ERR_INVALID with why (an unknown flag, a missing value, a value that
 * does not parse, a stray argument).
 */
int cfgopt_load(void *cfg, const struct cfgopt *opts, size_t n,
		const struct cfgopt_about *about, int argc, char **argv,
		const char *(*get)(const char *name), struct buf *why);

#endif
