/*
 * check_callmsg.c - the async queue message and report (common/callmsg.c):
 * round trips, binary bodies, validation, call ids, callback URLs, times.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "callmsg.h"
#include "err.h"

/* ---- call message round trip ------------------------------------------------ */

/* Every kind of character the JSON writer must escape or pass through. */
#define TEXT "q\" b\\ t\t c\x01 del\x7f e\xc3\xa9 jp\xe6\x97\xa5 emoji\xf0\x9f\x98\x80 /"

START_TEST(test_roundtrip)
{
	static const unsigned char body[] = { 'a', 0, 0xff, '\n', 'z' };
	struct callmsg m, back;
	struct wire_kv kv[] = {
		{ (char *)"com.openfaas.retry.attempts", (char *)"3" },
		{ (char *)"other.annotation", (char *)"x" },
		{ (char *)"com.openfaas.retry.codes", (char *)"500,503" },
	};
	struct wire_map ann = { kv, 3 };
	struct buf out, why;
	const struct callmsg_hdr *h;

	memset(&m, 0, sizeof(m));
	m.call_id = strdup("4b1d8b5e-2f0e-4f6b-9c1a-0a1b2c3d4e5f");
	m.function = strdup("hello");
	m.namespace = strdup("team-a");
	m.method = strdup("PUT");
	m.path = strdup("/sub/path with space");
	m.query = strdup("a=1&b=%20");
	m.body = malloc(sizeof(body));
	memcpy(m.body, body, sizeof(body));
	m.body_len = sizeof(body);
	m.callback_url = strdup("http://127.0.0.1:9/cb?x=1");
	m.queued_at_ms = 1767268800250; /* 2026-01-01T12:00:00.25Z */
	m.round = 2;
	ck_assert_int_eq(callmsg_hdrs_add(&m.header, "Content-Type", "text/plain"), 0);
	ck_assert_int_eq(callmsg_hdrs_add(&m.header, "X-Multi", "one"), 0);
	ck_assert_int_eq(callmsg_hdrs_add(&m.header, "x-multi", "two"), 0);
	ck_assert_int_eq(callmsg_hdrs_add(&m.header, "X-Text", TEXT), 0);
	ck_assert_int_eq(callmsg_set_retry(&m, &ann), 0);
	ck_assert_uint_eq(m.retry.n, 2);

	buf_init(&out, 1 << 20);
	buf_init(&why, 1024);
	ck_assert_int_eq(callmsg_dump(&m, &out), 0);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&out), "\"queuedAt\":\"2026-01-01T12:00:00.25Z\""));
	ck_assert_ptr_nonnull(strstr(buf_cstr(&out), "\"X-Multi\":[\"one\",\"two\"]"));
	ck_assert_int_eq(callmsg_parse(out.data, out.len, &back, &why), 0);
	ck_assert_str_eq(back.call_id, m.call_id);
	ck_assert_str_eq(back.function, "hello");
	ck_assert_str_eq(back.namespace, "team-a");
	ck_assert_str_eq(back.method, "PUT");
	ck_assert_str_eq(back.path, m.path);
	ck_assert_str_eq(back.query, m.query);
	ck_assert_uint_eq(back.body_len, sizeof(body));
	ck_assert_mem_eq(back.body, body, sizeof(body));
	ck_assert_str_eq(back.callback_url, m.callback_url);
	ck_assert_int_eq(back.queued_at_ms, m.queued_at_ms);
	ck_assert_int_eq(back.round, 2);
	h = callmsg_hdrs_get(&back.header, "x-MULTI");
	ck_assert_ptr_nonnull(h);
	ck_assert_uint_eq(h->nvalues, 2);
	ck_assert_str_eq(h->values[1], "two");
	ck_assert_str_eq(callmsg_hdrs_value(&back.header, "content-type"), "text/plain");
	ck_assert_str_eq(callmsg_hdrs_value(&back.header, "X-Text"), TEXT);
	ck_assert_str_eq(wire_map_get(&back.retry, "com.openfaas.retry.codes"), "500,503");
	ck_assert_ptr_null(wire_map_get(&back.retry, "other.annotation"));
	callmsg_release(&back);
	callmsg_release(&m);
	callmsg_release(&m); /* twice is fine */
	callmsg_release(NULL);
	buf_release(&out);
	buf_release(&why);
}
END_TEST

