/* cluster: a real Redis Cluster for the tests, formed by redis-cli. */
#include "cluster.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "slot.h"

static bool running(const struct h_redis *r)
{
    return r->pid > 0 && kill(r->pid, 0) == 0;
}

/* Run a command on the fresh connection c, which is freed here; NULL when
 * c is NULL or failed. */
static redisReply *run_on(redisContext *c, const char *fmt, va_list ap)
{
    if (c == NULL || c->err) {
        redisFree(c);
        return NULL;
    }
    redisReply *rep = redisvCommand(c, fmt, ap);
    redisFree(c);
    return rep;
}

static redisReply *node_cmd(const struct h_redis *r, const char *fmt, ...)
{
    if (!running(r))
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    redisReply *rep = run_on(h_redis_connect(r), fmt, ap);
    va_end(ap);
    return rep;
}

/* INFO section (or CLUSTER INFO, for section NULL) of r holds needle. */
static bool info_has(const struct h_redis *r, const char *section, const char *needle)
{
    redisReply *rep =
        section != NULL ? node_cmd(r, "INFO %s", section) : node_cmd(r, "CLUSTER INFO");
    bool has = rep != NULL && rep->type == REDIS_REPLY_STRING && strstr(rep->str, needle);
    freeReplyObject(rep);
    return has;
}

bool hc_is_primary(struct hc_cluster *c, int i)
{
    return info_has(&c->node[i], "replication", "role:master");
}

int hc_replica_of(struct hc_cluster *c, int i)
{
    char want[64];
    snprintf(want, sizeof(want), "master_port:%d\r", c->node[i].port);
    for (int j = 0; j < HC_NODES; j++)
        if (j != i && info_has(&c->node[j], "replication", want))
            return j;
    return -1;
}

int hc_owner(struct hc_cluster *c, const char *key)
{
    unsigned slot = slot_of(key, strlen(key));
    for (int i = 0; i < HC_NODES; i++) {
        redisReply *rep = node_cmd(&c->node[i], "CLUSTER SLOTS");
        if (rep == NULL || rep->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(rep);
            continue;
        }
        int owner = -1;
        for (size_t k = 0; k < rep->elements && owner < 0; k++) {
            redisReply *e = rep->element[k];
            if ((unsigned)e->element[0]->integer > slot ||
                (unsigned)e->element[1]->integer < slot)
                continue;
            long long port = e->element[2]->element[1]->integer;
            for (int j = 0; j < HC_NODES; j++)
                if (c->node[j].port == port)
                    owner = j;
        }
        freeReplyObject(rep);
        if (owner >= 0 && running(&c->node[owner]))
            return owner;
    }
    return -1;
}

redisReply *hc_cmd(struct hc_cluster *c, const char *key, const char *fmt, ...)
{
    /* The owner first; on MOVED (a map that just changed) every node. */
    int first = hc_owner(c, key);
    for (int k = -1; k < HC_NODES; k++) {
        int i = k < 0 ? first : k;
        if (i < 0 || !running(&c->node[i]))
            continue;
        va_list ap;
        va_start(ap, fmt);
        redisReply *rep = run_on(h_redis_connect(&c->node[i]), fmt, ap);
        va_end(ap);
        if (rep == NULL)
            continue;
        if (rep != NULL && rep->type == REDIS_REPLY_ERROR &&
            (strncmp(rep->str, "MOVED", 5) == 0 || strncmp(rep->str, "ASK", 3) == 0 ||
             strncmp(rep->str, "CLUSTERDOWN", 11) == 0)) {
            freeReplyObject(rep);
            continue;
        }
        return rep;
    }
    return NULL;
}

long long hc_hget(struct hc_cluster *c, const char *key, const char *field)
{
    redisReply *rep = hc_cmd(c, key, "HGET %s %s", key, field);
    long long v = rep == NULL                       ? -1
                  : rep->type == REDIS_REPLY_STRING ? atoll(rep->str)
                  : rep->type == REDIS_REPLY_NIL    ? 0
                                                    : -1;
    freeReplyObject(rep);
    return v;
}

