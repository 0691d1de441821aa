/*
 * cmd_logs.c - `cfaas logs NAME`: a function's replica output from
 * /system/logs, followed until interrupted unless --no-follow.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "opts.h"
#include "parse.h"
#include "session.h"
#include "url.h"
#include "banned.h"

#define MAX_LOG_LINE (1024u * 1024)

struct printer {
	struct buf line;
	bool raw;
};

static void print_line(struct printer *p)
{
	json_t *j;

	if (!p->line.len)
		return;
	if (p->raw) {
		printf("%s\n", buf_cstr(&p->line));
	} else if ((j = json_loadb(p->line.data, p->line.len, 0, NULL))) {
		const char *ts = json_string_value(json_object_get(j, "timestamp"));
		const char *name = json_string_value(json_object_get(j, "name"));
		const char *inst = json_string_value(json_object_get(j, "instance"));
		const char *text = json_string_value(json_object_get(j, "text"));
		size_t len = text ? strlen(text) : 0;

		while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
			len--;
		printf("%s %s (%s) %.*s\n", ts ? ts : "-", name ? name : "-", inst ? inst : "-",
		       (int)len, text ? text : "");
		json_decref(j);
	} else {
		printf("%s\n", buf_cstr(&p->line));
	}
	fflush(stdout);
	buf_reset(&p->line);
}

static int on_data(void *ctx, const char *data, size_t len)
{
	struct printer *p = ctx;
	size_t i;

	for (i = 0; i < len; i++) {
		if (data[i] == '\n')
			print_line(p);
		else if (buf_addc(&p->line, data[i]))
			print_line(p);
	}
	return ferror(stdout) ? -1 : 0;
}

int cmd_logs(int argc, char **argv)
{
	struct session_flags sf = { 0 };
	long tail = -1;
	bool follow = true;
	const char *since = NULL, *instance = NULL, *output = "plain";
	const struct opt opts[] = {
		{ "tail", 't', OPT_INT, &tail, "N", "start with the last N lines (default: all kept)" },
		{ "since", 0, OPT_STR, &since, "WHEN", "only lines newer than a duration ago (10m) or a time (RFC 3339)" },
		{ "follow", 0, OPT_BOOL, &follow, NULL, "keep printing new lines (default; --no-follow stops at the end)" },
		{ "instance", 0, OPT_STR, &instance, "ID", "only this replica" },
		{ "output", 'o', OPT_STR, &output, "FORMAT", "plain (default) or json (the gateway's NDJSON lines)" },
		SESSION_OPT_GATEWAY(&sf),
		SESSION_OPT_YAML(&sf),
		SESSION_OPT_NAMESPACE(&sf),
		SESSION_OPT_TLS(&sf),
		OPT_END
	};
	const struct opts_spec spec = {
		"logs", "NAME [flags]",
		"Prints what the function's replicas wrote to stdout and stderr, then follows "
		"new lines\nuntil interrupted (Control + C), unless --no-follow is given.",
		opts, 1, 1,
		"  cfaas logs hello\n  cfaas logs hello --tail 20 --no-follow\n"
		"  cfaas logs hello --since 10m\n",
	};
	struct printer p = { .raw = false };
	struct client_resp resp;
	struct client_req req = { 0 };
	struct session s;
	struct opts_args args;
	struct buf q, what;
	const char *name;
	int rc = opts_parse(&spec, argc, argv, &args);

	if (rc)
		return rc == 1 ? CLI_OK : rc;
	name = args.v[0];
	if (strcmp(output, "plain") && strcmp(output, "json")) {
		cli_err("logs: --output takes plain or json, not '%s'", output);
		opts_args_release(&args);
		return CLI_USAGE;
	}
	p.raw = !strcmp(output, "json");
	if ((rc = session_open(&s, "logs", &sf, SESSION_STACK_IF_ANY))) {
		opts_args_release(&args);
		return rc;
	}
	client_resp_init(&resp);
	buf_init(&p.line, MAX_LOG_LINE);
	buf_init(&q, 4096);
	buf_init(&what, 1024);
	buf_adds(&q, "name=");
	url_encode(&q, name, strlen(name));
	buf_printf(&q, "&follow=%s", follow ? "true" : "false");
	if (tail >= 0)
		buf_printf(&q, "&tail=%ld", tail);
	if (since) {
		int64_t ms;
		buf_adds(&q, "&since=");
		if (parse_duration_ms(since, &ms) == 0)
			buf_printf(&q, "%lld", (long long)(time(NULL) - ms / 1000));
		else
			url_encode(&q, since, strlen(since));
	}
	if (instance) {
		buf_adds(&q, "&instance=");
		url_encode(&q, instance, strlen(instance));
	}
	session_ns_query(&s, NULL, &q);
	req.method = "GET";
	req.path = "/system/logs";
	req.query = buf_cstr(&q);
	req.auth = true;
	req.timeout_ms = follow ? 0 : SESSION_API_TIMEOUT_MS;
	req.on_data = on_data;
	req.ctx = &p;
	rc = session_call(&s, &req, &resp);
	print_line(&p);
	if (rc)
		goto out;
	if (resp.status == 404) {
		cli_err("logs: function '%s' not found at '%s' (see 'cfaas list')", name, s.gateway);
		rc = CLI_NOT_FOUND;
	} else if (resp.status < 200 || resp.status > 299) {
		buf_printf(&what, "cannot read the logs of '%s'", name);
		rc = session_fail(&s, &resp, buf_cstr(&what));
	}
out:
	client_resp_release(&resp);
	buf_release(&p.line);
	buf_release(&q);
	buf_release(&what);
	opts_args_release(&args);
	session_close(&s);
	return rc;
}
