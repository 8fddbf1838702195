/*
 * http.c — the admin endpoint (see http.h). Every response is built by a
 * source callback; this file only routes, authenticates and frames.
 */
#include "health/http.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "protocol/auth.h"

struct http_server {
	struct evhttp *http;
	struct http_sources src;
	char *token;
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

static bool authorized(struct http_server *h, struct evhttp_request *req)
{
	if (!h->token)
		return true;
	const char *auth = evhttp_find_header(evhttp_request_get_input_headers(req),
					      "Authorization");
	size_t tlen = strlen(h->token);
	if (!auth || strncmp(auth, "Bearer ", 7) != 0 || strlen(auth + 7) != tlen)
		return false;
	return proto_ct_equal(auth + 7, h->token, tlen);
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
	if (method == EVHTTP_REQ_POST && h->src.action) {
		json_t *reply = NULL;
		int code = h->src.action(path, &reply, h->src.arg);
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
	h->http = evhttp_new(base);
	if (!h->http || evhttp_bind_socket(h->http, addr->host, addr->port) != 0) {
		log_error("admin: cannot listen on %s", addr->text);
		http_stop(h);
		return NULL;
	}
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	evhttp_set_max_body_size(h->http, 65536);
	evhttp_set_max_headers_size(h->http, 16384);
	evhttp_set_timeout(h->http, 10);
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
	if (h->http)
		evhttp_free(h->http);
	http_set_token(h, NULL);
	free(h);
}
