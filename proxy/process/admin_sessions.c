/*
 * admin_sessions.c — the /sessions document (see process.h), main
 * thread: post a collector to every worker, wait (bounded) for their
 * parts (admin_worker.c), and say which workers did not answer.
 */
#include "proxy/process/process.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "proxy/process/daemon_types.h"

/* How long the main thread waits for the workers' answers. */
#define SNAPSHOT_WAIT_MS 1000


json_t *admin_sessions_json(void *arg)
{
	struct daemon *d = arg;
	struct sess_snapshot *snap = calloc(1, sizeof(*snap));
	if (!snap)
		return json_pack("{s:s}", "error", "out of memory");
	pthread_mutex_init(&snap->mu, NULL);
	pthread_cond_init(&snap->cv, NULL);
	snap->refs = 1;
	snap->sessions = json_array();
	snap->answered = json_array();
	for (int i = 0; i < d->nworkers; i++) {
		struct wmsg *m = calloc(1, sizeof(*m));
		if (!m)
			continue;
		m->kind = WMSG_SESSIONS;
		m->snapshot = snap;
		pthread_mutex_lock(&snap->mu);
		snap->refs++;
		snap->pending++;
		pthread_mutex_unlock(&snap->mu);
		worker_post(&d->workers[i], m);
	}
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += (long)SNAPSHOT_WAIT_MS * 1000000L;
	until.tv_sec += until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&snap->mu);
	while (snap->pending > 0)
		if (pthread_cond_timedwait(&snap->cv, &snap->mu, &until) == ETIMEDOUT)
			break;
	/* Copies: a late worker may still append to the collector. */
	json_t *sessions = json_deep_copy(snap->sessions);
	json_t *answered = json_deep_copy(snap->answered);
	pthread_mutex_unlock(&snap->mu);
	admin_snapshot_unref(snap);

	json_t *missing = json_array();
	for (int i = 0; i < d->nworkers; i++) {
		bool seen = false;
		for (size_t j = 0; j < json_array_size(answered); j++)
			seen |= json_integer_value(json_array_get(answered, j)) == i;
		if (!seen)
			json_array_append_new(missing, json_integer(i));
	}
	json_decref(answered);
	return json_pack("{s:o, s:i, s:o}", "sessions", sessions ? sessions : json_array(),
			 "workers", d->nworkers, "workers_missing", missing);
}
