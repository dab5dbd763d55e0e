/* Sentinel under load (make test-cluster): a primary, a replica and three
 * sentinels on loopback; the primary SIGKILLed mid-load, the sentinels
 * promote the replica, hopcount follows them; with wait_replicas = 1 every
 * redirect is counted exactly once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cluster.h"

#define CODES 20
#define CLIENTS 4

struct fx {
    struct hs_group g;
    struct h_daemon d;
    bool started;
    struct h_load load;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    *state = f;
    if (hs_start(&f->g) != 0)
        return -1;
    for (int i = 0; i < CODES; i++) {
        char code[16], url[64];
        snprintf(code, sizeof(code), "s%02d", i);
        snprintf(url, sizeof(url), "https://example.com/s/%d", i);
        h_link_add(&f->g.node[0], code, url, i % 2 ? "odd" : "even");
    }
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    int rc = 0;
    if (f->started && h_daemon_stop(&f->d, SIGTERM) != 0) {
        fprintf(stderr, "hopcount did not exit 0:\n%s\n", h_daemon_log(&f->d));
        rc = -1;
    }
    hs_stop(&f->g);
    free(f);
    return rc;
}

static int start_daemon(struct fx *f, const char *extra)
{
    char sentinels[256], conf[1024];
    snprintf(conf, sizeof(conf),
             "redis.mode = sentinel\nredis.sentinels = %s\nredis.master_name = hc\n"
             "tracking.flush_interval_ms = 200\ntracking.shutdown_timeout_ms = 3000\n%s",
             hs_sentinels(&f->g, sentinels, sizeof(sentinels)), extra);
    int rc = h_daemon_start(&f->d, &f->g.node[0], conf, true);
    f->started = rc == 0;
    if (rc != 0)
        fprintf(stderr, "%s\n", h_daemon_log(&f->d));
    return rc;
}

static long long total(struct h_redis *r, const char *key)
{
    return h_hget(r, key, "total");
}

static long long counted(struct h_redis *r)
{
    long long s = 0;
    for (int i = 0; i < CODES; i++) {
        char key[64];
        snprintf(key, sizeof(key), "hc:clicks:s%02d", i);
        s += total(r, key);
    }
    return s;
}

/* 5. The primary SIGKILLed under load; the sentinels promote the replica;
 * the old primary comes back as a replica of the new one. Exact. */
static void test_primary_killed_sentinels_promote(void **state)
{
    struct fx *f = *state;
    assert_int_equal(start_daemon(f, "redis.wait_replicas = 1\n"), 0);
    h_load_start(&f->load, &f->d.port, 1, CLIENTS, "s", CODES, 9000);
    h_sleep_ms(1500);
    kill(f->g.node[0].pid, SIGKILL);
    waitpid(f->g.node[0].pid, NULL, 0);
    f->g.node[0].pid = 0;
    long long killed = h_now_ms();
    while (hs_primary(&f->g) != 1 && h_now_ms() - killed < 20000)
        h_sleep_ms(20);
    assert_int_equal(hs_primary(&f->g), 1);
    printf("  sentinels named the replica primary after %lld ms\n", h_now_ms() - killed);
    assert_true(h_wait_log(&f->d, "event=sentinel_primary master_name=hc", 10000));
    /* The sentinels' own announcement reached it too (+switch-master). */
    assert_true(h_wait_log(&f->d, "event=sentinel_switch_master master_name=hc", 10000));
    /* The old primary back, as a replica of the new one: WAIT 1 can be met. */
    f->g.node[0].replica_of = f->g.node[1].port;
    assert_int_equal(h_redis_start(&f->g.node[0]), 0);
    long long want = h_load_wait(&f->load);
    struct h_redis *p = &f->g.node[1];
    long long deadline = h_now_ms() + 20000, got = -1, camp = -1;
    while (h_now_ms() < deadline) {
        got = counted(p);
        camp = total(p, "hc:campaign:odd:clicks") + total(p, "hc:campaign:even:clicks");
        if (got == want && camp == want && h_metric(&f->d, "hopcount_pending_keys") == 0)
            break;
        h_sleep_ms(100);
    }
    printf("  redirects received %lld, counted %lld (campaigns %lld); WAIT shortfalls "
           "%lld\n",
           want, got, camp, h_metric(&f->d, "hopcount_flush_wait_shortfalls_total"));
    if (got != want || camp != want)
        fail_msg("counted %lld (campaigns %lld), want %lld\n%s", got, camp, want,
                 h_daemon_log(&f->d));
    assert_int_equal(h_metric(&f->d, "hopcount_pending_keys"), 0);
}

