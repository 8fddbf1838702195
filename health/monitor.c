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
 * Owns: the probe and decision threads' loops, member state, publication.
 * Creating, reconfiguring and stopping clusters is cluster.c. Must not:
 * hold a lock across network I/O; touch proxy sessions.
 */
#include "health/monitor_int.h"

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
#include "health/coord.h"
#include "health/text.h"

/* Least time between two probes of one member, however often it is woken. */
#define PROBE_MIN_SPACING_US 20000

/* ------------------------------------------------------ member state */

void hc_member_set_state(struct hc_mmember *mb)
{
	enum hc_state s = hc_overlay(mb->h.health, mb->fenced, mb->maintenance);
	if (s == mb->state)
		return;
	log_info("cluster %s: member %s %s -> %s", mb->cl->name, mb->addr.text,
		 hc_state_name(mb->state), hc_state_name(s));
	mb->state = s;
	mb->state_since_us = clock_wall_us();
	mb->cl->dirty = true;
}

struct hc_mmember *hc_cluster_member(struct hc_cluster *cl, const char *addr)
{
	for (size_t i = 0; i < cl->n; i++)
		if (strcmp(cl->members[i].addr.text, addr) == 0)
			return &cl->members[i];
	struct cfg_addr a;
	char err[64];
	if (cfg_addr_parse(addr, true, &a, err, sizeof(err)) < 0)
		return NULL;
	for (size_t i = 0; i < cl->n; i++)
		if (cfg_addr_equal(&cl->members[i].addr, &a))
			return &cl->members[i];
	return NULL;
}

/* The chosen primary answered its last probe. */
static bool primary_live(const struct hc_cluster *cl)
{
	if (cl->primary < 0)
		return false;
	const struct hc_health *h = &cl->members[cl->primary].h;
	return h->health == HC_UP && h->fails == 0;
}

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

/* Record one probe's outcome; started is when the probe began (a failure
 * streak, e.g. a hang, counts from there). */
static void apply_probe(struct hc_cluster *cl, struct hc_mmember *mb, const struct hc_probe_res *r,
			int64_t started, int64_t now)
{
	bool strict = cl->last_failover_mono &&
		      now - cl->last_failover_mono < (int64_t)cl->pol.min_interval_ms * 1000;
	enum hc_state before = mb->h.health;
	hc_health_apply(&mb->h, r->fail, &cl->pol, strict, started);
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
		update_lag(cl, mb, r, now);
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
		};
		/* Only the chosen primary gets heartbeats, and not while a
		 * switchover has frozen it (see hc_cluster.hb_paused). */
		q.hb_write = q.hb_schema && (int)mb->idx == cl->primary && !cl->hb_paused &&
			     cl->transition == HC_TR_NONE;
		if (q.hb_write) {
			q.hb_value = hc_hb_next_value(&cl->hb, clock_wall_us());
			mb->hb_inflight = true;
		}
		pthread_mutex_unlock(&cl->mu);

		/* Requests made before this probe starts are answered by it. */
		uint64_t asked = atomic_load(&mb->asked);
		int64_t t0 = clock_mono_us();
		struct hc_probe_res res;
		hc_probe(&db, &q, &res);

		pthread_mutex_lock(&cl->mu);
		if (q.hb_write) {
			mb->hb_inflight = false;
			if (res.hb_written) {
				hc_hb_record(&cl->hb, q.hb_value, t0);
				cl->hb_last_write_us = clock_wall_us();
				cl->hb_error[0] = 0;
			} else if (res.hb_error[0]) {
				hc_fmt(cl->hb_error, "%s", res.hb_error);
			}
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

/* ------------------------------------------------------- publication */

static struct hc_topology *build_topology(struct hc_cluster *cl)
{
	struct hc_topology *t = hc_topology_new(cl->name, cl->n);
	if (!t)
		return NULL;
	t->primary = cl->primary;
	t->transition = cl->transition;
	hc_fmt(t->note, "%s", cl->note);
	t->gate = hc_gate_ref(cl->gate);
	for (size_t i = 0; i < cl->n; i++) {
		const struct hc_mmember *mb = &cl->members[i];
		struct hc_member *m = &t->members[i];
		m->addr = mb->addr;
		m->state = mb->state;
		m->role = mb->role;
		m->read_only = mb->last.read_only;
		m->lag_ms = mb->lag_ms;
		m->since_us = mb->state_since_us;
		m->probe_us = mb->probe_us;
		m->answered = mb->answered;
		hc_fmt(m->version, "%s", mb->last.version);
		hc_fmt(m->last_error, "%s", mb->last_error);
	}
	coord_topology(cl, t); /* several tandems: what etcd's record implies */
	return t;
}

/* Whether two snapshots route alike (lag and latency do not count). */
static bool same_routing(const struct hc_topology *a, const struct hc_topology *b)
{
	if (a->primary != b->primary || a->transition != b->transition ||
	    strcmp(a->note, b->note) != 0 || a->nmembers != b->nmembers)
		return false;
	for (size_t i = 0; i < a->nmembers; i++) {
		const struct hc_member *x = &a->members[i], *y = &b->members[i];
		if (x->state != y->state || x->role != y->role || x->read_only != y->read_only)
			return false;
	}
	return true;
}

void hc_cluster_publish(struct hc_cluster *cl, bool force)
{
	struct hc_topology *t = build_topology(cl);
	if (!t)
		return;
	pthread_mutex_lock(&cl->pub_mu);
	if (cl->topo && !force && same_routing(cl->topo, t)) {
		pthread_mutex_unlock(&cl->pub_mu);
		hc_topology_unref(t);
		return;
	}
	t->gen = ++cl->gen;
	struct hc_topology *old = cl->topo;
	cl->topo = t;
	pthread_mutex_unlock(&cl->pub_mu);
	hc_topology_unref(old);
	log_debug("cluster %s: topology generation %llu: primary %s%s%s", cl->name,
		  (unsigned long long)t->gen,
		  cl->primary >= 0 ? cl->members[cl->primary].addr.text : "none",
		  cl->transition ? ", " : "",
		  cl->transition ? hc_transition_name(cl->transition) : "");
	if (cl->mon->notify)
		cl->mon->notify(cl->mon->arg);
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

void hc_cluster_refuse(struct hc_cluster *cl, const char *why)
{
	const char *pa = cl->primary >= 0 ? cl->members[cl->primary].addr.text : "none";
	hc_fmt(cl->note, "primary %s is down; failover refused: %s", pa, why);
	if (cl->refused_this_outage && strcmp(cl->refusal, why) == 0)
		return;
	if (!cl->refused_this_outage)
		cl->failovers_refused++;
	cl->refused_this_outage = true;
	hc_fmt(cl->refusal, "%s", why);
	cl->refusal_us = clock_wall_us();
	log_warn("cluster %s: primary %s is down; failover refused: %s", cl->name, pa, why);
}

static void check_primary(struct hc_cluster *cl, int64_t now)
{
	if (cl->primary < 0 || cl->transition != HC_TR_NONE)
		return;
	struct hc_mmember *p = &cl->members[cl->primary];
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
	coord_resume(cl); /* a new leader finishes its predecessor's decision */
	if (cl->stopping)
		return;
	if (!cl->discovered)
		discover(cl, now);
	check_writable(cl);
	check_primary(cl, now);
	if (cl->stopping)
		return;
	hc_cluster_publish(cl, cl->force_publish);
	cl->force_publish = false;
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
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			int64_t ns = ts.tv_nsec + (int64_t)cl->pol.interval_ms * 1000000;
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
