/*
 * conn.c — direct socket I/O on evbuffers, plain or TLS (see io.h for why).
 */
#include "proxy/io/io.h"

#include "protocol/compress.h"
#include "protocol/packet.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Bytes one read may bring in (the TLS path reads into evbuffer space). */
#define CONN_READ_CHUNK CONN_POOL_BLOCK
/* A plain read shorter than this is copied into a small evbuffer chain
 * (malloc's per-thread cache, a memcpy of a command or an OK); a longer
 * one keeps its pool block. A block given away holds at least this much
 * data, so it never pins more than 16 times the bytes it was read for. */
#define CONN_COPY_MAX (4 * 1024)
/* Small chains queued for a TLS peer are copied into one record of up to
 * this many bytes rather than sent as a record (and a send) each. */
#define TLS_COALESCE (16 * 1024)

/* What a TLS conn needs beyond a plain one; allocated by conn_tls_start. */
struct conn_tls {
	SSL *ssl;
	struct evbuffer *pre; /* bytes read before TLS started, fed to OpenSSL first */
	bool handshaking;
	bool failed;           /* a fatal TLS error: no close_notify may be sent */
	bool read_wants_write; /* SSL_read needs the socket writable to go on */
	bool write_wants_read; /* SSL_write needs the socket readable to go on */
	bool rev_forced;       /* rev is added only for write_wants_read */
	bool sock_drained;     /* the last socket read returned less than asked for */
	int pending_event;     /* 0, or CONN_EOF / CONN_ERROR seen after data, to report next */
	char err[160];         /* why TLS failed */
};

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

/* ------------------------------------------------------------ TLS BIO */

/* A BIO on the conn: reads c->tls->pre first, then the socket. */
static int bio_read(BIO *b, char *buf, int len)
{
	struct conn *c = BIO_get_data(b);
	BIO_clear_retry_flags(b);
	if (len <= 0)
		return 0;
	if (c->tls && c->tls->pre) {
		int n = evbuffer_remove(c->tls->pre, buf, (size_t)len);
		if (evbuffer_get_length(c->tls->pre) == 0) {
			evbuffer_free(c->tls->pre);
			c->tls->pre = NULL;
		}
		if (n > 0)
			return n;
	}
	ssize_t n = read(c->fd, buf, (size_t)len);
	if (c->tls)
		c->tls->sock_drained = n >= 0 && n < len;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
		BIO_set_retry_read(b);
		return -1;
	}
	if (n < 0)
		c->error = errno;
	return (int)n;
}

static int bio_write(BIO *b, const char *buf, int len)
{
	struct conn *c = BIO_get_data(b);
	BIO_clear_retry_flags(b);
	ssize_t n = send(c->fd, buf, (size_t)len, MSG_NOSIGNAL);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
		BIO_set_retry_write(b);
		return -1;
	}
	if (n < 0)
		c->error = errno;
	return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b;
	(void)num;
	(void)ptr;
	return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static BIO_METHOD *bio_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

static void bio_method_init(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "tandem conn");
	if (m && BIO_meth_set_read(m, bio_read) == 1 && BIO_meth_set_write(m, bio_write) == 1 &&
	    BIO_meth_set_ctrl(m, bio_ctrl) == 1 && BIO_meth_set_create(m, bio_create) == 1) {
		bio_method = m;
		return;
	}
	BIO_meth_free(m);
}

/* ------------------------------------------------------------ TLS I/O */

static void tls_record_error(struct conn *c, const char *what)
{
	struct conn_tls *t = c->tls;
	long v = SSL_get_verify_result(t->ssl);
	unsigned long e = ERR_peek_last_error();
	if (v != X509_V_OK && t->handshaking) {
		snprintf(t->err, sizeof(t->err), "%s: certificate verify failed (%s)", what,
			 X509_verify_cert_error_string(v));
	} else if (e) {
		const char *r = ERR_reason_error_string(e);
		snprintf(t->err, sizeof(t->err), "%s: %s", what, r ? r : "OpenSSL error");
	} else if (c->error) {
		snprintf(t->err, sizeof(t->err), "%s: %s", what, strerror(c->error));
	} else {
		snprintf(t->err, sizeof(t->err), "%s: the peer closed the connection", what);
	}
	ERR_clear_error();
	t->failed = true;
	if (!c->error)
		c->error = EPROTO;
}

