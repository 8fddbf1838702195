/*
 * loadgen.c — a MySQL-protocol load generator for the proxy benchmarks.
 *
 *   loadgen --port P [--host 127.0.0.1] [--user app] [--password app-pass]
 *           [--mode rt|idle|bigread] [--connections N] [--threads T]
 *           [--duration S] [--warmup S] [--query "SELECT 1"]
 *           [--connect-parallel K] [--no-deprecate-eof]
 *           [--big-bytes B] [--read-rate-mib M] [--requests R] [--wait-go]
 *
 * rt: N connections log in, then each runs COM_QUERY → whole response in a
 *   closed loop (one query in flight per connection). After the warm-up,
 *   every round trip's latency (write of the query to the last byte of the
 *   response) goes into a log-linear histogram (~3% buckets). Prints
 *   "result mode=rt connections=.. rt=.. rt_per_s=.. p50_us=.. p90_us=..
 *   p99_us=.. p999_us=.. max_us=.. errors=..". It prints "phase measure"
 *   and "phase stop" as the measured window opens and closes, so a runner
 *   can read CPU counters of other processes over exactly that window.
 *   --requests R: no warm-up and no time limit; each connection runs R
 *   round trips, then the program reports and exits (for instruction
 *   counts under callgrind). --wait-go: after the logins print "ready"
 *   and start only when a line arrives on stdin.
 * idle: N connections log in and stay idle; prints "ready sessions=N" and
 *   holds them until stdin reaches EOF (the runner measures meanwhile),
 *   then prints "result mode=idle sessions=N closed_by_peer=..".
 * bigread: one connection sends "BIG <B>" (fakedb streams B bytes) and
 *   reads the result no faster than M MiB/s, like a slow client. Prints
 *   "result mode=bigread bytes=.. seconds=.. mib_per_s=..".
 *
 * Design: T threads, each with its own epoll loop and share of the
 * connections; logins are paced (at most K in progress). Responses are
 * never buffered whole: a streaming scanner looks only at each packet's
 * header and first payload byte, which is all that is needed to find the
 * end of a text-protocol response. Logins use mysql_native_password
 * (OpenSSL SHA1), answering an auth switch to it too.
 * Must not: share code with tandem's protocol/ (see wire.h for why).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/sha.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench/benchutil.h"
#include "bench/wire.h"

#define CLIENT_CAPS                                                                       \
	(W_CLIENT_LONG_PASSWORD | W_CLIENT_LONG_FLAG | W_CLIENT_PROTOCOL_41 |             \
	 W_CLIENT_TRANSACTIONS | W_CLIENT_SECURE_CONNECTION | W_CLIENT_MULTI_STATEMENTS | \
	 W_CLIENT_MULTI_RESULTS | W_CLIENT_PS_MULTI_RESULTS | W_CLIENT_PLUGIN_AUTH |      \
	 W_CLIENT_PLUGIN_AUTH_LENENC | W_CLIENT_SESSION_TRACK)

#define READ_BUF  (256 * 1024)
#define LOGIN_BUF 1024 /* greeting / auth packets are far smaller */

/* ---------------------------------------------------------- histogram */

/* Log-linear buckets over nanoseconds: values below 64 exactly, then 32
 * buckets per power of two (at most ~3% wide). */
#define H_SUB     5
#define H_BUCKETS 1600

static unsigned h_index(uint64_t v)
{
	if (v < (2u << H_SUB))
		return (unsigned)v;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v);
	unsigned shift = msb - H_SUB;
	unsigned idx = (shift + 1) * (1u << H_SUB) + (unsigned)(v >> shift) - (1u << H_SUB);
	return idx < H_BUCKETS ? idx : H_BUCKETS - 1;
}

/* Middle of a bucket, in ns. */
static double h_value(unsigned idx)
{
	if (idx < (2u << H_SUB))
		return idx;
	unsigned shift = idx / (1u << H_SUB) - 1;
	uint64_t low = (uint64_t)(idx % (1u << H_SUB) + (1u << H_SUB)) << shift;
	return (double)low + (double)(1ull << shift) / 2.0;
}

