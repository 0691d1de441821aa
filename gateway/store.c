#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "spawn.h"
#include "store.h"
#include "banned.h"

/* How long a write waits for another connection's lock before -ERR_UNAVAILABLE. */
#define BUSY_TIMEOUT_MS 5000

/* The columns of a call record after its id, in every version so far. */
#define CALL_COLUMNS                                                               \
	" function TEXT NOT NULL,"                                                 \
	" namespace TEXT NOT NULL,"                                                \
	" status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded',"  \
	"  'failed', 'dead-letter', 'cancelled')),"                                \
	" attempts INTEGER NOT NULL DEFAULT 0,"                                    \
	" status_code INTEGER NOT NULL DEFAULT 0,"                                 \
	" queued_at INTEGER NOT NULL,"                                             \
	" started_at INTEGER NOT NULL DEFAULT 0,"                                  \
	" finished_at INTEGER NOT NULL DEFAULT 0,"                                 \
	" duration_seconds REAL NOT NULL DEFAULT 0,"                               \
	" callback_url TEXT NOT NULL DEFAULT '',"                                  \
	" error TEXT NOT NULL DEFAULT '',"                                         \
	" result BLOB,"                                                            \
	" result_headers TEXT);"

/*
 * Schema migrations, applied in order; version N is migrations[N - 1].
 * Append new steps, never edit a released one: a database records the
 * version it reached in PRAGMA user_version.
 */
static const char *const migrations[] = {
	/* 1: functions, secrets and async call records. */
	"CREATE TABLE functions ("
	" namespace TEXT NOT NULL,"
	" name TEXT NOT NULL,"
	" deployment TEXT NOT NULL,"
	" replicas INTEGER NOT NULL CHECK (replicas >= 0),"
	" created_at INTEGER NOT NULL,"
	" updated_at INTEGER NOT NULL,"
	" PRIMARY KEY (namespace, name));"
	"CREATE TABLE secrets ("
	" namespace TEXT NOT NULL,"
	" name TEXT NOT NULL,"
	" value BLOB NOT NULL,"
	" created_at INTEGER NOT NULL,"
	" updated_at INTEGER NOT NULL,"
	" PRIMARY KEY (namespace, name));"
	"CREATE TABLE calls ("
	" id TEXT PRIMARY KEY NOT NULL,"
	CALL_COLUMNS
	"CREATE INDEX calls_queued ON calls (queued_at);"
	"CREATE INDEX calls_function ON calls (function, queued_at);"
	"CREATE INDEX calls_status ON calls (status, queued_at);",
	/*
	 * 2: call records in queue order. An INTEGER PRIMARY KEY (seq, the
	 * rowid) orders the listing, newest first, without an index of its
	 * own, and the indexes on queued_at and function are gone (the
	 * listing never used the latter). An async submit now updates three b-trees (the table, the id
	 * and the status index) instead of five, and each commit writes about
	 * four WAL pages instead of seven.
	 */
	"CREATE TABLE calls_v2 ("
	" seq INTEGER PRIMARY KEY,"
	" id TEXT NOT NULL UNIQUE,"
	CALL_COLUMNS
	"INSERT INTO calls_v2 (id, function, namespace, status, attempts, status_code,"
	" queued_at, started_at, finished_at, duration_seconds, callback_url, error, result,"
	" result_headers)"
	" SELECT id, function, namespace, status, attempts, status_code, queued_at,"
	" started_at, finished_at, duration_seconds, callback_url, error, result,"
	" result_headers FROM calls ORDER BY queued_at, id;"
	"DROP TABLE calls;"
	"ALTER TABLE calls_v2 RENAME TO calls;"
	"CREATE INDEX calls_status ON calls (status);",
	/*
	 * 3: queued records out of the status index. Every record is
	 * inserted queued, so an accepted call now updates two b-trees (the
	 * table and the id index) instead of three, and its commit writes one
	 * WAL page fewer. The store counts queued records itself (struct
	 * store, queued), and lists them by walking the table from its end,
	 * where they are.
	 */
	"DROP INDEX calls_status;"
	"CREATE INDEX calls_status ON calls (status) WHERE status != 'queued';",
};

#define NMIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

#define FINAL_STATUSES "('succeeded', 'failed', 'dead-letter', 'cancelled')"
#define FN_COLS "namespace, name, deployment, replicas, created_at, updated_at"
#define CALL_COLS_BASE                                                            \
	"id, function, namespace, status, attempts, status_code, queued_at,"       \
	" started_at, finished_at, duration_seconds, callback_url, error,"         \
	" result_headers"

