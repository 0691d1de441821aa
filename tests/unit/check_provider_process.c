/*
 * check_provider_process.c - the process provider with real watchdogs.
 *
 * The watchdog binary is found through CFAAS_BIN_DIR, else next to the test
 * binary's build tree (build/asan/bin for `make SAN=1`, bin/ otherwise).
 * Every test checks that it leaves no process (found by a marker in their
 * environment) and no file descriptor behind.
 */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "http.h"
#include "logstore.h"
#include "net.h"
#include "provider.h"
#include "spawn.h"
#include "wire.h"

static char watchdog[PATH_MAX];
static char data_dir[256];
static char mark[64];
static int fds_before;
static int mounts_before;

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static void find_watchdog(void)
{
	const char *env = getenv("CFAAS_BIN_DIR");
	char exe[PATH_MAX], *dir;
	ssize_t n;

	if (env && *env) {
		snprintf(watchdog, sizeof(watchdog), "%s/cfaas-watchdog", env);
		return;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	ck_assert_int_gt(n, 0);
	exe[n] = '\0';
	dir = dirname(dirname(exe)); /* build/tests/x -> build, build/asan/tests/x -> build/asan */
	snprintf(watchdog, sizeof(watchdog), "%s/bin/cfaas-watchdog", dir);
	if (!exists(watchdog))
		snprintf(watchdog, sizeof(watchdog), "%s/../bin/cfaas-watchdog", dir);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		n++;
	closedir(d);
	return n;
}

/* Processes whose environment holds this test's marker, and the pid of one. */
static int count_marked(pid_t *one)
{
	char want[96], path[300], env[16384];
	DIR *d = opendir("/proc");
	struct dirent *e;
	size_t wlen;
	int n = 0;

	snprintf(want, sizeof(want), "CFAAS_TEST_MARK=%s", mark);
	wlen = strlen(want) + 1;
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d))) {
		ssize_t len;
		int fd;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/environ", e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		len = read(fd, env, sizeof(env));
		close(fd);
		if (len > 0 && memmem(env, (size_t)len, want, wlen)) {
			n++;
			if (one)
				*one = (pid_t)atoi(e->d_name);
		}
	}
	closedir(d);
	return n;
}

/* Lines of our mount table: a replica's mounts must stay in its own
 * namespace. */
static int count_mounts(void)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	int n = 0, c;

	ck_assert_ptr_nonnull(f);
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static void wait_marked(int want, int ms)
{
	int64_t deadline = mono_ms() + ms;

	while (count_marked(NULL) != want && mono_ms() < deadline)
		sleep_ms(10);
	ck_assert_int_eq(count_marked(NULL), want);
}

