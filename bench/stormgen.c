/*
 * stormgen.c — a connection storm: clients that connect, log in with
 * mysql_native_password and quit, at a fixed total rate (open loop), for a
 * fixed time. For bench/storm.
 *
 *   stormgen --port P [--host 127.0.0.1] [--user app] [--password app-pass]
 *            [--rate 2000] [--seconds 30] [--threads 16]
 *
 * Each thread owns rate/threads of the schedule: connection i of a thread
 * is due at start + i * threads / rate; a thread that falls behind runs
 * late (never skips), so the achieved rate says what the system sustained.
 * A connection is blocking: connect, greeting, login, OK, COM_QUIT, close.
 * Prints one line:
 *   "result started=.. ok=.. failed=.. seconds=.. rate=.. p50_us=.. p99_us=..
 *    max_us=.. first_error=<text>"
 * and exits 0 when every connection logged in.
 *
 * Must not: share code with tandem's protocol/ (see wire.h for why).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench/benchutil.h"
#include "bench/wire.h"

#define CAPS                                                                           \
	(W_CLIENT_LONG_PASSWORD | W_CLIENT_LONG_FLAG | W_CLIENT_PROTOCOL_41 |          \
	 W_CLIENT_TRANSACTIONS | W_CLIENT_SECURE_CONNECTION | W_CLIENT_MULTI_RESULTS | \
	 W_CLIENT_PLUGIN_AUTH)
#define MAX_SAMPLES (1u << 22)

static struct {
	struct sockaddr_in sa;
	const char *user;
	const char *password;
	double rate;
	double seconds;
	int threads;
} opt = {.user = "app", .password = "app-pass", .rate = 2000, .seconds = 30, .threads = 16};

static uint64_t g_start_ns;
static atomic_ulong g_started, g_ok, g_failed;
static uint32_t *g_lat_us; /* one slot per completed login */
static atomic_ulong g_nlat;
static pthread_mutex_t g_err_mu = PTHREAD_MUTEX_INITIALIZER;
static char g_first_error[160];

static void fail(const char *what)
{
	atomic_fetch_add(&g_failed, 1);
	pthread_mutex_lock(&g_err_mu);
	if (!g_first_error[0])
		snprintf(g_first_error, sizeof(g_first_error), "%.150s", what);
	pthread_mutex_unlock(&g_err_mu);
}

