/*
 * session.c - stack, gateway, credentials and answers (see session.h).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "err.h"
#include "fsutil.h"
#include "session.h"
#include "url.h"
#include "banned.h"

const char *session_stack_file(const struct session_flags *flags)
{
	if (flags->yaml)
		return flags->yaml;
	if (fsutil_exists("stack.yml"))
		return "stack.yml";
	if (fsutil_exists("stack.yaml"))
		return "stack.yaml";
	return NULL;
}

static char *trim_url(const char *url)
{
	char *s = strdup(url);
	size_t n;

	if (!s)
		return NULL;
	n = strlen(s);
	while (n > 0 && s[n - 1] == '/')
		s[--n] = '\0';
	return s;
}

int session_open(struct session *s, const char *cmd, const struct session_flags *flags,
		 unsigned what)
{
	struct config_auth auth = { 0 };
	struct client_opts co = { 0 };
	const char *file, *gw;
	struct buf why;
	int rc, exit_code = CLI_OK;

	memset(s, 0, sizeof(*s));
	s->cmd = cmd;
	s->flags = *flags;
	buf_init(&why, 8192);
	file = session_stack_file(flags);
	if ((what & (SESSION_STACK_NEEDED | SESSION_STACK_IF_ANY)) && file) {
		s->stack = calloc(1, sizeof(*s->stack));
		if (!s->stack || stack_load(file, config_getenv, s->stack, &why)) {
			cli_err("%s", why.len ? buf_cstr(&why) : "out of memory");
			free(s->stack);
			s->stack = NULL;
			exit_code = CLI_USAGE;
			goto out;
		}
	} else if (what & SESSION_STACK_NEEDED) {
		cli_err("%s: no stack file: there is no stack.yml here (create one with "
			"'cfaas new NAME --lang LANG', or name one with -f FILE)", cmd);
		exit_code = CLI_USAGE;
		goto out;
	}
	if (flags->gateway)
		gw = flags->gateway;
	else if (s->stack && s->stack->gateway)
		gw = s->stack->gateway;
	else if (config_env()->openfaas_url)
		gw = config_env()->openfaas_url;
	else
		gw = SESSION_DEFAULT_GATEWAY;
	if (strncmp(gw, "http://", 7) && strncmp(gw, "https://", 8)) {
		cli_err("%s: gateway '%s' is not an http:// or https:// URL", cmd, gw);
		exit_code = CLI_USAGE;
		goto out;
	}
	s->gateway = trim_url(gw);
	if (!s->gateway) {
		exit_code = CLI_FAIL;
		goto out;
	}
	if (what & SESSION_NO_CLIENT)
		goto out;
	rc = config_auth_get(s->gateway, &auth, &why);
	if (rc && rc != -ERR_NOT_FOUND) {
		cli_err("%s", buf_cstr(&why));
		exit_code = CLI_FAIL;
		goto out;
	}
	s->has_credentials = rc == 0;
	co.gateway = s->gateway;
	co.user = auth.user;
	co.password = auth.password;
	co.tls_no_verify = flags->tls_no_verify;
	if (client_new(&co, &s->client)) {
		cli_err("out of memory");
		exit_code = CLI_FAIL;
	}
out:
	config_auth_release(&auth);
	buf_release(&why);
	if (exit_code)
		session_close(s);
	return exit_code;
}

void session_close(struct session *s)
{
	if (s->stack) {
		stack_release(s->stack);
		free(s->stack);
	}
	client_free(s->client);
	free(s->gateway);
	s->stack = NULL;
	s->client = NULL;
	s->gateway = NULL;
}

int session_select(struct session *s, size_t **idx, size_t *n)
{
	struct buf why;
	int rc;

	buf_init(&why, 4096);
	rc = stack_select(s->stack, s->flags.filter, s->flags.regex, idx, n, &why);
	if (rc)
		cli_err("%s: %s", s->cmd, buf_cstr(&why));
	buf_release(&why);
	return rc ? CLI_USAGE : CLI_OK;
}

int session_call(struct session *s, const struct client_req *req, struct client_resp *resp)
{
	struct buf why;
	int rc;

	buf_init(&why, 4096);
	rc = client_do(s->client, req, resp, &why);
	if (rc == -ERR_UNAVAILABLE) {
		cli_err("%s (is cfaas-gateway running? choose another gateway with --gateway URL "
			"or OPENFAAS_URL)", buf_cstr(&why));
		rc = CLI_UNREACHABLE;
	} else if (rc) {
		cli_err("%s", buf_cstr(&why));
		rc = rc == -ERR_TIMEOUT ? CLI_UNREACHABLE : CLI_FAIL;
	}
	buf_release(&why);
	return rc;
}

int session_api(struct session *s, const char *method, const char *path, const char *query,
		const void *body, size_t len, struct client_resp *resp)
{
	struct client_req req = {
		.method = method, .path = path, .query = query && *query ? query : NULL,
		.body = body, .body_len = len, .auth = true,
		.content_type = body ? "application/json" : NULL,
		.timeout_ms = SESSION_API_TIMEOUT_MS,
	};

	return session_call(s, &req, resp);
}

/* The first line of a gateway's error body, without control characters. */
static void first_line(const struct client_resp *resp, struct buf *out)
{
	size_t i;

	for (i = 0; i < resp->body.len && i < 500; i++) {
		unsigned char c = (unsigned char)resp->body.data[i];
		if (c == '\n' || c == '\r')
			break;
		buf_addc(out, c < 0x20 || c == 0x7f ? '?' : (char)c);
	}
}

