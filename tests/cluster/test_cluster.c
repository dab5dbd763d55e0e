/* The cluster suite (make test-cluster): a real 3-primary + 3-replica Redis
 * Cluster on loopback, the real daemons, real HTTP load; each case checks
 * that every link's and every campaign's total equals the redirects the
 * clients received, exactly, through resharding and failover. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "slot.h"

#define CODES 20
#define CLIENTS 4
#define NODES 2 /* hopcount nodes */

struct fx {
    struct hc_cluster c;
    struct h_daemon d[NODES];
    int ndaemons;
    struct h_load load;
};

static int start_daemons(struct fx *f, int n, const char *extra)
{
    char seeds[256], conf[1024];
    snprintf(conf, sizeof(conf),
             "redis.mode = cluster\nredis.nodes = %s\ntracking.flush_interval_ms = 200\n"
             "tracking.shutdown_timeout_ms = 3000\n%s",
             hc_seeds(&f->c, seeds, sizeof(seeds)), extra != NULL ? extra : "");
    for (int i = 0; i < n; i++) {
        if (h_daemon_start(&f->d[i], &f->c.node[0], conf, true) != 0) {
            fprintf(stderr, "%s\n", h_daemon_log(&f->d[i]));
            return -1;
        }
        f->ndaemons++;
    }
    return 0;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    *state = f;
    if (hc_start(&f->c) != 0)
        return -1;
    for (int i = 0; i < CODES; i++) {
        char code[16], url[64];
        snprintf(code, sizeof(code), "c%02d", i);
        snprintf(url, sizeof(url), "https://example.com/c/%d", i);
        hc_link_add(&f->c, code, url, i % 2 ? "odd" : "even");
    }
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    int rc = 0;
    for (int i = 0; i < f->ndaemons; i++) {
        int st = h_daemon_stop(&f->d[i], SIGTERM);
        if (st != 0) {
            fprintf(stderr, "hopcount %d exited %d:\n%s\n", i, st,
                    h_daemon_log(&f->d[i]));
            rc = -1;
        }
    }
    hc_stop(&f->c);
    free(f);
    return rc;
}

static void start_load(struct fx *f, int ms)
{
    int ports[NODES];
    for (int i = 0; i < f->ndaemons; i++)
        ports[i] = f->d[i].port;
    h_load_start(&f->load, ports, f->ndaemons, CLIENTS, "c", CODES, ms);
}

static long long counted(struct fx *f)
{
    long long s = 0;
    for (int i = 0; i < CODES; i++) {
        char key[64];
        snprintf(key, sizeof(key), "hc:clicks:c%02d", i);
        s += hc_hget(&f->c, key, "total");
    }
    return s;
}

static long long campaigns(struct fx *f)
{
    return hc_hget(&f->c, "hc:campaign:odd:clicks", "total") +
           hc_hget(&f->c, "hc:campaign:even:clicks", "total");
}

static long long pending(struct fx *f)
{
    long long s = 0;
    for (int i = 0; i < f->ndaemons; i++)
        s += h_metric(&f->d[i], "hopcount_pending_keys");
    return s;
}

/* Wait until the daemons have nothing pending; then the links' and the
 * campaigns' totals must both equal want. */
static void expect_exact(struct fx *f, long long want, int ms)
{
    long long deadline = h_now_ms() + ms;
    while ((pending(f) != 0 || counted(f) != want || campaigns(f) != want) &&
           h_now_ms() < deadline)
        h_sleep_ms(100);
    long long got = counted(f), camp = campaigns(f);
    printf("  redirects received %lld, counted %lld (campaigns %lld)\n", want, got, camp);
    if (got != want || camp != want)
        fail_msg("counted %lld (campaigns %lld), want %lld\n%s", got, camp, want,
                 h_daemon_log(&f->d[0]));
    assert_int_equal(pending(f), 0);
}

/* 1. Steady load through the cluster from two hopcount nodes behind a
 * real load balancer (nginx). */
