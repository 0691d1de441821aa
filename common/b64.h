/*
 * b64.h - standard base64 (RFC 4648 section 4, "+/" alphabet, '=' padding).
 *
 * Used for the bytes that JSON carries as Go []byte: a secret's rawValue and
 * an async call's body. Both directions append to a capped struct buf, so an
 * input too large for the caller's cap fails cleanly with -ERR_TOO_BIG.
 *
 * Decoding is strict: the length must be a multiple of four, padding must be
 * exactly what the length calls for and only at the end, the unused low bits
 * of the last symbol must be zero, and nothing is skipped (no line breaks, no
 * spaces). Anything else is -ERR_PARSE. The empty string decodes to nothing.
 */
#ifndef CFAAS_B64_H
#define CFAAS_B64_H

#include <stddef.h>

#include "buf.h"

/* Length of the encoding of n bytes (padding included), without a NUL. */
size_t b64_encoded_len(size_t n);

/* Appends the encoding of (data, len) to out. 0, -ERR_TOO_BIG or -ENOMEM;
 * on failure out is unchanged. data may be NULL when len is 0. */
int b64_encode(struct buf *out, const void *data, size_t len);

/* Appends the bytes that (s, len) encodes to out; the result may contain NUL
 * bytes, read it as (data, len). 0, -ERR_PARSE for invalid input,
 * -ERR_TOO_BIG or -ENOMEM; on failure out is unchanged. */
int b64_decode(struct buf *out, const char *s, size_t len);

#endif
