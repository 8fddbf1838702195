/*
 * db.c — monitor connections with millisecond deadlines (see db.h).
 */
#include "health/db.h"

#include <errno.h>
#include <errmsg.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "common/clock.h"
#include "health/text.h"

void hc_db_init(struct hc_db *db, int cancel_fd)
{
	memset(db, 0, sizeof(*db));
	db->cancel_fd = cancel_fd;
}

int hc_db_fd(const struct hc_db *db)
{
	return db->my ? (int)mysql_get_socket(db->my) : -1;
}

bool hc_db_err_is_client(const struct hc_db *db)
{
	return db->err_no >= 2000 && db->err_no < 3000;
}

static void set_err(struct hc_db *db, unsigned no, const char *text)
{
	db->err_no = no;
	hc_fmt(db->err, "%s", text);
}

static void take_err(struct hc_db *db)
{
	db->err_no = mysql_errno(db->my);
	hc_fmt(db->err, "%s", mysql_error(db->my));
}

/*
 * Wait until the socket is ready for what the library asked (status), the
 * deadline passes, or cancel_fd fires. Returns the events to hand to the
 * *_cont call, or HC_DB_TIMEOUT / HC_DB_CANCELLED.
 */
static int wait_io(struct hc_db *db, int status, int64_t deadline_us)
{
	struct pollfd p[2] = {{.fd = (int)mysql_get_socket(db->my)}, {.fd = db->cancel_fd}};
	if (status & MYSQL_WAIT_READ)
		p[0].events |= POLLIN;
	if (status & MYSQL_WAIT_WRITE)
		p[0].events |= POLLOUT;
	if (status & MYSQL_WAIT_EXCEPT)
		p[0].events |= POLLPRI;
	p[1].events = POLLIN;
	nfds_t n = db->cancel_fd >= 0 ? 2 : 1;
	for (;;) {
		int64_t left_us = deadline_us - clock_mono_us();
		if (left_us <= 0)
			return HC_DB_TIMEOUT;
		int rc = poll(p, n, (int)((left_us + 999) / 1000));
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return HC_DB_TIMEOUT;
		if (n == 2 && (p[1].revents & POLLIN))
			return HC_DB_CANCELLED;
		if (rc == 0)
			continue; /* re-check the deadline */
		int ev = 0;
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR))
			ev |= MYSQL_WAIT_READ;
		if (p[0].revents & (POLLOUT | POLLHUP | POLLERR))
			ev |= MYSQL_WAIT_WRITE;
		if (p[0].revents & POLLPRI)
			ev |= MYSQL_WAIT_EXCEPT;
		return ev ? ev : status;
	}
}

/* The *_cont call of the operation being driven. */
typedef int (*cont_fn)(void *ret, MYSQL *my, int ev);

static int cont_connect(void *ret, MYSQL *my, int ev)
{
	return mysql_real_connect_cont(ret, my, ev);
}

static int cont_query(void *ret, MYSQL *my, int ev)
{
	return mysql_real_query_cont(ret, my, ev);
}

static int cont_store(void *ret, MYSQL *my, int ev)
{
	return mysql_store_result_cont(ret, my, ev);
}

static int cont_next(void *ret, MYSQL *my, int ev)
{
	return mysql_next_result_cont(ret, my, ev);
}

/*
 * Drive a started operation (status from its *_start) until it finishes:
 * HC_DB_OK (look at its result), or HC_DB_TIMEOUT / HC_DB_CANCELLED. To
 * give up, the socket is shut down: every further read or write then fails
 * at once, so the _cont loop ends quickly and leaves the handle consistent
 * for mysql_close().
 */
static int drive(struct hc_db *db, int status, int64_t deadline_us, cont_fn cont, void *ret)
{
	while (status) {
		/* Once the library waits to read, a TCP connect is done and the
		 * server's greeting (or login answer) is what is missing. */
		if (status & MYSQL_WAIT_READ)
			db->tcp_reached = true;
		int ev = wait_io(db, status, deadline_us);
		if (ev < 0) {
			int fd = (int)mysql_get_socket(db->my);
			if (fd >= 0)
				shutdown(fd, SHUT_RDWR);
			for (int i = 0; status && i < 64; i++)
				status = cont(ret, db->my, MYSQL_WAIT_READ | MYSQL_WAIT_WRITE);
			return ev;
		}
		status = cont(ret, db->my, ev);
	}
	return HC_DB_OK;
}

