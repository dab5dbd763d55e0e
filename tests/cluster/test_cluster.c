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
#include <unistd.h>

#include "cluster.h"

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

/* 1. Steady load through the cluster from two hopcount nodes. */
static void test_steady_two_nodes(void **state)
{
    struct fx *f = *state;
    assert_int_equal(start_daemons(f, 2, NULL), 0);
    start_load(f, 3000);
    long long want = h_load_wait(&f->load);
    assert_true(want > 1000);
    expect_exact(f, want, 10000);
    assert_true(h_metric(&f->d[0], "hopcount_redis_primaries") == 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_steady_two_nodes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
