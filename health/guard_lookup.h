/*
 * guard_lookup.h — the read-back half of the commit guard
 * (proxy/move/commit_guard.c): did a transaction carrying a session's tag land
 * on the new primary after the session's last acknowledged GTID?
 *
 * One lookup runs on a thread of its own (they happen only for commits a
 * failover cut off), through the monitor account: it checks that the
 * server's binary log can tell (log_bin, log_slave_updates, annotated row
 * events), then reads the binlog with a non-blocking binlog dump from
 * that GTID (Connector/C's replication API) to its end, and for the
 * tagged transaction counts the rows its row events changed and finds the
 * first generated auto-increment value. The answer is handed to the
 * worker's event loop; the worker's callback runs there.
 *
 * Owns: the lookup's thread, its connections and its copy of the query.
 * Must not: touch the session (the caller's arg is opaque here), or block
 * past the query's timeout.
 */
#ifndef TANDEM_HEALTH_GUARD_LOOKUP_H
#define TANDEM_HEALTH_GUARD_LOOKUP_H

#include <stdbool.h>
#include <stdint.h>

struct event_base;

enum hc_guard_result {
	HC_GUARD_UNKNOWN = 0, /* the binlog could not be read or cannot tell (why says) */
	HC_GUARD_FOUND,       /* the tagged transaction is there (by_text: cand has the
				 transactions whose texts match; the caller tells which) */
	HC_GUARD_ABSENT,      /* read to the end: it is not */
};

/* The tag-free guard's statements, in the order the session ran them. */
#define HC_GUARD_PATTERNS 16
struct hc_guard_pattern {
	char *text; /* the caller's; the lookup keeps a copy */
	uint32_t len;
	bool tpl;          /* a prepared statement's text: '?' stands for a literal */
	bool certain;      /* it changed rows: the transaction's binlog has its text */
	bool no_backslash; /* the session's NO_BACKSLASH_ESCAPES when it ran */
};

/* A transaction of the binlog whose texts are the session's. */
#define HC_GUARD_CANDS 16
struct hc_guard_cand {
	uint32_t domain, server;
	uint64_t seq;
	uint64_t affected, insert_id;
};

struct hc_guard_query {
	char host[256];
	uint16_t port;
	char user[128];
	char password[256];
	bool tls; /* require TLS, with the files below (NULL: none) */
	char ca[512], cert[512], key[512];
	bool verify_identity;
	char tag[40]; /* the text to look for in statement texts (tag mode) */
	bool by_text; /* no tag: match the transactions' texts against pat */
	struct hc_guard_pattern pat[HC_GUARD_PATTERNS];
	unsigned npat;
	char after_gtid[64]; /* "domain-server-seq" (may be ""): only later transactions count */
	int timeout_ms;      /* for the whole lookup */
};

struct hc_guard_answer {
	enum hc_guard_result result;
	uint64_t affected;  /* FOUND: rows its row events changed (an upsert's update: 2) */
	uint64_t insert_id; /* FOUND: first auto-increment value it wrote (0: none) */
	char gtid[64];      /* FOUND: its GTID */
	char why[160];      /* UNKNOWN: the reason */
	struct hc_guard_cand cand[HC_GUARD_CANDS]; /* by_text FOUND */
	unsigned ncand;
	uint32_t server_id; /* the new primary's @@server_id */
};

typedef void (*hc_guard_cb)(void *arg, const struct hc_guard_answer *a);

struct hc_guard_lookup;

/* Start a lookup; cb(arg, answer) runs later on base's thread (exactly
 * once, unless cancelled first). NULL when no thread could be started. */
struct hc_guard_lookup *hc_guard_lookup_start(const struct hc_guard_query *q,
					      struct event_base *base, hc_guard_cb cb, void *arg);
/* base's thread only: cb will not be called; the lookup frees itself when
 * its thread ends. */
void hc_guard_lookup_cancel(struct hc_guard_lookup *l);

#endif
