#include <check.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "opts.h"
#include "strs.h"
#include "wire.h"

static bool verbose, quiet, tls = true;
static const char *gateway, *name;
static struct wire_list envs;
static long replicas;

static const struct opt table[] = {
	{ "verbose", 'v', OPT_BOOL, &verbose, NULL, "say more" },
	{ "quiet", 'q', OPT_BOOL, &quiet, NULL, "say less" },
	{ "tls-verify", 0, OPT_BOOL, &tls, NULL, "check certificates" },
	{ "gateway", 'g', OPT_STR, &gateway, "URL", "the gateway address" },
	{ "name", 0, OPT_STR, &name, NULL, "a name without a short flag" },
	{ "env", 'e', OPT_LIST, &envs, "K=V", "an environment variable" },
	{ "replicas", 'r', OPT_INT, &replicas, "N", "how many copies" },
	OPT_END,
};

static const struct opts_spec spec = {
	.cmd = "deploy",
	.usage = "[NAME...] [flags]",
	.about = "Deploys functions from the stack file.",
	.opts = table,
	.min_args = 0,
	.max_args = 2,
	.examples = "  cfaas deploy -g http://127.0.0.1:8080\n",
};

static void reset(void)
{
	verbose = quiet = false;
	tls = true;
	gateway = name = NULL;
	replicas = -1;
	strs_list_release(&envs);
}

/* Output captured from one stream while opts_parse runs. */
struct captured {
	char text[8192];
};

static int run(const char *const *words, struct opts_args *args, struct captured *out,
	       struct captured *err)
{
	char *argv[16];
	int argc = 0, rc, fds[2], saved[2], i;
	char tmpl[2][32] = { "/tmp/check_opts.XXXXXX", "/tmp/check_opts.XXXXXX" };
	struct captured *caps[2] = { out, err };

	argv[argc++] = (char *)"cfaas-deploy";
	while (words[argc - 1] && argc < 15) {
		argv[argc] = (char *)words[argc - 1];
		argc++;
	}
	argv[argc] = NULL;
	fflush(stdout);
	fflush(stderr);
	for (i = 0; i < 2; i++) {
		fds[i] = mkstemp(tmpl[i]);
		ck_assert_int_ge(fds[i], 0);
		unlink(tmpl[i]);
		saved[i] = dup(i + 1);
		dup2(fds[i], i + 1);
	}
	rc = opts_parse(&spec, argc, argv, args);
	fflush(stdout);
	fflush(stderr);
	for (i = 0; i < 2; i++) {
		ssize_t n;

		dup2(saved[i], i + 1);
		close(saved[i]);
		lseek(fds[i], 0, SEEK_SET);
		n = read(fds[i], caps[i]->text, sizeof(caps[i]->text) - 1);
		caps[i]->text[n > 0 ? n : 0] = '\0';
		close(fds[i]);
	}
	return rc;
}

#define W(...) ((const char *const[]){ __VA_ARGS__, NULL })

