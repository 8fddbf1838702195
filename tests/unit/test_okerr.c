/*
 * test_okerr.c — protocol/okerr.h: OK (with and without session tracking),
 * ERR, EOF and the session-state items, on recorded MariaDB packets and on
 * built, truncated and malformed ones.
 */
#include <stdio.h>

#include "unit.h"

#include "protocol/okerr.h"

/* The last server frame of exchange k (-1: the login's OK). */
static const struct vec_frame *last_server_frame(const struct vec *v, int k)
{
	const struct vec_frame *f = NULL;
	for (size_t i = 0; i < v->n; i++)
		if (v->f[i].exchange == k && v->f[i].dir == 'S')
			f = &v->f[i];
	ck_assert_ptr_nonnull(f);
	return f;
}

START_TEST(ok_after_login)
{
	/* with CLIENT_SESSION_TRACK: the default schema is reported */
	struct vec *v = vec_load("cli_login");
	const struct vec_frame *f = last_server_frame(v, -1);
	struct proto_ok ok;
	ck_assert_int_eq(proto_ok_parse(f->payload, f->payload_len, v->caps, &ok),
			 (int)f->payload_len);
	ck_assert_uint_eq(ok.header, PROTO_OK_HEADER);
	ck_assert_uint_eq(ok.affected_rows, 0);
	ck_assert_uint_eq(ok.last_insert_id, 0);
	ck_assert_uint_eq(ok.status, SERVER_STATUS_AUTOCOMMIT | SERVER_SESSION_STATE_CHANGED);
	ck_assert_uint_eq(ok.warnings, 0);
	ck_assert_uint_eq(ok.info.len, 0);
	ck_assert_hex(ok.session_state.p, ok.session_state.len, "01050474657374");
	struct proto_rd r;
	struct proto_track_item it;
	proto_rd_init(&r, ok.session_state.p, ok.session_state.len);
	ck_assert_int_eq(proto_track_next(&r, &it), 7);
	ck_assert_uint_eq(it.type, SESSION_TRACK_SCHEMA);
	ck_assert(proto_str_eq(it.value, "test"));
	ck_assert_int_eq(proto_track_next(&r, &it), 0);
	vec_free(v);

	/* PyMySQL does not track sessions: a 7-byte OK */
	v = vec_load("pymysql_login");
	f = last_server_frame(v, -1);
	ck_assert_hex(f->payload, f->payload_len, "00000002000000");
	ck_assert_int_eq(proto_ok_parse(f->payload, f->payload_len, v->caps, &ok), 7);
	ck_assert_uint_eq(ok.status, SERVER_STATUS_AUTOCOMMIT);
	ck_assert_uint_eq(ok.session_state.len, 0);
	vec_free(v);
}
END_TEST

START_TEST(ok_with_rows_and_info)
{
	struct vec *v = vec_load("raw_eof_query");
	const struct vec_frame *f = last_server_frame(v, 3); /* INSERT of 2 rows */
	struct proto_ok ok;
	ck_assert_int_gt(proto_ok_parse(f->payload, f->payload_len, v->caps, &ok), 0);
	ck_assert_uint_eq(ok.affected_rows, 2);
	ck_assert(proto_str_eq(ok.info, "Records: 2  Duplicates: 0  Warnings: 0"));
	vec_free(v);
	v = vec_load("raw_eof_infile");
	f = last_server_frame(v, 0); /* LOAD DATA LOCAL of 3 lines */
	ck_assert_int_gt(proto_ok_parse(f->payload, f->payload_len, v->caps, &ok), 0);
	ck_assert_uint_eq(ok.affected_rows, 3);
	ck_assert(proto_str_eq(ok.info, "Records: 3  Deleted: 0  Skipped: 0  Warnings: 0"));
	vec_free(v);
	/* the OK (0xFE) that ends rows with DEPRECATE_EOF */
	v = vec_load("raw_deof_query");
	f = last_server_frame(v, 0);
	ck_assert_hex(f->payload, f->payload_len, "fe000022000000");
	ck_assert_int_eq(proto_ok_parse(f->payload, f->payload_len, v->caps, &ok), 7);
	ck_assert_uint_eq(ok.header, PROTO_EOF_HEADER);
	ck_assert_uint_eq(ok.status, SERVER_STATUS_AUTOCOMMIT | SERVER_QUERY_NO_INDEX_USED);
	vec_free(v);
}
END_TEST

