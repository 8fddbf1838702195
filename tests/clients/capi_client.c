/*
 * capi_client.c — a MariaDB Connector/C client for the integration tests
 * (tests/integration/test_clients_capi.py): one scenario per run, against
 * tandem or a server directly. Each scenario checks its own round trips
 * (what went in must come back) and prints what it saw in a stable text
 * form, so a test can also compare a run through tandem with a direct one.
 *
 * Usage: capi_client HOST PORT USER PASSWORD DB SCENARIO
 * Scenarios: text, types, multi, longdata, cursor, reset, many, hold,
 * bulk (COM_STMT_BULK_EXECUTE), meta (metadata caching, extended type
 * info), progress (progress reports), big (a 16 MiB+ row, many rows),
 * move (prepared, bulk and cached metadata across a switchover),
 * change_user (COM_CHANGE_USER, right and wrong password).
 * CAPI_COMPRESS=1 in the environment turns on MYSQL_OPT_COMPRESS.
 * Exit status 0 when every check held; 1 with "FAIL: ..." on stderr when
 * one did not; 2 for a usage or connection error.
 */
#include <mysql.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static MYSQL *db;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "FAIL: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

static void query(const char *sql)
{
	if (mysql_query(db, sql))
		fail("%s: %u (%s) %s", sql, mysql_errno(db), mysql_sqlstate(db), mysql_error(db));
	MYSQL_RES *r = mysql_store_result(db);
	if (r)
		mysql_free_result(r);
}

static MYSQL_STMT *prepare(const char *sql)
{
	MYSQL_STMT *st = mysql_stmt_init(db);
	if (!st)
		fail("mysql_stmt_init");
	if (mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql)))
		fail("prepare %s: %u %s", sql, mysql_stmt_errno(st), mysql_stmt_error(st));
	return st;
}

static void stmt_check(MYSQL_STMT *st, int rc, const char *what)
{
	if (rc)
		fail("%s: %u (%s) %s", what, mysql_stmt_errno(st), mysql_stmt_sqlstate(st),
		     mysql_stmt_error(st));
}

/* Print every row of the current text-protocol result set. */
static void print_result(MYSQL_RES *r)
{
	unsigned n = mysql_num_fields(r);
	MYSQL_ROW row;
	while ((row = mysql_fetch_row(r))) {
		unsigned long *len = mysql_fetch_lengths(r);
		for (unsigned i = 0; i < n; i++)
			printf("%s%.*s", i ? "\t" : "", row[i] ? (int)len[i] : 4,
			       row[i] ? row[i] : "NULL");
		printf("\n");
	}
}

/* ------------------------------------------------------------ scenarios */

static void scenario_text(void)
{
	query("DROP TABLE IF EXISTS capi_text");
	query("CREATE TABLE capi_text (id INT PRIMARY KEY, name VARCHAR(20), v DOUBLE NULL)");
	query("INSERT INTO capi_text VALUES (1,'one',1.5),(2,'two',NULL),(3,'drei ü',-2.25)");
	printf("affected %llu\n", (unsigned long long)mysql_affected_rows(db));
	printf("info %s\n", mysql_info(db) ? mysql_info(db) : "");
	if (mysql_query(db, "SELECT id, name, v FROM capi_text ORDER BY id"))
		fail("select: %s", mysql_error(db));
	MYSQL_RES *r = mysql_store_result(db);
	if (!r)
		fail("no result");
	printf("rows %llu fields %u\n", (unsigned long long)mysql_num_rows(r), mysql_num_fields(r));
	print_result(r);
	mysql_free_result(r);
	/* an error keeps the connection usable */
	if (mysql_query(db, "SELECT * FROM no_such_table") == 0)
		fail("error query succeeded");
	printf("error %u %s\n", mysql_errno(db), mysql_sqlstate(db));
	query("SELECT 1");
	printf("ok\n");
}

struct typed_row {
	int id;
	signed char t;
	short s;
	int i;
	long long b;
	float f;
	double d;
	char dec[32];
	char vc[64];
	unsigned char bl[16];
	unsigned long bl_len;
	MYSQL_TIME dt, tm, dtt;
	bool n_null;
};

static void set_time(MYSQL_TIME *t, enum enum_mysql_timestamp_type kind, int y, int mo, int d,
		     int h, int mi, int s, unsigned long us, bool neg)
{
	memset(t, 0, sizeof(*t));
	t->time_type = kind;
	t->year = (unsigned)y;
	t->month = (unsigned)mo;
	t->day = (unsigned)d;
	t->hour = (unsigned)h;
	t->minute = (unsigned)mi;
	t->second = (unsigned)s;
	t->second_part = us;
	t->neg = neg;
}

static void bind(MYSQL_BIND *b, enum enum_field_types type, void *buf, unsigned long cap,
		 unsigned long *len, my_bool *is_null)
{
	memset(b, 0, sizeof(*b));
	b->buffer_type = type;
	b->buffer = buf;
	b->buffer_length = cap;
	b->length = len;
	b->is_null = is_null;
}

