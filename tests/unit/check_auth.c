#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "b64.h"
#include "buf.h"
#include "err.h"

static char dir[64];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/check_auth.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	struct dirent *e;
	char p[512];
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

static void file_path(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", dir, name);
}

static void put_file(const char *name, const char *text)
{
	char p[256];
	FILE *f;

	file_path(p, sizeof(p), name);
	f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void read_file(const char *name, char *out, size_t cap)
{
	char p[256];
	ssize_t n;
	int fd;

	file_path(p, sizeof(p), name);
	fd = open(p, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	n = read(fd, out, cap - 1);
	ck_assert_int_ge(n, 0);
	out[n] = '\0';
	close(fd);
}

static mode_t file_mode(const char *name)
{
	struct stat st;
	char p[256];

	file_path(p, sizeof(p), name);
	ck_assert_int_eq(stat(p, &st), 0);
	return st.st_mode & 07777;
}

START_TEST(test_load_generates_once)
{
	char *user = NULL, *password = NULL, *user2 = NULL, *password2 = NULL;
	char ondisk[128];
	bool generated = false;
	struct buf why;
	size_t i;

	umask(0);
	buf_init(&why, 1024);
	ck_assert_int_eq(auth_load(dir, &user, &password, &generated, &why), 0);
	ck_assert(generated);
	ck_assert_str_eq(buf_cstr(&why), "");
	ck_assert_str_eq(user, "admin");
	ck_assert_uint_eq(strlen(password), 24);
	for (i = 0; i < 24; i++)
		ck_assert(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
				 password[i]));
	/* 0600 even with an empty umask. */
	ck_assert_int_eq(file_mode("basic-auth-user"), 0600);
	ck_assert_int_eq(file_mode("basic-auth-password"), 0600);
	read_file("basic-auth-user", ondisk, sizeof(ondisk));
	ck_assert_str_eq(ondisk, "admin");
	read_file("basic-auth-password", ondisk, sizeof(ondisk));
	ck_assert_str_eq(ondisk, password);

	/* The second start reads what the first wrote. */
	generated = true;
	ck_assert_int_eq(auth_load(dir, &user2, &password2, &generated, &why), 0);
	ck_assert(!generated);
	ck_assert_str_eq(user2, user);
	ck_assert_str_eq(password2, password);
	ck_assert_int_eq(file_mode("basic-auth-password"), 0600);
	free(user);
	free(password);
	free(user2);
	free(password2);
	buf_release(&why);
}
END_TEST

START_TEST(test_load_existing)
{
	char *user = NULL, *password = NULL;
	bool generated = true;
	struct buf why;

	put_file("basic-auth-user", "bob\n");
	put_file("basic-auth-password", "s3cret pass\r\n");
	buf_init(&why, 1024);
	ck_assert_int_eq(auth_load(dir, &user, &password, &generated, &why), 0);
	ck_assert(!generated);
	ck_assert_str_eq(user, "bob");
	ck_assert_str_eq(password, "s3cret pass");
	free(user);
	free(password);
	buf_release(&why);
}
END_TEST

START_TEST(test_load_only_password_missing)
{
	char *user = NULL, *password = NULL;
	bool generated = false;
	struct buf why;

	put_file("basic-auth-user", "carol");
	buf_init(&why, 1024);
	ck_assert_int_eq(auth_load(dir, &user, &password, &generated, &why), 0);
	ck_assert(generated);
	ck_assert_str_eq(user, "carol");
	ck_assert_uint_eq(strlen(password), 24);
	free(user);
	free(password);
	buf_release(&why);
}
END_TEST

START_TEST(test_load_errors)
{
	char *user = (char *)"x", *password = (char *)"y";
	bool generated = true;
	struct buf why;
	char big[1024];

	buf_init(&why, 1024);
	/* An empty file is not a credential. */
	put_file("basic-auth-user", "\n");
	ck_assert_int_eq(auth_load(dir, &user, &password, &generated, &why), -ERR_INVALID);
	ck_assert_ptr_null(user);
	ck_assert_ptr_null(password);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&why), "basic-auth-user"));
	ck_assert_ptr_null(strchr(buf_cstr(&why), '\n'));

	/* A password file far too long. */
	put_file("basic-auth-user", "admin");
	memset(big, 'p', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	put_file("basic-auth-password", big);
	buf_reset(&why);
	ck_assert_int_eq(auth_load(dir, &user, &password, &generated, &why), -ERR_TOO_BIG);
	ck_assert_ptr_null(user);
	ck_assert_ptr_null(password);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&why), "basic-auth-password"));

	/* A data dir that does not exist. */
	buf_reset(&why);
	ck_assert_int_lt(auth_load("/nonexistent-cfaas-dir", &user, &password, &generated, &why),
			 0);
	ck_assert_ptr_null(user);
	ck_assert_ptr_null(password);
	ck_assert(!generated);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&why), "/nonexistent-cfaas-dir/basic-auth-user"));
	buf_release(&why);
}
END_TEST

