/*
 * api_functions.c - /system/functions, /system/function/NAME and
 * /system/scale-function/NAME, with OpenFaaS's shapes and status codes.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "err.h"
#include "functions.h"
#include "metrics.h"
#include "provider.h"
#include "store.h"
#include "wire.h"
#include "banned.h"

/* Builds the FunctionStatus of a stored function; NULL on failure. */
static json_t *status_json(struct gateway *gw, const struct store_function *f)
{
	struct wire_deploy d = { 0 };
	struct wire_status st = { 0 };
	struct prov_status ps = { 0 };
	json_t *j = NULL;
	char key[160];

	if (wire_deploy_parse(f->deployment, strlen(f->deployment), &d, NULL))
		return NULL;
	gw->prov->ops->status(gw->prov, f->namespace, f->name, &ps);
	fn_key(f->namespace, f->name, key, sizeof(key));
	st.deploy = &d;
	st.name = f->name;
	st.namespace = f->namespace;
	st.replicas = (uint64_t)f->replicas;
	st.available_replicas = ps.available;
	st.invocation_count = metrics_invocations(gw->metrics, key);
	st.created_at_ms = f->created_at_ms;
	wire_status_to_json(&st, &j);
	wire_deploy_release(&d);
	return j;
}

static void list_functions(struct gw_req *req, struct gw_resp *resp)
{
	struct gateway *gw = req->gw;
	struct store_function *fs = NULL;
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
	if (store_function_list(gw->store, ns, &fs, &n)) {
		gw_resp_error(resp, 500, "cannot list functions");
		return;
	}
	arr = json_array();
	for (i = 0; i < n; i++) {
		json_t *j = status_json(gw, &fs[i]);
		if (j)
			json_array_append_new(arr, j);
	}
	gw_resp_json(resp, 200, arr);
	json_decref(arr);
	store_function_list_free(fs, n);
}

static void deploy(struct gw_req *req, struct gw_resp *resp, bool update)
{
	struct wire_deploy d = { 0 };
	struct buf why;
	char ns[128];
	int rc, status;

	buf_init(&why, 1024);
	rc = wire_deploy_parse(req->body, req->body_len, &d, &why);
	if (rc) {
		gw_resp_error(resp, rc == -ENOMEM ? 500 : 400, "%s", buf_cstr(&why));
		goto out;
	}
	/* ?namespace= applies when the body names none. */
	if (!d.namespace) {
		if (gw_req_namespace(req, NULL, ns, sizeof(ns), &why)) {
			gw_resp_error(resp, 400, "%s", buf_cstr(&why));
			goto out;
		}
		d.namespace = strdup(ns);
	}
	status = fn_deploy(req->gw, &d, update, &why);
	if (status >= 400)
		gw_resp_error(resp, status, "%s", buf_cstr(&why));
	else
		resp->status = status;
out:
	wire_deploy_release(&d);
	buf_release(&why);
}

/* DELETE takes {"functionName": "..."} and the namespace from the body or
 * ?namespace=. */
static void delete_function(struct gw_req *req, struct gw_resp *resp)
{
	json_error_t jerr;
	json_t *root = NULL;
	const char *name = NULL, *bns = NULL;
	char fname[128], ns[128];
	struct buf why;
	int status;

	buf_init(&why, 1024);
	root = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root || !json_is_object(root)) {
		gw_resp_error(resp, 400, "malformed JSON: expected {\"functionName\": \"NAME\"}");
		goto out;
	}
	name = json_string_value(json_object_get(root, "functionName"));
	bns = json_string_value(json_object_get(root, "namespace"));
	if (!name || !*name) {
		gw_resp_error(resp, 400, "'functionName' is required");
		goto out;
	}
	if (wire_name_check_as("function", name, WIRE_NAME_ALLOW_NS, &why)) {
		gw_resp_error(resp, 400, "%s", buf_cstr(&why));
		goto out;
	}
	fn_split_name(name, fname, sizeof(fname), ns, sizeof(ns));
	if (strchr(name, '.') == NULL &&
	    gw_req_namespace(req, bns, ns, sizeof(ns), &why)) {
		gw_resp_error(resp, 400, "%s", buf_cstr(&why));
		goto out;
	}
	status = fn_remove(req->gw, ns, fname, &why);
	if (status >= 400)
		gw_resp_error(resp, status, "%s", buf_cstr(&why));
	else
		resp->status = status;
out:
	json_decref(root);
	buf_release(&why);
}

void api_functions(struct gw_req *req, struct gw_resp *resp)
{
	if (!strcmp(req->method, "GET"))
		list_functions(req, resp);
	else if (!strcmp(req->method, "POST"))
		deploy(req, resp, false);
	else if (!strcmp(req->method, "PUT"))
		deploy(req, resp, true);
	else
		delete_function(req, resp);
}

/* Resolves the NAME of a prefix route into name and namespace. */
static int route_name(struct gw_req *req, struct gw_resp *resp, const char *body_ns,
		      char *name, size_t ncap, char *ns, size_t nscap)
{
	struct buf why;
	int rc;

	buf_init(&why, 512);
	rc = wire_name_check_as("function", req->arg, WIRE_NAME_ALLOW_NS, &why);
	if (!rc) {
		fn_split_name(req->arg, name, ncap, ns, nscap);
		if (!strchr(req->arg, '.'))
			rc = gw_req_namespace(req, body_ns, ns, nscap, &why);
	}
	if (rc)
		gw_resp_error(resp, 400, "%s", buf_cstr(&why));
	buf_release(&why);
	return rc;
}

void api_function_status(struct gw_req *req, struct gw_resp *resp)
{
	struct store_function f = { 0 };
	char name[128], ns[128];
	json_t *j;
	int rc;

	if (route_name(req, resp, NULL, name, sizeof(name), ns, sizeof(ns)))
		return;
	rc = store_function_get(req->gw->store, ns, name, &f);
	if (rc == -ERR_NOT_FOUND) {
		gw_resp_error(resp, 404, "function '%s' not found in namespace '%s'", name, ns);
		return;
	}
	if (rc || !(j = status_json(req->gw, &f))) {
		gw_resp_error(resp, 500, "cannot read function '%s'", name);
		store_function_release(&f);
		return;
	}
	gw_resp_json(resp, 200, j);
	json_decref(j);
	store_function_release(&f);
}

void api_scale(struct gw_req *req, struct gw_resp *resp)
{
	struct wire_scale sc = { 0 };
	char name[128], ns[128];
	struct buf why;
	int rc, status;

	buf_init(&why, 1024);
	rc = wire_scale_parse(req->body, req->body_len, &sc, &why);
	if (rc) {
		gw_resp_error(resp, 400, "%s", buf_cstr(&why));
		goto out;
	}
	if (route_name(req, resp, sc.namespace, name, sizeof(name), ns, sizeof(ns)))
		goto out;
	if (sc.replicas > 100000) {
		gw_resp_error(resp, 400, "replicas %llu is not a sensible count",
			      (unsigned long long)sc.replicas);
		goto out;
	}
	status = fn_scale(req->gw, ns, name, (unsigned)sc.replicas, &why);
	if (status >= 400)
		gw_resp_error(resp, status, "%s", buf_cstr(&why));
	else
		resp->status = status;
out:
	wire_scale_release(&sc);
	buf_release(&why);
}