/* Bind the columns of struct typed_row, in table order. */
static void bind_row(MYSQL_BIND *b, struct typed_row *r, unsigned long *lens, my_bool *nulls)
{
	bind(&b[0], MYSQL_TYPE_LONG, &r->id, 0, NULL, NULL);
	bind(&b[1], MYSQL_TYPE_TINY, &r->t, 0, NULL, NULL);
	bind(&b[2], MYSQL_TYPE_SHORT, &r->s, 0, NULL, NULL);
	bind(&b[3], MYSQL_TYPE_LONG, &r->i, 0, NULL, NULL);
	bind(&b[4], MYSQL_TYPE_LONGLONG, &r->b, 0, NULL, NULL);
	bind(&b[5], MYSQL_TYPE_FLOAT, &r->f, 0, NULL, NULL);
	bind(&b[6], MYSQL_TYPE_DOUBLE, &r->d, 0, NULL, NULL);
	bind(&b[7], MYSQL_TYPE_NEWDECIMAL, r->dec, sizeof(r->dec), &lens[7], NULL);
	bind(&b[8], MYSQL_TYPE_STRING, r->vc, sizeof(r->vc), &lens[8], NULL);
	bind(&b[9], MYSQL_TYPE_BLOB, r->bl, sizeof(r->bl), &lens[9], NULL);
	bind(&b[10], MYSQL_TYPE_DATE, &r->dt, 0, NULL, NULL);
	bind(&b[11], MYSQL_TYPE_TIME, &r->tm, 0, NULL, NULL);
	bind(&b[12], MYSQL_TYPE_DATETIME, &r->dtt, 0, NULL, NULL);
	bind(&b[13], MYSQL_TYPE_TIMESTAMP, &r->dtt, 0, NULL, NULL);
	bind(&b[14], MYSQL_TYPE_LONG, &r->i, 0, NULL, &nulls[14]);
}

static bool time_eq(const MYSQL_TIME *a, const MYSQL_TIME *b, bool date, bool clock)
{
	bool ok = true;
	if (date)
		ok &= a->year == b->year && a->month == b->month && a->day == b->day;
	if (clock)
		ok &= a->hour == b->hour && a->minute == b->minute && a->second == b->second &&
		      a->second_part == b->second_part && a->neg == b->neg;
	return ok;
}

