/* rnodes: hopctl's connections to Redis in modes single, sentinel and
 * cluster. Synchronous (hopctl is a command-line tool): each connection is
 * made with connect_timeout_ms and reads with command_timeout_ms. */
#include "rnodes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "slotmap.h"
#include "util.h"

struct rnode {
    char host[SLOTMAP_HOST_MAX];
    int port;
    redisContext *c;
};

struct rnodes {
    const struct conf *conf;
    struct rnodes_script *scripts;
    size_t nscripts;
    struct rnode nodes[SLOTMAP_NODES]; /* every address met, with its connection */
    int nnodes;
    struct slotmap *map;          /* mode cluster */
    int primaries[SLOTMAP_NODES]; /* index into nodes of each primary */
    int nprimaries;
    int owner_node[SLOTMAP_NODES]; /* map node index -> nodes index */
};

const char *rnodes_conn_error(const struct rnodes *r, const redisContext *c)
{
    /* hiredis reports a read timeout as EAGAIN's text: say what it is. */
    static char timeout[96];
    if (c->err == REDIS_ERR_IO && strstr(c->errstr, "temporarily unavailable")) {
        snprintf(timeout, sizeof(timeout), "no answer within command_timeout_ms (%d ms)",
                 r->conf->command_timeout_ms);
        return timeout;
    }
    return c->errstr[0] ? c->errstr : "no answer";
}

static const char *addr_of(const struct rnodes *r, const char *host, int port, char *buf,
                           size_t sz)
{
    if (r->conf->redis_mode == CONF_MODE_SINGLE && r->conf->redis_unix_socket[0] != '\0')
        snprintf(buf, sz, "%s", r->conf->redis_unix_socket);
    else if (strchr(host, ':') != NULL)
        snprintf(buf, sz, "[%s]:%d", host, port);
    else
        snprintf(buf, sz, "%s:%d", host, port);
    return buf;
}

const char *rnodes_where(const struct rnodes *r, const redisContext *c, char *buf,
                         size_t sz)
{
    for (int i = 0; i < r->nnodes; i++)
        if (r->nodes[i].c == c)
            return addr_of(r, r->nodes[i].host, r->nodes[i].port, buf, sz);
    snprintf(buf, sz, "redis");
    return buf;
}

/* A reply that must be status OK, or a string (into out). -1 with err. */
static int expect(const struct rnodes *r, redisContext *c, redisReply *rep,
                  const char *what, char *out, size_t outsz, char *err, size_t errsz)
{
    char addr[300];
    int rv = -1;
    rnodes_where(r, c, addr, sizeof(addr));
    if (rep == NULL)
        snprintf(err, errsz, "redis %s: %s: %s", addr, what, rnodes_conn_error(r, c));
    else if (rep->type == REDIS_REPLY_ERROR)
        snprintf(err, errsz, "redis %s: %s: %s", addr, what, rep->str);
    else if (out != NULL && rep->type == REDIS_REPLY_STRING && rep->len < outsz) {
        memcpy(out, rep->str, rep->len);
        out[rep->len] = '\0';
        rv = 0;
    } else if (out == NULL && rep->type == REDIS_REPLY_STATUS)
        rv = 0;
    else
        snprintf(err, errsz, "redis %s: %s: unexpected answer", addr, what);
    freeReplyObject(rep);
    return rv;
}

