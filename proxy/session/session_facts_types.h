/*
 * session_facts_types.h — what a session knows about its server-side state (facts_track.c, backend_setup.c): the types only, so struct session can
 * embed them without depending on the functions (facts_track.c).
 */
#ifndef TANDEM_PROXY_SESSION_SESSION_FACTS_TYPES_H
#define TANDEM_PROXY_SESSION_SESSION_FACTS_TYPES_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include "protocol/facts.h"
#include "protocol/tracker.h"
#include "protocol/sqlclass.h"

struct session;

struct sess_facts {
	struct proto_facts f;
	char *track_default_sysvars;           /* the server's defaults, read at login: */
	struct proto_track_view track_default; /* a reset goes back to them */
	bool track_default_known;

	/* The client's own tracking settings (what the server would track
	 * for it): its OKs carry only these items (forward.c). */
	char *track_sysvars; /* session_track_system_variables; NULL: none */
	struct proto_track_view track;
	bool track_changing; /* the command in flight changes them: track_before holds
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

#endif
