/*
 * failover.c — what the monitor does to servers: promote a replica after
 * the primary died, a planned switchover, and the operator's maintenance /
 * ready requests (which may fence, unfence and rejoin members).
 *
 * Everything here runs on the cluster's decision thread, entered with
 * cl->mu held; each function copies what it needs, unlocks for the SQL,
 * and locks again to record the outcome and publish. Connections are made
 * per action (they are rare) with the cluster's monitor account and its
 * timeout; catch-up waits get catchup_timeout_ms on top.
 *
 * Owns: the SQL of promotion, demotion and rejoin, and the event records.
 * Must not: decide whether to fail over (monitor.c and decide.c do).
 */
#include "health/failover.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "health/cluster_state.h"
#include "health/coord.h"
#include "health/gtid.h"
#include "health/text.h"

/* Least time an action's connect or statement may take. */
#define ACTION_TIMEOUT_MS 3000

/* What an action needs from the config, taken under cl->mu so the SQL can
 * run without it. */
struct act {
	struct cfg *cfg; /* reference: the strings below point into it */
	const struct cfg_cluster *cc;
	const char *user;
	const char *password;
	const char *repl_user;
	const char *repl_password;
	int timeout_ms;
	int catchup_ms;
	int drain_ms;
	bool promote;
	int stop_fd;
	int hb_period_ms;    /* MASTER_HEARTBEAT_PERIOD for replicas tandem points; 0: none */
	int max_loss_ms;     /* failover.max_data_loss_ms; -1: no limit */
	const char *old_pos; /* failover: the old primary's last known gtid_binlog_pos */
	int64_t loss_ms;     /* failover: the candidate's last known lag */
};

static void act_take(struct hc_cluster *cl, struct act *a)
{
	const struct cfg_cluster *cc = cl->cc;
	a->cfg = cfg_ref(cl->cfg);
	a->cc = cc;
	a->user = cc->monitor.user;
	a->password = cc->monitor.password;
	a->repl_user = cc->failover.replication_user ? cc->failover.replication_user : a->user;
	a->repl_password =
		cc->failover.replication_user
			? (cc->failover.replication_password ? cc->failover.replication_password
							     : "")
			: a->password;
	/* Actions are rare and must not give up on a merely busy server the
	 * way a probe should: each statement gets at least ACTION_TIMEOUT_MS. */
	a->timeout_ms = cc->monitor.timeout_ms > ACTION_TIMEOUT_MS ? cc->monitor.timeout_ms
								   : ACTION_TIMEOUT_MS;
	a->catchup_ms = cc->failover.catchup_timeout_ms;
	a->drain_ms = cc->failover.drain_timeout_ms;
	a->promote = cc->failover.promote;
	a->stop_fd = cl->stop_fd;
	a->hb_period_ms = cc->monitor.replica_heartbeat_ms;
	a->max_loss_ms = cc->failover.max_data_loss_ms;
	a->old_pos = NULL;
	a->loss_ms = -1;
}

static void act_drop(struct act *a)
{
	cfg_unref(a->cfg);
	a->cfg = NULL;
}

static int64_t deadline(const struct act *a, int extra_ms)
{
	return clock_mono_us() + ((int64_t)a->timeout_ms + extra_ms) * 1000;
}

static int act_connect(struct hc_db *db, const struct act *a, const struct cfg_addr *addr,
		       char *err, size_t len)
{
	hc_db_init(db, a->stop_fd);
	struct hc_db_tls tls;
	int rc = hc_db_connect(db, addr, a->user, a->password, hc_cluster_tls(a->cc, &tls),
			       deadline(a, 0));
	if (rc != HC_DB_OK)
		hc_fmtn(err, len, "cannot connect to %s: %s", addr->text, db->err);
	return rc;
}

/* Run one statement; on failure describe it in err as "<what>: <error>". */
static int act_exec(struct hc_db *db, const struct act *a, const char *sql, const char *what,
		    char *err, size_t len)
{
	int rc = hc_db_query(db, sql, NULL, deadline(a, 0));
	if (rc != HC_DB_OK)
		hc_fmtn(err, len, "%s: %s", what, db->err);
	return rc;
}

/* GTID sets hold digits, '-', ',', ':' and UUID hex only; anything else is
 * refused rather than quoted. */
static bool gtid_safe(const char *s)
{
	return strspn(s, "0123456789abcdefABCDEF-,:\n ") == strlen(s);
}

static const char *stop_replica_sql(const struct hc_db *db)
{
	return !db->mariadb && db->version_id >= 80022 ? "STOP REPLICA" : "STOP SLAVE";
}

/*
 * What the replica (repl, just read) lacks of the old primary's last known
 * position goes into rec->missing. True (with err) when that is more than
 * failover.max_data_loss_ms allows: the failover waits instead.
 */