static void wev_set(struct conn *c, bool on)
{
	if (on && !c->writing) {
		event_add(&c->wev, NULL);
		c->writing = true;
	} else if (!on && c->writing) {
		event_del(&c->wev);
		c->writing = false;
	}
}

/* Read once into reserved space, record by record. >0 bytes, 0 EOF,
 * -1 error (c->error set), -2 nothing to read now. */
static ssize_t tls_read(struct conn *c)
{
	struct conn_tls *t = c->tls;
	if (t->pending_event) {
		int ev = t->pending_event;
		t->pending_event = 0;
		return ev == CONN_EOF ? 0 : -1;
	}
	struct evbuffer_iovec vec[2];
	int n = evbuffer_reserve_space(c->rin, CONN_READ_CHUNK, vec, 2);
	if (n <= 0) {
		c->error = ENOMEM;
		return -1;
	}
	size_t got = 0, filled[2] = {0, 0};
	int i = 0, status = -2;
	while (i < n) {
		size_t room = vec[i].iov_len - filled[i];
		if (room == 0) {
			i++;
			continue;
		}
		ERR_clear_error();
		int r = SSL_read(t->ssl, (char *)vec[i].iov_base + filled[i],
				 room > INT_MAX ? INT_MAX : (int)room);
		if (r > 0) {
			filled[i] += (size_t)r;
			got += (size_t)r;
			/* The socket gave all it had and OpenSSL holds nothing more:
			 * stop here rather than pay a read that says EAGAIN (epoll
			 * is level-triggered and reports what comes next). */
			if (t->sock_drained && !SSL_has_pending(t->ssl))
				break;
			continue;
		}
		int e = SSL_get_error(t->ssl, r);
		if (e == SSL_ERROR_WANT_READ) {
			status = -2;
		} else if (e == SSL_ERROR_WANT_WRITE) {
			t->read_wants_write = true;
			wev_set(c, true);
			status = -2;
		} else if (e == SSL_ERROR_ZERO_RETURN ||
			   (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && c->error == 0)) {
			status = 0;
		} else {
			tls_record_error(c, "TLS read");
			status = -1;
		}
		break;
	}
	for (int k = 0; k < n; k++)
		vec[k].iov_len = filled[k];
	evbuffer_commit_space(c->rin, vec, n);
	if (got == 0)
		return status;
	if (status == 0 || status == -1)
		t->pending_event = status == 0 ? CONN_EOF : CONN_ERROR;
	/* Data OpenSSL holds already will not wake epoll: come back for it. */
	if (t->pending_event || (i >= n && SSL_has_pending(t->ssl)))
		event_active(&c->rev, EV_READ, 1);
	return (ssize_t)got;
}

/* Like write_some: 0 all sent, 1 would block, -1 error. */
static int tls_write_some(struct conn *c)
{
	struct conn_tls *t = c->tls;
	uint8_t stack[TLS_COALESCE];
	while (evbuffer_get_length(c->wout) > 0) {
		struct evbuffer_iovec v;
		if (evbuffer_peek(c->wout, -1, NULL, &v, 1) < 1)
			break;
		const void *p = v.iov_base;
		size_t len = v.iov_len;
		if (len < TLS_COALESCE && evbuffer_get_length(c->wout) > len) {
			/* Same prefix on a retry, as OpenSSL requires: nothing
			 * before it is drained until SSL_write succeeds. */
			ev_ssize_t got = evbuffer_copyout(c->wout, stack, sizeof(stack));
			if (got <= 0)
				return -1;
			p = stack;
			len = (size_t)got;
		}
		ERR_clear_error();
		int w = SSL_write(t->ssl, p, len > INT_MAX ? INT_MAX : (int)len);
		if (w > 0) {
			evbuffer_drain(c->wout, (size_t)w);
			continue;
		}
		int e = SSL_get_error(t->ssl, w);
		if (e == SSL_ERROR_WANT_WRITE)
			return 1;
		if (e == SSL_ERROR_WANT_READ) {
			t->write_wants_read = true;
			if (!c->reading && !t->rev_forced) {
				event_add(&c->rev, NULL);
				t->rev_forced = true;
			}
			return 2;
		}
		tls_record_error(c, "TLS write");
		return -1;
	}
	return 0;
}

