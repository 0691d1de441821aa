/*
 * check_natspub.c - natspub against a fake NATS server on 127.0.0.1.
 *
 * The fake speaks as much of the client protocol as natspub uses (INFO,
 * CONNECT, SUB, PING/PONG, HPUB in; MSG and HMSG out) and follows a script
 * set by each test: above all what to do with each HPUB, by arrival order.
 * It records what it was sent, so the tests check the bytes on the wire and
 * not only what natspub returns. Every read of the fake polls in short
 * slices and gives up when the test stops it, so nothing can hang.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "natspub.h"
#include "natsx.h"
#include "net.h"
#include "spawn.h"
#include "banned.h"

#define MAX_CONNS 8
#define MAX_MSGS 64
#define SLICE_MS 20     /* how often a waiting fake looks at its flags */
#define IO_WAIT_MS 5000 /* the fake's cap on one send or one HPUB body */
#define WAIT_MS 5000    /* publish wait in tests that expect an answer */
#define DELAY_MS 300    /* ACT_DELAY */
#define DEFER_IDLE_MS 100
#define SUBJ "cfaas.calls.fn"
#define JS_ERR_DESC "maximum messages exceeded"
#define PERM_ERR "-ERR 'Permissions Violation for Publish to \"" SUBJ "\"'\r\n"
#define DEFAULT_INFO "{\"server_id\":\"FAKE\",\"version\":\"2.10.0\",\"proto\":1," \
		     "\"headers\":true,\"max_payload\":1048576}"

/* What the fake does with one HPUB. */
enum act {
	ACT_ACK,    /* {"stream":..,"seq":N}, N counting up from 1 */
	ACT_DUP,    /* the same with "duplicate":true */
	ACT_JSERR,  /* a JetStream error object */
	ACT_503,    /* the no-responders status, as HMSG */
	ACT_SILENT, /* never answer */
	ACT_PING,   /* PING, wait for the PONG, then ack */
	ACT_CLOSE,  /* close the connection instead of answering */
	ACT_HOLD,   /* ack once f->hold HPUBs have arrived (on any connection) */
	ACT_STRAY,  /* first an answer to another reply subject, then ack */
	ACT_SLOW,   /* the ack in three pieces, 30 ms apart */
	ACT_ERR,    /* a -ERR line, as for a permissions violation */
	ACT_DELAY,  /* ack after DELAY_MS, reading nothing meanwhile */
	ACT_DEFER,  /* answered later, with the other deferred ones, last first:
		     * once f->defer_n are deferred, or when no more input
		     * comes for DEFER_IDLE_MS */
};

struct msg {
	int conn; /* the connection it came on, in accept order */
	char subj[1100], reply[128], id[256];
	char *raw;        /* header block, payload, CRLF */
	size_t hlen, len; /* the payload is len bytes at raw + hlen */
	uint64_t seq;     /* the seq acked, 0 when no ack was sent */
};

struct fake {
	/* The script, set before fake_start. */
	const char *info;        /* INFO json; NULL for DEFAULT_INFO */
	const char *connect_err; /* answer the handshake PING with "-ERR <this>" */
	bool chatty;             /* +OK, INFO and a PING before the PONG */
	enum act acts[MAX_MSGS]; /* per HPUB in arrival order; ACT_ACK past it */
	int hold;                /* for ACT_HOLD */
	int defer_n;             /* for ACT_DEFER */
	int max_accept;          /* connections past this many are closed at once */

	int lfd, port;
	pthread_t acceptor;
	pthread_t handlers[MAX_CONNS]; /* the acceptor's own */
	atomic_bool stop;
	pthread_mutex_t lock;
	/* Under lock from here on. */
	int accepted, eofs, closed, kicked, pongs, ping_pongs, idle_pings, bad, nmsgs;
	uint64_t seq;
	int max_deferred;        /* the most answers deferred at once */
	bool kick[MAX_CONNS], ping[MAX_CONNS];
	char connect[MAX_CONNS][2048], sub[MAX_CONNS][128];
	struct msg msgs[MAX_MSGS];
};

/* One accepted connection, served by its own thread. */
struct fconn {
	struct fake *f;
	int fd, idx;
	size_t start, end;
	char in[16384];
	int ndeferred;                  /* ACT_DEFER answers owed */
	int deferred[MAX_MSGS];
	char dreply[MAX_MSGS][128];
};

/* How a fake read or an answer ended. */
enum { FC_OK, FC_EOF, FC_STOP, FC_KICK, FC_TIMEOUT, FC_CLOSE, FC_ERR };

/* ---- the fake server ---------------------------------------------------------- */

static int fget(struct fake *f, const int *v)
{
	int n;

	pthread_mutex_lock(&f->lock);
	n = *v;
	pthread_mutex_unlock(&f->lock);
	return n;
}

static void fbump(struct fake *f, int *v)
{
	pthread_mutex_lock(&f->lock);
	(*v)++;
	pthread_mutex_unlock(&f->lock);
}

/* Waits up to ms for counter *v to reach want. */
static bool fwait(struct fake *f, const int *v, int want, int ms)
{
	int64_t until = mono_ms() + ms;

	while (fget(f, v) < want) {
		if (mono_ms() >= until)
			return false;
		usleep(5000);
	}
	return true;
}

static int fsend(int fd, const char *s, size_t n)
{
	return net_write_all(fd, s, n, mono_ms() + IO_WAIT_MS);
}

/* Reads more input, in slices so that stop, kick and idle-PING requests
 * are seen while waiting. deadline 0: until stopped. */