static const struct {
	const char *const *words;
	int rc;
	const char *err;     /* substring of stderr when rc == CLI_USAGE */
	bool verbose, quiet, tls;
	const char *gateway; /* expected, "" for NULL */
	const char *name;
	long replicas;
	const char *envs;    /* the list joined by ',' */
	const char *args;    /* positional arguments joined by ',' */
} cases[] = {
	{ W("-v"), 0, NULL, true, false, true, "", "", -1, "", "" },
	{ W("--verbose", "--quiet"), 0, NULL, true, true, true, "", "", -1, "", "" },
	{ W("-vq"), 0, NULL, true, true, true, "", "", -1, "", "" },
	{ W("--no-tls-verify"), 0, NULL, false, false, false, "", "", -1, "", "" },
	{ W("--tls-verify=false"), 0, NULL, false, false, false, "", "", -1, "", "" },
	{ W("--verbose=true"), 0, NULL, true, false, true, "", "", -1, "", "" },
	{ W("-g", "http://a"), 0, NULL, false, false, true, "http://a", "", -1, "", "" },
	{ W("-ghttp://b"), 0, NULL, false, false, true, "http://b", "", -1, "", "" },
	{ W("--gateway", "http://c"), 0, NULL, false, false, true, "http://c", "", -1, "", "" },
	{ W("--gateway=http://d", "-g", "http://e"), 0, NULL, false, false, true, "http://e", "",
	  -1, "", "" },
	{ W("--gateway="), 0, NULL, false, false, true, "", "", -1, "", "" },
	{ W("--name", "x", "fn1", "fn2"), 0, NULL, false, false, true, "", "x", -1, "", "fn1,fn2" },
	{ W("fn1", "-v", "fn2"), 0, NULL, true, false, true, "", "", -1, "", "fn1,fn2" },
	{ W("-e", "A=1", "--env", "B=2", "--env=C=3", "-eD=4"), 0, NULL, false, false, true, "",
	  "", -1, "A=1,B=2,C=3,D=4", "" },
	{ W("-r", "3"), 0, NULL, false, false, true, "", "", 3, "", "" },
	{ W("--replicas=-2"), 0, NULL, false, false, true, "", "", -2, "", "" },
	{ W("-vr5"), 0, NULL, true, false, true, "", "", 5, "", "" },
	{ W("--", "-v", "--x"), 0, NULL, false, false, true, "", "", -1, "", "-v,--x" },
	{ W("-"), 0, NULL, false, false, true, "", "", -1, "", "-" },
	{ W("--gateway", "-v"), 0, NULL, false, false, true, "-v", "", -1, "", "" },
	/* errors */
	{ .words = W("--bogus"), .rc = CLI_USAGE, .err = "deploy: unknown flag '--bogus'" },
	{ .words = W("-x"), .rc = CLI_USAGE, .err = "unknown flag '-x'" },
	{ .words = W("-vx"), .rc = CLI_USAGE, .err = "unknown flag '-x'" },
	{ .words = W("--no-gateway"), .rc = CLI_USAGE, .err = "unknown flag '--no-gateway'" },
	{ .words = W("--no-tls-verify=true"), .rc = CLI_USAGE, .err = "unknown flag" },
	{ .words = W("--gateway"), .rc = CLI_USAGE, .err = "flag '--gateway' needs a value" },
	{ .words = W("-g"), .rc = CLI_USAGE, .err = "flag '-g' needs a value" },
	{ .words = W("-v", "-e"), .rc = CLI_USAGE, .err = "flag '-e' needs a value" },
	{ .words = W("--verbose=yes"), .rc = CLI_USAGE, .err = "--verbose takes true or false" },
	{ .words = W("-r", "many"), .rc = CLI_USAGE, .err = "--replicas takes a whole number, not 'many'" },
	{ .words = W("--replicas=3x"), .rc = CLI_USAGE, .err = "whole number" },
	{ .words = W("--replicas="), .rc = CLI_USAGE, .err = "whole number" },
	{ .words = W("--replicas=99999999999999999999999"), .rc = CLI_USAGE, .err = "whole number" },
	{ .words = W("a", "b", "c"), .rc = CLI_USAGE, .err = "unexpected argument 'c'" },
	{ .words = W("--help"), .rc = 1, .err = NULL },
	{ .words = W("-h"), .rc = 1, .err = NULL },
	{ .words = W("-vh"), .rc = 1, .err = NULL },
	{ .words = W("fn1", "--help", "--bogus"), .rc = 1, .err = NULL },
};

static void join_list(char **items, size_t n, char *out, size_t size)
{
	size_t i, len = 0;

	out[0] = '\0';
	for (i = 0; i < n && len < size; i++)
		len += (size_t)snprintf(out + len, size - len, "%s%s", i ? "," : "", items[i]);
}

