/*
 * test_tracker_lies.c — the response tracker (protocol/tracker.c) against
 * servers that lie: a column count larger than the definitions that follow
 * (an EOF, an ERR or a row where a definition should be), the same for a
 * prepared statement's parameters and columns, and an empty frame in place
 * of a row. Each must be an error the proxy can turn into an ERR, never a
 * response the tracker waits on forever.
 */
#include <check.h>
#include <string.h>

#include "protocol/tracker.h"

#define CAPS (CLIENT_PROTOCOL_41 | CLIENT_MULTI_RESULTS | CLIENT_PS_MULTI_RESULTS)

/* A column definition as servers send it: catalog "def" first. */
static const uint8_t COLDEF[] = {0x03, 'd', 'e', 'f', 0, 0, 0, 1, 'a', 1, 'a', 0x0c,
				 0x3f, 0,   11,  0,   0, 0, 3, 0, 0,   0, 0,   0};
static const uint8_t EOFPKT[] = {0xfe, 0, 0, 2, 0};

static int feed(struct proto_tracker *t, const uint8_t *p, size_t len)
{
	struct proto_rt_event ev;
	uint32_t want = proto_tracker_want(t, (uint32_t)len, len ? p[0] : 0);
	return proto_tracker_feed(t, p, want ? want : (len ? 1 : 0), (uint32_t)len, &ev);
}

static void start_query(struct proto_tracker *t, uint64_t caps)
{
	static const uint8_t q[] = {COM_QUERY, 'S'};
	proto_tracker_init(t, caps);
	ck_assert_int_eq(proto_tracker_start(t, q, sizeof(q)), RT_MORE);
}

START_TEST(column_count_larger_than_definitions)
{
	static const uint8_t three[] = {3};
	static const uint8_t row[] = {1, 'x'};
	static const uint8_t err[] = {0xff, 0x15, 0x04, '#', '4', '2', '0', '0', '0', 'x'};
	const uint8_t *instead[] = {EOFPKT, row, err};
	const size_t lens[] = {sizeof(EOFPKT), sizeof(row), sizeof(err)};
	for (int deof = 0; deof < 2; deof++) {
		for (int i = 0; i < 3; i++) {
			struct proto_tracker t;
			start_query(&t, CAPS | (deof ? CLIENT_DEPRECATE_EOF : 0));
			ck_assert_int_eq(feed(&t, three, 1), RT_MORE);
			ck_assert_int_eq(feed(&t, COLDEF, sizeof(COLDEF)), RT_MORE);
			ck_assert_int_eq(feed(&t, instead[i], lens[i]), PROTO_E_UNEXPECTED);
		}
	}
}
END_TEST

START_TEST(honest_result_still_tracked)
{
	static const uint8_t two[] = {2};
	static const uint8_t row[] = {1, 'x', 1, 'y'};
	struct proto_tracker t;
	start_query(&t, CAPS);
	ck_assert_int_eq(feed(&t, two, 1), RT_MORE);
	ck_assert_int_eq(feed(&t, COLDEF, sizeof(COLDEF)), RT_MORE);
	ck_assert_int_eq(feed(&t, COLDEF, sizeof(COLDEF)), RT_MORE);
	ck_assert_int_eq(feed(&t, EOFPKT, sizeof(EOFPKT)), RT_MORE);
	ck_assert_int_eq(feed(&t, row, sizeof(row)), RT_MORE);
	ck_assert_int_eq(feed(&t, EOFPKT, sizeof(EOFPKT)), RT_DONE);
}
END_TEST

START_TEST(prepare_definitions_that_lie)
{
	static const uint8_t prep[] = {COM_STMT_PREPARE, 'S'};
	/* OK: statement 1, 1 column, 2 parameters */
	static const uint8_t ok[] = {0, 1, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0};
	for (int where = 0; where < 2; where++) {
		struct proto_tracker t;
		proto_tracker_init(&t, CAPS);
		ck_assert_int_eq(proto_tracker_start(&t, prep, sizeof(prep)), RT_MORE);
		ck_assert_int_eq(feed(&t, ok, sizeof(ok)), RT_MORE);
		ck_assert_int_eq(feed(&t, COLDEF, sizeof(COLDEF)), RT_MORE);
		if (where == 0) { /* the second parameter is an EOF */
			ck_assert_int_eq(feed(&t, EOFPKT, sizeof(EOFPKT)), PROTO_E_UNEXPECTED);
			continue;
		}
		ck_assert_int_eq(feed(&t, COLDEF, sizeof(COLDEF)), RT_MORE);
		ck_assert_int_eq(feed(&t, EOFPKT, sizeof(EOFPKT)), RT_MORE);
		/* the column is an EOF */
		ck_assert_int_eq(feed(&t, EOFPKT, sizeof(EOFPKT)), PROTO_E_UNEXPECTED);
	}
}
END_TEST

START_TEST(empty_frame_in_place_of_a_row)
{
	static const uint8_t one[] = {1};
	struct proto_tracker t;
	start_query(&t, CAPS | CLIENT_DEPRECATE_EOF);
	ck_assert_int_eq(feed(&t, one, 1), RT_MORE);
	ck_assert_int_eq(feed(&t, COLDEF, sizeof(COLDEF)), RT_MORE);
	ck_assert_uint_eq(proto_tracker_want(&t, 0, 0), 0);
	ck_assert_int_eq(feed(&t, NULL, 0), PROTO_E_MALFORMED);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("tracker_lies");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, column_count_larger_than_definitions);
	tcase_add_test(tc, honest_result_still_tracked);
	tcase_add_test(tc, prepare_definitions_that_lie);
	tcase_add_test(tc, empty_frame_in_place_of_a_row);
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
