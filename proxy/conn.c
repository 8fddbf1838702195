/*
 * conn.c — direct socket I/O on evbuffers (see conn.h for why).
 */
#include "proxy/conn.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

/* Bytes one read may bring in; large enough that a result set arrives in
 * few syscalls, small enough that one session cannot hog a turn. */
#define CONN_READ_CHUNK (64 * 1024)

static void set_socket_options(int fd)
{
	int one = 1;
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0 && !(fl & O_NONBLOCK))
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	/* MySQL traffic is request/response: Nagle would add a delay per packet. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
}

/* Read once into reserved space. >0 bytes, 0 would block, -1 error/EOF handled. */
static ssize_t read_once(struct conn *c)
{
	struct evbuffer_iovec vec[2];
	int n = evbuffer_reserve_space(c->in, CONN_READ_CHUNK, vec, 2);
	if (n <= 0)
		return -1;
	struct iovec iov[2];
	for (int i = 0; i < n; i++) {
		iov[i].iov_base = vec[i].iov_base;
		iov[i].iov_len = vec[i].iov_len;
	}
	ssize_t got = readv(c->fd, iov, n);
	if (got <= 0) {
		evbuffer_commit_space(c->in, vec, 0);
		return got;
	}
	size_t left = (size_t)got;
	for (int i = 0; i < n; i++) {
		size_t take = left < vec[i].iov_len ? left : vec[i].iov_len;
		vec[i].iov_len = take;
		left -= take;
	}
	evbuffer_commit_space(c->in, vec, n);
	return got;
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	(void)fd;
	(void)what;
	ssize_t got = read_once(c);
	if (got > 0) {
		c->cbs->on_read(c, c->arg);
		return;
	}
	if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (got == 0) {
		c->eof = true;
		conn_read_disable(c);
		c->cbs->on_event(c, CONN_EOF, c->arg);
		return;
	}
	c->error = errno;
	conn_read_disable(c);
	c->cbs->on_event(c, CONN_ERROR, c->arg);
}

static int write_some(struct conn *c)
{
	while (evbuffer_get_length(c->out) > 0) {
		int n = evbuffer_write(c->out, c->fd);
		if (n > 0)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 1;
		if (n < 0 && errno == EINTR)
			continue;
		c->error = n == 0 ? EPIPE : errno;
		return -1;
	}
	return 0;
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	(void)fd;
	(void)what;
	if (c->connecting) {
		int err = 0;
		socklen_t len = sizeof(err);
		c->connecting = false;
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err) {
			c->error = err;
			event_del(&c->wev);
			c->writing = false;
			c->cbs->on_event(c, CONN_ERROR, c->arg);
			return;
		}
		conn_read_enable(c);
		/* keep wev armed only if the session queued bytes meanwhile */
		if (evbuffer_get_length(c->out) == 0) {
			event_del(&c->wev);
			c->writing = false;
		}
		c->cbs->on_event(c, CONN_CONNECTED, c->arg);
		return;
	}
	int rc = write_some(c);
	if (rc < 0) {
		event_del(&c->wev);
		c->writing = false;
		c->cbs->on_event(c, CONN_ERROR, c->arg);
		return;
	}
	if (rc == 0) {
		event_del(&c->wev);
		c->writing = false;
	}
	if (c->want_drain && evbuffer_get_length(c->out) <= c->low_mark)
		c->cbs->on_drain(c, c->arg);
}

static int conn_setup(struct conn *c, struct event_base *base, int fd,
		      const struct conn_cbs *cbs, void *arg)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->in = evbuffer_new();
	c->out = evbuffer_new();
	if (!c->in || !c->out) {
		conn_close(c);
		return -1;
	}
	c->fd = fd;
	c->cbs = cbs;
	c->arg = arg;
	event_assign(&c->rev, base, fd, EV_READ | EV_PERSIST, on_readable, c);
	event_assign(&c->wev, base, fd, EV_WRITE | EV_PERSIST, on_writable, c);
	return 0;
}

int conn_open_fd(struct conn *c, struct event_base *base, int fd, const struct conn_cbs *cbs,
		 void *arg)
{
	if (conn_setup(c, base, fd, cbs, arg) < 0) {
		c->fd = -1;
		return -1;
	}
	set_socket_options(fd);
	conn_read_enable(c);
	return 0;
}

int conn_connect(struct conn *c, struct event_base *base, const struct sockaddr *sa,
		 socklen_t salen, const struct conn_cbs *cbs, void *arg)
{
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (conn_setup(c, base, fd, cbs, arg) < 0) {
		close(fd);
		c->fd = -1;
		return -1;
	}
	set_socket_options(fd);
	if (connect(fd, sa, salen) < 0 && errno != EINPROGRESS) {
		c->error = errno;
		return -1;
	}
	/* Completion (even an immediate one on loopback) is reported from the
	 * event loop, never from inside this call. */
	c->connecting = true;
	event_add(&c->wev, NULL);
	c->writing = true;
	return 0;
}

void conn_shutdown(struct conn *c)
{
	if (c->fd >= 0) {
		event_del(&c->rev);
		event_del(&c->wev);
		close(c->fd);
		c->fd = -1;
	}
	c->reading = c->writing = c->connecting = false;
}

void conn_close(struct conn *c)
{
	conn_shutdown(c);
	if (c->in)
		evbuffer_free(c->in);
	if (c->out)
		evbuffer_free(c->out);
	c->in = c->out = NULL;
}

void conn_read_enable(struct conn *c)
{
	if (!c->reading && c->fd >= 0 && !c->eof && !c->connecting) {
		event_add(&c->rev, NULL);
		c->reading = true;
	}
}

void conn_read_disable(struct conn *c)
{
	if (c->reading) {
		event_del(&c->rev);
		c->reading = false;
	}
}

int conn_flush(struct conn *c)
{
	if (c->fd < 0)
		return -1;
	if (c->connecting || c->writing)
		return 0; /* the write event will send it */
	int rc = write_some(c);
	if (rc < 0)
		return -1;
	if (rc > 0) {
		event_add(&c->wev, NULL);
		c->writing = true;
	}
	return 0;
}

int conn_write(struct conn *c, const void *data, size_t len)
{
	if (c->fd < 0 || evbuffer_add(c->out, data, len) < 0)
		return -1;
	return conn_flush(c);
}