/* Cut the login OK everywhere: it may end after the warnings, or after the
 * info; a session-state block must be whole. Without session tracking any
 * cut after the warnings is a shorter info. */
START_TEST(ok_truncated)
{
	struct vec *v = vec_load("cli_login");
	const struct vec_frame *f = last_server_frame(v, -1);
	struct proto_ok ok;
	for (size_t n = 0; n < f->payload_len; n++) {
		int rc = proto_ok_parse(f->payload, n, v->caps, &ok);
		if (n == 7 || n == 8)
			ck_assert_msg(rc == (int)n, "prefix %zu: %d", n, rc);
		else
			ck_assert_msg(rc == PROTO_E_TRUNCATED, "prefix %zu: %d", n, rc);
	}
	for (size_t n = 7; n <= f->payload_len; n++) {
		ck_assert_int_eq(proto_ok_parse(f->payload, n, 0, &ok), (int)n);
		ck_assert_uint_eq(ok.info.len, n - 7);
	}
	vec_free(v);
}
END_TEST

START_TEST(ok_malformed)
{
	struct proto_ok ok;
	ck_assert_int_eq(proto_ok_parse((const uint8_t *)"\x01\x00\x00\x02\x00\x00\x00", 7, 0, &ok),
			 PROTO_E_MALFORMED);
	ck_assert_int_eq(proto_ok_parse((const uint8_t *)"\xff\x00\x00\x02\x00\x00\x00", 7, 0, &ok),
			 PROTO_E_MALFORMED);
	ck_assert_int_eq(proto_ok_parse((const uint8_t *)"\x00\xff\x00\x02\x00\x00\x00", 7, 0, &ok),
			 PROTO_E_MALFORMED);
	ck_assert_int_eq(proto_ok_parse((const uint8_t *)"\x00\x00\xfb\x02\x00\x00\x00", 7, 0, &ok),
			 PROTO_E_MALFORMED);
	/* an 8-byte affected-rows count */
	const uint8_t wide[] = {0x00, 0xfe, 1, 2, 3, 4, 5, 6, 7, 8, 0x00, 0x02, 0x00, 0x00, 0x00};
	ck_assert_int_eq(proto_ok_parse(wide, sizeof(wide), 0, &ok), (int)sizeof(wide));
	ck_assert_uint_eq(ok.affected_rows, 0x0807060504030201ULL);
	/* session state claims more than is there */
	const uint8_t st[] = {0x00, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x09, 0x01, 0x00};
	ck_assert_int_eq(proto_ok_parse(st, sizeof(st), CLIENT_SESSION_TRACK, &ok),
			 PROTO_E_TRUNCATED);
}
END_TEST

