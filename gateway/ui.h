/*
 * ui.h - the admin UI's files, built into the gateway.
 *
 * tools/embed.c generates the table (build/gen/ui_assets.c) from every file
 * in ui/; ui.c serves it under /ui/ with its content type and ETag.
 */
#ifndef GW_UI_H
#define GW_UI_H

#include <stddef.h>

struct ui_asset {
	const char *path;             /* relative to ui/, e.g. "app.js" */
	const unsigned char *data;    /* len bytes (plus a NUL not counted) */
	size_t len;
	const char *content_type;
	const char *etag;             /* quoted, e.g. "\"0123abcd...\"" */
};

/* The generated table, ended by a row whose path is NULL. Static data. */
extern const struct ui_asset ui_assets[];
extern const size_t ui_assets_count;

/* The asset at path ("" means index.html), or NULL. Borrowed (static). */
const struct ui_asset *ui_asset_find(const char *path);

/* True when an If-None-Match header value (NULL: none) names etag. */
int ui_etag_matches(const char *if_none_match, const char *etag);

#endif
