/*
 * test_coord.c — the pure half of the etcd coordination: the v3 gateway's
 * answers as etcd 3.4 writes them (recorded with curl from the Debian
 * package), the watch stream's framing, base64, and tandem's record and
 * observation formats (health/etcd.h, health/coord.h).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "health/coord.h"
#include "health/etcd.h"

static int parse(const char *s, struct etcd_resp *r)
{
	return etcd_parse_response(s, strlen(s), r);
}

START_TEST(txn_failure_carries_the_range)
{
	/* A campaign that lost: the leader key "/x/leader" = "me". */
	struct etcd_resp r;
	ck_assert_int_eq(
		parse("{\"header\":{\"cluster_id\":\"324952591200643719\",\"member_id\":"
		      "\"3319814642761637952\",\"revision\":\"2\",\"raft_term\":\"2\"},\"responses\":"
		      "[{\"response_range\":{\"header\":{\"revision\":\"2\"},\"kvs\":[{\"key\":"
		      "\"L3gvbGVhZGVy\",\"create_revision\":\"2\",\"mod_revision\":\"2\",\"version\":"
		      "\"1\",\"value\":\"bWU=\"}],\"count\":\"1\"}}]}",
		      &r),
		0);
	ck_assert(!r.succeeded);
	ck_assert_int_eq(r.revision, 2);
	ck_assert_uint_eq(r.nkvs, 1);
	ck_assert_str_eq(r.kvs[0].key, "/x/leader");
	ck_assert_str_eq(r.kvs[0].value, "me");
	ck_assert_int_eq(r.kvs[0].create_rev, 2);
	etcd_resp_free(&r);
	ck_assert_int_eq(parse("{\"header\":{\"revision\":\"3\"},\"succeeded\":true,\"responses\":"
			       "[{\"response_put\":{\"header\":{\"revision\":\"3\"}}}]}",
			       &r),
			 0);
	ck_assert(r.succeeded);
	ck_assert_uint_eq(r.nkvs, 0);
	etcd_resp_free(&r);
}
END_TEST

START_TEST(lease_answers)
{
	struct etcd_resp r;
	ck_assert_int_eq(parse("{\"header\":{\"revision\":\"1\"},\"ID\":\"2324035874077801477\","
			       "\"TTL\":\"2\"}",
			       &r),
			 0);
	ck_assert_int_eq(r.lease_id, 2324035874077801477LL);
	ck_assert(r.has_ttl && r.ttl == 2);
	etcd_resp_free(&r);
	/* keepalive of an expired lease: no TTL */
	ck_assert_int_eq(
		parse("{\"result\":{\"header\":{\"revision\":\"5\"},\"ID\":\"12345\"}}", &r), 0);
	ck_assert_int_eq(r.lease_id, 12345);
	ck_assert(!r.has_ttl);
	etcd_resp_free(&r);
}
END_TEST

START_TEST(watch_lines)
{
	const char *stream =
		"{\"result\":{\"header\":{\"revision\":\"3\"},\"created\":true}}\n"
		"{\"result\":{\"header\":{\"revision\":\"4\"},\"events\":[{\"kv\":{\"key\":\"L3gvcg==\","
		"\"create_revision\":\"4\",\"mod_revision\":\"4\",\"version\":\"1\",\"value\":"
		"\"aGk=\"}}]}}\n"
		"{\"result\":{\"header\":{\"revision\":\"5\"},\"events\":[{\"type\":\"DELETE\",\"kv\":"
		"{\"key\":\"L3gvcg==\",\"mod_revision\":\"5\"}}]}}\n{\"res";
	size_t len = strlen(stream), off = 0;
	int lines = 0;
	for (;;) {
		long n = etcd_line_next(stream + off, len - off, 4096);
		if (n == 0)
			break;
		ck_assert_int_gt(n, 0);
		struct etcd_resp r;
		ck_assert_int_eq(etcd_parse_response(stream + off, (size_t)n - 1, &r), 0);
		if (lines == 0)
			ck_assert(r.created);
		if (lines == 1) {
			ck_assert_str_eq(r.kvs[0].key, "/x/r");
			ck_assert_str_eq(r.kvs[0].value, "hi");
			ck_assert(!r.kvs[0].deleted);
		}
		if (lines == 2) {
			ck_assert(r.kvs[0].deleted);
			ck_assert_int_eq(r.revision, 5);
		}
		etcd_resp_free(&r);
		off += (size_t)n;
		lines++;
	}
	ck_assert_int_eq(lines, 3);
	ck_assert_str_eq(stream + off, "{\"res"); /* the rest waits for more bytes */
	ck_assert_int_eq(etcd_line_next("abcdef", 6, 4), -1);
}
END_TEST

