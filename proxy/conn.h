/*
 * conn.h — one TCP connection of a session: its socket, an input and an
 * output evbuffer, and the read/write events on the worker's event_base.
 *
 * Why not bufferevents: a bufferevent writes only from its write event, so
 * every round trip costs an epoll_ctl to arm the write and another to
 * disarm it, plus an extra loop turn. conn writes at once (conn_flush) and
 * arms the write event only when the kernel buffer is full — the way
 * HAProxy does it — and reads with one readv into reserved evbuffer space
 * (evbuffer_read adds an ioctl(FIONREAD) per read).
 *
 * Owns: the fd, both evbuffers and both events. Must not: know anything of
 * MySQL; callbacks tell the session what happened and the session decides.
 * Callbacks are never called from inside conn_* calls made by the session,
 * only from the event loop, so a session never re-enters itself.
 */
#ifndef TANDEM_PROXY_CONN_H
#define TANDEM_PROXY_CONN_H

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct conn;

enum conn_event {
	CONN_CONNECTED, /* a conn_connect() finished */
	CONN_EOF,       /* the peer closed its side */
	CONN_ERROR,     /* a socket error; errno-style code in c->error */
};

struct conn_cbs {
	void (*on_read)(struct conn *c, void *arg);          /* new bytes in c->in */
	void (*on_drain)(struct conn *c, void *arg);         /* c->out fell to the low mark */
	void (*on_event)(struct conn *c, enum conn_event ev, void *arg);
};

struct conn {
	int fd;                  /* -1 when closed */
	struct evbuffer *in;
	struct evbuffer *out;
	struct event rev;        /* persistent read event */
	struct event wev;        /* armed only while out cannot be flushed */
	const struct conn_cbs *cbs;
	void *arg;
	size_t low_mark;         /* on_drain fires when out falls to this (if want_drain) */
	int error;               /* last socket error */
	bool reading;            /* rev is added */
	bool writing;            /* wev is added */
	bool connecting;
	bool want_drain;
	bool eof;                /* the peer closed its side */
};

/* Adopt an accepted, connected socket (made non-blocking here). Reading
 * starts at once. Returns 0, or -1 (fd is not closed then). */
int conn_open_fd(struct conn *c, struct event_base *base, int fd, const struct conn_cbs *cbs,
		 void *arg);
/* Start a non-blocking connect; CONN_CONNECTED or CONN_ERROR follows. */
int conn_connect(struct conn *c, struct event_base *base, const struct sockaddr *sa,
		 socklen_t salen, const struct conn_cbs *cbs, void *arg);
/* Close the socket and free the buffers. Safe on a zeroed or closed conn. */
void conn_close(struct conn *c);
/* Close the socket but keep the (drained) buffers until conn_close, so code
 * still on the stack may look at them safely. */
void conn_shutdown(struct conn *c);

void conn_read_enable(struct conn *c);
void conn_read_disable(struct conn *c);

/* Write what c->out holds now; arm the write event for the rest. Returns
 * 0, or -1 on a socket error (c->error set; CONN_ERROR will not follow). */
int conn_flush(struct conn *c);
/* Append bytes and flush. */
int conn_write(struct conn *c, const void *data, size_t len);

static inline size_t conn_pending(const struct conn *c)
{
	return c->out ? evbuffer_get_length(c->out) : 0;
}

static inline bool conn_is_open(const struct conn *c)
{
	return c->fd >= 0;
}

#endif
