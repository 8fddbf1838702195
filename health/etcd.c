/*
 * etcd.c — the etcd v3 gateway client (see etcd.h): pure response parsing
 * and framing first, then the HTTP side on evhttp.
 *
 * Unary calls build a private event_base and connection per call: they
 * are rare (lease keepalives, decisions, observations that changed), may
 * be made from any thread, and then share nothing. A failed call is
 * classified by one plain TCP connect to the endpoint: a refusal means the
 * etcd process there is gone (its host answered), anything else may be a
 * partition — the difference decides whether a tandem may keep writing
 * (docs/failover.md § Coordination).
 */
#include "health/etcd.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/ssl.h>

#include "common/log.h"
#include "health/text.h"

/* Largest unary response body read. */
#define BODY_MAX (4 << 20)

const char *etcd_rc_name(int rc)
{
	switch (rc) {
	case ETCD_OK:
		return "ok";
	case ETCD_EDOWN:
		return "down";
	case ETCD_EUNREACH:
		return "unreachable";
	case ETCD_EPROTO:
		return "protocol";
	case ETCD_EREJECT:
		return "rejected";
	}
	return "?";
}

/* ------------------------------------------------------------ base64 */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int etcd_b64_encode(const void *in, size_t n, char *out, size_t outlen)
{
	const unsigned char *p = in;
	if (outlen < (n + 2) / 3 * 4 + 1)
		return -1;
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		out[o++] = B64[(v >> 18) & 63];
		out[o++] = B64[(v >> 12) & 63];
		out[o++] = i + 1 < n ? B64[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? B64[v & 63] : '=';
	}
	out[o] = 0;
	return 0;
}

static int b64_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

long etcd_b64_decode(const char *in, size_t n, unsigned char *out, size_t outlen)
{
	while (n > 0 && in[n - 1] == '=')
		n--;
	if (n % 4 == 1)
		return -1;
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		int v = b64_val(in[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= outlen)
				return -1;
			out[o++] = (unsigned char)((acc >> bits) & 0xff);
		}
	}
	return (long)o;
}

/* ----------------------------------------------------------- parsing */

long etcd_line_next(const char *buf, size_t len, size_t max)
{
	const char *nl = memchr(buf, '\n', len < max + 1 ? len : max + 1);
	if (nl)
		return (long)(nl - buf) + 1;
	return len > max ? -1 : 0;
}

/* A 64-bit number that the gateway writes as a string (or, rarely, a
 * number); absent counts as 0. -1 when it is neither. */
static int num(json_t *o, const char *key, int64_t *out)
{
	json_t *v = json_object_get(o, key);
	*out = 0;
	if (!v)
		return 0;
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return 0;
	}
	if (!json_is_string(v))
		return -1;
	const char *s = json_string_value(v);
	char *end;
	errno = 0;
	long long n = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		return -1;
	*out = n;
	return 0;
}

static int parse_kv(json_t *o, struct etcd_kv *kv)
{
	memset(kv, 0, sizeof(*kv));
	if (!json_is_object(o))
		return -1;
	json_t *k = json_object_get(o, "key");
	json_t *v = json_object_get(o, "value");
	if (!json_is_string(k) || (v && !json_is_string(v)))
		return -1;
	long kn = etcd_b64_decode(json_string_value(k), json_string_length(k),
				  (unsigned char *)kv->key, ETCD_KEY_MAX);
	if (kn < 0 || memchr(kv->key, 0, (size_t)kn))
		return -1;
	kv->key[kn] = 0;
	size_t vin = v ? json_string_length(v) : 0;
	if (vin / 4 * 3 > ETCD_VALUE_MAX + 3)
		return -1;
	kv->value = malloc(vin / 4 * 3 + 4);
	if (!kv->value)
		return -1;
	long vn = v ? etcd_b64_decode(json_string_value(v), vin, (unsigned char *)kv->value,
				      vin / 4 * 3 + 3)
		    : 0;
	if (vn < 0 || vn > ETCD_VALUE_MAX) {
		free(kv->value);
		kv->value = NULL;
		return -1;
	}
	kv->value[vn] = 0;
	kv->vlen = (size_t)vn;
	if (num(o, "create_revision", &kv->create_rev) < 0 ||
	    num(o, "mod_revision", &kv->mod_rev) < 0 || num(o, "version", &kv->version) < 0 ||
	    num(o, "lease", &kv->lease) < 0) {
		free(kv->value);
		kv->value = NULL;
		return -1;
	}
	return 0;
}

