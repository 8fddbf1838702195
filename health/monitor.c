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
 * Owns: threads, the per-cluster state, publication, reconfiguration.
 * Must not: hold a lock across network I/O; touch proxy sessions.
 */
#include "health/text.h"
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

/* Least time between two probes of one member, however often it is woken. */
#define PROBE_MIN_SPACING_US 20000

static void policy_from(struct hc_policy *p, const struct cfg_cluster *cc)
{
	p->interval_ms = cc->monitor.interval_ms;
	p->timeout_ms = cc->monitor.timeout_ms;
	p->failures = cc->monitor.failures;
	p->auto_failover = cc->failover.auto_failover;
	p->promote = cc->failover.promote;
	p->max_lag_ms = cc->failover.max_lag_ms;
	p->min_interval_ms = cc->failover.min_interval_ms;
}

static void kick(int fd)
{
	uint64_t one = 1;
	ssize_t n = write(fd, &one, sizeof(one));
	(void)n;
}

const struct hc_db_tls *hc_cluster_tls(const struct cfg_cluster *cc, struct hc_db_tls *buf)
{
	/* Clusters have no TLS settings yet (they come with the TLS work on
	 * the proxy's backend leg); probes are plaintext until then. */
	(void)cc;
	memset(buf, 0, sizeof(*buf));
	return NULL;
}

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
		log_warn("cluster %s: member %s is DOWN after %d failed probe(s): %s (%s)", cl->name,
			 mb->addr.text, mb->h.fails, r->error, hc_fail_name(r->fail));
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
			log_error("cluster %s: the monitor cannot probe %s (%s): %s; its health stays "
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

static void *member_main(void *arg)
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

		int64_t t0 = clock_mono_us();
		struct hc_probe_res res;
		hc_probe(&db, &q, &res);
		bool suspect = atomic_exchange(&mb->suspect, false);

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
		if (suspect)
			cl->force_publish = true;
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
		hc_fmt(m->version, "%s", mb->last.version);
		hc_fmt(m->last_error, "%s", mb->last_error);
	}
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
		  (unsigned long long)t->gen, cl->primary >= 0 ? cl->members[cl->primary].addr.text : "none",
		  cl->transition ? ", " : "", cl->transition ? hc_transition_name(cl->transition) : "");
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
		 cl->name, p->addr.text, cl->members[found].addr.text, cl->members[found].addr.text);
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
			hc_fmtn(list + used, sizeof(list) - used, "%s%s", w ? ", " : "", mb->addr.text);
			w++;
		}
	}
	cl->writable = w;
	if (w > 1 && !cl->split_alerted) {
		cl->split_alerted = true;
		cl->split_brain_events++;
		log_error("cluster %s: ALERT: %d members are writable (%s); tandem sends writes only "
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
			log_info("cluster %s: primary %s is back; sessions go to it again", cl->name,
				 p->addr.text);
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
	if (cl->last_attempt_mono && now - cl->last_attempt_mono < (int64_t)cl->pol.interval_ms * 1000)
		return; /* a promotion just failed; try again next interval */
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
	if (!cl->discovered)
		discover(cl, now);
	check_writable(cl);
	check_primary(cl, now);
	if (cl->stopping)
		return;
	hc_cluster_publish(cl, cl->force_publish);
	cl->force_publish = false;
}

static void *cluster_main(void *arg)
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

/* ------------------------------------------------------------ lifecycle */

static struct hc_cluster *cluster_new(struct hc_monitor *m, struct cfg *cfg,
				      const struct cfg_cluster *cc)
{
	struct hc_cluster *cl = calloc(1, sizeof(*cl));
	if (!cl)
		return NULL;
	cl->mon = m;
	hc_fmt(cl->name, "%s", cc->name);
	cl->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pthread_mutex_init(&cl->mu, NULL);
	pthread_mutex_init(&cl->pub_mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cl->cv, &ca);
	pthread_condattr_destroy(&ca);
	cl->cfg = cfg_ref(cfg);
	cl->cc = cc;
	policy_from(&cl->pol, cc);
	cl->n = cc->nmembers;
	cl->members = calloc(cl->n + 1, sizeof(*cl->members));
	cl->gate = hc_gate_new(cl->n);
	hc_hb_init(&cl->hb);
	cl->primary = cl->n ? 0 : -1;
	cl->started_mono_us = clock_mono_us();
	if (cl->stop_fd < 0 || !cl->members || !cl->gate)
		goto fail;
	int64_t now = clock_wall_us();
	for (size_t i = 0; i < cl->n; i++) {
		struct hc_mmember *mb = &cl->members[i];
		mb->cl = cl;
		mb->idx = i;
		mb->addr = cc->members[i];
		mb->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		atomic_init(&mb->suspect, false);
		mb->state = HC_UNKNOWN;
		mb->state_since_us = now;
		mb->lag_ms = -1;
		mb->lag_source = "";
		if (mb->wake_fd < 0)
			goto fail;
	}
	return cl;
fail:
	log_error("monitor: cannot set up cluster %s: %s", cc->name, strerror(errno));
	for (size_t i = 0; cl->members && i < cl->n; i++)
		if (cl->members[i].wake_fd > 0)
			close(cl->members[i].wake_fd);
	free(cl->members);
	hc_gate_unref(cl->gate);
	cfg_unref(cl->cfg);
	if (cl->stop_fd >= 0)
		close(cl->stop_fd);
	free(cl);
	return NULL;
}

static int cluster_start(struct hc_cluster *cl)
{
	pthread_mutex_lock(&cl->mu);
	hc_cluster_publish(cl, true);
	pthread_mutex_unlock(&cl->mu);
	for (size_t i = 0; i < cl->n; i++) {
		if (pthread_create(&cl->members[i].thread, NULL, member_main, &cl->members[i]) != 0)
			return -1;
		cl->members[i].started = true;
	}
	if (pthread_create(&cl->thread, NULL, cluster_main, cl) != 0)
		return -1;
	cl->started = true;
	return 0;
}

static void cluster_signal_stop(struct hc_cluster *cl)
{
	pthread_mutex_lock(&cl->mu);
	cl->stopping = true;
	pthread_cond_broadcast(&cl->cv);
	pthread_mutex_unlock(&cl->mu);
	kick(cl->stop_fd);
}

static void cluster_join_free(struct hc_cluster *cl)
{
	for (size_t i = 0; i < cl->n; i++)
		if (cl->members[i].started)
			pthread_join(cl->members[i].thread, NULL);
	if (cl->started)
		pthread_join(cl->thread, NULL);
	while (cl->reqs) {
		struct hc_request *r = cl->reqs;
		cl->reqs = r->next;
		r->done(503, json_pack("{s:s}", "error", "the monitor is stopping"), r->arg);
		free(r);
	}
	for (size_t i = 0; i < cl->n; i++)
		close(cl->members[i].wake_fd);
	free(cl->members);
	hc_gate_unref(cl->gate);
	hc_topology_unref(cl->topo);
	cfg_unref(cl->cfg);
	close(cl->stop_fd);
	pthread_mutex_destroy(&cl->mu);
	pthread_mutex_destroy(&cl->pub_mu);
	pthread_cond_destroy(&cl->cv);
	free(cl);
}

/* The heartbeat row key: this host's name, in characters safe in SQL. */
static void writer_name(char *out, size_t len)
{
	char host[256] = "tandem";
	gethostname(host, sizeof(host) - 1);
	size_t j = 0;
	for (size_t i = 0; host[i] && j + 1 < len && j < 64; i++) {
		char c = host[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  c == '.' || c == '-' || c == '_';
		out[j++] = ok ? c : '_';
	}
	out[j] = 0;
	if (j == 0)
		hc_fmtn(out, len, "tandem");
}

struct hc_monitor *hc_monitor_start(struct cfg *cfg, hc_notify_fn notify, void *arg)
{
	struct hc_monitor *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	pthread_mutex_init(&m->mu, NULL);
	m->notify = notify;
	m->arg = arg;
	writer_name(m->writer, sizeof(m->writer));
	m->clusters = calloc(cfg->nclusters + 1, sizeof(*m->clusters));
	if (!m->clusters) {
		free(m);
		return NULL;
	}
	for (size_t i = 0; i < cfg->nclusters; i++) {
		struct hc_cluster *cl = cluster_new(m, cfg, &cfg->clusters[i]);
		if (!cl) {
			hc_monitor_stop(m);
			return NULL;
		}
		m->clusters[m->n++] = cl;
		if (cluster_start(cl) < 0) {
			log_error("monitor: cannot start threads for cluster %s", cl->name);
			hc_monitor_stop(m);
			return NULL;
		}
	}
	return m;
}

static struct hc_cluster *find_cluster(struct hc_monitor *m, const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->clusters[i]->name, name) == 0)
			return m->clusters[i];
	return NULL;
}

