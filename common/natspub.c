/*
 * natspub.c - JetStream publishes from many threads, written together (see
 * natspub.h).
 *
 * The NATS client protocol, as much of it as a publisher needs: the
 * server's INFO, our CONNECT and one wildcard SUB for replies, then HPUB
 * per publish and MSG or HMSG back; PING from the server gets PONG, +OK
 * and later INFO lines are skipped, -ERR ends the connection.
 *
 * Each publish asks for its ack on a reply subject of its own, the
 * connection's inbox and a number counting up, so an ack finds its caller
 * whatever order the server answers in, and a late ack to a publish given
 * up on is recognised and dropped.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <linux/futex.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "natspub.h"
#include "net.h"
#include "spawn.h"
#include "url.h"
#include "banned.h"

#define MAX_SERVERS 8
#define CONNECT_WAIT_MS 2000   /* per server, handshake included */
#define DEFAULT_PORT 4222
#define BATCH_MAX 256              /* publishes one write takes at most... */
#define BATCH_BYTES (4u << 20)     /* ...and payload bytes, past the first */
#define FRESH_AFTER_MS 1000        /* an idle connection is checked before use */
#define HEAD_MAX 200               /* HPUB line and header block, past subject and id */
#define NATSPUB_SUBJECT_MAX 2048   /* NATS reads control lines up to 4 KiB */
#define NATSPUB_ID_MAX 160

struct server {
	char host[256];
	int port;
	char user[256], pass[256], token[256];
};

struct natspub_conn {
	int fd;
	uint64_t asked;        /* replies asked for on this connection */
	int64_t max_payload;
	char inbox[48];        /* "_CFAAS.<random>." */
	struct rbuf rb;
};

/*
 * What a waiting caller is told, through its call's state word: a leader
 * ends it with DONE (its last touch of the call: the caller may return at
 * once), or, while it is queued, asks its caller to lead with LEAD. The
 * caller sleeps on the word itself (a futex), so a woken caller goes its
 * way without taking the publisher's lock, for which it would otherwise
 * queue behind the leader and every other caller woken with it.
 */
enum { CALL_PENDING, CALL_SLEEPING, CALL_LEAD, CALL_DONE };

/* One publish, on its caller's stack from natspub_publish_then until its
 * state is CALL_DONE. next is under the lock; the rest is the caller's
 * until a leader takes the call, and that leader's until it ends it. */
struct natspub_call {
	struct natspub_call *next;   /* in the queue */
	const char *subj, *msg_id;
	const void *data;
	size_t len;
	void (*sent)(void *);
	void *arg;
	int64_t deadline;
	struct natsx_ack *ack;       /* may be NULL */
	struct buf *why;             /* may be NULL */
	int rc;
	bool taken;                  /* in a leader's batch (under the lock) */
	_Atomic int state;           /* CALL_* */
};

/* A call in the leader's batch. Once the call has its answer it is ended
 * and call is NULL: its caller may be gone. */
struct slot {
	struct natspub_call *call;
	int64_t deadline;
	uint64_t sid;                /* reply number of its last copy; 0: not sent */
	size_t head_off, head_len;   /* its HPUB line in the batch's heads */
	size_t end;                  /* where its copy ends in the write */
	bool out;                    /* a copy went out whole: it may be stored */
	bool hooked;                 /* sent(arg) has run */
};

/* The leader's batch: the calls it took from the queue, and what one write
 * of them needs. */
struct batch {
	struct slot slots[BATCH_MAX];
	int n;
	int open;                    /* slots whose call is not ended */
	int sent[BATCH_MAX];         /* slot of each reply number, from first_sid */
	int nsent;
	uint64_t first_sid;
	struct iovec iov[3 * BATCH_MAX];
	struct buf heads;
};

struct natspub {
	pthread_mutex_t lock;
	struct natspub_call *head, *tail; /* queued, not taken by a leader yet */
	bool leading;                     /* a caller runs a batch */
	/* The leader's alone while leading. */
	struct natspub_conn *conn;
	int64_t last_used;                /* mono_ms of the last batch */
	int last_n;                       /* calls in the last batch */
	struct batch batch;
	struct server servers[MAX_SERVERS];
	int nservers;
	char name[64];
};

/* ---- the URL ------------------------------------------------------------------ */

static int unsupported(struct buf *why, const char *what, const char *url)
{
	if (why)
		buf_printf(why, "%s in NATS URL '%s'", what, url);
	return -ENOTSUP;
}

static bool numeric_or_localhost(const char *host)
{
	unsigned char a[16];

	return !strcmp(host, "localhost") || inet_pton(AF_INET, host, a) == 1 ||
	       inet_pton(AF_INET6, host, a) == 1;
}

/* Copies src into dst[cap]; false when it does not fit. */
static bool copy_to(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);

	if (n >= cap)
		return false;
	memcpy(dst, src, n + 1);
	return true;
}