START_TEST(ok_build_round_trip)
{
	static const uint64_t caps[] = {0, CLIENT_SESSION_TRACK};
	for (size_t c = 0; c < 2; c++) {
		struct proto_ok in = {0}, out;
		in.header = PROTO_OK_HEADER;
		in.affected_rows = 70000;
		in.last_insert_id = 1ULL << 40;
		in.status = SERVER_STATUS_IN_TRANS | SERVER_SESSION_STATE_CHANGED;
		in.warnings = 3;
		in.info = (struct proto_str){"Rows matched: 1", 15};
		in.session_state = (struct proto_str){"\x01\x03\x02\x64\x62", 5};
		uint8_t buf[128];
		struct proto_wr w;
		proto_wr_init(&w, buf, sizeof(buf));
		ck_assert_int_eq(proto_ok_build(&w, 1, &in, caps[c]), PROTO_OK);
		ck_assert_int_eq(proto_ok_parse(buf + 4, w.len - 4, caps[c], &out),
				 (int)(w.len - 4));
		ck_assert_uint_eq(out.affected_rows, 70000);
		ck_assert_uint_eq(out.last_insert_id, 1ULL << 40);
		ck_assert_uint_eq(out.warnings, 3);
		ck_assert(proto_str_eq(out.info, "Rows matched: 1"));
		if (caps[c]) {
			ck_assert_uint_eq(out.status, in.status);
			ck_assert_uint_eq(out.session_state.len, 5);
		} else {
			/* no tracking negotiated: no state, and no flag saying there is */
			ck_assert_uint_eq(out.status, SERVER_STATUS_IN_TRANS);
			ck_assert_uint_eq(out.session_state.len, 0);
		}
	}
	/* the flag without state is dropped too */
	struct proto_ok in = {0}, out;
	in.status = SERVER_SESSION_STATE_CHANGED | SERVER_STATUS_AUTOCOMMIT;
	in.info.p = in.session_state.p = "";
	uint8_t buf[64];
	struct proto_wr w;
	proto_wr_init(&w, buf, sizeof(buf));
	ck_assert_int_eq(proto_ok_build(&w, 2, &in, CLIENT_SESSION_TRACK), PROTO_OK);
	ck_assert_hex(buf, w.len,
		      "07000002"
		      "00000002000000");
	ck_assert_int_gt(proto_ok_parse(buf + 4, w.len - 4, CLIENT_SESSION_TRACK, &out), 0);
	ck_assert_uint_eq(out.status, SERVER_STATUS_AUTOCOMMIT);
	proto_wr_init(&w, buf, 8);
	ck_assert_int_eq(proto_ok_build(&w, 2, &in, 0), PROTO_E_NOSPACE);
}
END_TEST

START_TEST(err_recorded)
{
	struct vec *v = vec_load("raw_eof_query");
	const struct vec_frame *f = last_server_frame(v, 2);
	struct proto_err_pkt e;
	ck_assert_int_eq(proto_err_parse(f->payload, f->payload_len, v->caps, &e),
			 (int)f->payload_len);
	ck_assert_uint_eq(e.code, 1146);
	ck_assert_str_eq(e.sqlstate, "42S02");
	ck_assert(proto_str_eq(e.message, "Table 'test.no_such_table' doesn't exist"));
	vec_free(v);
	v = vec_load("cli_denied");
	f = last_server_frame(v, -1);
	ck_assert_int_gt(proto_err_parse(f->payload, f->payload_len, v->caps, &e), 0);
	ck_assert_uint_eq(e.code, ER_ACCESS_DENIED_ERROR);
	ck_assert_str_eq(e.sqlstate, "28000");
	ck_assert(proto_str_eq(e.message,
			       "Access denied for user 'app'@'127.0.0.1' (using password: YES)"));
	/* rebuilt byte for byte */
	uint8_t buf[256];
	char msg[128];
	snprintf(msg, sizeof(msg), "%.*s", (int)e.message.len, e.message.p);
	struct proto_wr w;
	proto_wr_init(&w, buf, sizeof(buf));
	ck_assert_int_eq(proto_err_build(&w, f->seq, e.code, e.sqlstate, msg), PROTO_OK);
	ck_assert_uint_eq(w.len, f->len);
	ck_assert_mem_eq(buf, f->bytes, f->len);
	vec_free(v);
}
END_TEST

