/*
 * logstore.c - per-function replica logs in size-capped files.
 *
 * File format: one record per entry,
 *
 *     <ts_ns> <instance> <len>:<len bytes of text>\n
 *
 * The length prefix makes the text binary-safe; the trailing '\n' lets a
 * reader that meets a damaged record (a crash in the middle of a write)
 * resynchronise at the next line. When a function's log is first touched
 * after a start its .log file is scanned once: that finds the newest
 * timestamp and cuts a half-written record off the end.
 *
 * To spare followers a scan of the whole file for every new line, the
 * store remembers the timestamps and offsets of the newest LS_RING records
 * of each .log file; a read that starts after one of them (the cursor of a
 * follower, or a tail that fits) seeks straight to it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "logstore.h"
#include "spawn.h"
#include "banned.h"

#define LS_RING 1024            /* remembered records per .log file */
#define LS_MAX_OPEN 64          /* append fds kept open at once */
#define LS_NAME_MAX 253
#define LS_INSTANCE_MAX 127
#define LS_HEAD_MAX 192         /* "<ts> <instance> <len>:" */
#define LS_REC_MAX (LS_HEAD_MAX + LOGSTORE_MAX_ENTRY + 1)
#define LS_BUF_SIZE (LS_REC_MAX + 64u * 1024)

struct ls_mark {
	int64_t ts;
	off_t off;
};

struct ls_fn {
	struct ls_fn *next;
	char *ns, *name;
	char *path;          /* <dir>/<ns>/<name>.log */
	char *path1;         /* <dir>/<ns>/<name>.log.1 */
	int fd;              /* append fd of path, or -1 */
	off_t size;          /* of path */
	int64_t last_ts;     /* newest entry of the function, 0 if none */
	int64_t old_max_ts;  /* no entry in path1 is newer than this */
	uint64_t used;       /* for closing the least recently used fd */
	/* The newest records of path, oldest first, in a circular array. */
	struct ls_mark ring[LS_RING];
	size_t ring_start, ring_n;
	bool ring_whole;     /* the ring holds every record of path */
};

struct logstore {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	char *dir;
	size_t cap;
	struct ls_fn *fns;
	size_t nopen;
	uint64_t tick;
};

/* A buffered reader over [pos, end) of a file, with pread. */
struct ls_reader {
	int fd;
	off_t fpos;          /* next file offset to read */
	off_t end;
	char *data;
	size_t start, len;   /* unconsumed bytes: data[start .. start+len) */
};

/* A parsed record; text points into the reader's buffer. */
struct ls_rec {
	int64_t ts;
	off_t off;           /* file offset of the record */
	off_t next;          /* file offset just after it */
	char instance[LS_INSTANCE_MAX + 1];
	char *text;
	size_t len;
};

static int64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static bool name_ok(const char *s)
{
	size_t n;

	if (!s || !*s || *s == '.')
		return false;
	n = strnlen(s, LS_NAME_MAX + 1);
	if (n > LS_NAME_MAX || memchr(s, '/', n))
		return false;
	return true;
}

static char *join(const char *a, const char *b, const char *c, const char *d)
{
	struct buf b2;

	buf_init(&b2, 4096);
	if (buf_printf(&b2, "%s%s%s%s", a, b, c ? c : "", d ? d : "")) {
		buf_release(&b2);
		return NULL;
	}
	return buf_detach(&b2, NULL);
}

/* ---- reading records ------------------------------------------------ */

static void reader_init(struct ls_reader *r, int fd, off_t start, off_t end, char *data)
{
	r->fd = fd;
	r->fpos = start;
	r->end = end;
	r->data = data;
	r->start = r->len = 0;
}

/* Makes at least n bytes available (fewer at the end of the range).
 * Returns the bytes available or a negative errno. */
static ssize_t reader_fill(struct ls_reader *r, size_t n)
{
	if (r->len >= n)
		return (ssize_t)r->len;
	if (r->start) {
		memmove(r->data, r->data + r->start, r->len);
		r->start = 0;
	}
	while (r->len < n && r->fpos < r->end) {
		size_t room = LS_BUF_SIZE - r->len;
		ssize_t got;

		if ((off_t)room > r->end - r->fpos)
			room = (size_t)(r->end - r->fpos);
		got = pread(r->fd, r->data + r->len, room, r->fpos);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (got == 0) {
			r->end = r->fpos;
			break;
		}
		r->len += (size_t)got;
		r->fpos += got;
	}
	return (ssize_t)r->len;
}

static off_t reader_offset(const struct ls_reader *r)
{
	return r->fpos - (off_t)r->len;
}

