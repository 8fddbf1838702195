/*
 * sdnotify.h — systemd's readiness protocol, without libsystemd: one
 * datagram ("READY=1", "RELOADING=1", "STOPPING=1", ...) to the unix socket
 * named by $NOTIFY_SOCKET ('@' = abstract namespace). Without that variable
 * every call is a no-op, so tandem behaves the same outside systemd.
 *
 * Must not: block, or fail the caller: a lost notification is logged once.
 */
#ifndef TANDEM_PROXY_SDNOTIFY_H
#define TANDEM_PROXY_SDNOTIFY_H

/* Send state (newline-separated assignments). 1 sent, 0 no socket, -1 error. */
int sdn_send(const char *state);
/* "RELOADING=1" with the MONOTONIC_USEC systemd >= 253 asks for. */
int sdn_reloading(void);

#endif
