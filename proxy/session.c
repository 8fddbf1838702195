/*
 * session.c — a session's lifecycle: creation at accept, the state table
 * and its single setter, the dispatch of connection news to the state
 * handlers, timers, failing with an ERR, and freeing.
 *
 * The handlers themselves live with their phase: client_auth.c (greeting,
 * TLS and client login), backend_auth.c (backend connect, TLS and login),
 * change_user.c (COM_CHANGE_USER), forward.c (commands and results).
 */
#include "proxy/session.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "protocol/auth.h"
#include "health/monitor.h"
#include "protocol/okerr.h"
#include "proxy/conn_ids.h"
#include "proxy/daemon.h"
#include "proxy/login.h"
#include "proxy/worker.h"

/* How long a session may take to flush its final ERR before it is cut. */
#define SESS_LINGER_MS 2000

const char *sess_state_name(enum sess_state st)
{
	static const char *const names[SESS_NSTATES] = {
		[SESS_CLIENT_HANDSHAKE] = "client_handshake",
		[SESS_CLIENT_TLS] = "client_tls",
		[SESS_CLIENT_AUTH] = "client_auth",
		[SESS_BACKEND_WAIT] = "backend_wait",
		[SESS_BACKEND_CONNECT] = "backend_connect",
		[SESS_BACKEND_HANDSHAKE] = "backend_handshake",
		[SESS_BACKEND_TLS] = "backend_tls",
		[SESS_BACKEND_AUTH] = "backend_auth",
		[SESS_IDLE] = "idle",
		[SESS_CHANGE_USER_AUTH] = "change_user_auth",
		[SESS_CHANGE_USER_BACKEND] = "change_user_backend",
		[SESS_COMMAND] = "command",
		[SESS_RESULT] = "result",
		[SESS_LOCAL_INFILE] = "local_infile",
		[SESS_RESTORE] = "restore",
		[SESS_CLOSING] = "closing",
		[SESS_CLOSED] = "closed",
	};
	return (unsigned)st < SESS_NSTATES ? names[st] : "?";
}

#define T(s) (1u << (s))
/* allowed[from] = set of states it may move to. CLOSING and CLOSED are
 * reachable from everywhere and are not listed. */
/* A move (migrate.h) leaves an attached state for BACKEND_CONNECT or
 * BACKEND_WAIT; a move that gives up ends IDLE with SESS_F_BACKEND_GONE. */
#define MOVE    (T(SESS_BACKEND_CONNECT) | T(SESS_BACKEND_WAIT))
#define GIVE_UP T(SESS_IDLE)
/* The greeting comes from the primary: the login runs in BACKEND_* states
 * before the client's (pre_greeting), whose backend connection then waits
 * for the client's login and goes on with it (backend_held). */
#define HELD (T(SESS_BACKEND_TLS) | T(SESS_BACKEND_AUTH))
static const unsigned allowed[SESS_NSTATES] = {
	[SESS_CLIENT_HANDSHAKE] = T(SESS_CLIENT_TLS) | T(SESS_CLIENT_AUTH) | HELD |
				  T(SESS_BACKEND_CONNECT) | T(SESS_BACKEND_WAIT),
	[SESS_CLIENT_TLS] = T(SESS_CLIENT_HANDSHAKE),
	[SESS_CLIENT_AUTH] = T(SESS_BACKEND_CONNECT) | T(SESS_BACKEND_WAIT) | HELD,
	[SESS_BACKEND_WAIT] = T(SESS_BACKEND_CONNECT) | GIVE_UP,
	[SESS_BACKEND_CONNECT] = T(SESS_BACKEND_HANDSHAKE) | T(SESS_BACKEND_WAIT) | GIVE_UP |
				 T(SESS_CLIENT_HANDSHAKE),
	[SESS_BACKEND_HANDSHAKE] = T(SESS_BACKEND_TLS) | T(SESS_BACKEND_AUTH) | MOVE | GIVE_UP |
				   T(SESS_CLIENT_HANDSHAKE),
	[SESS_BACKEND_TLS] = T(SESS_BACKEND_AUTH) | MOVE | GIVE_UP,
	[SESS_BACKEND_AUTH] = T(SESS_IDLE) | T(SESS_RESTORE) | MOVE,
	[SESS_IDLE] = T(SESS_COMMAND) | T(SESS_RESULT) | T(SESS_CHANGE_USER_AUTH) | MOVE,
	[SESS_CHANGE_USER_AUTH] = T(SESS_CHANGE_USER_BACKEND) | T(SESS_IDLE) | MOVE,
	[SESS_CHANGE_USER_BACKEND] = T(SESS_IDLE) | MOVE,
	[SESS_COMMAND] = T(SESS_RESULT) | T(SESS_IDLE) | MOVE,
	[SESS_RESULT] = T(SESS_IDLE) | T(SESS_LOCAL_INFILE) | MOVE,
	[SESS_LOCAL_INFILE] = T(SESS_RESULT) | MOVE,
	[SESS_RESTORE] = T(SESS_IDLE) | T(SESS_RESULT) | MOVE,
	[SESS_CLOSING] = 0,
	[SESS_CLOSED] = 0,
};
#undef MOVE
#undef GIVE_UP
#undef HELD
#undef T

