/*
 * coord_thread.h — what coord.c (the coordination thread) lends
 * coord_decide.c: the name of an etcd reach state and the one
 * compare-and-swap that writes a record. Not for use outside health/.
 */
#ifndef TANDEM_HEALTH_COORD_THREAD_H
#define TANDEM_HEALTH_COORD_THREAD_H

#include <stdint.h>

#include "health/coord_int.h"

const char *coord_reach_name(enum reach r);
/* A txn: compare P/record's mod_revision with expect_mod and P/leader's
 * value with leader_value; on success put the record and its history
 * entry. 1 done, 0 a compare failed, -1 etcd error; *rev the new revision. */
int coord_put_record(struct coord *k, const struct coord_rec *nr, int64_t expect_mod,
		     const char *leader_value, int64_t *rev);

#endif
