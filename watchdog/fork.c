/*
 * fork.c - the classic watchdog mode: one process per request.
 *
 * The request body streams into the handler's stdin while its output is
 * collected into a spool (memory, then a temporary file); the status is
 * known only when the handler exits, so the response is sent after that.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "b64.h"
#include "err.h"
#include "log.h"
#include "spawn.h"
#include "spool.h"
#include "wd.h"
#include "banned.h"

extern char **environ;

#define ENV_CAP (1024u * 1024)
#define DEBUG_PEEK 4096

struct fork_ctx {
	struct wd_req *req;
	struct spool out;
	/* marshal_request: the whole stdin, prepared up front. */
	const char *stdin_data;
	size_t stdin_len, stdin_off;
	int body_rc;  /* the error that stopped reading the body, if any */
};

/* Adds "Http_<Name>=value" for each request header and the request facts. */
static int build_env(struct wd_req *req, char ***out_envp, struct buf *strs)
{
	const struct http_head *h = &req->head;
	size_t n_env = 0, i, count = 0, off;
	size_t offs[HTTP_MAX_HEADERS + 8];
	char name[256];
	const char *host = http_head_get(h, "Host");
	char **envp;
	int rc = 0;

	while (environ[n_env])
		n_env++;
#define ADD(...)                                                     \
	do {                                                         \
		offs[count++] = strs->len;                           \
		if ((rc = buf_printf(strs, __VA_ARGS__)) ||          \
		    (rc = buf_addc(strs, '\0')))                     \
			return rc;                                   \
	} while (0)
	if (req->cfg->cgi_headers) {
		for (i = 0; i < h->nhdrs; i++) {
			char *p;
			if (!strcasecmp(h->hdrs[i].name, "Host") ||
			    !strcasecmp(h->hdrs[i].name, "Content-Length"))
				continue;
			http_canonical(h->hdrs[i].name, name, sizeof(name));
			for (p = name; *p; p++)
				if (*p == '-')
					*p = '_';
			ADD("Http_%s=%s", name, h->hdrs[i].value);
		}
	}
	ADD("Http_Method=%s", h->method);
	ADD("Http_Content_Length=%lld", (long long)h->content_length);
	if (*h->query)
		ADD("Http_Query=%s", h->query);
	ADD("Http_Path=%s", h->path);
	if (host)
		ADD("Http_Host=%s", host);
#undef ADD
	envp = malloc((count + n_env + 1) * sizeof(char *));
	if (!envp)
		return -ENOMEM;
	for (i = 0; i < count; i++) {
		off = offs[i];
		envp[i] = strs->data + off;
	}
	for (i = 0; i < n_env; i++)
		envp[count + i] = environ[i];
	envp[count + n_env] = NULL;
	*out_envp = envp;
	return 0;
}

static ssize_t read_body(void *arg, void *out, size_t cap)
{
	struct fork_ctx *fc = arg;
	ssize_t n;

	if (fc->stdin_data) {
		n = (ssize_t)(fc->stdin_len - fc->stdin_off);
		if ((size_t)n > cap)
			n = (ssize_t)cap;
		memcpy(out, fc->stdin_data + fc->stdin_off, (size_t)n);
		fc->stdin_off += (size_t)n;
		return n;
	}
	n = http_body_read(&fc->req->body, out, cap, true);
	if (n < 0 && n != -EAGAIN)
		fc->body_rc = (int)n;
	return n;
}

static int write_out(void *arg, const void *data, size_t len)
{
	struct fork_ctx *fc = arg;

	return spool_write(&fc->out, data, len);
}

