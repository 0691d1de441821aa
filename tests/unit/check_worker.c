/*
 * check_worker.c - the queue worker's decisions (queue-worker/policy.c):
 * what is retried, back-off with jitter, Retry-After, retry annotations,
 * the URL of a call and which headers travel.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "callmsg.h"
#include "err.h"
#include "policy.h"

static const struct {
	int status;
	enum policy_verdict v;
} verdicts[] = {
	{ 200, POLICY_SUCCEEDED }, { 202, POLICY_SUCCEEDED }, { 302, POLICY_SUCCEEDED },
	{ 0, POLICY_RETRY },       { 408, POLICY_RETRY },     { 429, POLICY_RETRY },
	{ 500, POLICY_RETRY },     { 502, POLICY_RETRY },     { 503, POLICY_RETRY },
	{ 504, POLICY_RETRY },     { 400, POLICY_FAILED },    { 404, POLICY_FAILED },
	{ 413, POLICY_FAILED },    { 501, POLICY_FAILED },    { 505, POLICY_FAILED },
};

START_TEST(test_classify)
{
	struct wire_retry r;

	wire_retry_defaults(&r);
	ck_assert_msg(policy_classify(&r, verdicts[_i].status) == verdicts[_i].v, "status %d",
		      verdicts[_i].status);
}
END_TEST

static const struct {
	unsigned attempt;
	double rnd;
	int64_t lo, hi;
} backoffs[] = {
	{ 1, 0.0, 500, 500 },       { 1, 0.999, 999, 1000 },   { 2, 0.0, 1000, 1000 },
	{ 2, 0.5, 1500, 1500 },     { 3, 0.0, 2000, 2000 },    { 6, 0.999, 31980, 32000 },
	{ 7, 0.0, 30000, 30000 },   { 7, 0.999, 59960, 60000 }, { 1000, 0.5, 45000, 45000 },
	{ 1, 1.5, 500, 500 },       { 0, 0.0, 500, 500 },
};

START_TEST(test_backoff)
{
	struct wire_retry r;
	int64_t d;

	wire_retry_defaults(&r);
	d = policy_backoff_ms(&r, backoffs[_i].attempt, backoffs[_i].rnd);
	ck_assert_msg(d >= backoffs[_i].lo && d <= backoffs[_i].hi, "attempt %u rnd %g: %lld",
		      backoffs[_i].attempt, backoffs[_i].rnd, (long long)d);
}
END_TEST

/* Jitter spreads retries: never above the cap, never below half of it. */
START_TEST(test_backoff_bounds)
{
	struct wire_retry r;
	unsigned a;
	int i;

	wire_retry_defaults(&r);
	r.min_wait_ms = 100;
	r.max_wait_ms = 800;
	for (a = 1; a < 10; a++) {
		for (i = 0; i < 100; i++) {
			int64_t d = policy_backoff_ms(&r, a, i / 100.0);
			int64_t full = 100LL << (a - 1) > 800 ? 800 : 100LL << (a - 1);
			ck_assert(d >= full / 2 && d <= full);
		}
	}
}
END_TEST

#define NOW 1445412480000LL /* Wed, 21 Oct 2015 07:28:00 GMT */

static const struct {
	const char *v;
	int64_t ms;
} retry_afters[] = {
	{ "5", 5000 },
	{ " 3", 3000 },
	{ "0", 0 },
	{ "Wed, 21 Oct 2015 07:28:10 GMT", 10000 },
	{ "Wed, 21 Oct 2015 07:27:00 GMT", 0 },
	{ "99999999999", POLICY_RETRY_AFTER_MAX_MS },
	{ "7200", POLICY_RETRY_AFTER_MAX_MS },
	{ "Wed, 21 Oct 2015 07:28:10 UTC", -1 },
	{ "soon", -1 },
	{ "5s", -1 },
	{ "", -1 },
	{ NULL, -1 },
};

START_TEST(test_retry_after)
{
	int64_t ms = policy_retry_after_ms(retry_afters[_i].v, NOW);

	ck_assert_msg(ms == retry_afters[_i].ms, "'%s': %lld",
		      retry_afters[_i].v ? retry_afters[_i].v : "NULL", (long long)ms);
}
END_TEST

START_TEST(test_delay)
{
	struct wire_retry r;

	wire_retry_defaults(&r);
	/* The back-off wins over a short Retry-After, a long one wins over it. */
	ck_assert_int_eq(policy_delay_ms(&r, 3, "1", NOW, 0.0), 2000);
	ck_assert_int_eq(policy_delay_ms(&r, 1, "20", NOW, 0.0), 20000);
	ck_assert_int_eq(policy_delay_ms(&r, 1, NULL, NOW, 0.0), 500);
}
END_TEST

