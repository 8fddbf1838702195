/*
 * fakedb.c — a minimal fake MySQL server for benchmarks: it greets, accepts
 * any login, and answers every COM_QUERY with one fixed small result set
 * (one BIGINT column named "1", --rows rows holding 1) as fast as it can,
 * so that a proxy in front of it is the thing being measured.
 *
 *   fakedb [--listen 127.0.0.1:0] [--threads 1] [--rows 1]
 *
 * Prints "fakedb: listening on 127.0.0.1:PORT" once it accepts connections.
 * What a query gets, by its first word: SELECT the fixed result, except
 * that a SELECT of @@variables gets one column per variable, 0 for a
 * read_only one and '' for any other (what tandem's health probe reads:
 * a writable primary with no GTID yet); SHOW an empty result; "BIG <bytes>" a
 * one-column result of about <bytes> bytes in 16 KiB rows, generated only
 * as fast as the socket drains (for the slow-reader memory benchmark);
 * anything else an OK. COM_QUIT closes; COM_PING, COM_INIT_DB and every
 * other command get an OK.
 *
 * Design: one epoll loop per thread, each with its own SO_REUSEPORT
 * listener, level-triggered; responses are written at once and only the
 * rest of a partial write is buffered. The fixed result is prebuilt for
 * both response shapes (classic EOF and CLIENT_DEPRECATE_EOF), so a query
 * costs one read and one write. Must not: be used as a test oracle (it
 * does not check what it is sent beyond the command byte).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench/benchutil.h"
#include "bench/wire.h"

#define SERVER_CAPS                                                                        \
	(W_CLIENT_LONG_PASSWORD | W_CLIENT_LONG_FLAG | W_CLIENT_CONNECT_WITH_DB |          \
	 W_CLIENT_LOCAL_FILES | W_CLIENT_PROTOCOL_41 | W_CLIENT_TRANSACTIONS |             \
	 W_CLIENT_SECURE_CONNECTION | W_CLIENT_MULTI_STATEMENTS | W_CLIENT_MULTI_RESULTS | \
	 W_CLIENT_PS_MULTI_RESULTS | W_CLIENT_PLUGIN_AUTH | W_CLIENT_CONNECT_ATTRS |       \
	 W_CLIENT_PLUGIN_AUTH_LENENC | W_CLIENT_SESSION_TRACK | W_CLIENT_DEPRECATE_EOF)

#define READ_BUF (256 * 1024) /* per thread; also the largest command accepted */
#define BIG_ROW  16380        /* value bytes per row of a BIG result */
#define BIG_FILL (256 * 1024) /* generate a BIG result this far ahead of the socket */

struct fconn {
	int fd;
	bool authed;
	bool epollout; /* EPOLLOUT is in the interest set */
	uint32_t caps; /* client caps & SERVER_CAPS */
	uint8_t *in;   /* an incomplete packet left from the last read */
	size_t in_len;
	uint8_t *out; /* bytes the socket did not take yet */
	size_t out_off, out_len, out_cap;
	uint64_t big_left; /* value bytes of a BIG result still to generate */
	bool big_active;
	uint8_t big_seq; /* next sequence id of the BIG result */
};

struct fthread {
	pthread_t tid;
	int epfd;
	int lfd;
	uint8_t *rbuf;
};

static int g_rows = 1;
static uint32_t g_conn_id;
/* Prebuilt responses to a command at seq 0, [0] classic EOF shape,
 * [1] CLIENT_DEPRECATE_EOF shape. */
struct canned {
	uint8_t bytes[2][4096];
	size_t len[2];
};
static struct canned g_res_one, g_res_empty;

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void put_ok(struct w_buf *b, uint8_t seq, bool eof_header)
{
	size_t at = w_begin(b);
	w_u8put(b, eof_header ? 0xfe : 0x00);
	w_lenenc(b, 0);
	w_lenenc(b, 0);
	w_u16put(b, W_STATUS_AUTOCOMMIT);
	w_u16put(b, 0);
	w_end(b, at, seq);
}