/* Parses one "nats://[cred@]host[:port]" of length n. */
static int parse_server(const char *s, size_t n, struct server *out, struct buf *why)
{
	char url[1024], *p, *at, *hostport, *colon;
	long port = DEFAULT_PORT;

	memset(out, 0, sizeof(*out));
	if (n >= sizeof(url))
		return unsupported(why, "a server address too long", "...");
	memcpy(url, s, n);
	url[n] = '\0';
	if (strncasecmp(url, "nats://", 7))
		return unsupported(why, "a scheme other than nats://", url);
	p = url + 7;
	if (strchr(p, '/') || strchr(p, '?'))
		return unsupported(why, "a path", url);
	at = strrchr(p, '@');
	hostport = p;
	if (at) {
		char *c;

		*at = '\0';
		hostport = at + 1;
		c = strchr(p, ':');
		if (c)
			*c = '\0';
		if (c ? !copy_to(out->user, sizeof(out->user), p) ||
				!copy_to(out->pass, sizeof(out->pass), c + 1) :
			!copy_to(out->token, sizeof(out->token), p))
			return unsupported(why, "credentials too long", "...");
	}
	if (hostport[0] == '[') {
		char *end = strchr(hostport, ']');
		if (!end)
			return unsupported(why, "an unclosed '['", url);
		*end = '\0';
		colon = end[1] == ':' ? end + 1 : NULL;
		hostport++;
	} else {
		colon = strrchr(hostport, ':');
		if (colon)
			*colon = '\0';
	}
	if (!copy_to(out->host, sizeof(out->host), hostport))
		return unsupported(why, "a host name too long", "...");
	if (colon) {
		char *e;
		errno = 0;
		port = strtol(colon + 1, &e, 10);
		if (errno || *e || e == colon + 1 || port < 1 || port > 65535) {
			if (why)
				buf_printf(why, "invalid port in NATS URL");
			return -EINVAL;
		}
	}
	if (!out->host[0]) {
		if (why)
			buf_printf(why, "no host in NATS URL");
		return -EINVAL;
	}
	if (!numeric_or_localhost(out->host))
		return unsupported(why, "a host name (only addresses and localhost)", out->host);
	out->port = (int)port;
	return 0;
}

