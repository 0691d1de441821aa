#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "docker_api.h"
#include "err.h"

static const struct {
	const char *in;
	int rc;
	int64_t ns;
} times[] = {
	{ "2026-11-23T06:00:00Z", 0, 1795413600LL * 1000000000 },
	{ "2026-11-23T06:00:00.5Z", 0, 1795413600LL * 1000000000 + 500000000 },
	{ "2026-11-23T06:00:00.123456789Z", 0, 1795413600LL * 1000000000 + 123456789 },
	{ "2026-11-23T06:00:00.1234567891Z", 0, 1795413600LL * 1000000000 + 123456789 },
	{ "2026-11-23T07:30:00+01:30", 0, 1795413600LL * 1000000000 },
	{ "2026-11-23T04:00:00.000000001-02:00", 0, 1795413600LL * 1000000000 + 1 },
	{ "2026-11-23T06:00:00", -ERR_PARSE, 0 },
	{ "2026-11-23 06:00:00Z", 0, 1795413600LL * 1000000000 },
	{ "hello world", -ERR_PARSE, 0 },
	{ "2026-1x-23T06:00:00Z", -ERR_PARSE, 0 },
	{ "", -ERR_PARSE, 0 },
};

START_TEST(test_parse_time)
{
	int64_t ns = -7;
	int rc = docker_parse_time(times[_i].in, strlen(times[_i].in), &ns);

	ck_assert_msg(rc == times[_i].rc, "'%s': rc %d", times[_i].in, rc);
	if (!rc)
		ck_assert_msg(ns == times[_i].ns, "'%s': %lld", times[_i].in, (long long)ns);
}
END_TEST

struct lines {
	int n;
	int64_t ts[8];
	char text[8][64];
};

static void on_line(void *ctx, int64_t ts_ns, const char *text, size_t len)
{
	struct lines *l = ctx;

	if (l->n >= 8)
		return;
	l->ts[l->n] = ts_ns;
	snprintf(l->text[l->n], sizeof(l->text[0]), "%.*s", (int)len, text);
	l->n++;
}

START_TEST(test_logs_multiplexed)
{
	static const char a[] = "2026-11-23T06:00:00.000000001Z out one\n"
				"2026-11-23T06:00:00.000000002Z out two\n";
	static const char b[] = "2026-11-23T06:00:01Z err\n";
	char data[256];
	size_t n = 0;
	struct lines l = { 0 };

	data[n++] = 1;
	data[n++] = 0;
	data[n++] = 0;
	data[n++] = 0;
	data[n++] = 0;
	data[n++] = 0;
	data[n++] = 0;
	data[n++] = (char)(sizeof(a) - 1);
	memcpy(data + n, a, sizeof(a) - 1);
	n += sizeof(a) - 1;
	memcpy(data + n, "\2\0\0\0\0\0\0", 7);
	n += 7;
	data[n++] = (char)(sizeof(b) - 1);
	memcpy(data + n, b, sizeof(b) - 1);
	n += sizeof(b) - 1;
	docker_logs_lines(data, n, on_line, &l);
	ck_assert_int_eq(l.n, 3);
	ck_assert_str_eq(l.text[0], "out one");
	ck_assert_str_eq(l.text[1], "out two");
	ck_assert_str_eq(l.text[2], "err");
	ck_assert(l.ts[0] == 1795413600LL * 1000000000 + 1);
	ck_assert(l.ts[1] == l.ts[0] + 1);
	ck_assert(l.ts[2] == 1795413601LL * 1000000000);
}
END_TEST

START_TEST(test_logs_plain)
{
	static const char text[] = "no stamp here\r\n2026-11-23T06:00:00Z stamped\npartial";
	struct lines l = { 0 };

	docker_logs_lines(text, sizeof(text) - 1, on_line, &l);
	ck_assert_int_eq(l.n, 3);
	ck_assert_str_eq(l.text[0], "no stamp here");
	ck_assert(l.ts[0] == 0);
	ck_assert_str_eq(l.text[1], "stamped");
	ck_assert_str_eq(l.text[2], "partial");
}
END_TEST

/* A fake engine: answers each connection with the next canned response. */
struct fake {
	int fd;
	const char *const *answers;
	int n;
	char last_request[4096];
};

static void *serve(void *arg)
{
	struct fake *f = arg;
	int i;

	for (i = 0; i < f->n; i++) {
		int c = accept(f->fd, NULL, NULL);
		ssize_t got;

		if (c < 0)
			break;
		got = read(c, f->last_request, sizeof(f->last_request) - 1);
		f->last_request[got > 0 ? got : 0] = '\0';
		(void)!write(c, f->answers[i], strlen(f->answers[i]));
		close(c);
	}
	return NULL;
}

static int fake_start(struct fake *f, const char *path, pthread_t *t)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	unlink(path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	f->fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (f->fd < 0 || bind(f->fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(f->fd, 8))
		return -1;
	return pthread_create(t, NULL, serve, f);
}

START_TEST(test_fake_engine)
{
	static const char *const answers[] = {
		"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 30\r\n"
		"Connection: close\r\n\r\n{\"Id\":\"abc123\",\"Warnings\":[]}\n",
		"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 37\r\n"
		"Connection: close\r\n\r\n{\"message\":\"no such image: x:latest\"}",
		"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n",
	};
	char path[108], id[80];
	struct fake f = { .answers = answers, .n = 3 };
	struct docker *d = NULL;
	struct buf why;
	pthread_t t;
	json_t *cfg = json_pack("{s:s}", "Image", "x:latest");

	snprintf(path, sizeof(path), "/tmp/check-docker-%d.sock", (int)getpid());
	ck_assert_int_eq(fake_start(&f, path, &t), 0);
	buf_init(&why, 1024);
	ck_assert_int_eq(docker_new(path, &d), 0);
	ck_assert_int_eq(docker_container_create(d, "fn a", cfg, id, sizeof(id), &why), 0);
	ck_assert_str_eq(id, "abc123");
	ck_assert_ptr_nonnull(strstr(f.last_request, "POST /containers/create?name=fn%20a "));
	ck_assert_int_eq(docker_image_exists(d, "x:latest", &why), -ERR_NOT_FOUND);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&why), "no such image: x:latest"));
	ck_assert_int_eq(docker_container_remove(d, "abc123", NULL), 0);
	pthread_join(t, NULL);
	close(f.fd);
	unlink(path);
	buf_reset(&why);
	/* Nothing listens any more. */
	ck_assert_int_eq(docker_ping(d, &why), -ERR_UNAVAILABLE);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&why), path));
	docker_free(d);
	json_decref(cfg);
	buf_release(&why);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("docker_api");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_parse_time, 0, sizeof(times) / sizeof(times[0]));
	tcase_add_test(tc, test_logs_multiplexed);
	tcase_add_test(tc, test_logs_plain);
	tcase_add_test(tc, test_fake_engine);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