static int fc_fill(struct fconn *c, int64_t deadline)
{
	struct fake *f = c->f;

	if (c->start) {
		memmove(c->in, c->in + c->start, c->end - c->start);
		c->end -= c->start;
		c->start = 0;
	}
	if (c->end == sizeof(c->in))
		return FC_ERR;
	for (;;) {
		struct pollfd pf = { .fd = c->fd, .events = POLLIN };
		bool kick, ping;
		ssize_t n;

		if (atomic_load(&f->stop))
			return FC_STOP;
		pthread_mutex_lock(&f->lock);
		kick = f->kick[c->idx];
		ping = f->ping[c->idx];
		f->ping[c->idx] = false;
		pthread_mutex_unlock(&f->lock);
		if (kick)
			return FC_KICK;
		if (ping) {
			if (fsend(c->fd, "PING\r\n", 6))
				return FC_ERR;
			fbump(f, &f->idle_pings);
		}
		if (deadline && mono_ms() >= deadline)
			return FC_TIMEOUT;
		if (poll(&pf, 1, SLICE_MS) <= 0)
			continue;
		n = recv(c->fd, c->in + c->end, sizeof(c->in) - c->end, 0);
		if (n > 0) {
			c->end += (size_t)n;
			return FC_OK;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n == 0 || errno == ECONNRESET ? FC_EOF : FC_ERR;
	}
}

/* The next line, without its CRLF, into line[cap]. */
static int fc_line(struct fconn *c, char *line, size_t cap, int64_t deadline)
{
	for (;;) {
		char *s = c->in + c->start;
		size_t n = c->end - c->start;
		char *crlf = n >= 2 ? memmem(s, n, "\r\n", 2) : NULL;
		int rc;

		if (crlf) {
			n = (size_t)(crlf - s);
			if (n >= cap)
				return FC_ERR;
			memcpy(line, s, n);
			line[n] = '\0';
			c->start += n + 2;
			return FC_OK;
		}
		rc = fc_fill(c, deadline);
		if (rc)
			return rc;
	}
}

/* Exactly n bytes into dst. */
static int fc_read(struct fconn *c, char *dst, size_t n, int64_t deadline)
{
	while (n) {
		size_t k = c->end - c->start;
		int rc;

		if (k > n)
			k = n;
		memcpy(dst, c->in + c->start, k);
		c->start += k;
		dst += k;
		n -= k;
		if (n) {
			rc = fc_fill(c, deadline);
			if (rc)
				return rc;
		}
	}
	return FC_OK;
}

/* The ack of message k, as one MSG to reply, in out[cap]. */
static size_t ack_text(struct fake *f, int k, const char *reply, bool dup, char *out,
		       size_t cap)
{
	char json[128];
	uint64_t seq;

	/* Recorded before it is sent: a test reads it once natspub returns. */
	pthread_mutex_lock(&f->lock);
	seq = ++f->seq;
	if (k < MAX_MSGS)
		f->msgs[k].seq = seq;
	pthread_mutex_unlock(&f->lock);
	/* Exactly as nats-server 2.9 writes it, blanks included. */
	snprintf(json, sizeof(json), "{\"stream\":\"CALLS\", \"seq\":%llu%s}",
		 (unsigned long long)seq, dup ? ",\"duplicate\": true" : "");
	return (size_t)snprintf(out, cap, "MSG %s 1 %zu\r\n%s\r\n", reply, strlen(json), json);
}

static int send_ack(struct fconn *c, int k, const char *reply, bool dup)
{
	char out[512];
	size_t n = ack_text(c->f, k, reply, dup, out, sizeof(out));

	return fsend(c->fd, out, n) ? FC_ERR : FC_OK;
}

/* Acks every deferred message, the last one first. */
static int answer_deferred(struct fconn *c)
{
	while (c->ndeferred > 0) {
		c->ndeferred--;
		if (send_ack(c, c->deferred[c->ndeferred], c->dreply[c->ndeferred], false))
			return FC_ERR;
	}
	return FC_OK;
}

static int answer(struct fconn *c, int k, const char *reply, enum act act)
{
	struct fake *f = c->f;
	char out[512], line[512];
	const char *dot;
	int64_t until;
	size_t n;
	int rc;

	switch (act) {
	case ACT_ACK:
		return send_ack(c, k, reply, false);
	case ACT_DUP:
		return send_ack(c, k, reply, true);
	case ACT_JSERR: {
		const char *j = "{\"error\":{\"code\":503,\"err_code\":10077,"
				"\"description\":\"" JS_ERR_DESC "\"}}";

		n = (size_t)snprintf(out, sizeof(out), "MSG %s 1 %zu\r\n%s\r\n", reply,
				     strlen(j), j);
		return fsend(c->fd, out, n) ? FC_ERR : FC_OK;
	}
	case ACT_503:
		/* hlen counts "NATS/1.0 503\r\n\r\n"; total == hlen: no body. */
		n = (size_t)snprintf(out, sizeof(out),
				     "HMSG %s 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n", reply);
		return fsend(c->fd, out, n) ? FC_ERR : FC_OK;
	case ACT_SILENT:
		return FC_OK;
	case ACT_PING:
		if (fsend(c->fd, "PING\r\n", 6))
			return FC_ERR;
		until = mono_ms() + 2000;
		for (;;) {
			rc = fc_line(c, line, sizeof(line), until);
			if (rc == FC_TIMEOUT)
				return FC_OK; /* no PONG, no ack: the test sees it */
			if (rc)
				return rc;
			if (!strcmp(line, "PONG"))
				break;
			fbump(f, &f->bad);
		}
		fbump(f, &f->ping_pongs);
		return send_ack(c, k, reply, false);
	case ACT_CLOSE:
		fbump(f, &f->closed);
		return FC_CLOSE;
	case ACT_HOLD:
		until = mono_ms() + 2000;
		while (fget(f, &f->nmsgs) < f->hold && mono_ms() < until && !atomic_load(&f->stop))
			usleep(5000);
		return send_ack(c, k, reply, false);
	case ACT_STRAY: {
		const char *j = "{\"stream\":\"CALLS\",\"seq\":999}";

		/* Another reply subject under the same inbox: an answer to a
		 * publish given up on. */
		dot = strrchr(reply, '.');
		n = (size_t)snprintf(out, sizeof(out), "MSG %.*s.999999 1 %zu\r\n%s\r\n",
				     dot ? (int)(dot - reply) : 0, reply, strlen(j), j);
		if (fsend(c->fd, out, n))
			return FC_ERR;
		return send_ack(c, k, reply, false);
	}
	case ACT_SLOW:
		/* Cut inside the MSG line and inside the JSON. */
		n = ack_text(f, k, reply, false, out, sizeof(out));
		if (fsend(c->fd, out, 5))
			return FC_ERR;
		usleep(30000);
		if (fsend(c->fd, out + 5, n - 5 - 10))
			return FC_ERR;
		usleep(30000);
		return fsend(c->fd, out + n - 10, 10) ? FC_ERR : FC_OK;
	case ACT_ERR:
		return fsend(c->fd, PERM_ERR, strlen(PERM_ERR)) ? FC_ERR : FC_OK;
	case ACT_DELAY:
		usleep(DELAY_MS * 1000);
		return send_ack(c, k, reply, false);
	case ACT_DEFER:
		if (c->ndeferred == MAX_MSGS)
			return FC_ERR;
		c->deferred[c->ndeferred] = k;
		snprintf(c->dreply[c->ndeferred], sizeof(c->dreply[0]), "%s", reply);
		c->ndeferred++;
		pthread_mutex_lock(&f->lock);
		if (c->ndeferred > f->max_deferred)
			f->max_deferred = c->ndeferred;
		pthread_mutex_unlock(&f->lock);
		return c->ndeferred >= f->defer_n ? answer_deferred(c) : FC_OK;
	}
	return FC_ERR;
}

/* Reads the body of an HPUB exactly as announced, records it, answers. */
static int on_hpub(struct fconn *c, const char *line)
{
	struct fake *f = c->f;
	char subj[1100], reply[128], id[256] = "";
	size_t hlen, tot;
	enum act act;
	char *raw;
	int rc, k;

	if (sscanf(line, "HPUB %1099s %127s %zu %zu", subj, reply, &hlen, &tot) != 4 ||
	    hlen > tot || tot > (8u << 20)) {
		fbump(f, &f->bad);
		return FC_ERR;
	}
	raw = malloc(tot + 3);
	if (!raw)
		return FC_ERR;
	rc = fc_read(c, raw, tot + 2, mono_ms() + IO_WAIT_MS);
	if (rc) {
		free(raw);
		return rc;
	}
	raw[tot + 2] = '\0';
	/* "NATS/1.0", the headers, an empty line; then the payload and CRLF. */
	if (hlen < 14 || memcmp(raw, "NATS/1.0\r\n", 10) || memcmp(raw + hlen - 4, "\r\n\r\n", 4) ||
	    memcmp(raw + tot, "\r\n", 2)) {
		fbump(f, &f->bad);
	} else {
		char *h = memmem(raw + 8, hlen - 8, "\r\nNats-Msg-Id: ", 15), *e = NULL;

		if (h) {
			h += 15;
			e = memmem(h, (size_t)(raw + hlen - h), "\r\n", 2);
		}
		if (e)
			snprintf(id, sizeof(id), "%.*s", (int)(e - h), h);
	}
	pthread_mutex_lock(&f->lock);
	k = f->nmsgs++;
	act = k < MAX_MSGS ? f->acts[k] : ACT_ACK;
	if (k < MAX_MSGS) {
		struct msg *m = &f->msgs[k];

		m->conn = c->idx;
		snprintf(m->subj, sizeof(m->subj), "%s", subj);
		snprintf(m->reply, sizeof(m->reply), "%s", reply);
		snprintf(m->id, sizeof(m->id), "%s", id);
		m->raw = raw;
		m->hlen = hlen;
		m->len = tot - hlen;
		raw = NULL;
	}
	pthread_mutex_unlock(&f->lock);
	free(raw);
	return answer(c, k, reply, act);
}

/* The client's PING ends its handshake. */
static int on_ping(struct fconn *c)
{
	struct fake *f = c->f;
	char out[256];
	size_t n;

	if (f->connect_err) {
		/* Everything the client sent is read: closing sends a FIN, not
		 * an RST that could overtake the -ERR. */
		n = (size_t)snprintf(out, sizeof(out), "-ERR %s\r\n", f->connect_err);
		fsend(c->fd, out, n);
		return FC_CLOSE;
	}
	if (f->chatty) {
		static const char chat[] = "+OK\r\nINFO " DEFAULT_INFO "\r\nPING\r\n";

		if (fsend(c->fd, chat, sizeof(chat) - 1))
			return FC_ERR;
	}
	return fsend(c->fd, "PONG\r\n", 6) ? FC_ERR : FC_OK;
}

static void *fc_main(void *arg)
{
	struct fconn *c = arg;
	struct fake *f = c->f;
	char line[8192];
	int rc, n;

	n = snprintf(line, sizeof(line), "INFO %s \r\n", f->info ? f->info : DEFAULT_INFO);
	rc = fsend(c->fd, line, (size_t)n) ? FC_ERR : FC_OK;
	while (!rc) {
		/* Deferred answers go out once the client has sent all it had. */
		rc = fc_line(c, line, sizeof(line), c->ndeferred ? mono_ms() + DEFER_IDLE_MS : 0);
		if (rc == FC_TIMEOUT && c->ndeferred) {
			rc = answer_deferred(c);
			continue;
		}
		if (rc)
			break;
		if (!strncmp(line, "CONNECT ", 8)) {
			pthread_mutex_lock(&f->lock);
			snprintf(f->connect[c->idx], sizeof(f->connect[0]), "%.2047s",
				 line + 8);
			pthread_mutex_unlock(&f->lock);
		} else if (!strncmp(line, "SUB ", 4)) {
			pthread_mutex_lock(&f->lock);
			snprintf(f->sub[c->idx], sizeof(f->sub[0]), "%.127s", line + 4);
			pthread_mutex_unlock(&f->lock);
		} else if (!strcmp(line, "PING")) {
			rc = on_ping(c);
		} else if (!strcmp(line, "PONG")) {
			fbump(f, &f->pongs);
		} else if (!strncmp(line, "HPUB ", 5)) {
			rc = on_hpub(c, line);
		} else {
			fbump(f, &f->bad);
		}
	}
	/* Closed before counted, so a test that waits for the count finds
	 * the FIN on its way. */
	close(c->fd);
	if (rc == FC_EOF)
		fbump(f, &f->eofs);
	else if (rc == FC_KICK)
		fbump(f, &f->kicked);
	free(c);
	return NULL;
}

static void *acceptor_main(void *arg)
{
	struct fake *f = arg;
	int i, n = 0, one = 1;

	while (!atomic_load(&f->stop)) {
		struct pollfd pf = { .fd = f->lfd, .events = POLLIN };
		struct fconn *c;
		int fd;

		if (poll(&pf, 1, SLICE_MS) <= 0)
			continue;
		fd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		/* As nats-server (Go) does: else Nagle holds a PING sent while
		 * an ack is not acknowledged yet. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (f->max_accept && n >= f->max_accept) {
			close(fd);
			continue;
		}
		c = n < MAX_CONNS ? calloc(1, sizeof(*c)) : NULL;
		if (!c) {
			close(fd);
			fbump(f, &f->bad);
			continue;
		}
		c->f = f;
		c->fd = fd;
		c->idx = n;
		/* Counted first: the handler may serve a whole publish before
		 * this thread runs again. */
		fbump(f, &f->accepted);
		if (pthread_create(&f->handlers[n], NULL, fc_main, c)) {
			close(fd);
			free(c);
			fbump(f, &f->bad);
			continue;
		}
		n++;
	}
	for (i = 0; i < n; i++)
		pthread_join(f->handlers[i], NULL);
	return NULL;
}

static struct fake *fake_new(void)
{
	struct fake *f = calloc(1, sizeof(*f));

	ck_assert_ptr_nonnull(f);
	pthread_mutex_init(&f->lock, NULL);
	f->lfd = -1;
	f->hold = 2;
	return f;
}

static void fake_start(struct fake *f)
{
	f->lfd = net_listen("127.0.0.1", 0, 16, &f->port);
	ck_assert_int_ge(f->lfd, 0);
	ck_assert_int_eq(pthread_create(&f->acceptor, NULL, acceptor_main, f), 0);
}

/* Stops the threads, closes every socket of the fake and frees it. */
static void fake_stop(struct fake *f)
{
	int i;

	atomic_store(&f->stop, true);
	pthread_join(f->acceptor, NULL);
	close(f->lfd);
	for (i = 0; i < MAX_MSGS; i++)
		free(f->msgs[i].raw);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

static void fake_url(const struct fake *f, const char *cred, char *out, size_t cap)
{
	snprintf(out, cap, "nats://%s%s127.0.0.1:%d", cred ? cred : "", cred ? "@" : "", f->port);
}

/* Message k, which must have arrived. */
static const struct msg *fake_msg(struct fake *f, int k)
{
	ck_assert_int_lt(k, MAX_MSGS);
	ck_assert_int_gt(fget(f, &f->nmsgs), k);
	return &f->msgs[k];
}

/* Asks connection idx to do something while idle (flag: kick or ping). */
static void fake_flag(struct fake *f, bool *flags, int idx)
{
	pthread_mutex_lock(&f->lock);
	flags[idx] = true;
	pthread_mutex_unlock(&f->lock);
}

/* The CONNECT json of connection idx, parsed. */
static json_t *fake_connect(struct fake *f, int idx)
{
	json_t *j;

	pthread_mutex_lock(&f->lock);
	j = json_loads(f->connect[idx], 0, NULL);
	pthread_mutex_unlock(&f->lock);
	ck_assert_ptr_nonnull(j);
	return j;
}

/* ---- helpers ------------------------------------------------------------------ */

static int fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own */
}

/* A port where nothing listens: bound, then closed. */
static int dead_port(void)
{
	int port = 0, fd = net_listen("127.0.0.1", 0, 1, &port);

	ck_assert_int_ge(fd, 0);
	close(fd);
	return port;
}

static struct natspub *client(struct fake *f, const char *cred, const char *name)
{
	struct natspub *p = NULL;
	char url[128];

	fake_url(f, cred, url, sizeof(url));
	ck_assert_int_eq(natspub_new(url, name, &p, NULL), 0);
	ck_assert_ptr_nonnull(p);
	return p;
}

static int pub(struct natspub *p, const char *data, const char *id, struct natsx_ack *ack,
	       struct buf *why)
{
	buf_reset(why);
	return natspub_publish(p, SUBJ, data, strlen(data), id, WAIT_MS, ack, why);
}

/* ---- tests -------------------------------------------------------------------- */

START_TEST(test_url)
{
	static const char *const good[] = {
		"nats://127.0.0.1:4222",
		"nats://localhost:4222",
		"nats://[::1]:4222",
		"nats://user:pw@127.0.0.1:1",
		"nats://tok@127.0.0.1:1",
		"nats://127.0.0.1:4222,nats://127.0.0.1:4223",
		"nats://127.0.0.1:4222, nats://[::1]:4223",
		"NATS://127.0.0.1",
	};
	static const struct {
		const char *url;
		int rc;
	} bad[] = {
		{ "tls://127.0.0.1:4222", -ENOTSUP },
		{ "nats://example.com:4222", -ENOTSUP },
		{ "nats://127.0.0.1:4222,tls://127.0.0.1:4222", -ENOTSUP },
		{ "nats://127.0.0.1:4222/x", -ENOTSUP },
		{ "nats://127.0.0.1:99999", -EINVAL },
		{ "nats://127.0.0.1:0", -EINVAL },
		{ "nats://127.0.0.1:x", -EINVAL },
		{ "nats://127.0.0.1:", -EINVAL },
		{ "", -EINVAL },
	};
	struct natspub *p;
	struct buf why;
	size_t i;

	buf_init(&why, 4096);
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		p = NULL;
		buf_reset(&why);
		ck_assert_msg(natspub_new(good[i], "t", &p, &why) == 0, "refused %s: %s", good[i],
			      buf_cstr(&why));
		ck_assert_ptr_nonnull(p);
		natspub_free(p);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = (struct natspub *)&why; /* must be reset to NULL */
		buf_reset(&why);
		ck_assert_msg(natspub_new(bad[i].url, "t", &p, &why) == bad[i].rc, "'%s'",
			      bad[i].url);
		ck_assert_ptr_null(p);
		/* "" is refused before there is anything to explain. */
		if (bad[i].url[0])
			ck_assert_msg(why.len > 0, "no reason for '%s'", bad[i].url);
	}
	/* why is optional. */
	ck_assert_int_eq(natspub_new("tls://127.0.0.1:4222", NULL, &p, NULL), -ENOTSUP);
	ck_assert_int_eq(natspub_new(NULL, NULL, &p, NULL), -EINVAL);
	buf_release(&why);
}
END_TEST

