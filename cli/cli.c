/*
 * cli.c - messages for people (see cli.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "banned.h"

static void emit(const char *prefix, const char *fmt, va_list ap)
{
	struct buf b;
	size_t off = 0;

	buf_init(&b, 64 * 1024);
	buf_adds(&b, prefix);
	buf_vprintf(&b, fmt, ap);
	buf_addc(&b, '\n');
	fflush(stdout);
	while (off < b.len) {
		ssize_t n = write(STDERR_FILENO, b.data + off, b.len - off);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	buf_release(&b);
}

void cli_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit("cfaas: ", fmt, ap);
	va_end(ap);
}

void cli_note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit("", fmt, ap);
	va_end(ap);
}

int cli_worse(int a, int b)
{
	return a ? a : b;
}
