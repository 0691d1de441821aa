/*
 * url.h - percent-decoding, query strings and random identifiers.
 */
#ifndef CFAAS_URL_H
#define CFAAS_URL_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Appends the percent-decoding of s[0..len) to out; '+' becomes a space
 * when plus_is_space. -ERR_PARSE on a bad escape. */
int url_decode(struct buf *out, const char *s, size_t len, bool plus_is_space);

/* Appends s percent-encoded for a query value (unreserved characters kept). */
int url_encode(struct buf *out, const char *s, size_t len);

/* Looks up key in a raw query string ("a=1&b=x%20y") and appends its
 * decoded value to out. 0 when found (a key without '=' gives ""),
 * -ERR_NOT_FOUND when absent, -ERR_PARSE on a bad escape. */
int url_query_get(const char *query, const char *key, struct buf *out);

/* Writes a time-ordered (version 7, RFC 9562) UUID as 36 characters plus
 * NUL: 48 bits of Unix milliseconds, then 74 random bits. Ids made later
 * sort after earlier ones (to the millisecond), so the call records'
 * index grows at its end instead of at random pages. */
void url_uuid7(char out[37]);

/* Fills out with n random characters of [A-Za-z0-9] and a NUL. */
void url_random_token(char *out, size_t n);

#endif
