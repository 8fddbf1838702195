/*
 * test_facts.c — protocol/facts: applying session-state blocks recorded
 * from a real MariaDB (tests/data/session_track.txt, written by
 * tests/tools/record_session_track.py), COM_INIT_DB, reset, markers, and
 * the prepared-statement table.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/facts.h"
#include "protocol/okerr.h"

#define CAPS_TRACK (CLIENT_PROTOCOL_41 | CLIENT_SESSION_TRACK | CLIENT_DEPRECATE_EOF)

/* The recorded payload named name, decoded into buf; its length. */
static size_t vector(const char *name, uint8_t *buf, size_t cap)
{
	FILE *f = fopen("session_track.txt", "r");
	ck_assert_msg(f != NULL, "tests/data/session_track.txt missing (run from tests/data)");
	char line[8192];
	size_t n = 0;
	bool found = false;
	while (!found && fgets(line, sizeof(line), f)) {
		size_t nl = strlen(name);
		if (line[0] == '#' || strncmp(line, name, nl) != 0 || line[nl] != ' ')
			continue;
		const char *hex = line + nl + 1;
		while (hex[0] && hex[1] && hex[0] != '\n') {
			ck_assert_uint_lt(n, cap);
			unsigned v;
			ck_assert_int_eq(sscanf(hex, "%2x", &v), 1);
			buf[n++] = (uint8_t)v;
			hex += 2;
		}
		found = true;
	}
	fclose(f);
	ck_assert_msg(found, "no vector %s", name);
	return n;
}

/* Parse the named OK and apply it. */
static int apply(struct proto_facts *f, const char *name, unsigned origin)
{
	uint8_t buf[4096];
	size_t n = vector(name, buf, sizeof(buf));
	struct proto_ok ok;
	ck_assert_int_eq(proto_ok_parse(buf, n, CAPS_TRACK, &ok), (int)n);
	return proto_facts_apply_ok(f, &ok, origin);
}

static const char *var(const struct proto_facts *f, const char *name)
{
	const struct proto_facts_var *v = proto_facts_var_find(f, name);
	return v ? v->value : NULL;
}

START_TEST(test_init)
{
	struct proto_facts f;
	ck_assert_int_eq(proto_facts_init(&f, 45, "demo", 4), PROTO_OK);
	ck_assert_str_eq(f.schema, "demo");
	ck_assert_uint_eq(f.charset, 45);
	ck_assert(proto_facts_autocommit(&f));
	ck_assert(!proto_facts_in_trans(&f));
	ck_assert_uint_eq(f.markers, 0);
	proto_facts_free(&f);
	ck_assert_ptr_null(f.schema);
	ck_assert_int_eq(proto_facts_init(&f, 8, NULL, 0), PROTO_OK);
	ck_assert_ptr_null(f.schema);
	proto_facts_free(&f);
	proto_facts_free(&f); /* twice is harmless */
}
END_TEST

START_TEST(test_setup_is_baseline)
{
	struct proto_facts f;
	proto_facts_init(&f, 45, NULL, 0);
	ck_assert_int_eq(apply(&f, "setup", PROTO_FACTS_BY_TANDEM), PROTO_OK);
	ck_assert_str_eq(var(&f, "session_track_system_variables"), "*");
	ck_assert_str_eq(var(&f, "session_track_transaction_info"), "CHARACTERISTICS");
	ck_assert(!proto_facts_var_find(&f, "session_track_schema")->changed);
	ck_assert_str_eq(f.trx_state, "________");
	ck_assert_ptr_null(f.trx_chars);
	/* tandem's own statement neither marks nor counts as a client change */
	ck_assert_uint_eq(f.markers, 0);
	proto_facts_free(&f);
}
END_TEST

START_TEST(test_schema_and_variables)
{
	struct proto_facts f;
	proto_facts_init(&f, 45, NULL, 0);
	ck_assert_int_eq(apply(&f, "use_test", PROTO_FACTS_BY_CLIENT), PROTO_OK);
	ck_assert_str_eq(f.schema, "test");
	ck_assert_int_eq(apply(&f, "set_time_zone", PROTO_FACTS_BY_CLIENT), PROTO_OK);
	ck_assert_str_eq(var(&f, "time_zone"), "+02:00");
	ck_assert(proto_facts_var_find(&f, "TIME_ZONE")->changed);
	ck_assert_int_eq(apply(&f, "set_names", PROTO_FACTS_BY_CLIENT), PROTO_OK);
	ck_assert_str_eq(var(&f, "character_set_client"), "latin1");
	ck_assert_str_eq(var(&f, "character_set_connection"), "latin1");
	ck_assert_str_eq(var(&f, "character_set_results"), "latin1");
	ck_assert_uint_eq(f.nvars, 4);
	/* named changes with a state-change item are not "untracked" */
	ck_assert_uint_eq(f.markers, 0);
	proto_facts_free(&f);
}
END_TEST