int natspub_new(const char *url, const char *name, struct natspub **out, struct buf *why)
{
	struct natspub *p;
	const char *s = url, *comma;
	int rc;

	*out = NULL;
	if (!url || !*url) {
		if (why)
			buf_printf(why, "no NATS URL");
		return -EINVAL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	snprintf(p->name, sizeof(p->name), "%s", name ? name : "cfaas");
	while (*s) {
		size_t n;

		while (*s == ' ' || *s == ',')
			s++;
		if (!*s)
			break;
		comma = strchr(s, ',');
		n = comma ? (size_t)(comma - s) : strlen(s);
		while (n && s[n - 1] == ' ')
			n--;
		if (p->nservers == MAX_SERVERS) {
			rc = unsupported(why, "more than 8 servers", url);
			goto fail;
		}
		rc = parse_server(s, n, &p->servers[p->nservers], why);
		if (rc)
			goto fail;
		p->nservers++;
		s += comma ? (size_t)(comma - s) : strlen(s);
	}
	if (!p->nservers) {
		if (why)
			buf_printf(why, "no server in NATS URL '%s'", url);
		rc = -EINVAL;
		goto fail;
	}
	pthread_mutex_init(&p->lock, NULL);
	buf_init(&p->batch.heads, (size_t)BATCH_MAX * (NATSPUB_SUBJECT_MAX + NATSPUB_ID_MAX + HEAD_MAX));
	*out = p;
	return 0;
fail:
	free(p);
	return rc;
}

/* ---- a connection ------------------------------------------------------------- */

static void conn_close(struct natspub_conn *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

/* The next protocol line (without CRLF, NUL-terminated in the buffer) in
 * *line; it stays valid until the next read. 0 or a negative code. */
static int read_line(struct natspub_conn *c, int64_t deadline, char **line)
{
	for (;;) {
		char *s = c->rb.data + c->rb.start;
		size_t n = rbuf_avail(&c->rb);
		char *crlf = n >= 2 ? memmem(s, n, "\r\n", 2) : NULL;
		ssize_t got;

		if (crlf) {
			*crlf = '\0';
			c->rb.start += (size_t)(crlf - s) + 2;
			*line = s;
			return 0;
		}
		got = rbuf_fill_wait(&c->rb, deadline);
		if (got < 0)
			return (int)got;
	}
}

/* Makes n bytes (and the CRLF after them) available at *data and consumes
 * them. */
static int read_payload(struct natspub_conn *c, size_t n, int64_t deadline, char **data)
{
	while (rbuf_avail(&c->rb) < n + 2) {
		ssize_t got;

		if (n + 2 > RBUF_SIZE)
			return -ERR_TOO_BIG;
		got = rbuf_fill_wait(&c->rb, deadline);
		if (got < 0)
			return (int)got;
	}
	*data = c->rb.data + c->rb.start;
	c->rb.start += n + 2;
	return 0;
}

/* Handles a line that is not the reply being waited for. 0 to go on, or a
 * negative code when the connection is no longer usable. */
static int housekeeping(struct natspub_conn *c, const char *line, int64_t deadline, struct buf *why)
{
	if (!strcmp(line, "PING"))
		return net_write_all(c->fd, "PONG\r\n", 6, deadline);
	if (!strcmp(line, "PONG") || !strcmp(line, "+OK") || !strncmp(line, "INFO ", 5))
		return 0;
	if (!strncmp(line, "-ERR", 4)) {
		if (why)
			buf_printf(why, "NATS server error: %s", line + 4 + (line[4] == ' '));
		return -ERR_UNAVAILABLE;
	}
	if (why)
		buf_printf(why, "unexpected line from the NATS server: '%.80s'", line);
	return -ERR_PARSE;
}

static int handshake(struct natspub *p, struct natspub_conn *c, const struct server *sv,
		     int64_t deadline, struct buf *why)
{
	json_t *info;
	struct buf out;
	char *line, token[23];
	int rc;

	rc = read_line(c, deadline, &line);
	if (rc)
		return rc;
	if (strncmp(line, "INFO ", 5)) {
		buf_printf(why, "the server at %s:%d does not speak NATS", sv->host, sv->port);
		return -ERR_PARSE;
	}
	info = json_loads(line + 5, 0, NULL);
	if (!info) {
		buf_printf(why, "unreadable INFO from the NATS server");
		return -ERR_PARSE;
	}
	c->max_payload = json_integer_value(json_object_get(info, "max_payload"));
	if (json_is_true(json_object_get(info, "tls_required")))
		rc = unsupported(why, "a server that requires TLS", sv->host);
	else if (!json_is_true(json_object_get(info, "headers")))
		rc = unsupported(why, "a server without message headers (NATS < 2.2)", sv->host);
	else if (json_object_get(info, "nonce") && !sv->user[0] && !sv->token[0])
		rc = unsupported(why, "a server that asks for nkey or JWT authentication", sv->host);
	json_decref(info);
	if (rc)
		return rc;

	url_random_token(token, sizeof(token) - 1);
	snprintf(c->inbox, sizeof(c->inbox), "_CFAAS.%s.", token);
	buf_init(&out, 8192);
	rc = buf_adds(&out, "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,"
			    "\"no_responders\":true,\"protocol\":1,\"lang\":\"C\","
			    "\"version\":\"cfaas\",\"name\":");
	if (!rc)
		rc = buf_add_json_string(&out, p->name, strlen(p->name));
	if (!rc && sv->user[0]) {
		rc = buf_adds(&out, ",\"user\":");
		if (!rc)
			rc = buf_add_json_string(&out, sv->user, strlen(sv->user));
		if (!rc)
			rc = buf_adds(&out, ",\"pass\":");
		if (!rc)
			rc = buf_add_json_string(&out, sv->pass, strlen(sv->pass));
	}
	if (!rc && sv->token[0]) {
		rc = buf_adds(&out, ",\"auth_token\":");
		if (!rc)
			rc = buf_add_json_string(&out, sv->token, strlen(sv->token));
	}
	if (!rc)
		rc = buf_printf(&out, "}\r\nSUB %s* 1\r\nPING\r\n", c->inbox);
	if (!rc)
		rc = net_write_all(c->fd, out.data, out.len, deadline);
	buf_release(&out);
	if (rc)
		return rc;
	for (;;) {
		rc = read_line(c, deadline, &line);
		if (rc)
			return rc;
		if (!strcmp(line, "PONG"))
			return 0;
		if (!strncmp(line, "-ERR", 4)) {
			const char *msg = line + 4 + (line[4] == ' ');
			buf_printf(why, "the NATS server at %s:%d refused the connection: %s",
				   sv->host, sv->port, msg);
			/* Authentication this client lacks (cnats may have it, and
			 * says it better); anything else (too many connections)
			 * may pass. */
			return strcasestr(msg, "authorization") || strcasestr(msg, "authentication") ?
				       -ENOTSUP :
				       -ERR_UNAVAILABLE;
		}
		rc = housekeeping(c, line, deadline, why);
		if (rc)
			return rc;
	}
}

static int conn_open(struct natspub *p, struct natspub_conn **out, int64_t deadline, struct buf *why)
{
	int i, rc = -ERR_UNAVAILABLE;

	*out = NULL;
	for (i = 0; i < p->nservers; i++) {
		const struct server *sv = &p->servers[i];
		int64_t until = mono_ms() + CONNECT_WAIT_MS;
		struct natspub_conn *c;
		int fd;

		if (deadline && until > deadline)
			until = deadline;
		fd = net_connect(sv->host, sv->port, until);
		if (fd < 0) {
			rc = fd == -ENOMEM ? -ENOMEM : -ERR_UNAVAILABLE;
			buf_reset(why);
			buf_printf(why, "cannot connect to NATS at %s:%d: %s", sv->host, sv->port,
				   err_str(fd));
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			return -ENOMEM;
		}
		c->fd = fd;
		rbuf_init(&c->rb, fd);
		buf_reset(why);
		rc = handshake(p, c, sv, until, why);
		if (!rc) {
			*out = c;
			return 0;
		}
		conn_close(c);
		if (rc == -ENOTSUP || rc == -ENOMEM)
			return rc;
		if (!why->len)
			buf_printf(why, "NATS at %s:%d: %s", sv->host, sv->port, err_str(rc));
		rc = -ERR_UNAVAILABLE;
	}
	return rc;
}

/* Answers what the server sent an idle connection (PINGs). False when the
 * connection is gone or in a state it should not be in. */
static bool conn_fresh(struct natspub_conn *c)
{
	char *line;

	for (;;) {
		ssize_t got = rbuf_fill(&c->rb, true, 0);

		if (got == -EAGAIN)
			break;
		if (got < 0)
			return false;
	}
	while (rbuf_avail(&c->rb)) {
		if (!memmem(c->rb.data + c->rb.start, rbuf_avail(&c->rb), "\r\n", 2))
			return false;
		if (read_line(c, 0, &line) || housekeeping(c, line, mono_ms() + 1000, NULL))
			return false;
	}
	return true;
}

/* ---- a publish ---------------------------------------------------------------- */

/* After key (a quoted name and its colon) in data[0..n), past any blanks:
 * the value's first byte, or NULL. */
static const char *json_value_of(const char *data, size_t n, const char *key)
{
	const char *k = memmem(data, n, key, strlen(key)), *end = data + n;

	if (!k)
		return NULL;
	for (k += strlen(key); k < end && (*k == ' ' || *k == '\t'); k++)
		;
	return k < end ? k : NULL;
}

/* Reads JetStream's answer: {"stream":..,"seq":..,"duplicate":..} or
 * {"error":{"code":..,"err_code":..,"description":..}}. The plain ack,
 * which is nearly every answer, is read by hand (no JSON tree for each
 * publish): nats-server writes it as {"stream":"S", "seq":N} with
 * ,"duplicate": true at times. Anything else goes through Jansson. */
static int parse_ack(const char *data, size_t n, struct natsx_ack *ack, struct buf *why)
{
	const char *v, *end = data + n;
	json_t *j, *err;
	int rc = 0;

	if (n > 2 && data[0] == '{' && data[n - 1] == '}' &&
	    !memmem(data, n, "\"error\"", 7) && (v = json_value_of(data, n, "\"seq\":"))) {
		const char *d = v;
		uint64_t seq = 0;

		for (; d < end && *d >= '0' && *d <= '9' && seq <= UINT64_MAX / 10 - 1; d++)
			seq = seq * 10 + (uint64_t)(*d - '0');
		if (d > v && d < end && (*d == ',' || *d == '}' || *d == ' ')) {
			if (ack) {
				v = json_value_of(data, n, "\"duplicate\":");
				ack->seq = seq;
				ack->duplicate = v && (size_t)(end - v) >= 4 && !memcmp(v, "true", 4);
			}
			return 0;
		}
	}
	j = json_loadb(data, n, 0, NULL);
	if (!j || !json_is_object(j)) {
		json_decref(j);
		buf_printf(why, "unreadable answer from JetStream");
		return -ERR_UNAVAILABLE;
	}
	err = json_object_get(j, "error");
	if (err) {
		const char *d = json_string_value(json_object_get(err, "description"));
		buf_printf(why, "JetStream refused the message: %s", d ? d : "no reason given");
		rc = -EIO;
	} else if (!json_is_integer(json_object_get(j, "seq"))) {
		buf_printf(why, "answer from JetStream without a sequence number");
		rc = -ERR_UNAVAILABLE;
	} else if (ack) {
		ack->seq = (uint64_t)json_integer_value(json_object_get(j, "seq"));
		ack->duplicate = json_is_true(json_object_get(j, "duplicate"));
	}
	json_decref(j);
	return rc;
}

/* A size field: digits only, and small enough for the read buffer (an
 * answer from JetStream is a few hundred bytes). */
static int size_of(const char *f, size_t *out)
{
	size_t v = 0;

	if (!*f)
		return -ERR_PARSE;
	for (; *f; f++) {
		if (*f < '0' || *f > '9' || v > RBUF_SIZE)
			return -ERR_PARSE;
		v = v * 10 + (size_t)(*f - '0');
	}
	if (v > RBUF_SIZE - 2)
		return -ERR_PARSE;
	*out = v;
	return 0;
}

/* "MSG subject sid [reply] size" or "HMSG subject sid [reply] hsize size":
 * the subject and the (last) size; *hsize is 0 for MSG. */
static int parse_msg_line(char *line, char **subj, size_t *hsize, size_t *size)
{
	char *f[6], *save = NULL, *t;
	int n = 0;
	bool hmsg = line[0] == 'H';

	for (t = strtok_r(line, " \t", &save); t && n < 6; t = strtok_r(NULL, " \t", &save))
		f[n++] = t;
	if (t || n < (hmsg ? 5 : 4))
		return -ERR_PARSE;
	*subj = f[1];
	if (size_of(f[n - 1], size) || (hmsg && size_of(f[n - 2], hsize)))
		return -ERR_PARSE;
	if (!hmsg)
		*hsize = 0;
	return *hsize > *size ? -ERR_PARSE : 0;
}

/* What an HMSG reply without a body says: "NATS/1.0 503" is no responders. */
static int status_reply(const char *hdr, size_t n, struct buf *why)
{
	const char *cr = memchr(hdr, '\r', n);

	if (n >= 12 && !strncmp(hdr, "NATS/1.0 503", 12)) {
		buf_printf(why, "no stream takes the subject (no responders)");
		return -ERR_NOT_FOUND;
	}
	buf_printf(why, "JetStream answered '%.*s'", (int)(cr ? (size_t)(cr - hdr) : n), hdr);
	return -ERR_UNAVAILABLE;
}

/* ---- a batch ----------------------------------------------------------------- */

/* Sleeps while *w is val, up to ms (0: no limit), or until woken. */
static void state_wait(_Atomic int *w, int val, int64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	syscall(SYS_futex, (int *)w, FUTEX_WAIT_PRIVATE, val, ms > 0 ? &ts : NULL, NULL, 0);
}

static void state_wake(_Atomic int *w)
{
	syscall(SYS_futex, (int *)w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Gives slot k's call its answer (a reason when it failed) and ends it:
 * its caller may return, and the call vanish, from here on. A futex wake
 * on the address of a call gone already wakes nobody, or at worst a
 * sleeper elsewhere that checks its own condition again. */
static void answer(struct batch *b, int k, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void answer(struct batch *b, int k, int rc, const char *fmt, ...)
{
	struct natspub_call *m = b->slots[k].call;
	va_list ap;

	if (!m)
		return;
	m->rc = rc;
	if (rc && fmt && m->why) {
		va_start(ap, fmt);
		buf_vprintf(m->why, fmt, ap);
		va_end(ap);
	}
	b->slots[k].call = NULL;
	b->open--;
	if (atomic_exchange(&m->state, CALL_DONE) == CALL_SLEEPING)
		state_wake(&m->state);
}

/* Ends every call of the batch still open after a failure: rc for those
 * of which no copy went out whole, -ERR_TIMEOUT (it may be stored) for the
 * others. */
static void fail_rest(struct batch *b, int rc, const char *text)
{
	int k;

	for (k = 0; k < b->n; k++)
		answer(b, k, b->slots[k].out ? -ERR_TIMEOUT : rc, "%s", text);
}

/* The earliest deadline of the calls still open (only_sent: that went
 * out), or 0 when there is none. */
static int64_t earliest(const struct batch *b, bool only_sent)
{
	int64_t d = 0;
	int k;

	for (k = 0; k < b->n; k++) {
		const struct slot *sl = &b->slots[k];

		if (sl->call && (!only_sent || sl->sid) && (!d || sl->deadline < d))
			d = sl->deadline;
	}
	return d;
}

/*
 * Writes every open call of the batch on c in one go, each with a new
 * reply number. 0 when all went out; otherwise the calls whose copy went
 * out whole keep their reply number (their outcome is for the caller to
 * settle), the others lose it, and *stale says the connection was found
 * dead.
 */
static int write_batch(struct natspub_conn *c, struct batch *b, bool *stale, char *err,
		       size_t errcap)
{
	size_t written = 0, at = 0;
	int64_t now = mono_ms();
	int k, i = 0, rc = 0;

	*stale = false;
	buf_reset(&b->heads);
	b->nsent = 0;
	b->first_sid = c->asked + 1;
	for (k = 0; k < b->n && !rc; k++) {
		struct slot *sl = &b->slots[k];
		struct natspub_call *m = sl->call;
		int hlen;

		sl->sid = 0;
		if (!m)
			continue;
		if (!sl->out && sl->deadline <= now) {
			answer(b, k, -ERR_UNAVAILABLE, "NATS did not take the message in time: not sent");
			continue;
		}
		/* The header block's length, counted the way it is printed. */
		hlen = (int)(strlen("NATS/1.0\r\nNats-Msg-Id: \r\n\r\n") + strlen(m->msg_id));
		if (c->max_payload > 0 && m->len + (size_t)hlen > (size_t)c->max_payload) {
			answer(b, k, -ERR_TOO_BIG,
			       "the message (%zu bytes) is over the server's max_payload (%lld)",
			       m->len + (size_t)hlen, (long long)c->max_payload);
			continue;
		}
		sl->sid = ++c->asked;
		sl->head_off = b->heads.len;
		rc = buf_printf(&b->heads, "HPUB %s %s%llu %d %zu\r\nNATS/1.0\r\nNats-Msg-Id: %s\r\n\r\n",
				m->subj, c->inbox, (unsigned long long)sl->sid, hlen,
				(size_t)hlen + m->len, m->msg_id);
		sl->head_len = b->heads.len - sl->head_off;
		b->sent[b->nsent++] = k;
	}
	if (rc) {
		/* The heads' cap fits the longest batch: not reached. */
		fail_rest(b, rc, "out of memory");
		return rc;
	}
	/* The buffer holding the heads is final now: point into it. */
	for (k = 0; k < b->nsent; k++) {
		struct slot *sl = &b->slots[b->sent[k]];

		b->iov[i++] = (struct iovec){ b->heads.data + sl->head_off, sl->head_len };
		b->iov[i++] = (struct iovec){ (void *)sl->call->data, sl->call->len };
		b->iov[i++] = (struct iovec){ (void *)"\r\n", 2 };
		at += sl->head_len + sl->call->len + 2;
		sl->end = at;
	}
	if (!i)
		return 0;
	rc = net_writev_all(c->fd, b->iov, i, earliest(b, true), &written);
	for (k = 0; k < b->nsent; k++) {
		struct slot *sl = &b->slots[b->sent[k]];

		if (written >= sl->end)
			sl->out = true;
		else
			sl->sid = 0; /* not (wholly) sent */
	}
	if (!rc)
		return 0;
	*stale = rc == -ERR_CLOSED || rc == -EPIPE || rc == -ECONNRESET;
	snprintf(err, errcap, "cannot send to NATS: %s", err_str(rc));
	return rc == -ENOMEM ? rc : -ERR_UNAVAILABLE;
}

/* The slot whose open call reply (a subject on c's inbox) answers, or -1. */
static int slot_of(const struct natspub_conn *c, const struct batch *b, const char *reply)
{
	size_t n = strlen(c->inbox);
	uint64_t sid = 0;
	const char *d;
	int k;

	if (strncmp(reply, c->inbox, n) || !reply[n])
		return -1;
	for (d = reply + n; *d; d++) {
		if (*d < '0' || *d > '9' || sid > UINT64_MAX / 10 - 1)
			return -1;
		sid = sid * 10 + (uint64_t)(*d - '0');
	}
	if (sid < b->first_sid || sid - b->first_sid >= (uint64_t)b->nsent)
		return -1;
	k = b->sent[sid - b->first_sid];
	return b->slots[k].call && b->slots[k].sid == sid ? k : -1;
}

/*
 * Reads answers on c until every call that went out has one, ending each
 * call as its answer comes. Calls whose deadline passes time out on their
 * own. 0 when all are answered, or the connection's failure (-ERR_TIMEOUT
 * when a call timed out: the connection owes an answer): *got says
 * whether any answer came first (a connection that fails before answering
 * anything may be stale), and *refused that the server said -ERR.
 */
static int read_answers(struct natspub_conn *c, struct batch *b, bool *got, bool *refused,
			char *err, size_t errcap)
{
	bool timed_out = false;

	*got = false;
	*refused = false;
	for (;;) {
		char *line, *payload = NULL, *rsubj;
		size_t hsize, size;
		int64_t dl = earliest(b, true);
		int k, rc;

		if (!dl)
			return timed_out ? -ERR_TIMEOUT : 0;
		rc = read_line(c, dl, &line);
		if (rc == -ERR_TIMEOUT) {
			int64_t now = mono_ms();

			for (k = 0; k < b->n; k++)
				if (b->slots[k].call && b->slots[k].sid && b->slots[k].deadline <= now)
					answer(b, k, -ERR_TIMEOUT, "no answer from JetStream in time");
			snprintf(err, errcap, "no answer from JetStream in time");
			timed_out = true;
			continue;
		}
		if (rc) {
			snprintf(err, errcap, "lost the NATS connection: %s", err_str(rc));
			return rc;
		}
		if (strncmp(line, "MSG ", 4) && strncmp(line, "HMSG ", 5)) {
			struct buf why;

			buf_init(&why, 512);
			rc = housekeeping(c, line, dl, &why);
			if (rc) {
				*refused = rc == -ERR_UNAVAILABLE;
				snprintf(err, errcap, "%s", why.len ? buf_cstr(&why) : err_str(rc));
			}
			buf_release(&why);
			if (rc)
				return rc;
			continue;
		}
		rc = parse_msg_line(line, &rsubj, &hsize, &size);
		if (rc) {
			snprintf(err, errcap, "unreadable message line from the NATS server");
			return rc;
		}
		/* rsubj points into the buffer, which the payload read may move. */
		k = slot_of(c, b, rsubj);
		rc = read_payload(c, size, dl, &payload);
		if (rc) {
			snprintf(err, errcap, "lost the NATS connection while reading an answer");
			return rc;
		}
		if (k < 0)
			continue; /* an answer to a publish given up on */
		*got = true;
		if (hsize && size == hsize) {
			struct buf why;

			buf_init(&why, 512);
			rc = status_reply(payload, hsize, &why);
			answer(b, k, rc, "%s", buf_cstr(&why));
			buf_release(&why);
		} else {
			struct natsx_ack ack = { 0 };
			struct buf why;

			buf_init(&why, 1024);
			rc = parse_ack(payload + hsize, size - hsize, &ack, &why);
			if (!rc && b->slots[k].call->ack)
				*b->slots[k].call->ack = ack;
			answer(b, k, rc, "%s", buf_cstr(&why));
			buf_release(&why);
		}
	}
}

/* Runs sent(arg) of each call of the last write that has not had it. */
static void run_hooks(struct batch *b)
{
	int k;

	for (k = 0; k < b->nsent; k++) {
		struct slot *sl = &b->slots[b->sent[k]];

		if (sl->call && sl->call->sent && !sl->hooked) {
			sl->hooked = true;
			sl->call->sent(sl->call->arg);
		}
	}
}

/*
 * Publishes the batch and ends every call in it. A connection that was
 * there before this batch and turns out dead before it answered anything
 * was dropped by the server while idle: the open calls go again on a new
 * one, once (the message ids make a copy the server did store harmless).
 */
static void run_batch(struct natspub *p, struct batch *b)
{
	char err[512];
	int attempt;

	for (attempt = 0; attempt < 2 && b->open; attempt++) {
		struct natspub_conn *c = p->conn;
		bool reused = c != NULL, stale = false, got = false, refused = false;
		int k, rc;

		err[0] = '\0';
		if (c && mono_ms() - p->last_used > FRESH_AFTER_MS && !conn_fresh(c)) {
			conn_close(c);
			c = p->conn = NULL;
			reused = false;
		}
		if (!c) {
			struct buf why;

			buf_init(&why, 1024);
			rc = conn_open(p, &c, earliest(b, false), &why);
			if (rc) {
				fail_rest(b, rc, why.len ? buf_cstr(&why) : err_str(rc));
				buf_release(&why);
				return;
			}
			buf_release(&why);
			p->conn = c;
		}
		rc = write_batch(c, b, &stale, err, sizeof(err));
		if (rc) {
			/* What did not go out is not stored; what did may be. */
			conn_close(c);
			p->conn = NULL;
			if (stale && reused && attempt == 0)
				continue;
			fail_rest(b, rc, err);
			return;
		}
		run_hooks(b);
		rc = read_answers(c, b, &got, &refused, err, sizeof(err));
		if (!rc)
			return;
		conn_close(c);
		p->conn = NULL;
		if (refused && b->open == 1 && attempt == 0) {
			/* -ERR: the server refused a publish and closes the
			 * connection. With one open, sent only here, no doubt
			 * which, nor that it is not stored. */
			for (k = 0; k < b->n; k++)
				answer(b, k, -ERR_UNAVAILABLE, "%s", err);
			return;
		}
		if (!refused && (rc == -ERR_CLOSED || rc == -ECONNRESET) && reused && !got &&
		    attempt == 0)
			continue;
		fail_rest(b, rc == -ENOMEM ? rc : -ERR_TIMEOUT, err);
		return;
	}
}

/* With nobody leading, asks the caller of the first queued call to lead.
 * Called with the lock held; returns the call whose caller is to be woken
 * (after the lock is dropped), or NULL when it is awake and will see that
 * the lead is free. Queued calls are alive: their callers wait. */
static struct natspub_call *pass_lead(struct natspub *p)
{
	struct natspub_call *next = p->head;
	int expect = CALL_SLEEPING;

	if (!next || p->leading)
		return NULL;
	if (atomic_compare_exchange_strong(&next->state, &expect, CALL_LEAD))
		return next;
	expect = CALL_PENDING;
	atomic_compare_exchange_strong(&next->state, &expect, CALL_LEAD);
	return NULL;
}

/*
 * Takes the queue (up to BATCH_MAX calls and BATCH_BYTES) and publishes it
 * with the lock dropped, ends every call in it, then gives up the lead and
 * asks the first queued caller to take it. Called with p->lock held and
 * nobody leading; returns with the lock released.
 *
 * When the last batch had company, the leader first lets the threads that
 * are ready to run go ahead (sched_yield): requests already being read
 * then join this batch instead of the next one, and a batch of eight
 * costs the server and SQLite half as much per call as a batch of two.
 * Alone, it goes at once.
 */
static void lead(struct natspub *p)
{
	struct batch *b = &p->batch;
	struct natspub_call *m, *next;
	size_t bytes = 0;

	p->leading = true;
	if (p->last_n > 1) {
		pthread_mutex_unlock(&p->lock);
		sched_yield();
		pthread_mutex_lock(&p->lock);
	}
	b->n = 0;
	while (p->head && b->n < BATCH_MAX && (b->n == 0 || bytes + p->head->len <= BATCH_BYTES)) {
		m = p->head;
		p->head = m->next;
		m->next = NULL;
		bytes += m->len;
		m->taken = true;
		b->slots[b->n++] = (struct slot){ .call = m, .deadline = m->deadline };
	}
	if (!p->head)
		p->tail = NULL;
	b->open = b->n;
	pthread_mutex_unlock(&p->lock);

	run_batch(p, b);
	p->last_used = mono_ms();
	p->last_n = b->n;
	/* run_batch ends every call; this is for a path that would not. */
	fail_rest(b, -ERR_UNAVAILABLE, "the publish was not completed");
	b->n = 0;

	pthread_mutex_lock(&p->lock);
	p->leading = false;
	next = pass_lead(p);
	pthread_mutex_unlock(&p->lock);
	if (next)
		state_wake(&next->state);
}

void natspub_free(struct natspub *p)
{
	if (!p)
		return;
	conn_close(p->conn);
	buf_release(&p->batch.heads);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

/* Whether a leader has taken call; if not, takes it out of the queue, so
 * none will (and passes on the lead it may have been asked to take). */
static bool call_taken(struct natspub *p, struct natspub_call *call)
{
	struct natspub_call **at, *prev = NULL, *next = NULL;
	bool taken;

	pthread_mutex_lock(&p->lock);
	taken = call->taken;
	if (!taken) {
		for (at = &p->head; *at && *at != call; at = &(*at)->next)
			prev = *at;
		if (*at) {
			*at = call->next;
			if (p->tail == call)
				p->tail = prev;
		}
		next = pass_lead(p);
	}
	pthread_mutex_unlock(&p->lock);
	if (next)
		state_wake(&next->state);
	return taken;
}

int natspub_publish_then(struct natspub *p, const char *subj, const void *data, size_t len,
			 const char *msg_id, int64_t wait_ms, void (*sent)(void *), void *arg,
			 struct natsx_ack *ack, struct buf *why)
{
	struct natspub_call call;

	if (ack)
		memset(ack, 0, sizeof(*ack));
	if (!p || !subj || !*subj || !msg_id || !*msg_id || strpbrk(subj, " \t\r\n") ||
	    strpbrk(msg_id, " \t\r\n") || (!data && len) || strlen(subj) > NATSPUB_SUBJECT_MAX ||
	    strlen(msg_id) > NATSPUB_ID_MAX) {
		if (why)
			buf_printf(why, "invalid publish: subject and message id must be non-empty, "
					"without spaces, and short enough");
		return -EINVAL;
	}
	memset(&call, 0, sizeof(call));
	call.subj = subj;
	call.msg_id = msg_id;
	call.data = data;
	call.len = len;
	call.sent = sent;
	call.arg = arg;
	call.ack = ack;
	call.why = why;
	call.deadline = mono_ms() + (wait_ms > 0 ? wait_ms : 5000);
	atomic_init(&call.state, CALL_PENDING);

	pthread_mutex_lock(&p->lock);
	if (p->tail)
		p->tail->next = &call;
	else
		p->head = &call;
	p->tail = &call;
	for (;;) {
		int expect = CALL_PENDING;

		/* The lock is held here. */
		if (atomic_load(&call.state) == CALL_DONE) {
			pthread_mutex_unlock(&p->lock);
			break;
		}
		if (!p->leading) {
			lead(p);
			if (atomic_load(&call.state) == CALL_DONE)
				break;
			pthread_mutex_lock(&p->lock);
			continue;
		}
		pthread_mutex_unlock(&p->lock);
		if (atomic_compare_exchange_strong(&call.state, &expect, CALL_SLEEPING)) {
			while (atomic_load(&call.state) == CALL_SLEEPING) {
				int64_t left = call.deadline - mono_ms();

				if (left <= 0 && !call_taken(p, &call)) {
					/* Still queued at its deadline: never sent. */
					if (why)
						buf_printf(why, "NATS did not take the message in "
								"time: not sent");
					return -ERR_UNAVAILABLE;
				}
				/* Once a leader has it, the leader ends it. */
				state_wait(&call.state, CALL_SLEEPING, left > 0 ? left : 0);
			}
		}
		if (atomic_load(&call.state) == CALL_DONE)
			break;
		/* Asked to lead: the lead may have been taken again since. */
		pthread_mutex_lock(&p->lock);
		expect = CALL_LEAD;
		atomic_compare_exchange_strong(&call.state, &expect, CALL_PENDING);
		if (atomic_load(&call.state) == CALL_DONE) {
			pthread_mutex_unlock(&p->lock);
			break;
		}
	}
	return call.rc;
}

int natspub_publish(struct natspub *p, const char *subj, const void *data, size_t len,
		    const char *msg_id, int64_t wait_ms, struct natsx_ack *ack, struct buf *why)
{
	return natspub_publish_then(p, subj, data, len, msg_id, wait_ms, NULL, NULL, ack, why);
}
