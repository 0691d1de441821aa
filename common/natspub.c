/*
 * natspub.c - JetStream publishes answered on the caller's thread (see
 * natspub.h).
 *
 * The NATS client protocol, as much of it as a publisher needs: the
 * server's INFO, our CONNECT and one wildcard SUB for replies, then HPUB
 * per publish and MSG or HMSG back; PING from the server gets PONG, +OK
 * and later INFO lines are skipped, -ERR ends the connection.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "natspub.h"
#include "net.h"
#include "spawn.h"
#include "url.h"
#include "banned.h"

#define MAX_SERVERS 8
#define POOL_MAX 64            /* idle connections kept */
#define CONNECT_WAIT_MS 2000   /* per server, handshake included */
#define ONE_WRITE_MAX (64u * 1024) /* a message up to this is sent in one send */
#define DEFAULT_PORT 4222

struct server {
	char host[256];
	int port;
	char user[256], pass[256], token[256];
};

struct natspub_conn {
	struct natspub_conn *next;
	int fd;
	uint64_t asked;        /* replies asked for on this connection */
	int64_t max_payload;
	char inbox[48];        /* "_CFAAS.<random>." */
	struct rbuf rb;
};

/* A publish in flight: written by natspub_send, answered in natspub_wait.
 * subj, data and msg_id are the caller's until the wait returns (a
 * connection found dead is replaced and the message written again). */
struct natspub_call {
	struct natspub_conn *conn;
	const char *subj, *msg_id;
	const void *data;
	size_t len;
	int64_t deadline;
	bool reused;
	bool sent;  /* a copy was written */
	int rc;
	char reply[80];
};

struct natspub {
	pthread_mutex_t lock;
	struct natspub_conn *idle;
	size_t nidle;
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

static struct natspub_conn *pool_take(struct natspub *p)
{
	struct natspub_conn *c;