void sess_set_state(struct session *s, enum sess_state to)
{
	enum sess_state from = s->state;
	if (from == to)
		return;
	bool ok = to == SESS_CLOSED || (to == SESS_CLOSING && from != SESS_CLOSED) ||
		  (allowed[from] & (1u << to));
	if (!ok) {
		log_error("session %llu: illegal transition %s -> %s", (unsigned long long)s->id,
			  sess_state_name(from), sess_state_name(to));
		sess_close(s, "internal state error");
		return;
	}
	log_debug("session %llu: %s -> %s", (unsigned long long)s->id, sess_state_name(from),
		  sess_state_name(to));
	s->state = to;
	s->flags &= ~(unsigned)SESS_F_VERDICT_WAIT; /* decided, or moving anyway */
}

/* ------------------------------------------------------------ dispatch */

static void client_on_read(struct conn *c, void *arg)
{
	struct session *s = arg;
	(void)c;
	if (s->flags & SESS_F_VERDICT_WAIT) {
		/* what the client sends waits for the monitor's verdict */
		if (evbuffer_get_length(s->client.in) > s->wt->snap->limits.buffer_high)
			conn_read_disable(&s->client);
		return;
	}
	switch (s->state) {
	case SESS_CLIENT_HANDSHAKE:
		sess_client_handshake_read(s);
		break;
	case SESS_CLIENT_AUTH:
	case SESS_CHANGE_USER_AUTH:
		sess_client_auth_read(s);
		break;
	case SESS_IDLE:
		if (s->flags & SESS_F_BACKEND_GONE) {
			sess_fail(s, s->gone_code, "08S01", "%s", s->why);
			break;
		}
		sess_idle_read(s);
		break;
	case SESS_COMMAND:
		sess_idle_read(s);
		break;
	case SESS_LOCAL_INFILE:
		sess_infile_read(s);
		break;
	case SESS_CLOSING:
		/* discard: the session is going away */
		evbuffer_drain(s->client.in, evbuffer_get_length(s->client.in));
		break;
	default:
		/* Bytes that arrive while the backend works stay buffered until the
		 * session is idle again; stop reading if a client floods. */
		if (evbuffer_get_length(s->client.in) > s->wt->snap->limits.buffer_high)
			conn_read_disable(&s->client);
		break;
	}
}

/* The server ended an idle session with an ERR (code): the client gets
 * the server's packets as they are, then the close. */
