/*
 * migrate_internal.h — what migrate.c (the first half of a move: settling
 * and leaving) and restore.c (the second half: rebuilding and going on)
 * share. Not part of the contract (migrate.h is).
 */
#ifndef TANDEM_PROXY_MIGRATE_INTERNAL_H
#define TANDEM_PROXY_MIGRATE_INTERNAL_H

#include "proxy/move/migrate.h"

#include "proxy/move/owed.h"

#endif
