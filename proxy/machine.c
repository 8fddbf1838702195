/*
 * machine.c — the session machine's driver: the table of what each state
 * does on entering and on each kind of news, the connection and timer
 * callbacks of every session (the only way news reaches a phase), and a
 * session's creation and freeing.
 *
 * A phase changes state and returns; this file calls the next phase (the
 * enter of the state it moved into). Handlers that belong to no phase —
 * the server ending a session, a backend that closed, the timeouts — live
 * here because they decide which phase comes next.
 *
 * Must not: parse a protocol packet beyond its first bytes, or keep state
 * of its own.
 */
#include "proxy/io/io.h"
#include "proxy/move/move.h"
#include "proxy/session/session.h"
#include "proxy/login/login.h"
#include "proxy/command/command.h"
#include "proxy/machine.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "health/monitor.h"
#include "protocol/auth.h"
#include "protocol/okerr.h"
#include "proxy/process/worker_types.h"

/* How long a session may take to flush the server's last packets. */
#define MACH_LINGER_MS 2000

/* A state's enter may move it on again; more than this many in one settle
 * is a loop in the table, not a session. */
#define MACH_SETTLE_MAX 64

static const struct mach_state states[SESS_NSTATES];

const struct mach_state *mach_table(void)
{
	return states;
}

static void settle_moves(struct session *s)
{
	for (int n = 0; s->moved; n++) {
		s->moved = false;
		if (s->state == SESS_CLOSING || s->state == SESS_CLOSED)
			return;
		if (n == MACH_SETTLE_MAX) {
			log_error("session %llu: state %s does not settle",
				  (unsigned long long)s->id, sess_state_name(s->state));
			sess_close(s, "internal state error");
			return;
		}
		if (states[s->state].enter)
			states[s->state].enter(s);
	}
}

/* Every callback ends here; most change nothing, so the check is inline. */
static inline void settle(struct session *s)
{
	if (s->moved)
		settle_moves(s);
}

void mach_settle(struct session *s)
{
	settle(s);
}

/* ------------------------------------------------------------- enters */

/* BACKEND_WANTED: pick the primary and connect (or wait, or fail). */
static void enter_backend_wanted(struct session *s)
{
	sess_backend_start(s);
}

/* GREETING_WANTED: greet the client; bytes a client sent before its
 * greeting are its login attempt. */
static void enter_greeting_wanted(struct session *s)
{
	sess_client_greet(s);
	if (s->state == SESS_CLIENT_HANDSHAKE && evbuffer_get_length(s->client.in) > 0) {
		conn_read_enable(&s->client);
		sess_client_handshake_read(s);
	}
}

/* IDLE: a response is complete, or a login or a move is done. A session
 * whose backend is gone only waits for the client's next command; a
 * draining one closes; a switchover waits for this session to leave the
 * old primary. */
static void enter_idle(struct session *s)
{
	if (s->flags & SESS_F_BACKEND_GONE)
		return;
	if (s->flags & SESS_F_DRAINING) {
		sess_close(s, "draining");
		return;
	}
	if (s->mg.park && sess_migrate_park(s))
		return;
	sess_idle_enter(s);
}

/* ------------------------------------------------------- client reads */

/* Bytes that arrive while the backend works stay buffered until the
 * session is idle again; stop reading if a client floods. */
static void client_hold(struct session *s)
{
	if (evbuffer_get_length(s->client.in) > s->wt->snap->limits.buffer_high)
		conn_read_disable(&s->client);
}

static void client_idle_read(struct session *s)
{
	if (s->flags & SESS_F_BACKEND_GONE) {
		sess_fail(s, s->gone_code, "08S01", "%s", s->why);
		return;
	}
	sess_idle_read(s);
}

static void client_discard(struct session *s)
{
	/* the session is going away */
	evbuffer_drain(s->client.in, evbuffer_get_length(s->client.in));
}

/* ------------------------------------------------------ backend reads */

static void backend_discard(struct session *s)
{
	evbuffer_drain(s->backend.in, evbuffer_get_length(s->backend.in));
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
	env_backend_release(s);
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
	sess_timer_set(s, MACH_LINGER_MS);
}

