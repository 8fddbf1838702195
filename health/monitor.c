/*
 * monitor.c — the monitor's threads and decisions (see monitor.h and the
 * lock rules in monitor_int.h).
 *
 * Per member, a probe thread keeps one persistent monitor connection and
 * probes every interval_ms; between probes it also watches that
 * connection's socket, so a server that dies (kill -9 closes its sockets)
 * is probed again at once rather than at the next tick, and a failing
 * member is re-probed at interval/5 until it is confirmed DOWN or healthy.
 * Per cluster, a decision thread re-evaluates whenever a probe reports:
 * start-up discovery of the writable member, the two-writable alert, and
 * the failover decision, and it publishes a new snapshot when anything
 * routing depends on changed. Promotion, switchover and the operator
 * requests run on that thread too (failover.c).
 *
 * Owns: the probe and decision threads' loops. Member state and
 * publication are cluster_state.c; creating, reconfiguring and stopping
 * clusters is cluster.c. Must not: hold a lock across network I/O; touch
 * proxy sessions.
 */
#include "health/monitor_threads.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "health/cluster_state.h"
#include "health/coord.h"
#include "health/failover.h"
#include "health/gtid.h"
#include "health/gtid_lag.h"
#include "health/monitor_int.h"
#include "health/state.h"
#include "health/text.h"

/* Least time between two probes of one member, however often it is woken. */
#define PROBE_MIN_SPACING_US 20000

/* The chosen primary answered its last probe. */
static bool primary_live(const struct hc_cluster *cl)
{
	if (cl->primary < 0)
		return false;
	const struct hc_health *h = &cl->members[cl->primary].h;
	return h->health == HC_UP && h->fails == 0;
}

/* What a replica has applied, from its gtid_slave_pos and (for what it
 * wrote or logged itself) its gtid_binlog_pos; false when neither parses
 * (MySQL's UUID sets). */
static bool applied_pos(const struct hc_probe_res *r, struct hc_gtid_pos *out)
{
	struct hc_gtid_pos slave, own;
	bool a = hc_gtid_parse(r->repl.gtid_slave_pos, strlen(r->repl.gtid_slave_pos), &slave) == 0;
	bool b = hc_gtid_parse(r->gtid_binlog_pos, strlen(r->gtid_binlog_pos), &own) == 0;
	if (!a)
		slave.n = 0;
	if (!b)
		own.n = 0;
	hc_glag_merge(out, &slave, &own);
	return a || b;
}

/* A replica's lag, from the best source at hand: the heartbeat row when
 * monitor.heartbeat is on, else the GTID positions (health/gtid_lag.h),
 * else Seconds_Behind_Master, else (primary failing) the last known value. */
static void update_lag(struct hc_cluster *cl, struct hc_mmember *mb, const struct hc_probe_res *r,
		       int64_t now)
{
	if (!r->repl.configured) {
		mb->lag_ms = -1;
		mb->lag_source = "";
		return;
	}
	/* While the primary is failing, measure against the moment it was
	 * last seen: that is what a failover would lose. */
	bool live = primary_live(cl);
	int64_t ref = live ? now : cl->primary_last_ok_mono;
	if (r->hb_read && ref > 0) {
		int64_t us = hc_hb_lag_us(&cl->hb, r->hb_applied, ref);
		if (us >= 0) {
			mb->lag_ms = us / 1000;
			mb->lag_source = "heartbeat";
			return;
		}
	}
	/* The positions are the chosen primary's: right after a failover they
	 * are the old one's until the new primary's first probe. */
	struct hc_gtid_pos applied;
	if (ref > 0 && cl->glag.owner >= 0 && cl->glag.owner == cl->primary &&
	    cl->glag.owner != (int)mb->idx && applied_pos(r, &applied)) {
		int64_t us = hc_glag_lag_us(&cl->glag, &applied, ref);
		if (us >= 0) {
			mb->lag_ms = us / 1000;
			mb->lag_source = "gtid";
			return;
		}
	}
	if (r->repl.seconds_behind >= 0) {
		mb->lag_ms = r->repl.seconds_behind * 1000;
		mb->lag_source = "seconds_behind_master";
		return;
	}
	if (mb->lag_ms >= 0 && !live) {
		mb->lag_source = "last_known";
		return;
	}
	mb->lag_ms = -1;
	mb->lag_source = "";
}