int hc_db_connect(struct hc_db *db, const struct cfg_addr *addr, const char *user,
		  const char *password, const struct hc_db_tls *tls, int64_t deadline_us)
{
	hc_db_close(db);
	db->err_no = 0;
	db->err[0] = 0;
	db->tcp_reached = false;
	db->hb_table_ready = false;
	db->my = mysql_init(NULL);
	if (!db->my) {
		set_err(db, CR_OUT_OF_MEMORY, "out of memory");
		return HC_DB_ERROR;
	}
	unsigned proto = MYSQL_PROTOCOL_TCP;
	my_bool off = 0;
	mysql_options(db->my, MYSQL_OPT_NONBLOCK, 0);
	mysql_options(db->my, MYSQL_OPT_PROTOCOL, &proto);
	mysql_options(db->my, MYSQL_OPT_RECONNECT, &off);
	mysql_options(db->my, MYSQL_OPT_LOCAL_INFILE, &off);
	mysql_options(db->my, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	if (tls) {
		my_bool on = 1, verify = tls->verify_identity;
		if (tls->ca)
			mysql_options(db->my, MYSQL_OPT_SSL_CA, tls->ca);
		if (tls->cert)
			mysql_options(db->my, MYSQL_OPT_SSL_CERT, tls->cert);
		if (tls->key)
			mysql_options(db->my, MYSQL_OPT_SSL_KEY, tls->key);
		mysql_options(db->my, MYSQL_OPT_SSL_ENFORCE, &on);
		mysql_options(db->my, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
	}

	MYSQL *ret = NULL;
	int status = mysql_real_connect_start(&ret, db->my, addr->host, user, password, NULL,
					      addr->port, NULL, CLIENT_MULTI_RESULTS);
	int rc = drive(db, status, deadline_us, cont_connect, &ret);
	if (rc != HC_DB_OK || !ret) {
		if (rc == HC_DB_TIMEOUT)
			set_err(db, CR_SERVER_LOST,
				db->tcp_reached
					? "timed out waiting for the server's greeting or login answer"
					: "timed out connecting");
		else if (rc == HC_DB_CANCELLED)
			set_err(db, CR_SERVER_LOST, "cancelled");
		else
			take_err(db);
		mysql_close(db->my);
		db->my = NULL;
		return rc == HC_DB_OK ? HC_DB_ERROR : rc;
	}
	db->tcp_reached = true;
	const char *v = mysql_get_server_info(db->my);
	hc_fmt(db->version, "%s", v ? v : "");
	db->mariadb = v && strstr(v, "MariaDB") != NULL;
	db->version_id = mysql_get_server_version(db->my);
	return HC_DB_OK;
}

/* The server (or the client library) refused the statement: keep its
 * error, drop any result kept for the caller, and close the connection
 * when the error was the client library's (the link is then unusable). */
static int query_failed(struct hc_db *db, MYSQL_RES **res)
{
	take_err(db);
	if (res && *res) {
		mysql_free_result(*res);
		*res = NULL;
	}
	if (hc_db_err_is_client(db))
		hc_db_close(db);
	return HC_DB_ERROR;
}

int hc_db_query(struct hc_db *db, const char *sql, MYSQL_RES **res, int64_t deadline_us)
{
	if (res)
		*res = NULL;
	if (!db->my) {
		set_err(db, CR_SERVER_GONE_ERROR, "not connected");
		return HC_DB_ERROR;
	}
	db->err_no = 0;
	db->err[0] = 0;
	int qret = 0;
	int status = mysql_real_query_start(&qret, db->my, sql, (unsigned long)strlen(sql));
	int rc = drive(db, status, deadline_us, cont_query, &qret);
	if (rc == HC_DB_OK && qret != 0)
		return query_failed(db, res);
	/* Read every result set; keep the first for the caller. */
	while (rc == HC_DB_OK) {
		MYSQL_RES *r = NULL;
		status = mysql_store_result_start(&r, db->my);
		rc = drive(db, status, deadline_us, cont_store, &r);
		if (rc != HC_DB_OK) {
			if (r)
				mysql_free_result(r);
			break;
		}
		if (!r && mysql_errno(db->my)) {
			return query_failed(db, res);
		}
		if (res && !*res)
			*res = r;
		else if (r)
			mysql_free_result(r);
		if (!mysql_more_results(db->my))
			break;
		int more = 0;
		status = mysql_next_result_start(&more, db->my);
		rc = drive(db, status, deadline_us, cont_next, &more);
		if (rc == HC_DB_OK && more > 0) {
			return query_failed(db, res);
		}
	}
	if (rc != HC_DB_OK) {
		if (res && *res) {
			mysql_free_result(*res);
			*res = NULL;
		}
		set_err(db, CR_SERVER_LOST,
			rc == HC_DB_TIMEOUT ? "timed out waiting for the server's answer"
					    : "cancelled");
		hc_db_close(db);
		return rc;
	}
	return HC_DB_OK;
}

uint64_t hc_db_affected(const struct hc_db *db)
{
	if (!db->my)
		return 0;
	my_ulonglong n = mysql_affected_rows(db->my);
	return n == (my_ulonglong)-1 ? 0 : (uint64_t)n;
}

int hc_db_query_value(struct hc_db *db, const char *sql, char *out, size_t outlen, bool *is_null,
		      int64_t deadline_us)
{
	MYSQL_RES *res = NULL;
	out[0] = 0;
	if (is_null)
		*is_null = true;
	int rc = hc_db_query(db, sql, &res, deadline_us);
	if (rc != HC_DB_OK)
		return rc;
	MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
	if (row && mysql_num_fields(res) > 0 && row[0]) {
		snprintf(out, outlen, "%s", row[0]);
		if (is_null)
			*is_null = false;
	}
	if (res)
		mysql_free_result(res);
	return HC_DB_OK;
}

unsigned long hc_db_escape(struct hc_db *db, char *out, const char *in, unsigned long len)
{
	if (!db->my) {
		out[0] = 0;
		return 0;
	}
	return mysql_real_escape_string(db->my, out, in, len);
}

void hc_db_close(struct hc_db *db)
{
	if (!db->my)
		return;
	mysql_close(db->my);
	db->my = NULL;
	db->hb_table_ready = false;
}
