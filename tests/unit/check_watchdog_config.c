#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
/* Both the gateway and the watchdog have a config.h: name this one. */
#include "../../watchdog/config.h"

/* The fake environment: "name=value" strings, NULL-terminated. */
static const char *const *fake_env;

static const char *fake_getenv(const char *name)
{
	size_t n = strlen(name), i;

	for (i = 0; fake_env && fake_env[i]; i++)
		if (strncmp(fake_env[i], name, n) == 0 && fake_env[i][n] == '=')
			return fake_env[i] + n + 1;
	return NULL;
}

START_TEST(test_defaults)
{
	static const char *const env[] = { "fprocess=cat", NULL };
	struct wd_config c;
	struct buf why;

	fake_env = env;
	buf_init(&why, 1024);
	ck_assert_int_eq(wd_config_load(&c, fake_getenv, &why), 0);
	ck_assert_str_eq(buf_cstr(&why), "");
	ck_assert_str_eq(c.fprocess, "cat");
	ck_assert_str_eq(c.argv[0], "cat");
	ck_assert_ptr_null(c.argv[1]);
	ck_assert_int_eq(c.port, 8080);
	ck_assert_str_eq(c.bind_address, "0.0.0.0");
	ck_assert_int_eq(c.read_timeout_ms, 30000);
	ck_assert_int_eq(c.write_timeout_ms, 30000);
	ck_assert_int_eq(c.exec_timeout_ms, 0);
	ck_assert_int_eq(c.healthcheck_interval_ms, 30000);
	ck_assert_uint_eq(c.max_inflight, 0);
	ck_assert(c.combine_output);
	ck_assert(c.cgi_headers);
	ck_assert(!c.marshal_request);
	ck_assert(!c.write_debug);
	ck_assert(!c.suppress_lock);
	ck_assert_ptr_null(c.content_type);
	ck_assert_uint_eq(c.max_request_size, 64ull << 20);
	ck_assert_uint_eq(c.max_output_size, 64ull << 20);
	ck_assert_int_eq(c.mode, WD_MODE_FORK);
	ck_assert_str_eq(c.tmpdir, "/tmp");
	ck_assert_str_eq(c.lock_path, "/tmp/.lock");
	wd_config_release(&c);
	ck_assert_ptr_null(c.argv);
	wd_config_release(&c);
	buf_release(&why);
}
END_TEST

enum field {
	F_PORT, F_BIND, F_READ, F_WRITE, F_EXEC, F_HEALTH, F_INFLIGHT, F_COMBINE, F_CGI,
	F_MARSHAL, F_DEBUG, F_SUPPRESS, F_CTYPE, F_MAXREQ, F_MAXOUT, F_MODE, F_UPHOST,
	F_UPPORT, F_TMPDIR, F_LOCK, F_ARGV1,
};

