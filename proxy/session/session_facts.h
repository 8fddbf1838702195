/*
 * session_facts.h — what a session knows about its server-side state, and
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
#ifndef TANDEM_PROXY_SESSION_FACTS_H
#define TANDEM_PROXY_SESSION_FACTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "protocol/facts.h"
#include "protocol/tracker.h"
#include "protocol/sqlclass.h"
#include "proxy/session/session_facts_types.h"

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

#endif