void hc_link_add(struct hc_cluster *c, const char *code, const char *url,
                 const char *campaign)
{
    char key[128];
    snprintf(key, sizeof(key), "hc:link:%s", code);
    freeReplyObject(
        hc_cmd(c, key, "HSET %s url %s campaign %s created 1", key, url, campaign));
    freeReplyObject(hc_cmd(c, key, "PUBLISH hc:events %s", code));
}

const char *hc_id(struct hc_cluster *c, int i, char *buf)
{
    redisReply *rep = node_cmd(&c->node[i], "CLUSTER MYID");
    snprintf(buf, 41, "%s",
             rep != NULL && rep->type == REDIS_REPLY_STRING ? rep->str : "");
    freeReplyObject(rep);
    return buf;
}

const char *hc_seeds(const struct hc_cluster *c, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < HC_NODES / 2; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s127.0.0.1:%d", i ? ", " : "",
                                 c->node[i].port);
    return buf;
}

bool hc_wait_ok(struct hc_cluster *c, int ms)
{
    long long deadline = h_now_ms() + ms;
    do {
        bool ok = true;
        for (int i = 0; i < HC_NODES && ok; i++)
            if (running(&c->node[i]))
                ok = info_has(&c->node[i], NULL, "cluster_state:ok");
        /* Every slot served by a running primary. */
        redisReply *rep = NULL;
        for (int i = 0; i < HC_NODES && rep == NULL && ok; i++)
            rep = node_cmd(&c->node[i], "CLUSTER SLOTS");
        long long covered = 0;
        for (size_t k = 0; ok && rep != NULL && k < rep->elements; k++) {
            redisReply *e = rep->element[k];
            long long port = e->element[2]->element[1]->integer;
            for (int j = 0; j < HC_NODES; j++)
                if (c->node[j].port == port && running(&c->node[j]) &&
                    hc_is_primary(c, j))
                    covered += e->element[1]->integer - e->element[0]->integer + 1;
        }
        freeReplyObject(rep);
        if (ok && covered == SLOT_COUNT)
            return true;
        h_sleep_ms(50);
    } while (h_now_ms() < deadline);
    return false;
}

/* Every replica reports its link to its primary up. */
static bool replicas_synced(struct hc_cluster *c)
{
    int synced = 0;
    for (int i = 0; i < HC_NODES; i++)
        synced += info_has(&c->node[i], "replication", "master_link_status:up");
    return synced == HC_NODES / 2;
}

int hc_start(struct hc_cluster *c)
{
    char *argv[HC_NODES + 8];
    char addrs[HC_NODES][32];
    int argc = 0;
    argv[argc++] = "redis-cli";
    argv[argc++] = "--cluster";
    argv[argc++] = "create";
    for (int i = 0; i < HC_NODES; i++) {
        c->node[i].cluster = true;
        if (h_redis_start(&c->node[i]) != 0)
            return -1;
        snprintf(addrs[i], sizeof(addrs[i]), "127.0.0.1:%d", c->node[i].port);
        argv[argc++] = addrs[i];
    }
    argv[argc++] = "--cluster-replicas";
    argv[argc++] = "1";
    argv[argc++] = "--cluster-yes";
    argv[argc] = NULL;
    static char out[65536], err[8192];
    if (h_run(argv, NULL, out, sizeof(out), err, sizeof(err)) != 0) {
        fprintf(stderr, "redis-cli --cluster create failed:\n%s\n%s\n", out, err);
        return -1;
    }
    long long deadline = h_now_ms() + 20000;
    while (!(hc_wait_ok(c, 100) && replicas_synced(c)) && h_now_ms() < deadline)
        h_sleep_ms(50);
    if (hc_wait_ok(c, 100) && replicas_synced(c))
        return 0;
    fprintf(stderr, "cluster not ready: state ok %d, replicas synced %d\n%s\n",
            hc_wait_ok(c, 100), replicas_synced(c), out);
    return -1;
}

void hc_stop(struct hc_cluster *c)
{
    for (int i = 0; i < HC_NODES; i++) {
        if (c->node[i].pid > 0 && kill(c->node[i].pid, 0) != 0) {
            waitpid(c->node[i].pid, NULL, WNOHANG);
            c->node[i].pid = 0;
        }
        if (c->node[i].pid > 0)
            kill(c->node[i].pid, SIGCONT);
        h_redis_stop(&c->node[i], false);
        h_rmdir(c->node[i].dir);
    }
}

