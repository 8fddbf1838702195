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
	if (!mysql_real_connect(m, argv[1], argv[3], argv[4], argv[5], (unsigned)atoi(argv[2]),
				NULL, 0))
		die(m, NULL, "connect");
	if (strcmp(scenario, "cursor") == 0) {
		run_cursor(m);
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