static void scenario_types(void)
{
	query("DROP TABLE IF EXISTS capi_types");
	query("CREATE TABLE capi_types (id INT PRIMARY KEY, t TINYINT, s SMALLINT, i INT, "
	      "b BIGINT, f FLOAT, d DOUBLE, dc DECIMAL(20,6), vc VARCHAR(60), bl BLOB, dt DATE, "
	      "tm TIME(6), dtt DATETIME(6), ts TIMESTAMP(6) NULL, n INT NULL)");
	struct typed_row in[3];
	memset(in, 0, sizeof(in));
	const unsigned char blob0[] = {0, 1, 2, 0xFF, 0xFE, 0, 'x'};
	for (int k = 0; k < 3; k++) {
		struct typed_row *r = &in[k];
		r->id = k + 1;
		r->t = k == 0 ? -128 : k == 1 ? 127 : 0;
		r->s = k == 0 ? -32768 : k == 1 ? 32767 : 7;
		r->i = k == 0 ? INT32_MIN : k == 1 ? INT32_MAX : 42;
		r->b = k == 0 ? INT64_MIN : k == 1 ? INT64_MAX : -1;
		r->f = k == 0 ? -1.5f : k == 1 ? 3.25f : 0.0f;
		r->d = k == 0 ? -1e300 : k == 1 ? 2.718281828459045 : 0.1;
		snprintf(r->dec, sizeof(r->dec), "%s",
			 k == 0   ? "-12345678901234.123456"
			 : k == 1 ? "0.000001"
				  : "42.500000");
		snprintf(r->vc, sizeof(r->vc), "%s", k == 0 ? "héllo wörld" : k == 1 ? "" : "it's");
		memcpy(r->bl, blob0, sizeof(blob0));
		r->bl_len = k == 1 ? 0 : sizeof(blob0) - (unsigned long)k;
		set_time(&r->dt, MYSQL_TIMESTAMP_DATE, 1999 + k, 12, 31, 0, 0, 0, 0, false);
		set_time(&r->tm, MYSQL_TIMESTAMP_TIME, 0, 0, 0, 23 + k, 59, 58, 123456, k == 2);
		set_time(&r->dtt, MYSQL_TIMESTAMP_DATETIME, 2020, 2, 29, 13, 14, 15, 999999, false);
		r->n_null = true;
	}
	MYSQL_STMT *ins = prepare("INSERT INTO capi_types VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
	if (mysql_stmt_param_count(ins) != 15)
		fail("param count %lu", mysql_stmt_param_count(ins));
	for (int k = 0; k < 3; k++) {
		MYSQL_BIND b[15];
		unsigned long lens[15] = {0};
		my_bool nulls[15] = {0};
		struct typed_row *r = &in[k];
		bind_row(b, r, lens, nulls);
		lens[7] = strlen(r->dec);
		lens[8] = strlen(r->vc);
		lens[9] = r->bl_len;
		nulls[14] = 1;
		stmt_check(ins, mysql_stmt_bind_param(ins, b), "bind_param");
		stmt_check(ins, mysql_stmt_execute(ins), "execute insert");
		if (mysql_stmt_affected_rows(ins) != 1)
			fail("insert affected %llu",
			     (unsigned long long)mysql_stmt_affected_rows(ins));
	}
	mysql_stmt_close(ins);

	MYSQL_STMT *sel = prepare("SELECT id,t,s,i,b,f,d,dc,vc,bl,dt,tm,dtt,ts,n FROM capi_types "
				  "WHERE id >= ? ORDER BY id");
	int from = 1;
	MYSQL_BIND pb;
	bind(&pb, MYSQL_TYPE_LONG, &from, 0, NULL, NULL);
	stmt_check(sel, mysql_stmt_bind_param(sel, &pb), "bind param");
	stmt_check(sel, mysql_stmt_execute(sel), "execute select");
	struct typed_row out;
	MYSQL_BIND rb[15];
	unsigned long lens[15] = {0};
	my_bool nulls[15] = {0};
	bind_row(rb, &out, lens, nulls);
	stmt_check(sel, mysql_stmt_bind_result(sel, rb), "bind result");
	stmt_check(sel, mysql_stmt_store_result(sel), "store result");
	int k = 0;
	int rc;
	while ((rc = mysql_stmt_fetch(sel)) == 0) {
		const struct typed_row *r = &in[k];
		if (out.id != r->id || out.t != r->t || out.s != r->s || out.i != r->i ||
		    out.b != r->b || out.f != r->f || out.d != r->d)
			fail("row %d: numbers differ", k + 1);
		if (lens[7] != strlen(r->dec) || memcmp(out.dec, r->dec, lens[7]))
			fail("row %d: decimal %.*s != %s", k + 1, (int)lens[7], out.dec, r->dec);
		if (lens[8] != strlen(r->vc) || memcmp(out.vc, r->vc, lens[8]))
			fail("row %d: varchar differs", k + 1);
		if (lens[9] != r->bl_len || memcmp(out.bl, r->bl, lens[9]))
			fail("row %d: blob differs (%lu bytes)", k + 1, lens[9]);
		if (!time_eq(&out.dt, &r->dt, true, false) ||
		    !time_eq(&out.tm, &r->tm, false, true))
			fail("row %d: date/time differ", k + 1);
		if (!time_eq(&out.dtt, &r->dtt, true, true))
			fail("row %d: datetime/timestamp differ", k + 1);
		if (!nulls[14])
			fail("row %d: NULL came back as a value", k + 1);
		printf("row %d t=%d s=%d b=%lld f=%g d=%.17g dec=%.*s vc=%.*s bl=%lu tm=%s%02u:%02u:%02u.%06lu\n",
		       out.id, out.t, out.s, out.b, (double)out.f, out.d, (int)lens[7], out.dec,
		       (int)lens[8], out.vc, lens[9], out.tm.neg ? "-" : "", out.tm.hour,
		       out.tm.minute, out.tm.second, out.tm.second_part);
		k++;
	}
	if (rc != MYSQL_NO_DATA)
		fail("fetch: %d %s", rc, mysql_stmt_error(sel));
	if (k != 3)
		fail("%d rows instead of 3", k);
	mysql_stmt_close(sel);
	printf("ok\n");
}

static void scenario_multi(void)
{
	query("DROP TABLE IF EXISTS capi_multi");
	if (mysql_query(db,
			"CREATE TABLE capi_multi (a INT); INSERT INTO capi_multi VALUES (1),(2);"
			"SELECT a FROM capi_multi ORDER BY a; UPDATE capi_multi SET a=a+10;"
			"SELECT SUM(a) FROM capi_multi"))
		fail("multi: %s", mysql_error(db));
	int n = 0;
	int rc;
	do {
		MYSQL_RES *r = mysql_store_result(db);
		if (r) {
			printf("result %d: rows\n", n);
			print_result(r);
			mysql_free_result(r);
		} else if (mysql_field_count(db) == 0) {
			printf("result %d: affected %llu\n", n,
			       (unsigned long long)mysql_affected_rows(db));
		} else {
			fail("store_result: %s", mysql_error(db));
		}
		n++;
	} while ((rc = mysql_next_result(db)) == 0);
	if (rc > 0)
		fail("next_result: %s", mysql_error(db));
	if (n != 5)
		fail("%d results instead of 5", n);
	/* an error in the middle ends the batch with that error */
	if (mysql_query(db, "SELECT 1; SELECT * FROM no_such_table; SELECT 3") != 0)
		fail("first statement failed");
	MYSQL_RES *r = mysql_store_result(db);
	mysql_free_result(r);
	if (mysql_next_result(db) <= 0)
		fail("the failing statement did not fail");
	printf("error %u\n", mysql_errno(db));
	query("SELECT 1");
	printf("ok\n");
}

static void scenario_longdata(void)
{
	query("DROP TABLE IF EXISTS capi_long");
	query("CREATE TABLE capi_long (id INT, data LONGBLOB)");
	MYSQL_STMT *st = prepare("INSERT INTO capi_long VALUES (?, ?)");
	int id = 1;
	MYSQL_BIND b[2];
	bind(&b[0], MYSQL_TYPE_LONG, &id, 0, NULL, NULL);
	bind(&b[1], MYSQL_TYPE_LONG_BLOB, NULL, 0, NULL, NULL);
	stmt_check(st, mysql_stmt_bind_param(st, b), "bind");
	/* 3 MiB in 256 KiB chunks: each chunk is a large command that streams */
	size_t chunk = 256 * 1024, total = 0;
	unsigned long long sum = 0;
	char *buf = malloc(chunk);
	for (int c = 0; c < 12; c++) {
		for (size_t j = 0; j < chunk; j++) {
			buf[j] = (char)((j * 31 + (size_t)c * 7) & 0xFF);
			sum += (unsigned char)buf[j];
		}
		if (mysql_stmt_send_long_data(st, 1, buf, (unsigned long)chunk))
			fail("send_long_data: %s", mysql_stmt_error(st));
		total += chunk;
	}
	free(buf);
	stmt_check(st, mysql_stmt_execute(st), "execute");
	mysql_stmt_close(st);
	if (mysql_query(db, "SELECT LENGTH(data) FROM capi_long WHERE id=1"))
		fail("select: %s", mysql_error(db));
	MYSQL_RES *r = mysql_store_result(db);
	MYSQL_ROW row = mysql_fetch_row(r);
	if (!row || strtoull(row[0], NULL, 10) != total)
		fail("stored %s bytes, sent %zu", row ? row[0] : "no", total);
	mysql_free_result(r);
	/* read it back through the binary protocol and compare the byte sum */
	st = prepare("SELECT data FROM capi_long WHERE id=?");
	stmt_check(st, mysql_stmt_bind_param(st, b), "bind");
	stmt_check(st, mysql_stmt_execute(st), "execute");
	unsigned long len = 0;
	char *back = malloc(total);
	MYSQL_BIND rb;
	bind(&rb, MYSQL_TYPE_LONG_BLOB, back, (unsigned long)total, &len, NULL);
	stmt_check(st, mysql_stmt_bind_result(st, &rb), "bind result");
	if (mysql_stmt_fetch(st) != 0 || len != total)
		fail("fetch long blob: %lu bytes", len);
	unsigned long long sum2 = 0;
	for (size_t j = 0; j < total; j++)
		sum2 += (unsigned char)back[j];
	free(back);
	if (sum2 != sum)
		fail("blob content differs");
	mysql_stmt_close(st);
	printf("longdata %zu bytes sum %llu\nok\n", total, sum);
}

static void scenario_cursor(void)
{
	query("DROP TABLE IF EXISTS capi_cursor");
	query("CREATE TABLE capi_cursor (a INT PRIMARY KEY)");
	query("INSERT INTO capi_cursor VALUES (1),(2),(3),(4),(5),(6),(7),(8),(9),(10)");
	MYSQL_STMT *st = mysql_stmt_init(db);
	unsigned long type = CURSOR_TYPE_READ_ONLY, prefetch = 3;
	mysql_stmt_attr_set(st, STMT_ATTR_CURSOR_TYPE, &type);
	mysql_stmt_attr_set(st, STMT_ATTR_PREFETCH_ROWS, &prefetch);
	const char *sql = "SELECT a FROM capi_cursor ORDER BY a";
	stmt_check(st, mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql)), "prepare");
	for (int round = 0; round < 2; round++) {
		stmt_check(st, mysql_stmt_execute(st), "execute");
		int a = 0, expect = 1, rc;
		MYSQL_BIND rb;
		bind(&rb, MYSQL_TYPE_LONG, &a, 0, NULL, NULL);
		stmt_check(st, mysql_stmt_bind_result(st, &rb), "bind result");
		/* rows come through COM_STMT_FETCH, three at a time */
		while ((rc = mysql_stmt_fetch(st)) == 0) {
			if (a != expect)
				fail("cursor row %d, expected %d", a, expect);
			expect++;
		}
		if (rc != MYSQL_NO_DATA || expect != 11)
			fail("cursor ended at %d (rc %d: %s)", expect, rc, mysql_stmt_error(st));
		/* COM_STMT_RESET closes the cursor; the statement stays usable */
		stmt_check(st, mysql_stmt_reset(st), "reset");
		printf("cursor round %d: %d rows\n", round, expect - 1);
	}
	mysql_stmt_close(st);
	printf("ok\n");
}

