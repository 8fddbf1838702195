/*
 * coord_decide.c — the monitor's hooks into coordination (coord.h): who
 * may decide, recording a decision before acting and marking it done, a
 * new leader finishing its predecessor's decision (the monitor then runs
 * it), and /status and /metrics. What routing must show beyond the
 * monitor's own view is coord_view.c.
 *
 * Owns: the rules of those hooks. Must not: hold cl->mu across etcd I/O
 * (commit and done are called without it), start threads, act on servers
 * (failover.c does, called by the monitor).
 */
#include "health/coord.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "common/clock.h"
#include "common/log.h"
#include "health/coord_int.h"
#include "health/coord_thread.h"
#include "health/text.h"

bool coord_may_decide(struct hc_cluster *cl, int dead)
{
	struct coord *k = cl->coord;
	if (!k)
		return true;
	int64_t now = clock_mono_us();
	char why[200] = "";
	pthread_mutex_lock(&k->mu);
	bool ok = k->leader && !k->cut_off && k->reach == REACH_OK && coord_lease_fresh(k, now) &&
		  k->loaded && !k->pending;
	if (!ok)
		hc_fmt(why, "%s",
		       k->pending  ? "a recorded decision is being carried out"
		       : k->leader ? "this leader's lease or etcd connection is not current"
				   : "waiting for the coordination leader's decision");
	if (ok && dead >= 0 && (size_t)dead < cl->n) {
		const char *addr = cl->members[dead].addr.text;
		for (size_t i = 0; i < k->nobs && ok; i++)
			if (coord_obs_member_up(k->obs[i].value, k->obs[i].len, addr) == 1) {
				ok = false;
				hc_fmt(why, "tandem %s still sees %s up", k->obs[i].instance, addr);
			}
	}
	bool changed = strcmp(why, k->wait_note) != 0;
	hc_fmt(k->wait_note, "%s", why);
	pthread_mutex_unlock(&k->mu);
	if (!ok && dead >= 0 && changed)
		log_info("cluster %s: %s is down here, but no decision yet: %s", cl->name,
			 cl->members[dead].addr.text, why);
	if (!ok && dead >= 0)
		hc_fmt(cl->note, "primary %s is down; %s", cl->members[dead].addr.text, why);
	return ok;
}

int coord_resume(struct hc_cluster *cl)
{
	struct coord *k = cl->coord;
	if (!k || (cl->transition != HC_TR_NONE && !k->imposed))
		return -1;
	pthread_mutex_lock(&k->mu);
	bool rf =
		k->rollforward && k->leader && !k->cut_off && coord_lease_fresh(k, clock_mono_us());
	struct coord_rec rec = k->rec;
	pthread_mutex_unlock(&k->mu);
	if (!rf)
		return -1;
	int from = -1, to = -1;
	for (size_t i = 0; i < cl->n; i++) {
		if (strcmp(cl->members[i].addr.text, rec.from) == 0)
			from = (int)i;
		if (strcmp(cl->members[i].addr.text, rec.primary) == 0)
			to = (int)i;
	}
	if (from < 0 || to < 0 || from == to) {
		log_error("cluster %s: cannot finish record epoch %llu (%s -> %s): not members",
			  cl->name, (unsigned long long)rec.epoch, rec.from, rec.primary);
		pthread_mutex_lock(&k->mu);
		k->rollforward = false;
		pthread_mutex_unlock(&k->mu);
		return -1;
	}
	cl->transition = HC_TR_NONE; /* it is ours now */
	k->imposed = false;
	log_warn("cluster %s: finishing the decision of epoch %llu (%s %s -> %s by %s)", cl->name,
		 (unsigned long long)rec.epoch, rec.kind, rec.from, rec.primary, rec.by);
	cl->primary = from;
	return to;
}

/* A switchover makes the old primary read-only while it still answers:
 * first every other live tandem acknowledges the record (it holds new
 * sessions back and has stopped its write probes there), or half a
 * lease passes (one that does not answer is fencing itself by then). */
static void wait_peers(struct coord *k, uint64_t epoch)
{
	int64_t t0 = clock_mono_us();
	int64_t limit = (int64_t)k->ttl_s * 500000;
	for (;;) {
		pthread_mutex_lock(&k->mu);
		size_t behind = 0;
		for (size_t i = 0; i < k->nobs; i++)
			if (coord_obs_epoch(k->obs[i].value, k->obs[i].len) < epoch)
				behind++;
		pthread_mutex_unlock(&k->mu);
		if (behind == 0)
			return;
		if (clock_mono_us() - t0 > limit) {
			log_warn("cluster %s: %zu tandem(s) did not acknowledge epoch %llu within "
				 "%lld ms; the switchover goes on",
				 k->cl->name, behind, (unsigned long long)epoch,
				 (long long)limit / 1000);
			return;
		}
		struct timespec ts = {.tv_nsec = 5 * 1000000};
		nanosleep(&ts, NULL);
	}
}