static void server_closed(struct session *s, uint16_t code)
{
	log_info("session %llu (tenant %s): the database server %s ended the session with error "
		 "%u; closing the client's connection as the server did",
		 (unsigned long long)s->id, s->wt->name, s->backend_addr, code);
	struct evbuffer *pkts = evbuffer_new();
	if (pkts)
		evbuffer_add_buffer(pkts, s->backend.in);
	conn_shutdown(&s->backend);
	worker_backend_release(s);
	sess_set_state(s, SESS_CLOSING);
	conn_read_disable(&s->client);
	bool sent = pkts && conn_is_open(&s->client) &&
		    evbuffer_add_buffer(s->client.out, pkts) == 0 && conn_flush(&s->client) == 0;
	evbuffer_free(pkts);
	if (!sent || conn_pending(&s->client) == 0) {
		sess_close(s, "closed by the server");
		return;
	}
	s->client.want_drain = true;
	s->client.low_mark = 0;
	sess_timer_set(s, SESS_LINGER_MS);
}

/* A session's backend closed without a word (or after an answer, as a
 * KILL of oneself does). If the member still is the primary, only a fresh
 * probe can tell a server that ended the session (wait_timeout, KILL) from
 * one that died: wait for that verdict; the client's bytes wait too. */
static void backend_closed(struct session *s, const char *why, uint64_t seq, bool reset)
{
	if (!seq || s->mg.active || !worker_backend_current(s->w, s)) {
		sess_backend_lost(s, why);
		return;
	}
	s->server_reset = reset;
	conn_shutdown(&s->backend);
	worker_backend_release(s);
	s->flags |= SESS_F_VERDICT_WAIT;
	s->verdict_seq = seq;
	snprintf(s->why, sizeof(s->why), "%s", why);
	log_debug("session %llu: backend %s %s; waiting for the monitor's verdict",
		  (unsigned long long)s->id, s->backend_addr, why);
	sess_timer_set(s, s->wt->snap->limits.connect_timeout_ms);
}

