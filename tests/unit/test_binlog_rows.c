/*
 * test_binlog_rows.c — protocol/binlog_rows.h on row data recorded from a
 * MariaDB 10.11 binlog dump (Write_rows_v1 of two rows into
 * test.s (id BIGINT AUTO_INCREMENT, c CHAR(20), pad VARCHAR(300),
 * d DECIMAL(10,2), ts DATETIME(3), b BLOB, n INT NULL), utf8mb4), and on
 * an all-integer table (no metadata at all), truncated and malformed data.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

#include "protocol/binlog_rows.h"
#include "protocol/protocol.h"

static const char rec_hex[] =
	"c00100000000000000026162040178787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878788000000c3299bb8ec61322420400626c6f62e002000000000000000163010070800000010099bb8ec6130000";
/* its Table_map: types and metadata as the dump gave them */
static const uint8_t rec_types[] = {0x08, 0xfe, 0x0f, 0xf6, 0x12, 0xfc, 0x03};
static const uint8_t rec_meta[] = {0xfe, 0x50, 0xb0, 0x04, 0x0a, 0x02, 0x03, 0x02};

static size_t unhex(const char *h, uint8_t *out)
{
	size_t n = strlen(h) / 2;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		sscanf(h + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
	return n;
}

START_TEST(recorded_two_rows)
{
	uint8_t data[sizeof(rec_hex) / 2];
	size_t n = unhex(rec_hex, data);
	struct proto_binlog_table t = {rec_types, 7, rec_meta, sizeof(rec_meta)};
	uint8_t present[] = {0x7f};
	struct proto_binlog_rows out;
	ck_assert_int_eq(proto_binlog_rows_count(&t, present, NULL, data, n, &out), 0);
	ck_assert_uint_eq(out.rows, 2);
	ck_assert(out.first_is_int[0]);
	ck_assert_uint_eq(out.first_int[0], 1); /* the generated id */
	ck_assert(!out.first_is_int[6]);        /* n is NULL */
	/* the same bytes cut anywhere inside the second row: an error, never a read past */
	for (size_t cut = n - 1; cut > n - 20; cut--)
		ck_assert_int_lt(proto_binlog_rows_count(&t, present, NULL, data, cut, &out), 0);
}
END_TEST

START_TEST(all_integers_update)
{
	/* (id INT, k INT, v INT): no metadata; an update's before and after images */
	static const uint8_t types[] = {0x03, 0x03, 0x03};
	uint8_t present[] = {0x07};
	uint8_t data[2 * 13];
	memset(data, 0, sizeof(data));
	data[1] = 7; /* before: id 7 */
	data[14] = 7;
	struct proto_binlog_table t = {types, 3, NULL, 0};
	struct proto_binlog_rows out;
	ck_assert_int_eq(proto_binlog_rows_count(&t, present, present, data, sizeof(data), &out),
			 0);
	ck_assert_uint_eq(out.rows, 1);
	ck_assert_uint_eq(out.first_int[0], 7);
	/* as a write: two rows */
	ck_assert_int_eq(proto_binlog_rows_count(&t, present, NULL, data, sizeof(data), &out), 0);
	ck_assert_uint_eq(out.rows, 2);
}
END_TEST

START_TEST(malformed)
{
	static const uint8_t unknown[] = {0x99};
	uint8_t present[] = {0x01};
	uint8_t data[4] = {0};
	struct proto_binlog_table t = {unknown, 1, NULL, 0};
	struct proto_binlog_rows out;
	ck_assert_int_eq(proto_binlog_rows_count(&t, present, NULL, data, sizeof(data), &out),
			 PROTO_E_UNSUPPORTED);
	/* metadata shorter than the types need */
	static const uint8_t vc[] = {0x0f};
	struct proto_binlog_table t2 = {vc, 1, NULL, 0};
	ck_assert_int_eq(proto_binlog_rows_count(&t2, present, NULL, data, sizeof(data), &out),
			 PROTO_E_MALFORMED);
	/* a length prefix past the end */
	static const uint8_t meta[] = {0x10, 0x00};
	uint8_t d2[] = {0x00, 0x09, 'a'};
	struct proto_binlog_table t3 = {vc, 1, meta, sizeof(meta)};
	ck_assert_int_lt(proto_binlog_rows_count(&t3, present, NULL, d2, sizeof(d2), &out), 0);
}
END_TEST

static Suite *binlog_rows_suite(void)
{
	Suite *s = suite_create("binlog_rows");
	TCase *tc = tcase_create("binlog_rows");
	tcase_add_test(tc, recorded_two_rows);
	tcase_add_test(tc, all_integers_update);
	tcase_add_test(tc, malformed);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(binlog_rows_suite)
