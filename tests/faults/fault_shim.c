/* A fault shim for the fault suite, loaded into hopcount with LD_PRELOAD.
 * Each fault is off unless its environment variable is set:
 *   HC_SLOW_FSYNC_DIR, HC_SLOW_FSYNC_MS: fsync of a file or directory whose
 *     path contains the dir first sleeps that long (a busy spindle, a
 *     throttled cloud volume, without needing one);
 *   HC_GETRANDOM_EINTR=N: the first N getrandom calls fail with EINTR;
 *   HC_GETRANDOM_ERRNO=E: every getrandom call then fails with errno E (a
 *     kernel or seccomp filter without it);
 *   HC_CLOCK_OFFSET_FILE: the wall clock (CLOCK_REALTIME, gettimeofday) is
 *     off by the seconds that file holds, read at every call, so a test can
 *     step it (NTP, a VM resumed) while hopcount runs. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <sys/random.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int fsync(int fd)
{
    static int (*real)(int);
    if (real == NULL)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    const char *dir = getenv("HC_SLOW_FSYNC_DIR"), *ms = getenv("HC_SLOW_FSYNC_MS");
    char link[64], path[4096];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof(path) - 1);
    if (dir != NULL && ms != NULL && n > 0) {
        path[n] = '\0';
        long v = atol(ms);
        struct timespec ts = {.tv_sec = v / 1000, .tv_nsec = (v % 1000) * 1000000L};
        if (strstr(path, dir) != NULL)
            nanosleep(&ts, NULL);
    }
    return real(fd);
}

ssize_t getrandom(void *buf, size_t len, unsigned int flags)
{
    static ssize_t (*real)(void *, size_t, unsigned int);
    static long eintr_left = -1;
    if (real == NULL)
        real = (ssize_t(*)(void *, size_t, unsigned int))dlsym(RTLD_NEXT, "getrandom");
    const char *eintr = getenv("HC_GETRANDOM_EINTR"),
               *fail = getenv("HC_GETRANDOM_ERRNO");
    if (eintr_left < 0)
        eintr_left = eintr != NULL ? atol(eintr) : 0;
    if (eintr_left > 0) {
        eintr_left--;
        errno = EINTR;
        return -1;
    }
    if (fail != NULL) {
        errno = atoi(fail);
        return -1;
    }
    return real(buf, len, flags);
}

/* The offset in seconds the file holds now (0 without one). */
static long clock_offset(void)
{
    const char *path = getenv("HC_CLOCK_OFFSET_FILE");
    char buf[32] = {0};
    FILE *f = path != NULL ? fopen(path, "r") : NULL;
    if (f == NULL)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return atol(buf);
}

int clock_gettime(clockid_t id, struct timespec *ts)
{
    static int (*real)(clockid_t, struct timespec *);
    if (real == NULL)
        real = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
    int rc = real(id, ts);
    if (rc == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE))
        ts->tv_sec += clock_offset();
    return rc;
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
    struct timespec ts;
    int rc = clock_gettime(CLOCK_REALTIME, &ts);
    if (rc == 0) {
        tv->tv_sec = ts.tv_sec;
        tv->tv_usec = ts.tv_nsec / 1000;
    }
    (void)tz;
    return rc;
}
