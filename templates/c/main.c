/*
 * cfaas C template entry point.
 *
 * The watchdog starts this program once per request with the request body
 * on stdin; what it writes to stdout is the answer. main() reads the whole
 * body (it may hold NUL bytes: use the length) and calls handle() from
 * function/handler.c. A non-zero return becomes the exit status, which the
 * watchdog answers with 500. Request headers are in the environment as
 * Http_* variables (Http_Method, Http_Path, Http_Query, ...).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "function/handler.h"

int main(void)
{
	size_t len = 0, cap = 64 * 1024;
	char *req = malloc(cap + 1);
	int rc;

	if (!req)
		return 1;
	for (;;) {
		size_t n = fread(req + len, 1, cap - len, stdin);
		len += n;
		if (n == 0)
			break;
		if (len == cap) {
			char *bigger = realloc(req, cap * 2 + 1);
			if (!bigger) {
				free(req);
				return 1;
			}
			req = bigger;
			cap *= 2;
		}
	}
	req[len] = '\0';
	rc = handle(req, len, stdout);
	free(req);
	if (fflush(stdout) != 0)
		return 1;
	return rc;
}
