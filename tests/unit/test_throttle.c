/*
 * test_throttle.c — the failed-login throttle table (proxy/login/throttle.c):
 * blocking after N failures in the window, the window restarting, a block
 * expiring, a success clearing the count, isolation by tenant and by
 * address (IPv4-mapped IPv6 folding to IPv4), and the memory bound:
 * a scan of many addresses never grows the table past max_sources nor
 * evicts a blocked address while unblocked entries remain.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "proxy/login/login.h"

#define S 1000000LL /* one second in microseconds */

static struct sockaddr_storage v4(const char *ip)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	in->sin_family = AF_INET;
	in->sin_port = htons(40000);
	ck_assert_int_eq(inet_pton(AF_INET, ip, &in->sin_addr), 1);
	return ss;
}

static struct sockaddr_storage v6(const char *ip)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(40001);
	ck_assert_int_eq(inet_pton(AF_INET6, ip, &in6->sin6_addr), 1);
	return ss;
}

#define SA(x) ((const struct sockaddr *)&(x))

static const struct throttle_limits L = {3, 60 * S, 300 * S, 100};

START_TEST(blocks_after_n_failures_in_window)
{
	struct throttle *t = throttle_new();
	struct sockaddr_storage a = v4("10.0.0.1");
	unsigned n = 0;
	ck_assert(!throttle_blocked(t, &L, "t1", SA(a), 0, NULL));
	ck_assert(!throttle_failed(t, &L, "t1", SA(a), 1 * S, &n));
	ck_assert_uint_eq(n, 1);
	ck_assert(!throttle_failed(t, &L, "t1", SA(a), 2 * S, &n));
	ck_assert(!throttle_blocked(t, &L, "t1", SA(a), 2 * S, NULL));
	ck_assert(throttle_failed(t, &L, "t1", SA(a), 3 * S, &n)); /* the 3rd blocks */
	ck_assert_uint_eq(n, 3);
	int64_t left = 0;
	ck_assert(throttle_blocked(t, &L, "t1", SA(a), 4 * S, &left));
	ck_assert_int_eq(left, 299 * S);
	ck_assert_uint_eq(throttle_nblocked(t, 4 * S), 1);
	/* failures of logins already under way add nothing and do not re-block */
	ck_assert(!throttle_failed(t, &L, "t1", SA(a), 5 * S, &n));
	ck_assert(throttle_blocked(t, &L, "t1", SA(a), 302 * S, NULL));
	/* the block expires; the count starts afresh */
	ck_assert(!throttle_blocked(t, &L, "t1", SA(a), 303 * S, NULL));
	ck_assert_uint_eq(throttle_nblocked(t, 303 * S), 0);
	ck_assert(!throttle_failed(t, &L, "t1", SA(a), 304 * S, &n));
	ck_assert_uint_eq(n, 1);
	throttle_free(t);
}
END_TEST

START_TEST(window_restarts)
{
	struct throttle *t = throttle_new();
	struct sockaddr_storage a = v4("10.0.0.2");
	unsigned n;
	ck_assert(!throttle_failed(t, &L, "t1", SA(a), 0, &n));
	ck_assert(!throttle_failed(t, &L, "t1", SA(a), 59 * S, &n));
	ck_assert_uint_eq(n, 2);
	/* the window began at 0: at 60 s it is over, and this one starts a new one */
	ck_assert(!throttle_failed(t, &L, "t1", SA(a), 60 * S, &n));
	ck_assert_uint_eq(n, 1);
	ck_assert(!throttle_failed(t, &L, "t1", SA(a), 61 * S, &n));
	ck_assert(throttle_failed(t, &L, "t1", SA(a), 62 * S, &n));
	throttle_free(t);
}
END_TEST

START_TEST(success_clears_the_count)
{
	struct throttle *t = throttle_new();
	struct sockaddr_storage a = v4("10.0.0.3");
	unsigned n;
	throttle_failed(t, &L, "t1", SA(a), 0, &n);
	throttle_failed(t, &L, "t1", SA(a), 1, &n);
	ck_assert_uint_eq(throttle_nentries(t), 1);
	throttle_succeeded(t, "t1", SA(a));
	ck_assert_uint_eq(throttle_nentries(t), 0);
	ck_assert(!throttle_failed(t, &L, "t1", SA(a), 2, &n));
	ck_assert_uint_eq(n, 1);
	throttle_free(t);
}
END_TEST

