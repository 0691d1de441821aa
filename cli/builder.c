/*
 * builder.c - build folders and bundles (see builder.h).
 */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "builder.h"
#include "cli.h"
#include "config.h"
#include "err.h"
#include "fsutil.h"
#include "spawn.h"
#include "strs.h"
#include "template.h"
#include "banned.h"

#define LINE_MAX_SHOWN 4096
#define PACK_TIMEOUT_MS (10LL * 60 * 1000)
#define CONTEXT_MAX (1024u * 1024 * 1024)  /* an OCI build context read into memory */
#define BUILD_LINE_MAX (1024u * 1024)      /* one JSON line of the build's answer */

extern char **environ;

int builder_dir(const struct stack *st, const struct stack_fn *fn, struct buf *out)
{
	struct buf rel;
	int rc;

	buf_init(&rel, PATH_MAX);
	buf_printf(&rel, "build/%s", fn->name);
	rc = stack_path(st, buf_cstr(&rel), out);
	buf_release(&rel);
	return rc;
}

int builder_bundle(const struct stack *st, const struct stack_fn *fn, struct buf *out)
{
	int rc = builder_dir(st, fn, out);

	return rc ? rc : buf_adds(out, ".tar.gz");
}

int builder_fprocess(const struct stack *st, const struct stack_fn *fn, struct buf *out)
{
	struct buf path, why;
	int rc;

	buf_init(&path, PATH_MAX);
	buf_init(&why, 1024);
	builder_dir(st, fn, &path);
	buf_adds(&path, "/fprocess");
	rc = fsutil_read_file(buf_cstr(&path), out, &why);
	while (!rc && out->len && (out->data[out->len - 1] == '\n' || out->data[out->len - 1] == ' '))
		out->data[--out->len] = '\0';
	if (rc || !out->len)
		rc = -ERR_NOT_FOUND;
	buf_release(&path);
	buf_release(&why);
	return rc;
}

/* Splits child output into "[NAME] line" notes. */
struct lines {
	const char *name;
	struct buf partial;
};

static void flush_line(struct lines *l)
{
	cli_note("[%s] %s", l->name, buf_cstr(&l->partial));
	buf_reset(&l->partial);
}

static int on_output(void *ctx, const void *data, size_t len)
{
	struct lines *l = ctx;
	const char *p = data;
	size_t i;

	for (i = 0; i < len; i++) {
		if (p[i] == '\n') {
			flush_line(l);
		} else if (p[i] != '\r') {
			if (l->partial.len >= LINE_MAX_SHOWN)
				flush_line(l);
			buf_addc(&l->partial, p[i]);
		}
	}
	return 0;
}

/* Runs argv in cwd with envp, its output shown as "[NAME] ..." lines.
 * 0 when it exits with 0; otherwise a message in why. */
static int run(const char *name, char *const *argv, char *const *envp, const char *cwd,
	       int64_t timeout_ms, struct buf *why)
{
	struct spawn_opts so = {
		.argv = argv, .envp = envp, .cwd = cwd,
		.in = SPAWN_FD_NULL, .out = SPAWN_FD_PIPE, .err = SPAWN_FD_STDOUT,
	};
	struct lines l = { .name = name };
	struct spawn_io io = {
		.in_poll_fd = -1, .write_out = on_output, .write_err = on_output, .ctx = &l,
		.deadline_ms = mono_ms() + timeout_ms, .cancel_fd = -1,
	};
	struct spawn_proc proc;
	int rc, st;

	buf_init(&l.partial, LINE_MAX_SHOWN + 1);
	rc = spawn_start(&so, &proc);
	if (rc) {
		buf_printf(why, "cannot run '%s': %s", argv[0], err_str(rc));
		buf_release(&l.partial);
		return rc;
	}
	rc = spawn_pump(&proc, &io);
	if (l.partial.len)
		flush_line(&l);
	if (rc)
		spawn_kill(&proc, SIGKILL);
	st = spawn_wait(&proc);
	if (rc == -ERR_TIMEOUT) {
		buf_printf(why, "'%s' took longer than %lld minutes and was stopped", argv[0],
			   (long long)(timeout_ms / 60000));
	} else if (rc) {
		buf_printf(why, "'%s' failed: %s", argv[0], err_str(rc));
	} else if (st < 0) {
		rc = st;
		buf_printf(why, "'%s' failed: %s", argv[0], err_str(st));
	} else if (WIFSIGNALED(st)) {
		rc = -ERR_EXEC;
		buf_printf(why, "'%s' was killed by signal %d", argv[0], WTERMSIG(st));
	} else if (WEXITSTATUS(st) != 0) {
		rc = -ERR_EXEC;
		buf_printf(why, "'%s' exited with status %d", argv[0], WEXITSTATUS(st));
	}
	buf_release(&l.partial);
	return rc;
}

