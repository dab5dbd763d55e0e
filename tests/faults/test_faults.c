/* The fault suite (make test-faults): real traffic from a bounded client
 * loop on loopback against the real daemon and a real redis-server with
 * appendonly yes / appendfsync always, while Redis or hopcount misbehave.
 * Each case then checks that the counts in Redis equal the redirects the
 * clients received, exactly (or, for SIGKILL, reports the loss and bounds it
 * by one flush interval). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../e2e/harness.h"

#define CODES 20
#define CLIENTS 4
#define FLUSH_MS 200

struct fx {
    struct h_redis r;
    struct h_daemon d;
    struct h_load load;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    char code[16], url[64];
    *state = f;
    f->r.aof = true;
    if (h_redis_start(&f->r) != 0)
        return -1;
    h_redis_int(&f->r, "CONFIG SET latency-monitor-threshold 50"); /* see the stalls */
    for (int i = 0; i < CODES; i++) {
        snprintf(code, sizeof(code), "f%02d", i);
        snprintf(url, sizeof(url), "https://example.com/f/%d", i);
        h_link_add(&f->r, code, url, i % 2 ? "odd" : "even");
    }
    char extra[128];
    snprintf(extra, sizeof(extra),
             "tracking.flush_interval_ms = %d\ntracking.shutdown_timeout_ms = 1500",
             FLUSH_MS);
    if (h_daemon_start(&f->d, &f->r, extra, true) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    return f != NULL ? h_fixture_end(&f->r, &f->d, f) : 0;
}

static void start_clients(struct fx *f, int ms)
{
    h_load_start(&f->load, &f->d.port, 1, CLIENTS, "f", CODES, ms);
}

static long long wait_clients(struct fx *f)
{
    return h_load_wait(&f->load);
}

static long long counted(const struct fx *f)
{
    char key[64];
    long long s = 0;
    for (int i = 0; i < CODES; i++) {
        snprintf(key, sizeof(key), "hc:clicks:f%02d", i);
        s += h_hget(&f->r, key, "total");
    }
    return s;
}

static long long campaigns(const struct fx *f)
{
    return h_hget(&f->r, "hc:campaign:odd:clicks", "total") +
           h_hget(&f->r, "hc:campaign:even:clicks", "total");
}

/* Wait (up to ms) until Redis holds want follows, in the links and in the
 * campaigns; then both must equal it exactly. */
static void expect_exact(struct fx *f, long long want, int ms)
{
    long long deadline = h_now_ms() + ms, got = -1, camp = -1;
    do {
        got = counted(f);
        camp = campaigns(f);
        if (got == want && camp == want)
            break;
        h_sleep_ms(100);
    } while (h_now_ms() < deadline);
    printf("  redirects received %lld, counted %lld (campaigns %lld)\n", want, got, camp);
    if (got != want || camp != want)
        fail_msg("counted %lld (campaigns %lld), want %lld\n%s", got, camp, want,
                 h_daemon_log(&f->d));
    /* And nothing is counted twice by a late retry (review item 20: this
     * asserted only got > 0): once the daemon has nothing pending, the
     * counts are still exactly want. */
    deadline = h_now_ms() + 5000;
    while (h_metric(&f->d, "hopcount_pending_keys") != 0 && h_now_ms() < deadline)
        h_sleep_ms(50);
    assert_int_equal(h_metric(&f->d, "hopcount_pending_keys"), 0);
    assert_int_equal(counted(f), want);
    assert_int_equal(campaigns(f), want);
}

/* Redis frozen (SIGSTOP) for 5 s mid-load, then resumed. */
static void test_redis_frozen(void **state)
{
    struct fx *f = *state;
    start_clients(f, 9000);
    h_sleep_ms(2000);
    assert_int_equal(kill(f->r.pid, SIGSTOP), 0);
    h_sleep_ms(5000);
    assert_int_equal(kill(f->r.pid, SIGCONT), 0);
    long long sent = wait_clients(f);
    expect_exact(f, sent, 15000);
}

