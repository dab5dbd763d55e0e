/* rnodes: hopctl's synchronous connections to Redis in every mode: the one
 * Redis (mode single), the primary the sentinels name, ROLE checked (mode
 * sentinel), or each cluster primary, found by the slot map (mode cluster).
 * Every connection is authenticated and has hopctl's scripts loaded. */
#ifndef HOPCOUNT_RNODES_H
#define HOPCOUNT_RNODES_H

#include <hiredis.h>
#include <stdbool.h>
#include <stddef.h>

#include "conf.h"

struct rnodes;

/* A script every connection loads; sha is filled (40 hex and NUL). */
struct rnodes_script {
    const char *body;
    size_t len;
    char sha[41];
};

/* Connect as conf says. The scripts (borrowed, n of them) are loaded on
 * every connection. NULL with a one-line reason in err. */
struct rnodes *rnodes_open(const struct conf *c, struct rnodes_script *scripts, size_t n,
                           char *err, size_t errsz);
void rnodes_free(struct rnodes *r);

/* The connection serving key[0..len) (connected on first use). NULL with
 * err when it cannot be had. */
redisContext *rnodes_for(struct rnodes *r, const char *key, size_t len, char *err,
                         size_t errsz);

/* Read the slot map again (after MOVED or ASK: a slot moved). 0, or -1 with
 * err. Does nothing outside mode cluster. */
int rnodes_refresh(struct rnodes *r, char *err, size_t errsz);

/* The primaries: how many, and the i-th one's connection (for a SCAN of
 * each). NULL with err. */
int rnodes_count(const struct rnodes *r);
redisContext *rnodes_at(struct rnodes *r, int i, char *err, size_t errsz);

/* WAIT replicas timeout_ms on every connection made: what was written so
 * far is on that many replicas of each primary. 0, or -1 with err (fewer
 * replicas confirmed in time: a failover now could lose the writes). */
int rnodes_wait(struct rnodes *r, int replicas, int timeout_ms, char *err, size_t errsz);

/* Whether a reply says the key lives elsewhere for now (MOVED, ASK,
 * TRYAGAIN, CLUSTERDOWN): refresh, then try again. */
bool rnodes_redirected(const redisReply *reply);

/* Why c gave no reply, in words ("no answer within command_timeout_ms"...). */
const char *rnodes_conn_error(const struct rnodes *r, const redisContext *c);

/* Where a connection goes, for messages ("127.0.0.1:6379", a socket path). */
const char *rnodes_where(const struct rnodes *r, const redisContext *c, char *buf,
                         size_t sz);

#endif