/* One step of the handshake; reports CONN_TLS_READY or CONN_ERROR. */
static void tls_handshake_step(struct conn *c)
{
	struct conn_tls *t = c->tls;
	ERR_clear_error();
	int r = SSL_do_handshake(t->ssl);
	if (r == 1) {
		t->handshaking = false;
		wev_set(c, false);
		c->cbs->on_event(c, CONN_TLS_READY, c->arg);
		if (c->fd < 0 || !c->tls)
			return;
		/* The peer's first records may have come with its Finished. */
		if (c->reading)
			event_active(&c->rev, EV_READ, 1);
		if (conn_pending(c) > 0 && conn_flush(c) < 0) {
			conn_read_disable(c);
			c->cbs->on_event(c, CONN_ERROR, c->arg);
		}
		return;
	}
	int e = SSL_get_error(t->ssl, r);
	if (e == SSL_ERROR_WANT_READ) {
		wev_set(c, false);
		return;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		wev_set(c, true);
		return;
	}
	tls_record_error(c, "TLS handshake");
	conn_read_disable(c);
	wev_set(c, false);
	c->cbs->on_event(c, CONN_ERROR, c->arg);
}

int conn_tls_start(struct conn *c, struct ssl_ctx_st *ctx, bool server, const char *verify_host)
{
	pthread_once(&bio_once, bio_method_init);
	if (c->fd < 0 || c->tls || !bio_method)
		return -1;
	struct conn_tls *t = calloc(1, sizeof(*t));
	SSL *ssl = t ? SSL_new(ctx) : NULL;
	BIO *bio = ssl ? BIO_new(bio_method) : NULL;
	if (!bio) {
		SSL_free(ssl);
		free(t);
		ERR_clear_error();
		return -1;
	}
	BIO_set_data(bio, c);
	SSL_set_bio(ssl, bio, bio);
	if (server) {
		SSL_set_accept_state(ssl);
	} else {
		SSL_set_connect_state(ssl);
		if (verify_host && verify_host[0]) {
			X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
			/* An IP literal is matched against IP SANs, a name against DNS
			 * SANs (and sent as SNI, which takes names only). */
			if (X509_VERIFY_PARAM_set1_ip_asc(param, verify_host) != 1) {
				ERR_clear_error();
				if (SSL_set1_host(ssl, verify_host) != 1 ||
				    SSL_set_tlsext_host_name(ssl, verify_host) != 1) {
					SSL_free(ssl);
					free(t);
					ERR_clear_error();
					return -1;
				}
			}
		}
	}
	if (evbuffer_get_length(c->in) > 0) {
		t->pre = evbuffer_new();
		if (!t->pre || evbuffer_add_buffer(t->pre, c->in) < 0) {
			if (t->pre)
				evbuffer_free(t->pre);
			SSL_free(ssl);
			free(t);
			return -1;
		}
	}
	t->ssl = ssl;
	t->handshaking = true;
	c->tls = t;
	conn_read_enable(c);
	/* The first step runs from the loop: callbacks never fire inside a
	 * conn_* call the session made. */
	event_active(&c->rev, EV_READ, 1);
	return 0;
}

bool conn_tls_handshaking(const struct conn *c)
{
	return c->tls && c->tls->handshaking;
}

const char *conn_tls_error(const struct conn *c)
{
	return c->tls ? c->tls->err : "";
}

void conn_tls_describe(const struct conn *c, char *buf, size_t len)
{
	if (!c->tls || c->tls->handshaking) {
		snprintf(buf, len, "%s", "");
		return;
	}
	snprintf(buf, len, "%s %s", SSL_get_version(c->tls->ssl),
		 SSL_CIPHER_get_name(SSL_get_current_cipher(c->tls->ssl)));
}

static void tls_free(struct conn *c)
{
	struct conn_tls *t = c->tls;
	if (!t)
		return;
	if (!t->failed && !t->handshaking && c->fd >= 0) {
		/* One non-blocking close_notify; no wait for the peer's. */
		ERR_clear_error();
		SSL_shutdown(t->ssl);
	}
	SSL_free(t->ssl);
	if (t->pre)
		evbuffer_free(t->pre);
	free(t);
	c->tls = NULL;
	ERR_clear_error();
}

/* ------------------------------------------------- compressed protocol */

