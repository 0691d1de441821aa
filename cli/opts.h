/*
 * opts.h - one declarative flag table per command, parsed the way people
 * know from faas-cli and git: flags and arguments in any order,
 * `--flag value`, `--flag=value`, `-f value`, `-fvalue`, clustered short
 * booleans (`-vq`), `--no-FLAG` and `--FLAG=false` for booleans, `--` to
 * end the flags. The same table prints `--help`, so the help always lists
 * exactly what is accepted.
 */
#ifndef CLI_OPTS_H
#define CLI_OPTS_H

#include <stdbool.h>
#include <stddef.h>

#include "wire.h"

enum opt_kind {
	OPT_BOOL, /* dest: bool *                                          */
	OPT_STR,  /* dest: const char ** (borrowed from argv; last wins)  */
	OPT_LIST, /* dest: struct wire_list * (copies; repeatable)        */
	OPT_INT,  /* dest: long * (decimal, may be negative)              */
};

struct opt {
	const char *name;  /* long name without "--" */
	char shortname;    /* 0 when none */
	enum opt_kind kind;
	void *dest;
	const char *arg;   /* placeholder in the help ("URL"); NULL for booleans */
	const char *help;  /* one line */
};

#define OPT_END { NULL, 0, OPT_BOOL, NULL, NULL, NULL }

struct opts_spec {
	const char *cmd;      /* "deploy", "secret create" */
	const char *usage;    /* what follows the command: "NAME [flags]" */
	const char *about;    /* a paragraph for --help */
	const struct opt *opts;
	size_t min_args;      /* positional arguments accepted */
	size_t max_args;
	const char *examples; /* lines for --help, or NULL */
};

/* The positional arguments, borrowed from argv. */
struct opts_args {
	char **v;
	size_t n;
};

/* Parses argv[1..argc) against spec. Returns 0 to go on (args filled; the
 * caller releases it with opts_args_release), 1 when --help was printed on
 * stdout (exit 0), or CLI_USAGE (2) after printing the problem and a hint
 * on stderr. Lists in dest receive copies the caller releases even when
 * parsing fails. */
int opts_parse(const struct opts_spec *spec, int argc, char **argv, struct opts_args *args);

/* Frees the array (not the strings, which belong to argv). */
void opts_args_release(struct opts_args *args);

/* Prints the help of spec on stdout. */
void opts_usage(const struct opts_spec *spec);

#endif