static void setup(void)
{
	find_watchdog();
	ck_assert_msg(access(watchdog, X_OK) == 0, "no watchdog at '%s' (run make first)", watchdog);
	/* Not under /tmp, so the namespace mode also covers the data dir. */
	snprintf(data_dir, sizeof(data_dir), "/var/tmp/check_pp_XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(data_dir));
	snprintf(mark, sizeof(mark), "%d-%lld", (int)getpid(), (long long)mono_ns());
	fds_before = count_fds();
	mounts_before = count_mounts();
}

static void teardown(void)
{
	char cmd[PATH_MAX + 32];

	ck_assert_int_eq(count_marked(NULL), 0);
	ck_assert_int_eq(count_fds(), fds_before);
	ck_assert_int_eq(count_mounts(), mounts_before);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", data_dir);
	ck_assert_int_eq(system(cmd), 0);
}

struct env {
	struct logstore *logs;
	struct provider *p;
};

static void env_start(struct env *e, bool with_logs)
{
	struct provider_opts o = { 0 };
	char path[PATH_MAX + 8];
	struct buf why;
	int rc;

	memset(e, 0, sizeof(*e));
	if (with_logs) {
		snprintf(path, sizeof(path), "%s/logs", data_dir);
		ck_assert_int_eq(logstore_new(path, 0, &e->logs), 0);
	}
	o.data_dir = data_dir;
	o.watchdog_path = watchdog;
	o.logs = e->logs;
	buf_init(&why, 1024);
	rc = provider_process_new(&o, &e->p, &why);
	ck_assert_msg(rc == 0, "provider_process_new: %s", buf_cstr(&why));
	buf_release(&why);
}

static void env_stop(struct env *e)
{
	e->p->ops->free(e->p);
	logstore_free(e->logs);
}

/* A deployment: envVars holds the marker plus extra pairs. */
struct deploy {
	struct wire_deploy d;
	struct wire_kv kv[8];
	char mark_value[64];
};

static void deploy_init(struct deploy *dp, const char *name, const char *env_process,
			const char *const *pairs)
{
	size_t n = 0;

	memset(dp, 0, sizeof(*dp));
	dp->d.service = (char *)name;
	dp->d.image = (char *)"example/image:latest";
	dp->d.env_process = (char *)env_process;
	snprintf(dp->mark_value, sizeof(dp->mark_value), "%s", mark);
	dp->kv[n].key = (char *)"CFAAS_TEST_MARK";
	dp->kv[n++].value = dp->mark_value;
	for (; pairs && pairs[0] && n < 8; pairs += 2, n++) {
		dp->kv[n].key = (char *)pairs[0];
		dp->kv[n].value = (char *)pairs[1];
	}
	dp->d.env_vars.items = dp->kv;
	dp->d.env_vars.n = n;
}

static int apply(struct env *e, const struct deploy *dp, unsigned replicas,
		 const char *bundle, const struct prov_secret *secrets, size_t nsecrets,
		 struct buf *why)
{
	struct prov_spec spec = { 0 };

	spec.name = dp->d.service;
	spec.namespace = "openfaas-fn";
	spec.deploy = &dp->d;
	spec.replicas = replicas;
	spec.bundle_dir = bundle;
	spec.secrets = secrets;
	spec.nsecrets = nsecrets;
	return e->p->ops->apply(e->p, &spec, why);
}

static void apply_ok(struct env *e, const struct deploy *dp, unsigned replicas,
		     const char *bundle, const struct prov_secret *secrets, size_t nsecrets)
{
	struct buf why;
	int rc;

	buf_init(&why, 1024);
	rc = apply(e, dp, replicas, bundle, secrets, nsecrets, &why);
	ck_assert_msg(rc == 0, "apply: %s (%s)", err_str(rc), buf_cstr(&why));
	buf_release(&why);
}

static struct prov_status status(struct env *e, const char *name)
{
	struct prov_status st;

	ck_assert_int_eq(e->p->ops->status(e->p, "openfaas-fn", name, &st), 0);
	return st;
}

/* Waits until name has want available replicas; returns the ms it took. */
static int64_t wait_available(struct env *e, const char *name, unsigned want, int ms)
{
	int64_t t0 = mono_ms(), deadline = t0 + ms;

	while (status(e, name).available != want && mono_ms() < deadline)
		sleep_ms(2);
	ck_assert_uint_eq(status(e, name).available, want);
	return mono_ms() - t0;
}

/* POSTs body to the replica and reads the whole answer. Returns the status. */
static int post(const struct prov_replica *r, const char *path, const char *body,
		struct buf *out)
{
	int64_t deadline = mono_ms() + 10000;
	struct http_head h;
	struct http_body b;
	struct rbuf *rb = malloc(sizeof(*rb));
	struct buf req;
	char chunk[4096];
	ssize_t n;
	int fd, rc, st;

	ck_assert_ptr_nonnull(rb);
	fd = net_connect(r->host, r->port, deadline);
	ck_assert_msg(fd >= 0, "connect to %s:%d: %s", r->host, r->port, err_str(fd));
	buf_init(&req, 64 * 1024);
	buf_printf(&req, "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n%s", path, r->host, r->port, strlen(body), body);
	ck_assert_int_eq(net_write_all(fd, req.data, req.len, deadline), 0);
	buf_release(&req);
	rbuf_init(rb, fd);
	for (;;) {
		rc = http_head_parse(&h, rb->data + rb->start, rbuf_avail(rb), false);
		if (rc)
			break;
		ck_assert_int_gt(rbuf_fill(rb, false, deadline), 0);
	}
	ck_assert_int_gt(rc, 0);
	rb->start += (size_t)rc;
	http_body_init(&b, &h, rb, true, 1u << 20, deadline);
	while ((n = http_body_read(&b, chunk, sizeof(chunk), false)) > 0)
		ck_assert_int_eq(buf_add(out, chunk, (size_t)n), 0);
	ck_assert_int_eq(n, 0);
	st = h.status;
	http_head_release(&h);
	close(fd);
	free(rb);
	return st;
}

/* Acquires a replica of name, POSTs and releases it. */
static int call(struct env *e, const char *name, const char *path, const char *body,
		struct buf *out)
{
	struct prov_replica r;
	int rc, st;

	rc = e->p->ops->acquire(e->p, "openfaas-fn", name, mono_ms() + 10000, &r);
	ck_assert_msg(rc == 0, "acquire %s: %s", name, err_str(rc));
	st = post(&r, path, body, out);
	e->p->ops->release(e->p, &r, false);
	return st;
}

struct log_find {
	const char *needle;
	int hits;
	char instance[96];
};

static int log_find_cb(void *ctx, const struct logstore_entry *en)
{
	struct log_find *f = ctx;

	if (memmem(en->text, en->len, f->needle, strlen(f->needle))) {
		f->hits++;
		snprintf(f->instance, sizeof(f->instance), "%s", en->instance);
	}
	return 0;
}

static int log_hits(struct env *e, const char *name, const char *needle, char *instance)
{
	struct log_find f = { .needle = needle };

	ck_assert_int_eq(logstore_read(e->logs, "openfaas-fn", name, NULL, log_find_cb, &f, NULL), 0);
	if (instance)
		snprintf(instance, 96, "%s", f.instance);
	return f.hits;
}

START_TEST(test_deploy_scale_remove)
{
	struct env e;
	struct deploy dp;
	struct prov_replica r[3];
	struct buf out, info;
	char path[PATH_MAX + 64], instance[96];
	int64_t took, deadline;
	int i;

	env_start(&e, true);
	buf_init(&info, 4096);
	e.p->ops->info(e.p, &info);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&info), "\"provider\":\"process\""));
	fprintf(stderr, "provider info: %s\n", buf_cstr(&info));
	buf_release(&info);

	deploy_init(&dp, "echo", "cat", NULL);
	apply_ok(&e, &dp, 1, NULL, NULL, 0);
	ck_assert_uint_eq(status(&e, "echo").desired, 1);
	took = wait_available(&e, "echo", 1, 5000);
	fprintf(stderr, "first replica ready after %lld ms\n", (long long)took);

	buf_init(&out, 1 << 20);
	ck_assert_int_eq(call(&e, "echo", "/", "hello, cat", &out), 200);
	ck_assert_str_eq(buf_cstr(&out), "hello, cat");

	/* Three replicas on three ports; least in flight spreads them. */
	ck_assert_int_eq(e.p->ops->scale(e.p, "openfaas-fn", "echo", 3), 0);
	wait_available(&e, "echo", 3, 5000);
	ck_assert_int_eq(count_marked(NULL), 3);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(e.p->ops->acquire(e.p, "openfaas-fn", "echo", mono_ms(), &r[i]), 0);
	ck_assert_int_ne(r[0].port, r[1].port);
	ck_assert_int_ne(r[1].port, r[2].port);
	ck_assert_int_ne(r[0].port, r[2].port);
	for (i = 0; i < 3; i++) {
		buf_reset(&out);
		ck_assert_int_eq(post(&r[i], "/", "x", &out), 200);
		e.p->ops->release(e.p, &r[i], false);
	}

	/* The watchdog's output reached the log store, tagged by instance. */
	deadline = mono_ms() + 3000;
	while (log_hits(&e, "echo", "Forking fprocess", NULL) < 4 && mono_ms() < deadline)
		sleep_ms(10);
	ck_assert_int_ge(log_hits(&e, "echo", "Forking fprocess", instance), 4);
	ck_assert_int_eq(strncmp(instance, "echo-", 5), 0);

	/* Down to zero: nothing left running. */
	ck_assert_int_eq(e.p->ops->scale(e.p, "openfaas-fn", "echo", 0), 0);
	wait_available(&e, "echo", 0, 5000);
	ck_assert_uint_eq(status(&e, "echo").desired, 0);
	wait_marked(0, 5000);
	ck_assert_int_eq(e.p->ops->acquire(e.p, "openfaas-fn", "echo", mono_ms() + 30, &r[0]),
			 -ERR_UNAVAILABLE);

	/* And back from zero, the way the gateway does it. */
	took = mono_ms();
	ck_assert_int_eq(e.p->ops->scale(e.p, "openfaas-fn", "echo", 1), 0);
	ck_assert_int_eq(e.p->ops->acquire(e.p, "openfaas-fn", "echo", mono_ms() + 5000, &r[0]), 0);
	took = mono_ms() - took;
	fprintf(stderr, "scale from zero: ready after %lld ms\n", (long long)took);
	ck_assert_int_lt(took, 2000);
	buf_reset(&out);
	ck_assert_int_eq(post(&r[0], "/", "again", &out), 200);
	ck_assert_str_eq(buf_cstr(&out), "again");
	e.p->ops->release(e.p, &r[0], false);

	/* Remove: returns once nothing runs, and takes dirs and logs along. */
	ck_assert_int_eq(e.p->ops->remove(e.p, "openfaas-fn", "echo"), 0);
	ck_assert_int_eq(count_marked(NULL), 0);
	snprintf(path, sizeof(path), "%s/replicas/openfaas-fn/echo", data_dir);
	ck_assert(!exists(path));
	ck_assert_int_eq(log_hits(&e, "echo", "Forking", NULL), 0);
	{
		struct prov_status st;

		ck_assert_int_eq(e.p->ops->status(e.p, "openfaas-fn", "echo", &st), -ERR_NOT_FOUND);
		ck_assert_int_eq(e.p->ops->scale(e.p, "openfaas-fn", "echo", 1), -ERR_NOT_FOUND);
		ck_assert_int_eq(e.p->ops->remove(e.p, "openfaas-fn", "echo"), -ERR_NOT_FOUND);
		ck_assert_int_eq(e.p->ops->acquire(e.p, "openfaas-fn", "echo", 0, &r[0]),
				 -ERR_NOT_FOUND);
	}
	buf_release(&out);
	env_stop(&e);
}
END_TEST