int coord_commit_decision(struct hc_cluster *cl, const struct coord_decision *d, char *err,
			  size_t errlen)
{
	struct coord *k = cl->coord;
	if (!k)
		return 0;
	int64_t now = clock_mono_us();
	pthread_mutex_lock(&k->mu);
	if (!k->leader || k->cut_off || k->reach != REACH_OK || !coord_lease_fresh(k, now) ||
	    !k->loaded) {
		pthread_mutex_unlock(&k->mu);
		hc_fmtn(err, errlen, "coordination: not the leader with a current lease");
		return -1;
	}
	struct coord_rec nr;
	bool adopt = k->rollforward && k->rec_exists && strcmp(k->rec.state, "acting") == 0 &&
		     strcmp(k->rec.primary, d->to) == 0;
	if (adopt) {
		nr = k->rec; /* the same decision, carried on by this leader */
	} else {
		nr = (struct coord_rec){.epoch = (k->rec_exists ? k->rec.epoch : 0) + 1};
		hc_fmt(nr.kind, "%s", d->kind);
		hc_fmt(nr.primary, "%s", d->to);
		hc_fmt(nr.from, "%s", d->from);
		hc_fmt(nr.reason, "%s", d->reason);
		/* fences carry over; a failover adds the old primary */
		for (size_t i = 0; k->rec_exists && i < k->rec.nfenced; i++)
			if (strcmp(k->rec.fenced[i], d->to) != 0 &&
			    !(d->unfence && strcmp(k->rec.fenced[i], d->unfence) == 0))
				hc_fmt(nr.fenced[nr.nfenced++], "%s", k->rec.fenced[i]);
		if (strcmp(d->kind, "failover") == 0 && !coord_rec_fences(&nr, d->from) &&
		    nr.nfenced < COORD_FENCED_MAX)
			hc_fmt(nr.fenced[nr.nfenced++], "%s", d->from);
	}
	/* Lifting a fence moves no session: nothing to carry out. */
	hc_fmt(nr.state, "%s", d->unfence ? "done" : "acting");
	hc_fmt(nr.by, "%s", k->instance);
	nr.lease = k->lease;
	nr.at_us = clock_wall_us();
	int64_t expect = k->rec_mod;
	char lv[200];
	hc_fmt(lv, "%s", k->leader_value);
	pthread_mutex_unlock(&k->mu);

	int64_t rev = 0;
	int rc = coord_put_record(k, &nr, expect, lv, &rev);
	pthread_mutex_lock(&k->mu);
	if (rc == 1) {
		k->rec = nr;
		k->rec_mod = rev;
		k->rec_exists = true;
		k->applied_epoch = nr.epoch;
		k->rollforward = false;
		k->pending = false;
		k->decisions++;
	} else if (rc == 0) {
		k->cas_failures++;
		k->restart_watch = true;
	}
	pthread_mutex_unlock(&k->mu);
	if (rc == 1) {
		log_warn("cluster %s: recorded epoch %llu in etcd: %s %s -> %s", cl->name,
			 (unsigned long long)nr.epoch, nr.kind, nr.from, nr.primary);
		if (strcmp(nr.kind, "switchover") == 0)
			wait_peers(k, nr.epoch);
		return 0;
	}
	hc_fmtn(err, errlen,
		rc == 0 ? "coordination: the etcd record or the leadership changed under this "
			  "decision (compare-and-swap failed)"
			: "coordination: etcd did not take the decision");
	return -1;
}

int coord_commit_decision_locked(struct hc_cluster *cl, const struct coord_decision *d, char *err,
				 size_t errlen)
{
	pthread_mutex_unlock(&cl->mu);
	int rc = coord_commit_decision(cl, d, err, errlen);
	pthread_mutex_lock(&cl->mu);
	return rc;
}

void coord_commit_done(struct hc_cluster *cl, bool ok, const char *why)
{
	struct coord *k = cl->coord;
	if (!k)
		return;
	pthread_mutex_lock(&k->mu);
	struct coord_rec nr = k->rec;
	bool mine = nr.lease == k->lease && strcmp(nr.state, "acting") == 0;
	int64_t expect = k->rec_mod;
	char lv[200];
	hc_fmt(lv, "%s", k->leader_value);
	pthread_mutex_unlock(&k->mu);
	if (!mine)
		return;
	hc_fmt(nr.state, "done");
	if (!ok) {
		/* The decision did not happen: the old primary stays. */
		char reason[256];
		hc_fmt(reason, "not carried out: %s", why ? why : "");
		hc_fmt(nr.reason, "%s", reason);
		char keep[CFG_ADDR_TEXT];
		hc_fmt(keep, "%s", nr.from);
		size_t j = 0;
		for (size_t i = 0; i < nr.nfenced; i++)
			if (strcmp(nr.fenced[i], keep) != 0)
				memmove(nr.fenced[j++], nr.fenced[i], CFG_ADDR_TEXT);
		nr.nfenced = j;
		hc_fmt(nr.primary, "%s", keep);
	}
	int64_t rev = 0;
	int rc = coord_put_record(k, &nr, expect, lv, &rev);
	pthread_mutex_lock(&k->mu);
	if (rc == 1) {
		k->rec = nr;
		k->rec_mod = rev;
	}
	pthread_mutex_unlock(&k->mu);
	if (rc != 1)
		log_warn("cluster %s: could not mark epoch %llu done in etcd; the next leader "
			 "finishes it",
			 cl->name, (unsigned long long)nr.epoch);
}