static int add_kv(struct etcd_resp *r, json_t *o, bool deleted)
{
	if (r->nkvs >= ETCD_KVS_MAX)
		return -1;
	if (!r->kvs) {
		r->kvs = calloc(ETCD_KVS_MAX, sizeof(*r->kvs));
		if (!r->kvs)
			return -1;
	}
	if (parse_kv(o, &r->kvs[r->nkvs]) < 0)
		return -1;
	r->kvs[r->nkvs++].deleted = deleted;
	return 0;
}

static int add_kvs(struct etcd_resp *r, json_t *arr)
{
	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return -1;
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v) if (add_kv(r, v, false) < 0) return -1;
	return 0;
}

/* Watch events: {"type":"DELETE"?, "kv":{...}}. */
static int add_events(struct etcd_resp *r, json_t *arr)
{
	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return -1;
	size_t i;
	json_t *ev;
	json_array_foreach(arr, i, ev)
	{
		if (!json_is_object(ev))
			return -1;
		json_t *t = json_object_get(ev, "type");
		bool del = json_is_string(t) && strcmp(json_string_value(t), "DELETE") == 0;
		if (t && !json_is_string(t))
			return -1;
		if (add_kv(r, json_object_get(ev, "kv"), del) < 0)
			return -1;
	}
	return 0;
}

static int parse_body(json_t *o, struct etcd_resp *r)
{
	json_t *res = json_object_get(o, "result");
	if (res) {
		/* streamed answers (watch, keepalive) wrap the message */
		if (!json_is_object(res))
			return -1;
		o = res;
	}
	json_t *err = json_object_get(o, "error");
	if (err) {
		/* {"error": "...", "code": N, "message": "..."}; in streams
		 * {"error": {"grpc_code": N, "message": "..."}} */
		json_t *msg = json_is_string(err) ? err : json_object_get(err, "message");
		if (!msg)
			msg = json_object_get(o, "message");
		hc_fmt(r->error, "%s", json_is_string(msg) ? json_string_value(msg) : "error");
		json_t *c = json_object_get(json_is_object(err) ? err : o,
					    json_is_object(err) ? "grpc_code" : "code");
		r->code = json_is_integer(c) ? (int)json_integer_value(c) : -1;
		if (!r->code)
			r->code = -1;
		return 0;
	}
	json_t *h = json_object_get(o, "header");
	if (h && (!json_is_object(h) || num(h, "revision", &r->revision) < 0))
		return -1;
	json_t *s = json_object_get(o, "succeeded");
	if (s && !json_is_boolean(s))
		return -1;
	r->succeeded = json_is_true(s);
	if (add_kvs(r, json_object_get(o, "kvs")) < 0)
		return -1;
	json_t *resps = json_object_get(o, "responses");
	if (resps) {
		if (!json_is_array(resps))
			return -1;
		size_t i;
		json_t *v;
		json_array_foreach(resps, i, v)
		{
			if (!json_is_object(v))
				return -1;
			json_t *rr = json_object_get(v, "response_range");
			if (rr &&
			    (!json_is_object(rr) || add_kvs(r, json_object_get(rr, "kvs")) < 0))
				return -1;
		}
	}
	if (add_events(r, json_object_get(o, "events")) < 0)
		return -1;
	if (num(o, "ID", &r->lease_id) < 0 || num(o, "TTL", &r->ttl) < 0 ||
	    num(o, "compact_revision", &r->compact_revision) < 0)
		return -1;
	r->has_ttl = json_object_get(o, "TTL") != NULL;
	r->created = json_is_true(json_object_get(o, "created"));
	r->canceled = json_is_true(json_object_get(o, "canceled"));
	json_t *tok = json_object_get(o, "token");
	if (tok) {
		if (!json_is_string(tok) || json_string_length(tok) >= sizeof(r->token))
			return -1;
		hc_fmt(r->token, "%s", json_string_value(tok));
	}
	return 0;
}

