/*
 * migrate_internal.h — what migrate.c (the first half of a move: settling
 * and leaving) and restore.c (the second half: rebuilding and going on)
 * share. Not part of the contract (migrate.h is).
 */
#ifndef TANDEM_PROXY_MIGRATE_INTERNAL_H
#define TANDEM_PROXY_MIGRATE_INTERNAL_H

#include "proxy/move/migrate.h"

/* Owe the client's next command an error (a lost transaction is never
 * overwritten by lost state: it is the stronger news). */
void mig_owe(struct session *s, enum mig_pending p, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