/* Every statement the store runs, prepared once at open. */
enum stmt_id {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_FN_REPLICAS_OF,
	ST_FN_INSERT,
	ST_FN_UPDATE,
	ST_FN_GET,
	ST_FN_LIST,
	ST_FN_DELETE,
	ST_FN_SET_REPLICAS,
	ST_SEC_INSERT,
	ST_SEC_UPDATE,
	ST_SEC_GET,
	ST_SEC_LIST,
	ST_SEC_DELETE,
	ST_CALL_INSERT,
	ST_CALL_GET,
	ST_CALL_STATUS_OF,
	ST_CALL_UPDATE,
	ST_CALL_CANCEL,
	ST_CALL_REQUEUE,
	ST_CALL_DELETE,
	ST_CALL_LIST,
	ST_CALL_LIST_STATUS,
	ST_CALL_LIST_QUEUED,
	ST_CALL_LAST_SEQ,
	ST_CALL_PRUNE,
	ST_CALL_COUNT,
	ST_CALL_COUNT_QUEUED,
	ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_FN_REPLICAS_OF] =
		"SELECT replicas FROM functions WHERE namespace = ?1 AND name = ?2",
	[ST_FN_INSERT] = "INSERT INTO functions (" FN_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
	[ST_FN_UPDATE] = "UPDATE functions SET deployment = ?3, replicas = ?4, updated_at = ?5"
			 " WHERE namespace = ?1 AND name = ?2",
	[ST_FN_GET] = "SELECT " FN_COLS " FROM functions WHERE namespace = ?1 AND name = ?2",
	[ST_FN_LIST] = "SELECT " FN_COLS " FROM functions WHERE ?1 IS NULL OR namespace = ?1"
		       " ORDER BY namespace, name",
	[ST_FN_DELETE] = "DELETE FROM functions WHERE namespace = ?1 AND name = ?2",
	[ST_FN_SET_REPLICAS] = "UPDATE functions SET replicas = ?3, updated_at = ?4"
			       " WHERE namespace = ?1 AND name = ?2",
	[ST_SEC_INSERT] = "INSERT INTO secrets (namespace, name, value, created_at, updated_at)"
			  " VALUES (?1, ?2, ?3, ?4, ?4)",
	[ST_SEC_UPDATE] = "UPDATE secrets SET value = ?3, updated_at = ?4"
			  " WHERE namespace = ?1 AND name = ?2",
	[ST_SEC_GET] = "SELECT value FROM secrets WHERE namespace = ?1 AND name = ?2",
	[ST_SEC_LIST] = "SELECT namespace, name, created_at, updated_at FROM secrets"
			" WHERE ?1 IS NULL OR namespace = ?1 ORDER BY namespace, name",
	[ST_SEC_DELETE] = "DELETE FROM secrets WHERE namespace = ?1 AND name = ?2",
	[ST_CALL_INSERT] = "INSERT INTO calls (" CALL_COLS_BASE ", result) VALUES"
			   " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
	[ST_CALL_GET] = "SELECT " CALL_COLS_BASE ", result FROM calls WHERE id = ?1",
	[ST_CALL_STATUS_OF] = "SELECT status FROM calls WHERE id = ?1",
	/* ?11 is the report's step within its attempt: running 0, queued 1,
	 * final 2 (see store_call_update in store.h). */
	[ST_CALL_UPDATE] =
		"UPDATE calls SET status = ?2, attempts = ?3, status_code = ?4,"
		" started_at = CASE WHEN ?5 != 0 THEN ?5 ELSE started_at END,"
		" finished_at = CASE WHEN ?6 != 0 THEN ?6 ELSE finished_at END,"
		" duration_seconds = ?7, error = ?8, result = ?9, result_headers = ?10"
		" WHERE id = ?1 AND status NOT IN " FINAL_STATUSES
		" AND (attempts < ?3 OR (attempts = ?3 AND"
		"  (CASE status WHEN 'running' THEN 0 WHEN 'queued' THEN 1 ELSE 2 END) <= ?11))",
	[ST_CALL_CANCEL] = "UPDATE calls SET status = 'cancelled', finished_at = ?2"
			   " WHERE id = ?1 AND status = 'queued'",
	/* A re-queued call moves to the end of the queue order. */
	[ST_CALL_REQUEUE] =
		"UPDATE calls SET seq = (SELECT MAX(seq) FROM calls) + 1, status = 'queued',"
		" attempts = 0, status_code = 0, queued_at = ?2, started_at = 0, finished_at = 0,"
		" duration_seconds = 0, error = '', result = NULL, result_headers = NULL"
		" WHERE id = ?1 AND status IN ('dead-letter', 'failed')",
	[ST_CALL_DELETE] = "DELETE FROM calls WHERE id = ?1",
	/* Newest first, walking the table backwards. A function filter is
	 * checked row by row: no index on function keeps the submit path
	 * short, at the price of a longer walk for a rarely called one. */
	[ST_CALL_LIST] = "SELECT " CALL_COLS_BASE " FROM calls"
			 " WHERE (?1 IS NULL OR function = ?1) AND (?2 IS NULL OR namespace = ?2)"
			 " ORDER BY seq DESC LIMIT ?4",
	/* The same within one status but queued, through calls_status
	 * (status, seq): the second term lets SQLite use the partial index. */
	[ST_CALL_LIST_STATUS] = "SELECT " CALL_COLS_BASE " FROM calls"
				" WHERE status = ?3 AND status != 'queued'"
				" AND (?1 IS NULL OR function = ?1)"
				" AND (?2 IS NULL OR namespace = ?2)"
				" ORDER BY seq DESC LIMIT ?4",
	/* Queued ones, which calls_status leaves out, in one slice of the
	 * queue order (seq in (?5 - ?6, ?5]): store_call_list walks back
	 * from the newest a slice at a time (see LIST_QUEUED_SLICE). */
	[ST_CALL_LIST_QUEUED] = "SELECT " CALL_COLS_BASE " FROM calls"
				" WHERE seq <= ?5 AND seq > ?5 - ?6 AND status = 'queued'"
				" AND (?1 IS NULL OR function = ?1) AND (?2 IS NULL OR namespace = ?2)"
				" ORDER BY seq DESC LIMIT ?4",
	[ST_CALL_LAST_SEQ] = "SELECT COALESCE(MAX(seq), 0) FROM calls",
	/* At most PRUNE_BATCH rows per statement (see store_call_prune). */
	[ST_CALL_PRUNE] = "DELETE FROM calls WHERE seq IN (SELECT seq FROM calls"
			  " WHERE status IN " FINAL_STATUSES
			  " AND (CASE WHEN finished_at > 0 THEN finished_at ELSE queued_at END) < ?1"
			  " LIMIT ?2)",
	[ST_CALL_COUNT] = "SELECT COUNT(*) FROM calls WHERE status = ?1 AND status != 'queued'",
	[ST_CALL_COUNT_QUEUED] = "SELECT COUNT(*) FROM calls WHERE status = 'queued'",
};

/* The most inserts one group commit takes; the rest wait for the next. */
#define GROUP_MAX 256

/* Queued records are listed by walking the table back from its end this
 * many rows at a time, the store's lock taken for each slice only: a
 * filter that matches few of them may walk the whole table, and commits
 * must not wait for that. */
#define LIST_QUEUED_SLICE 2000

/* The most records one prune statement deletes: group commits wait for
 * the store's lock meanwhile, so a long backlog is deleted in short steps. */
#define PRUNE_BATCH 500

/*
 * SQLite's "unix-excl" VFS: the gateway's process holds the database file
 * exclusively, and its connections share the WAL index in memory instead of
 * locking a -shm file. Every transaction would otherwise make six fcntl(2)
 * locking calls, a fifth of the system calls of a group commit.
 * Another process (a second gateway on the same data dir, or the sqlite3
 * shell) gets "database is locked" while the gateway runs.
 */
#define STORE_VFS "unix-excl"

/* The checkpointer copies the WAL into the database once it holds this many
 * pages (SQLite's own default threshold), and every CKPT_EVERY_MS anyway. */
#define CKPT_PAGES 1000
#define CKPT_EVERY_MS 2000
#define CKPT_RESTART_PAGES 4000 /* 16 MiB of WAL with 4 KiB pages */
#define CKPT_BUSY_MS 100

struct store {
	pthread_mutex_t lock;
	sqlite3 *db;
	sqlite3_stmt *stmt[ST_COUNT];
	/* Records with status queued, which calls_status leaves out: counted
	 * at open, then kept by every change of a record's status (under
	 * lock, in step with what is committed). */
	uint64_t queued;

	/* Queued inserts (see lead_commit). */
	pthread_mutex_t q_lock;
	pthread_cond_t sync_cond;   /* store_call_sync waits for commits */
	struct store_ticket *q_head, *q_tail;
	uint64_t started, finished; /* inserts queued / committed or failed */
	bool leading;               /* a thread is committing a batch */