static bool lossy(const struct act *a, const struct cfg_addr *addr, const struct hc_repl *repl,
		  struct hc_event_rec *rec, char *err, size_t len)
{
	struct hc_gtid_pos have, want;
	if (hc_gtid_parse(repl->gtid_io_pos, strlen(repl->gtid_io_pos), &have) != 0 ||
	    hc_gtid_parse(a->old_pos, strlen(a->old_pos), &want) != 0)
		return false; /* not MariaDB positions: the lag limit alone applies */
	size_t n = hc_gtid_missing(&have, &want, rec->missing, sizeof(rec->missing));
	if (n == 0 || a->max_loss_ms < 0 ||
	    (a->max_loss_ms > 0 && a->loss_ms >= 0 && a->loss_ms <= a->max_loss_ms))
		return false;
	hc_fmtn(err, len,
		"%s has not received %s, which the primary had (it received %s; estimated "
		"loss window %lld ms, failover.max_data_loss_ms %d): waiting for the primary "
		"rather than losing them",
		addr->text, rec->missing, repl->gtid_io_pos[0] ? repl->gtid_io_pos : "nothing",
		(long long)a->loss_ms, a->max_loss_ms);
	return true;
}

/*
 * Make the member at addr the primary: let it apply what it has received
 * (wait_pos: a GTID position it must reach, or NULL for its own received
 * position), stop replication, forget the old source, make it writable.
 * must_catch_up: fail instead of going on when the wait runs out
 * (switchover); a failover goes on and records what was not applied.
 */
static int promote(const struct act *a, const struct cfg_addr *addr, const char *wait_pos,
		   bool must_catch_up, struct hc_event_rec *rec, char *err, size_t len)
{
	struct hc_db db;
	if (act_connect(&db, a, addr, err, len) != HC_DB_OK)
		return -1;
	struct hc_repl repl;
	int rc = hc_probe_replication(&db, &repl, deadline(a, 0));
	if (rc != HC_DB_OK) {
		hc_fmtn(err, len, "cannot read the replication state of %s: %s", addr->text,
			db.err);
		hc_db_close(&db);
		return -1;
	}
	hc_fmt(rec->received, "%s", repl.gtid_io_pos);
	hc_fmt(rec->applied_before, "%s", repl.gtid_slave_pos);
	if (a->old_pos && lossy(a, addr, &repl, rec, err, len)) {
		hc_db_close(&db);
		return -1;
	}
	const char *pos = wait_pos ? wait_pos : repl.gtid_io_pos;
	char sql[HC_GTID_TEXT + 128];
	rec->caught_up = true;
	if (repl.configured && !repl.sql_running && repl.last_sql_errno == 0) {
		/* It was stopped by hand: applying what it has beats losing it. */
		if (hc_db_query(&db,
				db.mariadb ? "START SLAVE SQL_THREAD" : "START REPLICA SQL_THREAD",
				NULL, deadline(a, 0)) != HC_DB_OK)
			log_warn("cannot start the SQL thread of %s: %s", addr->text, db.err);
	}
	if (pos[0] && (repl.configured || wait_pos)) {
		if (!gtid_safe(pos)) {
			hc_fmtn(err, len, "unexpected characters in the GTID position of %s",
				addr->text);
			hc_db_close(&db);
			return -1;
		}
		hc_fmt(sql,
		       db.mariadb ? "SELECT MASTER_GTID_WAIT('%s', %.3f)"
				  : "SELECT WAIT_FOR_EXECUTED_GTID_SET('%s', %.3f)",
		       pos, a->catchup_ms / 1000.0);
		char val[16];
		rc = hc_db_query_value(&db, sql, val, sizeof(val), NULL,
				       deadline(a, a->catchup_ms));
		if (rc != HC_DB_OK) {
			hc_fmtn(err, len, "waiting for %s to apply its relay log: %s", addr->text,
				db.err);
			hc_db_close(&db);
			return -1;
		}
		rec->caught_up = strcmp(val, "0") == 0;
		if (!rec->caught_up && must_catch_up) {
			hc_fmtn(err, len,
				"%s did not reach GTID %s within catchup_timeout_ms (%d ms)",
				addr->text, pos, a->catchup_ms);
			hc_db_close(&db);
			return -1;
		}
	}
	if (db.mariadb)
		hc_db_query_value(&db, "SELECT @@global.gtid_slave_pos", rec->applied_after,
				  sizeof(rec->applied_after), NULL, deadline(a, 0));
	else
		hc_db_query_value(&db, "SELECT @@global.gtid_executed", rec->applied_after,
				  sizeof(rec->applied_after), NULL, deadline(a, 0));
	rc = act_exec(&db, a, stop_replica_sql(&db), "stopping replication", err, len);
	if (rc == HC_DB_OK)
		rc = act_exec(&db, a,
			      !db.mariadb && db.version_id >= 80022 ? "RESET REPLICA ALL"
								    : "RESET SLAVE ALL",
			      "forgetting the old source", err, len);
	if (rc == HC_DB_OK && !db.mariadb)
		rc = act_exec(&db, a, "SET GLOBAL super_read_only = OFF", "making it writable", err,
			      len);
	if (rc == HC_DB_OK)
		rc = act_exec(&db, a, "SET GLOBAL read_only = OFF", "making it writable", err, len);
	hc_db_close(&db);
	return rc == HC_DB_OK ? 0 : -1;
}