START_TEST(test_publish)
{
	static const char bin[] = "a\0b\r\nc\r\n\0\r\nHPUB x y 1 1\r\n";
	const size_t big_len = 200 * 1024;
	char *big = malloc(big_len);
	struct {
		const void *data;
		size_t len;
		const char *id;
	} cases[] = {
		{ "hello", 5, "id-hello" },
		{ bin, sizeof(bin) - 1, "id-bin" },
		{ big, big_len, "id-big" },
		{ NULL, 0, "id-empty" },
	};
	int fds = fd_count(), k;
	struct natsx_ack ack;
	struct natspub *p;
	struct fake *f;
	struct buf why;
	char prefix[128], *star;
	json_t *j;

	ck_assert_ptr_nonnull(big);
	for (k = 0; k < (int)big_len; k++)
		big[k] = (char)((k * 7 + k / 251) & 0xff);
	buf_init(&why, 4096);
	f = fake_new();
	f->chatty = true; /* +OK, INFO and PING before the PONG are fine */
	fake_start(f);
	p = client(f, NULL, "test-client");
	for (k = 0; k < (int)(sizeof(cases) / sizeof(cases[0])); k++) {
		const struct msg *m;

		memset(&ack, 0xff, sizeof(ack));
		ck_assert_msg(natspub_publish(p, SUBJ, cases[k].data, cases[k].len, cases[k].id,
					      WAIT_MS, &ack, &why) == 0,
			      "%s: %s", cases[k].id, buf_cstr(&why));
		m = fake_msg(f, k);
		ck_assert_uint_eq(ack.seq, m->seq);
		ck_assert_uint_eq(ack.seq, (uint64_t)k + 1);
		ck_assert(!ack.duplicate);
		ck_assert_int_eq(m->conn, 0);
		ck_assert_str_eq(m->subj, SUBJ);
		ck_assert_str_eq(m->id, cases[k].id);
		ck_assert_uint_eq(m->len, cases[k].len);
		ck_assert(!m->len || !memcmp(m->raw + m->hlen, cases[k].data, m->len));
	}
	ck_assert_int_eq(fget(f, &f->bad), 0);
	ck_assert_int_eq(fget(f, &f->accepted), 1);
	/* It answered the fake's handshake PING. */
	ck_assert(fwait(f, &f->pongs, 1, 2000));

	/* Replies go to the inbox it subscribed to, one subject per publish. */
	snprintf(prefix, sizeof(prefix), "%s", f->sub[0]);
	star = strchr(prefix, '*');
	ck_assert_ptr_nonnull(star);
	ck_assert_str_eq(star, "* 1");
	*star = '\0';
	ck_assert_uint_gt(strlen(prefix), 8);
	for (k = 0; k < 4; k++) {
		ck_assert_msg(!strncmp(f->msgs[k].reply, prefix, strlen(prefix)), "reply %s",
			      f->msgs[k].reply);
		ck_assert_uint_gt(strlen(f->msgs[k].reply), strlen(prefix));
		if (k)
			ck_assert_str_ne(f->msgs[k].reply, f->msgs[k - 1].reply);
	}

	j = fake_connect(f, 0);
	ck_assert(json_is_true(json_object_get(j, "headers")));
	ck_assert(json_is_true(json_object_get(j, "no_responders")));
	ck_assert(json_is_false(json_object_get(j, "verbose")));
	ck_assert_str_eq(json_string_value(json_object_get(j, "name")), "test-client");
	ck_assert_ptr_null(json_object_get(j, "user"));
	ck_assert_ptr_null(json_object_get(j, "pass"));
	ck_assert_ptr_null(json_object_get(j, "auth_token"));
	json_decref(j);

	natspub_free(p);
	fake_stop(f);
	free(big);
	buf_release(&why);
	ck_assert_int_eq(fd_count(), fds);
}
END_TEST

