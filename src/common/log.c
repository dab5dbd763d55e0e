/* log: one printf-style logger to stderr, one key=value line per event. */
#include "log.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

atomic_int log_threshold = LOG_INFO;

/* Lines always go to fd 2. A log file is dup2()ed over it, which swaps the
 * file under every writer at once without a lock; the original stderr is
 * kept in stderr_copy to go back to. Only the main thread opens files. */
static int stderr_copy = -1;
static char log_path[PATH_MAX];

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level level)
{
    atomic_store_explicit(&log_threshold, (int)level, memory_order_relaxed);
}

int log_level_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    return -1;
}

const char *log_level_name(enum log_level level)
{
    return (unsigned)level < 4 ? level_names[level] : "?";
}

void log_write(enum log_level level, const char *fmt, ...)
{
    char line[1024];
    struct timeval tv;
    struct tm tm;
    va_list ap;

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ level=%s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (int)(tv.tv_usec / 1000), log_level_name(level));
    if (n < 0)
        return;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    /* One write per line so lines from several threads never interleave. */
    ssize_t w;
    do {
        w = write(2, line, len);
    } while (w < 0 && errno == EINTR);
}

/* The log file, opened for appending (created 0640). fd, or -1 with err. */
static int open_file(const char *path, char *err, size_t errsz)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
    if (fd < 0)
        snprintf(err, errsz, "cannot open log file %s: %s", path, strerror(errno));
    return fd;
}

int log_check(const char *path, char *err, size_t errsz)
{
    int fd = open_file(path, err, errsz);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

int log_open(const char *path, char *err, size_t errsz)
{
    if (stderr_copy < 0) {
        stderr_copy = fcntl(2, F_DUPFD_CLOEXEC, 3);
        if (stderr_copy < 0) {
            snprintf(err, errsz, "cannot keep stderr: %s", strerror(errno));
            return -1;
        }
    }
    int fd = stderr_copy;
    if (path[0] != '\0' && (fd = open_file(path, err, errsz)) < 0)
        return -1;
    int rc = dup2(fd, 2);
    int saved = errno;
    if (fd != stderr_copy)
        close(fd);
    if (rc < 0) {
        snprintf(err, errsz, "cannot log to %s: %s", path[0] ? path : "stderr",
                 strerror(saved));
        return -1;
    }
    util_strlcpy(log_path, path, sizeof(log_path));
    return 0;
}

int log_reopen(char *err, size_t errsz)
{
    char path[PATH_MAX];
    util_strlcpy(path, log_path, sizeof(path));
    return log_open(path, err, errsz);
}

const char *log_file(void)
{
    return log_path;
}

static void on_libevent_log(int severity, const char *msg)
{
    enum log_level level = LOG_WARN;
    if (severity == EVENT_LOG_DEBUG)
        level = LOG_DEBUG;
    else if (severity == EVENT_LOG_MSG)
        level = LOG_INFO;
    else if (severity == EVENT_LOG_ERR)
        level = LOG_ERROR;
    log_at(level, "event=libevent msg=\"%s\"", msg);
}

void log_route_libevent(void)
{
    event_set_log_callback(on_libevent_log);
}
