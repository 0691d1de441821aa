/*
 * logstore.h - replica output, kept per function with a size cap.
 *
 * Every function (namespace + name) has a log made of entries: a Unix
 * timestamp in nanoseconds, the replica instance that wrote it and one line
 * of text (any bytes; a NUL or a stray '\n' inside the text survives). The
 * log lives in two files under the store's directory,
 * <dir>/<namespace>/<name>.log and, once that reaches the cap, the previous
 * one rotated to <name>.log.1, so a function never holds more than about
 * twice the cap on disk. Entries persist: a store opened again over the same
 * directory (a gateway restart) reads what was written before.
 *
 * Timestamps are unique and strictly increasing per function (a clock that
 * steps back cannot reorder a log), so a timestamp doubles as a cursor: a
 * reader that saw everything up to cursor C asks next for entries with
 * since_ns = C + 1, and logstore_wait() blocks until such entries exist,
 * which is how `follow` is served.
 *
 * All calls are thread-safe. Callbacks of logstore_read() run without the
 * store's lock held, so a slow reader never holds up writers.
 */
#ifndef GW_LOGSTORE_H
#define GW_LOGSTORE_H

#include <stddef.h>
#include <stdint.h>

struct logstore;

/* The largest text of one entry; longer appends fail with -ERR_TOO_BIG. */
#define LOGSTORE_MAX_ENTRY (64u * 1024)
/* The cap used when logstore_new() is given 0. */
#define LOGSTORE_DEFAULT_CAP (4u * 1024 * 1024)

/* One entry handed to a read callback. Everything is borrowed for the
 * duration of the callback. */
struct logstore_entry {
	int64_t ts_ns;        /* Unix time in nanoseconds */
	const char *instance; /* NUL-terminated, e.g. "hello-2" */
	const char *text;     /* len bytes, followed by a NUL that is not counted */
	size_t len;
};

/* What a read returns. A zeroed struct means every entry. */
struct logstore_query {
	size_t tail;          /* only the newest tail matching entries; 0: all */
	int64_t since_ns;     /* only entries with ts_ns >= since_ns; 0: all */
	const char *instance; /* only this instance; NULL: all (borrowed) */
};

/* Called once per matching entry, oldest first. Return 0 to go on, or a
 * negative code to stop the read, which then returns that code. */
typedef int (*logstore_cb)(void *ctx, const struct logstore_entry *e);

/* Opens (creating it, mode 0700, if needed) a store in dir; cap is the size
 * in bytes at which a function's log file is rotated (0: the default).
 * dir is copied. *out is freed with logstore_free(). 0 or a negative
 * errno. */
int logstore_new(const char *dir, size_t cap, struct logstore **out);

/* Closes the store; the files stay. No call may be in progress (followers
 * waiting in logstore_wait() included). NULL is fine. */
void logstore_free(struct logstore *ls);

/* Appends one entry stamped with the current time. ns and name must be
 * non-empty, without '/' and not starting with '.' (-ERR_INVALID);
 * instance is stored with spaces and control characters replaced by '_'.
 * text is (text, len), borrowed. 0, -ERR_TOO_BIG (len over
 * LOGSTORE_MAX_ENTRY) or a negative errno from the file system. */
int logstore_append(struct logstore *ls, const char *ns, const char *name,
		    const char *instance, const void *text, size_t len);

/* Calls cb for the entries of (ns, name) that q selects, oldest first,
 * from a snapshot taken at the call: entries appended meanwhile are left
 * for the next read. A function without any log gives no entries and
 * returns 0. *cursor (may be NULL) gets the timestamp to continue from:
 * the next read should ask for since_ns = *cursor + 1. Returns 0, a
 * callback's code, -ERR_INVALID for a bad name or a negative errno. */
int logstore_read(struct logstore *ls, const char *ns, const char *name,
		  const struct logstore_query *q, logstore_cb cb, void *ctx,
		  int64_t *cursor);

/* Blocks until (ns, name) has an entry newer than cursor (0 at once if it
 * has one already) or until deadline_ms (mono_ms() clock; 0 means do not
 * wait). 0 or -ERR_TIMEOUT. */
int logstore_wait(struct logstore *ls, const char *ns, const char *name,
		  int64_t cursor, int64_t deadline_ms);

/* Deletes the log of (ns, name): its files and what the store keeps about
 * it. 0 (also when there was no log) or -ERR_INVALID. */
int logstore_remove(struct logstore *ls, const char *ns, const char *name);

#endif