START_TEST(test_restart_after_kill)
{
	struct env e;
	struct deploy dp;
	struct buf out;
	pid_t pid = 0, pid2 = 0;
	int64_t t0;

	env_start(&e, false);
	deploy_init(&dp, "phoenix", "cat", NULL);
	apply_ok(&e, &dp, 1, NULL, NULL, 0);
	wait_available(&e, "phoenix", 1, 5000);
	ck_assert_int_eq(count_marked(&pid), 1);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	t0 = mono_ms();
	wait_available(&e, "phoenix", 0, 2000);
	wait_available(&e, "phoenix", 1, 5000);
	fprintf(stderr, "restarted after SIGKILL in %lld ms\n", (long long)(mono_ms() - t0));
	ck_assert_int_eq(count_marked(&pid2), 1);
	ck_assert_int_ne(pid, pid2);
	buf_init(&out, 1 << 20);
	ck_assert_int_eq(call(&e, "phoenix", "/", "back", &out), 200);
	ck_assert_str_eq(buf_cstr(&out), "back");
	buf_release(&out);
	/* free() drains what is left. */
	env_stop(&e);
}
END_TEST

static void write_file(const char *dir, const char *name, const char *text, mode_t mode)
{
	char path[PATH_MAX + 64];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static const char handler_sh[] =
	"case \"$Http_Path\" in\n"
	"/secret) cat \"$secret_mount_path/api-key\" ;;\n"
	"/mode) stat -c %a \"$secret_mount_path/api-key\" ;;\n"
	"/list) ls \"$secret_mount_path\" ;;\n"
	"/file) cat sub/dir/file.txt; cat link.txt ;;\n"
	"/uid) id -u ;;\n"
	"/datadir) if ls \"$DATA_DIR\" >/dev/null 2>&1; then echo readable; else echo hidden; fi ;;\n"
	"/tmp) echo x > \"$TMPDIR/t\" && echo writable ;;\n"
	"/cwd) echo x > made-here && echo writable ;;\n"
	"/version) echo \"v$VERSION\" ;;\n"
	"/slow) sleep 1; echo \"slow-v$VERSION\" ;;\n"
	"*) echo unknown ;;\n"
	"esac\n";

static void make_bundle(char *bundle, size_t cap)
{
	char sub[PATH_MAX + 64], link[PATH_MAX + 64];

	snprintf(bundle, cap, "%s/bundle", data_dir);
	ck_assert_int_eq(mkdir(bundle, 0755), 0);
	write_file(bundle, "fprocess", "sh handler.sh\n", 0644);
	write_file(bundle, "handler.sh", handler_sh, 0755);
	snprintf(sub, sizeof(sub), "%s/sub", bundle);
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	snprintf(sub, sizeof(sub), "%s/sub/dir", bundle);
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	write_file(sub, "file.txt", "nested\n", 0644);
	snprintf(link, sizeof(link), "%s/link.txt", bundle);
	ck_assert_int_eq(symlink("sub/dir/file.txt", link), 0);
}

static void expect(struct env *e, const char *name, const char *path, const char *want)
{
	struct buf out;

	buf_init(&out, 1 << 20);
	ck_assert_int_eq(call(e, name, path, "", &out), 200);
	ck_assert_msg(out.len == strlen(want) && !memcmp(out.data, want, out.len),
		      "%s: got '%s', want '%s'", path, buf_cstr(&out), want);
	buf_release(&out);
}

START_TEST(test_secrets_and_bundle)
{
	static const char key[] = "s3cr\0t\n";
	const char *pairs[] = { "DATA_DIR", data_dir, NULL };
	struct prov_secret secrets[2] = {
		{ "api-key", key, sizeof(key) - 1 },
		{ "other", "x", 1 },
	};
	char bundle[PATH_MAX];
	struct env e;
	struct deploy dp;
	struct buf out, info;

	env_start(&e, true);
	make_bundle(bundle, sizeof(bundle));
	deploy_init(&dp, "vault", NULL, pairs);
	apply_ok(&e, &dp, 1, bundle, secrets, 2);
	wait_available(&e, "vault", 1, 5000);
	buf_init(&out, 1 << 20);
	ck_assert_int_eq(call(&e, "vault", "/secret", "", &out), 200);
	ck_assert_uint_eq(out.len, sizeof(key) - 1);
	ck_assert_int_eq(memcmp(out.data, key, out.len), 0);
	buf_release(&out);
	expect(&e, "vault", "/mode", "400\n");
	expect(&e, "vault", "/list", "api-key\nother\n");
	expect(&e, "vault", "/file", "nested\nnested\n");
	expect(&e, "vault", "/tmp", "writable\n");
	expect(&e, "vault", "/cwd", "writable\n");
	buf_init(&info, 4096);
	e.p->ops->info(e.p, &info);
	if (geteuid() == 0) {
		struct passwd *pw = getpwnam("nobody");
		char uid[32];

		ck_assert_ptr_nonnull(pw);
		snprintf(uid, sizeof(uid), "%u\n", (unsigned)pw->pw_uid);
		expect(&e, "vault", "/uid", uid);
		if (strstr(buf_cstr(&info), "mount-namespace")) {
			expect(&e, "vault", "/datadir", "hidden\n");
		} else {
			fprintf(stderr, "no mount namespaces here: %s\n", buf_cstr(&info));
		}
	}
	buf_release(&info);
	ck_assert_int_eq(e.p->ops->remove(e.p, "openfaas-fn", "vault"), 0);
	env_stop(&e);
}
END_TEST

struct slow_call {
	struct env *e;
	struct prov_replica r;
	int status;
	struct buf out;
};

static void *slow_thread(void *arg)
{
	struct slow_call *s = arg;

	s->status = post(&s->r, "/slow", "", &s->out);
	s->e->p->ops->release(s->e->p, &s->r, false);
	return NULL;
}

START_TEST(test_update_drains)
{
	const char *v1[] = { "VERSION", "1", NULL };
	const char *v2[] = { "VERSION", "2", NULL };
	char bundle[PATH_MAX];
	struct slow_call s = { 0 };
	struct deploy dp;
	struct env e;
	pthread_t t;
	int64_t t0;

	env_start(&e, false);
	make_bundle(bundle, sizeof(bundle));
	deploy_init(&dp, "rolling", NULL, v1);
	apply_ok(&e, &dp, 1, bundle, NULL, 0);
	wait_available(&e, "rolling", 1, 5000);
	expect(&e, "rolling", "/version", "v1\n");

	/* A call in flight on the old replica while the update happens. */
	s.e = &e;
	buf_init(&s.out, 4096);
	ck_assert_int_eq(e.p->ops->acquire(e.p, "openfaas-fn", "rolling", mono_ms() + 1000, &s.r), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, slow_thread, &s), 0);
	sleep_ms(100);
	deploy_init(&dp, "rolling", NULL, v2);
	t0 = mono_ms();
	apply_ok(&e, &dp, 1, bundle, NULL, 0);
	fprintf(stderr, "update applied in %lld ms\n", (long long)(mono_ms() - t0));
	/* apply() returned with the new generation ready and the old draining. */
	{
		struct prov_replica now;
		struct buf out;

		buf_init(&out, 4096);
		ck_assert_int_eq(e.p->ops->acquire(e.p, "openfaas-fn", "rolling", mono_ms(), &now), 0);
		ck_assert_int_ne(now.port, s.r.port);
		ck_assert_int_eq(post(&now, "/version", "", &out), 200);
		ck_assert_str_eq(buf_cstr(&out), "v2\n");
		e.p->ops->release(e.p, &now, false);
		buf_release(&out);
	}
	pthread_join(t, NULL);
	ck_assert_int_eq(s.status, 200);
	ck_assert_str_eq(buf_cstr(&s.out), "slow-v1\n");
	buf_release(&s.out);
	/* The old replica goes once its call is done. */
	wait_marked(1, 5000);
	expect(&e, "rolling", "/version", "v2\n");
	ck_assert_uint_eq(status(&e, "rolling").available, 1);
	env_stop(&e);
}
END_TEST