/* Point db's server at source as a GTID replica and start replication. */
static int rejoin(struct hc_db *db, const struct act *a, const struct cfg_addr *source, char *err,
		  size_t len)
{
	char host[2 * CFG_ADDR_TEXT + 1], user[256], pw[512];
	if (strlen(a->repl_user) > 120 || strlen(a->repl_password) > 250) {
		hc_fmtn(err, len, "replication credentials are too long");
		return -1;
	}
	hc_db_escape(db, host, source->host, (unsigned long)strlen(source->host));
	hc_db_escape(db, user, a->repl_user, (unsigned long)strlen(a->repl_user));
	hc_db_escape(db, pw, a->repl_password, (unsigned long)strlen(a->repl_password));
	char sql[1024], hb[64] = "";
	hc_db_query(db, stop_replica_sql(db), NULL, deadline(a, 0)); /* may not be running */
	if (db->mariadb && a->hb_period_ms > 0)
		hc_fmt(hb, ", MASTER_HEARTBEAT_PERIOD=%.3f", a->hb_period_ms / 1000.0);
	/* current_pos: a former primary's position is what it wrote itself. */
	hc_fmt(sql,
	       db->mariadb ? "CHANGE MASTER TO MASTER_HOST='%s', MASTER_PORT=%u, MASTER_USER='%s', "
			     "MASTER_PASSWORD='%s', MASTER_USE_GTID=current_pos%s"
			   : "CHANGE MASTER TO MASTER_HOST='%s', MASTER_PORT=%u, MASTER_USER='%s', "
			     "MASTER_PASSWORD='%s', MASTER_AUTO_POSITION=1%s",
	       host, (unsigned)source->port, user, pw, hb);
	int rc = hc_db_query(db, sql, NULL, deadline(a, 0));
	memset(sql, 0, sizeof(sql));
	memset(pw, 0, sizeof(pw));
	if (rc != HC_DB_OK) {
		/* The server's message never echoes the password. */
		hc_fmtn(err, len, "CHANGE MASTER failed: %s", db->err);
		return -1;
	}
	if (act_exec(db, a, db->mariadb ? "START SLAVE" : "START REPLICA", "starting replication",
		     err, len) != HC_DB_OK)
		return -1;
	return 0;
}

json_t *hc_event_json(const struct hc_event_rec *e)
{
	if (!e->valid)
		return json_null();
	json_t *o = json_pack("{s:s, s:I, s:s, s:s, s:s, s:I, s:I, s:b, s:b, s:s}", "kind", e->kind,
			      "at_us", (json_int_t)e->at_us, "from", e->from, "to", e->to, "reason",
			      e->reason, "duration_ms", (json_int_t)e->total_ms, "decision_ms",
			      (json_int_t)e->decide_ms, "promoted", e->promoted, "caught_up",
			      e->caught_up, "notes", e->notes);
	if (!o)
		return json_null();
	if (strcmp(e->kind, "failover") == 0)
		json_object_set_new(o, "detection_ms", json_integer(e->detect_ms));
	json_object_set_new(o, "data_loss_window_ms",
			    e->data_loss_window_ms >= 0 ? json_integer(e->data_loss_window_ms)
							: json_null());
	json_object_set_new(o, "gtid",
			    json_pack("{s:s, s:s, s:s, s:s}", "received", e->received,
				      "applied_before", e->applied_before, "applied_after",
				      e->applied_after, "missing", e->missing));
	return o;
}

/* ----------------------------------------------------------- failover */

