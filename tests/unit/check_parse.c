#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "parse.h"

static const struct {
	const char *in;
	int rc;
	int64_t ms;
} durations[] = {
	{ "30", 0, 30000 },      { "0", 0, 0 },          { "500ms", 0, 500 },
	{ "10s", 0, 10000 },     { "1m5s", 0, 65000 },   { "1.5s", 0, 1500 },
	{ "2h", 0, 7200000 },    { "100us", 0, 1 },      { "1ns", 0, 1 },
	{ "", -ERR_PARSE, 0 },   { "abc", -ERR_PARSE, 0 }, { "10x", -ERR_PARSE, 0 },
	{ "s", -ERR_PARSE, 0 },  { " 5s", -ERR_PARSE, 0 }, { "5s ", -ERR_PARSE, 0 },
	{ "-1s", -ERR_PARSE, 0 }, { "1m1ms", 0, 60001 },
	{ "99999999999999999999", -ERR_PARSE, 0 },
};

START_TEST(test_duration)
{
	int64_t ms = -7;
	int rc = parse_duration_ms(durations[_i].in, &ms);

	ck_assert_msg(rc == durations[_i].rc, "'%s': rc %d", durations[_i].in, rc);
	if (rc == 0)
		ck_assert_msg(ms == durations[_i].ms, "'%s': %lld ms", durations[_i].in,
			      (long long)ms);
	else
		ck_assert_int_eq(ms, -7);
}
END_TEST

START_TEST(test_bool)
{
	ck_assert(parse_bool("true"));
	ck_assert(!parse_bool("TRUE"));
	ck_assert(!parse_bool("1"));
	ck_assert(!parse_bool("yes"));
	ck_assert(!parse_bool(""));
	ck_assert(!parse_bool(NULL));
}
END_TEST

static const struct {
	const char *in;
	int rc;
	uint64_t v;
} sizes[] = {
	{ "128Mi", 0, 134217728 }, { "1k", 0, 1000 }, { "1Ki", 0, 1024 },
	{ "42", 0, 42 },           { "2Gi", 0, 2147483648ull }, { "1G", 0, 1000000000 },
	{ "Mi", -ERR_PARSE, 0 },   { "12X", -ERR_PARSE, 0 }, { "", -ERR_PARSE, 0 },
	{ "-1", -ERR_PARSE, 0 },   { "99999999999999999999Gi", -ERR_PARSE, 0 },
};

START_TEST(test_size)
{
	uint64_t v = 7;
	int rc = parse_size(sizes[_i].in, &v);

	ck_assert_msg(rc == sizes[_i].rc, "'%s': rc %d", sizes[_i].in, rc);
	ck_assert(v == (rc ? 7 : sizes[_i].v));
}
END_TEST

START_TEST(test_uint_and_cpu)
{
	uint64_t v;

	ck_assert_int_eq(parse_uint("10", 100, &v), 0);
	ck_assert_uint_eq(v, 10);
	ck_assert_int_eq(parse_uint("101", 100, &v), -ERR_PARSE);
	ck_assert_int_eq(parse_uint("1a", 100, &v), -ERR_PARSE);
	ck_assert_int_eq(parse_uint("18446744073709551616", UINT64_MAX, &v), -ERR_PARSE);
	ck_assert_int_eq(parse_cpu_millis("100m", &v), 0);
	ck_assert_uint_eq(v, 100);
	ck_assert_int_eq(parse_cpu_millis("0.5", &v), 0);
	ck_assert_uint_eq(v, 500);
	ck_assert_int_eq(parse_cpu_millis("2", &v), 0);
	ck_assert_uint_eq(v, 2000);
	ck_assert_int_eq(parse_cpu_millis("m", &v), -ERR_PARSE);
	ck_assert_int_eq(parse_cpu_millis("1x", &v), -ERR_PARSE);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("parse");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_duration, 0, sizeof(durations) / sizeof(durations[0]));
	tcase_add_test(tc, test_bool);
	tcase_add_loop_test(tc, test_size, 0, sizeof(sizes) / sizeof(sizes[0]));
	tcase_add_test(tc, test_uint_and_cpu);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