static void reader_skip(struct ls_reader *r, size_t n)
{
	r->start += n;
	r->len -= n;
}

/* Parses the head "<ts> <instance> <len>:" at p (avail bytes). Returns the
 * head's length, or 0 if malformed or incomplete. */
static size_t parse_head(const char *p, size_t avail, struct ls_rec *rec)
{
	size_t i = 0, k = 0;
	uint64_t ts = 0, len = 0;

	while (i < avail && i < 19 && p[i] >= '0' && p[i] <= '9')
		ts = ts * 10 + (uint64_t)(p[i++] - '0');
	if (i == 0 || i >= avail || p[i++] != ' ')
		return 0;
	while (i < avail && p[i] != ' ' && k < LS_INSTANCE_MAX &&
	       (unsigned char)p[i] > ' ' && p[i] != 0x7f)
		rec->instance[k++] = p[i++];
	if (k == 0 || i >= avail || p[i++] != ' ')
		return 0;
	rec->instance[k] = '\0';
	k = i;
	while (i < avail && i - k < 6 && p[i] >= '0' && p[i] <= '9')
		len = len * 10 + (uint64_t)(p[i++] - '0');
	if (i == k || i >= avail || p[i++] != ':' || len > LOGSTORE_MAX_ENTRY)
		return 0;
	rec->ts = (int64_t)ts;
	rec->len = (size_t)len;
	return i;
}

/* Reads the next record. 1 with *rec filled, 0 at the end, or a negative
 * errno. A damaged record is skipped up to the next '\n'. */
static int reader_next(struct ls_reader *r, struct ls_rec *rec)
{
	for (;;) {
		ssize_t avail = reader_fill(r, LS_HEAD_MAX);
		size_t head;
		char *p, *nl;

		if (avail <= 0)
			return (int)avail;
		p = r->data + r->start;
		head = parse_head(p, (size_t)avail, rec);
		if (head) {
			avail = reader_fill(r, head + rec->len + 1);
			if (avail < 0)
				return (int)avail;
			p = r->data + r->start;
			if ((size_t)avail < head + rec->len + 1)
				return 0; /* a record cut short at the end */
			if (p[head + rec->len] == '\n') {
				rec->off = reader_offset(r);
				rec->text = p + head;
				rec->text[rec->len] = '\0';
				reader_skip(r, head + rec->len + 1);
				rec->next = reader_offset(r);
				return 1;
			}
		}
		/* Damaged: resume after the next newline. */
		reader_skip(r, 1);
		for (;;) {
			avail = reader_fill(r, 1);
			if (avail <= 0)
				return (int)avail;
			p = r->data + r->start;
			nl = memchr(p, '\n', (size_t)avail);
			if (nl) {
				reader_skip(r, (size_t)(nl - p) + 1);
				break;
			}
			reader_skip(r, (size_t)avail);
		}
	}
}

/* ---- per-function state ----------------------------------------------- */

static void ring_reset(struct ls_fn *fs)
{
	fs->ring_start = fs->ring_n = 0;
	fs->ring_whole = true;
}

static void ring_push(struct ls_fn *fs, int64_t ts, off_t off)
{
	size_t i;

	if (fs->ring_n == LS_RING) {
		fs->ring_start = (fs->ring_start + 1) % LS_RING;
		fs->ring_n--;
		fs->ring_whole = false;
	}
	i = (fs->ring_start + fs->ring_n) % LS_RING;
	fs->ring[i].ts = ts;
	fs->ring[i].off = off;
	fs->ring_n++;
}

static const struct ls_mark *ring_at(const struct ls_fn *fs, size_t i)
{
	return &fs->ring[(fs->ring_start + i) % LS_RING];
}

static void fn_close(struct logstore *ls, struct ls_fn *fs)
{
	if (fs->fd >= 0) {
		close(fs->fd);
		fs->fd = -1;
		ls->nopen--;
	}
}

static void fn_free(struct ls_fn *fs)
{
	if (!fs)
		return;
	free(fs->ns);
	free(fs->name);
	free(fs->path);
	free(fs->path1);
	free(fs);
}

static struct ls_fn *fn_find(struct logstore *ls, const char *ns, const char *name)
{
	struct ls_fn *fs;

	for (fs = ls->fns; fs; fs = fs->next)
		if (!strcmp(fs->ns, ns) && !strcmp(fs->name, name))
			return fs;
	return NULL;
}

/* Scans path (filling the ring, the newest timestamp and the end of the
 * last whole record) or, with ring NULL, only finds the newest timestamp
 * and the oldest. Missing files count as empty. */
