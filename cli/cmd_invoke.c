/*
 * cmd_invoke.c - `cfaas invoke NAME`: calls a function with stdin as the
 * body and prints its answer, or, with --async, queues the call and
 * prints its call id.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "err.h"
#include "fsutil.h"
#include "opts.h"
#include "parse.h"
#include "session.h"
#include "strs.h"
#include "url.h"
#include "banned.h"

/* The largest body read from stdin. */
#define MAX_INVOKE_BODY (64u * 1024 * 1024)

static int add_query(struct buf *q, const struct wire_list *pairs, struct buf *why)
{
	size_t i;

	for (i = 0; i < pairs->n; i++) {
		const char *kv = pairs->items[i], *eq = strchr(kv, '=');
		if (!eq || eq == kv) {
			buf_printf(why, "--query '%s' is not KEY=VALUE", kv);
			return -ERR_INVALID;
		}
		if (q->len)
			buf_addc(q, '&');
		url_encode(q, kv, (size_t)(eq - kv));
		buf_addc(q, '=');
		url_encode(q, eq + 1, strlen(eq + 1));
	}
	return 0;
}

static int add_headers(struct wire_list *out, const struct wire_list *pairs, struct buf *why)
{
	struct buf line;
	size_t i;
	int rc = 0;

	buf_init(&line, 16 * 1024);
	for (i = 0; i < pairs->n && !rc; i++) {
		const char *kv = pairs->items[i], *eq = strchr(kv, '=');
		if (!eq || eq == kv || memchr(kv, ':', (size_t)(eq - kv)) ||
		    strpbrk(kv, "\r\n")) {
			buf_printf(why, "-H '%s' is not KEY=VALUE", kv);
			rc = -ERR_INVALID;
			break;
		}
		buf_reset(&line);
		buf_printf(&line, "%.*s: %s", (int)(eq - kv), kv, eq + 1);
		rc = strs_list_add(out, buf_cstr(&line));
	}
	buf_release(&line);
	return rc;
}