START_TEST(test_duplicate)
{
	struct fake *f = fake_new();
	struct natsx_ack ack;
	struct natspub *p;
	struct buf why;

	buf_init(&why, 4096);
	f->acts[0] = ACT_DUP;
	fake_start(f);
	p = client(f, NULL, "t");
	ck_assert_int_eq(pub(p, "x", "dup-1", &ack, &why), 0);
	ck_assert(ack.duplicate);
	ck_assert_uint_eq(ack.seq, fake_msg(f, 0)->seq);
	/* ack may be NULL. */
	ck_assert_int_eq(pub(p, "x", "dup-2", NULL, &why), 0);
	ck_assert_int_eq(fget(f, &f->nmsgs), 2);
	natspub_free(p);
	fake_stop(f);
	buf_release(&why);
}
END_TEST

START_TEST(test_reuse)
{
	int fds = fd_count(), k;
	struct fake *f = fake_new();
	struct natsx_ack ack;
	struct natspub *p;
	struct buf why;
	char id[32];

	buf_init(&why, 4096);
	fake_start(f);
	p = client(f, NULL, "t");
	for (k = 0; k < 5; k++) {
		snprintf(id, sizeof(id), "r-%d", k);
		ck_assert_msg(pub(p, "payload", id, &ack, &why) == 0, "%s", buf_cstr(&why));
		ck_assert_uint_eq(ack.seq, (uint64_t)k + 1);
		ck_assert_int_eq(fake_msg(f, k)->conn, 0);
		ck_assert_str_eq(fake_msg(f, k)->id, id);
	}
	ck_assert_int_eq(fget(f, &f->accepted), 1);
	ck_assert_int_eq(fget(f, &f->nmsgs), 5);
	natspub_free(p);
	fake_stop(f);
	buf_release(&why);
	ck_assert_int_eq(fd_count(), fds);
}
END_TEST

