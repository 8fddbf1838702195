/*
 * admin_sessions.h — GET /sessions: every live session with its facts, for
 * operators and tests. Sessions belong to their workers, so the main
 * thread asks each worker (a WMSG_SESSIONS message) for a JSON snapshot
 * of its own sessions and waits, briefly and boundedly, for the answers.
 *
 * Owns: the snapshot collector shared by the main thread and the workers.
 * Must not: touch a session from any thread but its worker's.
 */
#ifndef TANDEM_PROXY_ADMIN_SESSIONS_H
#define TANDEM_PROXY_ADMIN_SESSIONS_H

#include <jansson.h>

struct daemon;
struct worker;
struct sess_snapshot;

/* Main thread: the /sessions document (new reference). Workers that do
 * not answer within a second are listed in "workers_missing". */
json_t *admin_sessions_json(void *daemon);

/* Worker thread: add this worker's sessions to the snapshot. */
/* Drop a message's reference (any thread); NULL is a no-op. */

#endif
