#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
/* Both the gateway and the watchdog have a config.h: name this one. */
#include "../../gateway/config.h"

#define MAX_ARGS 8

/* The fake environment: "NAME=value" strings, NULL-terminated. */
static const char *const *fake_env;

static const char *fake_getenv(const char *name)
{
	size_t n = strlen(name), i;

	for (i = 0; fake_env && fake_env[i]; i++)
		if (strncmp(fake_env[i], name, n) == 0 && fake_env[i][n] == '=')
			return fake_env[i] + n + 1;
	return NULL;
}

/* Loads with "cfaas-gateway" and args (NULL-terminated) in a fresh,
 * writable argv (getopt permutes it). */
static int load(struct gw_config *c, const char *const *args, const char *const *env,
		struct buf *why)
{
	static char store[MAX_ARGS][4096];
	char *argv[MAX_ARGS + 1];
	int argc = 0;

	snprintf(store[0], sizeof(store[0]), "cfaas-gateway");
	argv[argc] = store[argc];
	argc++;
	for (; args && *args && argc < MAX_ARGS; args++, argc++) {
		snprintf(store[argc], sizeof(store[argc]), "%s", *args);
		argv[argc] = store[argc];
	}
	argv[argc] = NULL;
	fake_env = env;
	return gw_config_load(c, argc, argv, fake_getenv, why);
}

START_TEST(test_defaults)
{
	struct gw_config c;
	struct buf why;
	char self[1024];
	ssize_t n;

	buf_init(&why, 1024);
	ck_assert_int_eq(load(&c, NULL, NULL, &why), 0);
	ck_assert_str_eq(buf_cstr(&why), "");
	ck_assert_int_eq(c.port, 8080);
	ck_assert_str_eq(c.bind, "0.0.0.0");
	ck_assert_str_eq(c.data_dir, "./cfaas-data");
	ck_assert_str_eq(c.provider, "process");
	ck_assert_str_eq(c.run_as, "nobody");
	ck_assert_str_eq(c.docker_socket, "/var/run/docker.sock");
	ck_assert_str_eq(c.nats_url, "");
	ck_assert(c.queue_worker);
	ck_assert(c.auth);
	ck_assert(!c.debug);
	ck_assert_int_eq(c.read_timeout_ms, 30000);
	ck_assert_int_eq(c.write_timeout_ms, 60000);
	ck_assert_int_eq(c.upstream_timeout_ms, 60000);
	ck_assert_int_eq(c.scale_wait_ms, 30000);
	ck_assert_uint_eq(c.max_body, 16u << 20);
	ck_assert_uint_eq(c.max_async_body, 1u << 20);
	/* The watchdog beside this binary. */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	ck_assert_int_gt(n, 0);
	self[n] = '\0';
	*strrchr(self, '/') = '\0';
	ck_assert_uint_eq(strncmp(c.watchdog, self, strlen(self)), 0);
	ck_assert_str_eq(c.watchdog + strlen(self), "/cfaas-watchdog");
	buf_release(&why);
}
END_TEST

enum field {
	G_PORT, G_BIND, G_DATA, G_PROVIDER, G_RUNAS, G_WATCHDOG, G_DOCKER, G_NATS, G_QW,
	G_AUTH, G_READ, G_WRITE, G_UPSTREAM, G_SCALE, G_MAXBODY, G_MAXASYNC, G_DEBUG,
};