void sess_verdict_topology(struct session *s, const struct hc_topology *t)
{
	const struct hc_member *p = hc_topology_primary(t);
	bool same = p && p->addr.salen == s->backend_salen &&
		    memcmp(&p->addr.sa, &s->backend_sa, s->backend_salen) == 0;
	bool usable =
		p && (p->state == HC_UP || p->state == HC_UNKNOWN) && t->transition == HC_TR_NONE;
	if (same && usable && p->answered < s->verdict_seq)
		return; /* not probed since: keep waiting */
	s->flags &= ~(unsigned)SESS_F_VERDICT_WAIT;
	s->verdict_seq = 0;
	sess_timer_clear(s);
	if (same && usable && p->state == HC_UP && p->last_error[0] == 0) {
		log_info("session %llu (tenant %s): the database server %s closed the session and "
			 "is alive; closing the client's connection as the server did",
			 (unsigned long long)s->id, s->wt->name, s->backend_addr);
		if (s->server_reset && conn_is_open(&s->client)) {
			/* it reset the connection (MariaDB does at wait_timeout): so do we */
			struct linger lg = {1, 0};
			setsockopt(s->client.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		}
		sess_close(s, "closed by the server");
		return;
	}
	char why[sizeof(s->why)];
	snprintf(why, sizeof(why), "%s", s->why);
	sess_backend_lost(s, why);
}

void sess_backend_unhold(struct session *s)
{
	if (!s->backend_held)
		return;
	s->backend_held = false;
	conn_shutdown(&s->backend);
	worker_backend_release(s);
	worker_preauth_release(s);
}

static void backend_on_read(struct conn *c, void *arg)
{
	struct session *s = arg;
	(void)c;
	switch (s->state) {
	case SESS_BACKEND_HANDSHAKE:
		sess_backend_handshake_read(s);
		break;
	case SESS_BACKEND_AUTH:
	case SESS_CHANGE_USER_BACKEND:
		sess_backend_auth_read(s);
		break;
	case SESS_RESULT:
		sess_result_read(s);
		break;
	case SESS_RESTORE:
		sess_restore_read(s);
		break;
	case SESS_CLOSING:
	case SESS_CLOSED:
		evbuffer_drain(s->backend.in, evbuffer_get_length(s->backend.in));
		break;
	default:
		/* Answers to tandem's own setup statement may arrive while idle. */
		if (s->sf.setup_pending &&
		    (s->state == SESS_IDLE || s->state == SESS_COMMAND ||
		     s->state == SESS_CHANGE_USER_AUTH) &&
		    (!sess_setup_read(s) || evbuffer_get_length(s->backend.in) == 0))
			break;
		if (s->backend_held) {
			/* nothing is owed to a client not logged in: log in afresh */
			evbuffer_drain(s->backend.in, evbuffer_get_length(s->backend.in));
			sess_backend_unhold(s);
			break;
		}
		/* A server speaking out of turn: an ERR before it closes the
		 * connection. A shutdown (1053) loses the connection, not the
		 * session: it moves. Any other (idle timeout 4031, KILL 1927, or
		 * 1153 for a command larger than its max_allowed_packet, sent
		 * while the command still streams in) is the server ending the
		 * session: the client gets it as it is. */
		if ((s->state == SESS_IDLE || s->state == SESS_COMMAND) &&
		    !(s->flags & SESS_F_VERDICT_WAIT)) {
			uint8_t head[PROTO_HEADER_LEN + 3];
			if (evbuffer_copyout(s->backend.in, head, sizeof(head)) == sizeof(head) &&
			    head[PROTO_HEADER_LEN] == PROTO_ERR_HEADER) {
				uint16_t code = (uint16_t)(head[PROTO_HEADER_LEN + 1] |
							   head[PROTO_HEADER_LEN + 2] << 8);
				if (code != ER_SERVER_SHUTDOWN) {
					server_closed(s, code);
					break;
				}
				evbuffer_drain(s->backend.in, evbuffer_get_length(s->backend.in));
				sess_backend_lost(s, "ended the connection with an error");
				break;
			}
		}
		log_info("session %llu: backend %s sent %zu unexpected bytes in state %s; closing",
			 (unsigned long long)s->id, s->backend_addr,
			 evbuffer_get_length(s->backend.in), sess_state_name(s->state));
		sess_close(s, "backend spoke out of turn");
		break;
	}
}

static void on_drain(struct conn *c, void *arg)
{
	struct session *s = arg;
	if (s->state == SESS_CLOSING && c == &s->client) {
		sess_close(s, "error sent");
		return;
	}
	sess_forward_backpressure(s, c);
}

static void client_on_event(struct conn *c, enum conn_event ev, void *arg)
{
	struct session *s = arg;
	(void)c;
	if (s->state == SESS_CLOSED)
		return;
	if (ev == CONN_TLS_READY) {
		sess_client_tls_ready(s);
		return;
	}
	if (s->state == SESS_CLIENT_TLS) {
		/* No ERR is possible mid-handshake: log why, and close. */
		stat_add(&s->wt->stats->client_errors, 1);
		if (ev != CONN_EOF)
			sess_login_failed(s);
		log_info("session %llu: TLS handshake with %s failed: %s",
			 (unsigned long long)s->id, s->peer_text,
			 ev == CONN_EOF ? "the client closed the connection"
					: conn_tls_error(&s->client));
		sess_close(s, "client TLS handshake failed");
		return;
	}
	log_debug("session %llu: client %s in state %s", (unsigned long long)s->id,
		  ev == CONN_EOF ? "closed" : "error", sess_state_name(s->state));
	sess_close(s, ev == CONN_EOF ? "client closed" : "client socket error");
}

static void backend_on_event(struct conn *c, enum conn_event ev, void *arg)
{
	struct session *s = arg;
	(void)c;
	if (s->state == SESS_CLOSED || s->state == SESS_CLOSING)
		return;
	if (ev == CONN_CONNECTED) {
		sess_backend_connected(s);
		return;
	}
	if (ev == CONN_TLS_READY) {
		sess_backend_tls_ready(s);
		return;
	}
	if (s->state == SESS_BACKEND_TLS) {
		/* Not a liveness problem: no suspicion for the monitor. */
		stat_add(&s->wt->stats->backend_errors, 1);
		sess_fail(s, TANDEM_ER_BACKEND_TLS, TANDEM_SQLSTATE_BACKEND_UNAVAILABLE,
			  "tandem: TLS to the database server %s failed: %s", s->backend_addr,
			  ev == CONN_EOF ? "the server closed the connection"
					 : conn_tls_error(&s->backend));
		return;
	}
	const char *what = ev == CONN_EOF ? "closed the connection" : "socket error";
	int err = s->backend.error;
	if (s->backend_held) {
		/* the server's own login timeout, most likely: log in afresh later */
		sess_backend_unhold(s);
		return;
	}
	switch (s->state) {
	case SESS_BACKEND_CONNECT:
	case SESS_BACKEND_HANDSHAKE:
	case SESS_BACKEND_AUTH: {
		stat_add(&s->wt->stats->backend_errors, 1);
		if (s->w->d->mon && s->wt->cfg && s->wt->cfg->cluster)
			hc_monitor_suspect(s->w->d->mon, s->wt->cfg->cluster->name,
					   (const struct sockaddr *)&s->backend_sa);
		/* Nothing reached the client yet: wait for the monitor's verdict
		 * (a failover may be starting) instead of failing at once. */
		char why[200];
		snprintf(why, sizeof(why), "cannot reach the database server %s (%s)",
			 s->backend_addr, ev == CONN_EOF ? "connection closed" : strerror(err));
		sess_backend_wait(s, why);
		return;
	}
	case SESS_RESULT:
	case SESS_COMMAND:
	case SESS_LOCAL_INFILE:
	case SESS_CHANGE_USER_AUTH:
	case SESS_CHANGE_USER_BACKEND:
	case SESS_IDLE: {
		stat_add(&s->wt->stats->backend_errors, 1);
		uint64_t seq = 0;
		if (s->w->d->mon && s->wt->cfg && s->wt->cfg->cluster)
			seq = hc_monitor_suspect(s->w->d->mon, s->wt->cfg->cluster->name,
						 (const struct sockaddr *)&s->backend_sa);
		if (s->flags & (SESS_F_BACKEND_GONE | SESS_F_VERDICT_WAIT))
			return;
		const char *why = ev == CONN_EOF ? "closed the connection" : "reset the connection";
		backend_closed(s, why, seq, ev == CONN_ERROR && err == ECONNRESET);
		return;
	}
	case SESS_RESTORE: {
		char why[200];
		snprintf(why, sizeof(why),
			 "the database server %s %s while the session was restored",
			 s->backend_addr, what);
		sess_backend_wait(s, why);
		return;
	}
	default:
		log_info("session %llu: backend %s %s while %s", (unsigned long long)s->id,
			 s->backend_addr, what, sess_state_name(s->state));
		sess_close(s, "backend gone");
		return;
	}
}

static const struct conn_cbs client_cbs = {client_on_read, on_drain, client_on_event};
const struct conn_cbs sess_backend_cbs = {backend_on_read, on_drain, backend_on_event};

/* ------------------------------------------------------------- timers */

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	(void)fd;
	(void)what;
	if (s->flags & SESS_F_VERDICT_WAIT) {
		/* no verdict in time: treat the server as lost */
		s->flags &= ~(unsigned)SESS_F_VERDICT_WAIT;
		s->verdict_seq = 0;
		char why[sizeof(s->why)];
		snprintf(why, sizeof(why), "%s", s->why);
		sess_backend_lost(s, why);
		return;
	}
	switch (s->state) {
	case SESS_CLIENT_TLS:
		stat_add(&s->wt->stats->client_errors, 1);
		sess_login_failed(s);
		log_info("session %llu: %s did not finish its TLS handshake within %d ms; closing",
			 (unsigned long long)s->id, s->peer_text,
			 s->wt->snap->limits.auth_timeout_ms);
		sess_close(s, "TLS handshake timed out");
		break;
	case SESS_CLIENT_HANDSHAKE:
	case SESS_CLIENT_AUTH:
	case SESS_CHANGE_USER_AUTH: {
		stat_add(&s->wt->stats->client_errors, 1);
		sess_login_failed(s);
		log_info("session %llu: %s did not finish logging in within %d ms",
			 (unsigned long long)s->id, s->peer_text,
			 s->wt->snap->limits.auth_timeout_ms);
		/* A client stalled half-way through a packet expects the answer
		 * to follow that packet: its library drops an ERR out of order. */
		uint8_t hdr[PROTO_HEADER_LEN];
		if (evbuffer_copyout(s->client.in, hdr, sizeof(hdr)) == (ssize_t)sizeof(hdr))
			s->client_seq = (uint8_t)(hdr[3] + 1);
		sess_fail(s, ER_HANDSHAKE_ERROR, "08S01", "Bad handshake: login timed out");
		break;
	}
	case SESS_BACKEND_CONNECT:
	case SESS_BACKEND_HANDSHAKE:
	case SESS_BACKEND_TLS:
	case SESS_BACKEND_AUTH:
	case SESS_CHANGE_USER_BACKEND:
	case SESS_RESTORE:
		stat_add(&s->wt->stats->backend_errors, 1);
		if (s->w->d->mon && s->wt->cfg && s->wt->cfg->cluster)
			hc_monitor_suspect(s->w->d->mon, s->wt->cfg->cluster->name,
					   (const struct sockaddr *)&s->backend_sa);
		sess_fail(
			s, TANDEM_ER_BACKEND_UNAVAILABLE, TANDEM_SQLSTATE_BACKEND_UNAVAILABLE,
			"tandem: the database server %s for tenant '%s' did not answer within %d ms",
			s->backend_addr, s->wt->name, s->wt->snap->limits.connect_timeout_ms);
		break;
	case SESS_BACKEND_WAIT:
		stat_add(&s->wt->stats->backend_errors, 1);
		sess_fail(s, TANDEM_ER_BACKEND_UNAVAILABLE, TANDEM_SQLSTATE_BACKEND_UNAVAILABLE,
			  "tandem: no writable database server for tenant '%s' within %d ms: %s",
			  s->wt->name, sess_wait_budget_ms(s), s->why);
		break;
	case SESS_IDLE:
		log_info("session %llu: idle for %d ms; closing", (unsigned long long)s->id,
			 s->wt->snap->limits.idle_timeout_ms);
		sess_close(s, "idle timeout");
		break;
	case SESS_CLOSING:
		sess_close(s, "client did not read its error");
		break;
	default:
		break;
	}
}