START_TEST(err_shapes)
{
	struct proto_err_pkt e;
	/* no SQLSTATE marker (errors sent before the handshake): HY000 */
	ck_assert_int_eq(proto_err_parse((const uint8_t *)"\xff\x69\x04Host blocked", 15, 0, &e),
			 15);
	ck_assert_uint_eq(e.code, 1129);
	ck_assert_str_eq(e.sqlstate, "HY000");
	ck_assert(proto_str_eq(e.message, "Host blocked"));
	/* a '#' without a whole SQLSTATE is message text */
	ck_assert_int_eq(proto_err_parse((const uint8_t *)"\xff\x01\x00#42", 6, 0, &e), 6);
	ck_assert_str_eq(e.sqlstate, "HY000");
	ck_assert(proto_str_eq(e.message, "#42"));
	/* SQLSTATE and an empty message */
	ck_assert_int_eq(proto_err_parse((const uint8_t *)"\xff\x01\x00#42000", 9, 0, &e), 9);
	ck_assert_str_eq(e.sqlstate, "42000");
	ck_assert_uint_eq(e.message.len, 0);
	/* truncated, malformed */
	ck_assert_int_eq(proto_err_parse((const uint8_t *)"", 0, 0, &e), PROTO_E_TRUNCATED);
	ck_assert_int_eq(proto_err_parse((const uint8_t *)"\xff", 1, 0, &e), PROTO_E_TRUNCATED);
	ck_assert_int_eq(proto_err_parse((const uint8_t *)"\xff\x01", 2, 0, &e), PROTO_E_TRUNCATED);
	ck_assert_int_eq(proto_err_parse((const uint8_t *)"\x00\x01\x00", 3, 0, &e),
			 PROTO_E_MALFORMED);
}
END_TEST

START_TEST(err_build)
{
	uint8_t buf[1024];
	struct proto_wr w;
	struct proto_err_pkt e;
	proto_wr_init(&w, buf, sizeof(buf));
	ck_assert_int_eq(proto_err_build(&w, 1, 1047, "08S01", "Unknown command"), PROTO_OK);
	ck_assert_hex(buf, w.len,
		      "18000001"
		      "ff1704"
		      "233038533031"
		      "556e6b6e6f776e20636f6d6d616e64");
	/* a missing or ill-sized SQLSTATE becomes HY000 */
	proto_wr_init(&w, buf, sizeof(buf));
	ck_assert_int_eq(proto_err_build(&w, 1, 2013, NULL, "lost"), PROTO_OK);
	ck_assert_int_gt(proto_err_parse(buf + 4, w.len - 4, 0, &e), 0);
	ck_assert_str_eq(e.sqlstate, "HY000");
	proto_wr_init(&w, buf, sizeof(buf));
	ck_assert_int_eq(proto_err_build(&w, 1, 2013, "4200", "lost"), PROTO_OK);
	ck_assert_int_gt(proto_err_parse(buf + 4, w.len - 4, 0, &e), 0);
	ck_assert_str_eq(e.sqlstate, "HY000");
	/* the message is cut at 512 bytes */
	char longmsg[700];
	memset(longmsg, 'm', sizeof(longmsg) - 1);
	longmsg[sizeof(longmsg) - 1] = 0;
	proto_wr_init(&w, buf, sizeof(buf));
	ck_assert_int_eq(proto_err_build(&w, 1, 1, "HY000", longmsg), PROTO_OK);
	ck_assert_int_gt(proto_err_parse(buf + 4, w.len - 4, 0, &e), 0);
	ck_assert_uint_eq(e.message.len, 512);
	proto_wr_init(&w, buf, 12);
	ck_assert_int_eq(proto_err_build(&w, 1, 1, "HY000", "message"), PROTO_E_NOSPACE);
}
END_TEST

