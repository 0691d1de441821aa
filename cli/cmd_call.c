/*
 * cmd_call.c - `cfaas call ID`: one async call record, with --cancel to
 * cancel a queued call and --retry to queue a dead letter again.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "opts.h"
#include "session.h"
#include "url.h"
#include "banned.h"

/* "statusCode" -> "Status Code:" */
static void label(const char *key, char *out, size_t cap)
{
	size_t n = 0;
	const char *p;

	for (p = key; *p && n + 3 < cap; p++) {
		if (p == key) {
			out[n++] = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
		} else if (*p >= 'A' && *p <= 'Z') {
			out[n++] = ' ';
			out[n++] = *p;
		} else {
			out[n++] = *p;
		}
	}
	out[n++] = ':';
	out[n] = '\0';
}

static void print_record(const json_t *rec)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)rec, key, v) {
		char l[64];
		label(key, l, sizeof(l));
		if (json_is_string(v) && strchr(json_string_value(v), '\n')) {
			printf("%s\n%s", l, json_string_value(v));
			if (json_string_value(v)[strlen(json_string_value(v)) - 1] != '\n')
				putchar('\n');
		} else if (json_is_string(v)) {
			printf("%-18s %s\n", l, json_string_value(v));
		} else {
			char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
			printf("%-18s %s\n", l, text ? text : "");
			free(text);
		}
	}
}

int cmd_call(int argc, char **argv)
{
	struct session_flags sf = { 0 };
	bool as_json = false, cancel = false, retry = false;
	const struct opt opts[] = {
		{ "json", 0, OPT_BOOL, &as_json, NULL, "print the gateway's JSON" },
		{ "cancel", 0, OPT_BOOL, &cancel, NULL, "cancel the call if it is still queued" },
		{ "retry", 0, OPT_BOOL, &retry, NULL, "queue a dead-lettered or failed call again" },
		SESSION_OPT_GATEWAY(&sf),
		SESSION_OPT_YAML(&sf),
		SESSION_OPT_TLS(&sf),
		OPT_END
	};
	const struct opts_spec spec = {
		"call", "ID [flags]",
		"Shows the record of one async call: status, attempts, answer code, timing "
		"and result.",
		opts, 1, 1, "  cfaas call 1b4e28ba-2fa1-11d2-883f-0016d3cca427\n",
	};
	struct client_resp resp;
	struct session s;
	struct opts_args args;
	struct buf path, what;
	json_t *rec = NULL;
	const char *method = "GET";
	int rc = opts_parse(&spec, argc, argv, &args);

	if (rc)
		return rc == 1 ? CLI_OK : rc;
	if (cancel && retry) {
		cli_err("call: --cancel and --retry do not go together");
		opts_args_release(&args);
		return CLI_USAGE;
	}
	if ((rc = session_open(&s, "call", &sf, SESSION_STACK_IF_ANY))) {
		opts_args_release(&args);
		return rc;
	}
	client_resp_init(&resp);
	buf_init(&path, 4096);
	buf_init(&what, 1024);
	buf_adds(&path, "/system/calls/");
	url_encode(&path, args.v[0], strlen(args.v[0]));
	if (cancel)
		method = "DELETE";
	if (retry) {
		method = "POST";
		buf_adds(&path, "/retry");
	}
	if ((rc = session_api(&s, method, buf_cstr(&path), NULL, NULL, 0, &resp)))
		goto out;
	if (resp.status == 404) {
		cli_err("call: call '%s' not found (see 'cfaas calls')", args.v[0]);
		rc = CLI_NOT_FOUND;
		goto out;
	}
	if (resp.status < 200 || resp.status > 299) {
		buf_printf(&what, "cannot %s call '%s'", cancel ? "cancel" : retry ? "retry" : "read",
			   args.v[0]);
		rc = session_fail(&s, &resp, buf_cstr(&what));
		goto out;
	}
	if (cancel || retry) {
		printf("%s call %s\n", cancel ? "Cancelled" : "Queued again", args.v[0]);
		rc = CLI_OK;
		goto out;
	}
	if (as_json) {
		fwrite(resp.body.data, 1, resp.body.len, stdout);
		if (resp.body.len && resp.body.data[resp.body.len - 1] != '\n')
			putchar('\n');
		rc = CLI_OK;
		goto out;
	}
	rec = json_loadb(resp.body.data ? resp.body.data : "", resp.body.len, 0, NULL);
	if (!json_is_object(rec)) {
		cli_err("call: the gateway's answer is not a JSON object");
		rc = CLI_FAIL;
		goto out;
	}
	print_record(rec);
	rc = CLI_OK;
out:
	fflush(stdout);
	json_decref(rec);
	client_resp_release(&resp);
	buf_release(&path);
	buf_release(&what);
	opts_args_release(&args);
	session_close(&s);
	return rc;
}
