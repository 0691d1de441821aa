/*
 * cmd_secret.c - `cfaas secret create|list|update|remove`. Values come
 * from --from-literal, --from-file or stdin and are never printed.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "b64.h"
#include "cli.h"
#include "err.h"
#include "fsutil.h"
#include "opts.h"
#include "session.h"
#include "table.h"
#include "wire.h"
#include "banned.h"

struct secret_flags {
	struct session_flags sf;
	const char *literal;
	const char *file;
	bool verbose;
};

#define SECRET_COMMON(f) \
	SESSION_OPT_GATEWAY(&(f)->sf), \
	SESSION_OPT_YAML(&(f)->sf), \
	SESSION_OPT_NAMESPACE(&(f)->sf), \
	SESSION_OPT_TLS(&(f)->sf)

static void usage(FILE *f)
{
	fputs("Usage: cfaas secret SUBCOMMAND [flags]\n\n"
	      "Manages the secrets functions can read (as files named after the secret).\n\n"
	      "Subcommands:\n"
	      "  create NAME   create a secret from --from-literal, --from-file or stdin\n"
	      "  list, ls      list the secrets' names\n"
	      "  update NAME   replace a secret's value\n"
	      "  remove, rm    remove secrets\n\n"
	      "'cfaas secret SUBCOMMAND --help' shows its flags.\n", f);
}

/* Reads the value: literal, file (bytes as they are) or stdin (one
 * trailing newline removed). Returns an exit code. */
static int read_value(const struct secret_flags *f, struct buf *value, bool *binary)
{
	struct buf why;
	int rc = CLI_OK;

	buf_init(&why, 4096);
	*binary = false;
	if (f->literal && f->file) {
		cli_err("secret: give --from-literal or --from-file, not both");
		rc = CLI_USAGE;
	} else if (f->literal) {
		buf_adds(value, f->literal);
	} else if (f->file) {
		*binary = true;
		if (fsutil_read_file(f->file, value, &why)) {
			cli_err("secret: %s", buf_cstr(&why));
			rc = CLI_FAIL;
		}
	} else {
		if (isatty(STDIN_FILENO))
			cli_note("Reading from STDIN - hit (Control + D) to stop.");
		*binary = true;
		if (fsutil_read_fd(STDIN_FILENO, value)) {
			cli_err("secret: cannot read the value from stdin (at most %u bytes)",
				WIRE_SECRET_MAX);
			rc = CLI_FAIL;
		} else {
			if (value->len && value->data[value->len - 1] == '\n')
				value->data[--value->len] = '\0';
			if (value->len && value->data[value->len - 1] == '\r')
				value->data[--value->len] = '\0';
		}
	}
	if (!rc && value->len == 0) {
		cli_err("secret: the value is empty");
		rc = CLI_USAGE;
	}
	buf_release(&why);
	return rc;
}

