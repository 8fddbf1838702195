/*
 * record_capi.c — a tiny Connector/C client the vector recorder runs
 * (tests/data/record.py compiles it on the fly; it is not part of the build).
 *
 * usage: record_capi HOST PORT USER PASSWORD DB SCENARIO
 *   login   connect, one SELECT, close
 *   sha2    connect with MYSQL_DEFAULT_AUTH=caching_sha2_password (the server
 *           answers a native account with an AuthSwitchRequest), close
 *   cursor  a prepared SELECT with two parameters, executed with a read-only
 *           cursor and fetched two rows per COM_STMT_FETCH; then executed
 *           again without a cursor; then closed
 *   ext     MariaDB's extended capabilities: a bulk INSERT (array binding),
 *           a prepared SELECT of a JSON column executed twice, the same
 *           SELECT as text
 *   progress an ALTER TABLE with progress reports (a callback set)
 * Exits non-zero with the client error on any failure.
 */
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(MYSQL *m, MYSQL_STMT *st, const char *what)
{
	fprintf(stderr, "%s: %s\n", what, st ? mysql_stmt_error(st) : mysql_error(m));
	exit(1);
}

static void run_cursor(MYSQL *m)
{
	const char *sql = "SELECT id, name, qty, price, note FROM test.codec_t "
			  "WHERE id > ? AND name <> ? ORDER BY id LIMIT 5";
	MYSQL_STMT *st = mysql_stmt_init(m);
	if (!st || mysql_stmt_prepare(st, sql, strlen(sql)))
		die(m, st, "prepare");
	unsigned long type = CURSOR_TYPE_READ_ONLY, prefetch = 2;
	mysql_stmt_attr_set(st, STMT_ATTR_CURSOR_TYPE, &type);
	mysql_stmt_attr_set(st, STMT_ATTR_PREFETCH_ROWS, &prefetch);

	long long min_id = 2;
	char name[] = "nobody";
	unsigned long name_len = sizeof(name) - 1;
	MYSQL_BIND p[2];
	memset(p, 0, sizeof(p));
	p[0].buffer_type = MYSQL_TYPE_LONGLONG;
	p[0].buffer = &min_id;
	p[1].buffer_type = MYSQL_TYPE_STRING;
	p[1].buffer = name;
	p[1].length = &name_len;
	if (mysql_stmt_bind_param(st, p))
		die(m, st, "bind_param");
	if (mysql_stmt_execute(st))
		die(m, st, "execute (cursor)");
	int rows = 0;
	while (mysql_stmt_fetch(st) == 0)
		rows++;
	printf("cursor rows: %d\n", rows);

	type = CURSOR_TYPE_NO_CURSOR;
	mysql_stmt_attr_set(st, STMT_ATTR_CURSOR_TYPE, &type);
	if (mysql_stmt_execute(st) || mysql_stmt_store_result(st))
		die(m, st, "execute (no cursor)");
	printf("rows: %llu\n", (unsigned long long)mysql_stmt_num_rows(st));
	mysql_stmt_close(st);
}

static void query(MYSQL *m, const char *sql)
{
	if (mysql_query(m, sql))
		die(m, NULL, sql);
	mysql_free_result(mysql_store_result(m));
}

/* MariaDB extended capabilities as Connector/C uses them: a bulk INSERT
 * of 3 rows (COM_STMT_BULK_EXECUTE), a prepared SELECT executed twice
 * (the second answer has no column definitions: metadata caching) with a
 * JSON column (extended type info), and the same SELECT as text. */
