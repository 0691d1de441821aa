/*
 * routes.h - the gateway's route table.
 */
#ifndef GW_ROUTES_H
#define GW_ROUTES_H

#include <stdbool.h>

#include "gw.h"

enum {
	M_GET = 1, M_POST = 2, M_PUT = 4, M_DELETE = 8, M_PATCH = 16, M_HEAD = 32,
	M_OPTIONS = 64, M_ANY = 0xffff
};

enum route_kind {
	ROUTE_API,     /* buffered body (GW_MAX_API_BODY), handler fills a gw_resp */
	ROUTE_UPLOAD,  /* the same with a GW_MAX_UPLOAD_BODY cap (bundles) */
	ROUTE_PROXY,   /* /function/: streamed through proxy.c */
	ROUTE_ASYNC,   /* /async-function/: buffered, queued */
};

struct route {
	const char *path;
	bool prefix;          /* path is a prefix; the rest becomes req->arg */
	unsigned methods;
	bool auth;
	enum route_kind kind;
	gw_handler handler;
};

/* The route for a path, or NULL. */
const struct route *routes_match(const char *path, const char **arg);

/* The method's bit (0 for an unknown method). */
unsigned routes_method_bit(const char *method);

/* "GET, POST" for the Allow header of a 405. */
void routes_allow(const struct route *r, char *out, size_t cap);

#endif
