/*
 * benchutil.h — process plumbing shared by the bench programs: clocks,
 * file-descriptor limits, host:port parsing. Must not: know the protocol.
 */
#ifndef TANDEM_BENCH_BENCHUTIL_H
#define TANDEM_BENCH_BENCHUTIL_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static inline uint64_t bu_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Thousands of sockets need more descriptors than the usual 1024 or 20000:
 * raise the limit as far as the kernel lets this process (root may raise the
 * hard limit too). Returns the soft limit now in force. */
static inline rlim_t bu_raise_nofile(rlim_t want)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	if (rl.rlim_cur >= want)
		return rl.rlim_cur;
	struct rlimit nr = {want, want > rl.rlim_max ? want : rl.rlim_max};
	if (setrlimit(RLIMIT_NOFILE, &nr) == 0)
		return want;
	rl.rlim_cur = rl.rlim_max; /* not allowed higher: take what the hard limit gives */
	setrlimit(RLIMIT_NOFILE, &rl);
	getrlimit(RLIMIT_NOFILE, &rl);
	return rl.rlim_cur;
}

/* "a.b.c.d:port" (IPv4 only: the benches run on loopback). 0 or -1. */
static inline int bu_parse_addr(const char *text, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(text, ':');
	if (!colon || (size_t)(colon - text) >= sizeof(host))
		return -1;
	memcpy(host, text, (size_t)(colon - text));
	host[colon - text] = 0;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port < 0 || port > 65535 || inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return -1;
	sa->sin_port = htons((uint16_t)port);
	return 0;
}

#endif
