/* util: allocation that aborts on failure, clocks and small string helpers. */
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static void oom(size_t size)
{
    fprintf(stderr, "level=fatal event=oom bytes=%zu\n", size);
    abort();
}

void *xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (p == NULL)
        oom(size);
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL)
        oom(n * size);
    return p;
}

void *xrealloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);
    if (p == NULL)
        oom(size);
    return p;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* clock's time in units per second (1000: ms, 1000000: µs). */
static uint64_t clock_in(clockid_t clock, uint64_t per_second)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * per_second +
           (uint64_t)ts.tv_nsec / (1000000000u / per_second);
}

uint64_t util_now_ms(void)
{
    return clock_in(CLOCK_MONOTONIC, 1000u);
}

uint64_t util_coarse_ms(void)
{
    return clock_in(CLOCK_MONOTONIC_COARSE, 1000u);
}

uint64_t util_now_us(void)
{
    return clock_in(CLOCK_MONOTONIC, 1000000u);
}

uint64_t util_wall_ms(void)
{
    return clock_in(CLOCK_REALTIME, 1000u);
}

int util_parse_ll(const char *s, long long *out)
{
    char *end;

    if (s == NULL || *s == '\0')
        return -1;
    if (!(*s == '-' || (*s >= '0' && *s <= '9')))
        return -1;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

bool util_parse_bool(const char *s, bool *out)
{
    static const char *yes[] = {"on", "yes", "true", "1"};
    static const char *no[] = {"off", "no", "false", "0"};

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

size_t util_strlcpy(char *dst, const char *src, size_t dstsz)
{
    size_t n = strlen(src);
    if (dstsz > 0) {
        size_t c = n < dstsz - 1 ? n : dstsz - 1;
        memcpy(dst, src, c);
        dst[c] = '\0';
    }
    return n;
}

int util_cpu_quota(const char *cpu_max)
{
    char quota[32];
    long long period = 0;
    if (sscanf(cpu_max, "%31s %lld", quota, &period) != 2 || period <= 0)
        return 0;
    long long q;
    if (util_parse_ll(quota, &q) != 0 || q <= 0)
        return 0; /* "max": no quota */
    long long n = (q + period - 1) / period;
    return n > INT_MAX ? INT_MAX : (int)n;
}

int util_ncpus(void)
{
    cpu_set_t set;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    /* The CPUs this process may run on (taskset, cpusets)... */
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0 &&
        CPU_COUNT(&set) < n)
        n = CPU_COUNT(&set);
    /* ...and the time it may use of them: a cgroup v2 quota (containers,
     * systemd's CPUQuota=) on its own cgroup or any above it. */
    char path[512] = "", line[512];
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (f != NULL) {
        while (fgets(line, sizeof(line), f) != NULL)
            if (strncmp(line, "0::", 3) == 0) {
                line[strcspn(line, "\n")] = '\0';
                util_strlcpy(path, line + 3, sizeof(path));
            }
        fclose(f);
    }
    for (;;) {
        char file[600];
        snprintf(file, sizeof(file), "/sys/fs/cgroup%s/cpu.max",
                 strcmp(path, "/") == 0 ? "" : path);
        if ((f = fopen(file, "r")) != NULL) {
            if (fgets(line, sizeof(line), f) != NULL) {
                int q = util_cpu_quota(line);
                if (q > 0 && q < n)
                    n = q;
            }
            fclose(f);
        }
        char *slash = strrchr(path, '/');
        if (slash == NULL || path[0] == '\0' || strcmp(path, "/") == 0)
            break;
        if (slash == path)
            util_strlcpy(path, "/", sizeof(path));
        else
            *slash = '\0';
    }
    if (n < 1)
        return 1;
    if (n > INT_MAX)
        return INT_MAX;
    return (int)n;
}

char *util_read_file(const char *path, size_t *len)
{
    FILE *in = fopen(path, "r");
    if (in == NULL)
        return NULL;
    char *text = NULL;
    size_t cap = 0;
    *len = 0;
    for (;;) {
        if (cap - *len < 4096) {
            cap = cap ? cap * 2 : 65536;
            text = xrealloc(text, cap + 1);
        }
        size_t r = fread(text + *len, 1, cap - *len, in);
        *len += r;
        if (r == 0)
            break;
    }
    int saved = ferror(in) ? EIO : 0;
    fclose(in);
    if (saved != 0) {
        free(text);
        errno = saved;
        return NULL;
    }
    text[*len] = '\0';
    return text;
}

struct timeval util_ms_timeval(uint64_t ms)
{
    struct timeval tv = {.tv_sec = (time_t)(ms / 1000u),
                         .tv_usec = (suseconds_t)(ms % 1000u) * 1000};
    return tv;
}

const char *util_shown(const char *s, size_t len, char *out, size_t outsz)
{
    size_t w = 0;
    for (size_t i = 0; i < len && w + 8 < outsz; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i == 80) {
            w += (size_t)snprintf(out + w, outsz - w, "...");
            break;
        }
        if (c >= 0x20 && c < 0x7f && c != '\\')
            out[w++] = (char)c;
        else
            w += (size_t)snprintf(out + w, outsz - w, "\\x%02x", c);
    }
    out[w] = '\0';
    return out;
}