/* Redis killed (SIGKILL) and restarted mid-load, appendfsync always. */
static void test_redis_killed_restarted(void **state)
{
    struct fx *f = *state;
    start_clients(f, 8000);
    h_sleep_ms(2500);
    assert_int_equal(kill(f->r.pid, SIGKILL), 0);
    waitpid(f->r.pid, NULL, 0);
    f->r.pid = 0;
    h_sleep_ms(1500);
    assert_int_equal(h_redis_start(&f->r), 0);
    long long sent = wait_clients(f);
    expect_exact(f, sent, 15000);
}

/* The flush connection killed with CLIENT KILL while batches are in
 * flight, again and again. */
static void test_client_kill_repeatedly(void **state)
{
    struct fx *f = *state;
    start_clients(f, 7000);
    h_sleep_ms(1000);
    redisContext *c = h_redis_connect(&f->r);
    assert_non_null(c);
    for (int i = 0; i < 40; i++) {
        redisReply *rep = redisCommand(c, "CLIENT KILL TYPE normal SKIPME yes");
        freeReplyObject(rep);
        h_sleep_ms(97 + (i % 5) * 31); /* land in every phase of a flush */
    }
    redisFree(c);
    long long sent = wait_clients(f);
    expect_exact(f, sent, 15000);
}

/* CLIENT PAUSE during flushes. */
static void test_client_pause(void **state)
{
    struct fx *f = *state;
    start_clients(f, 8000);
    h_sleep_ms(1000);
    redisContext *c = h_redis_connect(&f->r);
    assert_non_null(c);
    for (int i = 0; i < 3; i++) {
        redisReply *rep = redisCommand(c, "CLIENT PAUSE %d", 1500 + 300 * i);
        freeReplyObject(rep);
        h_sleep_ms(2000);
    }
    redisFree(c);
    long long sent = wait_clients(f);
    expect_exact(f, sent, 15000);
}

/* hopcount stopped with SIGTERM while Redis is down; started again after
 * Redis is back: the spool is replayed. */
static void test_sigterm_with_redis_down(void **state)
{
    struct fx *f = *state;
    start_clients(f, 4000);
    h_sleep_ms(1500);
    h_redis_stop(&f->r, true);
    long long sent = wait_clients(f);
    assert_int_equal(h_daemon_stop(&f->d, SIGTERM), 0);
    assert_non_null(strstr(h_daemon_log(&f->d), "event=spooled"));
    assert_int_equal(h_redis_start(&f->r), 0);
    char extra[64];
    snprintf(extra, sizeof(extra), "tracking.flush_interval_ms = %d", FLUSH_MS);
    assert_int_equal(h_daemon_start(&f->d, &f->r, extra, true), 0);
    expect_exact(f, sent, 15000);
    assert_non_null(strstr(h_daemon_log(&f->d), "event=spool_replay"));
}

static long long metric(const struct fx *f, const char *name)
{
    static char resp[65536];
    if (h_get(f->d.admin_port, "GET", "/metrics", "", resp, sizeof(resp)) != 200)
        return -1;
    char line[128];
    snprintf(line, sizeof(line), "\n%s", name); /* the sample, not the HELP line */
    const char *p = strstr(resp, line);
    return p ? atoll(p + strlen(line)) : -1;
}

/* hopcount SIGKILLed mid-load: what Redis had not acknowledged is lost. The
 * loss is reported and bounded: the follows not yet acknowledged when last
 * sampled (with Redis keeping up, about one flush interval's worth), plus
 * what arrived from the sample to the kill and one more interval. */
/* The longest stall Redis's latency monitor saw (fsync of its AOF, mostly),
 * in ms: the part of a loss that is the disk's, not hopcount's. */
static long long redis_worst_stall_ms(struct fx *f)
{
    long long worst = 0;
    redisContext *c = h_redis_connect(&f->r);
    redisReply *r = c ? redisCommand(c, "LATENCY LATEST") : NULL;
    for (size_t i = 0; r != NULL && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        const redisReply *e = r->element[i]; /* event, time, latest ms, max ms */
        if (e->type == REDIS_REPLY_ARRAY && e->elements >= 4 &&
            e->element[3]->type == REDIS_REPLY_INTEGER && e->element[3]->integer > worst)
            worst = e->element[3]->integer;
    }
    freeReplyObject(r);
    if (c)
        redisFree(c);
    return worst;
}

