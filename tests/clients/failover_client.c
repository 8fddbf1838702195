/*
 * failover_client.c — many idle Connector/C sessions, each with its own
 * session state, that are checked after a failover (the failover tests and
 * bench/failover drive it: tests/harness/failover_load.py).
 *
 * It opens N sessions through tandem and gives each one kind of state:
 *   schema   (i % 3 == 0): USE of another schema than the login one;
 *   vars     (i % 3 == 1): SET of session variables — time_zone, sql_mode,
 *            group_concat_max_len, lc_time_names, the isolation level, and
 *            the character set (SET NAMES [COLLATE], SET CHARACTER SET);
 *   prepared (i % 3 == 2): three server-side prepared statements with
 *            parameters of several types (integer, string, double,
 *            datetime, a NULL; a read of a table; an INSERT), each run once.
 * What the server reported right after the change is what it must report
 * later. Then it prints {"phase": "ready", ...} and waits for lines on
 * stdin:
 *   check [SERVER_ID]   check every session (below) and print one JSON line;
 *   EOF                 close every session and exit 0.
 * A check runs on the same MYSQL handles and the same MYSQL_STMT handles
 * (so the same client statement ids, and no new parameter types: the
 * buffers bound at the first execution get new values, the binding is not
 * renewed), and asserts: the schema; every variable; that each statement
 * runs with correct results (the INSERT: one affected row, an insert id,
 * and the session's rows in the table are exactly the ones it inserted);
 * and @@server_id when given. A session that fails a check is counted,
 * with its first error, and is checked again at the next check.
 *
 * With a 7th argument "cursor", one more session (not among the N) opens
 * a read-only cursor on a prepared statement over 100 rows and fetches 15
 * of them; a check then fetches the rest and reports, as "cursor": how
 * many rows came, the error that ended the fetching (its code, SQLSTATE
 * and message; code 0 if none), and whether the statement, executed
 * again, then returns all 100 rows. A cursor lives on the server: it
 * cannot move with the session.
 *
 * Usage: failover_client HOST PORT USER PASSWORD DB N [cursor]
 * Exit status 0 after EOF on stdin; 2 when a session could not be set up.
 * Must not: reconnect (that would hide a lost session) or retry a check.
 */
#include <mysql.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum kind { K_SCHEMA, K_VARS, K_PREPARED, K_COUNT };
static const char *const kind_name[K_COUNT] = {"schema", "vars", "prepared"};

/* What a vars session reads back: the variables it set. */
#define VARS_SQL                                                                    \
	"SELECT @@time_zone, @@sql_mode, @@group_concat_max_len, @@lc_time_names, " \
	"@@tx_isolation, @@character_set_client, @@character_set_connection, "      \
	"@@character_set_results, @@collation_connection"
#define NVARS 9

/* Statement A: every parameter type comes back as text. */
#define STMT_A_SQL                                                           \
	"SELECT CAST(? + 1 AS CHAR), CONCAT(?, '-x'), CAST(? * 2 AS CHAR), " \
	"CAST(? AS CHAR), IFNULL(?, 'null')"
#define STMT_B_SQL "SELECT COUNT(*) FROM demo.items WHERE qty > ?"
#define STMT_C_SQL "INSERT INTO test.fo_client (sess, v) VALUES (?, ?)"

struct stmt_a {
	MYSQL_STMT *st;
	unsigned long id; /* the client's statement id at prepare time */
	MYSQL_BIND p[5];
	long long i;
	char s[32];
	unsigned long s_len;
	double d;
	MYSQL_TIME t;
	int n;
	my_bool n_null;
};

struct stmt_b {
	MYSQL_STMT *st;
	unsigned long id;
	MYSQL_BIND p[1];
	int qty;
};

struct stmt_c {
	MYSQL_STMT *st;
	unsigned long id;
	MYSQL_BIND p[2];
	int sess;
	char v[32];
	unsigned long v_len;
	unsigned long long last_id; /* insert id of the last execution */
	unsigned rows;              /* rows this session inserted */
};

struct sess {
	MYSQL *db;
	enum kind kind;
	int i;
	char schema[16];
	char vars[NVARS][128];
	struct stmt_a a;
	struct stmt_b b;
	struct stmt_c c;
	unsigned checks;
	char err[300]; /* first failure of the current check */
	unsigned err_code;
};