/* The chosen primary's GTID position, as first seen, for replicas' lag.
 * A new primary starts a new record: positions are its own from then. */
static void record_primary_pos(struct hc_cluster *cl, struct hc_mmember *mb,
			       const struct hc_probe_res *r)
{
	if ((int)mb->idx != cl->primary || r->fail != HC_FAIL_NONE || r->read_only)
		return;
	struct hc_gtid_pos p;
	if (hc_gtid_parse(r->gtid_binlog_pos, strlen(r->gtid_binlog_pos), &p) != 0) {
		hc_glag_reset(&cl->glag);
		return;
	}
	if (cl->glag.owner != (int)mb->idx)
		hc_glag_reset(&cl->glag);
	if (hc_glag_record(&cl->glag, &p, r->role_mono_us) == 0)
		cl->glag.owner = (int)mb->idx;
}

/* Whether this replica's replication keeps receiving: a changed read
 * position or heartbeat count since the last probe is news from its
 * source (the first probe only sets the baseline). */
static void update_hearing(struct hc_mmember *mb, const struct hc_probe_res *r, int64_t now)
{
	const struct hc_repl *q = &r->repl;
	if (!q->configured) {
		mb->hear = (struct hc_hearing){0};
		mb->sig_known = false;
		return;
	}
	bool changed = strcmp(mb->sig_file, q->master_log_file) != 0 ||
		       mb->sig_pos != q->read_master_log_pos ||
		       mb->sig_heartbeats != q->received_heartbeats;
	if (changed && mb->sig_known)
		mb->hear.changed_mono_us = now;
	mb->sig_known = true;
	hc_fmt(mb->sig_file, "%s", q->master_log_file);
	mb->sig_pos = q->read_master_log_pos;
	mb->sig_heartbeats = q->received_heartbeats;
	mb->hear.io_running = strcmp(q->io_running, "Yes") == 0;
	mb->hear.probed_mono_us = now;
	mb->hear.heartbeat_period_ms = q->heartbeat_period_ms;
}

/* The write probe's outcome on the chosen primary. */
static void update_write_stall(struct hc_cluster *cl, struct hc_mmember *mb,
			       const struct hc_probe_res *r, int64_t now)
{
	if (r->write_stalled) {
		if (!mb->write_stall_mono) {
			mb->write_stall_mono = now;
			mb->write_stall_us = clock_wall_us();
			mb->write_stalls++;
			log_error("cluster %s: ALERT: primary %s answers but cannot commit: %s%s",
				  cl->name, mb->addr.text, r->write_error,
				  cl->cc->failover.on_write_stall
					  ? "; it is failed over if this lasts stall_tolerance_ms"
					  : " (failover.on_write_stall is off: reported only)");
		}
	} else if (r->write_ok && mb->write_stall_mono) {
		log_info("cluster %s: primary %s commits again after %lld ms", cl->name,
			 mb->addr.text, (long long)((now - mb->write_stall_mono) / 1000));
		mb->write_stall_mono = 0;
		mb->write_stall_us = 0;
	}
}

/* Record one probe's outcome; started is when the probe began (a failure
 * streak, e.g. a hang, counts from there). */
