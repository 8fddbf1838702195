/*
 * test_recorded.c — the response tracker on every recorded MariaDB
 * conversation in tests/data, fed exactly as proxy/command/forward.c feeds it:
 * every exchange must complete at its last server frame, in whatever
 * pieces its bytes arrive (one byte at a time, random pieces, every
 * two-piece cut), and every OK/ERR/EOF must rebuild byte for byte. Then,
 * per command type and for both response shapes (with and without
 * CLIENT_DEPRECATE_EOF), what the tracker reports: rows, definitions,
 * results, final status flags, in-transaction state.
 *
 * TRACKLOG_DUMP=1 in the environment prints the tracker's view of every
 * exchange (for writing new expectations after re-recording).
 */
#include <stdio.h>

#include "protocol/command.h"

#include "tracklog.h"
#include "unit.h"

static const char *const files[] = {
	"cli_login",
	"cli_denied",
	"capi_login",
	"capi_sha2",
	"capi_cursor",
	"capi_change_user",
	"capi_ext",
	"capi_progress",
	"pymysql_login",
	"raw_eof_query",
	"raw_eof_stmt",
	"raw_eof_misc",
	"raw_eof_change_user_denied",
	"raw_eof_track",
	"raw_eof_infile",
	"raw_eof_big",
	"raw_deof_query",
	"raw_deof_stmt",
	"raw_deof_misc",
	"raw_deof_change_user_denied",
	"raw_deof_track",
	"raw_deof_infile",
	"raw_deof_big",
};
#define NFILES (sizeof(files) / sizeof(files[0]))

static const char *kind_name(enum proto_rt_kind k)
{
	static const char *const n[] = {"ok",     "err",  "eof",     "count",  "def",
					"row",    "cont", "prep",    "infile", "string",
					"switch", "more", "progress"};
	return (unsigned)k < sizeof(n) / sizeof(n[0]) ? n[k] : "?";
}

static void dump(const struct tracklog *l)
{
	const struct vec_frame *c = &l->v->f[vec_cmd(l->v, l->k)];
	printf("%s #%d %s len=%zu start=%d end=%d used=%zu rows=%zu defs=%zu oks=%zu eofs=%zu "
	       "errs=%zu results=%llu status=0x%04x:",
	       l->v->name, l->k, proto_cmd_name(c->payload[0]), l->stream_len, l->start_rc,
	       l->end_rc, l->used, l->rows, l->defs, l->oks, l->eofs, l->errs,
	       (unsigned long long)l->tr.results, l->tr.status);
	for (size_t i = 0; i < l->n && i < 12; i++)
		printf(" %s", kind_name(l->kind[i]));
	printf("%s\n", l->n > 12 ? " ..." : "");
}

static void assert_complete(const struct tracklog *l)
{
	const char *name = l->v->name;
	if (l->start_rc == RT_DONE) {
		/* no response: the server must have sent nothing */
		ck_assert_msg(l->stream_len == 0, "%s #%d: no response expected, %zu bytes came",
			      name, l->k, l->stream_len);
		return;
	}
	ck_assert_msg(l->start_rc == RT_MORE, "%s #%d: start %d", name, l->k, l->start_rc);
	ck_assert_msg(l->end_rc == RT_DONE, "%s #%d: ended with %d after %zu frames", name, l->k,
		      l->end_rc, l->n);
	/* complete exactly at the last frame: nothing left, nothing overrun */
	ck_assert_msg(l->used == l->stream_len, "%s #%d: done at byte %zu of %zu", name, l->k,
		      l->used, l->stream_len);
	ck_assert(!proto_tracker_busy(&l->tr));
}

START_TEST(every_exchange_completes_at_its_last_frame)
{
	bool verbose = getenv("TRACKLOG_DUMP") != NULL;
	size_t exchanges = 0;
	for (size_t i = 0; i < NFILES; i++) {
		struct vec *v = vec_load(files[i]);
		for (int k = 0; k < v->exchanges; k++) {
			struct tracklog l;
			tracklog_run(&l, v, k, NULL, NULL);
			if (verbose)
				dump(&l);
			assert_complete(&l);
			exchanges++;
		}
		vec_free(v);
	}
	ck_assert_uint_ge(exchanges, 150);
}
END_TEST

static size_t one_byte(void *arg, size_t i)
{
	return 1;
}

struct lcg {
	uint64_t x;
	size_t max;
};

