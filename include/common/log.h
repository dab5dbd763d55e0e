/* log: one printf-style logger to stderr or a file, one key=value line per event.
 * Callers never pass client addresses or user agents. */
#ifndef HOPCOUNT_LOG_H
#define HOPCOUNT_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/* Levels, lowest first. */
enum log_level {
    LOG_DEBUG = 0, /* per-request or per-command detail */
    LOG_INFO = 1,  /* start, stop, reload, reconnects */
    LOG_WARN = 2,  /* recoverable trouble: bad data in Redis, retries */
    LOG_ERROR = 3, /* trouble that loses service or needs an operator */
};

/* The current threshold; written by log_set_level (main thread), read by
 * every thread on every call: an atomic, read relaxed (a level change may
 * reach another thread a moment late, never torn). */
extern atomic_int log_threshold;

void log_set_level(enum log_level level);

/* Parse "debug", "info", "warn" or "error"; returns -1 on anything else. */
int log_level_parse(const char *s);
const char *log_level_name(enum log_level level);

/* Whether path can be opened as log_open would (it is created if missing):
 * for -t. 0, or -1 with a reason in err. */
int log_check(const char *path, char *err, size_t errsz);

/* Log to the file at path (appending, created 0640), or back to the original
 * stderr when path is "". The file replaces fd 2, so whatever else writes to
 * stderr lands there too. Main thread only. 0, or -1 with a reason in err
 * (logging then goes on where it went). */
int log_open(const char *path, char *err, size_t errsz);

/* Open the current log file again (after logrotate moved it). 0 or -1. */
int log_reopen(char *err, size_t errsz);

/* The current log file, "" for stderr. */
const char *log_file(void);

/* Route libevent's internal warnings into this logger. */
void log_route_libevent(void);

void log_write(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The level test comes before the arguments are evaluated. */
#define log_at(level, ...)                                                               \
    do {                                                                                 \
        if ((int)(level) >= atomic_load_explicit(&log_threshold, memory_order_relaxed))                                               \
            log_write((level), __VA_ARGS__);                                             \
    } while (0)
#define log_debug(...) log_at(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_at(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_at(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_at(LOG_ERROR, __VA_ARGS__)

#endif
