/* Unit tests of the link cache's state machine (src/daemon/links.c) against
 * a real redis-server, with the request clock in the test's hands: TTL,
 * stale-while-revalidate with one refetch at most, the 1 s trust while the
 * subscription is down, invalidation during a fetch, negative entries and
 * the eviction bound. (The entry's fetch time is the real monotonic clock;
 * the lookups' "now" is what the test passes.) */
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
#include "links.h"
#include "metrics.h"
#include "route.h"
#include "util.h"

struct fx {
    struct h_redis r;
    struct conf *conf;
    struct event_base *base;
    struct route *rc;
    struct links *l;
    struct metrics m;
    int answers; /* waiter callbacks run */
    enum links_status last;
    char url[256];
};

static void on_answer(enum links_status st, const struct link *link, void *arg)
{
    struct fx *f = arg;
    f->answers++;
    f->last = st;
    snprintf(f->url, sizeof(f->url), "%.*s", link ? (int)link->url_len : 0,
             link ? link->url : "");
}

/* Run the loop until cond(f) or 3 s pass. */
static bool run_until(struct fx *f, bool (*cond)(struct fx *))
{
    long long deadline = h_now_ms() + 3000;
    while (!cond(f) && h_now_ms() < deadline)
        event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    return cond(f);
}

static bool ready(struct fx *f)
{
    return route_ready(f->rc);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    *state = f;
    if (h_redis_start(&f->r) != 0)
        return -1;
    f->conf = conf_new();
    f->conf->redis_port = f->r.port;
    f->conf->cache_ttl_s = 60;
    f->conf->negative_ttl_s = 10;
    f->base = event_base_new();
    f->rc = route_new(f->base, f->conf, &f->m, "test", NULL, NULL);
    f->l = links_new(f->conf, f->rc, 1000, &f->m);
    links_set_live(f->l, true);
    return run_until(f, ready) ? 0 : -1;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    links_free(f->l);
    route_free(f->rc);
    event_base_free(f->base);
    conf_free(f->conf);
    h_redis_stop(&f->r, false);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->r.dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

static struct links_waiter waiter;
static int waited_for;

static bool answered(struct fx *f)
{
    return f->answers > waited_for;
}

/* Look code up at now; a pending lookup is run to its answer. Returns the
 * status the caller would act on, and whether it had to wait. */
static enum links_status lookup(struct fx *f, const char *code, uint64_t now,
                                bool *waited)
{
    const struct link *link = NULL;
    waited_for = f->answers;
    memset(&waiter, 0, sizeof(waiter));
    enum links_status st =
        links_lookup(f->l, code, strlen(code), now, false, &link, &waiter, on_answer, f);
    *waited = st == LINKS_PENDING;
    if (st != LINKS_PENDING) {
        snprintf(f->url, sizeof(f->url), "%.*s", link ? (int)link->url_len : 0,
                 link ? link->url : "");
        return st;
    }
    assert_true(run_until(f, answered));
    return f->last;
}

static long long lookups(struct fx *f)
{
    return h_cmd_calls(&f->r, "hmget");
}

static struct fx *lookups_fx;
static long long lookups_want;
static bool lookups_reached(struct fx *f)
{
    (void)f;
    return lookups(lookups_fx) >= lookups_want;
}

/* Let the loop deliver what is in flight (a refetch) until Redis has seen
 * want lookups. */
static void settle(struct fx *f, long long want)
{
    lookups_fx = f;
    lookups_want = want;
    assert_true(run_until(f, lookups_reached));
    for (int i = 0; i < 20; i++) /* and its answer back */
        event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
}

static void test_ttl_and_one_refetch(void **state)
{
    struct fx *f = *state;
    bool waited;
    h_link_add(&f->r, "a", "https://e.com/a", NULL);
    uint64_t t0 = util_coarse_ms();
    assert_int_equal(lookup(f, "a", t0, &waited), LINKS_FOUND);
    assert_true(waited);
    assert_string_equal(f->url, "https://e.com/a");
    long long n = lookups(f);
    /* Fresh within the TTL: no lookup. */
    assert_int_equal(lookup(f, "a", t0 + 59000, &waited), LINKS_FOUND);
    assert_false(waited);
    assert_int_equal(lookups(f), n);
    /* Past it, with the subscription live: served at once while one
     * refetch runs; a second request meanwhile sends no second one. */
    h_link_add(&f->r, "a", "https://e.com/a2", NULL);
    assert_int_equal(lookup(f, "a", t0 + 61000, &waited), LINKS_FOUND);
    assert_false(waited);
    assert_string_equal(f->url, "https://e.com/a"); /* stale, served */
    assert_int_equal(lookup(f, "a", t0 + 61000, &waited), LINKS_FOUND);
    assert_false(waited);
    settle(f, n + 1);
    assert_int_equal(lookups(f), n + 1);
    /* The refetch's answer is what is served now. */
    assert_int_equal(lookup(f, "a", util_coarse_ms(), &waited), LINKS_FOUND);
    assert_string_equal(f->url, "https://e.com/a2");
}

static void test_unwatched_trusted_1s(void **state)
{
    struct fx *f = *state;
    bool waited;
    h_link_add(&f->r, "b", "https://e.com/b", NULL);
    uint64_t t0 = util_coarse_ms();
    assert_int_equal(lookup(f, "b", t0, &waited), LINKS_FOUND);
    links_set_live(f->l, false);
    long long n = lookups(f);
    assert_int_equal(lookup(f, "b", t0 + 500, &waited), LINKS_FOUND);
    assert_false(waited); /* younger than 1 s: trusted */
    assert_int_equal(lookup(f, "b", t0 + 1500, &waited), LINKS_FOUND);
    assert_true(waited); /* older: fetched again, and waited for */
    assert_int_equal(lookups(f), n + 1);
}

static void test_invalidated_while_fetching(void **state)
{
    struct fx *f = *state;
    const struct link *link = NULL;
    h_link_add(&f->r, "c", "https://e.com/c1", NULL);
    waited_for = f->answers;
    memset(&waiter, 0, sizeof(waiter));
    assert_int_equal(
        links_lookup(f->l, "c", 1, util_coarse_ms(), false, &link, &waiter, on_answer, f),
        LINKS_PENDING);
    /* A change announced while the fetch is on the wire: its answer may be
     * the old one, so it must not be trusted afterwards. */
    links_invalidate(f->l, "c", 1);
    h_link_add(&f->r, "c", "https://e.com/c2", NULL);
    assert_true(run_until(f, answered));
    bool waited;
    assert_int_equal(lookup(f, "c", util_coarse_ms(), &waited), LINKS_FOUND);
    assert_true(waited); /* not served from the answer that raced the change */
    assert_string_equal(f->url, "https://e.com/c2");
}

static void test_negative_entries_and_bound(void **state)
{
    struct fx *f = *state;
    bool waited;
    uint64_t t0 = util_coarse_ms();
    assert_int_equal(lookup(f, "nope", t0, &waited), LINKS_UNKNOWN);
    assert_true(waited);
    long long n = lookups(f);
    assert_int_equal(lookup(f, "nope", t0 + 9000, &waited), LINKS_UNKNOWN);
    assert_false(waited);
    assert_int_equal(lookups(f), n);
    assert_int_equal(lookup(f, "nope", t0 + 11000, &waited), LINKS_UNKNOWN);
    settle(f, n + 1); /* past negative_ttl_s: asked again */
    assert_int_equal(lookups(f), n + 1);

    links_set_max_entries(f->l, 10);
    assert_true(metric_get(&f->m.cache_entries) <= 10);
    char code[16];
    for (int i = 0; i < 25; i++) {
        snprintf(code, sizeof(code), "u%d", i);
        assert_int_equal(lookup(f, code, util_coarse_ms(), &waited), LINKS_UNKNOWN);
        assert_true(metric_get(&f->m.cache_entries) <= 10);
    }
    assert_true(metric_get(&f->m.cache_evictions) >= 15);
}

/* The subscription was re-established (messages may have been missed):
 * every entry is stale, so the next lookup waits for Redis rather than
 * serve what may have changed. */
static void test_resubscribe_makes_all_stale(void **state)
{
    struct fx *f = *state;
    bool waited;
    h_link_add(&f->r, "d", "https://e.com/d1", NULL);
    uint64_t t0 = util_coarse_ms();
    assert_int_equal(lookup(f, "d", t0, &waited), LINKS_FOUND);
    h_link_add(&f->r, "d", "https://e.com/d2", NULL); /* its message "missed" */
    assert_int_equal(lookup(f, "d", t0 + 10, &waited), LINKS_FOUND);
    assert_false(waited);
    assert_string_equal(f->url, "https://e.com/d1"); /* fresh, as far as it knows */
    links_invalidate_all(f->l);
    assert_int_equal(lookup(f, "d", t0 + 20, &waited), LINKS_FOUND);
    assert_true(waited);
    assert_string_equal(f->url, "https://e.com/d2");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ttl_and_one_refetch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unwatched_trusted_1s, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalidated_while_fetching, setup, teardown),
        cmocka_unit_test_setup_teardown(test_negative_entries_and_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resubscribe_makes_all_stale, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("cache", tests, NULL, NULL);
}