static void put_eof(struct w_buf *b, uint8_t seq)
{
	size_t at = w_begin(b);
	w_u8put(b, 0xfe);
	w_u16put(b, 0);
	w_u16put(b, W_STATUS_AUTOCOMMIT);
	w_end(b, at, seq);
}

static void put_coldef(struct w_buf *b, uint8_t seq, const char *name, size_t name_len,
		       uint8_t type, uint16_t charset, uint32_t length)
{
	size_t at = w_begin(b);
	w_lenenc_str(b, "def", 3);
	w_lenenc_str(b, "", 0);
	w_lenenc_str(b, "", 0);
	w_lenenc_str(b, "", 0);
	w_lenenc_str(b, name, name_len);
	w_lenenc_str(b, "", 0);
	w_lenenc(b, 0x0c);
	w_u16put(b, charset);
	w_u32put(b, length);
	w_u8put(b, type);
	w_u16put(b, 0x0081); /* NOT_NULL | BINARY */
	w_u8put(b, 0);
	w_u16put(b, 0);
	w_end(b, at, seq);
}

/* Column count and definition of a one-column result; returns the next seq. */
static uint8_t put_columns(struct w_buf *b, bool deprecate_eof, const char *name, uint8_t type,
			   uint16_t charset, uint32_t length)
{
	uint8_t seq = 1;
	size_t at = w_begin(b);
	w_lenenc(b, 1);
	w_end(b, at, seq++);
	put_coldef(b, seq++, name, strlen(name), type, charset, length);
	if (!deprecate_eof)
		put_eof(b, seq++);
	return seq;
}

/* A result of `rows` rows of one BIGINT column holding `value`. */
static void build_result(struct canned *r, int rows, const char *value)
{
	for (int dep = 0; dep < 2; dep++) {
		struct w_buf b = {r->bytes[dep], 0};
		uint8_t seq = put_columns(&b, dep, "1", 0x08 /* LONGLONG */, 63, 1);
		for (int i = 0; i < rows; i++) {
			size_t at = w_begin(&b);
			w_lenenc_str(&b, value, strlen(value));
			w_end(&b, at, seq++);
		}
		if (dep)
			put_ok(&b, seq, true);
		else
			put_eof(&b, seq);
		r->len[dep] = b.len;
	}
}

static bool starts_with_word(const uint8_t *q, size_t len, const char *word)
{
	size_t n = strlen(word);
	return len >= n && strncasecmp((const char *)q, word, n) == 0;
}

static void conn_free(struct fthread *t, struct fconn *c)
{
	epoll_ctl(t->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->in);
	free(c->out);
	free(c);
}

static void set_out_interest(struct fthread *t, struct fconn *c, bool on)
{
	if (c->epollout == on)
		return;
	struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
	epoll_ctl(t->epfd, EPOLL_CTL_MOD, c->fd, &ev);
	c->epollout = on;
}

/* Make room for n more bytes in c->out. */
static void out_reserve(struct fconn *c, size_t n)
{
	if (c->out_off && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_len + n <= c->out_cap)
		return;
	if (c->out_off) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
		if (c->out_len + n <= c->out_cap)
			return;
	}
	size_t cap = c->out_cap ? c->out_cap : 4096;
	while (cap < c->out_len + n)
		cap *= 2;
	c->out = realloc(c->out, cap);
	if (!c->out)
		die("realloc");
	c->out_cap = cap;
}

/* Write what is buffered. 0 done or would block, -1 the connection is dead. */
static int flush_out(struct fconn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
		if (n > 0) {
			c->out_off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 && errno == EAGAIN ? 0 : -1;
	}
	c->out_off = c->out_len = 0;
	return 0;
}

/* Send bytes now; buffer whatever the socket does not take. */
static int send_bytes(struct fconn *c, const uint8_t *p, size_t n)
{
	if (c->out_len == c->out_off) {
		ssize_t w = write(c->fd, p, n);
		if (w == (ssize_t)n)
			return 0;
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (w > 0) {
			p += w;
			n -= (size_t)w;
		}
	}
	out_reserve(c, n);
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
	return 0;
}