static struct sess *sessions;
static int nsess;

/* The cursor session (argument "cursor"). */
static struct {
	MYSQL *db;
	MYSQL_STMT *st;
	MYSQL_BIND r;
	long long v;
	int fetched; /* rows fetched so far */
} cur;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "failover_client: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(2);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Record the first failure of this check (later ones add nothing). */
static bool failed(struct sess *s, unsigned code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static bool failed(struct sess *s, unsigned code, const char *fmt, ...)
{
	if (s->err[0])
		return false;
	s->err_code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	return false;
}

static bool db_failed(struct sess *s, const char *what)
{
	return failed(s, mysql_errno(s->db), "%s: error %u (%s) %s", what, mysql_errno(s->db),
		      mysql_sqlstate(s->db), mysql_error(s->db));
}

static bool stmt_failed(struct sess *s, MYSQL_STMT *st, const char *what)
{
	return failed(s, mysql_stmt_errno(st), "%s: error %u (%s) %s", what, mysql_stmt_errno(st),
		      mysql_stmt_sqlstate(st), mysql_stmt_error(st));
}

/* Run sql; with out, copy the first row's columns (NULL as "NULL"). */
static bool query_row(struct sess *s, const char *sql, char (*out)[128], int ncols)
{
	if (mysql_query(s->db, sql))
		return db_failed(s, sql);
	MYSQL_RES *r = mysql_store_result(s->db);
	if (!r)
		return mysql_field_count(s->db) ? db_failed(s, sql) : true;
	MYSQL_ROW row = mysql_fetch_row(r);
	bool ok = row && (int)mysql_num_fields(r) == ncols;
	for (int c = 0; ok && out && c < ncols; c++)
		snprintf(out[c], sizeof(out[c]), "%s", row[c] ? row[c] : "NULL");
	mysql_free_result(r);
	return ok ? true : failed(s, 0, "%s: no row of %d columns", sql, ncols);
}

static void bind_param(MYSQL_BIND *b, enum enum_field_types t, void *buf, unsigned long cap,
		       unsigned long *len, my_bool *is_null)
{
	memset(b, 0, sizeof(*b));
	b->buffer_type = t;
	b->buffer = buf;
	b->buffer_length = cap;
	b->length = len;
	b->is_null = is_null;
}

/* Execute and fetch one row of text columns. */
static bool stmt_row(struct sess *s, MYSQL_STMT *st, const char *what, char (*out)[128], int ncols)
{
	if (mysql_stmt_execute(st))
		return stmt_failed(s, st, what);
	MYSQL_BIND r[8];
	unsigned long len[8];
	my_bool nul[8];
	memset(r, 0, sizeof(r));
	for (int c = 0; c < ncols; c++) {
		r[c].buffer_type = MYSQL_TYPE_STRING;
		r[c].buffer = out[c];
		r[c].buffer_length = sizeof(out[c]) - 1;
		r[c].length = &len[c];
		r[c].is_null = &nul[c];
	}
	if ((int)mysql_stmt_field_count(st) != ncols)
		return failed(s, 0, "%s: %u columns, expected %d", what, mysql_stmt_field_count(st),
			      ncols);
	if (mysql_stmt_bind_result(st, r) || mysql_stmt_store_result(st))
		return stmt_failed(s, st, what);
	int rc = mysql_stmt_fetch(st);
	if (rc != 0 && rc != MYSQL_DATA_TRUNCATED) {
		mysql_stmt_free_result(st);
		return rc == MYSQL_NO_DATA ? failed(s, 0, "%s: no row", what)
					   : stmt_failed(s, st, what);
	}
	for (int c = 0; c < ncols; c++)
		out[c][nul[c] ? 0 : len[c]] = 0;
	mysql_stmt_free_result(st);
	return true;
}

static MYSQL_STMT *prepare(struct sess *s, const char *sql, unsigned long *id)
{
	MYSQL_STMT *st = mysql_stmt_init(s->db);
	if (!st)
		die("session %d: mysql_stmt_init", s->i);
	if (mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql)))
		die("session %d: prepare %s: %u %s", s->i, sql, mysql_stmt_errno(st),
		    mysql_stmt_error(st));
	*id = st->stmt_id;
	return st;
}

/* ------------------------------------------------------------ the kinds */

