/*
 * worker_types.h — the types of a worker and of a tenant as one worker
 * sees it. Types only: sessions read their tenant's settings and counters
 * through these without depending on worker.c.
 */
#ifndef TANDEM_PROXY_WORKER_TYPES_H
#define TANDEM_PROXY_WORKER_TYPES_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "config/config.h"
#include "health/topology.h"
#include "proxy/session/session_types.h"
#include "proxy/session/tenant_types.h"

struct daemon;
struct conn_pool;
struct session;
struct sess_snapshot;
struct evconnlistener;

/* What the tenant's primary said in its last greeting on this worker: the
 * greeting of a client that gets none of its own (env_preauth_hold). */
struct wgreeting {
	bool known;
	char version[64];
	uint64_t caps;
	uint8_t charset;
	uint16_t status;
	char plugin[32];
};

/* A tenant as one worker sees it. Lives until it is removed from the
 * config AND its last session on this worker has closed. */
struct wtenant {
	char name[128];
	struct worker *w;
	struct cfg *snap;              /* reference: cfg points into it */
	const struct cfg_tenant *cfg;  /* current settings (new logins use these) */
	struct tenant_rt *rt;          /* reference: counters, open-session count */
	struct tenant_counters *stats; /* rt->per_worker[worker id] */
	struct evconnlistener *lst;    /* NULL when not listening (removed) */
	struct wtenant *next;
	unsigned nsessions; /* sessions of this tenant on this worker */
	bool removed;
	struct event *drain_timer;   /* removed: cut remaining sessions when it fires */
	struct event *backoff_timer; /* accept paused (out of fds) until it fires */
	unsigned backoffs;           /* pauses in the current out-of-fds episode */
	int64_t backoff_since_us;    /* when that episode began (monotonic) */
	struct wgreeting greet;      /* the primary's last greeting (client_auth.c) */
};

/* A listening socket bound by the main thread for one tenant on one worker. */
struct wlisten {
	char tenant[128];
	int fd; /* -1: keep the listener the worker has */
};

enum wmsg_kind {
	WMSG_CONFIG,   /* new snapshot and listening sockets */
	WMSG_SHUTDOWN, /* stop accepting, drain sessions, leave the loop */
	WMSG_STOP_NOW, /* close everything and leave the loop */
	WMSG_SESSIONS, /* add a snapshot of the sessions to m->snapshot (admin_sessions.c) */
	WMSG_KILL,     /* close session m->session_id with ERR 1927 (admin) */
	WMSG_DRAIN,    /* close the sessions of tenant m->tenant when idle (admin) */
};

struct wmsg {
	enum wmsg_kind kind;
	struct wmsg *next;
	struct cfg *cfg;         /* WMSG_CONFIG: a reference handed over */
	struct wlisten *listens; /* WMSG_CONFIG: fds handed over */
	size_t nlistens;
	struct tenant_rt **rts;         /* WMSG_CONFIG: rts[i] for listens[i], references */
	struct sess_snapshot *snapshot; /* WMSG_SESSIONS: a reference handed over */
	uint64_t session_id;            /* WMSG_KILL */
	char tenant[128];               /* WMSG_DRAIN */
};

/* Cached topology of one cluster. */
struct wtopo {
	char cluster[64];
	struct hc_topology *topo; /* reference */
};

struct worker {
	int id;
	pthread_t thread;
	struct event_base *base;
	struct conn_pool *read_pool; /* blocks its sessions' conns read into */
	void (*exited)(void *arg);   /* called as the loop ends (the daemon's) */
	void *exited_arg;
	struct sess_env env; /* lent to every session of this worker */

	pthread_mutex_t mu; /* guards queue */
	struct wmsg *queue, *queue_tail;
	int wake_fd;        /* eventfd other threads write to */
	struct event *wake; /* reads wake_fd */
	atomic_bool topo_dirty;

	struct cfg *cfg; /* this worker's current snapshot (reference) */
	struct wtenant *tenants;
	struct wtopo *topos;
	size_t ntopos;
	struct session *sessions; /* all live sessions on this worker */
	struct session *reap;     /* closed, to be freed by reap_ev */
	struct event *reap_ev;
	struct event *shutdown_timer;
	unsigned nsessions;
	uint64_t next_session_id;
	bool shutting_down;
};

#endif
