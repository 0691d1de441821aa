#include <string.h>

#include "err.h"

static const char *const messages[] = {
	[ERR_TOO_BIG - ERR_BASE] = "too big",
	[ERR_PARSE - ERR_BASE] = "malformed input",
	[ERR_TIMEOUT - ERR_BASE] = "timed out",
	[ERR_CLOSED - ERR_BASE] = "connection closed",
	[ERR_PROTOCOL - ERR_BASE] = "protocol error",
	[ERR_EXEC - ERR_BASE] = "cannot execute",
	[ERR_NOT_FOUND - ERR_BASE] = "not found",
	[ERR_EXISTS - ERR_BASE] = "already exists",
	[ERR_INVALID - ERR_BASE] = "invalid value",
	[ERR_UNAVAILABLE - ERR_BASE] = "unavailable",
};

const char *err_str(int code)
{
	if (code == 0)
		return "ok";
	if (code < 0)
		code = -code;
	if (code > ERR_BASE && code < ERR_LAST)
		return messages[code - ERR_BASE];
	/* strerror is not thread-safe in theory; glibc's returns static text
	 * for every known errno, which is all we pass it. */
	return strerror(code);
}
