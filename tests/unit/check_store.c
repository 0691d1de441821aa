#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "err.h"
/* The Makefile puts only common/ on the include path. */
#include "store.h"

static char dir[64];
static char path[128];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/check_store.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/cfaas.db", dir);
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

static struct store *open_store(void)
{
	struct store *s = NULL;

	ck_assert_int_eq(store_open(path, &s), 0);
	ck_assert_ptr_nonnull(s);
	return s;
}

/* Raw connections in this process share the store's VFS, which holds the
 * file for the process and keeps the WAL index in memory. */
#define RAW_VFS "unix-excl"

/* Number of records in one status. */
static size_t count_of(struct store *s, enum store_call_status status)
{
	size_t n = 99999;

	ck_assert_int_eq(store_call_count(s, status, &n), 0);
	return n;
}

/* Runs one query returning an integer on a separate raw connection. */
static long long raw_int(const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	long long v = -1;

	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, RAW_VFS), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void raw_exec(const char *sql)
{
	sqlite3 *db = NULL;

	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, RAW_VFS),
			 SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static mode_t file_mode(const char *p)
{
	struct stat st;

	ck_assert_int_eq(stat(p, &st), 0);
	return st.st_mode & 0777;
}

/* ---- open, migrations, file mode ---------------------------------------- */

START_TEST(test_open_mode_and_reopen)
{
	struct store_function f;
	struct store *s;
	char wal[160];
	mode_t old = umask(0);

	s = open_store();
	umask(old);
	ck_assert_int_eq(store_function_put(s, "openfaas-fn", "keep", "{\"a\":1}", 3, NULL), 0);
	ck_assert_int_eq(file_mode(path), 0600);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	ck_assert_int_eq(file_mode(wal), 0600);
	ck_assert_int_eq(raw_int("PRAGMA user_version"), store_schema_version());
	ck_assert_int_ge(store_schema_version(), 1);
	store_free(s);
	store_free(NULL);

	/* Reopening runs no migration again (it would fail on existing
	 * tables) and the data is still there. */
	s = open_store();
	ck_assert_int_eq(raw_int("PRAGMA user_version"), store_schema_version());
	ck_assert_int_eq(raw_int("SELECT COUNT(*) FROM sqlite_master WHERE name = 'functions'"), 1);
	ck_assert_int_eq(store_function_get(s, "openfaas-fn", "keep", &f), 0);
	ck_assert_str_eq(f.deployment, "{\"a\":1}");
	ck_assert_int_eq(f.replicas, 3);
	store_function_release(&f);
	store_free(s);
}
END_TEST

START_TEST(test_open_tightens_mode)
{
	struct store *s;
	int fd = open(path, O_CREAT | O_WRONLY, 0644);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fchmod(fd, 0644), 0);
	close(fd);
	s = open_store();
	ck_assert_int_eq(file_mode(path), 0600);
	store_free(s);
}
END_TEST

START_TEST(test_open_errors)
{
	struct store *s = (struct store *)1;
	char bad[160];
	FILE *f;

	/* A schema newer than this binary knows is refused. */
	s = open_store();
	store_free(s);
	raw_exec("PRAGMA user_version = 999");
	ck_assert_int_eq(store_open(path, &s), -ERR_INVALID);
	ck_assert_ptr_null(s);

	/* A file that is not a database. */
	snprintf(bad, sizeof(bad), "%s/junk.db", dir);
	f = fopen(bad, "w");
	ck_assert_ptr_nonnull(f);
	for (int i = 0; i < 200; i++)
		fputs("this is not an sqlite database\n", f);
	fclose(f);
	ck_assert_int_eq(store_open(bad, &s), -ERR_PARSE);

	/* A directory that does not exist. */
	ck_assert_int_eq(store_open("/nonexistent-cfaas/x.db", &s), -ENOENT);
	ck_assert_int_eq(store_open(NULL, &s), -EINVAL);
}
END_TEST

/* ---- functions ---------------------------------------------------------- */