int etcd_parse_response(const char *buf, size_t len, struct etcd_resp *r)
{
	memset(r, 0, sizeof(*r));
	json_error_t je;
	json_t *o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(o)) {
		json_decref(o);
		return -1;
	}
	int rc = parse_body(o, r);
	json_decref(o);
	if (rc < 0)
		etcd_resp_free(r);
	return rc;
}

void etcd_resp_free(struct etcd_resp *r)
{
	for (size_t i = 0; r->kvs && i < r->nkvs; i++)
		free(r->kvs[i].value);
	free(r->kvs);
	memset(r, 0, sizeof(*r));
}

/* ------------------------------------------------------------ client */

struct etcd_client {
	pthread_mutex_t mu;
	struct cfg_addr *eps;
	size_t neps;
	size_t cur; /* the endpoint that answered last (mu) */
	char *user;
	char *password;
	SSL_CTX *ssl; /* reference, or NULL */
	bool verify_identity;
	int timeout_ms;
	int login_timeout_ms; /* authenticate: see etcd_client_new */
	char token[256];      /* auth token, "" none yet (mu) */
	unsigned long logins; /* (mu) */
};

struct etcd_client *etcd_client_new(const struct cfg_coord *k)
{
	struct etcd_client *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	pthread_mutex_init(&c->mu, NULL);
	c->eps = calloc(k->nendpoints + 1, sizeof(*c->eps));
	if (!c->eps) {
		free(c);
		return NULL;
	}
	memcpy(c->eps, k->endpoints, k->nendpoints * sizeof(*c->eps));
	c->neps = k->nendpoints;
	c->user = k->user ? strdup(k->user) : NULL;
	c->password = k->password ? strdup(k->password) : NULL;
	if (k->tls && k->tls->ctx && SSL_CTX_up_ref(k->tls->ctx) == 1) {
		c->ssl = k->tls->ctx;
		c->verify_identity = k->tls->verify_identity;
	}
	c->timeout_ms = k->timeout_ms;
	/* A login runs etcd's bcrypt on purpose (cost 10: ~60 ms on an idle
	 * core, several times that on a busy one), so it gets more than an
	 * ordinary request: a quarter of the lease, the most any one request
	 * may block the coordination thread without delaying the self-fence
	 * past the lease (config/coord.c bounds timeout_ms the same way). */
	c->login_timeout_ms = k->lease_ttl_s * 1000 / 4 > k->timeout_ms ? k->lease_ttl_s * 1000 / 4
									: k->timeout_ms;
	return c;
}