START_TEST(eof_parse_and_build)
{
	struct vec *v = vec_load("raw_eof_query");
	const struct vec_frame *f = last_server_frame(v, 0);
	struct proto_eof eof;
	ck_assert_int_eq(proto_eof_parse(f->payload, f->payload_len, &eof), 5);
	ck_assert_uint_eq(eof.status, SERVER_STATUS_AUTOCOMMIT | SERVER_QUERY_NO_INDEX_USED);
	ck_assert_uint_eq(eof.warnings, 0);
	ck_assert(proto_is_eof(f->payload, f->payload_len));
	uint8_t buf[16];
	struct proto_wr w;
	proto_wr_init(&w, buf, sizeof(buf));
	ck_assert_int_eq(proto_eof_build(&w, f->seq, &eof), PROTO_OK);
	ck_assert_mem_eq(buf, f->bytes, f->len);
	vec_free(v);
	/* a pre-4.1 EOF is the marker alone */
	ck_assert_int_eq(proto_eof_parse((const uint8_t *)"\xfe", 1, &eof), 1);
	ck_assert_uint_eq(eof.status, 0);
	ck_assert_int_eq(proto_eof_parse((const uint8_t *)"", 0, &eof), PROTO_E_TRUNCATED);
	ck_assert_int_eq(proto_eof_parse((const uint8_t *)"\x00\x00\x00\x02\x00", 5, &eof),
			 PROTO_E_MALFORMED);
	ck_assert_int_eq(
		proto_eof_parse((const uint8_t *)"\xfe\x00\x00\x02\x00\x00\x00\x00\x00", 9, &eof),
		PROTO_E_MALFORMED);
	ck_assert(!proto_is_eof((const uint8_t *)"\xfe\x00\x00\x02\x00\x00\x00\x00\x00", 9));
	ck_assert(proto_is_eof((const uint8_t *)"\xfe\x00\x00\x02\x00\x00\x00\x00", 8));
	ck_assert(!proto_is_eof((const uint8_t *)"\x00", 1));
	ck_assert(!proto_is_eof((const uint8_t *)"", 0));
}
END_TEST

/* "type:name=value" for comparing items; '*' at the end of an expected
 * item matches any rest (GTIDs change with every recording). */
static void format_item(const struct proto_track_item *it, char *out, size_t cap)
{
	snprintf(out, cap, "%u:%.*s=%.*s", it->type, (int)it->name.len, it->name.p,
		 (int)it->value.len, it->value.p);
}

static void assert_items(const struct proto_str state, const char *const *want, size_t n,
			 const char *what)
{
	struct proto_rd r;
	struct proto_track_item it;
	size_t i = 0;
	int rc;
	proto_rd_init(&r, state.p, state.len);
	while ((rc = proto_track_next(&r, &it)) > 0) {
		char got[256];
		format_item(&it, got, sizeof(got));
		ck_assert_msg(i < n, "%s: extra item %s", what, got);
		size_t wl = strlen(want[i]);
		if (want[i][wl - 1] == '*')
			ck_assert_msg(strncmp(got, want[i], wl - 1) == 0, "%s: %s", what, got);
		else
			ck_assert_msg(strcmp(got, want[i]) == 0, "%s: item %zu is %s", what, i,
				      got);
		i++;
	}
	ck_assert_msg(rc == 0, "%s: item %zu: %d", what, i, rc);
	ck_assert_msg(i == n, "%s: %zu items", what, i);
}

START_TEST(track_items_recorded)
{
	static const struct {
		int k;
		const char *items[4];
		size_t n;
	} cases[] = {
		{0, {"0:session_track_system_variables=*"}, 1},
		{1, {"0:session_track_state_change=ON", "2:=1"}, 2},
		{2,
		 {"0:session_track_transaction_info=CHARACTERISTICS", "2:=1", "5:=________", "4:="},
		 4},
		{3, {"1:=test", "2:=1"}, 2},
		{4, {"0:autocommit=OFF", "2:=1"}, 2},
		{5, {"5:=I___W___"}, 1},
		{6, {"0:last_gtid=0-1-*", "5:=________"}, 2},
		{7, {"0:autocommit=ON", "2:=1"}, 2},
		{8, {"5:=T_______", "4:=START TRANSACTION READ ONLY;"}, 2},
		{10, {"5:=________", "4:="}, 2},
		{11, {"4:=SET TRANSACTION ISOLATION LEVEL SERIALIZABLE;"}, 1},
		{12, {"2:=1"}, 1},
		{13,
		 {"0:character_set_connection=latin1", "0:character_set_client=latin1",
		  "0:character_set_results=latin1", "2:=1"},
		 4},
	};
	for (int deof = 0; deof < 2; deof++) {
		struct vec *v = vec_load(deof ? "raw_deof_track" : "raw_eof_track");
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			const struct vec_frame *f = last_server_frame(v, cases[i].k);
			struct proto_ok ok;
			ck_assert_int_gt(proto_ok_parse(f->payload, f->payload_len, v->caps, &ok),
					 0);
			ck_assert(ok.status & SERVER_SESSION_STATE_CHANGED);
			char what[96];
			snprintf(what, sizeof(what), "%s #%d", v->name, cases[i].k);
			assert_items(ok.session_state, cases[i].items, cases[i].n, what);
		}
		vec_free(v);
	}
	/* with DEPRECATE_EOF the OK that ends a result set carries state too */
	struct vec *v = vec_load("raw_deof_track");
	const struct vec_frame *f = last_server_frame(v, 9);
	struct proto_ok ok;
	ck_assert_int_gt(proto_ok_parse(f->payload, f->payload_len, v->caps, &ok), 0);
	ck_assert_uint_eq(ok.header, PROTO_EOF_HEADER);
	static const char *const in_select[] = {"5:=T_R___S_"};
	assert_items(ok.session_state, in_select, 1, "deof SELECT in trx");
	vec_free(v);
}
END_TEST

