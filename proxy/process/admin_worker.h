/*
 * admin_worker.h — the worker thread's side of the admin API
 * (admin_worker.c) and the snapshot the main thread collects.
 */
#ifndef TANDEM_PROXY_ADMIN_WORKER_H
#define TANDEM_PROXY_ADMIN_WORKER_H

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>

struct session;
struct worker;
struct wmsg;

/* A /sessions collector. Reference-counted: the main thread and every
 * posted message hold one, so a worker that answers after the main thread
 * gave up (or a message dropped at shutdown) frees nothing twice. A worker
 * builds its part without the lock and appends it under the lock. */
struct sess_snapshot {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs;         /* guarded by mu */
	int pending;      /* workers yet to answer; guarded by mu */
	json_t *sessions; /* array; guarded by mu */
	json_t *answered; /* worker ids that answered; guarded by mu */
};

void admin_snapshot_unref(struct sess_snapshot *snap);
/* The id a client knows its session by (its greeting's): what the admin
 * API's kill takes as "client_id". */
uint32_t admin_client_id(const struct session *s);
/* The session's facts as JSON (worker thread). SQL text is summarised
 * (length only): it may hold secrets. */
json_t *sess_facts_json(const struct session *s);
/* Worker thread: append this worker's sessions to snap. */
void admin_sessions_fill(struct worker *w, struct sess_snapshot *snap);
/* Worker thread: a WMSG_KILL or WMSG_DRAIN from the admin API. */
void admin_sessions_act(struct worker *w, const struct wmsg *m);

#endif
