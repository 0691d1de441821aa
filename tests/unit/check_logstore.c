#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "logstore.h"
#include "spawn.h"

#define MAX_GOT 4096

struct got {
	size_t n;
	int64_t ts[MAX_GOT];
	char inst[MAX_GOT][32];
	char text[MAX_GOT][64];
	size_t len[MAX_GOT];
};

static int collect(void *ctx, const struct logstore_entry *e)
{
	struct got *g = ctx;

	ck_assert_uint_lt(g->n, MAX_GOT);
	g->ts[g->n] = e->ts_ns;
	snprintf(g->inst[g->n], sizeof(g->inst[0]), "%s", e->instance);
	g->len[g->n] = e->len;
	memcpy(g->text[g->n], e->text, e->len < 63 ? e->len : 63);
	g->text[g->n][e->len < 63 ? e->len : 63] = '\0';
	ck_assert_int_eq(e->text[e->len], '\0');
	g->n++;
	return 0;
}

static char dir[64];

static void make_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/check_logstore_XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void rm_dir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static struct logstore *open_store(size_t cap)
{
	struct logstore *ls;
	char path[128];

	snprintf(path, sizeof(path), "%s/logs", dir);
	ck_assert_int_eq(logstore_new(path, cap, &ls), 0);
	return ls;
}