static void apply_probe(struct hc_cluster *cl, struct hc_mmember *mb, const struct hc_probe_res *r,
			int64_t started, int64_t now)
{
	enum hc_state before = mb->h.health;
	bool was_stalled = mb->h.stalled && mb->h.fails > 0;
	hc_health_apply(&mb->h, r->fail, &cl->pol, started);
	if (!was_stalled && mb->h.stalled && mb->h.fails > 0 && mb->h.health != HC_DOWN)
		log_warn("cluster %s: member %s does not answer (%s): suspected; judged after "
			 "%d ms%s",
			 cl->name, mb->addr.text, hc_fail_name(r->fail), cl->pol.stall_tolerance_ms,
			 (int)mb->idx == cl->primary ? " unless a replica still hears from it"
						     : "");
	else if (was_stalled && r->fail == HC_FAIL_NONE)
		log_info("cluster %s: member %s answers again after %lld ms", cl->name,
			 mb->addr.text, (long long)((now - started) / 1000));
	if (mb->h.health == HC_DOWN && before != HC_DOWN) {
		mb->down_mono_us = now;
		mb->role = HC_ROLE_UNKNOWN; /* whatever it was, nobody can write there now */
		log_warn("cluster %s: member %s is DOWN after %d failed probe(s): %s (%s)",
			 cl->name, mb->addr.text, mb->h.fails, r->error, hc_fail_name(r->fail));
	} else if (before == HC_DOWN && mb->h.health != HC_DOWN) {
		log_info("cluster %s: member %s answers again", cl->name, mb->addr.text);
	}
	mb->probes++;
	mb->probed = true;
	mb->probe_us = r->duration_us;
	mb->last_probe_wall_us = clock_wall_us();
	if (hc_fail_counts(r->fail))
		mb->probe_failures++;
	if (r->fail == HC_FAIL_NONE) {
		enum hc_role role = r->read_only ? HC_ROLE_REPLICA : HC_ROLE_PRIMARY;
		mb->role = role;
		mb->last = *r;
		mb->last_error[0] = 0;
		mb->last_fail = HC_FAIL_NONE;
		if (mb->alert_auth)
			log_info("cluster %s: the monitor can log in to %s again", cl->name,
				 mb->addr.text);
		mb->alert_auth = false;
		if ((int)mb->idx == cl->primary)
			cl->primary_last_ok_mono = now;
		record_primary_pos(cl, mb, r);
		update_lag(cl, mb, r, now);
		update_hearing(mb, r, now);
		if (r->fenced_now)
			log_warn("cluster %s: fenced member %s was writable; set read_only=ON",
				 cl->name, mb->addr.text);
		hc_fmt(mb->fence_error, "%s", r->fence_error);
	} else {
		hc_fmt(mb->last_error, "%s", r->error);
		mb->last_fail = r->fail;
		mb->last_error_us = clock_wall_us();
		if (!hc_fail_counts(r->fail) && !mb->alert_auth) {
			log_error(
				"cluster %s: the monitor cannot probe %s (%s): %s; its health stays "
				"unknown and it takes no part in failover until this is fixed",
				cl->name, mb->addr.text, hc_fail_name(r->fail), r->error);
			mb->alert_auth = true;
		}
	}
	hc_member_set_state(mb);
	cl->dirty = true;
}

/* ------------------------------------------------------- probe thread */

/* Sleep until the next probe is due: interval elapsed (since t0), a wake
 * (suspect, reconfigure), stop, or the monitor connection's socket turned
 * readable — the server closed it or sent an error, both worth a probe. */
static void wait_next(struct hc_mmember *mb, const struct hc_db *db, int64_t t0, int delay_ms)
{
	int64_t due = t0 + (int64_t)delay_ms * 1000;
	for (;;) {
		struct pollfd p[3] = {{.fd = mb->wake_fd, .events = POLLIN},
				      {.fd = mb->cl->stop_fd, .events = POLLIN},
				      {.fd = hc_db_fd(db), .events = POLLIN}};
		nfds_t n = p[2].fd >= 0 ? 3 : 2;
		int64_t left = due - clock_mono_us();
		if (left <= 0)
			return;
		int rc = poll(p, n, (int)((left + 999) / 1000));
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0 || (p[1].revents & POLLIN))
			return;
		if (p[0].revents & POLLIN) {
			uint64_t v;
			ssize_t r = read(mb->wake_fd, &v, sizeof(v));
			(void)r;
		}
		if ((p[0].revents & POLLIN) || (n == 3 && p[2].revents)) {
			/* Probe now, but not in a tight loop. */
			int64_t soonest = t0 + PROBE_MIN_SPACING_US;
			if (due > soonest)
				due = soonest;
		}
	}
}