static bool check_schema(struct sess *s)
{
	char got[1][128];
	if (!query_row(s, "SELECT DATABASE()", got, 1))
		return false;
	if (strcmp(got[0], s->schema))
		return failed(s, 0, "schema '%s', expected '%s'", got[0], s->schema);
	return true;
}

static void setup_schema(struct sess *s)
{
	snprintf(s->schema, sizeof(s->schema), "%s", (s->i / 3) % 2 ? "sbtest" : "demo");
	char sql[64];
	snprintf(sql, sizeof(sql), "USE %s", s->schema);
	if (mysql_query(s->db, sql))
		die("session %d: %s: %s", s->i, sql, mysql_error(s->db));
}

static bool check_vars(struct sess *s)
{
	char got[NVARS][128];
	if (!query_row(s, VARS_SQL, got, NVARS))
		return false;
	static const char *const names[NVARS] = {"time_zone",
						 "sql_mode",
						 "group_concat_max_len",
						 "lc_time_names",
						 "tx_isolation",
						 "character_set_client",
						 "character_set_connection",
						 "character_set_results",
						 "collation_connection"};
	for (int v = 0; v < NVARS; v++)
		if (strcmp(got[v], s->vars[v]))
			return failed(s, 0, "%s is '%s', expected '%s'", names[v], got[v],
				      s->vars[v]);
	return true;
}

static void setup_vars(struct sess *s)
{
	static const char *const modes[] = {
		"ANSI_QUOTES,STRICT_ALL_TABLES",
		"PIPES_AS_CONCAT,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO",
		"ONLY_FULL_GROUP_BY,NO_ENGINE_SUBSTITUTION",
		"",
	};
	static const char *const names[] = {
		"SET NAMES latin1",
		"SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci",
		"SET NAMES utf8 COLLATE utf8_bin",
		"SET CHARACTER SET latin1",
	};
	static const char *const locales[] = {"de_DE", "fr_FR", "ja_JP", "en_GB"};
	static const char *const isolation[] = {"READ COMMITTED", "SERIALIZABLE",
						"READ UNCOMMITTED", "REPEATABLE READ"};
	int k = s->i / 3;
	char sql[400];
	snprintf(sql, sizeof(sql),
		 "SET time_zone = '%c%02d:%02d', sql_mode = '%s', group_concat_max_len = %d, "
		 "lc_time_names = '%s'",
		 k % 2 ? '-' : '+', k % 12, (k % 4) * 15, modes[k % 4], 1024 + s->i,
		 locales[k % 4]);
	const char *stmts[] = {sql, names[k % 4]};
	for (size_t n = 0; n < 2; n++)
		if (mysql_query(s->db, stmts[n]))
			die("session %d: %s: %s", s->i, stmts[n], mysql_error(s->db));
	snprintf(sql, sizeof(sql), "SET SESSION TRANSACTION ISOLATION LEVEL %s", isolation[k % 4]);
	if (mysql_query(s->db, sql))
		die("session %d: %s: %s", s->i, sql, mysql_error(s->db));
	s->err[0] = 0;
	if (!query_row(s, VARS_SQL, s->vars, NVARS))
		die("session %d: %s", s->i, s->err);
}

/* New parameter values for check number n (0: the setup's execution). */
static void stmt_values(struct sess *s, unsigned n)
{
	struct stmt_a *a = &s->a;
	a->i = 1000000000000LL * (s->i + 1) + n;
	a->s_len = (unsigned long)snprintf(a->s, sizeof(a->s), "s%d-%u", s->i, n);
	a->d = 1.25 * (n + 1);
	memset(&a->t, 0, sizeof(a->t));
	a->t.year = 2020 + n % 10;
	a->t.month = 1 + (unsigned)s->i % 12;
	a->t.day = 1 + n % 28;
	a->t.hour = (unsigned)s->i % 24;
	a->t.minute = n % 60;
	a->t.second = 7;
	a->t.time_type = MYSQL_TIMESTAMP_DATETIME;
	a->n = (int)n;
	a->n_null = n % 2 == 0;
	s->b.qty = (int)(n % 10);
	s->c.v_len = (unsigned long)snprintf(s->c.v, sizeof(s->c.v), "v%u", n);
}