START_TEST(test_js_error)
{
	struct fake *f = fake_new();
	struct natsx_ack ack;
	struct natspub *p;
	struct buf why;

	buf_init(&why, 4096);
	f->acts[0] = ACT_JSERR;
	fake_start(f);
	p = client(f, NULL, "t");
	/* A definite no: not "unavailable", which would send the gateway
	 * looking for its streams again. */
	ck_assert_int_eq(pub(p, "x", "e-1", &ack, &why), -EIO);
	ck_assert_msg(strstr(buf_cstr(&why), JS_ERR_DESC), "why: %s", buf_cstr(&why));
	ck_assert_uint_eq(ack.seq, 0);
	/* The answer was read whole: the connection serves the next one. */
	ck_assert_int_eq(pub(p, "x", "e-2", &ack, &why), 0);
	ck_assert_uint_eq(ack.seq, fake_msg(f, 1)->seq);
	ck_assert_int_eq(fake_msg(f, 1)->conn, 0);
	ck_assert_int_eq(fget(f, &f->accepted), 1);
	natspub_free(p);
	fake_stop(f);
	buf_release(&why);
}
END_TEST

START_TEST(test_no_responders)
{
	struct fake *f = fake_new();
	struct natsx_ack ack;
	struct natspub *p;
	struct buf why;

	buf_init(&why, 4096);
	f->acts[0] = ACT_503;
	fake_start(f);
	p = client(f, NULL, "t");
	ck_assert_int_eq(pub(p, "x", "n-1", &ack, &why), -ERR_NOT_FOUND);
	ck_assert_uint_gt(why.len, 0);
	ck_assert_int_eq(pub(p, "x", "n-2", &ack, &why), 0);
	ck_assert_int_eq(fget(f, &f->accepted), 1);
	natspub_free(p);
	fake_stop(f);
	buf_release(&why);
}
END_TEST

START_TEST(test_server_ping)
{
	struct fake *f = fake_new();
	struct natsx_ack ack;
	struct natspub *p;
	struct buf why;

	buf_init(&why, 4096);
	f->acts[0] = ACT_PING;
	fake_start(f);
	p = client(f, NULL, "t");
	ck_assert_msg(pub(p, "x", "p-1", &ack, &why) == 0, "%s", buf_cstr(&why));
	ck_assert_int_eq(fget(f, &f->ping_pongs), 1);
	ck_assert_uint_eq(ack.seq, fake_msg(f, 0)->seq);

	/* A PING to the idle pooled connection: answered when it is taken,
	 * and the connection is still used. */
	fake_flag(f, f->ping, 0);
	ck_assert(fwait(f, &f->idle_pings, 1, 2000));
	usleep(20000); /* let the PING reach the client's socket */
	ck_assert_msg(pub(p, "x", "p-2", &ack, &why) == 0, "%s", buf_cstr(&why));
	ck_assert(fwait(f, &f->pongs, 1, 2000));
	ck_assert_int_eq(fake_msg(f, 1)->conn, 0);
	ck_assert_int_eq(fget(f, &f->accepted), 1);
	ck_assert_int_eq(fget(f, &f->bad), 0);
	natspub_free(p);
	fake_stop(f);
	buf_release(&why);
}
END_TEST

START_TEST(test_timeout)
{
	int fds = fd_count();
	struct fake *f = fake_new();
	struct natsx_ack ack;
	struct natspub *p;
	struct buf why;
	int64_t t0, took;

	buf_init(&why, 4096);
	f->acts[0] = ACT_SILENT;
	fake_start(f);
	p = client(f, NULL, "t");
	t0 = mono_ms();
	/* Sent, never answered: the outcome is unknown. */
	ck_assert_int_eq(natspub_publish(p, SUBJ, "x", 1, "t-1", 200, &ack, &why),
			 -ERR_TIMEOUT);
	took = mono_ms() - t0;
	ck_assert_int_ge(took, 150);
	ck_assert_int_lt(took, 2000);
	ck_assert_uint_gt(why.len, 0);
	/* The connection that owes an answer is closed, not pooled. */
	ck_assert(fwait(f, &f->eofs, 1, 2000));
	ck_assert_int_eq(pub(p, "x", "t-2", &ack, &why), 0);
	ck_assert_int_eq(fget(f, &f->accepted), 2);
	ck_assert_int_eq(fake_msg(f, 1)->conn, 1);
	ck_assert_uint_eq(ack.seq, fake_msg(f, 1)->seq);
	natspub_free(p);
	fake_stop(f);
	buf_release(&why);
	ck_assert_int_eq(fd_count(), fds);
}
END_TEST

START_TEST(test_max_payload)
{
	struct fake *f = fake_new();
	struct natsx_ack ack;
	struct natspub *p;
	struct buf why;
	char data[2000];

	memset(data, 'z', sizeof(data));
	buf_init(&why, 4096);
	f->info = "{\"server_id\":\"FAKE\",\"headers\":true,\"max_payload\":1024}";
	fake_start(f);
	p = client(f, NULL, "t");
	ck_assert_int_eq(natspub_publish(p, SUBJ, data, sizeof(data), "m-a", WAIT_MS, &ack, &why),
			 -ERR_TOO_BIG);
	ck_assert_uint_gt(why.len, 0);
	/* The header block "NATS/1.0\r\nNats-Msg-Id: m-b\r\n\r\n" is 30 bytes:
	 * 994 more make exactly max_payload, which the server takes. */
	ck_assert_int_eq(natspub_publish(p, SUBJ, data, 995, "m-b", WAIT_MS, &ack, &why),
			 -ERR_TOO_BIG);
	ck_assert_int_eq(natspub_publish(p, SUBJ, data, 994, "m-b", WAIT_MS, &ack, &why), 0);
	/* The stream is in order: had the others been sent, they came first. */
	ck_assert_int_eq(fget(f, &f->nmsgs), 1);
	ck_assert_str_eq(fake_msg(f, 0)->id, "m-b");
	ck_assert_uint_eq(fake_msg(f, 0)->len, 994);
	ck_assert_int_eq(fget(f, &f->accepted), 1);
	natspub_free(p);
	fake_stop(f);
	buf_release(&why);
}
END_TEST

