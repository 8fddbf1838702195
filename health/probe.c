/*
 * probe.c — what a probe asks a member and how the answers are read (see
 * probe.h). MariaDB first; MySQL spellings where they differ (untested
 * here: no MySQL server in the test environment).
 */
#include "health/probe.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "health/text.h"

/* Server error codes that matter to the verdict. */
#define ER_DBACCESS_DENIED           1044
#define ER_ACCESS_DENIED             1045
#define ER_TOO_MANY_CONNECTIONS      1040
#define ER_SERVER_SHUTDOWN_          1053
#define ER_HOST_BLOCKED              1129
#define ER_HOST_NOT_PRIVILEGED_      1130
#define ER_USER_LIMIT_REACHED        1203
#define ER_NOT_SUPPORTED_AUTH        1251
#define ER_PLUGIN_NOT_LOADED         1524
#define ER_ACCESS_DENIED_NO_PASSWORD 1698
#define ER_MUST_CHANGE_PASSWORD      1820
#define ER_PASSWORD_EXPIRED          1862
#define ER_CONNECTION_KILLED_        1927
#define ER_ACCOUNT_LOCKED            4151
#define ER_NO_SUCH_TABLE             1146
#define ER_TABLEACCESS_DENIED        1142
#define ER_OPTION_PREVENTS_STATEMENT 1290
#define CR_CONNECTION_ERROR_         2002
#define CR_CONN_HOST_ERROR_          2003
#define CR_UNKNOWN_HOST_             2005
#define CR_AUTH_PLUGIN_CANNOT_LOAD_  2059
#define CR_SSL_CONNECTION_ERROR_     2026

/* Connector/C ends a failed connect's message with the OS error, e.g.
 * "Can't connect to server on '10.0.0.5' (113)". Refused (111) means the
 * host answered and nothing listens: the server is gone. No route to the
 * host or network, or a TCP timeout, says only that nothing answered. */
static bool unreachable(const char *msg)
{
	const char *open = strrchr(msg, '(');
	if (!open)
		return false;
	int e = atoi(open + 1);
	return e == EHOSTUNREACH || e == ENETUNREACH || e == ETIMEDOUT || e == EHOSTDOWN ||
	       e == ENETDOWN;
}

enum hc_fail hc_probe_classify_connect(const struct hc_db *db, int rc)
{
	if (rc == HC_DB_TIMEOUT || rc == HC_DB_CANCELLED)
		return db->tcp_reached ? HC_FAIL_HANDSHAKE_TIMEOUT : HC_FAIL_CONNECT_TIMEOUT;
	switch (db->err_no) {
	case CR_CONNECTION_ERROR_:
	case CR_CONN_HOST_ERROR_:
		return unreachable(db->err) ? HC_FAIL_UNREACHABLE : HC_FAIL_CONNECT;
	case CR_UNKNOWN_HOST_:
		return HC_FAIL_CONNECT;
	case ER_ACCESS_DENIED:
	case ER_DBACCESS_DENIED:
	case ER_ACCESS_DENIED_NO_PASSWORD:
	case ER_HOST_NOT_PRIVILEGED_:
	case ER_HOST_BLOCKED:
	case ER_NOT_SUPPORTED_AUTH:
	case ER_PLUGIN_NOT_LOADED:
	case ER_MUST_CHANGE_PASSWORD:
	case ER_PASSWORD_EXPIRED:
	case ER_ACCOUNT_LOCKED:
	case CR_AUTH_PLUGIN_CANNOT_LOAD_:
	case CR_SSL_CONNECTION_ERROR_: /* TLS refused or not verified: a setup problem too */
		return HC_FAIL_AUTH;
	default:
		break;
	}
	if (db->err_no < 2000)
		return HC_FAIL_SERVER; /* answered, but cannot serve (full, shutting down) */
	return db->tcp_reached ? HC_FAIL_HANDSHAKE : HC_FAIL_CONNECT;
}

