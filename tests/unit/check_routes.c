#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "routes.h"

/* route: the table row's path expected, NULL for no route. */
static const struct {
	const char *path;
	const char *route;
	const char *arg;
	enum route_kind kind;
	bool auth;
} matches[] = {
	{ "/function/echo", "/function/", "echo", ROUTE_PROXY, false },
	{ "/function/echo.openfaas-fn", "/function/", "echo.openfaas-fn", ROUTE_PROXY, false },
	{ "/function/echo/sub/path", "/function/", "echo/sub/path", ROUTE_PROXY, false },
	{ "/function/", "/function/", "", ROUTE_PROXY, false },
	{ "/async-function/echo", "/async-function/", "echo", ROUTE_ASYNC, false },
	{ "/async-function/echo/x", "/async-function/", "echo/x", ROUTE_ASYNC, false },
	{ "/system/functions", "/system/functions", "", ROUTE_API, true },
	{ "/system/function/echo", "/system/function/", "echo", ROUTE_API, true },
	{ "/system/scale-function/echo", "/system/scale-function/", "echo", ROUTE_API, true },
	{ "/system/secrets", "/system/secrets", "", ROUTE_API, true },
	{ "/system/logs", "/system/logs", "", ROUTE_API, true },
	{ "/system/info", "/system/info", "", ROUTE_API, true },
	{ "/system/namespaces", "/system/namespaces", "", ROUTE_API, true },
	{ "/healthz", "/healthz", "", ROUTE_API, false },
	{ "/metrics", "/metrics", "", ROUTE_API, false },
	{ "/", "/", "", ROUTE_API, false },
	/* Exact paths match only exactly. */
	{ "/function", NULL, NULL, 0, false },
	{ "/async-function", NULL, NULL, 0, false },
	{ "/system/functions/", NULL, NULL, 0, false },
	{ "/system/functions/echo", NULL, NULL, 0, false },
	{ "/system/function", NULL, NULL, 0, false },
	{ "/system/info/", NULL, NULL, 0, false },
	{ "/healthz/", NULL, NULL, 0, false },
	{ "/healthzz", NULL, NULL, 0, false },
	{ "/metrics2", NULL, NULL, 0, false },
	{ "/Function/echo", NULL, NULL, 0, false },
	{ "/SYSTEM/functions", NULL, NULL, 0, false },
	{ "//function/echo", NULL, NULL, 0, false },
	{ "/unknown", NULL, NULL, 0, false },
	{ "/system", NULL, NULL, 0, false },
	{ "/system/", NULL, NULL, 0, false },
	{ "", NULL, NULL, 0, false },
	{ "function/echo", NULL, NULL, 0, false },
};

START_TEST(test_match)
{
	const char *arg = "untouched";
	const struct route *r = routes_match(matches[_i].path, &arg);

	if (!matches[_i].route) {
		ck_assert_msg(r == NULL, "'%s' matched '%s'", matches[_i].path, r ? r->path : "");
		return;
	}
	ck_assert_msg(r != NULL, "'%s' has no route", matches[_i].path);
	ck_assert_str_eq(r->path, matches[_i].route);
	ck_assert_str_eq(arg, matches[_i].arg);
	/* arg points into the path given, after the prefix. */
	if (r->prefix)
		ck_assert_ptr_eq(arg, matches[_i].path + strlen(r->path));
	ck_assert_int_eq(r->kind, matches[_i].kind);
	ck_assert_int_eq(r->auth, matches[_i].auth);
	/* API routes have a handler; the others are served by proxy/async. */
	if (r->kind == ROUTE_API)
		ck_assert_ptr_nonnull(r->handler);
}
END_TEST

static const struct {
	const char *method;
	unsigned bit;
} methods[] = {
	{ "GET", M_GET },       { "POST", M_POST },       { "PUT", M_PUT },
	{ "DELETE", M_DELETE }, { "PATCH", M_PATCH },     { "HEAD", M_HEAD },
	{ "OPTIONS", M_OPTIONS }, { "get", 0 },           { "Post", 0 },
	{ "TRACE", 0 },         { "CONNECT", 0 },         { "", 0 },
	{ "GETX", 0 },          { "GE", 0 },
};

START_TEST(test_method_bit)
{
	ck_assert_msg(routes_method_bit(methods[_i].method) == methods[_i].bit, "'%s'",
		      methods[_i].method);
}
END_TEST

START_TEST(test_method_bits_distinct)
{
	unsigned all = 0;
	size_t i;

	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		unsigned b = methods[i].bit;
		if (!b)
			continue;
		ck_assert_int_eq(b & (b - 1), 0);
		ck_assert_int_eq(all & b, 0);
		all |= b;
	}
	ck_assert_int_eq(all & ~(unsigned)M_ANY, 0);
}
END_TEST

/* Which methods each route takes, as the DESIGN.md table says. */
static const struct {
	const char *path;
	const char *allow;
} allows[] = {
	{ "/system/functions", "GET, POST, PUT, DELETE" },
	{ "/system/function/x", "GET" },
	{ "/system/scale-function/x", "POST" },
	{ "/system/secrets", "GET, POST, PUT, DELETE" },
	{ "/system/logs", "GET" },
	{ "/system/info", "GET" },
	{ "/system/namespaces", "GET" },
	{ "/healthz", "GET, HEAD" },
	{ "/metrics", "GET" },
	{ "/", "GET, HEAD" },
	/* OPTIONS is never listed. */
	{ "/function/x", "GET, POST, PUT, DELETE, PATCH, HEAD" },
};

START_TEST(test_allow)
{
	const char *arg;
	const struct route *r = routes_match(allows[_i].path, &arg);
	char out[128];

	ck_assert_ptr_nonnull(r);
	memset(out, '#', sizeof(out));
	routes_allow(r, out, sizeof(out));
	ck_assert_str_eq(out, allows[_i].allow);
}
END_TEST

START_TEST(test_allow_and_bits_agree)
{
	const char *names[] = { "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD" };
	size_t i, j;

	for (i = 0; i < sizeof(allows) / sizeof(allows[0]); i++) {
		const char *arg;
		const struct route *r = routes_match(allows[i].path, &arg);
		char out[128];

		routes_allow(r, out, sizeof(out));
		for (j = 0; j < sizeof(names) / sizeof(names[0]); j++) {
			bool listed = strstr(out, names[j]) != NULL;
			bool allowed = (r->methods & routes_method_bit(names[j])) != 0;
			ck_assert_msg(listed == allowed, "%s: %s listed %d allowed %d",
				      allows[i].path, names[j], listed, allowed);
		}
	}
}
END_TEST

START_TEST(test_allow_truncates)
{
	const char *arg;
	const struct route *r = routes_match("/system/functions", &arg);
	char out[16];

	memset(out, '#', sizeof(out));
	routes_allow(r, out, 8);
	ck_assert_str_eq(out, "GET, PO");
	ck_assert_int_eq(out[8], '#');
	routes_allow(r, out, 1);
	ck_assert_str_eq(out, "");
}
END_TEST

#define N(a) (int)(sizeof(a) / sizeof((a)[0]))

int main(void)
{
	Suite *s = suite_create("routes");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_match, 0, N(matches));
	tcase_add_loop_test(tc, test_method_bit, 0, N(methods));
	tcase_add_test(tc, test_method_bits_distinct);
	tcase_add_loop_test(tc, test_allow, 0, N(allows));
	tcase_add_test(tc, test_allow_and_bits_agree);
	tcase_add_test(tc, test_allow_truncates);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
