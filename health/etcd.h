/*
 * etcd.h — a small client for etcd's v3 HTTP/JSON gateway (etcd 3.4):
 * unary calls (/v3/kv/range|put|txn|deleterange, /v3/lease/grant|
 * keepalive|revoke, /v3/auth/authenticate) and one streaming watch.
 * Keys and values travel base64-encoded in JSON; 64-bit numbers as strings.
 *
 * Two halves: pure functions that turn response bytes into a struct
 * etcd_resp (and frame the watch stream's newline-separated JSON objects),
 * fuzzed in tests/fuzz/fuzz_etcd.c; and the HTTP side on libevent's evhttp
 * (a private event_base per unary call, the caller's base for a watch).
 *
 * Owns: the HTTP exchange, endpoint choice, the auth token. Must not: know
 * what the keys mean (health/coord.c does), take other modules' locks.
 */
#ifndef TANDEM_HEALTH_ETCD_H
#define TANDEM_HEALTH_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

struct event_base;

/* Return codes of etcd_call(). */
enum etcd_rc {
	ETCD_OK = 0,
	ETCD_EDOWN = -1,    /* a majority of the endpoints refused the TCP connection */
	ETCD_EUNREACH = -2, /* no answer in time (or a mix): a partition cannot be excluded */
	ETCD_EPROTO = -3,   /* an answer that is not what etcd sends */
	ETCD_EREJECT = -4,  /* etcd answered with an error (auth, bad request) */
};
const char *etcd_rc_name(int rc);

/* Longest key and value tandem accepts from etcd. */
#define ETCD_KEY_MAX   512
#define ETCD_VALUE_MAX 65536
/* Most key-values one response may carry, and the longest watch line. */
#define ETCD_KVS_MAX  256
#define ETCD_LINE_MAX (1 << 20)

struct etcd_kv {
	char key[ETCD_KEY_MAX + 1]; /* decoded, NUL-terminated (keys are text here) */
	char *value;                /* decoded, NUL-terminated, malloc'd; "" when absent */
	size_t vlen;
	int64_t create_rev;
	int64_t mod_rev;
	int64_t version;
	int64_t lease;
	bool deleted; /* a watch DELETE event */
};

struct etcd_resp {
	int64_t revision; /* header.revision */
	bool succeeded;   /* txn */
	struct etcd_kv *kvs;
	size_t nkvs;
	int64_t lease_id; /* lease grant / keepalive: ID */
	int64_t ttl;      /* lease grant / keepalive: TTL; 0 or absent: the lease is gone */
	bool has_ttl;
	bool created;  /* watch: the watch was set up */
	bool canceled; /* watch: etcd ended it (compacted, or an error) */
	int64_t compact_revision;
	char token[256]; /* authenticate */
	char error[200]; /* etcd's error message, "" if none */
	int code;        /* etcd's (gRPC) error code, 0 if none */
};

/*
 * Parse one JSON response (a unary answer or one watch line) in buf[0..len).
 * Returns 0 with r filled (the caller frees it with etcd_resp_free), or -1
 * when the bytes are not such a response (r is left empty). Pure.
 */
int etcd_parse_response(const char *buf, size_t len, struct etcd_resp *r);
void etcd_resp_free(struct etcd_resp *r);

/*
 * Frame the watch stream: >0 bytes up to and including the next '\n' (the
 * line is that many bytes minus one), 0 when no complete line is there yet,
 * -1 when len already exceeds max without one. Pure.
 */
long etcd_line_next(const char *buf, size_t len, size_t max);

/* Base64 (standard alphabet, padded). encode: 0 or -1 when out is too
 * small (outlen >= 4*ceil(n/3)+1). decode: bytes written, -1 on bad input
 * or a too small out. Pure. */
int etcd_b64_encode(const void *in, size_t n, char *out, size_t outlen);
long etcd_b64_decode(const char *in, size_t n, unsigned char *out, size_t outlen);

/* A client: endpoints, credentials, TLS. Thread-safe (each call uses its
 * own event_base and connection). */
struct etcd_client;
/* Copies what it needs from k. NULL on ENOMEM. */
struct etcd_client *etcd_client_new(const struct cfg_coord *k);
void etcd_client_free(struct etcd_client *c);

/*
 * POST body (JSON text) to path on the first endpoint that answers,
 * starting with the last one that did; wait at most timeout_ms per
 * endpoint. On ETCD_OK, r holds the parsed answer (the caller frees it).
 * Otherwise r is empty and err says why (never a secret).
 */
int etcd_call(struct etcd_client *c, const char *path, const char *body, struct etcd_resp *r,
	      char *err, size_t errlen);

/* Logins so far (user/password configured): the first, and one per token etcd refused. */
unsigned long etcd_client_logins(struct etcd_client *c);

/* The endpoint the last successful call used, "host:port". */
const char *etcd_client_endpoint(struct etcd_client *c);

/* A streaming watch on [key, range_end) from start_rev, on the caller's
 * event_base. on_line gets each parsed response line; on_end once, when
 * the stream ends (closed, error, too long a line); then the caller frees
 * it with etcd_watch_free() (not from inside on_end). */
struct etcd_watch;
typedef void (*etcd_watch_line_fn)(void *arg, const struct etcd_resp *r);
typedef void (*etcd_watch_end_fn)(void *arg, const char *why);
struct etcd_watch *etcd_watch_start(struct etcd_client *c, struct event_base *base, const char *key,
				    const char *range_end, int64_t start_rev,
				    etcd_watch_line_fn on_line, etcd_watch_end_fn on_end,
				    void *arg);
void etcd_watch_free(struct etcd_watch *w);

#endif