static void scenario_reset(void)
{
	query("SET @v = 7");
	query("SET time_zone = '+05:00'");
	MYSQL_STMT *st = prepare("SELECT @v, @@time_zone");
	stmt_check(st, mysql_stmt_execute(st), "execute");
	mysql_stmt_store_result(st);
	mysql_stmt_free_result(st);
	if (mysql_reset_connection(db))
		fail("reset_connection: %s", mysql_error(db));
	if (mysql_query(db, "SELECT @v IS NULL, @@time_zone <> '+05:00', DATABASE()"))
		fail("select after reset: %s", mysql_error(db));
	MYSQL_RES *r = mysql_store_result(db);
	print_result(r);
	mysql_free_result(r);
	/* the server dropped its prepared statements: the old handle is dead */
	int rc = mysql_stmt_execute(st);
	printf("old statement after reset: %s %u\n", rc ? "error" : "ok",
	       rc ? mysql_stmt_errno(st) : 0);
	mysql_stmt_close(st);
	st = prepare("SELECT 40 + ?");
	int v = 2, out = 0;
	MYSQL_BIND pb, rb;
	bind(&pb, MYSQL_TYPE_LONG, &v, 0, NULL, NULL);
	bind(&rb, MYSQL_TYPE_LONG, &out, 0, NULL, NULL);
	mysql_stmt_bind_param(st, &pb);
	stmt_check(st, mysql_stmt_execute(st), "execute after reset");
	mysql_stmt_bind_result(st, &rb);
	if (mysql_stmt_fetch(st) != 0 || out != 42)
		fail("statement after reset returned %d", out);
	mysql_stmt_close(st);
	printf("ok\n");
}

