/* route: one worker's commands to the right Redis server. In mode single
 * that is the one Redis; in mode sentinel the primary the sentinels name
 * (ROLE checked on every connect); in mode cluster the primary that owns
 * the key's slot, from a slot map (CLUSTER SLOTS) refreshed on MOVED, on a
 * lost connection, on CLUSTERDOWN and every 30 s, at most once a second;
 * MOVED and ASK are followed, a script answered NOSCRIPT is loaded and sent
 * again. One connection per primary (docs/scaling.md). */
#ifndef HOPCOUNT_ROUTE_H
#define HOPCOUNT_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct conf;
struct metrics;
struct redisReply;
struct rconn;
struct route;

/* Which connection answered, for a WAIT that must cover that answer. */
struct route_via {
    struct rconn *rc;
    unsigned long epoch;
};

/* A command's completion, exactly once: reply is borrowed (NULL when the
 * command failed: connection lost, timeout, no server for the slot); via is
 * the connection that answered, NULL with a NULL reply. Errors Redis
 * answers (TRYAGAIN, CLUSTERDOWN, a refused script...) reach fn as they
 * are, once MOVED, ASK and NOSCRIPT have been followed. */
typedef void route_reply_fn(struct redisReply *reply, const struct route_via *via,
                            void *arg);

/* A primary connection came up (up) or went down. */
typedef void route_state_fn(struct route *r, bool up, void *arg);

/* conf and m are borrowed and must outlive the router. `name` labels the
 * connections in logs. Starts connecting at once. */
struct route *route_new(struct event_base *base, const struct conf *conf,
                        struct metrics *m, const char *name, route_state_fn *on_state,
                        void *arg);
void route_free(struct route *r);

/* Send argv to the server owning key[0..keylen) (any key of the command:
 * they share a slot). script, when not NULL, is the body of the script
 * argv runs by EVALSHA: on NOSCRIPT it is loaded and the command sent once
 * more. 0 when accepted (fn runs exactly once), -1 when no server for that
 * key is connected (fn never runs). */
int route_command(struct route *r, const char *key, size_t keylen, const char *script,
                  size_t script_len, route_reply_fn *fn, void *arg, int argc,
                  const char **argv, const size_t *argvlen);

/* Whether any primary is connected (mode cluster: and the slot map known). */
bool route_ready(const struct route *r);

/* WAIT replicas timeout_ms on the connection `via` names, if it is still the
 * same connection: fn gets the number of replicas that acknowledged every
 * earlier write on it (an integer reply), or an error or NULL. -1 when the
 * connection changed or is down (fn never runs). */
int route_wait(struct route *r, const struct route_via *via, int replicas, int timeout_ms,
               route_reply_fn *fn, void *arg);

/* An address for the P:events subscriber's next connect: mode single the
 * conf's, mode sentinel the primary's, mode cluster the known nodes in
 * turn (any node hears every PUBLISH). Fits rconn_addr_fn. */
int route_subscriber_addr(void *route, const char **host, int *port);

/* On every connect to a primary, ask its maxmemory-policy and log an error
 * unless it is noeviction (evicted counters or markers break exactly-once).
 * One worker asks: one warning per connect is enough. */
void route_check_policy(struct route *r);

/* rc (the subscriber, whose address is route_subscriber_addr) connects
 * again at once when the sentinels name a new primary. */
void route_follow(struct route *r, struct rconn *rc);

/* The primaries known and connected, for /readyz: the number of each. */
void route_primaries(const struct route *r, int *known, int *up);

#endif
