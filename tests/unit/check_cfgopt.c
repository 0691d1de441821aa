/*
 * check_cfgopt.c - settings from environment and flags through a table
 * (common/cfgopt.c); the binaries' own tables are checked in
 * check_gw_config and check_worker.
 */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfgopt.h"
#include "err.h"
#include "banned.h"

struct cfg {
	char name[8];
	char opt[8];
	int port;
	unsigned count;
	int64_t wait_ms;
	uint64_t size;
	bool debug;
	bool auth;
};

#define F(field) CFGOPT_FIELD(struct cfg, field)
#define FM(field, max) CFGOPT_FIELD_MAX(struct cfg, field, max)

static const struct cfgopt opts[] = {
	{ "name", "T_NAME", CFGOPT_STR, FM(name, 1) },
	{ "opt", "T_OPT", CFGOPT_STR, F(opt) },
	{ "port", "T_PORT", CFGOPT_PORT, F(port) },
	{ "count", "T_COUNT", CFGOPT_COUNT, FM(count, 10) },
	{ "wait", "T_WAIT", CFGOPT_DUR, F(wait_ms) },
	{ "size", "T_SIZE", CFGOPT_SIZE, F(size) },
	{ "debug", "T_DEBUG", CFGOPT_BOOL, F(debug) },
	{ "no-auth", "T_AUTH", CFGOPT_NBOOL, F(auth) },
};

static const struct cfgopt_about about = { "usage: t\n", "t 1.0" };

static const char *const *env;

static const char *get(const char *name)
{
	size_t n = strlen(name);
	int i;

	for (i = 0; env && env[i]; i++)
		if (!strncmp(env[i], name, n) && env[i][n] == '=')
			return env[i] + n + 1;
	return NULL;
}

/* Loads argv (NULL-terminated words after the program name) and env. */
static int load(struct cfg *c, const char *const *e, const char **words, struct buf *why)
{
	char *argv[16];
	int argc = 0;

	memset(c, 0, sizeof(*c));
	c->auth = true;
	env = e;
	argv[argc++] = (char *)"t";
	while (words && *words && argc < 15)
		argv[argc++] = (char *)*words++;
	argv[argc] = NULL;
	buf_reset(why);
	return cfgopt_load(c, opts, sizeof(opts) / sizeof(opts[0]), &about, argc, argv, get, why);
}

START_TEST(test_env_then_flags)
{
	static const char *const e[] = { "T_NAME=env", "T_PORT=81", "T_COUNT=3", "T_WAIT=2s",
					 "T_SIZE=1Ki", "T_DEBUG=true", "T_AUTH=false", "T_OPT=",
					 NULL };
	const char *w[] = { "--port", "82", "--wait=500ms", "--no-auth", NULL };
	struct buf why;
	struct cfg c;

	buf_init(&why, 1024);
	ck_assert_int_eq(load(&c, e, w, &why), 0);
	ck_assert_str_eq(c.name, "env");
	ck_assert_str_eq(c.opt, "");
	ck_assert_int_eq(c.port, 82);     /* the flag wins */
	ck_assert_uint_eq(c.count, 3);
	ck_assert_int_eq(c.wait_ms, 500);
	ck_assert_uint_eq(c.size, 1024);
	ck_assert(c.debug);
	ck_assert(!c.auth);
	/* The variable can turn a default-on setting back on; the flag only off. */
	ck_assert_int_eq(load(&c, (const char *const[]){ "T_AUTH=true", NULL }, NULL, &why), 0);
	ck_assert(c.auth);
	ck_assert_int_eq(load(&c, NULL, (const char *[]){ "--debug", "--opt", "", NULL }, &why), 0);
	ck_assert(c.debug);
	buf_release(&why);
}
END_TEST

static const struct {
	const char *words[4];
	const char *env;
	const char *err;
} bad[] = {
	{ { "--count", "0" }, NULL, "--count: '0' is not a count (1-10)" },
	{ { "--count", "11" }, NULL, "--count: '11' is not a count (1-10)" },
	{ { NULL }, "T_COUNT=x", "T_COUNT: 'x' is not a count (1-10)" },
	{ { "--port", "65536" }, NULL, "--port: '65536' is not a port number (0-65535)" },
	{ { "--name", "" }, NULL, "--name: needs a value" },
	{ { "--name", "too-long" }, NULL, "--name: value too long" },
	{ { "--wait", "soon" }, NULL, "--wait: cannot parse 'soon' as a duration" },
	{ { "--size", "0" }, NULL, "--size: cannot parse '0' as a size" },
	{ { "--nope" }, NULL, "--nope: unknown option (see --help)" },
	{ { "--port" }, NULL, "--port: needs a value (see --help)" },
	{ { "stray" }, NULL, "unexpected argument 'stray' (see --help)" },
};

START_TEST(test_bad)
{
	const char *const e[] = { bad[_i].env, NULL };
	struct buf why;
	struct cfg c;

	buf_init(&why, 1024);
	ck_assert_int_eq(load(&c, e, (const char **)bad[_i].words, &why), -ERR_INVALID);
	ck_assert_msg(strstr(buf_cstr(&why), bad[_i].err), "why: %s", buf_cstr(&why));
	buf_release(&why);
}
END_TEST

START_TEST(test_help_version)
{
	struct buf why;
	struct cfg c;

	buf_init(&why, 1024);
	ck_assert_int_eq(load(&c, NULL, (const char *[]){ "--help", NULL }, &why), 1);
	ck_assert_int_eq(load(&c, NULL, (const char *[]){ "--version", NULL }, &why), 1);
	buf_release(&why);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cfgopt");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_env_then_flags);
	tcase_add_loop_test(tc, test_bad, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, test_help_version);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
