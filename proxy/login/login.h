/*
 * login.h — what proxy/login/ offers the rest of tandem: logins: the
 * client's and the backend's sides, COM_CHANGE_USER, accounts, keys, the
 * failed-login throttle, the capabilities offered. One section per topic,
 * each opening with what its file owns.
 *
 * Owns: the declarations (and the few constants and inline helpers) of the
 * functions proxy/login/'s files define. Must not: declare anything another
 * folder defines.
 */
#ifndef TANDEM_PROXY_LOGIN_H
#define TANDEM_PROXY_LOGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config/config.h"
#include "protocol/handshake.h"
#include "protocol/mysql_const.h"
#include "proxy/session/session_types.h"

/*
 * login — what every login shares (login.c): the scramble replies tandem
 * computes from what it knows of the user, the connect attributes it
 * passes on, forgetting the user's secrets, and counting a failed login.
 * A COM_CHANGE_USER is a login in the middle of a session: client_auth.c,
 * backend_auth.c and change_user.c all use these.
 *
 * Must not: call a phase or change a session's state.
 */
/* The scramble reply for a backend's plugin ("" or NULL means
 * mysql_native_password) from what the session knows. Returns its length,
 * 0 when only an empty reply is possible, -1 for a plugin tandem cannot
 * answer. out holds PROTO_SHA256_LEN bytes. */
int sess_backend_auth_reply(const struct session *s, const char *plugin, const uint8_t *scramble,
			    uint8_t *out);
/* Connect attributes for the backend: the client's plus where it came from. */
size_t sess_backend_attrs(const struct session *s, uint8_t *buf, size_t cap);
/* A caching_sha2 fast-auth login is told "fast auth OK" (0x01 0x03) before
 * the OK, as the server does; nothing for any other login. */
void sess_sha2_fast_ok(struct session *s);
/* Forget every secret of the session's current user. */
void sess_auth_forget(struct session *s);
/* A login (or COM_CHANGE_USER) failed for a reason the client controls:
 * wrong credentials, garbage, a timeout, TLS refused or broken. Counts
 * against the source in the failed-login throttle (throttle.c). */
void sess_login_failed(struct session *s);
/* The client's host as the server names it in an access-denied error
 * ("localhost" for a loopback client, the address without the port). */
void sess_peer_host(struct session *s, char *out, size_t outlen);
/* Remember what a primary's greeting said (wt->greet): the client's
 * greeting is made from it, now (backend_held) or later without a backend
 * connection (client_auth.c sess_client_greet). */
struct wtenant;
struct proto_handshake;
void sess_greeting_remember(struct wtenant *wt, const struct proto_handshake *hs);

/*
 * client_auth — the client side of a login (client_auth.c): the
 * greeting, TLS with the client, checking the client's credentials, and
 * the client conversation of a COM_CHANGE_USER. Its handlers are rows of
 * the driver's table (machine.c).
 */
/* SESS_GREETING_WANTED's enter: send the client its greeting, the
 * primary's (backend_held: just read on the session's backend connection
 * and remembered by login.c), or without one the last greeting this
 * tenant's primary gave on this worker (synthetic connection id), or
 * tandem's defaults; then SESS_CLIENT_HANDSHAKE. Capabilities are masked
 * by sess_caps_greeting() (session_caps, below). */
void sess_client_greet(struct session *s);
void sess_client_handshake_read(struct session *s);
void sess_client_tls_ready(struct session *s);
void sess_client_auth_read(struct session *s);
/* The accounts-reload wait's poll (acct_timer fired: the driver's
 * MACH_ACCOUNTS news): answer the login once the accounts reloaded or the
 * wait is over, else poll on. */
void sess_accounts_read(struct session *s);

/* SESS_CHANGE_USER_AUTH's enter: the COM_CHANGE_USER change_user.c read
 * still heads s->client.in; check its auth data for the new s->user and
 * carry the conversation on, as for a login (the auth switch the server
 * sends unless it names caching_sha2_password first), then drain it. The
 * verified change moves to SESS_CHANGE_USER_WANTED, a refused one to
 * SESS_CHANGE_USER_DENIED (the message in cu_denied). */
void sess_change_user_auth_begin(struct session *s);

