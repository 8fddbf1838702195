/*
 * conn_pool.h — a worker's read blocks: the area plain conns read into,
 * and a short free list of blocks that evbuffers handed back.
 *
 * Why: reading into evbuffer-reserved space malloc'ed a fresh 64 KiB chain
 * for every read (the previous one had moved to the other side's output
 * and was freed after the write), ~1,000 instructions of a `SELECT 1`
 * round trip's ~6,200. Now a conn reads into the worker's current block;
 * a short read is copied into a small chain (malloc's per-thread cache), a
 * long one keeps the block: it is handed to the evbuffer by reference and
 * comes back here when the evbuffer frees it, so the bytes of a large
 * result are never copied in user space for being read.
 *
 * Owns: the blocks on the free list and the current block; blocks out in
 * evbuffers belong to those evbuffers until their cleanup returns them.
 * Must not: be touched by any thread but its worker's (or after it ended).
 */
#ifndef TANDEM_PROXY_CONN_POOL_H
#define TANDEM_PROXY_CONN_POOL_H

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

/* A new, empty pool (no block is allocated before the first read), or
 * NULL when out of memory. */
struct conn_pool *conn_pool_new(void);
/* The worker lets go of its pool. It is freed now, or when the last block
 * still held by an evbuffer comes back. NULL is a no-op. */
void conn_pool_release(struct conn_pool *p);

/* The block to read into (p->cur, allocated if needed), or NULL. */
void *conn_pool_current(struct conn_pool *p);
/* Hand the current block to buf by reference: its first len bytes become
 * buf's data and the block returns to p when buf frees it. Returns 0, or
 * -1 (out of memory; the block stays current). */
int conn_pool_give(struct conn_pool *p, struct evbuffer *buf, size_t len);

#endif