static bool check_prepared(struct sess *s)
{
	struct stmt_a *a = &s->a;
	stmt_values(s, s->checks + 1);
	char got[5][128], want[5][128];
	if (!stmt_row(s, a->st, "statement A", got, 5))
		return false;
	snprintf(want[0], sizeof(want[0]), "%lld", a->i + 1);
	snprintf(want[1], sizeof(want[1]), "%.*s-x", (int)a->s_len, a->s);
	snprintf(want[2], sizeof(want[2]), "%g", a->d * 2);
	snprintf(want[3], sizeof(want[3]), "%04u-%02u-%02u %02u:%02u:%02u", a->t.year, a->t.month,
		 a->t.day, a->t.hour, a->t.minute, a->t.second);
	snprintf(want[4], sizeof(want[4]), "%s", a->n_null ? "null" : "");
	if (!a->n_null)
		snprintf(want[4], sizeof(want[4]), "%d", a->n);
	for (int c = 0; c < 5; c++)
		if (strcmp(got[c], want[c]))
			return failed(s, 0, "statement A (id %lu) column %d is '%s', expected '%s'",
				      a->id, c + 1, got[c], want[c]);

	/* demo.items holds qty 3, 5 and 8 (tests/harness/accounts.py) */
	char cnt[1][128];
	if (!stmt_row(s, s->b.st, "statement B", cnt, 1))
		return false;
	int want_b = (s->b.qty < 3) + (s->b.qty < 5) + (s->b.qty < 8);
	if (atoi(cnt[0]) != want_b)
		return failed(s, 0, "statement B (id %lu): %s rows with qty > %d, expected %d",
			      s->b.id, cnt[0], s->b.qty, want_b);

	struct stmt_c *c = &s->c;
	if (mysql_stmt_execute(c->st))
		return stmt_failed(s, c->st, "statement C");
	c->rows++;
	unsigned long long affected = mysql_stmt_affected_rows(c->st);
	unsigned long long id = mysql_stmt_insert_id(c->st);
	if (affected != 1 || id <= c->last_id)
		return failed(s, 0, "statement C (id %lu): %llu rows, insert id %llu after %llu",
			      c->id, affected, id, c->last_id);
	c->last_id = id;
	char sql[128], rows[2][128];
	snprintf(sql, sizeof(sql),
		 "SELECT COUNT(*), COUNT(DISTINCT v) FROM test.fo_client WHERE sess = %d", s->i);
	if (!query_row(s, sql, rows, 2))
		return false;
	if ((unsigned)atoi(rows[0]) != c->rows || (unsigned)atoi(rows[1]) != c->rows)
		return failed(s, 0, "session's rows: %s (%s distinct), it inserted %u", rows[0],
			      rows[1], c->rows);
	return true;
}

static void setup_prepared(struct sess *s)
{
	struct stmt_a *a = &s->a;
	a->st = prepare(s, STMT_A_SQL, &a->id);
	bind_param(&a->p[0], MYSQL_TYPE_LONGLONG, &a->i, 0, NULL, NULL);
	bind_param(&a->p[1], MYSQL_TYPE_STRING, a->s, sizeof(a->s), &a->s_len, NULL);
	bind_param(&a->p[2], MYSQL_TYPE_DOUBLE, &a->d, 0, NULL, NULL);
	bind_param(&a->p[3], MYSQL_TYPE_DATETIME, &a->t, 0, NULL, NULL);
	bind_param(&a->p[4], MYSQL_TYPE_LONG, &a->n, 0, NULL, &a->n_null);
	if (mysql_stmt_bind_param(a->st, a->p))
		die("session %d: bind A: %s", s->i, mysql_stmt_error(a->st));

	s->b.st = prepare(s, STMT_B_SQL, &s->b.id);
	bind_param(&s->b.p[0], MYSQL_TYPE_LONG, &s->b.qty, 0, NULL, NULL);
	if (mysql_stmt_bind_param(s->b.st, s->b.p))
		die("session %d: bind B: %s", s->i, mysql_stmt_error(s->b.st));

	struct stmt_c *c = &s->c;
	c->st = prepare(s, STMT_C_SQL, &c->id);
	c->sess = s->i;
	bind_param(&c->p[0], MYSQL_TYPE_LONG, &c->sess, 0, NULL, NULL);
	bind_param(&c->p[1], MYSQL_TYPE_VAR_STRING, c->v, sizeof(c->v), &c->v_len, NULL);
	if (mysql_stmt_bind_param(c->st, c->p))
		die("session %d: bind C: %s", s->i, mysql_stmt_error(c->st));

	/* Run each once: the parameter types go to the server now, and only now. */
	s->checks = (unsigned)-1;
	s->err[0] = 0;
	if (!check_prepared(s))
		die("session %d: first execution: %s", s->i, s->err);
	s->checks = 0;
}