static size_t random_piece(void *arg, size_t i)
{
	struct lcg *g = arg;
	g->x = g->x * 6364136223846793005ULL + 1442695040888963407ULL;
	return 1 + (size_t)((g->x >> 33) % g->max);
}

struct cut {
	size_t at;
};

static size_t two_pieces(void *arg, size_t i)
{
	struct cut *c = arg;
	return i == 0 ? c->at : SIZE_MAX / 2;
}

/* The proxy may see any prefix of a frame, down to its first byte alone. */
START_TEST(odd_splits_change_nothing)
{
	for (size_t i = 0; i < NFILES; i++) {
		struct vec *v = vec_load(files[i]);
		bool big = strstr(files[i], "_big") != NULL;
		for (int k = 0; k < v->exchanges; k++) {
			struct tracklog whole, split;
			tracklog_run(&whole, v, k, NULL, NULL);
			if (!big) {
				tracklog_run(&split, v, k, one_byte, NULL);
				ck_assert_msg(tracklog_same(&whole, &split), "%s #%d: byte by byte",
					      v->name, k);
			}
			for (uint64_t seed = 1; seed <= (big ? 3 : 8); seed++) {
				struct lcg g = {seed, big ? 3000000 : 1 + seed * 5};
				tracklog_run(&split, v, k, random_piece, &g);
				ck_assert_msg(tracklog_same(&whole, &split), "%s #%d: seed %llu",
					      v->name, k, (unsigned long long)seed);
			}
			if (whole.stream_len > 8192)
				continue;
			for (size_t at = 1; at < whole.stream_len; at++) {
				struct cut c = {at};
				tracklog_run(&split, v, k, two_pieces, &c);
				ck_assert_msg(tracklog_same(&whole, &split), "%s #%d: cut at %zu",
					      v->name, k, at);
			}
		}
		vec_free(v);
	}
}
END_TEST

/* ---------------------------------------------------------- per command */

/* The kind the last packet must be; END is a result's end: an EOF without
 * DEPRECATE_EOF, an OK (0xFE) with it. */
#define END  ((enum proto_rt_kind)100)
#define NONE ((enum proto_rt_kind)101) /* no response at all */
/* The end of a block of definitions: an EOF without DEPRECATE_EOF, the last
 * definition itself with it. */
#define DEFS_END ((enum proto_rt_kind)102)

struct want {
	int k; /* exchange */
	const char *what;
	size_t rows, defs, results;
	uint16_t status; /* tracker status at the end */
	int status_deof; /* ... with DEPRECATE_EOF when different, else SAME */
	uint16_t err;    /* the ERR that ended it, 0 for none */
	enum proto_rt_kind first, last;
};

#define SAME    (-1)
#define S_AC    SERVER_STATUS_AUTOCOMMIT
#define S_NOIDX SERVER_QUERY_NO_INDEX_USED
#define S_TRACK SERVER_SESSION_STATE_CHANGED

static void check_wants(const char *topic, const struct want *w, size_t n)
{
	for (int deof = 0; deof < 2; deof++) {
		char name[64];
		snprintf(name, sizeof(name), "raw_%s_%s", deof ? "deof" : "eof", topic);
		struct vec *v = vec_load(name);
		ck_assert_uint_eq(!!(v->caps & CLIENT_DEPRECATE_EOF), deof);
		for (size_t i = 0; i < n; i++) {
			struct tracklog l;
			tracklog_run(&l, v, w[i].k, NULL, NULL);
			const char *what = w[i].what;
			assert_complete(&l);
			if (w[i].last == NONE) {
				ck_assert_msg(l.start_rc == RT_DONE && l.n == 0, "%s %s", name,
					      what);
				continue;
			}
			ck_assert_msg(l.rows == w[i].rows, "%s %s: rows %zu", name, what, l.rows);
			ck_assert_msg(l.defs == w[i].defs, "%s %s: defs %zu", name, what, l.defs);
			ck_assert_msg(l.tr.results == w[i].results, "%s %s: results %llu", name,
				      what, (unsigned long long)l.tr.results);
			uint16_t st = deof && w[i].status_deof != SAME ? (uint16_t)w[i].status_deof
								       : w[i].status;
			ck_assert_msg(l.tr.status == st, "%s %s: status 0x%04x", name, what,
				      l.tr.status);
			ck_assert_msg(l.err_code == w[i].err, "%s %s: err %u", name, what,
				      l.err_code);
			ck_assert_msg(l.errs == (w[i].err != 0), "%s %s: %zu ERRs", name, what,
				      l.errs);
			ck_assert_msg(l.kind[0] == w[i].first, "%s %s: first %s", name, what,
				      kind_name(l.kind[0]));
			enum proto_rt_kind last = w[i].last;
			if (last == END)
				last = deof ? RT_PKT_OK : RT_PKT_EOF;
			else if (last == DEFS_END)
				last = deof ? RT_PKT_COLUMN_DEF : RT_PKT_EOF;
			ck_assert_msg(l.kind[l.n - 1] == last, "%s %s: last %s", name, what,
				      kind_name(l.kind[l.n - 1]));
			/* every fed frame but the last said "more" */
			for (size_t j = 0; j + 1 < l.n; j++)
				ck_assert_msg(l.rc[j] == RT_MORE || l.rc[j] == RT_INFILE,
					      "%s %s: frame %zu said %d", name, what, j, l.rc[j]);
			ck_assert_int_eq(l.rc[l.n - 1], RT_DONE);
		}
		vec_free(v);
	}
}