	/* The checkpointer (see checkpoint_main). */
	sqlite3 *ckpt_db;
	pthread_mutex_t ckpt_lock;
	pthread_cond_t ckpt_cond;
	pthread_t ckpt;
	bool ckpt_running;
	bool ckpt_stop;
	atomic_bool ckpt_wanted;
	int ckpt_base;             /* WAL pages when a checkpoint was last asked for */
};

/* ---- plumbing ----------------------------------------------------------- */

/* Maps an SQLite result code (extended codes on) to a cfaas code. */
static int map_rc(int rc)
{
	switch (rc) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_CONSTRAINT_PRIMARYKEY:
	case SQLITE_CONSTRAINT_UNIQUE:
		return -ERR_EXISTS;
	}
	switch (rc & 0xff) {
	case SQLITE_CONSTRAINT:
	case SQLITE_MISMATCH:
	case SQLITE_RANGE:
		return -ERR_INVALID;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -ERR_UNAVAILABLE;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_TOOBIG:
		return -ERR_TOO_BIG;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return -ERR_PARSE;
	case SQLITE_CANTOPEN:
		return -ENOENT;
	default:
		return -EIO;
	}
}

/* A prepared statement, reset and with no bindings. Caller holds the lock
 * and calls done() when finished with it. */
static sqlite3_stmt *use(struct store *s, enum stmt_id id)
{
	sqlite3_stmt *st = s->stmt[id];

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return st;
}

/* Resets st so it holds no read snapshot; passes rc through. */
static int done(sqlite3_stmt *st, int rc)
{
	sqlite3_reset(st);
	return rc;
}

/* Binds a borrowed string; NULL binds SQL NULL. */
static int bind_text(sqlite3_stmt *st, int i, const char *v)
{
	return sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

/* Binds borrowed bytes; a zero-length value stays a blob, not NULL. */
static int bind_blob(sqlite3_stmt *st, int i, const void *v, size_t len)
{
	if (!v && len == 0)
		v = "";
	return sqlite3_bind_blob64(st, i, v, len, SQLITE_STATIC);
}

/* Runs a statement that returns no rows. */
static int run(sqlite3_stmt *st)
{
	return done(st, map_rc(sqlite3_step(st)));
}

static int exec_id(struct store *s, enum stmt_id id)
{
	return run(use(s, id));
}

static int begin(struct store *s)
{
	return exec_id(s, ST_BEGIN);
}

/* Commits if rc is 0, else rolls back; returns the first failure. */
static int finish(struct store *s, int rc)
{
	if (!rc) {
		rc = exec_id(s, ST_COMMIT);
		if (!rc)
			return 0;
	}
	if (!sqlite3_get_autocommit(s->db))
		(void)exec_id(s, ST_ROLLBACK);
	return rc;
}

/* A copy of a text column; NULL stays NULL, and "" too when empty_is_null.
 * *ok is cleared on allocation failure. */
static char *col_text(sqlite3_stmt *st, int i, bool empty_is_null, bool *ok)
{
	const unsigned char *v = sqlite3_column_text(st, i);
	int n = sqlite3_column_bytes(st, i);
	char *p;

	if (!v || (empty_is_null && n == 0))
		return NULL;
	p = malloc((size_t)n + 1);
	if (!p) {
		*ok = false;
		return NULL;
	}
	memcpy(p, v, (size_t)n);
	p[n] = '\0';
	return p;
}

static void lock(struct store *s)
{
	pthread_mutex_lock(&s->lock);
}

static void unlock(struct store *s)
{
	pthread_mutex_unlock(&s->lock);
}

/* Grows a result array by one zeroed slot; 0 or -ENOMEM. */
static int grow(void **arr, size_t *cap, size_t n, size_t size)
{
	void *p;
	size_t c;

	if (n < *cap)
		return 0;
	c = *cap ? *cap * 2 : 16;
	p = realloc(*arr, c * size);
	if (!p)
		return -ENOMEM;
	memset((char *)p + n * size, 0, (c - n) * size);
	*arr = p;
	*cap = c;
	return 0;
}

/* ---- open and migrate --------------------------------------------------- */

int store_schema_version(void)
{
	return NMIGRATIONS;
}

static int user_version(sqlite3 *db, int *out)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);

	*out = 0;
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			*out = sqlite3_column_int(st, 0);
			rc = SQLITE_OK;
		}
	}
	sqlite3_finalize(st);
	return map_rc(rc);
}

/*
 * Applies each missing migration in its own IMMEDIATE transaction, reading
 * the version again inside it so two processes opening the same new file
 * cannot both apply a step.
 */
static int migrate(sqlite3 *db)
{
	char sql[64];
	int rc, v = 0;

	for (;;) {
		rc = map_rc(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL));
		if (rc)
			return rc;
		rc = user_version(db, &v);
		if (!rc && v > NMIGRATIONS)
			rc = -ERR_INVALID;
		if (rc || v == NMIGRATIONS)
			break;
		rc = map_rc(sqlite3_exec(db, migrations[v], NULL, NULL, NULL));
		if (!rc) {
			snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
			rc = map_rc(sqlite3_exec(db, sql, NULL, NULL, NULL));
		}
		if (!rc)
			rc = map_rc(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL));
		if (rc)
			break;
	}
	if (!sqlite3_get_autocommit(db)) {
		if (rc)
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		else
			rc = map_rc(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL));
	}
	return rc;
}

/* Creates the file with mode 0600 before SQLite sees it (its -wal and -shm
 * files then get the same mode), and tightens an existing one. */
static int create_private(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0600))
		rc = -errno;
	close(fd);
	return rc;
}

/*
 * Checkpoints run on their own connection and thread. SQLite's automatic
 * checkpoint runs inside the commit that crosses the threshold, and with
 * synchronous=NORMAL it is also where the fsyncs happen: every few hundred
 * commits one would stall for milliseconds, and every call queued behind
 * it. A PASSIVE checkpoint from another connection does the same work
 * without blocking commits; only when the WAL has grown past
 * CKPT_RESTART_PAGES does one (RESTART) hold commits back while it runs.
 */
static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct store *s = arg;

	(void)db;
	(void)name;
	/* The WAL starts over once a checkpoint has copied all of it. Under a
	 * steady stream of commits it seldom has, so a checkpoint is asked
	 * for each time CKPT_PAGES more pages came, not after every commit
	 * once the WAL is that long (each one would fsync). Every commit holds
	 * s->lock, so ckpt_base needs no lock of its own. */
	if (pages < s->ckpt_base)
		s->ckpt_base = 0;
	if (pages >= s->ckpt_base + CKPT_PAGES && !atomic_exchange(&s->ckpt_wanted, true)) {
		s->ckpt_base = pages;
		pthread_mutex_lock(&s->ckpt_lock);
		pthread_cond_signal(&s->ckpt_cond);
		pthread_mutex_unlock(&s->ckpt_lock);
	}
	return SQLITE_OK;
}

