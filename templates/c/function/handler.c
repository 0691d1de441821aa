#include <stdio.h>

#include "handler.h"

int handle(const char *req, size_t len, FILE *out)
{
	fputs("Hello! You said: ", out);
	fwrite(req, 1, len, out);
	return 0;
}
