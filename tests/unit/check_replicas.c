#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "replicas.h"
#include "spawn.h"

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* A set with function "fn" in "ns" and n replicas (ports 9000+i). */
static struct replicas *make_set(size_t n, struct rs_replica **reps)
{
	struct replicas *rs;
	struct rs_function *fn;
	size_t i;

	ck_assert_int_eq(replicas_new(&rs), 0);
	replicas_lock(rs);
	ck_assert_int_eq(replicas_add_function(rs, "ns", "fn", &fn), 0);
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(replicas_add(rs, fn, fn->generation, &reps[i]), 0);
		reps[i]->port = 9000 + (int)i;
	}
	replicas_unlock(rs);
	return rs;
}

static void set_state(struct replicas *rs, struct rs_replica *r, enum rs_state st)
{
	replicas_lock(rs);
	replicas_set_state(rs, r, st);
	replicas_unlock(rs);
}

START_TEST(test_names_and_counts)
{
	struct rs_replica *r[3];
	struct replicas *rs = make_set(3, r);
	struct rs_function *fn, *other;

	ck_assert_str_eq(r[0]->instance, "fn-1");
	ck_assert_str_eq(r[2]->instance, "fn-3");
	ck_assert_str_eq(r[1]->host, "127.0.0.1");
	replicas_lock(rs);
	fn = replicas_find(rs, "ns", "fn");
	ck_assert_ptr_nonnull(fn);
	ck_assert_ptr_null(replicas_find(rs, "other", "fn"));
	ck_assert_int_eq(replicas_add_function(rs, "ns", "fn", &other), -ERR_EXISTS);
	ck_assert_int_eq(replicas_add_function(rs, "other", "fn", &other), 0);
	ck_assert_ptr_eq(replicas_next(rs, NULL), other);
	ck_assert_ptr_eq(replicas_next(rs, other), fn);
	ck_assert_ptr_null(replicas_next(rs, fn));
	replicas_set_state(rs, r[0], RS_READY);
	replicas_set_state(rs, r[1], RS_DRAINING);
	fn->generation = 2;
	ck_assert_uint_eq(replicas_count(fn, RS_ANY, 0), 3);
	ck_assert_uint_eq(replicas_count(fn, RS_MASK(RS_READY), 0), 1);
	ck_assert_uint_eq(replicas_count(fn, RS_ANY & ~RS_MASK(RS_DRAINING), 1), 2);
	ck_assert_uint_eq(replicas_count(fn, RS_ANY, 2), 0);
	ck_assert_int_eq(replicas_remove_function(rs, fn), -ERR_EXISTS);
	ck_assert_int_eq(replicas_remove_function(rs, other), 0);
	replicas_unlock(rs);
	replicas_free(rs);
}
END_TEST

START_TEST(test_least_inflight)
{
	struct rs_replica *r[3];
	struct replicas *rs = make_set(3, r);
	struct prov_replica got[6];
	int per_port[3] = { 0 }, i;

	set_state(rs, r[0], RS_READY);
	set_state(rs, r[2], RS_READY);
	for (i = 0; i < 6; i++) {
		ck_assert_int_eq(replicas_acquire(rs, "ns", "fn", 0, &got[i]), 0);
		ck_assert_int_ne(got[i].port, 9001); /* not ready */
		per_port[got[i].port - 9000]++;
	}
	ck_assert_int_eq(per_port[0], 3);
	ck_assert_int_eq(per_port[2], 3);
	ck_assert_uint_eq(r[0]->inflight, 3);
	/* Free two on r[0]: the next two go there. */
	for (i = 0; i < 6 && per_port[0] > 1; i++) {
		if (got[i].port == 9000) {
			ck_assert(!replicas_release(rs, &got[i], false));
			ck_assert_ptr_null(got[i].token);
			per_port[0]--;
		}
	}
	{
		struct prov_replica a, b;

		ck_assert_int_eq(replicas_acquire(rs, "ns", "fn", 0, &a), 0);
		ck_assert_int_eq(replicas_acquire(rs, "ns", "fn", 0, &b), 0);
		ck_assert_int_eq(a.port, 9000);
		ck_assert_int_eq(b.port, 9000);
		ck_assert_str_eq(a.instance, "fn-1");
		replicas_release(rs, &a, false);
		replicas_release(rs, &b, false);
	}
	for (i = 0; i < 6; i++)
		replicas_release(rs, &got[i], false);
	ck_assert_uint_eq(r[0]->inflight, 0);
	ck_assert_uint_eq(r[2]->inflight, 0);
	replicas_free(rs);
}
END_TEST

START_TEST(test_ties_spread)
{
	struct rs_replica *r[4];
	struct replicas *rs = make_set(4, r);
	int seen[4] = { 0 }, i;

	for (i = 0; i < 4; i++)
		set_state(rs, r[i], RS_READY);
	/* Acquire and release one at a time: every replica gets some. */
	for (i = 0; i < 40; i++) {
		struct prov_replica a;

		ck_assert_int_eq(replicas_acquire(rs, "ns", "fn", 0, &a), 0);
		seen[a.port - 9000]++;
		replicas_release(rs, &a, false);
	}
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(seen[i], 10);
	replicas_free(rs);
}
END_TEST