void etcd_client_free(struct etcd_client *c)
{
	if (!c)
		return;
	if (c->password) {
		memset(c->password, 0, strlen(c->password));
		free(c->password);
	}
	free(c->user);
	free(c->eps);
	SSL_CTX_free(c->ssl);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

unsigned long etcd_client_logins(struct etcd_client *c)
{
	pthread_mutex_lock(&c->mu);
	unsigned long n = c->logins;
	pthread_mutex_unlock(&c->mu);
	return n;
}

const char *etcd_client_endpoint(struct etcd_client *c)
{
	pthread_mutex_lock(&c->mu);
	const char *t = c->eps[c->cur].text;
	pthread_mutex_unlock(&c->mu);
	return t;
}

/* A connection to ep on base (TLS when configured). NULL on failure. */
static struct evhttp_connection *conn_new(struct etcd_client *c, struct event_base *base,
					  const struct cfg_addr *ep)
{
	if (!c->ssl)
		return evhttp_connection_base_new(base, NULL, ep->host, ep->port);
	SSL *ssl = SSL_new(c->ssl);
	if (!ssl)
		return NULL;
	SSL_set_tlsext_host_name(ssl, ep->host);
	if (c->verify_identity)
		SSL_set1_host(ssl, ep->host);
	struct bufferevent *bev = bufferevent_openssl_socket_new(
		base, -1, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (!bev) {
		SSL_free(ssl);
		return NULL;
	}
	return evhttp_connection_base_bufferevent_new(base, NULL, bev, ep->host, ep->port);
}

static void add_headers(struct evhttp_request *req, const struct cfg_addr *ep, const char *token)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Host", ep->host);
	evhttp_add_header(h, "Content-Type", "application/json");
	if (token && token[0])
		evhttp_add_header(h, "Authorization", token);
}

struct unary {
	struct event_base *base;
	bool done;
	bool timed_out;
	int status; /* HTTP status, 0: no answer */
	char *body; /* malloc'd, NUL-terminated */
	size_t len;
};

static void unary_done(struct evhttp_request *req, void *arg)
{
	struct unary *u = arg;
	u->done = true;
	if (req) {
		u->status = evhttp_request_get_response_code(req);
		struct evbuffer *in = evhttp_request_get_input_buffer(req);
		size_t n = evbuffer_get_length(in);
		if (u->status > 0 && n <= BODY_MAX) {
			u->body = malloc(n + 1);
			if (u->body) {
				evbuffer_remove(in, u->body, n);
				u->body[n] = 0;
				u->len = n;
			}
		}
	}
	event_base_loopbreak(u->base);
}

static void unary_error(enum evhttp_request_error e, void *arg)
{
	struct unary *u = arg;
	if (e == EVREQ_HTTP_TIMEOUT)
		u->timed_out = true;
}

/* Whether a plain TCP connect to ep is refused (the process is gone but
 * its host answers), within 200 ms. */
static bool tcp_refused(const struct cfg_addr *ep)
{
	int fd = socket(ep->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	bool refused = false;
	if (connect(fd, (const struct sockaddr *)&ep->sa, ep->salen) < 0) {
		if (errno == ECONNREFUSED) {
			refused = true;
		} else if (errno == EINPROGRESS) {
			struct pollfd p = {.fd = fd, .events = POLLOUT};
			if (poll(&p, 1, 200) == 1) {
				int soerr = 0;
				socklen_t sl = sizeof(soerr);
				getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
				refused = soerr == ECONNREFUSED;
			}
		}
	}
	close(fd);
	return refused;
}

/* One POST to one endpoint: the HTTP status (0: none) and body in u. */
static void post_one(struct etcd_client *c, const struct cfg_addr *ep, const char *path,
		     const char *body, const char *token, int timeout_ms, struct unary *u)
{
	memset(u, 0, sizeof(*u));
	u->base = event_base_new();
	if (!u->base)
		return;
	struct evhttp_connection *conn = conn_new(c, u->base, ep);
	if (!conn) {
		event_base_free(u->base);
		return;
	}
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	evhttp_connection_set_timeout_tv(conn, &tv);
	evhttp_connection_set_retries(conn, 0);
	evhttp_connection_set_max_body_size(conn, BODY_MAX);
	struct evhttp_request *req = evhttp_request_new(unary_done, u);
	if (req) {
		evhttp_request_set_error_cb(req, unary_error);
		add_headers(req, ep, token);
		evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body));
		if (evhttp_make_request(conn, req, EVHTTP_REQ_POST, path) == 0) {
			/* The connection's timeout bounds connect and each read;
			 * this bounds the whole exchange. */
			int64_t all_us = (int64_t)timeout_ms * 1500;
			struct timeval all = {.tv_sec = all_us / 1000000,
					      .tv_usec = all_us % 1000000};
			event_base_loopexit(u->base, &all);
			while (!u->done && event_base_dispatch(u->base) == 0 && !u->done &&
			       !event_base_got_exit(u->base))
				;
		}
	}
	evhttp_connection_free(conn);
	event_base_free(u->base);
	u->base = NULL;
}

/* Log in with user/password; the token is kept for later calls. */
static int authenticate(struct etcd_client *c, const struct cfg_addr *ep, char *err, size_t errlen)
{
	json_t *b = json_pack("{s:s, s:s}", "name", c->user, "password", c->password);
	char *text = b ? json_dumps(b, JSON_COMPACT) : NULL;
	json_decref(b);
	if (!text)
		return ETCD_EPROTO;
	struct unary u;
	post_one(c, ep, "/v3/auth/authenticate", text, NULL, c->login_timeout_ms, &u);
	memset(text, 0, strlen(text));
	free(text);
	struct etcd_resp r;
	int rc = ETCD_EPROTO;
	if (u.status == 200 && etcd_parse_response(u.body, u.len, &r) == 0) {
		if (r.token[0]) {
			pthread_mutex_lock(&c->mu);
			hc_fmt(c->token, "%s", r.token);
			c->logins++;
			pthread_mutex_unlock(&c->mu);
			rc = ETCD_OK;
		}
		etcd_resp_free(&r);
	} else if (u.status > 0) {
		hc_fmtn(err, errlen, "%s: authentication refused (HTTP %d)", ep->text, u.status);
		rc = ETCD_EREJECT;
	} else {
		hc_fmtn(err, errlen, "%s: no answer to authentication within %d ms", ep->text,
			c->login_timeout_ms);
		rc = ETCD_EUNREACH;
	}
	free(u.body);
	return rc;
}