/* Reads `ENV fprocess=...` (or `ENV fprocess ...`) from a Dockerfile. */
static int dockerfile_fprocess(const char *dockerfile, struct buf *out)
{
	struct buf text, why;
	char *line, *save = NULL;
	int rc;

	buf_init(&text, 1024 * 1024);
	buf_init(&why, 1024);
	rc = fsutil_read_file(dockerfile, &text, &why);
	for (line = rc ? NULL : strtok_r(text.data, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *p = line, *v;

		while (*p == ' ' || *p == '\t')
			p++;
		if (strncasecmp(p, "ENV", 3) || (p[3] != ' ' && p[3] != '\t'))
			continue;
		v = strstr(p + 3, "fprocess");
		if (!v || (v[-1] != ' ' && v[-1] != '\t'))
			continue;
		v += 8;
		buf_reset(out);
		if (*v == '=') {
			char quote = v[1] == '"' || v[1] == '\'' ? v[1] : 0;
			char *end;
			v += quote ? 2 : 1;
			end = quote ? strchr(v, quote) : v + strcspn(v, " \t\r");
			buf_add(out, v, end ? (size_t)(end - v) : strlen(v));
		} else if (*v == ' ' || *v == '\t') {
			size_t n;
			while (*v == ' ' || *v == '\t')
				v++;
			n = strlen(v);
			while (n && (v[n - 1] == '\r' || v[n - 1] == ' '))
				n--;
			buf_add(out, v, n);
		}
	}
	buf_release(&text);
	buf_release(&why);
	return out->len ? 0 : -ERR_NOT_FOUND;
}

/* The environment of a build command: ours plus the build args. */
static char **build_env(const struct wire_map *a, const struct wire_map *b)
{
	size_t n = 0, i, k;
	char **env;

	while (environ[n])
		n++;
	env = calloc(n + a->n + b->n + 1, sizeof(*env));
	if (!env)
		return NULL;
	for (i = 0; i < n; i++)
		env[i] = environ[i];
	for (k = 0; k < a->n + b->n; k++) {
		const struct wire_kv *kv = k < a->n ? &a->items[k] : &b->items[k - a->n];
		size_t len = strlen(kv->key) + strlen(kv->value) + 2;
		char *s = malloc(len);
		if (!s)
			continue;
		snprintf(s, len, "%s=%s", kv->key, kv->value);
		env[i++] = s;
	}
	env[i] = NULL;
	return env;
}

static void build_env_free(char **env)
{
	size_t i, n = 0;

	if (!env)
		return;
	while (environ[n])
		n++;
	for (i = n; env[i]; i++)
		free(env[i]);
	free(env);
}

static void human_size(off_t n, char *out, size_t cap)
{
	if (n < 1024)
		snprintf(out, cap, "%lld bytes", (long long)n);
	else if (n < 1024 * 1024)
		snprintf(out, cap, "%.1f KiB", (double)n / 1024);
	else
		snprintf(out, cap, "%.1f MiB", (double)n / (1024 * 1024));
}

/* Copies cfaas-watchdog into dir for an OCI build context. */
static void add_watchdog(const char *name, const char *dir)
{
	struct buf src, dst, why;

	buf_init(&src, PATH_MAX);
	buf_init(&dst, PATH_MAX);
	buf_init(&why, 1024);
	if (config_env()->watchdog)
		buf_adds(&src, config_env()->watchdog);
	else if (fsutil_exe_dir(&src) == 0)
		buf_adds(&src, "/cfaas-watchdog");
	buf_printf(&dst, "%s/cfaas-watchdog", dir);
	if (!src.len || !fsutil_exists(buf_cstr(&src))) {
		cli_note("[%s] note: cfaas-watchdog was not found next to cfaas (set "
			 "CFAAS_WATCHDOG); copy it into %s before 'docker build'", name, dir);
	} else if (fsutil_copy_file(buf_cstr(&src), buf_cstr(&dst), &why)) {
		cli_note("[%s] note: cannot copy cfaas-watchdog: %s", name, buf_cstr(&why));
	}
	buf_release(&src);
	buf_release(&dst);
	buf_release(&why);
}

/* ---- OCI images through the Docker Engine API -------------------------- */

struct image_build {
	const char *name;
	struct buf line;         /* a partial JSON line of the answer */
	struct buf error;        /* the engine's error, if it sent one */
	bool too_long;
};

/* One JSON line of POST /build's answer: {"stream": ...} is progress,
 * {"error": ...} (or errorDetail) a failed build. */
static void build_line(struct image_build *ib, const char *text, size_t len)
{
	json_t *j = json_loadb(text, len, 0, NULL);
	const char *v;

	if (!j)
		return;
	v = json_string_value(json_object_get(j, "stream"));
	if (v) {
		const char *p = v;

		while (*p) {
			const char *nl = strchr(p, '\n');
			size_t n = nl ? (size_t)(nl - p) : strlen(p);

			if (n)
				cli_note("[%s] %.*s", ib->name, (int)n, p);
			p += n + (nl ? 1 : 0);
		}
	}
	v = json_string_value(json_object_get(j, "error"));
	if (!v)
		v = json_string_value(json_object_get(json_object_get(j, "errorDetail"), "message"));
	if (v && !ib->error.len)
		buf_adds(&ib->error, v);
	json_decref(j);
}

static size_t on_build_data(char *data, size_t size, size_t n, void *arg)
{
	struct image_build *ib = arg;
	size_t len = size * n, i, start = 0;

	for (i = 0; i < len; i++) {
		if (data[i] != '\n')
			continue;
		if (buf_add(&ib->line, data + start, i - start))
			ib->too_long = true;
		else if (ib->line.len)
			build_line(ib, ib->line.data, ib->line.len);
		buf_reset(&ib->line);
		start = i + 1;
	}
	if (start < len && buf_add(&ib->line, data + start, len - start)) {
		ib->too_long = true;
		buf_reset(&ib->line);
	}
	return len;
}

/* Appends s %-encoded as a query value. */
static void query_escape(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~')
			buf_addc(out, (char)c);
		else
			buf_printf(out, "%%%c%c", hex[c >> 4], hex[c & 15]);
	}
}

