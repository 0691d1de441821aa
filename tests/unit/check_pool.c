#include <check.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "pool.h"

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

START_TEST(test_put_get)
{
	struct pool *p = NULL;
	int sv[2];

	ck_assert_int_eq(pool_new(&p), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(pool_get(p, "127.0.0.1", 8080), -1);
	pool_put(p, "127.0.0.1", 8080, sv[0]);
	/* Another address does not see it. */
	ck_assert_int_eq(pool_get(p, "127.0.0.1", 8081), -1);
	ck_assert_int_eq(pool_get(p, "127.0.0.1", 8080), sv[0]);
	ck_assert_int_eq(pool_get(p, "127.0.0.1", 8080), -1);
	close(sv[0]);
	close(sv[1]);
	pool_free(p);
}
END_TEST

START_TEST(test_closed_peer_not_reused)
{
	struct pool *p = NULL;
	int sv[2];

	ck_assert_int_eq(pool_new(&p), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pool_put(p, "127.0.0.1", 9000, sv[0]);
	close(sv[1]);
	ck_assert_int_eq(pool_get(p, "127.0.0.1", 9000), -1);
	ck_assert(!fd_open(sv[0]));
	pool_free(p);
}
END_TEST

/* A replica that went away leaves idle connections whose peer closed:
 * the sweep closes them without anyone asking for that address again. */
START_TEST(test_sweep_closes_dead)
{
	struct pool *p = NULL;
	int a[2], b[2];

	ck_assert_int_eq(pool_new(&p), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
	pool_put(p, "127.0.0.1", 1, a[0]);
	pool_put(p, "127.0.0.1", 2, b[0]);
	close(a[1]);
	pool_sweep(p);
	ck_assert(!fd_open(a[0]));
	ck_assert(fd_open(b[0]));
	ck_assert_int_eq(pool_get(p, "127.0.0.1", 2), b[0]);
	close(b[0]);
	close(b[1]);
	pool_free(p);
}
END_TEST

START_TEST(test_cap_per_address)
{
	struct pool *p = NULL;
	int fds[POOL_PER_ADDR + 1][2], i;

	ck_assert_int_eq(pool_new(&p), 0);
	for (i = 0; i <= POOL_PER_ADDR; i++) {
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds[i]), 0);
		pool_put(p, "h", 1, fds[i][0]);
	}
	/* The one over the cap was closed at once. */
	ck_assert(!fd_open(fds[POOL_PER_ADDR][0]));
	pool_free(p);
	for (i = 0; i <= POOL_PER_ADDR; i++) {
		ck_assert(!fd_open(fds[i][0]));
		close(fds[i][1]);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pool");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_put_get);
	tcase_add_test(tc, test_closed_peer_not_reused);
	tcase_add_test(tc, test_sweep_closes_dead);
	tcase_add_test(tc, test_cap_per_address);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