static void add(struct logstore *ls, const char *inst, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void add(struct logstore *ls, const char *inst, const char *fmt, ...)
{
	char text[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);

	ck_assert_int_eq(logstore_append(ls, "ns", "fn", inst, text, (size_t)n), 0);
}

static void read_q(struct logstore *ls, const struct logstore_query *q, struct got *g,
		   int64_t *cursor)
{
	g->n = 0;
	ck_assert_int_eq(logstore_read(ls, "ns", "fn", q, collect, g, cursor), 0);
}

START_TEST(test_append_read)
{
	static struct got g;
	struct logstore *ls;
	int64_t cursor;
	size_t i;

	make_dir();
	ls = open_store(0);
	ck_assert_int_eq(logstore_append(ls, "ns", "fn", "fn-1", "hello", 5), 0);
	ck_assert_int_eq(logstore_append(ls, "ns", "fn", "fn 2\n", "a\0b\nc", 5), 0);
	ck_assert_int_eq(logstore_append(ls, "ns", "fn", NULL, "", 0), 0);
	ck_assert_int_eq(logstore_append(ls, "ns", "other", "o-1", "x", 1), 0);
	read_q(ls, NULL, &g, &cursor);
	ck_assert_uint_eq(g.n, 3);
	ck_assert_str_eq(g.text[0], "hello");
	ck_assert_str_eq(g.inst[0], "fn-1");
	ck_assert_str_eq(g.inst[1], "fn_2_");
	ck_assert_uint_eq(g.len[1], 5);
	ck_assert_int_eq(memcmp(g.text[1], "a\0b\nc", 5), 0);
	ck_assert_str_eq(g.inst[2], "-");
	ck_assert_uint_eq(g.len[2], 0);
	for (i = 1; i < g.n; i++)
		ck_assert_int_gt(g.ts[i], g.ts[i - 1]);
	ck_assert_int_eq(cursor, g.ts[2]);
	/* Nothing new after the cursor. */
	{
		struct logstore_query q = { .since_ns = cursor + 1 };

		read_q(ls, &q, &g, &cursor);
		ck_assert_uint_eq(g.n, 0);
		ck_assert_int_eq(logstore_append(ls, "ns", "fn", "fn-1", "more", 4), 0);
		read_q(ls, &q, &g, &cursor);
		ck_assert_uint_eq(g.n, 1);
		ck_assert_str_eq(g.text[0], "more");
	}
	/* A function without logs reads as empty. */
	g.n = 0;
	ck_assert_int_eq(logstore_read(ls, "ns", "none", NULL, collect, &g, &cursor), 0);
	ck_assert_uint_eq(g.n, 0);
	ck_assert_int_eq(cursor, 0);
	logstore_free(ls);
	rm_dir();
}
END_TEST

START_TEST(test_invalid)
{
	static char big[LOGSTORE_MAX_ENTRY + 1];
	struct logstore *ls;

	make_dir();
	ls = open_store(0);
	ck_assert_int_eq(logstore_append(ls, "ns", "../x", "i", "t", 1), -ERR_INVALID);
	ck_assert_int_eq(logstore_append(ls, "", "x", "i", "t", 1), -ERR_INVALID);
	ck_assert_int_eq(logstore_append(ls, ".ns", "x", "i", "t", 1), -ERR_INVALID);
	ck_assert_int_eq(logstore_append(ls, "ns", "x", "i", big, sizeof(big)), -ERR_TOO_BIG);
	ck_assert_int_eq(logstore_append(ls, "ns", "x", "i", big, sizeof(big) - 1), 0);
	ck_assert_int_eq(logstore_read(ls, "ns", "a/b", NULL, collect, NULL, NULL), -ERR_INVALID);
	ck_assert_int_eq(logstore_wait(ls, "ns/", "a", 0, 0), -ERR_INVALID);
	ck_assert_int_eq(logstore_remove(ls, "ns", ".."), -ERR_INVALID);
	logstore_free(ls);
	logstore_free(NULL);
	rm_dir();
}
END_TEST

/* Table: queries over 20 entries alternating instances a (even) and b. */
static const struct {
	size_t tail;
	int since_idx;       /* -1: none, else since = ts of that entry */
	const char *instance;
	int first, count, step;
} queries[] = {
	{ 0, -1, NULL, 0, 20, 1 },
	{ 5, -1, NULL, 15, 5, 1 },
	{ 25, -1, NULL, 0, 20, 1 },
	{ 0, 12, NULL, 12, 8, 1 },
	{ 3, 12, NULL, 17, 3, 1 },
	{ 10, 15, NULL, 15, 5, 1 },
	{ 0, -1, "a", 0, 10, 2 },
	{ 2, -1, "b", 17, 2, 2 },
	{ 0, 13, "a", 14, 3, 2 },
	{ 1, 19, "a", 0, 0, 1 },
	{ 0, -1, "c", 0, 0, 1 },
};

static void check_queries(struct logstore *ls, const int64_t *ts, int query)
{
	static struct got g;
	struct logstore_query q = { 0 };
	int64_t cursor;
	int k;

	q.tail = queries[query].tail;
	q.since_ns = queries[query].since_idx >= 0 ? ts[queries[query].since_idx] : 0;
	q.instance = queries[query].instance;
	read_q(ls, &q, &g, &cursor);
	ck_assert_msg(g.n == (size_t)queries[query].count, "query %d: %zu entries", query, g.n);
	for (k = 0; k < queries[query].count; k++) {
		char want[16];

		snprintf(want, sizeof(want), "line %d", queries[query].first + k * queries[query].step);
		ck_assert_str_eq(g.text[k], want);
	}
	ck_assert_int_eq(cursor, ts[19]);
}

START_TEST(test_queries)
{
	static struct got g;
	struct logstore *ls;
	int64_t ts[20];
	int i;

	make_dir();
	ls = open_store(0);
	for (i = 0; i < 20; i++)
		add(ls, i % 2 ? "b" : "a", "line %d", i);
	read_q(ls, NULL, &g, NULL);
	ck_assert_uint_eq(g.n, 20);
	memcpy(ts, g.ts, sizeof(ts));
	check_queries(ls, ts, _i);
	/* The same from the files alone, after a reopen. */
	logstore_free(ls);
	ls = open_store(0);
	check_queries(ls, ts, _i);
	logstore_free(ls);
	rm_dir();
}
END_TEST

static off_t file_size(const char *name)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/logs/ns/%s", dir, name);
	return stat(path, &st) == 0 ? st.st_size : -1;
}

START_TEST(test_rotation_cap)
{
	static struct got g;
	struct logstore_query q = { 0 };
	struct logstore *ls;
	int i;

	make_dir();
	ls = open_store(4096);
	for (i = 0; i < 2000; i++)
		add(ls, "fn-1", "entry number %06d with some padding", i);
	ck_assert_int_le(file_size("fn.log"), 4096);
	ck_assert_int_gt(file_size("fn.log.1"), 4096 - 100);
	ck_assert_int_le(file_size("fn.log.1"), 4096);
	read_q(ls, NULL, &g, NULL);
	ck_assert_uint_gt(g.n, 60);
	ck_assert_uint_lt(g.n, 200);
	ck_assert_str_eq(g.text[g.n - 1], "entry number 001999 with some padding");
	for (i = 1; i < (int)g.n; i++)
		ck_assert_int_gt(g.ts[i], g.ts[i - 1]);
	/* Tails that reach into the rotated file. */
	q.tail = g.n - 1;
	read_q(ls, &q, &g, NULL);
	ck_assert_uint_eq(g.n, q.tail);
	ck_assert_str_eq(g.text[g.n - 1], "entry number 001999 with some padding");
	logstore_free(ls);
	rm_dir();
}
END_TEST

