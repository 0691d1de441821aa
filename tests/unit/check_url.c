#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "url.h"

static const struct {
	const char *in;
	bool plus;
	int rc;
	const char *out;
	size_t out_len; /* 0: strlen(out) */
} decodes[] = {
	{ "plain", false, 0, "plain", 0 },
	{ "", false, 0, "", 0 },
	{ "a%20b", false, 0, "a b", 0 },
	{ "a+b", false, 0, "a+b", 0 },
	{ "a+b", true, 0, "a b", 0 },
	{ "%2B", true, 0, "+", 0 },
	{ "%2b%2F%3d", false, 0, "+/=", 0 },
	{ "%41%42%43", false, 0, "ABC", 0 },
	{ "%e2%82%ac", false, 0, "\xe2\x82\xac", 0 },
	{ "%ff", false, 0, "\xff", 0 },
	{ "a%00b", false, 0, "a\0b", 3 },
	{ "%25", false, 0, "%", 0 },
	{ "%2525", false, 0, "%25", 0 },
	{ "%", false, -ERR_PARSE, NULL, 0 },
	{ "a%", false, -ERR_PARSE, NULL, 0 },
	{ "%4", false, -ERR_PARSE, NULL, 0 },
	{ "a%4", false, -ERR_PARSE, NULL, 0 },
	{ "%zz", false, -ERR_PARSE, NULL, 0 },
	{ "%4g", false, -ERR_PARSE, NULL, 0 },
	{ "%g4", false, -ERR_PARSE, NULL, 0 },
	{ "ok%20then%x", true, -ERR_PARSE, NULL, 0 },
	{ "% 1", false, -ERR_PARSE, NULL, 0 },
};

START_TEST(test_decode)
{
	struct buf b;
	int rc;

	buf_init(&b, 1024);
	buf_adds(&b, "keep:");
	rc = url_decode(&b, decodes[_i].in, strlen(decodes[_i].in), decodes[_i].plus);
	ck_assert_msg(rc == decodes[_i].rc, "'%s': rc %d", decodes[_i].in, rc);
	if (rc == 0) {
		size_t n = decodes[_i].out_len ? decodes[_i].out_len : strlen(decodes[_i].out);
		ck_assert_uint_eq(b.len, 5 + n);
		ck_assert_mem_eq(b.data + 5, decodes[_i].out, n);
	} else {
		/* Nothing half-decoded is left behind. */
		ck_assert_str_eq(buf_cstr(&b), "keep:");
	}
	buf_release(&b);
}
END_TEST

START_TEST(test_decode_len_and_cap)
{
	struct buf b;

	/* Only len bytes are read: an escape cut by len is bad. */
	buf_init(&b, 1024);
	ck_assert_int_eq(url_decode(&b, "ab%41", 2, false), 0);
	ck_assert_str_eq(buf_cstr(&b), "ab");
	ck_assert_int_eq(url_decode(&b, "%41", 2, false), -ERR_PARSE);
	ck_assert_str_eq(buf_cstr(&b), "ab");
	buf_release(&b);

	/* Over the cap: -ERR_TOO_BIG and b as it was. */
	buf_init(&b, 4);
	buf_adds(&b, "xy");
	ck_assert_int_eq(url_decode(&b, "%41%42%43", 9, false), -ERR_TOO_BIG);
	ck_assert_str_eq(buf_cstr(&b), "xy");
	ck_assert_int_eq(url_decode(&b, "%41%42", 6, false), 0);
	ck_assert_str_eq(buf_cstr(&b), "xyAB");
	buf_release(&b);
}
END_TEST

static const struct {
	const char *in;
	size_t len; /* 0: strlen(in) */
	const char *out;
} encodes[] = {
	{ "plain", 0, "plain" },
	{ "", 0, "" },
	{ "a b", 0, "a%20b" },
	{ "AZaz09-_.~", 0, "AZaz09-_.~" },
	{ "/?&=+#%", 0, "%2F%3F%26%3D%2B%23%25" },
	{ "\xff\x80", 0, "%FF%80" },
	{ "\xe2\x82\xac", 0, "%E2%82%AC" },
	{ "a\0b", 3, "a%00b" },
	{ "\n\t\"'", 0, "%0A%09%22%27" },
};

START_TEST(test_encode)
{
	size_t len = encodes[_i].len ? encodes[_i].len : strlen(encodes[_i].in);
	struct buf b, back;

	buf_init(&b, 1024);
	ck_assert_int_eq(url_encode(&b, encodes[_i].in, len), 0);
	ck_assert_str_eq(buf_cstr(&b), encodes[_i].out);
	/* Decoding gives the input back, with and without '+' rules. */
	buf_init(&back, 1024);
	ck_assert_int_eq(url_decode(&back, b.data ? b.data : "", b.len, true), 0);
	ck_assert_uint_eq(back.len, len);
	if (len)
		ck_assert_mem_eq(back.data, encodes[_i].in, len);
	buf_release(&back);
	buf_release(&b);
}
END_TEST

START_TEST(test_roundtrip_all_bytes)
{
	char in[256];
	struct buf enc, dec;
	int i;

	for (i = 0; i < 256; i++)
		in[i] = (char)i;
	buf_init(&enc, 4096);
	buf_init(&dec, 4096);
	ck_assert_int_eq(url_encode(&enc, in, sizeof(in)), 0);
	for (i = 0; i < (int)enc.len; i++)
		ck_assert_ptr_nonnull(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					     "0123456789-_.~%", enc.data[i]));
	ck_assert_int_eq(url_decode(&dec, enc.data, enc.len, false), 0);
	ck_assert_uint_eq(dec.len, 256);
	ck_assert_mem_eq(dec.data, in, 256);
	buf_release(&enc);
	buf_release(&dec);
}
END_TEST