START_TEST(errors_and_garbage)
{
	struct etcd_resp r;
	ck_assert_int_eq(parse("{\"error\":\"etcdserver: invalid auth token\",\"code\":16,"
			       "\"message\":\"etcdserver: invalid auth token\"}",
			       &r),
			 0);
	ck_assert_int_eq(r.code, 16);
	ck_assert_str_eq(r.error, "etcdserver: invalid auth token");
	etcd_resp_free(&r);
	ck_assert_int_eq(parse("[1]", &r), -1);
	ck_assert_int_eq(parse("{\"kvs\":[{\"key\":\"!!\"}]}", &r), -1);
	ck_assert_int_eq(parse("{\"header\":{\"revision\":\"x\"}}", &r), -1);
	ck_assert_int_eq(parse("{\"kvs\":[{\"key\":\"AA==\"}]}", &r), -1); /* NUL in a key */
}
END_TEST

START_TEST(base64_round_trip)
{
	char enc[64];
	unsigned char dec[64];
	const char *in[] = {"", "f", "fo", "foo", "foob", "/tandem/db1/record"};
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		ck_assert_int_eq(etcd_b64_encode(in[i], strlen(in[i]), enc, sizeof(enc)), 0);
		long n = etcd_b64_decode(enc, strlen(enc), dec, sizeof(dec));
		ck_assert_int_eq(n, (long)strlen(in[i]));
		ck_assert(memcmp(dec, in[i], (size_t)n) == 0);
	}
	ck_assert_int_eq(etcd_b64_encode("foo", 3, enc, 4), -1);
	ck_assert_int_eq(etcd_b64_decode("Zm9v*", 5, dec, sizeof(dec)), -1);
}
END_TEST