/* More entries than the store remembers offsets of: the quick paths and
 * the scans must agree. */
START_TEST(test_many_entries)
{
	static struct got g, all;
	struct logstore *ls;
	int i, round;

	make_dir();
	ls = open_store(0);
	for (i = 0; i < 3000; i++)
		add(ls, i % 3 ? "x" : "y", "%d", i);
	for (round = 0; round < 2; round++) {
		static const size_t tails[] = { 1, 7, 1023, 1024, 1025, 2999, 3000, 3001 };
		size_t t;

		read_q(ls, NULL, &all, NULL);
		ck_assert_uint_eq(all.n, 3000);
		for (t = 0; t < sizeof(tails) / sizeof(tails[0]); t++) {
			struct logstore_query q = { .tail = tails[t] };
			size_t want = tails[t] > 3000 ? 3000 : tails[t];

			read_q(ls, &q, &g, NULL);
			ck_assert_uint_eq(g.n, want);
			ck_assert_int_eq(g.ts[0], all.ts[3000 - want]);
			q.since_ns = all.ts[1500];
			read_q(ls, &q, &g, NULL);
			ck_assert_uint_eq(g.n, want > 1500 ? 1500 : want);
			ck_assert_int_eq(g.ts[g.n - 1], all.ts[2999]);
		}
		{
			struct logstore_query q = { .since_ns = all.ts[10] };

			read_q(ls, &q, &g, NULL);
			ck_assert_uint_eq(g.n, 2990);
			q.since_ns = all.ts[2995] + 1;
			read_q(ls, &q, &g, NULL);
			ck_assert_uint_eq(g.n, 4);
		}
		logstore_free(ls);
		ls = open_store(0);
	}
	logstore_free(ls);
	rm_dir();
}
END_TEST

START_TEST(test_persistence_and_damage)
{
	static struct got g;
	struct logstore *ls;
	char path[256];
	int64_t last;
	int fd;

	make_dir();
	ls = open_store(0);
	add(ls, "fn-1", "before %d", 1);
	add(ls, "fn-1", "before %d", 2);
	read_q(ls, NULL, &g, &last);
	logstore_free(ls);
	/* A crash in the middle of a write leaves half a record. */
	snprintf(path, sizeof(path), "%s/logs/ns/fn.log", dir);
	fd = open(path, O_WRONLY | O_APPEND);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "999 fn-1 50:cut sh", 18), 18);
	close(fd);
	ls = open_store(0);
	read_q(ls, NULL, &g, NULL);
	ck_assert_uint_eq(g.n, 2);
	ck_assert_str_eq(g.text[1], "before 2");
	add(ls, "fn-2", "after %d", 3);
	read_q(ls, NULL, &g, NULL);
	ck_assert_uint_eq(g.n, 3);
	ck_assert_str_eq(g.text[2], "after 3");
	ck_assert_str_eq(g.inst[2], "fn-2");
	ck_assert_int_gt(g.ts[2], last);
	logstore_free(ls);
	/* Garbage in the middle is skipped up to the next line. */
	{
		char rec[128];
		int n = snprintf(rec, sizeof(rec), "garbage\n%lld fn-3 7:after 4\n",
				 (long long)g.ts[2] + 1);

		fd = open(path, O_WRONLY | O_APPEND);
		ck_assert_int_eq(write(fd, rec, (size_t)n), n);
		close(fd);
	}
	ls = open_store(0);
	add(ls, "fn-2", "after %d", 5);
	read_q(ls, NULL, &g, NULL);
	ck_assert_uint_eq(g.n, 5);
	ck_assert_str_eq(g.text[3], "after 4");
	ck_assert_str_eq(g.inst[3], "fn-3");
	ck_assert_str_eq(g.text[4], "after 5");
	ck_assert_int_gt(g.ts[4], g.ts[3]);
	logstore_free(ls);
	rm_dir();
}
END_TEST

struct follower {
	struct logstore *ls;
	int64_t cursor;
	int rc;
	int64_t waited;
};

static void *follow_thread(void *arg)
{
	struct follower *f = arg;
	int64_t t0 = mono_ms();

	f->rc = logstore_wait(f->ls, "ns", "fn", f->cursor, t0 + 5000);
	f->waited = mono_ms() - t0;
	return NULL;
}

