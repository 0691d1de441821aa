/* Unit tests of gateway/ui.c: the embedded asset table, ETag matching and
 * the /ui/ handler (answers built without a socket). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "ui.h"

static const struct {
	const char *inm;
	int match;
} etags[] = {
	{ NULL, 0 },
	{ "", 0 },
	{ "\"abc\"", 1 },
	{ "W/\"abc\"", 1 },
	{ "\"x\", \"abc\"", 1 },
	{ "\"x\",\"abc\" ", 1 },
	{ "  \"abc\"  ,\"y\"", 1 },
	{ "*", 1 },
	{ "\"abcd\"", 0 },
	{ "abc", 0 },
	{ "\"ab\", \"bc\"", 0 },
	{ ",,,", 0 },
	{ "W/", 0 },
};

START_TEST(test_etag_matches)
{
	ck_assert_msg(ui_etag_matches(etags[_i].inm, "\"abc\"") == etags[_i].match, "'%s'",
		      etags[_i].inm ? etags[_i].inm : "(null)");
}
END_TEST

START_TEST(test_table)
{
	const struct ui_asset *idx = ui_asset_find(""), *app = ui_asset_find("app.js");
	size_t i;

	ck_assert_ptr_nonnull(idx);
	ck_assert_str_eq(idx->path, "index.html");
	ck_assert_ptr_eq(ui_asset_find("index.html"), idx);
	ck_assert(!strncmp(idx->content_type, "text/html", 9));
	ck_assert_ptr_nonnull(app);
	ck_assert(!strncmp(app->content_type, "text/javascript", 15));
	ck_assert_ptr_null(ui_asset_find("nope.js"));
	ck_assert_ptr_null(ui_asset_find("../ui/app.js"));
	ck_assert_ptr_null(ui_asset_find("/app.js"));
	ck_assert_ptr_null(ui_assets[ui_assets_count].path);
	for (i = 0; i < ui_assets_count; i++) {
		ck_assert_uint_gt(ui_assets[i].len, 0);
		ck_assert_uint_eq(strlen(ui_assets[i].etag), 18);
		ck_assert_int_eq(ui_assets[i].data[ui_assets[i].len], 0);
	}
}
END_TEST

/* Runs the handler for path (arg is what follows "/ui/"). */
static void run(const char *path, const char *arg, const char *inm, struct gw_resp *resp)
{
	struct http_hdr hdr = { "If-None-Match", inm };
	struct gw_req req;

	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.path = path;
	req.query = "";
	req.arg = arg;
	req.hdrs = &hdr;
	req.nhdrs = inm ? 1 : 0;
	gw_resp_init(resp);
	api_ui(&req, resp);
}

START_TEST(test_handler)
{
	const struct ui_asset *idx = ui_asset_find("");
	struct gw_resp r;

	run("/ui/", "", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.content_type, idx->content_type);
	ck_assert_uint_eq(r.body.len, idx->len);
	ck_assert(!memcmp(r.body.data, idx->data, idx->len));
	ck_assert_ptr_nonnull(strstr(buf_cstr(&r.headers), idx->etag));
	ck_assert_ptr_nonnull(strstr(buf_cstr(&r.headers), "Cache-Control: no-cache\r\n"));
	ck_assert_ptr_nonnull(strstr(buf_cstr(&r.headers), "Content-Security-Policy: "));
	gw_resp_release(&r);

	run("/ui/", "", idx->etag, &r);
	ck_assert_int_eq(r.status, 304);
	ck_assert_uint_eq(r.body.len, 0);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&r.headers), idx->etag));
	gw_resp_release(&r);

	run("/ui/app.js", "app.js", "\"0000000000000000\"", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_null(strstr(buf_cstr(&r.headers), "Content-Security-Policy"));
	gw_resp_release(&r);

	run("/ui/missing.css", "missing.css", NULL, &r);
	ck_assert_int_eq(r.status, 404);
	gw_resp_release(&r);

	run("/ui", "", NULL, &r);
	ck_assert_int_eq(r.status, 301);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&r.headers), "Location: /ui/\r\n"));
	gw_resp_release(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ui");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_etag_matches, 0, sizeof(etags) / sizeof(etags[0]));
	tcase_add_test(tc, test_table);
	tcase_add_test(tc, test_handler);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