/*
 * backend_auth — the backend side of a login (backend_auth.c): connect
 * to the picked primary, its greeting, TLS, the login and its auth
 * conversation, for a first login and a move. Its
 * handlers are rows of the driver's table (machine.c).
 */
/* SESS_BACKEND_WANTED's enter: pick the primary and connect (or wait, or
 * fail). */
void sess_backend_start(struct session *s);
void sess_backend_connected(struct session *s);
void sess_backend_handshake_read(struct session *s);
void sess_backend_tls_ready(struct session *s);
/* SESS_BACKEND_AUTH: the backend's answers to the login. */
void sess_backend_auth_read(struct session *s);

/*
 * backend_reply — the backend's replies to tandem's login or
 * COM_CHANGE_USER (backend_reply.c), shared by backend_auth.c and
 * change_user.c.
 */
/* The final reply (p/len: its payload, valid during the call; span: the
 * bytes to drain from s->backend.in once it is used). */
typedef void (*sess_backend_final_fn)(struct session *s, const uint8_t *p, uint32_t len, int span);

/* Read the backend's replies in s->backend.in: answers to tandem's own
 * statements first (own.c), then auth switches and AuthMoreData are
 * answered; the OK goes to ok, the ERR to err. Stops when the bytes run
 * out or the session's state changes. */
void sess_backend_replies(struct session *s, sess_backend_final_fn ok, sess_backend_final_fn err);

/* Write bytes of the login to the backend; a failed write fails the
 * session. */
void sess_backend_send(struct session *s, const void *buf, size_t len);

/*
 * change_user — COM_CHANGE_USER (change_user.c): the command's start,
 * switching the backend once the client side is verified, the backend's
 * answer, and going on as the previous user when the change is refused.
 * Its handlers are rows of the driver's table (machine.c).
 */
/* SESS_CHANGE_USER_START's enter: the whole COM_CHANGE_USER heads
 * s->client.in (forward.c saw it from SESS_IDLE); read and drain it, and
 * start the client side (SESS_CHANGE_USER_AUTH), or refuse it at once. */
void sess_change_user_start(struct session *s);
/* SESS_CHANGE_USER_WANTED's enter: the client side verified; switch the
 * backend. */
void sess_change_user_backend(struct session *s);
/* SESS_CHANGE_USER_DENIED's enter: the client side refused the new user
 * (1045, the message in s->cu_denied): the client gets the ERR and the
 * session goes on as the previous user, as the server does. */
void sess_change_user_denied(struct session *s);
/* SESS_CHANGE_USER_BACKEND: the backend's replies. Its OK goes to the
 * client; its ERR too, and the server reset the session and kept it as the
 * previous user, so does tandem. */
void sess_change_user_backend_read(struct session *s);
/* Wipe and free what was kept of the previous user (at close). */
void sess_change_user_forget(struct session *s);

/*
 * backend_users — which account a client login checks against: the
 * tenant's configured users first, then (users_from_backend) the cluster's
 * accounts as loaded by health/accounts.c.
 */
struct session;

/*
 * The account for s->user connecting from s->peer, or NULL (unknown: the
 * login is denied, and an unknown name asks the loader for a fresh list).
 * A configured user points into the tenant's snapshot; a backend account
 * is copied into storage of the calling thread, valid until its next call
 * — long enough for one verification, which is all a caller may use it for.
 * Worker thread only.
 */
const struct cfg_user *sess_find_user(struct session *s);

/* Whether the server calls this client 'localhost' (it is at 127.0.0.1 or
 * ::1 and the cluster's server resolves names): the host of its 1045.
 * Known only for tenants with users_from_backend; false otherwise. */
bool sess_peer_is_localhost(struct session *s);

/*
 * auth_keys — the RSA key pair of caching_sha2_password full
 * authentication on connections without TLS.
 *
 * Tandem generates an RSA-2048 pair once at start-up (before any worker
 * runs; immutable afterwards, so workers read it without locks). A config
 * with "rsa_private_key" overrides it: that key lives in the snapshot and
 * changes with reloads. Must not: hand out the private half to anything
 * but a decrypt call.
 */
/* Generate the start-up key. Main thread, before workers start. 0 or -1. */
int auth_keys_init(void);
void auth_keys_free(void);

/* The key sessions of snapshot c use, and its public PEM text; NULL when
 * there is none (auth_keys_init not run or failed). */