static double h_percentile(const uint64_t *h, uint64_t total, double pct)
{
	if (!total)
		return 0;
	uint64_t want = (uint64_t)ceil((double)total * pct / 100.0);
	uint64_t seen = 0;
	for (unsigned i = 0; i < H_BUCKETS; i++) {
		seen += h[i];
		if (seen >= want && h[i])
			return h_value(i);
	}
	return h_value(H_BUCKETS - 1);
}

/* ------------------------------------------------------------ options */

enum mode { MODE_RT, MODE_IDLE, MODE_BIGREAD };

static struct {
	struct sockaddr_in sa;
	const char *user, *password, *db, *query;
	enum mode mode;
	int connections, threads, parallel;
	double duration, warmup;
	bool deprecate_eof;
	uint64_t big_bytes;
	double read_rate_mib;
	uint64_t requests; /* per connection; 0 = run for the duration */
	bool wait_go;
} opt = {
	.user = "app",
	.password = "app-pass",
	.db = NULL,
	.query = "SELECT 1",
	.mode = MODE_RT,
	.connections = 1,
	.threads = 1,
	.parallel = 128,
	.duration = 5,
	.warmup = 1,
	.deprecate_eof = true,
	.big_bytes = 1ull << 30,
	.read_rate_mib = 100,
};

/* ------------------------------------------------------------- shared */

enum phase { PH_LOGIN, PH_WARMUP, PH_MEASURE, PH_STOP };
static atomic_int g_phase = PH_LOGIN;
static atomic_int g_logged_in;
static atomic_int g_failed;
static uint8_t g_query_pkt[4096];
static size_t g_query_len;

/* ------------------------------------------------- response scanner */

/* Finds where one text-protocol response ends while looking at each
 * packet's header and first payload byte only. */
enum rs_state { RS_FIRST, RS_COLS, RS_COLS_EOF, RS_ROWS };

struct scanner {
	uint8_t hdr[5]; /* header + first payload byte being gathered */
	uint8_t hdr_have;
	bool cont;      /* the packet being skipped is a continuation frame */
	bool prev_full; /* the last frame was 0xffffff long: next continues it */
	uint64_t skip;  /* payload bytes of the current frame still to skip */
	bool ending;    /* the frame being skipped ends the response */
	enum rs_state st;
	uint64_t ncols, cols_seen;
	bool error; /* the response was an ERR */
};

/* Classify one packet start; returns true when the response is complete. */
static bool rs_packet(struct scanner *s, uint32_t len, int first, bool deprecate_eof)
{
	switch (s->st) {
	case RS_FIRST:
		if (first == 0x00 || first == 0xff) {
			s->error = first == 0xff;
			return true;
		}
		if (first < 0 || first == 0xfb) {
			s->error = true; /* a LOCAL INFILE request is not part of the bench */
			return true;
		}
		s->ncols = (uint64_t)first; /* column counts past 250 do not occur here */
		s->cols_seen = 0;
		s->st = RS_COLS;
		return false;
	case RS_COLS:
		if (++s->cols_seen == s->ncols)
			s->st = deprecate_eof ? RS_ROWS : RS_COLS_EOF;
		return false;
	case RS_COLS_EOF:
		s->st = RS_ROWS;
		return false;
	case RS_ROWS:
		if (first == 0xff) {
			s->error = true;
			return true;
		}
		if (first == 0xfe && len < W_MAX_PAYLOAD && (deprecate_eof || len < 9))
			return true;
		return false;
	}
	return false;
}

/* Feed bytes; returns how many were used up to and including the end of a
 * response (then *done is set), or all of them. */