static enum hc_fail classify_query(const struct hc_db *db, int rc)
{
	if (rc == HC_DB_TIMEOUT || rc == HC_DB_CANCELLED)
		return HC_FAIL_QUERY_TIMEOUT;
	if (hc_db_err_is_client(db))
		return HC_FAIL_QUERY;
	switch (db->err_no) {
	case ER_SERVER_SHUTDOWN_:
	case ER_CONNECTION_KILLED_:
	case ER_TOO_MANY_CONNECTIONS:
		return HC_FAIL_SERVER;
	default:
		return HC_FAIL_MONITOR;
	}
}

/* A connection-level failure (not a refused statement). */
static bool fatal(const struct hc_db *db, int rc)
{
	return rc == HC_DB_TIMEOUT || rc == HC_DB_CANCELLED || hc_db_err_is_client(db);
}

static void copy_field(char *dst, size_t len, const char *src)
{
	hc_fmtn(dst, len, "%s", src ? src : "");
}

/* Index of the first of two column names present in res, or -1. */
static int column(MYSQL_FIELD *f, unsigned nf, const char *a, const char *b)
{
	for (unsigned i = 0; i < nf; i++)
		if (strcmp(f[i].name, a) == 0 || (b && strcmp(f[i].name, b) == 0))
			return (int)i;
	return -1;
}

static const char *cell(MYSQL_ROW row, int i)
{
	return i >= 0 ? row[i] : NULL;
}

/* The heartbeats a MariaDB replica received from its source, and their
 * period (global status of the default connection). A refusal is not
 * fatal: the read position still tells events from silence. */
static int read_heartbeats(struct hc_db *db, struct hc_repl *out, int64_t deadline_us)
{
	MYSQL_RES *res = NULL;
	int rc = hc_db_query(db,
			     "SHOW GLOBAL STATUS WHERE Variable_name IN "
			     "('Slave_received_heartbeats', 'Slave_heartbeat_period')",
			     &res, deadline_us);
	if (rc != HC_DB_OK)
		return fatal(db, rc) ? rc : HC_DB_OK;
	MYSQL_ROW row;
	while (res && mysql_num_fields(res) >= 2 && (row = mysql_fetch_row(res))) {
		if (!row[0] || !row[1])
			continue;
		if (strcmp(row[0], "Slave_received_heartbeats") == 0)
			out->received_heartbeats = strtoull(row[1], NULL, 10);
		else if (strcmp(row[0], "Slave_heartbeat_period") == 0) {
			double sec = strtod(row[1], NULL);
			out->heartbeat_period_ms =
				sec > 0 && sec < 86400 ? (int)(sec * 1000.0 + 0.5) : 0;
		}
	}
	if (res)
		mysql_free_result(res);
	return HC_DB_OK;
}

