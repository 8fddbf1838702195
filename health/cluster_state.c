/*
 * cluster_state.c — what every thread of a cluster changes the same way
 * (cluster_state.h): a member's published state, the record of a refused
 * failover, the monitor's TLS settings, and the publication of topology
 * snapshots. Kept apart from the threads that call it (monitor.c,
 * failover.c, state.c, coord.c, cluster.c) so that none of them depends on
 * another for these.
 *
 * Owns: the rules for turning member state into a snapshot and when to
 * publish it. Must not: take cl->mu (callers hold it), do network I/O,
 * call back into the monitor's threads, failover or coordination (only
 * coordination's overlay, coord_view.c).
 */
#include "health/cluster_state.h"

#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "health/coord_view.h"
#include "health/text.h"

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

const struct hc_db_tls *hc_cluster_tls(const struct cfg_cluster *cc, struct hc_db_tls *buf)
{
	memset(buf, 0, sizeof(*buf));
	if (!cc->tls)
		return NULL;
	/* The same files and checks as the proxy's backend leg (docs/tls.md). */
	buf->ca = cc->tls->ca_path;
	buf->cert = cc->tls->cert_path;
	buf->key = cc->tls->key_path;
	buf->verify_identity = cc->tls->verify_identity;
	return buf;
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
