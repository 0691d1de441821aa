/*
 * api.h - the handlers of the gateway's routes (see routes.c).
 */
#ifndef GW_API_H
#define GW_API_H

#include "gw.h"

void api_functions(struct gw_req *req, struct gw_resp *resp);
void api_function_status(struct gw_req *req, struct gw_resp *resp);
void api_scale(struct gw_req *req, struct gw_resp *resp);
void api_secrets(struct gw_req *req, struct gw_resp *resp);
void api_info(struct gw_req *req, struct gw_resp *resp);
void api_namespaces(struct gw_req *req, struct gw_resp *resp);
void api_healthz(struct gw_req *req, struct gw_resp *resp);
void api_metrics(struct gw_req *req, struct gw_resp *resp);
void api_logs(struct gw_req *req, struct gw_resp *resp);
void api_root(struct gw_req *req, struct gw_resp *resp);
/* Async call records (api_calls.c): GET /system/calls, and GET, DELETE
 * /system/calls/ID and POST /system/calls/ID/retry. */
void api_calls(struct gw_req *req, struct gw_resp *resp);
void api_call(struct gw_req *req, struct gw_resp *resp);
/* PUT /system/bundles/IMAGE (api_bundles.c): a function bundle (tar.gz). */
void api_bundles(struct gw_req *req, struct gw_resp *resp);
/* GET /system/stats (api_stats.c): per-function call and 5xx totals. */
void api_stats(struct gw_req *req, struct gw_resp *resp);
/* GET /ui/ASSET (ui.c): the admin UI built into the binary; /ui redirects. */
void api_ui(struct gw_req *req, struct gw_resp *resp);

#endif
