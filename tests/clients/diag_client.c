/*
 * diag_client.c — what a Connector/C application sees after each
 * statement, printed so that two runs (directly and through tandem) can be
 * compared line by line: test_guard_diagnostics.py.
 *
 * Usage: diag_client host port user password schema < script
 * Each script line is "T <sql>" (mysql_real_query) or "P <sql>"
 * (mysql_stmt_prepare + execute). For each it prints the error (code,
 * SQLSTATE, message) or affected rows, insert id, warning count, info and
 * the server status flags, then every row of a result (text values).
 * Exit status 0 when the script ran (statement errors are output, not
 * failures); 2 for a usage or connection error.
 */
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned status_of(MYSQL *db)
{
	unsigned st = 0;
	mariadb_get_infov(db, MARIADB_CONNECTION_SERVER_STATUS, &st);
	return st;
}

static void print_ok(MYSQL *db, unsigned long long affected, unsigned long long id)
{
	const char *info = mysql_info(db);
	printf("  ok affected=%lld insert_id=%llu warnings=%u info=%s status=0x%x\n",
	       (long long)affected, id, mysql_warning_count(db), info ? info : "", status_of(db));
}

static void text(MYSQL *db, const char *sql)
{
	if (mysql_real_query(db, sql, (unsigned long)strlen(sql))) {
		printf("  err %u %s %s\n", mysql_errno(db), mysql_sqlstate(db), mysql_error(db));
		return;
	}
	do {
		MYSQL_RES *res = mysql_store_result(db);
		if (res) {
			unsigned n = mysql_num_fields(res);
			MYSQL_ROW row;
			while ((row = mysql_fetch_row(res))) {
				printf("  row");
				for (unsigned i = 0; i < n; i++)
					printf(" |%s", row[i] ? row[i] : "NULL");
				printf("\n");
			}
			mysql_free_result(res);
			printf("  eof warnings=%u status=0x%x\n", mysql_warning_count(db),
			       status_of(db));
		} else {
			print_ok(db, mysql_affected_rows(db), mysql_insert_id(db));
		}
	} while (mysql_next_result(db) == 0);
}

static void prepared(MYSQL *db, const char *sql)
{
	MYSQL_STMT *st = mysql_stmt_init(db);
	if (mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql)) || mysql_stmt_execute(st)) {
		printf("  err %u %s %s\n", mysql_stmt_errno(st), mysql_stmt_sqlstate(st),
		       mysql_stmt_error(st));
		mysql_stmt_close(st);
		return;
	}
	unsigned n = mysql_stmt_field_count(st);
	if (n == 0) {
		print_ok(db, mysql_stmt_affected_rows(st), mysql_stmt_insert_id(st));
		mysql_stmt_close(st);
		return;
	}
	MYSQL_BIND *b = calloc(n, sizeof(*b));
	char(*buf)[256] = calloc(n, 256);
	unsigned long *len = calloc(n, sizeof(*len));
	my_bool *null = calloc(n, sizeof(*null));
	for (unsigned i = 0; i < n; i++) {
		b[i].buffer_type = MYSQL_TYPE_STRING;
		b[i].buffer = buf[i];
		b[i].buffer_length = 255;
		b[i].length = &len[i];
		b[i].is_null = &null[i];
	}
	mysql_stmt_bind_result(st, b);
	mysql_stmt_store_result(st);
	while (mysql_stmt_fetch(st) == 0) {
		printf("  row");
		for (unsigned i = 0; i < n; i++)
			printf(" |%.*s", null[i] ? 4 : (int)len[i], null[i] ? "NULL" : buf[i]);
		printf("\n");
	}
	printf("  eof warnings=%u status=0x%x\n", mysql_warning_count(db), status_of(db));
	mysql_stmt_close(st);
	free(b);
	free(buf);
	free(len);
	free(null);
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: diag_client host port user password schema < script\n");
		return 2;
	}
	MYSQL *db = mysql_init(NULL);
	unsigned proto = MYSQL_PROTOCOL_TCP;
	mysql_options(db, MYSQL_OPT_PROTOCOL, &proto);
	if (!mysql_real_connect(db, argv[1], argv[3], argv[4], argv[5], (unsigned)atoi(argv[2]),
				NULL, CLIENT_MULTI_STATEMENTS)) {
		fprintf(stderr, "connect: %s\n", mysql_error(db));
		return 2;
	}
	char line[4096];
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = 0;
		if (strlen(line) < 3)
			continue;
		printf("%s\n", line);
		if (line[0] == 'P')
			prepared(db, line + 2);
		else
			text(db, line + 2);
	}
	mysql_close(db);
	return 0;
}