START_TEST(test_stale_idle)
{
	struct fake *f = fake_new();
	struct natsx_ack ack;
	struct natspub *p;
	struct buf why;
	int k, seen = 0;

	buf_init(&why, 4096);
	fake_start(f);
	p = client(f, NULL, "t");
	ck_assert_int_eq(pub(p, "one", "s-1", &ack, &why), 0);
	/* The server drops the pooled connection while it is idle. */
	fake_flag(f, f->kick, 0);
	ck_assert(fwait(f, &f->kicked, 1, 2000));
	ck_assert_msg(pub(p, "two", "s-2", &ack, &why) == 0, "%s", buf_cstr(&why));
	ck_assert_int_eq(fget(f, &f->accepted), 2);
	for (k = 0; k < fget(f, &f->nmsgs); k++)
		seen += !strcmp(fake_msg(f, k)->id, "s-2");
	ck_assert_int_eq(seen, 1);
	ck_assert_int_eq(fake_msg(f, 1)->conn, 1);
	ck_assert_uint_eq(ack.seq, fake_msg(f, 1)->seq);
	natspub_free(p);
	fake_stop(f);
	buf_release(&why);
}
END_TEST

START_TEST(test_closed_after_hpub)
{
	struct fake *f = fake_new();
	struct natsx_ack ack;
	struct natspub *p;
	struct buf why;

	buf_init(&why, 4096);
	f->acts[1] = ACT_CLOSE;
	fake_start(f);
	p = client(f, NULL, "t");
	ck_assert_int_eq(pub(p, "one", "c-1", &ack, &why), 0);
	/* On the pooled connection the server reads the HPUB and goes away:
	 * sent again on a new one, with the same id. */
	ck_assert_msg(pub(p, "two", "c-2", &ack, &why) == 0, "%s", buf_cstr(&why));
	ck_assert_int_eq(fget(f, &f->closed), 1);
	ck_assert_int_eq(fget(f, &f->accepted), 2);
	ck_assert_int_eq(fget(f, &f->nmsgs), 3);
	ck_assert_str_eq(fake_msg(f, 1)->id, "c-2");
	ck_assert_str_eq(fake_msg(f, 2)->id, "c-2");
	ck_assert_int_eq(fake_msg(f, 1)->conn, 0);
	ck_assert_int_eq(fake_msg(f, 2)->conn, 1);
	ck_assert_uint_eq(fake_msg(f, 2)->len, 3);
	ck_assert(!memcmp(fake_msg(f, 2)->raw + fake_msg(f, 2)->hlen, "two", 3));
	ck_assert_uint_eq(ack.seq, fake_msg(f, 2)->seq);
	natspub_free(p);
	fake_stop(f);
	buf_release(&why);
}
END_TEST

/* The pooled connection turns out dead after the HPUB went out, and no new
 * one can be had: the first copy may be stored, so the outcome is unknown,
 * not "not stored". */
START_TEST(test_closed_then_no_server)
{
	struct fake *f = fake_new();
	struct natsx_ack ack;
	struct natspub *p;
	struct buf why;

	buf_init(&why, 4096);
	f->acts[1] = ACT_CLOSE;
	f->max_accept = 1;
	fake_start(f);
	p = client(f, NULL, "t");
	ck_assert_int_eq(pub(p, "one", "x-1", &ack, &why), 0);
	ck_assert_int_eq(pub(p, "two", "x-2", &ack, &why), -ERR_TIMEOUT);
	ck_assert_uint_gt(why.len, 0);
	ck_assert_int_eq(fget(f, &f->nmsgs), 2);
	ck_assert_str_eq(fake_msg(f, 1)->id, "x-2");
	natspub_free(p);
	fake_stop(f);
	buf_release(&why);
}
END_TEST

/* On a connection just opened a close is not staleness: no second try. */
START_TEST(test_closed_on_new_conn)
{
	struct fake *f = fake_new();
	struct natsx_ack ack;
	struct natspub *p;
	struct buf why;

	buf_init(&why, 4096);
	f->acts[0] = ACT_CLOSE;
	fake_start(f);
	p = client(f, NULL, "t");
	/* The message went out before the server hung up: unknown outcome. */
	ck_assert_int_eq(pub(p, "one", "n-1", &ack, &why), -ERR_TIMEOUT);
	ck_assert_uint_gt(why.len, 0);
	ck_assert_int_eq(fget(f, &f->nmsgs), 1);
	ck_assert_int_eq(fget(f, &f->accepted), 1);
	natspub_free(p);
	fake_stop(f);
	buf_release(&why);
}
END_TEST

/* natspub_publish gives -ENOTSUP against a server set up this way, with
 * why containing want. */
static void expect_refused(const char *info, const char *err, const char *want)
{
	struct fake *f = fake_new();
	struct natsx_ack ack;
	struct natspub *p;
	struct buf why;

	buf_init(&why, 4096);
	f->info = info;
	f->connect_err = err;
	fake_start(f);
	p = client(f, NULL, "t");
	ck_assert_int_eq(pub(p, "x", "x-1", &ack, &why), -ENOTSUP);
	ck_assert_msg(strstr(buf_cstr(&why), want), "why: %s", buf_cstr(&why));
	ck_assert_int_eq(fget(f, &f->nmsgs), 0);
	if (!err) {
		/* Refused on the INFO: no CONNECT sent, socket closed. */
		ck_assert(fwait(f, &f->eofs, 1, 2000));
		ck_assert_str_eq(f->connect[0], "");
	}
	natspub_free(p);
	fake_stop(f);
	buf_release(&why);
}

START_TEST(test_refusals)
{
	expect_refused("{\"server_id\":\"F\",\"headers\":true,\"tls_required\":true}", NULL,
		       "TLS");
	expect_refused("{\"server_id\":\"F\",\"max_payload\":1048576}", NULL, "headers");
	expect_refused("{\"server_id\":\"F\",\"headers\":true,\"nonce\":\"abc\"}", NULL, "nkey");
	expect_refused(NULL, "'Authorization Violation'", "Authorization Violation");
}
END_TEST

START_TEST(test_credentials)
{
	struct fake *f = fake_new();
	struct natsx_ack ack;
	struct natspub *p;
	struct buf why;
	json_t *j;

	buf_init(&why, 4096);
	/* A nonce is fine when there are credentials to send. */
	f->info = "{\"server_id\":\"F\",\"headers\":true,\"auth_required\":true,\"nonce\":\"n\"}";
	fake_start(f);
	p = client(f, "alice:secret", "t");
	ck_assert_msg(pub(p, "x", "u-1", &ack, &why) == 0, "%s", buf_cstr(&why));
	j = fake_connect(f, 0);
	ck_assert_str_eq(json_string_value(json_object_get(j, "user")), "alice");
	ck_assert_str_eq(json_string_value(json_object_get(j, "pass")), "secret");
	ck_assert_ptr_null(json_object_get(j, "auth_token"));
	json_decref(j);
	natspub_free(p);
	fake_stop(f);

	f = fake_new();
	fake_start(f);
	p = client(f, "tok", "t");
	ck_assert_msg(pub(p, "x", "u-2", &ack, &why) == 0, "%s", buf_cstr(&why));
	j = fake_connect(f, 0);
	ck_assert_str_eq(json_string_value(json_object_get(j, "auth_token")), "tok");
	ck_assert_ptr_null(json_object_get(j, "user"));
	ck_assert_ptr_null(json_object_get(j, "pass"));
	json_decref(j);
	natspub_free(p);
	fake_stop(f);
	buf_release(&why);
}
END_TEST