START_TEST(test_policy_annotations)
{
	struct wire_kv kv[4];
	struct wire_map ann = { kv, 0 };
	struct wire_retry r;

	/* No annotations: the worker's settings. */
	policy_retry(3, 200, 2000, NULL, &r);
	ck_assert_uint_eq(r.attempts, 3);
	ck_assert_int_eq(r.min_wait_ms, 200);
	ck_assert_int_eq(r.max_wait_ms, 2000);
	ck_assert(wire_retry_code(&r, 503));

	/* Annotations override them. */
	kv[0] = (struct wire_kv){ (char *)"com.openfaas.retry.attempts", (char *)"7" };
	kv[1] = (struct wire_kv){ (char *)"com.openfaas.retry.codes", (char *)"418" };
	kv[2] = (struct wire_kv){ (char *)"com.openfaas.retry.min_wait", (char *)"50ms" };
	ann.n = 3;
	policy_retry(3, 200, 2000, &ann, &r);
	ck_assert_uint_eq(r.attempts, 7);
	ck_assert_int_eq(r.min_wait_ms, 50);
	ck_assert_int_eq(r.max_wait_ms, 2000);
	ck_assert(wire_retry_code(&r, 418));
	ck_assert(!wire_retry_code(&r, 503));

	/* A min_wait above the worker's max_wait: applied to DESIGN.md's
	 * defaults (max 60s) instead. */
	kv[0] = (struct wire_kv){ (char *)"com.openfaas.retry.min_wait", (char *)"10s" };
	ann.n = 1;
	policy_retry(3, 200, 2000, &ann, &r);
	ck_assert_int_eq(r.min_wait_ms, 10000);
	ck_assert_int_eq(r.max_wait_ms, 60000);
	ck_assert_uint_eq(r.attempts, 5);

	/* Invalid even then: ignored. */
	kv[0] = (struct wire_kv){ (char *)"com.openfaas.retry.attempts", (char *)"zero" };
	policy_retry(3, 200, 2000, &ann, &r);
	ck_assert_uint_eq(r.attempts, 3);
	ck_assert_int_eq(r.max_wait_ms, 2000);

	/* Zero settings: DESIGN.md's defaults; a max below the min is raised. */
	policy_retry(0, 0, 0, NULL, &r);
	ck_assert_uint_eq(r.attempts, 5);
	ck_assert_int_eq(r.min_wait_ms, 1000);
	ck_assert_int_eq(r.max_wait_ms, 60000);
	policy_retry(1, 5000, 100, NULL, &r);
	ck_assert_int_eq(r.max_wait_ms, 5000);
}
END_TEST

static const struct {
	const char *gateway, *fn, *ns, *path, *query, *url;
} urls[] = {
	{ "http://127.0.0.1:8080", "hello", "openfaas-fn", "", "", "http://127.0.0.1:8080/function/hello" },
	{ "http://127.0.0.1:8080/", "hello", "team", "/a/b", "x=1&y=%20",
	  "http://127.0.0.1:8080/function/hello.team/a/b?x=1&y=%20" },
	{ "http://gw", "f", "openfaas-fn", "/with space/ü?#", "",
	  "http://gw/function/f/with%20space/%C3%BC%3F%23" },
	{ "http://gw//", "f", "openfaas-fn", "/keep:@!$&'()*+,;=~", "q",
	  "http://gw/function/f/keep:@!$&'()*+,;=~?q" },
};

START_TEST(test_function_url)
{
	struct callmsg m;
	struct buf out;

	memset(&m, 0, sizeof(m));
	m.function = (char *)urls[_i].fn;
	m.namespace = (char *)urls[_i].ns;
	m.path = (char *)urls[_i].path;
	m.query = (char *)urls[_i].query;
	buf_init(&out, 4096);
	ck_assert_int_eq(policy_function_url(&out, urls[_i].gateway, &m), 0);
	ck_assert_str_eq(buf_cstr(&out), urls[_i].url);
	buf_release(&out);
	buf_init(&out, 8);
	ck_assert_int_eq(policy_function_url(&out, urls[_i].gateway, &m), -ERR_TOO_BIG);
	buf_release(&out);
}
END_TEST

static const struct {
	const char *name;
	bool forward, callback;
} headers[] = {
	{ "Content-Type", true, true },      { "X-Call-Id", true, false },
	{ "x-callback-url", false, true },  { "Host", false, true },
	{ "Content-Length", false, false },  { "Transfer-Encoding", false, false },
	{ "Connection", false, false },      { "Expect", false, true },
	{ "Date", true, false },             { "X-Function-Status", true, false },
	{ "X-Duration-Seconds", true, false }, { "X-Attempts", true, false },
	{ "Authorization", true, true },     { "X-Custom", true, true },
};

START_TEST(test_headers)
{
	ck_assert_msg(policy_forward_header(headers[_i].name) == headers[_i].forward, "%s forward",
		      headers[_i].name);
	ck_assert_msg(policy_callback_header(headers[_i].name) == headers[_i].callback,
		      "%s callback", headers[_i].name);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("worker");
	TCase *tc = tcase_create("policy");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_classify, 0, sizeof(verdicts) / sizeof(verdicts[0]));
	tcase_add_loop_test(tc, test_backoff, 0, sizeof(backoffs) / sizeof(backoffs[0]));
	tcase_add_test(tc, test_backoff_bounds);
	tcase_add_loop_test(tc, test_retry_after, 0, sizeof(retry_afters) / sizeof(retry_afters[0]));
	tcase_add_test(tc, test_delay);
	tcase_add_test(tc, test_policy_annotations);
	tcase_add_loop_test(tc, test_function_url, 0, sizeof(urls) / sizeof(urls[0]));
	tcase_add_loop_test(tc, test_headers, 0, sizeof(headers) / sizeof(headers[0]));
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