/* Many prepares and closes, interleaved; every live handle keeps
 * answering with its own statement. */
static void scenario_many(void)
{
	enum { N = 300, KEEP = 40 };
	MYSQL_STMT *live[KEEP] = {0};
	int live_val[KEEP] = {0};
	for (int i = 0; i < N; i++) {
		char sql[64];
		snprintf(sql, sizeof(sql), "SELECT %d + ?", i * 1000);
		MYSQL_STMT *st = prepare(sql);
		int slot = i % KEEP;
		if (live[slot])
			mysql_stmt_close(live[slot]);
		live[slot] = st;
		live_val[slot] = i * 1000;
		/* every few prepares, run every live statement */
		if (i % 37 != 0)
			continue;
		for (int j = 0; j < KEEP; j++) {
			if (!live[j])
				continue;
			int p = j, out = -1;
			MYSQL_BIND pb, rb;
			bind(&pb, MYSQL_TYPE_LONG, &p, 0, NULL, NULL);
			bind(&rb, MYSQL_TYPE_LONG, &out, 0, NULL, NULL);
			mysql_stmt_bind_param(live[j], &pb);
			stmt_check(live[j], mysql_stmt_execute(live[j]), "execute");
			mysql_stmt_bind_result(live[j], &rb);
			if (mysql_stmt_fetch(live[j]) != 0 || out != live_val[j] + j)
				fail("statement in slot %d returned %d, expected %d", j, out,
				     live_val[j] + j);
			mysql_stmt_free_result(live[j]);
		}
	}
	for (int j = 0; j < KEEP; j++)
		mysql_stmt_close(live[j]);
	printf("many %d ok\n", N);
}

/* Prepare two statements, say READY, and keep them open until a line
 * arrives on stdin: the test looks at tandem's /sessions meanwhile. */
static void scenario_hold(void)
{
	MYSQL_STMT *a = prepare("SELECT ?, ?, ? FROM DUAL");
	MYSQL_STMT *b = prepare("SELECT 1");
	MYSQL_STMT *c = prepare("SELECT 2");
	mysql_stmt_close(c);
	printf("READY %lu %lu\n", mysql_stmt_param_count(a), mysql_stmt_param_count(b));
	fflush(stdout);
	char line[16];
	if (!fgets(line, sizeof(line), stdin))
		fail("stdin closed");
	mysql_stmt_close(a);
	mysql_stmt_close(b);
	printf("ok\n");
}

/* MariaDB's COM_STMT_BULK_EXECUTE: one INSERT with an array of 1000 rows
 * (Connector/C sends it as bulk to a server with STMT_BULK_OPERATIONS),
 * then an array with a duplicate key, then the rows back. */
