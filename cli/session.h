/*
 * session.h - what most commands do first: read the stack file, decide
 * which gateway to talk to, load the saved credentials and open an HTTP
 * client; and how they report what the gateway answered.
 *
 * The gateway is, in order: --gateway/-g, the stack file's
 * provider.gateway, $OPENFAAS_URL, http://127.0.0.1:8080.
 * The stack file is -f/--yaml, else ./stack.yml, else ./stack.yaml.
 *
 * Every function here that returns int returns an exit code (cli.h) and
 * has already printed the problem when it is not CLI_OK.
 */
#ifndef CLI_SESSION_H
#define CLI_SESSION_H

#include <stdbool.h>
#include <stddef.h>

#include "client.h"
#include "opts.h"
#include "stack.h"

#define SESSION_DEFAULT_GATEWAY "http://127.0.0.1:8080"
/* Timeout of API calls (not of function calls or log streams). */
#define SESSION_API_TIMEOUT_MS 120000

/* The flags that many commands share; filled by opts_parse. */
struct session_flags {
	const char *gateway;
	const char *yaml;
	const char *filter;
	const char *regex;
	const char *namespace;
	bool tls_no_verify;
};

#define SESSION_OPT_GATEWAY(f) { "gateway", 'g', OPT_STR, &(f)->gateway, "URL", \
	"gateway URL (default: the stack file's, else $OPENFAAS_URL, else " \
	SESSION_DEFAULT_GATEWAY ")" }
#define SESSION_OPT_YAML(f) { "yaml", 'f', OPT_STR, &(f)->yaml, "FILE", \
	"stack file (default: stack.yml, else stack.yaml)" }
#define SESSION_OPT_FILTER(f) { "filter", 0, OPT_STR, &(f)->filter, "GLOB", \
	"only the stack's functions whose name matches this wildcard" }
#define SESSION_OPT_REGEX(f) { "regex", 0, OPT_STR, &(f)->regex, "REGEX", \
	"only the stack's functions whose name matches this regular expression" }
#define SESSION_OPT_NAMESPACE(f) { "namespace", 'n', OPT_STR, &(f)->namespace, "NS", \
	"namespace (default: the gateway's, openfaas-fn)" }
#define SESSION_OPT_TLS(f) { "tls-no-verify", 0, OPT_BOOL, &(f)->tls_no_verify, NULL, \
	"do not check the gateway's TLS certificate" }

struct session {
	const char *cmd;            /* for messages: "deploy" */
	struct session_flags flags;
	struct stack *stack;        /* NULL when no stack file was read */
	char *gateway;              /* the gateway URL, no trailing '/' */
	bool has_credentials;
	struct client *client;      /* NULL with SESSION_NO_CLIENT */
	char provider[64];          /* from /system/info; "" until asked */
};

enum {
	SESSION_STACK_NEEDED = 1,   /* fail without a stack file */
	SESSION_STACK_IF_ANY = 2,   /* read -f, or ./stack.yml when it exists */
	SESSION_NO_CLIENT = 4,      /* no gateway needed (build) */
};

/* Opens a session for cmd with the parsed flags (copied). */
int session_open(struct session *s, const char *cmd, const struct session_flags *flags,
		 unsigned what);

/* Frees what s holds; safe on a zeroed or failed session. */
void session_close(struct session *s);

/* The functions selected with --filter/--regex (all by default): a new
 * array of indexes into s->stack->fns (caller frees). */
int session_select(struct session *s, size_t **idx, size_t *n);

/* Sends req. CLI_OK when an answer came back (any status), else prints
 * why the gateway could not be reached and returns the exit code. */
int session_call(struct session *s, const struct client_req *req, struct client_resp *resp);

/* Shorthand: a JSON/API request with auth and the API timeout. */
int session_api(struct session *s, const char *method, const char *path, const char *query,
		const void *body, size_t len, struct client_resp *resp);

/* Reports an answer that is not 2xx: prints "<what>: <problem>" with a
 * hint (401 says to run `cfaas login`, 404 says what is missing) and
 * returns the exit code for it. */
int session_fail(struct session *s, const struct client_resp *resp, const char *what);

/* Asks the gateway which provider runs its replicas ("process",
 * "docker"), once. *out borrowed from s. */
int session_provider(struct session *s, const char **out);

/* Appends the query parameter "namespace=NS" to q when a namespace is
 * set (flags or the given fallback). */
void session_ns_query(const struct session *s, const char *fallback, struct buf *q);

/* Finds the stack file to read (-f, stack.yml, stack.yaml); NULL if none. */
const char *session_stack_file(const struct session_flags *flags);

#endif