static bool same_members(const struct hc_cluster *cl, const struct cfg_cluster *cc)
{
	if (cl->n != cc->nmembers)
		return false;
	for (size_t i = 0; i < cl->n; i++)
		if (!cfg_addr_equal(&cl->members[i].addr, &cc->members[i]))
			return false;
	return true;
}

/* The operator wrote the failover down: the config names the current
 * primary as primary, so members fenced by it may come back. */
static void reload_unfence(struct hc_cluster *cl)
{
	if (cl->primary < 0)
		return;
	const struct hc_mmember *p = &cl->members[cl->primary];
	if (!cfg_addr_equal(&cl->cc->members[0], &p->addr)) {
		log_warn("cluster %s: the config names %s as primary, but tandem routes to %s since "
			 "a failover; write %s as primary in the config to make it permanent",
			 cl->name, cl->cc->members[0].text, p->addr.text, p->addr.text);
		return;
	}
	for (size_t i = 0; i < cl->n; i++) {
		struct hc_mmember *mb = &cl->members[i];
		if (mb->fenced) {
			mb->fenced = false;
			log_info("cluster %s: %s is no longer fenced: the reloaded config names %s as "
				 "primary",
				 cl->name, mb->addr.text, p->addr.text);
			hc_member_set_state(mb);
		}
	}
}

