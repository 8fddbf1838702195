/*
 * gtid_acks.h — what a tenant's clients were told committed, for the
 * commit guard's tag-free read-back (proxy/move/commit_guard.c).
 *
 * A cut-off commit is looked for in the new primary's binlog by its
 * statements' texts; another client's identical statements can be there
 * too. This record says which transactions were acknowledged to some
 * client of the tenant (they are not the cut-off one), the latest of
 * them (a commit sent later comes after it in the binlog), and how many
 * sessions have a guarded command in flight with the same statements
 * (two of them cannot be told apart).
 *
 * Shared by the tenant's workers under one mutex, touched once per
 * acknowledged commit and twice per guarded command. The ring is
 * allocated on first use (tenants without the guard pay nothing).
 *
 * Owns: the ring of acknowledged GTIDs and the in-flight fingerprints.
 * Must not: know sessions (callers pass texts and numbers).
 */
#ifndef TANDEM_PROXY_SESSION_GTID_ACKS_H
#define TANDEM_PROXY_SESSION_GTID_ACKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gtid_acks;

struct gtid_acks *gtid_acks_new(void);
void gtid_acks_free(struct gtid_acks *a);

/* A commit's GTID ("domain-server-seq") acknowledged to a client. */
void gtid_acks_push(struct gtid_acks *a, const char *gtid);
/* The latest GTID pushed, into out ("" when none). */
void gtid_acks_latest(struct gtid_acks *a, char *out, size_t outlen);
/* Whether domain-server-seq was acknowledged: 1 yes, 0 no, -1 cannot
 * tell (the ring no longer reaches back to after_seq of that domain). */
int gtid_acks_has(struct gtid_acks *a, uint32_t domain, uint32_t server, uint64_t seq,
		  uint64_t after_seq);

/* Guarded commands in flight, by fingerprint of their statements. */
void gtid_acks_doubt_add(struct gtid_acks *a, uint64_t fp);
void gtid_acks_doubt_remove(struct gtid_acks *a, uint64_t fp);
unsigned gtid_acks_doubt_count(struct gtid_acks *a, uint64_t fp);

/* "d-s-n" into its parts; false when it is not one GTID. */
bool gtid_acks_parse(const char *gtid, uint32_t *domain, uint32_t *server, uint64_t *seq);

#endif