void hc_failover_run(struct hc_cluster *cl, int to)
{
	struct hc_mmember *old = &cl->members[cl->primary];
	struct hc_mmember *nw = &cl->members[to];
	int64_t t_down = old->down_mono_us ? old->down_mono_us : clock_mono_us();
	int64_t t_first = old->h.fail_since_us ? old->h.fail_since_us : t_down;
	struct hc_event_rec rec = {.valid = true};
	hc_fmt(rec.kind, "failover");
	hc_fmt(rec.from, "%s", old->addr.text);
	hc_fmt(rec.to, "%s", nw->addr.text);
	if (old->h.fails == 0) /* it answers, but could not commit (on_write_stall) */
		hc_fmt(rec.reason, "primary down: %s", old->last_error);
	else
		hc_fmt(rec.reason, "primary down after %d failed probe(s): %s (%s)", old->h.fails,
		       old->last_error,
		       hc_fail_name(old->h.stalled ? old->h.last : old->last_fail));
	rec.detect_ms = (t_down - t_first) / 1000;
	rec.data_loss_window_ms = nw->lag_ms;

	cl->transition = HC_TR_FAILOVER;
	hc_fmt(cl->note, "failover from %s to %s in progress", old->addr.text, nw->addr.text);
	hc_cluster_publish(cl, false);
	log_warn("cluster %s: primary %s is down (%s); failing over to %s (lag %lld ms)", cl->name,
		 old->addr.text, hc_fail_name(old->last_fail), nw->addr.text,
		 (long long)nw->lag_ms);
	struct act a;
	act_take(cl, &a);
	char old_pos[HC_GTID_TEXT];
	hc_fmt(old_pos, "%s", old->last.gtid_binlog_pos);
	a.old_pos = old_pos;
	a.loss_ms = nw->lag_ms;
	const struct cfg_addr *target = &nw->addr; /* immutable for the cluster's life */
	pthread_mutex_unlock(&cl->mu);

	char err[400] = "";
	/* Several tandems: recorded in etcd first, or not done (health/coord.h). */
	struct coord_decision dec = {"failover", rec.from, rec.to, rec.reason, NULL};
	int rc = coord_commit_decision(cl, &dec, err, sizeof(err));
	if (rc == 0) {
		rc = a.promote ? promote(&a, target, NULL, false, &rec, err, sizeof(err)) : 0;
		coord_commit_done(cl, rc == 0, err);
	}

	pthread_mutex_lock(&cl->mu);
	act_drop(&a);
	int64_t now = clock_mono_us();
	cl->transition = HC_TR_NONE;
	if (cl->stopping)
		return;
	if (rc != 0) {
		cl->last_attempt_mono = now;
		char why[480];
		hc_fmt(why, "promotion of %s failed: %s", nw->addr.text, err);
		hc_cluster_refuse(cl, why);
		hc_cluster_publish(cl, false);
		return;
	}
	old->fenced = true;
	old->diverged = old->rejoining = false;
	old->rejoin_mono = 0;
	hc_fmt(old->fence_reason, "failed over to %s: %s", nw->addr.text, rec.reason);
	hc_fmt(old->fence_applied, "%s", a.promote ? rec.applied_after : "");
	hc_member_set_state(old);
	cl->primary = to;
	hc_gate_set_closed(cl->gate, (size_t)to, false);
	cl->note[0] = 0;
	cl->last_failover_mono = now;
	cl->last_attempt_mono = 0;
	cl->failovers++;
	cl->refused_this_outage = false;
	if (a.promote) {
		nw->last.read_only = false;
		nw->role = HC_ROLE_PRIMARY;
		nw->last.repl.configured = false;
	}
	nw->lag_ms = -1;
	nw->lag_source = "";
	cl->primary_last_ok_mono = now;
	rec.promoted = a.promote;
	rec.decide_ms = (now - t_down) / 1000;
	rec.total_ms = (now - t_first) / 1000;
	rec.at_us = clock_wall_us();
	hc_fmt(rec.notes,
	       "%s%s%s%s%s is fenced: it gets no traffic and is set "
	       "read_only when it answers again",
	       rec.caught_up ? "" : "the replica had not applied everything it received; ",
	       rec.missing[0] ? "lost (not received by the new primary): " : "", rec.missing,
	       rec.missing[0] ? "; " : "", old->addr.text);
	cl->last_failover = rec;
	log_warn("cluster %s: failover %s -> %s done in %lld ms (detection %lld ms, decision and "
		 "promotion %lld ms); estimated data-loss window %lld ms",
		 cl->name, rec.from, rec.to, (long long)rec.total_ms, (long long)rec.detect_ms,
		 (long long)rec.decide_ms, (long long)rec.data_loss_window_ms);
	hc_cluster_publish(cl, false);
}

/* --------------------------------------------------------- switchover */

