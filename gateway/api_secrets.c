/*
 * api_secrets.c - /system/secrets: create (201, 409), update (202),
 * delete (202, 404), list (names only: values never leave the store).
 */
#include <jansson.h>
#include <string.h>

#include "api.h"
#include "err.h"
#include "functions.h"
#include "store.h"
#include "wire.h"
#include "banned.h"

static void list_secrets(struct gw_req *req, struct gw_resp *resp)
{
	struct store_secret_info *infos = NULL;
	char ns[128];
	struct buf why;
	size_t n = 0, i;
	json_t *arr;

	buf_init(&why, 512);
	if (gw_req_namespace(req, NULL, ns, sizeof(ns), &why)) {
		gw_resp_error(resp, 400, "%s", buf_cstr(&why));
		buf_release(&why);
		return;
	}
	buf_release(&why);
	if (store_secret_list(req->gw->store, ns, &infos, &n)) {
		gw_resp_error(resp, 500, "cannot list secrets");
		return;
	}
	arr = json_array();
	for (i = 0; i < n; i++) {
		json_t *e = NULL;
		if (wire_secret_entry_to_json(infos[i].name, infos[i].namespace, &e) == 0)
			json_array_append_new(arr, e);
	}
	gw_resp_json(resp, 200, arr);
	json_decref(arr);
	store_secret_list_free(infos, n);
}

void api_secrets(struct gw_req *req, struct gw_resp *resp)
{
	struct wire_secret s = { 0 };
	bool is_get = !strcmp(req->method, "GET");
	bool is_post = !strcmp(req->method, "POST");
	bool is_put = !strcmp(req->method, "PUT");
	char ns[128];
	struct buf why;
	int rc;

	if (is_get) {
		list_secrets(req, resp);
		return;
	}
	buf_init(&why, 1024);
	rc = wire_secret_parse(req->body, req->body_len,
			       is_post || is_put ? WIRE_SECRET_NEED_VALUE : 0, &s, &why);
	if (rc) {
		gw_resp_error(resp, rc == -ERR_TOO_BIG ? 413 : 400, "%s", buf_cstr(&why));
		goto out;
	}
	if (gw_req_namespace(req, s.namespace, ns, sizeof(ns), &why)) {
		gw_resp_error(resp, 400, "%s", buf_cstr(&why));
		goto out;
	}
	if (is_post) {
		rc = store_secret_create(req->gw->store, ns, s.name, s.value, s.value_len);
		if (rc == -ERR_EXISTS)
			gw_resp_error(resp, 409, "secret '%s' already exists in namespace '%s'", s.name, ns);
		else if (rc)
			gw_resp_error(resp, 500, "cannot store secret '%s': %s", s.name, err_str(rc));
		else
			resp->status = 201;
	} else if (is_put) {
		rc = store_secret_update(req->gw->store, ns, s.name, s.value, s.value_len);
		if (rc == -ERR_NOT_FOUND) {
			gw_resp_error(resp, 404, "secret '%s' not found in namespace '%s'", s.name, ns);
		} else if (rc) {
			gw_resp_error(resp, 500, "cannot store secret '%s': %s", s.name, err_str(rc));
		} else {
			resp->status = 202;
			fn_secret_changed(req->gw, ns, s.name);
		}
	} else {
		rc = store_secret_delete(req->gw->store, ns, s.name);
		if (rc == -ERR_NOT_FOUND)
			gw_resp_error(resp, 404, "secret '%s' not found in namespace '%s'", s.name, ns);
		else if (rc)
			gw_resp_error(resp, 500, "cannot delete secret '%s': %s", s.name, err_str(rc));
		else
			resp->status = 202;
	}
out:
	wire_secret_release(&s);
	buf_release(&why);
}
