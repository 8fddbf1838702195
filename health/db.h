/*
 * db.h — one monitor connection to a server: Connector/C driven through
 * its non-blocking API, so every step has a deadline in milliseconds.
 *
 * Why not the blocking API with MYSQL_OPT_*_TIMEOUT: libmariadb takes
 * those in whole seconds, and a 300 ms probe timeout must mean 300 ms. Here
 * each *_start/_cont step is driven by poll() against the caller's
 * deadline; on expiry the socket is shut down, which makes the pending
 * operation fail at once, so the library's state stays consistent and the
 * connection can be closed normally.
 *
 * A second descriptor (cancel_fd, e.g. the monitor's stop eventfd) is
 * polled too: when it becomes readable the operation is abandoned the same
 * way, so stopping never waits for a hung server.
 *
 * Owns: the MYSQL handle. Must not: be shared between threads, or decide
 * anything about health (probe.c and failover.c interpret results).
 */
#ifndef TANDEM_HEALTH_DB_H
#define TANDEM_HEALTH_DB_H

#include <mysql.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"

enum hc_db_rc {
	HC_DB_OK = 0,
	HC_DB_ERROR = -1,     /* the server or the library reported an error (err_no, err) */
	HC_DB_TIMEOUT = -2,   /* the deadline passed; the connection was dropped */
	HC_DB_CANCELLED = -3, /* cancel_fd fired; the connection was dropped */
};

struct hc_db {
	MYSQL *my;                /* NULL when not connected */
	int cancel_fd;            /* -1: none */
	bool mariadb;             /* server flavour, known once connected */
	unsigned long version_id; /* e.g. 101119 */
	char version[64];
	unsigned err_no;            /* last error (0 if none) */
	char err[256];              /* its text, never containing a password */
	bool tcp_reached;           /* the last connect got past TCP (for layered verdicts) */
	bool hb_table_ready;        /* heartbeat table created on this connection's server */
	unsigned long stuck_thread; /* server thread of a write that timed out, to KILL; 0 none */
};

/* TLS towards the server, as Connector/C takes it. */
struct hc_db_tls {
	const char *ca;   /* CA file to verify the server with; NULL: none given */
	const char *cert; /* client certificate and key; NULL: none */
	const char *key;
	bool verify_identity; /* the certificate must also name the host */
};

void hc_db_init(struct hc_db *db, int cancel_fd);
/* Connect and log in, all before deadline (monotonic µs). tls NULL:
 * plaintext; otherwise TLS is required (no fallback to plaintext). On
 * failure the handle is closed and err/err_no/tcp_reached say how far it
 * got. */
int hc_db_connect(struct hc_db *db, const struct cfg_addr *addr, const char *user,
		  const char *password, const struct hc_db_tls *tls, int64_t deadline_us);
/* Run one statement. With res, the caller gets the stored result (frees it
 * with mysql_free_result); without, any result is read and discarded. A
 * timeout, a cancel or a broken connection closes the handle; a server
 * error (a refused statement) keeps it. */
int hc_db_query(struct hc_db *db, const char *sql, MYSQL_RES **res, int64_t deadline_us);
/* Rows changed by the last statement. */
uint64_t hc_db_affected(const struct hc_db *db);
/* First column of the first row as text into out ("" for NULL / no row).
 * Returns the hc_db_rc; HC_DB_OK with *is_null when the value is NULL. */
int hc_db_query_value(struct hc_db *db, const char *sql, char *out, size_t outlen, bool *is_null,
		      int64_t deadline_us);
/* Quote a string for SQL (into out, at least 2*len+1 bytes); needs a
 * connection. Returns the escaped length. */
unsigned long hc_db_escape(struct hc_db *db, char *out, const char *in, unsigned long len);
void hc_db_close(struct hc_db *db);

static inline bool hc_db_connected(const struct hc_db *db)
{
	return db->my != NULL;
}
/* The connection's socket, or -1. */
int hc_db_fd(const struct hc_db *db);
/* True when err_no is a client-side (connection) error rather than a
 * server's refusal of a statement. */
bool hc_db_err_is_client(const struct hc_db *db);

#endif