/* A plain connection with hopctl's timeouts; NULL with err. */
static redisContext *dial(const struct rnodes *r, const char *host, int port, char *err,
                          size_t errsz)
{
    const struct conf *cf = r->conf;
    struct timeval ct = util_ms_timeval((uint64_t)cf->connect_timeout_ms);
    struct timeval cmd = util_ms_timeval((uint64_t)cf->command_timeout_ms);
    char addr[300];
    redisContext *c = cf->redis_mode == CONF_MODE_SINGLE && cf->redis_unix_socket[0]
                          ? redisConnectUnixWithTimeout(cf->redis_unix_socket, ct)
                          : redisConnectWithTimeout(host, port, ct);
    if (c == NULL || c->err) {
        snprintf(err, errsz, "redis %s: cannot connect: %s",
                 addr_of(r, host, port, addr, sizeof(addr)),
                 c ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }
    if (redisSetTimeout(c, cmd) != REDIS_OK) {
        snprintf(err, errsz, "redis %s: cannot set a timeout",
                 addr_of(r, host, port, addr, sizeof(addr)));
        redisFree(c);
        return NULL;
    }
    return c;
}

/* The node at host:port, added when new; NULL when the table is full. */
static struct rnode *node_find(struct rnodes *r, const char *host, int port)
{
    for (int i = 0; i < r->nnodes; i++)
        if (r->nodes[i].port == port && strcmp(r->nodes[i].host, host) == 0)
            return &r->nodes[i];
    if (r->nnodes == SLOTMAP_NODES || strlen(host) >= SLOTMAP_HOST_MAX)
        return NULL;
    struct rnode *n = &r->nodes[r->nnodes++];
    util_strlcpy(n->host, host, sizeof(n->host));
    n->port = port;
    n->c = NULL;
    return n;
}

/* n's connection: dialled, authenticated, database selected, scripts
 * loaded, and in mode sentinel checked to be a primary. */
static redisContext *node_conn(struct rnodes *r, struct rnode *n, char *err, size_t errsz)
{
    if (n->c != NULL)
        return n->c;
    const struct conf *cf = r->conf;
    redisContext *c = dial(r, n->host, n->port, err, errsz);
    if (c == NULL)
        return NULL;
    n->c = c;
    if (cf->redis_password != NULL &&
        expect(r, c, redisCommand(c, "AUTH %s", cf->redis_password), "AUTH", NULL, 0, err,
               errsz) != 0)
        goto fail;
    if (cf->redis_db != 0 && expect(r, c, redisCommand(c, "SELECT %d", cf->redis_db),
                                    "SELECT", NULL, 0, err, errsz) != 0)
        goto fail;
    if (cf->redis_mode == CONF_MODE_SENTINEL) {
        redisReply *role = redisCommand(c, "ROLE");
        bool primary = role != NULL && role->type == REDIS_REPLY_ARRAY &&
                       role->elements > 0 &&
                       role->element[0]->type == REDIS_REPLY_STRING &&
                       strcmp(role->element[0]->str, "master") == 0;
        freeReplyObject(role);
        if (!primary) {
            char addr[300];
            snprintf(err, errsz,
                     "redis %s: the sentinels name it the primary, but ROLE "
                     "says it is not (a failover in progress?): try again",
                     addr_of(r, n->host, n->port, addr, sizeof(addr)));
            goto fail;
        }
    }
    for (size_t i = 0; i < r->nscripts; i++)
        if (expect(
                r, c,
                redisCommand(c, "SCRIPT LOAD %b", r->scripts[i].body, r->scripts[i].len),
                "SCRIPT LOAD", r->scripts[i].sha, sizeof(r->scripts[i].sha), err,
                errsz) != 0)
            goto fail;
    return c;
fail:
    redisFree(c);
    n->c = NULL;
    return NULL;
}

/* Ask the sentinels in turn where the primary is. 0, or -1 with err. */
static int ask_sentinels(struct rnodes *r, char *host, size_t hostsz, int *port,
                         char *err, size_t errsz)
{
    struct conf_addr *a;
    int n = conf_addrs_parse(r->conf->redis_sentinels, &a);
    snprintf(err, errsz, "no sentinel in redis.sentinels answered");
    int rv = -1;
    for (int i = 0; i < n && rv != 0; i++) {
        redisContext *c = dial(r, a[i].host, a[i].port, err, errsz);
        if (c == NULL)
            continue;
        redisReply *rep = redisCommand(c, "SENTINEL get-master-addr-by-name %s",
                                       r->conf->redis_master_name);
        if (rep != NULL && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
            rep->element[0]->type == REDIS_REPLY_STRING &&
            rep->element[0]->len < hostsz) {
            util_strlcpy(host, rep->element[0]->str, hostsz);
            *port = atoi(rep->element[1]->str);
            rv = 0;
        } else {
            snprintf(err, errsz, "sentinel %s:%d: %s", a[i].host, a[i].port,
                     rep == NULL                      ? rnodes_conn_error(r, c)
                     : rep->type == REDIS_REPLY_ERROR ? rep->str
                                                      : "does not know master_name");
        }
        freeReplyObject(rep);
        redisFree(c);
    }
    conf_addrs_free(a, n);
    return rv;
}

int rnodes_refresh(struct rnodes *r, char *err, size_t errsz)
{
    if (r->conf->redis_mode != CONF_MODE_CLUSTER)
        return 0;
    /* Ask every node known in turn (the seeds first). */
    snprintf(err, errsz, "no node in redis.nodes answered");
    for (int i = 0; i < r->nnodes; i++) {
        redisContext *c = node_conn(r, &r->nodes[i], err, errsz);
        if (c == NULL)
            continue;
        redisReply *rep = redisCommand(c, "CLUSTER SLOTS");
        long covered = rep != NULL ? slotmap_parse(r->map, rep, r->nodes[i].host) : -1;
        if (rep == NULL || covered <= 0) {
            char addr[300];
            snprintf(err, errsz, "redis %s: CLUSTER SLOTS: %s",
                     rnodes_where(r, c, addr, sizeof(addr)),
                     rep == NULL                      ? rnodes_conn_error(r, c)
                     : rep->type == REDIS_REPLY_ERROR ? rep->str
                                                      : "no slot map");
            freeReplyObject(rep);
            continue;
        }
        freeReplyObject(rep);
        r->nprimaries = 0;
        for (int k = 0; k < r->map->nnodes; k++) {
            struct rnode *n = node_find(r, r->map->nodes[k].host, r->map->nodes[k].port);
            if (n == NULL) {
                snprintf(err, errsz, "too many cluster nodes");
                return -1;
            }
            r->owner_node[k] = (int)(n - r->nodes);
            r->primaries[r->nprimaries++] = (int)(n - r->nodes);
        }
        return 0;
    }
    return -1;
}

struct rnodes *rnodes_open(const struct conf *c, struct rnodes_script *scripts, size_t n,
                           char *err, size_t errsz)
{
    struct rnodes *r = xcalloc(1, sizeof(*r));
    r->conf = c;
    r->scripts = scripts;
    r->nscripts = n;
    if (c->redis_mode == CONF_MODE_CLUSTER) {
        struct conf_addr *a;
        int k = conf_addrs_parse(c->redis_nodes, &a);
        for (int i = 0; i < k; i++)
            node_find(r, a[i].host, a[i].port);
        conf_addrs_free(a, k);
        r->map = xmalloc(sizeof(*r->map));
        if (rnodes_refresh(r, err, errsz) != 0)
            goto fail;
        return r;
    }
    char host[SLOTMAP_HOST_MAX];
    int port = c->redis_port;
    util_strlcpy(host, c->redis_host, sizeof(host));
    if (c->redis_mode == CONF_MODE_SENTINEL &&
        ask_sentinels(r, host, sizeof(host), &port, err, errsz) != 0)
        goto fail;
    struct rnode *one = node_find(r, host, port);
    if (one == NULL || node_conn(r, one, err, errsz) == NULL)
        goto fail;
    r->primaries[0] = 0;
    r->nprimaries = 1;
    return r;
fail:
    rnodes_free(r);
    return NULL;
}

void rnodes_free(struct rnodes *r)
{
    if (r == NULL)
        return;
    for (int i = 0; i < r->nnodes; i++)
        if (r->nodes[i].c != NULL)
            redisFree(r->nodes[i].c);
    free(r->map);
    free(r);
}

redisContext *rnodes_for(struct rnodes *r, const char *key, size_t len, char *err,
                         size_t errsz)
{
    if (r->map == NULL)
        return node_conn(r, &r->nodes[0], err, errsz);
    uint16_t owner = r->map->owner[slot_of(key, len)];
    if (owner == SLOTMAP_NONE) {
        snprintf(err, errsz, "no cluster node serves the slot of %.*s (cluster down?)",
                 (int)len, key);
        return NULL;
    }
    return node_conn(r, &r->nodes[r->owner_node[owner]], err, errsz);
}

int rnodes_count(const struct rnodes *r)
{
    return r->nprimaries;
}

redisContext *rnodes_at(struct rnodes *r, int i, char *err, size_t errsz)
{
    return node_conn(r, &r->nodes[r->primaries[i]], err, errsz);
}

bool rnodes_redirected(const redisReply *rep)
{
    return rep != NULL && rep->type == REDIS_REPLY_ERROR &&
           (strncmp(rep->str, "MOVED ", 6) == 0 || strncmp(rep->str, "ASK ", 4) == 0 ||
            strncmp(rep->str, "TRYAGAIN", 8) == 0 ||
            strncmp(rep->str, "CLUSTERDOWN", 11) == 0);
}

int rnodes_wait(struct rnodes *r, int replicas, int timeout_ms, char *err, size_t errsz)
{
    for (int i = 0; i < r->nnodes; i++) {
        redisContext *c = r->nodes[i].c;
        if (c == NULL)
            continue;
        redisReply *rep = redisCommand(c, "WAIT %d %d", replicas, timeout_ms);
        char addr[300];
        rnodes_where(r, c, addr, sizeof(addr));
        if (rep == NULL || rep->type != REDIS_REPLY_INTEGER || rep->integer < replicas) {
            snprintf(
                err, errsz,
                "redis %s: written, but %s within wait_timeout_ms (%d ms): a failover "
                "now could lose it; run the command again once the replicas are back",
                addr,
                rep == NULL ? rnodes_conn_error(r, c)
                : rep->type == REDIS_REPLY_INTEGER
                    ? "fewer replicas than wait_replicas confirmed it"
                    : rep->str,
                timeout_ms);
            freeReplyObject(rep);
            return -1;
        }
        freeReplyObject(rep);
    }
    return 0;
}
