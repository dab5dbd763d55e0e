/* Unit tests of the flusher's state machine (src/daemon/flush.c) against a
 * real redis-server: a round's batches are paced over 5/8 of
 * flush_interval_ms (not sent in one burst, all sent within the interval),
 * each applied once; a batch whose reply is lost is answered "applied
 * before" when sent again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../e2e/harness.h"
#include "conf.h"
#include "flush.h"
#include "hash.h"
#include "metrics.h"
#include "route.h"
#include "tally.h"
#include "util.h"

struct fx {
    struct h_redis r;
    struct conf *conf;
    struct event_base *base;
    struct route *rc;
    struct tally *t;
    struct flush *f;
    struct metrics m;
};

static void run_for(struct fx *x, int ms)
{
    long long end = h_now_ms() + ms;
    while (h_now_ms() < end)
        event_base_loop(x->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
}

static int setup(void **state)
{
    struct fx *x = calloc(1, sizeof(*x));
    char err[256];
    *state = x;
    if (h_redis_start(&x->r) != 0)
        return -1;
    x->conf = conf_new();
    x->conf->redis_port = x->r.port;
    x->conf->flush_interval_ms = 1000;
    x->conf->flush_batch_keys = 1; /* a batch per key */
    x->base = event_base_new();
    x->rc = route_new(x->base, x->conf, &x->m, "test", NULL, NULL);
    x->t = tally_new(10000);
    x->f = flush_new(x->base, x->conf, x->rc, x->t, &x->m, 0, 10000, err, sizeof(err));
    if (x->f == NULL)
        return -1;
    long long deadline = h_now_ms() + 3000;
    while (!route_ready(x->rc) && h_now_ms() < deadline)
        event_base_loop(x->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    return route_ready(x->rc) ? 0 : -1;
}

static int teardown(void **state)
{
    struct fx *x = *state;
    flush_free(x->f);
    route_free(x->rc);
    tally_free(x->t);
    event_base_free(x->base);
    conf_free(x->conf);
    h_redis_stop(&x->r, false);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", x->r.dir);
    int rc = system(cmd);
    free(x);
    return rc == 0 ? 0 : -1;
}

static void count(struct fx *x, const char *code)
{
    struct tally_hint hint = {0};
    int64_t hour = (int64_t)(util_wall_ms() / 3600000u);
    assert_int_equal(tally_add_hinted(x->t, &hint, TALLY_LINK,
                                      hash_bytes(code, strlen(code)), code, strlen(code),
                                      hour, TALLY_HUMAN),
                     0);
}

static void test_round_paced_within_interval(void **state)
{
    struct fx *x = *state;
    char code[16];
    for (int i = 0; i < 40; i++) {
        snprintf(code, sizeof(code), "k%d", i);
        count(x, code);
    }
    long long t0 = h_now_ms();
    flush_round(x->f);
    run_for(x, 150);
    uint64_t early = metric_get(&x->m.flushes);
    /* 40 batches over 5/8 of 1 s: about 15 ms apart, not one burst. */
    if (early < 2 || early > 25)
        fail_msg("%llu of 40 batches confirmed after 150 ms", (unsigned long long)early);
    long long deadline = t0 + 2000;
    while (metric_get(&x->m.flushes) < 40 && h_now_ms() < deadline)
        event_base_loop(x->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    long long took = h_now_ms() - t0;
    assert_int_equal(metric_get(&x->m.flushes), 40);
    if (took < 400 || took > 1200)
        fail_msg("40 paced batches took %lld ms; the window is 625 ms", took);
    for (int i = 0; i < 40; i++) {
        snprintf(code, sizeof(code), "hc:clicks:k%d", i);
        assert_int_equal(h_hget(&x->r, code, "total"), 1);
    }
    assert_int_equal(metric_get(&x->m.flush_duplicates), 0);
}

/* The marker already past a batch (its reply was lost, say): sent again it
 * is answered "applied before" and counted nowhere twice. */
static void test_applied_before_not_again(void **state)
{
    struct fx *x = *state;
    count(x, "dup");
    flush_round(x->f);
    long long deadline = h_now_ms() + 2000;
    while (metric_get(&x->m.flushes) < 1 && h_now_ms() < deadline)
        event_base_loop(x->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    assert_int_equal(h_hget(&x->r, "hc:clicks:dup", "total"), 1);
    /* Move the writer's marker one ahead, as if the next batch had been
     * applied and its reply lost; the next batch is then a duplicate. */
    redisContext *c = h_redis_connect(&x->r);
    redisReply *keys = redisCommand(c, "KEYS hc:flush:*");
    assert_true(keys != NULL && keys->elements == 1);
    freeReplyObject(redisCommand(c, "INCR %s", keys->element[0]->str));
    freeReplyObject(keys);
    redisFree(c);
    count(x, "dup");
    flush_round(x->f);
    deadline = h_now_ms() + 2000;
    while (metric_get(&x->m.flush_duplicates) < 1 && h_now_ms() < deadline)
        event_base_loop(x->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    assert_int_equal(metric_get(&x->m.flush_duplicates), 1);
    assert_int_equal(h_hget(&x->r, "hc:clicks:dup", "total"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_paced_within_interval, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_applied_before_not_again, setup, teardown),
    };
    return cmocka_run_group_tests_name("flush", tests, NULL, NULL);
}