START_TEST(com_query_responses)
{
	static const struct want w[] = {
		{0, "40-row text result", 40, 6, 1, S_AC | S_NOIDX, SAME, 0, RT_PKT_COLUMN_COUNT,
		 END},
		{1, "empty result", 0, 2, 1, S_AC, SAME, 0, RT_PKT_COLUMN_COUNT, END},
		{2, "ERR 1146", 0, 0, 0, 0, SAME, 1146, RT_PKT_ERR, RT_PKT_ERR},
		{3, "INSERT", 0, 0, 1, S_AC, SAME, 0, RT_PKT_OK, RT_PKT_OK},
		{4, "4 results", 5, 4, 4, S_AC, SAME, 0, RT_PKT_COLUMN_COUNT, END},
		{5, "multi stopped by ERR", 1, 1, 1, S_AC, SAME, 1146, RT_PKT_COLUMN_COUNT,
		 RT_PKT_ERR},
		{6, "CALL, 2 result sets", 2, 3, 3, S_AC, SAME, 0, RT_PKT_COLUMN_COUNT, RT_PKT_OK},
		{7, "ERR 1242 after 4 rows", 4, 2, 0, S_AC | S_NOIDX, 0x0000, 1242,
		 RT_PKT_COLUMN_COUNT, RT_PKT_ERR},
		{8, "warning", 1, 1, 1, S_AC, SAME, 0, RT_PKT_COLUMN_COUNT, END},
		{9, "DO", 0, 0, 1, S_AC, SAME, 0, RT_PKT_OK, RT_PKT_OK},
		{10, "QUIT", 0, 0, 0, 0, SAME, 0, 0, NONE},
	};
	check_wants("query", w, sizeof(w) / sizeof(w[0]));
}
END_TEST