static void scenario_bulk(void)
{
	query("DROP TABLE IF EXISTS capi_bulk");
	query("CREATE TABLE capi_bulk (id INT PRIMARY KEY, name VARCHAR(20))");
	MYSQL_STMT *st = prepare("INSERT INTO capi_bulk VALUES (?, ?)");
	enum { N = 1000 };
	static int ids[N];
	static char names[N][20];
	static unsigned long lens[N];
	static char *ptrs[N]; /* column-wise strings: an array of pointers */
	for (int i = 0; i < N; i++) {
		ids[i] = i + 1;
		lens[i] = (unsigned long)snprintf(names[i], sizeof(names[i]), "bulk-%d", i + 1);
		ptrs[i] = names[i];
	}
	unsigned int size = N;
	mysql_stmt_attr_set(st, STMT_ATTR_ARRAY_SIZE, &size);
	MYSQL_BIND b[2];
	memset(b, 0, sizeof(b));
	b[0].buffer_type = MYSQL_TYPE_LONG;
	b[0].buffer = ids;
	b[1].buffer_type = MYSQL_TYPE_STRING;
	b[1].buffer = ptrs;
	b[1].length = lens;
	stmt_check(st, mysql_stmt_bind_param(st, b), "bind bulk");
	stmt_check(st, mysql_stmt_execute(st), "bulk execute");
	printf("bulk affected %llu\n", (unsigned long long)mysql_stmt_affected_rows(st));
	/* again with the same ids: a duplicate key, the statement stays usable */
	int rc = mysql_stmt_execute(st);
	printf("bulk again rc=%d errno=%u sqlstate=%s\n", rc != 0, mysql_stmt_errno(st),
	       mysql_stmt_sqlstate(st));
	for (int i = 0; i < N; i++)
		ids[i] = N + i + 1;
	stmt_check(st, mysql_stmt_execute(st), "bulk execute 2");
	printf("bulk affected %llu\n", (unsigned long long)mysql_stmt_affected_rows(st));
	mysql_stmt_close(st);
	if (mysql_query(db, "SELECT COUNT(*), SUM(id), MAX(name) FROM capi_bulk"))
		fail("count: %s", mysql_error(db));
	MYSQL_RES *r = mysql_store_result(db);
	print_result(r);
	mysql_free_result(r);
	printf("ok\n");
}

/* Metadata caching: one prepared SELECT executed three times (from the
 * second on, a server with MARIADB_CLIENT_CACHE_METADATA sends no column
 * definitions) and re-prepared; extended type info: the JSON column's
 * data type name (MARIADB_CLIENT_EXTENDED_METADATA) on both protocols. */
static void scenario_meta(void)
{
	query("DROP TABLE IF EXISTS capi_meta");
	query("CREATE TABLE capi_meta (id INT PRIMARY KEY, doc JSON, pt POINT NULL)");
	query("INSERT INTO capi_meta VALUES (1, '{\"a\": 1}', NULL), (2, '[1, 2]', POINT(1, 2))");
	MYSQL_STMT *st = prepare("SELECT id, doc, pt FROM capi_meta WHERE id >= ? ORDER BY id");
	int min = 1;
	MYSQL_BIND p;
	bind(&p, MYSQL_TYPE_LONG, &min, 0, NULL, NULL);
	stmt_check(st, mysql_stmt_bind_param(st, &p), "bind");
	for (int round = 0; round < 3; round++) {
		stmt_check(st, mysql_stmt_execute(st), "execute");
		int id = 0;
		char doc[64];
		unsigned long doclen = 0;
		MYSQL_BIND rb[1];
		bind(&rb[0], MYSQL_TYPE_LONG, &id, 0, NULL, NULL);
		MYSQL_BIND all[3];
		memset(all, 0, sizeof(all));
		all[0] = rb[0];
		all[1].buffer_type = MYSQL_TYPE_STRING;
		all[1].buffer = doc;
		all[1].buffer_length = sizeof(doc);
		all[1].length = &doclen;
		all[2].buffer_type = MYSQL_TYPE_NULL;
		stmt_check(st, mysql_stmt_bind_result(st, all), "bind result");
		stmt_check(st, mysql_stmt_store_result(st), "store");
		MYSQL_RES *md = mysql_stmt_result_metadata(st);
		printf("round %d: %u fields", round, md ? mysql_num_fields(md) : 0);
		for (unsigned i = 0; md && i < mysql_num_fields(md); i++) {
			MYSQL_FIELD *f = mysql_fetch_field_direct(md, i);
			MARIADB_CONST_STRING name = {0}, fmt = {0};
			mariadb_field_attr(&name, f, MARIADB_FIELD_ATTR_DATA_TYPE_NAME);
			mariadb_field_attr(&fmt, f, MARIADB_FIELD_ATTR_FORMAT_NAME);
			printf(" %s/%d/%.*s/%.*s", f->name, f->type, (int)name.length,
			       name.str ? name.str : "", (int)fmt.length, fmt.str ? fmt.str : "");
		}
		printf("\n");
		if (md)
			mysql_free_result(md);
		while (mysql_stmt_fetch(st) == 0)
			printf("  %d %.*s\n", id, (int)doclen, doc);
		mysql_stmt_free_result(st);
	}
	mysql_stmt_close(st);
	if (mysql_query(db, "SELECT doc, pt FROM capi_meta ORDER BY id"))
		fail("text: %s", mysql_error(db));
	MYSQL_RES *r = mysql_store_result(db);
	for (unsigned i = 0; i < mysql_num_fields(r); i++) {
		MYSQL_FIELD *f = mysql_fetch_field_direct(r, i);
		MARIADB_CONST_STRING name = {0}, fmt = {0};
		mariadb_field_attr(&name, f, MARIADB_FIELD_ATTR_DATA_TYPE_NAME);
		mariadb_field_attr(&fmt, f, MARIADB_FIELD_ATTR_FORMAT_NAME);
		printf("text %s/%d/%.*s/%.*s\n", f->name, f->type, (int)name.length,
		       name.str ? name.str : "", (int)fmt.length, fmt.str ? fmt.str : "");
	}
	mysql_free_result(r);
	printf("ok\n");
}