/* create (POST) and update (PUT). */
static int write_secret(int argc, char **argv, bool create)
{
	struct secret_flags f = { 0 };
	const struct opt opts[] = {
		{ "from-literal", 0, OPT_STR, &f.literal, "VALUE", "the value (visible to other users)" },
		{ "from-file", 0, OPT_STR, &f.file, "FILE", "read the value from a file, as it is" },
		SECRET_COMMON(&f),
		OPT_END
	};
	const struct opts_spec spec = {
		create ? "secret create" : "secret update", "NAME [flags]",
		create ? "Creates a secret. The value comes from --from-literal, --from-file, or "
			 "stdin (one\ntrailing newline is dropped)."
		       : "Replaces a secret's value; functions that use it are restarted with "
			 "the new value.",
		opts, 1, 1,
		create ? "  cfaas secret create api-key --from-literal s3cret\n"
			 "  cfaas secret create tls-key --from-file key.pem\n"
			 "  echo s3cret | cfaas secret create api-key\n"
		       : "  cfaas secret update api-key --from-file new-key.txt\n",
	};
	struct client_resp resp;
	struct session s;
	struct opts_args args;
	struct buf value, raw, what;
	json_t *body = NULL;
	char *text = NULL;
	bool binary;
	int rc = opts_parse(&spec, argc, argv, &args);

	if (rc)
		return rc == 1 ? CLI_OK : rc;
	buf_init(&value, WIRE_SECRET_MAX);
	buf_init(&raw, WIRE_SECRET_MAX * 2);
	buf_init(&what, 4096);
	client_resp_init(&resp);
	if (wire_name_check_as("secret", args.v[0], 0, &what)) {
		cli_err("secret: %s", buf_cstr(&what));
		opts_args_release(&args);
		rc = CLI_USAGE;
		goto out_nosession;
	}
	buf_reset(&what);
	if ((rc = read_value(&f, &value, &binary)) ||
	    (rc = session_open(&s, create ? "secret create" : "secret update", &f.sf,
			       SESSION_STACK_IF_ANY)))
		goto out_nosession;
	body = json_pack("{s:s}", "name", args.v[0]);
	if (f.sf.namespace)
		json_object_set_new(body, "namespace", json_string(f.sf.namespace));
	if (binary) {
		b64_encode(&raw, value.data, value.len);
		json_object_set_new(body, "rawValue", json_string(buf_cstr(&raw)));
	} else {
		json_object_set_new(body, "value", json_stringn(value.data, value.len));
	}
	text = json_dumps(body, JSON_COMPACT);
	if (!text) {
		cli_err("secret: the value is not valid text: use --from-file");
		rc = CLI_USAGE;
		goto out;
	}
	if ((rc = session_api(&s, create ? "POST" : "PUT", "/system/secrets", NULL, text,
			      strlen(text), &resp)))
		goto out;
	if (create && resp.status == 409) {
		cli_err("secret: secret '%s' already exists: use 'cfaas secret update %s'",
			args.v[0], args.v[0]);
		rc = CLI_FAIL;
	} else if (!create && resp.status == 404) {
		cli_err("secret: secret '%s' not found: use 'cfaas secret create %s'", args.v[0],
			args.v[0]);
		rc = CLI_NOT_FOUND;
	} else if (resp.status < 200 || resp.status > 299) {
		buf_printf(&what, "cannot %s secret '%s'", create ? "create" : "update", args.v[0]);
		rc = session_fail(&s, &resp, buf_cstr(&what));
	} else {
		printf("%s secret %s\n", create ? "Created" : "Updated", args.v[0]);
		rc = CLI_OK;
	}
out:
	session_close(&s);
out_nosession:
	fflush(stdout);
	if (text) {
		memset(text, 0, strlen(text));
		free(text);
	}
	json_decref(body);
	if (value.data)
		memset(value.data, 0, value.len);
	if (raw.data)
		memset(raw.data, 0, raw.len);
	buf_release(&value);
	buf_release(&raw);
	buf_release(&what);
	client_resp_release(&resp);
	if (args.v)
		opts_args_release(&args);
	return rc;
}