void sess_timer_set(struct session *s, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	evtimer_add(&s->timer, &tv);
}

void sess_timer_clear(struct session *s)
{
	evtimer_del(&s->timer);
}

/* ------------------------------------------------------- create / close */

struct session *sess_accept(struct worker *w, struct wtenant *wt, int fd,
			    const struct sockaddr *peer, socklen_t peerlen)
{
	struct session *s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		return NULL;
	}
	s->client.fd = s->backend.fd = -1;
	s->w = w;
	s->wt = wt;
	s->id = ((uint64_t)w->id << 48) | ++w->next_session_id;
	memcpy(&s->peer, peer, peerlen < sizeof(s->peer) ? peerlen : sizeof(s->peer));
	char ip[INET6_ADDRSTRLEN] = "?";
	uint16_t port = 0;
	if (peer->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)peer;
		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		port = ntohs(in->sin_port);
	} else if (peer->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)peer;
		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		port = ntohs(in6->sin6_port);
	}
	snprintf(s->peer_text, sizeof(s->peer_text), "%s:%u", ip, port);

	if (conn_open_fd(&s->client, w->base, w->read_pool, fd, &client_cbs, s) < 0) {
		close(fd);
		free(s);
		return NULL;
	}
	evtimer_assign(&s->timer, w->base, on_timer, s);
	evtimer_assign(&s->acct_timer, w->base, sess_accounts_timer, s);
	s->state = SESS_CLIENT_HANDSHAKE;

	/* Link into the worker's list before anything can fail, so that
	 * sess_close always has a consistent session to unlink. */
	s->next = w->sessions;
	if (w->sessions)
		w->sessions->prev = s;
	w->sessions = s;
	w->nsessions++;
	wt->nsessions++;
	s->flags |= SESS_F_COUNTED;
	stat_add(&wt->stats->sessions_open, 1);
	stat_add(&wt->stats->sessions_accepted, 1);

	/* Timers count from the loop's cached time, taken when this batch of
	 * events began; a worker that accepts hundreds of connections in one
	 * batch would otherwise give the last ones a shorter login time. */
	event_base_update_cache_time(w->base);
	sess_timer_set(s, wt->snap->limits.auth_timeout_ms);
	/* The greeting is the primary's: connect first (waiting for a
	 * failover up to sess_wait_budget_ms), unless the process already
	 * holds its share of backend connections for clients not logged in
	 * and this tenant's primary has greeted on this worker before. */
	bool hold = worker_preauth_hold(s);
	if (wt->cfg->cluster && (hold || !wt->greet.known)) {
		s->pre_greeting = true;
		sess_backend_start(s);
	} else {
		worker_preauth_release(s);
		sess_client_greet(s, NULL);
	}
	return s;
}