static void json_str(const char *p);

/* ------------------------------------------------------------- cursor */

#define CURSOR_SQL "SELECT seq FROM seq_1_to_100"

static void cursor_setup(const char *host, unsigned port, const char *user, const char *pass,
			 const char *dbname)
{
	cur.db = mysql_init(NULL);
	my_bool no = 0;
	mysql_options(cur.db, MYSQL_OPT_RECONNECT, &no);
	if (!mysql_real_connect(cur.db, host, user, pass, dbname, port, NULL, 0))
		die("cursor session: connect: %s", mysql_error(cur.db));
	cur.st = mysql_stmt_init(cur.db);
	unsigned long type = CURSOR_TYPE_READ_ONLY, prefetch = 5;
	if (!cur.st || mysql_stmt_prepare(cur.st, CURSOR_SQL, strlen(CURSOR_SQL)) ||
	    mysql_stmt_attr_set(cur.st, STMT_ATTR_CURSOR_TYPE, &type) ||
	    mysql_stmt_attr_set(cur.st, STMT_ATTR_PREFETCH_ROWS, &prefetch))
		die("cursor session: prepare: %s", mysql_error(cur.db));
	memset(&cur.r, 0, sizeof(cur.r));
	cur.r.buffer_type = MYSQL_TYPE_LONGLONG;
	cur.r.buffer = &cur.v;
	if (mysql_stmt_execute(cur.st) || mysql_stmt_bind_result(cur.st, &cur.r))
		die("cursor session: execute: %s", mysql_stmt_error(cur.st));
	for (cur.fetched = 0; cur.fetched < 15; cur.fetched++)
		if (mysql_stmt_fetch(cur.st))
			die("cursor session: fetch: %s", mysql_stmt_error(cur.st));
}

/* Fetch the rest; then execute again and count every row. */
static void cursor_check(void)
{
	int rc;
	while ((rc = mysql_stmt_fetch(cur.st)) == 0)
		cur.fetched++;
	unsigned code = rc == MYSQL_NO_DATA ? 0 : mysql_stmt_errno(cur.st);
	char state[6], msg[300];
	snprintf(state, sizeof(state), "%s", code ? mysql_stmt_sqlstate(cur.st) : "");
	snprintf(msg, sizeof(msg), "%s", code ? mysql_stmt_error(cur.st) : "");
	int again = -1;
	if (mysql_stmt_execute(cur.st) == 0) {
		for (again = 0; mysql_stmt_fetch(cur.st) == 0;)
			again++;
	}
	printf(", \"cursor\": {\"fetched\": %d, \"code\": %u, \"sqlstate\": \"%s\", \"error\": ",
	       cur.fetched, code, state);
	json_str(msg);
	printf(", \"rows_again\": %d}", again);
	cur.fetched = again > 0 ? again : 0;
}

/* ---------------------------------------------------------------- main */

static bool check_one(struct sess *s, long server_id)
{
	s->err[0] = 0;
	s->err_code = 0;
	bool ok = s->kind == K_SCHEMA ? check_schema(s)
		  : s->kind == K_VARS ? check_vars(s)
				      : check_prepared(s);
	if (s->kind == K_PREPARED)
		s->checks++;
	if (ok && server_id >= 0) {
		char got[1][128];
		ok = query_row(s, "SELECT @@server_id", got, 1);
		if (ok && atol(got[0]) != server_id)
			ok = failed(s, 0, "on server %s, expected %ld", got[0], server_id);
	}
	return ok;
}