/* One recorded OK (raw_deof_track #13: SET NAMES latin1 under '*'),
 * filtered to what a client's own settings name. */
START_TEST(track_filter_views)
{
	struct vec *v = vec_load("raw_deof_track");
	const struct vec_frame *f = last_server_frame(v, 13);
	struct proto_ok ok;
	ck_assert_int_gt(proto_ok_parse(f->payload, f->payload_len, v->caps, &ok), 0);
	const uint8_t *items = (const uint8_t *)ok.session_state.p;
	size_t n = ok.session_state.len;
	uint8_t out[512];
	ck_assert_uint_le(n, sizeof(out));

	/* MariaDB's defaults: the two variables in the list, no state change */
	struct proto_track_view def = {
		.sysvars = "autocommit, character_set_client,character_set_connection,"
			   "character_set_results,time_zone",
		.schema = true};
	int kept = proto_track_filter(&def, NULL, items, n, out);
	ck_assert_int_gt(kept, 0);
	static const char *const want_def[] = {"0:character_set_connection=latin1",
					       "0:character_set_client=latin1",
					       "0:character_set_results=latin1"};
	struct proto_str got = {(const char *)out, (size_t)kept};
	assert_items(got, want_def, 3, "defaults");

	/* everything: the block unchanged, byte for byte */
	struct proto_track_view all = {.sysvars = "*",
				       .schema = true,
				       .state_change = true,
				       .trx = PROTO_TRACK_TRX_CHARACTERISTICS};
	ck_assert_int_eq(proto_track_filter(&all, NULL, items, n, out), (int)n);
	ck_assert_mem_eq(out, items, n);

	/* nothing tracked: nothing kept; a name matches case-insensitively,
	 * never by prefix */
	struct proto_track_view none = {0};
	ck_assert_int_eq(proto_track_filter(&none, NULL, items, n, out), 0);
	struct proto_track_view one = {.sysvars = "CHARACTER_SET_CLIENT,character_set"};
	kept = proto_track_filter(&one, NULL, items, n, out);
	got.len = (size_t)kept;
	assert_items(got, want_def + 1, 1, "one variable");
	/* a statement that changed the settings: what either side tracks */
	struct proto_track_view sc = {.state_change = true};
	kept = proto_track_filter(&one, &sc, items, n, out);
	static const char *const want_either[] = {"0:character_set_client=latin1", "2:=1"};
	got.len = (size_t)kept;
	assert_items(got, want_either, 2, "either view");
	ck_assert(proto_track_has(items, n, SESSION_TRACK_STATE_CHANGE));
	ck_assert(!proto_track_has(items, n, SESSION_TRACK_SCHEMA));
	vec_free(v);

	/* transaction items follow session_track_transaction_info */
	const uint8_t trx[] = {0x04, 0x01, 0x00, 0x05, 0x09, 0x08, 'T', '_', '_', '_', '_',
			       '_',  '_',  '_',  0x01, 0x05, 0x04, 't', 'e', 's', 't'};
	struct proto_track_view st = {.trx = PROTO_TRACK_TRX_STATE};
	ck_assert_int_eq(proto_track_filter(&st, NULL, trx, sizeof(trx), out), 11);
	ck_assert_mem_eq(out, trx + 3, 11);
	struct proto_track_view ch = {.trx = PROTO_TRACK_TRX_CHARACTERISTICS, .schema = true};
	ck_assert_int_eq(proto_track_filter(&ch, NULL, trx, sizeof(trx), out), (int)sizeof(trx));
	/* malformed blocks are refused */
	ck_assert_int_lt(proto_track_filter(&all, NULL, trx, 5, out), 0);
}
END_TEST

