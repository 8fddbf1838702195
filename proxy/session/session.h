/*
 * session.h — what proxy/session/ offers the rest of tandem: one session's
 * shared core: the session and its queue of tandem's own statements, its
 * facts and OKs, ids, the worker's environment, tenants, wire helpers. One
 * section per topic, each opening with what its file owns; its types are in
 * own_types.h, session_facts_types.h, session_types.h, tenant_types.h.
 *
 * Owns: the declarations (and the few constants and inline helpers) of the
 * functions proxy/session/'s files define. Must not: declare anything
 * another folder defines.
 */
#ifndef TANDEM_PROXY_SESSION_H
#define TANDEM_PROXY_SESSION_H

#include <event2/buffer.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "health/topology.h"
#include "protocol/facts.h"
#include "protocol/okerr.h"
#include "protocol/sqlclass.h"
#include "protocol/tracker.h"
#include "proxy/process/worker_types.h"
#include "proxy/session/own_types.h"
#include "proxy/session/session_facts_types.h"
#include "proxy/session/session_types.h"
#include "proxy/session/tenant_types.h"

/*
 * session — one client session: its state machine, its two connections,
 * and what it knows about itself.
 *
 * A session lives on one worker from accept to close. Its life is the
 * enum in session_types.h; sess_set_state() is the only place the state
 * changes, checks the transition against the table in session.c, and
 * traces it. What each state does on entering and on news is one row of
 * the driver's table (machine.c): a phase changes state and returns, and
 * only the driver calls the next phase.
 *
 * Only the worker's event loop frees a session: code that wants a session
 * gone calls sess_close(), which marks it SESS_CLOSED and queues it; the
 * worker reaps it after the current callback has unwound.
 */
const char *sess_state_name(enum sess_state st);
/* Whether the table allows from -> to (CLOSING and CLOSED always are). */
bool sess_transition_allowed(enum sess_state from, enum sess_state to);

/* Change state; logs at debug level, and refuses (logs an error, closes the
 * session) a transition the table does not allow. Marks the session moved:
 * the driver runs the new state's enter once the handler returns. */
void sess_set_state(struct session *s, enum sess_state to);