static void *checkpoint_main(void *arg)
{
	struct store *s = arg;
	bool restart;
	int log = 0, rc;

	pthread_setname_np(pthread_self(), "store-ckpt");
	pthread_mutex_lock(&s->ckpt_lock);
	while (!s->ckpt_stop) {
		if (!atomic_load(&s->ckpt_wanted)) {
			struct timespec ts;
			mono_deadline_ts(CKPT_EVERY_MS, &ts);
			pthread_cond_timedwait(&s->ckpt_cond, &s->ckpt_lock, &ts);
			if (s->ckpt_stop)
				break;
		}
		atomic_store(&s->ckpt_wanted, false);
		pthread_mutex_unlock(&s->ckpt_lock);
		/* A passive checkpoint never stops a commit, but while commits
		 * keep coming the WAL never starts over and keeps growing; past
		 * CKPT_RESTART_PAGES one checkpoint holds commits back until
		 * it is done, so the next commit rewinds the WAL. */
		restart = log >= CKPT_RESTART_PAGES;
		rc = sqlite3_wal_checkpoint_v2(s->ckpt_db, NULL,
					       restart ? SQLITE_CHECKPOINT_RESTART :
							 SQLITE_CHECKPOINT_PASSIVE,
					       &log, NULL);
		/* After a RESTART the next commit rewinds the WAL, but SQLite
		 * still reports the old length. */
		if (restart && rc == SQLITE_OK)
			log = 0;
		pthread_mutex_lock(&s->ckpt_lock);
	}
	pthread_mutex_unlock(&s->ckpt_lock);
	return NULL;
}

static int start_checkpointer(struct store *s, const char *path)
{
	int rc = sqlite3_open_v2(path, &s->ckpt_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
				 STORE_VFS);
	if (rc != SQLITE_OK)
		return s->ckpt_db ? map_rc(sqlite3_extended_errcode(s->ckpt_db)) : -ENOMEM;
	/* Short: a RESTART checkpoint that cannot get the database at once
	 * gives up and is tried again later, rather than keep commits (and
	 * every call waiting for a record) waiting behind it. */
	sqlite3_busy_timeout(s->ckpt_db, CKPT_BUSY_MS);
	rc = map_rc(sqlite3_exec(s->ckpt_db, "PRAGMA synchronous = NORMAL;", NULL, NULL, NULL));
	if (rc)
		return rc;
	rc = -pthread_create(&s->ckpt, NULL, checkpoint_main, s);
	s->ckpt_running = rc == 0;
	/* Replaces SQLite's automatic checkpoint on the main connection. */
	if (!rc)
		sqlite3_wal_hook(s->db, on_wal_commit, s);
	return rc;
}

/* Counts the queued records (once, at open; see struct store). */
static int count_queued(struct store *s)
{
	sqlite3_stmt *st = use(s, ST_CALL_COUNT_QUEUED);
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW) {
		s->queued = (uint64_t)sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	}
	return done(st, map_rc(rc));
}

int store_open(const char *path, struct store **out)
{
	/* WAL with synchronous=NORMAL: a commit survives the gateway being
	 * killed at any point (the WAL is written before the call returns);
	 * only an OS crash or power cut can lose the last commits, the same
	 * window JetStream has (it syncs its files periodically), so an fsync
	 * per async call would buy nothing but a 10x slower 202. */
	static const char setup[] = "PRAGMA journal_mode = WAL;"
				    "PRAGMA synchronous = NORMAL;"
				    "PRAGMA foreign_keys = ON;";
	struct store *s = NULL;
	pthread_condattr_t ca;
	int rc, i;

	*out = NULL;
	if (!path)
		return -EINVAL;
	rc = create_private(path);
	if (rc)
		return rc;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->q_lock, NULL);
	pthread_cond_init(&s->sync_cond, NULL);
	pthread_mutex_init(&s->ckpt_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->ckpt_cond, &ca);
	pthread_condattr_destroy(&ca);
	/* Our own mutex serialises every use of the connection (statements are
	 * shared and transactions span several calls), so SQLite's is not
	 * needed. */
	rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, STORE_VFS);
	if (rc != SQLITE_OK) {
		rc = s->db ? map_rc(sqlite3_extended_errcode(s->db)) : -ENOMEM;
		goto out;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	rc = map_rc(sqlite3_exec(s->db, setup, NULL, NULL, NULL));
	if (!rc)
		rc = migrate(s->db);
	for (i = 0; !rc && i < ST_COUNT; i++)
		rc = map_rc(sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
					       &s->stmt[i], NULL));
	if (!rc)
		rc = count_queued(s);
	if (!rc)
		rc = start_checkpointer(s, path);
