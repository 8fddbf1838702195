/*
 * probe.h — one probe of one member over its persistent monitor
 * connection: the layered verdict (TCP connect, handshake/login, a trivial
 * query), the role (read_only, super_read_only on MySQL), replication
 * state on replicas, and the write probe on the primary: a locking read
 * that writes nothing (by default), or with monitor.heartbeat the heartbeat
 * row (written on the primary, read on replicas). A fenced member is also
 * made read-only here, by the thread that already has a connection to it.
 *
 * Owns: the SQL a probe sends and the parsing of its answers. Must not:
 * take locks or decide anything; the monitor hands in what it wants
 * (struct hc_probe_req) and interprets what comes back.
 */
#ifndef TANDEM_HEALTH_PROBE_H
#define TANDEM_HEALTH_PROBE_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "health/db.h"
#include "health/decide.h"

#define HC_GTID_TEXT 256

/* A replica's replication, from SHOW SLAVE STATUS (or SHOW REPLICA STATUS). */
struct hc_repl {
	bool configured;     /* a replication source is set up */
	char io_running[16]; /* "Yes", "No", "Connecting" */
	bool sql_running;
	int64_t seconds_behind;     /* Seconds_Behind_Master; -1 when NULL */
	char source[CFG_ADDR_TEXT]; /* host:port it replicates from */
	unsigned last_io_errno;
	unsigned last_sql_errno;
	char last_io_error[160];
	char last_sql_error[160];
	char gtid_io_pos[HC_GTID_TEXT];    /* received: Gtid_IO_Pos / Retrieved_Gtid_Set */
	char gtid_slave_pos[HC_GTID_TEXT]; /* applied: @@gtid_slave_pos / Executed_Gtid_Set */
	/* What has arrived from the source, to tell a live source from a silent
	 * one: the read position moves with events, the heartbeat count when
	 * the source is idle (MariaDB global status). */
	char master_log_file[64];
	uint64_t read_master_log_pos;
	uint64_t received_heartbeats;
	int heartbeat_period_ms; /* Slave_heartbeat_period; 0 unknown */
};

struct hc_probe_req {
	const struct cfg_addr *addr;
	const char *user;
	const char *password;
	const struct hc_db_tls *tls; /* NULL: plaintext */
	int timeout_ms;              /* the whole probe, connect included */
	const char *hb_schema;       /* NULL: no heartbeat (monitor.heartbeat off) */
	const char *hb_writer;       /* this tandem's row key (safe characters only) */
	bool hb_write;               /* write hb_value (only done if the server is writable) */
	int64_t hb_value;
	bool write_probe;     /* no heartbeat: run the write probe (only if writable) */
	int write_timeout_ms; /* the write probe's (or heartbeat write's) own deadline */
	bool make_read_only;  /* fenced: set read_only=ON if the server is writable */
};

struct hc_probe_res {
	enum hc_fail fail;
	char error[256];     /* why it failed ("" if not) */
	int64_t duration_us; /* the whole probe */
	bool reconnected;    /* a new monitor connection was made */
	bool mariadb;
	char version[64];
	bool read_only;
	bool super_read_only;
	char gtid_binlog_pos[HC_GTID_TEXT]; /* what it has written itself / gtid_executed */
	int64_t role_mono_us; /* when the answer with gtid_binlog_pos arrived (monotonic) */
	struct hc_repl repl;
	bool hb_read;          /* hb_applied is valid */
	int64_t hb_applied;    /* newest heartbeat value the replica has applied */
	bool hb_written;       /* hb_value committed on this server */
	char hb_error[160];    /* heartbeat read problem on a replica ("" if none) */
	bool write_ok;         /* the write probe (or heartbeat write) was answered OK */
	bool write_stalled;    /* ... got no answer within write_timeout_ms */
	char write_error[160]; /* its problem ("" if none) */
	bool fenced_now;       /* this probe set read_only=ON */
	char fence_error[160];
};

/* Probe once. On any counted failure the connection is closed so the next
 * probe reconnects. */
void hc_probe(struct hc_db *db, const struct hc_probe_req *q, struct hc_probe_res *r);

/* Classify a failed connect (db's error state) into a failure kind. */
enum hc_fail hc_probe_classify_connect(const struct hc_db *db, int rc);

/* Read a replica's replication state on an open connection. HC_DB_OK, or
 * the hc_db_rc of the failing statement. */
int hc_probe_replication(struct hc_db *db, struct hc_repl *out, int64_t deadline_us);

#endif
