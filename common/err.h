/*
 * err.h - the one error convention of cfaas.
 *
 * Functions return int: 0 on success, a negative code on failure. A code is
 * either a negated errno value (-ENOENT, -EINVAL, ...) or one of the
 * cfaas-specific codes below, which live above the errno range.
 */
#ifndef CFAAS_ERR_H
#define CFAAS_ERR_H

#include <errno.h>

enum {
	ERR_BASE = 10000,
	ERR_TOO_BIG,     /* a capped buffer or body would exceed its cap */
	ERR_PARSE,       /* malformed input (HTTP, JSON, duration, ...) */
	ERR_TIMEOUT,     /* a deadline passed */
	ERR_CLOSED,      /* the peer closed the connection */
	ERR_PROTOCOL,    /* the peer broke the protocol */
	ERR_EXEC,        /* a child process could not be executed */
	ERR_NOT_FOUND,   /* a named thing does not exist */
	ERR_EXISTS,      /* a named thing exists already */
	ERR_INVALID,     /* a value failed validation */
	ERR_UNAVAILABLE, /* a dependency (queue, replica) cannot serve now */
	ERR_LAST
};

/* Returns a static, lower-case description of code (0 gives "ok"). */
const char *err_str(int code);

#endif
