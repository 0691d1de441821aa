/*
 * cfgopt.c - settings from environment and flags through a table (see
 * cfgopt.h).
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfgopt.h"
#include "err.h"
#include "parse.h"
#include "banned.h"

/* Option indexes double as getopt_long return values: below ":" (58). */
#define MAX_OPTS 56

/* Stores one value; src names the flag or variable for messages. */
static int set(void *cfg, const struct cfgopt *o, const char *v, const char *src, bool from_flag,
	       struct buf *why)
{
	char *field = (char *)cfg + o->off;
	uint64_t u;

	switch (o->kind) {
	case CFGOPT_STR:
		if ((o->max && !*v) || strlen(v) >= o->size) {
			buf_printf(why, "%s: %s", src, *v ? "value too long" : "needs a value");
			return -ERR_INVALID;
		}
		memcpy(field, v, strlen(v) + 1);
		return 0;
	case CFGOPT_PORT:
		if (parse_uint(v, 65535, &u)) {
			buf_printf(why, "%s: '%s' is not a port number (0-65535)", src, v);
			return -ERR_INVALID;
		}
		*(int *)field = (int)u;
		return 0;
	case CFGOPT_COUNT:
		if (parse_uint(v, o->max, &u) || u == 0) {
			buf_printf(why, "%s: '%s' is not a count (1-%u)", src, v, o->max);
			return -ERR_INVALID;
		}
		*(unsigned *)field = (unsigned)u;
		return 0;
	case CFGOPT_DUR:
		if (parse_duration_ms(v, (int64_t *)field)) {
			buf_printf(why, "%s: cannot parse '%s' as a duration (use 30, 500ms, 10s or 1m5s)",
				   src, v);
			return -ERR_INVALID;
		}
		return 0;
	case CFGOPT_SIZE:
		if (parse_size(v, (uint64_t *)field) || *(uint64_t *)field == 0) {
			buf_printf(why, "%s: cannot parse '%s' as a size (use bytes, 512Ki or 16Mi)",
				   src, v);
			return -ERR_INVALID;
		}
		return 0;
	case CFGOPT_BOOL:
		*(bool *)field = from_flag ? true : parse_bool(v);
		return 0;
	case CFGOPT_NBOOL:
		/* The flag turns it off; the variable says whether it is on. */
		*(bool *)field = from_flag ? false : parse_bool(v);
		return 0;
	}
	return 0;
}

int cfgopt_load(void *cfg, const struct cfgopt *opts, size_t n,
		const struct cfgopt_about *about, int argc, char **argv,
		const char *(*get)(const char *name), struct buf *why)
{
	struct option longopts[MAX_OPTS + 3];
	size_t i;
	int c, idx, rc;

	if (n > MAX_OPTS)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		const char *v = get(opts[i].env);
		if (v && *v && (rc = set(cfg, &opts[i], v, opts[i].env, false, why)))
			return rc;
	}
	for (i = 0; i < n; i++) {
		bool takes_arg = opts[i].kind != CFGOPT_BOOL && opts[i].kind != CFGOPT_NBOOL;
		longopts[i] = (struct option){ opts[i].flag,
					       takes_arg ? required_argument : no_argument, NULL,
					       (int)i };
	}
	longopts[n] = (struct option){ "help", no_argument, NULL, 'h' };
	longopts[n + 1] = (struct option){ "version", no_argument, NULL, 'v' };
	longopts[n + 2] = (struct option){ 0 };
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hv", longopts, &idx)) != -1) {
		char src[64];

		if (c == 'h') {
			fputs(about->usage, stdout);
			return 1;
		}
		if (c == 'v') {
			puts(about->version);
			return 1;
		}
		if (c == '?' || c == ':') {
			const char *arg = optind - 1 < argc ? argv[optind - 1] : "?";
			buf_printf(why, "%s: %s (see --help)", arg,
				   c == ':' ? "needs a value" : "unknown option");
			return -ERR_INVALID;
		}
		snprintf(src, sizeof(src), "--%s", opts[c].flag);
		rc = set(cfg, &opts[c], optarg ? optarg : "", src, true, why);
		if (rc)
			return rc;
	}
	if (optind < argc) {
		buf_printf(why, "unexpected argument '%s' (see --help)", argv[optind]);
		return -ERR_INVALID;
	}
	return 0;
}