START_TEST(test_refused)
{
	struct natspub *p = NULL;
	struct natsx_ack ack;
	struct buf why;
	char url[64];
	int64_t t0;

	buf_init(&why, 4096);
	snprintf(url, sizeof(url), "nats://127.0.0.1:%d", dead_port());
	ck_assert_int_eq(natspub_new(url, "t", &p, NULL), 0);
	t0 = mono_ms();
	ck_assert_int_eq(pub(p, "x", "d-1", &ack, &why), -ERR_UNAVAILABLE);
	ck_assert_int_lt(mono_ms() - t0, 2000);
	ck_assert_msg(strstr(buf_cstr(&why), "cannot connect"), "why: %s", buf_cstr(&why));
	/* why is optional. */
	ck_assert_int_eq(natspub_publish(p, SUBJ, "x", 1, "d-2", 1000, NULL, NULL),
			 -ERR_UNAVAILABLE);
	natspub_free(p);
	buf_release(&why);
}
END_TEST

/* The first server refuses connections: the second one is used. */
START_TEST(test_second_server)
{
	struct fake *f = fake_new();
	struct natsx_ack ack;
	struct natspub *p = NULL;
	struct buf why;
	char url[128];

	buf_init(&why, 4096);
	fake_start(f);
	snprintf(url, sizeof(url), "nats://127.0.0.1:%d,nats://127.0.0.1:%d", dead_port(),
		 f->port);
	ck_assert_int_eq(natspub_new(url, "t", &p, NULL), 0);
	ck_assert_msg(pub(p, "x", "2-1", &ack, &why) == 0, "%s", buf_cstr(&why));
	ck_assert_int_eq(fget(f, &f->accepted), 1);
	ck_assert_uint_eq(ack.seq, 1);
	natspub_free(p);
	fake_stop(f);
	buf_release(&why);
}
END_TEST