out:
	if (rc) {
		store_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void store_free(struct store *s)
{
	int i;

	if (!s)
		return;
	if (s->ckpt_running) {
		pthread_mutex_lock(&s->ckpt_lock);
		s->ckpt_stop = true;
		pthread_cond_signal(&s->ckpt_cond);
		pthread_mutex_unlock(&s->ckpt_lock);
		pthread_join(s->ckpt, NULL);
	}
	sqlite3_close(s->ckpt_db);
	for (i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->stmt[i]);
	/* The last connection to close checkpoints and removes the WAL. */
	sqlite3_close(s->db);
	pthread_cond_destroy(&s->sync_cond);
	pthread_cond_destroy(&s->ckpt_cond);
	pthread_mutex_destroy(&s->ckpt_lock);
	pthread_mutex_destroy(&s->q_lock);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* ---- functions ---------------------------------------------------------- */

void store_function_release(struct store_function *f)
{
	if (!f)
		return;
	free(f->name);
	free(f->namespace);
	free(f->deployment);
	memset(f, 0, sizeof(*f));
}

void store_function_list_free(struct store_function *fs, size_t n)
{
	size_t i;

	if (!fs)
		return;
	for (i = 0; i < n; i++)
		store_function_release(&fs[i]);
	free(fs);
}

/* Reads an FN_COLS row. */
static int read_function(sqlite3_stmt *st, struct store_function *f)
{
	bool ok = true;

	f->namespace = col_text(st, 0, false, &ok);
	f->name = col_text(st, 1, false, &ok);
	f->deployment = col_text(st, 2, false, &ok);
	f->replicas = sqlite3_column_int64(st, 3);
	f->created_at_ms = sqlite3_column_int64(st, 4);
	f->updated_at_ms = sqlite3_column_int64(st, 5);
	if (!ok) {
		store_function_release(f);
		return -ENOMEM;
	}
	return 0;
}

int store_function_put(struct store *s, const char *namespace, const char *name,
		       const char *deployment, int64_t replicas, bool *created)
{
	sqlite3_stmt *st;
	int64_t stored = STORE_DEFAULT_REPLICAS;
	bool exists = false;
	int rc;

	if (!s || !namespace || !name || !deployment)
		return -EINVAL;
	lock(s);
	rc = begin(s);
	if (rc)
		goto out;
	st = use(s, ST_FN_REPLICAS_OF);
	bind_text(st, 1, namespace);
	bind_text(st, 2, name);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		exists = true;
		stored = sqlite3_column_int64(st, 0);
	}
	rc = done(st, map_rc(rc));
	if (rc)
		goto out;
	st = use(s, exists ? ST_FN_UPDATE : ST_FN_INSERT);
	bind_text(st, 1, namespace);
	bind_text(st, 2, name);
	bind_text(st, 3, deployment);
	sqlite3_bind_int64(st, 4, replicas >= 0 ? replicas : stored);
	sqlite3_bind_int64(st, 5, real_ms());
	rc = run(st);
out:
	rc = finish(s, rc);
	unlock(s);
	if (!rc && created)
		*created = !exists;
	return rc;
}

int store_function_get(struct store *s, const char *namespace, const char *name,
		       struct store_function *out)
{
	sqlite3_stmt *st;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!s || !namespace || !name)
		return -EINVAL;
	lock(s);
	st = use(s, ST_FN_GET);
	bind_text(st, 1, namespace);
	bind_text(st, 2, name);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = read_function(st, out);
	else
		rc = rc == SQLITE_DONE ? -ERR_NOT_FOUND : map_rc(rc);
	done(st, 0);
	unlock(s);
	return rc;
}

int store_function_list(struct store *s, const char *namespace, struct store_function **out,
			size_t *n)
{
	struct store_function *arr = NULL;
	size_t cap = 0, count = 0;
	sqlite3_stmt *st;
	int rc;

	*out = NULL;
	*n = 0;
	if (!s)
		return -EINVAL;
	lock(s);
	st = use(s, ST_FN_LIST);
	bind_text(st, 1, namespace);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		rc = grow((void **)&arr, &cap, count, sizeof(*arr));
		if (!rc)
			rc = read_function(st, &arr[count]);
		if (rc)
			break;
		count++;
	}
	if (rc == SQLITE_DONE)
		rc = 0;
	else if (rc > 0)
		rc = map_rc(rc);
	done(st, 0);
	unlock(s);
	if (rc) {
		store_function_list_free(arr, count);
		return rc;
	}
	*out = arr;
	*n = count;
	return 0;
}

/* Runs a one-row write keyed by (namespace, name); -ERR_NOT_FOUND if it
 * changed nothing. */
static int write_one(struct store *s, sqlite3_stmt *st)
{
	int rc = run(st);

	if (!rc && sqlite3_changes(s->db) == 0)
		rc = -ERR_NOT_FOUND;
	return rc;
}

int store_function_delete(struct store *s, const char *namespace, const char *name)
{
	sqlite3_stmt *st;
	int rc;

	if (!s || !namespace || !name)
		return -EINVAL;
	lock(s);
	st = use(s, ST_FN_DELETE);
	bind_text(st, 1, namespace);
	bind_text(st, 2, name);
	rc = write_one(s, st);
	unlock(s);
	return rc;
}

int store_function_set_replicas(struct store *s, const char *namespace, const char *name,
				int64_t replicas)
{
	sqlite3_stmt *st;
	int rc;

	if (!s || !namespace || !name || replicas < 0)
		return -EINVAL;
	lock(s);
	st = use(s, ST_FN_SET_REPLICAS);
	bind_text(st, 1, namespace);
	bind_text(st, 2, name);
	sqlite3_bind_int64(st, 3, replicas);
	sqlite3_bind_int64(st, 4, real_ms());
	rc = write_one(s, st);
	unlock(s);
	return rc;
}

/* ---- secrets ------------------------------------------------------------ */

void store_secret_list_free(struct store_secret_info *infos, size_t n)
{
	size_t i;

	if (!infos)
		return;
	for (i = 0; i < n; i++) {
		free(infos[i].name);
		free(infos[i].namespace);
	}
	free(infos);
}

static int secret_write(struct store *s, enum stmt_id id, const char *namespace,
			const char *name, const void *value, size_t len)
{
	sqlite3_stmt *st;
	int rc;

	if (!s || !namespace || !name || (!value && len))
		return -EINVAL;
	lock(s);
	st = use(s, id);
	bind_text(st, 1, namespace);
	bind_text(st, 2, name);
	bind_blob(st, 3, value, len);
	sqlite3_bind_int64(st, 4, real_ms());
	rc = write_one(s, st);
	unlock(s);
	return rc;
}

int store_secret_create(struct store *s, const char *namespace, const char *name,
			const void *value, size_t len)
{
	return secret_write(s, ST_SEC_INSERT, namespace, name, value, len);
}

int store_secret_update(struct store *s, const char *namespace, const char *name,
			const void *value, size_t len)
{
	return secret_write(s, ST_SEC_UPDATE, namespace, name, value, len);
}

int store_secret_get(struct store *s, const char *namespace, const char *name,
		     struct buf *out)
{
	sqlite3_stmt *st;
	int rc;

	if (!s || !namespace || !name || !out)
		return -EINVAL;
	lock(s);
	st = use(s, ST_SEC_GET);
	bind_text(st, 1, namespace);
	bind_text(st, 2, name);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const void *v = sqlite3_column_blob(st, 0);
		int n = sqlite3_column_bytes(st, 0);
		rc = n > 0 ? buf_add(out, v, (size_t)n) : 0;
		if (!v && n > 0)
			rc = -ENOMEM;
	} else {
		rc = rc == SQLITE_DONE ? -ERR_NOT_FOUND : map_rc(rc);
	}
	done(st, 0);
	unlock(s);
	return rc;
}

int store_secret_list(struct store *s, const char *namespace, struct store_secret_info **out,
		      size_t *n)
{
	struct store_secret_info *arr = NULL;
	size_t cap = 0, count = 0;
	sqlite3_stmt *st;
	int rc;

	*out = NULL;
	*n = 0;
	if (!s)
		return -EINVAL;
	lock(s);
	st = use(s, ST_SEC_LIST);
	bind_text(st, 1, namespace);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		bool ok = true;

		rc = grow((void **)&arr, &cap, count, sizeof(*arr));
		if (rc)
			break;
		arr[count].namespace = col_text(st, 0, false, &ok);
		arr[count].name = col_text(st, 1, false, &ok);
		arr[count].created_at_ms = sqlite3_column_int64(st, 2);
		arr[count].updated_at_ms = sqlite3_column_int64(st, 3);
		count++;
		if (!ok) {
			rc = -ENOMEM;
			break;
		}
	}
	if (rc == SQLITE_DONE)
		rc = 0;
	else if (rc > 0)
		rc = map_rc(rc);
	done(st, 0);
	unlock(s);
	if (rc) {
		store_secret_list_free(arr, count);
		return rc;
	}
	*out = arr;
	*n = count;
	return 0;
}

