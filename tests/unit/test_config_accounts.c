/*
 * test_config_accounts.c — users_from_backend's account list
 * (health/account_list.c): which accounts are usable, the order the server
 * uses (most specific host first), and host matching.
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "health/accounts.h"

#define H1 "*3F57C84FDE4BBAB2C998F3A2D311684280BAE8E7" /* app-pass */
#define H2 "*A4B6157319038724E3560894F7F932C8886EBFCF"

static const char *const rows[][5] = {
	{"erin", "%", "mysql_native_password", H2, ""},
	{"erin", "127.0.0.1", "mysql_native_password", H1, ""},
	{"erin", "127.0.%", "mysql_native_password", H2, ""},
	{"frank", "10.%", "mysql_native_password", H1, ""},
	{"gina", "192.168.0.0/255.255.0.0", "mysql_native_password", H1, ""},
	{"gina", "127.0.0.0/8", "mysql_native_password", H1, ""},
	{"hal", "127.0.0._", "", H1, NULL},
	{"ivy", "localhost", "mysql_native_password", H1, ""},
	{"sock", "%", "unix_socket", "", ""},
	{"root", "%", "mysql_native_password", "invalid", ""},
	{"lock", "%", "mysql_native_password", H1, "locked"},
	{"nopw", "%", "mysql_native_password", "", ""},
	{"", "192.0.2.1", "mysql_native_password", H1, ""},
	{"odd", "10.0.0.0/255.0.255.0", "mysql_native_password", H1, ""},
	{"v6", "::1", "mysql_native_password", H1, ""},
};

static struct hc_account_list *list(void)
{
	struct hc_account_list *l = hc_account_list_build(rows, sizeof(rows) / sizeof(rows[0]));
	ck_assert_ptr_nonnull(l);
	return l;
}

static struct sockaddr_storage v4(const char *ip)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	in->sin_family = AF_INET;
	inet_pton(AF_INET, ip, &in->sin_addr);
	return ss;
}

static struct sockaddr_storage v6(const char *ip)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	in6->sin6_family = AF_INET6;
	inet_pton(AF_INET6, ip, &in6->sin6_addr);
	return ss;
}

static enum hc_match m(const struct hc_account_list *l, const char *user,
		       struct sockaddr_storage ss, const struct hc_account **a)
{
	return hc_account_match(l, user, (const struct sockaddr *)&ss, a);
}

START_TEST(test_most_specific_host_wins)
{
	struct hc_account_list *l = list();
	const struct hc_account *a = NULL;
	ck_assert_int_eq(m(l, "erin", v4("127.0.0.1"), &a), HC_MATCH_FOUND);
	ck_assert_str_eq(a->host, "127.0.0.1");
	ck_assert_int_eq(m(l, "erin", v4("127.0.0.2"), &a), HC_MATCH_FOUND);
	ck_assert_str_eq(a->host, "127.0.%");
	ck_assert_int_eq(m(l, "erin", v4("10.1.2.3"), &a), HC_MATCH_FOUND);
	ck_assert_str_eq(a->host, "%");
	/* an IPv4-mapped IPv6 peer is matched as its IPv4 address */
	ck_assert_int_eq(m(l, "erin", v6("::ffff:127.0.0.1"), &a), HC_MATCH_FOUND);
	ck_assert_str_eq(a->host, "127.0.0.1");
	hc_account_list_unref(l);
}
END_TEST

