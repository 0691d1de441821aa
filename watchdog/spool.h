/*
 * spool.h - a capped sink for a handler's output.
 *
 * Output is kept in memory up to SPOOL_MEM_MAX bytes and spills to an
 * unlinked temporary file after that, so a large output costs disk, not
 * memory, and is sent with sendfile(2).
 */
#ifndef WD_SPOOL_H
#define WD_SPOOL_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"

#define SPOOL_MEM_MAX (256u * 1024)

struct spool {
	struct buf mem;
	int fd;             /* -1 until the output spills */
	uint64_t total;
	uint64_t cap;
	const char *dir;    /* borrowed */
	bool over;          /* an append went over cap */
};

void spool_init(struct spool *s, uint64_t cap, const char *dir);
void spool_release(struct spool *s);

/* Appends. 0, or -ERR_TOO_BIG past the cap (s->over is then set), or a
 * negative errno from the temporary file. */
int spool_write(struct spool *s, const void *data, size_t len);

/* Sends everything to fd before the deadline. */
int spool_send(struct spool *s, int fd, int64_t deadline_ms);

/* Copies at most cap bytes of the start of the output into out. */
size_t spool_peek(const struct spool *s, void *out, size_t cap);

#endif