/* One variable set (besides fprocess=cat) and the field it must change. */
static const struct {
	const char *env[4];
	enum field field;
	int64_t num;
	const char *str;
} values[] = {
	{ { "port=9000" }, F_PORT, 9000, NULL },
	{ { "port=0" }, F_PORT, 0, NULL },
	{ { "port=" }, F_PORT, 8080, NULL },
	{ { "bind_address=127.0.0.1" }, F_BIND, 0, "127.0.0.1" },
	{ { "bind_address=" }, F_BIND, 0, "0.0.0.0" },
	{ { "read_timeout=5" }, F_READ, 5000, NULL },
	{ { "read_timeout=500ms" }, F_READ, 500, NULL },
	{ { "write_timeout=1m5s" }, F_WRITE, 65000, NULL },
	{ { "exec_timeout=10s" }, F_EXEC, 10000, NULL },
	{ { "exec_timeout=0" }, F_EXEC, 0, NULL },
	{ { "healthcheck_interval=2s" }, F_HEALTH, 2000, NULL },
	{ { "write_timeout=7s" }, F_HEALTH, 7000, NULL },
	{ { "write_timeout=7s", "healthcheck_interval=1s" }, F_HEALTH, 1000, NULL },
	{ { "max_inflight=10" }, F_INFLIGHT, 10, NULL },
	{ { "max_inflight=0" }, F_INFLIGHT, 0, NULL },
	{ { "combine_output=false" }, F_COMBINE, 0, NULL },
	{ { "combine_output=true" }, F_COMBINE, 1, NULL },
	/* Only "true" is true. */
	{ { "combine_output=TRUE" }, F_COMBINE, 0, NULL },
	{ { "combine_output=1" }, F_COMBINE, 0, NULL },
	{ { "combine_output=" }, F_COMBINE, 1, NULL },
	{ { "cgi_headers=false" }, F_CGI, 0, NULL },
	{ { "marshal_request=true" }, F_MARSHAL, 1, NULL },
	{ { "marshal_request=yes" }, F_MARSHAL, 0, NULL },
	{ { "write_debug=true" }, F_DEBUG, 1, NULL },
	{ { "suppress_lock=true" }, F_SUPPRESS, 1, NULL },
	{ { "content_type=application/json" }, F_CTYPE, 0, "application/json" },
	{ { "max_request_size=1Mi" }, F_MAXREQ, 1 << 20, NULL },
	{ { "max_request_size=1000" }, F_MAXREQ, 1000, NULL },
	{ { "max_output_size=2Gi" }, F_MAXOUT, 2ll << 30, NULL },
	{ { "mode=fork" }, F_MODE, WD_MODE_FORK, NULL },
	{ { "mode=" }, F_MODE, WD_MODE_FORK, NULL },
	{ { "mode=http", "upstream_url=http://127.0.0.1:5000" }, F_MODE, WD_MODE_HTTP, NULL },
	{ { "mode=http", "upstream_url=http://127.0.0.1:5000" }, F_UPHOST, 0, "127.0.0.1" },
	{ { "mode=http", "upstream_url=http://localhost:8081/" }, F_UPPORT, 8081, NULL },
	/* upstream_url is not even looked at in fork mode. */
	{ { "upstream_url=nonsense" }, F_MODE, WD_MODE_FORK, NULL },
	{ { "TMPDIR=/var/tmp" }, F_TMPDIR, 0, "/var/tmp" },
	{ { "TMPDIR=/var/tmp" }, F_LOCK, 0, "/var/tmp/.lock" },
	{ { "TMPDIR=" }, F_LOCK, 0, "/tmp/.lock" },
};

static int64_t num_field(const struct wd_config *c, enum field f)
{
	switch (f) {
	case F_PORT: return c->port;
	case F_READ: return c->read_timeout_ms;
	case F_WRITE: return c->write_timeout_ms;
	case F_EXEC: return c->exec_timeout_ms;
	case F_HEALTH: return c->healthcheck_interval_ms;
	case F_INFLIGHT: return c->max_inflight;
	case F_COMBINE: return c->combine_output;
	case F_CGI: return c->cgi_headers;
	case F_MARSHAL: return c->marshal_request;
	case F_DEBUG: return c->write_debug;
	case F_SUPPRESS: return c->suppress_lock;
	case F_MAXREQ: return (int64_t)c->max_request_size;
	case F_MAXOUT: return (int64_t)c->max_output_size;
	case F_MODE: return c->mode;
	case F_UPPORT: return c->upstream_port;
	default: return -1;
	}
}

static const char *str_field(const struct wd_config *c, enum field f)
{
	switch (f) {
	case F_BIND: return c->bind_address;
	case F_CTYPE: return c->content_type;
	case F_UPHOST: return c->upstream_host;
	case F_TMPDIR: return c->tmpdir;
	case F_LOCK: return c->lock_path;
	case F_ARGV1: return c->argv[1];
	default: return NULL;
	}
}