static int scan_file(const char *path, struct ls_fn *ring, int64_t *first, int64_t *last,
		     off_t *good_end, off_t *file_size)
{
	struct ls_reader r;
	struct ls_rec rec;
	struct stat st;
	char *data = NULL;
	int fd, rc;

	*first = *last = 0;
	*good_end = *file_size = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	*file_size = st.st_size;
	data = malloc(LS_BUF_SIZE);
	if (!data) {
		rc = -ENOMEM;
		goto out;
	}
	reader_init(&r, fd, 0, st.st_size, data);
	while ((rc = reader_next(&r, &rec)) == 1) {
		if (!*first)
			*first = rec.ts;
		*last = rec.ts;
		*good_end = rec.next;
		if (ring)
			ring_push(ring, rec.ts, rec.off);
	}
out:
	free(data);
	close(fd);
	return rc;
}

/* Finds the state of (ns, name), loading it from its files when they exist
 * (or, with create, also when they do not). NULL with *rc = 0 when there is
 * no log and create is false. */
static struct ls_fn *fn_get(struct logstore *ls, const char *ns, const char *name,
			    bool create, int *rc)
{
	struct ls_fn *fs = fn_find(ls, ns, name);
	int64_t first, last, first1, last1;
	off_t good_end, size, end1, size1;

	*rc = 0;
	if (fs) {
		fs->used = ++ls->tick;
		return fs;
	}
	fs = calloc(1, sizeof(*fs));
	if (!fs) {
		*rc = -ENOMEM;
		return NULL;
	}
	fs->fd = -1;
	ring_reset(fs);
	fs->ns = strdup(ns);
	fs->name = strdup(name);
	fs->path = join(ls->dir, "/", ns, NULL);
	if (fs->path) {
		char *dirpath = fs->path;

		fs->path = join(dirpath, "/", name, ".log");
		fs->path1 = join(dirpath, "/", name, ".log.1");
		free(dirpath);
	}
	if (!fs->ns || !fs->name || !fs->path || !fs->path1) {
		*rc = -ENOMEM;
		goto fail;
	}
	if (!create && access(fs->path, F_OK) < 0 && access(fs->path1, F_OK) < 0)
		goto fail;
	*rc = scan_file(fs->path, fs, &first, &last, &good_end, &size);
	if (*rc)
		goto fail;
	if (size > good_end) {
		/* A record cut short by a crash: drop it so appends stay readable. */
		if (truncate(fs->path, good_end) < 0) {
			*rc = -errno;
			goto fail;
		}
	}
	fs->size = good_end;
	if (last) {
		fs->last_ts = last;
		fs->old_max_ts = first - 1;
	} else {
		*rc = scan_file(fs->path1, NULL, &first1, &last1, &end1, &size1);
		if (*rc)
			goto fail;
		fs->last_ts = fs->old_max_ts = last1;
	}
	fs->used = ++ls->tick;
	fs->next = ls->fns;
	ls->fns = fs;
	return fs;
fail:
	fn_free(fs);
	return NULL;
}

static int mkdir_one(const char *path)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Opens the append fd of fs, closing the least recently used one when too
 * many are open. */
static int fn_open(struct logstore *ls, struct ls_fn *fs)
{
	char *dirpath;
	int rc;

	if (fs->fd >= 0)
		return 0;
	if (ls->nopen >= LS_MAX_OPEN) {
		struct ls_fn *it, *lru = NULL;

		for (it = ls->fns; it; it = it->next)
			if (it->fd >= 0 && (!lru || it->used < lru->used))
				lru = it;
		if (lru)
			fn_close(ls, lru);
	}
	dirpath = join(ls->dir, "/", fs->ns, NULL);
	if (!dirpath)
		return -ENOMEM;
	rc = mkdir_one(dirpath);
	free(dirpath);
	if (rc)
		return rc;
	fs->fd = open(fs->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fs->fd < 0)
		return -errno;
	ls->nopen++;
	return 0;
}

static int fn_rotate(struct logstore *ls, struct ls_fn *fs)
{
	fn_close(ls, fs);
	if (rename(fs->path, fs->path1) < 0 && errno != ENOENT)
		return -errno;
	fs->old_max_ts = fs->last_ts;
	fs->size = 0;
	ring_reset(fs);
	return fn_open(ls, fs);
}

/* ---- public API --------------------------------------------------------- */

