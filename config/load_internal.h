/*
 * load_internal.h — helpers shared by the files of config/, not part of the contract.
 */
#ifndef TANDEM_CONFIG_LOAD_INTERNAL_H
#define TANDEM_CONFIG_LOAD_INTERNAL_H

#include "config/config.h"

void cfg_error(struct cfg_errors *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cfg_warning(struct cfg_errors *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