START_TEST(test_invalid_and_unknown)
{
	const char *bad[] = { "write_timeout", "soon", NULL };
	struct env e;
	struct deploy dp;
	struct buf why;
	struct prov_status st;
	struct prov_replica r;
	struct provider_opts o = { 0 };
	struct provider *p = NULL;

	env_start(&e, false);
	buf_init(&why, 1024);
	deploy_init(&dp, "nofp", NULL, NULL);
	ck_assert_int_eq(apply(&e, &dp, 1, NULL, NULL, 0, &why), -ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&why), "envProcess is required"));
	buf_reset(&why);
	deploy_init(&dp, "badwt", "cat", bad);
	ck_assert_int_eq(apply(&e, &dp, 1, NULL, NULL, 0, &why), -ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&why), "write_timeout"));
	ck_assert_int_eq(e.p->ops->status(e.p, "openfaas-fn", "nofp", &st), -ERR_NOT_FOUND);
	ck_assert_int_eq(e.p->ops->scale(e.p, "openfaas-fn", "nope", 2), -ERR_NOT_FOUND);
	ck_assert_int_eq(e.p->ops->remove(e.p, "openfaas-fn", "nope"), -ERR_NOT_FOUND);
	ck_assert_int_eq(e.p->ops->acquire(e.p, "openfaas-fn", "nope", mono_ms() + 10, &r),
			 -ERR_NOT_FOUND);
	env_stop(&e);

	buf_reset(&why);
	o.data_dir = data_dir;
	o.watchdog_path = "/nonexistent/cfaas-watchdog";
	ck_assert_int_ne(provider_process_new(&o, &p, &why), 0);
	ck_assert_ptr_null(p);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&why), "/nonexistent/cfaas-watchdog"));
	if (geteuid() == 0) {
		buf_reset(&why);
		o.watchdog_path = watchdog;
		o.run_as = "no-such-user-here";
		ck_assert_int_eq(provider_process_new(&o, &p, &why), -ERR_INVALID);
		ck_assert_ptr_nonnull(strstr(buf_cstr(&why), "no-such-user-here"));
	}
	buf_release(&why);
}
END_TEST