/* Plain bytes deflated into one frame at most: a frame per flush for the
 * small answers of the hot path, and bounded work (and a bounded pullup)
 * per frame for a big result. */
#define ZIP_CHUNK (64 * 1024)
/* No frame is inflated while c->in holds this much: a frame inflates to
 * 16 MiB at most, so a client's small frames of zeros cannot make one read
 * of 64 KiB take gigabytes; the rest waits in raw_in (backlog) until the
 * session has taken what c->in has. */
#define ZIP_IN_MAX (256 * 1024)

/* The compression layer, between the socket (or TLS) and the session. */
struct conn_zip {
	struct evbuffer *raw_in;           /* frames read, the last perhaps partial (c->rin) */
	struct evbuffer *raw_out;          /* frames built, not yet written (c->wout) */
	uint8_t seq;                       /* compressed sequence id of the next frame sent */
	int level;                         /* zlib level */
	bool fresh;                        /* c->in got bytes no on_read has reported yet */
	bool backlog;                      /* raw_in holds whole frames not inflated yet */
	struct evbuffer_cb_entry *drained; /* on c->in: wakes the backlog */
	bool client;                       /* tandem is the client: commands' frames start at 0 */
	bool heard;                        /* client: a frame came since the last one sent */
	uint8_t pkt_seq;                   /* client: sequence id of the last packet framed */
	uint32_t pkt_left;                 /* client: bytes of that packet not framed yet */
};

static ssize_t zip_inflate(struct conn *c);

/* The session took bytes from c->in (it may do so without a read event,
 * e.g. a pipelined command after a result): frames waiting in raw_in are
 * the read event's to inflate now. */
static void zip_in_drained(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct conn *c = arg;
	if (info->n_deleted > 0 && c->zip && c->zip->backlog && c->reading && c->fd >= 0 &&
	    evbuffer_get_length(buf) < ZIP_IN_MAX)
		event_active(&c->rev, EV_READ, 1);
}

int conn_zip_start(struct conn *c, int level, bool client)
{
	if (c->zip)
		return 0;
	struct conn_zip *z = calloc(1, sizeof(*z));
	if (!z)
		return -1;
	z->raw_in = evbuffer_new();
	z->raw_out = evbuffer_new();
	z->level = level;
	z->client = client;
	z->heard = true;
	/* A client's unread bytes are the server's plain OK, still to be read
	 * by the session; a server's are the client's first frames. */
	if (z->raw_in && z->raw_out)
		z->drained = evbuffer_add_cb(c->in, zip_in_drained, c);
	if (!z->drained || evbuffer_add_buffer(z->raw_out, c->out) < 0 ||
	    (!client && evbuffer_add_buffer(z->raw_in, c->in) < 0)) {
		if (z->drained)
			evbuffer_remove_cb_entry(c->in, z->drained);
		if (z->raw_in)
			evbuffer_free(z->raw_in);
		if (z->raw_out)
			evbuffer_free(z->raw_out);
		free(z);
		c->error = ENOMEM;
		return -1;
	}
	/* What the session queued before this call (the login's OK) goes out
	 * plain; what the peer sent after it is frames already. */
	c->zip = z;
	c->rin = z->raw_in;
	c->wout = z->raw_out;
	if (evbuffer_get_length(z->raw_in) > 0) {
		ssize_t n = zip_inflate(c);
		if (n == -1)
			return -1;
		/* reported from the event loop, never from inside this call */
		z->fresh = n > 0;
		if (z->fresh)
			event_active(&c->rev, EV_READ, 1);
	}
	return 0;
}

static void zip_free(struct conn *c)
{
	struct conn_zip *z = c->zip;
	if (!z)
		return;
	evbuffer_remove_cb_entry(c->in, z->drained);
	evbuffer_free(z->raw_in);
	evbuffer_free(z->raw_out);
	free(z);
	c->zip = NULL;
	c->rin = c->in;
	c->wout = c->out;
}

/* Every whole frame in raw_in, inflated onto c->in. Returns >0 plain bytes
 * added, -2 none yet (a partial frame), -1 a bad frame (c->error set). */
