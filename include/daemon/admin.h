/* admin: the admin listener (evhttp): /healthz, /readyz, /metrics. */
#ifndef HOPCOUNT_ADMIN_H
#define HOPCOUNT_ADMIN_H

#include <stddef.h>

struct event_base;
struct metrics;
struct metrics_process;
struct admin;

/* Listen on addr ("IP:PORT") on base, reading n workers' metrics (borrowed).
 * NULL with a reason in err on failure. */
struct admin *admin_new(struct event_base *base, const char *addr,
                        struct metrics *const *m, size_t n,
                        const struct metrics_process *p, char *err, size_t errsz);
void admin_free(struct admin *a);

#endif
