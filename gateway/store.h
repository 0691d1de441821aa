/*
 * store.h - the gateway's durable state in one SQLite file (DESIGN.md 7).
 *
 * Three tables: functions (the deployment JSON of each function and its
 * desired replica count), secrets (binary-safe values) and calls (async
 * call records, DESIGN.md 6). The schema is versioned with PRAGMA
 * user_version; store_open applies the missing migrations, each in its own
 * transaction, exactly once.
 *
 * Thread safety: a struct store may be used from any number of threads at
 * once; calls are serialised on one connection. Every write is a single
 * transaction, so a crash never leaves a half-written record.
 *
 * Times: every timestamp is Unix time in milliseconds (int64_t); 0 means
 * "not set". Functions and secrets are stamped by the store's clock; call
 * times are supplied by the caller.
 *
 * Errors: 0 or a negative code (err.h). SQLite failures map to codes:
 * a uniqueness conflict -ERR_EXISTS, another constraint -ERR_INVALID,
 * busy/locked -ERR_UNAVAILABLE, full disk -ENOSPC, out of memory -ENOMEM,
 * a damaged or foreign file -ERR_PARSE, anything else -EIO. A name or id
 * that is not stored gives -ERR_NOT_FOUND. A NULL required argument gives
 * -EINVAL. err_str() describes any of them.
 *
 * Ownership: strings passed in are borrowed for the call. Records handed
 * out are owned by the caller and freed with the matching _release/_free.
 */
#ifndef CFAAS_STORE_H
#define CFAAS_STORE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct store;

/* Opens (creating with mode 0600 if absent) the database at path, tightens
 * an existing file to 0600, sets WAL, a busy timeout, foreign keys and
 * synchronous=FULL, and applies pending migrations. A file whose schema is
 * newer than this binary knows is refused with -ERR_INVALID. *out is new;
 * store_free() it. */
int store_open(const char *path, struct store **out);

/* Closes the database; s may be NULL. No call may be running on s. */
void store_free(struct store *s);

/* The schema version this binary migrates to (for /system/info, tests). */
int store_schema_version(void);

/* ---- functions ---------------------------------------------------------- */

/* replicas < 0 in store_function_put: keep the stored count on update,
 * store this default on insert. */
#define STORE_DEFAULT_REPLICAS 1

struct store_function {
	char *name;
	char *namespace;
	char *deployment;      /* FunctionDeployment JSON, as given to put */
	int64_t replicas;      /* desired */
	int64_t created_at_ms; /* first put; kept on update */
	int64_t updated_at_ms; /* last put or set_replicas */
};

/* Frees what f owns and zeroes it; f may be NULL. */
void store_function_release(struct store_function *f);

/* Frees an array from store_function_list (n entries); fs may be NULL. */
void store_function_list_free(struct store_function *fs, size_t n);

/* Inserts or replaces (namespace, name) with deployment (JSON text, stored
 * as is). replicas >= 0 sets the desired count; < 0 keeps the stored one on
 * update and stores STORE_DEFAULT_REPLICAS on insert. *created (may be
 * NULL) tells whether the function is new. */
int store_function_put(struct store *s, const char *namespace, const char *name,
		       const char *deployment, int64_t replicas, bool *created);

/* Reads one function into *out (caller releases). -ERR_NOT_FOUND if absent;
 * *out is zeroed on failure. */
int store_function_get(struct store *s, const char *namespace, const char *name,
		       struct store_function *out);

/* Lists the functions of namespace (NULL: all), ordered by namespace and
 * name, into a new array *out of *n entries (NULL when 0); the caller frees
 * it with store_function_list_free. */
int store_function_list(struct store *s, const char *namespace, struct store_function **out,
			size_t *n);

/* Deletes one function. -ERR_NOT_FOUND if absent. */
int store_function_delete(struct store *s, const char *namespace, const char *name);

/* Sets the desired replica count (>= 0, else -EINVAL). -ERR_NOT_FOUND if
 * absent. */