static void run_ext(MYSQL *m)
{
	query(m, "CREATE OR REPLACE TABLE test.codec_ext (id INT PRIMARY KEY, doc JSON)");
	MYSQL_STMT *st = mysql_stmt_init(m);
	const char *ins = "INSERT INTO test.codec_ext VALUES (?, ?)";
	if (!st || mysql_stmt_prepare(st, ins, strlen(ins)))
		die(m, st, "prepare insert");
	int ids[3] = {1, 2, 3};
	char *docs[3] = {"{\"a\": 1}", "[1, 2]", "null"};
	unsigned long lens[3] = {8, 6, 4};
	unsigned int size = 3;
	mysql_stmt_attr_set(st, STMT_ATTR_ARRAY_SIZE, &size);
	MYSQL_BIND b[2];
	memset(b, 0, sizeof(b));
	b[0].buffer_type = MYSQL_TYPE_LONG;
	b[0].buffer = ids;
	b[1].buffer_type = MYSQL_TYPE_STRING;
	b[1].buffer = docs;
	b[1].length = lens;
	if (mysql_stmt_bind_param(st, b) || mysql_stmt_execute(st))
		die(m, st, "bulk insert");
	mysql_stmt_close(st);
	st = mysql_stmt_init(m);
	const char *sel = "SELECT id, doc FROM test.codec_ext ORDER BY id";
	if (!st || mysql_stmt_prepare(st, sel, strlen(sel)))
		die(m, st, "prepare select");
	for (int i = 0; i < 2; i++) {
		if (mysql_stmt_execute(st) || mysql_stmt_store_result(st))
			die(m, st, "execute select");
		mysql_stmt_free_result(st);
	}
	mysql_stmt_close(st);
	query(m, sel);
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

/* An ALTER TABLE long enough for progress reports (progress_report_time
 * is 1 s): ERR-shaped 0xFFFF packets before its OK. */
static void run_progress(MYSQL *m)
{
	query(m, "CREATE OR REPLACE TABLE test.codec_big (id INT PRIMARY KEY, pad CHAR(200))");
	query(m, "INSERT INTO test.codec_big SELECT seq, REPEAT('p', 200) FROM seq_1_to_400000");
	query(m, "SET SESSION progress_report_time = 1");
	query(m, "ALTER TABLE test.codec_big ADD COLUMN extra INT NULL, ALGORITHM=COPY");
	printf("progress reports: %d\n", progress_calls);
	if (progress_calls == 0) {
		fprintf(stderr, "no progress report came\n");
		exit(1);
	}
	query(m, "DROP TABLE test.codec_big");
}

int main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: %s HOST PORT USER PASSWORD DB SCENARIO\n", argv[0]);
		return 2;
	}
	const char *scenario = argv[6];
	MYSQL *m = mysql_init(NULL);
	if (strcmp(scenario, "sha2") == 0)
		mysql_optionsv(m, MYSQL_DEFAULT_AUTH, "caching_sha2_password");
	mysql_optionsv(m, MYSQL_OPT_CONNECT_ATTR_ADD, "program_name", "record_capi");
	if (strcmp(scenario, "progress") == 0)
		mysql_optionsv(m, MYSQL_PROGRESS_CALLBACK, (void *)on_progress);
	if (!mysql_real_connect(m, argv[1], argv[3], argv[4], argv[5], (unsigned)atoi(argv[2]),
				NULL, 0))
		die(m, NULL, "connect");
	if (strcmp(scenario, "cursor") == 0) {
		run_cursor(m);
	} else if (strcmp(scenario, "ext") == 0) {
		run_ext(m);
	} else if (strcmp(scenario, "progress") == 0) {
		run_progress(m);
	} else if (strcmp(scenario, "change_user") == 0) {
		if (mysql_change_user(m, argv[3], argv[4], argv[5]))
			die(m, NULL, "change_user");
		if (mysql_query(m, "SELECT CURRENT_USER()"))
			die(m, NULL, "query after change_user");
		mysql_free_result(mysql_store_result(m));
		if (!mysql_change_user(m, argv[3], "wrong-password", argv[5])) {
			fprintf(stderr, "change_user with a wrong password succeeded\n");
			return 1;
		}
	} else {
		if (mysql_query(m, "SELECT CURRENT_USER(), DATABASE()"))
			die(m, NULL, "query");
		MYSQL_RES *res = mysql_store_result(m);
		MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
		printf("%s %s\n", row && row[0] ? row[0] : "-", row && row[1] ? row[1] : "-");
		mysql_free_result(res);
	}
	mysql_close(m);
	return 0;
}
