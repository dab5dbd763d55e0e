/* route: one worker's commands to the right Redis server: the one Redis,
 * the primary the sentinels name, or the primary owning a key's slot in a
 * Redis Cluster. The cluster part is hopcount's own (hiredis 0.14 has
 * none): a slot map from CLUSTER SLOTS, MOVED, ASK, NOSCRIPT; it sends a
 * handful of known commands with known keys, so it needs no command table.
 * Commands are kept formatted (RESP) so a redirect sends the same bytes. */
#include "route.h"

#include <event2/event.h>
#include <hiredis.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "metrics.h"
#include "rconn.h"
#include "sentinel.h"
#include "slot.h"
#include "slotmap.h"
#include "util.h"

#define ROUTE_REDIRECTS_MAX 5     /* MOVED/ASK hops of one command */
#define ROUTE_REFRESH_MIN_MS 1000 /* slot map refreshes at most this often */
#define ROUTE_REFRESH_EVERY_MS 30000
#define ROUTE_NODES_MAX 256 /* distinct node addresses remembered */
#define ROUTE_NO_NODE 0xffff
#define ROUTE_FOLLOWERS_MAX 4

/* A server hopcount may send commands to: its address and, once it owns
 * slots (or is the primary), a connection. Never freed before the router:
 * commands in flight and WAIT tickets point at its connection. */
struct route_node {
    char *host;
    int port;
    struct rconn *rc; /* NULL until it is needed */
    struct route *r;
    bool primary; /* owns slots in the current map (or is the one primary) */
};

struct route {
    struct event_base *base;
    const struct conf *conf;
    struct metrics *m;
    char name[32];
    route_state_fn *on_state;
    void *state_arg;
    struct route_node *nodes[ROUTE_NODES_MAX];
    int nnodes;
    int nseeds;                 /* the first nnodes entries that came from conf */
    uint16_t owner[SLOT_COUNT]; /* cluster: node index per slot, or ROUTE_NO_NODE */
    bool have_map;
    bool refreshing;       /* a CLUSTER SLOTS is on the wire */
    uint64_t refreshed_ms; /* when the last one was sent */
    int refresh_next;      /* the node asked next, in turn */
    struct event *refresh_timer;
    uint64_t refresh_due_ms;   /* when it fires */
    int sub_next;              /* the subscriber's next node, in turn */
    struct sentinel *sentinel; /* mode sentinel: where the primary is */
    bool check_policy;         /* ask each primary for its maxmemory-policy */
    struct rconn *followers[ROUTE_FOLLOWERS_MAX]; /* connect again on a new primary */
    int nfollowers;
};

/* One command, kept formatted until its final answer. */
struct route_cmd {
    struct route *r;
    route_reply_fn *fn;
    void *arg;
    char *fmt;
    size_t fmtlen;
    const char *script;
    size_t script_len;
    int hops;
    bool reloaded; /* NOSCRIPT answered once already */
};

static void refresh_soon(struct route *r);
static void refresh_now(struct route *r);
static int dispatch(struct route_cmd *c, struct route_node *n, bool asking);

static bool cluster(const struct route *r)
{
    return r->conf->redis_mode == CONF_MODE_CLUSTER;
}

static void on_policy(struct rconn *rc, redisReply *r, void *arg)
{
    (void)arg;
    if (r == NULL || r->type != REDIS_REPLY_STRING)
        return; /* INFO not allowed (ACL) or no answer: nothing to tell */
    const char *p = strstr(r->str, "maxmemory_policy:");
    if (p == NULL)
        return;
    p += strlen("maxmemory_policy:");
    int n = (int)strcspn(p, "\r\n");
    if (n == 10 && strncmp(p, "noeviction", 10) == 0)
        return;
    log_error("event=redis_eviction_policy policy=%.*s conn=%s reason=\"Redis may evict "
              "keys when full: counters (and the flush markers that keep retries from "
              "counting twice) can be lost; set maxmemory-policy noeviction\"",
              n, p, rconn_name(rc));
}

