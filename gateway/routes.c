/*
 * routes.c - every route of the gateway, one row each.
 */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "routes.h"
#include "banned.h"

static const struct route routes[] = {
	/* path                       prefix  methods                                auth   kind         handler */
	{ "/function/",               true,  M_ANY,                                  false, ROUTE_PROXY, NULL },
	{ "/async-function/",         true,  M_POST | M_PUT | M_PATCH | M_DELETE | M_GET, false, ROUTE_ASYNC, NULL },
	{ "/system/functions",        false, M_GET | M_POST | M_PUT | M_DELETE,      true,  ROUTE_API,   api_functions },
	{ "/system/function/",        true,  M_GET,                                  true,  ROUTE_API,   api_function_status },
	{ "/system/scale-function/",  true,  M_POST,                                 true,  ROUTE_API,   api_scale },
	{ "/system/secrets",          false, M_GET | M_POST | M_PUT | M_DELETE,      true,  ROUTE_API,   api_secrets },
	{ "/system/logs",             false, M_GET,                                  true,  ROUTE_API,   api_logs },
	{ "/system/info",             false, M_GET,                                  true,  ROUTE_API,   api_info },
	{ "/system/namespaces",       false, M_GET,                                  true,  ROUTE_API,   api_namespaces },
	{ "/system/bundles/",         true,  M_PUT,                                  true,  ROUTE_UPLOAD, api_bundles },
	{ "/system/calls",            false, M_GET,                                  true,  ROUTE_API,   api_calls },
	{ "/system/calls/",           true,  M_GET | M_DELETE | M_POST,              true,  ROUTE_API,   api_call },
	{ "/system/stats",            false, M_GET,                                  true,  ROUTE_API,   api_stats },
	{ "/ui/",                     true,  M_GET | M_HEAD,                         true,  ROUTE_API,   api_ui },
	{ "/ui",                      false, M_GET | M_HEAD,                         false, ROUTE_API,   api_ui },
	{ "/healthz",                 false, M_GET | M_HEAD,                         false, ROUTE_API,   api_healthz },
	{ "/metrics",                 false, M_GET,                                  false, ROUTE_API,   api_metrics },
	{ "/",                        false, M_GET | M_HEAD,                         false, ROUTE_API,   api_root },
};

static const struct { const char *name; unsigned bit; } methods[] = {
	{ "GET", M_GET }, { "POST", M_POST }, { "PUT", M_PUT }, { "DELETE", M_DELETE },
	{ "PATCH", M_PATCH }, { "HEAD", M_HEAD }, { "OPTIONS", M_OPTIONS },
};

unsigned routes_method_bit(const char *method)
{
	size_t i;

	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (!strcmp(methods[i].name, method))
			return methods[i].bit;
	return 0;
}

const struct route *routes_match(const char *path, const char **arg)
{
	size_t i;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const struct route *r = &routes[i];
		size_t n = strlen(r->path);
		if (r->prefix ? !strncmp(path, r->path, n) : !strcmp(path, r->path)) {
			*arg = r->prefix ? path + n : "";
			return r;
		}
	}
	return NULL;
}

void routes_allow(const struct route *r, char *out, size_t cap)
{
	size_t i, n = 0;

	out[0] = '\0';
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		if (!(r->methods & methods[i].bit) || methods[i].bit == M_OPTIONS)
			continue;
		n += (size_t)snprintf(out + n, cap > n ? cap - n : 0, "%s%s", n ? ", " : "",
				      methods[i].name);
	}
}