static size_t rs_feed(struct scanner *s, const uint8_t *p, size_t n, bool deprecate_eof, bool *done)
{
	size_t off = 0;
	*done = false;
	while (off < n) {
		if (s->skip) {
			size_t take = n - off < s->skip ? n - off : (size_t)s->skip;
			off += take;
			s->skip -= take;
			if (s->skip == 0 && s->ending)
				goto done;
			continue;
		}
		s->hdr[s->hdr_have++] = p[off++];
		if (s->hdr_have < W_HDR)
			continue;
		uint32_t len = w_u24(s->hdr);
		if (s->hdr_have == W_HDR && len > 0 && !s->prev_full) {
			continue; /* gather the first payload byte too */
		}
		bool continuation = s->prev_full;
		s->prev_full = len == W_MAX_PAYLOAD;
		int first = s->hdr_have == 5 ? s->hdr[4] : -1;
		s->skip = len - (s->hdr_have - W_HDR);
		s->hdr_have = 0;
		if (continuation)
			continue;
		if (rs_packet(s, len, first, deprecate_eof)) {
			s->ending = true; /* done once the rest of this packet is read */
			if (s->skip == 0)
				goto done;
		}
	}
	return off;
done:
	s->ending = false;
	s->st = RS_FIRST;
	*done = true;
	return off;
}

/* ------------------------------------------------------------- login */

enum lstate { L_CONNECTING, L_GREETING, L_AUTH, L_READY, L_WAIT, L_DEAD };

struct lconn {
	int fd;
	enum lstate st;
	bool deprecate_eof; /* negotiated */
	uint8_t *lbuf;      /* login packets, freed once logged in */
	size_t llen;
	struct scanner sc;
	uint64_t sent_ns;
	uint64_t done; /* round trips completed in the measured phase */
};

