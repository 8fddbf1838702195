/*
 * cluster.c — the monitor's public entry points (monitor.h) and each
 * cluster's life: creating it and its threads, applying a reloaded config
 * (settings in place; a changed member list rebuilds the cluster keeping
 * what it knew by address), stopping, and the lookups workers and the
 * admin endpoint make (topology, suspect, requests).
 *
 * Owns: the cluster list and the cluster objects' memory. Must not: block
 * the caller on network I/O (threads are told to stop through stop_fd and
 * joined once they have).
 */
#include "health/monitor_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "health/cluster_state.h"
#include "health/coord_thread.h"
#include "health/monitor_threads.h"
#include "health/state.h"
#include "health/text.h"

static void policy_from(struct hc_policy *p, const struct cfg_cluster *cc)
{
	p->interval_ms = cc->monitor.interval_ms;
	p->timeout_ms = cc->monitor.timeout_ms;
	p->failures = cc->monitor.failures;
	p->auto_failover = cc->failover.auto_failover;
	p->promote = cc->failover.promote;
	p->max_lag_ms = cc->failover.max_lag_ms;
	p->min_interval_ms = cc->failover.min_interval_ms;
	p->stall_tolerance_ms = cc->monitor.stall_tolerance_ms;
}

static void kick(int fd)
{
	uint64_t one = 1;
	ssize_t n = write(fd, &one, sizeof(one));
	(void)n;
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
	hc_glag_init(&cl->glag);
	cl->primary = cl->n ? 0 : -1;
	cl->started_mono_us = clock_mono_us();
	if (cl->stop_fd < 0 || !cl->members || !cl->gate || coord_cluster_new(cl, cfg) < 0)
		goto fail;
	int64_t now = clock_wall_us();
	for (size_t i = 0; i < cl->n; i++) {
		struct hc_mmember *mb = &cl->members[i];
		mb->cl = cl;
		mb->idx = i;
		mb->addr = cc->members[i];
		mb->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		atomic_init(&mb->asked, 0);
		mb->state = HC_UNKNOWN;
		mb->state_since_us = now;
		mb->lag_ms = -1;
		mb->lag_source = "";
		if (mb->wake_fd < 0)
			goto fail;
	}
	hc_state_apply(cl);
	return cl;
fail:
	log_error("monitor: cannot set up cluster %s: %s", cc->name, strerror(errno));
	for (size_t i = 0; cl->members && i < cl->n; i++)
		if (cl->members[i].wake_fd > 0)
			close(cl->members[i].wake_fd);
	free(cl->members);
	hc_gate_unref(cl->gate);
	coord_cluster_free(cl);
	cfg_unref(cl->cfg);
	if (cl->stop_fd >= 0)
		close(cl->stop_fd);
	free(cl);
	return NULL;
}

static int cluster_start(struct hc_cluster *cl)
{
	coord_cluster_start(cl); /* follow etcd's record from the first snapshot on */
	pthread_mutex_lock(&cl->mu);
	hc_cluster_publish(cl, true);
	pthread_mutex_unlock(&cl->mu);
	for (size_t i = 0; i < cl->n; i++) {
		if (pthread_create(&cl->members[i].thread, NULL, hc_member_main, &cl->members[i]) !=
		    0)
			return -1;
		cl->members[i].started = true;
	}
	if (pthread_create(&cl->thread, NULL, hc_cluster_main, cl) != 0)
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
	coord_cluster_stop(cl);
}