void *hc_member_main(void *arg)
{
	struct hc_mmember *mb = arg;
	struct hc_cluster *cl = mb->cl;
	char tname[16];
	hc_fmt(tname, "p%zu:%s", mb->idx, cl->name);
	log_set_thread_name(tname);
	struct hc_db db;
	hc_db_init(&db, cl->stop_fd);
	for (;;) {
		pthread_mutex_lock(&cl->mu);
		if (cl->stopping) {
			pthread_mutex_unlock(&cl->mu);
			break;
		}
		struct cfg *cfg = cfg_ref(cl->cfg);
		const struct cfg_cluster *cc = cl->cc;
		struct hc_db_tls tls;
		struct hc_probe_req q = {
			.addr = &mb->addr,
			.tls = hc_cluster_tls(cc, &tls),
			.user = cc->monitor.user,
			.password = cc->monitor.password,
			.timeout_ms = cc->monitor.timeout_ms,
			.hb_schema = cc->monitor.heartbeat ? cc->monitor.heartbeat_schema : NULL,
			.hb_writer = cl->mon->writer,
			.make_read_only = mb->fenced,
			.write_timeout_ms = cc->monitor.write_timeout_ms,
		};
		/* Only the chosen primary gets the write probe (or the
		 * heartbeat), and not while a switchover has frozen it (see
		 * hc_cluster.hb_paused). */
		bool writes = (int)mb->idx == cl->primary && !cl->hb_paused &&
			      cl->transition == HC_TR_NONE;
		q.hb_write = q.hb_schema && writes;
		q.write_probe = !q.hb_schema && writes;
		if (q.hb_write)
			q.hb_value = hc_hb_next_value(&cl->hb, clock_wall_us());
		if (writes)
			mb->hb_inflight = true;
		pthread_mutex_unlock(&cl->mu);

		/* Requests made before this probe starts are answered by it. */
		uint64_t asked = atomic_load(&mb->asked);
		int64_t t0 = clock_mono_us();
		struct hc_probe_res res;
		hc_probe(&db, &q, &res);

		pthread_mutex_lock(&cl->mu);
		if (q.hb_write || q.write_probe) {
			mb->hb_inflight = false;
			if (res.hb_written) {
				hc_hb_record(&cl->hb, q.hb_value, t0);
				cl->hb_last_write_us = clock_wall_us();
			}
			if (res.write_ok) {
				cl->write_ok_us = clock_wall_us();
				cl->write_error[0] = 0;
			} else if (res.write_error[0]) {
				hc_fmt(cl->write_error, "%s", res.write_error);
			}
			update_write_stall(cl, mb, &res, clock_mono_us());
		} else if (mb->write_stall_mono && (int)mb->idx != cl->primary) {
			mb->write_stall_mono = mb->write_stall_us = 0;
		}
		apply_probe(cl, mb, &res, t0, clock_mono_us());
		if (asked != mb->answered) {
			/* Someone waits for this verdict: publish it even unchanged. */
			mb->answered = asked;
			cl->force_publish = true;
		}
		int delay = hc_next_probe_ms(&mb->h, &cl->pol);
		pthread_cond_broadcast(&cl->cv);
		pthread_mutex_unlock(&cl->mu);
		cfg_unref(cfg);
		wait_next(mb, &db, t0, delay);
	}
	hc_db_close(&db);
	return NULL;
}

/* ---------------------------------------------------------- decisions */

/* At start-up the configured primary may no longer be the writable one
 * (tandem restarted after a failover): follow the single writable member
 * that replicates from nowhere. */
