/* End-to-end tests of unique followers (uniques = on, issue 14) through the
 * real daemon and Redis: distinct (address, agent) pairs from many loopback
 * addresses counted once per link, campaign and UTC day; opted-out, bot and
 * untracked follows never; every worker and node on the day's one key; the
 * key's turn at midnight (the clocks moved with libfaketime); off by
 * default; on by reload. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define RESP 4096

struct fx {
    struct h_redis r;
    struct h_daemon d, d2;
    char resp[RESP];
};

static void seed(const struct h_redis *r)
{
    h_link_add(r, "u1", "https://example.com/1", "news");
    h_link_add(r, "u2", "https://example.com/2", "news");
    h_link_add(r, "u3", "https://example.com/3", "news");
    assert_int_equal(h_redis_int(r, "HSET hc:link:quiet url https://example.com/q "
                                    "campaign news notrack 1"),
                     3);
}

static int start(void **state, const char *extra)
{
    struct fx *f = calloc(1, sizeof(*f));
    *state = f;
    return h_fixture_start(&f->r, &f->d, extra, seed);
}

static int setup_on(void **state)
{
    return start(state, "tracking.uniques = on\n");
}

static int setup_burst(void **state)
{
    return start(state, "tracking.uniques = on\ntracking.scanner_burst = on\n"
                        "tracking.scanner_window_s = 1\n");
}

static int setup_off(void **state)
{
    return start(state, "");
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (f != NULL && f->d2.pid > 0)
        h_daemon_stop(&f->d2, SIGTERM);
    h_fake_clock(0);
    return f != NULL ? h_fixture_end(&f->r, &f->d, f) : 0;
}

/* Client i's own loopback address: 127.3.x.y. */
static void addr_of(int i, char *buf, size_t cap)
{
    snprintf(buf, cap, "127.3.%d.%d", i / 250, i % 250 + 1);
}

/* GET /code on port from src with agent ua and extra header lines. */
static int follow(struct fx *f, int port, const char *src, const char *code,
                  const char *ua, const char *headers)
{
    char req[1024];
    int n = snprintf(req, sizeof(req),
                     "GET /%s HTTP/1.1\r\nHost: go.example\r\nUser-Agent: %s\r\n%s"
                     "Connection: close\r\n\r\n",
                     code, ua, headers ? headers : "");
    if (h_raw_from(port, src, req, (size_t)n, f->resp, sizeof(f->resp)) <= 0)
        return -1;
    return h_status(f->resp);
}

static const char *FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Firefox/120.0";
static const char *SAFARI = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Safari/604.1";

/* "YYYY-MM-DD" of the UTC day at real time + offset_s. */
static void date_at(long long offset_s, char *buf, size_t cap)
{
    time_t t = time(NULL) + (time_t)offset_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%d", &tm);
}

static long long pfcount(struct fx *f, const char *fmt, const char *a, const char *date)
{
    char key[200];
    snprintf(key, sizeof(key), fmt, a, date);
    return h_redis_int(&f->r, "PFCOUNT %s", key);
}

/* Every worker of d holds the day's key (they ask as Redis comes up). */
static void keyed(const struct h_daemon *d)
{
    long long deadline = h_now_ms() + 5000;
    while (h_metric(d, "hopcount_uniques_keyed_workers") != 2 && h_now_ms() < deadline)
        h_sleep_ms(20);
    assert_int_equal(h_metric(d, "hopcount_uniques_keyed_workers"), 2);
}

/* A small count: HyperLogLog is exact but for two followers falling in
 * one register (about 1% of runs at 20), which counts them once. */
static void about(long long got, long long want)
{
    if (got < want - 2 || got > want)
        fail_msg("unique followers: %lld, want %lld (or one or two fewer)", got, want);
}

/* Within 2% (HyperLogLog's error at these counts is far below it). */
static void near(long long got, long long want)
{
    if (got < want - want / 50 || got > want + want / 50)
        fail_msg("unique followers: %lld, want %lld within 2%%", got, want);
}

/* 300 addresses follow u1 one to three times, 40 of them again with a
 * second agent, and u2 once each: 340 followers of u1 and of the campaign,
 * 300 of u2. Opted out, bots, HEAD and the untracked link add nobody. */