/* A member a switchover may go to, or NULL with why. */
static struct hc_mmember *switch_target(struct hc_cluster *cl, const char *want, char *why,
					size_t len)
{
	struct hc_mmember *best = NULL;
	why[0] = 0;
	for (size_t i = 0; i < cl->n; i++) {
		struct hc_mmember *mb = &cl->members[i];
		if ((int)i == cl->primary || (want[0] && strcmp(mb->addr.text, want) != 0))
			continue;
		const char *no = NULL;
		if (mb->fenced)
			no = "fenced";
		else if (mb->maintenance)
			no = "in maintenance";
		else if (mb->h.health != HC_UP)
			no = "not UP";
		else if (!mb->last.repl.configured ||
			 strcmp(mb->last.repl.io_running, "Yes") != 0 || !mb->last.repl.sql_running)
			no = "not replicating";
		else if (mb->lag_ms < 0 || mb->lag_ms > cl->pol.max_lag_ms)
			no = "lag unknown or above failover.max_lag_ms";
		if (no) {
			size_t used = strlen(why);
			hc_fmtn(why + used, len - used, "%s%s: %s", used ? "; " : "", mb->addr.text,
				no);
			continue;
		}
		if (!best || mb->lag_ms < best->lag_ms)
			best = mb;
	}
	if (!best && !why[0])
		hc_fmtn(why, len, want[0] ? "%s is the primary" : "the cluster has no replica",
			want);
	return best;
}

/* Undo a switchover that could not finish: the old primary stays primary. */
static void switch_abort(struct hc_cluster *cl, struct hc_mmember *p)
{
	cl->transition = HC_TR_NONE;
	cl->hb_paused = false;
	cl->note[0] = 0;
	hc_gate_set_closed(cl->gate, p->idx, false);
	hc_cluster_publish(cl, false);
}

/*
 * The planned switchover: hold new sessions back (gate), let the old
 * primary's sessions finish (drain_timeout_ms), make it read-only, wait
 * until the target has applied everything it wrote (GTID), promote the
 * target, publish, then turn the old primary into the target's replica.
 * Returns an HTTP status and sets *body.
 */