/* Settings-only change: swap the config under the lock; threads read it
 * at their next step. */
static void update_in_place(struct hc_cluster *cl, struct cfg *cfg, const struct cfg_cluster *cc)
{
	pthread_mutex_lock(&cl->mu);
	struct cfg *old = cl->cfg;
	cl->cfg = cfg_ref(cfg);
	cl->cc = cc;
	policy_from(&cl->pol, cc);
	reload_unfence(cl);
	cl->dirty = true;
	pthread_cond_broadcast(&cl->cv);
	pthread_mutex_unlock(&cl->mu);
	cfg_unref(old);
	for (size_t i = 0; i < cl->n; i++)
		kick(cl->members[i].wake_fd);
}

/* A changed member list: a new cluster object, keeping by address what the
 * old one knew. oc->mu held. */
static void carry_over(struct hc_cluster *nc, struct hc_cluster *oc)
{
	for (size_t i = 0; i < nc->n; i++) {
		struct hc_mmember *nm = &nc->members[i];
		for (size_t j = 0; j < oc->n; j++) {
			const struct hc_mmember *om = &oc->members[j];
			if (!cfg_addr_equal(&nm->addr, &om->addr))
				continue;
			nm->h = om->h;
			nm->fenced = om->fenced;
			nm->maintenance = om->maintenance;
			nm->state = om->state;
			nm->state_since_us = om->state_since_us;
			nm->down_mono_us = om->down_mono_us;
			nm->probed = om->probed;
			nm->last = om->last;
			nm->role = om->role;
			nm->probe_us = om->probe_us;
			nm->last_probe_wall_us = om->last_probe_wall_us;
			memcpy(nm->last_error, om->last_error, sizeof(nm->last_error));
			nm->last_fail = om->last_fail;
			nm->last_error_us = om->last_error_us;
			nm->lag_ms = om->lag_ms;
			nm->lag_source = om->lag_source;
			nm->probes = om->probes;
			nm->probe_failures = om->probe_failures;
			nm->alert_auth = om->alert_auth;
			if ((int)j == oc->primary)
				nc->primary = (int)i;
		}
	}
	if (oc->transition != HC_TR_NONE)
		log_warn("cluster %s: reconfigured during a %s; it is abandoned", oc->name,
			 hc_transition_name(oc->transition));
	nc->hb = oc->hb;
	nc->hb_last_write_us = oc->hb_last_write_us;
	nc->primary_last_ok_mono = oc->primary_last_ok_mono;
	nc->last_failover_mono = oc->last_failover_mono;
	nc->last_failover = oc->last_failover;
	nc->last_switchover = oc->last_switchover;
	memcpy(nc->refusal, oc->refusal, sizeof(nc->refusal));
	nc->refusal_us = oc->refusal_us;
	nc->failovers = oc->failovers;
	nc->failovers_refused = oc->failovers_refused;
	nc->switchovers = oc->switchovers;
	nc->split_brain_events = oc->split_brain_events;
	nc->gen = oc->gen;
	nc->discovered = oc->discovered;
	/* Queued requests move over too. */
	nc->reqs = oc->reqs;
	oc->reqs = NULL;
	reload_unfence(nc);
}

