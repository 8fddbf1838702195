/*
 * running.h — what a running tandem listens on, asked over its admin
 * endpoint, for `tandem --check` when /proc does not say who holds a port
 * (the running tandem dropped to "user" and the check lacks CAP_SYS_PTRACE,
 * as under the systemd unit).
 *
 * Must not: change anything in the running tandem (GET /status only).
 */
#ifndef TANDEM_PROXY_RUNNING_H
#define TANDEM_PROXY_RUNNING_H

#include <stdbool.h>

#include "config/config.h"

struct running_probe {
	const struct cfg *cfg; /* the file being checked: where to ask, with which token */
	bool asked;
	struct cfg_addr *addrs; /* what the running tandem answered it listens on */
	size_t naddrs;
};

/* cfg_listen_ours_fn: whether the tandem answering at cfg's admin.listen
 * listens on a (its admin address, or a tenant's). Asks once (2 s
 * deadline) and remembers the answer in the probe (arg). */
bool running_holds(const struct cfg_addr *a, void *arg);
void running_probe_free(struct running_probe *p);

/* What --check checks: load the file and see that every listen address
 * could be taken (see cfg_check_bindable), asking a running tandem about
 * the ones it holds. Errors and warnings go to errs; returns the config (a
 * reference) or NULL. */
struct cfg *running_check_load(const char *config_path, struct cfg_errors *errs);

#endif
