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

struct session;

struct sess_facts {
	struct proto_facts f;
	uint8_t setup_pending;  /* responses to tandem's own statements the backend still owes */
	uint32_t setup_selects; /* of those, in order from bit 0: 1 = the answer to the
				    * SELECT of the client's tracking settings, 0 = the SET */
	uint32_t setup_quiet;   /* like setup_selects: 1 = a SET of profiling around the setup,
				    * whose refusal (a server without profiling) is no matter */
	unsigned select_pkt;    /* packets of the first such answer read so far */
	unsigned select_cols;   /* its column count */
	bool select_nometa;     /* ... sent without column definitions (metadata caching) */
	char *track_default_sysvars;           /* the server's defaults, read at login: */
	struct proto_track_view track_default; /* a reset goes back to them */
	bool track_default_known;

	/* The client's own tracking settings (what the server would track
	 * for it): its OKs carry only these items (forward.c). */
	char *track_sysvars; /* session_track_system_variables; NULL: none */
	struct proto_track_view track;
	uint32_t setup_relearns; /* like setup_selects: 1 = that SELECT follows the
				  * client's own SET (tandem's values are not the client's) */
	bool track_changing;     /* the command in flight changes them: track_before holds
				  * the settings it started with */
	char *track_before_sysvars;
	struct proto_track_view track_before;
	bool setup_refused_logged; /* the backend refused tracking once; said so in the log */

	/* the command in flight */
	struct proto_sql_class cmd_class; /* of its COM_QUERY text, or its prepared statement's */
	unsigned stmt_flags;              /* SQL flags of the statement a COM_STMT_* names */
	char *pending_text; /* COM_STMT_PREPARE SQL / COM_INIT_DB schema, until answered */
	size_t pending_len;
	bool pending_known;      /* pending_text holds the whole text */
	char collate[65];        /* its SET NAMES ... COLLATE name; "" none */
	bool cmd_failed;         /* its response began with an ERR */
	unsigned infile_left;    /* LOCAL INFILE requests it may still make */
	bool discard;            /* the rest of its response is dropped (refused file request) */
	uint32_t exec_types_for; /* client id of a COM_STMT_EXECUTE that must carry the
					 * statement's parameter types (the backend lost them in a
					 * move); 0: none */

	/* a command tandem answers itself, streamed off when it is large */
	bool cmd_discard;    /* the client command being streamed is dropped */
	uint16_t reply_code; /* ERR to send once it is gone; 0: none (no response) */
	char reply_state[6];
	char reply_msg[160];
};

/* Free what the facts hold (sess_free). Safe on a zeroed struct. */
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
 * Consume the backend's answers to tandem's own statements; they never
 * reach the client. Returns true when none are owed any more (the bytes
 * after them are the client's), false while waiting or when the session
 * failed.
 */
bool sess_setup_read(struct session *s);

/*
 * The backend confirmed COM_RESET_CONNECTION or COM_CHANGE_USER: the
 * server forgot the session's state, session tracking included. Reset the
 * facts to the given collation and schema (schema may be NULL), and send
 * the setup statement again (its answer is swallowed as at login). The
 * `auth` work calls this after a successful COM_CHANGE_USER.
 */
void sess_facts_reset(struct session *s, uint8_t charset, const char *schema, size_t len);

/*
 * forward.c. Append an OK from the backend (payload, len) to the client's
 * output with sequence id seq, in the client's shape: an OK that carries
 * session state is rebuilt without it for a client that did not ask for
 * tracking (tandem always asks backends for it; many clients do not). 0,
 * or -1 when the OK is malformed or memory ran out.
 */
int sess_send_ok(struct session *s, const uint8_t *payload, uint32_t len, uint8_t seq);

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

/* admin_sessions.c: the session's facts as JSON (worker thread). SQL text
 * is summarised (length only): it may hold secrets. */
json_t *sess_facts_json(const struct session *s);

#endif
