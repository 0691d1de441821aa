/*
 * parse.h - strict parsers for configuration values.
 *
 * Each returns 0 and stores the value, or -ERR_PARSE and leaves *out alone.
 * Leading and trailing spaces are not accepted; the caller trims if it wants.
 */
#ifndef CFAAS_PARSE_H
#define CFAAS_PARSE_H

#include <stdbool.h>
#include <stdint.h>

/* Durations: a bare integer is seconds ("30"); otherwise a sequence of
 * number+unit with units ns, us, ms, s, m, h ("500ms", "1m5s", "1.5s").
 * Result in milliseconds, rounded up for sub-millisecond parts. */
int parse_duration_ms(const char *s, int64_t *out_ms);

/* Booleans the OpenFaaS way: only "true" is true, everything else false.
 * Never fails; provided so every binary reads booleans the same way. */
bool parse_bool(const char *s);

/* Sizes: bytes as an integer, or with a suffix k, M, G (powers of 1000)
 * or Ki, Mi, Gi (powers of 1024), as in Kubernetes quantities. */
int parse_size(const char *s, uint64_t *out);

/* A decimal unsigned integer no larger than max. */
int parse_uint(const char *s, uint64_t max, uint64_t *out);

/* CPU quantity: "100m" (millicores) or "0.5" / "2" (cores). Millicores out. */
int parse_cpu_millis(const char *s, uint64_t *out);

#endif