static void native_reply(const char *pw, const uint8_t scramble[20], uint8_t out[20])
{
	uint8_t s1[20], s2[20], mix[40], h[20];
	SHA1((const uint8_t *)pw, strlen(pw), s1);
	SHA1(s1, 20, s2);
	memcpy(mix, scramble, 20);
	memcpy(mix + 20, s2, 20);
	SHA1(mix, 40, h);
	for (int i = 0; i < 20; i++)
		out[i] = h[i] ^ s1[i];
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1; /* login and query packets are tiny: a full socket is an error */
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Answer the greeting. 0 or -1 (message printed). */
static int send_login(struct lconn *c, const uint8_t *p, uint32_t len)
{
	if (len < 1 || p[0] != 10) {
		fprintf(stderr, "loadgen: unexpected greeting (first byte 0x%02x)\n",
			len ? p[0] : 0);
		return -1;
	}
	const uint8_t *end = p + len;
	const uint8_t *q = memchr(p + 1, 0, len - 1);
	if (!q || end - q < 1 + 4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10 + 12)
		return -1;
	q += 1 + 4;
	uint8_t scramble[20];
	memcpy(scramble, q, 8);
	q += 8 + 1;
	uint32_t caps = w_u16(q);
	q += 2 + 1 + 2;
	caps |= (uint32_t)w_u16(q) << 16;
	q += 2 + 1 + 10;
	memcpy(scramble + 8, q, 12);

	uint32_t want = CLIENT_CAPS | (opt.deprecate_eof ? W_CLIENT_DEPRECATE_EOF : 0) |
			(opt.db ? W_CLIENT_CONNECT_WITH_DB : 0);
	uint32_t use = want & caps;
	c->deprecate_eof = use & W_CLIENT_DEPRECATE_EOF;
	uint8_t buf[512];
	struct w_buf b = {buf, 0};
	size_t at = w_begin(&b);
	w_u32put(&b, use);
	w_u32put(&b, 16u << 20);
	w_u8put(&b, 45);
	static const uint8_t zeros[23] = {0};
	w_put(&b, zeros, 23);
	w_put(&b, opt.user, strlen(opt.user) + 1);
	uint8_t reply[20];
	size_t rlen = 0;
	if (opt.password[0]) {
		native_reply(opt.password, scramble, reply);
		rlen = 20;
	}
	if (use & W_CLIENT_PLUGIN_AUTH_LENENC)
		w_lenenc(&b, rlen);
	else
		w_u8put(&b, (uint8_t)rlen);
	w_put(&b, reply, rlen);
	if (opt.db)
		w_put(&b, opt.db, strlen(opt.db) + 1);
	w_put(&b, "mysql_native_password", 22);
	w_end(&b, at, 1);
	return write_all(c->fd, buf, b.len);
}

/* One whole login-phase packet. 1 logged in, 0 go on, -1 failed. */
static int login_packet(struct lconn *c, const uint8_t *p, uint32_t len, uint8_t seq)
{
	if (c->st == L_GREETING) {
		if (send_login(c, p, len) < 0)
			return -1;
		c->st = L_AUTH;
		return 0;
	}
	if (len == 0)
		return -1;
	switch (p[0]) {
	case 0x00:
		return 1;
	case 0xff:
		fprintf(stderr, "loadgen: login refused: error %u: %.*s\n",
			len >= 3 ? w_u16(p + 1) : 0, len > 9 ? (int)(len - 9) : 0,
			(const char *)p + 9);
		return -1;
	case 0x01: /* caching_sha2 fast auth success: the OK follows */
		return 0;
	case 0xfe: { /* auth switch */
		const uint8_t *name = p + 1;
		const uint8_t *nul = memchr(name, 0, len - 1);
		if (!nul || strcmp((const char *)name, "mysql_native_password") != 0 ||
		    p + len - (nul + 1) < 20) {
			fprintf(stderr, "loadgen: cannot answer auth switch to %s\n", name);
			return -1;
		}
		uint8_t buf[64];
		struct w_buf b = {buf, 0};
		size_t at = w_begin(&b);
		uint8_t reply[20];
		native_reply(opt.password, nul + 1, reply);
		w_put(&b, reply, opt.password[0] ? 20 : 0);
		w_end(&b, at, (uint8_t)(seq + 1));
		return write_all(c->fd, buf, b.len) < 0 ? -1 : 0;
	}
	default:
		fprintf(stderr, "loadgen: unexpected login reply 0x%02x\n", p[0]);
		return -1;
	}
}

/* Bytes arrived during login. 1 logged in, 0 go on, -1 failed. */
static int login_bytes(struct lconn *c)
{
	if (!c->lbuf && !(c->lbuf = malloc(LOGIN_BUF)))
		return -1;
	ssize_t n = read(c->fd, c->lbuf + c->llen, LOGIN_BUF - c->llen);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) {
		fprintf(stderr, "loadgen: connection closed during login (%s)\n",
			n == 0 ? "EOF" : strerror(errno));
		return -1;
	}
	c->llen += (size_t)n;
	while (c->llen >= W_HDR) {
		uint32_t len = w_u24(c->lbuf);
		if (W_HDR + len > LOGIN_BUF)
			return -1;
		if (c->llen < W_HDR + len)
			break;
		int rc = login_packet(c, c->lbuf + W_HDR, len, c->lbuf[3]);
		memmove(c->lbuf, c->lbuf + W_HDR + len, c->llen - W_HDR - len);
		c->llen -= W_HDR + len;
		if (rc != 0) {
			if (rc > 0 && c->llen) {
				fprintf(stderr, "loadgen: bytes after the login OK\n");
				return -1;
			}
			return rc;
		}
	}
	return 0;
}

/* ------------------------------------------------------------ threads */

struct lthread {
	pthread_t tid;
	int id;
	int epfd;
	struct lconn *conns;
	int nconns;
	int next_connect; /* index of the next connection to open */
	int logging_in;   /* connects/logins in progress */
	int logged_in;
	int dead;
	int finished; /* connections that ran their --requests */
	uint8_t *rbuf;
	uint64_t hist[H_BUCKETS];
	uint64_t rts, errors, max_ns;
	uint64_t closed_by_peer;
};