/* Backend bytes in a state that expects none. */
static void backend_unexpected(struct session *s)
{
	/* Answers to tandem's own statements may arrive while idle. */
	if (own_pending(s) &&
	    (s->state == SESS_IDLE || s->state == SESS_COMMAND ||
	     s->state == SESS_CHANGE_USER_AUTH) &&
	    (!own_read(s) || evbuffer_get_length(s->backend.in) == 0))
		return;
	if (s->backend_held) {
		/* nothing is owed to a client not logged in: log in afresh */
		backend_discard(s);
		sess_backend_unhold(s);
		return;
	}
	/* A server speaking out of turn: an ERR before it closes the
	 * connection. A shutdown (1053) loses the connection, not the
	 * session: it moves. Any other (idle timeout 4031, KILL 1927, or 1153
	 * for a command larger than its max_allowed_packet, sent while the
	 * command still streams in) is the server ending the session: the
	 * client gets it as it is. */
	if ((s->state == SESS_IDLE || s->state == SESS_COMMAND) &&
	    !(s->flags & SESS_F_VERDICT_WAIT)) {
		uint8_t head[PROTO_HEADER_LEN + 3];
		if (evbuffer_copyout(s->backend.in, head, sizeof(head)) == sizeof(head) &&
		    head[PROTO_HEADER_LEN] == PROTO_ERR_HEADER) {
			uint16_t code = (uint16_t)(head[PROTO_HEADER_LEN + 1] |
						   head[PROTO_HEADER_LEN + 2] << 8);
			if (code != ER_SERVER_SHUTDOWN) {
				server_closed(s, code);
				return;
			}
			backend_discard(s);
			sess_backend_lost(s, "ended the connection with an error");
			return;
		}
	}
	log_info("session %llu: backend %s sent %zu unexpected bytes in state %s; closing",
		 (unsigned long long)s->id, s->backend_addr, evbuffer_get_length(s->backend.in),
		 sess_state_name(s->state));
	sess_close(s, "backend spoke out of turn");
}

/* -------------------------------------------------------------- events */

/* The client closed or failed: nothing is left to answer. */
static void client_gone(struct session *s, enum conn_event ev)
{
	log_debug("session %llu: client %s in state %s", (unsigned long long)s->id,
		  ev == CONN_EOF ? "closed" : "error", sess_state_name(s->state));
	sess_close(s, ev == CONN_EOF ? "client closed" : "client socket error");
}

/* A held greeting connection closed (the server's own login timeout,
 * most likely): the login connects afresh later. */
static bool backend_held_gone(struct session *s)
{
	if (!s->backend_held)
		return false;
	sess_backend_unhold(s);
	return true;
}

/* A session's backend closed without a word (or after an answer, as a
 * KILL of oneself does). If the member still is the primary, only a fresh
 * probe can tell a server that ended the session (wait_timeout, KILL) from
 * one that died: wait for that verdict; the client's bytes wait too. */
static void backend_closed(struct session *s, const char *why, uint64_t seq, bool reset)
{
	if (!seq || s->mg.active || !env_backend_current(s->w, s)) {
		sess_backend_lost(s, why);
		return;
	}
	s->server_reset = reset;
	conn_shutdown(&s->backend);
	env_backend_release(s);
	s->flags |= SESS_F_VERDICT_WAIT;
	s->verdict_seq = seq;
	snprintf(s->why, sizeof(s->why), "%s", why);
	log_debug("session %llu: backend %s %s; waiting for the monitor's verdict",
		  (unsigned long long)s->id, s->backend_addr, why);
	sess_timer_set(s, s->wt->snap->limits.connect_timeout_ms);
}

/* Any state without a backend event of its own. */
static void event_default(struct session *s, enum mach_leg leg, enum conn_event ev)
{
	if (leg == MACH_CLIENT) {
		client_gone(s, ev);
		return;
	}
	if (leg != MACH_BACKEND || backend_held_gone(s))
		return;
	log_info("session %llu: backend %s %s while %s", (unsigned long long)s->id, s->backend_addr,
		 ev == CONN_EOF ? "closed the connection" : "socket error",
		 sess_state_name(s->state));
	sess_close(s, "backend gone");
}