void sess_close(struct session *s, const char *why)
{
	if (s->state == SESS_CLOSED)
		return;
	log_debug("session %llu: closing in state %s: %s", (unsigned long long)s->id,
		  sess_state_name(s->state), why);
	sess_set_state(s, SESS_CLOSED);
	sess_timer_clear(s);
	/* Stop all I/O now; memory goes when the loop is back at the top. */
	conn_read_disable(&s->client);
	conn_read_disable(&s->backend);
	worker_backend_release(s);
	worker_preauth_release(s);
	evtimer_del(&s->acct_timer);
	worker_reap_later(s->w, s);
}

void sess_fail(struct session *s, uint16_t code, const char *sqlstate, const char *fmt, ...)
{
	if (s->state == SESS_CLOSED || s->state == SESS_CLOSING)
		return;
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_info("session %llu (%s, tenant %s, user '%s'): error %u: %s", (unsigned long long)s->id,
		 s->peer_text, s->wt->name, s->user, code, msg);
	if (conn_tls_handshaking(&s->client)) {
		/* An ERR cannot travel inside a TLS handshake. */
		sess_close(s, "error during the client's TLS handshake");
		return;
	}

	/* The ERR carries the sequence id the client expects next. */
	uint8_t seq = s->client_seq;
	if (s->state == SESS_RESULT || s->state == SESS_LOCAL_INFILE)
		seq = s->bfr.next_seq;
	else if (s->state == SESS_COMMAND)
		seq = s->cfr.next_seq; /* after the client's last frame (stream_command) */
	else if (s->state == SESS_IDLE)
		seq = 1;
	/* A failed move: the client is owed an answer, or nothing yet. */
	if (s->mg.active && sess_migrate_failed(s, code, msg, &seq))
		return;
	uint8_t buf[512];
	struct proto_wr wr;
	proto_wr_init(&wr, buf, sizeof(buf));
	proto_err_build(&wr, seq, code, sqlstate, msg);

	conn_shutdown(&s->backend);
	worker_backend_release(s);
	sess_set_state(s, SESS_CLOSING);
	conn_read_disable(&s->client);
	if (!conn_is_open(&s->client) || conn_write(&s->client, buf, wr.len) < 0 ||
	    conn_pending(&s->client) == 0) {
		sess_close(s, "error sent");
		return;
	}
	s->client.want_drain = true;
	s->client.low_mark = 0;
	sess_timer_set(s, SESS_LINGER_MS);
}

