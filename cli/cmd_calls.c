/*
 * cmd_calls.c - `cfaas calls`: the async call records, newest first as the
 * gateway lists them.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "opts.h"
#include "session.h"
#include "table.h"
#include "url.h"
#include "banned.h"

static void cell(const json_t *o, const char *key, char *out, size_t cap)
{
	const json_t *v = json_object_get(o, key);

	if (json_is_string(v))
		snprintf(out, cap, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(out, cap, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(out, cap, "%.3f", json_real_value(v));
	else
		snprintf(out, cap, "-");
}

int cmd_calls(int argc, char **argv)
{
	struct session_flags sf = { 0 };
	const char *function = NULL, *status = NULL;
	long limit = 0;
	bool as_json = false;
	const struct opt opts[] = {
		{ "function", 0, OPT_STR, &function, "NAME", "only calls of this function" },
		{ "status", 0, OPT_STR, &status, "STATUS", "only calls in this state (queued, running, succeeded, failed, dead-letter, cancelled)" },
		{ "limit", 0, OPT_INT, &limit, "N", "at most N records" },
		{ "json", 0, OPT_BOOL, &as_json, NULL, "print the gateway's JSON" },
		SESSION_OPT_GATEWAY(&sf),
		SESSION_OPT_YAML(&sf),
		SESSION_OPT_TLS(&sf),
		OPT_END
	};
	const struct opts_spec spec = {
		"calls", "[flags]",
		"Lists the records of async calls ('cfaas invoke --async'): status, attempts, "
		"answer code\nand timing. 'cfaas call ID' shows one with its result.",
		opts, 0, 0, "  cfaas calls --function hello --status failed\n",
	};
	struct client_resp resp;
	struct session s;
	struct opts_args args;
	struct table t;
	struct buf q;
	json_t *root = NULL, *list, *e;
	size_t i;
	int rc = opts_parse(&spec, argc, argv, &args);

	if (rc)
		return rc == 1 ? CLI_OK : rc;
	opts_args_release(&args);
	if ((rc = session_open(&s, "calls", &sf, SESSION_STACK_IF_ANY)))
		return rc;
	client_resp_init(&resp);
	buf_init(&q, 4096);
	table_init(&t, 7);
	if (function) {
		buf_adds(&q, "function=");
		url_encode(&q, function, strlen(function));
	}
	if (status) {
		buf_adds(&q, q.len ? "&status=" : "status=");
		url_encode(&q, status, strlen(status));
	}
	if (limit > 0)
		buf_printf(&q, "%slimit=%ld", q.len ? "&" : "", limit);
	if ((rc = session_api(&s, "GET", "/system/calls", buf_cstr(&q), NULL, 0, &resp)))
		goto out;
	if (resp.status != 200) {
		rc = session_fail(&s, &resp, "cannot list calls");
		goto out;
	}
	if (as_json) {
		fwrite(resp.body.data, 1, resp.body.len, stdout);
		if (resp.body.len && resp.body.data[resp.body.len - 1] != '\n')
			putchar('\n');
		rc = CLI_OK;
		goto out;
	}
	root = json_loadb(resp.body.data ? resp.body.data : "", resp.body.len, 0, NULL);
	list = json_is_array(root) ? root : json_object_get(root, "calls");
	if (!json_is_array(list)) {
		cli_err("calls: the gateway's answer is not a list of calls");
		rc = CLI_FAIL;
		goto out;
	}
	{
		const char *h[] = { "ID", "FUNCTION", "STATUS", "ATTEMPTS", "CODE", "QUEUED",
				    "SECONDS" };
		table_row(&t, h);
	}
	json_array_foreach(list, i, e) {
		char id[128], fn[128], st[64], at[32], code[32], queued[64], dur[32];
		const char *r[] = { id, fn, st, at, code, queued, dur };
		cell(e, "id", id, sizeof(id));
		cell(e, "function", fn, sizeof(fn));
		cell(e, "status", st, sizeof(st));
		cell(e, "attempts", at, sizeof(at));
		cell(e, "statusCode", code, sizeof(code));
		cell(e, "queuedAt", queued, sizeof(queued));
		cell(e, "durationSeconds", dur, sizeof(dur));
		table_row(&t, r);
	}
	table_print(&t, stdout);
	rc = CLI_OK;
out:
	fflush(stdout);
	table_release(&t);
	json_decref(root);
	client_resp_release(&resp);
	buf_release(&q);
	session_close(&s);
	return rc;
}