static void event_client_tls(struct session *s, enum mach_leg leg, enum conn_event ev)
{
	if (leg != MACH_CLIENT) {
		event_default(s, leg, ev);
		return;
	}
	/* No ERR is possible mid-handshake: log why, and close. */
	stat_add(&s->wt->stats->client_errors, 1);
	if (ev != CONN_EOF)
		sess_login_failed(s);
	log_info("session %llu: TLS handshake with %s failed: %s", (unsigned long long)s->id,
		 s->peer_text,
		 ev == CONN_EOF ? "the client closed the connection" : conn_tls_error(&s->client));
	sess_close(s, "client TLS handshake failed");
}

/* True when the news is the session's backend closing or failing; the
 * client's close, and the end of a held greeting connection, are dealt
 * with here. */
static bool backend_news(struct session *s, enum mach_leg leg, enum conn_event ev)
{
	if (leg == MACH_BACKEND && !backend_held_gone(s))
		return true;
	if (leg == MACH_CLIENT)
		client_gone(s, ev);
	return false;
}

/* The same, counted as a backend error (*err: the socket's errno). */
static bool backend_failed(struct session *s, enum mach_leg leg, enum conn_event ev, int *err)
{
	if (!backend_news(s, leg, ev))
		return false;
	*err = s->backend.error;
	stat_add(&s->wt->stats->backend_errors, 1);
	return true;
}

/* BACKEND_CONNECT, BACKEND_HANDSHAKE, BACKEND_AUTH: nothing reached the
 * client yet; wait for the monitor's verdict (a failover may be
 * starting) instead of failing at once. */
static void event_login(struct session *s, enum mach_leg leg, enum conn_event ev)
{
	int err;
	if (!backend_failed(s, leg, ev, &err))
		return;
	sess_suspect_backend(s);
	char why[200];
	snprintf(why, sizeof(why), "cannot reach the database server %s (%s)", s->backend_addr,
		 ev == CONN_EOF ? "connection closed" : strerror(err));
	sess_backend_wait(s, why);
}

static void event_backend_tls(struct session *s, enum mach_leg leg, enum conn_event ev)
{
	if (leg != MACH_BACKEND) {
		event_default(s, leg, ev);
		return;
	}
	/* Not a liveness problem: no suspicion for the monitor. */
	stat_add(&s->wt->stats->backend_errors, 1);
	sess_fail(s, TANDEM_ER_BACKEND_TLS, TANDEM_SQLSTATE_BACKEND_UNAVAILABLE,
		  "tandem: TLS to the database server %s failed: %s", s->backend_addr,
		  ev == CONN_EOF ? "the server closed the connection"
				 : conn_tls_error(&s->backend));
}

/* The states with a logged-in backend (IDLE, COMMAND, RESULT, LOCAL_INFILE,
 * the COM_CHANGE_USER ones). */
static void event_attached(struct session *s, enum mach_leg leg, enum conn_event ev)
{
	int err;
	if (!backend_failed(s, leg, ev, &err))
		return;
	uint64_t seq = sess_suspect_backend(s);
	if (s->flags & (SESS_F_BACKEND_GONE | SESS_F_VERDICT_WAIT))
		return;
	const char *why = ev == CONN_EOF ? "closed the connection" : "reset the connection";
	backend_closed(s, why, seq, ev == CONN_ERROR && err == ECONNRESET);
}

static void event_restore(struct session *s, enum mach_leg leg, enum conn_event ev)
{
	if (leg == MACH_LOOKUP) {
		/* the binlog lookup of a cut-off commit answered */
		if (s->mg.inflight == MIG_RESOLVE)
			sess_restore_read(s);
		return;
	}
	if (!backend_news(s, leg, ev))
		return;
	char why[200];
	snprintf(why, sizeof(why), "the database server %s %s while the session was restored",
		 s->backend_addr, ev == CONN_EOF ? "closed the connection" : "socket error");
	sess_backend_wait(s, why);
}

/* CLIENT_HANDSHAKE, CLIENT_AUTH: a login waiting for the accounts to
 * reload hears of it here (acct_timer, MACH_ACCOUNTS). */