START_TEST(test_functions)
{
	struct store_function f, *list;
	struct store *s = open_store();
	int64_t created;
	bool is_new = false;
	size_t n;

	ck_assert_int_eq(store_function_get(s, "openfaas-fn", "nope", &f), -ERR_NOT_FOUND);
	ck_assert_ptr_null(f.name);

	ck_assert_int_eq(store_function_put(s, "openfaas-fn", "b", "{\"v\":1}", -1, &is_new), 0);
	ck_assert(is_new);
	ck_assert_int_eq(store_function_get(s, "openfaas-fn", "b", &f), 0);
	ck_assert_str_eq(f.name, "b");
	ck_assert_str_eq(f.namespace, "openfaas-fn");
	ck_assert_int_eq(f.replicas, STORE_DEFAULT_REPLICAS);
	ck_assert_int_gt(f.created_at_ms, 1600000000000);
	ck_assert_int_eq(f.created_at_ms, f.updated_at_ms);
	created = f.created_at_ms;
	store_function_release(&f);
	store_function_release(NULL);

	usleep(5000);
	ck_assert_int_eq(store_function_put(s, "openfaas-fn", "b", "{\"v\":2}", 4, &is_new), 0);
	ck_assert(!is_new);
	ck_assert_int_eq(store_function_put(s, "openfaas-fn", "b", "{\"v\":3}", -1, &is_new), 0);
	ck_assert(!is_new);
	ck_assert_int_eq(store_function_get(s, "openfaas-fn", "b", &f), 0);
	ck_assert_str_eq(f.deployment, "{\"v\":3}");
	ck_assert_int_eq(f.replicas, 4); /* -1 kept the stored count */
	ck_assert_int_eq(f.created_at_ms, created);
	ck_assert_int_gt(f.updated_at_ms, created);
	store_function_release(&f);

	ck_assert_int_eq(store_function_put(s, "openfaas-fn", "a", "{}", 0, NULL), 0);
	ck_assert_int_eq(store_function_put(s, "team", "a", "{}", 2, NULL), 0);
	ck_assert_int_eq(store_function_list(s, NULL, &list, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(list[0].name, "a");
	ck_assert_str_eq(list[0].namespace, "openfaas-fn");
	ck_assert_int_eq(list[0].replicas, 0);
	ck_assert_str_eq(list[1].name, "b");
	ck_assert_str_eq(list[2].namespace, "team");
	store_function_list_free(list, n);
	ck_assert_int_eq(store_function_list(s, "team", &list, &n), 0);
	ck_assert_uint_eq(n, 1);
	store_function_list_free(list, n);
	ck_assert_int_eq(store_function_list(s, "empty-ns", &list, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(list);
	store_function_list_free(NULL, 0);

	ck_assert_int_eq(store_function_set_replicas(s, "team", "a", 7), 0);
	ck_assert_int_eq(store_function_get(s, "team", "a", &f), 0);
	ck_assert_int_eq(f.replicas, 7);
	store_function_release(&f);
	ck_assert_int_eq(store_function_set_replicas(s, "team", "zz", 1), -ERR_NOT_FOUND);
	ck_assert_int_eq(store_function_set_replicas(s, "team", "a", -1), -EINVAL);

	ck_assert_int_eq(store_function_delete(s, "team", "a"), 0);
	ck_assert_int_eq(store_function_delete(s, "team", "a"), -ERR_NOT_FOUND);
	ck_assert_int_eq(store_function_get(s, "team", "a", &f), -ERR_NOT_FOUND);
	/* The same name in another namespace is untouched. */
	ck_assert_int_eq(store_function_get(s, "openfaas-fn", "a", &f), 0);
	store_function_release(&f);
	ck_assert_int_eq(store_function_put(s, NULL, "x", "{}", 1, NULL), -EINVAL);
	ck_assert_int_eq(store_function_put(s, "ns", "x", NULL, 1, NULL), -EINVAL);
	store_free(s);
}
END_TEST

/* ---- secrets ------------------------------------------------------------ */

START_TEST(test_secrets)
{
	static const char bin[] = { 's', '\0', 'e', '\0', '\0', '\xff', 'x' };
	struct store_secret_info *list;
	struct store *s = open_store();
	struct buf v;
	size_t n;

	buf_init(&v, 1024);
	ck_assert_int_eq(store_secret_create(s, "openfaas-fn", "db", bin, sizeof(bin)), 0);
	ck_assert_int_eq(store_secret_create(s, "openfaas-fn", "db", "x", 1), -ERR_EXISTS);
	ck_assert_int_eq(store_secret_get(s, "openfaas-fn", "db", &v), 0);
	ck_assert_uint_eq(v.len, sizeof(bin));
	ck_assert_int_eq(memcmp(v.data, bin, sizeof(bin)), 0);

	/* The value did not change on the refused create. */
	buf_reset(&v);
	ck_assert_int_eq(store_secret_get(s, "openfaas-fn", "db", &v), 0);
	ck_assert_uint_eq(v.len, sizeof(bin));

	ck_assert_int_eq(store_secret_update(s, "openfaas-fn", "nope", "x", 1), -ERR_NOT_FOUND);
	ck_assert_int_eq(store_secret_update(s, "openfaas-fn", "db", "\0\0", 2), 0);
	buf_reset(&v);
	ck_assert_int_eq(store_secret_get(s, "openfaas-fn", "db", &v), 0);
	ck_assert_uint_eq(v.len, 2);
	ck_assert_int_eq(memcmp(v.data, "\0\0", 2), 0);

	/* Empty values are values. */
	ck_assert_int_eq(store_secret_create(s, "openfaas-fn", "empty", NULL, 0), 0);
	buf_reset(&v);
	ck_assert_int_eq(store_secret_get(s, "openfaas-fn", "empty", &v), 0);
	ck_assert_uint_eq(v.len, 0);
	ck_assert_int_eq(store_secret_create(s, "ns", "x", NULL, 3), -EINVAL);

	/* A value bigger than the caller's cap: refused, buffer unchanged. */
	buf_release(&v);
	buf_init(&v, 4);
	ck_assert_int_eq(buf_adds(&v, "ab"), 0);
	ck_assert_int_eq(store_secret_update(s, "openfaas-fn", "db", "123", 3), 0);
	ck_assert_int_eq(store_secret_get(s, "openfaas-fn", "db", &v), -ERR_TOO_BIG);
	ck_assert_str_eq(buf_cstr(&v), "ab");

	ck_assert_int_eq(store_secret_create(s, "team", "db", "t", 1), 0);
	ck_assert_int_eq(store_secret_list(s, NULL, &list, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(list[0].name, "db");
	ck_assert_str_eq(list[0].namespace, "openfaas-fn");
	ck_assert_str_eq(list[1].name, "empty");
	ck_assert_str_eq(list[2].namespace, "team");
	ck_assert_int_gt(list[0].created_at_ms, 0);
	ck_assert_int_ge(list[0].updated_at_ms, list[0].created_at_ms);
	store_secret_list_free(list, n);
	ck_assert_int_eq(store_secret_list(s, "team", &list, &n), 0);
	ck_assert_uint_eq(n, 1);
	store_secret_list_free(list, n);

	ck_assert_int_eq(store_secret_delete(s, "openfaas-fn", "db"), 0);
	ck_assert_int_eq(store_secret_delete(s, "openfaas-fn", "db"), -ERR_NOT_FOUND);
	buf_reset(&v);
	ck_assert_int_eq(store_secret_get(s, "openfaas-fn", "db", &v), -ERR_NOT_FOUND);
	buf_release(&v);
	store_free(s);
}
END_TEST

/* ---- calls -------------------------------------------------------------- */

static struct store_call call_of(const char *id, const char *fn, enum store_call_status st,
				 int attempts, int64_t queued)
{
	struct store_call c = { 0 };

	c.id = (char *)id;
	c.function = (char *)fn;
	c.namespace = (char *)"openfaas-fn";
	c.status = st;
	c.attempts = attempts;
	c.queued_at_ms = queued;
	return c;
}

START_TEST(test_call_insert_get)
{
	static const unsigned char body[] = { 'o', 'k', 0, 1, 2 };
	struct store *s = open_store();
	struct store_call c = call_of("id-1", "echo", STORE_CALL_QUEUED, 0, 1000), g;

	c.callback_url = (char *)"http://127.0.0.1:9/cb";
	ck_assert_int_eq(store_call_insert(s, &c), 0);
	ck_assert_int_eq(store_call_insert(s, &c), -ERR_EXISTS);
	ck_assert_int_eq(store_call_get(s, "id-1", &g), 0);
	ck_assert_str_eq(g.id, "id-1");
	ck_assert_str_eq(g.function, "echo");
	ck_assert_str_eq(g.namespace, "openfaas-fn");
	ck_assert_int_eq(g.status, STORE_CALL_QUEUED);
	ck_assert_int_eq(g.queued_at_ms, 1000);
	ck_assert_str_eq(g.callback_url, "http://127.0.0.1:9/cb");
	ck_assert_ptr_null(g.error);
	ck_assert_ptr_null(g.result);
	ck_assert_ptr_null(g.result_headers);
	store_call_release(&g);
	store_call_release(NULL);
	ck_assert_int_eq(store_call_get(s, "nope", &g), -ERR_NOT_FOUND);

	/* An outcome with a binary body, headers and an error. */
	c = call_of("id-1", "echo", STORE_CALL_SUCCEEDED, 1, 0);
	c.status_code = 200;
	c.started_at_ms = 2000;
	c.finished_at_ms = 2500;
	c.duration_seconds = 0.5;
	c.result = (unsigned char *)body;
	c.result_len = sizeof(body);
	c.result_headers = (char *)"{\"Content-Type\":[\"text/plain\"]}";
	c.error = (char *)"none";
	ck_assert_int_eq(store_call_update(s, &c, NULL), 0);
	ck_assert_int_eq(store_call_get(s, "id-1", &g), 0);
	ck_assert_int_eq(g.status, STORE_CALL_SUCCEEDED);
	ck_assert_int_eq(g.attempts, 1);
	ck_assert_int_eq(g.status_code, 200);
	ck_assert_int_eq(g.queued_at_ms, 1000); /* identity kept */
	ck_assert_int_eq(g.started_at_ms, 2000);
	ck_assert_int_eq(g.finished_at_ms, 2500);
	ck_assert(g.duration_seconds > 0.49 && g.duration_seconds < 0.51);
	ck_assert_str_eq(g.callback_url, "http://127.0.0.1:9/cb");
	ck_assert_uint_eq(g.result_len, sizeof(body));
	ck_assert_int_eq(memcmp(g.result, body, sizeof(body)), 0);
	ck_assert_str_eq(g.result_headers, "{\"Content-Type\":[\"text/plain\"]}");
	ck_assert_str_eq(g.error, "none");
	store_call_release(&g);

	c = call_of(NULL, "echo", STORE_CALL_QUEUED, 0, 1);
	ck_assert_int_eq(store_call_insert(s, &c), -EINVAL);
	store_free(s);
}
END_TEST

/* A sequence of reports and whether each is applied. */
static const struct {
	enum store_call_status status;
	int attempts;
	bool applied;
} reports[] = {
	{ STORE_CALL_RUNNING, 1, true },     /* first attempt starts */
	{ STORE_CALL_RUNNING, 1, true },     /* duplicate: harmless */
	{ STORE_CALL_QUEUED, 0, false },     /* stale: from before the start */
	{ STORE_CALL_QUEUED, 1, true },      /* attempt 1 failed, waiting */
	{ STORE_CALL_RUNNING, 1, false },    /* late report of attempt 1 */
	{ STORE_CALL_RUNNING, 2, true },     /* attempt 2 */
	{ STORE_CALL_SUCCEEDED, 2, true },   /* done */
	{ STORE_CALL_RUNNING, 2, false },    /* late: a final record stays */
	{ STORE_CALL_RUNNING, 3, false },    /* even with more attempts */
	{ STORE_CALL_FAILED, 3, false },     /* and final over final too */
};

START_TEST(test_call_ordering)
{
	struct store *s = open_store();
	struct store_call c = call_of("ord", "echo", STORE_CALL_QUEUED, 0, 10), g;
	size_t i;
	bool applied;

	ck_assert_int_eq(store_call_insert(s, &c), 0);
	for (i = 0; i < sizeof(reports) / sizeof(reports[0]); i++) {
		c = call_of("ord", "echo", reports[i].status, reports[i].attempts, 0);
		c.status_code = (int)i;
		ck_assert_int_eq(store_call_update(s, &c, &applied), 0);
		ck_assert_msg(applied == reports[i].applied, "report %zu: applied %d", i, applied);
	}
	ck_assert_int_eq(store_call_get(s, "ord", &g), 0);
	ck_assert_int_eq(g.status, STORE_CALL_SUCCEEDED);
	ck_assert_int_eq(g.attempts, 2);
	ck_assert_int_eq(g.status_code, 6);
	store_call_release(&g);

	c = call_of("missing", "echo", STORE_CALL_RUNNING, 1, 0);
	ck_assert_int_eq(store_call_update(s, &c, &applied), -ERR_NOT_FOUND);
	ck_assert(!applied);
	store_free(s);
}
END_TEST

START_TEST(test_call_cancel_requeue_delete)
{
	struct store *s = open_store();
	struct store_call c = call_of("q", "echo", STORE_CALL_QUEUED, 0, 10), g;

	ck_assert_int_eq(store_call_insert(s, &c), 0);
	c = call_of("r", "echo", STORE_CALL_RUNNING, 1, 20);
	ck_assert_int_eq(store_call_insert(s, &c), 0);
	c = call_of("d", "echo", STORE_CALL_DEAD_LETTER, 5, 30);
	c.status_code = 503;
	c.finished_at_ms = 99;
	c.error = (char *)"upstream 503";
	ck_assert_int_eq(store_call_insert(s, &c), 0);

	ck_assert_int_eq(store_call_cancel(s, "q", 500), 0);
	ck_assert_int_eq(store_call_get(s, "q", &g), 0);
	ck_assert_int_eq(g.status, STORE_CALL_CANCELLED);
	ck_assert_int_eq(g.finished_at_ms, 500);
	store_call_release(&g);
	ck_assert_int_eq(store_call_cancel(s, "q", 600), -ERR_INVALID);
	ck_assert_int_eq(store_call_cancel(s, "r", 600), -ERR_INVALID);
	ck_assert_int_eq(store_call_cancel(s, "zz", 600), -ERR_NOT_FOUND);

	ck_assert_int_eq(store_call_requeue(s, "d", 700), 0);
	ck_assert_int_eq(store_call_get(s, "d", &g), 0);
	ck_assert_int_eq(g.status, STORE_CALL_QUEUED);
	ck_assert_int_eq(g.attempts, 0);
	ck_assert_int_eq(g.status_code, 0);
	ck_assert_int_eq(g.queued_at_ms, 700);
	ck_assert_int_eq(g.finished_at_ms, 0);
	ck_assert_ptr_null(g.error);
	store_call_release(&g);
	ck_assert_int_eq(store_call_requeue(s, "d", 800), -ERR_INVALID);
	ck_assert_int_eq(store_call_requeue(s, "r", 800), -ERR_INVALID);
	ck_assert_int_eq(store_call_requeue(s, "zz", 800), -ERR_NOT_FOUND);

	ck_assert_int_eq(store_call_delete(s, "r"), 0);
	ck_assert_int_eq(store_call_delete(s, "r"), -ERR_NOT_FOUND);
	ck_assert_int_eq(store_call_get(s, "r", &g), -ERR_NOT_FOUND);
	store_free(s);
}
END_TEST

START_TEST(test_call_list_prune_count)
{
	struct store *s = open_store();
	struct store_call c, *list;
	struct store_call_filter f = { .status = -1 };
	size_t n, deleted, i;
	char id[32];

	/* 30 calls: function f0/f1 alternating, queued_at 100..129. Every
	 * third is succeeded (finished at queued+1000), the rest queued. */
	for (i = 0; i < 30; i++) {
		snprintf(id, sizeof(id), "call-%02zu", i);
		c = call_of(id, i % 2 ? "f1" : "f0",
			    i % 3 == 0 ? STORE_CALL_SUCCEEDED : STORE_CALL_QUEUED, 0,
			    100 + (int64_t)i);
		if (c.status == STORE_CALL_SUCCEEDED) {
			c.finished_at_ms = 1100 + (int64_t)i;
			c.result = (unsigned char *)"body";
			c.result_len = 4;
		}
		ck_assert_int_eq(store_call_insert(s, &c), 0);
	}

	ck_assert_int_eq(store_call_list(s, NULL, &list, &n), 0);
	ck_assert_uint_eq(n, 30);
	ck_assert_str_eq(list[0].id, "call-29"); /* newest first */
	ck_assert_str_eq(list[29].id, "call-00");
	ck_assert_ptr_null(list[29].result); /* bodies stay out of lists */
	store_call_list_free(list, n);

	f.function = "f1";
	f.limit = 5;
	ck_assert_int_eq(store_call_list(s, &f, &list, &n), 0);
	ck_assert_uint_eq(n, 5);
	for (i = 0; i < n; i++)
		ck_assert_str_eq(list[i].function, "f1");
	ck_assert_str_eq(list[0].id, "call-29");
	ck_assert_str_eq(list[1].id, "call-27");
	store_call_list_free(list, n);

	f.function = NULL;
	f.limit = 0;
	f.status = STORE_CALL_SUCCEEDED;
	ck_assert_int_eq(store_call_list(s, &f, &list, &n), 0);
	ck_assert_uint_eq(n, 10);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(list[i].status, STORE_CALL_SUCCEEDED);
	store_call_list_free(list, n);
	f.status = STORE_CALL_NSTATUS;
	ck_assert_int_eq(store_call_list(s, &f, &list, &n), -EINVAL);
	f.status = -1;
	f.namespace = "other";
	ck_assert_int_eq(store_call_list(s, &f, &list, &n), 0);
	ck_assert_uint_eq(n, 0);

	ck_assert_uint_eq(count_of(s, STORE_CALL_QUEUED), 20);
	ck_assert_uint_eq(count_of(s, STORE_CALL_SUCCEEDED), 10);
	ck_assert_uint_eq(count_of(s, STORE_CALL_RUNNING), 0);
	ck_assert_int_eq(store_call_count(s, STORE_CALL_NSTATUS, &n), -EINVAL);

	/* Finished before 1115: calls 0, 3, 6, 9, 12. Queued ones stay
	 * whatever their age. */
	ck_assert_int_eq(store_call_prune(s, 1115, &deleted), 0);
	ck_assert_uint_eq(deleted, 5);
	ck_assert_uint_eq(count_of(s, STORE_CALL_SUCCEEDED), 5);
	ck_assert_uint_eq(count_of(s, STORE_CALL_QUEUED), 20);
	ck_assert_int_eq(store_call_prune(s, INT64_MAX, &deleted), 0);
	ck_assert_uint_eq(deleted, 5);
	ck_assert_uint_eq(count_of(s, STORE_CALL_SUCCEEDED), 0);
	store_free(s);
}
END_TEST

START_TEST(test_call_status_names)
{
	enum store_call_status st;
	int i;

	for (i = 0; i < STORE_CALL_NSTATUS; i++) {
		ck_assert_int_eq(store_call_status_parse(store_call_status_name(i), &st), 0);
		ck_assert_int_eq(st, i);
	}
	ck_assert_str_eq(store_call_status_name(STORE_CALL_DEAD_LETTER), "dead-letter");
	ck_assert_str_eq(store_call_status_name(STORE_CALL_NSTATUS), "unknown");
	ck_assert_int_eq(store_call_status_parse("done", &st), -ERR_INVALID);
	ck_assert_int_eq(store_call_status_parse(NULL, &st), -ERR_INVALID);
	ck_assert(!store_call_status_final(STORE_CALL_QUEUED));
	ck_assert(!store_call_status_final(STORE_CALL_RUNNING));
	ck_assert(store_call_status_final(STORE_CALL_CANCELLED));
	ck_assert(store_call_status_final(STORE_CALL_DEAD_LETTER));
}
END_TEST

/* ---- concurrency -------------------------------------------------------- */

#define THREADS 4
#define PER_THREAD 150

struct worker {
	struct store *s;
	int no;
	int failures;
};

/* Each thread writes its own functions, secrets and calls, updates them,
 * and reads everyone's, all at once. */
static void *writer(void *arg)
{
	struct worker *w = arg;
	char name[32], val[64], id[32];
	int i;

	for (i = 0; i < PER_THREAD; i++) {
		struct store_call c = { 0 }, g;
		struct store_function *list;
		struct buf v;
		size_t n;

		snprintf(name, sizeof(name), "fn-%d-%d", w->no, i);
		snprintf(val, sizeof(val), "{\"service\":\"%s\",\"image\":\"img\"}", name);
		if (store_function_put(w->s, "openfaas-fn", name, val, i, NULL))
			w->failures++;
		if (store_function_put(w->s, "openfaas-fn", name, val, i + 1, NULL))
			w->failures++;
		if (store_secret_create(w->s, "openfaas-fn", name, val, strlen(val) + 1))
			w->failures++;
		snprintf(id, sizeof(id), "call-%d-%d", w->no, i);
		c.id = id;
		c.function = name;
		c.namespace = (char *)"openfaas-fn";
		c.queued_at_ms = i;
		if (store_call_insert(w->s, &c))
			w->failures++;
		c.status = STORE_CALL_SUCCEEDED;
		c.attempts = 1;
		c.result = (unsigned char *)val;
		c.result_len = strlen(val);
		if (store_call_update(w->s, &c, NULL))
			w->failures++;
		if (store_call_get(w->s, id, &g) || g.status != STORE_CALL_SUCCEEDED ||
		    g.result_len != strlen(val))
			w->failures++;
		store_call_release(&g);
		buf_init(&v, 1024);
		if (store_secret_get(w->s, "openfaas-fn", name, &v) || v.len != strlen(val) + 1)
			w->failures++;
		buf_release(&v);
		if (i % 25 == 0) {
			if (store_function_list(w->s, NULL, &list, &n))
				w->failures++;
			store_function_list_free(list, n);
		}
	}
	return NULL;
}

START_TEST(test_concurrent_writers)
{
	struct store *s = open_store();
	struct worker w[THREADS];
	pthread_t t[THREADS];
	struct store_function *list;
	size_t n, i;

	for (i = 0; i < THREADS; i++) {
		w[i].s = s;
		w[i].no = (int)i;
		w[i].failures = 0;
		ck_assert_int_eq(pthread_create(&t[i], NULL, writer, &w[i]), 0);
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(w[i].failures, 0);
	}
	ck_assert_int_eq(store_function_list(s, NULL, &list, &n), 0);
	ck_assert_uint_eq(n, THREADS * PER_THREAD);
	for (i = 0; i < n; i++) {
		int no, k;

		ck_assert_int_eq(sscanf(list[i].name, "fn-%d-%d", &no, &k), 2);
		ck_assert_int_eq(list[i].replicas, k + 1);
		ck_assert_ptr_nonnull(strstr(list[i].deployment, list[i].name));
	}
	store_function_list_free(list, n);
	ck_assert_uint_eq(count_of(s, STORE_CALL_SUCCEEDED), THREADS * PER_THREAD);
	store_free(s);

	/* Nothing torn on disk either. */
	ck_assert_int_eq(raw_int("SELECT COUNT(*) FROM secrets"), THREADS * PER_THREAD);
	{
		sqlite3 *db = NULL;
		sqlite3_stmt *st = NULL;

		ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, RAW_VFS), SQLITE_OK);
		ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL),
				 SQLITE_OK);
		ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
		ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "ok");
		sqlite3_finalize(st);
		sqlite3_close(db);
	}
}
END_TEST

/* ---- group commit ------------------------------------------------------- */

#define GROUP_N 100

START_TEST(test_call_group_commit)
{
	struct store *s = open_store();
	static struct store_ticket t[GROUP_N];
	static struct store_call c[GROUP_N];
	static char ids[GROUP_N][32];
	struct store_call g;
	sqlite3 *db = NULL;
	int i;

	/* Inserts wait in the queue until a caller commits them; here
	 * another connection holds the write lock too, so the commit that
	 * store_call_sync leads below has to wait for it. */
	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, RAW_VFS), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	for (i = 0; i < GROUP_N; i++) {
		/* Call 50 reuses the id of call 10: it alone fails. */
		snprintf(ids[i], sizeof(ids[i]), "group-%d", i == 50 ? 10 : i);
		c[i].id = ids[i];
		c[i].function = (char *)"fn";
		c[i].namespace = (char *)"openfaas-fn";
		c[i].queued_at_ms = 1000 + i;
		ck_assert_int_eq(store_call_insert_start(s, &c[i], &t[i]), 0);
	}
	usleep(50 * 1000);
	ck_assert_int_eq(raw_int("SELECT COUNT(*) FROM calls"), 0);
	ck_assert_int_eq(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	store_call_sync(s);
	ck_assert_int_eq(store_call_get(s, "group-99", &g), 0);
	ck_assert_int_eq(g.queued_at_ms, 1099);
	store_call_release(&g);
	for (i = 0; i < GROUP_N; i++)
		ck_assert_int_eq(store_call_insert_wait(s, &t[i]), i == 50 ? -ERR_EXISTS : 0);
	ck_assert_int_eq(raw_int("SELECT COUNT(*) FROM calls"), GROUP_N - 1);
	ck_assert_int_eq(raw_int("SELECT queued_at FROM calls WHERE id = 'group-10'"), 1010);
	/* Bad calls are refused at once and need no wait. */
	memset(&c[0], 0, sizeof(c[0]));
	ck_assert_int_eq(store_call_insert_start(s, &c[0], &t[0]), -EINVAL);
	ck_assert_int_eq(store_call_insert_start(NULL, &c[1], &t[1]), -EINVAL);
	/* Nothing queued: sync returns at once. */
	store_call_sync(s);
	store_call_sync(NULL);
	store_free(s);
}
END_TEST

/* Lists with f and checks the ids, in order, against want (space-separated). */
static void assert_ids(struct store *s, const struct store_call_filter *f, const char *want)
{
	struct store_call *list = NULL;
	char got[512] = "";
	size_t n, i, len = 0;

	ck_assert_int_eq(store_call_list(s, f, &list, &n), 0);
	for (i = 0; i < n && len < sizeof(got); i++)
		len += (size_t)snprintf(got + len, sizeof(got) - len, "%s%s", i ? " " : "",
					list[i].id);
	store_call_list_free(list, n);
	ck_assert_str_eq(got, want);
}

/* The list order follows the queue: a re-queued call comes first again. */
START_TEST(test_call_requeue_order)
{
	struct store *s = open_store();
	struct store_call c;
	struct store_call_filter f = { .status = STORE_CALL_QUEUED };

	c = call_of("old", "echo", STORE_CALL_DEAD_LETTER, 3, 10);
	c.finished_at_ms = 15;
	ck_assert_int_eq(store_call_insert(s, &c), 0);
	c = call_of("mid", "echo", STORE_CALL_QUEUED, 0, 20);
	ck_assert_int_eq(store_call_insert(s, &c), 0);
	c = call_of("new", "other", STORE_CALL_QUEUED, 0, 30);
	ck_assert_int_eq(store_call_insert(s, &c), 0);
	assert_ids(s, NULL, "new mid old");

	ck_assert_int_eq(store_call_requeue(s, "old", 40), 0);
	assert_ids(s, NULL, "old new mid");
	/* Through the status index, in the same order. */
	assert_ids(s, &f, "old new mid");
	f.function = "echo";
	f.limit = 1;
	assert_ids(s, &f, "old");
	/* A record inserted after the re-queue still comes before it. */
	c = call_of("last", "echo", STORE_CALL_QUEUED, 0, 50);
	ck_assert_int_eq(store_call_insert(s, &c), 0);
	assert_ids(s, NULL, "last old new mid");
	store_free(s);
}
END_TEST

/* The count of queued records the store keeps, against the table. */
static void assert_queued(struct store *s)
{
	long long in_table = raw_int("SELECT COUNT(*) FROM calls WHERE status = 'queued'");
	struct store_call_filter f = { .status = STORE_CALL_QUEUED };
	struct store_call *list;
	size_t n;

	ck_assert_uint_eq(count_of(s, STORE_CALL_QUEUED), (size_t)in_table);
	ck_assert_int_eq(store_call_list(s, &f, &list, &n), 0);
	ck_assert_uint_eq(n, (size_t)in_table);
	store_call_list_free(list, n);
}

/*
 * Queued records are not in the status index (schema 3): the store counts
 * them itself. The count follows every change that adds or takes away a
 * queued record, ignores the changes that do not happen, and is right
 * again after a reopen. Listing another status goes through the index.
 */
START_TEST(test_queued_count)
{
	struct store *s = open_store();
	struct store_call c = call_of("a", "echo", STORE_CALL_QUEUED, 0, 1), u;
	bool applied;
	int i;

	assert_queued(s);
	for (i = 0; i < 5; i++) {
		char id[8];
		snprintf(id, sizeof(id), "q%d", i);
		c = call_of(id, "echo", STORE_CALL_QUEUED, 0, 10 + i);
		ck_assert_int_eq(store_call_insert(s, &c), 0);
	}
	c = call_of("q0", "echo", STORE_CALL_QUEUED, 0, 99);
	ck_assert_int_eq(store_call_insert(s, &c), -ERR_EXISTS); /* not counted */
	c = call_of("done", "echo", STORE_CALL_SUCCEEDED, 1, 20);
	ck_assert_int_eq(store_call_insert(s, &c), 0);
	ck_assert_uint_eq(count_of(s, STORE_CALL_QUEUED), 5);
	assert_queued(s);

	/* queued -> running -> queued (a retry) -> succeeded */
	memset(&u, 0, sizeof(u));
	u.id = "q1";
	u.status = STORE_CALL_RUNNING;
	u.attempts = 1;
	ck_assert_int_eq(store_call_update(s, &u, &applied), 0);
	ck_assert(applied);
	ck_assert_uint_eq(count_of(s, STORE_CALL_QUEUED), 4);
	ck_assert_uint_eq(count_of(s, STORE_CALL_RUNNING), 1);
	ck_assert_int_eq(store_call_update(s, &u, &applied), 0); /* the same again */
	ck_assert_uint_eq(count_of(s, STORE_CALL_QUEUED), 4);
	u.status = STORE_CALL_QUEUED;
	ck_assert_int_eq(store_call_update(s, &u, &applied), 0);
	ck_assert(applied);
	ck_assert_uint_eq(count_of(s, STORE_CALL_QUEUED), 5);
	u.status = STORE_CALL_SUCCEEDED;
	u.attempts = 2;
	ck_assert_int_eq(store_call_update(s, &u, &applied), 0);
	ck_assert_uint_eq(count_of(s, STORE_CALL_QUEUED), 4);
	u.status = STORE_CALL_QUEUED; /* a final record does not move */
	u.attempts = 3;
	ck_assert_int_eq(store_call_update(s, &u, &applied), 0);
	ck_assert(!applied);
	u.id = "nope";
	ck_assert_int_eq(store_call_update(s, &u, &applied), -ERR_NOT_FOUND);
	ck_assert_uint_eq(count_of(s, STORE_CALL_QUEUED), 4);
	assert_queued(s);

	/* Cancel, delete, a failed cancel, a re-queue. */
	ck_assert_int_eq(store_call_cancel(s, "q2", 30), 0);
	ck_assert_int_eq(store_call_cancel(s, "q2", 31), -ERR_INVALID);
	ck_assert_int_eq(store_call_delete(s, "q3"), 0);
	ck_assert_int_eq(store_call_delete(s, "done"), 0);
	ck_assert_int_eq(store_call_delete(s, "done"), -ERR_NOT_FOUND);
	ck_assert_uint_eq(count_of(s, STORE_CALL_QUEUED), 2);
	u.id = "q4";
	u.status = STORE_CALL_DEAD_LETTER;
	u.attempts = 5;
	ck_assert_int_eq(store_call_update(s, &u, &applied), 0);
	ck_assert_uint_eq(count_of(s, STORE_CALL_QUEUED), 1);
	ck_assert_int_eq(store_call_requeue(s, "q4", 40), 0);
	ck_assert_int_eq(store_call_requeue(s, "q4", 41), -ERR_INVALID);
	ck_assert_uint_eq(count_of(s, STORE_CALL_QUEUED), 2);
	assert_queued(s);
	store_free(s);

	s = open_store();
	ck_assert_uint_eq(count_of(s, STORE_CALL_QUEUED), 2);
	assert_queued(s);
	store_free(s);

	ck_assert_int_eq(raw_int("SELECT COUNT(*) FROM sqlite_master WHERE name = 'calls_status'"
				 " AND sql LIKE '%WHERE status != ''queued''%'"), 1);
	{
		sqlite3 *db = NULL;
		sqlite3_stmt *st = NULL;
		bool uses = false;

		ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, RAW_VFS), SQLITE_OK);
		ck_assert_int_eq(sqlite3_prepare_v2(db, "EXPLAIN QUERY PLAN SELECT id FROM calls"
						" WHERE status = ?3 AND status != 'queued'"
						" ORDER BY seq DESC LIMIT 10", -1, &st, NULL),
				 SQLITE_OK);
		while (sqlite3_step(st) == SQLITE_ROW)
			uses |= strstr((const char *)sqlite3_column_text(st, 3), "calls_status") != NULL;
		ck_assert(uses);
		sqlite3_finalize(st);
		sqlite3_close(db);
	}
}
END_TEST