static void discover(struct hc_cluster *cl, int64_t now)
{
	bool all = true;
	for (size_t i = 0; i < cl->n; i++)
		all = all && cl->members[i].probed;
	if (!all && now - cl->started_mono_us < 2 * (int64_t)cl->pol.timeout_ms * 1000)
		return;
	cl->discovered = true;
	if (cl->primary < 0)
		return;
	const struct hc_mmember *p = &cl->members[cl->primary];
	if (p->h.health != HC_UP || p->role == HC_ROLE_PRIMARY)
		return;
	int found = -1, count = 0;
	for (size_t i = 0; i < cl->n; i++) {
		const struct hc_mmember *mb = &cl->members[i];
		if ((int)i != cl->primary && mb->h.health == HC_UP && mb->role == HC_ROLE_PRIMARY &&
		    !mb->last.repl.configured && !mb->fenced && !mb->maintenance) {
			found = (int)i;
			count++;
		}
	}
	if (count != 1)
		return;
	log_warn("cluster %s: the configured primary %s is read-only and %s is the only writable "
		 "member: routing writes to %s",
		 cl->name, p->addr.text, cl->members[found].addr.text,
		 cl->members[found].addr.text);
	cl->primary = found;
	cl->primary_last_ok_mono = now;
}

static void check_writable(struct hc_cluster *cl)
{
	int w = 0;
	char list[512] = "";
	for (size_t i = 0; i < cl->n; i++) {
		const struct hc_mmember *mb = &cl->members[i];
		if (mb->h.health == HC_UP && mb->role == HC_ROLE_PRIMARY) {
			size_t used = strlen(list);
			hc_fmtn(list + used, sizeof(list) - used, "%s%s", w ? ", " : "",
				mb->addr.text);
			w++;
		}
	}
	cl->writable = w;
	if (w > 1 && !cl->split_alerted) {
		cl->split_alerted = true;
		cl->split_brain_events++;
		log_error(
			"cluster %s: ALERT: %d members are writable (%s); tandem sends writes only "
			"to %s",
			cl->name, w, list,
			cl->primary >= 0 ? cl->members[cl->primary].addr.text : "none");
	} else if (w <= 1 && cl->split_alerted) {
		cl->split_alerted = false;
		log_info("cluster %s: only one member is writable again", cl->name);
	}
}

/* A replica that still hears from its source, proving a primary tandem
 * cannot reach alive; -1 if none does. */
static int hearing_replica(const struct hc_cluster *cl, int64_t now)
{
	for (size_t i = 0; i < cl->n; i++) {
		const struct hc_mmember *mb = &cl->members[i];
		if ((int)i == cl->primary || mb->h.health != HC_UP || mb->h.fails > 0 ||
		    !mb->last.repl.configured)
			continue;
		if (hc_replica_hears_source(&mb->hear, &cl->pol, now))
			return (int)i;
	}
	return -1;
}

static void mark_down(struct hc_cluster *cl, struct hc_mmember *mb, int64_t now, const char *why)
{
	mb->h.health = HC_DOWN;
	mb->down_mono_us = now;
	mb->role = HC_ROLE_UNKNOWN;
	hc_fmt(mb->last_error, "%s", why);
	log_warn("cluster %s: member %s is DOWN: %s", cl->name, mb->addr.text, why);
	hc_member_set_state(mb);
}

static void set_reachable(struct hc_cluster *cl)
{
	if (!cl->unreachable)
		return;
	cl->unreachable = false;
	log_info("cluster %s: primary %s is reachable again; sessions go to it", cl->name,
		 cl->primary >= 0 ? cl->members[cl->primary].addr.text : "none");
	cl->dirty = true;
}

/*
 * Members that only time out are judged here, once the stall outlasts
 * stall_tolerance_ms: a replica is then DOWN; the primary is DOWN only if
 * no replica still hears from it — one that does proves it alive, and
 * tandem reports it unreachable instead of failing over. A primary whose
 * writes stall that long is DOWN only with failover.on_write_stall.
 */