START_TEST(prepared_statement_responses)
{
	const uint16_t CUR = SERVER_STATUS_CURSOR_EXISTS, LAST = SERVER_STATUS_LAST_ROW_SENT;
	static const struct want w[] = {
		{0, "prepare 2 params 6 cols", 0, 8, 0, S_AC, 0x0000, 0, RT_PKT_PREPARE_OK,
		 DEFS_END},
		{1, "execute: 10 binary rows", 10, 6, 1, S_AC, SAME, 0, RT_PKT_COLUMN_COUNT, END},
		{2, "execute with cursor", 0, 6, 1, 0, SAME, 0, RT_PKT_COLUMN_COUNT, END},
		{3, "fetch 15", 15, 0, 1, 0, SAME, 0, RT_PKT_ROW, END},
		{4, "fetch 15 more", 15, 0, 1, 0, SAME, 0, RT_PKT_ROW, END},
		{5, "fetch the last 10", 10, 0, 1, 0, SAME, 0, RT_PKT_ROW, END},
		{6, "prepare INSERT", 0, 2, 0, S_AC, 0x0000, 0, RT_PKT_PREPARE_OK, DEFS_END},
		{7, "execute INSERT", 0, 0, 1, S_AC, SAME, 0, RT_PKT_OK, RT_PKT_OK},
		{8, "prepare SELECT ?", 0, 2, 0, S_AC, 0x0000, 0, RT_PKT_PREPARE_OK, DEFS_END},
		{9, "SEND_LONG_DATA", 0, 0, 0, 0, SAME, 0, 0, NONE},
		{10, "SEND_LONG_DATA", 0, 0, 0, 0, SAME, 0, 0, NONE},
		{11, "execute with long data", 1, 1, 1, S_AC, SAME, 0, RT_PKT_COLUMN_COUNT, END},
		{12, "STMT_RESET", 0, 0, 1, S_AC, SAME, 0, RT_PKT_OK, RT_PKT_OK},
		{13, "unknown statement", 0, 0, 0, 0, SAME, 1243, RT_PKT_ERR, RT_PKT_ERR},
		{14, "prepare syntax error", 0, 0, 0, 0, SAME, 1064, RT_PKT_ERR, RT_PKT_ERR},
		{15, "prepare CALL", 0, 2, 0, S_AC, 0x0000, 0, RT_PKT_PREPARE_OK, DEFS_END},
		{16, "CALL with OUT param", 1, 1, 2, S_AC, SAME, 0, RT_PKT_COLUMN_COUNT, RT_PKT_OK},
		{17, "fetch without cursor", 0, 0, 0, 0, SAME, 1421, RT_PKT_ERR, RT_PKT_ERR},
		{18, "STMT_CLOSE", 0, 0, 0, 0, SAME, 0, 0, NONE},
	};
	struct want fixed[sizeof(w) / sizeof(w[0])];
	memcpy(fixed, w, sizeof(w));
	fixed[2].status = S_AC | CUR;
	fixed[3].status = fixed[4].status = S_AC | CUR;
	fixed[5].status = S_AC | LAST;
	check_wants("stmt", fixed, sizeof(w) / sizeof(w[0]));
}
END_TEST

START_TEST(other_command_responses)
{
	static const struct want w[] = {
		{0, "PING", 0, 0, 1, S_AC, SAME, 0, RT_PKT_OK, RT_PKT_OK},
		{1, "INIT_DB", 0, 0, 1, S_AC | S_TRACK, SAME, 0, RT_PKT_OK, RT_PKT_OK},
		{2, "INIT_DB denied", 0, 0, 0, 0, SAME, 1044, RT_PKT_ERR, RT_PKT_ERR},
		{3, "FIELD_LIST", 0, 6, 1, S_AC, SAME, 0, RT_PKT_COLUMN_DEF, END},
		{4, "FIELD_LIST no table", 0, 0, 0, 0, SAME, 1146, RT_PKT_ERR, RT_PKT_ERR},
		{5, "STATISTICS", 0, 0, 0, 0, SAME, 0, RT_PKT_STRING, RT_PKT_STRING},
		{6, "SET_OPTION off", 0, 0, 1, S_AC, SAME, 0, END, END},
		{7, "SET_OPTION on", 0, 0, 1, S_AC, SAME, 0, END, END},
		{8, "REFRESH denied", 0, 0, 0, 0, SAME, 1227, RT_PKT_ERR, RT_PKT_ERR},
		{9, "RESET_CONNECTION", 0, 0, 1, S_AC, SAME, 0, RT_PKT_OK, RT_PKT_OK},
		{10, "CHANGE_USER", 0, 0, 1, S_AC | S_TRACK, SAME, 0, RT_PKT_AUTH_SWITCH,
		 RT_PKT_OK},
		{11, "CHANGE_USER sha2", 0, 0, 1, S_AC | S_TRACK, SAME, 0, RT_PKT_AUTH_SWITCH,
		 RT_PKT_OK},
		{12, "SELECT after", 1, 1, 1, S_AC, SAME, 0, RT_PKT_COLUMN_COUNT, END},
		{13, "QUIT", 0, 0, 0, 0, SAME, 0, 0, NONE},
	};
	struct want fixed[sizeof(w) / sizeof(w[0])];
	memcpy(fixed, w, sizeof(w));
	/* SET_OPTION's answer is an EOF, or an OK (0xFE) with DEPRECATE_EOF */
	fixed[6].first = fixed[7].first = RT_PKT_EOF;
	check_wants("misc", fixed, 6);
	check_wants("misc", fixed + 8, sizeof(w) / sizeof(w[0]) - 8);
	static const struct want denied[] = {
		{0, "CHANGE_USER denied", 0, 0, 0, 0, SAME, 1045, RT_PKT_AUTH_SWITCH, RT_PKT_ERR},
	};
	check_wants("change_user_denied", denied, 1);
}
END_TEST