/* A SELECT of @@variables (a health probe): one VAR_STRING column per
 * variable, one row; "0" for a variable named *read_only, "" otherwise. */
static int send_variables(struct fconn *c, const uint8_t *q, size_t len)
{
	enum { MAX_VARS = 16 };
	const uint8_t *name[MAX_VARS];
	size_t name_len[MAX_VARS];
	size_t n = 0;
	for (size_t i = 0; i + 1 < len && n < MAX_VARS; i++) {
		if (q[i] != '@' || q[i + 1] != '@')
			continue;
		size_t j = i + 2;
		while (j < len && (q[j] == '_' || q[j] == '.' || (q[j] >= 'a' && q[j] <= 'z') ||
				   (q[j] >= 'A' && q[j] <= 'Z') || (q[j] >= '0' && q[j] <= '9')))
			j++;
		name[n] = q + i;
		name_len[n++] = j - i;
		i = j;
	}
	bool dep = c->caps & W_CLIENT_DEPRECATE_EOF;
	uint8_t buf[4096];
	struct w_buf b = {buf, 0};
	uint8_t seq = 1;
	size_t at = w_begin(&b);
	w_lenenc(&b, n);
	w_end(&b, at, seq++);
	for (size_t i = 0; i < n; i++)
		put_coldef(&b, seq++, (const char *)name[i], name_len[i] < 200 ? name_len[i] : 200,
			   0xfd /* VAR_STRING */, 45, 256);
	if (!dep)
		put_eof(&b, seq++);
	at = w_begin(&b);
	for (size_t i = 0; i < n; i++) {
		bool ro =
			name_len[i] >= 9 && memcmp(name[i] + name_len[i] - 9, "read_only", 9) == 0;
		w_lenenc_str(&b, ro ? "0" : "", ro ? 1 : 0);
	}
	w_end(&b, at, seq++);
	if (dep)
		put_ok(&b, seq, true);
	else
		put_eof(&b, seq);
	return send_bytes(c, buf, b.len);
}

/* Generate BIG rows until BIG_FILL bytes wait in c->out, then the end. */
static void big_fill(struct fconn *c)
{
	static uint8_t value[BIG_ROW];
	if (!value[0])
		memset(value, 'x', sizeof(value));
	while (c->big_active && c->out_len - c->out_off < BIG_FILL) {
		out_reserve(c, BIG_ROW + 64);
		struct w_buf b = {c->out, c->out_len};
		if (c->big_left == 0) {
			if (c->caps & W_CLIENT_DEPRECATE_EOF)
				put_ok(&b, c->big_seq, true);
			else
				put_eof(&b, c->big_seq);
			c->big_active = false;
		} else {
			size_t n = c->big_left < BIG_ROW ? (size_t)c->big_left : BIG_ROW;
			size_t at = w_begin(&b);
			w_lenenc_str(&b, (const char *)value, n);
			w_end(&b, at, c->big_seq++);
			c->big_left -= n;
		}
		c->out_len = b.len;
	}
}

static void start_big(struct fconn *c, const uint8_t *q, size_t len)
{
	char num[32];
	size_t n = len - 4 < sizeof(num) - 1 ? len - 4 : sizeof(num) - 1;
	memcpy(num, q + 4, n);
	num[n] = 0;
	uint8_t head[256];
	struct w_buf b = {head, 0};
	c->big_seq = put_columns(&b, c->caps & W_CLIENT_DEPRECATE_EOF, "big", 0xfd /* VAR_STRING */,
				 63, BIG_ROW);
	out_reserve(c, b.len);
	memcpy(c->out + c->out_len, head, b.len);
	c->out_len += b.len;
	c->big_left = strtoull(num, NULL, 10);
	c->big_active = true;
	big_fill(c);
}

