/*
 * api_system.c - /system/info, /system/namespaces, /healthz, /metrics and
 * the / redirect.
 */
#include <jansson.h>
#include <string.h>
#include <sys/utsname.h>

#include "api.h"
#include "err.h"
#include "functions.h"
#include "metrics.h"
#include "provider.h"
#include "store.h"
#include "wire.h"
#include "banned.h"

void api_info(struct gw_req *req, struct gw_resp *resp)
{
	struct gateway *gw = req->gw;
	struct utsname un;
	json_t *root, *prov, *ver;

	uname(&un);
	ver = json_pack("{s:s, s:s}", "release", CFAAS_VERSION, "sha", "");
	prov = json_pack("{s:s, s:s, s:O}", "provider", "cfaas",
			 "orchestration", gw->cfg.provider, "version", ver);
	root = json_pack("{s:o, s:o, s:s}", "provider", prov, "version", ver, "arch",
			 un.machine);
	gw_resp_json(resp, 200, root);
	json_decref(root);
}

void api_namespaces(struct gw_req *req, struct gw_resp *resp)
{
	struct store_function *fs = NULL;
	size_t n = 0, i, j;
	json_t *arr = json_array();

	json_array_append_new(arr, json_string(WIRE_DEFAULT_NAMESPACE));
	if (store_function_list(req->gw->store, NULL, &fs, &n) == 0) {
		for (i = 0; i < n; i++) {
			bool seen = false;
			for (j = 0; j < json_array_size(arr); j++)
				if (!strcmp(json_string_value(json_array_get(arr, j)), fs[i].namespace))
					seen = true;
			if (!seen)
				json_array_append_new(arr, json_string(fs[i].namespace));
		}
		store_function_list_free(fs, n);
	}
	gw_resp_json(resp, 200, arr);
	json_decref(arr);
}

void api_healthz(struct gw_req *req, struct gw_resp *resp)
{
	if (req->gw->stopping) {
		gw_resp_error(resp, 503, "shutting down");
		return;
	}
	resp->content_type = "text/plain; charset=utf-8";
	buf_adds(&resp->body, "OK");
}

void api_metrics(struct gw_req *req, struct gw_resp *resp)
{
	struct gateway *gw = req->gw;
	struct store_function *fs = NULL;
	size_t n = 0, i;

	resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
	metrics_render(gw->metrics, &resp->body);
	buf_adds(&resp->body, "# HELP gateway_service_count Desired replicas of a function.\n"
			      "# TYPE gateway_service_count gauge\n");
	if (store_function_list(gw->store, NULL, &fs, &n) == 0) {
		for (i = 0; i < n; i++) {
			char key[160];
			fn_key(fs[i].namespace, fs[i].name, key, sizeof(key));
			buf_printf(&resp->body, "gateway_service_count{function_name=\"%s\"} %lld\n",
				   key, (long long)fs[i].replicas);
		}
		buf_adds(&resp->body, "# HELP gateway_service_available_replicas Ready replicas of a function.\n"
				      "# TYPE gateway_service_available_replicas gauge\n");
		for (i = 0; i < n; i++) {
			struct prov_status st = { 0 };
			char key[160];
			gw->prov->ops->status(gw->prov, fs[i].namespace, fs[i].name, &st);
			fn_key(fs[i].namespace, fs[i].name, key, sizeof(key));
			buf_printf(&resp->body,
				   "gateway_service_available_replicas{function_name=\"%s\"} %u\n", key,
				   st.available);
		}
		store_function_list_free(fs, n);
	}
	{
		size_t queued = 0, running = 0;
		store_call_count(gw->store, STORE_CALL_QUEUED, &queued);
		store_call_count(gw->store, STORE_CALL_RUNNING, &running);
		buf_printf(&resp->body,
			   "# HELP cfaas_async_pending Async calls queued or running.\n"
			   "# TYPE cfaas_async_pending gauge\ncfaas_async_pending %zu\n",
			   queued + running);
	}
}

void api_root(struct gw_req *req, struct gw_resp *resp)
{
	(void)req;
	resp->status = 302;
	gw_resp_header(resp, "Location", "/ui/");
	resp->content_type = "text/plain; charset=utf-8";
	buf_adds(&resp->body, "see /ui/\n");
}