START_TEST(test_values)
{
	const char *env[8] = { "fprocess=cat" };
	struct wd_config c;
	struct buf why;
	size_t i;

	for (i = 0; i < 4 && values[_i].env[i]; i++)
		env[i + 1] = values[_i].env[i];
	fake_env = env;
	buf_init(&why, 1024);
	ck_assert_msg(wd_config_load(&c, fake_getenv, &why) == 0, "%s: %s", values[_i].env[0],
		      buf_cstr(&why));
	if (values[_i].str) {
		const char *got = str_field(&c, values[_i].field);
		ck_assert_msg(got && strcmp(got, values[_i].str) == 0, "%s: got '%s'",
			      values[_i].env[0], got ? got : "(null)");
	} else {
		ck_assert_msg(num_field(&c, values[_i].field) == values[_i].num, "%s: got %lld",
			      values[_i].env[0], (long long)num_field(&c, values[_i].field));
	}
	wd_config_release(&c);
	buf_release(&why);
}
END_TEST

START_TEST(test_fprocess_split)
{
	static const char *const env[] = { "fprocess=  python3   index.py  --fast ", NULL };
	struct wd_config c;
	struct buf why;

	fake_env = env;
	buf_init(&why, 1024);
	ck_assert_int_eq(wd_config_load(&c, fake_getenv, &why), 0);
	ck_assert_str_eq(c.argv[0], "python3");
	ck_assert_str_eq(c.argv[1], "index.py");
	ck_assert_str_eq(c.argv[2], "--fast");
	ck_assert_ptr_null(c.argv[3]);
	wd_config_release(&c);
	buf_release(&why);
}
END_TEST

/* Bad values: -ERR_INVALID and one line that starts with the variable. */
static const struct {
	const char *env[4];
	const char *name;
} bad[] = {
	{ { NULL }, "fprocess" },
	{ { "fprocess=" }, "fprocess" },
	{ { "fprocess=    " }, "fprocess" },
	{ { "fprocess=cat", "port=70000" }, "port" },
	{ { "fprocess=cat", "port=abc" }, "port" },
	{ { "fprocess=cat", "port=-1" }, "port" },
	{ { "fprocess=cat", "port=80 " }, "port" },
	{ { "fprocess=cat", "read_timeout=abc" }, "read_timeout" },
	{ { "fprocess=cat", "write_timeout=10x" }, "write_timeout" },
	{ { "fprocess=cat", "exec_timeout=-1s" }, "exec_timeout" },
	{ { "fprocess=cat", "healthcheck_interval=soon" }, "healthcheck_interval" },
	{ { "fprocess=cat", "max_inflight=x" }, "max_inflight" },
	{ { "fprocess=cat", "max_inflight=2000000" }, "max_inflight" },
	{ { "fprocess=cat", "max_request_size=12X" }, "max_request_size" },
	{ { "fprocess=cat", "max_request_size=0" }, "max_request_size" },
	{ { "fprocess=cat", "max_output_size=lots" }, "max_output_size" },
	{ { "fprocess=cat", "mode=bogus" }, "mode" },
	{ { "fprocess=cat", "mode=HTTP" }, "mode" },
	{ { "fprocess=cat", "mode=http" }, "upstream_url" },
	{ { "fprocess=cat", "mode=http", "upstream_url=https://h:1" }, "upstream_url" },
	{ { "fprocess=cat", "mode=http", "upstream_url=http://h" }, "upstream_url" },
	{ { "fprocess=cat", "mode=http", "upstream_url=http://h:0" }, "upstream_url" },
	{ { "fprocess=cat", "mode=http", "upstream_url=http://h:1/x" }, "upstream_url" },
};

START_TEST(test_bad)
{
	const char *env[8] = { NULL };
	struct wd_config c;
	struct buf why;
	size_t i, n = strlen(bad[_i].name);
	const char *w;

	for (i = 0; i < 4 && bad[_i].env[i]; i++)
		env[i] = bad[_i].env[i];
	fake_env = env;
	buf_init(&why, 1024);
	ck_assert_int_eq(wd_config_load(&c, fake_getenv, &why), -ERR_INVALID);
	w = buf_cstr(&why);
	ck_assert_msg(strncmp(w, bad[_i].name, n) == 0 && w[n] == ':',
		      "%s: why '%s' does not start with '%s:'", env[1] ? env[1] : "-", w,
		      bad[_i].name);
	ck_assert_ptr_null(strchr(w, '\n'));
	wd_config_release(&c);
	buf_release(&why);
}
END_TEST