int logstore_new(const char *dir, size_t cap, struct logstore **out)
{
	struct logstore *ls;
	pthread_condattr_t ca;
	int rc;

	*out = NULL;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	ls = calloc(1, sizeof(*ls));
	if (!ls)
		return -ENOMEM;
	ls->dir = strdup(dir);
	if (!ls->dir) {
		free(ls);
		return -ENOMEM;
	}
	ls->cap = cap ? cap : LOGSTORE_DEFAULT_CAP;
	pthread_mutex_init(&ls->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	rc = pthread_cond_init(&ls->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (rc) {
		pthread_mutex_destroy(&ls->mu);
		free(ls->dir);
		free(ls);
		return -rc;
	}
	*out = ls;
	return 0;
}

void logstore_free(struct logstore *ls)
{
	struct ls_fn *fs, *next;

	if (!ls)
		return;
	for (fs = ls->fns; fs; fs = next) {
		next = fs->next;
		fn_close(ls, fs);
		fn_free(fs);
	}
	pthread_cond_destroy(&ls->cond);
	pthread_mutex_destroy(&ls->mu);
	free(ls->dir);
	free(ls);
}

int logstore_append(struct logstore *ls, const char *ns, const char *name,
		    const char *instance, const void *text, size_t len)
{
	char head[LS_HEAD_MAX], inst[LS_INSTANCE_MAX + 1];
	struct iovec iov[3];
	struct ls_fn *fs;
	size_t n = 0, rec;
	ssize_t wrote;
	int64_t ts;
	int hlen, rc;

	if (!name_ok(ns) || !name_ok(name))
		return -ERR_INVALID;
	if (len > LOGSTORE_MAX_ENTRY)
		return -ERR_TOO_BIG;
	for (; instance && instance[n] && n < LS_INSTANCE_MAX; n++) {
		unsigned char c = (unsigned char)instance[n];
		inst[n] = c <= ' ' || c == 0x7f ? '_' : (char)c;
	}
	if (n == 0)
		inst[n++] = '-';
	inst[n] = '\0';

	pthread_mutex_lock(&ls->mu);
	fs = fn_get(ls, ns, name, true, &rc);
	if (!fs)
		goto out;
	if ((rc = fn_open(ls, fs)))
		goto out;
	ts = real_ns();
	if (ts <= fs->last_ts)
		ts = fs->last_ts + 1;
	hlen = snprintf(head, sizeof(head), "%lld %s %zu:", (long long)ts, inst, len);
	rec = (size_t)hlen + len + 1;
	if (fs->size > 0 && (size_t)fs->size + rec > ls->cap && (rc = fn_rotate(ls, fs)))
		goto out;
	iov[0].iov_base = head;
	iov[0].iov_len = (size_t)hlen;
	iov[1].iov_base = (void *)text;
	iov[1].iov_len = len;
	iov[2].iov_base = "\n";
	iov[2].iov_len = 1;
	do
		wrote = writev(fs->fd, iov, 3);
	while (wrote < 0 && errno == EINTR);
	if (wrote != (ssize_t)rec) {
		rc = wrote < 0 ? -errno : -EIO;
		/* Take a partial record back so the file stays well formed. */
		if (ftruncate(fs->fd, fs->size) < 0)
			fn_close(ls, fs);
		goto out;
	}
	ring_push(fs, ts, fs->size);
	fs->size += (off_t)rec;
	fs->last_ts = ts;
	pthread_cond_broadcast(&ls->cond);
out:
	pthread_mutex_unlock(&ls->mu);
	return rc;
}

/* One file region of a read snapshot. */
struct ls_src {
	int fd;
	off_t start, end;
};

static bool rec_matches(const struct ls_rec *rec, const struct logstore_query *q)
{
	return rec->ts >= q->since_ns && (!q->instance || !strcmp(q->instance, rec->instance));
}

/* Goes over the sources: counts the matching records into *count when
 * cb is NULL, else delivers them after skipping the first skip. */
static int read_pass(struct ls_src *src, size_t nsrc, const struct logstore_query *q,
		     char *data, size_t skip, size_t *count, logstore_cb cb, void *ctx)
{
	struct ls_reader r;
	struct ls_rec rec;
	size_t i;
	int rc;

	for (i = 0; i < nsrc; i++) {
		if (src[i].fd < 0)
			continue;
		reader_init(&r, src[i].fd, src[i].start, src[i].end, data);
		while ((rc = reader_next(&r, &rec)) == 1) {
			struct logstore_entry e;

			if (!rec_matches(&rec, q))
				continue;
			if (!cb) {
				(*count)++;
				continue;
			}
			if (skip) {
				skip--;
				continue;
			}
			e.ts_ns = rec.ts;
			e.instance = rec.instance;
			e.text = rec.text;
			e.len = rec.len;
			if ((rc = cb(ctx, &e)) != 0)
				return rc;
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

int logstore_read(struct logstore *ls, const char *ns, const char *name,
		  const struct logstore_query *q, logstore_cb cb, void *ctx,
		  int64_t *cursor)
{
	static const struct logstore_query all;
	struct ls_src src[2] = { { -1, 0, 0 }, { -1, 0, 0 } };
	struct ls_fn *fs;
	struct stat st;
	char *data = NULL;
	size_t skip = 0, count = 0, i;
	int64_t last = 0;
	bool old_needed, tail_done = false;
	int rc = 0;

	if (!q)
		q = &all;
	if (!name_ok(ns) || !name_ok(name))
		return -ERR_INVALID;
	pthread_mutex_lock(&ls->mu);
	fs = fn_get(ls, ns, name, false, &rc);
	if (!fs) {
		pthread_mutex_unlock(&ls->mu);
		goto done;
	}
	last = fs->last_ts;
	old_needed = q->since_ns <= fs->old_max_ts;
	src[1].end = fs->size;
	if (fs->ring_n) {
		/* The first remembered record that the since filter keeps. */
		for (i = 0; i < fs->ring_n && ring_at(fs, i)->ts < q->since_ns; i++)
			;
		if (i > 0) {
			src[1].start = i < fs->ring_n ? ring_at(fs, i)->off : fs->size;
			old_needed = false;
		}
		if (q->tail && !q->instance && fs->ring_n - i >= q->tail) {
			src[1].start = ring_at(fs, fs->ring_n - q->tail)->off;
			old_needed = false;
			tail_done = true;
		}
	}
	src[1].fd = open(fs->path, O_RDONLY | O_CLOEXEC);
	if (old_needed) {
		src[0].fd = open(fs->path1, O_RDONLY | O_CLOEXEC);
		if (src[0].fd >= 0 && fstat(src[0].fd, &st) == 0)
			src[0].end = st.st_size;
	}
	pthread_mutex_unlock(&ls->mu);

	data = malloc(LS_BUF_SIZE);
	if (!data) {
		rc = -ENOMEM;
		goto done;
	}
	if (q->tail && !tail_done) {
		rc = read_pass(src, 2, q, data, 0, &count, NULL, NULL);
		if (rc)
			goto done;
		skip = count > q->tail ? count - q->tail : 0;
	}
	rc = read_pass(src, 2, q, data, skip, &count, cb, ctx);
done:
	free(data);
	for (i = 0; i < 2; i++)
		if (src[i].fd >= 0)
			close(src[i].fd);
	if (cursor)
		*cursor = last > q->since_ns - 1 ? last : q->since_ns - 1;
	return rc;
}

int logstore_wait(struct logstore *ls, const char *ns, const char *name,
		  int64_t cursor, int64_t deadline_ms)
{
	struct ls_fn *fs;
	int rc;

	if (!name_ok(ns) || !name_ok(name))
		return -ERR_INVALID;
	pthread_mutex_lock(&ls->mu);
	for (;;) {
		struct timespec ts;

		fs = fn_get(ls, ns, name, false, &rc);
		if (fs && fs->last_ts > cursor) {
			rc = 0;
			break;
		}
		if (!deadline_ms || mono_ms() >= deadline_ms) {
			rc = -ERR_TIMEOUT;
			break;
		}
		ts.tv_sec = deadline_ms / 1000;
		ts.tv_nsec = (deadline_ms % 1000) * 1000000;
		pthread_cond_timedwait(&ls->cond, &ls->mu, &ts);
	}
	pthread_mutex_unlock(&ls->mu);
	return rc;
}

int logstore_remove(struct logstore *ls, const char *ns, const char *name)
{
	struct ls_fn **pp, *fs;
	char *path, *dirpath;

	if (!name_ok(ns) || !name_ok(name))
		return -ERR_INVALID;
	pthread_mutex_lock(&ls->mu);
	for (pp = &ls->fns; (fs = *pp); pp = &fs->next) {
		if (!strcmp(fs->ns, ns) && !strcmp(fs->name, name)) {
			*pp = fs->next;
			fn_close(ls, fs);
			fn_free(fs);
			break;
		}
	}
	dirpath = join(ls->dir, "/", ns, NULL);
	if (dirpath) {
		if ((path = join(dirpath, "/", name, ".log"))) {
			unlink(path);
			free(path);
		}
		if ((path = join(dirpath, "/", name, ".log.1"))) {
			unlink(path);
			free(path);
		}
		rmdir(dirpath); /* only when no other function of ns has logs */
		free(dirpath);
	}
	pthread_cond_broadcast(&ls->cond);
	pthread_mutex_unlock(&ls->mu);
	return 0;
}