void sess_drain(struct session *s)
{
	s->flags |= SESS_F_DRAINING;
	if (s->state == SESS_IDLE || s->state == SESS_CLIENT_HANDSHAKE || s->pre_greeting ||
	    s->state == SESS_CLIENT_TLS || s->state == SESS_CLIENT_AUTH)
		sess_close(s, "draining");
}

int sess_wait_budget_ms(const struct session *s)
{
	int ms = s->wt->snap->limits.connect_timeout_ms;
	/* a client without a greeting waits for a failover as a moved session does */
	if (s->pre_greeting && s->wt->cfg->cluster &&
	    s->wt->cfg->cluster->failover.session_wait_ms > ms)
		ms = s->wt->cfg->cluster->failover.session_wait_ms;
	return ms;
}

void sess_backend_wait(struct session *s, const char *why)
{
	conn_shutdown(&s->backend);
	worker_backend_release(s);
	if (s->backend_conn_id)
		conn_ids_set_backend(s, 0);
	int64_t left = s->backend_deadline_us - clock_mono_us();
	if (left <= 0) {
		stat_add(&s->wt->stats->backend_errors, 1);
		sess_fail(s, TANDEM_ER_BACKEND_UNAVAILABLE, TANDEM_SQLSTATE_BACKEND_UNAVAILABLE,
			  "tandem: no writable database server for tenant '%s' within %d ms: %s",
			  s->wt->name, sess_wait_budget_ms(s), why);
		return;
	}
	snprintf(s->why, sizeof(s->why), "%s", why);
	if (s->state != SESS_BACKEND_WAIT) {
		log_debug("session %llu: waiting for a usable primary: %s",
			  (unsigned long long)s->id, why);
		sess_set_state(s, SESS_BACKEND_WAIT);
	}
	sess_timer_set(s, (int)((left + 999) / 1000));
}