int store_secret_delete(struct store *s, const char *namespace, const char *name)
{
	sqlite3_stmt *st;
	int rc;

	if (!s || !namespace || !name)
		return -EINVAL;
	lock(s);
	st = use(s, ST_SEC_DELETE);
	bind_text(st, 1, namespace);
	bind_text(st, 2, name);
	rc = write_one(s, st);
	unlock(s);
	return rc;
}

/* ---- calls -------------------------------------------------------------- */

static const char *const status_names[STORE_CALL_NSTATUS] = {
	[STORE_CALL_QUEUED] = "queued",
	[STORE_CALL_RUNNING] = "running",
	[STORE_CALL_SUCCEEDED] = "succeeded",
	[STORE_CALL_FAILED] = "failed",
	[STORE_CALL_DEAD_LETTER] = "dead-letter",
	[STORE_CALL_CANCELLED] = "cancelled",
};

const char *store_call_status_name(enum store_call_status st)
{
	if ((unsigned)st >= STORE_CALL_NSTATUS)
		return "unknown";
	return status_names[st];
}

int store_call_status_parse(const char *name, enum store_call_status *out)
{
	int i;

	for (i = 0; name && i < STORE_CALL_NSTATUS; i++) {
		if (strcmp(name, status_names[i]) == 0) {
			*out = (enum store_call_status)i;
			return 0;
		}
	}
	return -ERR_INVALID;
}

bool store_call_status_final(enum store_call_status st)
{
	return st == STORE_CALL_SUCCEEDED || st == STORE_CALL_FAILED ||
	       st == STORE_CALL_DEAD_LETTER || st == STORE_CALL_CANCELLED;
}

/* A report's step within one attempt (see store_call_update). */
static int status_step(enum store_call_status st)
{
	if (st == STORE_CALL_RUNNING)
		return 0;
	if (st == STORE_CALL_QUEUED)
		return 1;
	return 2;
}

void store_call_release(struct store_call *c)
{
	if (!c)
		return;
	free(c->id);
	free(c->function);
	free(c->namespace);
	free(c->callback_url);
	free(c->error);
	free(c->result);
	free(c->result_headers);
	memset(c, 0, sizeof(*c));
}

void store_call_list_free(struct store_call *cs, size_t n)
{
	size_t i;

	if (!cs)
		return;
	for (i = 0; i < n; i++)
		store_call_release(&cs[i]);
	free(cs);
}

/* Reads a CALL_COLS_BASE row, plus the result at column 13 if with_result. */
static int read_call(sqlite3_stmt *st, bool with_result, struct store_call *c)
{
	enum store_call_status status = STORE_CALL_QUEUED;
	bool ok = true;

	c->id = col_text(st, 0, false, &ok);
	c->function = col_text(st, 1, false, &ok);
	c->namespace = col_text(st, 2, false, &ok);
	(void)store_call_status_parse((const char *)sqlite3_column_text(st, 3), &status);
	c->status = status;
	c->attempts = sqlite3_column_int(st, 4);
	c->status_code = sqlite3_column_int(st, 5);
	c->queued_at_ms = sqlite3_column_int64(st, 6);
	c->started_at_ms = sqlite3_column_int64(st, 7);
	c->finished_at_ms = sqlite3_column_int64(st, 8);
	c->duration_seconds = sqlite3_column_double(st, 9);
	c->callback_url = col_text(st, 10, true, &ok);
	c->error = col_text(st, 11, true, &ok);
	c->result_headers = col_text(st, 12, false, &ok);
	if (with_result && sqlite3_column_type(st, 13) != SQLITE_NULL) {
		const void *v = sqlite3_column_blob(st, 13);
		size_t n = (size_t)sqlite3_column_bytes(st, 13);

		c->result = malloc(n + 1);
		if (c->result) {
			if (n)
				memcpy(c->result, v, n);
			c->result[n] = '\0';
			c->result_len = n;
		} else {
			ok = false;
		}
	}
	if (!ok) {
		store_call_release(c);
		return -ENOMEM;
	}
	return 0;
}

/* Binds a report's result: NULL stays NULL, bytes stay bytes. */
static void bind_result(sqlite3_stmt *st, int i, const struct store_call *c)
{
	if (c->result)
		bind_blob(st, i, c->result, c->result_len);
}

/* One INSERT of a call; caller holds the lock. */
static int insert_call(struct store *s, const struct store_call *c)
{
	sqlite3_stmt *st = use(s, ST_CALL_INSERT);

	bind_text(st, 1, c->id);
	bind_text(st, 2, c->function);
	bind_text(st, 3, c->namespace);
	bind_text(st, 4, store_call_status_name(c->status));
	sqlite3_bind_int(st, 5, c->attempts);
	sqlite3_bind_int(st, 6, c->status_code);
	sqlite3_bind_int64(st, 7, c->queued_at_ms);
	sqlite3_bind_int64(st, 8, c->started_at_ms);
	sqlite3_bind_int64(st, 9, c->finished_at_ms);
	sqlite3_bind_double(st, 10, c->duration_seconds);
	bind_text(st, 11, c->callback_url ? c->callback_url : "");
	bind_text(st, 12, c->error ? c->error : "");
	bind_text(st, 13, c->result_headers);
	bind_result(st, 14, c);
	return run(st);
}

/* Commits a batch of inserts in one transaction. A record that cannot be
 * stored (its id is taken) fails alone: SQLite undoes that statement and
 * the transaction goes on. Any other failure fails the whole batch. */
static void commit_batch(struct store *s, struct store_ticket *batch)
{
	struct store_ticket *t;
	uint64_t queued = 0;
	int rc;

	lock(s);
	rc = begin(s);
	for (t = batch; t; t = t->next) {
		if (rc) {
			t->rc = rc;
			continue;
		}
		t->rc = insert_call(s, t->call);
		if (!t->rc && t->call->status == STORE_CALL_QUEUED)
			queued++;
		if (t->rc && t->rc != -ERR_EXISTS && t->rc != -ERR_INVALID)
			rc = t->rc;
	}
	rc = finish(s, rc);
	if (rc) {
		for (t = batch; t; t = t->next)
			if (!t->rc)
				t->rc = rc;
	} else {
		s->queued += queued;
	}
	unlock(s);
}