static void cluster_join_free(struct hc_cluster *cl)
{
	for (size_t i = 0; i < cl->n; i++)
		if (cl->members[i].started)
			pthread_join(cl->members[i].thread, NULL);
	if (cl->started)
		pthread_join(cl->thread, NULL);
	coord_cluster_free(cl);
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
	json_decref(cl->saved);
	hc_glag_free(&cl->glag);
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
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
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
	m->state_path = cfg->state_file ? strdup(cfg->state_file) : NULL;
	hc_state_load(m);
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
		log_warn(
			"cluster %s: the config names %s as primary, but tandem routes to %s since "
			"a failover; write %s as primary in the config to make it permanent",
			cl->name, cl->cc->members[0].text, p->addr.text, p->addr.text);
		return;
	}
	for (size_t i = 0; i < cl->n; i++) {
		struct hc_mmember *mb = &cl->members[i];
		if (mb->fenced) {
			mb->fenced = false;
			mb->diverged = mb->rejoining = false;
			mb->fence_reason[0] = 0;
			log_info(
				"cluster %s: %s is no longer fenced: the reloaded config names %s as "
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
			nm->answered = om->answered;
			atomic_store(&nm->asked, atomic_load(&om->asked));
			nm->probe_failures = om->probe_failures;
			nm->alert_auth = om->alert_auth;
			nm->hear = om->hear;
			nm->sig_known = om->sig_known;
			memcpy(nm->sig_file, om->sig_file, sizeof(nm->sig_file));
			nm->sig_pos = om->sig_pos;
			nm->sig_heartbeats = om->sig_heartbeats;
			nm->hb_period_tried = om->hb_period_tried;
			nm->write_stall_mono = om->write_stall_mono;
			nm->write_stall_us = om->write_stall_us;
			nm->write_stalls = om->write_stalls;
			memcpy(nm->fence_reason, om->fence_reason, sizeof(nm->fence_reason));
			nm->diverged = om->diverged;
			memcpy(nm->fence_applied, om->fence_applied, sizeof(nm->fence_applied));
			nm->rejoining = om->rejoining;
			memcpy(nm->rejoin_target, om->rejoin_target, sizeof(nm->rejoin_target));
			nm->rejoin_probes = om->rejoin_probes;
			nm->rejoin_mono = om->rejoin_mono;
			nm->rejoin_started_mono = om->rejoin_started_mono;
			if ((int)j == oc->primary)
				nc->primary = (int)i;
		}
	}
	if (oc->transition != HC_TR_NONE)
		log_warn("cluster %s: reconfigured during a %s; it is abandoned", oc->name,
			 hc_transition_name(oc->transition));
	nc->hb = oc->hb;
	/* The GTID rings move to the new cluster (oc is freed without them);
	 * their owner is a member index of oc, mapped by address. */
	int owner = -1;
	for (size_t i = 0; oc->glag.owner >= 0 && i < nc->n; i++)
		if (cfg_addr_equal(&nc->members[i].addr, &oc->members[oc->glag.owner].addr))
			owner = (int)i;
	hc_glag_free(&nc->glag);
	nc->glag = oc->glag;
	hc_glag_init(&oc->glag);
	if (owner < 0)
		hc_glag_reset(&nc->glag);
	nc->glag.owner = owner;
	nc->write_ok_us = oc->write_ok_us;
	memcpy(nc->write_error, oc->write_error, sizeof(nc->write_error));
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
	nc->unreachable_events = oc->unreachable_events;
	nc->rejoins = oc->rejoins;
	nc->rejoins_refused = oc->rejoins_refused;
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
		log_error(
			"monitor: out of memory applying the new config; monitoring is unchanged");
		return;
	}
	size_t nn = 0;
	struct hc_cluster **started = calloc(cfg->nclusters + 1, sizeof(*started));
	size_t nstarted = 0;
	if (!started) {
		free(next);
		log_error(
			"monitor: out of memory applying the new config; monitoring is unchanged");
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
	hc_state_free(m);
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

uint64_t hc_monitor_suspect(struct hc_monitor *m, const char *cluster, const struct sockaddr *sa)
{
	uint64_t seq = 0;
	pthread_mutex_lock(&m->mu);
	struct hc_cluster *cl = find_cluster(m, cluster);
	for (size_t i = 0; cl && i < cl->n; i++) {
		struct hc_mmember *mb = &cl->members[i];
		if (sa_matches(&mb->addr, sa)) {
			seq = atomic_fetch_add(&mb->asked, 1) + 1;
			kick(mb->wake_fd);
		}
	}
	pthread_mutex_unlock(&m->mu);
	return seq;
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