static int list_secrets(int argc, char **argv)
{
	struct secret_flags f = { 0 };
	const struct opt opts[] = {
		{ "verbose", 'v', OPT_BOOL, &f.verbose, NULL, "also show the namespace" },
		SECRET_COMMON(&f),
		OPT_END
	};
	const struct opts_spec spec = {
		"secret list", "[flags]", "Lists the secrets' names (values are never shown).",
		opts, 0, 0, "  cfaas secret list\n",
	};
	struct client_resp resp;
	struct session s;
	struct opts_args args;
	struct table t;
	struct buf q;
	json_t *root = NULL, *e;
	size_t i;
	int rc = opts_parse(&spec, argc, argv, &args);

	if (rc)
		return rc == 1 ? CLI_OK : rc;
	opts_args_release(&args);
	if ((rc = session_open(&s, "secret list", &f.sf, SESSION_STACK_IF_ANY)))
		return rc;
	client_resp_init(&resp);
	buf_init(&q, 1024);
	table_init(&t, f.verbose ? 2 : 1);
	session_ns_query(&s, NULL, &q);
	if ((rc = session_api(&s, "GET", "/system/secrets", buf_cstr(&q), NULL, 0, &resp)))
		goto out;
	if (resp.status != 200) {
		rc = session_fail(&s, &resp, "cannot list secrets");
		goto out;
	}
	root = json_loadb(resp.body.data ? resp.body.data : "", resp.body.len, 0, NULL);
	if (!json_is_array(root)) {
		cli_err("secret list: the gateway's answer is not a JSON list");
		rc = CLI_FAIL;
		goto out;
	}
	{
		const char *h[] = { "NAME", "NAMESPACE" };
		table_row(&t, h);
	}
	json_array_foreach(root, i, e) {
		const char *r[] = { json_string_value(json_object_get(e, "name")),
				    json_string_value(json_object_get(e, "namespace")) };
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

static int remove_secrets(int argc, char **argv)
{
	struct secret_flags f = { 0 };
	const struct opt opts[] = {
		SECRET_COMMON(&f),
		OPT_END
	};
	const struct opts_spec spec = {
		"secret remove", "NAME... [flags]", "Removes secrets. Also 'secret rm'.",
		opts, 1, 1000, "  cfaas secret remove api-key\n",
	};
	struct client_resp resp;
	struct session s;
	struct opts_args args;
	struct buf what;
	size_t i;
	int rc = opts_parse(&spec, argc, argv, &args);

	if (rc)
		return rc == 1 ? CLI_OK : rc;
	if ((rc = session_open(&s, "secret remove", &f.sf, SESSION_STACK_IF_ANY))) {
		opts_args_release(&args);
		return rc;
	}
	client_resp_init(&resp);
	buf_init(&what, 4096);
	for (i = 0; i < args.n; i++) {
		json_t *body = json_pack("{s:s}", "name", args.v[i]);
		char *text;
		int one;

		if (body && f.sf.namespace)
			json_object_set_new(body, "namespace", json_string(f.sf.namespace));
		text = body ? json_dumps(body, JSON_COMPACT) : NULL;
		json_decref(body);
		if (!text) {
			rc = cli_worse(rc, CLI_USAGE);
			continue;
		}
		one = session_api(&s, "DELETE", "/system/secrets", NULL, text, strlen(text), &resp);
		free(text);
		if (!one && resp.status == 404) {
			cli_err("secret: secret '%s' not found", args.v[i]);
			one = CLI_NOT_FOUND;
		} else if (!one && (resp.status < 200 || resp.status > 299)) {
			buf_reset(&what);
			buf_printf(&what, "cannot remove secret '%s'", args.v[i]);
			one = session_fail(&s, &resp, buf_cstr(&what));
		} else if (!one) {
			printf("Removed secret %s\n", args.v[i]);
		}
		rc = cli_worse(rc, one);
		if (one == CLI_UNREACHABLE || one == CLI_UNAUTHORIZED)
			break;
	}
	fflush(stdout);
	client_resp_release(&resp);
	buf_release(&what);
	opts_args_release(&args);
	session_close(&s);
	return rc;
}

int cmd_secret(int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : NULL;

	if (!sub || !strcmp(sub, "--help") || !strcmp(sub, "-h")) {
		usage(sub ? stdout : stderr);
		return sub ? CLI_OK : CLI_USAGE;
	}
	if (!strcmp(sub, "create"))
		return write_secret(argc - 1, argv + 1, true);
	if (!strcmp(sub, "update"))
		return write_secret(argc - 1, argv + 1, false);
	if (!strcmp(sub, "list") || !strcmp(sub, "ls"))
		return list_secrets(argc - 1, argv + 1);
	if (!strcmp(sub, "remove") || !strcmp(sub, "rm"))
		return remove_secrets(argc - 1, argv + 1);
	cli_err("secret: unknown subcommand '%s' (create, list, update or remove)", sub);
	return CLI_USAGE;
}