int session_fail(struct session *s, const struct client_resp *resp, const char *what)
{
	struct buf line;
	int code;

	buf_init(&line, 1024);
	first_line(resp, &line);
	switch (resp->status) {
	case 401:
		if (s->has_credentials)
			cli_err("%s: the gateway at '%s' refused the saved credentials (401 "
				"Unauthorized): run 'cfaas login --gateway %s' again", what,
				s->gateway, s->gateway);
		else
			cli_err("%s: the gateway at '%s' needs credentials (401 Unauthorized): run "
				"'cfaas login --gateway %s' first", what, s->gateway, s->gateway);
		code = CLI_UNAUTHORIZED;
		break;
	case 404:
		cli_err("%s: not found (404)%s%s", what, line.len ? ": " : "", buf_cstr(&line));
		code = CLI_NOT_FOUND;
		break;
	default:
		cli_err("%s: the gateway answered %ld %s%s%s", what, resp->status,
			client_reason(resp->status), line.len ? ": " : "", buf_cstr(&line));
		code = CLI_FAIL;
		break;
	}
	buf_release(&line);
	return code;
}

int session_provider(struct session *s, const char **out)
{
	struct client_resp resp;
	json_t *root = NULL;
	const char *p;
	int rc;

	*out = s->provider;
	if (s->provider[0])
		return CLI_OK;
	client_resp_init(&resp);
	rc = session_api(s, "GET", "/system/info", NULL, NULL, 0, &resp);
	if (rc)
		goto out;
	if (resp.status != 200) {
		rc = session_fail(s, &resp, "cannot ask the gateway for its provider");
		goto out;
	}
	root = json_loadb(resp.body.data ? resp.body.data : "", resp.body.len, 0, NULL);
	p = json_string_value(json_object_get(json_object_get(root, "provider"), "orchestration"));
	snprintf(s->provider, sizeof(s->provider), "%s", p && *p ? p : "unknown");
out:
	json_decref(root);
	client_resp_release(&resp);
	return rc;
}

void session_ns_query(const struct session *s, const char *fallback, struct buf *q)
{
	const char *ns = s->flags.namespace ? s->flags.namespace : fallback;

	if (!ns || !*ns)
		return;
	if (q->len)
		buf_addc(q, '&');
	buf_adds(q, "namespace=");
	url_encode(q, ns, strlen(ns));
}