static void test_distinct_followers(void **state)
{
    struct fx *f = *state;
    char src[32], date[16];
    long long follows = 0;
    keyed(&f->d);
    for (int i = 0; i < 300; i++) {
        addr_of(i, src, sizeof(src));
        for (int k = 0; k <= i % 3; k++, follows++)
            assert_int_equal(follow(f, f->d.port, src, "u1", FIREFOX, NULL), 302);
        if (i < 40) {
            assert_int_equal(follow(f, f->d.port, src, "u1", SAFARI, NULL), 302);
            follows++;
        }
        assert_int_equal(follow(f, f->d.port, src, "u2", FIREFOX, NULL), 302);
    }
    for (int i = 300; i < 330; i++) { /* nobody new */
        addr_of(i, src, sizeof(src));
        const char *h = i % 3 == 0 ? "DNT: 1\r\n" : i % 3 == 1 ? "Sec-GPC: 1\r\n" : NULL;
        const char *ua = i % 3 == 2 ? "Googlebot/2.1" : FIREFOX;
        assert_int_equal(follow(f, f->d.port, src, "u1", ua, h), 302);
        assert_int_equal(follow(f, f->d.port, src, "quiet", FIREFOX, NULL), 302);
        assert_int_equal(h_get(f->d.port, "HEAD", "/u1", NULL, f->resp, sizeof(f->resp)),
                         302);
    }
    assert_true(h_wait_flushed(&f->d, 10000));
    assert_int_equal(h_hget(&f->r, "hc:clicks:u1", "total"), follows);
    date_at(0, date, sizeof(date));
    near(pfcount(f, "hc:uniq:%s:%s", "u1", date), 340);
    near(pfcount(f, "hc:uniq:%s:%s", "u2", date), 300);
    near(pfcount(f, "hc:campaign:%s:uniq:%s", "news", date), 340);
    assert_int_equal(h_redis_int(&f->r, "EXISTS hc:uniq:quiet:%s", date), 0);
    assert_int_equal(h_metric(&f->d, "hopcount_uniques_unkeyed_total"), 0);

    /* The day's key: 16 hex digits, gone a minute after the UTC day. */
    redisContext *c = h_redis_connect(&f->r);
    redisReply *rep = redisCommand(c, "GET hc:uniqkey:%s", date);
    assert_int_equal(rep->type, REDIS_REPLY_STRING);
    assert_int_equal(rep->len, 16);
    freeReplyObject(rep);
    redisFree(c);
    long long midnight = (h_now_wall_s() / 86400 + 1) * 86400;
    assert_int_equal(h_redis_int(&f->r, "EXPIRETIME hc:uniqkey:%s", date), midnight + 60);

    /* The dashboard's API says the same. */
    char want[64], resp[8192];
    snprintf(want, sizeof(want), "\"uniques\": %lld}]",
             pfcount(f, "hc:uniq:%s:%s", "u1", date));
    assert_int_equal(
        h_get(f->d.dash_port, "GET", "/api/v1/links/u1?days=1", "", resp, sizeof(resp)),
        200);
    if (strstr(resp, want) == NULL)
        fail_msg("want %s in %s", want, resp);
}

/* With the burst rule: a held follow adds its follower once the window
 * says human; a scanner's burst (three links of the campaign at once) adds
 * nobody, though the same agent from other addresses does. */
static void test_held_followers(void **state)
{
    struct fx *f = *state;
    char src[32], date[16];
    keyed(&f->d);
    for (int i = 0; i < 20; i++) {
        addr_of(4000 + i, src, sizeof(src));
        assert_int_equal(follow(f, f->d.port, src, "u1", FIREFOX, NULL), 302);
    }
    addr_of(4100, src, sizeof(src));
    assert_int_equal(follow(f, f->d.port, src, "u1", FIREFOX, NULL), 302);
    assert_int_equal(follow(f, f->d.port, src, "u2", FIREFOX, NULL), 302);
    assert_int_equal(follow(f, f->d.port, src, "u3", FIREFOX, NULL), 302);
    /* Decided a window (1 s) later, on the once-a-second tick. */
    long long deadline = h_now_ms() + 8000;
    while (h_metric(&f->d, "hopcount_burst_held") != 0 && h_now_ms() < deadline)
        h_sleep_ms(50);
    assert_true(h_wait_flushed(&f->d, 5000));
    assert_int_equal(h_hget(&f->r, "hc:clicks:u1", "total"), 20);
    assert_int_equal(h_hget(&f->r, "hc:clicks:u1", "scan"), 1);
    date_at(0, date, sizeof(date));
    about(pfcount(f, "hc:uniq:%s:%s", "u1", date), 20);
    about(pfcount(f, "hc:campaign:%s:uniq:%s", "news", date), 20);
    assert_int_equal(h_redis_int(&f->r, "EXISTS hc:uniq:u3:%s", date), 0);
}

/* Two nodes of two workers each: a follower who comes through both (on
 * separate connections) is one follower, as every worker hashes with the
 * one key Redis kept. */
static void test_nodes_agree(void **state)
{
    struct fx *f = *state;
    assert_int_equal(h_fixture_daemon(&f->r, &f->d2, "tracking.uniques = on\n"), 0);
    keyed(&f->d);
    keyed(&f->d2);
    char src[32], date[16];
    for (int i = 0; i < 200; i++) {
        addr_of(1000 + i, src, sizeof(src));
        for (int k = 0; k < 2; k++) {
            assert_int_equal(follow(f, f->d.port, src, "u1", FIREFOX, NULL), 302);
            assert_int_equal(follow(f, f->d2.port, src, "u1", FIREFOX, NULL), 302);
        }
    }
    assert_true(h_wait_flushed(&f->d, 10000));
    assert_true(h_wait_flushed(&f->d2, 10000));
    date_at(0, date, sizeof(date));
    assert_int_equal(h_hget(&f->r, "hc:clicks:u1", "total"), 800);
    near(pfcount(f, "hc:uniq:%s:%s", "u1", date), 200);
}