static int switchover(struct hc_cluster *cl, const char *want, json_t **body)
{
	int64_t t0 = clock_mono_us();
	if (cl->primary < 0) {
		*body = json_pack("{s:s}", "error", "the cluster has no primary");
		return 409;
	}
	struct hc_mmember *p = &cl->members[cl->primary];
	if (p->h.health != HC_UP || p->role != HC_ROLE_PRIMARY) {
		*body = json_pack("{s:s, s:s}", "error", "the primary is not UP and writable",
				  "primary", p->addr.text);
		return 409;
	}
	char why[400];
	struct hc_mmember *t = switch_target(cl, want, why, sizeof(why));
	if (!t) {
		*body = json_pack("{s:s, s:s}", "error", "no replica can take over", "reason", why);
		return 409;
	}
	struct hc_event_rec rec = {.valid = true, .promoted = true, .data_loss_window_ms = 0};
	hc_fmt(rec.kind, "switchover");
	hc_fmt(rec.from, "%s", p->addr.text);
	hc_fmt(rec.to, "%s", t->addr.text);
	hc_fmt(rec.reason, "operator request");
	if (cl->coord) {
		/* Several tandems: recorded first, so that every tandem holds new
		 * sessions back and lets its own drain too (health/coord.h). */
		struct coord_decision dec = {"switchover", rec.from, rec.to, rec.reason, NULL};
		char cerr[200] = "";
		int crc = coord_commit_decision_locked(cl, &dec, cerr, sizeof(cerr));
		if (crc != 0) {
			*body = json_pack("{s:s, s:s}", "error", "the switchover was not recorded",
					  "reason", cerr);
			return 409;
		}
	}
	log_info("cluster %s: switchover from %s to %s starts", cl->name, p->addr.text,
		 t->addr.text);

	cl->transition = HC_TR_SWITCHOVER;
	hc_fmt(cl->note, "switchover from %s to %s in progress", p->addr.text, t->addr.text);
	cl->hb_paused = true;
	hc_gate_set_closed(cl->gate, p->idx, true);
	hc_cluster_publish(cl, false);
	while (p->hb_inflight && !cl->stopping)
		pthread_cond_wait(&cl->cv, &cl->mu);

	struct act a;
	act_take(cl, &a);
	/* Drain: sessions already on the old primary finish their work. */
	int64_t drain_end = clock_mono_us() + (int64_t)a.drain_ms * 1000;
	while (hc_gate_sessions(cl->gate, p->idx) > 0 && clock_mono_us() < drain_end &&
	       !cl->stopping) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 5 * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&cl->cv, &cl->mu, &ts);
	}
	int left = hc_gate_sessions(cl->gate, p->idx);
	const struct cfg_addr *paddr = &p->addr, *taddr = &t->addr;
	pthread_mutex_unlock(&cl->mu);

	char err[400] = "";
	struct hc_db pdb;
	char pos[HC_GTID_TEXT] = "";
	int rc = act_connect(&pdb, &a, paddr, err, sizeof(err));
	if (rc == HC_DB_OK)
		rc = act_exec(&pdb, &a,
			      pdb.mariadb ? "SET GLOBAL read_only = ON"
					  : "SET GLOBAL super_read_only = ON",
			      "making the old primary read-only", err, sizeof(err));
	if (rc == HC_DB_OK) {
		rc = hc_db_query_value(&pdb,
				       pdb.mariadb ? "SELECT @@global.gtid_binlog_pos"
						   : "SELECT @@global.gtid_executed",
				       pos, sizeof(pos), NULL, deadline(&a, 0));
		if (rc != HC_DB_OK)
			hc_fmt(err, "reading the old primary's GTID position: %s", pdb.err);
	}
	bool made_read_only = rc == HC_DB_OK;
	if (rc == HC_DB_OK)
		rc = promote(&a, taddr, pos, true, &rec, err, sizeof(err)) == 0 ? HC_DB_OK
										: HC_DB_ERROR;
	coord_commit_done(cl, rc == HC_DB_OK, err);
	if (rc != HC_DB_OK && made_read_only) {
		char e2[200];
		if (act_exec(&pdb, &a,
			     pdb.mariadb ? "SET GLOBAL read_only = OFF"
					 : "SET GLOBAL super_read_only = OFF",
			     "restoring the old primary", e2, sizeof(e2)) != HC_DB_OK)
			log_error("cluster %s: switchover aborted and %s", cl->name, e2);
	}

	pthread_mutex_lock(&cl->mu);
	if (rc != HC_DB_OK || cl->stopping) {
		act_drop(&a);
		hc_db_close(&pdb);
		log_warn("cluster %s: switchover from %s to %s aborted: %s", cl->name, p->addr.text,
			 t->addr.text, err);
		switch_abort(cl, p);
		*body = json_pack("{s:s, s:s}", "error",
				  "switchover aborted; the primary is unchanged", "reason", err);
		return 409;
	}
	cl->primary = (int)t->idx;
	hc_gate_set_closed(cl->gate, t->idx, false);
	hc_gate_set_closed(cl->gate, p->idx, false);
	cl->transition = HC_TR_NONE;
	cl->hb_paused = false;
	cl->note[0] = 0;
	cl->switchovers++;
	t->last.read_only = false;
	t->role = HC_ROLE_PRIMARY;
	t->last.repl.configured = false;
	t->lag_ms = -1;
	t->lag_source = "";
	p->last.read_only = true;
	p->role = HC_ROLE_REPLICA;
	cl->primary_last_ok_mono = clock_mono_us();
	rec.decide_ms = rec.total_ms = (clock_mono_us() - t0) / 1000;
	rec.at_us = clock_wall_us();
	hc_cluster_publish(cl, false);
	pthread_mutex_unlock(&cl->mu);

	char jerr[300] = "";
	int jrc = rejoin(&pdb, &a, taddr, jerr, sizeof(jerr));
	hc_db_close(&pdb);

	pthread_mutex_lock(&cl->mu);
	act_drop(&a);
	hc_fmt(rec.notes, "%s%s%s",
	       jrc == 0 ? "old primary now replicates from the new one"
			: "old primary is read-only but not replicating: ",
	       jrc == 0 ? "" : jerr,
	       left > 0 ? "; some sessions were still on the old primary after drain_timeout_ms"
			: "");
	cl->last_switchover = rec;
	log_info("cluster %s: switchover %s -> %s done in %lld ms (%s)", cl->name, rec.from, rec.to,
		 (long long)rec.total_ms, rec.notes);
	*body = hc_event_json(&rec);
	json_object_set_new(*body, "sessions_left_on_old_primary", json_integer(left));
	return 200;
}

/* --------------------------------------------------- operator requests */

static json_t *member_brief(const struct hc_mmember *mb)
{
	return json_pack("{s:s, s:s}", "member", mb->addr.text, "state", hc_state_name(mb->state));
}

/* Bring a fenced member back: make it a replica of the current primary if
 * it is not one already, then return it to rotation (read-only). */