	for (;;) {
		pthread_mutex_lock(&p->lock);
		c = p->idle;
		if (c) {
			p->idle = c->next;
			p->nidle--;
		}
		pthread_mutex_unlock(&p->lock);
		if (!c || conn_fresh(c))
			return c;
		conn_close(c);
	}
}

static void pool_give(struct natspub *p, struct natspub_conn *c)
{
	pthread_mutex_lock(&p->lock);
	if (p->nidle < POOL_MAX) {
		c->next = p->idle;
		p->idle = c;
		p->nidle++;
		c = NULL;
	}
	pthread_mutex_unlock(&p->lock);
	conn_close(c);
}

void natspub_free(struct natspub *p)
{
	struct natspub_conn *c, *next;

	if (!p)
		return;
	for (c = p->idle; c; c = next) {
		next = c->next;
		conn_close(c);
	}
	pthread_mutex_destroy(&p->lock);
	free(p);
}

/* ---- a publish ---------------------------------------------------------------- */

/* Reads JetStream's answer: {"stream":..,"seq":..,"duplicate":..} or
 * {"error":{"code":..,"err_code":..,"description":..}}. */
static int parse_ack(const char *data, size_t n, struct natsx_ack *ack, struct buf *why)
{
	json_t *j = json_loadb(data, n, 0, NULL), *err;
	int rc = 0;

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

/* Writes the publish of call on c. */
static int send_on(struct natspub_conn *c, struct natspub_call *call, bool *stale, struct buf *why)
{
	char hdr[200];
	struct buf head;
	size_t len = call->len;
	int hlen, rc;

	*stale = false;
	snprintf(call->reply, sizeof(call->reply), "%s%llu", c->inbox,
		 (unsigned long long)++c->asked);
	hlen = snprintf(hdr, sizeof(hdr), "NATS/1.0\r\nNats-Msg-Id: %s\r\n\r\n", call->msg_id);
	if (hlen < 0 || (size_t)hlen >= sizeof(hdr)) {
		buf_printf(why, "message id too long");
		return -EINVAL;
	}
	if (c->max_payload > 0 && len + (size_t)hlen > (size_t)c->max_payload) {
		buf_printf(why, "the message (%zu bytes) is over the server's max_payload (%lld)",
			   len + (size_t)hlen, (long long)c->max_payload);
		return -ERR_TOO_BIG;
	}
	buf_init(&head, strlen(call->subj) + strlen(call->reply) + (size_t)hlen + 64 +
				(len <= ONE_WRITE_MAX ? len + 2 : 0));
	rc = buf_printf(&head, "HPUB %s %s %d %zu\r\n%s", call->subj, call->reply, hlen,
			(size_t)hlen + len, hdr);
	if (!rc && len <= ONE_WRITE_MAX) {
		/* One send, so the server reads the whole message at once. */
		rc = buf_add(&head, call->data, len);
		if (!rc)
			rc = buf_add(&head, "\r\n", 2);
		if (!rc)
			rc = net_write_all(c->fd, head.data, head.len, call->deadline);
	} else if (!rc) {
		rc = net_write_all(c->fd, head.data, head.len, call->deadline);
		if (!rc)
			rc = net_write_all(c->fd, call->data, len, call->deadline);
		if (!rc)
			rc = net_write_all(c->fd, "\r\n", 2, call->deadline);
	}
	buf_release(&head);
	if (rc) {
		*stale = rc == -ERR_CLOSED || rc == -EPIPE || rc == -ECONNRESET;
		buf_printf(why, "cannot send to NATS: %s", err_str(rc));
		return rc == -ENOMEM ? rc : -ERR_UNAVAILABLE;
	}
	call->sent = true;
	return 0;
}

/* Reads the answer to call from c. *stale is set when the connection
 * failed before any answer came (worth one more try on a new
 * connection); *in_step when the answer was read whole, so c can serve
 * another publish. */
static int read_answer(struct natspub_conn *c, struct natspub_call *call, struct natsx_ack *ack,
		       bool *stale, bool *in_step, struct buf *why)
{
	char *line, *payload = NULL, *rsubj;
	size_t hsize, size;
	int rc;

	*stale = false;
	*in_step = false;
	for (;;) {
		rc = read_line(c, call->deadline, &line);
		if (rc) {
			*stale = rc == -ERR_CLOSED || rc == -ECONNRESET;
			if (rc == -ERR_TIMEOUT)
				buf_printf(why, "no answer from JetStream in time");
			else
				buf_printf(why, "lost the NATS connection: %s", err_str(rc));
			return -ERR_TIMEOUT;
		}
		if (strncmp(line, "MSG ", 4) && strncmp(line, "HMSG ", 5)) {
			/* -ERR from the server refuses the publish; anything else
			 * lost the connection after the message went out. */
			rc = housekeeping(c, line, call->deadline, why);
			if (rc)
				return rc == -ERR_UNAVAILABLE || rc == -ENOMEM ? rc : -ERR_TIMEOUT;
			continue;
		}
		rc = parse_msg_line(line, &rsubj, &hsize, &size);
		if (rc) {
			buf_printf(why, "unreadable message line from the NATS server");
			return -ERR_UNAVAILABLE;
		}
		/* rsubj points into the buffer, which the payload read may move. */
		rc = strcmp(rsubj, call->reply);
		if (read_payload(c, size, call->deadline, &payload)) {
			buf_printf(why, "lost the NATS connection while reading the answer");
			return -ERR_TIMEOUT;
		}
		if (rc)
			continue; /* not ours: an answer to a publish given up on */
		*in_step = true;
		if (hsize && size == hsize)
			return status_reply(payload, hsize, why);
		return parse_ack(payload + hsize, size - hsize, ack, why);
	}
}

/* Takes a connection (pooled or new) and writes call on it; one more try
 * on a new connection when a pooled one turns out to be dead. */
static int start_call(struct natspub *p, struct natspub_call *call, struct buf *why)
{
	bool stale = false;
	int rc, attempt;

	for (attempt = 0; attempt < 2; attempt++) {
		struct natspub_conn *c = attempt ? NULL : pool_take(p);

		call->reused = c != NULL;
		if (!c) {
			rc = conn_open(p, &c, call->deadline, why);
			if (rc)
				return rc;
		}
		buf_reset(why);
		rc = send_on(c, call, &stale, why);
		if (!rc) {
			call->conn = c;
			return 0;
		}
		if (rc == -ERR_TOO_BIG || rc == -EINVAL)
			pool_give(p, c); /* nothing was written */
		else
			conn_close(c);
		if (!(stale && call->reused))
			return rc;
	}
	return rc;
}

static void natspub_send(struct natspub *p, const char *subj, const void *data, size_t len,
			 const char *msg_id, int64_t wait_ms, struct natspub_call *call,
			 struct buf *why)
{
	memset(call, 0, sizeof(*call));
	call->subj = subj;
	call->data = data;
	call->len = len;
	call->msg_id = msg_id;
	call->deadline = mono_ms() + (wait_ms > 0 ? wait_ms : 5000);
	if (!p || !subj || !*subj || !msg_id || !*msg_id || strpbrk(subj, " \t\r\n") ||
	    strpbrk(msg_id, " \t\r\n") || (!data && len)) {
		call->rc = -EINVAL;
		return;
	}
	call->rc = start_call(p, call, why);
}

static int natspub_wait(struct natspub *p, struct natspub_call *call, struct natsx_ack *ack,
			struct buf *why)
{
	bool stale, in_step;
	int rc;

	if (ack)
		memset(ack, 0, sizeof(*ack));
	if (call->rc)
		return call->rc;
	for (;;) {
		struct natspub_conn *c = call->conn;

		rc = read_answer(c, call, ack, &stale, &in_step, why);
		call->conn = NULL;
		if (in_step) {
			pool_give(p, c);
		} else {
			conn_close(c);
		}
		/* A pooled connection the server had dropped while idle: the
		 * same message id again on a new one is safe (JetStream drops
		 * a copy it has stored already). */
		if (!(rc && stale && call->reused))
			return rc;
		call->reused = false;
		buf_reset(why);
		rc = conn_open(p, &call->conn, call->deadline, why);
		if (!rc) {
			rc = send_on(call->conn, call, &stale, why);
			if (rc) {
				conn_close(call->conn);
				call->conn = NULL;
			}
		}
		/* The first copy went out: the outcome is unknown, not "no". */
		if (rc)
			return rc == -ENOMEM ? rc : -ERR_TIMEOUT;
	}
}

int natspub_publish_then(struct natspub *p, const char *subj, const void *data, size_t len,
			 const char *msg_id, int64_t wait_ms, void (*sent)(void *), void *arg,
			 struct natsx_ack *ack, struct buf *why)
{
	struct natspub_call call;
	struct buf scratch;
	int rc;

	buf_init(&scratch, 2048);
	if (!why)
		why = &scratch;
	natspub_send(p, subj, data, len, msg_id, wait_ms, &call, why);
	if (!call.rc && sent)
		sent(arg);
	rc = natspub_wait(p, &call, ack, why);
	buf_release(&scratch);
	return rc;
}

int natspub_publish(struct natspub *p, const char *subj, const void *data, size_t len,
		    const char *msg_id, int64_t wait_ms, struct natsx_ack *ack, struct buf *why)
{
	return natspub_publish_then(p, subj, data, len, msg_id, wait_ms, NULL, NULL, ack, why);
}
