/* slotmap: a cluster's slot map from CLUSTER SLOTS. */
#include "slotmap.h"

#include <hiredis.h>
#include <string.h>

/* The index of host:port in m, added when new; -1 when m is full or the
 * address does not fit. */
static int node_index(struct slotmap *m, const char *host, size_t hostlen, int port)
{
    if (hostlen >= SLOTMAP_HOST_MAX)
        return -1;
    for (int i = 0; i < m->nnodes; i++)
        if (m->nodes[i].port == port && strlen(m->nodes[i].host) == hostlen &&
            memcmp(m->nodes[i].host, host, hostlen) == 0)
            return i;
    if (m->nnodes == SLOTMAP_NODES)
        return -1;
    memcpy(m->nodes[m->nnodes].host, host, hostlen);
    m->nodes[m->nnodes].host[hostlen] = '\0';
    m->nodes[m->nnodes].port = port;
    return m->nnodes++;
}

long slotmap_parse(struct slotmap *m, const struct redisReply *reply,
                   const char *asked_host)
{
    m->nnodes = 0;
    for (size_t s = 0; s < SLOT_COUNT; s++)
        m->owner[s] = SLOTMAP_NONE;
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY)
        return -1;
    long covered = 0;
    for (size_t i = 0; i < reply->elements; i++) {
        const redisReply *e = reply->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
            e->element[0]->type != REDIS_REPLY_INTEGER ||
            e->element[1]->type != REDIS_REPLY_INTEGER)
            return -1;
        const redisReply *n = e->element[2];
        if (n->type != REDIS_REPLY_ARRAY || n->elements < 2 ||
            n->element[0]->type != REDIS_REPLY_STRING ||
            n->element[1]->type != REDIS_REPLY_INTEGER)
            return -1;
        const char *host = n->element[0]->str;
        size_t hostlen = n->element[0]->len;
        if (hostlen == 0 || strcmp(host, "?") == 0) { /* "the node you asked" */
            host = asked_host;
            hostlen = strlen(host);
        }
        long long lo = e->element[0]->integer, hi = e->element[1]->integer;
        int idx = node_index(m, host, hostlen, (int)n->element[1]->integer);
        if (idx < 0 || lo < 0 || hi >= SLOT_COUNT || lo > hi)
            return -1;
        for (long long s = lo; s <= hi; s++) {
            covered += m->owner[s] == SLOTMAP_NONE;
            m->owner[s] = (uint16_t)idx;
        }
    }
    return covered;
}

const struct slotmap_node *slotmap_owner(const struct slotmap *m, const char *key,
                                         size_t len)
{
    uint16_t i = m->owner[slot_of(key, len)];
    return i == SLOTMAP_NONE ? NULL : &m->nodes[i];
}
