/*
 * io.h — what proxy/io/ offers the rest of tandem: connections (socket,
 * buffers, TLS, compression) and a worker's read blocks. One section per
 * topic, each opening with what its file owns; its types are in io_types.h.
 *
 * Owns: the declarations (and the few constants and inline helpers) of the
 * functions proxy/io/'s files define. Must not: declare anything another
 * folder defines.
 */
#ifndef TANDEM_PROXY_IO_H
#define TANDEM_PROXY_IO_H

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "proxy/io/io_types.h"

/*
 * conn — one TCP connection of a session: its socket, an input and an
 * output evbuffer, and the read/write events on the worker's event_base.
 *
 * Why not bufferevents: a bufferevent writes only from its write event, so
 * every round trip costs an epoll_ctl to arm the write and another to
 * disarm it, plus an extra loop turn. conn writes at once (conn_flush) and
 * arms the write event only when the kernel buffer is full — the way
 * HAProxy does it — and reads with one read() into the worker's read
 * block (conn_pool.c), which is copied into c->in when the read was short
 * and handed to c->in without a copy when it was long (evbuffer_read
 * would add an ioctl(FIONREAD) per read, and reserved evbuffer space a
 * 64 KiB malloc per read).
 *
 * TLS lives here too, so the session above sees the same evbuffers either
 * way. Not libevent's OpenSSL bufferevents: they would bring back the write
 * event per flush this file exists to avoid, and a second I/O model. A TLS
 * conn drives its own SSL object on the same fd: SSL_read straight into
 * reserved evbuffer space, SSL_write straight from evbuffer chains (small
 * chains coalesced into one record), and WANT_READ / WANT_WRITE arm the
 * matching event. A small custom BIO reads the bytes that arrived before
 * TLS started (a client sends its ClientHello right behind the SSLRequest,
 * so they are already in c->in) before reading the socket. A plain conn
 * pays one pointer test per read and write; no extra syscall.
 *
 * Owns: the fd, both evbuffers, both events and the SSL object. Must not:
 * know anything of MySQL; callbacks tell the session what happened and the
 * session decides.
 * Callbacks are never called from inside conn_* calls made by the session,
 * only from the event loop, so a session never re-enters itself.
 */
/* Adopt an accepted, connected socket (made non-blocking here). Reading
 * starts at once. pool: the read blocks of the worker whose base this is
 * (conn_pool.c), used on that thread only. Returns 0, or -1 (fd is not
 * closed then). */
int conn_open_fd(struct conn *c, struct event_base *base, struct conn_pool *pool, int fd,
		 const struct conn_cbs *cbs, void *arg);
/* Start a non-blocking connect (pool as for conn_open_fd); CONN_CONNECTED
 * or CONN_ERROR follows.
 * Returns -1 with c->error set when it cannot start (EMFILE: no socket). */
int conn_connect(struct conn *c, struct event_base *base, struct conn_pool *pool,
		 const struct sockaddr *sa, socklen_t salen, const struct conn_cbs *cbs, void *arg);
/* Close the socket and free the buffers. Safe on a zeroed or closed conn. */
void conn_close(struct conn *c);
/* Close the socket but keep the (drained) buffers until conn_close, so code
 * still on the stack may look at them safely. */
void conn_shutdown(struct conn *c);

/*
 * Start TLS on an open conn: as the server (accepting) or the client. For
 * a client, verify_host (a name or an IP literal, or NULL) is checked
 * against the peer's certificate and sent as SNI when it is a name; the
 * context decides whether the certificate is verified at all. Bytes
 * already in c->in are taken as the start of the TLS stream. The
 * handshake runs from the event loop: CONN_TLS_READY, or CONN_ERROR with
 * conn_tls_error() saying why. Returns 0, or -1 (out of memory).
 */
int conn_tls_start(struct conn *c, struct ssl_ctx_st *ctx, bool server, const char *verify_host);
/* Whether TLS is on (handshake finished or running). */
static inline bool conn_is_tls(const struct conn *c)
{
	return c->tls != NULL;
}
bool conn_tls_handshaking(const struct conn *c);
/* Why the TLS handshake or stream failed ("" if it did not). */
const char *conn_tls_error(const struct conn *c);
/* "TLSv1.3 TLS_AES_256_GCM_SHA384" for logs, or "" without TLS. */
void conn_tls_describe(const struct conn *c, char *buf, size_t len);

/*
 * The compressed protocol (CLIENT_COMPRESS, zlib at level) from now on:
 * what c->out holds already goes out as it is (the login's OK, or the
 * login), every byte written after this call goes out in compressed
 * frames, and every byte read from now on is taken as frames and
 * inflated, so the session keeps seeing plain packets in c->in and
 * writing them to c->out. It sits between TLS and the session. A frame
 * that does not inflate ends the conn with CONN_ERROR (c->error EBADMSG).
 * Frame sequence ids follow the peer's: the first frame sent after the
 * peer's frame n is n+1. As the server (client false), c->in's unread
 * bytes are frames already; as the client (true), they are the server's
 * plain OK and stay, and each command's frames start at 0 (a packet with
 * sequence id 0 starts a command). Returns 0, or -1 (c->error: ENOMEM, or
 * EBADMSG for a bad frame among the bytes read already).
 */
int conn_zip_start(struct conn *c, int level, bool client);
bool conn_is_compressed(const struct conn *c);

void conn_read_enable(struct conn *c);
void conn_read_disable(struct conn *c);

/* Write what c->out holds now; arm the write event for the rest. Returns
 * 0, or -1 on a socket error (c->error set; CONN_ERROR will not follow). */
int conn_flush(struct conn *c);
/* Append bytes and flush. */
int conn_write(struct conn *c, const void *data, size_t len);

/* Bytes queued and not yet sent (frames built from them included). */
static inline size_t conn_pending(const struct conn *c)
{
	if (!c->out)
		return 0;
	size_t n = evbuffer_get_length(c->out);
	return c->wout != c->out ? n + evbuffer_get_length(c->wout) : n;
}

static inline bool conn_is_open(const struct conn *c)
{
	return c->fd >= 0;
}

/*
 * conn_pool — a worker's read blocks: the area plain conns read into,
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
struct evbuffer;

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