static const struct {
	const char *args[MAX_ARGS];
	const char *env[4];
	enum field field;
	int64_t num;
	const char *str;
} values[] = {
	{ { NULL }, { "CFAAS_PORT=9000" }, G_PORT, 9000, NULL },
	{ { "--port", "9100" }, { NULL }, G_PORT, 9100, NULL },
	{ { "--port=9200" }, { NULL }, G_PORT, 9200, NULL },
	/* Flags beat the environment. */
	{ { "--port", "9100" }, { "CFAAS_PORT=9000" }, G_PORT, 9100, NULL },
	{ { NULL }, { "CFAAS_PORT=" }, G_PORT, 8080, NULL },
	{ { "--bind", "127.0.0.1" }, { NULL }, G_BIND, 0, "127.0.0.1" },
	{ { NULL }, { "CFAAS_BIND=::1" }, G_BIND, 0, "::1" },
	{ { "--data-dir", "/var/lib/cfaas" }, { "CFAAS_DATA_DIR=/srv" }, G_DATA, 0,
	  "/var/lib/cfaas" },
	{ { NULL }, { "CFAAS_DATA_DIR=/srv" }, G_DATA, 0, "/srv" },
	{ { "--provider", "docker" }, { NULL }, G_PROVIDER, 0, "docker" },
	{ { NULL }, { "CFAAS_PROVIDER=docker" }, G_PROVIDER, 0, "docker" },
	{ { "--provider=process" }, { "CFAAS_PROVIDER=docker" }, G_PROVIDER, 0, "process" },
	{ { "--run-as", "app" }, { NULL }, G_RUNAS, 0, "app" },
	{ { NULL }, { "CFAAS_RUN_AS=fn" }, G_RUNAS, 0, "fn" },
	{ { "--watchdog", "/opt/wd" }, { "CFAAS_WATCHDOG=/x" }, G_WATCHDOG, 0, "/opt/wd" },
	{ { NULL }, { "CFAAS_WATCHDOG=/x" }, G_WATCHDOG, 0, "/x" },
	{ { "--docker-socket", "/run/podman.sock" }, { NULL }, G_DOCKER, 0, "/run/podman.sock" },
	{ { NULL }, { "CFAAS_DOCKER_SOCKET=/d.sock" }, G_DOCKER, 0, "/d.sock" },
	{ { "--nats-url", "nats://127.0.0.1:4222" }, { NULL }, G_NATS, 0,
	  "nats://127.0.0.1:4222" },
	{ { NULL }, { "CFAAS_NATS_URL=nats://n:4222" }, G_NATS, 0, "nats://n:4222" },
	{ { "--no-queue-worker" }, { NULL }, G_QW, 0, NULL },
	{ { "--no-queue-worker" }, { "CFAAS_QUEUE_WORKER=true" }, G_QW, 0, NULL },
	{ { NULL }, { "CFAAS_QUEUE_WORKER=false" }, G_QW, 0, NULL },
	{ { NULL }, { "CFAAS_QUEUE_WORKER=true" }, G_QW, 1, NULL },
	{ { "--no-auth" }, { NULL }, G_AUTH, 0, NULL },
	{ { NULL }, { "CFAAS_AUTH=false" }, G_AUTH, 0, NULL },
	{ { NULL }, { "CFAAS_AUTH=true" }, G_AUTH, 1, NULL },
	{ { NULL }, { "CFAAS_AUTH=" }, G_AUTH, 1, NULL },
	{ { "--read-timeout", "5s" }, { NULL }, G_READ, 5000, NULL },
	{ { NULL }, { "CFAAS_READ_TIMEOUT=10" }, G_READ, 10000, NULL },
	{ { "--read-timeout=750ms" }, { "CFAAS_READ_TIMEOUT=10" }, G_READ, 750, NULL },
	{ { "--write-timeout", "1m" }, { NULL }, G_WRITE, 60000, NULL },
	{ { NULL }, { "CFAAS_WRITE_TIMEOUT=2s" }, G_WRITE, 2000, NULL },
	{ { "--upstream-timeout", "2m" }, { NULL }, G_UPSTREAM, 120000, NULL },
	{ { NULL }, { "CFAAS_UPSTREAM_TIMEOUT=90s" }, G_UPSTREAM, 90000, NULL },
	{ { "--scale-from-zero-timeout", "500ms" }, { NULL }, G_SCALE, 500, NULL },
	{ { NULL }, { "CFAAS_SCALE_FROM_ZERO_TIMEOUT=1m" }, G_SCALE, 60000, NULL },
	{ { "--max-body", "1Mi" }, { "CFAAS_MAX_BODY=32Mi" }, G_MAXBODY, 1 << 20, NULL },
	{ { NULL }, { "CFAAS_MAX_BODY=32Mi" }, G_MAXBODY, 32 << 20, NULL },
	{ { "--max-async-body", "512Ki" }, { NULL }, G_MAXASYNC, 512 << 10, NULL },
	{ { NULL }, { "CFAAS_MAX_ASYNC_BODY=2000" }, G_MAXASYNC, 2000, NULL },
	{ { "--debug" }, { NULL }, G_DEBUG, 1, NULL },
	{ { NULL }, { "CFAAS_DEBUG=true" }, G_DEBUG, 1, NULL },
	{ { NULL }, { "CFAAS_DEBUG=1" }, G_DEBUG, 0, NULL },
	/* Several at once, in any order. */
	{ { "--debug", "--port", "1", "--no-auth", "--bind=127.0.0.1" }, { NULL }, G_PORT, 1,
	  NULL },
	{ { "--debug", "--port", "1", "--no-auth", "--bind=127.0.0.1" }, { NULL }, G_BIND, 0,
	  "127.0.0.1" },
};