/* Sends the tar at context_tar to POST /build on socket, tagged image. */
static int docker_build(const char *name, const char *socket, const char *context_tar,
			const char *image, struct buf *why)
{
	struct image_build ib = { .name = name };
	struct curl_slist *hdrs = NULL;
	struct buf ctx, url;
	long code = 0;
	CURLcode cc;
	CURL *c = NULL;
	int rc = 0;

	buf_init(&ctx, CONTEXT_MAX);
	buf_init(&url, 8192);
	buf_init(&ib.line, BUILD_LINE_MAX);
	buf_init(&ib.error, 8192);
	if ((rc = fsutil_read_file(context_tar, &ctx, why)))
		goto out;
	buf_adds(&url, "http://docker/build?rm=1&forcerm=1&t=");
	query_escape(&url, image);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	c = curl_easy_init();
	if (!c) {
		rc = -ENOMEM;
		goto out;
	}
	hdrs = curl_slist_append(hdrs, "Content-Type: application/x-tar");
	hdrs = curl_slist_append(hdrs, "Expect:");
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, socket);
	curl_easy_setopt(c, CURLOPT_URL, buf_cstr(&url));
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, ctx.data ? ctx.data : "");
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)ctx.len);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)BUILDER_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_build_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &ib);
	cli_note("[%s] building image %s through the Docker Engine API at %s", name, image,
		 socket);
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		buf_printf(why, "cannot reach the Docker Engine API at '%s': %s", socket,
			   curl_easy_strerror(cc));
		rc = -ERR_UNAVAILABLE;
		goto out;
	}
	if (ib.line.len)
		build_line(&ib, ib.line.data, ib.line.len);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (code != 200 || ib.error.len) {
		if (ib.error.len) {
			buf_printf(why, "image build failed: %s", buf_cstr(&ib.error));
		} else {
			json_t *j = json_loadb(ib.line.data ? ib.line.data : "", ib.line.len, 0, NULL);
			const char *m = json_string_value(json_object_get(j, "message"));

			buf_printf(why, "image build failed: HTTP %ld%s%s", code, m ? ": " : "",
				   m ? m : "");
			json_decref(j);
		}
		rc = -ERR_EXEC;
	}