/* Defaults: a minimal message from another producer. */
START_TEST(test_minimal)
{
	const char *text = "{\"callId\":\"abc\",\"function\":\"f\",\"callbackUrl\":\"\",\"x\":1}";
	struct callmsg m;
	struct buf why;

	buf_init(&why, 1024);
	ck_assert_int_eq(callmsg_parse(text, strlen(text), &m, &why), 0);
	ck_assert_str_eq(m.namespace, "openfaas-fn");
	ck_assert_str_eq(m.method, "POST");
	ck_assert_str_eq(m.path, "");
	ck_assert_str_eq(m.query, "");
	ck_assert_uint_eq(m.body_len, 0);
	ck_assert_ptr_nonnull(m.body);
	ck_assert_ptr_null(m.callback_url);
	ck_assert_int_eq(m.round, 0);
	callmsg_release(&m);
	buf_release(&why);
}
END_TEST

static const struct {
	const char *text;
	int rc;
	const char *why;
} bad_msgs[] = {
	{ "", -ERR_PARSE, "empty" },
	{ "{not json", -ERR_PARSE, "malformed JSON" },
	{ "[1,2]", -ERR_INVALID, "JSON object" },
	{ "{\"function\":\"f\"}", -ERR_INVALID, "missing 'callId'" },
	{ "{\"callId\":\"a\"}", -ERR_INVALID, "missing 'function'" },
	{ "{\"callId\":\"a b\",\"function\":\"f\"}", -ERR_INVALID, "invalid call id" },
	{ "{\"callId\":\"a\",\"function\":\"F!\"}", -ERR_INVALID, "invalid function name" },
	{ "{\"callId\":\"a\",\"function\":\"f\",\"namespace\":\"-x\"}", -ERR_INVALID, "namespace" },
	{ "{\"callId\":\"a\",\"function\":\"f\",\"method\":\"get\"}", -ERR_INVALID, "'method'" },
	{ "{\"callId\":\"a\",\"function\":\"f\",\"path\":\"x\"}", -ERR_INVALID, "'path'" },
	{ "{\"callId\":\"a\",\"function\":\"f\",\"query\":\"a b\"}", -ERR_INVALID, "'query'" },
	{ "{\"callId\":\"a\",\"function\":\"f\",\"body\":\"!!!\"}", -ERR_INVALID, "'body'" },
	{ "{\"callId\":\"a\",\"function\":\"f\",\"body\":5}", -ERR_INVALID, "'body'" },
	{ "{\"callId\":\"a\",\"function\":\"f\",\"header\":[]}", -ERR_INVALID, "'header'" },
	{ "{\"callId\":\"a\",\"function\":\"f\",\"header\":{\"A\":[\"x\\r\\nB: y\"]}}", -ERR_INVALID,
	  "one-line" },
	{ "{\"callId\":\"a\",\"function\":\"f\",\"header\":{\"A B\":[\"x\"]}}", -ERR_INVALID,
	  "header name" },
	{ "{\"callId\":\"a\",\"function\":\"f\",\"callbackUrl\":\"ftp://x\"}", -ERR_INVALID,
	  "callback URL" },
	{ "{\"callId\":\"a\",\"function\":\"f\",\"queuedAt\":\"yesterday\"}", -ERR_INVALID,
	  "RFC 3339" },
	{ "{\"callId\":\"a\",\"function\":\"f\",\"round\":-1}", -ERR_INVALID, "'round'" },
	{ "{\"callId\":\"a\",\"function\":\"f\",\"retry\":{\"k\":1}}", -ERR_INVALID, "'retry'" },
	{ "{\"callId\":7,\"function\":\"f\"}", -ERR_INVALID, "'callId'" },
};

START_TEST(test_bad_messages)
{
	struct callmsg m;
	struct buf why;
	int rc;

	buf_init(&why, 1024);
	rc = callmsg_parse(bad_msgs[_i].text, strlen(bad_msgs[_i].text), &m, &why);
	ck_assert_msg(rc == bad_msgs[_i].rc, "'%s': rc %d (%s)", bad_msgs[_i].text, rc,
		      buf_cstr(&why));
	ck_assert_msg(strstr(buf_cstr(&why), bad_msgs[_i].why), "'%s': why '%s'",
		      bad_msgs[_i].text, buf_cstr(&why));
	ck_assert_ptr_null(m.call_id);
	ck_assert_ptr_null(m.function);
	buf_release(&why);
}
END_TEST