START_TEST(test_unavailable_and_not_found)
{
	struct rs_replica *r[1];
	struct replicas *rs = make_set(1, r);
	struct prov_replica a;
	int64_t t0;

	ck_assert_int_eq(replicas_acquire(rs, "ns", "nope", 0, &a), -ERR_NOT_FOUND);
	ck_assert_int_eq(replicas_acquire(rs, "ns", "fn", 0, &a), -ERR_UNAVAILABLE);
	t0 = mono_ms();
	ck_assert_int_eq(replicas_acquire(rs, "ns", "fn", t0 + 60, &a), -ERR_UNAVAILABLE);
	ck_assert_int_ge(mono_ms() - t0, 55);
	set_state(rs, r[0], RS_DRAINING);
	ck_assert_int_eq(replicas_acquire(rs, "ns", "fn", 0, &a), -ERR_UNAVAILABLE);
	set_state(rs, r[0], RS_READY);
	replicas_lock(rs);
	r[0]->fn->removing = true;
	replicas_unlock(rs);
	ck_assert_int_eq(replicas_acquire(rs, "ns", "fn", 0, &a), -ERR_NOT_FOUND);
	replicas_free(rs);
}
END_TEST

struct waiter {
	struct replicas *rs;
	int rc;
	int64_t waited;
	struct prov_replica got;
};

static void *acquire_thread(void *arg)
{
	struct waiter *w = arg;
	int64_t t0 = mono_ms();

	w->rc = replicas_acquire(w->rs, "ns", "fn", t0 + 5000, &w->got);
	w->waited = mono_ms() - t0;
	return NULL;
}

START_TEST(test_acquire_waits_for_ready)
{
	struct rs_replica *r[1];
	struct replicas *rs = make_set(1, r);
	struct waiter w = { .rs = rs, .rc = 1 };
	pthread_t t;

	ck_assert_int_eq(pthread_create(&t, NULL, acquire_thread, &w), 0);
	sleep_ms(50);
	set_state(rs, r[0], RS_READY);
	pthread_join(t, NULL);
	ck_assert_int_eq(w.rc, 0);
	ck_assert_int_eq(w.got.port, 9000);
	ck_assert_int_lt(w.waited, 2000);
	replicas_release(rs, &w.got, false);
	replicas_free(rs);
}
END_TEST

START_TEST(test_acquire_wakes_on_removal)
{
	struct rs_replica *r[1];
	struct replicas *rs = make_set(1, r);
	struct waiter w = { .rs = rs, .rc = 1 };
	pthread_t t;

	ck_assert_int_eq(pthread_create(&t, NULL, acquire_thread, &w), 0);
	sleep_ms(50);
	replicas_lock(rs);
	r[0]->fn->removing = true;
	replicas_broadcast(rs);
	replicas_unlock(rs);
	pthread_join(t, NULL);
	ck_assert_int_eq(w.rc, -ERR_NOT_FOUND);
	ck_assert_int_lt(w.waited, 2000);
	replicas_free(rs);
}
END_TEST

START_TEST(test_release_flags)
{
	struct rs_replica *r[2];
	struct replicas *rs = make_set(2, r);
	struct prov_replica a, b;

	set_state(rs, r[0], RS_READY);
	ck_assert_int_eq(replicas_acquire(rs, "ns", "fn", 0, &a), 0);
	ck_assert(replicas_release(rs, &a, true));
	ck_assert(r[0]->check_now);
	ck_assert_int_eq(replicas_acquire(rs, "ns", "fn", 0, &a), 0);
	ck_assert_int_eq(replicas_acquire(rs, "ns", "fn", 0, &b), 0);
	set_state(rs, r[0], RS_DRAINING);
	ck_assert(!replicas_release(rs, &a, false)); /* one still in flight */
	ck_assert(replicas_release(rs, &b, false));  /* idle now: stop it */
	ck_assert(!replicas_release(rs, &b, false)); /* token cleared: no-op */
	replicas_free(rs);
}
END_TEST

START_TEST(test_detach_while_acquired)
{
	struct rs_replica *r[2];
	struct replicas *rs = make_set(2, r);
	struct prov_replica a;
	struct rs_function *fn;

	set_state(rs, r[1], RS_READY);
	ck_assert_int_eq(replicas_acquire(rs, "ns", "fn", 0, &a), 0);
	ck_assert_int_eq(a.port, 9001);
	replicas_lock(rs);
	fn = r[0]->fn;
	replicas_detach(rs, r[1]);
	replicas_detach(rs, r[0]); /* freed at once */
	ck_assert_uint_eq(fn->nreps, 0);
	ck_assert_int_eq(replicas_remove_function(rs, fn), 0);
	replicas_unlock(rs);
	/* The request still holds r[1]: releasing it frees it, quietly. */
	ck_assert(!replicas_release(rs, &a, true));
	ck_assert_int_eq(replicas_acquire(rs, "ns", "fn", 0, &a), -ERR_NOT_FOUND);
	replicas_free(rs);
}
END_TEST

START_TEST(test_wait_deadline)
{
	struct replicas *rs;
	int64_t t0;

	ck_assert_int_eq(replicas_new(&rs), 0);
	replicas_lock(rs);
	t0 = mono_ms();
	ck_assert_int_eq(replicas_wait(rs, t0 + 30), -ERR_TIMEOUT);
	ck_assert_int_ge(mono_ms() - t0, 25);
	ck_assert_int_eq(replicas_wait(rs, t0 - 1), -ERR_TIMEOUT);
	replicas_unlock(rs);
	replicas_free(rs);
	replicas_free(NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("replicas");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_names_and_counts);
	tcase_add_test(tc, test_least_inflight);
	tcase_add_test(tc, test_ties_spread);
	tcase_add_test(tc, test_unavailable_and_not_found);
	tcase_add_test(tc, test_acquire_waits_for_ready);
	tcase_add_test(tc, test_acquire_wakes_on_removal);
	tcase_add_test(tc, test_release_flags);
	tcase_add_test(tc, test_detach_while_acquired);
	tcase_add_test(tc, test_wait_deadline);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