static void test_steady_two_nodes(void **state)
{
    struct fx *f = *state;
    assert_int_equal(start_daemons(f, 2, NULL), 0);
    struct hc_balancer lb = {0};
    int ports[] = {f->d[0].port, f->d[1].port};
    assert_int_equal(hc_balancer_start(&lb, ports, 2), 0);
    h_load_start(&f->load, &lb.port, 1, CLIENTS, "c", CODES, 3000);
    long long want = h_load_wait(&f->load);
    hc_balancer_stop(&lb);
    assert_true(want > 1000);
    expect_exact(f, want, 10000);
    /* Both nodes took their share. */
    for (int i = 0; i < 2; i++) {
        long long n = h_metric(&f->d[i], "hopcount_requests_total{outcome=\"tracked\"}");
        printf("  node %d counted %lld follows\n", i, n);
        assert_true(n > want / 4);
    }
    assert_int_equal(h_metric(&f->d[0], "hopcount_redis_primaries"), 3);
    assert_int_equal(h_metric(&f->d[0], "hopcount_redis_primaries_connected"), 3);
    assert_int_equal(h_metric(&f->d[0], "hopcount_redis_mode{mode=\"cluster\"}"), 1);
    char resp[4096];
    assert_int_equal(h_get(f->d[0].admin_port, "GET", "/readyz", "", resp, sizeof(resp)),
                     200);
    assert_non_null(strstr(resp, "mode cluster, 3 primaries, 3 connected"));
}

/* Move slot S from node src to node dst by hand, the way redis-cli does,
 * but slowly: every key first, then a pause before the slot changes owner,
 * so that batches for it meet ASK (and TRYAGAIN) on the way. */
static void migrate_slot_slowly(struct fx *f, unsigned slot, int src, int dst)
{
    char sid[41], did[41];
    hc_id(&f->c, src, sid);
    hc_id(&f->c, dst, did);
    struct h_redis *s = &f->c.node[src], *d = &f->c.node[dst];
    assert_int_equal(h_redis_int(d, "CLUSTER SETSLOT %u IMPORTING %s", slot, sid), -1);
    assert_int_equal(h_redis_int(s, "CLUSTER SETSLOT %u MIGRATING %s", slot, did), -1);
    h_sleep_ms(300); /* new keys in the slot: TRYAGAIN for multi-key scripts */
    redisContext *ctx = h_redis_connect(s);
    assert_non_null(ctx);
    redisReply *keys = redisCommand(ctx, "CLUSTER GETKEYSINSLOT %u 1000", slot);
    assert_non_null(keys);
    for (size_t i = 0; i < keys->elements; i++) {
        redisReply *m = redisCommand(ctx, "MIGRATE 127.0.0.1 %d %s 0 5000", d->port,
                                     keys->element[i]->str);
        freeReplyObject(m);
    }
    freeReplyObject(keys);
    redisFree(ctx);
    h_sleep_ms(600); /* every key moved, the slot not yet: ASK */
    h_redis_int(d, "CLUSTER SETSLOT %u NODE %s", slot, did);
    h_redis_int(s, "CLUSTER SETSLOT %u NODE %s", slot, did);
}

static long long metric_sum(struct fx *f, const char *name)
{
    long long s = 0;
    for (int i = 0; i < f->ndaemons; i++)
        s += h_metric(&f->d[i], name);
    return s;
}

/* 2. Resharding under load: the slots of two hot link counters and of a
 * campaign moved by hand (ASK, TRYAGAIN), then 300 slots by redis-cli. */