static void check_policy(struct rconn *rc)
{
    const char *argv[] = {"INFO", "memory"};
    size_t len[] = {4, 6};
    rconn_command(rc, on_policy, NULL, 2, argv, len);
}

static void on_node_state(struct rconn *rc, enum rconn_state st, void *arg)
{
    struct route_node *n = arg;
    struct route *r = n->r;
    if (st == RCONN_READY && r->check_policy)
        check_policy(rc); /* one warning per (re)connect is enough */
    if (st == RCONN_READY && cluster(r) && !r->have_map)
        refresh_now(r); /* a seed is up: learn the map from it */
    if (st == RCONN_READY && r->sentinel != NULL)
        sentinel_settled(r->sentinel);
    if (st == RCONN_DOWN) {
        if (cluster(r))
            refresh_soon(r); /* failed over, or gone: who owns its slots now? */
        if (r->sentinel != NULL)
            sentinel_rediscover(r->sentinel);
    }
    /* Before the first slot map a seed coming up is no Redis to use yet:
     * the map's arrival says so (once, not counted as a reconnect). */
    if (r->on_state != NULL && (!cluster(r) || r->have_map))
        r->on_state(r, st == RCONN_READY, r->state_arg);
}

static int node_addr(void *arg, const char **host, int *port)
{
    struct route_node *n = arg;
    if (n->r->sentinel != NULL)
        return sentinel_primary(n->r->sentinel, host, port);
    *host = n->host;
    *port = n->port;
    return 0;
}

/* The node's connection, created on first need. */
static struct rconn *node_conn(struct route_node *n)
{
    if (n->rc == NULL) {
        struct route *r = n->r;
        char name[96];
        if (cluster(r))
            snprintf(name, sizeof(name), "%s@%s:%d", r->name, n->host, n->port);
        else
            snprintf(name, sizeof(name), "%s", r->name);
        if (r->conf->redis_mode == CONF_MODE_SINGLE)
            n->rc = rconn_new(r->base, r->conf, name, on_node_state, n);
        else
            n->rc = rconn_new_at(r->base, r->conf, name, node_addr, n, on_node_state, n);
        if (r->sentinel != NULL)
            rconn_require_primary(n->rc);
    }
    return n->rc;
}

/* The node at host:port, added when new; NULL when the table is full. */
static struct route_node *node_find(struct route *r, const char *host, size_t hostlen,
                                    int port)
{
    for (int i = 0; i < r->nnodes; i++) {
        struct route_node *n = r->nodes[i];
        if (n->port == port && strlen(n->host) == hostlen &&
            memcmp(n->host, host, hostlen) == 0)
            return n;
    }
    if (r->nnodes == ROUTE_NODES_MAX)
        return NULL;
    struct route_node *n = xcalloc(1, sizeof(*n));
    n->host = xstrndup(host, hostlen);
    n->port = port;
    n->r = r;
    r->nodes[r->nnodes++] = n;
    return n;
}

static int node_index(const struct route *r, const struct route_node *n)
{
    for (int i = 0; i < r->nnodes; i++)
        if (r->nodes[i] == n)
            return i;
    return -1;
}

/* The node for a key: its slot's owner, or the one primary. */
static struct route_node *node_for(const struct route *r, const char *key, size_t keylen)
{
    if (!cluster(r))
        return r->nodes[0];
    if (!r->have_map || key == NULL)
        return NULL;
    uint16_t i = r->owner[slot_of(key, keylen)];
    return i == ROUTE_NO_NODE ? NULL : r->nodes[i];
}

/* --- The slot map. --- */

struct route_refresh {
    struct route *r;
    struct route_node *asked;
};

