#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "err.h"
#include "net.h"
#include "spawn.h"
#include "banned.h"

int net_wait(int fd, short events, int64_t deadline_ms)
{
	for (;;) {
		struct pollfd pf = { .fd = fd, .events = events };
		int timeout = -1, n;

		if (deadline_ms) {
			int64_t left = deadline_ms - mono_ms();
			if (left <= 0)
				return -ERR_TIMEOUT;
			timeout = left > 3600000 ? 3600000 : (int)left;
		}
		n = poll(&pf, 1, timeout);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static int fill_addr(const char *addr, int port, struct sockaddr_storage *ss,
		     socklen_t *len)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (!addr || !*addr)
		addr = "0.0.0.0";
	else if (strcmp(addr, "localhost") == 0)
		addr = "127.0.0.1";
	if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		*len = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*in6);
		return 0;
	}
	return -ERR_INVALID;
}

int net_listen(const char *addr, int port, int backlog, int *bound_port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1, rc;

	if (port < 0 || port > 65535)
		return -ERR_INVALID;
	rc = fill_addr(addr, port, &ss, &len);
	if (rc)
		return rc;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, backlog) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if (bound_port) {
		len = sizeof(ss);
		getsockname(fd, (struct sockaddr *)&ss, &len);
		*bound_port = ntohs(ss.ss_family == AF_INET ?
					    ((struct sockaddr_in *)&ss)->sin_port :
					    ((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	return fd;
}

static int finish_connect(int fd, const struct sockaddr *sa, socklen_t len,
			  int64_t deadline_ms)
{
	int err = 0, rc;
	socklen_t elen = sizeof(err);

	fcntl(fd, F_SETFL, O_NONBLOCK);
	if (connect(fd, sa, len) < 0) {
		if (errno != EINPROGRESS)
			return -errno;
		rc = net_wait(fd, POLLOUT, deadline_ms);
		if (rc)
			return rc;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
			return -errno;
		if (err)
			return -err;
	}
	fcntl(fd, F_SETFL, 0);
	return 0;
}

int net_connect(const char *host, int port, int64_t deadline_ms)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1, rc;

	rc = fill_addr(host, port, &ss, &len);
	if (rc)
		return rc;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	rc = finish_connect(fd, (struct sockaddr *)&ss, len, deadline_ms);
	if (rc) {
		close(fd);
		return rc;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

int net_connect_unix(const char *path, int64_t deadline_ms)
{
	struct sockaddr_un sun;
	size_t n = strlen(path);
	int fd, rc;

	if (n >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, n + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	rc = finish_connect(fd, (struct sockaddr *)&sun, sizeof(sun), deadline_ms);
	if (rc) {
		close(fd);
		return rc;
	}
	return fd;
}

int net_write_all(int fd, const void *data, size_t len, int64_t deadline_ms)
{
	const char *p = data;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int rc = net_wait(fd, POLLOUT, deadline_ms);
			if (rc)
				return rc;
			continue;
		}
		if (n < 0 && errno == ENOTSOCK) {
			/* A pipe or file: plain blocking write. */
			n = write(fd, p, len);
			if (n > 0) {
				p += n;
				len -= (size_t)n;
				continue;
			}
		}
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
			return -ERR_CLOSED;
		return n < 0 ? -errno : -ERR_CLOSED;
	}
	return 0;
}

int net_writev_all(int fd, struct iovec *iov, int n, int64_t deadline_ms, size_t *written)
{
	size_t total = 0;

	while (n > 0 && iov->iov_len == 0) {
		iov++;
		n--;
	}
	while (n > 0) {
		struct msghdr mh;
		ssize_t k;

		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = iov;
		mh.msg_iovlen = (size_t)n;
		k = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k < 0) {
			int rc;

			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				rc = errno == EPIPE || errno == ECONNRESET ? -ERR_CLOSED : -errno;
				if (written)
					*written = total;
				return rc;
			}
			rc = net_wait(fd, POLLOUT, deadline_ms);
			if (rc) {
				if (written)
					*written = total;
				return rc;
			}
			continue;
		}
		total += (size_t)k;
		while (n > 0 && (size_t)k >= iov->iov_len) {
			k -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + k;
			iov->iov_len -= (size_t)k;
		}
	}
	if (written)
		*written = total;
	return 0;
}

int net_sendfile_all(int fd, int in_fd, off_t offset, size_t count, int64_t deadline_ms)
{
	int fl = fcntl(fd, F_GETFL);
	int rc = 0;

	/* sendfile has no per-call non-blocking flag: switch the socket. */
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	while (count) {
		ssize_t n = sendfile(fd, in_fd, &offset, count > (1u << 30) ? (1u << 30) : count);
		if (n > 0) {
			count -= (size_t)n;
			continue;
		}
		if (n == 0) {
			rc = -EIO;
			break;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN) {
			rc = net_wait(fd, POLLOUT, deadline_ms);
			if (rc)
				break;
			continue;
		}
		rc = (errno == EPIPE || errno == ECONNRESET) ? -ERR_CLOSED : -errno;
		break;
	}
	fcntl(fd, F_SETFL, fl);
	return rc;
}

void rbuf_init(struct rbuf *r, int fd)
{
	r->fd = fd;
	r->timeo_ms = 0;
	r->start = r->end = 0;
}

/* Moves the unread bytes to the front; false when the buffer is full. */
static bool rbuf_compact(struct rbuf *r)
{
	if (r->start > 0) {
		memmove(r->data, r->data + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	return r->end < sizeof(r->data);
}

/* Sets fd's receive timeout to ms (0: none). */
static int set_rcvtimeo(int fd, int64_t ms)
{
	struct timeval tv = { .tv_sec = (time_t)(ms / 1000),
			      .tv_usec = (suseconds_t)(ms % 1000) * 1000 };

	return setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ? -errno : 0;
}

/* Makes the socket's receive timeout end near the deadline (see
 * rbuf_fill_wait): 0, -ERR_TIMEOUT once it has passed, or an errno. */
static int arm_rcvtimeo(struct rbuf *r, int64_t deadline_ms)
{
	int64_t left = deadline_ms ? deadline_ms - mono_ms() : 0;
	int rc = 0;

	if (deadline_ms && left <= 0)
		return -ERR_TIMEOUT;
	if (deadline_ms && (!r->timeo_ms || r->timeo_ms > left + RBUF_TIMEO_SLACK_MS)) {
		rc = set_rcvtimeo(r->fd, left);
		r->timeo_ms = left > INT32_MAX ? INT32_MAX : (int)left;
	} else if (!deadline_ms && r->timeo_ms) {
		rc = set_rcvtimeo(r->fd, 0);
		r->timeo_ms = 0;
	}
	return rc;
}

/* rbuf_fill, or rbuf_fill_wait when in_recv: blocking in recv itself
 * rather than in poll. */
static ssize_t fill(struct rbuf *r, bool nonblock, bool in_recv, int64_t deadline_ms)
{
	if (!rbuf_compact(r))
		return -ERR_TOO_BIG;
	for (;;) {
		ssize_t n;
		int rc;

		if (in_recv) {
			rc = arm_rcvtimeo(r, deadline_ms);
			if (rc)
				return rc;
		}
		n = recv(r->fd, r->data + r->end, sizeof(r->data) - r->end,
			 in_recv ? 0 : MSG_DONTWAIT);
		if (n > 0) {
			r->end += (size_t)n;
			return n;
		}
		if (n == 0)
			return -ERR_CLOSED;
		if (errno == EINTR)
			continue;
		if (errno == ECONNRESET)
			return -ERR_CLOSED;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		/* Nothing yet; with in_recv, the timeout ran out early or the
		 * fd is non-blocking. */
		if (nonblock)
			return -EAGAIN;
		rc = net_wait(r->fd, POLLIN, deadline_ms);
		if (rc)
			return rc;
	}
}

ssize_t rbuf_fill(struct rbuf *r, bool nonblock, int64_t deadline_ms)
{
	return fill(r, nonblock, false, deadline_ms);
}

ssize_t rbuf_fill_wait(struct rbuf *r, int64_t deadline_ms)
{
	return fill(r, false, true, deadline_ms);
}
