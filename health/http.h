/*
 * http.h — the admin/monitoring HTTP endpoint (libevent evhttp) on the
 * main thread: GET /health, /status, /metrics, /sessions and the POST admin
 * actions.
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
	/* POST actions: returns an HTTP status and sets *reply (new reference).
	 * NULL means no actions are offered. */
	int (*action)(const char *path, json_t **reply, void *arg);
};

/* Listen on addr. token may be NULL (then no Authorization is required).
 * Returns NULL and logs on failure. */
struct http_server *http_start(struct event_base *base, const struct cfg_addr *addr,
			       const char *token, const struct http_sources *src);
/* Replace the bearer token (reload). */
void http_set_token(struct http_server *h, const char *token);
void http_stop(struct http_server *h);

#endif
