/* slotmap: which primary serves each slot of a Redis Cluster, read from a
 * CLUSTER SLOTS answer. The daemon's router and hopctl both route by it. */
#ifndef HOPCOUNT_SLOTMAP_H
#define HOPCOUNT_SLOTMAP_H

#include <stddef.h>
#include <stdint.h>

#include "slot.h"

struct redisReply;

#define SLOTMAP_NODES 256 /* distinct primaries in one map */
#define SLOTMAP_NONE 0xffff
#define SLOTMAP_HOST_MAX 64

struct slotmap_node {
    char host[SLOTMAP_HOST_MAX];
    int port;
};

struct slotmap {
    uint16_t owner[SLOT_COUNT]; /* index into nodes, or SLOTMAP_NONE */
    struct slotmap_node nodes[SLOTMAP_NODES];
    int nnodes;
};

/* Read a CLUSTER SLOTS reply ([start, end, [ip, port, id, ...], replicas...]
 * per range) into m; an empty ip means asked_host, the node asked. Returns
 * the number of slots covered, or -1 when the reply is not a slot map (m is
 * then unusable). */
long slotmap_parse(struct slotmap *m, const struct redisReply *reply,
                   const char *asked_host);

/* The node serving key[0..len), or NULL. */
const struct slotmap_node *slotmap_owner(const struct slotmap *m, const char *key,
                                         size_t len);

#endif
