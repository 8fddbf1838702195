/*
 * coord_rec.h — coordination's values (coord_rec.c): a decision record as
 * etcd stores it and an instance's observation, parsed and printed
 * without any state. Pure: no I/O, no locks.
 */
#ifndef TANDEM_HEALTH_COORD_REC_H
#define TANDEM_HEALTH_COORD_REC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

#define COORD_FENCED_MAX 16

/* One decision as stored in etcd (<prefix>/<cluster>/record). */
struct coord_rec {
	uint64_t epoch;
	char kind[16];               /* "initial", "failover", "switchover", "unfence" */
	char state[16];              /* "acting": decided, being carried out; "done" */
	char primary[CFG_ADDR_TEXT]; /* where sessions go once done */
	char from[CFG_ADDR_TEXT];    /* the primary before ("" for initial) */
	char fenced[COORD_FENCED_MAX][CFG_ADDR_TEXT];
	size_t nfenced;
	char reason[256];
	int64_t at_us; /* wall clock of the decision */
	char by[128];  /* instance that decided */
	int64_t lease; /* that instance's lease when it decided */
};

/* Whether r fences addr. Pure. */
bool coord_rec_fences(const struct coord_rec *r, const char *addr);
/* Parse a record's JSON (bytes from etcd). 0 or -1. Pure. */
int coord_rec_parse(const char *buf, size_t len, struct coord_rec *r);
/* The record as JSON text (malloc'd), NULL on ENOMEM. */
char *coord_rec_text(const struct coord_rec *r);
json_t *coord_rec_json(const struct coord_rec *r);

/* An observation (<prefix>/<cluster>/obs/<instance>): how one instance's
 * probes see each member. Pure parse: for member addr, 1 up, 0 down or
 * unknown, -1 not listed or bad bytes. */
int coord_obs_member_up(const char *buf, size_t len, const char *addr);
/* The epoch an observation acknowledges: its writer follows that record
 * and has stopped its heartbeat writes to an old primary (0: none). */
uint64_t coord_obs_epoch(const char *buf, size_t len);

#endif
