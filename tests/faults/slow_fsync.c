/* A fault shim for the overflow tests, loaded with LD_PRELOAD: fsync of a
 * file or directory whose path contains $HC_SLOW_FSYNC_DIR first sleeps
 * $HC_SLOW_FSYNC_MS milliseconds. A disk that takes its time (a busy
 * spindle, a throttled cloud volume), without needing one. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