static int progress_calls;
static void on_progress(const MYSQL *m, unsigned int stage, unsigned int max_stage, double progress,
			const char *proc_info, unsigned int proc_info_length)
{
	(void)m;
	(void)stage;
	(void)max_stage;
	(void)progress;
	(void)proc_info;
	(void)proc_info_length;
	progress_calls++;
}

/* Progress reports: an ALTER TABLE that copies a table for more than a
 * second, with progress_report_time=1 (set up by the caller: the table
 * capi_progress). Prints only whether reports came, and the result. */
static void scenario_progress(void)
{
	query("SET SESSION progress_report_time = 1");
	query("ALTER TABLE capi_progress ADD COLUMN extra INT NULL, ALGORITHM=COPY");
	printf("progress reports: %s\n", progress_calls > 0 ? "yes" : "no");
	if (mysql_query(db, "SELECT COUNT(*), COUNT(extra) FROM capi_progress"))
		fail("count: %s", mysql_error(db));
	MYSQL_RES *r = mysql_store_result(db);
	print_result(r);
	mysql_free_result(r);
	query("ALTER TABLE capi_progress DROP COLUMN extra");
	printf("ok\n");
}

/* n rows from id `from` by one bulk execution of st (INSERT ... (?, ?)). */
static void bulk_rows(MYSQL_STMT *st, int from, unsigned int n)
{
	static int ids[200];
	static char names[200][16];
	static char *ptrs[200];
	static unsigned long lens[200];
	if (n > 200)
		fail("bulk_rows: %u rows", n);
	for (unsigned int i = 0; i < n; i++) {
		ids[i] = from + (int)i;
		lens[i] = (unsigned long)snprintf(names[i], sizeof(names[i]), "m-%d", ids[i]);
		ptrs[i] = names[i];
	}
	mysql_stmt_attr_set(st, STMT_ATTR_ARRAY_SIZE, &n);
	MYSQL_BIND b[2];
	memset(b, 0, sizeof(b));
	b[0].buffer_type = MYSQL_TYPE_LONG;
	b[0].buffer = ids;
	b[1].buffer_type = MYSQL_TYPE_STRING;
	b[1].buffer = ptrs;
	b[1].length = lens;
	stmt_check(st, mysql_stmt_bind_param(st, b), "bind bulk");
	stmt_check(st, mysql_stmt_execute(st), "bulk execute");
	printf("bulk %d..%d affected %llu\n", from, from + (int)n - 1,
	       (unsigned long long)mysql_stmt_affected_rows(st));
}

/* Rows of the prepared SELECT ... WHERE id > ? (metadata cached after the
 * prepare), with the number of fields its metadata has. */
static void move_select(MYSQL_STMT *st)
{
	int min = 0, id = 0;
	MYSQL_BIND p, rb;
	bind(&p, MYSQL_TYPE_LONG, &min, 0, NULL, NULL);
	stmt_check(st, mysql_stmt_bind_param(st, &p), "bind");
	stmt_check(st, mysql_stmt_execute(st), "execute");
	bind(&rb, MYSQL_TYPE_LONG, &id, 0, NULL, NULL);
	stmt_check(st, mysql_stmt_bind_result(st, &rb), "bind result");
	stmt_check(st, mysql_stmt_store_result(st), "store");
	long sum = 0, n = 0;
	while (mysql_stmt_fetch(st) == 0) {
		sum += id;
		n++;
	}
	printf("select %u fields %ld rows sum %ld\n", mysql_stmt_field_count(st), n, sum);
	mysql_stmt_free_result(st);
}

/* A session that moves: prepared statements, bulk and metadata caching
 * before and after "READY" (the test switches the primary over while the
 * client waits on stdin), compressed when CAPI_COMPRESS=1. Table
 * capi_move (id INT PRIMARY KEY, v VARCHAR(20)) is the caller's, empty. */
static void scenario_move(void)
{
	MYSQL_STMT *ins = prepare("INSERT INTO capi_move VALUES (?, ?)");
	MYSQL_STMT *sel = prepare("SELECT id FROM capi_move WHERE id > ? ORDER BY id");
	bulk_rows(ins, 1, 100);
	move_select(sel);
	printf("READY\n");
	fflush(stdout);
	char line[16];
	if (!fgets(line, sizeof(line), stdin))
		fail("stdin closed");
	bulk_rows(ins, 101, 100);
	move_select(sel);
	move_select(sel);
	if (mysql_query(db, "SELECT COUNT(*), REPEAT('c', 100000) = REPEAT('c', 100000) "
			    "FROM capi_move; SHOW SESSION STATUS LIKE 'Compression'"))
		fail("text: %s", mysql_error(db));
	do {
		MYSQL_RES *r = mysql_store_result(db);
		if (r) {
			print_result(r);
			mysql_free_result(r);
		}
	} while (mysql_next_result(db) == 0);
	mysql_stmt_close(ins);
	mysql_stmt_close(sel);
	printf("ok\n");
}

