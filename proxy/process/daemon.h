/*
 * daemon.h — the process: the main thread's event_base (signals, admin
 * HTTP, reload), the workers, the monitor, and the current config.
 *
 * Owns: the current config snapshot and its generation, which tenant is
 * bound where, the tenant registry, and start-up / reload / shutdown.
 * Must not: touch sessions (they belong to workers).
 */
#ifndef TANDEM_PROXY_DAEMON_H
#define TANDEM_PROXY_DAEMON_H

#include "proxy/process/daemon_types.h"

/* Load the config, bind, start everything. 0 or -1 (errors printed). */
int daemon_start(struct daemon *d, const char *config_path);
/* Run the main loop until shutdown completes; returns the exit code. */
int daemon_run(struct daemon *d);
void daemon_free(struct daemon *d);

/* Reload the config file now (what SIGHUP does). 0 on success. */
int daemon_reload(struct daemon *d);

/* `tandem --check`: 0 valid, 1 not. */
int daemon_check_config(const char *config_path);

/* Bind one listening socket (SO_REUSEPORT, non-blocking). -1 with errno. */
int daemon_bind_listener(const struct cfg_addr *a);

#endif