/* Ask sentinel i a command. */
static redisReply *sentinel_cmd(const struct hs_group *g, int i, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *rep = run_on(redisConnect("127.0.0.1", g->sentinel_port[i]), fmt, ap);
    va_end(ap);
    return rep;
}

int hs_primary(struct hs_group *g)
{
    for (int i = 0; i < HS_SENTINELS; i++) {
        redisReply *rep = sentinel_cmd(g, i, "SENTINEL get-master-addr-by-name hc");
        int port = rep != NULL && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2
                       ? atoi(rep->element[1]->str)
                       : 0;
        freeReplyObject(rep);
        for (int n = 0; n < 2 && port != 0; n++)
            if (g->node[n].port == port)
                return n;
    }
    return -1;
}

const char *hs_sentinels(const struct hs_group *g, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < HS_SENTINELS; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s127.0.0.1:%d", i ? ", " : "",
                                 g->sentinel_port[i]);
    return buf;
}

int hs_start(struct hs_group *g)
{
    if (h_redis_start(&g->node[0]) != 0)
        return -1;
    g->node[1].replica_of = g->node[0].port;
    if (h_redis_start(&g->node[1]) != 0)
        return -1;
    /* Sentinel rewrites and fsyncs its conf at every state change, on its
     * event loop: a disk that stalls fsync for seconds (this machine's
     * does, under load) stalls the sentinels into TILT mode. In memory. */
    snprintf(g->dir, sizeof(g->dir), "/dev/shm/hopcount-sentinel-XXXXXX");
    if (mkdtemp(g->dir) == NULL) {
        snprintf(g->dir, sizeof(g->dir), "%s", g->node[0].dir);
        g->dir_own = false;
    } else {
        g->dir_own = true;
    }
    for (int i = 0; i < HS_SENTINELS; i++) {
        char conf[300], log[300];
        g->sentinel_port[i] = h_free_port();
        snprintf(conf, sizeof(conf), "%s/sentinel%d.conf", g->dir, i);
        snprintf(log, sizeof(log), "%s/sentinel%d.log", g->dir, i);
        FILE *f = fopen(conf, "w");
        if (f == NULL)
            return -1;
        fprintf(f,
                "port %d\nbind 127.0.0.1\ndaemonize no\ndir %s\n"
                "sentinel monitor hc 127.0.0.1 %d 2\n"
                "sentinel down-after-milliseconds hc 1000\n"
                "sentinel failover-timeout hc 3000\n",
                g->sentinel_port[i], g->dir, g->node[0].port);
        fclose(f);
        char *argv[] = {"redis-server", conf, "--sentinel", NULL}; /* = redis-sentinel */
        g->sentinel[i] = h_spawn(argv, log);
    }
    /* Ready once every sentinel sees the replica in sync and the others. */
    long long deadline = h_now_ms() + 20000;
    while (h_now_ms() < deadline) {
        int ok = 0;
        for (int i = 0; i < HS_SENTINELS; i++) {
            redisReply *rep = sentinel_cmd(g, i, "SENTINEL master hc");
            bool seen = false;
            for (size_t k = 0;
                 rep != NULL && rep->type == REDIS_REPLY_ARRAY && k + 1 < rep->elements;
                 k += 2)
                if (strcmp(rep->element[k]->str, "num-other-sentinels") == 0)
                    seen = atoi(rep->element[k + 1]->str) == HS_SENTINELS - 1;
            freeReplyObject(rep);
            redisReply *reps = sentinel_cmd(g, i, "SENTINEL replicas hc");
            ok += seen && reps != NULL && reps->type == REDIS_REPLY_ARRAY &&
                  reps->elements == 1;
            freeReplyObject(reps);
        }
        if (ok == HS_SENTINELS &&
            info_has(&g->node[1], "replication", "master_link_status:up"))
            return 0;
        h_sleep_ms(50);
    }
    fprintf(stderr, "sentinels not ready\n");
    return -1;
}