static void test_resharding(void **state)
{
    struct fx *f = *state;
    assert_int_equal(start_daemons(f, 2, NULL), 0);
    start_load(f, 7000);
    h_sleep_ms(1000);
    const char *hot[] = {"hc:clicks:c00", "hc:clicks:c07", "hc:campaign:odd:clicks"};
    for (size_t i = 0; i < sizeof(hot) / sizeof(hot[0]); i++) {
        int src = hc_owner(&f->c, hot[i]);
        assert_true(src >= 0);
        int dst = (src + 1) % (HC_NODES / 2); /* the primaries are 0, 1, 2 at start */
        migrate_slot_slowly(f, slot_of(hot[i], strlen(hot[i])), src, dst);
    }
    char from[41], to[41], addr[32];
    hc_id(&f->c, 0, from);
    hc_id(&f->c, 1, to);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", f->c.node[0].port);
    char *argv[] = {"redis-cli",       "--cluster", "reshard",       addr,
                    "--cluster-from",  from,        "--cluster-to",  to,
                    "--cluster-slots", "300",       "--cluster-yes", NULL};
    static char out[1 << 20], err[8192];
    assert_int_equal(h_run(argv, NULL, out, sizeof(out), err, sizeof(err)), 0);
    long long want = h_load_wait(&f->load);
    expect_exact(f, want, 15000);
    long long asks = metric_sum(f, "hopcount_redis_ask_total");
    long long moved = metric_sum(f, "hopcount_redis_moved_total");
    printf("  ASK followed %lld, MOVED followed %lld, slot maps read %lld\n", asks, moved,
           metric_sum(f, "hopcount_redis_slot_map_refreshes_total"));
    assert_true(asks > 0);
    assert_true(moved > 0);
}

/* Kill (SIGKILL) the primary of c00's counter mid-load; its replica is
 * promoted; the killed node is started again later and rejoins as a
 * replica (so WAIT 1 can be met again). Returns the redirects received. */
static long long kill_primary_under_load(struct fx *f)
{
    start_load(f, 9000);
    h_sleep_ms(1500);
    int victim = hc_owner(&f->c, "hc:clicks:c00");
    assert_true(victim >= 0);
    kill(f->c.node[victim].pid, SIGKILL);
    waitpid(f->c.node[victim].pid, NULL, 0);
    f->c.node[victim].pid = 0;
    long long killed = h_now_ms();
    assert_true(hc_wait_ok(&f->c, 10000));
    printf("  primary killed: slots served again after %lld ms\n", h_now_ms() - killed);
    h_sleep_ms(1500);
    assert_int_equal(h_redis_start(&f->c.node[victim]), 0); /* back, as a replica */
    return h_load_wait(&f->load);
}

/* 3a. With wait_replicas = 1, a primary killed under load loses nothing. */
static void test_primary_killed_wait1(void **state)
{
    struct fx *f = *state;
    assert_int_equal(start_daemons(f, 2, "redis.wait_replicas = 1\n"), 0);
    long long want = kill_primary_under_load(f);
    expect_exact(f, want, 20000);
    printf("  WAIT shortfalls %lld\n",
           metric_sum(f, "hopcount_flush_wait_shortfalls_total"));
}

/* 3b. With wait_replicas = 0 the same can lose what the dead primary had
 * acknowledged and not replicated: measured and reported, and never a
 * follow counted twice. */
static void test_primary_killed_wait0(void **state)
{
    struct fx *f = *state;
    assert_int_equal(start_daemons(f, 2, NULL), 0);
    long long want = kill_primary_under_load(f);
    long long deadline = h_now_ms() + 15000;
    while (pending(f) != 0 && h_now_ms() < deadline)
        h_sleep_ms(100);
    assert_int_equal(pending(f), 0);
    long long got = counted(f), camp = campaigns(f);
    printf(
        "  wait_replicas = 0: redirects %lld, counted %lld (campaigns %lld): lost %lld "
        "(%.4f%%)\n",
        want, got, camp, want - got, 100.0 * (double)(want - got) / (double)want);
    assert_true(got <= want);
    assert_true(camp <= want);
}