static void event_client_login(struct session *s, enum mach_leg leg, enum conn_event ev)
{
	if (leg == MACH_ACCOUNTS) {
		sess_accounts_read(s);
		return;
	}
	event_default(s, leg, ev);
}

/* CHANGE_USER_AUTH: the same wait, with a logged-in backend. */
static void event_change_user_auth(struct session *s, enum mach_leg leg, enum conn_event ev)
{
	if (leg == MACH_ACCOUNTS) {
		sess_accounts_read(s);
		return;
	}
	event_attached(s, leg, ev);
}

/* -------------------------------------------------------------- timers */

static void timer_client_tls(struct session *s)
{
	stat_add(&s->wt->stats->client_errors, 1);
	sess_login_failed(s);
	log_info("session %llu: %s did not finish its TLS handshake within %d ms; closing",
		 (unsigned long long)s->id, s->peer_text, s->wt->snap->limits.auth_timeout_ms);
	sess_close(s, "TLS handshake timed out");
}

static void timer_client_login(struct session *s)
{
	stat_add(&s->wt->stats->client_errors, 1);
	sess_login_failed(s);
	log_info("session %llu: %s did not finish logging in within %d ms",
		 (unsigned long long)s->id, s->peer_text, s->wt->snap->limits.auth_timeout_ms);
	/* A client stalled half-way through a packet expects the answer to
	 * follow that packet: its library drops an ERR out of order. */
	uint8_t hdr[PROTO_HEADER_LEN];
	if (evbuffer_copyout(s->client.in, hdr, sizeof(hdr)) == (ssize_t)sizeof(hdr))
		s->client_seq = (uint8_t)(hdr[3] + 1);
	sess_fail(s, ER_HANDSHAKE_ERROR, "08S01", "Bad handshake: login timed out");
}

static void timer_backend(struct session *s)
{
	stat_add(&s->wt->stats->backend_errors, 1);
	sess_suspect_backend(s);
	sess_fail(s, TANDEM_ER_BACKEND_UNAVAILABLE, TANDEM_SQLSTATE_BACKEND_UNAVAILABLE,
		  "tandem: the database server %s for tenant '%s' did not answer within %d ms",
		  s->backend_addr, s->wt->name, s->wt->snap->limits.connect_timeout_ms);
}

static void timer_backend_wait(struct session *s)
{
	stat_add(&s->wt->stats->backend_errors, 1);
	sess_fail(s, TANDEM_ER_BACKEND_UNAVAILABLE, TANDEM_SQLSTATE_BACKEND_UNAVAILABLE,
		  "tandem: no writable database server for tenant '%s' within %d ms: %s",
		  s->wt->name, sess_wait_budget_ms(s), s->why);
}

static void timer_idle(struct session *s)
{
	log_info("session %llu: idle for %d ms; closing", (unsigned long long)s->id,
		 s->wt->snap->limits.idle_timeout_ms);
	sess_close(s, "idle timeout");
}

static void timer_closing(struct session *s)
{
	sess_close(s, "client did not read its error");
}

/* --------------------------------------------------------------- table */

