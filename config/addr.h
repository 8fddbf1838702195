/*
 * addr.h — addresses in the config (addr.c): host:port and CIDR parsing
 * and matching, and the bind check of tandem --check. config.h includes
 * it.
 */
#ifndef TANDEM_CONFIG_ADDR_H
#define TANDEM_CONFIG_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "config/config.h"

/* Parse "a.b.c.d[/n]" or "v6[/n]"; 0 or -1. */
int cfg_cidr_parse(const char *text, struct cfg_cidr *out);
bool cfg_cidr_match(const struct cfg_cidr *c, const struct sockaddr *sa);
/* Whether any of the tenant's allow entries matches. */
bool cfg_tenant_allows(const struct cfg_tenant *t, const struct sockaddr *sa);
/* Parse "host:port" / "[v6]:port"; numeric_only refuses host names. */
int cfg_addr_parse(const char *text, bool numeric_only, struct cfg_addr *out, char *err,
		   size_t errlen);
bool cfg_addr_equal(const struct cfg_addr *a, const struct cfg_addr *b);

/* Whether every listen address could be taken, without taking it: an
 * address a running tandem listens on passes, one another process listens
 * on fails, and any other is tried with a bind (no listen) for the kernel's
 * verdict. A listener whose process cannot be seen (another user's, and no
 * CAP_SYS_PTRACE, as under the systemd unit once tandem dropped to "user")
 * passes when ours(a, arg) says the running tandem holds it; ours may be
 * NULL. Appends one error per failure; returns the count. */
typedef bool (*cfg_listen_ours_fn)(const struct cfg_addr *a, void *arg);
int cfg_check_bindable(const struct cfg *c, struct cfg_errors *errs, cfg_listen_ours_fn ours,
		       void *arg);

#endif