/* -------------------------------------------------------------- status */

json_t *coord_status_json(struct hc_cluster *cl)
{
	struct coord *k = cl->coord;
	if (!k)
		return json_pack("{s:b}", "enabled", false);
	int64_t now = clock_mono_us();
	pthread_mutex_lock(&k->mu);
	json_t *o = json_pack("{s:b, s:s, s:s, s:s, s:I, s:s, s:b}", "enabled", true, "instance",
			      k->instance, "role", k->leader ? "leader" : "follower", "leader",
			      k->leader_name, "epoch", (json_int_t)k->applied_epoch, "etcd",
			      coord_reach_name(k->reach), "self_fenced", k->cut_off);
	json_object_set_new(o, "endpoint", json_string(etcd_client_endpoint(k->ec)));
	json_object_set_new(o, "prefix", json_string(k->prefix));
	json_object_set_new(o, "logins", json_integer((json_int_t)etcd_client_logins(k->ec)));
	json_object_set_new(o, "lease_ttl_s", json_integer(k->ttl_s));
	json_object_set_new(o, "last_contact_ms",
			    k->last_ok_mono ? json_integer((now - k->last_ok_mono) / 1000)
					    : json_null());
	json_object_set_new(o, "last_error", json_string(k->last_err));
	json_object_set_new(o, "waiting", json_string(k->wait_note));
	json_object_set_new(o, "last_decision",
			    k->rec_exists ? coord_rec_json(&k->rec) : json_null());
	json_t *obs = json_object();
	for (size_t i = 0; i < k->nobs; i++) {
		json_t *v = json_loadb(k->obs[i].value, k->obs[i].len, 0, NULL);
		json_object_set_new(obs, k->obs[i].instance, v ? v : json_null());
	}
	json_object_set_new(o, "peers", obs);
	pthread_mutex_unlock(&k->mu);
	return o;
}

void coord_alerts(const struct hc_cluster *cl, json_t *arr)
{
	struct coord *k = cl->coord;
	if (!k)
		return;
	char buf[400] = "";
	pthread_mutex_lock(&k->mu);
	if (k->cut_off)
		hc_fmt(buf,
		       "cluster %s: cut off from etcd (%s): this tandem routes no sessions until "
		       "it sees the current record",
		       cl->name, k->last_err);
	else if (k->reach == REACH_DOWN)
		hc_fmt(buf,
		       "cluster %s: etcd is down (%s): serving the last agreed primary, no "
		       "failover possible",
		       cl->name, k->last_err);
	pthread_mutex_unlock(&k->mu);
	if (buf[0])
		json_array_append_new(arr, json_string(buf));
}

struct metric {
	const char *name, *help, *type;
	int which;
};

void coord_metrics(struct hc_monitor *m, struct evbuffer *out)
{
	static const struct metric ms[] = {
		{"tandem_coord_leader", "1 when this tandem decides for the cluster.", "gauge", 0},
		{"tandem_coord_epoch", "Epoch of the newest decision this tandem follows.", "gauge",
		 1},
		{"tandem_coord_etcd_reachable", "1 when the last etcd request succeeded.", "gauge",
		 2},
		{"tandem_coord_self_fenced",
		 "1 while this tandem is cut off from etcd and routes no sessions.", "gauge", 3},
		{"tandem_coord_etcd_errors_total", "etcd requests that failed.", "counter", 4},
		{"tandem_coord_decisions_total", "Decisions this tandem recorded in etcd.",
		 "counter", 5},
		{"tandem_coord_last_contact_seconds", "Time since etcd last answered.", "gauge", 6},
	};
	bool any = false;
	for (size_t i = 0; i < m->n; i++)
		any = any || m->clusters[i]->coord;
	if (!any)
		return;
	int64_t now = clock_mono_us();
	for (size_t j = 0; j < sizeof(ms) / sizeof(ms[0]); j++) {
		evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", ms[j].name, ms[j].help,
				    ms[j].name, ms[j].type);
		for (size_t i = 0; i < m->n; i++) {
			struct coord *k = m->clusters[i]->coord;
			if (!k)
				continue;
			pthread_mutex_lock(&k->mu);
			double v = 0;
			switch (ms[j].which) {
			case 0:
				v = k->leader;
				break;
			case 1:
				v = (double)k->applied_epoch;
				break;
			case 2:
				v = k->reach == REACH_OK;
				break;
			case 3:
				v = k->cut_off;
				break;
			case 4:
				v = (double)k->etcd_errors;
				break;
			case 5:
				v = (double)k->decisions;
				break;
			case 6:
				v = k->last_ok_mono ? (double)(now - k->last_ok_mono) / 1e6 : -1;
				break;
			}
			pthread_mutex_unlock(&k->mu);
			evbuffer_add_printf(out, "%s{cluster=\"%s\"} %g\n", ms[j].name,
					    m->clusters[i]->name, v);
		}
	}
}