/* marshal_request: {"header":{"Name":["v"]},"body":{"raw":"<base64>"}}. */
static int marshal(struct wd_req *req, struct buf *json)
{
	struct buf body;
	char name[256], chunk[65536];
	size_t i, j;
	int rc = 0;

	buf_init(&body, req->cfg->max_request_size);
	for (;;) {
		ssize_t n = http_body_read(&req->body, chunk, sizeof(chunk), false);
		if (n == 0)
			break;
		if (n < 0) {
			rc = (int)n;
			goto out;
		}
		if ((rc = buf_add(&body, chunk, (size_t)n)))
			goto out;
	}
	buf_adds(json, "{\"header\":{");
	for (i = 0; i < req->head.nhdrs; i++) {
		bool seen = false;
		/* Go's http.Header groups repeated names into one list. */
		for (j = 0; j < i; j++)
			if (!strcasecmp(req->head.hdrs[j].name, req->head.hdrs[i].name))
				seen = true;
		if (seen)
			continue;
		http_canonical(req->head.hdrs[i].name, name, sizeof(name));
		if (json->data[json->len - 1] != '{')
			buf_addc(json, ',');
		buf_add_json_string(json, name, strlen(name));
		buf_adds(json, ":[");
		for (j = i; j < req->head.nhdrs; j++) {
			const char *v = req->head.hdrs[j].value;
			if (strcasecmp(req->head.hdrs[j].name, req->head.hdrs[i].name))
				continue;
			if (j > i)
				buf_addc(json, ',');
			buf_add_json_string(json, v, strlen(v));
		}
		buf_addc(json, ']');
	}
	buf_adds(json, "},\"body\":{\"raw\":\"");
	rc = b64_encode(json, body.data ? body.data : "", body.len);
	if (!rc)
		rc = buf_adds(json, "\"}}");
out:
	buf_release(&body);
	return rc;
}

static void respond_error(struct wd_req *req, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void respond_error(struct wd_req *req, int status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(msg) - 2)
		n = (int)sizeof(msg) - 2;
	msg[n++] = '\n';
	wd_respond(req, status, "text/plain; charset=utf-8", NULL, msg, (size_t)n);
}

/* Describes how the handler ended, as Go's exec package words it. */
static void exit_line(int status, char *out, size_t cap)
{
	if (WIFEXITED(status))
		snprintf(out, cap, "exit status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(out, cap, "signal: %s", strsignal(WTERMSIG(status)));
	else
		snprintf(out, cap, "exit status unknown");
}

static void send_result(struct wd_req *req, struct fork_ctx *fc, int status)
{
	const struct wd_config *cfg = req->cfg;
	double secs = (double)(mono_ns() - req->start_ns) / 1e9;
	const char *ctype = cfg->content_type;
	char line[128], extra[64];
	struct buf head;
	uint64_t len = fc->out.total;
	int code = 200, rc;

	if (!ctype)
		ctype = http_head_get(&req->head, "Content-Type");
	line[0] = '\0';
	if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		code = 500;
		exit_line(status, line, sizeof(line) - 1);
		LOGC(ERROR, req->ctx, "Function failed: %s", line);
		line[strlen(line) + 1] = '\0';
		line[strlen(line)] = '\n';
		len += strlen(line);
	}
	buf_init(&head, 4096);
	snprintf(extra, sizeof(extra), "%.6f", secs);
	if (ctype)
		buf_printf(&head, "Content-Type: %s\r\n", ctype);
	buf_printf(&head, "X-Duration-Seconds: %s\r\n", extra);
	rc = wd_respond_head(req, code, buf_cstr(&head), (int64_t)len);
	buf_release(&head);
	if (!rc && line[0])
		rc = net_write_all(req->fd, line, strlen(line), wd_write_deadline(req));
	if (!rc)
		rc = spool_send(&fc->out, req->fd, wd_write_deadline(req));
	if (rc)
		req->keep_alive = false;
	if (cfg->write_debug) {
		char peek[DEBUG_PEEK];
		size_t n = spool_peek(&fc->out, peek, sizeof(peek));
		struct buf esc;
		buf_init(&esc, DEBUG_PEEK * 6 + 2);
		buf_add_json_string(&esc, peek, n);
		LOGC(INFO, req->ctx, "Output: %s", buf_cstr(&esc));
		buf_release(&esc);
	}
	LOGC(INFO, req->ctx, "Wrote %llu Bytes - Duration: %f seconds",
	     (unsigned long long)len, (double)(mono_ns() - req->start_ns) / 1e9);
}