#define C MACH_CLIENT
#define B MACH_BACKEND
#define T MACH_TIMER
#define A MACH_ACCOUNTS
static const struct mach_state states[SESS_NSTATES] = {
	[SESS_GREETING_WANTED] = {enter_greeting_wanted, NULL, NULL, NULL, NULL, 0},
	[SESS_CLIENT_HANDSHAKE] = {NULL, sess_client_handshake_read, backend_unexpected,
				   timer_client_login, event_client_login, C | T | A},
	[SESS_CLIENT_TLS] = {NULL, client_hold, backend_unexpected, timer_client_tls,
			     event_client_tls, C | T},
	[SESS_CLIENT_AUTH] = {NULL, sess_client_auth_read, backend_unexpected, timer_client_login,
			      event_client_login, C | T | A},
	[SESS_BACKEND_WANTED] = {enter_backend_wanted, NULL, NULL, NULL, NULL, 0},
	[SESS_BACKEND_WAIT] = {NULL, client_hold, backend_unexpected, timer_backend_wait,
			       event_default, T},
	[SESS_BACKEND_CONNECT] = {NULL, client_hold, backend_unexpected, timer_backend, event_login,
				  B | T},
	[SESS_BACKEND_HANDSHAKE] = {NULL, client_hold, sess_backend_handshake_read, timer_backend,
				    event_login, B | T},
	[SESS_BACKEND_TLS] = {NULL, client_hold, backend_unexpected, timer_backend,
			      event_backend_tls, B | T},
	[SESS_BACKEND_AUTH] = {NULL, client_hold, sess_backend_auth_read, timer_backend,
			       event_login, B | T},
	[SESS_IDLE] = {enter_idle, client_idle_read, backend_unexpected, timer_idle, event_attached,
		       C | T},
	[SESS_CHANGE_USER_START] = {sess_change_user_start, NULL, NULL, NULL, NULL, 0},
	[SESS_CHANGE_USER_AUTH] = {sess_change_user_auth_begin, sess_client_auth_read,
				   backend_unexpected, timer_client_login, event_change_user_auth,
				   C | T | A},
	[SESS_CHANGE_USER_WANTED] = {sess_change_user_backend, NULL, NULL, NULL, NULL, 0},
	[SESS_CHANGE_USER_DENIED] = {sess_change_user_denied, NULL, NULL, NULL, NULL, 0},
	[SESS_CHANGE_USER_BACKEND] = {NULL, client_hold, sess_change_user_backend_read,
				      timer_backend, event_attached, B | T},
	[SESS_COMMAND] = {NULL, sess_idle_read, backend_unexpected, NULL, event_attached, C},
	[SESS_RESULT] = {NULL, client_hold, sess_result_read, NULL, event_attached, B},
	[SESS_LOCAL_INFILE] = {sess_infile_read, sess_infile_read, backend_unexpected, NULL,
			       event_attached, C},
	[SESS_RESTORE] = {sess_migrate_logged_in, client_hold, sess_restore_read, timer_backend,
			  event_restore, B | T | MACH_LOOKUP},
	[SESS_CLOSING] = {NULL, client_discard, backend_discard, timer_closing, event_default, T},
	[SESS_CLOSED] = {NULL, NULL, backend_discard, NULL, NULL, 0},
};
#undef C
#undef B
#undef T
#undef A

/* ----------------------------------------------------------- callbacks */

static void client_on_read(struct conn *c, void *arg)
{
	struct session *s = arg;
	(void)c;
	if (s->flags & SESS_F_VERDICT_WAIT) {
		/* what the client sends waits for the monitor's verdict */
		client_hold(s);
		return;
	}
	void (*read)(struct session *) = states[s->state].client_read;
	if (read)
		read(s);
	else
		client_hold(s);
	settle(s);
}

static void backend_on_read(struct conn *c, void *arg)
{
	struct session *s = arg;
	(void)c;
	void (*read)(struct session *) = states[s->state].backend_read;
	if (read)
		read(s);
	settle(s);
}

static void on_drain(struct conn *c, void *arg)
{
	struct session *s = arg;
	if (s->state == SESS_CLOSING && c == &s->client) {
		sess_close(s, "error sent");
		return;
	}
	sess_forward_backpressure(s, c);
	settle(s);
}

static void client_on_event(struct conn *c, enum conn_event ev, void *arg)
{
	struct session *s = arg;
	(void)c;
	if (s->state == SESS_CLOSED)
		return;
	if (ev == CONN_TLS_READY)
		sess_client_tls_ready(s);
	else if (states[s->state].event)
		states[s->state].event(s, MACH_CLIENT, ev);
	settle(s);
}

static void backend_on_event(struct conn *c, enum conn_event ev, void *arg)
{
	struct session *s = arg;
	(void)c;
	if (s->state == SESS_CLOSED || s->state == SESS_CLOSING)
		return;
	if (ev == CONN_CONNECTED)
		sess_backend_connected(s);
	else if (ev == CONN_TLS_READY)
		sess_backend_tls_ready(s);
	else if (states[s->state].event)
		states[s->state].event(s, MACH_BACKEND, ev);
	settle(s);
}