static int unfence(struct hc_cluster *cl, struct hc_mmember *mb, json_t **body)
{
	char note[400] = "";
	if (cl->coord && cl->primary >= 0) {
		/* The fence lives in etcd's record: lifted there before anything is done. */
		struct coord_decision dec = {"unfence", cl->members[cl->primary].addr.text,
					     cl->members[cl->primary].addr.text,
					     "operator: member ready", mb->addr.text};
		char cerr[200] = "";
		int crc = coord_commit_decision_locked(cl, &dec, cerr, sizeof(cerr));
		if (crc != 0) {
			*body = json_pack("{s:s, s:s}", "error", "the fence could not be lifted",
					  "reason", cerr);
			return 409;
		}
	}
	if (cl->primary >= 0 && (int)mb->idx != cl->primary) {
		const struct hc_mmember *p = &cl->members[cl->primary];
		char want[CFG_ADDR_TEXT + 8];
		hc_fmt(want, "%s:%u", p->addr.host, (unsigned)p->addr.port);
		if (!mb->last.repl.configured || strcmp(mb->last.repl.source, want) != 0) {
			struct act a;
			act_take(cl, &a);
			const struct cfg_addr *maddr = &mb->addr, *paddr = &p->addr;
			pthread_mutex_unlock(&cl->mu);
			struct hc_db db;
			char err[300] = "";
			int rc = act_connect(&db, &a, maddr, err, sizeof(err));
			if (rc == HC_DB_OK)
				rc = rejoin(&db, &a, paddr, err, sizeof(err));
			hc_db_close(&db);
			pthread_mutex_lock(&cl->mu);
			act_drop(&a);
			if (rc != 0)
				hc_fmt(note, "rejoin failed: %s", err);
			else
				hc_fmt(note, "now replicates from %s", p->addr.text);
		}
	}
	mb->fenced = false;
	mb->diverged = mb->rejoining = false;
	mb->fence_reason[0] = 0;
	hc_member_set_state(mb);
	log_info("cluster %s: %s unfenced by operator request%s%s", cl->name, mb->addr.text,
		 note[0] ? "; " : "", note);
	hc_cluster_publish(cl, false);
	*body = member_brief(mb);
	if (note[0])
		json_object_set_new(*body, "rejoin", json_string(note));
	return 200;
}

void hc_request_run(struct hc_cluster *cl, struct hc_request *req)
{
	json_t *body = NULL;
	int code = 200;
	struct hc_mmember *mb = req->member[0] ? hc_cluster_member(cl, req->member) : NULL;
	if (!coord_may_decide(cl, -1)) {
		/* Several tandems: only the coordination leader acts (health/coord.h). */
		pthread_mutex_unlock(&cl->mu);
		req->done(409,
			  json_pack("{s:s}", "error",
				    "this tandem is not the coordination leader; send the request "
				    "to the leader (/status clusters.<c>.coordination.leader)"),
			  req->arg);
		free(req);
		pthread_mutex_lock(&cl->mu);
		return;
	}
	switch (req->kind) {
	case HC_REQ_SWITCHOVER:
		code = switchover(cl, req->member, &body);
		break;
	case HC_REQ_MAINTENANCE:
		if (!mb) {
			code = 404;
			body = json_pack("{s:s}", "error", "no such member");
			break;
		}
		if ((int)mb->idx == cl->primary) {
			json_t *sw = NULL;
			code = switchover(cl, "", &sw);
			if (code != 200) {
				body = json_pack("{s:s, s:o}", "error",
						 "the primary cannot be moved away for maintenance",
						 "switchover", sw);
				break;
			}
			json_decref(sw);
		}
		mb->maintenance = true;
		hc_member_set_state(mb);
		log_info("cluster %s: %s is in maintenance by operator request", cl->name,
			 mb->addr.text);
		hc_cluster_publish(cl, false);
		body = member_brief(mb);
		break;
	case HC_REQ_READY:
		if (!mb) {
			code = 404;
			body = json_pack("{s:s}", "error", "no such member");
			break;
		}
		if (mb->maintenance) {
			mb->maintenance = false;
			hc_member_set_state(mb);
			log_info("cluster %s: %s is back from maintenance", cl->name,
				 mb->addr.text);
			hc_cluster_publish(cl, false);
		}
		if (mb->fenced) {
			code = unfence(cl, mb, &body);
			break;
		}
		body = member_brief(mb);
		break;
	}
	pthread_mutex_unlock(&cl->mu);
	req->done(code, body ? body : json_object(), req->arg);
	free(req);
	pthread_mutex_lock(&cl->mu);
}

/* ------------------------------------------------------ automatic rejoin */

/*
 * A fenced former primary answers again: compare what it holds with the
 * primary. If it holds a transaction the primary never got it stays
 * fenced (diverged; the operator repairs it and posts …/ready). Otherwise
 * it becomes a GTID replica of the primary; monitor.c's rejoin_progress()
 * puts it back in rotation once it has caught up, or marks it diverged if
 * its new source refuses it (error 1236).
 */