void hs_stop(struct hs_group *g)
{
    for (int i = 0; i < HS_SENTINELS; i++)
        if (g->sentinel[i] > 0) {
            kill(g->sentinel[i], SIGKILL);
            waitpid(g->sentinel[i], NULL, 0);
        }
    if (g->dir_own)
        h_rmdir(g->dir);
    for (int n = 1; n >= 0; n--) {
        if (g->node[n].pid > 0 && kill(g->node[n].pid, 0) != 0)
            g->node[n].pid = 0;
        h_redis_stop(&g->node[n], false);
        h_rmdir(g->node[n].dir);
    }
}

bool hs_wait_replica(struct hs_group *g, int n, int ms)
{
    char want[64];
    long long deadline = h_now_ms() + ms;
    do {
        snprintf(want, sizeof(want), "master_port:%d\r", g->node[1 - n].port);
        bool synced = info_has(&g->node[n], "replication", want) &&
                      info_has(&g->node[n], "replication", "master_link_status:up");
        /* And every sentinel sees it as a healthy replica. */
        int seen = 0;
        for (int i = 0; synced && i < HS_SENTINELS; i++) {
            redisReply *rep = sentinel_cmd(g, i, "SENTINEL replicas hc");
            for (size_t k = 0;
                 rep != NULL && rep->type == REDIS_REPLY_ARRAY && k < rep->elements;
                 k++) {
                const redisReply *e = rep->element[k];
                bool port = false, flags = false;
                for (size_t j = 0; j + 1 < e->elements; j += 2) {
                    if (strcmp(e->element[j]->str, "port") == 0)
                        port = atoi(e->element[j + 1]->str) == g->node[n].port;
                    if (strcmp(e->element[j]->str, "flags") == 0)
                        flags = strcmp(e->element[j + 1]->str, "slave") == 0;
                }
                seen += port && flags;
            }
            freeReplyObject(rep);
        }
        if (synced && seen == HS_SENTINELS)
            return true;
        h_sleep_ms(50);
    } while (h_now_ms() < deadline);
    return false;
}

int hc_balancer_start(struct hc_balancer *b, const int *ports, int n)
{
    snprintf(b->dir, sizeof(b->dir), "/tmp/hopcount-lb-XXXXXX");
    if (mkdtemp(b->dir) == NULL)
        return -1;
    b->port = h_free_port();
    char conf[300], log[300];
    snprintf(conf, sizeof(conf), "%s/nginx.conf", b->dir);
    snprintf(log, sizeof(log), "%s/stderr.log", b->dir);
    FILE *f = fopen(conf, "w");
    if (f == NULL)
        return -1;
    fprintf(f,
            "worker_processes 1;\ndaemon off;\nmaster_process off;\npid %s/nginx.pid;\n"
            "error_log %s/error.log warn;\nevents { worker_connections 4096; }\n"
            "http {\n  access_log off;\n  client_body_temp_path %s;\n"
            "  proxy_temp_path %s;\n  fastcgi_temp_path %s;\n  uwsgi_temp_path %s;\n"
            "  scgi_temp_path %s;\n  upstream hopcount {\n",
            b->dir, b->dir, b->dir, b->dir, b->dir, b->dir, b->dir);
    for (int i = 0; i < n; i++)
        fprintf(f, "    server 127.0.0.1:%d;\n", ports[i]);
    fprintf(f,
            "    keepalive 64;\n  }\n  server {\n    listen 127.0.0.1:%d;\n"
            "    location / {\n      proxy_pass http://hopcount;\n"
            "      proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n"
            "      proxy_redirect off;\n      proxy_next_upstream off;\n    }\n  }\n}\n",
            b->port);
    fclose(f);
    char *argv[] = {"nginx", "-p", b->dir, "-c", conf, NULL};
    b->pid = h_spawn(argv, log);
    for (int i = 0; i < 200; i++) {
        int fd = h_connect(b->port);
        if (fd >= 0) {
            close(fd);
            return 0;
        }
        h_sleep_ms(25);
    }
    return -1;
}

void hc_balancer_stop(struct hc_balancer *b)
{
    if (b->pid > 0) {
        kill(b->pid, SIGTERM);
        waitpid(b->pid, NULL, 0);
        b->pid = 0;
    }
    h_rmdir(b->dir);
}
