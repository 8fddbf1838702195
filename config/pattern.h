/*
 * pattern.h — SQL LIKE matching (pattern.c). config.h includes it.
 */
#ifndef TANDEM_CONFIG_PATTERN_H
#define TANDEM_CONFIG_PATTERN_H

#include <stdbool.h>

#include "config/config.h"

/* SQL LIKE matching as MariaDB does for account hosts: '%' any run, '_' one
 * character, '\\' escapes; case-insensitive when fold is true. */
bool cfg_like_match(const char *pattern, const char *text, bool fold);

#endif