START_TEST(test_host_forms)
{
	struct hc_account_list *l = list();
	const struct hc_account *a = NULL;
	ck_assert_int_eq(m(l, "frank", v4("127.0.0.1"), &a), HC_MATCH_NO_HOST);
	ck_assert_int_eq(m(l, "frank", v4("10.9.9.9"), &a), HC_MATCH_FOUND);
	ck_assert_int_eq(m(l, "gina", v4("192.168.44.1"), &a), HC_MATCH_FOUND);
	ck_assert_str_eq(a->host, "192.168.0.0/255.255.0.0");
	ck_assert_int_eq(m(l, "gina", v4("127.9.9.9"), &a), HC_MATCH_FOUND);
	ck_assert_str_eq(a->host, "127.0.0.0/8");
	ck_assert_int_eq(m(l, "gina", v4("192.169.0.1"), &a), HC_MATCH_NO_HOST);
	ck_assert_int_eq(m(l, "hal", v4("127.0.0.7"), &a), HC_MATCH_FOUND);
	ck_assert(a->usable); /* empty plugin column: native (old mysql.user rows) */
	ck_assert_int_eq(m(l, "hal", v4("127.0.0.17"), &a), HC_MATCH_NO_HOST);
	/* 127.0.0.1 and ::1 are "localhost" to a server that resolves names
	 * (no DNS asked); any other loopback address is not; with
	 * skip_name_resolve "localhost" matches no TCP client */
	ck_assert_int_eq(m(l, "ivy", v4("127.0.0.1"), &a), HC_MATCH_NO_HOST);
	l->loopback_localhost = true;
	ck_assert_int_eq(m(l, "ivy", v4("127.0.0.1"), &a), HC_MATCH_FOUND);
	ck_assert_str_eq(a->host, "localhost");
	ck_assert_int_eq(m(l, "ivy", v6("::1"), &a), HC_MATCH_FOUND);
	ck_assert_int_eq(m(l, "ivy", v4("127.0.0.2"), &a), HC_MATCH_NO_HOST);
	ck_assert_int_eq(m(l, "ivy", v4("10.0.0.1"), &a), HC_MATCH_NO_HOST);
	ck_assert_int_eq(m(l, "v6", v6("::1"), &a), HC_MATCH_FOUND);
	ck_assert_int_eq(m(l, "v6", v4("127.0.0.1"), &a), HC_MATCH_NO_HOST);
	ck_assert_int_eq(m(l, "nobody", v4("127.0.0.1"), &a), HC_MATCH_UNKNOWN_USER);
	/* user names are case-sensitive, as in the server */
	ck_assert_int_eq(m(l, "Erin", v4("127.0.0.1"), &a), HC_MATCH_UNKNOWN_USER);
	/* an anonymous account takes any name from its host, and its host
	 * ranks first: ''@'192.0.2.1' wins over erin@'%', as in the server */
	ck_assert_int_eq(m(l, "", v4("127.0.0.1"), &a), HC_MATCH_UNKNOWN_USER);
	ck_assert_int_eq(m(l, "nobody", v4("192.0.2.1"), &a), HC_MATCH_FOUND);
	ck_assert_str_eq(a->user, "");
	ck_assert_int_eq(m(l, "erin", v4("192.0.2.1"), &a), HC_MATCH_FOUND);
	ck_assert_str_eq(a->user, "");
	hc_account_list_unref(l);
}
END_TEST

START_TEST(test_usability)
{
	struct hc_account_list *l = list();
	const struct hc_account *a = NULL;
	ck_assert_int_eq(m(l, "sock", v4("1.2.3.4"), &a), HC_MATCH_FOUND);
	ck_assert(!a->usable);
	ck_assert_ptr_nonnull(strstr(a->why_unusable, "mysql_native_password"));
	ck_assert_int_eq(m(l, "root", v4("1.2.3.4"), &a), HC_MATCH_FOUND);
	ck_assert(!a->usable);
	ck_assert_int_eq(m(l, "lock", v4("1.2.3.4"), &a), HC_MATCH_FOUND);
	ck_assert(!a->usable);
	ck_assert_str_eq(a->why_unusable, "account is locked");
	ck_assert_int_eq(m(l, "nopw", v4("1.2.3.4"), &a), HC_MATCH_FOUND);
	ck_assert(a->usable && a->empty_password);
	ck_assert_int_eq(m(l, "erin", v4("127.0.0.1"), &a), HC_MATCH_FOUND);
	ck_assert(a->usable && !a->empty_password);
	ck_assert_uint_eq(a->stage2[0], 0x3F);
	/* a non-contiguous netmask cannot be matched: reported, never matches */
	ck_assert_int_eq(m(l, "odd", v4("10.0.0.1"), &a), HC_MATCH_NO_HOST);
	hc_account_list_unref(l);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("config_accounts");
	TCase *tc = tcase_create("accounts");
	tcase_add_test(tc, test_most_specific_host_wins);
	tcase_add_test(tc, test_host_forms);
	tcase_add_test(tc, test_usability);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