static int64_t num_field(const struct gw_config *c, enum field f)
{
	switch (f) {
	case G_PORT: return c->port;
	case G_QW: return c->queue_worker;
	case G_AUTH: return c->auth;
	case G_READ: return c->read_timeout_ms;
	case G_WRITE: return c->write_timeout_ms;
	case G_UPSTREAM: return c->upstream_timeout_ms;
	case G_SCALE: return c->scale_wait_ms;
	case G_MAXBODY: return (int64_t)c->max_body;
	case G_MAXASYNC: return (int64_t)c->max_async_body;
	case G_DEBUG: return c->debug;
	default: return -1;
	}
}

static const char *str_field(const struct gw_config *c, enum field f)
{
	switch (f) {
	case G_BIND: return c->bind;
	case G_DATA: return c->data_dir;
	case G_PROVIDER: return c->provider;
	case G_RUNAS: return c->run_as;
	case G_WATCHDOG: return c->watchdog;
	case G_DOCKER: return c->docker_socket;
	case G_NATS: return c->nats_url;
	default: return NULL;
	}
}

START_TEST(test_values)
{
	struct gw_config c;
	struct buf why;
	const char *what = values[_i].args[0] ? values[_i].args[0] : values[_i].env[0];

	buf_init(&why, 1024);
	ck_assert_msg(load(&c, values[_i].args, values[_i].env, &why) == 0, "%s: %s", what,
		      buf_cstr(&why));
	if (values[_i].str)
		ck_assert_msg(strcmp(str_field(&c, values[_i].field), values[_i].str) == 0,
			      "%s: got '%s'", what, str_field(&c, values[_i].field));
	else
		ck_assert_msg(num_field(&c, values[_i].field) == values[_i].num, "%s: got %lld",
			      what, (long long)num_field(&c, values[_i].field));
	buf_release(&why);
}
END_TEST