static char out[1 << 16], err[1 << 16];

static int ctl_in(struct fx *f, const char *input, ...)
{
    va_list ap;
    va_start(ap, input);
    int rc = h_hopctl_v(f->d.conf, input, out, sizeof(out), err, sizeof(err), ap);
    va_end(ap);
    if (rc != 0)
        fprintf(stderr, "hopctl exited %d: %s%s\n", rc, out, err);
    return rc;
}
#define ctl(f, ...) ctl_in((f), NULL, __VA_ARGS__, (char *)NULL)

/* 302 to url from the daemon within ms (asked with DNT: 1: not counted). */
static bool live(struct fx *f, const char *code, const char *url, int ms)
{
    char path[64], resp[4096], loc[256];
    snprintf(path, sizeof(path), "/%s", code);
    long long deadline = h_now_ms() + ms;
    do {
        if (h_get(f->d.port, "GET", path, "DNT: 1\r\n", resp, sizeof(resp)) == 302 &&
            h_header(resp, "Location", loc, sizeof(loc)) != NULL && strcmp(loc, url) == 0)
            return true;
        h_sleep_ms(10);
    } while (h_now_ms() < deadline);
    return false;
}

/* 7. hopctl in sentinel mode, before and after a failover: it asks the
 * sentinels for the primary every time. */
static void test_hopctl_sentinel(void **state)
{
    struct fx *f = *state;
    /* wait_replicas: hopctl's writes too are on the replica before it
     * returns, so the failover below cannot lose k1. */
    assert_int_equal(start_daemon(f, "redis.wait_replicas = 1\n"), 0);
    assert_int_equal(
        ctl(f, "add", "k1", "https://example.com/k1", "--campaign", "spring"), 0);
    assert_true(live(f, "k1", "https://example.com/k1", 1000));
    kill(f->g.node[0].pid, SIGKILL);
    waitpid(f->g.node[0].pid, NULL, 0);
    f->g.node[0].pid = 0;
    long long deadline = h_now_ms() + 20000;
    while (hs_primary(&f->g) != 1 && h_now_ms() < deadline)
        h_sleep_ms(20);
    assert_int_equal(hs_primary(&f->g), 1);
    /* The new primary has no replica yet: the write is made, and hopctl
     * says it is not safe yet. */
    assert_int_equal(
        ctl(f, "add", "k2", "https://example.com/k2", "--campaign", "spring"), 1);
    assert_non_null(strstr(err, "fewer replicas than wait_replicas confirmed it"));
    /* The old primary back as its replica: the same command, again. */
    f->g.node[0].replica_of = f->g.node[1].port;
    assert_int_equal(h_redis_start(&f->g.node[0]), 0);
    assert_true(hs_wait_replica(&f->g, 0, 15000));
    assert_int_equal(
        ctl(f, "add", "k2", "https://example.com/k2", "--campaign", "spring"), 0);
    assert_true(live(f, "k2", "https://example.com/k2", 3000));
    assert_int_equal(ctl(f, "new", "https://example.com/n", "--campaign", "spring"), 0);
    char path[300];
    snprintf(path, sizeof(path), "%s/import.csv", f->g.node[1].dir);
    FILE *in = fopen(path, "w");
    assert_non_null(in);
    for (int i = 0; i < 100; i++)
        fprintf(in, "imp%03d,https://example.com/imp/%d,bulk\n", i, i);
    fclose(in);
    assert_int_equal(ctl(f, "import", path), 0);
    assert_non_null(strstr(out, "100 added"));
    assert_int_equal(ctl(f, "list", "--campaign", "spring", "--format", "csv"), 0);
    assert_non_null(strstr(out, "k1,"));
    assert_non_null(strstr(out, "k2,"));
    char resp[4096];
    for (int i = 0; i < 3; i++)
        assert_int_equal(h_get(f->d.port, "GET", "/k2", "", resp, sizeof(resp)), 302);
    assert_true(h_wait_flushed(&f->d, 5000));
    assert_int_equal(ctl(f, "stats", "k2", "--format", "json"), 0);
    assert_non_null(strstr(out, "\"total\": 3,"));
    assert_int_equal(ctl(f, "rm", "k1", "--purge"), 0);
    deadline = h_now_ms() + 1000;
    while (h_get(f->d.port, "GET", "/k1", "", resp, sizeof(resp)) != 404 &&
           h_now_ms() < deadline)
        h_sleep_ms(10);
    assert_int_equal(h_get(f->d.port, "GET", "/k1", "", resp, sizeof(resp)), 404);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_primary_killed_sentinels_promote, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_hopctl_sentinel, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
