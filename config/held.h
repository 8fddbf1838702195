/*
 * held.h — who already listens on a TCP address, from /proc (held.c), for
 * the bind check. config.h includes it.
 */
#ifndef TANDEM_CONFIG_HELD_H
#define TANDEM_CONFIG_HELD_H

#include <stddef.h>

#include "config/config.h"

/* The TCP listeners of the machine, read once from /proc. */
struct cfg_listeners;
struct cfg_listeners *cfg_listeners_read(void);
void cfg_listeners_free(struct cfg_listeners *l);
/* The pid listening where a bind of a would collide (comm gets its name),
 * 0 when a listener exists but its process cannot be seen, -1 when
 * nothing listens there. */
int cfg_listeners_holder(struct cfg_listeners *l, const struct cfg_addr *a, char *comm,
			 size_t commlen);

#endif
