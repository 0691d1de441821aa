#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"

START_TEST(test_cap)
{
	struct buf b;

	buf_init(&b, 8);
	ck_assert_str_eq(buf_cstr(&b), "");
	ck_assert_int_eq(buf_adds(&b, "12345678"), 0);
	ck_assert_int_eq(buf_addc(&b, 'x'), -ERR_TOO_BIG);
	ck_assert_uint_eq(b.len, 8);
	ck_assert_str_eq(buf_cstr(&b), "12345678");
	buf_consume(&b, 3);
	ck_assert_str_eq(buf_cstr(&b), "45678");
	ck_assert_int_eq(buf_printf(&b, "%d", 123), 0);
	ck_assert_int_eq(buf_printf(&b, "%d", 1), -ERR_TOO_BIG);
	ck_assert_str_eq(buf_cstr(&b), "45678123");
	buf_release(&b);
	buf_release(&b);
	ck_assert_uint_eq(b.len, 0);
}
END_TEST

START_TEST(test_binary)
{
	struct buf b;
	size_t len;
	char *p;

	buf_init(&b, 1024);
	ck_assert_int_eq(buf_add(&b, "a\0b", 3), 0);
	ck_assert_uint_eq(b.len, 3);
	ck_assert_int_eq(memcmp(b.data, "a\0b", 4), 0);
	p = buf_detach(&b, &len);
	ck_assert_uint_eq(len, 3);
	ck_assert_ptr_null(b.data);
	free(p);
	p = buf_detach(&b, &len);
	ck_assert_uint_eq(len, 0);
	ck_assert_str_eq(p, "");
	free(p);
}
END_TEST

static const struct {
	const char *in;
	size_t len;
	const char *out;
} json[] = {
	{ "plain", 5, "\"plain\"" },
	{ "q\"b\\", 4, "\"q\\\"b\\\\\"" },
	{ "a\nb\t\x01", 5, "\"a\\nb\\t\\u0001\"" },
	{ "n\0ul", 4, "\"n\\u0000ul\"" },
	{ "\xc3\xa9", 2, "\"\xc3\xa9\"" },
	{ "\xff" "a", 2, "\"\\ufffda\"" },
	{ "\xe2\x82", 2, "\"\\ufffd\\ufffd\"" },
};

START_TEST(test_json_string)
{
	struct buf b;

	buf_init(&b, 1024);
	ck_assert_int_eq(buf_add_json_string(&b, json[_i].in, json[_i].len), 0);
	ck_assert_str_eq(buf_cstr(&b), json[_i].out);
	buf_release(&b);
}
END_TEST

START_TEST(test_json_over_cap_rolls_back)
{
	struct buf b;

	buf_init(&b, 6);
	ck_assert_int_eq(buf_adds(&b, "ab"), 0);
	ck_assert_int_eq(buf_add_json_string(&b, "toolong", 7), -ERR_TOO_BIG);
	ck_assert_str_eq(buf_cstr(&b), "ab");
	buf_release(&b);
}
END_TEST

START_TEST(test_utf8_valid)
{
	ck_assert(buf_utf8_valid("", 0));
	ck_assert(buf_utf8_valid("plain\x01\x7f", 7));
	ck_assert(buf_utf8_valid("\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80", 9));
	ck_assert(buf_utf8_valid("a\0b", 3)); /* NUL is a character */
	ck_assert(!buf_utf8_valid("\xff", 1));
	ck_assert(!buf_utf8_valid("\xc3", 1));            /* cut short */
	ck_assert(!buf_utf8_valid("\xc0\xaf", 2));        /* overlong */
	ck_assert(!buf_utf8_valid("\xed\xa0\x80", 3));    /* surrogate */
	ck_assert(!buf_utf8_valid("\xf4\x90\x80\x80", 4)); /* past U+10FFFF */
	ck_assert(!buf_utf8_valid("ok\xe2\x82", 4));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_cap);
	tcase_add_test(tc, test_binary);
	tcase_add_test(tc, test_utf8_valid);
	tcase_add_loop_test(tc, test_json_string, 0, sizeof(json) / sizeof(json[0]));
	tcase_add_test(tc, test_json_over_cap_rolls_back);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
