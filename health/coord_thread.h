/*
 * coord_thread.h — the coordination thread (coord.c): its life, for
 * cluster.c, and what it lends coord_decide.c: the name of an etcd reach
 * state and the one compare-and-swap that writes a record. Not for use
 * outside health/.
 */
#ifndef TANDEM_HEALTH_COORD_THREAD_H
#define TANDEM_HEALTH_COORD_THREAD_H

#include <stdint.h>

#include "health/coord_int.h"

/* cluster.c: create (when cfg has coordination), start (reads the current
 * record and applies it before the first snapshot is published, then
 * starts the thread), stop (asks the thread to end), free (joins). */
int coord_cluster_new(struct hc_cluster *cl, const struct cfg *cfg);
void coord_cluster_start(struct hc_cluster *cl);
void coord_cluster_stop(struct hc_cluster *cl);
void coord_cluster_free(struct hc_cluster *cl);

const char *coord_reach_name(enum reach r);
/* A txn: compare P/record's mod_revision with expect_mod and P/leader's
 * value with leader_value; on success put the record and its history
 * entry. 1 done, 0 a compare failed, -1 etcd error; *rev the new revision. */
int coord_put_record(struct coord *k, const struct coord_rec *nr, int64_t expect_mod,
		     const char *leader_value, int64_t *rev);

#endif