START_TEST(test_autocommit_and_transactions)
{
	struct proto_facts f;
	proto_facts_init(&f, 45, NULL, 0);
	apply(&f, "autocommit_off", PROTO_FACTS_BY_CLIENT);
	ck_assert(!proto_facts_autocommit(&f));
	ck_assert_str_eq(var(&f, "autocommit"), "OFF");
	apply(&f, "autocommit_on", PROTO_FACTS_BY_CLIENT);
	ck_assert(proto_facts_autocommit(&f));

	apply(&f, "begin", PROTO_FACTS_BY_CLIENT);
	ck_assert(proto_facts_in_trans(&f));
	ck_assert_str_eq(f.trx_state, "T_______");
	ck_assert_str_eq(f.trx_chars, "START TRANSACTION;");
	apply(&f, "insert_in_trx", PROTO_FACTS_BY_CLIENT);
	ck_assert_str_eq(f.trx_state, "T___W___");
	apply(&f, "commit", PROTO_FACTS_BY_CLIENT);
	ck_assert(!proto_facts_in_trans(&f));
	ck_assert_str_eq(f.trx_state, "________");
	ck_assert_ptr_null(f.trx_chars);
	/* MariaDB reports each commit's GTID as the variable last_gtid */
	ck_assert_ptr_nonnull(f.last_gtid);
	ck_assert_int_eq(strncmp(f.last_gtid, "0-1-", 4), 0);
	ck_assert_ptr_null(proto_facts_var_find(&f, "last_gtid"));
	char first[32];
	snprintf(first, sizeof(first), "%s", f.last_gtid);
	apply(&f, "insert_autocommit", PROTO_FACTS_BY_CLIENT);
	ck_assert_str_ne(f.last_gtid, first);

	apply(&f, "start_ro", PROTO_FACTS_BY_CLIENT);
	ck_assert(proto_facts_in_trans(&f));
	ck_assert(proto_facts_read_only_trans(&f));
	ck_assert_str_eq(f.trx_chars, "START TRANSACTION READ ONLY;");
	apply(&f, "select_in_ro", PROTO_FACTS_BY_CLIENT); /* a 0xFE OK ending a result set */
	ck_assert_str_eq(f.trx_state, "T_____S_");
	apply(&f, "commit_ro", PROTO_FACTS_BY_CLIENT);
	ck_assert(!proto_facts_read_only_trans(&f));
	apply(&f, "set_isolation", PROTO_FACTS_BY_CLIENT);
	ck_assert_str_eq(f.trx_chars, "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE;");
	ck_assert_uint_eq(f.markers, 0);
	proto_facts_free(&f);
}
END_TEST

START_TEST(test_markers_from_tracking)
{
	struct proto_facts f;
	proto_facts_init(&f, 45, NULL, 0);
	/* SET @x reports only "state changed": unexplained unless classified */
	apply(&f, "set_user_var", PROTO_FACTS_BY_CLIENT | PROTO_FACTS_EXPLAINED);
	ck_assert_uint_eq(f.markers, 0);
	apply(&f, "create_temp", PROTO_FACTS_BY_CLIENT);
	ck_assert_uint_eq(f.markers, PROTO_FACTS_UNTRACKED);
	f.markers = 0;
	apply(&f, "lock_tables", PROTO_FACTS_BY_CLIENT);
	ck_assert_uint_eq(f.markers, PROTO_FACTS_LOCK_TABLES);
	apply(&f, "unlock_tables", PROTO_FACTS_BY_CLIENT);
	ck_assert_uint_eq(f.markers, 0);
	apply(&f, "set_session_track", PROTO_FACTS_BY_CLIENT);
	ck_assert_uint_eq(f.markers, PROTO_FACTS_TRACKING_OFF);
	ck_assert_str_eq(proto_facts_marker_name(PROTO_FACTS_TRACKING_OFF), "tracking_off");
	ck_assert_ptr_null(proto_facts_marker_name(3));
	proto_facts_free(&f);
}
END_TEST