struct evp_pkey_st *auth_keys_rsa(const struct cfg *c, const char **pem, size_t *pem_len);

/*
 * throttle — the failed-login throttle, tandem's max_connect_errors:
 * after limits.max_auth_failures failed logins from one source address on
 * one tenant's port within limits.auth_failure_window_ms, that address is
 * blocked on that port for limits.auth_block_ms. A blocked address's
 * connections get ERR 1129 (ER_HOST_IS_BLOCKED) at accept, before the
 * greeting, so no credential of it is ever read. A successful login clears
 * the address's count, as in MySQL.
 *
 * Keyed by (tenant, address): one tenant's misbehaving client cannot get a
 * shared source (a NAT, a host running two tenants' applications) blocked
 * on another tenant's port. IPv4-mapped IPv6 addresses count as IPv4.
 *
 * One table per process, shared by every worker (SO_REUSEPORT spreads one
 * source's connections over all workers), behind one mutex that is taken
 * at accept and at the end of a login only, never while forwarding.
 * Memory is bounded: at most `max_sources` entries (limits.
 * auth_throttle_sources); when full, the least recently used entry that is
 * not blocked is reused, so a scan from many addresses cannot grow the
 * table or push a blocked address out while unblocked ones remain.
 *
 * Owns: the table and its entries. Must not: know sessions, sockets or
 * libevent (it takes addresses and times, so unit tests drive it).
 */
struct throttle;

/* The knobs, read from the current config snapshot at every call (a reload
 * applies to the next call). max_failures 0 turns the throttle off. */
struct throttle_limits {
	unsigned max_failures; /* failed logins that block an address */
	int64_t window_us;     /* ...counted within this window */
	int64_t block_us;      /* how long a block lasts */
	size_t max_sources;    /* entries the table may hold */
};

static inline struct throttle_limits throttle_limits_of(const struct cfg_limits *c)
{
	struct throttle_limits l = {c->max_auth_failures, (int64_t)c->auth_failure_window_ms * 1000,
				    (int64_t)c->auth_block_ms * 1000, c->auth_throttle_sources};
	return l;
}

struct throttle *throttle_new(void);
/* NULL is a no-op. */
void throttle_free(struct throttle *t);

/*
 * At accept: whether (tenant, sa) is blocked now. *left_us (may be NULL)
 * gets the time the block has to run. An expired block is lifted here
 * (its count starts afresh).
 */
bool throttle_blocked(struct throttle *t, const struct throttle_limits *l, const char *tenant,
		      const struct sockaddr *sa, int64_t now_us, int64_t *left_us);

/* A failed login from (tenant, sa). Returns true when this failure blocked
 * the address (the caller logs it once); *failures (may be NULL) gets the
 * count in the current window. */
bool throttle_failed(struct throttle *t, const struct throttle_limits *l, const char *tenant,
		     const struct sockaddr *sa, int64_t now_us, unsigned *failures);

/* A successful login from (tenant, sa): forget its failures. */
void throttle_succeeded(struct throttle *t, const char *tenant, const struct sockaddr *sa);

/* Addresses blocked now (for /metrics and /status), and entries held. */
size_t throttle_nblocked(struct throttle *t, int64_t now_us);
size_t throttle_nentries(struct throttle *t);

/*
 * session_caps — which capabilities tandem offers clients and asks of
 * backends. One place, so the two legs of a session always agree on the
 * flags that change the shape of responses (DEPRECATE_EOF, MULTI_RESULTS,
 * MariaDB's metadata caching and extended type info):
 * the response tracker relies on that. SESSION_TRACK is the exception:
 * backends always get it, and OKs are reshaped for clients without it.
 */
/* Offered to every client. CLIENT_MYSQL stays clear (MariaDB style) so
 * MariaDB clients exchange extended capabilities.
 * Not offered: SSL (unless the tenant has TLS), QUERY_ATTRIBUTES,
 * OPTIONAL_RESULTSET_METADATA, MULTI_FACTOR_AUTH, ZSTD, and MariaDB's
 * COM_MULTI (gone from servers) and BULK_UNIT_RESULTS (11.5+; the tracker
 * would read its result sets, but it is untested against a server).
 * COMPRESS: conn.c inflates and deflates on the client leg, and the
 * backend leg compresses too when the client does and the server can
 * (login_caps() in backend_auth.c), so the server's Compression status is
 * the client's. Not shape-changing: each leg frames on its own.
 * RESERVED (the old 4.1 flag) and REMEMBER_OPTIONS change nothing on the
 * wire; MariaDB announces both, so they are mirrored like the rest. */
