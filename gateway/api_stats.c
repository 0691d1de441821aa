/*
 * api_stats.c - GET /system/stats (a cfaas extension for the admin UI):
 * the gateway's own counters per function, so a page that samples it can
 * draw call and error rates.
 *
 *   {"timestamp": <Unix ms>, "functions": [{"name", "namespace",
 *    "invocations", "errors", "inflight"}]}
 *
 * invocations and errors (5xx answers) count since the gateway started;
 * the rate is the difference between two samples over their timestamps.
 */
#include <jansson.h>
#include <time.h>

#include "api.h"
#include "functions.h"
#include "metrics.h"
#include "store.h"
#include "banned.h"

void api_stats(struct gw_req *req, struct gw_resp *resp)
{
	struct gateway *gw = req->gw;
	struct store_function *fs = NULL;
	struct timespec ts;
	size_t n = 0, i;
	json_t *root, *arr;

	if (store_function_list(gw->store, NULL, &fs, &n)) {
		gw_resp_error(resp, 500, "cannot list functions");
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	arr = json_array();
	for (i = 0; i < n; i++) {
		uint64_t total = 0, errors = 0;
		int64_t inflight = 0, last_ms = 0;
		char key[160];

		fn_key(fs[i].namespace, fs[i].name, key, sizeof(key));
		metrics_totals(gw->metrics, key, &total, &errors);
		metrics_activity(gw->metrics, key, &inflight, &last_ms);
		json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:I, s:I}",
						     "name", fs[i].name,
						     "namespace", fs[i].namespace,
						     "invocations", (json_int_t)total,
						     "errors", (json_int_t)errors,
						     "inflight", (json_int_t)inflight));
	}
	root = json_pack("{s:I, s:o}", "timestamp",
			 (json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, "functions", arr);
	gw_resp_json(resp, 200, root);
	json_decref(root);
	store_function_list_free(fs, n);
}