/* Queued records are listed by walking back over the table a slice at a
 * time: one far back, behind thousands of finished records, is found, and
 * the newest come first. */
START_TEST(test_queued_listing_walks_back)
{
	struct store *s = open_store();
	struct store_call_filter f = { .status = STORE_CALL_QUEUED };
	struct store_call c;
	char id[32];
	int i;

	c = call_of("old-b", "b", STORE_CALL_QUEUED, 0, 1);
	ck_assert_int_eq(store_call_insert(s, &c), 0);
	for (i = 0; i < 4500; i++) {
		snprintf(id, sizeof(id), "done-%04d", i);
		c = call_of(id, "a", STORE_CALL_SUCCEEDED, 1, 10 + i);
		ck_assert_int_eq(store_call_insert(s, &c), 0);
	}
	c = call_of("new-a", "a", STORE_CALL_QUEUED, 0, 9999);
	ck_assert_int_eq(store_call_insert(s, &c), 0);
	assert_ids(s, &f, "new-a old-b");
	f.function = "b";
	assert_ids(s, &f, "old-b");
	f.function = "a";
	assert_ids(s, &f, "new-a");
	f.function = "c";
	assert_ids(s, &f, "");
	f.function = NULL;
	f.limit = 1;
	assert_ids(s, &f, "new-a");
	store_free(s);
}
END_TEST