void wd_fork_handle(struct wd_req *req)
{
	const struct wd_config *cfg = req->cfg;
	struct spawn_opts so = { 0 };
	struct spawn_proc proc = { .pid = -1 };
	struct spawn_io io = { 0 };
	struct fork_ctx fc = { .req = req };
	struct buf strs, json;
	char **envp = NULL;
	int rc, status;

	spool_init(&fc.out, cfg->max_output_size, cfg->tmpdir);
	buf_init(&strs, ENV_CAP);
	buf_init(&json, cfg->max_request_size * 2 + 65536);
	rc = build_env(req, &envp, &strs);
	if (rc) {
		respond_error(req, 431, "request headers too large for the environment");
		goto out;
	}
	if (cfg->marshal_request) {
		rc = marshal(req, &json);
		if (rc == -ERR_TOO_BIG) {
			req->keep_alive = false;
			respond_error(req, 413, "request body exceeds max_request_size (%llu bytes)",
				      (unsigned long long)cfg->max_request_size);
			goto out;
		}
		if (rc) {
			req->keep_alive = false;
			if (rc == -ERR_TIMEOUT)
				respond_error(req, 408, "timed out reading the request body");
			goto out;
		}
		fc.stdin_data = json.data;
		fc.stdin_len = json.len;
	}
	so.argv = cfg->argv;
	so.envp = envp;
	so.in = SPAWN_FD_PIPE;
	so.out = SPAWN_FD_PIPE;
	so.err = cfg->combine_output ? SPAWN_FD_STDOUT : SPAWN_FD_INHERIT;
	LOGC(INFO, req->ctx, "Forking fprocess.");
	rc = spawn_start(&so, &proc);
	if (rc) {
		LOGC(ERROR, req->ctx, "cannot execute '%s': %s", cfg->argv[0], err_str(rc));
		respond_error(req, 500, "cannot execute '%s': %s", cfg->argv[0], err_str(rc));
		goto out;
	}
	io.in_poll_fd = req->fd;
	io.read_in = read_body;
	io.write_out = write_out;
	io.ctx = &fc;
	io.cancel_fd = -1;
	io.deadline_ms = cfg->exec_timeout_ms ? mono_ms() + cfg->exec_timeout_ms : 0;
	io.in_deadline_ms = cfg->read_timeout_ms ? mono_ms() + cfg->read_timeout_ms : 0;
	rc = spawn_pump(&proc, &io);
	if (rc) {
		spawn_kill(&proc, SIGKILL);
		spawn_wait(&proc);
		req->keep_alive = false;
		if (fc.out.over) {
			LOGC(ERROR, req->ctx, "Function output exceeds max_output_size");
			respond_error(req, 500, "function output exceeds max_output_size (%llu bytes)",
				      (unsigned long long)cfg->max_output_size);
		} else if (fc.body_rc == -ERR_TOO_BIG) {
			respond_error(req, 413, "request body exceeds max_request_size (%llu bytes)",
				      (unsigned long long)cfg->max_request_size);
		} else if (rc == -ERR_TIMEOUT) {
			bool exec = io.deadline_ms && mono_ms() >= io.deadline_ms;
			LOGC(ERROR, req->ctx, "%s", exec ? "Killed process: exec_timeout reached" :
						       "Killed process: request body read timed out");
			respond_error(req, 408, "%s", exec ? "Killed process: exec_timeout reached" :
							 "timed out reading the request body");
		} else if (fc.body_rc) {
			LOGC(WARN, req->ctx, "request body: %s", err_str(fc.body_rc));
			if (fc.body_rc == -ERR_PARSE)
				respond_error(req, 400, "malformed request body");
		} else {
			respond_error(req, 500, "cannot run the function: %s", err_str(rc));
		}
		goto out;
	}
	status = spawn_wait(&proc);
	if (status < 0) {
		respond_error(req, 500, "cannot wait for the function: %s", err_str(status));
		goto out;
	}
	send_result(req, &fc, status);
out:
	if (proc.pid > 0 && !proc.reaped) {
		spawn_kill(&proc, SIGKILL);
		spawn_wait(&proc);
	}
	free(envp);
	buf_release(&strs);
	buf_release(&json);
	spool_release(&fc.out);
}
