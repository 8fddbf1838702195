/*
 * worker.c — a worker thread: its event loop, its message queue, the
 * tenants it listens for, accepting, and reaping closed sessions.
 *
 * Owns: everything in struct worker except the queue, which other threads
 * reach through worker_post(). Must not: block, or touch another worker's
 * sessions.
 */
#include "proxy/process/process.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/listener.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "health/monitor.h"
#include "protocol/okerr.h"
#include "proxy/io/io.h"
#include "proxy/machine.h"
#include "proxy/session/session.h"
#include "proxy/login/login.h"

/* How long accepting pauses when the process is out of file descriptors. */
#define ACCEPT_BACKOFF_MS 100

/* ------------------------------------------------------------ tenants */

static struct wtenant *find_tenant(struct worker *w, const char *name)
{
	for (struct wtenant *t = w->tenants; t; t = t->next)
		if (strcmp(t->name, name) == 0)
			return t;
	return NULL;
}

static void reap_one(struct worker *w, struct session *s);

static void free_tenant(struct worker *w, struct wtenant *t)
{
	for (struct wtenant **pp = &w->tenants; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	if (t->lst)
		evconnlistener_free(t->lst);
	if (t->drain_timer)
		event_free(t->drain_timer);
	if (t->backoff_timer)
		event_free(t->backoff_timer);
	tenant_rt_unref(t->rt);
	cfg_unref(t->snap);
	free(t);
}

/* Refuse a connection before any session exists: one ERR, then close. */
static void refuse(int fd, uint16_t code, const char *state, const char *msg)
{
	uint8_t buf[256];
	struct proto_wr w;
	proto_wr_init(&w, buf, sizeof(buf));
	proto_err_build(&w, 0, code, state, msg);
	ssize_t n = write(fd, buf, w.len);
	(void)n;
	close(fd);
}

/* A source blocked by the failed-login throttle gets MySQL's 1129 where
 * the greeting would be: no scramble, so no credential of it is read. */
static bool refuse_if_blocked(struct wtenant *t, int fd, const struct sockaddr *sa)
{
	struct throttle_limits l = throttle_limits_of(&t->snap->limits);
	int64_t left_us = 0;
	if (!throttle_blocked(t->w->env.throttle, &l, t->name, sa, clock_mono_us(), &left_us))
		return false;
	char ip[INET6_ADDRSTRLEN] = "?";
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, sizeof(ip));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ip, sizeof(ip));
	char msg[200];
	snprintf(msg, sizeof(msg),
		 "Host '%s' is blocked because of many connection errors; tandem unblocks it in "
		 "%lld s",
		 ip, (long long)((left_us + 999999) / 1000000));
	stat_add(&t->stats->auth_throttled, 1);
	log_debug("tenant %s: refused a connection from %s: blocked after failed logins", t->name,
		  ip);
	refuse(fd, ER_HOST_IS_BLOCKED, "HY000", msg);
	return true;
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
		      void *arg)
{
	struct wtenant *t = arg;
	struct worker *w = t->w;
	(void)l;
	if (t->backoffs) {
		log_info("tenant %s: accepting again after %u pause(s), %lld ms out of descriptors",
			 t->name, t->backoffs,
			 (long long)((clock_mono_us() - t->backoff_since_us) / 1000));
		t->backoffs = 0;
	}
	if (w->shutting_down || t->removed) {
		close(fd);
		return;
	}
	/* The allowlist is checked before a single byte is sent. */
	if (!cfg_tenant_allows(t->cfg, sa)) {
		stat_add(&t->stats->sessions_refused, 1);
		log_debug("tenant %s: refused a connection from a source not in its allowlist",
			  t->name);
		close(fd);
		return;
	}
	if (refuse_if_blocked(t, fd, sa))
		return;
	unsigned tenant_open = atomic_fetch_add_explicit(&t->rt->open, 1, memory_order_relaxed);
	unsigned all_open =
		atomic_fetch_add_explicit(w->env.open_sessions, 1, memory_order_relaxed);
	unsigned tenant_max = t->cfg->max_connections;
	unsigned global_max = t->snap->limits.max_connections;
	if ((tenant_max && tenant_open >= tenant_max) || (global_max && all_open >= global_max)) {
		atomic_fetch_sub_explicit(&t->rt->open, 1, memory_order_relaxed);
		atomic_fetch_sub_explicit(w->env.open_sessions, 1, memory_order_relaxed);
		stat_add(&t->stats->sessions_rejected, 1);
		refuse(fd, ER_CON_COUNT_ERROR, "08004", "Too many connections");
		return;
	}
	if (!mach_accept(w, t, fd, sa, (socklen_t)salen)) {
		atomic_fetch_sub_explicit(&t->rt->open, 1, memory_order_relaxed);
		atomic_fetch_sub_explicit(w->env.open_sessions, 1, memory_order_relaxed);
	}
}

