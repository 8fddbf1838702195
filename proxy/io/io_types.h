/*
 * io_types.h — the types of proxy/io/: a connection (struct conn, its
 * callbacks and events) and a worker's pool of read blocks. Types only:
 * the functions are in io.h.
 */
#ifndef TANDEM_PROXY_IO_TYPES_H
#define TANDEM_PROXY_IO_TYPES_H

#include <event2/event_struct.h>
#include <stdbool.h>
#include <stddef.h>

struct evbuffer;

/* Bytes one read may bring in; large enough that a result set arrives in
 * few syscalls, small enough that one session cannot hog a turn. */
#define CONN_POOL_BLOCK (64 * 1024)

struct conn_pool {
	void *cur;      /* the block the next read goes into; NULL until needed */
	void *free;     /* blocks handed back, linked through their first bytes */
	unsigned nfree; /* length of the free list (at most CONN_POOL_KEEP) */
	unsigned out;   /* blocks held by evbuffers */
	bool released;  /* the worker let go: free when the last block is back */
};

struct conn;

struct ssl_ctx_st;
struct conn_tls;
struct conn_zip;

enum conn_event {
	CONN_CONNECTED, /* a conn_connect() finished */
	CONN_TLS_READY, /* a conn_tls_start() handshake finished */
	CONN_EOF,       /* the peer closed its side */
	CONN_ERROR,     /* a socket error; errno-style code in c->error */
};

struct conn_cbs {
	void (*on_read)(struct conn *c, void *arg);  /* new bytes in c->in */
	void (*on_drain)(struct conn *c, void *arg); /* c->out fell to the low mark */
	void (*on_event)(struct conn *c, enum conn_event ev, void *arg);
};

struct conn {
	int fd; /* -1 when closed */
	struct evbuffer *in;
	struct evbuffer *out;
	struct event rev; /* persistent read event */
	struct event wev; /* armed only while out cannot be flushed */
	const struct conn_cbs *cbs;
	void *arg;
	size_t low_mark;        /* on_drain fires when out falls to this (if want_drain) */
	int error;              /* last socket error (EPROTO for a TLS failure) */
	struct conn_tls *tls;   /* NULL: plain socket I/O */
	struct conn_zip *zip;   /* NULL: no compressed protocol */
	struct evbuffer *rin;   /* where reads land: in, or the compressed frames */
	struct evbuffer *wout;  /* what writes send: out, or the compressed frames */
	struct conn_pool *pool; /* the worker's read blocks (plain reads) */
	bool reading;           /* rev is added */
	bool writing;           /* wev is added */
	bool connecting;
	bool want_drain;
	bool eof; /* the peer closed its side */
};

#endif
