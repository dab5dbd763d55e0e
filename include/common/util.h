/* util: allocation that aborts on failure, clocks and small string helpers. */
#ifndef HOPCOUNT_UTIL_H
#define HOPCOUNT_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

/* Allocators: on failure they print the size to stderr and abort(); they never
 * return NULL. Free with free(). */
void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* Milliseconds of CLOCK_MONOTONIC. */
uint64_t util_now_ms(void);

/* Milliseconds of CLOCK_MONOTONIC_COARSE (a few ms of resolution, a vDSO
 * read): for ages of cache entries. */
uint64_t util_coarse_ms(void);

/* Microseconds of CLOCK_MONOTONIC. */
uint64_t util_now_us(void);

/* Milliseconds since the epoch (CLOCK_REALTIME). */
uint64_t util_wall_ms(void);

/* Parse a whole decimal string into *out. Rejects empty strings, signs other
 * than a leading '-', trailing bytes and overflow. Returns 0 or -1. */
int util_parse_ll(const char *s, long long *out);

/* True when s equals one of on/yes/true/1 (*out = true) or off/no/false/0. */
bool util_parse_bool(const char *s, bool *out);

/* Copy src into dst of size dstsz, always NUL-terminated; returns strlen(src). */
size_t util_strlcpy(char *dst, const char *src, size_t dstsz);

/* CPUs this process may use, at least 1: online CPUs, narrowed by its
 * affinity mask and by a cgroup v2 CPU quota on its cgroup or above. */
int util_ncpus(void);

/* The whole CPUs a cgroup v2 cpu.max line ("QUOTA PERIOD") grants, rounded
 * up; 0 for "max" (no quota) or a line that does not parse. */
int util_cpu_quota(const char *cpu_max);

/* The whole file at path, NUL-terminated (its length in *len, without the
 * NUL); the caller frees it. NULL with errno when it cannot be read. */
char *util_read_file(const char *path, size_t *len);

/* ms milliseconds as a struct timeval, for libevent's timers. */
struct timeval util_ms_timeval(uint64_t ms);

/* s[0..len) for a message: at most 80 bytes, anything outside printable
 * ASCII (and the backslash) as \xNN, so no input can forge a line of
 * output. Returns out. */
const char *util_shown(const char *s, size_t len, char *out, size_t outsz);

#endif
