/* cluster: test helpers for a real Redis Cluster on loopback (3 primaries,
 * 3 replicas, each redis-server in its own temp dir, bus ports picked
 * free and below the ephemeral range's usual start where possible) and for
 * reading it the way a dashboard would. */
#ifndef HOPCOUNT_TEST_CLUSTER_H
#define HOPCOUNT_TEST_CLUSTER_H

#include <hiredis.h>
#include <stdbool.h>

#include "../e2e/harness.h"

#define HC_NODES 6

struct hc_cluster {
    struct h_redis node[HC_NODES];
};

/* Start six nodes, create the cluster (--cluster-replicas 1) and wait until
 * every node says cluster_state:ok and every replica is in sync. 0 or -1. */
int hc_start(struct hc_cluster *c);
/* Stop every node and remove their dirs. */
void hc_stop(struct hc_cluster *c);

/* "127.0.0.1:P1, 127.0.0.1:P2, ..." of the primaries at start (the conf's
 * nodes =), into buf. */
const char *hc_seeds(const struct hc_cluster *c, char *buf, size_t cap);

/* The index of the live primary serving key's slot (asked of the cluster),
 * -1 when none answers. */
int hc_owner(struct hc_cluster *c, const char *key);
/* A command on the owner of key; NULL when none answers. */
redisReply *hc_cmd(struct hc_cluster *c, const char *key, const char *fmt, ...);
/* HGET key field as a number, from the owner; 0 when absent, -1 when no
 * node answers. */
long long hc_hget(struct hc_cluster *c, const char *key, const char *field);
/* HSET the link and PUBLISH its code on hc:events. */
void hc_link_add(struct hc_cluster *c, const char *code, const char *url,
                 const char *campaign);
/* The node's CLUSTER MYID, into buf (41 bytes). */
const char *hc_id(struct hc_cluster *c, int i, char *buf);
/* Poll until every running node says cluster_state:ok and each slot has a
 * running primary. false after ms. */
bool hc_wait_ok(struct hc_cluster *c, int ms);
/* Whether node i is a primary now (ROLE). */
bool hc_is_primary(struct hc_cluster *c, int i);
/* A running replica of primary i, or -1. */
int hc_replica_of(struct hc_cluster *c, int i);

/* nginx from Debian as the load balancer in front of hopcount nodes: an
 * upstream of their ports, keep-alive both ways, redirects passed through
 * untouched, no retry on another node (a retried follow could be counted
 * twice). */
struct hc_balancer {
    pid_t pid;
    int port;
    char dir[256];
};
/* Start it on a free port; 0 when it answers, -1. */
int hc_balancer_start(struct hc_balancer *b, const int *ports, int n);
void hc_balancer_stop(struct hc_balancer *b);

/* A primary, a replica and three sentinels (quorum 2, down-after 1000 ms)
 * watching it under the name "hc". */
#define HS_SENTINELS 3
struct hs_group {
    struct h_redis node[2]; /* [0] the primary at start, [1] its replica */
    pid_t sentinel[HS_SENTINELS];
    int sentinel_port[HS_SENTINELS];
    char dir[256]; /* the sentinels' confs and logs */
    bool dir_own;  /* dir is theirs alone (removed by hs_stop) */
};

/* Start the group and wait until every sentinel knows the replica. 0 or -1. */
int hs_start(struct hs_group *g);
void hs_stop(struct hs_group *g);
/* "127.0.0.1:S1, ..." of the sentinels. */
const char *hs_sentinels(const struct hs_group *g, char *buf, size_t cap);
/* Poll until node n replicates the other, in sync, and every sentinel
 * lists it as a healthy replica. false after ms. */
bool hs_wait_replica(struct hs_group *g, int n, int ms);
/* The node the sentinels name as primary now: 0, 1, or -1. */
int hs_primary(struct hs_group *g);

#endif