static void on_backoff_over(evutil_socket_t fd, short what, void *arg)
{
	struct wtenant *t = arg;
	(void)fd;
	(void)what;
	if (t->lst && !t->removed)
		evconnlistener_enable(t->lst);
}

static void on_accept_error(struct evconnlistener *l, void *arg)
{
	struct wtenant *t = arg;
	int err = EVUTIL_SOCKET_ERROR();
	if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
		/* Out of descriptors: pause instead of spinning on accept. One
		 * line per episode; the first accept after it logs the end. */
		if (t->backoffs++ == 0) {
			t->backoff_since_us = clock_mono_us();
			log_warn(
				"tenant %s: accept failed (%s); pausing accepts, retrying every %d ms "
				"until a descriptor is free",
				t->name, strerror(err), ACCEPT_BACKOFF_MS);
		}
		evconnlistener_disable(l);
		struct timeval tv = {0, ACCEPT_BACKOFF_MS * 1000};
		evtimer_add(t->backoff_timer, &tv);
		return;
	}
	log_warn("tenant %s: accept failed: %s", t->name, strerror(err));
}

static int listen_on(struct wtenant *t, int fd)
{
	struct evconnlistener *l = evconnlistener_new(
		t->w->base, on_accept, t, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (!l) {
		close(fd);
		return -1;
	}
	evconnlistener_set_error_cb(l, on_accept_error);
	if (t->lst)
		evconnlistener_free(t->lst);
	t->lst = l;
	return 0;
}

static void on_drain_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct wtenant *t = arg;
	(void)fd;
	(void)what;
	for (struct session *s = t->w->sessions; s; s = s->next)
		if (s->wt == t)
			sess_fail(s, ER_CONNECTION_KILLED, "70100",
				  "tandem: tenant '%s' was removed from the configuration",
				  t->name);
}

static void remove_tenant(struct worker *w, struct wtenant *t)
{
	t->removed = true;
	if (t->lst) {
		evconnlistener_free(t->lst);
		t->lst = NULL;
	}
	if (t->nsessions == 0) {
		free_tenant(w, t);
		return;
	}
	for (struct session *s = w->sessions; s; s = s->next)
		if (s->wt == t && (s->state == SESS_CLIENT_HANDSHAKE || s->pre_greeting ||
				   s->state == SESS_CLIENT_TLS || s->state == SESS_CLIENT_AUTH))
			sess_close(s, "tenant removed during login");
	int ms = t->snap->limits.drain_timeout_ms;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	evtimer_add(t->drain_timer, &tv);
	log_info("tenant %s removed: %u session(s) on worker %d may run for %d ms more", t->name,
		 t->nsessions, w->id, ms);
}