/* One whole packet from the client. Returns -1 to close the connection. */
static int on_packet(struct fconn *c, const uint8_t *p, uint32_t len, uint8_t seq)
{
	uint8_t buf[64];
	struct w_buf b = {buf, 0};
	if (!c->authed) {
		if (len < 32)
			return -1; /* an SSLRequest or garbage: TLS is not offered */
		c->caps = w_u32(p) & SERVER_CAPS;
		c->authed = true;
		put_ok(&b, (uint8_t)(seq + 1), false);
		return send_bytes(c, buf, b.len);
	}
	if (len == 0)
		return -1;
	switch (p[0]) {
	case W_COM_QUIT:
		return -1;
	case W_COM_QUERY: {
		const struct canned *r = NULL;
		if (starts_with_word(p + 1, len - 1, "SELECT") && memmem(p, len, "@@", 2))
			return send_variables(c, p + 1, len - 1);
		if (starts_with_word(p + 1, len - 1, "SELECT"))
			r = &g_res_one;
		else if (starts_with_word(p + 1, len - 1, "SHOW"))
			r = &g_res_empty;
		else if (starts_with_word(p + 1, len - 1, "BIG ")) {
			start_big(c, p, len);
			return 0;
		}
		if (r) {
			int dep = (c->caps & W_CLIENT_DEPRECATE_EOF) != 0;
			return send_bytes(c, r->bytes[dep], r->len[dep]);
		}
		put_ok(&b, 1, false);
		return send_bytes(c, buf, b.len);
	}
	default:
		put_ok(&b, 1, false);
		return send_bytes(c, buf, b.len);
	}
}

/* Parse whole packets from buf; keep an incomplete tail in c->in. */
static int on_bytes(struct fconn *c, uint8_t *buf, size_t n)
{
	size_t off = 0;
	while (!c->big_active && n - off >= W_HDR) {
		uint32_t len = w_u24(buf + off);
		if (n - off < W_HDR + (size_t)len)
			break;
		if (on_packet(c, buf + off + W_HDR, len, buf[off + 3]) < 0)
			return -1;
		off += W_HDR + len;
	}
	free(c->in);
	c->in = NULL;
	c->in_len = n - off;
	if (c->in_len) {
		if (c->in_len > READ_BUF / 2)
			return -1; /* larger commands than this are not part of any bench */
		c->in = malloc(c->in_len);
		if (!c->in)
			die("malloc");
		memcpy(c->in, buf + off, c->in_len);
	}
	return 0;
}

static void on_readable(struct fthread *t, struct fconn *c)
{
	size_t have = c->in_len;
	if (have)
		memcpy(t->rbuf, c->in, have);
	ssize_t n = read(c->fd, t->rbuf + have, READ_BUF - have);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0 || on_bytes(c, t->rbuf, have + (size_t)n) < 0 || flush_out(c) < 0) {
		conn_free(t, c);
		return;
	}
	set_out_interest(t, c, c->out_len > c->out_off || c->big_active);
}

static void on_writable(struct fthread *t, struct fconn *c)
{
	if (flush_out(c) < 0) {
		conn_free(t, c);
		return;
	}
	if (c->big_active && c->out_len == c->out_off) {
		big_fill(c);
		if (flush_out(c) < 0) {
			conn_free(t, c);
			return;
		}
		if (!c->big_active && c->in_len && c->out_len == c->out_off) {
			/* commands that queued behind the BIG result */
			uint8_t *pending = c->in;
			size_t plen = c->in_len;
			c->in = NULL;
			c->in_len = 0;
			int rc = on_bytes(c, pending, plen);
			free(pending);
			if (rc < 0 || flush_out(c) < 0) {
				conn_free(t, c);
				return;
			}
		}
	}
	set_out_interest(t, c, c->out_len > c->out_off || c->big_active);
}