static ssize_t zip_inflate(struct conn *c)
{
	struct conn_zip *z = c->zip;
	ssize_t added = 0;
	z->backlog = false;
	for (;;) {
		uint8_t h[PROTO_ZHEADER_LEN];
		struct proto_zframe f;
		if (evbuffer_copyout(z->raw_in, h, sizeof(h)) != (ev_ssize_t)sizeof(h))
			break;
		proto_zframe_parse(h, sizeof(h), &f);
		size_t span = PROTO_ZHEADER_LEN + (size_t)f.clen;
		if (evbuffer_get_length(z->raw_in) < span)
			break;
		if (evbuffer_get_length(c->in) >= ZIP_IN_MAX) {
			z->backlog = true;
			break;
		}
		const uint8_t *frame = evbuffer_pullup(z->raw_in, (ev_ssize_t)span);
		uint32_t plain = proto_zframe_plain_len(&f);
		struct evbuffer_iovec v;
		if (!frame || (plain > 0 && evbuffer_reserve_space(c->in, plain, &v, 1) != 1)) {
			c->error = ENOMEM;
			return -1;
		}
		if (plain > 0) {
			long n = proto_zframe_inflate(&f, frame + PROTO_ZHEADER_LEN, v.iov_base);
			if (n < 0) {
				c->error = n == PROTO_E_NOMEM ? ENOMEM : EBADMSG;
				return -1;
			}
			v.iov_len = plain;
			evbuffer_commit_space(c->in, &v, 1);
		}
		/* Our answer's frames follow the peer's, as the server's do
		 * (net_serv.cc: compress_pkt_nr = ++pkt_nr after a read); a
		 * new command starts at 0, so its answer starts at 1. */
		z->seq = (uint8_t)(f.seq + 1);
		z->heard = true;
		evbuffer_drain(z->raw_in, span);
		added += (ssize_t)plain;
	}
	return added > 0 ? added : -2;
}

/*
 * As a client, how many plain bytes at the head of c->out the next frame
 * takes, and whether they start a command. A server expects each
 * command's first frame to be 0 (net_new_transaction() before it reads
 * one), so a frame ends before every packet that starts a command: one
 * with sequence id 0 at a packet boundary, unless it is the wrap of a
 * long run of LOCAL INFILE packets (after 255, with nothing heard since).
 * The only MySQL this layer knows: packet headers in what it sends as a
 * client. Returns 0 when the head is a packet header not yet whole (a
 * streamed command's rest is coming).
 */