/* Print a JSON string (the messages are ours or the server's, ASCII). */
static void json_str(const char *p)
{
	putchar('"');
	for (; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if ((unsigned char)*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

static void check_all(long server_id)
{
	double t0 = now_ms();
	int ok[K_COUNT] = {0}, total[K_COUNT] = {0};
	unsigned codes[8] = {0}, counts[8] = {0};
	int nfail = 0;
	for (int i = 0; i < nsess; i++) {
		struct sess *s = &sessions[i];
		total[s->kind]++;
		if (check_one(s, server_id)) {
			ok[s->kind]++;
			continue;
		}
		nfail++;
		for (int c = 0; c < 8; c++) {
			if (counts[c] && codes[c] != s->err_code)
				continue;
			codes[c] = s->err_code;
			counts[c]++;
			break;
		}
	}
	printf("{\"phase\": \"check\", \"sessions\": %d, \"ok\": %d, \"elapsed_ms\": %.1f, "
	       "\"by_kind\": {",
	       nsess, nsess - nfail, now_ms() - t0);
	for (int k = 0; k < K_COUNT; k++)
		printf("%s\"%s\": [%d, %d]", k ? ", " : "", kind_name[k], ok[k], total[k]);
	printf("}");
	if (cur.st)
		cursor_check();
	printf(", \"errors\": {");
	for (int c = 0, n = 0; c < 8; c++)
		if (counts[c])
			printf("%s\"%u\": %u", n++ ? ", " : "", codes[c], counts[c]);
	printf("}, \"failures\": [");
	for (int i = 0, n = 0; i < nsess && n < 20; i++) {
		if (!sessions[i].err[0])
			continue;
		printf("%s{\"session\": %d, \"kind\": \"%s\", \"code\": %u, \"error\": ",
		       n++ ? ", " : "", i, kind_name[sessions[i].kind], sessions[i].err_code);
		json_str(sessions[i].err);
		printf("}");
	}
	printf("]}\n");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	if (argc < 7 || argc > 8 || (argc == 8 && strcmp(argv[7], "cursor") != 0))
		die("usage: failover_client HOST PORT USER PASSWORD DB N [cursor]");
	const char *host = argv[1], *user = argv[3], *pass = argv[4], *dbname = argv[5];
	unsigned port = (unsigned)atoi(argv[2]);
	nsess = atoi(argv[6]);
	if (nsess < 0)
		die("N must not be negative");
	sessions = calloc((size_t)nsess + 1, sizeof(*sessions));
	if (!sessions)
		die("out of memory");
	double t0 = now_ms();
	for (int i = 0; i < nsess; i++) {
		struct sess *s = &sessions[i];
		s->i = i;
		s->kind = (enum kind)(i % K_COUNT);
		s->db = mysql_init(NULL);
		unsigned timeout = 60;
		my_bool no = 0;
		mysql_options(s->db, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
		mysql_options(s->db, MYSQL_OPT_READ_TIMEOUT, &timeout);
		mysql_options(s->db, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
		mysql_options(s->db, MYSQL_OPT_RECONNECT, &no);
		if (!mysql_real_connect(s->db, host, user, pass, dbname, port, NULL, 0))
			die("session %d: connect: %s", i, mysql_error(s->db));
		if (i == 0 &&
		    mysql_query(s->db, "CREATE TABLE IF NOT EXISTS test.fo_client ("
				       "id INT AUTO_INCREMENT PRIMARY KEY, sess INT NOT NULL, "
				       "v VARCHAR(32) NOT NULL, KEY (sess))"))
			die("create test.fo_client: %s", mysql_error(s->db));
		switch (s->kind) {
		case K_SCHEMA:
			setup_schema(s);
			break;
		case K_VARS:
			setup_vars(s);
			break;
		default:
			setup_prepared(s);
			break;
		}
	}
	if (argc == 8)
		cursor_setup(host, port, user, pass, dbname);
	printf("{\"phase\": \"ready\", \"sessions\": %d, \"elapsed_ms\": %.1f}\n", nsess,
	       now_ms() - t0);
	fflush(stdout);

	char line[128];
	while (fgets(line, sizeof(line), stdin)) {
		long server_id = -1;
		if (strncmp(line, "check", 5) != 0)
			die("unknown command: %s", line);
		if (line[5] == ' ')
			server_id = atol(line + 6);
		check_all(server_id);
	}
	for (int i = 0; i < nsess; i++) {
		struct sess *s = &sessions[i];
		if (s->a.st)
			mysql_stmt_close(s->a.st);
		if (s->b.st)
			mysql_stmt_close(s->b.st);
		if (s->c.st)
			mysql_stmt_close(s->c.st);
		mysql_close(s->db);
	}
	if (cur.st)
		mysql_stmt_close(cur.st);
	if (cur.db)
		mysql_close(cur.db);
	free(sessions);
	return 0;
}