/*
 * Group commit. An insert is queued; whoever finds nobody committing takes
 * the queue and commits it in one transaction, then marks each ticket
 * done. The async publisher does it once a batch of calls has gone to
 * JetStream and before it reads the acks (store_call_insert_run), so the
 * records of a batch are one commit, written while nats-server stores the
 * messages; a waiter whose insert is still queued with nobody committing
 * does it itself (store_call_insert_wait), so nothing waits on a thread
 * that is not coming.
 *
 * Called with q_lock held and nobody leading; returns with it held. One
 * batch per call.
 */
static void lead_commit(struct store *s)
{
	struct store_ticket *batch, *t, *next;
	uint64_t n;

	s->leading = true;
	batch = s->q_head;
	for (t = batch, n = 1; t->next && n < GROUP_MAX; t = t->next)
		n++;
	s->q_head = t->next;
	if (!s->q_head)
		s->q_tail = NULL;
	t->next = NULL;
	pthread_mutex_unlock(&s->q_lock);

	commit_batch(s, batch);

	pthread_mutex_lock(&s->q_lock);
	/* A ticket may vanish once done is set and the lock dropped: read
	 * next first, and signal under the lock. */
	for (t = batch; t; t = next) {
		next = t->next;
		t->done = true;
		if (t->waiting)
			pthread_cond_signal(&t->done_cond);
	}
	s->finished += n;
	s->leading = false;
	/* Inserts queued meanwhile: a caller already waiting for one takes
	 * the lead (store_call_insert_wait); the others commit in time. */
	for (t = s->q_head; t; t = t->next) {
		if (t->waiting) {
			pthread_cond_signal(&t->done_cond);
			break;
		}
	}
	pthread_cond_broadcast(&s->sync_cond);
}

int store_call_insert_start(struct store *s, const struct store_call *c, struct store_ticket *t)
{
	if (!s || !c || !t || !c->id || !c->function || !c->namespace ||
	    (unsigned)c->status >= STORE_CALL_NSTATUS)
		return -EINVAL;
	memset(t, 0, sizeof(*t));
	t->call = c;
	pthread_cond_init(&t->done_cond, NULL);
	pthread_mutex_lock(&s->q_lock);
	if (s->q_tail)
		s->q_tail->next = t;
	else
		s->q_head = t;
	s->q_tail = t;
	s->started++;
	pthread_mutex_unlock(&s->q_lock);
	return 0;
}

void store_call_insert_run(struct store *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->q_lock);
	if (!s->leading && s->q_head)
		lead_commit(s);
	pthread_mutex_unlock(&s->q_lock);
}

int store_call_insert_wait(struct store *s, struct store_ticket *t)
{
	int rc;

	pthread_mutex_lock(&s->q_lock);
	t->waiting = true;
	while (!t->done) {
		/* Not done and nobody committing: it is still queued. */
		if (!s->leading && s->q_head)
			lead_commit(s);
		else
			pthread_cond_wait(&t->done_cond, &s->q_lock);
	}
	rc = t->rc;
	pthread_mutex_unlock(&s->q_lock);
	pthread_cond_destroy(&t->done_cond);
	return rc;
}

int store_call_insert(struct store *s, const struct store_call *c)
{
	struct store_ticket t;
	int rc = store_call_insert_start(s, c, &t);

	return rc ? rc : store_call_insert_wait(s, &t);
}

void store_call_sync(struct store *s)
{
	uint64_t upto;

	if (!s)
		return;
	pthread_mutex_lock(&s->q_lock);
	upto = s->started;
	while (s->finished < upto) {
		if (!s->leading && s->q_head)
			lead_commit(s);
		else
			pthread_cond_wait(&s->sync_cond, &s->q_lock);
	}
	pthread_mutex_unlock(&s->q_lock);
}

int store_call_get(struct store *s, const char *id, struct store_call *out)
{
	sqlite3_stmt *st;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!s || !id)
		return -EINVAL;
	lock(s);
	st = use(s, ST_CALL_GET);
	bind_text(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = read_call(st, true, out);
	else
		rc = rc == SQLITE_DONE ? -ERR_NOT_FOUND : map_rc(rc);
	done(st, 0);
	unlock(s);
	return rc;
}