START_TEST(keyed_by_tenant_and_address)
{
	struct throttle *t = throttle_new();
	struct sockaddr_storage a = v4("192.0.2.7"), b = v4("192.0.2.8");
	struct sockaddr_storage mapped = v6("::ffff:192.0.2.7"), six = v6("2001:db8::7");
	for (int i = 0; i < 3; i++)
		throttle_failed(t, &L, "t1", SA(a), i, NULL);
	ck_assert(throttle_blocked(t, &L, "t1", SA(a), 10, NULL));
	ck_assert(throttle_blocked(t, &L, "t1", SA(mapped), 10, NULL)); /* same source */
	ck_assert(!throttle_blocked(t, &L, "t2", SA(a), 10, NULL));     /* other tenant */
	ck_assert(!throttle_blocked(t, &L, "t1", SA(b), 10, NULL));     /* other address */
	ck_assert(!throttle_blocked(t, &L, "t1", SA(six), 10, NULL));
	for (int i = 0; i < 3; i++)
		throttle_failed(t, &L, "t1", SA(six), i, NULL);
	ck_assert(throttle_blocked(t, &L, "t1", SA(six), 10, NULL));
	ck_assert_uint_eq(throttle_nblocked(t, 10), 2);
	throttle_free(t);
}
END_TEST

START_TEST(off_when_max_failures_is_zero)
{
	struct throttle *t = throttle_new();
	struct throttle_limits off = L;
	off.max_failures = 0;
	struct sockaddr_storage a = v4("10.0.0.4");
	for (int i = 0; i < 10; i++)
		ck_assert(!throttle_failed(t, &off, "t1", SA(a), i, NULL));
	ck_assert_uint_eq(throttle_nentries(t), 0);
	ck_assert(!throttle_blocked(t, &off, "t1", SA(a), 10, NULL));
	throttle_free(t);
}
END_TEST

START_TEST(bounded_and_blocked_entries_survive_a_scan)
{
	struct throttle *t = throttle_new();
	struct sockaddr_storage bad = v4("203.0.113.1");
	for (int i = 0; i < 3; i++)
		throttle_failed(t, &L, "t1", SA(bad), i, NULL);
	/* 10,000 other addresses fail once each */
	for (int i = 0; i < 10000; i++) {
		char ip[32];
		snprintf(ip, sizeof(ip), "10.%d.%d.%d", i >> 16 & 255, i >> 8 & 255, i & 255);
		struct sockaddr_storage a = v4(ip);
		throttle_failed(t, &L, "t1", SA(a), 10 + i, NULL);
		ck_assert_uint_le(throttle_nentries(t), L.max_sources);
	}
	ck_assert_uint_eq(throttle_nentries(t), L.max_sources);
	ck_assert(throttle_blocked(t, &L, "t1", SA(bad), 20000, NULL));
	/* the most recent ones are still counted; the oldest went */
	struct sockaddr_storage last = v4("10.0.39.15"), first = v4("10.0.0.0");
	unsigned n;
	throttle_failed(t, &L, "t1", SA(last), 20001, &n);
	ck_assert_uint_eq(n, 2);
	throttle_failed(t, &L, "t1", SA(first), 20002, &n);
	ck_assert_uint_eq(n, 1);
	throttle_free(t);
}
END_TEST

START_TEST(only_blocked_entries_then_the_oldest_block_goes)
{
	struct throttle *t = throttle_new();
	struct throttle_limits one = {1, 60 * S, 300 * S, 16};
	for (int i = 0; i < 20; i++) {
		char ip[32];
		snprintf(ip, sizeof(ip), "10.1.0.%d", i);
		struct sockaddr_storage a = v4(ip);
		ck_assert(throttle_failed(t, &one, "t1", SA(a), i, NULL));
	}
	ck_assert_uint_eq(throttle_nentries(t), 16);
	struct sockaddr_storage oldest = v4("10.1.0.0"), newest = v4("10.1.0.19");
	ck_assert(!throttle_blocked(t, &one, "t1", SA(oldest), 30, NULL));
	ck_assert(throttle_blocked(t, &one, "t1", SA(newest), 30, NULL));
	throttle_free(t);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("throttle");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, blocks_after_n_failures_in_window);
	tcase_add_test(tc, window_restarts);
	tcase_add_test(tc, success_clears_the_count);
	tcase_add_test(tc, keyed_by_tenant_and_address);
	tcase_add_test(tc, off_when_max_failures_is_zero);
	tcase_add_test(tc, bounded_and_blocked_entries_survive_a_scan);
	tcase_add_test(tc, only_blocked_entries_then_the_oldest_block_goes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
