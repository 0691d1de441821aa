/*
 * config.h - the watchdog's configuration, read once from the environment.
 *
 * Names and defaults are the OpenFaaS classic watchdog's (DESIGN.md section
 * 5), plus cfaas additions: bind_address, max_request_size,
 * max_output_size, mode and upstream_url.
 */
#ifndef WD_CONFIG_H
#define WD_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"

enum wd_mode { WD_MODE_FORK, WD_MODE_HTTP };

struct wd_config {
	const char *fprocess;     /* borrowed from the environment */
	char **argv;              /* fprocess split on spaces; owned */
	int port;
	const char *bind_address;
	int64_t read_timeout_ms;
	int64_t write_timeout_ms;
	int64_t exec_timeout_ms;  /* 0: none */
	int64_t healthcheck_interval_ms; /* mode=http: upstream probe period */
	unsigned max_inflight;    /* 0: unlimited */
	bool combine_output;
	bool cgi_headers;
	bool marshal_request;
	bool write_debug;
	bool suppress_lock;
	const char *content_type; /* NULL: echo the request's */
	uint64_t max_request_size;
	uint64_t max_output_size;
	enum wd_mode mode;
	char upstream_host[256];  /* mode=http */
	int upstream_port;
	char lock_path[PATH_MAX];
	const char *tmpdir;
};

/* A lookup function for variables (getenv in production, a table in tests). */
typedef const char *(*wd_getenv_fn)(const char *name);

/* Fills cfg from the variables that get() returns. On a bad value returns
 * -ERR_INVALID with a one-line message naming the variable in why. The
 * caller releases cfg with wd_config_release() in both cases. */
int wd_config_load(struct wd_config *cfg, wd_getenv_fn get, struct buf *why);

void wd_config_release(struct wd_config *cfg);

/* Parses "http://HOST:PORT[/]" into host and port. 0 or -ERR_INVALID. */
int wd_parse_upstream(const char *url, char *host, size_t host_cap, int *port);

#endif