/* 0 if id is stored, -ERR_NOT_FOUND if not; *status gets its status. */
static int call_status_of(struct store *s, const char *id, enum store_call_status *status)
{
	sqlite3_stmt *st = use(s, ST_CALL_STATUS_OF);
	int rc;

	bind_text(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = store_call_status_parse((const char *)sqlite3_column_text(st, 0), status);
	else
		rc = rc == SQLITE_DONE ? -ERR_NOT_FOUND : map_rc(rc);
	return done(st, rc);
}

/* Keeps the count of queued records through a committed change of one
 * record's status. Caller holds the lock. */
static void count_change(struct store *s, enum store_call_status from, enum store_call_status to)
{
	if (from == STORE_CALL_QUEUED && to != STORE_CALL_QUEUED && s->queued)
		s->queued--;
	else if (from != STORE_CALL_QUEUED && to == STORE_CALL_QUEUED)
		s->queued++;
}

int store_call_update(struct store *s, const struct store_call *c, bool *applied)
{
	enum store_call_status cur;
	sqlite3_stmt *st;
	bool changed = false;
	int rc;

	if (applied)
		*applied = false;
	if (!s || !c || !c->id || (unsigned)c->status >= STORE_CALL_NSTATUS)
		return -EINVAL;
	lock(s);
	/* The status it had, for the count of queued records. */
	rc = call_status_of(s, c->id, &cur);
	if (rc) {
		unlock(s);
		return rc;
	}
	st = use(s, ST_CALL_UPDATE);
	bind_text(st, 1, c->id);
	bind_text(st, 2, store_call_status_name(c->status));
	sqlite3_bind_int(st, 3, c->attempts);
	sqlite3_bind_int(st, 4, c->status_code);
	sqlite3_bind_int64(st, 5, c->started_at_ms);
	sqlite3_bind_int64(st, 6, c->finished_at_ms);
	sqlite3_bind_double(st, 7, c->duration_seconds);
	bind_text(st, 8, c->error ? c->error : "");
	bind_result(st, 9, c);
	bind_text(st, 10, c->result_headers);
	sqlite3_bind_int(st, 11, status_step(c->status));
	rc = run(st);
	if (!rc) {
		/* Nothing changed: a report that is too old. */
		changed = sqlite3_changes(s->db) > 0;
		if (changed)
			count_change(s, cur, c->status);
	}
	unlock(s);
	if (!rc && applied)
		*applied = changed;
	return rc;
}

/* Runs a conditional state change on id, which takes a record from status
 * from (the statement's condition) to to; tells "absent" from "not in a
 * state that allows it" when nothing changed. */
static int call_transition(struct store *s, enum stmt_id id_stmt, const char *id,
			   int64_t now, enum store_call_status from, enum store_call_status to)
{
	enum store_call_status cur;
	sqlite3_stmt *st;
	int rc;

	if (!s || !id)
		return -EINVAL;
	lock(s);
	st = use(s, id_stmt);
	bind_text(st, 1, id);
	sqlite3_bind_int64(st, 2, now);
	rc = run(st);
	if (!rc && sqlite3_changes(s->db) == 0) {
		rc = call_status_of(s, id, &cur);
		if (!rc)
			rc = -ERR_INVALID;
	} else if (!rc) {
		count_change(s, from, to);
	}
	unlock(s);
	return rc;
}

int store_call_cancel(struct store *s, const char *id, int64_t now)
{
	return call_transition(s, ST_CALL_CANCEL, id, now, STORE_CALL_QUEUED,
			       STORE_CALL_CANCELLED);
}

int store_call_requeue(struct store *s, const char *id, int64_t now)
{
	/* From dead-letter or failed: both count the same. */
	return call_transition(s, ST_CALL_REQUEUE, id, now, STORE_CALL_DEAD_LETTER,
			       STORE_CALL_QUEUED);
}

int store_call_delete(struct store *s, const char *id)
{
	enum store_call_status cur;
	sqlite3_stmt *st;
	int rc;

	if (!s || !id)
		return -EINVAL;
	lock(s);
	rc = call_status_of(s, id, &cur);
	if (!rc) {
		st = use(s, ST_CALL_DELETE);
		bind_text(st, 1, id);
		rc = write_one(s, st);
	}
	if (!rc && cur == STORE_CALL_QUEUED && s->queued)
		s->queued--;
	unlock(s);
	return rc;
}

/* Steps st (bound, lock held) and appends its rows to *arr: 0 or a code. */
static int read_rows(sqlite3_stmt *st, struct store_call **arr, size_t *cap, size_t *count)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		rc = grow((void **)arr, cap, *count, sizeof(**arr));
		if (!rc)
			rc = read_call(st, false, &(*arr)[*count]);
		if (rc)
			break;
		(*count)++;
	}
	if (rc == SQLITE_DONE)
		rc = 0;
	else if (rc > 0)
		rc = map_rc(rc);
	return done(st, rc);
}

static void bind_filter(sqlite3_stmt *st, const struct store_call_filter *f)
{
	if (!f)
		return;
	bind_text(st, 1, f->function);
	bind_text(st, 2, f->namespace);
	if (f->status >= 0 && f->status != STORE_CALL_QUEUED)
		bind_text(st, 3, store_call_status_name((enum store_call_status)f->status));
}

/* The queued records of store_call_list, LIST_QUEUED_SLICE rows of the
 * table at a time; at most their number, so the walk ends at the oldest. */
static int list_queued(struct store *s, const struct store_call_filter *f, size_t limit,
		       struct store_call **arr, size_t *cap, size_t *count)
{
	sqlite3_stmt *st;
	int64_t top = 0;
	int rc;

	lock(s);
	if (s->queued < limit)
		limit = (size_t)s->queued;
	st = use(s, ST_CALL_LAST_SEQ);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		top = sqlite3_column_int64(st, 0);
	rc = done(st, rc == SQLITE_ROW ? 0 : map_rc(rc));
	unlock(s);
	for (; !rc && top > 0 && *count < limit; top -= LIST_QUEUED_SLICE) {
		lock(s);
		st = use(s, ST_CALL_LIST_QUEUED);
		bind_filter(st, f);
		sqlite3_bind_int64(st, 4, (sqlite3_int64)(limit - *count));
		sqlite3_bind_int64(st, 5, top);
		sqlite3_bind_int64(st, 6, LIST_QUEUED_SLICE);
		rc = read_rows(st, arr, cap, count);
		unlock(s);
	}
	return rc;
}

int store_call_list(struct store *s, const struct store_call_filter *f, struct store_call **out,
		    size_t *n)
{
	struct store_call *arr = NULL;
	size_t cap = 0, count = 0, limit = STORE_CALL_LIST_MAX;
	sqlite3_stmt *st;
	int rc;

	*out = NULL;
	*n = 0;
	if (!s)
		return -EINVAL;
	if (f && f->status >= STORE_CALL_NSTATUS)
		return -EINVAL;
	if (f && f->limit > 0 && f->limit < limit)
		limit = f->limit;
	if (f && f->status == STORE_CALL_QUEUED) {
		rc = list_queued(s, f, limit, &arr, &cap, &count);
	} else {
		lock(s);
		st = use(s, f && f->status >= 0 ? ST_CALL_LIST_STATUS : ST_CALL_LIST);
		bind_filter(st, f);
		sqlite3_bind_int64(st, 4, (sqlite3_int64)limit);
		rc = read_rows(st, &arr, &cap, &count);
		unlock(s);
	}
	if (rc) {
		store_call_list_free(arr, count);
		return rc;
	}
	*out = arr;
	*n = count;
	return 0;
}

int store_call_prune(struct store *s, int64_t before_ms, size_t *deleted)
{
	sqlite3_stmt *st;
	size_t n = 0;
	int rc, step;

	if (deleted)
		*deleted = 0;
	if (!s)
		return -EINVAL;
	/* One short statement at a time, each in its own transaction, so
	 * inserts get the lock in between. */
	do {
		lock(s);
		st = use(s, ST_CALL_PRUNE);
		sqlite3_bind_int64(st, 1, before_ms);
		sqlite3_bind_int(st, 2, PRUNE_BATCH);
		rc = run(st);
		step = rc ? 0 : sqlite3_changes(s->db);
		unlock(s);
		n += (size_t)step;
	} while (!rc && step == PRUNE_BATCH);
	if (deleted)
		*deleted = n;
	return rc;
}

int store_call_count(struct store *s, enum store_call_status status, size_t *n)
{
	sqlite3_stmt *st;
	int rc;

	*n = 0;
	if (!s || (unsigned)status >= STORE_CALL_NSTATUS)
		return -EINVAL;
	lock(s);
	if (status == STORE_CALL_QUEUED) {
		*n = (size_t)s->queued;
		unlock(s);
		return 0;
	}
	st = use(s, ST_CALL_COUNT);
	bind_text(st, 1, store_call_status_name(status));
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*n = (size_t)sqlite3_column_int64(st, 0);
		rc = 0;
	} else {
		rc = map_rc(rc);
	}
	done(st, 0);
	unlock(s);
	return rc;
}