/* Off (the default): no unique keys at all, not even the day's key. On by
 * SIGHUP: counted from then on. */
static void test_off_then_reload(void **state)
{
    struct fx *f = *state;
    char src[32], date[16];
    for (int i = 0; i < 20; i++) {
        addr_of(2000 + i, src, sizeof(src));
        assert_int_equal(follow(f, f->d.port, src, "u1", FIREFOX, NULL), 302);
    }
    assert_true(h_wait_flushed(&f->d, 5000));
    assert_int_equal(h_hget(&f->r, "hc:clicks:u1", "total"), 20);
    redisContext *c = h_redis_connect(&f->r);
    redisReply *rep = redisCommand(c, "KEYS hc:uniq*");
    assert_int_equal(rep->elements, 0);
    freeReplyObject(rep);
    rep = redisCommand(c, "KEYS hc:campaign:*:uniq:*");
    assert_int_equal(rep->elements, 0);
    freeReplyObject(rep);
    redisFree(c);

    assert_int_equal(h_daemon_rewrite_conf(&f->d, &f->r, "tracking.uniques = on\n"), 0);
    assert_int_equal(h_reload(&f->d, "success"), 0);
    keyed(&f->d); /* asked at the next tick */
    for (int i = 0; i < 10; i++) {
        addr_of(2000 + i, src, sizeof(src));
        assert_int_equal(follow(f, f->d.port, src, "u1", FIREFOX, NULL), 302);
    }
    assert_true(h_wait_flushed(&f->d, 5000));
    date_at(0, date, sizeof(date));
    about(pfcount(f, "hc:uniq:%s:%s", "u1", date), 10);
    about(pfcount(f, "hc:campaign:%s:uniq:%s", "news", date), 10);
}

/* Midnight: hopcount's clock is moved to 12 s before a UTC midnight
 * (libfaketime; Redis's stays real, as jemalloc and libfaketime do not
 * mix). The next day's key is agreed in the day's last hour, so no follow
 * after midnight goes without one; the same followers before and after are
 * counted on each day, under another key; each day's key is set to leave
 * Redis a minute after its day. */
static void test_day_turn(void **state)
{
    struct fx *f = *state;
    long long now = h_now_wall_s();
    long long midnight = (now / 86400 + 1) * 86400;
    long long offset = midnight - 12 - now;
    h_daemon_stop(&f->d, SIGTERM);
    if (h_fake_clock(offset) != 0)
        skip(); /* libfaketime missing: scripts/install-deps installs it */
    int rc = h_fixture_daemon(&f->r, &f->d, "tracking.uniques = on\n");
    h_fake_clock(0);
    assert_int_equal(rc, 0);
    keyed(&f->d);

    char src[32], before[16], after[16];
    date_at(offset, before, sizeof(before));
    date_at(offset + 12, after, sizeof(after));
    for (int i = 0; i < 20; i++) {
        addr_of(3000 + i, src, sizeof(src));
        assert_int_equal(follow(f, f->d.port, src, "u1", FIREFOX, NULL), 302);
    }
    assert_true(h_wait_flushed(&f->d, 5000));
    assert_true(h_now_wall_s() + offset < midnight); /* still the day before */
    /* After midnight by hopcount's clock. */
    while (h_now_wall_s() + offset < midnight + 1)
        h_sleep_ms(100);
    for (int i = 0; i < 30; i++) {
        addr_of(3000 + i, src, sizeof(src));
        assert_int_equal(follow(f, f->d.port, src, "u1", FIREFOX, NULL), 302);
    }
    assert_true(h_wait_flushed(&f->d, 5000));
    about(pfcount(f, "hc:uniq:%s:%s", "u1", before), 20);
    about(pfcount(f, "hc:uniq:%s:%s", "u1", after), 30);
    assert_int_equal(h_metric(&f->d, "hopcount_uniques_unkeyed_total"), 0);
    assert_int_equal(h_metric(&f->d, "hopcount_uniques_keyed_workers"), 2);
    redisContext *c = h_redis_connect(&f->r);
    redisReply *old = redisCommand(c, "GET hc:uniqkey:%s", before);
    redisReply *fresh = redisCommand(c, "GET hc:uniqkey:%s", after);
    assert_int_equal(old->type, REDIS_REPLY_STRING);
    assert_int_equal(fresh->type, REDIS_REPLY_STRING);
    assert_string_not_equal(fresh->str, old->str);
    freeReplyObject(old);
    freeReplyObject(fresh);
    redisFree(c);
    assert_int_equal(h_redis_int(&f->r, "EXPIRETIME hc:uniqkey:%s", before),
                     midnight + 60);
    assert_int_equal(h_redis_int(&f->r, "EXPIRETIME hc:uniqkey:%s", after),
                     midnight + 86400 + 60);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_distinct_followers, setup_on, teardown),
        cmocka_unit_test_setup_teardown(test_nodes_agree, setup_on, teardown),
        cmocka_unit_test_setup_teardown(test_held_followers, setup_burst, teardown),
        cmocka_unit_test_setup_teardown(test_off_then_reload, setup_off, teardown),
        cmocka_unit_test_setup_teardown(test_day_turn, setup_off, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
