/*
 * auth.h - basic auth for /system and /ui.
 */
#ifndef GW_AUTH_H
#define GW_AUTH_H

#include <stdbool.h>

#include "buf.h"

/* Reads DATA/basic-auth-user and DATA/basic-auth-password, creating them
 * (mode 0600, a random password) when absent; *generated tells the caller
 * to print them once. *user and *password are new strings (caller frees).
 * 0 or a negative code with why filled. */
int auth_load(const char *data_dir, char **user, char **password, bool *generated,
	      struct buf *why);

/* Checks an Authorization header value against the credentials, comparing
 * in constant time. NULL header: false. */
bool auth_check(const char *header, const char *user, const char *password);

#endif
