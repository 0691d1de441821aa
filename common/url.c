#include <stdint.h>
#include <string.h>
#include <sys/random.h>

#include "err.h"
#include "spawn.h"
#include "url.h"
#include "banned.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int url_decode(struct buf *out, const char *s, size_t len, bool plus_is_space)
{
	size_t i, start = out->len;
	int rc = 0;

	for (i = 0; i < len && !rc; i++) {
		char c = s[i];
		if (c == '%') {
			int hi, lo;
			hi = i + 1 < len ? hexval(s[i + 1]) : -1;
			lo = i + 2 < len ? hexval(s[i + 2]) : -1;
			if (hi < 0 || lo < 0) {
				rc = -ERR_PARSE;
				break;
			}
			rc = buf_addc(out, (char)(hi * 16 + lo));
			i += 2;
		} else if (c == '+' && plus_is_space) {
			rc = buf_addc(out, ' ');
		} else {
			rc = buf_addc(out, c);
		}
	}
	if (rc) {
		out->len = start;
		if (out->data)
			out->data[start] = '\0';
	}
	return rc;
}

int url_encode(struct buf *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;
	int rc = 0;

	for (i = 0; i < len && !rc; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~') {
			rc = buf_addc(out, (char)c);
		} else {
			char esc[3] = { '%', hex[c >> 4], hex[c & 15] };
			rc = buf_add(out, esc, 3);
		}
	}
	return rc;
}

int url_query_get(const char *query, const char *key, struct buf *out)
{
	size_t klen = strlen(key);
	const char *p = query;

	while (p && *p) {
		const char *amp = strchr(p, '&');
		size_t n = amp ? (size_t)(amp - p) : strlen(p);
		const char *eq = memchr(p, '=', n);
		size_t kn = eq ? (size_t)(eq - p) : n;

		/* Keys are compared decoded only in the common plain case. */
		if (kn == klen && memcmp(p, key, klen) == 0) {
			if (!eq)
				return buf_add(out, "", 0);
			return url_decode(out, eq + 1, n - kn - 1, true);
		}
		p = amp ? amp + 1 : NULL;
	}
	return -ERR_NOT_FOUND;
}

static void random_bytes(void *out, size_t n)
{
	unsigned char *p = out;

	while (n) {
		ssize_t got = getrandom(p, n, 0);
		if (got <= 0)
			continue;
		p += got;
		n -= (size_t)got;
	}
}

/* Random bytes from a per-thread pool, refilled from the kernel 256 bytes
 * at a time: a call id costs one getrandom in 25 instead of one each. */
static void pooled_random(unsigned char *out, size_t n)
{
	static __thread unsigned char pool[256];
	static __thread size_t left;

	if (n > sizeof(pool)) {
		random_bytes(out, n);
		return;
	}
	if (left < n) {
		random_bytes(pool, sizeof(pool));
		left = sizeof(pool);
	}
	memcpy(out, pool + sizeof(pool) - left, n);
	/* Bytes handed out are not kept. */
	memset(pool + sizeof(pool) - left, 0, n);
	left -= n;
}

void url_uuid7(char out[37])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];
	uint64_t ms = (uint64_t)real_ms();
	size_t i, o = 0;

	pooled_random(b + 6, 10);
	for (i = 0; i < 6; i++)
		b[i] = (unsigned char)(ms >> (40 - 8 * i));
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x70);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 15];
	}
	out[o] = '\0';
}

void url_random_token(char *out, size_t n)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	size_t i = 0;

	while (i < n) {
		unsigned char b[64];
		size_t j;
		random_bytes(b, sizeof(b));
		/* 248 = 4 * 62: rejection keeps the choice uniform. */
		for (j = 0; j < sizeof(b) && i < n; j++)
			if (b[j] < 248)
				out[i++] = alphabet[b[j] % 62];
	}
	out[n] = '\0';
}
