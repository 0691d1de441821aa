#include <check.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "spawn.h"
#include "spool.h"

static char dir[64];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/check_spool.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	rmdir(dir);
}

static int dir_entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static char *pattern(size_t n)
{
	char *p = malloc(n);
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (char)(i * 13 + i / 509);
	return p;
}

/* Collects what spool_send writes to a socketpair. */
struct reader {
	int fd;
	char *data;
	size_t len, cap;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;

	for (;;) {
		ssize_t n = read(r->fd, r->data + r->len, r->cap - r->len);
		if (n <= 0 || (r->len += (size_t)n) == r->cap)
			break;
	}
	return NULL;
}

/* Sends s and returns everything the other end received. */
static size_t send_and_collect(struct spool *s, char *out, size_t cap)
{
	struct reader r = { .data = out, .cap = cap };
	pthread_t th;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	r.fd = sv[0];
	ck_assert_int_eq(pthread_create(&th, NULL, reader_main, &r), 0);
	ck_assert_int_eq(spool_send(s, sv[1], mono_ms() + 20000), 0);
	close(sv[1]);
	pthread_join(th, NULL);
	close(sv[0]);
	return r.len;
}

START_TEST(test_memory)
{
	struct spool s;
	char peek[8] = { 0 }, got[64];

	spool_init(&s, 1u << 20, dir);
	ck_assert_int_eq(spool_write(&s, "hello", 5), 0);
	ck_assert_int_eq(spool_write(&s, "", 0), 0);
	ck_assert_int_eq(spool_write(&s, " w\0rld", 6), 0);
	ck_assert_int_eq(s.fd, -1);
	ck_assert_uint_eq(s.total, 11);
	ck_assert_uint_eq(s.mem.len, 11);
	ck_assert(!s.over);
	ck_assert_uint_eq(spool_peek(&s, peek, 3), 3);
	ck_assert_str_eq(peek, "hel");
	ck_assert_uint_eq(spool_peek(&s, got, sizeof(got)), 11);
	ck_assert_mem_eq(got, "hello w\0rld", 11);
	ck_assert_uint_eq(send_and_collect(&s, got, sizeof(got)), 11);
	ck_assert_mem_eq(got, "hello w\0rld", 11);
	ck_assert_int_eq(dir_entries(), 0);
	spool_release(&s);
	spool_release(&s);
}
END_TEST

START_TEST(test_empty)
{
	struct spool s;
	char got[8];

	spool_init(&s, 100, dir);
	ck_assert_uint_eq(spool_peek(&s, got, sizeof(got)), 0);
	ck_assert_uint_eq(send_and_collect(&s, got, sizeof(got)), 0);
	spool_release(&s);
}
END_TEST

/* Up to SPOOL_MEM_MAX stays in memory; past it the rest goes to an unlinked
 * file, and spool_send reproduces the bytes in order. */
START_TEST(test_spill)
{
	size_t total = 2u * 1024 * 1024 + 77, off = 0, step = 10000;
	char *data = pattern(total), *got = malloc(total + 1);
	struct spool s;

	spool_init(&s, total, dir);
	ck_assert_int_eq(spool_write(&s, data, SPOOL_MEM_MAX), 0);
	ck_assert_int_eq(s.fd, -1);
	ck_assert_uint_eq(s.mem.len, SPOOL_MEM_MAX);
	off = SPOOL_MEM_MAX;
	ck_assert_int_eq(spool_write(&s, data + off, 1), 0);
	off++;
	ck_assert_int_ge(s.fd, 0);
	ck_assert_uint_eq(s.mem.len, SPOOL_MEM_MAX);
	while (off < total) {
		size_t n = total - off < step ? total - off : step;
		ck_assert_int_eq(spool_write(&s, data + off, n), 0);
		off += n;
		step = step * 3 / 2;
	}
	ck_assert_uint_eq(s.total, total);
	ck_assert(!s.over);
	/* The file has no name. */
	ck_assert_int_eq(dir_entries(), 0);
	/* peek sees the memory part only. */
	ck_assert_uint_eq(spool_peek(&s, got, total), SPOOL_MEM_MAX);
	ck_assert_uint_eq(send_and_collect(&s, got, total + 1), total);
	ck_assert_int_eq(memcmp(got, data, total), 0);
	/* A second send gives the same bytes. */
	memset(got, 0, total);
	ck_assert_uint_eq(send_and_collect(&s, got, total + 1), total);
	ck_assert_int_eq(memcmp(got, data, total), 0);
	spool_release(&s);
	ck_assert_int_eq(s.fd, -1);
	free(data);
	free(got);
}
END_TEST

/* A first write bigger than memory goes to the file whole; memory that is
 * partly full keeps its bytes and the overflowing write starts the file. */