void sess_backend_gone(struct session *s, uint16_t code, const char *why)
{
	conn_shutdown(&s->backend);
	worker_backend_release(s);
	if (s->backend_conn_id)
		conn_ids_set_backend(s, 0);
	s->flags |= SESS_F_BACKEND_GONE;
	s->gone_code = code;
	snprintf(s->why, sizeof(s->why), "%s", why);
	/* A command may already be waiting in the buffer. */
	if (evbuffer_get_length(s->client.in) > 0)
		sess_fail(s, code, "08S01", "%s", why);
}

void sess_free(struct session *s)
{
	struct worker *w = s->w;
	sess_timer_clear(s);
	evtimer_del(&s->acct_timer);
	conn_ids_remove(s);
	conn_close(&s->client);
	conn_close(&s->backend);
	worker_backend_release(s);
	worker_preauth_release(s);
	if (s->flags & SESS_F_COUNTED) {
		stat_add(&s->wt->stats->sessions_open, (uint64_t)-1);
		atomic_fetch_sub_explicit(&s->wt->rt->open, 1, memory_order_relaxed);
		atomic_fetch_sub_explicit(&w->d->open_sessions, 1, memory_order_relaxed);
	}
	free(s->attrs);
	sess_change_user_forget(s);
	sess_facts_free(s);
	sess_migrate_free(s);
	sess_guard_free(s);
	sess_replay_free(s);
	if (s->password) {
		proto_wipe(s->password, strlen(s->password));
		free(s->password);
	}
	proto_wipe(s->stage1, sizeof(s->stage1));
	proto_wipe(s->acct_reply, sizeof(s->acct_reply));
	EVP_PKEY_free(s->rsa_key);
	worker_session_closed(w, s);
	free(s);
}

int sess_send_client(struct session *s, const void *pkt, size_t len)
{
	stat_add(&s->wt->stats->bytes_to_clients, len);
	return conn_write(&s->client, pkt, len);
}

int sess_packet_peek(struct evbuffer *in, uint32_t max, const uint8_t **payload, uint32_t *len,
		     uint8_t *seq)
{
	uint8_t hdr[PROTO_HEADER_LEN];
	if (evbuffer_copyout(in, hdr, sizeof(hdr)) < (ssize_t)sizeof(hdr))
		return 0;
	struct proto_frame f;
	proto_frame_parse(hdr, sizeof(hdr), &f);
	*seq = f.seq; /* an ERR for a refused packet follows it too */
	/* Connection-phase packets are small; a full frame here is abuse. */
	if (f.len > max || f.len >= PROTO_MAX_FRAME)
		return PROTO_E_TOO_LARGE;
	size_t span = PROTO_HEADER_LEN + f.len;
	if (evbuffer_get_length(in) < span)
		return 0;
	const uint8_t *p = evbuffer_pullup(in, (ssize_t)span);
	if (!p)
		return PROTO_E_TOO_LARGE;
	*payload = p + PROTO_HEADER_LEN;
	*len = f.len;
	*seq = f.seq;
	return (int)span;
}
