#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "err.h"

/* RFC 4648 section 10 test vectors. */
static const struct {
	const char *plain;
	const char *coded;
} vectors[] = {
	{ "", "" },           { "f", "Zg==" },         { "fo", "Zm8=" },
	{ "foo", "Zm9v" },    { "foob", "Zm9vYg==" },  { "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

START_TEST(test_vectors)
{
	const char *plain = vectors[_i].plain, *coded = vectors[_i].coded;
	struct buf b;

	buf_init(&b, 64);
	ck_assert_int_eq(b64_encode(&b, plain, strlen(plain)), 0);
	ck_assert_str_eq(buf_cstr(&b), coded);
	ck_assert_uint_eq(b64_encoded_len(strlen(plain)), strlen(coded));
	buf_reset(&b);
	ck_assert_int_eq(b64_decode(&b, coded, strlen(coded)), 0);
	ck_assert_uint_eq(b.len, strlen(plain));
	ck_assert_str_eq(buf_cstr(&b), plain);
	buf_release(&b);
}
END_TEST

/* Every byte value, NUL included, at every length modulo 3. */
START_TEST(test_binary_round_trip)
{
	unsigned char all[256];
	struct buf enc, dec;
	size_t i, len;

	for (i = 0; i < sizeof(all); i++)
		all[i] = (unsigned char)(255 - i);
	for (len = 253; len <= 256; len++) {
		buf_init(&enc, 1024);
		buf_init(&dec, 1024);
		ck_assert_int_eq(b64_encode(&enc, all, len), 0);
		ck_assert_uint_eq(enc.len, b64_encoded_len(len));
		ck_assert_int_eq(b64_decode(&dec, enc.data, enc.len), 0);
		ck_assert_uint_eq(dec.len, len);
		ck_assert_int_eq(memcmp(dec.data, all, len), 0);
		buf_release(&enc);
		buf_release(&dec);
	}
}
END_TEST

static const char *const invalid[] = {
	"Zg",        /* length not a multiple of 4 */
	"Zg=",       /* same, with padding */
	"Zg===",     /* too much padding */
	"Z===",      /* three padding characters */
	"====",      /* padding only */
	"Zh==",      /* unused bits not zero */
	"Zm9=",      /* unused bits not zero (two-byte tail) */
	"Zg==Zg==",  /* padding before the end */
	"Zm=v",      /* padding inside a quantum */
	"Zm9\n",     /* line break: nothing is ignored */
	"Zm9v\r\nYmFy", /* line break between quanta */
	"Zm 9",      /* space */
	"Zm9-",      /* URL-safe alphabet */
	"Zm9_",
	"Zm9\x80",   /* high bit */
};

START_TEST(test_invalid)
{
	struct buf b;

	buf_init(&b, 64);
	ck_assert_int_eq(buf_adds(&b, "keep"), 0);
	ck_assert_msg(b64_decode(&b, invalid[_i], strlen(invalid[_i])) == -ERR_PARSE,
		      "'%s' was accepted", invalid[_i]);
	ck_assert_str_eq(buf_cstr(&b), "keep");
	buf_release(&b);
}
END_TEST

START_TEST(test_decode_nul_inside)
{
	struct buf b;

	/* "a\0b" is YQBi: the NUL sits in the middle of the output. */
	buf_init(&b, 16);
	ck_assert_int_eq(b64_decode(&b, "YQBi", 4), 0);
	ck_assert_uint_eq(b.len, 3);
	ck_assert_int_eq(memcmp(b.data, "a\0b", 3), 0);
	buf_release(&b);
}
END_TEST

START_TEST(test_caps_and_append)
{
	struct buf b;

	buf_init(&b, 8);
	ck_assert_int_eq(buf_adds(&b, ">"), 0);
	ck_assert_int_eq(b64_encode(&b, "foo", 3), 0);
	ck_assert_str_eq(buf_cstr(&b), ">Zm9v");
	/* 4 more bytes would make 9 > 8: refused, buffer unchanged. */
	ck_assert_int_eq(b64_encode(&b, "f", 1), -ERR_TOO_BIG);
	ck_assert_str_eq(buf_cstr(&b), ">Zm9v");
	buf_release(&b);

	buf_init(&b, 5);
	ck_assert_int_eq(b64_decode(&b, "Zm9vYmFy", 8), -ERR_TOO_BIG);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_int_eq(b64_decode(&b, "Zm9vYmE=", 8), 0);
	ck_assert_str_eq(buf_cstr(&b), "fooba");
	buf_release(&b);

	buf_init(&b, 0);
	ck_assert_int_eq(b64_encode(&b, NULL, 0), 0);
	ck_assert_int_eq(b64_decode(&b, "", 0), 0);
	ck_assert_uint_eq(b.len, 0);
	buf_release(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("b64");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_vectors, 0, sizeof(vectors) / sizeof(vectors[0]));
	tcase_add_test(tc, test_binary_round_trip);
	tcase_add_loop_test(tc, test_invalid, 0, sizeof(invalid) / sizeof(invalid[0]));
	tcase_add_test(tc, test_decode_nul_inside);
	tcase_add_test(tc, test_caps_and_append);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