START_TEST(record_round_trip)
{
	struct coord_rec r = {.epoch = 7, .at_us = 123, .lease = 99, .nfenced = 1};
	strcpy(r.kind, "failover");
	strcpy(r.state, "acting");
	strcpy(r.primary, "127.0.0.1:3307");
	strcpy(r.from, "127.0.0.1:3306");
	strcpy(r.fenced[0], "127.0.0.1:3306");
	strcpy(r.reason, "primary down");
	strcpy(r.by, "t0");
	char *text = coord_rec_text(&r);
	ck_assert_ptr_nonnull(text);
	struct coord_rec back;
	ck_assert_int_eq(coord_rec_parse(text, strlen(text), &back), 0);
	ck_assert(memcmp(&r, &back, sizeof(r)) == 0);
	free(text);
	const char *bad[] = {"{}", "{\"epoch\":0,\"primary\":\"a\",\"state\":\"done\"}",
			     "{\"epoch\":1,\"primary\":\"a\",\"state\":\"maybe\"}",
			     "{\"epoch\":1,\"primary\":\"a\",\"state\":\"done\",\"fenced\":[1]}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(coord_rec_parse(bad[i], strlen(bad[i]), &back), -1);
}
END_TEST

START_TEST(observations)
{
	const char *o = "{\"members\":{\"127.0.0.1:3306\":\"up\",\"127.0.0.1:3307\":\"down\"}}";
	ck_assert_int_eq(coord_obs_member_up(o, strlen(o), "127.0.0.1:3306"), 1);
	ck_assert_int_eq(coord_obs_member_up(o, strlen(o), "127.0.0.1:3307"), 0);
	ck_assert_int_eq(coord_obs_member_up(o, strlen(o), "127.0.0.1:3308"), -1);
	ck_assert_int_eq(coord_obs_member_up("nope", 4, "127.0.0.1:3306"), -1);
}
END_TEST

#define CFG_HEAD                                                                        \
	"{\"clusters\": {\"db1\": {\"primary\": \"127.0.0.1:3306\", \"replicas\": "     \
	"[\"127.0.0.1:3307\"], \"monitor\": {\"user\": \"m\", \"password\": \"m\"}}}, " \
	"\"tenants\": {}, \"admin\": {\"listen\": \"127.0.0.1:9191\"}"

/* Load CFG_HEAD plus extra; NULL and errors[0] in first_error on failure. */
static struct cfg *load_cfg(const char *extra, char *first_error, size_t len)
{
	char json[2048];
	snprintf(json, sizeof(json), "%s%s}", CFG_HEAD, extra);
	struct cfg_errors e = {0};
	struct cfg *c = cfg_load_string(json, &e);
	snprintf(first_error, len, "%s", e.n ? e.msgs[0] : "");
	cfg_errors_free(&e);
	return c;
}

START_TEST(config_section)
{
	char err[512];
	struct cfg *c = load_cfg("", err, sizeof(err));
	ck_assert_ptr_nonnull(c);
	ck_assert(!c->coord.enabled); /* no section: standalone */
	cfg_unref(c);
	c = load_cfg(", \"coordination\": {\"endpoints\": [\"http://127.0.0.1:2379\", "
		     "\"127.0.0.1:2380\"]}",
		     err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert(c->coord.enabled);
	ck_assert_uint_eq(c->coord.nendpoints, 2);
	ck_assert_uint_eq(c->coord.endpoints[0].port, 2379);
	ck_assert_str_eq(c->coord.prefix, "/tandem");
	ck_assert_int_eq(c->coord.lease_ttl_s, 5);
	ck_assert_int_eq(c->coord.timeout_ms, 500);
	ck_assert_ptr_nonnull(strstr(c->coord.instance, "-9191")); /* hostname-adminport */
	cfg_unref(c);
	const char *bad[][2] = {
		{", \"coordination\": {}", "$.coordination.endpoints"},
		{", \"coordination\": {\"endpoints\": [\"127.0.0.1:2379\"], \"prefix\": \"x\"}",
		 "$.coordination.prefix"},
		{", \"coordination\": {\"endpoints\": [\"127.0.0.1:2379\"], \"lease_ttl_s\": 2, "
		 "\"timeout_ms\": 600}",
		 "$.coordination.timeout_ms"},
		{", \"coordination\": {\"endpoints\": [\"127.0.0.1:2379\"], \"user\": \"u\"}",
		 "user and password"},
		{", \"coordination\": {\"endpoints\": [\"127.0.0.1:2379\"], \"color\": 1}",
		 "$.coordination.color"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c = load_cfg(bad[i][0], err, sizeof(err));
		ck_assert_ptr_null(c);
		ck_assert_msg(strstr(err, bad[i][1]) != NULL, "%s: %s", bad[i][1], err);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("coord");
	TCase *tc = tcase_create("etcd");
	tcase_add_test(tc, txn_failure_carries_the_range);
	tcase_add_test(tc, lease_answers);
	tcase_add_test(tc, watch_lines);
	tcase_add_test(tc, errors_and_garbage);
	tcase_add_test(tc, base64_round_trip);
	tcase_add_test(tc, record_round_trip);
	tcase_add_test(tc, observations);
	tcase_add_test(tc, config_section);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
