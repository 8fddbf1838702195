/*
 * daemon.c — start-up, reload and shutdown of the whole process (see
 * daemon.c). The main thread runs here: it owns the config snapshot and
 * hands copies of it, with freshly bound listening sockets, to workers.
 *
 * A reload is atomic: the new file is loaded and validated and every new
 * listening socket is bound before any worker hears of it; any failure
 * closes what was bound and leaves the running config alone.
 */

#include "proxy/process/process.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "health/accounts.h"
#include "health/http.h"
#include "health/monitor.h"
#include "proxy/login/login.h"
#include "proxy/session/session.h"

int daemon_bind_listener(const struct cfg_addr *a)
{
	int fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	/* One socket per worker on the same address: the kernel spreads new
	 * connections across them, and no worker wakes for another's accept. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    bind(fd, (const struct sockaddr *)&a->sa, a->salen) < 0 || listen(fd, 4096) < 0) {
		int err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

static void print_errors(const struct cfg_errors *e, enum log_level lvl)
{
	for (size_t i = 0; i < e->nwarn; i++)
		log_warn("config: %s", e->warnings[i]);
	for (size_t i = 0; i < e->n; i++)
		log_msg(lvl, "config: %s", e->msgs[i]);
}

static const struct bound_tenant *find_bound(const struct daemon *d, const char *name)
{
	for (size_t i = 0; i < d->nbound; i++)
		if (strcmp(d->bound[i].name, name) == 0)
			return &d->bound[i];
	return NULL;
}

static bool in_config(const char *name, void *arg)
{
	return cfg_tenant_find(arg, name) != NULL;
}

/*
 * Bind what the new config needs and hand it to the workers. fds[t][w] is
 * the socket of tenant t for worker w, or -1 where the worker keeps its
 * current listener. On failure nothing was posted and every new socket is
 * closed; errbuf says why.
 */
static int install_config(struct daemon *d, struct cfg *nc, char *errbuf, size_t errlen)
{
	size_t nt = nc->ntenants;
	int nw = d->nworkers;
	int *fds = malloc(sizeof(int) * (nt * (size_t)nw + 1));
	if (!fds) {
		snprintf(errbuf, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < nt * (size_t)nw; i++)
		fds[i] = -1;
	for (size_t t = 0; t < nt; t++) {
		const struct bound_tenant *b = find_bound(d, nc->tenants[t].name);
		if (b && cfg_addr_equal(&b->addr, &nc->tenants[t].listen))
			continue;
		for (int w = 0; w < nw; w++) {
			int fd = daemon_bind_listener(&nc->tenants[t].listen);
			if (fd < 0) {
				snprintf(errbuf, errlen, "$.tenants.%s.listen: cannot bind %s: %s",
					 nc->tenants[t].name, nc->tenants[t].listen.text,
					 strerror(errno));
				for (size_t i = 0; i < nt * (size_t)nw; i++)
					if (fds[i] >= 0)
						close(fds[i]);
				free(fds);
				return -1;
			}
			fds[t * (size_t)nw + (size_t)w] = fd;
		}
	}

	/* Point of no return: from here on the new config is the config. */
	struct bound_tenant *bound = calloc(nt + 1, sizeof(*bound));
	struct tenant_rt **rts = calloc(nt + 1, sizeof(*rts));
	for (size_t t = 0; t < nt && bound && rts; t++) {
		snprintf(bound[t].name, sizeof(bound[t].name), "%s", nc->tenants[t].name);
		bound[t].addr = nc->tenants[t].listen;
		rts[t] = tenant_registry_get(&d->reg, nc->tenants[t].name, nw);
	}
	for (int w = 0; w < nw; w++) {
		struct wmsg *m = calloc(1, sizeof(*m));
		if (m) {
			m->listens = calloc(nt + 1, sizeof(*m->listens));
			m->rts = calloc(nt + 1, sizeof(*m->rts));
		}
		if (!m || !m->listens || !m->rts || !bound || !rts) {
			/* Allocation failure mid-way: a worker keeps its old tenants. */
			log_error("reload: out of memory while handing the config to worker %d", w);
			if (m) {
				free(m->listens);
				free(m->rts);
				free(m);
			}
			for (size_t t = 0; t < nt; t++)
				if (fds[t * (size_t)nw + (size_t)w] >= 0)
					close(fds[t * (size_t)nw + (size_t)w]);
			continue;
		}
		m->kind = WMSG_CONFIG;
		m->cfg = cfg_ref(nc);
		m->nlistens = nt;
		for (size_t t = 0; t < nt; t++) {
			snprintf(m->listens[t].tenant, sizeof(m->listens[t].tenant), "%s",
				 nc->tenants[t].name);
			m->listens[t].fd = fds[t * (size_t)nw + (size_t)w];
			m->rts[t] = tenant_rt_ref(rts[t]);
		}
		worker_post(&d->workers[w], m);
	}
	tenant_registry_retain(&d->reg, in_config, nc);
	free(d->bound);
	d->bound = bound;
	d->nbound = bound ? nt : 0;
	free(rts);
	free(fds);
	return 0;
}

static void notify_workers(void *arg)
{
	struct daemon *d = arg;
	for (int i = 0; i < d->nworkers; i++)
		worker_topology_changed(&d->workers[i]);
}

/*
 * The admin endpoint the new config wants: the running one when its
 * address is unchanged, else a new one bound now, so that an address that
 * cannot be bound fails the reload before anything changed. *out is NULL
 * when the new config disables the endpoint.
 */
static int prepare_admin(struct daemon *d, const struct cfg *nc, struct http_server **out,
			 char *errbuf, size_t errlen)
{
	*out = NULL;
	if (!nc->admin_enabled)
		return 0;
	if (d->admin && d->cfg->admin_enabled &&
	    cfg_addr_equal(&d->cfg->admin_listen, &nc->admin_listen)) {
		*out = d->admin;
		return 0;
	}
	struct http_sources src = admin_sources(d);
	*out = http_start(d->base, &nc->admin_listen, nc->admin_token, &src);
	if (!*out) {
		snprintf(errbuf, errlen, "$.admin.listen: cannot listen on %s",
			 nc->admin_listen.text);
		return -1;
	}
	return 0;
}

/* Settings that only a restart can change: warn that they wait for it. */
static void warn_restart_only(const struct daemon *d, const struct cfg *nc)
{
	if (nc->workers != d->nworkers)
		log_warn("reload: workers stays %d until restart (config says %d)", d->nworkers,
			 nc->workers);
	const char *was = d->cfg->run_user ? d->cfg->run_user : "";
	const char *now = nc->run_user ? nc->run_user : "";
	if (strcmp(was, now) != 0)
		log_warn("reload: user stays \"%s\" until restart (config says \"%s\")", was, now);
}

static void on_admin_retired(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	(void)fd;
	(void)what;
	http_stop(d->admin_old);
	d->admin_old = NULL;
}

/* The admin endpoint the reload replaced stops a second later, not now:
 * the reload may have been asked for through it (POST /reload), whose
 * handler is still running and whose answer is still to be sent. */
static void retire_admin(struct daemon *d, struct http_server *old)
{
	http_stop(d->admin_old);
	d->admin_old = old;
	if (!old)
		return;
	if (!d->admin_retire)
		d->admin_retire = evtimer_new(d->base, on_admin_retired, d);
	struct timeval tv = {1, 0};
	/* Without the timer it stays open, unused, until daemon_free. */
	if (d->admin_retire)
		evtimer_add(d->admin_retire, &tv);
}

int daemon_reload(struct daemon *d)
{
	sdn_reloading();
	struct cfg_errors errs = {0};
	struct cfg *nc = cfg_load(d->config_path, &errs);
	print_errors(&errs, LOG_ERROR);
	char why[512] = "";
	if (!nc) {
		if (errs.n > 1)
			snprintf(why, sizeof(why), "%s (and %zu more errors)", errs.msgs[0],
				 errs.n - 1);
		else
			snprintf(why, sizeof(why), "%s", errs.n ? errs.msgs[0] : "invalid config");
	}
	cfg_errors_free(&errs);
	struct http_server *admin = d->admin;
	if (nc && prepare_admin(d, nc, &admin, why, sizeof(why)) < 0) {
		cfg_unref(nc);
		nc = NULL;
	}
	if (nc && install_config(d, nc, why, sizeof(why)) < 0) {
		if (admin != d->admin)
			http_stop(admin);
		cfg_unref(nc);
		nc = NULL;
	}
	if (!nc) {
		stat_add(&d->reload_failures, 1);
		snprintf(d->last_reload_error, sizeof(d->last_reload_error), "%s", why);
		log_error("reload failed, running config unchanged (generation %llu): %s",
			  (unsigned long long)d->generation, why);
		sdn_send("READY=1\nSTATUS=reload failed; running config unchanged");
		return -1;
	}
	/* Committed: workers have been handed the new config. */
	warn_restart_only(d, nc);
	log_set_level((enum log_level)nc->log_level);
	hc_monitor_reconfigure(d->mon, nc);
	hc_accounts_reconfigure(d->accounts, nc);
	if (admin != d->admin) {
		retire_admin(d, d->admin);
		d->admin = admin;
		if (!admin)
			log_info("admin: endpoint disabled");
	} else if (admin) {
		http_set_token(admin, nc->admin_token);
	}
	cfg_unref(d->cfg);
	d->cfg = nc;
	nc->generation = ++d->generation;
	d->loaded_at_us = clock_wall_us();
	d->last_reload_error[0] = 0;
	stat_add(&d->reloads, 1);
	log_info("config generation %llu loaded from %s (%zu tenants, %zu clusters)",
		 (unsigned long long)d->generation, d->config_path, nc->ntenants, nc->nclusters);
	char status[128];
	snprintf(status, sizeof(status), "READY=1\nSTATUS=config generation %llu, %zu tenants",
		 (unsigned long long)d->generation, nc->ntenants);
	sdn_send(status);
	return 0;
}

/*
 * "user": give up root for good once every start-up socket is bound. The
 * supplementary groups become the account's own (so group-readable secret
 * files keep working on reload). Running as that account already is fine.
 */
static int drop_privileges(const char *user)
{
	struct passwd *pw = getpwnam(user);
	if (!pw) {
		log_error("user: no system account named \"%s\"", user);
		return -1;
	}
	if (geteuid() == pw->pw_uid && getegid() == pw->pw_gid)
		return 0;
	if (geteuid() != 0) {
		log_error("user: cannot switch to \"%s\": not running as root", user);
		return -1;
	}
	/* glibc applies set*id to every thread of the process (monitor threads
	 * already run), so no thread keeps root. */
	if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0) {
		log_error("user: cannot switch to \"%s\": %s", user, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0) {
		log_error("user: root privileges could be regained after switching to \"%s\"",
			  user);
		return -1;
	}
	log_info("running as user %s (uid %u, gid %u)", pw->pw_name, (unsigned)pw->pw_uid,
		 (unsigned)pw->pw_gid);
	return 0;
}

/* ----------------------------------------------------------- signals */

static void on_sighup(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	struct daemon *d = arg;
	if (d->terms == 0)
		daemon_reload(d);
}

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	(void)what;
	d->terms++;
	bool now = d->terms > 1;
	log_info("%s: %s", sig == SIGINT ? "SIGINT" : "SIGTERM",
		 now ? "stopping now" : "draining sessions, then stopping");
	if (d->terms == 1)
		sdn_send("STOPPING=1");
	for (int i = 0; i < d->nworkers; i++) {
		struct wmsg *m = calloc(1, sizeof(*m));
		if (!m)
			continue;
		m->kind = now ? WMSG_STOP_NOW : WMSG_SHUTDOWN;
		worker_post(&d->workers[i], m);
	}
}

static void worker_exited(void *arg)
{
	struct daemon *d = arg;
	if (atomic_fetch_sub(&d->workers_running, 1) == 1)
		event_active(d->workers_done, EV_READ, 0);
}

static void on_workers_done(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	(void)fd;
	(void)what;
	event_base_loopexit(d->base, NULL);
}

/* ----------------------------------------------------------- lifecycle */

int daemon_start(struct daemon *d, const char *config_path)
{
	memset(d, 0, sizeof(*d));
	d->config_path = config_path;
	signal(SIGPIPE, SIG_IGN);
	/* The main base receives event_active() from worker threads. */
	evthread_use_pthreads();

	struct cfg_errors errs = {0};
	d->cfg = cfg_load(config_path, &errs);
	print_errors(&errs, LOG_ERROR);
	cfg_errors_free(&errs);
	if (!d->cfg)
		return -1;
	log_set_level((enum log_level)d->cfg->log_level);
	d->generation = d->cfg->generation = 1;
	/* caching_sha2_password's RSA key, before any worker can need it */
	if (auth_keys_init() < 0)
		return -1;
	d->loaded_at_us = clock_wall_us();

	d->base = event_base_new();
	if (!d->base)
		return -1;
	d->throttle = throttle_new();
	if (!d->throttle)
		return -1;
	d->nworkers = d->cfg->workers;
	d->workers = calloc((size_t)d->nworkers, sizeof(*d->workers));
	if (!d->workers)
		return -1;
	for (int i = 0; i < d->nworkers; i++)
		if (worker_init(&d->workers[i], i, worker_exited, d) < 0)
			return -1;

	d->accounts = hc_accounts_start(d->cfg);
	if (!d->accounts)
		return -1;
	char why[512];
	if (install_config(d, d->cfg, why, sizeof(why)) < 0) {
		log_error("%s", why);
		return -1;
	}
	if (d->cfg->admin_enabled) {
		struct http_sources src = admin_sources(d);
		d->admin = http_start(d->base, &d->cfg->admin_listen, d->cfg->admin_token, &src);
		if (!d->admin)
			return -1;
	}

	if (d->cfg->run_user && drop_privileges(d->cfg->run_user) < 0)
		return -1;
	/* The monitor's threads start unprivileged (and a setuid need not
	 * reach them); workers, which read its topology, start below. */
	d->mon = hc_monitor_start(d->cfg, notify_workers, d);
	if (!d->mon)
		return -1;

	d->reload = daemon_reload;
	d->history = admin_history_start(d);
	d->workers_done = event_new(d->base, -1, 0, on_workers_done, d);
	d->sig_hup = evsignal_new(d->base, SIGHUP, on_sighup, d);
	d->sig_term = evsignal_new(d->base, SIGTERM, on_stop_signal, d);
	d->sig_int = evsignal_new(d->base, SIGINT, on_stop_signal, d);
	if (!d->workers_done || !d->sig_hup || !d->sig_term || !d->sig_int)
		return -1;
	evsignal_add(d->sig_hup, NULL);
	evsignal_add(d->sig_term, NULL);
	evsignal_add(d->sig_int, NULL);

	atomic_store(&d->workers_running, d->nworkers);
	struct sess_env shared = {.mon = d->mon,
				  .accounts = d->accounts,
				  .throttle = d->throttle,
				  .open_sessions = &d->open_sessions};
	for (int i = 0; i < d->nworkers; i++) {
		if (worker_start(&d->workers[i], &shared) < 0) {
			log_error("cannot start worker thread %d", i);
			return -1;
		}
	}
	for (size_t i = 0; i < d->cfg->ntenants; i++)
		log_info("tenant %s listening on %s (cluster %s)", d->cfg->tenants[i].name,
			 d->cfg->tenants[i].listen.text, d->cfg->tenants[i].cluster->name);
	log_info("tandem %s started: %d workers, config generation 1", TANDEM_VERSION, d->nworkers);
	sdn_send("READY=1\nSTATUS=config generation 1");
	return 0;
}

int daemon_run(struct daemon *d)
{
	event_base_loop(d->base, EVLOOP_NO_EXIT_ON_EMPTY);
	log_info("stopped");
	return 0;
}

void daemon_free(struct daemon *d)
{
	/* The monitor goes first: its threads wake workers through their
	 * eventfds, which worker_join closes (a later write could land in a
	 * reused descriptor). Worker loops have ended, so nothing calls it. */
	hc_monitor_stop(d->mon);
	d->mon = NULL;
	for (int i = 0; i < d->nworkers && d->workers; i++)
		worker_join(&d->workers[i]);
	free(d->workers);
	http_stop(d->admin);
	http_stop(d->admin_old);
	if (d->admin_retire)
		event_free(d->admin_retire);
	hc_accounts_stop(d->accounts);
	tenant_registry_free(&d->reg);
	admin_history_stop(d->history);
	throttle_free(d->throttle);
	free(d->bound);
	if (d->sig_hup)
		event_free(d->sig_hup);
	if (d->sig_term)
		event_free(d->sig_term);
	if (d->sig_int)
		event_free(d->sig_int);
	if (d->workers_done)
		event_free(d->workers_done);
	if (d->base)
		event_base_free(d->base);
	cfg_unref(d->cfg);
	auth_keys_free();
	libevent_global_shutdown();
}


int daemon_check_config(const char *config_path)
{
	struct cfg_errors errs = {0};
	struct cfg *c = running_check_load(config_path, &errs);
	/* Messages that carry no FILE:LINE:COL get the file name at least. */
	size_t plen = strlen(config_path);
	for (size_t i = 0; i < errs.nwarn; i++)
		fprintf(stderr, "tandem: warning: %s%s%s\n",
			strncmp(errs.warnings[i], config_path, plen) ? config_path : "",
			strncmp(errs.warnings[i], config_path, plen) ? ": " : "", errs.warnings[i]);
	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "tandem: error: %s%s%s\n",
			strncmp(errs.msgs[i], config_path, plen) ? config_path : "",
			strncmp(errs.msgs[i], config_path, plen) ? ": " : "", errs.msgs[i]);
	int rc = errs.n == 0 ? 0 : 1;
	if (rc == 0)
		fprintf(stderr, "tandem: %s: configuration is valid (%zu tenants, %zu clusters)\n",
			config_path, c->ntenants, c->nclusters);
	else
		fprintf(stderr, "tandem: %s: configuration is invalid (%zu error%s)\n", config_path,
			errs.n, errs.n == 1 ? "" : "s");
	cfg_errors_free(&errs);
	cfg_unref(c);
	return rc;
}