static const struct {
	const char *query, *key;
	int rc;
	const char *out;
} queries[] = {
	{ "a=1&b=x%20y", "b", 0, "x y" },
	{ "a=1&b=x%20y", "a", 0, "1" },
	{ "a=1&b=2", "c", -ERR_NOT_FOUND, NULL },
	{ "", "a", -ERR_NOT_FOUND, NULL },
	{ "flag&x=1", "flag", 0, "" },
	{ "x=1&flag", "flag", 0, "" },
	{ "a=", "a", 0, "" },
	{ "a=1&a=2", "a", 0, "1" },
	{ "q=a+b", "q", 0, "a b" },
	{ "q=a%2Bb", "q", 0, "a+b" },
	{ "ab=1", "a", -ERR_NOT_FOUND, NULL },
	{ "a=1", "ab", -ERR_NOT_FOUND, NULL },
	{ "xa=1&a=2", "a", 0, "2" },
	{ "&&a=1&", "a", 0, "1" },
	{ "a=b=c", "a", 0, "b=c" },
	{ "k=%zz", "k", -ERR_PARSE, NULL },
	{ "bad=%zz&k=1", "k", 0, "1" },
	{ "namespace=openfaas-fn", "namespace", 0, "openfaas-fn" },
};

START_TEST(test_query_get)
{
	struct buf b;
	int rc;

	buf_init(&b, 1024);
	rc = url_query_get(queries[_i].query, queries[_i].key, &b);
	ck_assert_msg(rc == queries[_i].rc, "'%s' [%s]: rc %d", queries[_i].query,
		      queries[_i].key, rc);
	if (rc == 0)
		ck_assert_str_eq(buf_cstr(&b), queries[_i].out);
	else
		ck_assert_uint_eq(b.len, 0);
	buf_release(&b);
}
END_TEST

static bool is_hex_lower(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

START_TEST(test_uuid7)
{
	char seen[64][37], prev[37] = "";
	int i, j, k;

	for (i = 0; i < 1000; i++) {
		char u[40], hexms[13];
		struct timespec ts;
		unsigned long long ms, now;

		memset(u, '#', sizeof(u));
		clock_gettime(CLOCK_REALTIME, &ts);
		now = (unsigned long long)ts.tv_sec * 1000 + (unsigned long long)ts.tv_nsec / 1000000;
		url_uuid7(u);
		ck_assert_uint_eq(strlen(u), 36);
		ck_assert_int_eq(u[37], '#');
		for (j = 0; j < 36; j++) {
			if (j == 8 || j == 13 || j == 18 || j == 23)
				ck_assert_msg(u[j] == '-', "'%s'", u);
			else
				ck_assert_msg(is_hex_lower(u[j]), "'%s'", u);
		}
		/* Version 7, RFC 9562 variant (10xx). */
		ck_assert_msg(u[14] == '7', "'%s'", u);
		ck_assert_msg(strchr("89ab", u[19]) != NULL, "'%s'", u);
		/* The first 48 bits are the time in ms, so ids sort by time. */
		memcpy(hexms, u, 8);
		memcpy(hexms + 8, u + 9, 4);
		hexms[12] = '\0';
		ms = strtoull(hexms, NULL, 16);
		ck_assert_msg(ms >= now && ms <= now + 1000, "'%s' vs %llu", u, now);
		if (i % 100 == 0 && prev[0]) {
			ck_assert_str_lt(prev, u);
		}
		if (i % 100 == 99) {
			memcpy(prev, u, 37);
			usleep(2000);
		}
		if (i < 64) {
			memcpy(seen[i], u, 37);
			for (k = 0; k < i; k++)
				ck_assert_str_ne(seen[k], u);
		}
	}
}
END_TEST

START_TEST(test_random_token)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	size_t n = 20000, i;
	char *t = malloc(n + 2);
	int count[256] = { 0 };
	char a[25], b[25];

	t[n + 1] = '#';
	url_random_token(t, n);
	ck_assert_int_eq(t[n], '\0');
	ck_assert_int_eq(t[n + 1], '#');
	for (i = 0; i < n; i++) {
		ck_assert_msg(t[i] && strchr(alphabet, t[i]), "byte %zu: %#x", i,
			      (unsigned char)t[i]);
		count[(unsigned char)t[i]]++;
	}
	/* Every character of the alphabet turns up (20000 draws of 62: the
	 * chance that one is missing is below 1e-130). */
	for (i = 0; i < sizeof(alphabet) - 1; i++)
		ck_assert_msg(count[(unsigned char)alphabet[i]] > 0, "'%c' never drawn",
			      alphabet[i]);
	free(t);

	a[0] = 'x';
	url_random_token(a, 0);
	ck_assert_str_eq(a, "");
	url_random_token(a, 24);
	url_random_token(b, 24);
	ck_assert_uint_eq(strlen(a), 24);
	ck_assert_str_ne(a, b);
}
END_TEST

#define N(a) (int)(sizeof(a) / sizeof((a)[0]))

int main(void)
{
	Suite *s = suite_create("url");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_decode, 0, N(decodes));
	tcase_add_test(tc, test_decode_len_and_cap);
	tcase_add_loop_test(tc, test_encode, 0, N(encodes));
	tcase_add_test(tc, test_roundtrip_all_bytes);
	tcase_add_loop_test(tc, test_query_get, 0, N(queries));
	tcase_add_test(tc, test_uuid7);
	tcase_add_test(tc, test_random_token);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