void hc_rejoin_run(struct hc_cluster *cl, struct hc_mmember *mb)
{
	const struct hc_mmember *p = &cl->members[cl->primary];
	char cur[HC_GTID_TEXT], applied[HC_GTID_TEXT];
	hc_fmt(cur, "%s", p->last.gtid_binlog_pos);
	hc_fmt(applied, "%s", mb->fence_applied);
	const struct cfg_addr *maddr = &mb->addr, *paddr = &p->addr;
	struct act a;
	act_take(cl, &a);
	mb->rejoin_mono = clock_mono_us();
	pthread_mutex_unlock(&cl->mu);

	char err[400] = "", old[HC_GTID_TEXT] = "", why[200] = "";
	enum hc_rejoin_verdict v = HC_REJOIN_UNSURE;
	struct hc_db db;
	int rc = act_connect(&db, &a, maddr, err, sizeof(err));
	if (rc == HC_DB_OK) {
		rc = hc_db_query_value(&db, "SELECT @@global.gtid_binlog_pos", old, sizeof(old),
				       NULL, deadline(&a, 0));
		if (rc != HC_DB_OK)
			hc_fmt(err, "reading its gtid_binlog_pos: %s", db.err);
	}
	if (rc == HC_DB_OK) {
		struct hc_gtid_pos o, c, ap;
		if (hc_gtid_parse(old, strlen(old), &o) == 0 &&
		    hc_gtid_parse(cur, strlen(cur), &c) == 0) {
			if (hc_gtid_parse(applied, strlen(applied), &ap) != 0)
				ap.n = 0;
			v = hc_gtid_rejoin_check(&o, &c, &ap, why, sizeof(why));
		}
		if (v != HC_REJOIN_DIVERGED)
			rc = rejoin(&db, &a, paddr, err, sizeof(err)) == 0 ? HC_DB_OK : HC_DB_ERROR;
	}
	hc_db_close(&db);

	pthread_mutex_lock(&cl->mu);
	act_drop(&a);
	if (cl->stopping || !mb->fenced)
		return;
	if (v == HC_REJOIN_DIVERGED) {
		mb->diverged = true;
		cl->rejoins_refused++;
		hc_fmt(mb->fence_reason,
		       "diverged: %s (its gtid_binlog_pos %s; the primary %s has %s%s%s); repair it "
		       "and POST …/ready",
		       why, old, p->addr.text, cur, applied[0] ? ", and had applied " : "",
		       applied[0] ? applied : "");
		log_error("cluster %s: ALERT: former primary %s stays fenced: %s", cl->name,
			  mb->addr.text, mb->fence_reason);
		return;
	}
	if (rc != HC_DB_OK) {
		log_warn("cluster %s: former primary %s could not be made a replica yet: %s",
			 cl->name, mb->addr.text, err);
		return;
	}
	mb->rejoining = true;
	mb->rejoin_started_mono = clock_mono_us();
	mb->rejoin_probes = mb->probes;
	hc_fmt(mb->rejoin_target, "%s", cur);
	hc_fmt(mb->fence_reason, "rejoining: replicates from %s, catching up with %s", p->addr.text,
	       cur);
	log_info("cluster %s: former primary %s holds nothing %s lacks (%s); it now replicates "
		 "from it",
		 cl->name, mb->addr.text, p->addr.text, old[0] ? old : "empty");
	/* Probe it now: the catch-up is seen there. */
	uint64_t one = 1;
	ssize_t n = write(mb->wake_fd, &one, sizeof(one));
	(void)n;
}

/* Give a replica a short MASTER_HEARTBEAT_PERIOD, so that its hearing
 * from the primary can vouch for a primary tandem cannot reach within the
 * stall tolerance. CHANGE MASTER needs replication stopped: a moment. */
void hc_replica_tune(struct hc_cluster *cl, struct hc_mmember *mb)
{
	const struct cfg_addr *maddr = &mb->addr;
	int was = mb->last.repl.heartbeat_period_ms;
	struct act a;
	act_take(cl, &a);
	mb->hb_period_tried = true;
	pthread_mutex_unlock(&cl->mu);
	char err[300] = "", sql[96];
	struct hc_db db;
	int rc = act_connect(&db, &a, maddr, err, sizeof(err));
	hc_fmt(sql, "CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD=%.3f", a.hb_period_ms / 1000.0);
	if (rc == HC_DB_OK)
		rc = act_exec(&db, &a, "STOP SLAVE", "stopping replication", err, sizeof(err));
	if (rc == HC_DB_OK) {
		rc = act_exec(&db, &a, sql, "setting the heartbeat period", err, sizeof(err));
		char e2[200] = "";
		if (act_exec(&db, &a, "START SLAVE", "starting replication again", e2,
			     sizeof(e2)) != HC_DB_OK) {
			rc = HC_DB_ERROR;
			hc_fmt(err, "%s", e2);
		}
	}
	hc_db_close(&db);
	pthread_mutex_lock(&cl->mu);
	act_drop(&a);
	if (rc == HC_DB_OK)
		log_info("cluster %s: replica %s: MASTER_HEARTBEAT_PERIOD %d ms -> %d ms, so it "
			 "can tell tandem the primary is alive (monitor.replica_heartbeat_ms)",
			 cl->name, maddr->text, was, a.hb_period_ms);
	else
		log_warn("cluster %s: replica %s: could not set MASTER_HEARTBEAT_PERIOD: %s; it "
			 "vouches for the primary only within %d ms heartbeats",
			 cl->name, maddr->text, err, was);
}