static void conn_dead(struct lthread *t, struct lconn *c)
{
	if (c->fd >= 0) {
		epoll_ctl(t->epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
	free(c->lbuf);
	c->lbuf = NULL;
	if (c->st <= L_AUTH) {
		t->logging_in--;
		atomic_fetch_add(&g_failed, 1);
	}
	c->st = L_DEAD;
	t->dead++;
}

static void start_connects(struct lthread *t)
{
	int limit = opt.parallel / opt.threads > 0 ? opt.parallel / opt.threads : 1;
	while (t->logging_in < limit && t->next_connect < t->nconns) {
		struct lconn *c = &t->conns[t->next_connect++];
		c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		t->logging_in++;
		c->st = L_CONNECTING;
		if (c->fd < 0) {
			perror("loadgen: socket");
			conn_dead(t, c);
			continue;
		}
		int one = 1;
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(c->fd, (struct sockaddr *)&opt.sa, sizeof(opt.sa)) < 0 &&
		    errno != EINPROGRESS) {
			perror("loadgen: connect");
			conn_dead(t, c);
			continue;
		}
		struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
		epoll_ctl(t->epfd, EPOLL_CTL_ADD, c->fd, &ev);
	}
}

static void send_query(struct lthread *t, struct lconn *c)
{
	c->sent_ns = bu_now_ns();
	if (write_all(c->fd, g_query_pkt, g_query_len) < 0) {
		t->errors++;
		conn_dead(t, c);
		return;
	}
	c->st = L_WAIT;
}

static void on_response_bytes(struct lthread *t, struct lconn *c)
{
	ssize_t n = read(c->fd, t->rbuf, READ_BUF);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (c->st == L_READY ||
		    atomic_load_explicit(&g_phase, memory_order_relaxed) < PH_STOP)
			t->closed_by_peer++;
		if (c->st == L_WAIT)
			t->errors++;
		conn_dead(t, c);
		return;
	}
	if (c->st != L_WAIT) {
		fprintf(stderr, "loadgen: %zd unexpected bytes on an idle connection\n", n);
		t->errors++;
		conn_dead(t, c);
		return;
	}
	bool done;
	size_t used = rs_feed(&c->sc, t->rbuf, (size_t)n, c->deprecate_eof, &done);
	if (!done)
		return;
	if (used != (size_t)n) {
		fprintf(stderr, "loadgen: bytes after the end of a response\n");
		t->errors++;
		conn_dead(t, c);
		return;
	}
	uint64_t now = bu_now_ns();
	int ph = atomic_load_explicit(&g_phase, memory_order_relaxed);
	if (c->sc.error)
		t->errors++;
	c->sc.error = false;
	if (ph == PH_MEASURE) {
		uint64_t d = now - c->sent_ns;
		t->hist[h_index(d)]++;
		t->rts++;
		if (d > t->max_ns)
			t->max_ns = d;
	}
	c->st = L_READY;
	if (opt.requests && ph == PH_MEASURE && ++c->done >= opt.requests) {
		t->finished++;
		return;
	}
	if (ph == PH_WARMUP || ph == PH_MEASURE)
		send_query(t, c);
}

static void on_event(struct lthread *t, struct lconn *c, uint32_t events)
{
	if (c->st == L_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err) {
			fprintf(stderr, "loadgen: connect: %s\n", strerror(err));
			conn_dead(t, c);
			return;
		}
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		epoll_ctl(t->epfd, EPOLL_CTL_MOD, c->fd, &ev);
		c->st = L_GREETING;
		return;
	}
	(void)events;
	if (c->st == L_GREETING || c->st == L_AUTH) {
		int rc = login_bytes(c);
		if (rc < 0) {
			conn_dead(t, c);
			return;
		}
		if (rc > 0) {
			free(c->lbuf);
			c->lbuf = NULL;
			c->st = L_READY;
			t->logging_in--;
			t->logged_in++;
			atomic_fetch_add(&g_logged_in, 1);
		}
		return;
	}
	on_response_bytes(t, c);
}

static void *thread_main(void *arg)
{
	struct lthread *t = arg;
	struct epoll_event evs[512];
	bool started = false;
	start_connects(t);
	for (;;) {
		int ph = atomic_load(&g_phase);
		if (ph == PH_STOP)
			break;
		if (!started && (ph == PH_WARMUP || ph == PH_MEASURE)) {
			started = true;
			if (opt.mode == MODE_RT)
				for (int i = 0; i < t->nconns; i++)
					if (t->conns[i].st == L_READY)
						send_query(t, &t->conns[i]);
		}
		if (t->dead + t->finished == t->nconns && t->nconns > 0 && ph != PH_LOGIN)
			break;
		int n = epoll_wait(t->epfd, evs, 512, 10);
		for (int i = 0; i < n; i++)
			on_event(t, evs[i].data.ptr, evs[i].events);
		start_connects(t);
	}
	return NULL;
}