int hc_probe_replication(struct hc_db *db, struct hc_repl *out, int64_t deadline_us)
{
	memset(out, 0, sizeof(*out));
	out->seconds_behind = -1;
	const char *sql = !db->mariadb && db->version_id >= 80022 ? "SHOW REPLICA STATUS"
								  : "SHOW SLAVE STATUS";
	MYSQL_RES *res = NULL;
	int rc = hc_db_query(db, sql, &res, deadline_us);
	if (rc != HC_DB_OK)
		return rc;
	MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
	if (row) {
		MYSQL_FIELD *f = mysql_fetch_fields(res);
		unsigned nf = mysql_num_fields(res);
		const char *host = cell(row, column(f, nf, "Master_Host", "Source_Host"));
		const char *port = cell(row, column(f, nf, "Master_Port", "Source_Port"));
		out->configured = host && host[0];
		hc_fmt(out->source, "%s:%s", host ? host : "", port ? port : "");
		copy_field(out->io_running, sizeof(out->io_running),
			   cell(row, column(f, nf, "Slave_IO_Running", "Replica_IO_Running")));
		const char *sql_run =
			cell(row, column(f, nf, "Slave_SQL_Running", "Replica_SQL_Running"));
		out->sql_running = sql_run && strcmp(sql_run, "Yes") == 0;
		const char *sbm =
			cell(row, column(f, nf, "Seconds_Behind_Master", "Seconds_Behind_Source"));
		out->seconds_behind = sbm ? atoll(sbm) : -1;
		const char *v = cell(row, column(f, nf, "Last_IO_Errno", NULL));
		out->last_io_errno = v ? (unsigned)atoi(v) : 0;
		v = cell(row, column(f, nf, "Last_SQL_Errno", NULL));
		out->last_sql_errno = v ? (unsigned)atoi(v) : 0;
		copy_field(out->last_io_error, sizeof(out->last_io_error),
			   cell(row, column(f, nf, "Last_IO_Error", NULL)));
		copy_field(out->last_sql_error, sizeof(out->last_sql_error),
			   cell(row, column(f, nf, "Last_SQL_Error", NULL)));
		copy_field(out->gtid_io_pos, sizeof(out->gtid_io_pos),
			   cell(row, column(f, nf, "Gtid_IO_Pos", "Retrieved_Gtid_Set")));
		copy_field(out->master_log_file, sizeof(out->master_log_file),
			   cell(row, column(f, nf, "Master_Log_File", "Source_Log_File")));
		v = cell(row, column(f, nf, "Read_Master_Log_Pos", "Read_Source_Log_Pos"));
		out->read_master_log_pos = v ? strtoull(v, NULL, 10) : 0;
		if (!db->mariadb)
			copy_field(out->gtid_slave_pos, sizeof(out->gtid_slave_pos),
				   cell(row, column(f, nf, "Executed_Gtid_Set", NULL)));
	}
	if (res)
		mysql_free_result(res);
	if (out->configured && db->mariadb)
		rc = hc_db_query_value(db, "SELECT @@global.gtid_slave_pos", out->gtid_slave_pos,
				       sizeof(out->gtid_slave_pos), NULL, deadline_us);
	if (rc == HC_DB_OK && out->configured && db->mariadb)
		rc = read_heartbeats(db, out, deadline_us);
	return rc;
}

/* read_only and the server's own GTID position, one round trip. */
static int read_role(struct hc_db *db, struct hc_probe_res *r, int64_t deadline_us)
{
	const char *sql =
		db->mariadb
			? "SELECT @@global.read_only, @@global.gtid_binlog_pos"
			: "SELECT @@global.read_only, @@global.gtid_executed, @@global.super_read_only";
	MYSQL_RES *res = NULL;
	int rc = hc_db_query(db, sql, &res, deadline_us);
	if (rc != HC_DB_OK)
		return rc;
	MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
	/* A server (or something posing as one) may answer with fewer columns
	 * than asked for: row[] has mysql_num_fields() entries, no more. */
	unsigned nf = res ? mysql_num_fields(res) : 0;
	r->role_mono_us = clock_mono_us();
	if (row) {
		r->read_only = row[0] && atoi(row[0]) != 0;
		copy_field(r->gtid_binlog_pos, sizeof(r->gtid_binlog_pos), nf > 1 ? row[1] : NULL);
		if (!db->mariadb && nf > 2)
			r->super_read_only = row[2] && atoi(row[2]) != 0;
	}
	if (res)
		mysql_free_result(res);
	return HC_DB_OK;
}