int cmd_invoke(int argc, char **argv)
{
	struct session_flags sf = { 0 };
	struct wire_list hflags = { 0 }, qflags = { 0 }, headers = { 0 };
	const char *method = "POST", *content_type = "text/plain", *callback = NULL;
	const char *timeout = NULL;
	bool async = false;
	const struct opt opts[] = {
		{ "async", 'a', OPT_BOOL, &async, NULL, "queue the call and print its call id" },
		{ "header", 'H', OPT_LIST, &hflags, "KEY=VALUE", "send a request header" },
		{ "query", 0, OPT_LIST, &qflags, "KEY=VALUE", "add a query string parameter" },
		{ "method", 'm', OPT_STR, &method, "METHOD", "HTTP method (default POST)" },
		{ "content-type", 0, OPT_STR, &content_type, "TYPE", "Content-Type of the body (default text/plain)" },
		{ "callback-url", 0, OPT_STR, &callback, "URL", "with --async: where the result is posted" },
		{ "timeout", 0, OPT_STR, &timeout, "DURATION", "give up after this long (e.g. 30s; default: no limit)" },
		SESSION_OPT_GATEWAY(&sf),
		SESSION_OPT_YAML(&sf),
		SESSION_OPT_NAMESPACE(&sf),
		SESSION_OPT_TLS(&sf),
		OPT_END
	};
	const struct opts_spec spec = {
		"invoke", "NAME [flags]",
		"Calls the function NAME with standard input as the request body and prints "
		"the answer's\nbody. With --async the call is queued instead and its call id is "
		"printed (see 'cfaas call ID').",
		opts, 1, 1,
		"  echo world | cfaas invoke hello\n"
		"  cfaas invoke hello -m GET --query id=7 -H X-Trace=1 < /dev/null\n"
		"  echo job | cfaas invoke hello --async --callback-url http://127.0.0.1:9000/done\n",
	};
	struct client_req req = { 0 };
	struct client_resp resp;
	struct session s;
	struct opts_args args;
	struct buf body, path, query, why, line;
	int64_t timeout_ms = 0;
	const char *name;
	int rc = opts_parse(&spec, argc, argv, &args);

	if (rc) {
		strs_list_release(&hflags);
		strs_list_release(&qflags);
		return rc == 1 ? CLI_OK : rc;
	}
	buf_init(&body, MAX_INVOKE_BODY);
	buf_init(&path, 4096);
	buf_init(&query, 64 * 1024);
	buf_init(&why, 4096);
	buf_init(&line, 4096);
	client_resp_init(&resp);
	name = args.v[0];
	if (add_query(&query, &qflags, &why) || add_headers(&headers, &hflags, &why)) {
		cli_err("invoke: %s", buf_cstr(&why));
		rc = CLI_USAGE;
		goto out;
	}
	if (timeout && (parse_duration_ms(timeout, &timeout_ms) || timeout_ms <= 0)) {
		cli_err("invoke: --timeout '%s' is not a duration like 30s or 2m", timeout);
		rc = CLI_USAGE;
		goto out;
	}
	if (callback) {
		if (!async) {
			cli_err("invoke: --callback-url needs --async");
			rc = CLI_USAGE;
			goto out;
		}
		buf_reset(&line);
		buf_printf(&line, "X-Callback-Url: %s", callback);
		strs_list_add(&headers, buf_cstr(&line));
	}
	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		if (isatty(STDIN_FILENO))
			cli_note("Reading from STDIN - hit (Control + D) to stop.");
		rc = fsutil_read_fd(STDIN_FILENO, &body);
		if (rc) {
			cli_err("invoke: cannot read stdin: %s", rc == -ERR_TOO_BIG
				? "the body is larger than 64 MiB" : err_str(rc));
			rc = CLI_FAIL;
			goto out;
		}
	}
	if ((rc = session_open(&s, "invoke", &sf, SESSION_STACK_IF_ANY)))
		goto out;
	buf_printf(&path, "/%s/", async ? "async-function" : "function");
	url_encode(&path, name, strlen(name));
	if (sf.namespace) {
		buf_addc(&path, '.');
		url_encode(&path, sf.namespace, strlen(sf.namespace));
	}
	req.method = method;
	req.path = buf_cstr(&path);
	req.query = query.len ? buf_cstr(&query) : NULL;
	req.body = strcmp(method, "GET") && strcmp(method, "HEAD") ? (body.data ? body.data : "")
								   : NULL;
	req.body_len = body.len;
	req.content_type = req.body ? content_type : NULL;
	req.headers = &headers;
	req.timeout_ms = timeout_ms;
	if ((rc = session_call(&s, &req, &resp)))
		goto close;
	if (resp.status == 404) {
		cli_err("invoke: function '%s' not found at '%s' (see 'cfaas list')", name,
			s.gateway);
		rc = CLI_NOT_FOUND;
	} else if (async) {
		if (resp.status == 202 || (resp.status >= 200 && resp.status < 300)) {
			buf_reset(&line);
			if (client_resp_header(&resp, "X-Call-Id", &line) || !line.len) {
				cli_err("invoke: the gateway queued the call (%ld) but sent no "
					"X-Call-Id", resp.status);
				rc = CLI_FAIL;
			} else {
				cli_note("Function submitted asynchronously.");
				printf("%s\n", buf_cstr(&line));
				rc = CLI_OK;
			}
		} else {
			buf_reset(&why);
			buf_printf(&why, "cannot queue a call to '%s'", name);
			rc = session_fail(&s, &resp, buf_cstr(&why));
		}
	} else if (resp.status >= 200 && resp.status < 400) {
		fwrite(resp.body.data ? resp.body.data : "", 1, resp.body.len, stdout);
		rc = CLI_OK;
	} else {
		fflush(stdout);
		cli_err("invoke: function '%s' answered %ld %s", name, resp.status,
			client_reason(resp.status));
		fwrite(resp.body.data ? resp.body.data : "", 1, resp.body.len, stderr);
		rc = resp.status == 401 ? CLI_UNAUTHORIZED : CLI_FAIL;
	}
	if (fflush(stdout) != 0) {
		cli_err("invoke: cannot write the answer to stdout");
		rc = CLI_FAIL;
	}
close:
	session_close(&s);
out:
	opts_args_release(&args);
	client_resp_release(&resp);
	strs_list_release(&hflags);
	strs_list_release(&qflags);
	strs_list_release(&headers);
	buf_release(&body);
	buf_release(&path);
	buf_release(&query);
	buf_release(&why);
	buf_release(&line);
	return rc;
}