int store_function_set_replicas(struct store *s, const char *namespace, const char *name,
				int64_t replicas);

/* ---- secrets ------------------------------------------------------------ */

struct store_secret_info {
	char *name;
	char *namespace;
	int64_t created_at_ms;
	int64_t updated_at_ms;
};

/* Frees an array from store_secret_list; infos may be NULL. */
void store_secret_list_free(struct store_secret_info *infos, size_t n);

/* Creates a secret; value is (value, len) bytes, NUL bytes allowed (value
 * may be NULL when len is 0). -ERR_EXISTS if the name is taken. */
int store_secret_create(struct store *s, const char *namespace, const char *name,
			const void *value, size_t len);

/* Replaces a secret's value. -ERR_NOT_FOUND if absent. */
int store_secret_update(struct store *s, const char *namespace, const char *name,
			const void *value, size_t len);

/* Appends the secret's value to out (read it as (data, len)). -ERR_NOT_FOUND
 * if absent, -ERR_TOO_BIG if it does not fit out's cap (out unchanged). */
int store_secret_get(struct store *s, const char *namespace, const char *name,
		     struct buf *out);

/* Lists the secrets (never their values) of namespace (NULL: all), ordered
 * by namespace and name, into a new array; free with store_secret_list_free. */
int store_secret_list(struct store *s, const char *namespace, struct store_secret_info **out,
		      size_t *n);

/* Deletes a secret. -ERR_NOT_FOUND if absent. */
int store_secret_delete(struct store *s, const char *namespace, const char *name);

/* ---- async call records ------------------------------------------------- */

enum store_call_status {
	STORE_CALL_QUEUED,
	STORE_CALL_RUNNING,
	STORE_CALL_SUCCEEDED,
	STORE_CALL_FAILED,
	STORE_CALL_DEAD_LETTER,
	STORE_CALL_CANCELLED,
	STORE_CALL_NSTATUS
};

/* "queued", "running", "succeeded", "failed", "dead-letter", "cancelled";
 * "unknown" for anything else. Static text. */
const char *store_call_status_name(enum store_call_status st);

/* The reverse; -ERR_INVALID for an unknown name. */
int store_call_status_parse(const char *name, enum store_call_status *out);

/* True for succeeded, failed, dead-letter and cancelled. */
bool store_call_status_final(enum store_call_status st);

/* One call record. Strings are NULL when not set (error and callback_url
 * read back as NULL when empty); result is (result, result_len) bytes, NULL
 * when none. */
struct store_call {
	char *id;
	char *function;
	char *namespace;
	enum store_call_status status;
	int attempts;            /* attempts started so far */
	int status_code;         /* HTTP status of the last attempt; 0 none */
	int64_t queued_at_ms;
	int64_t started_at_ms;   /* start of the last attempt */
	int64_t finished_at_ms;
	double duration_seconds;
	char *callback_url;
	char *error;             /* last error text */
	unsigned char *result;   /* response body, capped by whoever stored it */
	size_t result_len;
	char *result_headers;    /* JSON object text */
};

/* Frees what c owns and zeroes it; c may be NULL. */
void store_call_release(struct store_call *c);

/* Frees an array from store_call_list; cs may be NULL. */
void store_call_list_free(struct store_call *cs, size_t n);

/* Stores a new record from *c (borrowed): id, function, namespace and
 * queued_at_ms are required; every field is stored as given. -ERR_EXISTS if
 * the id is taken. Same as store_call_insert_start then _wait. */
int store_call_insert(struct store *s, const struct store_call *c);

/*
 * Inserts are committed in groups: every insert queued at that moment goes
 * into one transaction, so concurrent async submits share the WAL writes
 * instead of queueing on them. Callers commit: store_call_insert_run
 * commits the queue on the caller's thread (the async publisher runs it
 * once a batch of calls has gone to JetStream), and a waiter whose insert
 * nobody is committing commits the queue itself. There is no thread of the
 * store's own.
 *
 * A ticket is one insert in flight. store_call_insert_start checks *c and
 * queues it; *c and everything it points to must stay valid, and the
 * ticket in place, until store_call_insert_wait has returned. Every ticket
 * that start accepted (returned 0) must be waited for.
 */