static int heartbeat_write(struct hc_db *db, const struct hc_probe_req *q, struct hc_probe_res *r,
			   int64_t deadline_us)
{
	char sql[512];
	int rc;
	/* The write is the write probe: it has a deadline of its own, and a
	 * server that answers reads but cannot write is a write stall, not a
	 * failed probe (semi-sync waits and lock waits look the same). The
	 * table set-up is a write too. */
	unsigned long thread = mysql_thread_id(db->my);
	int64_t wdl =
		clock_mono_us() +
		(int64_t)(q->write_timeout_ms > 0 ? q->write_timeout_ms : q->timeout_ms) * 1000;
	if (!db->hb_table_ready) {
		hc_fmt(sql, "CREATE DATABASE IF NOT EXISTS `%s`", q->hb_schema);
		rc = hc_db_query(db, sql, NULL, wdl);
		if (rc == HC_DB_OK) {
			hc_fmt(sql,
			       "CREATE TABLE IF NOT EXISTS `%s`.`heartbeat` ("
			       "writer VARCHAR(64) NOT NULL PRIMARY KEY, "
			       "ts_us BIGINT NOT NULL) ENGINE=InnoDB",
			       q->hb_schema);
			rc = hc_db_query(db, sql, NULL, wdl);
		}
		if (rc == HC_DB_TIMEOUT)
			goto stalled;
		if (rc != HC_DB_OK) {
			hc_fmt(r->write_error, "cannot create %s.heartbeat: %s", q->hb_schema,
			       db->err);
			return rc;
		}
		db->hb_table_ready = true;
	}
	/* The WHERE keeps the write off a server that became read-only: the
	 * monitor account may hold READ_ONLY ADMIN, which read_only does not
	 * stop, and a stray write there would be an errant transaction. */
	hc_fmt(sql,
	       "INSERT INTO `%s`.`heartbeat` (writer, ts_us) SELECT '%s', %lld FROM DUAL "
	       "WHERE @@global.read_only = 0 ON DUPLICATE KEY UPDATE ts_us = VALUES(ts_us)",
	       q->hb_schema, q->hb_writer, (long long)q->hb_value);
	rc = hc_db_query(db, sql, NULL, wdl);
	if (rc == HC_DB_TIMEOUT)
		goto stalled;
	if (rc != HC_DB_OK) {
		hc_fmt(r->write_error, "heartbeat write failed: %s", db->err);
		return rc;
	}
	r->hb_written = hc_db_affected(db) > 0;
	r->write_ok = r->hb_written;
	return HC_DB_OK;
stalled:
	r->write_stalled = true;
	db->stuck_thread = thread;
	hc_fmt(r->write_error, "heartbeat write got no answer within %d ms", q->write_timeout_ms);
	return HC_DB_OK;
}

/*
 * The write probe without the heartbeat: a locking read of no row,
 *   SELECT 1 FROM mysql.gtid_slave_pos WHERE 0 FOR UPDATE
 * It asks for what every write asks for before it touches a row (the
 * table's write metadata lock and the server's backup/global read lock),
 * so FLUSH TABLES WITH READ LOCK, a backup's lock and read_only stop it as
 * they stop a client's write; and it leaves nothing a client could see: no
 * binlog event in any binlog_format, no Binlog_cache_use, no row read or
 * changed (userstat's TABLE_STATISTICS and INDEX_STATISTICS stay as they
 * were), no schema of tandem's. mysql.gtid_slave_pos exists on every
 * MariaDB with the binary log's GTIDs and is InnoDB; the monitor needs
 * SELECT on it. It does not commit anything, so a stall only at commit
 * (semi-sync waiting, BACKUP STAGE BLOCK_COMMIT, a full disk) needs the
 * heartbeat (monitor.heartbeat). docs/health.md has the measurements.
 */
static int write_probe(struct hc_db *db, const struct hc_probe_req *q, struct hc_probe_res *r)
{
	const char *table = db->mariadb ? "mysql.gtid_slave_pos" : "mysql.gtid_executed";
	char sql[128];
	hc_fmt(sql, "SELECT 1 FROM %s WHERE 0 FOR UPDATE", table);
	unsigned long thread = mysql_thread_id(db->my);
	int64_t wdl =
		clock_mono_us() +
		(int64_t)(q->write_timeout_ms > 0 ? q->write_timeout_ms : q->timeout_ms) * 1000;
	MYSQL_RES *res = NULL;
	int rc = hc_db_query(db, sql, &res, wdl);
	if (res)
		mysql_free_result(res);
	if (rc == HC_DB_TIMEOUT) {
		r->write_stalled = true;
		db->stuck_thread = thread;
		hc_fmt(r->write_error, "the write probe got no answer within %d ms",
		       q->write_timeout_ms);
		return HC_DB_OK;
	}
	if (rc != HC_DB_OK) {
		if (db->err_no == ER_TABLEACCESS_DENIED)
			hc_fmt(r->write_error,
			       "the write probe needs SELECT on %s for the monitor account: %s",
			       table, db->err);
		else if (db->err_no == ER_OPTION_PREVENTS_STATEMENT)
			hc_fmt(r->write_error, "the server became read-only: %s", db->err);
		else
			hc_fmt(r->write_error, "the write probe failed: %s", db->err);
		return rc;
	}
	r->write_ok = true;
	return HC_DB_OK;
}