static void on_slots(struct rconn *rc, redisReply *reply, void *arg)
{
    struct route_refresh *rf = arg;
    struct route *r = rf->r;
    struct route_node *asked = rf->asked;
    (void)rc;
    free(rf);
    r->refreshing = false;
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) {
        log_warn("event=cluster_slots_failed conn=%s node=%s:%d reason=\"%.120s\"",
                 r->name, asked->host, asked->port,
                 reply == NULL                      ? "no answer"
                 : reply->type == REDIS_REPLY_ERROR ? reply->str
                                                    : "no slots assigned");
        refresh_soon(r);
        return;
    }
    /* Built aside (a malformed reply changes nothing); 64 KB: on the heap. */
    struct slotmap *m = xmalloc(sizeof(*m));
    long covered = slotmap_parse(m, reply, asked->host);
    if (covered < 0) {
        free(m);
        log_warn(
            "event=cluster_slots_failed conn=%s node=%s:%d reason=\"not a slot map\"",
            r->name, asked->host, asked->port);
        refresh_soon(r);
        return;
    }
    uint16_t idx[SLOTMAP_NODES];
    for (int i = 0; i < m->nnodes; i++) {
        struct route_node *n =
            node_find(r, m->nodes[i].host, strlen(m->nodes[i].host), m->nodes[i].port);
        idx[i] = n != NULL ? (uint16_t)node_index(r, n) : ROUTE_NO_NODE;
    }
    for (size_t sl = 0; sl < SLOT_COUNT; sl++)
        r->owner[sl] = m->owner[sl] == SLOTMAP_NONE ? ROUTE_NO_NODE : idx[m->owner[sl]];
    free(m);
    bool first = !r->have_map;
    r->have_map = true;
    metric_add(&r->m->slot_map_refreshes, 1);
    int known = 0;
    for (int i = 0; i < r->nnodes; i++)
        r->nodes[i]->primary = false;
    for (size_t sl = 0; sl < SLOT_COUNT; sl++)
        if (r->owner[sl] != ROUTE_NO_NODE)
            r->nodes[r->owner[sl]]->primary = true;
    for (int i = 0; i < r->nnodes; i++) /* connect every primary now */
        if (r->nodes[i]->primary) {
            node_conn(r->nodes[i]);
            known++;
        }
    if (covered < SLOT_COUNT)
        log_warn("event=cluster_slots_uncovered conn=%s slots_missing=%ld", r->name,
                 SLOT_COUNT - covered);
    if (first)
        log_info("event=cluster_slots conn=%s primaries=%d node=%s:%d", r->name, known,
                 asked->host, asked->port);
    else
        log_debug("event=cluster_slots conn=%s primaries=%d node=%s:%d", r->name, known,
                  asked->host, asked->port);
    if (r->on_state != NULL) /* the primaries may have changed */
        r->on_state(r, first, r->state_arg);
}

/* Ask a connected node for the slot map, each node in turn (a node cut off
 * from the majority may answer an old map; the next refresh asks another). */
static void refresh_now(struct route *r)
{
    if (r->refreshing)
        return;
    for (int k = 0; k < r->nnodes; k++) {
        struct route_node *n = r->nodes[(r->refresh_next + k) % r->nnodes];
        if (n->rc == NULL || !rconn_ready(n->rc))
            continue;
        r->refresh_next = (r->refresh_next + k + 1) % r->nnodes;
        struct route_refresh *rf = xmalloc(sizeof(*rf));
        rf->r = r;
        rf->asked = n;
        const char *argv[] = {"CLUSTER", "SLOTS"};
        size_t len[] = {7, 5};
        if (rconn_command(n->rc, on_slots, rf, 2, argv, len) != 0) {
            free(rf);
            continue;
        }
        r->refreshing = true;
        r->refreshed_ms = util_now_ms();
        return;
    }
    /* Nothing connected: connect to the seeds (and every node known), and
     * ask again once one is up. */
    for (int i = 0; i < r->nnodes; i++)
        node_conn(r->nodes[i]);
    refresh_soon(r);
}