struct store_ticket {
	const struct store_call *call;
	struct store_ticket *next;
	pthread_cond_t done_cond;
	int rc;
	bool done;
	bool waiting;
};

/* 0 (the insert is queued), or -EINVAL for a call that cannot be stored. */
int store_call_insert_start(struct store *s, const struct store_call *c,
			    struct store_ticket *t);

/* Commits the queued inserts now, on the caller's thread, unless another
 * thread is committing (then it returns at once). Optional: wait does it
 * too; this lets a caller do it while it would be waiting for something
 * else. */
void store_call_insert_run(struct store *s);

/* Waits for the ticket's insert to be committed (committing the queue
 * itself when nobody else is): its result, as store_call_insert's. */
int store_call_insert_wait(struct store *s, struct store_ticket *t);

/* Waits until every insert started before this call is committed (or has
 * failed), so a record that is not found afterwards does not exist. */
void store_call_sync(struct store *s);

/* Reads one record, result included, into *out (caller releases).
 * -ERR_NOT_FOUND if absent. */
int store_call_get(struct store *s, const char *id, struct store_call *out);

/*
 * Records a progress or outcome report for c->id: status, attempts,
 * status_code, duration_seconds, error, result and result_headers replace
 * the stored ones; started_at_ms and finished_at_ms do when non-zero.
 * Identity fields (function, namespace, queued_at, callback_url) are kept.
 *
 * Reports only move a record forward. A final record (see
 * store_call_status_final) is never changed here. Otherwise a report is
 * applied when it is not older than the record, comparing (attempts, step)
 * where the step within one attempt is running < queued (waiting for the
 * next attempt) < final. So with attempts counting attempts started, the
 * sequence queued/0, running/1, queued/1, running/2, succeeded/2 applies in
 * order, and a late running/1 after any of the later ones is ignored.
 * *applied (may be NULL) tells whether the report was stored. 0 when it was
 * stored or ignored, -ERR_NOT_FOUND for an unknown id.
 */
int store_call_update(struct store *s, const struct store_call *c, bool *applied);

/* Cancels a queued call (finished_at = now_ms). -ERR_NOT_FOUND if absent,
 * -ERR_INVALID if it is not queued. */
int store_call_cancel(struct store *s, const char *id, int64_t now_ms);

/* Moves a dead-letter or failed call back to queued for a new round of
 * attempts: attempts, status_code, times, error and result are cleared and
 * queued_at set to now_ms. -ERR_NOT_FOUND, or -ERR_INVALID in any other
 * state. */
int store_call_requeue(struct store *s, const char *id, int64_t now_ms);

/* Deletes one record whatever its state. -ERR_NOT_FOUND if absent. */
int store_call_delete(struct store *s, const char *id);

#define STORE_CALL_LIST_MAX 1000

struct store_call_filter {
	const char *function;  /* NULL: any */
	const char *namespace; /* NULL: any */
	int status;            /* an enum store_call_status, or -1 for any */
	size_t limit;          /* 0 or above STORE_CALL_LIST_MAX: the max */
};

/* Lists records matching f (NULL: no filter), newest first (in the order
 * they were queued or re-queued), into a new array (free with
 * store_call_list_free). The result body is left out of listed records
 * (result NULL, result_len 0); read it with store_call_get. */
int store_call_list(struct store *s, const struct store_call_filter *f, struct store_call **out,
		    size_t *n);

/* Deletes final records that finished before before_ms; *deleted (may be
 * NULL) gets their number. */
int store_call_prune(struct store *s, int64_t before_ms, size_t *deleted);

/* *n gets the number of records in status: a range of the status index,
 * so as cheap as the records in that status are few. */
int store_call_count(struct store *s, enum store_call_status status, size_t *n);

#endif