#define SESS_CAPS_BASE                                                                       \
	(CLIENT_FOUND_ROWS | CLIENT_LONG_FLAG | CLIENT_CONNECT_WITH_DB | CLIENT_NO_SCHEMA |  \
	 CLIENT_ODBC | CLIENT_IGNORE_SPACE | CLIENT_PROTOCOL_41 | CLIENT_INTERACTIVE |       \
	 CLIENT_IGNORE_SIGPIPE | CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION |            \
	 CLIENT_MULTI_STATEMENTS | CLIENT_MULTI_RESULTS | CLIENT_PS_MULTI_RESULTS |          \
	 CLIENT_PLUGIN_AUTH | CLIENT_CONNECT_ATTRS | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | \
	 CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS | CLIENT_SESSION_TRACK | CLIENT_DEPRECATE_EOF | \
	 CLIENT_COMPRESS | CLIENT_RESERVED | CLIENT_REMEMBER_OPTIONS | SESS_CAPS_MARIADB)

/* MariaDB extended capabilities tandem passes through (the high 32 bits):
 * progress packets, COM_STMT_BULK_EXECUTE, extended type info in column
 * definitions, metadata caching (docs/protocol.md). The backend gets the
 * client's, as far as it has them. */
#define SESS_CAPS_MARIADB                                                \
	(MARIADB_CLIENT_PROGRESS | MARIADB_CLIENT_STMT_BULK_OPERATIONS | \
	 MARIADB_CLIENT_EXTENDED_METADATA | MARIADB_CLIENT_CACHE_METADATA)

static inline uint64_t sess_caps_offered(const struct cfg_tenant *t)
{
	uint64_t caps = SESS_CAPS_BASE;
	if (t && t->local_infile)
		caps |= CLIENT_LOCAL_FILES;
	if (t && t->tls)
		caps |= CLIENT_SSL;
	return caps;
}

/* What tandem provides itself, whatever the backend offers: TLS to the
 * client is tandem's own. */
#define SESS_CAPS_OWN (CLIENT_SSL)

/* The capabilities of the client's greeting: what the primary announced
 * (its greeting, MariaDB extended capabilities in the high 32 bits
 * included), as far as sess_caps_offered() allows, plus what tandem
 * provides itself. A bit added to sess_caps_offered() reaches clients of a
 * server that has it with no other change. */
static inline uint64_t sess_caps_greeting(const struct cfg_tenant *t, uint64_t server_caps)
{
	uint64_t offered = sess_caps_offered(t);
	return (server_caps & offered) | (offered & SESS_CAPS_OWN);
}

/* Flags whose value must be the same on both legs: a backend that lacks
 * one the client uses is refused (a move goes to another, or fails).
 * Not among them: MariaDB's PROGRESS (a server without it sends no
 * progress packets, which a client cannot tell from a fast statement) and
 * LOCAL_FILES (a server without it, local_infile=OFF, never asks for a
 * file and refuses LOAD DATA LOCAL with 4166, as it would directly; the
 * client's offer is Connector/C's default, and a login must not fail for
 * it). */
#define SESS_CAPS_SHAPE                                                                       \
	(CLIENT_DEPRECATE_EOF | CLIENT_MULTI_RESULTS | CLIENT_PS_MULTI_RESULTS |              \
	 CLIENT_PROTOCOL_41 | CLIENT_MULTI_STATEMENTS | MARIADB_CLIENT_STMT_BULK_OPERATIONS | \
	 MARIADB_CLIENT_EXTENDED_METADATA | MARIADB_CLIENT_CACHE_METADATA)

/* Asked of every backend that offers them, whatever the client did.
 * SESSION_TRACK: tandem learns the session's state from every OK
 * (docs/sessions.md); for a client without it, forward.c rebuilds each OK
 * that carries state (and clears the state flag of such an EOF). Only
 * those packets differ between the two shapes, so rows pass untouched. */
#define SESS_CAPS_BACKEND_ALWAYS (CLIENT_SESSION_TRACK)

#endif
