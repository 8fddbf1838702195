/*
 * sdnotify.c — see process.h. The protocol is sd_notify(3)'s: an
 * AF_UNIX SOCK_DGRAM message of "KEY=VALUE\n..." text.
 */
#include "proxy/process/process.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

int sdn_send(const char *state)
{
	static bool warned;
	const char *path = getenv("NOTIFY_SOCKET");
	if (!path || !path[0])
		return 0;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	size_t len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sun.sun_path)) {
		if (!warned)
			log_warn(
				"NOTIFY_SOCKET is not a usable socket path; not notifying systemd");
		warned = true;
		return -1;
	}
	memcpy(sun.sun_path, path, len);
	if (path[0] == '@')
		sun.sun_path[0] = 0; /* abstract namespace: no trailing NUL counted */
	socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
				      (path[0] == '@' ? 0 : 1));
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	ssize_t n = sendto(fd, state, strlen(state), MSG_NOSIGNAL | MSG_DONTWAIT,
			   (struct sockaddr *)&sun, salen);
	int err = errno;
	close(fd);
	if (n < 0) {
		if (!warned)
			log_warn("cannot notify systemd at %s: %s", path, strerror(err));
		warned = true;
		return -1;
	}
	return 1;
}

int sdn_reloading(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	char msg[96];
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ULL +
			 (unsigned long long)ts.tv_nsec / 1000);
	return sdn_send(msg);
}
