/*
 * held.c — who already listens on a TCP address, from /proc (Linux).
 * `tandem --check` asks this before it tries a bind, so that the ports of
 * a running tandem count as "ours" and a check run next to it gives the
 * same verdict as one run alone. Reads /proc only: never binds, never
 * connects, never signals anything.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/held.h"

#define TCP_LISTEN 0x0A

/* Whether a listener on (lfam, laddr, lport) takes the port a bind of sa
 * would need: same port and the same address, or either one the wildcard
 * (a dual-stack [::] listener also holds the IPv4 port). */
static bool conflicts(const struct sockaddr_storage *sa, int lfam, const uint8_t *laddr,
		      uint16_t lport)
{
	static const uint8_t any6[16] = {0};
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	uint8_t want[16] = {0};
	uint16_t port;
	bool want_any;
	if (sa->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		port = ntohs(in->sin_port);
		memcpy(want, &in->sin_addr, 4);
		want_any = in->sin_addr.s_addr == htonl(INADDR_ANY);
	} else if (sa->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		port = ntohs(in6->sin6_port);
		memcpy(want, &in6->sin6_addr, 16);
		want_any = memcmp(want, any6, 16) == 0;
	} else {
		return false;
	}
	if (port != lport)
		return false;
	if (lfam == AF_INET6 && memcmp(laddr, any6, 16) == 0)
		return true;
	if (want_any)
		return true;
	if (lfam == AF_INET && sa->ss_family == AF_INET)
		return memcmp(laddr, want, 4) == 0 || memcmp(laddr, "\0\0\0\0", 4) == 0;
	if (lfam == AF_INET6 && sa->ss_family == AF_INET6)
		return memcmp(laddr, want, 16) == 0;
	if (lfam == AF_INET6 && sa->ss_family == AF_INET)
		return memcmp(laddr, mapped, 12) == 0 && memcmp(laddr + 12, want, 4) == 0;
	return false;
}

struct lsock {
	int fam;
	uint8_t addr[16];
	uint16_t port;
	unsigned long inode;
};

struct sockowner {
	unsigned long inode;
	int pid;
};

struct cfg_listeners {
	struct lsock *socks;
	size_t n, cap;
	struct sockowner *owners; /* sorted by inode; built on first need */
	size_t nowners, owners_cap;
	bool owners_read;
};

/* Append the listening sockets of one /proc/net/tcp{,6} file. */
static void read_listeners(struct cfg_listeners *l, const char *file, int fam)
{
	FILE *f = fopen(file, "r");
	if (!f)
		return;
	char line[512];
	if (!fgets(line, sizeof(line), f)) { /* header */
		fclose(f);
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		char local[64];
		unsigned lport, state;
		unsigned long inode;
		if (sscanf(line, " %*d: %63[0-9A-Fa-f]:%x %*s %x %*s %*s %*s %*s %*s %lu", local,
			   &lport, &state, &inode) != 4 ||
		    state != TCP_LISTEN)
			continue;
		/* The kernel prints each 32-bit word of the address as a host-order
		 * integer, so reading it back the same way restores the bytes. */
		struct lsock ls = {.fam = fam, .port = (uint16_t)lport, .inode = inode};
		size_t words = fam == AF_INET ? 1 : 4;
		if (strlen(local) != words * 8)
			continue;
		for (size_t i = 0; i < words; i++) {
			char hex[9];
			memcpy(hex, local + i * 8, 8);
			hex[8] = 0;
			uint32_t w = (uint32_t)strtoul(hex, NULL, 16);
			memcpy(ls.addr + i * 4, &w, 4);
		}
		if (l->n == l->cap) {
			size_t cap = l->cap ? l->cap * 2 : 64;
			struct lsock *p = realloc(l->socks, cap * sizeof(*p));
			if (!p)
				break;
			l->socks = p;
			l->cap = cap;
		}
		l->socks[l->n++] = ls;
	}
	fclose(f);
}

struct cfg_listeners *cfg_listeners_read(void)
{
	struct cfg_listeners *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	read_listeners(l, "/proc/net/tcp", AF_INET);
	read_listeners(l, "/proc/net/tcp6", AF_INET6);
	return l;
}

void cfg_listeners_free(struct cfg_listeners *l)
{
	if (!l)
		return;
	free(l->socks);
	free(l->owners);
	free(l);
}

static int owner_cmp(const void *a, const void *b)
{
	const struct sockowner *x = a, *y = b;
	return x->inode < y->inode ? -1 : x->inode > y->inode;
}

/* One pass over every process's descriptors: socket inode -> pid. A
 * process of another user stays unseen unless we are root. */
static void read_owners(struct cfg_listeners *l)
{
	l->owners_read = true;
	DIR *proc = opendir("/proc");
	if (!proc)
		return;
	struct dirent *de;
	while ((de = readdir(proc))) {
		char *end;
		long p = strtol(de->d_name, &end, 10);
		if (*end || p <= 0)
			continue;
		char dir[64];
		snprintf(dir, sizeof(dir), "/proc/%ld/fd", p);
		DIR *fds = opendir(dir);
		if (!fds)
			continue;
		struct dirent *fe;
		while ((fe = readdir(fds))) {
			char link[320], target[64];
			snprintf(link, sizeof(link), "%s/%s", dir, fe->d_name);
			ssize_t n = readlink(link, target, sizeof(target) - 1);
			unsigned long inode;
			if (n <= 0)
				continue;
			target[n] = 0;
			if (sscanf(target, "socket:[%lu]", &inode) != 1)
				continue;
			if (l->nowners == l->owners_cap) {
				size_t cap = l->owners_cap ? l->owners_cap * 2 : 256;
				struct sockowner *o = realloc(l->owners, cap * sizeof(*o));
				if (!o)
					break;
				l->owners = o;
				l->owners_cap = cap;
			}
			l->owners[l->nowners++] = (struct sockowner){inode, (int)p};
		}
		closedir(fds);
	}
	closedir(proc);
	if (l->nowners)
		qsort(l->owners, l->nowners, sizeof(*l->owners), owner_cmp);
}

int cfg_listeners_holder(struct cfg_listeners *l, const struct cfg_addr *a, char *comm,
			 size_t commlen)
{
	if (commlen)
		comm[0] = 0;
	const struct lsock *hit = NULL;
	for (size_t i = 0; l && i < l->n && !hit; i++)
		if (conflicts(&a->sa, l->socks[i].fam, l->socks[i].addr, l->socks[i].port))
			hit = &l->socks[i];
	if (!hit)
		return -1;
	if (!l->owners_read)
		read_owners(l);
	struct sockowner key = {hit->inode, 0};
	const struct sockowner *o =
		l->nowners ? bsearch(&key, l->owners, l->nowners, sizeof(*l->owners), owner_cmp)
			   : NULL;
	if (!o)
		return 0;
	if (commlen) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/comm", o->pid);
		FILE *f = fopen(path, "r");
		if (f) {
			if (fgets(comm, (int)commlen, f))
				comm[strcspn(comm, "\n")] = 0;
			fclose(f);
		}
	}
	return o->pid;
}