static void on_accept(struct fthread *t)
{
	for (;;) {
		int fd = accept4(t->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				perror("fakedb: accept");
			return;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct fconn *c = calloc(1, sizeof(*c));
		if (!c)
			die("calloc");
		c->fd = fd;
		uint8_t buf[256];
		struct w_buf b = {buf, 0};
		size_t at = w_begin(&b);
		static const char version[] = "5.5.5-10.11.0-fakedb";
		static const uint8_t scramble[21] = "abcdefghijklmnopqrst";
		w_u8put(&b, 10);
		w_put(&b, version, sizeof(version));
		w_u32put(&b, __atomic_add_fetch(&g_conn_id, 1, __ATOMIC_RELAXED));
		w_put(&b, scramble, 8);
		w_u8put(&b, 0);
		w_u16put(&b, (uint16_t)SERVER_CAPS);
		w_u8put(&b, 45);
		w_u16put(&b, W_STATUS_AUTOCOMMIT);
		w_u16put(&b, (uint16_t)(SERVER_CAPS >> 16));
		w_u8put(&b, 21);
		static const uint8_t zeros[10] = {0};
		w_put(&b, zeros, 10);
		w_put(&b, scramble + 8, 13); /* 12 bytes and a NUL */
		w_put(&b, "mysql_native_password", 22);
		w_end(&b, at, 0);
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ||
		    send_bytes(c, buf, b.len) < 0) {
			conn_free(t, c);
			continue;
		}
		set_out_interest(t, c, c->out_len > c->out_off);
	}
}

static void *thread_main(void *arg)
{
	struct fthread *t = arg;
	struct epoll_event evs[256];
	for (;;) {
		int n = epoll_wait(t->epfd, evs, 256, -1);
		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr == NULL) {
				on_accept(t);
				continue;
			}
			struct fconn *c = evs[i].data.ptr;
			/* One handler per event: the first may free c. Readable news
			 * after a write comes again (level-triggered). */
			if (evs[i].events & EPOLLOUT)
				on_writable(t, c);
			else
				on_readable(t, c);
		}
	}
	return NULL;
}

static int make_listener(const struct sockaddr_in *sa)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0)
		die("fakedb: bind");
	if (listen(fd, 65535) < 0)
		die("listen");
	return fd;
}

static void usage(void)
{
	fprintf(stderr, "usage: fakedb [--listen 127.0.0.1:0] [--threads N] [--rows N]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *listen_at = "127.0.0.1:0";
	int nthreads = 1;
	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "--listen") == 0)
			listen_at = argv[++i];
		else if (strcmp(argv[i], "--threads") == 0)
			nthreads = atoi(argv[++i]);
		else if (strcmp(argv[i], "--rows") == 0)
			g_rows = atoi(argv[++i]);
		else
			usage();
	}
	if (nthreads < 1 || nthreads > 64 || g_rows < 0 || g_rows > 200)
		usage();
	signal(SIGPIPE, SIG_IGN);
	bu_raise_nofile(1 << 20);
	build_result(&g_res_one, g_rows, "1");
	build_result(&g_res_empty, 0, "");

	struct sockaddr_in sa;
	if (bu_parse_addr(listen_at, &sa) < 0)
		usage();
	struct fthread *ts = calloc((size_t)nthreads, sizeof(*ts));
	for (int i = 0; i < nthreads; i++) {
		ts[i].lfd = make_listener(&sa);
		if (i == 0) {
			socklen_t len = sizeof(sa);
			getsockname(ts[0].lfd, (struct sockaddr *)&sa,
				    &len); /* the port 0 became */
		}
		ts[i].epfd = epoll_create1(EPOLL_CLOEXEC);
		ts[i].rbuf = malloc(READ_BUF);
		if (ts[i].epfd < 0 || !ts[i].rbuf)
			die("epoll_create1");
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
		epoll_ctl(ts[i].epfd, EPOLL_CTL_ADD, ts[i].lfd, &ev);
	}
	char ip[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof(ip));
	printf("fakedb: listening on %s:%u\n", ip, ntohs(sa.sin_port));
	fflush(stdout);
	for (int i = 1; i < nthreads; i++)
		if (pthread_create(&ts[i].tid, NULL, thread_main, &ts[i]) != 0)
			die("pthread_create");
	thread_main(&ts[0]);
	return 0;
}
