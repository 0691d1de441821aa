/*
 * ui.c - GET /ui/ and /ui/ASSET: the admin UI, served from the table that
 * tools/embed.c built from ui/ (see ui.h). Every answer carries its ETag
 * and "Cache-Control: no-cache", so a browser revalidates and gets a 304
 * until the gateway is rebuilt with other files. /ui redirects to /ui/.
 */
#include <string.h>

#include "api.h"
#include "ui.h"
#include "banned.h"

/* The page talks to this gateway only and runs no inline code. */
#define UI_CSP "default-src 'self'; img-src 'self' data:; style-src 'self'; " \
	       "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; " \
	       "base-uri 'none'; form-action 'self'"

const struct ui_asset *ui_asset_find(const char *path)
{
	size_t i;

	if (!*path)
		path = "index.html";
	for (i = 0; i < ui_assets_count; i++)
		if (!strcmp(ui_assets[i].path, path))
			return &ui_assets[i];
	return NULL;
}

int ui_etag_matches(const char *inm, const char *etag)
{
	size_t n = strlen(etag);

	while (inm && *inm) {
		const char *end = strchr(inm, ','), *tok = inm;
		size_t len = end ? (size_t)(end - inm) : strlen(inm);

		inm = end ? end + 1 : inm + len;
		while (len && (*tok == ' ' || *tok == '\t'))
			tok++, len--;
		while (len && (tok[len - 1] == ' ' || tok[len - 1] == '\t'))
			len--;
		if (len == 1 && *tok == '*')
			return 1;
		/* A weak validator W/"x" matches "x" for GET (RFC 9110 13.1.2). */
		if (len > 2 && !strncmp(tok, "W/", 2))
			tok += 2, len -= 2;
		if (len == n && !memcmp(tok, etag, n))
			return 1;
	}
	return 0;
}

void api_ui(struct gw_req *req, struct gw_resp *resp)
{
	const struct ui_asset *a;

	if (!strcmp(req->path, "/ui")) {
		resp->status = 301;
		gw_resp_header(resp, "Location", "/ui/");
		resp->content_type = "text/plain; charset=utf-8";
		buf_adds(&resp->body, "see /ui/\n");
		return;
	}
	a = ui_asset_find(req->arg);
	if (!a) {
		gw_resp_error(resp, 404, "not found");
		return;
	}
	gw_resp_header(resp, "ETag", a->etag);
	gw_resp_header(resp, "Cache-Control", "no-cache");
	gw_resp_header(resp, "X-Content-Type-Options", "nosniff");
	if (!strncmp(a->content_type, "text/html", 9)) {
		gw_resp_header(resp, "Content-Security-Policy", UI_CSP);
		gw_resp_header(resp, "X-Frame-Options", "DENY");
		gw_resp_header(resp, "Referrer-Policy", "no-referrer");
	}
	if (ui_etag_matches(gw_req_header(req, "If-None-Match"), a->etag)) {
		resp->status = 304;
		return;
	}
	resp->content_type = a->content_type;
	if (buf_add(&resp->body, a->data, a->len))
		gw_resp_error(resp, 500, "cannot answer '%s'", a->path);
}