START_TEST(test_parse)
{
	struct opts_args args = { 0 };
	static struct captured out, err;
	char got[512];
	int rc;

	reset();
	rc = run(cases[_i].words, &args, &out, &err);
	ck_assert_msg(rc == cases[_i].rc, "case %d: rc %d, stderr '%s'", _i, rc, err.text);
	if (rc == CLI_USAGE) {
		ck_assert_msg(strstr(err.text, cases[_i].err), "case %d: stderr '%s', want '%s'", _i,
			      err.text, cases[_i].err);
		ck_assert_msg(strstr(err.text, "see 'cfaas deploy --help'"), "case %d: '%s'", _i,
			      err.text);
		ck_assert_str_eq(out.text, "");
		ck_assert_ptr_null(args.v);
	} else if (rc == 1) {
		ck_assert_ptr_nonnull(strstr(out.text, "Usage: cfaas deploy"));
		ck_assert_str_eq(err.text, "");
		ck_assert_ptr_null(args.v);
	} else {
		ck_assert_str_eq(err.text, "");
		ck_assert_str_eq(out.text, "");
		ck_assert_msg(verbose == cases[_i].verbose, "case %d: verbose", _i);
		ck_assert_msg(quiet == cases[_i].quiet, "case %d: quiet", _i);
		ck_assert_msg(tls == cases[_i].tls, "case %d: tls", _i);
		ck_assert_str_eq(gateway ? gateway : "", cases[_i].gateway);
		ck_assert_str_eq(name ? name : "", cases[_i].name);
		ck_assert_int_eq(replicas, cases[_i].replicas);
		join_list(envs.items, envs.n, got, sizeof(got));
		ck_assert_str_eq(got, cases[_i].envs);
		join_list(args.v, args.n, got, sizeof(got));
		ck_assert_str_eq(got, cases[_i].args);
	}
	opts_args_release(&args);
	ck_assert_ptr_null(args.v);
	reset();
}
END_TEST

START_TEST(test_min_args)
{
	static const struct opts_spec one = { "describe", "NAME", NULL, table, 1, 1, NULL };
	static const char *const words[] = { "-v", NULL };
	char *argv[] = { (char *)"x", (char *)words[0], NULL };
	struct opts_args args = { 0 };
	int fd = open("/dev/null", O_WRONLY), saved = dup(2);

	reset();
	dup2(fd, 2);
	ck_assert_int_eq(opts_parse(&one, 2, argv, &args), CLI_USAGE);
	ck_assert_int_eq(opts_parse(&one, 1, argv, &args), CLI_USAGE);
	dup2(saved, 2);
	close(saved);
	close(fd);
	argv[1] = (char *)"fn";
	ck_assert_int_eq(opts_parse(&one, 2, argv, &args), 0);
	ck_assert_uint_eq(args.n, 1);
	ck_assert_str_eq(args.v[0], "fn");
	opts_args_release(&args);
	reset();
}
END_TEST

/* Every flag of the table shows in --help, with its placeholder. */
static const struct {
	const char *line;
} help_lines[] = {
	{ "  -v, --verbose " }, { "  -q, --quiet " }, { "      --tls-verify " },
	{ "  -g, --gateway URL " }, { "      --name VALUE " }, { "  -e, --env K=V " },
	{ "  -r, --replicas N " }, { "  -h, --help " }, { "an environment variable (repeatable)" },
	{ "how many copies" }, { "Usage: cfaas deploy [NAME...] [flags]" },
	{ "Deploys functions from the stack file." }, { "Examples:\n  cfaas deploy -g http" },
};

START_TEST(test_help)
{
	struct opts_args args = { 0 };
	static struct captured out, err;

	reset();
	ck_assert_int_eq(run(W("--help"), &args, &out, &err), 1);
	ck_assert_msg(strstr(out.text, help_lines[_i].line), "help lacks '%s':\n%s",
		      help_lines[_i].line, out.text);
	opts_args_release(&args);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("opts");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_parse, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, test_min_args);
	tcase_add_loop_test(tc, test_help, 0, sizeof(help_lines) / sizeof(help_lines[0]));
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