/* A refresh within a second, never more often than that. */
static void refresh_soon(struct route *r)
{
    if (!cluster(r) || r->refreshing)
        return;
    uint64_t now = util_now_ms();
    uint64_t wait = now - r->refreshed_ms >= ROUTE_REFRESH_MIN_MS
                        ? 0
                        : ROUTE_REFRESH_MIN_MS - (now - r->refreshed_ms);
    if (evtimer_pending(r->refresh_timer, NULL) && r->refresh_due_ms <= now + wait)
        return; /* sooner already */
    struct timeval tv = util_ms_timeval(wait);
    r->refresh_due_ms = now + wait;
    evtimer_add(r->refresh_timer, &tv);
}

static void on_refresh_timer(evutil_socket_t fd, short what, void *arg)
{
    struct route *r = arg;
    (void)fd;
    (void)what;
    refresh_now(r);
    if (!evtimer_pending(r->refresh_timer, NULL)) {
        struct timeval tv = util_ms_timeval(ROUTE_REFRESH_EVERY_MS);
        r->refresh_due_ms = util_now_ms() + ROUTE_REFRESH_EVERY_MS;
        evtimer_add(r->refresh_timer, &tv);
    }
}

/* --- Commands. --- */

static void cmd_free(struct route_cmd *c)
{
    free(c->fmt);
    free(c);
}

static void finish(struct route_cmd *c, redisReply *reply, struct rconn *rc)
{
    struct route_via via = {rc, rc != NULL ? rconn_epoch(rc) : 0};
    c->fn(reply, reply != NULL ? &via : NULL, c->arg);
    cmd_free(c);
}

/* "MOVED 3999 127.0.0.1:6381": the slot and the node; false when garbled. */
static bool parse_redirect(struct route *r, const char *s, unsigned *slot,
                           struct route_node **to)
{
    const char *sp = strchr(s, ' ');
    if (sp == NULL)
        return false;
    char *end;
    unsigned long sl = strtoul(sp + 1, &end, 10);
    if (*end != ' ' || sl >= SLOT_COUNT)
        return false;
    const char *addr = end + 1;
    const char *colon = strrchr(addr, ':');
    if (colon == NULL || colon == addr)
        return false;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port < 1 || port > 65535)
        return false;
    *slot = (unsigned)sl;
    *to = node_find(r, addr, (size_t)(colon - addr), (int)port);
    return *to != NULL;
}

static void on_loaded(struct rconn *rc, redisReply *reply, void *arg)
{
    (void)rc;
    (void)arg;
    if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
        log_warn("event=script_load_failed reason=\"%.120s\"", reply->str);
}

static void on_cmd_reply(struct rconn *rc, redisReply *reply, void *arg)
{
    struct route_cmd *c = arg;
    struct route *r = c->r;
    if (reply == NULL) {
        refresh_soon(r);
        finish(c, NULL, NULL);
        return;
    }
    if (reply->type != REDIS_REPLY_ERROR) {
        finish(c, reply, rc);
        return;
    }
    const char *e = reply->str;
    unsigned slot;
    struct route_node *to;
    bool moved = strncmp(e, "MOVED ", 6) == 0, ask = strncmp(e, "ASK ", 4) == 0;
    if ((moved || ask) && cluster(r) && c->hops < ROUTE_REDIRECTS_MAX &&
        parse_redirect(r, e, &slot, &to)) {
        c->hops++;
        if (moved) {
            /* The slot lives there now: route it there at once, and learn
             * what else moved with the next refresh. */
            metric_add(&r->m->redis_moved, 1);
            r->owner[slot] = (uint16_t)node_index(r, to);
            to->primary = true;
            refresh_soon(r);
        } else {
            metric_add(&r->m->redis_ask, 1);
        }
        if (dispatch(c, to, ask) == 0)
            return;
        finish(c, NULL, NULL);
        return;
    }
    if (strncmp(e, "NOSCRIPT", 8) == 0 && c->script != NULL && !c->reloaded) {
        /* A restarted or promoted server does not have the script: load it,
         * then the same command, back to back on the same connection. */
        c->reloaded = true;
        const char *argv[] = {"SCRIPT", "LOAD", c->script};
        size_t len[] = {6, 4, c->script_len};
        if (rconn_command(rc, on_loaded, NULL, 3, argv, len) == 0 &&
            rconn_formatted(rc, on_cmd_reply, c, c->fmt, c->fmtlen) == 0)
            return;
        finish(c, NULL, NULL);
        return;
    }
    if (strncmp(e, "CLUSTERDOWN", 11) == 0 || strncmp(e, "READONLY", 8) == 0)
        refresh_soon(r);
    if (strncmp(e, "READONLY", 8) == 0 && r->sentinel != NULL)
        sentinel_rediscover(r->sentinel);
    finish(c, reply, rc);
}