START_TEST(test_markers_from_sql)
{
	struct proto_facts f;
	struct proto_sql_class c;
	proto_facts_init(&f, 45, NULL, 0);
	proto_sql_classify("SELECT GET_LOCK('a', 1)", 23, false, false, &c);
	proto_facts_apply_sql(&f, &c);
	ck_assert_uint_eq(f.markers, PROTO_FACTS_GET_LOCK);
	const char *lock = "LOCK TABLES t READ";
	proto_sql_classify(lock, strlen(lock), false, false, &c);
	proto_facts_apply_sql(&f, &c);
	ck_assert(f.markers & PROTO_FACTS_LOCK_TABLES);
	proto_sql_classify("UNLOCK TABLES", 13, false, false, &c);
	proto_facts_apply_sql(&f, &c);
	ck_assert(!(f.markers & PROTO_FACTS_LOCK_TABLES));
	const char *both = "LOCK TABLES t READ; UNLOCK TABLES";
	proto_sql_classify(both, strlen(both), false, false, &c);
	proto_facts_apply_sql(&f, &c);
	ck_assert(f.markers & PROTO_FACTS_LOCK_TABLES); /* order unknown: held */
	const char *more = "SET @a=1; CREATE TEMPORARY TABLE x (a int); PREPARE p FROM 'SELECT 1'";
	proto_sql_classify(more, strlen(more), false, false, &c);
	proto_facts_apply_sql(&f, &c);
	ck_assert(f.markers & PROTO_FACTS_USER_VARS);
	ck_assert(f.markers & PROTO_FACTS_TEMP_TABLE);
	ck_assert(f.markers & PROTO_FACTS_SQL_PREPARE);
	proto_facts_free(&f);
}
END_TEST

START_TEST(test_init_db_and_reset)
{
	struct proto_facts f;
	proto_facts_init(&f, 45, "demo", 4);
	apply(&f, "set_time_zone", PROTO_FACTS_BY_CLIENT);
	apply(&f, "begin", PROTO_FACTS_BY_CLIENT);
	apply(&f, "commit", PROTO_FACTS_BY_CLIENT);
	f.markers |= PROTO_FACTS_TEMP_TABLE;
	f.tracking = true;
	uint32_t id;
	ck_assert_int_eq(proto_facts_stmt_add(&f, 7, "SELECT 1", 8, 0, 1, &id), PROTO_OK);
	ck_assert_int_eq(proto_facts_init_db(&f, "test", 4), PROTO_OK);
	ck_assert_str_eq(f.schema, "test");
	char gtid[32];
	snprintf(gtid, sizeof(gtid), "%s", f.last_gtid);

	/* RESET_CONNECTION keeps the schema */
	ck_assert_int_eq(proto_facts_reset(&f, 45, f.schema, strlen(f.schema)), PROTO_OK);
	ck_assert_str_eq(f.schema, "test");
	ck_assert_uint_eq(f.nvars, 0);
	ck_assert_uint_eq(f.nstmts, 0);
	ck_assert_ptr_null(proto_facts_stmt_find(&f, id));
	ck_assert_uint_eq(f.markers, 0);
	ck_assert(!f.tracking);
	ck_assert_str_eq(f.trx_state, "");
	ck_assert_str_eq(f.last_gtid, gtid);
	/* the server's id is the client's again once it is free */
	uint32_t id2;
	proto_facts_stmt_add(&f, 7, NULL, 0, 0, 0, &id2);
	ck_assert_uint_eq(id2, 7);
	ck_assert_ptr_null(proto_facts_stmt_find(&f, id2)->sql);

	/* CHANGE_USER sets what the new login says */
	ck_assert_int_eq(proto_facts_reset(&f, 8, NULL, 0), PROTO_OK);
	ck_assert_ptr_null(f.schema);
	ck_assert_uint_eq(f.charset, 8);
	ck_assert_int_eq(proto_facts_init_db(&f, "", 0), PROTO_OK);
	ck_assert_ptr_null(f.schema);
	proto_facts_free(&f);
}
END_TEST