static void test_sigkill_loss_bounded(void **state)
{
    struct fx *f = *state;
    long long t0 = h_now_ms();
    start_clients(f, 4000);
    for (int i = 0; i < 5; i++) {
        h_sleep_ms(500);
        if (getenv("FAULTS_VERBOSE") != NULL)
            printf("  t=%lldms counted %lld delivered %lld batches %lld rounds %lld "
                   "pending %lld errors %lld\n",
                   h_now_ms() - t0,
                   metric(f, "hopcount_requests_total{outcome=\"tracked\"} "),
                   metric(f, "hopcount_follows_delivered_total "),
                   metric(f, "hopcount_flush_batches_total "),
                   metric(f, "hopcount_flush_rounds_total "),
                   metric(f, "hopcount_pending_keys "),
                   metric(f, "hopcount_flush_errors_total "));
    }
    long long counted_then = metric(f, "hopcount_requests_total{outcome=\"tracked\"} ") +
                             metric(f, "hopcount_requests_total{outcome=\"bot\"} ");
    long long delivered_then = metric(f, "hopcount_follows_delivered_total ");
    long long sampled = h_now_ms();
    assert_int_equal(h_daemon_stop(&f->d, SIGKILL), 128 + SIGKILL);
    long long killed = h_now_ms();
    long long sent = wait_clients(f);
    h_sleep_ms(500);
    long long got = counted(f);
    long long rate = sent * 1000 / (killed - t0 > 0 ? killed - t0 : 1);
    long long lag = counted_then - delivered_then;
    long long bound = lag + rate * ((killed - sampled) + FLUSH_MS) / 1000 + 100;
    printf("  SIGKILL: redirects received %lld, counted %lld, lost %lld = %.0f ms of "
           "traffic at %lld/s; unacknowledged at the last sample: %lld (%.0f ms); bound "
           "%lld\n",
           sent, got, sent - got,
           rate ? (double)(sent - got) * 1000.0 / (double)rate : 0.0, rate, lag,
           rate ? (double)lag * 1000.0 / (double)rate : 0.0, bound);
    assert_true(counted_then > 0 && delivered_then >= 0);
    assert_true(got <= sent);
    /* What Redis lacks is what hopcount had not seen confirmed: its own
     * accounting agrees with Redis. */
    if (sent - got > bound)
        fail_msg("lost %lld > bound %lld; log:\n%s", sent - got, bound,
                 h_daemon_log(&f->d));
    /* Review item 20: the bound above is built from the lag it measures, so
     * flushing that fell behind for good would pass it. Independently of any
     * measurement: the loss stays within 1.5 s of traffic (7.5 flush
     * intervals; docs/delivery.md says about one while Redis keeps up, and a
     * 2-core machine running Redis with appendfsync always, four clients and
     * hopcount does not always keep up). */
    long long stall = redis_worst_stall_ms(f);
    printf("  Redis's worst stall (LATENCY LATEST): %lld ms\n", stall);
    long long cap = rate * (1500 + 2 * stall) / 1000;
    if (sent - got > cap)
        fail_msg("lost %lld follows, more than 1.5 s of traffic plus twice Redis's worst "
                 "stall (%lld ms): %lld",
                 sent - got, stall, cap);
}

static int setup_redis_only(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    *state = f;
    return h_redis_start(&f->r);
}

/* The writer id comes only from getrandom (review item 6b): interrupted
 * calls are retried, and without it hopcount refuses to start, saying why,
 * rather than fall back on ids that collide (time and pid: containers all
 * run as PID 1). Through the fault shim. */