static void on_asking(struct rconn *rc, redisReply *reply, void *arg)
{
    (void)rc;
    (void)reply;
    (void)arg;
}

/* Send c to node n (with ASKING first for an ASK). 0, or -1 when n is not
 * connected. */
static int dispatch(struct route_cmd *c, struct route_node *n, bool asking)
{
    struct rconn *rc = node_conn(n);
    if (!rconn_ready(rc))
        return -1;
    if (asking) {
        const char *argv[] = {"ASKING"};
        size_t len[] = {6};
        if (rconn_command(rc, on_asking, NULL, 1, argv, len) != 0)
            return -1;
    }
    return rconn_formatted(rc, on_cmd_reply, c, c->fmt, c->fmtlen);
}

int route_command(struct route *r, const char *key, size_t keylen, const char *script,
                  size_t script_len, route_reply_fn *fn, void *arg, int argc,
                  const char **argv, const size_t *argvlen)
{
    struct route_node *n = node_for(r, key, keylen);
    if (n == NULL || n->rc == NULL || !rconn_ready(n->rc))
        return -1;
    struct route_cmd *c = xcalloc(1, sizeof(*c));
    int len = redisFormatCommandArgv(&c->fmt, argc, argv, argvlen);
    if (len < 0) {
        free(c);
        return -1;
    }
    c->fmtlen = (size_t)len;
    c->r = r;
    c->fn = fn;
    c->arg = arg;
    c->script = script;
    c->script_len = script_len;
    if (dispatch(c, n, false) != 0) {
        cmd_free(c);
        return -1;
    }
    return 0;
}

bool route_ready(const struct route *r)
{
    if (cluster(r) && !r->have_map)
        return false;
    for (int i = 0; i < r->nnodes; i++)
        if (r->nodes[i]->rc != NULL && rconn_ready(r->nodes[i]->rc))
            return true;
    return false;
}

struct route_waiter {
    struct rconn *rc;
    route_reply_fn *fn;
    void *arg;
};

static void on_wait(struct rconn *rc, redisReply *reply, void *arg)
{
    struct route_waiter *w = arg;
    struct route_via via = {rc, rconn_epoch(rc)};
    w->fn(reply, reply != NULL ? &via : NULL, w->arg);
    free(w);
}

int route_wait(struct route *r, const struct route_via *via, int replicas, int timeout_ms,
               route_reply_fn *fn, void *arg)
{
    (void)r;
    if (!rconn_ready(via->rc) || rconn_epoch(via->rc) != via->epoch)
        return -1;
    char nb[16], tb[16];
    snprintf(nb, sizeof(nb), "%d", replicas);
    snprintf(tb, sizeof(tb), "%d", timeout_ms);
    const char *argv[] = {"WAIT", nb, tb};
    size_t len[] = {4, strlen(nb), strlen(tb)};
    struct route_waiter *w = xmalloc(sizeof(*w));
    w->rc = via->rc;
    w->fn = fn;
    w->arg = arg;
    if (rconn_command(via->rc, on_wait, w, 3, argv, len) != 0) {
        free(w);
        return -1;
    }
    return 0;
}