START_TEST(test_spill_big_write)
{
	size_t total = SPOOL_MEM_MAX + 4096;
	char *data = pattern(total), *got = malloc(total);
	struct spool s;

	spool_init(&s, total, dir);
	ck_assert_int_eq(spool_write(&s, data, total), 0);
	ck_assert_int_ge(s.fd, 0);
	ck_assert_uint_eq(s.mem.len, 0);
	ck_assert_uint_eq(send_and_collect(&s, got, total), total);
	ck_assert_int_eq(memcmp(got, data, total), 0);
	spool_release(&s);

	spool_init(&s, total, dir);
	ck_assert_int_eq(spool_write(&s, data, 100), 0);
	ck_assert_int_eq(spool_write(&s, data + 100, SPOOL_MEM_MAX), 0);
	ck_assert_int_ge(s.fd, 0);
	ck_assert_uint_eq(s.mem.len, 100);
	ck_assert_int_eq(spool_write(&s, data + 100 + SPOOL_MEM_MAX, total - 100 - SPOOL_MEM_MAX), 0);
	ck_assert_uint_eq(send_and_collect(&s, got, total), total);
	ck_assert_int_eq(memcmp(got, data, total), 0);
	spool_release(&s);
	free(data);
	free(got);
}
END_TEST

START_TEST(test_cap)
{
	char *data = pattern(SPOOL_MEM_MAX * 2);
	struct spool s;
	char got[1000];

	spool_init(&s, 1000, dir);
	ck_assert_int_eq(spool_write(&s, data, 600), 0);
	ck_assert_int_eq(spool_write(&s, data + 600, 400), 0);
	ck_assert_uint_eq(s.total, 1000);
	ck_assert(!s.over);
	ck_assert_int_eq(spool_write(&s, data, 0), 0);
	ck_assert_int_eq(spool_write(&s, data, 1), -ERR_TOO_BIG);
	ck_assert(s.over);
	ck_assert_uint_eq(s.total, 1000);
	/* What fit is still there and sendable. */
	ck_assert_uint_eq(send_and_collect(&s, got, sizeof(got)), 1000);
	ck_assert_int_eq(memcmp(got, data, 1000), 0);
	spool_release(&s);

	/* One write bigger than the cap. */
	spool_init(&s, 1000, dir);
	ck_assert_int_eq(spool_write(&s, data, 1001), -ERR_TOO_BIG);
	ck_assert(s.over);
	ck_assert_uint_eq(s.total, 0);
	spool_release(&s);

	/* The cap applies to the spilled part too. */
	spool_init(&s, SPOOL_MEM_MAX + 10, dir);
	ck_assert_int_eq(spool_write(&s, data, SPOOL_MEM_MAX + 10), 0);
	ck_assert_int_eq(spool_write(&s, data, 1), -ERR_TOO_BIG);
	ck_assert(s.over);
	spool_release(&s);

	/* A huge length does not wrap around the check. */
	spool_init(&s, UINT64_MAX, dir);
	ck_assert_int_eq(spool_write(&s, data, 10), 0);
	ck_assert_int_eq(spool_write(&s, data, SIZE_MAX), -ERR_TOO_BIG);
	spool_release(&s);
	free(data);
}
END_TEST

START_TEST(test_bad_dir)
{
	char *data = pattern(SPOOL_MEM_MAX + 1);
	struct spool s;

	spool_init(&s, SPOOL_MEM_MAX * 2, "/nonexistent-cfaas-dir");
	ck_assert_int_eq(spool_write(&s, data, SPOOL_MEM_MAX), 0);
	ck_assert_int_eq(spool_write(&s, data, 1), -ENOENT);
	ck_assert(!s.over);
	spool_release(&s);
	free(data);
}
END_TEST

START_TEST(test_send_timeout)
{
	size_t total = 8u * 1024 * 1024;
	char *data = pattern(total);
	struct spool s;
	int sv[2];

	/* Nobody reads: the memory part or the file part runs into the deadline. */
	spool_init(&s, total, dir);
	ck_assert_int_eq(spool_write(&s, data, total), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(spool_send(&s, sv[1], mono_ms() + 100), -ERR_TIMEOUT);
	close(sv[0]);
	close(sv[1]);
	spool_release(&s);

	spool_init(&s, total, dir);
	ck_assert_int_eq(spool_write(&s, data, SPOOL_MEM_MAX), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	close(sv[0]);
	ck_assert_int_eq(spool_send(&s, sv[1], mono_ms() + 5000), -ERR_CLOSED);
	close(sv[1]);
	spool_release(&s);
	free(data);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("spool");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	signal(SIGPIPE, SIG_IGN);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_memory);
	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_spill);
	tcase_add_test(tc, test_spill_big_write);
	tcase_add_test(tc, test_cap);
	tcase_add_test(tc, test_bad_dir);
	tcase_add_test(tc, test_send_timeout);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