START_TEST(test_free_stops_everything)
{
	struct env e;
	struct deploy a, b;
	char path[PATH_MAX + 32];

	env_start(&e, true);
	deploy_init(&a, "alpha", "cat", NULL);
	deploy_init(&b, "beta", "cat", NULL);
	apply_ok(&e, &a, 2, NULL, NULL, 0);
	apply_ok(&e, &b, 2, NULL, NULL, 0);
	wait_available(&e, "alpha", 2, 5000);
	wait_available(&e, "beta", 2, 5000);
	ck_assert_int_eq(count_marked(NULL), 4);
	env_stop(&e);
	ck_assert_int_eq(count_marked(NULL), 0);
	snprintf(path, sizeof(path), "%s/replicas/openfaas-fn/alpha", data_dir);
	ck_assert(!exists(path));
}
END_TEST

/* A gateway killed with SIGKILL leaves no replica behind. */
START_TEST(test_gateway_killed)
{
	struct pollfd pf;
	int pipefd[2], status;
	pid_t child;
	char c = 0;

	ck_assert_int_eq(pipe(pipefd), 0);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		struct provider_opts o = { 0 };
		struct provider *p;
		struct prov_status st = { 0 };
		struct deploy dp;
		struct buf why;
		struct prov_spec spec = { 0 };

		close(pipefd[0]);
		buf_init(&why, 1024);
		o.data_dir = data_dir;
		o.watchdog_path = watchdog;
		if (provider_process_new(&o, &p, &why))
			_exit(1);
		deploy_init(&dp, "orphan", "cat", NULL);
		spec.name = "orphan";
		spec.namespace = "openfaas-fn";
		spec.deploy = &dp.d;
		spec.replicas = 2;
		if (p->ops->apply(p, &spec, &why))
			_exit(1);
		while (st.available < 2) {
			sleep_ms(5);
			p->ops->status(p, "openfaas-fn", "orphan", &st);
		}
		(void)!write(pipefd[1], "r", 1);
		for (;;)
			pause();
	}
	close(pipefd[1]);
	pf.fd = pipefd[0];
	pf.events = POLLIN;
	ck_assert_int_eq(poll(&pf, 1, 10000), 1);
	ck_assert_int_eq(read(pipefd[0], &c, 1), 1);
	close(pipefd[0]);
	ck_assert_int_eq(count_marked(NULL), 2);
	kill(child, SIGKILL);
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	wait_marked(0, 3000);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("provider_process");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	signal(SIGPIPE, SIG_IGN);
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_deploy_scale_remove);
	tcase_add_test(tc, test_restart_after_kill);
	tcase_add_test(tc, test_secrets_and_bundle);
	tcase_add_test(tc, test_update_drains);
	tcase_add_test(tc, test_invalid_and_unknown);
	tcase_add_test(tc, test_free_stops_everything);
	tcase_add_test(tc, test_gateway_killed);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
