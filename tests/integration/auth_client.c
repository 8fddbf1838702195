/*
 * auth_client.c — a Connector/C client for the auth and TLS integration
 * tests: connects with the options a test names (default plugin, server
 * public key file, TLS CA and verification), then runs steps in order:
 *   -e SQL              run a statement, print its rows tab-separated
 *   -C USER:PASS[:DB]   mysql_change_user()
 *   -W                  print "WAITING", then wait for a line on stdin (the
 *                       test looks at tandem meanwhile)
 * Every error prints one line "ERROR <errno> (<sqlstate>): <message>" and
 * the steps go on (a test wants to see what follows a failed change);
 * a failed connect exits 1. Prints "CONNECTED <plugin-hint>" after connect.
 */
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void print_error(MYSQL *m)
{
	printf("ERROR %u (%s): %s\n", mysql_errno(m), mysql_sqlstate(m), mysql_error(m));
	fflush(stdout);
}

static void run_query(MYSQL *m, const char *sql)
{
	if (mysql_query(m, sql)) {
		print_error(m);
		return;
	}
	do {
		MYSQL_RES *res = mysql_store_result(m);
		if (!res) {
			if (mysql_field_count(m))
				print_error(m);
			continue;
		}
		unsigned n = mysql_num_fields(res);
		MYSQL_ROW row;
		while ((row = mysql_fetch_row(res))) {
			for (unsigned i = 0; i < n; i++)
				printf("%s%s", i ? "\t" : "", row[i] ? row[i] : "NULL");
			printf("\n");
		}
		mysql_free_result(res);
	} while (mysql_next_result(m) == 0);
	fflush(stdout);
}

static void change_user(MYSQL *m, char *spec)
{
	char *user = spec, *pass = strchr(spec, ':'), *db = NULL;
	if (pass) {
		*pass++ = 0;
		db = strchr(pass, ':');
		if (db)
			*db++ = 0;
	}
	if (mysql_change_user(m, user, pass ? pass : "", db && *db ? db : NULL))
		print_error(m);
	else
		printf("CHANGED %s\n", user);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1", *user = "app", *pass = "", *db = NULL;
	const char *plugin = NULL, *pubkey = NULL, *ca = NULL;
	unsigned port = 3306;
	int verify = 0, opt;
	/* first pass: connection options */
	while ((opt = getopt(argc, argv, "h:P:u:p:D:a:k:c:ve:C:W")) != -1) {
		switch (opt) {
		case 'h':
			host = optarg;
			break;
		case 'P':
			port = (unsigned)atoi(optarg);
			break;
		case 'u':
			user = optarg;
			break;
		case 'p':
			pass = optarg;
			break;
		case 'D':
			db = optarg;
			break;
		case 'a':
			plugin = optarg;
			break;
		case 'k':
			pubkey = optarg;
			break;
		case 'c':
			ca = optarg;
			break;
		case 'v':
			verify = 1;
			break;
		case 'e':
		case 'C':
		case 'W':
			break;
		default:
			fprintf(stderr,
				"usage: %s -P port -u user -p pass [-D db] [-a plugin] "
				"[-k pubkey.pem] [-c ca.pem [-v]] [-e SQL | -C u:p[:db]]...\n",
				argv[0]);
			return 2;
		}
	}
	MYSQL *m = mysql_init(NULL);
	unsigned timeout = 10;
	mysql_optionsv(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_optionsv(m, MYSQL_OPT_READ_TIMEOUT, &timeout);
	if (plugin)
		mysql_optionsv(m, MYSQL_DEFAULT_AUTH, plugin);
	if (pubkey)
		mysql_optionsv(m, MYSQL_SERVER_PUBLIC_KEY, pubkey);
	if (ca) {
		mysql_optionsv(m, MYSQL_OPT_SSL_CA, ca);
		my_bool v = (my_bool)verify;
		mysql_optionsv(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &v);
	}
	if (!mysql_real_connect(m, host, user, pass, db, port, NULL, 0)) {
		print_error(m);
		mysql_close(m);
		return 1;
	}
	const char *cipher = mysql_get_ssl_cipher(m);
	printf("CONNECTED %s\n", cipher ? cipher : "plain");
	fflush(stdout);
	optind = 1;
	while ((opt = getopt(argc, argv, "h:P:u:p:D:a:k:c:ve:C:W")) != -1) {
		if (opt == 'e') {
			run_query(m, optarg);
		} else if (opt == 'C') {
			change_user(m, optarg);
		} else if (opt == 'W') {
			char line[16];
			printf("WAITING\n");
			fflush(stdout);
			if (!fgets(line, sizeof(line), stdin))
				break;
		}
	}
	mysql_close(m);
	return 0;
}
