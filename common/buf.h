/*
 * buf.h - growable byte buffers with a hard size cap.
 *
 * A struct buf owns a heap block holding `len` bytes of data followed by a
 * NUL byte that is not counted, so text can be used as a C string while
 * binary data (which may itself contain NUL bytes) is read as (data, len).
 * Every buffer is created with a cap: an append that would make len exceed
 * cap fails with -ERR_TOO_BIG and leaves the buffer as it was.
 *
 * Invariants: len <= cap; data is NULL until the first append, and
 * buf_cstr() never returns NULL.
 */
#ifndef CFAAS_BUF_H
#define CFAAS_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct buf {
	char *data;
	size_t len;
	size_t alloc;
	size_t cap;
};

/* Caps shared by every binary; a module may define tighter ones. */
#define BUF_CAP_LINE (64u * 1024)

/* Initialises an empty buffer that may hold at most cap bytes. */
void buf_init(struct buf *b, size_t cap);

/* Frees the data and leaves b empty (cap kept); safe on a released buffer. */
void buf_release(struct buf *b);

/* Empties b without freeing its memory. */
void buf_reset(struct buf *b);

/* Makes room for at least extra more bytes. 0, -ENOMEM or -ERR_TOO_BIG. */
int buf_grow(struct buf *b, size_t extra);

/* Appends len bytes. 0 or -ERR_TOO_BIG / -ENOMEM (b unchanged). */
int buf_add(struct buf *b, const void *data, size_t len);

/* Appends a NUL-terminated string. */
int buf_adds(struct buf *b, const char *s);

/* Appends one byte. */
int buf_addc(struct buf *b, char c);

/* Appends formatted text (printf rules). On failure b is unchanged. */
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);

/* A new string made with printf rules (caller frees), at most 64 KiB, or
 * NULL when it does not fit or memory is short. */
char *buf_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Appends s as a JSON string literal, quotes included; bytes that are not
 * valid UTF-8 are replaced by U+FFFD so the result is always valid JSON. */
int buf_add_json_string(struct buf *b, const void *s, size_t len);

/* True when (s, len) is valid UTF-8 (what Jansson takes as a string). */
bool buf_utf8_valid(const void *s, size_t len);

/* Removes the first n bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);

/* Returns the data as a C string ("" when empty); borrowed from b. */
const char *buf_cstr(const struct buf *b);

/* Hands the data to the caller (caller frees; never NULL) and empties b. */
char *buf_detach(struct buf *b, size_t *len);

#endif
