/*
 * opts.c - command line flags from a table (see opts.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "opts.h"
#include "strs.h"
#include "banned.h"

void opts_args_release(struct opts_args *args)
{
	free(args->v);
	args->v = NULL;
	args->n = 0;
}

static const struct opt help_opt = { "help", 'h', OPT_BOOL, NULL, NULL, "show this help" };

static void usage_line(const struct opt *o)
{
	struct buf b;

	buf_init(&b, 512);
	if (o->shortname)
		buf_printf(&b, "  -%c, --%s", o->shortname, o->name);
	else
		buf_printf(&b, "      --%s", o->name);
	if (o->kind != OPT_BOOL)
		buf_printf(&b, " %s", o->arg ? o->arg : "VALUE");
	if (b.len < 30)
		buf_printf(&b, "%*s", (int)(30 - b.len), "");
	else
		buf_adds(&b, "  ");
	buf_adds(&b, o->help);
	if (o->kind == OPT_LIST)
		buf_adds(&b, " (repeatable)");
	puts(buf_cstr(&b));
	buf_release(&b);
}

void opts_usage(const struct opts_spec *spec)
{
	const struct opt *o;

	printf("Usage: cfaas %s %s\n\n", spec->cmd, spec->usage);
	if (spec->about)
		printf("%s\n\n", spec->about);
	puts("Flags:");
	for (o = spec->opts; o && o->name; o++)
		usage_line(o);
	usage_line(&help_opt);
	if (spec->examples)
		printf("\nExamples:\n%s", spec->examples);
}

static int bad(const struct opts_spec *spec, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int bad(const struct opts_spec *spec, const char *fmt, ...)
{
	struct buf b;
	va_list ap;

	buf_init(&b, 1024);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	cli_err("%s: %s (see 'cfaas %s --help')", spec->cmd, buf_cstr(&b), spec->cmd);
	buf_release(&b);
	return CLI_USAGE;
}

static const struct opt *find_long(const struct opts_spec *spec, const char *name, size_t len)
{
	const struct opt *o;

	for (o = spec->opts; o && o->name; o++)
		if (strlen(o->name) == len && !strncmp(o->name, name, len))
			return o;
	return NULL;
}

static const struct opt *find_short(const struct opts_spec *spec, char c)
{
	const struct opt *o;

	for (o = spec->opts; o && o->name; o++)
		if (o->shortname == c)
			return o;
	return NULL;
}

/* Stores value into o's destination. */
static int store(const struct opts_spec *spec, const struct opt *o, const char *value)
{
	char *end;
	long v;

	switch (o->kind) {
	case OPT_BOOL:
		if (!value || !strcmp(value, "true"))
			*(bool *)o->dest = true;
		else if (!strcmp(value, "false"))
			*(bool *)o->dest = false;
		else
			return bad(spec, "--%s takes true or false", o->name);
		return 0;
	case OPT_STR:
		*(const char **)o->dest = value;
		return 0;
	case OPT_LIST:
		if (strs_list_add(o->dest, value)) {
			cli_err("out of memory");
			return CLI_FAIL;
		}
		return 0;
	case OPT_INT:
		errno = 0;
		v = strtol(value, &end, 10);
		if (errno || end == value || *end)
			return bad(spec, "--%s takes a whole number, not '%s'", o->name, value);
		*(long *)o->dest = v;
		return 0;
	}
	return 0;
}

/* Handles one "--name[=value]" at argv[*i]. */
static int long_flag(const struct opts_spec *spec, int argc, char **argv, int *i)
{
	const char *name = argv[*i] + 2, *eq = strchr(name, '=');
	size_t len = eq ? (size_t)(eq - name) : strlen(name);
	const struct opt *o = find_long(spec, name, len);
	const char *value = eq ? eq + 1 : NULL;

	if (len == 4 && !strncmp(name, "help", 4))
		return 1;
	if (!o && len > 3 && !strncmp(name, "no-", 3)) {
		o = find_long(spec, name + 3, len - 3);
		if (o && o->kind == OPT_BOOL && !eq) {
			*(bool *)o->dest = false;
			return 0;
		}
		o = NULL;
	}
	if (!o)
		return bad(spec, "unknown flag '%s'", argv[*i]);
	if (o->kind == OPT_BOOL)
		return store(spec, o, value);
	if (!value) {
		if (*i + 1 >= argc)
			return bad(spec, "flag '--%s' needs a value", o->name);
		value = argv[++*i];
	}
	return store(spec, o, value);
}

/* Handles one "-x...", possibly a cluster of booleans or "-xVALUE". */
static int short_flags(const struct opts_spec *spec, int argc, char **argv, int *i)
{
	const char *p = argv[*i] + 1;
	char flag[3] = "-?";

	for (; *p; p++) {
		const struct opt *o;

		if (*p == 'h')
			return 1;
		o = find_short(spec, *p);
		flag[1] = *p;
		if (!o)
			return bad(spec, "unknown flag '%s'", flag);
		if (o->kind == OPT_BOOL) {
			int rc = store(spec, o, NULL);
			if (rc)
				return rc;
			continue;
		}
		if (p[1])
			return store(spec, o, p + 1);
		if (*i + 1 >= argc)
			return bad(spec, "flag '%s' needs a value", flag);
		return store(spec, o, argv[++*i]);
	}
	return 0;
}

int opts_parse(const struct opts_spec *spec, int argc, char **argv, struct opts_args *args)
{
	bool flags_done = false;
	int i, rc = 0;

	args->n = 0;
	args->v = calloc((size_t)(argc > 0 ? argc : 1), sizeof(char *));
	if (!args->v) {
		cli_err("out of memory");
		return CLI_FAIL;
	}
	for (i = 1; i < argc && !rc; i++) {
		const char *a = argv[i];

		if (!flags_done && !strcmp(a, "--"))
			flags_done = true;
		else if (!flags_done && a[0] == '-' && a[1] == '-')
			rc = long_flag(spec, argc, argv, &i);
		else if (!flags_done && a[0] == '-' && a[1])
			rc = short_flags(spec, argc, argv, &i);
		else
			args->v[args->n++] = argv[i];
	}
	if (rc == 1) {
		opts_usage(spec);
	} else if (!rc && args->n < spec->min_args) {
		rc = bad(spec, "%s", spec->min_args == 1 && spec->max_args == 1
					   ? "one argument is needed" : "arguments are missing");
	} else if (!rc && args->n > spec->max_args) {
		rc = bad(spec, "unexpected argument '%s'", args->v[spec->max_args]);
	}
	if (rc)
		opts_args_release(args);
	return rc;
}