static const struct conn_cbs client_cbs = {client_on_read, on_drain, client_on_event};
static const struct conn_cbs backend_cbs = {backend_on_read, on_drain, backend_on_event};

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
	} else if (states[s->state].timer) {
		states[s->state].timer(s);
	}
	settle(s);
}

/* acct_timer: a login waiting for the accounts to reload looks again. */
static void on_accounts_timer(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	(void)fd;
	(void)what;
	if (s->state == SESS_CLOSED)
		return;
	if (states[s->state].event)
		states[s->state].event(s, MACH_ACCOUNTS, 0);
	settle(s);
}

/* The commit guard's lookup answered (lent to the session as s->news). */
static void on_news(struct session *s, unsigned leg)
{
	if (s->state == SESS_CLOSED)
		return;
	if (states[s->state].event)
		states[s->state].event(s, (enum mach_leg)leg, 0);
	settle(s);
}

/* ------------------------------------------------- news from the worker */

void mach_topology(struct session *s, const struct hc_topology *t)
{
	sess_migrate_topology(s, t);
	settle(s);
}

void mach_verdict(struct session *s, const struct hc_topology *t)
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
	settle(s);
}

void mach_retry(struct session *s)
{
	if (s->state != SESS_BACKEND_WAIT)
		return;
	sess_set_state(s, SESS_BACKEND_WANTED);
	settle(s);
}

void mach_unhold(struct session *s)
{
	sess_backend_unhold(s);
	settle(s);
}

/* ------------------------------------------------------ create / free */

struct session *mach_accept(struct worker *w, struct wtenant *wt, int fd,
			    const struct sockaddr *peer, socklen_t peerlen)
{
	struct session *s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		return NULL;
	}
	s->client.fd = s->backend.fd = -1;
	s->w = w;
	s->env = &w->env;
	s->wt = wt;
	s->backend_cbs = &backend_cbs;
	s->news = on_news;
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

	if (conn_open_fd(&s->client, s->env->base, s->env->read_pool, fd, &client_cbs, s) < 0) {
		close(fd);
		free(s);
		return NULL;
	}
	evtimer_assign(&s->timer, s->env->base, on_timer, s);
	evtimer_assign(&s->acct_timer, s->env->base, on_accounts_timer, s);
	/* the first state: both are transient, their enters run below */
	s->state = SESS_GREETING_WANTED;

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
	event_base_update_cache_time(s->env->base);
	sess_timer_set(s, wt->snap->limits.auth_timeout_ms);
	/* The greeting is the primary's: connect first (waiting for a
	 * failover up to sess_wait_budget_ms), unless the process already
	 * holds its share of backend connections for clients not logged in
	 * and this tenant's primary has greeted on this worker before. */
	bool hold = env_preauth_hold(s);
	if (wt->cfg->cluster && (hold || !wt->greet.known)) {
		s->pre_greeting = true;
		s->state = SESS_BACKEND_WANTED;
	} else {
		env_preauth_release(s);
	}
	s->moved = true;
	settle(s);
	return s;
}

void mach_free(struct session *s)
{
	sess_timer_clear(s);
	evtimer_del(&s->acct_timer);
	conn_ids_remove(s);
	conn_close(&s->client);
	conn_close(&s->backend);
	env_backend_release(s);
	env_preauth_release(s);
	if (s->flags & SESS_F_COUNTED) {
		stat_add(&s->wt->stats->sessions_open, (uint64_t)-1);
		atomic_fetch_sub_explicit(&s->wt->rt->open, 1, memory_order_relaxed);
		atomic_fetch_sub_explicit(s->env->open_sessions, 1, memory_order_relaxed);
	}
	free(s->attrs);
	sess_change_user_forget(s);
	sess_facts_free(s);
	sess_migrate_free(s);
	sess_guard_free(s);
	sess_replay_free(s);
	own_free(s);
	if (s->password) {
		proto_wipe(s->password, strlen(s->password));
		free(s->password);
	}
	proto_wipe(s->stage1, sizeof(s->stage1));
	proto_wipe(s->acct_reply, sizeof(s->acct_reply));
	EVP_PKEY_free(s->rsa_key);
	free(s);
}
