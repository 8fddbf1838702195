/*
 * log.h — one line per event to stderr: time, level, thread, message.
 *
 * Owns: the process-wide log level (set once at start-up or reload, read
 * lock-free). Must not: be handed secrets. Callers format user input with
 * log_quote-style care; passwords, hashes and scrambles never reach here.
 */
#ifndef TANDEM_COMMON_LOG_H
#define TANDEM_COMMON_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
/* Parse "error"/"warn"/"info"/"debug"; -1 if unknown. */
int log_level_parse(const char *s);
/* Name the calling thread in log lines ("main", "w0", "mon:db1"). */
void log_set_thread_name(const char *name);

void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                   \
	do {                                             \
		if (log_get_level() >= LOG_DEBUG)        \
			log_msg(LOG_DEBUG, __VA_ARGS__); \
	} while (0)

#endif
