/*
 * http.c — the admin endpoint (see http.h). Every response is built by a
 * source callback; this file only routes, authenticates and frames.
 * The one exception is the dashboard page (health/dashboard.html, built
 * into the binary): it holds no data and is served without the token, so
 * a browser can load it and then ask for the token; every document it
 * fetches is authenticated like any other request.
 */
#include "health/http.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "health/dashboard.h"
#include "protocol/auth.h"

struct http_server {
	struct event_base *base;
	struct evhttp *http;
	struct http_sources src;
	char *token;
	struct http_pending *pending; /* deferred answers not sent yet */
};

/*
 * A deferred answer. Two owners: the server (until the answer is sent or
 * the server stops) and the answerer (until http_pending_done). The last
 * one out frees it. libevent keeps an incoming request alive until it is
 * answered, even if its client has gone (evhttp_send_reply then just
 * frees it), so holding req here is safe while the server runs.
 */
struct http_pending {
	pthread_mutex_t mu;
	int refs;
	struct http_server *h; /* NULL once the server stopped */
	struct evhttp_request *req;
	struct event *ev; /* fires on the server's loop to send the answer */
	int code;
	json_t *reply;
	struct http_pending *prev, *next;
};

static void reply_json(struct evhttp_request *req, int code, const char *reason, json_t *body)
{
	struct evbuffer *out = evbuffer_new();
	char *text = body ? json_dumps(body, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	if (out && text) {
		evbuffer_add(out, text, strlen(text));
		evbuffer_add(out, "\n", 1);
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json");
	evhttp_send_reply(req, code, reason, out);
	free(text);
	if (out)
		evbuffer_free(out);
}

static void serve_dashboard(struct evhttp_request *req)
{
	struct evbuffer *out = evbuffer_new();
	if (out)
		evbuffer_add_reference(out, http_dashboard_html, http_dashboard_html_len, NULL,
				       NULL);
	struct evkeyvalq *hdr = evhttp_request_get_output_headers(req);
	evhttp_add_header(hdr, "Content-Type", "text/html; charset=utf-8");
	evhttp_add_header(hdr, "Cache-Control", "no-store");
	/* Everything the page needs is inline; it may only talk to us. */
	evhttp_add_header(hdr, "Content-Security-Policy",
			  "default-src 'none'; script-src 'unsafe-inline'; "
			  "style-src 'unsafe-inline'; connect-src 'self'; img-src data:");
	evhttp_add_header(hdr, "X-Content-Type-Options", "nosniff");
	evhttp_send_reply(req, 200, "OK", out);
	if (out)
		evbuffer_free(out);
}

static bool authorized(struct http_server *h, struct evhttp_request *req)
{
	if (!h->token)
		return true;
	const char *auth =
		evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
	size_t tlen = strlen(h->token);
	if (!auth || strncmp(auth, "Bearer ", 7) != 0 || strlen(auth + 7) != tlen)
		return false;
	return proto_ct_equal(auth + 7, h->token, tlen);
}

static void pending_unref(struct http_pending *p)
{
	pthread_mutex_lock(&p->mu);
	bool last = --p->refs == 0;
	pthread_mutex_unlock(&p->mu);
	if (!last)
		return;
	json_decref(p->reply);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

static void pending_unlink(struct http_server *h, struct http_pending *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		h->pending = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->prev = p->next = NULL;
}

/* On the server's loop: the answer is ready. */
static void pending_ready(evutil_socket_t fd, short what, void *arg)
{
	struct http_pending *p = arg;
	(void)fd;
	(void)what;
	pthread_mutex_lock(&p->mu);
	int code = p->code;
	json_t *reply = p->reply;
	p->reply = NULL;
	struct http_server *h = p->h;
	p->h = NULL;
	pthread_mutex_unlock(&p->mu);
	reply_json(p->req, code, code < 300 ? "OK" : "Error", reply);
	json_decref(reply);
	pending_unlink(h, p);
	event_free(p->ev);
	p->ev = NULL;
	pending_unref(p);
}

void http_pending_done(struct http_pending *p, int code, json_t *reply)
{
	pthread_mutex_lock(&p->mu);
	json_decref(p->reply);
	p->reply = reply;
	p->code = code;
	if (p->h && p->ev)
		event_active(p->ev, EV_READ, 0);
	pthread_mutex_unlock(&p->mu);
	pending_unref(p);
}

static struct http_pending *pending_new(struct http_server *h, struct evhttp_request *req)
{
	struct http_pending *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->ev = event_new(h->base, -1, 0, pending_ready, p);
	if (!p->ev) {
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->mu, NULL);
	p->refs = 2;
	p->h = h;
	p->req = req;
	p->next = h->pending;
	if (h->pending)
		h->pending->prev = p;
	h->pending = p;
	return p;
}

/* The action answered at once: drop the pending object's both halves. */
static void pending_cancel(struct http_server *h, struct http_pending *p)
{
	pending_unlink(h, p);
	event_free(p->ev);
	p->ev = NULL;
	p->h = NULL;
	pending_unref(p);
	pending_unref(p);
}

static void handle(struct evhttp_request *req, void *arg)
{
	struct http_server *h = arg;
	const char *uri = evhttp_request_get_uri(req);
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	char path[256];
	size_t plen = strcspn(uri, "?");
	if (plen >= sizeof(path))
		plen = sizeof(path) - 1;
	memcpy(path, uri, plen);
	path[plen] = 0;

	const char *accept = evhttp_find_header(evhttp_request_get_input_headers(req), "Accept");
	bool wants_json = accept && strstr(accept, "application/json");
	if (method == EVHTTP_REQ_GET && strcmp(path, "/") == 0 && !wants_json) {
		serve_dashboard(req);
		return;
	}
	if (!authorized(h, req)) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
				  "Bearer");
		json_t *body = json_pack("{s:s}", "error", "unauthorized");
		reply_json(req, 401, "Unauthorized", body);
		json_decref(body);
		return;
	}
	if (method == EVHTTP_REQ_GET && strcmp(path, "/health") == 0) {
		json_t *detail = NULL;
		bool ok = h->src.healthy(h->src.arg, &detail);
		reply_json(req, ok ? 200 : 503, ok ? "OK" : "Service Unavailable", detail);
		json_decref(detail);
		return;
	}
	if (method == EVHTTP_REQ_GET && strcmp(path, "/status") == 0) {
		json_t *st = h->src.status(h->src.arg);
		reply_json(req, 200, "OK", st);
		json_decref(st);
		return;
	}
	if (method == EVHTTP_REQ_GET && strcmp(path, "/metrics") == 0) {
		struct evbuffer *out = evbuffer_new();
		h->src.metrics(out, h->src.arg);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
				  "text/plain; version=0.0.4");
		evhttp_send_reply(req, 200, "OK", out);
		evbuffer_free(out);
		return;
	}
	if (method == EVHTTP_REQ_GET && strcmp(path, "/sessions") == 0 && h->src.sessions) {
		json_t *doc = h->src.sessions(h->src.arg);
		reply_json(req, 200, "OK", doc);
		json_decref(doc);
		return;
	}
	if (method == EVHTTP_REQ_GET && h->src.get) {
		json_t *reply = NULL;
		const char *q = strchr(uri, '?');
		int code = h->src.get(path, q ? q + 1 : NULL, &reply, h->src.arg);
		if (code != 0) {
			reply_json(req, code, code < 300 ? "OK" : "Error", reply);
			json_decref(reply);
			return;
		}
	}
	if (method == EVHTTP_REQ_POST && h->src.action) {
		json_t *reply = NULL;
		struct http_pending *p = pending_new(h, req);
		if (!p) {
			reply = json_pack("{s:s}", "error", "out of memory");
			reply_json(req, 503, "Service Unavailable", reply);
			json_decref(reply);
			return;
		}
		const char *q = strchr(uri, '?');
		int code = h->src.action(path, q ? q + 1 : NULL, p, &reply, h->src.arg);
		if (code == 0)
			return; /* answered later through http_pending_done */
		pending_cancel(h, p);
		reply_json(req, code, code < 300 ? "OK" : "Error", reply);
		json_decref(reply);
		return;
	}
	json_t *body = json_pack("{s:s}", "error", "not found");
	reply_json(req, 404, "Not Found", body);
	json_decref(body);
}