/* Queue the session for freeing; safe to call repeatedly. */
void sess_close(struct session *s, const char *why);
/* Send an ERR to the client, then close once it is flushed (bounded). */
void sess_fail(struct session *s, uint16_t code, const char *sqlstate, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Close-when-idle (shutdown, tenant removed); idle sessions go at once. */
void sess_drain(struct session *s);

/* No usable primary now: drop any backend connection and wait in
 * SESS_BACKEND_WAIT for the worker's next topology (mach_retry: the
 * primary is picked again), or fail with why once backend_deadline_us has
 * passed. Safe inside the backend connection's callbacks. */
void sess_backend_wait(struct session *s, const char *why);
/* How long a login may wait for a usable primary: limits.connect_timeout_ms,
 * or failover.session_wait_ms if longer for a client without a greeting. */
int sess_wait_budget_ms(const struct session *s);
/* An idle session's backend is unusable: close it now and answer the
 * client's next command with this ERR (then close), so the client sees an
 * error rather than a dropped connection. */
void sess_backend_gone(struct session *s, uint16_t code, const char *why);

/* The backend did not answer or closed: tell the monitor (a probe soon).
 * Returns the probe request's number, 0 without a monitor. */
uint64_t sess_suspect_backend(struct session *s);
/* Drop the backend connection held for a client not logged in yet; its
 * login will connect afresh. Safe inside the backend's callbacks. */
void sess_backend_unhold(struct session *s);

/* Arm / disarm the session timer. */
void sess_timer_set(struct session *s, int ms);
void sess_timer_clear(struct session *s);

/* Send a packet built by a proto_*_build function. */
int sess_send_client(struct session *s, const void *pkt, size_t len);
/* Send the client an ERR (sequence id seq; msg cut to what one 512-byte
 * packet holds) as an answer, the session staying as it is: the caller
 * says what comes next. <0 when it could not be queued. */
int sess_send_err(struct session *s, uint8_t seq, uint16_t code, const char *sqlstate,
		  const char *msg);

/*
 * own — the one queue of statements tandem sends on a session's backend
 * connection on its own (own.c): session setup, restore after a move, the
 * replayed transaction, the reset before a refused COM_CHANGE_USER. Each
 * entry names its purpose and the reader of its answer; own_read() is the
 * one place those answers are swallowed, so the client gets exactly the
 * server's answers to its own statements.
 *
 * Must not: call a phase (the readers are the phases' own, passed in).
 */
/* Record a statement just written to s->backend.out (cmd, len: the
 * command's payload, its command byte first; only its head is kept).
 * False when out of memory (the statement's answer would then be mistaken
 * for the client's: the caller fails the session or gives up the
 * statement's purpose). */
bool own_push(struct session *s, enum own_purpose purpose, const uint8_t *cmd, size_t len,
	      uint32_t ref, uint32_t arg, own_reader read);
/* Answers still owed (inline: the forwarding path asks on every read). */
static inline size_t own_pending(const struct session *s)
{
	return s->own.n - s->own.head;
}
/* Of those, the ones for this purpose. */
size_t own_pending_for(const struct session *s, enum own_purpose purpose);
/* The backend connection is gone: its answers will never come. */
void own_clear(struct session *s);
/* Swallow the answers owed, in order, handing each packet to its entry's
 * reader. True when none is owed any more (what follows is the client's);
 * false when more bytes are needed or a reader changed the session's
 * course (the caller returns). */
bool own_read(struct session *s);
/* Free the queue (mach_free). */
void own_free(struct session *s);

/*
 * session_facts — what a session knows about its server-side state, and
 * the proxy code that keeps it current.
 *
 * The facts themselves (protocol/facts.h) are pure data; this header adds
 * the per-session bookkeeping around them: tandem's own setup statement
 * on every fresh backend connection (backend_setup.c), whose response the
 * client must never see; the command in flight (its SQL class, the text a
 * prepare or COM_INIT_DB will make current); and the commands tandem
 * answers itself. forward.c updates the facts from every response.
 *
 * Owns: struct sess_facts inside struct session. Must not: touch the
 * session's connections except through the functions declared here.
 */
struct session;

/* Free what the facts hold (mach_free). Safe on a zeroed struct. */
void sess_facts_free(struct session *s);

/*
 * backend_setup.c. The backend accepted the login (ok is its OK): start
 * the facts from the login, and send tandem's setup statement (session
 * tracking on) ahead of anything the client will send, so it costs the
 * client no round trip. Call before the login OK goes to the client.
 */
void sess_setup_begin(struct session *s, const struct proto_ok *login_ok);

/* A moved session's new backend: send the setup statement again, keeping
 * the facts (they describe the session, not the connection). */
void sess_setup_resend(struct session *s);

/* The client changed its session_track_* settings: read them (its view),
 * then turn tandem's tracking on again. */
void sess_setup_relearn(struct session *s);

/* The command in flight changes the client's tracking settings: keep
 * the ones it started with (its OK reports what either tracks);
 * settled: the command is done. */
void sess_track_changing(struct session *s);
void sess_track_settled(struct session *s);

/* One of the client's session_track_* variables has this value now. */
void sess_track_view_set(struct session *s, const char *name, size_t nlen, const char *value,
			 size_t vlen);

/*
 * The backend confirmed COM_RESET_CONNECTION or COM_CHANGE_USER: the
 * server forgot the session's state, session tracking included. Reset the
 * facts to the given collation and schema (schema may be NULL), and send
 * the setup statement again (its answer is swallowed as at login). The
 * `auth` work calls this after a successful COM_CHANGE_USER.
 */
void sess_facts_reset(struct session *s, uint8_t charset, const char *schema, size_t len);

/*
 * facts_track.c, called by forward.c for the command in flight.
 */
/* A client command is about to be forwarded (payload holds `have` of its
 * bytes, all of them when whole): classify its SQL, keep the text a prepare
 * or COM_INIT_DB will make current, count the file requests it may cause. */
void sess_facts_command(struct session *s, const uint8_t *payload, size_t have, bool whole);
/* Translate the client's statement id of a COM_STMT_* command in place to
 * the backend's (COM_STMT_CLOSE also forgets it). 0: forward it. -1: do
 * not; answer with *code and msg, or, when *code is 0, drop it silently
 * (a command without a response). */
int sess_facts_stmt_id(struct session *s, uint8_t *payload, size_t have, uint16_t *code, char *msg,
		       size_t msglen);
/* A COM_STMT_EXECUTE (payload of len bytes, backend id already in place)
 * of a statement whose types the backend does not hold: a new payload with
 * the kept types in it (malloc'd; *newlen its length), or NULL (memory). */
uint8_t *sess_facts_exec_types(struct session *s, uint32_t client_id, const uint8_t *payload,
			       size_t len, size_t *newlen);

/* An OK of the response (each one of a multi-result response, in order). */
void sess_facts_ok(struct session *s, const struct proto_ok *ok);
/* A prepare OK: record the statement; its client id, or 0 (out of memory). */
uint32_t sess_facts_prepared(struct session *s, const struct proto_prepare_ok *p);
/* The response is complete (s->tr holds its final status and command). */
void sess_facts_done(struct session *s);

/*
 * ok_shape — an OK in the client's shape (ok_shape.c): the session-state
 * items the client did not ask for are cut.
 */
/* Packets tandem builds in place of a backend one fit here; larger ones
 * go to the heap. */
#define SESS_OK_STACK 512

/* Whether ok carries session state this client must not see as it is. */
bool sess_ok_carries_state(const struct session *s, const struct proto_ok *ok);
/* Build ok as a server would for this client, framed with seq; *out is
 * buf or a heap block the caller frees. Returns the length; 0 when the
 * backend's bytes are already the client's (*out untouched), or when
 * memory ran out (*out NULL). */
size_t sess_ok_build(const struct session *s, const struct proto_ok *ok, uint8_t seq, uint8_t *buf,
		     size_t cap, uint8_t **out);
/* Append an OK from the backend (payload, len) to the client's output with
 * sequence id seq, in the client's shape: an OK that carries session state
 * is rebuilt without it for a client that did not ask for tracking
 * (tandem always asks backends for it; many clients do not). 0, or -1 when
 * the OK is malformed or memory ran out. */
int sess_send_ok(struct session *s, const uint8_t *payload, uint32_t len, uint8_t seq);

/*
 * conn_ids — which connection id tandem handed each client (its
 * greeting's, the CONNECTION_ID() of its first backend connection) and
 * which backend connection the session uses now, process-wide, so that
 * `KILL <greeting id>` reaches the session's current connection after a
 * move, from any worker.
 *
 * One table under one small mutex: only logins, moves, closes and KILL
 * statements touch it, never the forwarding of ordinary commands.
 * Must not: hold a session pointer beyond the mutex, or let a caller
 * dereference another worker's session.
 */
struct session;

/* Register s under s->greeting_id (set by the greeting). Idempotent. */
void conn_ids_add(struct session *s);
/* Unregister s (at free). Idempotent. */
void conn_ids_remove(struct session *s);
/* s's backend connection now has this id (every backend greeting). */
void conn_ids_set_backend(struct session *s, uint32_t id);
/* The id a KILL of `id` from a session of `cluster` must name: the current
 * backend connection of the session of that cluster whose greeting id it
 * is. False when no such session is known, or its connection is the one
 * with that id anyway, or it has no backend connection right now. */
bool conn_ids_translate(const char *cluster, uint32_t id, uint32_t *out);

/* forward.c: the client's whole command (payload p of *len bytes, at the
 * head of s->client.in) is a KILL (COM_QUERY or COM_PROCESS_KILL) of a
 * tandem client's greeting id: rewrite it there to name that session's
 * current backend connection. 1: rewritten (*p, *len: the payload to go
 * on with, in s->client.in); 0: unchanged; -1: out of memory (the caller
 * fails the session). */
int conn_ids_kill_rewrite(struct session *s, uint8_t **p, uint32_t *len);

/*
 * gtid_acks — what a tenant's clients were told committed, for the
 * commit guard's tag-free read-back (proxy/move/commit_guard.c).
 *
 * A cut-off commit is looked for in the new primary's binlog by its
 * statements' texts; another client's identical statements can be there
 * too. This record says which transactions were acknowledged to some
 * client of the tenant (they are not the cut-off one), the latest of
 * them (a commit sent later comes after it in the binlog), and how many
 * sessions have a guarded command in flight with the same statements
 * (two of them cannot be told apart).
 *
 * Shared by the tenant's workers under one mutex, touched once per
 * acknowledged commit and twice per guarded command. The ring is
 * allocated on first use (tenants without the guard pay nothing).
 *
 * Owns: the ring of acknowledged GTIDs and the in-flight fingerprints.
 * Must not: know sessions (callers pass texts and numbers).
 */
struct gtid_acks;

struct gtid_acks *gtid_acks_new(void);
void gtid_acks_free(struct gtid_acks *a);

/* A commit's GTID ("domain-server-seq") acknowledged to a client. */
void gtid_acks_push(struct gtid_acks *a, const char *gtid);
/* The latest GTID pushed, into out ("" when none). */
void gtid_acks_latest(struct gtid_acks *a, char *out, size_t outlen);
/* Whether domain-server-seq was acknowledged: 1 yes, 0 no, -1 cannot
 * tell (the ring no longer reaches back to after_seq of that domain). */
int gtid_acks_has(struct gtid_acks *a, uint32_t domain, uint32_t server, uint64_t seq,
		  uint64_t after_seq);

/* Guarded commands in flight, by fingerprint of their statements. */
void gtid_acks_doubt_add(struct gtid_acks *a, uint64_t fp);
void gtid_acks_doubt_remove(struct gtid_acks *a, uint64_t fp);
unsigned gtid_acks_doubt_count(struct gtid_acks *a, uint64_t fp);

/* "d-s-n" into its parts; false when it is not one GTID. */
bool gtid_acks_parse(const char *gtid, uint32_t *domain, uint32_t *server, uint64_t *seq);

/*
 * sess_env — what a worker lends its sessions (sess_env.c): the member a
 * new backend connection goes to (the cluster's primary, counted in at its
 * admission gate), the process's budget of backend connections for
 * clients not logged in, and the queue to the reaper.
 *
 * Worker thread only. Must not: call a phase or the worker's loop.
 */
enum env_pick {
	ENV_PICK_GO,   /* connect to *m; the session is counted in at it */
	ENV_PICK_WAIT, /* no usable primary now, but the monitor may bring one */
	ENV_PICK_FAIL, /* none will come (why says so) */
};
/* Choose the member a new backend connection of s goes to (the cluster's
 * primary) and count s in at it through the topology's gate (s->gate). */
enum env_pick env_backend_pick(struct worker *w, struct session *s, const struct hc_member **m,
			       char *why, size_t whylen);
/* Count s out of the member it was counted in at. Idempotent. */
void env_backend_release(struct session *s);
/* A client not logged in yet may hold a backend connection for its
 * greeting: true (and counted) while the process holds fewer than
 * limits.preauth_backends of them; the others are greeted without one,
 * so unauthenticated clients cannot use up the servers' connections. */
bool env_preauth_hold(struct session *s);
/* Count out what env_preauth_hold counted in. Idempotent. */
void env_preauth_release(struct session *s);
/* Whether the session's backend connection is at the member sessions of
 * its cluster belong to now, and that member is usable. */
bool env_backend_current(struct worker *w, const struct session *s);
/* Queue a closed session for the worker's reaper (sess_close). */
void env_reap_later(struct worker *w, struct session *s);

/*
 * tenant — a tenant's process-wide runtime record: its counters and its
 * open-session count, which outlive config snapshots (a reload that keeps
 * a tenant keeps its counters).
 *
 * Counters are per worker, written only by that worker with relaxed atomic
 * stores (no lock, no locked instruction on the forwarding path) and summed
 * by whoever reads them. The open-session count is one atomic shared by all
 * workers: it is touched at accept and close only.
 *
 * Owns: struct tenant_rt and the registry (main thread) that maps names to
 * them. Must not: hold config pointers (those belong to snapshots).
 */
struct tenant_rt *tenant_rt_new(const char *name, int nworkers);
struct tenant_rt *tenant_rt_ref(struct tenant_rt *t);
void tenant_rt_unref(struct tenant_rt *t);
/* Sum one counter over workers: offsetof(struct tenant_counters, field). */
uint64_t tenant_rt_sum(const struct tenant_rt *t, size_t field_offset);

/* Existing entry for name, or a new one (registry holds one reference). */
struct tenant_rt *tenant_registry_get(struct tenant_registry *r, const char *name, int nworkers);
struct tenant_rt *tenant_registry_find(const struct tenant_registry *r, const char *name);
/* Drop the registry's reference to entries whose name is not kept. */
void tenant_registry_retain(struct tenant_registry *r, bool (*keep)(const char *name, void *arg),
			    void *arg);
void tenant_registry_free(struct tenant_registry *r);

/*
 * wire — reading whole packets of the connection phase and of tandem's
 * own statements off an input buffer (wire.c). Calls nothing of the
 * session.
 */
/* Peek at one whole single-frame packet (connection phase) in an input
 * buffer: >0 bytes it spans (header included) with *payload pointing at
 * contiguous bytes, valid until the buffer changes; 0 need more; <0 a
 * PROTO_E_* error (PROTO_E_TOO_LARGE above max), decided from the header
 * alone, with *seq set (an ERR follows the refused packet). Drain the span
 * after use. */
int sess_packet_peek(struct evbuffer *in, uint32_t max, const uint8_t **payload, uint32_t *len,
		     uint8_t *seq);

#endif
