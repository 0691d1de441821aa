/*
 * cmd_list.c - `cfaas list`: the deployed functions as a table.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "opts.h"
#include "session.h"
#include "table.h"
#include "banned.h"

static const char *sort_key = "name";

static json_int_t num(const json_t *fn, const char *key)
{
	const json_t *v = json_object_get(fn, key);

	return json_is_integer(v) ? json_integer_value(v) : json_is_real(v) ? (json_int_t)json_real_value(v) : 0;
}

static const char *str(const json_t *fn, const char *key)
{
	const char *s = json_string_value(json_object_get(fn, key));
	return s ? s : "";
}

static int by_key(const void *a, const void *b)
{
	const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;

	if (!strcmp(sort_key, "invocations")) {
		json_int_t ix = num(x, "invocationCount"), iy = num(y, "invocationCount");
		if (ix != iy)
			return ix > iy ? -1 : 1;
	}
	return strcmp(str(x, "name"), str(y, "name"));
}

int cmd_list(int argc, char **argv)
{
	struct session_flags sf = { 0 };
	bool verbose = false, as_json = false, quiet = false;
	const char *sort = "name";
	const struct opt opts[] = {
		{ "verbose", 'v', OPT_BOOL, &verbose, NULL, "also show image, ready replicas and creation time" },
		{ "json", 0, OPT_BOOL, &as_json, NULL, "print the gateway's JSON" },
		{ "quiet", 'q', OPT_BOOL, &quiet, NULL, "print only the names" },
		{ "sort", 0, OPT_STR, &sort, "KEY", "sort by name (default) or invocations" },
		SESSION_OPT_GATEWAY(&sf),
		SESSION_OPT_YAML(&sf),
		SESSION_OPT_NAMESPACE(&sf),
		SESSION_OPT_TLS(&sf),
		OPT_END
	};
	const struct opts_spec spec = {
		"list", "[flags]",
		"Lists the functions deployed on the gateway with their invocations and "
		"replicas. Also 'ls'.",
		opts, 0, 0, "  cfaas list\n  cfaas ls -v --sort invocations\n",
	};
	struct client_resp resp;
	struct session s;
	struct opts_args args;
	struct buf q;
	json_t *root = NULL;
	json_error_t jerr;
	int rc = opts_parse(&spec, argc, argv, &args);

	if (rc)
		return rc == 1 ? CLI_OK : rc;
	opts_args_release(&args);
	if (strcmp(sort, "name") && strcmp(sort, "invocations")) {
		cli_err("list: --sort takes name or invocations, not '%s'", sort);
		return CLI_USAGE;
	}
	sort_key = sort;
	if ((rc = session_open(&s, "list", &sf, SESSION_STACK_IF_ANY)))
		return rc;
	client_resp_init(&resp);
	buf_init(&q, 1024);
	session_ns_query(&s, NULL, &q);
	if ((rc = session_api(&s, "GET", "/system/functions", buf_cstr(&q), NULL, 0, &resp)))
		goto out;
	if (resp.status != 200) {
		rc = session_fail(&s, &resp, "cannot list functions");
		goto out;
	}
	root = json_loadb(resp.body.data ? resp.body.data : "", resp.body.len, 0, &jerr);
	if (!json_is_array(root)) {
		cli_err("list: the gateway's answer is not a JSON list: %s", jerr.text);
		rc = CLI_FAIL;
		goto out;
	}
	if (as_json) {
		fwrite(resp.body.data, 1, resp.body.len, stdout);
		if (resp.body.len && resp.body.data[resp.body.len - 1] != '\n')
			putchar('\n');
	} else {
		size_t n = json_array_size(root), i;
		json_t **fns = calloc(n ? n : 1, sizeof(*fns));
		struct table t;

		if (!fns) {
			rc = CLI_FAIL;
			goto out;
		}
		for (i = 0; i < n; i++)
			fns[i] = json_array_get(root, i);
		qsort(fns, n, sizeof(*fns), by_key);
		table_init(&t, quiet ? 1 : verbose ? 6 : 3);
		if (!quiet) {
			const char *h[] = { "Function", "Invocations", "Replicas" };
			const char *hv[] = { "Function", "Image", "Invocations", "Replicas",
					     "Ready", "Created" };
			table_row(&t, verbose ? hv : h);
		}
		for (i = 0; i < n; i++) {
			char inv[32], rep[32], ready[32];
			const char *name = str(fns[i], "name");
			snprintf(inv, sizeof(inv), "%lld", (long long)num(fns[i], "invocationCount"));
			snprintf(rep, sizeof(rep), "%lld", (long long)num(fns[i], "replicas"));
			snprintf(ready, sizeof(ready), "%lld", (long long)num(fns[i], "availableReplicas"));
			if (quiet) {
				const char *r[] = { name };
				table_row(&t, r);
			} else if (verbose) {
				const char *r[] = { name, str(fns[i], "image"), inv, rep, ready,
						    str(fns[i], "createdAt") };
				table_row(&t, r);
			} else {
				const char *r[] = { name, inv, rep };
				table_row(&t, r);
			}
		}
		table_print(&t, stdout);
		table_release(&t);
		free(fns);
	}
	fflush(stdout);
	rc = CLI_OK;
out:
	json_decref(root);
	client_resp_release(&resp);
	buf_release(&q);
	session_close(&s);
	return rc;
}