struct http_server *http_start(struct event_base *base, const struct cfg_addr *addr,
			       const char *token, const struct http_sources *src)
{
	struct http_server *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->src = *src;
	h->base = base;
	h->http = evhttp_new(base);
	if (!h->http || evhttp_bind_socket(h->http, addr->host, addr->port) != 0) {
		log_error("admin: cannot listen on %s", addr->text);
		http_stop(h);
		return NULL;
	}
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	evhttp_set_max_body_size(h->http, 65536);
	evhttp_set_max_headers_size(h->http, 16384);
	/* Long enough for a switchover's answer (drain + catch-up). */
	evhttp_set_timeout(h->http, 60);
	evhttp_set_gencb(h->http, handle, h);
	http_set_token(h, token);
	log_info("admin: listening on %s%s", addr->text, token ? " (bearer token required)" : "");
	return h;
}

void http_set_token(struct http_server *h, const char *token)
{
	if (h->token) {
		proto_wipe(h->token, strlen(h->token));
		free(h->token);
	}
	h->token = token ? strdup(token) : NULL;
}

void http_stop(struct http_server *h)
{
	if (!h)
		return;
	while (h->pending) {
		struct http_pending *p = h->pending;
		pending_unlink(h, p);
		pthread_mutex_lock(&p->mu);
		p->h = NULL;
		pthread_mutex_unlock(&p->mu);
		event_free(p->ev);
		p->ev = NULL;
		pending_unref(p);
	}
	if (h->http)
		evhttp_free(h->http);
	http_set_token(h, NULL);
	free(h);
}