/* One endpoint: ETCD_OK with r, or an error code (refused: ETCD_EDOWN). */
static int call_one(struct etcd_client *c, const struct cfg_addr *ep, const char *path,
		    const char *body, struct etcd_resp *r, char *err, size_t errlen)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		char token[256] = "";
		if (c->user) {
			pthread_mutex_lock(&c->mu);
			hc_fmt(token, "%s", c->token);
			pthread_mutex_unlock(&c->mu);
			if (!token[0]) {
				int arc = authenticate(c, ep, err, errlen);
				if (arc != ETCD_OK)
					return arc == ETCD_EUNREACH && tcp_refused(ep) ? ETCD_EDOWN
										       : arc;
				pthread_mutex_lock(&c->mu);
				hc_fmt(token, "%s", c->token);
				pthread_mutex_unlock(&c->mu);
			}
		}
		struct unary u;
		post_one(c, ep, path, body, token, c->timeout_ms, &u);
		if (u.status == 0) {
			free(u.body);
			bool refused = !u.timed_out && tcp_refused(ep);
			hc_fmtn(err, errlen, "%s: %s", ep->text,
				refused       ? "connection refused"
				: u.timed_out ? "no answer within timeout_ms"
					      : "connection failed");
			return refused ? ETCD_EDOWN : ETCD_EUNREACH;
		}
		int prc = u.body ? etcd_parse_response(u.body, u.len, r) : -1;
		free(u.body);
		if (prc < 0) {
			hc_fmtn(err, errlen, "%s: HTTP %d with a body that is not etcd's", ep->text,
				u.status);
			return ETCD_EPROTO;
		}
		if (u.status == 200 && !r->error[0])
			return ETCD_OK;
		/* An expired token is refreshed once. */
		bool auth = r->code == 16 || strstr(r->error, "token") != NULL;
		hc_fmtn(err, errlen, "%s: HTTP %d: %s", ep->text, u.status, r->error);
		etcd_resp_free(r);
		if (!(auth && c->user && attempt == 0))
			return ETCD_EREJECT;
		pthread_mutex_lock(&c->mu);
		c->token[0] = 0;
		pthread_mutex_unlock(&c->mu);
	}
	return ETCD_EREJECT;
}

int etcd_call(struct etcd_client *c, const char *path, const char *body, struct etcd_resp *r,
	      char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_lock(&c->mu);
	size_t start = c->cur;
	pthread_mutex_unlock(&c->mu);
	size_t refused = 0;
	int last = ETCD_EUNREACH;
	for (size_t k = 0; k < c->neps; k++) {
		size_t i = (start + k) % c->neps;
		int rc = call_one(c, &c->eps[i], path, body, r, err, errlen);
		if (rc == ETCD_OK || rc == ETCD_EREJECT) {
			pthread_mutex_lock(&c->mu);
			c->cur = i;
			pthread_mutex_unlock(&c->mu);
			return rc;
		}
		if (rc == ETCD_EDOWN)
			refused++;
		last = rc;
	}
	/* No quorum can exist when most members' processes are gone. */
	if (refused * 2 > c->neps)
		return ETCD_EDOWN;
	return last == ETCD_EPROTO ? ETCD_EPROTO : ETCD_EUNREACH;
}

/* ------------------------------------------------------------- watch */

struct etcd_watch {
	struct evhttp_connection *conn;
	struct evhttp_request *req; /* NULL once finished */
	struct evbuffer *buf;       /* bytes of an incomplete line */
	etcd_watch_line_fn on_line;
	etcd_watch_end_fn on_end;
	void *arg;
	bool ended;
};

static void watch_end(struct etcd_watch *w, const char *why)
{
	if (w->ended)
		return;
	w->ended = true;
	w->on_end(w->arg, why);
}

