/*
 * sess_env.c — what a worker lends its sessions: picking the member a new
 * backend connection goes to (and counting the session in at its gate),
 * whether a backend connection is still where sessions belong, the
 * process's budget of backend connections for clients not logged in, and
 * the reaper's queue.
 *
 * Worker thread only. Must not: call a phase, the driver, or worker.c.
 */
#include "proxy/session/session.h"

#include <event2/event.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "health/monitor.h"

enum env_pick env_backend_pick(struct worker *w, struct session *s, const struct hc_member **m,
			       char *why, size_t whylen)
{
	const char *cluster = s->wt->cfg->cluster->name;
	const struct hc_topology *topo = NULL;
	*m = NULL;
	why[0] = 0;
	for (size_t i = 0; i < w->ntopos; i++)
		if (strcmp(w->topos[i].cluster, cluster) == 0)
			topo = w->topos[i].topo;
	if (!topo) {
		snprintf(why, whylen, "the monitor has no view of cluster '%s' yet", cluster);
		return ENV_PICK_WAIT;
	}
	bool moving = topo->transition != HC_TR_NONE;
	const struct hc_member *p = hc_topology_primary(topo);
	if (!p) {
		snprintf(why, whylen, "cluster '%s' has no primary", cluster);
		return moving ? ENV_PICK_WAIT : ENV_PICK_FAIL;
	}
	if (p->state == HC_DOWN || p->state == HC_FENCED || p->state == HC_MAINTENANCE) {
		if (topo->note[0])
			snprintf(why, whylen, "%s", topo->note);
		else
			snprintf(why, whylen, "the primary %s is %s", p->addr.text,
				 hc_state_name(p->state));
		if (moving)
			return ENV_PICK_WAIT;
		if (p->state == HC_DOWN && w->env.mon) {
			/* It may have come back since its last probe: ask for a
			 * probe now and wait for that one verdict (a snapshot with
			 * a newer probe of it), not longer. */
			if (!s->verdict_seq)
				s->verdict_seq = hc_monitor_suspect(
					w->env.mon, cluster, (const struct sockaddr *)&p->addr.sa);
			if (p->answered < s->verdict_seq)
				return ENV_PICK_WAIT;
		}
		return ENV_PICK_FAIL;
	}
	if (!hc_gate_enter(topo->gate, (size_t)topo->primary)) {
		snprintf(why, whylen, "%s",
			 topo->note[0] ? topo->note : "the primary is not taking new sessions");
		return ENV_PICK_WAIT;
	}
	env_backend_release(s);
	s->gate = hc_gate_ref(topo->gate);
	s->gate_slot = (size_t)topo->primary;
	*m = p;
	return ENV_PICK_GO;
}

void env_backend_release(struct session *s)
{
	if (!s->gate)
		return;
	hc_gate_leave(s->gate, s->gate_slot);
	hc_gate_unref(s->gate);
	s->gate = NULL;
}

bool env_backend_current(struct worker *w, const struct session *s)
{
	const char *cluster = s->wt->cfg->cluster->name;
	for (size_t i = 0; i < w->ntopos; i++) {
		if (strcmp(w->topos[i].cluster, cluster) != 0)
			continue;
		const struct hc_topology *t = w->topos[i].topo;
		const struct hc_member *p = hc_topology_primary(t);
		if (!p || p->state == HC_DOWN || p->state == HC_FENCED ||
		    p->state == HC_MAINTENANCE || t->transition != HC_TR_NONE)
			return false;
		return p->addr.salen == s->backend_salen &&
		       memcmp(&p->addr.sa, &s->backend_sa, s->backend_salen) == 0;
	}
	return false;
}

/* Backend connections held for clients not logged in, in the whole
 * process: what unauthenticated clients may cost the servers does not grow
 * with the number of workers. One relaxed atomic, at accept and login only. */
static atomic_uint preauth_backends;

bool env_preauth_hold(struct session *s)
{
	if (s->preauth_counted)
		return true;
	unsigned n = atomic_fetch_add_explicit(&preauth_backends, 1, memory_order_relaxed);
	if (n >= s->wt->snap->limits.preauth_backends) {
		atomic_fetch_sub_explicit(&preauth_backends, 1, memory_order_relaxed);
		return false;
	}
	s->preauth_counted = true;
	return true;
}

void env_preauth_release(struct session *s)
{
	if (!s->preauth_counted)
		return;
	s->preauth_counted = false;
	atomic_fetch_sub_explicit(&preauth_backends, 1, memory_order_relaxed);
}

void env_reap_later(struct worker *w, struct session *s)
{
	s->reap_next = w->reap;
	w->reap = s;
	event_active(w->reap_ev, EV_READ, 0);
}