START_TEST(test_dump_needs_fields)
{
	struct callmsg m;
	struct buf out;

	memset(&m, 0, sizeof(m));
	buf_init(&out, 1024);
	ck_assert_int_eq(callmsg_dump(&m, &out), -EINVAL);
	m.call_id = (char *)"a";
	m.function = (char *)"f";
	m.namespace = (char *)"openfaas-fn";
	m.method = (char *)"POST";
	ck_assert_int_eq(callmsg_dump(&m, &out), 0);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&out), "\"body\":\"\""));
	/* Over the cap: refused, buffer untouched. */
	buf_release(&out);
	buf_init(&out, 10);
	ck_assert_int_eq(callmsg_dump(&m, &out), -ERR_TOO_BIG);
	ck_assert_uint_eq(out.len, 0);
	buf_release(&out);
	ck_assert_int_eq(callmsg_dump(NULL, &out), -EINVAL);
}
END_TEST

/* A header value that is not UTF-8 cannot travel in JSON. */
START_TEST(test_dump_not_utf8)
{
	struct callmsg m;
	struct buf out;

	memset(&m, 0, sizeof(m));
	m.call_id = (char *)"a";
	m.function = (char *)"f";
	m.namespace = (char *)"openfaas-fn";
	m.method = (char *)"POST";
	ck_assert_int_eq(callmsg_hdrs_add(&m.header, "X-Bin", "\xff\xfe"), 0);
	buf_init(&out, 1024);
	ck_assert_int_eq(callmsg_dump(&m, &out), -EINVAL);
	ck_assert_uint_eq(out.len, 0);
	callmsg_hdrs_release(&m.header);
	buf_release(&out);
}
END_TEST

/* ---- reports ---------------------------------------------------------------- */

START_TEST(test_report_roundtrip)
{
	struct callmsg_report r, back;
	struct buf out, why;

	memset(&r, 0, sizeof(r));
	r.call_id = strdup("call-1");
	r.round = 1;
	r.status = CALLMSG_RUNNING;
	r.outcome = CALLMSG_DEAD_LETTER;
	r.callback = CALLMSG_CB_PENDING;
	r.callback_attempts = 2;
	r.attempts = 5;
	r.status_code = 503;
	r.started_at_ms = 1767268800000;
	r.finished_at_ms = 1767268801500;
	r.duration_seconds = 1.5;
	r.error = strdup("no success after 5 attempts");
	r.result = (unsigned char *)strdup("busy\n");
	r.result_len = 5;
	ck_assert_int_eq(callmsg_hdrs_add(&r.result_header, "Retry-After", "2"), 0);
	buf_init(&out, 1 << 16);
	buf_init(&why, 1024);
	ck_assert_int_eq(callmsg_report_dump(&r, &out), 0);
	ck_assert_int_eq(callmsg_report_parse(out.data, out.len, &back, &why), 0);
	ck_assert_str_eq(back.call_id, "call-1");
	ck_assert_int_eq(back.round, 1);
	ck_assert_int_eq(back.status, CALLMSG_RUNNING);
	ck_assert_int_eq(back.outcome, CALLMSG_DEAD_LETTER);
	ck_assert_int_eq(back.callback, CALLMSG_CB_PENDING);
	ck_assert_int_eq(back.callback_attempts, 2);
	ck_assert_int_eq(back.attempts, 5);
	ck_assert_int_eq(back.status_code, 503);
	ck_assert_int_eq(back.started_at_ms, r.started_at_ms);
	ck_assert_int_eq(back.finished_at_ms, r.finished_at_ms);
	ck_assert(back.duration_seconds > 1.49 && back.duration_seconds < 1.51);
	ck_assert_str_eq(back.error, r.error);
	ck_assert_uint_eq(back.result_len, 5);
	ck_assert_mem_eq(back.result, "busy\n", 5);
	ck_assert_str_eq(callmsg_hdrs_value(&back.result_header, "retry-after"), "2");
	callmsg_report_release(&back);

	/* A cancel: every round, no result. */
	callmsg_report_release(&r);
	r.call_id = strdup("call-1");
	r.round = CALLMSG_ROUND_ANY;
	r.status = CALLMSG_CANCELLED;
	buf_reset(&out);
	ck_assert_int_eq(callmsg_report_dump(&r, &out), 0);
	ck_assert_int_eq(callmsg_report_parse(out.data, out.len, &back, &why), 0);
	ck_assert_int_eq(back.round, CALLMSG_ROUND_ANY);
	ck_assert_int_eq(back.status, CALLMSG_CANCELLED);
	ck_assert(callmsg_status_final(back.status));
	ck_assert_ptr_null(back.result);
	ck_assert_ptr_null(back.error);
	ck_assert_int_eq(back.callback, CALLMSG_CB_NONE);
	callmsg_report_release(&back);
	callmsg_report_release(&r);
	buf_release(&out);
	buf_release(&why);
}
END_TEST