/* SET_OPTION answers an EOF without DEPRECATE_EOF and an OK(0xFE) with it. */
START_TEST(set_option_shapes)
{
	for (int deof = 0; deof < 2; deof++) {
		struct vec *v = vec_load(deof ? "raw_deof_misc" : "raw_eof_misc");
		for (int k = 6; k <= 7; k++) {
			struct tracklog l;
			tracklog_run(&l, v, k, NULL, NULL);
			assert_complete(&l);
			ck_assert_uint_eq(l.n, 1);
			ck_assert_int_eq(l.kind[0], deof ? RT_PKT_OK : RT_PKT_EOF);
			ck_assert_uint_eq(l.tr.status, S_AC);
		}
		vec_free(v);
	}
}
END_TEST

START_TEST(local_infile_exchanges)
{
	static const struct want w[] = {
		{0, "LOAD DATA LOCAL", 0, 0, 1, S_AC, SAME, 0, RT_PKT_LOCAL_INFILE, RT_PKT_OK},
		{1, "LOAD DATA LOCAL, no file", 0, 0, 1, S_AC, SAME, 0, RT_PKT_LOCAL_INFILE,
		 RT_PKT_OK},
		{2, "SELECT; LOAD DATA; SELECT", 2, 2, 3, S_AC, SAME, 0, RT_PKT_COLUMN_COUNT, END},
	};
	check_wants("infile", w, 3);
	for (int deof = 0; deof < 2; deof++) {
		struct vec *v = vec_load(deof ? "raw_deof_infile" : "raw_eof_infile");
		struct tracklog l;
		tracklog_run(&l, v, 0, NULL, NULL);
		ck_assert_uint_eq(l.infile_requests, 1);
		ck_assert_int_eq(l.rc[0], RT_INFILE);
		ck_assert_uint_eq(l.affected_rows, 3);
		tracklog_run(&l, v, 1, NULL, NULL);
		ck_assert_uint_eq(l.affected_rows, 0);
		tracklog_run(&l, v, 2, NULL, NULL);
		ck_assert_uint_eq(l.infile_requests, 1);
		vec_free(v);
	}
}
END_TEST

START_TEST(rows_of_16mib_and_more)
{
	static const struct want w[] = {
		{0, "row of exactly 0xFFFFFF", 1, 1, 1, S_AC, SAME, 0, RT_PKT_COLUMN_COUNT, END},
		{1, "20 MB row starting 0xFE", 1, 2, 1, S_AC, SAME, 0, RT_PKT_COLUMN_COUNT, END},
		{2, "two 17 MB rows", 2, 1, 1, S_AC, SAME, 0, RT_PKT_COLUMN_COUNT, END},
		{3, "SELECT 1 after", 1, 1, 1, S_AC, SAME, 0, RT_PKT_COLUMN_COUNT, END},
	};
	check_wants("big", w, 4);
	for (int deof = 0; deof < 2; deof++) {
		struct vec *v = vec_load(deof ? "raw_deof_big" : "raw_eof_big");
		struct tracklog l;
		tracklog_run(&l, v, 0, NULL, NULL);
		/* the empty frame after the full one is a continuation, not a row */
		size_t conts = 0;
		for (size_t i = 0; i < l.n; i++)
			conts += l.kind[i] == RT_PKT_CONTINUATION;
		ck_assert_uint_eq(conts, 1);
		tracklog_run(&l, v, 2, NULL, NULL);
		conts = 0;
		for (size_t i = 0; i < l.n; i++)
			conts += l.kind[i] == RT_PKT_CONTINUATION;
		ck_assert_uint_eq(conts, 2);
		vec_free(v);
	}
}
END_TEST