START_TEST(track_items_synthetic)
{
	/* GTIDS: an encoding byte, then the GTID text (MySQL's format) */
	const uint8_t gt[] = {0x03, 0x07, 0x00, 0x05, '0', '-', '1', '-', '5'};
	/* an unknown type comes back raw */
	const uint8_t unk[] = {0x20, 0x02, 0xaa, 0xbb};
	struct proto_rd r;
	struct proto_track_item it;
	proto_rd_init(&r, gt, sizeof(gt));
	ck_assert_int_eq(proto_track_next(&r, &it), 9);
	ck_assert_uint_eq(it.type, SESSION_TRACK_GTIDS);
	ck_assert(proto_str_eq(it.value, "0-1-5"));
	/* STATE_CHANGE: the flag byte is the whole data */
	const uint8_t sc[] = {0x02, 0x01, '1'};
	proto_rd_init(&r, sc, sizeof(sc));
	ck_assert_int_eq(proto_track_next(&r, &it), 3);
	ck_assert_uint_eq(it.type, SESSION_TRACK_STATE_CHANGE);
	ck_assert(proto_str_eq(it.value, "1"));
	proto_rd_init(&r, unk, sizeof(unk));
	ck_assert_int_eq(proto_track_next(&r, &it), 4);
	ck_assert_uint_eq(it.type, 0x20);
	ck_assert_hex(it.value.p, it.value.len, "aabb");
	/* malformed: data longer than the block, a name longer than the data,
	 * an empty GTID item */
	const uint8_t past[] = {0x01, 0x09, 0x04, 't'};
	const uint8_t inner[] = {0x00, 0x03, 0x09, 'a', 'b'};
	const uint8_t nogtid[] = {0x03, 0x00};
	proto_rd_init(&r, past, sizeof(past));
	ck_assert_int_eq(proto_track_next(&r, &it), PROTO_E_TRUNCATED);
	ck_assert_int_eq(proto_track_next(&r, &it), PROTO_E_TRUNCATED); /* sticky */
	proto_rd_init(&r, inner, sizeof(inner));
	ck_assert_int_eq(proto_track_next(&r, &it), PROTO_E_TRUNCATED);
	proto_rd_init(&r, nogtid, sizeof(nogtid));
	ck_assert_int_eq(proto_track_next(&r, &it), PROTO_E_TRUNCATED);
	proto_rd_init(&r, gt, 1);
	ck_assert_int_eq(proto_track_next(&r, &it), PROTO_E_TRUNCATED);
	proto_rd_init(&r, gt, 0);
	ck_assert_int_eq(proto_track_next(&r, &it), 0);
}
END_TEST

static Suite *okerr_suite(void)
{
	Suite *s = suite_create("okerr");
	TCase *tc = tcase_create("okerr");
	tcase_add_test(tc, ok_after_login);
	tcase_add_test(tc, ok_with_rows_and_info);
	tcase_add_test(tc, ok_truncated);
	tcase_add_test(tc, ok_malformed);
	tcase_add_test(tc, ok_build_round_trip);
	tcase_add_test(tc, err_recorded);
	tcase_add_test(tc, err_shapes);
	tcase_add_test(tc, err_build);
	tcase_add_test(tc, eof_parse_and_build);
	tcase_add_test(tc, track_items_recorded);
	tcase_add_test(tc, track_items_synthetic);
	tcase_add_test(tc, track_filter_views);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(okerr_suite)