static int read_full(int fd, uint8_t *p, size_t n)
{
	while (n) {
		ssize_t r = read(fd, p, n);
		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* One packet into buf (at most cap bytes of payload); its length, or -1. */
static long read_packet(int fd, uint8_t *buf, size_t cap, uint8_t *seq)
{
	uint8_t h[W_HDR];
	if (read_full(fd, h, sizeof(h)) < 0)
		return -1;
	uint32_t len = w_u24(h);
	*seq = h[3];
	if (len > cap)
		return -1;
	return read_full(fd, buf, len) < 0 ? -1 : (long)len;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t r = write(fd, p, n);
		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static void native_reply(const uint8_t scramble[20], uint8_t out[20])
{
	uint8_t s1[20], s2[20], buf[40], mask[20];
	SHA1((const uint8_t *)opt.password, strlen(opt.password), s1);
	SHA1(s1, 20, s2);
	memcpy(buf, scramble, 20);
	memcpy(buf + 20, s2, 20);
	SHA1(buf, 40, mask);
	for (int i = 0; i < 20; i++)
		out[i] = s1[i] ^ mask[i];
}

/* One connect / login / quit. 0, or -1 with the reason recorded. */
static int one_session(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fail(strerror(errno));
		return -1;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct timeval tv = {60, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	uint8_t buf[1024], seq;
	long n;
	if (connect(fd, (struct sockaddr *)&opt.sa, sizeof(opt.sa)) < 0) {
		fail(strerror(errno));
		goto out;
	}
	n = read_packet(fd, buf, sizeof(buf) - 1, &seq);
	if (n >= 0)
		buf[n] = 0;
	if (n < 1 || buf[0] != 0x0a) {
		fail(n > 9 && buf[0] == 0xff ? (char *)buf + 9 : "no greeting");
		goto out;
	}
	/* scramble: 8 bytes after version NUL + thread id, 12 after the fixed part */
	const uint8_t *v_end = memchr(buf + 1, 0, (size_t)n - 1);
	if (!v_end || (v_end - buf) + 1 + 4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10 + 12 > n) {
		fail("short greeting");
		goto out;
	}
	const uint8_t *p = v_end + 1 + 4;
	uint8_t scramble[20];
	memcpy(scramble, p, 8);
	memcpy(scramble + 8, p + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10, 12);
	uint8_t reply[20];
	native_reply(scramble, reply);
	uint8_t pkt[512];
	struct w_buf b = {pkt, 0};
	w_u24put(&b, 0);
	w_u8put(&b, 1);
	w_u32put(&b, CAPS);
	w_u32put(&b, 1u << 24);
	w_u8put(&b, 45);
	for (int i = 0; i < 23; i++)
		w_u8put(&b, 0);
	w_put(&b, opt.user, strlen(opt.user) + 1);
	w_u8put(&b, 20);
	w_put(&b, reply, 20);
	w_put(&b, "mysql_native_password", sizeof("mysql_native_password"));
	pkt[0] = (uint8_t)(b.len - W_HDR);
	pkt[1] = (uint8_t)((b.len - W_HDR) >> 8);
	if (write_all(fd, pkt, b.len) < 0) {
		fail("login write failed");
		goto out;
	}
	n = read_packet(fd, buf, sizeof(buf) - 1, &seq);
	if (n < 1 || buf[0] != 0x00) {
		if (n > 9 && buf[0] == 0xff) {
			buf[n] = 0;
			fail((char *)buf + 9);
		} else {
			fail(n < 0 ? "connection lost at login" : "login not OK");
		}
		goto out;
	}
	static const uint8_t quit[] = {1, 0, 0, 0, W_COM_QUIT};
	write_all(fd, quit, sizeof(quit));
	close(fd);
	return 0;
out:
	close(fd);
	return -1;
}

static void *thread_main(void *arg)
{
	int k = (int)(intptr_t)arg;
	double per = opt.rate / opt.threads;
	uint64_t end = g_start_ns + (uint64_t)(opt.seconds * 1e9);
	for (uint64_t i = 0;; i++) {
		uint64_t due = g_start_ns + (uint64_t)((double)i / per * 1e9) +
			       (uint64_t)((double)k / opt.rate * 1e9);
		if (due >= end)
			break;
		uint64_t now = bu_now_ns();
		if (due > now) {
			struct timespec ts = {(time_t)((due - now) / 1000000000u),
					      (long)((due - now) % 1000000000u)};
			nanosleep(&ts, NULL);
		}
		atomic_fetch_add(&g_started, 1);
		uint64_t t0 = bu_now_ns();
		if (one_session() == 0) {
			atomic_fetch_add(&g_ok, 1);
			unsigned long slot = atomic_fetch_add(&g_nlat, 1);
			if (slot < MAX_SAMPLES)
				g_lat_us[slot] = (uint32_t)((bu_now_ns() - t0) / 1000);
		}
	}
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1";
	int port = 0;
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *a = argv[i], *v = argv[i + 1];
		if (!strcmp(a, "--port"))
			port = atoi(v);
		else if (!strcmp(a, "--host"))
			host = v;
		else if (!strcmp(a, "--user"))
			opt.user = v;
		else if (!strcmp(a, "--password"))
			opt.password = v;
		else if (!strcmp(a, "--rate"))
			opt.rate = atof(v);
		else if (!strcmp(a, "--seconds"))
			opt.seconds = atof(v);
		else if (!strcmp(a, "--threads"))
			opt.threads = atoi(v);
		else {
			fprintf(stderr, "stormgen: unknown option %s\n", a);
			return 2;
		}
	}
	if (port <= 0 || opt.rate <= 0 || opt.threads < 1 || opt.seconds <= 0) {
		fprintf(stderr,
			"usage: stormgen --port P [--rate R] [--seconds S] [--threads T]\n");
		return 2;
	}
	opt.sa.sin_family = AF_INET;
	opt.sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &opt.sa.sin_addr) != 1) {
		fprintf(stderr, "stormgen: bad host %s\n", host);
		return 2;
	}
	bu_raise_nofile(65536);
	g_lat_us = calloc(MAX_SAMPLES, sizeof(*g_lat_us));
	pthread_t *ts = calloc((size_t)opt.threads, sizeof(*ts));
	if (!g_lat_us || !ts)
		return 1;
	g_start_ns = bu_now_ns();
	for (int k = 0; k < opt.threads; k++)
		pthread_create(&ts[k], NULL, thread_main, (void *)(intptr_t)k);
	for (int k = 0; k < opt.threads; k++)
		pthread_join(ts[k], NULL);
	double secs = (double)(bu_now_ns() - g_start_ns) / 1e9;
	unsigned long nl = atomic_load(&g_nlat);
	if (nl > MAX_SAMPLES)
		nl = MAX_SAMPLES;
	qsort(g_lat_us, nl, sizeof(*g_lat_us), cmp_u32);
	unsigned long ok = atomic_load(&g_ok), failed = atomic_load(&g_failed);
	printf("result started=%lu ok=%lu failed=%lu seconds=%.2f rate=%.0f p50_us=%u p99_us=%u "
	       "max_us=%u first_error=%s\n",
	       atomic_load(&g_started), ok, failed, secs, (double)ok / secs,
	       nl ? g_lat_us[nl / 2] : 0, nl ? g_lat_us[(nl * 99) / 100] : 0,
	       nl ? g_lat_us[nl - 1] : 0, g_first_error[0] ? g_first_error : "-");
	free(g_lat_us);
	free(ts);
	return failed == 0 ? 0 : 1;
}