START_TEST(real_client_exchanges)
{
	struct vec *v = vec_load("capi_cursor");
	ck_assert_uint_eq(v->caps >> 32, 0); /* the relay masked extended caps */
	const uint16_t CUR = SERVER_STATUS_CURSOR_EXISTS;
	static const size_t rows[] = {0, 0, 2, 2, 1, 5};
	static const uint16_t status[] = {
		S_AC, S_AC | CUR, S_AC | CUR, S_AC | CUR, S_AC | SERVER_STATUS_LAST_ROW_SENT, S_AC};
	for (int k = 0; k < 6; k++) {
		struct tracklog l;
		tracklog_run(&l, v, k, NULL, NULL);
		assert_complete(&l);
		ck_assert_uint_eq(l.rows, rows[k]);
		ck_assert_uint_eq(l.tr.status, status[k]);
	}
	struct tracklog l;
	tracklog_run(&l, v, 0, NULL, NULL);
	ck_assert_uint_eq(l.prepare.params, 2);
	ck_assert_uint_eq(l.prepare.columns, 5);
	ck_assert_uint_eq(l.prepare.stmt_id, 1);
	vec_free(v);

	/* mysql_change_user(): switch then OK; switch then ERR 1045 */
	v = vec_load("capi_change_user");
	for (int skip = 0; skip < 2; skip++) {
		tracklog_run(&l, v, vec_find(v, COM_CHANGE_USER, NULL, skip), NULL, NULL);
		assert_complete(&l);
		ck_assert_uint_eq(l.n, 2);
		ck_assert_int_eq(l.kind[0], RT_PKT_AUTH_SWITCH);
		ck_assert_int_eq(l.kind[1], skip ? RT_PKT_ERR : RT_PKT_OK);
		ck_assert_uint_eq(l.err_code, skip ? ER_ACCESS_DENIED_ERROR : 0);
	}
	vec_free(v);

	v = vec_load("pymysql_login");
	tracklog_run(&l, v, 0, NULL, NULL);
	assert_complete(&l);
	ck_assert_uint_eq(l.rows, 4);
	ck_assert_uint_eq(l.defs, 4);
	vec_free(v);
	v = vec_load("cli_login");
	tracklog_run(&l, v, 0, NULL, NULL);
	assert_complete(&l);
	ck_assert_uint_eq(l.rows, 6);
	vec_free(v);
}
END_TEST

/* One tracker for a whole session, as the proxy keeps it, and the
 * session's in-transaction and autocommit flags taken from tr.status after
 * each response (proxy/command/forward.c result_done()). */
/* MariaDB's extended capabilities, as Connector/C 3.3 negotiates them with
 * MariaDB 10.11 when nothing masks them (capi_ext, capi_progress). */
START_TEST(mariadb_extended_capabilities)
{
	struct vec *v = vec_load("capi_ext");
	const uint64_t ext = MARIADB_CLIENT_PROGRESS | MARIADB_CLIENT_STMT_BULK_OPERATIONS |
			     MARIADB_CLIENT_EXTENDED_METADATA | MARIADB_CLIENT_CACHE_METADATA;
	ck_assert_uint_eq(v->server_caps & ext, ext);
	ck_assert_uint_eq(v->caps & ext, ext);
	struct tracklog l;
	/* COM_STMT_BULK_EXECUTE of 3 rows: one OK for all */
	int k = vec_find(v, COM_STMT_BULK_EXECUTE, NULL, 0);
	ck_assert_int_ge(k, 0);
	tracklog_run(&l, v, k, NULL, NULL);
	assert_complete(&l);
	ck_assert_uint_eq(l.n, 1);
	ck_assert_int_eq(l.kind[0], RT_PKT_OK);
	ck_assert_uint_eq(l.affected_rows, 3);
	/* an execute after the prepare sent the definitions: the column count
	 * says none follow (0x02 0x00), then the EOF, the rows, the EOF */
	for (int skip = 0; skip < 2; skip++) {
		tracklog_run(&l, v, vec_find(v, COM_STMT_EXECUTE, NULL, skip), NULL, NULL);
		assert_complete(&l);
		ck_assert_uint_eq(l.defs, 0);
		ck_assert_uint_eq(l.rows, 3);
		ck_assert_uint_eq(l.eofs, 2);
		ck_assert_int_eq(l.kind[0], RT_PKT_COLUMN_COUNT);
		ck_assert_int_eq(l.kind[1], RT_PKT_EOF);
	}
	/* the text protocol: metadata follows (0x02 0x01), with extended type
	 * info in the JSON column's definition */
	tracklog_run(&l, v, vec_find(v, COM_QUERY, "SELECT id, doc", 0), NULL, NULL);
	assert_complete(&l);
	ck_assert_uint_eq(l.defs, 2);
	ck_assert_uint_eq(l.rows, 3);
	/* without metadata caching the same bytes would not frame: the byte
	 * after the count is no definition */
	struct vec *w = vec_load("capi_ext");
	w->caps &= ~MARIADB_CLIENT_CACHE_METADATA;
	tracklog_run(&l, w, vec_find(w, COM_STMT_EXECUTE, NULL, 0), NULL, NULL);
	ck_assert_int_lt(l.end_rc, 0);
	vec_free(w);
	vec_free(v);

	/* progress reports: ERR-shaped 0xFFFF packets are not the end */
	v = vec_load("capi_progress");
	ck_assert(v->caps & MARIADB_CLIENT_PROGRESS);
	k = vec_find(v, COM_QUERY, "ALTER TABLE", 0);
	tracklog_run(&l, v, k, NULL, NULL);
	assert_complete(&l);
	ck_assert_uint_ge(l.n, 2);
	for (size_t i = 0; i + 1 < l.n; i++)
		ck_assert_int_eq(l.kind[i], RT_PKT_PROGRESS);
	ck_assert_int_eq(l.kind[l.n - 1], RT_PKT_OK);
	ck_assert_uint_eq(l.errs, 0);
	ck_assert_uint_eq(l.affected_rows, 400000);
	vec_free(v);
}
END_TEST