START_TEST(test_bad_args)
{
	struct fake *f = fake_new();
	struct natsx_ack ack;
	struct natspub *p;
	struct buf why;
	char id[400];

	buf_init(&why, 4096);
	fake_start(f);
	p = client(f, NULL, "t");
	ck_assert_int_eq(natspub_publish(p, SUBJ, "x", 1, NULL, WAIT_MS, &ack, &why), -EINVAL);
	ck_assert_int_eq(natspub_publish(p, SUBJ, "x", 1, "", WAIT_MS, &ack, &why), -EINVAL);
	ck_assert_int_eq(natspub_publish(p, SUBJ, "x", 1, "a b", WAIT_MS, &ack, &why), -EINVAL);
	ck_assert_int_eq(natspub_publish(p, "a b", "x", 1, "i", WAIT_MS, &ack, &why), -EINVAL);
	ck_assert_int_eq(natspub_publish(p, "a\r\nb", "x", 1, "i", WAIT_MS, &ack, &why), -EINVAL);
	ck_assert_int_eq(natspub_publish(p, NULL, "x", 1, "i", WAIT_MS, &ack, &why), -EINVAL);
	ck_assert_int_eq(natspub_publish(p, SUBJ, NULL, 3, "i", WAIT_MS, &ack, &why), -EINVAL);
	ck_assert_int_eq(natspub_publish(NULL, SUBJ, "x", 1, "i", WAIT_MS, &ack, &why), -EINVAL);
	/* Checked before any connection is made. */
	ck_assert_int_eq(fget(f, &f->accepted), 0);

	/* An id too long for the header: refused, and the connection,
	 * which saw nothing of it, stays usable. */
	memset(id, 'i', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	ck_assert_int_eq(natspub_publish(p, SUBJ, "x", 1, id, WAIT_MS, &ack, &why), -EINVAL);
	ck_assert_int_eq(pub(p, "x", "ok", &ack, &why), 0);
	ck_assert_int_eq(fget(f, &f->nmsgs), 1);
	ck_assert_int_eq(fget(f, &f->accepted), 1);
	natspub_free(p);
	fake_stop(f);
	buf_release(&why);
}
END_TEST

struct worker {
	struct natspub *p;
	char id[32];
	pthread_t t;
	int rc;
	struct natsx_ack ack;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	w->rc = natspub_publish(w->p, SUBJ, w->id, strlen(w->id), w->id, WAIT_MS, &w->ack, NULL);
	return NULL;
}

/* The seq the fake acked for the message with id, or 0. */
static uint64_t seq_of(struct fake *f, const char *id)
{
	int k, n = fget(f, &f->nmsgs);

	for (k = 0; k < n && k < MAX_MSGS; k++)
		if (!strcmp(f->msgs[k].id, id))
			return f->msgs[k].seq;
	return 0;
}

/*
 * Publishes from many threads at once share one connection and go out
 * together: while the first one waits for its (delayed) ack, the others
 * queue up and are written as one batch. The fake answers them last
 * first, so each caller must find its own ack by its reply subject.
 */
START_TEST(test_concurrent)
{
	enum { N = 12 };
	int fds = fd_count(), i;
	struct fake *f = fake_new();
	struct worker w[N];
	struct natspub *p;

	f->acts[0] = ACT_DELAY;
	for (i = 1; i < N; i++)
		f->acts[i] = ACT_DEFER;
	f->defer_n = N - 1;
	fake_start(f);
	p = client(f, NULL, "t");
	for (i = 0; i < N; i++) {
		w[i] = (struct worker){ .p = p };
		snprintf(w[i].id, sizeof(w[i].id), "c-%d", i);
		ck_assert_int_eq(pthread_create(&w[i].t, NULL, worker_main, &w[i]), 0);
		if (i == 0)
			ck_assert(fwait(f, &f->nmsgs, 1, 2000)); /* the first one is out */
	}
	for (i = 0; i < N; i++) {
		pthread_join(w[i].t, NULL);
		ck_assert_msg(w[i].rc == 0, "%s: %d", w[i].id, w[i].rc);
		ck_assert_uint_eq(w[i].ack.seq, seq_of(f, w[i].id));
		ck_assert_uint_ne(w[i].ack.seq, 0);
	}
	ck_assert_int_eq(fget(f, &f->nmsgs), N);
	ck_assert_int_eq(fget(f, &f->accepted), 1);
	/* Several were answered out of order, so matching by order fails. */
	ck_assert_int_ge(fget(f, &f->max_deferred), 2);
	ck_assert_int_eq(fget(f, &f->bad), 0);
	for (i = 1; i < N; i++)
		ck_assert_str_ne(f->msgs[i].reply, f->msgs[i - 1].reply);
	ck_assert_int_eq(fget(f, &f->eofs), 0);
	natspub_free(NULL);
	natspub_free(p);
	ck_assert(fwait(f, &f->eofs, 1, 2000));
	fake_stop(f);
	ck_assert_int_eq(fd_count(), fds);
}
END_TEST

struct hook_seen {
	struct fake *f;
	int calls;
	int msgs_then;  /* messages the fake had when the hook ran */
};

static void on_sent(void *arg)
{
	struct hook_seen *h = arg;

	h->calls++;
	/* The message went out before the hook: the fake gets it. */
	fwait(h->f, &h->f->nmsgs, 1, 2000);
	h->msgs_then = fget(h->f, &h->f->nmsgs);
}

/* sent(arg) runs once the message is out and before its ack is read;
 * never for a message that did not go out. */
START_TEST(test_sent_hook)
{
	struct fake *f = fake_new();
	struct hook_seen h = { .f = f };
	struct natsx_ack ack;
	struct natspub *p;
	struct buf why;
	char big[2000];

	memset(big, 'b', sizeof(big));
	buf_init(&why, 4096);
	f->info = "{\"server_id\":\"FAKE\",\"headers\":true,\"max_payload\":1024}";
	fake_start(f);
	p = client(f, NULL, "t");
	ck_assert_int_eq(natspub_publish_then(p, SUBJ, big, sizeof(big), "h-0", WAIT_MS, on_sent,
					      &h, &ack, &why), -ERR_TOO_BIG);
	ck_assert_int_eq(h.calls, 0);
	ck_assert_msg(natspub_publish_then(p, SUBJ, "x", 1, "h-1", WAIT_MS, on_sent, &h, &ack,
					   &why) == 0, "%s", buf_cstr(&why));
	ck_assert_int_eq(h.calls, 1);
	ck_assert_int_eq(h.msgs_then, 1);
	ck_assert_uint_eq(ack.seq, fake_msg(f, 0)->seq);
	natspub_free(p);
	fake_stop(f);
	buf_release(&why);
}
END_TEST

struct late {
	struct natspub *p;
	int rc;
	struct buf why;
};

static void *late_main(void *arg)
{
	struct late *l = arg;

	l->rc = natspub_publish(l->p, SUBJ, "late", 4, "late-1", 50, NULL, &l->why);
	return NULL;
}

/* A publish still queued behind a slow batch at its deadline is taken out
 * of the queue and never sent; the publishes after it go on. */
START_TEST(test_deadline_while_queued)
{
	struct fake *f = fake_new();
	struct late l = { 0 };
	struct natsx_ack ack;
	struct natspub *p;
	struct buf why;
	pthread_t t;
	int k;

	buf_init(&why, 4096);
	buf_init(&l.why, 4096);
	f->acts[0] = ACT_DELAY;
	fake_start(f);
	p = client(f, NULL, "t");
	l.p = p;
	/* The slow one is out first; the late one queues behind it. */
	{
		struct worker w = { .p = p, .id = "slow-1" };
		ck_assert_int_eq(pthread_create(&w.t, NULL, worker_main, &w), 0);
		ck_assert(fwait(f, &f->nmsgs, 1, 2000));
		ck_assert_int_eq(pthread_create(&t, NULL, late_main, &l), 0);
		pthread_join(t, NULL);
		pthread_join(w.t, NULL);
		ck_assert_int_eq(w.rc, 0);
	}
	ck_assert_int_eq(l.rc, -ERR_UNAVAILABLE);
	ck_assert_msg(strstr(buf_cstr(&l.why), "not sent"), "why: %s", buf_cstr(&l.why));
	ck_assert_int_eq(pub(p, "after", "after-1", &ack, &why), 0);
	for (k = 0; k < fget(f, &f->nmsgs); k++)
		ck_assert_str_ne(fake_msg(f, k)->id, "late-1");
	ck_assert_int_eq(fget(f, &f->nmsgs), 2);
	natspub_free(p);
	fake_stop(f);
	buf_release(&why);
	buf_release(&l.why);
}
END_TEST

/* An answer to another reply subject is skipped, not taken for ours. */
START_TEST(test_stray_answer)
{
	struct fake *f = fake_new();
	struct natsx_ack ack;
	struct natspub *p;
	struct buf why;

	buf_init(&why, 4096);
	f->acts[0] = ACT_STRAY;
	fake_start(f);
	p = client(f, NULL, "t");
	ck_assert_msg(pub(p, "x", "y-1", &ack, &why) == 0, "%s", buf_cstr(&why));
	ck_assert_uint_eq(ack.seq, fake_msg(f, 0)->seq);
	ck_assert_uint_ne(ack.seq, 999);
	ck_assert_int_eq(pub(p, "x", "y-2", &ack, &why), 0);
	ck_assert_uint_eq(ack.seq, fake_msg(f, 1)->seq);
	ck_assert_int_eq(fget(f, &f->accepted), 1);
	natspub_free(p);
	fake_stop(f);
	buf_release(&why);
}
END_TEST

/* An ack that arrives in pieces is put together. */
START_TEST(test_slow_answer)
{
	struct fake *f = fake_new();
	struct natsx_ack ack;
	struct natspub *p;
	struct buf why;

	buf_init(&why, 4096);
	f->acts[0] = ACT_SLOW;
	fake_start(f);
	p = client(f, NULL, "t");
	ck_assert_msg(pub(p, "x", "w-1", &ack, &why) == 0, "%s", buf_cstr(&why));
	ck_assert_uint_eq(ack.seq, fake_msg(f, 0)->seq);
	ck_assert_int_eq(pub(p, "x", "w-2", &ack, &why), 0);
	ck_assert_int_eq(fget(f, &f->accepted), 1);
	natspub_free(p);
	fake_stop(f);
	buf_release(&why);
}
END_TEST

/* -ERR while waiting: refused, and that connection is not used again. */
START_TEST(test_err_during_publish)
{
	struct fake *f = fake_new();
	struct natsx_ack ack;
	struct natspub *p;
	struct buf why;

	buf_init(&why, 4096);
	f->acts[0] = ACT_ERR;
	fake_start(f);
	p = client(f, NULL, "t");
	ck_assert_int_eq(pub(p, "x", "v-1", &ack, &why), -ERR_UNAVAILABLE);
	ck_assert_msg(strstr(buf_cstr(&why), "Permissions Violation"), "why: %s",
		      buf_cstr(&why));
	ck_assert_int_eq(pub(p, "x", "v-2", &ack, &why), 0);
	ck_assert_int_eq(fget(f, &f->accepted), 2);
	natspub_free(p);
	fake_stop(f);
	buf_release(&why);
}
END_TEST

/* A long subject fits in the HPUB line (NATS reads control lines up to
 * 4 KiB); an earlier version capped the line at about 430 bytes. */
START_TEST(test_long_subject)
{
	struct fake *f = fake_new();
	struct natsx_ack ack;
	struct natspub *p;
	struct buf why;
	char subj[601];

	memset(subj, 's', sizeof(subj) - 1);
	subj[sizeof(subj) - 1] = '\0';
	buf_init(&why, 4096);
	fake_start(f);
	p = client(f, NULL, "t");
	ck_assert_msg(natspub_publish(p, subj, "x", 1, "l-1", WAIT_MS, &ack, &why) == 0, "%s",
		      buf_cstr(&why));
	ck_assert_str_eq(fake_msg(f, 0)->subj, subj);
	natspub_free(p);
	fake_stop(f);
	buf_release(&why);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("natspub");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	/* As the binaries do. */
	signal(SIGPIPE, SIG_IGN);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_url);
	tcase_add_test(tc, test_publish);
	tcase_add_test(tc, test_duplicate);
	tcase_add_test(tc, test_reuse);
	tcase_add_test(tc, test_js_error);
	tcase_add_test(tc, test_no_responders);
	tcase_add_test(tc, test_server_ping);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_max_payload);
	tcase_add_test(tc, test_stale_idle);
	tcase_add_test(tc, test_closed_after_hpub);
	tcase_add_test(tc, test_closed_on_new_conn);
	tcase_add_test(tc, test_closed_then_no_server);
	tcase_add_test(tc, test_deadline_while_queued);
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_credentials);
	tcase_add_test(tc, test_refused);
	tcase_add_test(tc, test_second_server);
	tcase_add_test(tc, test_bad_args);
	tcase_add_test(tc, test_concurrent);
	tcase_add_test(tc, test_sent_hook);
	tcase_add_test(tc, test_stray_answer);
	tcase_add_test(tc, test_slow_answer);
	tcase_add_test(tc, test_err_during_publish);
	tcase_add_test(tc, test_long_subject);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