static const char *arg_user, *arg_password;

/* COM_CHANGE_USER to the same account (an auth switch inside the
 * command), a query, then with a wrong password (ERR 1045: the connection
 * is then unusable, as with a server). */
static void scenario_change_user(void)
{
	query("SET @x = 42");
	if (mysql_change_user(db, arg_user, arg_password, "test"))
		fail("change_user: %u %s", mysql_errno(db), mysql_error(db));
	if (mysql_query(db, "SELECT CURRENT_USER(), DATABASE(), @x IS NULL"))
		fail("after change_user: %s", mysql_error(db));
	MYSQL_RES *r = mysql_store_result(db);
	print_result(r);
	mysql_free_result(r);
	int rc = mysql_change_user(db, arg_user, "wrong-password", "test");
	printf("wrong password: rc=%d errno=%u\n", rc != 0, mysql_errno(db));
	printf("ok\n");
}

/* A result bigger than one 16 MiB packet and many rows (for compression). */
static void scenario_big(void)
{
	if (mysql_query(db, "SELECT REPEAT('x', 17000000) AS big, 1"))
		fail("big: %s", mysql_error(db));
	MYSQL_RES *r = mysql_store_result(db);
	MYSQL_ROW row = mysql_fetch_row(r);
	unsigned long *len = mysql_fetch_lengths(r);
	bool all_x = row && row[0];
	for (unsigned long i = 0; all_x && i < len[0]; i++)
		all_x = row[0][i] == 'x';
	printf("big %lu all_x=%d\n", row ? len[0] : 0, all_x);
	mysql_free_result(r);
	if (mysql_query(db, "SELECT seq, MD5(seq) FROM seq_1_to_50000"))
		fail("rows: %s", mysql_error(db));
	r = mysql_store_result(db);
	unsigned long long n = mysql_num_rows(r);
	unsigned long sum = 0;
	while ((row = mysql_fetch_row(r)))
		sum += strtoul(row[0], NULL, 10) + (unsigned char)row[1][0];
	printf("rows %llu sum %lu\n", n, sum);
	mysql_free_result(r);
	printf("ok\n");
}

int main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: %s HOST PORT USER PASSWORD DB SCENARIO\n", argv[0]);
		return 2;
	}
	db = mysql_init(NULL);
	unsigned timeout = 30;
	mysql_options(db, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_options(db, MYSQL_OPT_READ_TIMEOUT, &timeout);
	/* CAPI_COMPRESS=1: the compressed protocol (MYSQL_OPT_COMPRESS) */
	const char *z = getenv("CAPI_COMPRESS");
	if (z && strcmp(z, "1") == 0)
		mysql_options(db, MYSQL_OPT_COMPRESS, NULL);
	if (strcmp(argv[6], "progress") == 0)
		mysql_optionsv(db, MYSQL_PROGRESS_CALLBACK, (void *)on_progress);
	if (!mysql_real_connect(db, argv[1], argv[3], argv[4], argv[5], (unsigned)atoi(argv[2]),
				NULL, CLIENT_MULTI_STATEMENTS | CLIENT_MULTI_RESULTS)) {
		fprintf(stderr, "connect: %u %s\n", mysql_errno(db), mysql_error(db));
		return 2;
	}
	const char *sc = argv[6];
	arg_user = argv[3];
	arg_password = argv[4];
	if (strcmp(sc, "text") == 0)
		scenario_text();
	else if (strcmp(sc, "types") == 0)
		scenario_types();
	else if (strcmp(sc, "multi") == 0)
		scenario_multi();
	else if (strcmp(sc, "longdata") == 0)
		scenario_longdata();
	else if (strcmp(sc, "cursor") == 0)
		scenario_cursor();
	else if (strcmp(sc, "reset") == 0)
		scenario_reset();
	else if (strcmp(sc, "many") == 0)
		scenario_many();
	else if (strcmp(sc, "hold") == 0)
		scenario_hold();
	else if (strcmp(sc, "bulk") == 0)
		scenario_bulk();
	else if (strcmp(sc, "meta") == 0)
		scenario_meta();
	else if (strcmp(sc, "progress") == 0)
		scenario_progress();
	else if (strcmp(sc, "big") == 0)
		scenario_big();
	else if (strcmp(sc, "move") == 0)
		scenario_move();
	else if (strcmp(sc, "change_user") == 0)
		scenario_change_user();
	else {
		fprintf(stderr, "unknown scenario %s\n", sc);
		return 2;
	}
	mysql_close(db);
	return 0;
}