static void test_writer_id_needs_getrandom(void **state)
{
    struct fx *f = *state;
    assert_int_equal(h_preload_shim(true), 0);
    setenv("HC_GETRANDOM_EINTR", "3", 1);
    int rc = h_daemon_start(&f->d, &f->r, NULL, true);
    unsetenv("HC_GETRANDOM_EINTR");
    if (rc != 0)
        fail_msg("did not start after EINTR:\n%s", h_daemon_log(&f->d));
    assert_int_equal(h_daemon_stop(&f->d, SIGTERM), 0);

    setenv("HC_GETRANDOM_ERRNO", "38", 1); /* ENOSYS */
    rc = h_daemon_start(&f->d, &f->r, NULL, true);
    unsetenv("HC_GETRANDOM_ERRNO");
    h_preload_shim(false);
    assert_int_equal(rc, -1);
    long long deadline = h_now_ms() + 3000;
    while (h_daemon_alive(&f->d) && h_now_ms() < deadline)
        h_sleep_ms(10);
    assert_false(h_daemon_alive(&f->d));
    assert_int_equal(f->d.exit_status, 1);
    assert_non_null(strstr(h_daemon_log(&f->d),
                           "cannot draw a random writer id: getrandom: Function not "
                           "implemented"));
    /* And with getrandom back, it starts (the teardown stops it cleanly). */
    assert_int_equal(h_daemon_start(&f->d, &f->r, NULL, true), 0);
}

/* Review item 7: cached links aged by the wall clock, so a clock step (NTP,
 * a VM resumed) expired every entry at once: a burst of lookups. They age
 * by the monotonic clock: an hour's step forward, seen by everything that
 * reads the wall clock (libevent re-reads it every 5 s), leaves the cached
 * link served without a lookup; after its cache_ttl_s of real time it is
 * looked up again (the positive control). */
static void test_cache_ages_by_monotonic_clock(void **state)
{
    struct fx *f = *state;
    char offset[400], resp[4096];
    h_link_add(&f->r, "f01", "https://example.com/f/1", NULL);
    snprintf(offset, sizeof(offset), "%s/clock-offset", f->r.dir);
    FILE *o = fopen(offset, "w");
    assert_non_null(o);
    fputs("0\n", o);
    fclose(o);
    setenv("HC_CLOCK_OFFSET_FILE", offset, 1);
    assert_int_equal(h_preload_shim(true), 0);
    int rc =
        h_daemon_start(&f->d, &f->r, "server.threads = 1\nlinks.cache_ttl_s = 9", true);
    h_preload_shim(false);
    unsetenv("HC_CLOCK_OFFSET_FILE");
    assert_int_equal(rc, 0);

    assert_int_equal(h_get(f->d.port, "GET", "/f01", "", resp, sizeof(resp)), 302);
    long long fetched = h_now_ms(), lookups = h_cmd_calls(&f->r, "hmget");
    o = fopen(offset, "w");
    fputs("3600\n", o);
    fclose(o);
    /* Past libevent's 5 s resynchronisation of its cached wall time, asking
     * all along. */
    while (h_now_ms() - fetched < 6000) {
        assert_int_equal(h_get(f->d.port, "GET", "/f01", "", resp, sizeof(resp)), 302);
        assert_int_equal(h_cmd_calls(&f->r, "hmget"), lookups);
        h_sleep_ms(200);
    }
    long long deadline = h_now_ms() + 6000;
    while (h_cmd_calls(&f->r, "hmget") == lookups && h_now_ms() < deadline) {
        assert_int_equal(h_get(f->d.port, "GET", "/f01", "", resp, sizeof(resp)), 302);
        h_sleep_ms(50);
    }
    long long aged = h_now_ms() - fetched;
    assert_int_equal(h_cmd_calls(&f->r, "hmget"), lookups + 1);
    if (aged < 8500)
        fail_msg("looked up again after %lld ms; cache_ttl_s is 9", aged);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_redis_frozen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_killed_restarted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_kill_repeatedly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_pause, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigterm_with_redis_down, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigkill_loss_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_id_needs_getrandom, setup_redis_only,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cache_ages_by_monotonic_clock,
                                        setup_redis_only, teardown),
    };
    if (getenv("FAULTS_ONLY") != NULL) /* e.g. FAULTS_ONLY=test_sigkill* */
        cmocka_set_test_filter(getenv("FAULTS_ONLY"));
    return cmocka_run_group_tests_name("faults", tests, NULL, NULL);
}