START_TEST(test_bad_tmpdir)
{
	const char *env[3] = { "fprocess=cat", NULL, NULL };
	char *long_dir = malloc(PATH_MAX + 16);
	struct wd_config c;
	struct buf why;

	memcpy(long_dir, "TMPDIR=/", 8);
	memset(long_dir + 8, 'd', PATH_MAX);
	long_dir[PATH_MAX + 8] = '\0';
	env[1] = long_dir;
	fake_env = env;
	buf_init(&why, 1024);
	ck_assert_int_eq(wd_config_load(&c, fake_getenv, &why), -ERR_INVALID);
	ck_assert_int_eq(strncmp(buf_cstr(&why), "TMPDIR:", 7), 0);
	wd_config_release(&c);
	buf_release(&why);
	free(long_dir);
}
END_TEST

static const struct {
	const char *url;
	size_t cap;
	int rc;
	const char *host;
	int port;
} upstreams[] = {
	{ "http://127.0.0.1:5000", 256, 0, "127.0.0.1", 5000 },
	{ "http://localhost:8080/", 256, 0, "localhost", 8080 },
	{ "http://h:1", 256, 0, "h", 1 },
	{ "http://h:65535", 256, 0, "h", 65535 },
	{ "http://abc:80", 4, 0, "abc", 80 },
	{ "http://abcd:80", 4, -ERR_INVALID, NULL, 0 },
	{ "http://h:0", 256, -ERR_INVALID, NULL, 0 },
	{ "http://h:65536", 256, -ERR_INVALID, NULL, 0 },
	{ "http://h", 256, -ERR_INVALID, NULL, 0 },
	{ "http://h:", 256, -ERR_INVALID, NULL, 0 },
	{ "http://:80", 256, -ERR_INVALID, NULL, 0 },
	{ "http://h:abc", 256, -ERR_INVALID, NULL, 0 },
	{ "http://h:80/path", 256, -ERR_INVALID, NULL, 0 },
	{ "http://h:80//", 256, -ERR_INVALID, NULL, 0 },
	{ "http://h:123456789", 256, -ERR_INVALID, NULL, 0 },
	{ "https://h:80", 256, -ERR_INVALID, NULL, 0 },
	{ "HTTP://h:80", 256, -ERR_INVALID, NULL, 0 },
	{ "h:80", 256, -ERR_INVALID, NULL, 0 },
	{ "", 256, -ERR_INVALID, NULL, 0 },
	{ NULL, 256, -ERR_INVALID, NULL, 0 },
};

START_TEST(test_parse_upstream)
{
	char host[256] = "untouched";
	int port = -7;
	int rc = wd_parse_upstream(upstreams[_i].url, host, upstreams[_i].cap, &port);

	ck_assert_msg(rc == upstreams[_i].rc, "'%s': rc %d", upstreams[_i].url, rc);
	if (rc == 0) {
		ck_assert_str_eq(host, upstreams[_i].host);
		ck_assert_int_eq(port, upstreams[_i].port);
	} else {
		ck_assert_str_eq(host, "untouched");
		ck_assert_int_eq(port, -7);
	}
}
END_TEST

#define N(a) (int)(sizeof(a) / sizeof((a)[0]))

int main(void)
{
	Suite *s = suite_create("watchdog_config");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_defaults);
	tcase_add_loop_test(tc, test_values, 0, N(values));
	tcase_add_test(tc, test_fprocess_split);
	tcase_add_loop_test(tc, test_bad, 0, N(bad));
	tcase_add_test(tc, test_bad_tmpdir);
	tcase_add_loop_test(tc, test_parse_upstream, 0, N(upstreams));
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