static void retire(struct hc_monitor *m, struct hc_cluster *cl)
{
	cluster_signal_stop(cl);
	struct hc_cluster **grown = realloc(m->retired, (m->nretired + 1) * sizeof(*grown));
	if (!grown) {
		cluster_join_free(cl);
		return;
	}
	m->retired = grown;
	m->retired[m->nretired++] = cl;
}

static void join_retired(struct hc_monitor *m)
{
	pthread_mutex_lock(&m->mu);
	struct hc_cluster **list = m->retired;
	size_t n = m->nretired;
	m->retired = NULL;
	m->nretired = 0;
	pthread_mutex_unlock(&m->mu);
	for (size_t i = 0; i < n; i++)
		cluster_join_free(list[i]);
	free(list);
}

void hc_monitor_reconfigure(struct hc_monitor *m, struct cfg *cfg)
{
	join_retired(m);
	struct hc_cluster **next = calloc(cfg->nclusters + 1, sizeof(*next));
	if (!next) {
		log_error("monitor: out of memory applying the new config; monitoring is unchanged");
		return;
	}
	size_t nn = 0;
	struct hc_cluster **started = calloc(cfg->nclusters + 1, sizeof(*started));
	size_t nstarted = 0;
	if (!started) {
		free(next);
		log_error("monitor: out of memory applying the new config; monitoring is unchanged");
		return;
	}
	for (size_t i = 0; i < cfg->nclusters; i++) {
		const struct cfg_cluster *cc = &cfg->clusters[i];
		pthread_mutex_lock(&m->mu);
		struct hc_cluster *old = find_cluster(m, cc->name);
		pthread_mutex_unlock(&m->mu);
		if (old && same_members(old, cc)) {
			update_in_place(old, cfg, cc);
			next[nn++] = old;
			continue;
		}
		struct hc_cluster *nc = cluster_new(m, cfg, cc);
		if (!nc) {
			if (old)
				next[nn++] = old; /* keep monitoring the old way */
			continue;
		}
		if (old) {
			pthread_mutex_lock(&old->mu);
			carry_over(nc, old);
			old->stopping = true;
			pthread_mutex_unlock(&old->mu);
			log_info("cluster %s: members changed; monitoring restarts with state kept",
				 cc->name);
		}
		next[nn++] = nc;
		started[nstarted++] = nc;
	}
	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < m->n; i++) {
		bool kept = false;
		for (size_t j = 0; j < nn; j++)
			kept = kept || next[j] == m->clusters[i];
		if (!kept)
			retire(m, m->clusters[i]);
	}
	free(m->clusters);
	m->clusters = next;
	m->n = nn;
	pthread_mutex_unlock(&m->mu);
	for (size_t i = 0; i < nstarted; i++)
		if (cluster_start(started[i]) < 0)
			log_error("monitor: cannot start threads for cluster %s", started[i]->name);
	free(started);
	if (m->notify)
		m->notify(m->arg);
}