/* A backlog longer than one prune step is deleted whole, in steps. */
START_TEST(test_call_prune_steps)
{
	struct store *s = open_store();
	struct store_call c;
	char id[32];
	size_t deleted;
	int i;

	for (i = 0; i < 1234; i++) {
		snprintf(id, sizeof(id), "done-%04d", i);
		c = call_of(id, "echo", i % 2 ? STORE_CALL_SUCCEEDED : STORE_CALL_FAILED, 1, i);
		c.finished_at_ms = 10000 + i;
		ck_assert_int_eq(store_call_insert(s, &c), 0);
	}
	c = call_of("waiting", "echo", STORE_CALL_QUEUED, 0, 1);
	ck_assert_int_eq(store_call_insert(s, &c), 0);
	/* Only the first 1000 finished before 11000. */
	ck_assert_int_eq(store_call_prune(s, 11000, &deleted), 0);
	ck_assert_uint_eq(deleted, 1000);
	ck_assert_int_eq(store_call_prune(s, INT64_MAX, &deleted), 0);
	ck_assert_uint_eq(deleted, 234);
	ck_assert_int_eq(store_call_prune(s, INT64_MAX, NULL), 0);
	ck_assert_uint_eq(count_of(s, STORE_CALL_SUCCEEDED) + count_of(s, STORE_CALL_FAILED), 0);
	ck_assert_uint_eq(count_of(s, STORE_CALL_QUEUED), 1);
	store_free(s);
}
END_TEST