static size_t zip_client_span(struct conn *c, bool *starts)
{
	struct conn_zip *z = c->zip;
	size_t avail = evbuffer_get_length(c->out);
	size_t take = 0;
	uint32_t left = z->pkt_left;
	uint8_t prev = z->pkt_seq;
	*starts = false;
	while (take < avail && take < ZIP_CHUNK) {
		if (left == 0) {
			uint8_t h[PROTO_HEADER_LEN];
			struct evbuffer_ptr pos;
			if (avail - take < sizeof(h))
				break;
			evbuffer_ptr_set(c->out, &pos, take, EVBUFFER_PTR_SET);
			evbuffer_copyout_from(c->out, &pos, h, sizeof(h));
			bool heard = take == 0 && z->heard;
			bool command = h[3] == 0 && (prev != 0xff || heard);
			if (command && take > 0)
				break;
			*starts = *starts || command;
			prev = h[3];
			left = PROTO_HEADER_LEN +
			       ((uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16);
		}
		size_t n = avail - take;
		if (n > left)
			n = left;
		if (n > ZIP_CHUNK - take)
			n = ZIP_CHUNK - take;
		take += n;
		left -= (uint32_t)n;
	}
	z->pkt_left = left;
	z->pkt_seq = prev;
	return take;
}

/* Everything the session queued in c->out, as frames onto raw_out.
 * 0, or -1 (c->error set). */
static int zip_deflate(struct conn *c)
{
	struct conn_zip *z = c->zip;
	size_t cap = proto_zframe_bound(ZIP_CHUNK);
	while (evbuffer_get_length(c->out) > 0) {
		size_t len = evbuffer_get_length(c->out);
		if (len > ZIP_CHUNK)
			len = ZIP_CHUNK;
		if (z->client) {
			bool starts;
			len = zip_client_span(c, &starts);
			if (len == 0)
				break;
			if (starts)
				z->seq = 0;
		}
		const uint8_t *plain = evbuffer_pullup(c->out, (ev_ssize_t)len);
		struct evbuffer_iovec v;
		if (!plain || evbuffer_reserve_space(z->raw_out, cap, &v, 1) != 1) {
			c->error = ENOMEM;
			return -1;
		}
		long n = proto_zframe_build(plain, len, z->seq, z->level, v.iov_base, v.iov_len);
		if (n < 0) {
			c->error = ENOMEM;
			return -1;
		}
		z->seq++;
		z->heard = false;
		v.iov_len = (size_t)n;
		evbuffer_commit_space(z->raw_out, &v, 1);
		evbuffer_drain(c->out, len);
	}
	return 0;
}

bool conn_is_compressed(const struct conn *c)
{
	return c->zip != NULL;
}

/* ---------------------------------------------------------- plain I/O */

/* Read once into the worker's block. >0 bytes, 0 EOF, -1 error, -2 would
 * block. */
static ssize_t read_once(struct conn *c)
{
	uint8_t *block = conn_pool_current(c->pool);
	if (!block) {
		c->error = ENOMEM;
		return -1;
	}
	ssize_t got = read(c->fd, block, CONN_POOL_BLOCK);
	if (got <= 0) {
		if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return -2;
		if (got < 0)
			c->error = errno;
		return got;
	}
	int rc = (size_t)got < CONN_COPY_MAX ? evbuffer_add(c->rin, block, (size_t)got)
					     : conn_pool_give(c->pool, c->rin, (size_t)got);
	if (rc < 0) {
		c->error = ENOMEM;
		return -1;
	}
	return got;
}

static int write_some(struct conn *c)
{
	while (evbuffer_get_length(c->wout) > 0) {
		int n = evbuffer_write(c->wout, c->fd);
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

/* 0 all sent, >0 the rest waits for an event, -1 error. */
static int flush_out(struct conn *c)
{
	if (c->zip && zip_deflate(c) < 0)
		return -1;
	return c->tls ? tls_write_some(c) : write_some(c);
}

/* ------------------------------------------------------------- events */

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	(void)fd;
	(void)what;
	if (c->fd < 0)
		return;
	if (c->tls) {
		struct conn_tls *t = c->tls;
		if (t->handshaking) {
			tls_handshake_step(c);
			return;
		}
		if (t->write_wants_read) {
			t->write_wants_read = false;
			if (t->rev_forced) {
				event_del(&c->rev);
				t->rev_forced = false;
			}
			if (conn_flush(c) < 0) {
				conn_read_disable(c);
				c->cbs->on_event(c, CONN_ERROR, c->arg);
				return;
			}
		}
		if (!c->reading)
			return;
	}
	ssize_t got;
	if (c->zip && (c->zip->fresh || c->zip->backlog)) {
		/* frames read already: no socket read until they are taken */
		c->zip->fresh = false;
		got = c->zip->backlog ? zip_inflate(c) : 1;
		if (got == -2)
			return;
	} else {
		got = c->tls ? tls_read(c) : read_once(c);
		if (got > 0 && c->zip) {
			/* Only whole frames become packets; a partial one waits. */
			got = zip_inflate(c);
			if (got == -2)
				return;
		}
	}
	if (got > 0) {
		c->cbs->on_read(c, c->arg);
		return;
	}
	if (got == -2)
		return;
	conn_read_disable(c);
	if (got == 0) {
		c->eof = true;
		c->cbs->on_event(c, CONN_EOF, c->arg);
		return;
	}
	c->cbs->on_event(c, CONN_ERROR, c->arg);
}

static void on_connected(struct conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);
	c->connecting = false;
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err) {
		c->error = err;
		wev_set(c, false);
		c->cbs->on_event(c, CONN_ERROR, c->arg);
		return;
	}
	conn_read_enable(c);
	/* keep wev armed only if the session queued bytes meanwhile */
	if (conn_pending(c) == 0)
		wev_set(c, false);
	c->cbs->on_event(c, CONN_CONNECTED, c->arg);
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	(void)fd;
	(void)what;
	if (c->fd < 0)
		return;
	if (c->connecting) {
		on_connected(c);
		return;
	}
	if (c->tls && c->tls->handshaking) {
		tls_handshake_step(c);
		return;
	}
	if (c->tls && c->tls->read_wants_write) {
		c->tls->read_wants_write = false;
		on_readable(c->fd, EV_READ, c);
		if (c->fd < 0)
			return;
	}
	int rc = flush_out(c);
	if (rc < 0) {
		wev_set(c, false);
		/* A peer that stopped reading may have said why first (a server's
		 * ERR before its close): while reads are on, the read side reports
		 * that and then the close; the socket stays readable until it has. */
		if (!c->reading || (c->error != EPIPE && c->error != ECONNRESET))
			c->cbs->on_event(c, CONN_ERROR, c->arg);
		return;
	}
	if (rc != 1 && !(c->tls && c->tls->read_wants_write))
		wev_set(c, false);
	if (c->want_drain && conn_pending(c) <= c->low_mark)
		c->cbs->on_drain(c, c->arg);
}