int route_subscriber_addr(void *arg, const char **host, int *port)
{
    struct route *r = arg;
    if (r->sentinel != NULL)
        return sentinel_primary(r->sentinel, host, port);
    if (r->nnodes == 0)
        return -1;
    /* Each connect tries the next node: one that died is left behind. */
    struct route_node *n = r->nodes[r->sub_next++ % r->nnodes];
    *host = n->host;
    *port = n->port;
    return 0;
}

void route_check_policy(struct route *r)
{
    r->check_policy = true;
}

void route_primaries(const struct route *r, int *known, int *up)
{
    *known = *up = 0;
    for (int i = 0; i < r->nnodes; i++) {
        const struct route_node *n = r->nodes[i];
        if (!n->primary)
            continue;
        (*known)++;
        *up += n->rc != NULL && rconn_ready(n->rc);
    }
}

/* The sentinels name another primary: connect to it now, and have the
 * followers (the subscriber) do the same. */
static void on_primary_change(void *arg)
{
    struct route *r = arg;
    for (int i = 0; i < r->nnodes; i++)
        if (r->nodes[i]->rc != NULL)
            rconn_restart(r->nodes[i]->rc, "the sentinels name another primary");
    for (int i = 0; i < r->nfollowers; i++)
        rconn_restart(r->followers[i], "the sentinels name another primary");
}

void route_follow(struct route *r, struct rconn *rc)
{
    if (r->nfollowers < ROUTE_FOLLOWERS_MAX)
        r->followers[r->nfollowers++] = rc;
}

struct route *route_new(struct event_base *base, const struct conf *conf,
                        struct metrics *m, const char *name, route_state_fn *on_state,
                        void *arg)
{
    struct route *r = xcalloc(1, sizeof(*r));
    r->base = base;
    r->conf = conf;
    r->m = m;
    util_strlcpy(r->name, name, sizeof(r->name));
    r->on_state = on_state;
    r->state_arg = arg;
    for (size_t s = 0; s < SLOT_COUNT; s++)
        r->owner[s] = ROUTE_NO_NODE;
    r->refresh_timer = evtimer_new(base, on_refresh_timer, r);
    if (r->refresh_timer == NULL) {
        log_error("event=fatal reason=\"cannot create the slot map timer\"");
        abort();
    }
    if (conf->redis_mode == CONF_MODE_CLUSTER) {
        struct conf_addr *a;
        int n = conf_addrs_parse(conf->redis_nodes, &a);
        for (int i = 0; i < n; i++)
            node_find(r, a[i].host, strlen(a[i].host), a[i].port);
        conf_addrs_free(a, n);
        r->nseeds = r->nnodes;
        refresh_now(r); /* connects the seeds; asks once one is up */
    } else {
        if (conf->redis_mode == CONF_MODE_SENTINEL)
            r->sentinel = sentinel_new(base, conf, name, on_primary_change, r);
        struct route_node *n =
            node_find(r, conf->redis_host, strlen(conf->redis_host), conf->redis_port);
        node_conn(n);
    }
    return r;
}

void route_free(struct route *r)
{
    if (r == NULL)
        return;
    for (int i = 0; i < r->nnodes; i++) /* pending commands fail first */
        if (r->nodes[i]->rc != NULL)
            rconn_close(r->nodes[i]->rc);
    for (int i = 0; i < r->nnodes; i++) {
        rconn_free(r->nodes[i]->rc);
        free(r->nodes[i]->host);
        free(r->nodes[i]);
    }
    sentinel_free(r->sentinel);
    event_free(r->refresh_timer);
    free(r);
}
