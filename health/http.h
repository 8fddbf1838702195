/*
 * http.h — the admin/monitoring HTTP endpoint (libevent evhttp) on the
 * main thread: the dashboard page at /, GET /health, /status, /metrics,
 * /sessions, further GET documents and the POST admin actions.
 *
 * The server knows nothing of sessions or probes: the daemon hands it
 * callbacks that produce each document, so health/ does not depend on
 * proxy/. Owns: the listener, bearer-token checks, response framing.
 */
#ifndef TANDEM_HEALTH_HTTP_H
#define TANDEM_HEALTH_HTTP_H

#include <jansson.h>
#include <stdbool.h>

#include "config/config.h"

struct event_base;
struct evbuffer;
struct http_server;
/* A request whose answer comes later, possibly from another thread. */
struct http_pending;

struct http_sources {
	void *arg;
	/* The /status document (caller gets a new reference). */
	json_t *(*status)(void *arg);
	/* Prometheus text for /metrics. */
	void (*metrics)(struct evbuffer *out, void *arg);
	/* /health: true when every tenant has a writable backend; *detail
	 * receives a small JSON body (new reference). */
	bool (*healthy)(void *arg, json_t **detail);
	/* GET /sessions: live sessions with their state (new reference).
	 * NULL means the endpoint is not offered. */
	json_t *(*sessions)(void *arg);
	/* Other GET documents (path without the query; query may be NULL):
	 * return an HTTP status with *reply set (new reference), or 0 when
	 * the path is not one of them. NULL means none are offered. */
	int (*get)(const char *path, const char *query, json_t **reply, void *arg);
	/* POST actions (path without the query; query may be NULL). Either
	 * return an HTTP status and set *reply (new reference) to answer now,
	 * or return 0 and answer later with http_pending_done(p, ...) exactly
	 * once, from any thread. NULL means no actions are offered. */
	int (*action)(const char *path, const char *query, struct http_pending *p, json_t **reply,
		      void *arg);
};

/* Answer a request that an action deferred (takes the reply reference).
 * Any thread: the answer is sent from the server's event loop. If the
 * server has stopped meanwhile, the answer is dropped. */
void http_pending_done(struct http_pending *p, int code, json_t *reply);

/* Listen on addr. token may be NULL (then no Authorization is required).
 * Returns NULL and logs on failure. */
struct http_server *http_start(struct event_base *base, const struct cfg_addr *addr,
			       const char *token, const struct http_sources *src);
/* Replace the bearer token (reload). */
void http_set_token(struct http_server *h, const char *token);
void http_stop(struct http_server *h);

#endif
