/* sentinel: where the primary named master_name is, asked of the sentinels
 * in turn (SENTINEL get-master-addr-by-name), again whenever the primary's
 * connection is lost or a connect is about to be made, so a failover is
 * followed within a connect attempt of the sentinels knowing it. */
#ifndef HOPCOUNT_SENTINEL_H
#define HOPCOUNT_SENTINEL_H

struct event_base;
struct conf;
struct sentinel;

/* The primary's address changed (a failover). */
typedef void sentinel_change_fn(void *arg);

/* conf is borrowed and must outlive it. Starts asking at once; on_change
 * runs whenever an answer names another primary. */
struct sentinel *sentinel_new(struct event_base *base, const struct conf *conf,
                              const char *name, sentinel_change_fn *on_change, void *arg);
void sentinel_free(struct sentinel *s);

/* The primary's address as last answered (borrowed until the next call
 * into sentinel). -1 when no sentinel has answered yet. Also asks again
 * (at most every 100 ms): it is called before every connect. */
int sentinel_primary(struct sentinel *s, const char **host, int *port);

/* The primary failed or is not one: ask the sentinels now, and every
 * 250 ms until sentinel_settled (they may not have promoted a replica yet). */
void sentinel_rediscover(struct sentinel *s);

/* Connected to a primary that ROLE confirmed: stop asking. */
void sentinel_settled(struct sentinel *s);

#endif