out:
	curl_slist_free_all(hdrs);
	if (c)
		curl_easy_cleanup(c);
	buf_release(&ctx);
	buf_release(&url);
	buf_release(&ib.line);
	buf_release(&ib.error);
	return rc;
}

/* Packs dir into a tar next to it and builds the image from it. */
static int build_image(const struct stack_fn *fn, const char *dir, const char *socket,
		       struct buf *why)
{
	struct buf tar;
	int rc;

	buf_init(&tar, PATH_MAX);
	buf_printf(&tar, "%s.context.tar", dir);
	add_watchdog(fn->name, dir);
	{
		char *argv[] = { "tar", "-cf", tar.data, "-C", (char *)dir, "--owner=0",
				 "--group=0", "--numeric-owner", ".", NULL };

		unlink(buf_cstr(&tar));
		rc = run(fn->name, argv, NULL, NULL, PACK_TIMEOUT_MS, why);
	}
	if (!rc)
		rc = docker_build(fn->name, socket, buf_cstr(&tar), fn->image, why);
	unlink(buf_cstr(&tar));
	buf_release(&tar);
	return rc;
}

/* Builds one function; returns its exit code. */
static int build_one(const struct stack *st, const struct stack_fn *fn,
		     const struct builder_opts *o)
{
	struct template t = { 0 };
	struct buf handler, dir, bundle, tmp, root, why, fproc, path;
	char **env = NULL;
	char real_root[PATH_MAX];
	int64_t start = mono_ms();
	bool is_dockerfile;
	int code = CLI_FAIL, rc;
	size_t i;

	buf_init(&handler, PATH_MAX);
	buf_init(&dir, PATH_MAX);
	buf_init(&bundle, PATH_MAX);
	buf_init(&tmp, PATH_MAX);
	buf_init(&root, PATH_MAX);
	buf_init(&why, 8192);
	buf_init(&fproc, 64 * 1024);
	buf_init(&path, PATH_MAX);
	if (fn->skip_build) {
		cli_note("[%s] skipped: skip_build is set", fn->name);
		code = CLI_OK;
		goto out;
	}
	if (!fn->lang) {
		stack_err(st, fn->at, &why, "function '%s' has no 'lang': set the template to "
			  "build it with (see 'cfaas template list'), or skip_build: true",
			  fn->name);
		cli_err("%s", buf_cstr(&why));
		code = CLI_USAGE;
		goto out;
	}
	if (!fn->handler) {
		stack_err(st, fn->at, &why, "function '%s' has no 'handler': set the folder of "
			  "its code", fn->name);
		cli_err("%s", buf_cstr(&why));
		code = CLI_USAGE;
		goto out;
	}
	stack_path(st, fn->handler, &handler);
	if (!fsutil_is_dir(buf_cstr(&handler))) {
		stack_err(st, fn->handler_at, &why, "handler folder '%s' of function '%s' does "
			  "not exist", fn->handler, fn->name);
		cli_err("%s", buf_cstr(&why));
		code = CLI_USAGE;
		goto out;
	}
	rc = template_find(fn->lang, st->dir, &t, &why);
	if (rc) {
		struct buf msg;
		buf_init(&msg, 8192);
		buf_adds(&msg, buf_cstr(&why));
		stack_err(st, fn->lang_at, &why, "%s", buf_cstr(&msg));
		buf_release(&msg);
		cli_err("%s", buf_cstr(&why));
		code = rc == -ERR_NOT_FOUND ? CLI_USAGE : CLI_FAIL;
		goto out;
	}
	is_dockerfile = !strcmp(fn->lang, "dockerfile");
	builder_dir(st, fn, &dir);
	builder_bundle(st, fn, &bundle);
	stack_path(st, "build", &root);
	if (fsutil_mkdirs(buf_cstr(&root), 0755, &why))
		goto fail;
	if (!realpath(buf_cstr(&root), real_root))
		real_root[0] = '\0';
	cli_note("[%s] assembling %s from template '%s'", fn->name, buf_cstr(&dir), t.name);
	if (fsutil_rmtree(buf_cstr(&dir), &why))
		goto fail;
	if (is_dockerfile) {
		if (fsutil_copytree(buf_cstr(&handler), buf_cstr(&dir), NULL, real_root, &why))
			goto fail;
	} else {
		static const char *const skip[] = { "function", "template.yml", NULL };
		if (fsutil_copytree(t.dir, buf_cstr(&dir), skip, NULL, &why))
			goto fail;
		buf_printf(&tmp, "%s/function", buf_cstr(&dir));
		if (fsutil_copytree(buf_cstr(&handler), buf_cstr(&tmp), NULL, real_root, &why))
			goto fail;
	}
	for (i = 0; i < st->copy.n; i++) {
		struct buf from;
		buf_init(&from, PATH_MAX);
		stack_path(st, st->copy.items[i], &from);
		buf_reset(&tmp);
		buf_printf(&tmp, "%s/%s%s", buf_cstr(&dir), is_dockerfile ? "" : "function/",
			   st->copy.items[i]);
		rc = fsutil_is_dir(buf_cstr(&from))
			     ? fsutil_copytree(buf_cstr(&from), buf_cstr(&tmp), NULL, real_root, &why)
			     : -ENOTDIR;
		if (rc == -ENOTDIR && !why.len)
			buf_printf(&why, "configuration.copy: '%s' is not a folder",
				   st->copy.items[i]);
		buf_release(&from);
		if (rc)
			goto fail;
	}
	/* fprocess: the stack's, else the Dockerfile's ENV, else the template's. */
	if (fn->fprocess)
		buf_adds(&fproc, fn->fprocess);
	else {
		buf_reset(&path);
		buf_printf(&path, "%s/Dockerfile", buf_cstr(&dir));
		if (!(is_dockerfile && dockerfile_fprocess(buf_cstr(&path), &fproc) == 0) &&
		    t.fprocess)
			buf_adds(&fproc, t.fprocess);
	}
	buf_reset(&path);
	buf_printf(&path, "%s/fprocess", buf_cstr(&dir));
	if (fproc.len) {
		buf_addc(&fproc, '\n');
		if (fsutil_write_file(buf_cstr(&path), fproc.data, fproc.len, 0644, &why))
			goto fail;
	} else {
		cli_note("[%s] note: no fprocess is known: set 'fprocess' in the stack file",
			 fn->name);
	}
	if (o->shrinkwrap) {
		add_watchdog(fn->name, buf_cstr(&dir));
		printf("Shrinkwrapped %s: %s\n", fn->name, buf_cstr(&dir));
		code = CLI_OK;
		goto out;
	}
	if (t.build && t.build[0]) {
		char *argv[] = { "/bin/sh", "-c", t.build, NULL };
		struct wire_map none = { 0 };

		env = build_env(&fn->build_args, o->build_args ? o->build_args : &none);
		cli_note("[%s] running the build command of template '%s': %.60s%s", fn->name,
			 t.name, t.build, strlen(t.build) > 60 ? "..." : "");
		if (run(fn->name, argv, env, buf_cstr(&dir), BUILDER_TIMEOUT_MS, &why)) {
			buf_printf(&why, " (the build command of template '%s')", t.name);
			goto fail;
		}
	}
	if (o->docker_socket) {
		if (build_image(fn, buf_cstr(&dir), o->docker_socket, &why))
			goto fail;
		cli_note("[%s] built image %s in %.1fs", fn->name, fn->image,
			 (double)(mono_ms() - start) / 1000.0);
		printf("Built %s: image %s\n", fn->name, fn->image);
		code = CLI_OK;
		goto out;
	}
	buf_reset(&tmp);
	buf_printf(&tmp, "%s.tmp", buf_cstr(&bundle));
	{
		char *argv[] = { "tar", "-czf", tmp.data, "-C", dir.data, "--owner=0",
				 "--group=0", "--numeric-owner", ".", NULL };
		char size[64];
		off_t sz = 0;

		unlink(buf_cstr(&tmp));
		if (run(fn->name, argv, NULL, NULL, PACK_TIMEOUT_MS, &why))
			goto fail;
		if (rename(buf_cstr(&tmp), buf_cstr(&bundle)) < 0) {
			buf_printf(&why, "cannot write '%s': %s", buf_cstr(&bundle), strerror(errno));
			goto fail;
		}
		fsutil_file_size(buf_cstr(&bundle), &sz);
		human_size(sz, size, sizeof(size));
		cli_note("[%s] packed %s (%s) in %.1fs", fn->name, buf_cstr(&bundle), size,
			 (double)(mono_ms() - start) / 1000.0);
	}
	printf("Built %s: %s\n", fn->name, buf_cstr(&bundle));
	code = CLI_OK;
	goto out;
fail:
	cli_err("build of '%s' failed: %s", fn->name, buf_cstr(&why));
	code = CLI_FAIL;
out:
	fflush(stdout);
	build_env_free(env);
	template_release(&t);
	buf_release(&handler);
	buf_release(&dir);
	buf_release(&bundle);
	buf_release(&tmp);
	buf_release(&root);
	buf_release(&why);
	buf_release(&fproc);
	buf_release(&path);
	return code;
}