static void judge_stalls(struct hc_cluster *cl, int64_t now)
{
	char why[200];
	for (size_t i = 0; i < cl->n; i++) {
		struct hc_mmember *mb = &cl->members[i];
		bool primary = (int)i == cl->primary;
		if (primary && cl->cc->failover.on_write_stall && mb->write_stall_mono &&
		    mb->h.health == HC_UP &&
		    now - mb->write_stall_mono >= (int64_t)cl->pol.stall_tolerance_ms * 1000) {
			hc_fmt(why,
			       "its writes got no answer for %lld ms (failover.on_write_stall)",
			       (long long)((now - mb->write_stall_mono) / 1000));
			mark_down(cl, mb, now, why);
			continue;
		}
		if (!hc_stall_expired(&mb->h, &cl->pol, now))
			continue;
		int64_t ms = (now - mb->h.fail_since_us) / 1000;
		int by = primary ? hearing_replica(cl, now) : -1;
		if (by >= 0) {
			if (!cl->unreachable ||
			    strcmp(cl->unreachable_by, cl->members[by].addr.text)) {
				if (!cl->unreachable) {
					cl->unreachable_events++;
					cl->unreachable_us = clock_wall_us();
				}
				cl->unreachable = true;
				hc_fmt(cl->unreachable_by, "%s", cl->members[by].addr.text);
				log_error(
					"cluster %s: ALERT: primary %s is unreachable from tandem "
					"(no answer for %lld ms), but replica %s still receives "
					"from it: no failover; new sessions wait for it",
					cl->name, mb->addr.text, (long long)ms,
					cl->members[by].addr.text);
				cl->dirty = true;
			}
			continue;
		}
		if (primary)
			set_reachable(cl);
		hc_fmt(why, "no answer for %lld ms (%s)%s", (long long)ms, hc_fail_name(mb->h.last),
		       primary ? "; no replica hears from it either" : "");
		mark_down(cl, mb, now, why);
	}
	if (cl->unreachable &&
	    (cl->primary < 0 || !cl->members[cl->primary].h.stalled ||
	     cl->members[cl->primary].h.fails == 0 || cl->members[cl->primary].h.health == HC_DOWN))
		set_reachable(cl);
}

static void check_primary(struct hc_cluster *cl, int64_t now)
{
	if (cl->primary < 0 || cl->transition != HC_TR_NONE)
		return;
	struct hc_mmember *p = &cl->members[cl->primary];
	if (p->h.health != HC_DOWN && cl->unreachable) {
		/* Alive but out of tandem's reach: hold new sessions, as while a
		 * failover is being decided, and wait for it. */
		hc_gate_set_closed(cl->gate, (size_t)cl->primary, true);
		hc_fmt(cl->note,
		       "primary %s is unreachable from tandem; replica %s still receives from it, so "
		       "there is no failover",
		       p->addr.text, cl->unreachable_by);
		return;
	}
	if (p->h.health != HC_DOWN) {
		if (atomic_load(&cl->gate->slot[cl->primary].closed)) {
			hc_gate_set_closed(cl->gate, (size_t)cl->primary, false);
			log_info("cluster %s: primary %s is back; sessions go to it again",
				 cl->name, p->addr.text);
		}
		cl->refused_this_outage = false;
		cl->note[0] = 0;
		return;
	}
	/* New sessions wait for the outcome instead of trying a dead server. */
	hc_gate_set_closed(cl->gate, (size_t)cl->primary, true);
	if (!cl->pol.auto_failover) {
		hc_cluster_refuse(cl, "failover.auto is off");
		return;
	}
	if (cl->last_attempt_mono &&
	    now - cl->last_attempt_mono < (int64_t)cl->pol.interval_ms * 1000)
		return; /* a promotion just failed; try again next interval */
	if (!coord_may_decide(cl, cl->primary))
		return; /* several tandems: only the leader decides (health/coord.h) */
	struct hc_cand *c = calloc(cl->n + 1, sizeof(*c));
	if (!c)
		return;
	for (size_t i = 0; i < cl->n; i++) {
		const struct hc_mmember *mb = &cl->members[i];
		c[i] = (struct hc_cand){
			.health = mb->h.health,
			.fenced = mb->fenced,
			.maintenance = mb->maintenance,
			.read_only = mb->last.read_only,
			.replicating = mb->last.repl.configured,
			.lag_ms = mb->lag_ms,
			.name = mb->addr.text,
		};
	}
	char why[400];
	int to = hc_pick_candidate(c, cl->n, cl->primary, &cl->pol, why, sizeof(why));
	free(c);
	if (to < 0) {
		hc_cluster_refuse(cl, why);
		return;
	}
	hc_failover_run(cl, to);
}