/* Builds "Basic base64(creds)" (creds may hold NUL bytes: clen). */
static void basic(char *out, size_t cap, const char *scheme, const char *creds, size_t clen)
{
	struct buf b;

	buf_init(&b, 4096);
	buf_adds(&b, scheme);
	ck_assert_int_eq(b64_encode(&b, creds, clen), 0);
	snprintf(out, cap, "%s", buf_cstr(&b));
	buf_release(&b);
}

static const struct {
	const char *scheme;
	const char *creds;
	size_t clen; /* 0: strlen(creds) */
	bool ok;
} checks[] = {
	{ "Basic ", "admin:secret", 0, true },
	{ "basic ", "admin:secret", 0, true },
	{ "BASIC ", "admin:secret", 0, true },
	{ "Basic    ", "admin:secret", 0, true },
	{ "Basic ", "admin:secreT", 0, false },
	{ "Basic ", "Admin:secret", 0, false },
	{ "Basic ", "admin:secre", 0, false },
	{ "Basic ", "admin:secret2", 0, false },
	{ "Basic ", "admin:", 0, false },
	{ "Basic ", ":secret", 0, false },
	{ "Basic ", ":", 0, false },
	{ "Basic ", "adminsecret", 0, false },
	{ "Basic ", "admin", 0, false },
	{ "Basic ", "", 0, false },
	{ "Basic ", "admin:secret:", 0, false },
	{ "Basic ", "admin\0:secret", 13, false },
	{ "Basic ", "admin:secret\0", 13, false },
	{ "Basic ", "admi:nsecret", 0, false },
	{ "Bearer ", "admin:secret", 0, false },
	{ "Digest ", "admin:secret", 0, false },
	{ "Basic", "admin:secret", 0, false },
	{ "Basicx ", "admin:secret", 0, false },
	{ "", "admin:secret", 0, false },
};

START_TEST(test_check)
{
	size_t clen = checks[_i].clen ? checks[_i].clen : strlen(checks[_i].creds);
	char header[512];

	basic(header, sizeof(header), checks[_i].scheme, checks[_i].creds, clen);
	ck_assert_msg(auth_check(header, "admin", "secret") == checks[_i].ok, "'%s' ('%s')",
		      header, checks[_i].creds);
}
END_TEST

START_TEST(test_check_raw)
{
	char header[512];

	ck_assert(!auth_check(NULL, "admin", "secret"));
	ck_assert(!auth_check("", "admin", "secret"));
	ck_assert(!auth_check("Basic ", "admin", "secret"));
	ck_assert(!auth_check("Basic !!!!", "admin", "secret"));
	ck_assert(!auth_check("Basic YWRtaW46c2VjcmV0", "admin", "secrett"));
	ck_assert(auth_check("Basic YWRtaW46c2VjcmV0", "admin", "secret"));
	/* Strict base64: no missing padding, no trailing junk. */
	ck_assert(!auth_check("Basic YWRtaW46c2VjcmV0 ", "admin", "secret"));
	ck_assert(!auth_check("Basic YWRtaW46c2VjcmV", "admin", "secret"));
	ck_assert(!auth_check("Basic YWRtaW46c2VjcmV0==", "admin", "secret"));
	/* A password holding a colon: the user ends at the first one. */
	basic(header, sizeof(header), "Basic ", "admin:se:cret", 13);
	ck_assert(auth_check(header, "admin", "se:cret"));
	/* A very long header is refused, not overflowed. */
	{
		static char huge[8192];
		memcpy(huge, "Basic ", 6);
		/* A multiple of four: valid base64 that decodes past the cap. */
		memset(huge + 6, 'A', 8184);
		ck_assert(!auth_check(huge, "admin", "secret"));
	}
}
END_TEST

#define N(a) (int)(sizeof(a) / sizeof((a)[0]))

int main(void)
{
	Suite *s = suite_create("auth");
	TCase *load = tcase_create("load");
	TCase *check = tcase_create("check");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(load, setup, teardown);
	tcase_add_test(load, test_load_generates_once);
	tcase_add_test(load, test_load_existing);
	tcase_add_test(load, test_load_only_password_missing);
	tcase_add_test(load, test_load_errors);
	tcase_add_loop_test(check, test_check, 0, N(checks));
	tcase_add_test(check, test_check_raw);
	suite_add_tcase(s, load);
	suite_add_tcase(s, check);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