START_TEST(test_statements)
{
	struct proto_facts f;
	proto_facts_init(&f, 45, NULL, 0);
	enum { N = 1000 };
	static uint32_t ids[N];
	/* many prepares and closes, interleaved: every live id stays right */
	for (uint32_t i = 0; i < N; i++) {
		char sql[32];
		int n = snprintf(sql, sizeof(sql), "SELECT %u, ?", i);
		ck_assert_int_eq(proto_facts_stmt_add(&f, 5000 + i, sql, (size_t)n, 1, 1, &ids[i]),
				 PROTO_OK);
		ck_assert_uint_eq(ids[i], 5000 + i); /* the server's own id */
		if (i % 3 == 1)
			ck_assert(proto_facts_stmt_remove(&f, ids[i - 1]));
	}
	for (uint32_t i = 0; i < N; i++) {
		const struct proto_facts_stmt *st = proto_facts_stmt_find(&f, ids[i]);
		bool closed = i % 3 == 0 && i + 1 < N;
		if (closed) {
			ck_assert_ptr_null(st);
			continue;
		}
		ck_assert_ptr_nonnull(st);
		ck_assert_uint_eq(st->backend_id, 5000 + i);
		char sql[32];
		snprintf(sql, sizeof(sql), "SELECT %u, ?", i);
		ck_assert_str_eq(st->sql, sql);
		ck_assert_uint_eq(st->params, 1);
	}
	ck_assert(!proto_facts_stmt_remove(&f, ids[0]));
	ck_assert(!proto_facts_stmt_remove(&f, 0));
	ck_assert_ptr_null(proto_facts_stmt_find(&f, 0));
	ck_assert_ptr_null(proto_facts_stmt_find(&f, N + 5));
	ck_assert(proto_facts_stmt_rebind(&f, ids[N - 1], 42));
	ck_assert_uint_eq(proto_facts_stmt_find(&f, ids[N - 1])->backend_id, 42);
	ck_assert(!proto_facts_stmt_rebind(&f, ids[0], 42));
	/* remove everything, in an order that exercises wrapped runs */
	for (uint32_t i = N; i-- > 0;)
		proto_facts_stmt_remove(&f, ids[i]);
	ck_assert_uint_eq(f.nstmts, 0);
	proto_facts_free(&f);
}
END_TEST

START_TEST(test_statement_sql_flags)
{
	struct proto_facts f;
	proto_facts_init(&f, 45, NULL, 0);
	uint32_t a, b, c;
	const char *lock = "SELECT GET_LOCK(?, 10)";
	const char *set = "SET @total = ?";
	proto_facts_stmt_add(&f, 10, lock, strlen(lock), 1, 1, &a);
	proto_facts_stmt_add(&f, 11, set, strlen(set), 1, 0, &b);
	proto_facts_stmt_add(&f, 12, NULL, 0, 0, 0, &c);
	ck_assert_uint_eq(proto_facts_stmt_find(&f, a)->sql_flags, PROTO_SQL_GET_LOCK);
	ck_assert_uint_eq(proto_facts_stmt_find(&f, b)->sql_flags, PROTO_SQL_USER_VAR);
	ck_assert_uint_eq(proto_facts_stmt_find(&f, c)->sql_flags, 0);
	/* the kind too: the commit guard decides on it at every execution */
	ck_assert_uint_eq(proto_facts_stmt_find(&f, a)->sql_kind, PROTO_SQL_KIND_READ);
	ck_assert_uint_eq(proto_facts_stmt_find(&f, b)->sql_kind, PROTO_SQL_KIND_SET);
	ck_assert_uint_eq(proto_facts_stmt_find(&f, c)->sql_kind, PROTO_SQL_KIND_OTHER);
	uint32_t d, e;
	const char *ins = "insert into t values (?)";
	proto_facts_stmt_add(&f, 13, ins, strlen(ins), 1, 0, &d);
	proto_facts_stmt_add(&f, 14, "COMMIT", 6, 0, 0, &e);
	ck_assert_uint_eq(proto_facts_stmt_find(&f, d)->sql_kind, PROTO_SQL_KIND_WRITE);
	ck_assert_uint_eq(proto_facts_stmt_find(&f, e)->sql_kind, PROTO_SQL_KIND_COMMIT);
	proto_facts_free(&f);
}
END_TEST