static struct wtenant *add_tenant(struct worker *w, const char *name, struct tenant_rt *rt)
{
	struct wtenant *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->w = w;
	t->rt = tenant_rt_ref(rt);
	t->stats = &rt->per_worker[w->id];
	t->drain_timer = evtimer_new(w->base, on_drain_deadline, t);
	t->backoff_timer = evtimer_new(w->base, on_backoff_over, t);
	t->next = w->tenants;
	w->tenants = t;
	return t;
}

/* ----------------------------------------------------------- topology */

static bool in_cluster(const struct session *s, const char *cluster)
{
	return s->wt->cfg && s->wt->cfg->cluster && strcmp(s->wt->cfg->cluster->name, cluster) == 0;
}

/*
 * A new topology for a cluster: every session of it checks where it
 * stands. Those whose backend is no longer where sessions belong (the
 * primary moved or went down, or a switchover parks them) move to the new
 * primary with their state (migrate.c); sessions still logging in start
 * over there.
 */
static void topology_changed(struct worker *w, const struct hc_topology *t)
{
	for (struct session *s = w->sessions; s; s = s->next) {
		if (!in_cluster(s, t->cluster) || (s->flags & SESS_F_VERDICT_WAIT))
			continue;
		/* A greeting's connection to where sessions no longer go would
		 * hold a switchover back: the login connects afresh instead. */
		if (s->backend_held && !env_backend_current(w, s))
			mach_unhold(s);
		mach_topology(s, t);
	}
}

static void refresh_topology(struct worker *w)
{
	for (size_t i = 0; i < w->ntopos; i++) {
		struct hc_topology *fresh = hc_monitor_topology(w->env.mon, w->topos[i].cluster);
		if (!fresh)
			continue;
		struct hc_topology *old = w->topos[i].topo;
		w->topos[i].topo = fresh;
		if (old && old->gen != fresh->gen)
			log_debug("worker %d: cluster %s topology generation %llu", w->id,
				  fresh->cluster, (unsigned long long)fresh->gen);
		/* Sessions whose server closed them learn first whether it lives. */
		for (struct session *s = w->sessions; s; s = s->next)
			if ((s->flags & SESS_F_VERDICT_WAIT) && in_cluster(s, fresh->cluster))
				mach_verdict(s, fresh);
		if (!old || old->gen != fresh->gen)
			topology_changed(w, fresh);
		hc_topology_unref(old);
	}
	/* Sessions waiting for a usable primary try again with what is new. */
	for (struct session *s = w->sessions; s; s = s->next)
		if (s->state == SESS_BACKEND_WAIT)
			mach_retry(s);
}

static void rebuild_topologies(struct worker *w)
{
	struct wtopo *old = w->topos;
	size_t nold = w->ntopos;
	w->ntopos = 0;
	w->topos = calloc(w->cfg->nclusters + 1, sizeof(*w->topos));
	if (w->topos) {
		/* Keep the cached snapshots: refresh_topology compares with them. */
		for (size_t i = 0; i < w->cfg->nclusters; i++) {
			struct wtopo *t = &w->topos[w->ntopos++];
			snprintf(t->cluster, sizeof(t->cluster), "%s", w->cfg->clusters[i].name);
			for (size_t j = 0; j < nold; j++)
				if (strcmp(old[j].cluster, t->cluster) == 0)
					t->topo = hc_topology_ref(old[j].topo);
		}
	}
	for (size_t i = 0; i < nold; i++)
		hc_topology_unref(old[i].topo);
	free(old);
	refresh_topology(w);
}


/* ------------------------------------------------------------ messages */