static const struct {
	const char *text;
	int rc;
} bad_reports[] = {
	{ "{\"callId\":\"a\"}", -ERR_INVALID },
	{ "{\"callId\":\"a\",\"status\":\"done\"}", -ERR_INVALID },
	{ "{\"callId\":\"a\",\"status\":\"queued\",\"round\":-2}", -ERR_INVALID },
	{ "{\"callId\":\"a\",\"status\":\"queued\",\"attempts\":\"1\"}", -ERR_INVALID },
	{ "{\"callId\":\"a\",\"status\":\"queued\",\"callback\":\"maybe\"}", -ERR_INVALID },
	{ "{\"callId\":\"a\",\"status\":\"queued\",\"durationSeconds\":-1}", -ERR_INVALID },
	{ "{\"callId\":\"a\",\"status\":\"queued\",\"result\":\"%%\"}", -ERR_INVALID },
	{ "{\"callId\":\"\",\"status\":\"queued\"}", -ERR_INVALID },
	{ "nope", -ERR_PARSE },
	{ "{\"callId\":\"a\",\"status\":\"succeeded\",\"statusCode\":200}", 0 },
};

START_TEST(test_bad_reports)
{
	struct callmsg_report r;
	struct buf why;
	int rc;

	buf_init(&why, 1024);
	rc = callmsg_report_parse(bad_reports[_i].text, strlen(bad_reports[_i].text), &r, &why);
	ck_assert_msg(rc == bad_reports[_i].rc, "'%s': rc %d (%s)", bad_reports[_i].text, rc,
		      buf_cstr(&why));
	if (rc)
		ck_assert_ptr_null(r.call_id);
	callmsg_report_release(&r);
	buf_release(&why);
}
END_TEST

START_TEST(test_status_names)
{
	enum callmsg_status st;
	int i;

	for (i = 0; i < CALLMSG_NSTATUS; i++) {
		ck_assert_int_eq(callmsg_status_parse(callmsg_status_name((enum callmsg_status)i), &st), 0);
		ck_assert_int_eq(st, i);
	}
	ck_assert_str_eq(callmsg_status_name(CALLMSG_DEAD_LETTER), "dead-letter");
	ck_assert_str_eq(callmsg_status_name((enum callmsg_status)99), "unknown");
	ck_assert_int_eq(callmsg_status_parse("Queued", &st), -ERR_INVALID);
	ck_assert(!callmsg_status_final(CALLMSG_QUEUED));
	ck_assert(!callmsg_status_final(CALLMSG_RUNNING));
	ck_assert(callmsg_status_final(CALLMSG_FAILED));
}
END_TEST

/* ---- checks ------------------------------------------------------------------- */

static const struct {
	const char *id;
	int rc;
} ids[] = {
	{ "8cef1165-97db-4e6b-9da5-21401bec9dcd", 0 },
	{ "a", 0 },
	{ "A_b-9", 0 },
	{ "1234567890123456789012345678901234567890123456789012345678901234", 0 },
	{ "12345678901234567890123456789012345678901234567890123456789012345", -ERR_INVALID },
	{ "", -ERR_INVALID },
	{ "a.b", -ERR_INVALID },
	{ "a b", -ERR_INVALID },
	{ "a*", -ERR_INVALID },
	{ "a>", -ERR_INVALID },
	{ NULL, -ERR_INVALID },
};

START_TEST(test_ids)
{
	ck_assert_int_eq(callmsg_id_check(ids[_i].id, NULL), ids[_i].rc);
}
END_TEST

static const struct {
	const char *url;
	int rc;
} urls[] = {
	{ "http://127.0.0.1:8080/cb", 0 },
	{ "https://example.com", 0 },
	{ "HTTP://host/path?q=1#frag", 0 },
	{ "http://user:pw@host:1/x", 0 },
	{ "http://[::1]:9000/x", 0 },
	{ "http://[::1]/x", 0 },
	{ "http://host:65535", 0 },
	{ "ftp://host/x", -ERR_INVALID },
	{ "host/x", -ERR_INVALID },
	{ "http://", -ERR_INVALID },
	{ "http:///path", -ERR_INVALID },
	{ "http://:80/x", -ERR_INVALID },
	{ "http://host:0/x", -ERR_INVALID },
	{ "http://host:65536/x", -ERR_INVALID },
	{ "http://host:8x/x", -ERR_INVALID },
	{ "http://ho st/x", -ERR_INVALID },
	{ "http://host/\r\nX: y", -ERR_INVALID },
	{ "http://[::1/x", -ERR_INVALID },
	{ "", -ERR_INVALID },
	{ NULL, -ERR_INVALID },
};