static void watch_chunk(struct evhttp_request *req, void *arg)
{
	struct etcd_watch *w = arg;
	if (w->ended)
		return;
	evbuffer_add_buffer(w->buf, evhttp_request_get_input_buffer(req));
	for (;;) {
		size_t len = evbuffer_get_length(w->buf);
		if (len == 0)
			return;
		size_t look = len < ETCD_LINE_MAX + 1 ? len : ETCD_LINE_MAX + 1;
		const char *p = (const char *)evbuffer_pullup(w->buf, (ev_ssize_t)look);
		long n = p ? etcd_line_next(p, look, ETCD_LINE_MAX) : -1;
		if (n < 0) {
			watch_end(w, "a watch message is too long");
			return;
		}
		if (n == 0)
			return;
		struct etcd_resp r;
		if (n > 1) {
			if (etcd_parse_response(p, (size_t)n - 1, &r) < 0) {
				watch_end(w, "a watch message that is not etcd's");
				return;
			}
			w->on_line(w->arg, &r);
			etcd_resp_free(&r);
			if (w->ended)
				return;
		}
		evbuffer_drain(w->buf, (size_t)n);
	}
}

static void watch_done(struct evhttp_request *req, void *arg)
{
	struct etcd_watch *w = arg;
	w->req = NULL; /* evhttp frees it after this callback */
	int code = req ? evhttp_request_get_response_code(req) : 0;
	char why[64];
	hc_fmt(why, code ? "the watch stream ended (HTTP %d)" : "the watch connection failed",
	       code);
	watch_end(w, why);
}

struct etcd_watch *etcd_watch_start(struct etcd_client *c, struct event_base *base, const char *key,
				    const char *range_end, int64_t start_rev,
				    etcd_watch_line_fn on_line, etcd_watch_end_fn on_end, void *arg)
{
	struct etcd_watch *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->on_line = on_line;
	w->on_end = on_end;
	w->arg = arg;
	w->buf = evbuffer_new();
	pthread_mutex_lock(&c->mu);
	const struct cfg_addr *ep = &c->eps[c->cur];
	char token[256];
	hc_fmt(token, "%s", c->token);
	pthread_mutex_unlock(&c->mu);
	char k64[ETCD_KEY_MAX * 2], e64[ETCD_KEY_MAX * 2];
	if (!w->buf || etcd_b64_encode(key, strlen(key), k64, sizeof(k64)) < 0 ||
	    etcd_b64_encode(range_end, strlen(range_end), e64, sizeof(e64)) < 0)
		goto fail;
	w->conn = conn_new(c, base, ep);
	if (!w->conn)
		goto fail;
	/* A watch is quiet for as long as nothing changes; a dead one is
	 * noticed by the unary calls failing (the caller restarts it). */
	evhttp_connection_set_timeout(w->conn, 24 * 3600);
	evhttp_connection_set_retries(w->conn, 0);
	w->req = evhttp_request_new(watch_done, w);
	if (!w->req)
		goto fail;
	evhttp_request_set_chunked_cb(w->req, watch_chunk);
	add_headers(w->req, ep, token);
	char body[3 * ETCD_KEY_MAX * 2];
	hc_fmt(body,
	       "{\"create_request\":{\"key\":\"%s\",\"range_end\":\"%s\",\"start_revision\":\"%lld\","
	       "\"progress_notify\":true}}",
	       k64, e64, (long long)start_rev);
	evbuffer_add(evhttp_request_get_output_buffer(w->req), body, strlen(body));
	if (evhttp_make_request(w->conn, w->req, EVHTTP_REQ_POST, "/v3/watch") != 0) {
		w->req = NULL; /* freed by evhttp on failure */
		goto fail;
	}
	return w;
fail:
	if (w->req)
		evhttp_request_free(w->req);
	w->req = NULL;
	etcd_watch_free(w);
	return NULL;
}

void etcd_watch_free(struct etcd_watch *w)
{
	if (!w)
		return;
	w->ended = true;
	/* Freeing the connection cancels and frees a request still running. */
	if (w->conn)
		evhttp_connection_free(w->conn);
	if (w->buf)
		evbuffer_free(w->buf);
	free(w);
}
