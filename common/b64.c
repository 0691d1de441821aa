#include <stdint.h>
#include <string.h>

#include "b64.h"
#include "err.h"
#include "banned.h"

static const char alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t b64_encoded_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

int b64_encode(struct buf *out, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t n, i;
	char *o;
	int rc;

	if (len > (SIZE_MAX - 2) / 4 * 3)
		return -ERR_TOO_BIG;
	n = b64_encoded_len(len);
	rc = buf_grow(out, n);
	if (rc)
		return rc;
	o = out->data + out->len;
	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = alphabet[v >> 18];
		*o++ = alphabet[(v >> 12) & 63];
		*o++ = alphabet[(v >> 6) & 63];
		*o++ = alphabet[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		*o++ = alphabet[v >> 18];
		*o++ = alphabet[(v >> 12) & 63];
		*o++ = '=';
		*o++ = '=';
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		*o++ = alphabet[v >> 18];
		*o++ = alphabet[(v >> 12) & 63];
		*o++ = alphabet[(v >> 6) & 63];
		*o++ = '=';
	}
	out->len += n;
	out->data[out->len] = '\0';
	return 0;
}

/* The 6-bit value of an alphabet character, or -1. */
static int sextet(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Validates the whole input before touching out, so a failure leaves out as
 * it was. Padding is only legal in the last quantum: "xx==" carries one byte
 * and "xxx=" two, and the bits a short quantum leaves unused must be zero so
 * that every byte string has exactly one accepted encoding.
 */
int b64_decode(struct buf *out, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t pad = 0, i, n;
	char *o;
	int rc;

	if (len % 4)
		return -ERR_PARSE;
	if (len == 0)
		return 0;
	if (p[len - 1] == '=')
		pad = p[len - 2] == '=' ? 2 : 1;
	for (i = 0; i < len - pad; i++)
		if (sextet(p[i]) < 0)
			return -ERR_PARSE;
	if (pad == 2 && (sextet(p[len - 3]) & 15))
		return -ERR_PARSE;
	if (pad == 1 && (sextet(p[len - 2]) & 3))
		return -ERR_PARSE;
	n = len / 4 * 3 - pad;
	rc = buf_grow(out, n);
	if (rc)
		return rc;
	o = out->data + out->len;
	for (i = 0; i < len; i += 4) {
		uint32_t v = (uint32_t)sextet(p[i]) << 18 | (uint32_t)sextet(p[i + 1]) << 12;

		*o++ = (char)(v >> 16);
		if (p[i + 2] == '=')
			break;
		v |= (uint32_t)sextet(p[i + 2]) << 6;
		*o++ = (char)((v >> 8) & 0xff);
		if (p[i + 3] == '=')
			break;
		v |= (uint32_t)sextet(p[i + 3]);
		*o++ = (char)(v & 0xff);
	}
	out->len += n;
	out->data[out->len] = '\0';
	return 0;
}
