#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "net.h"
#include "spool.h"
#include "banned.h"

void spool_init(struct spool *s, uint64_t cap, const char *dir)
{
	buf_init(&s->mem, SPOOL_MEM_MAX);
	s->fd = -1;
	s->total = 0;
	s->cap = cap;
	s->dir = dir;
	s->over = false;
}

void spool_release(struct spool *s)
{
	buf_release(&s->mem);
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

static int open_tmp(const char *dir)
{
	char path[4096];
	int fd;

	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	/* File systems without O_TMPFILE: create and unlink at once. */
	if ((size_t)snprintf(path, sizeof(path), "%s/cfaas-spool-XXXXXX", dir) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	unlink(path);
	return fd;
}

int spool_write(struct spool *s, const void *data, size_t len)
{
	const char *p = data;

	if (len > s->cap || s->total > s->cap - len) {
		s->over = true;
		return -ERR_TOO_BIG;
	}
	s->total += len;
	if (s->fd < 0 && buf_add(&s->mem, data, len) == 0)
		return 0;
	if (s->fd < 0) {
		s->fd = open_tmp(s->dir);
		if (s->fd < 0)
			return s->fd;
	}
	while (len) {
		ssize_t n = write(s->fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int spool_send(struct spool *s, int fd, int64_t deadline_ms)
{
	off_t size;
	int rc = 0;

	if (s->mem.len)
		rc = net_write_all(fd, s->mem.data, s->mem.len, deadline_ms);
	if (rc || s->fd < 0)
		return rc;
	size = lseek(s->fd, 0, SEEK_END);
	if (size < 0)
		return -errno;
	return net_sendfile_all(fd, s->fd, 0, (size_t)size, deadline_ms);
}

size_t spool_peek(const struct spool *s, void *out, size_t cap)
{
	size_t n = s->mem.len < cap ? s->mem.len : cap;

	if (n)
		memcpy(out, s->mem.data, n);
	return n;
}