START_TEST(test_urls)
{
	struct buf why;
	int rc;

	buf_init(&why, 1024);
	rc = callmsg_url_check(urls[_i].url, &why);
	ck_assert_msg(rc == urls[_i].rc, "'%s': rc %d (%s)", urls[_i].url ? urls[_i].url : "NULL",
		      rc, buf_cstr(&why));
	if (rc)
		ck_assert_msg(strstr(buf_cstr(&why), "invalid callback URL"), "why '%s'",
			      buf_cstr(&why));
	buf_release(&why);
}
END_TEST

START_TEST(test_long_url)
{
	char *u = malloc(CALLMSG_URL_MAX + 2);

	memcpy(u, "http://h/", 9);
	memset(u + 9, 'a', CALLMSG_URL_MAX + 1 - 9);
	u[CALLMSG_URL_MAX + 1] = '\0';
	ck_assert_int_eq(callmsg_url_check(u, NULL), -ERR_INVALID);
	u[CALLMSG_URL_MAX] = '\0';
	ck_assert_int_eq(callmsg_url_check(u, NULL), 0);
	free(u);
}
END_TEST

static const struct {
	const char *in;
	int rc;
	int64_t ms;
} times[] = {
	{ "1970-01-01T00:00:00Z", 0, 0 },
	{ "2026-01-01T12:00:00.25Z", 0, 1767268800250 },
	{ "2026-01-01T12:00:00.123456789Z", 0, 1767268800123 },
	{ "2026-01-01T13:30:00+01:30", 0, 1767268800000 },
	{ "2026-01-01T10:00:00-02:00", 0, 1767268800000 },
	{ "2000-02-29T00:00:00z", 0, 951782400000 },
	{ "1969-12-31T23:59:59Z", 0, -1000 },
	{ "2026-01-01 12:00:00Z", 0, 1767268800000 },
	{ "2026-01-01T12:00:00", -ERR_PARSE, 0 },
	{ "2026-13-01T12:00:00Z", -ERR_PARSE, 0 },
	{ "2026-01-01T12:00:00.Z", -ERR_PARSE, 0 },
	{ "2026-01-01T24:00:00Z", -ERR_PARSE, 0 },
	{ "2026-01-01T12:00:00Zx", -ERR_PARSE, 0 },
	{ "26-01-01T12:00:00Z", -ERR_PARSE, 0 },
	{ "", -ERR_PARSE, 0 },
};

START_TEST(test_times)
{
	int64_t ms = -7;
	int rc = callmsg_time_parse(times[_i].in, &ms);

	ck_assert_msg(rc == times[_i].rc, "'%s': rc %d", times[_i].in, rc);
	if (!rc)
		ck_assert_msg(ms == times[_i].ms, "'%s': %lld", times[_i].in, (long long)ms);
	else
		ck_assert_int_eq(ms, -7);
}
END_TEST

START_TEST(test_subjects)
{
	char s[32];

	ck_assert_int_eq(callmsg_subject(s, sizeof(s), CALLMSG_SUBJ_CALLS, "hello", NULL), 0);
	ck_assert_str_eq(s, "cfaas.calls.hello");
	ck_assert_int_eq(callmsg_subject(s, sizeof(s), CALLMSG_SUBJ_CALLS, "hello", "ns"), 0);
	ck_assert_str_eq(s, "cfaas.calls.hello.ns");
	ck_assert_int_eq(callmsg_subject(s, 10, CALLMSG_SUBJ_CALLS, "hello", NULL), -ERR_TOO_BIG);
	ck_assert_str_eq(s, "");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("callmsg");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_minimal);
	tcase_add_loop_test(tc, test_bad_messages, 0, sizeof(bad_msgs) / sizeof(bad_msgs[0]));
	tcase_add_test(tc, test_dump_needs_fields);
	tcase_add_test(tc, test_dump_not_utf8);
	tcase_add_test(tc, test_report_roundtrip);
	tcase_add_loop_test(tc, test_bad_reports, 0, sizeof(bad_reports) / sizeof(bad_reports[0]));
	tcase_add_test(tc, test_status_names);
	tcase_add_loop_test(tc, test_ids, 0, sizeof(ids) / sizeof(ids[0]));
	tcase_add_loop_test(tc, test_urls, 0, sizeof(urls) / sizeof(urls[0]));
	tcase_add_test(tc, test_long_url);
	tcase_add_loop_test(tc, test_times, 0, sizeof(times) / sizeof(times[0]));
	tcase_add_test(tc, test_subjects);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