struct pool {
	const struct stack *st;
	const size_t *idx;
	size_t n;
	size_t next;
	const struct builder_opts *o;
	int *results;
	pthread_mutex_t lock;
};

static void *worker(void *arg)
{
	struct pool *p = arg;

	for (;;) {
		size_t k;

		pthread_mutex_lock(&p->lock);
		k = p->next++;
		pthread_mutex_unlock(&p->lock);
		if (k >= p->n)
			return NULL;
		p->results[k] = build_one(p->st, &p->st->fns[p->idx[k]], p->o);
	}
}

int builder_run(const struct stack *st, const size_t *idx, size_t n,
		const struct builder_opts *o, long parallel, int *results)
{
	struct pool p = { .st = st, .idx = idx, .n = n, .o = o };
	pthread_t threads[64];
	size_t nthreads = 0, i;
	int code = CLI_OK;

	p.results = results ? results : calloc(n ? n : 1, sizeof(int));
	if (!p.results) {
		cli_err("out of memory");
		return CLI_FAIL;
	}
	pthread_mutex_init(&p.lock, NULL);
	if (parallel < 1)
		parallel = 1;
	if (parallel > 64)
		parallel = 64;
	if ((size_t)parallel > n)
		parallel = (long)n;
	if (parallel <= 1) {
		worker(&p);
	} else {
		for (i = 0; i < (size_t)parallel; i++)
			if (pthread_create(&threads[nthreads], NULL, worker, &p) == 0)
				nthreads++;
		if (nthreads == 0)
			worker(&p);
		for (i = 0; i < nthreads; i++)
			pthread_join(threads[i], NULL);
	}
	for (i = 0; i < n; i++)
		code = cli_worse(code, p.results[i]);
	pthread_mutex_destroy(&p.lock);
	if (!results)
		free(p.results);
	return code;
}