static void apply_config(struct worker *w, struct wmsg *m)
{
	for (size_t i = 0; i < m->nlistens; i++) {
		const struct cfg_tenant *tc = cfg_tenant_find(m->cfg, m->listens[i].tenant);
		struct wtenant *t = find_tenant(w, m->listens[i].tenant);
		if (!t)
			t = add_tenant(w, m->listens[i].tenant, m->rts[i]);
		if (!t || !tc) {
			if (m->listens[i].fd >= 0)
				close(m->listens[i].fd);
			continue;
		}
		cfg_unref(t->snap);
		t->snap = cfg_ref(m->cfg);
		t->cfg = tc;
		if (t->removed) {
			t->removed = false;
			evtimer_del(t->drain_timer);
		}
		if (m->listens[i].fd >= 0 && listen_on(t, m->listens[i].fd) < 0)
			log_error("worker %d: cannot listen for tenant %s", w->id, t->name);
	}
	struct wtenant *next;
	for (struct wtenant *t = w->tenants; t; t = next) {
		next = t->next;
		if (!t->removed && !cfg_tenant_find(m->cfg, t->name))
			remove_tenant(w, t);
	}
	cfg_unref(w->cfg);
	w->cfg = cfg_ref(m->cfg);
	rebuild_topologies(w);
}

static void check_stopped(struct worker *w)
{
	if (w->shutting_down && w->nsessions == 0)
		event_base_loopexit(w->base, NULL);
}

static void on_shutdown_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	(void)fd;
	(void)what;
	log_info("worker %d: %u session(s) still open at the shutdown deadline; closing them",
		 w->id, w->nsessions);
	for (struct session *s = w->sessions; s; s = s->next)
		sess_fail(s, ER_SERVER_SHUTDOWN, "08S01", "Server shutdown in progress");
}

static void begin_shutdown(struct worker *w, bool now)
{
	w->shutting_down = true;
	for (struct wtenant *t = w->tenants; t; t = t->next) {
		if (t->lst) {
			evconnlistener_free(t->lst);
			t->lst = NULL;
		}
	}
	for (struct session *s = w->sessions; s; s = s->next) {
		if (now)
			sess_close(s, "stopping now");
		else
			sess_drain(s);
	}
	if (!now && w->cfg) {
		int ms = w->cfg->limits.shutdown_timeout_ms;
		struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
		evtimer_add(w->shutdown_timer, &tv);
	}
	check_stopped(w);
}

static void free_msg(struct wmsg *m)
{
	cfg_unref(m->cfg);
	for (size_t i = 0; i < m->nlistens; i++)
		tenant_rt_unref(m->rts ? m->rts[i] : NULL);
	free(m->rts);
	free(m->listens);
	admin_snapshot_unref(m->snapshot);
	free(m);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	uint64_t ticks;
	(void)what;
	ssize_t n = read(fd, &ticks, sizeof(ticks));
	(void)n;
	pthread_mutex_lock(&w->mu);
	struct wmsg *m = w->queue;
	w->queue = w->queue_tail = NULL;
	pthread_mutex_unlock(&w->mu);
	while (m) {
		struct wmsg *next = m->next;
		switch (m->kind) {
		case WMSG_CONFIG:
			apply_config(w, m);
			break;
		case WMSG_SHUTDOWN:
			begin_shutdown(w, false);
			break;
		case WMSG_STOP_NOW:
			begin_shutdown(w, true);
			break;
		case WMSG_SESSIONS:
			admin_sessions_fill(w, m->snapshot);
			break;
		case WMSG_KILL:
		case WMSG_DRAIN:
			admin_sessions_act(w, m);
			break;
		}
		free_msg(m);
		m = next;
	}
	if (atomic_exchange(&w->topo_dirty, false))
		refresh_topology(w);
}

/* The worker's base has no locks (EVENT_BASE_FLAG_NOLOCK), so other
 * threads must not call libevent on it; an eventfd write is the doorbell. */
static void wake(struct worker *w)
{
	uint64_t one = 1;
	ssize_t n = write(w->wake_fd, &one, sizeof(one));
	(void)n;
}

void worker_post(struct worker *w, struct wmsg *msg)
{
	msg->next = NULL;
	pthread_mutex_lock(&w->mu);
	if (w->queue_tail)
		w->queue_tail->next = msg;
	else
		w->queue = msg;
	w->queue_tail = msg;
	pthread_mutex_unlock(&w->mu);
	wake(w);
}