/* -------------------------------------------------------------- modes */

static void build_query(const char *sql)
{
	struct w_buf b = {g_query_pkt, 0};
	size_t len = strlen(sql);
	if (len + 1 + W_HDR > sizeof(g_query_pkt)) {
		fprintf(stderr, "loadgen: query too long\n");
		exit(2);
	}
	size_t at = w_begin(&b);
	w_u8put(&b, W_COM_QUERY);
	w_put(&b, sql, len);
	w_end(&b, at, 0);
	g_query_len = b.len;
}

static void sleep_s(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Wait until every connection logged in or failed; false if any failed. */
static bool wait_logins(void)
{
	uint64_t t0 = bu_now_ns();
	for (;;) {
		int ok = atomic_load(&g_logged_in), bad = atomic_load(&g_failed);
		if (ok + bad >= opt.connections) {
			if (bad) {
				fprintf(stderr, "loadgen: %d of %d connections failed to log in\n",
					bad, opt.connections);
				return false;
			}
			fprintf(stderr, "loadgen: %d connections logged in in %.2f s\n", ok,
				(double)(bu_now_ns() - t0) / 1e9);
			return true;
		}
		sleep_s(0.005);
	}
}

static int run_bigread(struct lthread *t)
{
	struct lconn *c = &t->conns[0];
	int fl = fcntl(c->fd, F_GETFL);
	fcntl(c->fd, F_SETFL, fl & ~O_NONBLOCK);
	char q[64];
	snprintf(q, sizeof(q), "BIG %llu", (unsigned long long)opt.big_bytes);
	build_query(q);
	uint64_t t0 = bu_now_ns();
	if (write_all(c->fd, g_query_pkt, g_query_len) < 0) {
		perror("loadgen: write");
		return 1;
	}
	double rate = opt.read_rate_mib * 1048576.0; /* bytes per second */
	uint64_t total = 0;
	size_t chunk = 64 * 1024;
	for (;;) {
		ssize_t n = read(c->fd, t->rbuf, chunk);
		if (n <= 0) {
			fprintf(stderr, "loadgen: connection lost after %llu bytes\n",
				(unsigned long long)total);
			return 1;
		}
		total += (uint64_t)n;
		bool done;
		size_t used = rs_feed(&c->sc, t->rbuf, (size_t)n, c->deprecate_eof, &done);
		if (done) {
			if (used != (size_t)n || c->sc.error) {
				fprintf(stderr, "loadgen: bad end of the BIG result\n");
				return 1;
			}
			break;
		}
		/* Stay at or below the rate: sleep until these bytes are "due". */
		double due = (double)total / rate;
		double el = (double)(bu_now_ns() - t0) / 1e9;
		if (due > el)
			sleep_s(due - el);
	}
	double secs = (double)(bu_now_ns() - t0) / 1e9;
	printf("result mode=bigread bytes=%llu seconds=%.2f mib_per_s=%.1f\n",
	       (unsigned long long)total, secs, (double)total / 1048576.0 / secs);
	fflush(stdout);
	return 0;
}

/* Close every connection and free what main allocated (threads have ended). */
static void free_all(struct lthread *ts, struct lconn *conns)
{
	for (int i = 0; i < opt.threads; i++) {
		for (int j = 0; j < ts[i].nconns; j++) {
			if (ts[i].conns[j].fd >= 0)
				close(ts[i].conns[j].fd);
			free(ts[i].conns[j].lbuf);
		}
		close(ts[i].epfd);
		free(ts[i].rbuf);
	}
	free(conns);
	free(ts);
}

static void usage(void)
{
	fprintf(stderr, "usage: loadgen --port P [--host H] [--user U] [--password PW] [--db DB]\n"
			"       [--mode rt|idle|bigread] [--connections N] [--threads T]\n"
			"       [--duration S] [--warmup S] [--query SQL] [--connect-parallel K]\n"
			"       [--no-deprecate-eof] [--big-bytes B] [--read-rate-mib M]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1";
	int port = -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--no-deprecate-eof") == 0) {
			opt.deprecate_eof = false;
			continue;
		}
		if (strcmp(a, "--wait-go") == 0) {
			opt.wait_go = true;
			continue;
		}
		if (i + 1 >= argc)
			usage();
		const char *v = argv[++i];
		if (strcmp(a, "--host") == 0)
			host = v;
		else if (strcmp(a, "--port") == 0)
			port = atoi(v);
		else if (strcmp(a, "--user") == 0)
			opt.user = v;
		else if (strcmp(a, "--password") == 0)
			opt.password = v;
		else if (strcmp(a, "--db") == 0)
			opt.db = v;
		else if (strcmp(a, "--query") == 0)
			opt.query = v;
		else if (strcmp(a, "--connections") == 0)
			opt.connections = atoi(v);
		else if (strcmp(a, "--threads") == 0)
			opt.threads = atoi(v);
		else if (strcmp(a, "--connect-parallel") == 0)
			opt.parallel = atoi(v);
		else if (strcmp(a, "--duration") == 0)
			opt.duration = atof(v);
		else if (strcmp(a, "--warmup") == 0)
			opt.warmup = atof(v);
		else if (strcmp(a, "--big-bytes") == 0)
			opt.big_bytes = strtoull(v, NULL, 10);
		else if (strcmp(a, "--read-rate-mib") == 0)
			opt.read_rate_mib = atof(v);
		else if (strcmp(a, "--requests") == 0)
			opt.requests = strtoull(v, NULL, 10);
		else if (strcmp(a, "--mode") == 0)
			opt.mode = strcmp(v, "rt") == 0        ? MODE_RT
				   : strcmp(v, "idle") == 0    ? MODE_IDLE
				   : strcmp(v, "bigread") == 0 ? MODE_BIGREAD
							       : (usage(), MODE_RT);
		else
			usage();
	}
	char addr[96];
	snprintf(addr, sizeof(addr), "%s:%d", host, port);
	if (port <= 0 || bu_parse_addr(addr, &opt.sa) < 0 || opt.connections < 1 ||
	    opt.threads < 1 || opt.parallel < 1 || opt.read_rate_mib <= 0)
		usage();
	if (opt.mode == MODE_BIGREAD)
		opt.connections = opt.threads = 1;
	if (opt.threads > opt.connections)
		opt.threads = opt.connections;
	signal(SIGPIPE, SIG_IGN);
	rlim_t lim = bu_raise_nofile((rlim_t)opt.connections + 64);
	if (lim < (rlim_t)opt.connections + 16) {
		fprintf(stderr, "loadgen: only %lu file descriptors allowed\n", (unsigned long)lim);
		return 1;
	}
	build_query(opt.query);

	struct lthread *ts = calloc((size_t)opt.threads, sizeof(*ts));
	struct lconn *conns = calloc((size_t)opt.connections, sizeof(*conns));
	if (!ts || !conns)
		return 1;
	int per = opt.connections / opt.threads, extra = opt.connections % opt.threads, at = 0;
	for (int i = 0; i < opt.threads; i++) {
		ts[i].id = i;
		ts[i].conns = conns + at;
		ts[i].nconns = per + (i < extra);
		at += ts[i].nconns;
		ts[i].epfd = epoll_create1(EPOLL_CLOEXEC);
		ts[i].rbuf = malloc(READ_BUF);
		if (ts[i].epfd < 0 || !ts[i].rbuf)
			return 1;
		for (int j = 0; j < ts[i].nconns; j++)
			ts[i].conns[j].fd = -1;
	}
	if (opt.mode == MODE_BIGREAD) {
		/* log in on the event loop, then read with blocking calls */
		atomic_store(&g_phase, PH_LOGIN);
		struct lthread *t = &ts[0];
		start_connects(t);
		struct epoll_event ev;
		while (t->logged_in + t->dead < 1)
			if (epoll_wait(t->epfd, &ev, 1, 1000) == 1)
				on_event(t, ev.data.ptr, ev.events);
		int rc = t->dead ? 1 : run_bigread(t);
		free_all(ts, conns);
		return rc;
	}
	for (int i = 0; i < opt.threads; i++)
		if (pthread_create(&ts[i].tid, NULL, thread_main, &ts[i]) != 0)
			return 1;
	int rc = 0;
	if (!wait_logins()) {
		rc = 1;
		atomic_store(&g_phase, PH_STOP);
	} else if (opt.mode == MODE_IDLE) {
		printf("ready sessions=%d\n", opt.connections);
		fflush(stdout);
		char buf[256];
		while (read(0, buf, sizeof(buf)) > 0)
			;
		atomic_store(&g_phase, PH_STOP);
	} else {
		if (opt.wait_go) {
			printf("ready sessions=%d\n", opt.connections);
			fflush(stdout);
			char line[64];
			if (!fgets(line, sizeof(line), stdin))
				atomic_store(&g_phase, PH_STOP);
		}
		if (!opt.requests && atomic_load(&g_phase) != PH_STOP) {
			atomic_store(&g_phase, PH_WARMUP);
			sleep_s(opt.warmup);
		}
		uint64_t t0 = bu_now_ns();
		printf("phase measure\n");
		fflush(stdout);
		if (atomic_load(&g_phase) != PH_STOP)
			atomic_store(&g_phase, PH_MEASURE);
		if (!opt.requests) {
			sleep_s(opt.duration);
			atomic_store(&g_phase, PH_STOP);
		}
		for (int i = 0; opt.requests && i < opt.threads; i++)
			pthread_join(ts[i].tid, NULL);
		uint64_t t1 = bu_now_ns();
		printf("phase stop\n");
		fflush(stdout);
		for (int i = 0; !opt.requests && i < opt.threads; i++)
			pthread_join(ts[i].tid, NULL);
		uint64_t hist[H_BUCKETS] = {0}, rts = 0, errors = 0, max_ns = 0, closed = 0;
		for (int i = 0; i < opt.threads; i++) {
			for (int j = 0; j < H_BUCKETS; j++)
				hist[j] += ts[i].hist[j];
			rts += ts[i].rts;
			errors += ts[i].errors;
			closed += ts[i].closed_by_peer;
			if (ts[i].max_ns > max_ns)
				max_ns = ts[i].max_ns;
		}
		double secs = (double)(t1 - t0) / 1e9;
		printf("result mode=rt connections=%d threads=%d seconds=%.2f rt=%llu "
		       "rt_per_s=%.0f p50_us=%.1f p90_us=%.1f p99_us=%.1f p999_us=%.1f "
		       "max_us=%.1f errors=%llu closed_by_peer=%llu\n",
		       opt.connections, opt.threads, secs, (unsigned long long)rts,
		       (double)rts / secs, h_percentile(hist, rts, 50) / 1e3,
		       h_percentile(hist, rts, 90) / 1e3, h_percentile(hist, rts, 99) / 1e3,
		       h_percentile(hist, rts, 99.9) / 1e3, (double)max_ns / 1e3,
		       (unsigned long long)errors, (unsigned long long)closed);
		fflush(stdout);
		if (opt.requests && rts != opt.requests * (uint64_t)opt.connections)
			errors++;
		free_all(ts, conns);
		return errors || closed || rts == 0 ? 1 : 0;
	}
	for (int i = 0; i < opt.threads; i++)
		pthread_join(ts[i].tid, NULL);
	if (opt.mode == MODE_IDLE && rc == 0) {
		uint64_t closed = 0;
		for (int i = 0; i < opt.threads; i++)
			closed += ts[i].closed_by_peer;
		printf("result mode=idle sessions=%d closed_by_peer=%llu\n", opt.connections,
		       (unsigned long long)closed);
		fflush(stdout);
		rc = closed ? 1 : 0;
	}
	free_all(ts, conns);
	return rc;
}
