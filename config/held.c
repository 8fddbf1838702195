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

#include "config/config.h"

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

/* The inode of a listening socket in one /proc/net/tcp{,6} file that
 * conflicts with sa; 0 when none. */
static unsigned long listener_inode(const char *file, int fam, const struct sockaddr_storage *sa)
{
	FILE *f = fopen(file, "r");
	if (!f)
		return 0;
	char line[512];
	unsigned long found = 0;
	if (!fgets(line, sizeof(line), f)) { /* header */
		fclose(f);
		return 0;
	}
	while (!found && fgets(line, sizeof(line), f)) {
		char local[64];
		unsigned lport, state;
		unsigned long inode;
		if (sscanf(line, " %*d: %63[0-9A-Fa-f]:%x %*s %x %*s %*s %*s %*s %*s %lu", local,
			   &lport, &state, &inode) != 4 ||
		    state != TCP_LISTEN)
			continue;
		/* The kernel prints each 32-bit word of the address as a host-order
		 * integer, so reading it back the same way restores the bytes. */
		uint8_t addr[16] = {0};
		size_t words = fam == AF_INET ? 1 : 4;
		if (strlen(local) != words * 8)
			continue;
		for (size_t i = 0; i < words; i++) {
			char hex[9];
			memcpy(hex, local + i * 8, 8);
			hex[8] = 0;
			uint32_t w = (uint32_t)strtoul(hex, NULL, 16);
			memcpy(addr + i * 4, &w, 4);
		}
		if (conflicts(sa, fam, addr, (uint16_t)lport))
			found = inode;
	}
	fclose(f);
	return found;
}

/* The process that has socket inode open: pid, or 0 when it cannot be
 * seen (another user's process, without root). */
static int inode_owner(unsigned long inode, char *comm, size_t commlen)
{
	char want[64];
	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	DIR *proc = opendir("/proc");
	if (!proc)
		return 0;
	int pid = 0;
	struct dirent *de;
	while (!pid && (de = readdir(proc))) {
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
			if (n <= 0)
				continue;
			target[n] = 0;
			if (strcmp(target, want) == 0) {
				pid = (int)p;
				break;
			}
		}
		closedir(fds);
	}
	closedir(proc);
	if (pid && commlen) {
		comm[0] = 0;
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/comm", pid);
		FILE *f = fopen(path, "r");
		if (f) {
			if (fgets(comm, (int)commlen, f))
				comm[strcspn(comm, "\n")] = 0;
			fclose(f);
		}
	}
	return pid;
}

int cfg_listen_holder(const struct cfg_addr *a, char *comm, size_t commlen)
{
	if (commlen)
		comm[0] = 0;
	unsigned long inode = listener_inode("/proc/net/tcp", AF_INET, &a->sa);
	if (!inode)
		inode = listener_inode("/proc/net/tcp6", AF_INET6, &a->sa);
	if (!inode)
		return -1;
	return inode_owner(inode, comm, commlen);
}