/* The primary is healthy and nothing is moving: the time for chores. */
static bool settled(const struct hc_cluster *cl)
{
	if (cl->primary < 0 || cl->transition != HC_TR_NONE || cl->unreachable)
		return false;
	const struct hc_mmember *p = &cl->members[cl->primary];
	return p->h.health == HC_UP && p->h.fails == 0 && !p->fenced;
}

/* Rejoin progress of a fenced member that now replicates: caught up
 * (back in rotation), or refused by its new source (diverged). */
static void rejoin_progress(struct hc_cluster *cl, struct hc_mmember *mb)
{
	const struct hc_repl *q = &mb->last.repl;
	if (mb->probes < mb->rejoin_probes + 2 || mb->h.health != HC_UP)
		return; /* no probe that began after the CHANGE MASTER yet */
	if (q->last_io_errno || q->last_sql_errno) {
		mb->rejoining = false;
		mb->diverged = true;
		cl->rejoins_refused++;
		hc_fmt(mb->fence_reason,
		       "rejoin refused: replication from the primary stopped (%u: %s%s%s); its "
		       "gtid_binlog_pos %s, the primary's %s",
		       q->last_io_errno ? q->last_io_errno : q->last_sql_errno,
		       q->last_io_errno ? q->last_io_error : q->last_sql_error,
		       q->last_io_errno && q->last_sql_errno ? "; " : "",
		       q->last_io_errno && q->last_sql_errno ? q->last_sql_error : "",
		       mb->last.gtid_binlog_pos, cl->members[cl->primary].last.gtid_binlog_pos);
		log_error("cluster %s: ALERT: %s stays fenced: %s", cl->name, mb->addr.text,
			  mb->fence_reason);
		return;
	}
	struct hc_gtid_pos have, want;
	bool parsed = hc_gtid_parse(q->gtid_slave_pos, strlen(q->gtid_slave_pos), &have) == 0 &&
		      hc_gtid_parse(mb->rejoin_target, strlen(mb->rejoin_target), &want) == 0;
	bool caught_up = strcmp(q->io_running, "Yes") == 0 && q->sql_running &&
			 (parsed ? hc_gtid_missing(&have, &want, NULL, 0) == 0
				 : mb->lag_ms >= 0 && mb->lag_ms <= cl->pol.max_lag_ms);
	if (!caught_up)
		return;
	if (cl->coord) {
		/* Several tandems: the fence lives in etcd's record, so lifting it is a
		 * decision recorded there first (the followers unfence from the record). */
		struct coord_decision dec = {"unfence", cl->members[cl->primary].addr.text,
					     cl->members[cl->primary].addr.text,
					     "former primary rejoined and caught up",
					     mb->addr.text};
		char cerr[200] = "";
		int crc = coord_commit_decision_locked(cl, &dec, cerr, sizeof(cerr));
		if (crc != 0) {
			log_warn(
				"cluster %s: %s caught up, but its fence could not be lifted in etcd "
				"yet: %s",
				cl->name, mb->addr.text, cerr);
			return;
		}
		if (!mb->fenced || !mb->rejoining)
			return; /* the record's watch got there first */
	}
	mb->rejoining = false;
	mb->fenced = false;
	mb->fence_reason[0] = 0;
	cl->rejoins++;
	log_warn("cluster %s: former primary %s rejoined as a replica of %s (caught up with %s "
		 "after %lld ms); it is a failover candidate again",
		 cl->name, mb->addr.text, cl->members[cl->primary].addr.text, mb->rejoin_target,
		 (long long)((clock_mono_us() - mb->rejoin_started_mono) / 1000));
	hc_member_set_state(mb);
}