/* A database left by schema version 1 is migrated with its records, in
 * their queue order. */
START_TEST(test_migrate_v1_calls)
{
	struct store *s;
	struct store_call g;

	raw_exec("CREATE TABLE functions (namespace TEXT NOT NULL, name TEXT NOT NULL,"
		 " deployment TEXT NOT NULL, replicas INTEGER NOT NULL CHECK (replicas >= 0),"
		 " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
		 " PRIMARY KEY (namespace, name));"
		 "CREATE TABLE secrets (namespace TEXT NOT NULL, name TEXT NOT NULL,"
		 " value BLOB NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
		 " PRIMARY KEY (namespace, name));"
		 "CREATE TABLE calls (id TEXT PRIMARY KEY NOT NULL, function TEXT NOT NULL,"
		 " namespace TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
		 " status_code INTEGER NOT NULL DEFAULT 0, queued_at INTEGER NOT NULL,"
		 " started_at INTEGER NOT NULL DEFAULT 0, finished_at INTEGER NOT NULL DEFAULT 0,"
		 " duration_seconds REAL NOT NULL DEFAULT 0, callback_url TEXT NOT NULL DEFAULT '',"
		 " error TEXT NOT NULL DEFAULT '', result BLOB, result_headers TEXT);"
		 "CREATE INDEX calls_queued ON calls (queued_at);"
		 "CREATE INDEX calls_function ON calls (function, queued_at);"
		 "CREATE INDEX calls_status ON calls (status, queued_at);"
		 "INSERT INTO functions VALUES ('openfaas-fn', 'echo', '{}', 1, 1, 1);"
		 "INSERT INTO calls (id, function, namespace, status, attempts, status_code,"
		 " queued_at, finished_at, duration_seconds, callback_url, result, result_headers)"
		 " VALUES ('b', 'echo', 'openfaas-fn', 'succeeded', 2, 200, 300, 310, 0.5,"
		 " 'http://127.0.0.1:9/cb', x'6f6b00', '{\"X-A\":[\"1\"]}'),"
		 " ('a', 'echo', 'openfaas-fn', 'queued', 0, 0, 100, 0, 0, '', NULL, NULL),"
		 " ('c', 'echo', 'openfaas-fn', 'dead-letter', 3, 503, 200, 250, 0, '', NULL, NULL);"
		 "PRAGMA user_version = 1;");
	s = open_store();
	ck_assert_int_eq(raw_int("PRAGMA user_version"), store_schema_version());
	ck_assert_int_eq(raw_int("SELECT COUNT(*) FROM sqlite_master WHERE name IN"
				 " ('calls_queued', 'calls_function', 'calls_v2')"), 0);
	assert_ids(s, NULL, "b c a");
	ck_assert_int_eq(store_call_get(s, "b", &g), 0);
	ck_assert_int_eq(g.status, STORE_CALL_SUCCEEDED);
	ck_assert_int_eq(g.attempts, 2);
	ck_assert_int_eq(g.status_code, 200);
	ck_assert_int_eq(g.finished_at_ms, 310);
	ck_assert_str_eq(g.callback_url, "http://127.0.0.1:9/cb");
	ck_assert_uint_eq(g.result_len, 3);
	ck_assert_mem_eq(g.result, "ok\0", 3);
	ck_assert_str_eq(g.result_headers, "{\"X-A\":[\"1\"]}");
	store_call_release(&g);
	ck_assert_uint_eq(count_of(s, STORE_CALL_DEAD_LETTER), 1);
	ck_assert_uint_eq(count_of(s, STORE_CALL_QUEUED), 1);
	/* The id is still unique. */
	g = call_of("a", "echo", STORE_CALL_QUEUED, 0, 400);
	ck_assert_int_eq(store_call_insert(s, &g), -ERR_EXISTS);
	store_free(s);
}
END_TEST