START_TEST(transaction_state_through_a_session)
{
	static const struct {
		bool in_trans, autocommit, read_only;
	} after[] = {
		{false, true, false},  /* SET session_track_system_variables */
		{false, true, false},  /* SET session_track_state_change */
		{false, true, false},  /* SET session_track_transaction_info */
		{false, true, false},  /* USE test */
		{false, false, false}, /* SET autocommit=0 */
		{true, false, false},  /* INSERT: a transaction began implicitly */
		{false, false, false}, /* COMMIT */
		{false, true, false},  /* SET autocommit=1 */
		{true, true, true},    /* START TRANSACTION READ ONLY */
		{true, true, true},    /* SELECT COUNT(*) inside it */
		{false, true, false},  /* COMMIT */
		{false, true, false},  /* SET TRANSACTION ISOLATION LEVEL */
		{false, true, false},  /* SET @codec_var */
		{false, true, false},  /* SET NAMES */
		{false, true, false},  /* BEGIN; INSERT; COMMIT */
		{false, true, false},  /* ERR 1193: unchanged */
	};
	for (int deof = 0; deof < 2; deof++) {
		struct vec *v = vec_load(deof ? "raw_deof_track" : "raw_eof_track");
		struct proto_tracker tr;
		proto_tracker_init(&tr, v->caps);
		for (int k = 0; k < 16; k++) {
			const struct vec_frame *c = &v->f[vec_cmd(v, k)];
			ck_assert_int_eq(proto_tracker_start(&tr, c->payload, c->payload_len),
					 RT_MORE);
			size_t len, used;
			const uint8_t *s = vec_server_stream(v, k, &len, NULL);
			struct rtdrive d;
			rtdrive_init(&d, &tr, NULL, NULL);
			ck_assert_int_eq(rtdrive_scan(&d, s, len, &used), RT_DONE);
			ck_assert_uint_eq(used, len);
			ck_assert_msg(!!(tr.status & SERVER_STATUS_IN_TRANS) == after[k].in_trans,
				      "%s #%d: in_trans", v->name, k);
			ck_assert_msg(!!(tr.status & SERVER_STATUS_AUTOCOMMIT) ==
					      after[k].autocommit,
				      "%s #%d: autocommit", v->name, k);
			ck_assert_msg(!!(tr.status & SERVER_STATUS_IN_TRANS_READONLY) ==
					      after[k].read_only,
				      "%s #%d: read only", v->name, k);
		}
		vec_free(v);
	}
}
END_TEST

static Suite *recorded_suite(void)
{
	Suite *s = suite_create("recorded");
	TCase *tc = tcase_create("generic");
	tcase_add_test(tc, every_exchange_completes_at_its_last_frame);
	tcase_add_test(tc, odd_splits_change_nothing);
	suite_add_tcase(s, tc);
	tc = tcase_create("per_command");
	tcase_add_test(tc, com_query_responses);
	tcase_add_test(tc, prepared_statement_responses);
	tcase_add_test(tc, other_command_responses);
	tcase_add_test(tc, set_option_shapes);
	tcase_add_test(tc, local_infile_exchanges);
	tcase_add_test(tc, rows_of_16mib_and_more);
	tcase_add_test(tc, real_client_exchanges);
	tcase_add_test(tc, mariadb_extended_capabilities);
	tcase_add_test(tc, transaction_state_through_a_session);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(recorded_suite)