/* One chore per evaluation, while the cluster is settled: a fenced former
 * primary that answers again rejoins (failover.auto_rejoin), and a replica
 * whose heartbeat period is too long to vouch for a stalled primary in
 * time gets monitor.replica_heartbeat_ms. */
static void maintain(struct hc_cluster *cl, int64_t now)
{
	if (cl->stopping || !settled(cl))
		return;
	/* With coordination, only the leader changes servers (health/coord.h). */
	if (!coord_may_decide(cl, -1))
		return;
	const struct cfg_cluster *cc = cl->cc;
	for (size_t i = 0; i < cl->n; i++) {
		struct hc_mmember *mb = &cl->members[i];
		if (!mb->fenced || mb->diverged || mb->maintenance || !cc->failover.auto_rejoin)
			continue;
		if (mb->rejoining) {
			rejoin_progress(cl, mb);
			continue;
		}
		if (mb->h.health == HC_UP && mb->h.fails == 0 && mb->last.read_only &&
		    mb->last.mariadb && (!mb->rejoin_mono || now - mb->rejoin_mono >= 2000000)) {
			hc_rejoin_run(cl, mb);
			return;
		}
	}
	int want = cc->monitor.replica_heartbeat_ms;
	for (size_t i = 0; want > 0 && i < cl->n; i++) {
		struct hc_mmember *mb = &cl->members[i];
		const struct hc_repl *q = &mb->last.repl;
		if ((int)i == cl->primary || mb->fenced || mb->maintenance || mb->hb_period_tried ||
		    mb->h.health != HC_UP || mb->h.fails > 0 || !q->configured ||
		    !mb->last.mariadb || strcmp(q->io_running, "Yes") != 0 || !q->sql_running ||
		    q->heartbeat_period_ms <= 0 || q->heartbeat_period_ms <= want + want / 2)
			continue;
		hc_replica_tune(cl, mb);
		return;
	}
}

static void evaluate(struct hc_cluster *cl)
{
	if (cl->reqs) {
		struct hc_request *r = cl->reqs;
		cl->reqs = r->next;
		hc_request_run(cl, r);
		if (cl->stopping)
			return;
	}
	int64_t now = clock_mono_us();
	int resume_to = coord_resume(cl);
	if (resume_to >= 0)
		hc_failover_run(cl,
				resume_to); /* a new leader finishes its predecessor's decision */
	if (cl->stopping)
		return;
	if (!cl->discovered)
		discover(cl, now);
	check_writable(cl);
	judge_stalls(cl, now);
	check_primary(cl, now);
	if (cl->stopping)
		return;
	hc_cluster_publish(cl, cl->force_publish);
	cl->force_publish = false;
	maintain(cl, clock_mono_us());
	if (!cl->stopping)
		hc_state_save(cl);
}

void *hc_cluster_main(void *arg)
{
	struct hc_cluster *cl = arg;
	char tname[16];
	hc_fmt(tname, "mon:%s", cl->name);
	log_set_thread_name(tname);
	pthread_mutex_lock(&cl->mu);
	while (!cl->stopping) {
		if (!cl->dirty && !cl->reqs && !cl->force_publish) {
			/* A stall is judged at its deadline, not at the next tick. */
			int wait_ms = cl->pol.interval_ms;
			for (size_t i = 0; i < cl->n; i++)
				if ((cl->members[i].h.stalled && cl->members[i].h.fails > 0) ||
				    cl->members[i].write_stall_mono)
					wait_ms = wait_ms > 50 ? 50 : wait_ms;
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			int64_t ns = ts.tv_nsec + (int64_t)wait_ms * 1000000;
			ts.tv_sec += ns / 1000000000;
			ts.tv_nsec = ns % 1000000000;
			pthread_cond_timedwait(&cl->cv, &cl->mu, &ts);
			if (cl->stopping)
				break;
		}
		cl->dirty = false;
		evaluate(cl);
	}
	pthread_mutex_unlock(&cl->mu);
	return NULL;
}