/* While a store is open, no other process can read or write the file. */
START_TEST(test_exclusive_to_process)
{
	struct store *s;
	int go[2], status;
	pid_t pid;
	char c;

	s = open_store();
	store_free(s);
	ck_assert_int_eq(pipe(go), 0);
	/* The child exists before the store's threads do. */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		sqlite3 *db = NULL;
		int rc;

		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(10);
		if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
			_exit(11);
		rc = sqlite3_exec(db, "SELECT COUNT(*) FROM calls", NULL, NULL, NULL);
		sqlite3_close(db);
		_exit(rc == SQLITE_BUSY ? 0 : 12);
	}
	close(go[0]);
	s = open_store();
	ck_assert_int_eq(write(go[1], "x", 1), 1);
	close(go[1]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	store_free(s);
	/* Closed: anyone can open it again. */
	ck_assert_int_eq(raw_int("SELECT COUNT(*) FROM calls"), 0);
}
END_TEST

/* Checkpoints run on their own thread: the WAL's pages reach the database
 * file while the store is open, without a commit doing it. */
START_TEST(test_checkpoints_in_background)
{
	struct store *s = open_store();
	struct store_call c = { 0 };
	struct stat st;
	char id[48], wal[600];
	off_t before;
	int i, waited;

	ck_assert_int_eq(stat(path, &st), 0);
	before = st.st_size;
	c.function = (char *)"fn";
	c.namespace = (char *)"openfaas-fn";
	c.error = (char *)"padding padding padding padding padding padding padding padding";
	/* A few commits, far from the WAL threshold: the periodic checkpoint
	 * (every 2 s) still brings them into the database file. */
	for (i = 0; i < 100; i++) {
		snprintf(id, sizeof(id), "ckpt-%05d", i);
		c.id = id;
		c.queued_at_ms = i;
		ck_assert_int_eq(store_call_insert(s, &c), 0);
	}
	for (waited = 0; waited < 5000; waited += 50) {
		ck_assert_int_eq(stat(path, &st), 0);
		if (st.st_size > before)
			break;
		usleep(50 * 1000);
	}
	ck_assert_msg(st.st_size > before, "no checkpoint within 5 s");
	before = st.st_size;
	for (i = 100; i < 1500; i++) {
		snprintf(id, sizeof(id), "ckpt-%05d", i);
		c.id = id;
		c.queued_at_ms = i;
		ck_assert_int_eq(store_call_insert(s, &c), 0);
	}
	snprintf(wal, sizeof(wal), "%s-wal", path);
	ck_assert_int_eq(stat(wal, &st), 0);
	ck_assert_int_gt(st.st_size, 0);
	for (waited = 0; waited < 5000; waited += 50) {
		ck_assert_int_eq(stat(path, &st), 0);
		if (st.st_size > before + 64 * 1024)
			break;
		usleep(50 * 1000);
	}
	ck_assert_msg(st.st_size > before + 64 * 1024, "database still %lld bytes after 5 s",
		      (long long)st.st_size);
	ck_assert_int_eq(raw_int("SELECT COUNT(*) FROM calls"), 1500);
	store_free(s);
	/* Closed: everything is in the database file, the WAL is gone. */
	ck_assert_int_ne(stat(wal, &st), 0);
	s = open_store();
	ck_assert_int_eq(raw_int("SELECT COUNT(*) FROM calls"), 1500);
	store_free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_open_mode_and_reopen);
	tcase_add_test(tc, test_open_tightens_mode);
	tcase_add_test(tc, test_open_errors);
	tcase_add_test(tc, test_functions);
	tcase_add_test(tc, test_secrets);
	tcase_add_test(tc, test_call_insert_get);
	tcase_add_test(tc, test_call_ordering);
	tcase_add_test(tc, test_call_cancel_requeue_delete);
	tcase_add_test(tc, test_call_list_prune_count);
	tcase_add_test(tc, test_call_status_names);
	tcase_add_test(tc, test_concurrent_writers);
	tcase_add_test(tc, test_call_group_commit);
	tcase_add_test(tc, test_checkpoints_in_background);
	tcase_add_test(tc, test_call_requeue_order);
	tcase_add_test(tc, test_call_prune_steps);
	tcase_add_test(tc, test_queued_count);
	tcase_add_test(tc, test_queued_listing_walks_back);
	tcase_add_test(tc, test_migrate_v1_calls);
	tcase_add_test(tc, test_exclusive_to_process);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
