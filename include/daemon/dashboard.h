/* dashboard: the dashboard listener (evhttp, on the main thread): the
 * read-only JSON API of docs/api.md. It reads Redis through a router of its
 * own (never a worker's), at most DASHBOARD_JOBS reads at once, and answers
 * repeated requests from a one-second cache, so that dashboards left open
 * cost the redirect path nothing. HTTP Basic when dashboard_password_file
 * is set. */
#ifndef HOPCOUNT_DASHBOARD_H
#define HOPCOUNT_DASHBOARD_H

#include <stddef.h>

#define DASHBOARD_JOBS 16  /* requests reading Redis at once; more get 503 */
#define DASHBOARD_CACHE 64 /* answers kept */
#define DASHBOARD_CACHE_MS 1000
#define DASHBOARD_DAYS_MAX 366 /* the longest series asked for */

struct event_base;
struct conf;
struct dashboard;

/* Listen on conf->dashboard_listen on base (conf borrowed: it must outlive
 * the dashboard). NULL with a reason in err. */
struct dashboard *dashboard_new(struct event_base *base, const struct conf *conf,
                                char *err, size_t errsz);
void dashboard_free(struct dashboard *d);

#endif
