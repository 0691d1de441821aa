/*
 * cmd_describe.c - `cfaas describe NAME`: one function's status, URLs,
 * invocations and settings.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "opts.h"
#include "session.h"
#include "url.h"
#include "banned.h"

static void field(const char *label, const char *value)
{
	if (value && *value)
		printf("%-20s %s\n", label, value);
}

static void map_field(const char *label, const json_t *obj)
{
	const char *k;
	json_t *v;
	bool first = true;

	if (!json_is_object(obj) || !json_object_size(obj))
		return;
	json_object_foreach((json_t *)obj, k, v) {
		const char *s = json_string_value(v);
		printf("%-20s %s=%s\n", first ? label : "", k, s ? s : "");
		first = false;
	}
}

static void list_field(const char *label, const json_t *arr)
{
	size_t i;
	json_t *v;

	if (!json_is_array(arr) || !json_array_size(arr))
		return;
	json_array_foreach(arr, i, v)
		printf("%-20s %s\n", i ? "" : label, json_string_value(v) ? json_string_value(v) : "");
}

static void res_field(const char *label, const json_t *res)
{
	const char *m = json_string_value(json_object_get(res, "memory"));
	const char *c = json_string_value(json_object_get(res, "cpu"));
	char text[256];

	if (!m && !c)
		return;
	snprintf(text, sizeof(text), "%s%s%s%s%s", m ? "memory=" : "", m ? m : "",
		 m && c ? " " : "", c ? "cpu=" : "", c ? c : "");
	field(label, text);
}

static long long num(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? (long long)json_integer_value(v) : 0;
}

int cmd_describe(int argc, char **argv)
{
	struct session_flags sf = { 0 };
	bool as_json = false;
	const struct opt opts[] = {
		{ "json", 0, OPT_BOOL, &as_json, NULL, "print the gateway's JSON" },
		SESSION_OPT_GATEWAY(&sf),
		SESSION_OPT_YAML(&sf),
		SESSION_OPT_NAMESPACE(&sf),
		SESSION_OPT_TLS(&sf),
		OPT_END
	};
	const struct opts_spec spec = {
		"describe", "NAME [flags]",
		"Shows a function's status, replicas, invocations, URLs and settings.",
		opts, 1, 1, "  cfaas describe hello\n",
	};
	struct client_resp resp;
	struct session s;
	struct opts_args args;
	struct buf path, q, url, what;
	json_t *fn = NULL;
	char num_text[64];
	long long replicas, ready;
	const char *name, *ns;
	int rc = opts_parse(&spec, argc, argv, &args);

	if (rc)
		return rc == 1 ? CLI_OK : rc;
	name = args.v[0];
	if ((rc = session_open(&s, "describe", &sf, SESSION_STACK_IF_ANY))) {
		opts_args_release(&args);
		return rc;
	}
	client_resp_init(&resp);
	buf_init(&path, 4096);
	buf_init(&q, 1024);
	buf_init(&url, 4096);
	buf_init(&what, 1024);
	buf_adds(&path, "/system/function/");
	url_encode(&path, name, strlen(name));
	session_ns_query(&s, NULL, &q);
	if ((rc = session_api(&s, "GET", buf_cstr(&path), buf_cstr(&q), NULL, 0, &resp)))
		goto out;
	if (resp.status == 404) {
		cli_err("describe: function '%s' not found at '%s' (see 'cfaas list')", name,
			s.gateway);
		rc = CLI_NOT_FOUND;
		goto out;
	}
	if (resp.status != 200) {
		buf_printf(&what, "cannot describe '%s'", name);
		rc = session_fail(&s, &resp, buf_cstr(&what));
		goto out;
	}
	if (as_json) {
		fwrite(resp.body.data, 1, resp.body.len, stdout);
		if (resp.body.len && resp.body.data[resp.body.len - 1] != '\n')
			putchar('\n');
		rc = CLI_OK;
		goto out;
	}
	fn = json_loadb(resp.body.data ? resp.body.data : "", resp.body.len, 0, NULL);
	if (!json_is_object(fn)) {
		cli_err("describe: the gateway's answer is not a JSON object");
		rc = CLI_FAIL;
		goto out;
	}
	replicas = num(fn, "replicas");
	ready = num(fn, "availableReplicas");
	ns = json_string_value(json_object_get(fn, "namespace"));
	field("Name:", json_string_value(json_object_get(fn, "name")));
	field("Status:", ready > 0 ? "Ready" : replicas == 0 ? "Scaled to zero" : "Not Ready");
	snprintf(num_text, sizeof(num_text), "%lld", replicas);
	field("Replicas:", num_text);
	snprintf(num_text, sizeof(num_text), "%lld", ready);
	field("Available Replicas:", num_text);
	snprintf(num_text, sizeof(num_text), "%lld", num(fn, "invocationCount"));
	field("Invocations:", num_text);
	field("Image:", json_string_value(json_object_get(fn, "image")));
	field("Function Process:", json_string_value(json_object_get(fn, "envProcess")));
	buf_printf(&url, "%s/function/%s", s.gateway, name);
	if (sf.namespace)
		buf_printf(&url, ".%s", sf.namespace);
	field("URL:", buf_cstr(&url));
	buf_reset(&url);
	buf_printf(&url, "%s/async-function/%s", s.gateway, name);
	if (sf.namespace)
		buf_printf(&url, ".%s", sf.namespace);
	field("Async URL:", buf_cstr(&url));
	field("Namespace:", ns);
	field("Created:", json_string_value(json_object_get(fn, "createdAt")));
	map_field("Labels:", json_object_get(fn, "labels"));
	map_field("Annotations:", json_object_get(fn, "annotations"));
	map_field("Environment:", json_object_get(fn, "envVars"));
	list_field("Secrets:", json_object_get(fn, "secrets"));
	list_field("Constraints:", json_object_get(fn, "constraints"));
	res_field("Requests:", json_object_get(fn, "requests"));
	res_field("Limits:", json_object_get(fn, "limits"));
	if (json_is_true(json_object_get(fn, "readOnlyRootFilesystem")))
		field("Read-only Root:", "true");
	rc = CLI_OK;
out:
	fflush(stdout);
	json_decref(fn);
	client_resp_release(&resp);
	buf_release(&path);
	buf_release(&q);
	buf_release(&url);
	buf_release(&what);
	opts_args_release(&args);
	session_close(&s);
	return rc;
}