/* 4. A manual CLUSTER FAILOVER on a replica under load: exact. */
static void test_manual_failover(void **state)
{
    struct fx *f = *state;
    assert_int_equal(start_daemons(f, 2, NULL), 0);
    start_load(f, 5000);
    h_sleep_ms(1500);
    int primary = hc_owner(&f->c, "hc:clicks:c00");
    int replica = hc_replica_of(&f->c, primary);
    assert_true(replica >= 0);
    redisReply *r = NULL;
    redisContext *ctx = h_redis_connect(&f->c.node[replica]);
    assert_non_null(ctx);
    r = redisCommand(ctx, "CLUSTER FAILOVER");
    assert_true(r != NULL && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
    redisFree(ctx);
    long long deadline = h_now_ms() + 5000;
    while (!hc_is_primary(&f->c, replica) && h_now_ms() < deadline)
        h_sleep_ms(20);
    assert_true(hc_is_primary(&f->c, replica));
    long long want = h_load_wait(&f->load);
    expect_exact(f, want, 15000);
}

/* The Location a daemon answers for code, into buf ("" when not a 302).
 * Asked with DNT: 1, so the probe itself is never counted. */
static const char *location(struct h_daemon *d, const char *code, char *buf, size_t cap)
{
    char path[64], resp[4096];
    snprintf(path, sizeof(path), "/%s", code);
    buf[0] = '\0';
    if (h_get(d->port, "GET", path, "DNT: 1\r\n", resp, sizeof(resp)) == 302)
        h_header(resp, "Location", buf, cap);
    return buf;
}

/* Poll every daemon until code redirects to url; the ms it took, -1 past
 * ms. */
static long long until_live(struct fx *f, const char *code, const char *url, int ms)
{
    long long start = h_now_ms();
    for (int i = 0; i < f->ndaemons; i++) {
        char loc[256];
        while (strcmp(location(&f->d[i], code, loc, sizeof(loc)), url) != 0) {
            if (h_now_ms() - start > ms)
                return -1;
            h_sleep_ms(10);
        }
    }
    return h_now_ms() - start;
}

/* 6. Live changes in cluster mode: a link added is live on both nodes
 * within 1 s; a link changed while every subscription is killed (the
 * message lost) is live within 1 s of the resubscribe. */
static void test_live_changes(void **state)
{
    struct fx *f = *state;
    assert_int_equal(start_daemons(f, 2, NULL), 0);
    hc_link_add(&f->c, "fresh1", "https://example.com/fresh", "odd");
    long long ms = until_live(f, "fresh1", "https://example.com/fresh", 1000);
    printf("  a new link live on both nodes after %lld ms\n", ms);
    assert_true(ms >= 0);

    char loc[256];
    assert_string_equal(location(&f->d[0], "c03", loc, sizeof(loc)),
                        "https://example.com/c/3");
    assert_string_equal(location(&f->d[1], "c03", loc, sizeof(loc)),
                        "https://example.com/c/3");
    long long before = metric_sum(f, "hopcount_redis_reconnects_total");
    for (int i = 0; i < HC_NODES; i++)
        h_redis_int(&f->c.node[i], "CLIENT KILL TYPE pubsub");
    /* Changed with no message at all: only the resubscribe can reveal it. */
    freeReplyObject(hc_cmd(&f->c, "hc:link:c03", "HSET hc:link:c03 url %s",
                           "https://example.com/changed"));
    long long deadline = h_now_ms() + 5000;
    while (metric_sum(f, "hopcount_redis_reconnects_total") < before + 2 * 2 &&
           h_now_ms() < deadline)
        h_sleep_ms(5);
    ms = until_live(f, "c03", "https://example.com/changed", 1200);
    printf("  a change made while deaf live %lld ms after the resubscribe\n", ms);
    assert_true(ms >= 0);
}

static char out[1 << 20], err[1 << 16];

/* hopctl -c the first daemon's conf, args... (NULL-terminated). */
static int ctl_in(struct fx *f, const char *input, ...)
{
    va_list ap;
    va_start(ap, input);
    int rc = h_hopctl_v(f->d[0].conf, input, out, sizeof(out), err, sizeof(err), ap);
    va_end(ap);
    if (rc != 0)
        fprintf(stderr, "hopctl exited %d: %s%s\n", rc, out, err);
    return rc;
}
#define ctl(f, ...) ctl_in((f), NULL, __VA_ARGS__, (char *)NULL)

static bool member(struct fx *f, const char *set, const char *code)
{
    redisReply *r = hc_cmd(&f->c, set, "SISMEMBER %s %s", set, code);
    bool yes = r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    return yes;
}

static int lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* Unique followers in a cluster: the day's key is one key on one primary,
 * each HyperLogLog lives in its own slot, and two nodes agree. 300
 * clients follow c00 through both nodes: one follower each, for the link
 * and its campaign; hopctl stats reads the count wherever it lives. */
static void test_uniques_cluster(void **state)
{
    struct fx *f = *state;
    assert_int_equal(start_daemons(f, 2, "tracking.uniques = on\n"), 0);
    for (int i = 0; i < 2; i++) {
        long long deadline = h_now_ms() + 5000;
        while (h_metric(&f->d[i], "hopcount_uniques_keyed_workers") != 2 &&
               h_now_ms() < deadline)
            h_sleep_ms(20);
        assert_int_equal(h_metric(&f->d[i], "hopcount_uniques_keyed_workers"), 2);
    }
    const char *req = "GET /c00 HTTP/1.1\r\nHost: go.example\r\nUser-Agent: Mozilla/5.0 "
                      "Firefox/120.0\r\nConnection: close\r\n\r\n";
    char resp[4096], src[32];
    for (int i = 0; i < 300; i++) {
        snprintf(src, sizeof(src), "127.5.%d.%d", i / 250, i % 250 + 1);
        for (int n = 0; n < 2; n++)
            assert_true(
                h_raw_from(f->d[n].port, src, req, strlen(req), resp, sizeof(resp)) > 0);
    }
    assert_true(h_wait_flushed(&f->d[0], 5000));
    assert_true(h_wait_flushed(&f->d[1], 5000));
    expect_exact(f, 600, 5000);
    char date[16], key[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%Y-%m-%d", &tm);
    const char *fmt[] = {"hc:uniq:c00:%s", "hc:campaign:even:uniq:%s"};
    long long people[2];
    for (int k = 0; k < 2; k++) {
        snprintf(key, sizeof(key), fmt[k], date);
        redisReply *r = hc_cmd(&f->c, key, "PFCOUNT %s", key);
        assert_non_null(r);
        assert_int_equal(r->type, REDIS_REPLY_INTEGER);
        people[k] = r->integer;
        freeReplyObject(r);
        printf("  %s: %lld unique followers of 300\n", key, people[k]);
        assert_in_range(people[k], 294, 306);
    }
    assert_int_equal(ctl(f, "stats", "c00", "--format", "json", "--days", "1"), 0);
    snprintf(key, sizeof(key), "\"uniques\": %lld}", people[0]);
    if (strstr(out, key) == NULL)
        fail_msg("hopctl stats c00: %s", out);
}

/* 7. hopctl, every command, in cluster mode: links, their campaign sets
 * and the live change on both daemons; list, import and wrap across
 * primaries; stats across shards; rm --purge. */
static void test_hopctl_cluster(void **state)
{
    struct fx *f = *state;
    assert_int_equal(start_daemons(f, 2, NULL), 0);
    assert_int_equal(
        ctl(f, "add", "k1", "https://example.com/k1", "--campaign", "spring"), 0);
    assert_true(until_live(f, "k1", "https://example.com/k1", 1000) >= 0);
    assert_true(member(f, "hc:campaign:spring:links", "k1"));
    assert_int_equal(ctl(f, "new", "https://example.com/new", "--campaign", "spring"), 0);
    char code[64];
    snprintf(code, sizeof(code), "%.*s", (int)strcspn(out, "\n"), out);
    assert_true(member(f, "hc:campaign:spring:links", code));
    /* Moved to another campaign: the sets follow, the daemons too. */
    assert_int_equal(
        ctl(f, "add", "k1", "https://example.com/k1b", "--campaign", "summer", "--force"),
        0);
    assert_true(until_live(f, "k1", "https://example.com/k1b", 1000) >= 0);
    assert_false(member(f, "hc:campaign:spring:links", "k1"));
    assert_true(member(f, "hc:campaign:summer:links", "k1"));

    /* 2,000 rows imported, spread over every primary; list sees them all. */
    char path[300];
    snprintf(path, sizeof(path), "%s/import.csv", f->c.node[0].dir);
    FILE *in = fopen(path, "w");
    assert_non_null(in);
    fprintf(in, "code,url,campaign\n");
    for (int i = 0; i < 2000; i++)
        fprintf(in, "imp%04d,https://example.com/imp/%d,bulk\n", i, i);
    fclose(in);
    assert_int_equal(ctl(f, "import", path), 0);
    assert_non_null(strstr(out, "2000 added"));
    assert_int_equal(ctl(f, "list", "--format", "csv"), 0);
    assert_int_equal(lines(out), 1 + CODES + 2 + 2000);
    assert_int_equal(ctl(f, "list", "--campaign", "bulk", "--format", "csv"), 0);
    assert_int_equal(lines(out), 1 + 2000);
    /* Imported again: all unchanged, no duplicate. */
    assert_int_equal(ctl(f, "import", path), 0);
    assert_non_null(strstr(out, "2000 unchanged"));

    /* wrap: a mail's five targets become links on their slots' primaries;
     * wrapping it again finds them all (the same mail out, no new link). */
    static char first[sizeof(out)];
    assert_int_equal(ctl(f, "wrap", "--base", "https://go.example.com", "--campaign",
                         "mail", "tests/e2e/mail/tables.html"),
                     0);
    snprintf(first, sizeof(first), "%s", out);
    assert_int_equal(ctl(f, "wrap", "--base", "https://go.example.com", "--campaign",
                         "mail", "tests/e2e/mail/tables.html"),
                     0);
    assert_string_equal(out, first);
    assert_non_null(strstr(err, "6 link(s) wrapped: 5 target(s), 0 new link(s)"));
    assert_int_equal(ctl(f, "list", "--campaign", "mail", "--format", "csv"), 0);
    assert_int_equal(lines(out), 1 + 5);
    char wrapped[96], resp[4096], loc[256];
    const char *at = strstr(first, "href=https://go.example.com/");
    assert_non_null(at);
    snprintf(wrapped, sizeof(wrapped), "/%.*s", (int)strcspn(at + 28, ">"), at + 28);
    assert_int_equal(h_get(f->d[1].port, "GET", wrapped, "", resp, sizeof(resp)), 302);
    assert_string_equal(h_header(resp, "Location", loc, sizeof(loc)),
                        "https://example.com/lookbook");

    /* stats reads a link's and a campaign's counters wherever they live. */
    for (int i = 0; i < 7; i++)
        assert_int_equal(h_get(f->d[i % 2].port, "GET", "/k1", "", resp, sizeof(resp)),
                         302);
    assert_true(h_wait_flushed(&f->d[0], 5000));
    assert_true(h_wait_flushed(&f->d[1], 5000));
    assert_int_equal(ctl(f, "stats", "k1", "--format", "json"), 0);
    if (strstr(out, "\"total\": 7,") == NULL)
        fail_msg("hopctl stats k1: %s", out);
    assert_int_equal(ctl(f, "stats", "--campaign", "summer", "--format", "json"), 0);
    assert_non_null(strstr(out, "\"total\": 7,"));

    /* markers: the running daemons' per-slot markers on every primary, all
     * of writers started today: none older than a day to delete. */
    assert_int_equal(ctl(f, "markers"), 0);
    long long nmarkers = atoll(out);
    printf("  %s", out);
    assert_true(nmarkers >= 2);
    assert_int_equal(ctl(f, "markers", "--older-than", "1"), 0);
    assert_non_null(strstr(out, "deleted 0 markers"));

    /* rm --purge: gone from the daemons, its set and its counters. */
    assert_int_equal(ctl(f, "rm", "k1", "--purge"), 0);
    long long deadline = h_now_ms() + 1000;
    while (h_get(f->d[1].port, "GET", "/k1", "", resp, sizeof(resp)) != 404 &&
           h_now_ms() < deadline)
        h_sleep_ms(10);
    assert_int_equal(h_get(f->d[0].port, "GET", "/k1", "", resp, sizeof(resp)), 404);
    assert_int_equal(h_get(f->d[1].port, "GET", "/k1", "", resp, sizeof(resp)), 404);
    assert_false(member(f, "hc:campaign:summer:links", "k1"));
    assert_int_equal(hc_hget(&f->c, "hc:clicks:k1", "total"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_steady_two_nodes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resharding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_primary_killed_wait1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_primary_killed_wait0, setup, teardown),
        cmocka_unit_test_setup_teardown(test_manual_failover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_live_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hopctl_cluster, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uniques_cluster, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
