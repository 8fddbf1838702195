/*
 * owed.c — what a session keeps for a move and what it owes after one
 * (migrate.c): the copy of the command in flight that could run again,
 * and the error its next command gets in place of an answer. Values on
 * struct sess_migrate only; forward.c keeps and asks, migrate.c and
 * restore.c owe.
 *
 * Must not: call a phase, change a session's state, or send anything.
 */
#include "proxy/move/move.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/command.h"
#include "protocol/okerr.h"
#include "protocol/packet.h"
#include "protocol/sqlclass.h"
#include "proxy/session/session_types.h"

/* A kept command is at most this long (a read worth re-running is short). */
#define KEEP_MAX (64 * 1024)

void sess_migrate_free(struct session *s)
{
	free(s->mg.cmd);
	s->mg.cmd = NULL;
	s->mg.cmd_len = s->mg.cmd_cap = 0;
}

/* ----------------------------------------------------------- keeping */

void sess_migrate_keep(struct session *s, const uint8_t *payload, size_t have, uint32_t len,
		       uint32_t client_stmt)
{
	struct sess_migrate *mg = &s->mg;
	mg->cmd_kept = false;
	mg->answered = false;
	mg->cmd_client_id = client_stmt;
	if (have != len || len > KEEP_MAX ||
	    (payload[0] != COM_QUERY && payload[0] != COM_STMT_EXECUTE))
		return;
	if (mg->cmd_cap < len) {
		size_t cap = len < 256 ? 256 : len;
		uint8_t *p = realloc(mg->cmd, cap);
		if (!p)
			return;
		mg->cmd = p;
		mg->cmd_cap = cap;
	}
	memcpy(mg->cmd, payload, len);
	mg->cmd_len = len;
	if (payload[0] == COM_STMT_EXECUTE && len >= 5)
		proto_stmt_id_patch(mg->cmd, client_stmt);
	mg->cmd_kept = true;
}

/* ----------------------------------------------------- owed errors */

void mig_owe(struct session *s, enum mig_pending p, const char *fmt, ...)
{
	struct sess_migrate *mg = &s->mg;
	/* A lost transaction is the stronger news: it is never overwritten. */
	if (mg->pending == MIG_P_ROLLED_BACK && p == MIG_P_STATE_LOST)
		return;
	mg->pending = p;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(mg->pending_msg, sizeof(mg->pending_msg), fmt, ap);
	va_end(ap);
}

bool sess_migrate_owed(struct session *s, const uint8_t *payload, size_t have, uint16_t *code,
		       const char **sqlstate, const char **msg)
{
	struct sess_migrate *mg = &s->mg;
	if (mg->pending == MIG_P_NONE)
		return false;
	uint8_t cmd = payload[0];
	/* Commands without an answer cannot carry the news; the next one will. */
	if (cmd == COM_STMT_CLOSE || cmd == COM_STMT_SEND_LONG_DATA || cmd == COM_QUIT)
		return false;
	/* Starting over is what the client asks for: nothing to report. */
	if (cmd == COM_RESET_CONNECTION || cmd == COM_CHANGE_USER) {
		mg->pending = MIG_P_NONE;
		return false;
	}
	if (cmd == COM_QUERY && mg->pending == MIG_P_ROLLED_BACK) {
		struct proto_sql_class c;
		proto_sql_classify((const char *)payload + 1, have - 1, false, have < 2, &c);
		if (c.kind == PROTO_SQL_KIND_ROLLBACK && !(c.flags & PROTO_SQL_MULTI)) {
			/* the client wants it gone, and it is: the server says OK */
			mg->pending = MIG_P_NONE;
			return false;
		}
	}
	if (mg->pending == MIG_P_ROLLED_BACK) {
		*code = TANDEM_ER_FAILOVER_ROLLED_BACK;
		*sqlstate = "40001";
	} else {
		*code = TANDEM_ER_FAILOVER_STATE_LOST;
		*sqlstate = "08S01";
	}
	*msg = mg->pending_msg;
	mg->pending = MIG_P_NONE;
	return true;
}
