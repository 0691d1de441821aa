#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "gw.h"
#include "url.h"
#include "wire.h"
#include "banned.h"

#define RESP_BODY_CAP (64u * 1024 * 1024)

void gw_resp_init(struct gw_resp *r)
{
	memset(r, 0, sizeof(*r));
	r->status = 200;
	buf_init(&r->headers, 64 * 1024);
	buf_init(&r->body, RESP_BODY_CAP);
}

void gw_resp_release(struct gw_resp *r)
{
	buf_release(&r->headers);
	buf_release(&r->body);
	if (r->stream.free)
		r->stream.free(r->stream.ctx);
	r->stream.free = NULL;
	r->stream.read = NULL;
}

void gw_resp_error(struct gw_resp *r, int status, const char *fmt, ...)
{
	va_list ap;

	r->status = status;
	r->content_type = "text/plain; charset=utf-8";
	buf_reset(&r->body);
	va_start(ap, fmt);
	buf_vprintf(&r->body, fmt, ap);
	va_end(ap);
	buf_addc(&r->body, '\n');
}

void gw_resp_json(struct gw_resp *r, int status, const void *value)
{
	r->status = status;
	r->content_type = "application/json";
	buf_reset(&r->body);
	if (wire_json_dump(value, &r->body))
		gw_resp_error(r, 500, "cannot encode the answer");
}

void gw_resp_header(struct gw_resp *r, const char *name, const char *value)
{
	buf_printf(&r->headers, "%s: %s\r\n", name, value);
}

const char *gw_req_header(const struct gw_req *req, const char *name)
{
	size_t i;

	for (i = 0; i < req->nhdrs; i++)
		if (!strcasecmp(req->hdrs[i].name, name))
			return req->hdrs[i].value;
	return NULL;
}

int gw_req_query(const struct gw_req *req, const char *key, struct buf *out)
{
	return url_query_get(req->query, key, out);
}

int gw_req_namespace(const struct gw_req *req, const char *fallback, char *out, size_t cap,
		     struct buf *why)
{
	struct buf q;
	const char *ns = fallback;
	int rc = 0;

	buf_init(&q, 256);
	if (gw_req_query(req, "namespace", &q) == 0 && q.len)
		ns = buf_cstr(&q);
	if (!ns || !*ns)
		ns = WIRE_DEFAULT_NAMESPACE;
	rc = wire_name_check_as("namespace", ns, 0, why);
	if (!rc)
		snprintf(out, cap, "%s", ns);
	buf_release(&q);
	return rc;
}
