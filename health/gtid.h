/*
 * gtid.h — MariaDB GTID positions ("domain-server-seq" per domain, comma
 * separated) as values: parse what a server reports, tell whether one
 * position covers another, and judge whether a former primary can rejoin
 * the new one without losing or duplicating history.
 *
 * Owns: the arithmetic on positions. Must not: do I/O, take locks or log;
 * the text comes from servers, so every input is treated as hostile
 * (tests/fuzz/fuzz_gtid.c). MySQL's UUID sets do not parse here: callers
 * treat them as "unknown" and let the server decide.
 */
#ifndef TANDEM_HEALTH_GTID_H
#define TANDEM_HEALTH_GTID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Domains per position kept; a server reporting more is refused. */
#define HC_GTID_MAX 32

struct hc_gtid {
	uint32_t domain;
	uint32_t server;
	uint64_t seq;
};

/* The last GTID per domain, as @@gtid_binlog_pos and friends report it. */
struct hc_gtid_pos {
	struct hc_gtid g[HC_GTID_MAX];
	size_t n;
};

/* Parse len bytes of text (spaces and newlines between entries are
 * allowed; "" is the empty position). 0, or -1 when it is not a MariaDB
 * position (out is then empty). */
int hc_gtid_parse(const char *text, size_t len, struct hc_gtid_pos *out);

/* The entry for domain d, or NULL. */
const struct hc_gtid *hc_gtid_find(const struct hc_gtid_pos *p, uint32_t domain);

/*
 * The entries of want for which have holds no sequence number as high in the
 * same domain, written as a position into out (a NUL-terminated list,
 * truncated to len); returns how many there were. "have received
 * everything of want" is a return of 0.
 */
size_t hc_gtid_missing(const struct hc_gtid_pos *have, const struct hc_gtid_pos *want, char *out,
		       size_t len);

enum hc_rejoin_verdict {
	HC_REJOIN_OK,       /* the new primary holds all the old one has */
	HC_REJOIN_DIVERGED, /* the old primary holds a transaction the new one never got */
	HC_REJOIN_UNSURE,   /* cannot tell from positions; the server decides at START SLAVE */
};

/*
 * May the old primary (its gtid_binlog_pos now: old) replicate from the
 * new one (its gtid_binlog_pos: cur)? applied is what the new primary had
 * applied when it was promoted (its gtid_slave_pos then; n = 0 when not
 * known, e.g. after a restart of tandem). Per domain of old: the same
 * server's entry in cur must be as high; where the new primary has written
 * its own transactions since, what it had applied at promotion must cover
 * old's entry. DIVERGED names the first offending GTID in why.
 */
enum hc_rejoin_verdict hc_gtid_rejoin_check(const struct hc_gtid_pos *old,
					    const struct hc_gtid_pos *cur,
					    const struct hc_gtid_pos *applied, char *why,
					    size_t whylen);

#endif