void hc_monitor_stop(struct hc_monitor *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < m->n; i++)
		retire(m, m->clusters[i]);
	free(m->clusters);
	m->clusters = NULL;
	m->n = 0;
	pthread_mutex_unlock(&m->mu);
	join_retired(m);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

/* --------------------------------------------------------- accessors */

struct hc_topology *hc_monitor_topology(struct hc_monitor *m, const char *cluster)
{
	struct hc_topology *t = NULL;
	pthread_mutex_lock(&m->mu);
	struct hc_cluster *cl = find_cluster(m, cluster);
	if (cl) {
		pthread_mutex_lock(&cl->pub_mu);
		t = hc_topology_ref(cl->topo);
		pthread_mutex_unlock(&cl->pub_mu);
	}
	pthread_mutex_unlock(&m->mu);
	return t;
}

static bool sa_matches(const struct cfg_addr *a, const struct sockaddr *sa)
{
	if (a->sa.ss_family != sa->sa_family)
		return false;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const struct sockaddr_in *)&a->sa;
		const struct sockaddr_in *y = (const struct sockaddr_in *)sa;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)&a->sa;
		const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)sa;
		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	return false;
}

void hc_monitor_suspect(struct hc_monitor *m, const char *cluster, const struct sockaddr *sa)
{
	pthread_mutex_lock(&m->mu);
	struct hc_cluster *cl = find_cluster(m, cluster);
	for (size_t i = 0; cl && i < cl->n; i++) {
		struct hc_mmember *mb = &cl->members[i];
		if (sa_matches(&mb->addr, sa)) {
			atomic_store(&mb->suspect, true);
			kick(mb->wake_fd);
		}
	}
	pthread_mutex_unlock(&m->mu);
}

int hc_monitor_request(struct hc_monitor *m, enum hc_request_kind kind, const char *cluster,
		       const char *member, hc_request_done_fn done, void *arg, json_t **body)
{
	*body = NULL;
	pthread_mutex_lock(&m->mu);
	struct hc_cluster *cl = find_cluster(m, cluster);
	if (!cl) {
		pthread_mutex_unlock(&m->mu);
		*body = json_pack("{s:s, s:s}", "error", "no such cluster", "cluster", cluster);
		return 404;
	}
	pthread_mutex_lock(&cl->mu);
	int code = 0;
	const struct hc_mmember *mb = member && member[0] ? hc_cluster_member(cl, member) : NULL;
	if (member && member[0] && !mb) {
		code = 404;
		*body = json_pack("{s:s, s:s, s:s}", "error", "no such member", "cluster", cluster,
				  "member", member);
	} else if (kind != HC_REQ_SWITCHOVER && !mb) {
		code = 400;
		*body = json_pack("{s:s}", "error", "a member address is required");
	} else if (cl->stopping) {
		code = 503;
		*body = json_pack("{s:s}", "error", "the monitor is stopping");
	} else {
		struct hc_request *r = calloc(1, sizeof(*r));
		if (!r) {
			code = 503;
			*body = json_pack("{s:s}", "error", "out of memory");
		} else {
			r->kind = kind;
			hc_fmt(r->member, "%s", mb ? mb->addr.text : "");
			r->done = done;
			r->arg = arg;
			struct hc_request **pp = &cl->reqs;
			while (*pp)
				pp = &(*pp)->next;
			*pp = r;
			cl->dirty = true;
			pthread_cond_broadcast(&cl->cv);
		}
	}
	pthread_mutex_unlock(&cl->mu);
	pthread_mutex_unlock(&m->mu);
	return code;
}
