#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "err.h"
#include "parse.h"
#include "spawn.h"
#include "banned.h"

#define MIB (1024ull * 1024)

static int load_duration(wd_getenv_fn get, const char *name, int64_t def,
			 int64_t *out, struct buf *why)
{
	const char *v = get(name);

	*out = def;
	if (!v || !*v)
		return 0;
	if (parse_duration_ms(v, out)) {
		buf_printf(why, "%s: cannot parse '%s' as a duration (use 30, 500ms, 10s or 1m5s)",
			   name, v);
		return -ERR_INVALID;
	}
	return 0;
}

static int load_size(wd_getenv_fn get, const char *name, uint64_t def, uint64_t *out,
		     struct buf *why)
{
	const char *v = get(name);

	*out = def;
	if (!v || !*v)
		return 0;
	if (parse_size(v, out) || *out == 0) {
		buf_printf(why, "%s: cannot parse '%s' as a size (use bytes, 64Mi or 1Gi)",
			   name, v);
		return -ERR_INVALID;
	}
	return 0;
}

static bool load_bool(wd_getenv_fn get, const char *name, bool def)
{
	const char *v = get(name);

	if (!v || !*v)
		return def;
	return parse_bool(v);
}

int wd_parse_upstream(const char *url, char *host, size_t host_cap, int *port)
{
	const char *p, *colon, *end;
	uint64_t v;
	char num[8];
	size_t n;

	if (!url || strncmp(url, "http://", 7) != 0)
		return -ERR_INVALID;
	p = url + 7;
	end = p + strcspn(p, "/");
	if (*end && strcmp(end, "/") != 0)
		return -ERR_INVALID;
	colon = memchr(p, ':', (size_t)(end - p));
	if (!colon || colon == p || (size_t)(colon - p) >= host_cap)
		return -ERR_INVALID;
	n = (size_t)(end - colon - 1);
	if (n == 0 || n >= sizeof(num))
		return -ERR_INVALID;
	memcpy(num, colon + 1, n);
	num[n] = '\0';
	if (parse_uint(num, 65535, &v) || v == 0)
		return -ERR_INVALID;
	memcpy(host, p, (size_t)(colon - p));
	host[colon - p] = '\0';
	*port = (int)v;
	return 0;
}

int wd_config_load(struct wd_config *cfg, wd_getenv_fn get, struct buf *why)
{
	const char *v;
	uint64_t n;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	cfg->fprocess = get("fprocess");
	if (!cfg->fprocess || !*cfg->fprocess) {
		buf_adds(why, "fprocess: is required (the command to run per request, e.g. fprocess=cat)");
		return -ERR_INVALID;
	}
	if (spawn_split(cfg->fprocess, &cfg->argv)) {
		buf_printf(why, "fprocess: '%s' holds no command", cfg->fprocess);
		return -ERR_INVALID;
	}
	cfg->port = 8080;
	v = get("port");
	if (v && *v) {
		if (parse_uint(v, 65535, &n)) {
			buf_printf(why, "port: '%s' is not a port number (0-65535)", v);
			return -ERR_INVALID;
		}
		cfg->port = (int)n;
	}
	v = get("bind_address");
	cfg->bind_address = v && *v ? v : "0.0.0.0";
	if ((rc = load_duration(get, "read_timeout", 30000, &cfg->read_timeout_ms, why)) ||
	    (rc = load_duration(get, "write_timeout", 30000, &cfg->write_timeout_ms, why)) ||
	    (rc = load_duration(get, "exec_timeout", 0, &cfg->exec_timeout_ms, why)))
		return rc;
	rc = load_duration(get, "healthcheck_interval", cfg->write_timeout_ms,
			   &cfg->healthcheck_interval_ms, why);
	if (rc)
		return rc;
	v = get("max_inflight");
	if (v && *v) {
		if (parse_uint(v, 1000000, &n)) {
			buf_printf(why, "max_inflight: '%s' is not a whole number", v);
			return -ERR_INVALID;
		}
		cfg->max_inflight = (unsigned)n;
	}
	cfg->combine_output = load_bool(get, "combine_output", true);
	cfg->cgi_headers = load_bool(get, "cgi_headers", true);
	cfg->marshal_request = load_bool(get, "marshal_request", false);
	cfg->write_debug = load_bool(get, "write_debug", false);
	cfg->suppress_lock = load_bool(get, "suppress_lock", false);
	v = get("content_type");
	cfg->content_type = v && *v ? v : NULL;
	if ((rc = load_size(get, "max_request_size", 64 * MIB, &cfg->max_request_size, why)) ||
	    (rc = load_size(get, "max_output_size", 64 * MIB, &cfg->max_output_size, why)))
		return rc;
	v = get("mode");
	if (!v || !*v || strcmp(v, "fork") == 0) {
		cfg->mode = WD_MODE_FORK;
	} else if (strcmp(v, "http") == 0) {
		cfg->mode = WD_MODE_HTTP;
		v = get("upstream_url");
		if (!v || !*v) {
			buf_adds(why, "upstream_url: is required with mode=http (e.g. http://127.0.0.1:5000)");
			return -ERR_INVALID;
		}
		if (wd_parse_upstream(v, cfg->upstream_host, sizeof(cfg->upstream_host),
				      &cfg->upstream_port)) {
			buf_printf(why, "upstream_url: '%s' is not http://HOST:PORT", v);
			return -ERR_INVALID;
		}
	} else {
		buf_printf(why, "mode: '%s' is not a mode (fork or http)", v);
		return -ERR_INVALID;
	}
	v = get("TMPDIR");
	cfg->tmpdir = v && *v ? v : "/tmp";
	if ((size_t)snprintf(cfg->lock_path, sizeof(cfg->lock_path), "%s/.lock", cfg->tmpdir) >=
	    sizeof(cfg->lock_path)) {
		buf_adds(why, "TMPDIR: path too long");
		return -ERR_INVALID;
	}
	return 0;
}

void wd_config_release(struct wd_config *cfg)
{
	free(cfg->argv);
	cfg->argv = NULL;
}