static int heartbeat_read(struct hc_db *db, const struct hc_probe_req *q, struct hc_probe_res *r,
			  int64_t deadline_us)
{
	char sql[256], val[32];
	bool is_null = true;
	hc_fmt(sql, "SELECT ts_us FROM `%s`.`heartbeat` WHERE writer = '%s'", q->hb_schema,
	       q->hb_writer);
	int rc = hc_db_query_value(db, sql, val, sizeof(val), &is_null, deadline_us);
	if (rc != HC_DB_OK) {
		hc_fmt(r->hb_error, "%s",
		       db->err_no == ER_NO_SUCH_TABLE
			       ? "the heartbeat table has not reached this replica"
			       : db->err);
		return rc;
	}
	if (is_null) {
		hc_fmt(r->hb_error, "no heartbeat row has reached this replica");
		return HC_DB_OK;
	}
	r->hb_read = true;
	r->hb_applied = atoll(val);
	return HC_DB_OK;
}

static void make_read_only(struct hc_db *db, struct hc_probe_res *r, int64_t deadline_us)
{
	const char *sql =
		db->mariadb ? "SET GLOBAL read_only = ON" : "SET GLOBAL super_read_only = ON";
	int rc = hc_db_query(db, sql, NULL, deadline_us);
	if (rc == HC_DB_OK) {
		r->read_only = true;
		r->fenced_now = true;
		return;
	}
	hc_fmt(r->fence_error, "cannot set read_only: %s", db->err);
}

void hc_probe(struct hc_db *db, const struct hc_probe_req *q, struct hc_probe_res *r)
{
	memset(r, 0, sizeof(*r));
	r->repl.seconds_behind = -1;
	int64_t t0 = clock_mono_us();
	int64_t deadline = t0 + (int64_t)q->timeout_ms * 1000;
	int rc;
	if (!hc_db_connected(db)) {
		rc = hc_db_connect(db, q->addr, q->user, q->password, q->tls, deadline);
		if (rc != HC_DB_OK) {
			r->fail = hc_probe_classify_connect(db, rc);
			hc_fmt(r->error, "%s", db->err);
			goto done;
		}
		r->reconnected = true;
		if (db->stuck_thread) {
			/* Do not leave a stalled heartbeat write behind on every
			 * reconnect; our own account may kill its own thread. */
			char kill[48];
			hc_fmt(kill, "KILL %lu", db->stuck_thread);
			db->stuck_thread = 0;
			hc_db_query(db, kill, NULL, deadline);
		}
	}
	r->mariadb = db->mariadb;
	hc_fmt(r->version, "%s", db->version);

	rc = read_role(db, r, deadline);
	if (rc != HC_DB_OK) {
		r->fail = classify_query(db, rc);
		hc_fmt(r->error, "%s", db->err);
		goto done;
	}
	rc = hc_probe_replication(db, &r->repl, deadline);
	if (rc != HC_DB_OK) {
		if (fatal(db, rc)) {
			r->fail = classify_query(db, rc);
			hc_fmt(r->error, "%s", db->err);
			goto done;
		}
		hc_fmt(r->repl.last_io_error, "cannot read replication status: %s", db->err);
	}
	if (q->make_read_only && !r->read_only)
		make_read_only(db, r, deadline);
	rc = HC_DB_OK;
	if (q->hb_schema) {
		if (q->hb_write && !r->read_only)
			rc = heartbeat_write(db, q, r, deadline);
		else if (r->repl.configured)
			rc = heartbeat_read(db, q, r, deadline);
	} else if (q->write_probe && !r->read_only) {
		rc = write_probe(db, q, r);
	}
	if (rc != HC_DB_OK && fatal(db, rc)) {
		r->fail = classify_query(db, rc);
		hc_fmt(r->error, "%s", db->err);
	}
done:
	r->duration_us = clock_mono_us() - t0;
	if (hc_fail_counts(r->fail))
		hc_db_close(db);
}