START_TEST(test_follow)
{
	static struct got g;
	struct timespec pause = { 0, 50 * 1000000 };
	struct follower f = { 0 };
	struct logstore *ls;
	struct logstore_query q = { 0 };
	pthread_t t;
	int64_t t0;

	make_dir();
	ls = open_store(0);
	f.ls = ls;
	/* Waiting for the first entry of a function with no log yet. */
	ck_assert_int_eq(pthread_create(&t, NULL, follow_thread, &f), 0);
	nanosleep(&pause, NULL);
	add(ls, "fn-1", "first %d", 1);
	pthread_join(t, NULL);
	ck_assert_int_eq(f.rc, 0);
	ck_assert_int_lt(f.waited, 2000);
	read_q(ls, NULL, &g, &f.cursor);
	ck_assert_uint_eq(g.n, 1);
	/* Nothing newer: the wait times out at its deadline. */
	t0 = mono_ms();
	ck_assert_int_eq(logstore_wait(ls, "ns", "fn", f.cursor, t0 + 40), -ERR_TIMEOUT);
	ck_assert_int_ge(mono_ms() - t0, 35);
	ck_assert_int_eq(logstore_wait(ls, "ns", "fn", f.cursor, 0), -ERR_TIMEOUT);
	ck_assert_int_eq(logstore_wait(ls, "ns", "fn", f.cursor - 1, 0), 0);
	/* Another thread's append wakes the follower. */
	ck_assert_int_eq(pthread_create(&t, NULL, follow_thread, &f), 0);
	nanosleep(&pause, NULL);
	add(ls, "fn-1", "second %d", 2);
	pthread_join(t, NULL);
	ck_assert_int_eq(f.rc, 0);
	ck_assert_int_lt(f.waited, 2000);
	q.since_ns = f.cursor + 1;
	read_q(ls, &q, &g, &f.cursor);
	ck_assert_uint_eq(g.n, 1);
	ck_assert_str_eq(g.text[0], "second 2");
	logstore_free(ls);
	rm_dir();
}
END_TEST

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		n++;
	closedir(d);
	return n;
}

START_TEST(test_remove_and_many_functions)
{
	static struct got g;
	struct logstore *ls;
	char name[32];
	int i, fds;

	make_dir();
	fds = count_fds();
	ls = open_store(0);
	for (i = 0; i < 150; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		ck_assert_int_eq(logstore_append(ls, "ns", name, "i", name, strlen(name)), 0);
	}
	ck_assert_int_le(count_fds(), fds + 70);
	for (i = 0; i < 150; i += 7) {
		snprintf(name, sizeof(name), "f%d", i);
		ck_assert_int_eq(logstore_append(ls, "ns", name, "i", "again", 5), 0);
		g.n = 0;
		ck_assert_int_eq(logstore_read(ls, "ns", name, NULL, collect, &g, NULL), 0);
		ck_assert_uint_eq(g.n, 2);
		ck_assert_str_eq(g.text[0], name);
	}
	add(ls, "i", "x%d", 1);
	ck_assert_int_eq(logstore_remove(ls, "ns", "fn"), 0);
	ck_assert_int_eq(file_size("fn.log"), -1);
	read_q(ls, NULL, &g, NULL);
	ck_assert_uint_eq(g.n, 0);
	ck_assert_int_eq(logstore_remove(ls, "ns", "never"), 0);
	add(ls, "i", "y%d", 2);
	read_q(ls, NULL, &g, NULL);
	ck_assert_uint_eq(g.n, 1);
	logstore_free(ls);
	ck_assert_int_eq(count_fds(), fds);
	rm_dir();
}
END_TEST

static int stop_at_two(void *ctx, const struct logstore_entry *e)
{
	int *n = ctx;

	(void)e;
	return ++*n == 2 ? -ECANCELED : 0;
}

START_TEST(test_callback_stops)
{
	struct logstore *ls;
	int n = 0, i;

	make_dir();
	ls = open_store(0);
	for (i = 0; i < 5; i++)
		add(ls, "i", "%d", i);
	ck_assert_int_eq(logstore_read(ls, "ns", "fn", NULL, stop_at_two, &n, NULL), -ECANCELED);
	ck_assert_int_eq(n, 2);
	logstore_free(ls);
	rm_dir();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("logstore");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_append_read);
	tcase_add_test(tc, test_invalid);
	tcase_add_loop_test(tc, test_queries, 0, sizeof(queries) / sizeof(queries[0]));
	tcase_add_test(tc, test_rotation_cap);
	tcase_add_test(tc, test_many_entries);
	tcase_add_test(tc, test_persistence_and_damage);
	tcase_add_test(tc, test_follow);
	tcase_add_test(tc, test_remove_and_many_functions);
	tcase_add_test(tc, test_callback_stops);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
