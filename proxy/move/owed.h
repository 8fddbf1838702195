/*
 * owed.h — what a session keeps for a move and owes after one (owed.c):
 * values on struct sess_migrate, no phase.
 */
#ifndef TANDEM_PROXY_OWED_H
#define TANDEM_PROXY_OWED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/move/migrate_types.h"

struct session;

/* Free what a move holds (mach_free). Safe on a zeroed struct. */
void sess_migrate_free(struct session *s);

/* forward.c, for each command about to be forwarded: keep a copy when it
 * is one that could run again (payload holds have bytes of a len-byte
 * command; client_stmt is the id a COM_STMT_EXECUTE carried, before tandem
 * translated it). */
void sess_migrate_keep(struct session *s, const uint8_t *payload, size_t have, uint32_t len,
		       uint32_t client_stmt);

/* forward.c, before a command is forwarded: the error the session owes,
 * if it owes one for this command (code set, message in msg); false when
 * the command goes ahead. */
bool sess_migrate_owed(struct session *s, const uint8_t *payload, size_t have, uint16_t *code,
		       const char **sqlstate, const char **msg);

/* Owe the client's next command an error (a lost transaction is never
 * overwritten by lost state: it is the stronger news). */
void mig_owe(struct session *s, enum mig_pending p, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