START_TEST(test_statement_ids_wrap)
{
	struct proto_facts f;
	proto_facts_init(&f, 45, NULL, 0);
	uint32_t a, b, c;
	proto_facts_stmt_add(&f, 1, NULL, 0, 0, 0, &a);
	ck_assert_uint_eq(a, 1);
	/* a backend id in use (a statement prepared again after a move): the
	 * next free one after the last given */
	f.last_stmt_id = UINT32_MAX - 2;
	proto_facts_stmt_add(&f, 1, NULL, 0, 0, 0, &b);
	ck_assert_uint_eq(b, UINT32_MAX - 1);
	ck_assert_uint_eq(proto_facts_stmt_find(&f, b)->backend_id, 1);
	/* skips 0xFFFFFFFF (MariaDB's "last prepared"), 0, and 1 (in use) */
	proto_facts_stmt_add(&f, 1, NULL, 0, 0, 0, &c);
	ck_assert_uint_eq(c, 2);
	/* 0 and 0xFFFFFFFF from a backend are never a client's id */
	uint32_t d, e;
	proto_facts_stmt_add(&f, 0, NULL, 0, 0, 0, &d);
	ck_assert_uint_eq(d, 3);
	proto_facts_stmt_add(&f, UINT32_MAX, NULL, 0, 0, 0, &e);
	ck_assert_uint_eq(e, 4);
	proto_facts_free(&f);
}
END_TEST

START_TEST(test_malformed_track)
{
	struct proto_facts f;
	proto_facts_init(&f, 45, NULL, 0);
	/* a schema item whose length runs past the block */
	static const uint8_t bad[] = {0x01, 0x09, 0x08, 't', 'e'};
	ck_assert_int_lt(proto_facts_apply_track(&f, bad, sizeof(bad), PROTO_FACTS_BY_CLIENT), 0);
	ck_assert_ptr_null(f.schema);
	/* a transaction state that is not 8 characters */
	static const uint8_t badstate[] = {0x05, 0x04, 0x03, 'T', '_', '_'};
	ck_assert_int_eq(
		proto_facts_apply_track(&f, badstate, sizeof(badstate), PROTO_FACTS_BY_CLIENT),
		PROTO_E_MALFORMED);
	/* an unknown item type is skipped, the next one applied */
	static const uint8_t unknown[] = {0x7f, 0x02, 'x', 'y', 0x01, 0x03, 0x02, 'd', 'b'};
	ck_assert_int_eq(
		proto_facts_apply_track(&f, unknown, sizeof(unknown), PROTO_FACTS_BY_CLIENT),
		PROTO_OK);
	ck_assert_str_eq(f.schema, "db");
	/* every truncation of a recorded block inside an item fails cleanly;
	 * one at an item boundary is a shorter, valid block */
	uint8_t buf[4096];
	size_t n = vector("set_names", buf, sizeof(buf));
	struct proto_ok ok;
	ck_assert_int_eq(proto_ok_parse(buf, n, CAPS_TRACK, &ok), (int)n);
	const uint8_t *items = (const uint8_t *)ok.session_state.p;
	bool boundary[4096] = {false};
	struct proto_rd r;
	struct proto_track_item it;
	proto_rd_init(&r, items, ok.session_state.len);
	while (proto_track_next(&r, &it) > 0)
		boundary[r.p - items] = true;
	for (size_t cut = 1; cut < ok.session_state.len; cut++) {
		int rc = proto_facts_apply_track(&f, items, cut, PROTO_FACTS_BY_CLIENT);
		if (boundary[cut])
			ck_assert_int_eq(rc, PROTO_OK);
		else
			ck_assert_int_lt(rc, 0);
	}
	proto_facts_free(&f);
}
END_TEST

/* One SESSION_TRACK_SYSTEM_VARIABLES item, appended to b at *n. */
static void var_item(uint8_t *b, size_t *n, const char *name, const char *value)
{
	size_t nl = strlen(name), vl = strlen(value);
	b[(*n)++] = 0;
	b[(*n)++] = (uint8_t)(1 + nl + 1 + vl);
	b[(*n)++] = (uint8_t)nl;
	memcpy(b + *n, name, nl);
	*n += nl;
	b[(*n)++] = (uint8_t)vl;
	memcpy(b + *n, value, vl);
	*n += vl;
}

/* MariaDB reports SET NAMES (and SET CHARACTER SET) by the character sets
 * alone: the collation_connection recorded before is stale then, and the
 * one of a COLLATE clause is set by the caller. */