void worker_topology_changed(struct worker *w)
{
	atomic_store(&w->topo_dirty, true);
	wake(w);
}

/* -------------------------------------------------------------- reaping */


static void on_reap(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	(void)fd;
	(void)what;
	while (w->reap) {
		struct session *s = w->reap;
		w->reap = s->reap_next;
		reap_one(w, s);
	}
	check_stopped(w);
}


/* Unlink a session from the worker's list and free it; its tenant goes
 * with its last session once removed from the config. */
static void reap_one(struct worker *w, struct session *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		w->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	w->nsessions--;
	struct wtenant *t = s->wt;
	mach_free(s);
	if (--t->nsessions == 0 && t->removed)
		free_tenant(w, t);
}

/* ------------------------------------------------------------ lifecycle */

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char name[16];
	snprintf(name, sizeof(name), "w%d", w->id);
	log_set_thread_name(name);
	event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
	w->exited(w->exited_arg);
	return NULL;
}

int worker_init(struct worker *w, int id, void (*exited)(void *arg), void *arg)
{
	memset(w, 0, sizeof(*w));
	w->id = id;
	w->exited = exited;
	w->exited_arg = arg;
	pthread_mutex_init(&w->mu, NULL);
	atomic_init(&w->topo_dirty, false);
	struct event_config *ec = event_config_new();
	if (!ec)
		return -1;
	/* One thread per base; no need for libevent's own locking here. */
	event_config_set_flag(ec, EVENT_BASE_FLAG_NOLOCK);
	event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	w->base = event_base_new_with_config(ec);
	event_config_free(ec);
	if (!w->base)
		return -1;
	w->read_pool = conn_pool_new();
	if (!w->read_pool)
		return -1;
	w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->wake_fd < 0)
		return -1;
	w->wake = event_new(w->base, w->wake_fd, EV_READ | EV_PERSIST, on_wake, w);
	if (w->wake)
		event_add(w->wake, NULL);
	w->reap_ev = event_new(w->base, -1, 0, on_reap, w);
	w->shutdown_timer = evtimer_new(w->base, on_shutdown_deadline, w);
	return w->wake && w->reap_ev && w->shutdown_timer ? 0 : -1;
}

int worker_start(struct worker *w, const struct sess_env *shared)
{
	w->env = *shared;
	w->env.base = w->base;
	w->env.read_pool = w->read_pool;
	return pthread_create(&w->thread, NULL, worker_main, w) == 0 ? 0 : -1;
}

void worker_join(struct worker *w)
{
	if (w->thread)
		pthread_join(w->thread, NULL);
	/* Anything still queued (a reload raced the stop) is dropped here. */
	while (w->queue) {
		struct wmsg *m = w->queue;
		w->queue = m->next;
		for (size_t i = 0; i < m->nlistens; i++)
			if (m->listens[i].fd >= 0)
				close(m->listens[i].fd);
		free_msg(m);
	}
	while (w->sessions) {
		struct session *s = w->sessions;
		s->state = SESS_CLOSED;
		reap_one(w, s);
	}
	while (w->tenants)
		free_tenant(w, w->tenants);
	/* After the sessions: their evbuffers hand blocks back as they go. */
	conn_pool_release(w->read_pool);
	w->read_pool = NULL;
	for (size_t i = 0; i < w->ntopos; i++)
		hc_topology_unref(w->topos[i].topo);
	free(w->topos);
	cfg_unref(w->cfg);
	if (w->wake)
		event_free(w->wake);
	if (w->wake_fd > 0)
		close(w->wake_fd);
	if (w->reap_ev)
		event_free(w->reap_ev);
	if (w->shutdown_timer)
		event_free(w->shutdown_timer);
	if (w->base)
		event_base_free(w->base);
	pthread_mutex_destroy(&w->mu);
}