/* Bad values: -ERR_INVALID and a one-line why that names the source. */
static const struct {
	const char *args[MAX_ARGS];
	const char *env[4];
	const char *name;
} bad[] = {
	{ { "--port", "70000" }, { NULL }, "--port" },
	{ { "--port", "abc" }, { NULL }, "--port" },
	{ { "--port=-1" }, { NULL }, "--port" },
	{ { NULL }, { "CFAAS_PORT=abc" }, "CFAAS_PORT" },
	{ { NULL }, { "CFAAS_PORT=70000" }, "CFAAS_PORT" },
	/* A bad variable fails even when a flag would override it. */
	{ { "--port", "80" }, { "CFAAS_PORT=abc" }, "CFAAS_PORT" },
	{ { "--read-timeout", "5x" }, { NULL }, "--read-timeout" },
	{ { NULL }, { "CFAAS_WRITE_TIMEOUT=bad" }, "CFAAS_WRITE_TIMEOUT" },
	{ { "--upstream-timeout", "-1s" }, { NULL }, "--upstream-timeout" },
	{ { "--scale-from-zero-timeout", "x" }, { NULL }, "--scale-from-zero-timeout" },
	{ { NULL }, { "CFAAS_READ_TIMEOUT=1h1x" }, "CFAAS_READ_TIMEOUT" },
	{ { "--max-body", "0" }, { NULL }, "--max-body" },
	{ { "--max-body", "12X" }, { NULL }, "--max-body" },
	{ { NULL }, { "CFAAS_MAX_ASYNC_BODY=huge" }, "CFAAS_MAX_ASYNC_BODY" },
	{ { NULL }, { "CFAAS_MAX_BODY=0" }, "CFAAS_MAX_BODY" },
	{ { "--provider", "kubernetes" }, { NULL }, "--provider" },
	{ { "--provider", "" }, { NULL }, "--provider" },
	/* The message names the flag; the variable carries the same name. */
	{ { NULL }, { "CFAAS_PROVIDER=kube" }, "provider" },
	{ { "--bogus" }, { NULL }, "--bogus" },
	{ { "--port" }, { NULL }, "--port" },
	{ { "--debug=yes" }, { NULL }, "--debug=yes" },
	{ { "-x" }, { NULL }, "-x" },
	{ { "serve" }, { NULL }, "serve" },
	{ { "--port", "1", "extra" }, { NULL }, "extra" },
};

START_TEST(test_bad)
{
	struct gw_config c;
	struct buf why;
	const char *what = bad[_i].args[0] ? bad[_i].args[0] : bad[_i].env[0];

	buf_init(&why, 1024);
	ck_assert_msg(load(&c, bad[_i].args, bad[_i].env, &why) == -ERR_INVALID, "%s accepted",
		      what);
	ck_assert_msg(strstr(buf_cstr(&why), bad[_i].name) != NULL, "%s: why '%s' lacks '%s'",
		      what, buf_cstr(&why), bad[_i].name);
	ck_assert_ptr_null(strchr(buf_cstr(&why), '\n'));
	buf_release(&why);
}
END_TEST

START_TEST(test_too_long)
{
	static char longval[3000], flagval[3000];
	const char *env[2] = { longval, NULL };
	const char *args[3] = { "--bind", flagval, NULL };
	struct gw_config c;
	struct buf why;

	memcpy(longval, "CFAAS_DATA_DIR=/", 16);
	memset(longval + 16, 'd', 2000);
	memset(flagval, 'b', 100);
	buf_init(&why, 1024);
	ck_assert_int_eq(load(&c, NULL, env, &why), -ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&why), "CFAAS_DATA_DIR"));
	buf_reset(&why);
	ck_assert_int_eq(load(&c, args, NULL, &why), -ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&why), "--bind"));
	/* One below the field size fits. */
	flagval[sizeof(c.bind) - 1] = '\0';
	buf_reset(&why);
	ck_assert_int_eq(load(&c, args, NULL, &why), 0);
	ck_assert_uint_eq(strlen(c.bind), sizeof(c.bind) - 1);
	buf_release(&why);
}
END_TEST

static const char *const help_args[][2] = {
	{ "--help", NULL }, { "--version", NULL }, { "-h", NULL }, { "-v", NULL },
};

START_TEST(test_help_version)
{
	struct gw_config c;
	struct buf why;

	/* Keep the usage text out of the test output. */
	ck_assert_ptr_nonnull(freopen("/dev/null", "w", stdout));
	buf_init(&why, 1024);
	ck_assert_int_eq(load(&c, help_args[_i], NULL, &why), 1);
	ck_assert_str_eq(buf_cstr(&why), "");
	buf_release(&why);
	ck_assert_ptr_nonnull(strstr(gw_config_usage, "--max-async-body"));
}
END_TEST

#define N(a) (int)(sizeof(a) / sizeof((a)[0]))

int main(void)
{
	Suite *s = suite_create("gw_config");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_defaults);
	tcase_add_loop_test(tc, test_values, 0, N(values));
	tcase_add_loop_test(tc, test_bad, 0, N(bad));
	tcase_add_test(tc, test_too_long);
	tcase_add_loop_test(tc, test_help_version, 0, N(help_args));
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