START_TEST(test_charset_without_collation)
{
	struct proto_facts f;
	proto_facts_init(&f, 45, NULL, 0);
	uint8_t b[512];
	size_t n = 0;
	var_item(b, &n, "collation_connection", "utf8mb4_unicode_ci");
	ck_assert_int_eq(proto_facts_apply_track(&f, b, n, PROTO_FACTS_BY_CLIENT), PROTO_OK);
	ck_assert_str_eq(var(&f, "collation_connection"), "utf8mb4_unicode_ci");
	/* the recorded SET NAMES latin1: three character sets, no collation */
	ck_assert_int_eq(apply(&f, "set_names", PROTO_FACTS_BY_CLIENT), PROTO_OK);
	ck_assert_ptr_null(var(&f, "collation_connection"));
	ck_assert_str_eq(var(&f, "character_set_connection"), "latin1");
	/* both in one block: the collation stays */
	n = 0;
	var_item(b, &n, "character_set_connection", "utf8mb4");
	var_item(b, &n, "collation_connection", "utf8mb4_bin");
	ck_assert_int_eq(proto_facts_apply_track(&f, b, n, PROTO_FACTS_BY_CLIENT), PROTO_OK);
	ck_assert_str_eq(var(&f, "collation_connection"), "utf8mb4_bin");
	/* tandem's own setup does not count as the client's */
	n = 0;
	var_item(b, &n, "character_set_connection", "utf8mb4");
	ck_assert_int_eq(proto_facts_apply_track(&f, b, n, PROTO_FACTS_BY_TANDEM), PROTO_OK);
	ck_assert_str_eq(var(&f, "collation_connection"), "utf8mb4_bin");
	/* a COLLATE clause, recorded by the caller, is a client change */
	ck_assert_int_eq(proto_facts_set_var(&f, "collation_connection", "latin1_bin", 10),
			 PROTO_OK);
	ck_assert_str_eq(var(&f, "collation_connection"), "latin1_bin");
	ck_assert(proto_facts_var_find(&f, "collation_connection")->changed);
	proto_facts_free(&f);
}
END_TEST

/* A cursor is open from an execution that said so until a fetch reads its
 * last row, a reset, or the statement's re-preparation elsewhere. */
START_TEST(test_cursors)
{
	struct proto_facts f;
	proto_facts_init(&f, 45, NULL, 0);
	uint32_t a, b;
	ck_assert_int_eq(proto_facts_stmt_add(&f, 7, "SELECT 1", 8, 0, 1, &a), PROTO_OK);
	ck_assert_int_eq(proto_facts_stmt_add(&f, 8, "SELECT 2", 8, 0, 1, &b), PROTO_OK);
	ck_assert_uint_eq(proto_facts_open_cursor(&f), 0);
	proto_facts_stmt_cursor(&f, b, true);
	ck_assert_uint_eq(proto_facts_open_cursor(&f), b);
	proto_facts_stmt_cursor(&f, b, false);
	ck_assert_uint_eq(proto_facts_open_cursor(&f), 0);
	proto_facts_stmt_cursor(&f, a, true);
	ck_assert(proto_facts_stmt_rebind(&f, a, 70));
	ck_assert_uint_eq(proto_facts_open_cursor(&f), 0);
	proto_facts_stmt_cursor(&f, a, true);
	ck_assert(proto_facts_stmt_remove(&f, a));
	ck_assert_uint_eq(proto_facts_open_cursor(&f), 0);
	proto_facts_stmt_cursor(&f, 99, true); /* unknown id: nothing */
	ck_assert_uint_eq(proto_facts_open_cursor(&f), 0);
	proto_facts_free(&f);
}
END_TEST

static Suite *facts_suite(void)
{
	Suite *s = suite_create("facts");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_init);
	tcase_add_test(tc, test_setup_is_baseline);
	tcase_add_test(tc, test_schema_and_variables);
	tcase_add_test(tc, test_autocommit_and_transactions);
	tcase_add_test(tc, test_markers_from_tracking);
	tcase_add_test(tc, test_markers_from_sql);
	tcase_add_test(tc, test_init_db_and_reset);
	tcase_add_test(tc, test_statements);
	tcase_add_test(tc, test_statement_sql_flags);
	tcase_add_test(tc, test_statement_ids_wrap);
	tcase_add_test(tc, test_malformed_track);
	tcase_add_test(tc, test_charset_without_collation);
	tcase_add_test(tc, test_cursors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(facts_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