/* ----------------------------------------------------------- lifecycle */

static int conn_setup(struct conn *c, struct event_base *base, struct conn_pool *pool, int fd,
		      const struct conn_cbs *cbs, void *arg)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->in = c->rin = evbuffer_new();
	c->out = c->wout = evbuffer_new();
	if (!c->in || !c->out) {
		conn_close(c);
		return -1;
	}
	c->fd = fd;
	c->pool = pool;
	c->cbs = cbs;
	c->arg = arg;
	event_assign(&c->rev, base, fd, EV_READ | EV_PERSIST, on_readable, c);
	event_assign(&c->wev, base, fd, EV_WRITE | EV_PERSIST, on_writable, c);
	return 0;
}

int conn_open_fd(struct conn *c, struct event_base *base, struct conn_pool *pool, int fd,
		 const struct conn_cbs *cbs, void *arg)
{
	if (conn_setup(c, base, pool, fd, cbs, arg) < 0) {
		c->fd = -1;
		return -1;
	}
	set_socket_options(fd);
	conn_read_enable(c);
	return 0;
}

int conn_connect(struct conn *c, struct event_base *base, struct conn_pool *pool,
		 const struct sockaddr *sa, socklen_t salen, const struct conn_cbs *cbs, void *arg)
{
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		c->error = errno; /* EMFILE: the caller tells its shortage from the server's */
		return -1;
	}
	if (conn_setup(c, base, pool, fd, cbs, arg) < 0) {
		close(fd);
		c->fd = -1;
		c->error = ENOMEM;
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
		tls_free(c);
		close(c->fd);
		c->fd = -1;
	}
	tls_free(c);
	c->reading = c->writing = c->connecting = false;
}

void conn_close(struct conn *c)
{
	conn_shutdown(c);
	zip_free(c);
	if (c->in)
		evbuffer_free(c->in);
	if (c->out)
		evbuffer_free(c->out);
	c->in = c->out = c->rin = c->wout = NULL;
}

void conn_read_enable(struct conn *c)
{
	if (!c->reading && c->fd >= 0 && !c->eof && !c->connecting) {
		if (c->tls && c->tls->rev_forced)
			c->tls->rev_forced = false; /* already added */
		else
			event_add(&c->rev, NULL);
		c->reading = true;
		/* Records OpenSSL decrypted while reading was off wake no epoll,
		 * nor do frames read before that wait to be inflated. */
		if ((c->tls && !c->tls->handshaking &&
		     (c->tls->pending_event || SSL_has_pending(c->tls->ssl))) ||
		    (c->zip && c->zip->backlog))
			event_active(&c->rev, EV_READ, 1);
	}
}

void conn_read_disable(struct conn *c)
{
	if (c->reading) {
		if (!(c->tls && c->tls->write_wants_read))
			event_del(&c->rev);
		else
			c->tls->rev_forced = true;
		c->reading = false;
	}
}

int conn_flush(struct conn *c)
{
	if (c->fd < 0)
		return -1;
	/* Frames get their sequence ids now, in the order the session wrote,
	 * even when the socket cannot take them yet. */
	if (c->zip && zip_deflate(c) < 0)
		return -1;
	if (c->connecting || c->writing)
		return 0; /* the write event will send it */
	if (c->tls && (c->tls->handshaking || c->tls->write_wants_read))
		return 0; /* sent once the handshake (or the read it waits on) is done */
	int rc = flush_out(c);
	if (rc < 0)
		return -1;
	if (rc == 1)
		wev_set(c, true);
	return 0;
}

int conn_write(struct conn *c, const void *data, size_t len)
{
	if (c->fd < 0 || evbuffer_add(c->out, data, len) < 0)
		return -1;
	return conn_flush(c);
}
