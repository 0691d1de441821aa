/*
 * handler.h - the contract between the template's main.c and your code.
 */
#ifndef HANDLER_H
#define HANDLER_H

#include <stddef.h>
#include <stdio.h>

/* Handles one request. req holds the body (len bytes, followed by a NUL
 * that is not counted); write the answer to out. Return 0 on success; any
 * other value makes the call fail with 500. */
int handle(const char *req, size_t len, FILE *out);

#endif
