/*
 * net.h - sockets with deadlines.
 *
 * Every call that may block takes a CLOCK_MONOTONIC deadline in
 * milliseconds (mono_ms() + timeout; 0 means no deadline) and uses poll(2)
 * with non-blocking send/recv, so a slow peer costs a bounded time. Sockets
 * are close-on-exec; send-based writes never raise SIGPIPE.
 */
#ifndef CFAAS_NET_H
#define CFAAS_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Listens on TCP addr:port (IPv4 dotted quad or IPv6 literal; "" or NULL
 * means all IPv4 interfaces); port 0 picks a free one. Returns the fd or a
 * negative errno; *bound_port gets the port (may be NULL). */
int net_listen(const char *addr, int port, int backlog, int *bound_port);

/* Connects to host (numeric address or "localhost") and port before the
 * deadline. Returns the fd (blocking mode, TCP_NODELAY) or a negative code
 * (-ECONNREFUSED, -ERR_TIMEOUT, ...). */
int net_connect(const char *host, int port, int64_t deadline_ms);

/* Connects to a unix socket path. Returns the fd or a negative errno. */
int net_connect_unix(const char *path, int64_t deadline_ms);

/* Waits until fd is readable (POLLIN) or writable (POLLOUT). 0, or
 * -ERR_TIMEOUT, or a negative errno. */
int net_wait(int fd, short events, int64_t deadline_ms);

/* Writes all len bytes. 0, -ERR_TIMEOUT, -ERR_CLOSED (peer gone), or errno. */
int net_write_all(int fd, const void *data, size_t len, int64_t deadline_ms);

/* Writes every byte of iov[0..n) (n at most IOV_MAX) with sendmsg(2), one
 * system call for all of them when the socket takes it. iov is advanced as
 * bytes go out, so the caller's array is changed. *written (may be NULL)
 * gets the bytes written, on failure too: the caller can tell which
 * pieces went out whole. 0, -ERR_TIMEOUT, -ERR_CLOSED, or errno. */
int net_writev_all(int fd, struct iovec *iov, int n, int64_t deadline_ms, size_t *written);

/* Sends count bytes of file in_fd from offset with sendfile(2). sendfile
 * has no MSG_NOSIGNAL: the caller must ignore SIGPIPE (every cfaas binary
 * does), else a peer that went away raises it. */
int net_sendfile_all(int fd, int in_fd, off_t offset, size_t count, int64_t deadline_ms);

/* A buffered reader on a socket. */
#define RBUF_SIZE (64u * 1024) /* also the cap on a request or response head */
struct rbuf {
	int fd;
	int timeo_ms; /* the SO_RCVTIMEO rbuf_fill_wait last set; 0: none */
	size_t start, end;
	char data[RBUF_SIZE];
};

void rbuf_init(struct rbuf *r, int fd);

/* Bytes buffered and not consumed yet. */
static inline size_t rbuf_avail(const struct rbuf *r)
{
	return r->end - r->start;
}

/* Reads more from the socket into the buffer (compacting it first).
 * Returns bytes added (>0), -ERR_CLOSED at end of stream, -EAGAIN when
 * nonblock and nothing is ready, -ERR_TIMEOUT, -ERR_TOO_BIG when the buffer
 * is full, or a negative errno. */
ssize_t rbuf_fill(struct rbuf *r, bool nonblock, int64_t deadline_ms);

/* rbuf_fill(r, false, deadline_ms) for a reader that expects to wait, such
 * as one reading the answer to what it just sent: it blocks in recv(2)
 * under a receive timeout (SO_RCVTIMEO) standing in for the deadline, one
 * system call where rbuf_fill makes three (a recv that finds nothing, a
 * poll, the recv). The timeout is set again only when the one in place
 * would overrun the deadline by more than RBUF_TIMEO_SLACK_MS, so a caller
 * with a steady timeout pays no setsockopt either. The fd should be in
 * blocking mode; a non-blocking one still works, through poll(2). */
#define RBUF_TIMEO_SLACK_MS 50
ssize_t rbuf_fill_wait(struct rbuf *r, int64_t deadline_ms);

#endif
