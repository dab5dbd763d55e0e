/* Overflow and the spool under faults (make test-faults): Redis away long
 * enough that a worker's tally fills, with a slow disk, a spool that cannot
 * be written, and more spool files at start than the pending bound holds.
 * One worker and max_pending_keys = 1000 (its least), so the numbers below
 * are exact: the tally holds 1,000 keys, and each link is one key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../e2e/harness.h"
#include "batch.h"
#include "spool.h"
#include "util.h"

#define LINKS 3200
#define BOUND 1000

static const char *CONF = "server.threads = 1\n"
                          "tracking.max_pending_keys = 1000\n"
                          "tracking.shutdown_timeout_ms = 1500";

struct fx {
    struct h_redis r;
    struct h_daemon d;
    char spool[400];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    *state = f;
    f->r.aof = true; /* Redis is stopped and started again with its counts */
    if (h_redis_start(&f->r) != 0)
        return -1;
    snprintf(f->spool, sizeof(f->spool), "%s/spool", f->r.dir);
    redisContext *c = h_redis_connect(&f->r);
    if (c == NULL)
        return -1;
    for (int i = 0; i < LINKS; i++)
        redisAppendCommand(c, "HSET hc:link:o%04d url https://example.com/o/%d created 1",
                           i, i);
    for (int i = 0; i < LINKS; i++) {
        redisReply *rep = NULL;
        if (redisGetReply(c, (void **)&rep) != REDIS_OK)
            return -1;
        freeReplyObject(rep);
    }
    redisFree(c);
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    return f != NULL ? h_fixture_end(&f->r, &f->d, f) : 0;
}

/* Follow links [from, to) on one keep-alive connection, as a browser; the
 * number of 302s, and the slowest answer in *worst_ms. */
static int follow(const struct fx *f, int from, int to, long long *worst_ms)
{
    char req[256], resp[4096];
    int fd = h_connect(f->d.port), redirects = 0;
    if (worst_ms != NULL)
        *worst_ms = 0;
    for (int i = from; i < to && fd >= 0; i++) {
        int n =
            snprintf(req, sizeof(req),
                     "GET /o%04d HTTP/1.1\r\nHost: t\r\nUser-Agent: Mozilla/5.0 "
                     "(X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n\r\n",
                     i);
        long long t0 = h_now_ms();
        if (write(fd, req, (size_t)n) != n ||
            h_read_response(fd, false, resp, sizeof(resp)) <= 0)
            break;
        long long took = h_now_ms() - t0;
        if (worst_ms != NULL && took > *worst_ms)
            *worst_ms = took;
        redirects += h_status(resp) == 302;
    }
    if (fd >= 0)
        close(fd);
    return redirects;
}

/* Poll a metric until it equals want (deadline ms); its last value. */
static long long wait_metric(const struct fx *f, const char *name, long long want, int ms)
{
    long long deadline = h_now_ms() + ms, v;
    while ((v = h_metric(&f->d, name)) != want && h_now_ms() < deadline)
        h_sleep_ms(20);
    return v;
}

/* The total follows in Redis of links [from, to). */
static long long sum_counts(const struct fx *f, int from, int to)
{
    redisContext *c = h_redis_connect(&f->r);
    long long sum = 0;
    if (c == NULL)
        return -1;
    for (int i = from; i < to; i++)
        redisAppendCommand(c, "HGET hc:clicks:o%04d total", i);
    for (int i = from; i < to; i++) {
        redisReply *rep = NULL;
        if (redisGetReply(c, (void **)&rep) != REDIS_OK)
            break;
        if (rep->type == REDIS_REPLY_STRING)
            sum += atoll(rep->str);
        freeReplyObject(rep);
    }
    redisFree(c);
    return sum;
}

static long long wait_sum(const struct fx *f, int from, int to, long long want, int ms)
{
    long long deadline = h_now_ms() + ms, v;
    while ((v = sum_counts(f, from, to)) != want && h_now_ms() < deadline)
        h_sleep_ms(50);
    return v;
}

static int count_spool_files(const struct fx *f)
{
    char cmd[600], out[64];
    snprintf(cmd, sizeof(cmd), "ls %s/*.spool 2>/dev/null | wc -l", f->spool);
    FILE *p = popen(cmd, "r");
    if (p == NULL || fgets(out, sizeof(out), p) == NULL) {
        if (p)
            pclose(p);
        return -1;
    }
    pclose(p);
    return atoi(out);
}

/* Follow every link once with Redis up, so all are cached and counted, then
 * take Redis away (its data kept) and wait until hopcount sees it gone. */
static void cache_then_stop_redis(struct fx *f, int links)
{
    assert_int_equal(follow(f, 0, links, NULL), links);
    assert_int_equal(wait_metric(f, "hopcount_follows_delivered_total", links, 10000),
                     links);
    h_redis_stop(&f->r, true);
    assert_int_equal(h_wait_ready(&f->d, 503, 5000), 503);
}

/* Stop hopcount (it spools what Redis cannot take) and start it again with
 * Redis up: everything spooled is replayed. */
static void restart_with_redis(struct fx *f)
{
    assert_int_equal(h_daemon_stop(&f->d, SIGTERM), 0);
    assert_int_equal(h_daemon_start(&f->d, &f->r, CONF, true), 0);
}

/* Review item 4: a full tally was written to the spool (write, fsync,
 * rename, fsync of the directory) inside the request that found it full, so
 * that request and every other one of the worker waited on the disk. With
 * each fsync taking 1.5 s, no answer may take 0.5 s. */
static void test_spill_never_blocks_requests(void **state)
{
    struct fx *f = *state;
    setenv("HC_SLOW_FSYNC_DIR", f->spool, 1);
    setenv("HC_SLOW_FSYNC_MS", "1500", 1);
    assert_int_equal(h_preload_shim(true), 0);
    int rc = h_daemon_start(&f->d, &f->r, CONF, true);
    h_preload_shim(false);
    assert_int_equal(rc, 0);
    cache_then_stop_redis(f, 1200);

    /* 1,100 new keys: the 1,001st finds the tally full and spills it. */
    long long worst;
    assert_int_equal(follow(f, 0, 1100, &worst), 1100);
    if (worst >= 500)
        fail_msg("an answer took %lld ms while the spill was written", worst);
    assert_true(h_wait_log(&f->d, "event=spool_overflow", 10000));
    assert_int_equal(h_metric(&f->d, "hopcount_follows_dropped_total"), 0);
    assert_int_equal(count_spool_files(f), 1);

    /* Redis back: the 100 keys in the tally are delivered; the spilled 1,000
     * come back at the next start. Every follow counted exactly once. */
    assert_int_equal(h_redis_start(&f->r), 0);
    assert_int_equal(h_wait_ready(&f->d, 200, 5000), 200);
    restart_with_redis(f);
    assert_int_equal(wait_sum(f, 0, 1200, 1200 + 1100, 15000), 1200 + 1100);
    for (int i = 0; i < 100 && count_spool_files(f) > 0; i++)
        h_sleep_ms(50);
    assert_int_equal(count_spool_files(f), 0);
}

static bool wait_log_count(const struct fx *f, const char *needle, int want, int ms)
{
    long long deadline = h_now_ms() + ms;
    while (h_log_count(&f->d, needle) < want && h_now_ms() < deadline)
        h_sleep_ms(20);
    return h_log_count(&f->d, needle) >= want;
}

/* Review item 5: when the spill could not be written (disk full, spool_dir
 * gone) its batches were pushed into pending past max_pending_keys, and
 * again at every refill: memory grew without bound. Now a failed spill goes
 * into pending only while pending has room, else it is held (one tally's
 * worth) and written again each second; while it is held, follows of new
 * keys are dropped, counted and logged. Nothing else is lost. */
static void test_failed_spill_is_bounded_and_counted(void **state)
{
    struct fx *f = *state;
    char moved[450];
    assert_int_equal(h_daemon_start(&f->d, &f->r, CONF, true), 0);
    cache_then_stop_redis(f, LINKS);

    /* spool_dir made a file: even root cannot write a spool file in it. */
    snprintf(moved, sizeof(moved), "%s.moved", f->spool);
    assert_int_equal(rename(f->spool, moved), 0);
    FILE *fp = fopen(f->spool, "w");
    assert_non_null(fp);
    fclose(fp);

    /* Keys 0..999 fill the tally; 1000 spills them, the write fails, and
     * pending (empty: Redis is away) takes them. */
    assert_int_equal(follow(f, 0, 1001, NULL), 1001);
    assert_true(wait_log_count(f, "event=spool_failed", 1, 5000));
    assert_int_equal(wait_metric(f, "hopcount_pending_keys", BOUND + 1, 2000), BOUND + 1);
    /* 1001..1999 fill it again; 2000 spills them: held, pending is full. */
    assert_int_equal(follow(f, 1001, 2001, NULL), 1000);
    assert_true(wait_log_count(f, "event=spool_failed", 2, 5000));
    /* 2001..2999 fill the tally; 3000..3099 find it full with a spill in
     * hand: those 100 are dropped, and said so. */
    assert_int_equal(follow(f, 2001, 3100, NULL), 1099);
    assert_int_equal(h_metric(&f->d, "hopcount_follows_dropped_total"), 100);
    assert_int_equal(wait_metric(f, "hopcount_pending_keys", 3 * BOUND, 2000), 3 * BOUND);
    assert_true(h_wait_log(&f->d, "event=follows_dropped", 1000));
    /* More of the same stays bounded. */
    assert_int_equal(follow(f, 3000, 3200, NULL), 200);
    assert_int_equal(h_metric(&f->d, "hopcount_follows_dropped_total"), 300);
    h_sleep_ms(300); /* three flush intervals: the gauge is refreshed each */
    assert_int_equal(h_metric(&f->d, "hopcount_pending_keys"), 3 * BOUND);

    /* The disk comes back: the held spill is written within a second or so. */
    assert_int_equal(unlink(f->spool), 0);
    assert_int_equal(rename(moved, f->spool), 0);
    assert_true(h_wait_log(&f->d, "event=spool_overflow", 5000));
    assert_int_equal(wait_metric(f, "hopcount_pending_keys", 2 * BOUND, 2000), 2 * BOUND);
    assert_int_equal(count_spool_files(f), 1);

    /* Redis back, a restart replays the spill: exactly what was not dropped. */
    assert_int_equal(h_redis_start(&f->r), 0);
    assert_int_equal(h_wait_ready(&f->d, 200, 5000), 200);
    restart_with_redis(f);
    long long want = LINKS + 3300 - 300; /* 3,300 follows after the stop, 300 dropped */
    assert_int_equal(wait_sum(f, 0, LINKS, want, 15000), want);
}

/* A spill that cannot be written goes into pending when it has room, and is
 * delivered when Redis returns, without a restart. */
static void test_failed_spill_delivered_from_memory(void **state)
{
    struct fx *f = *state;
    assert_int_equal(h_daemon_start(&f->d, &f->r, CONF, true), 0);
    cache_then_stop_redis(f, 1200);
    assert_int_equal(rmdir(f->spool), 0);
    FILE *fp = fopen(f->spool, "w");
    assert_non_null(fp);
    fclose(fp);
    assert_int_equal(follow(f, 0, 1100, NULL), 1100);
    assert_true(h_wait_log(&f->d, "event=spool_failed", 5000));
    assert_int_equal(h_redis_start(&f->r), 0);
    assert_int_equal(wait_sum(f, 0, 1200, 1200 + 1100, 10000), 1200 + 1100);
    assert_int_equal(h_metric(&f->d, "hopcount_follows_dropped_total"), 0);
    assert_int_equal(unlink(f->spool), 0);
}

/* Review item 5: replay at start read every spool file at once, whatever
 * their size. Five files of 1,000 keys against a bound of 1,000: one is
 * read at start, the rest as Redis takes them; all counted exactly once. */
static void test_replay_is_bounded(void **state)
{
    struct fx *f = *state;
    char err[256], writer[16];
    assert_int_equal(spool_prepare(f->spool), 0);
    int64_t hour = (int64_t)(time(NULL) / 3600);
    for (int k = 0; k < 5; k++) {
        struct batch *list = NULL, **tail = &list;
        snprintf(writer, sizeof(writer), "t%d", k);
        for (int s = 0; s < 10; s++) {
            struct batch *b = batch_new(writer, (uint64_t)s + 1, 100);
            for (int j = 0; j < 100; j++) {
                struct tally_entry *e = xcalloc(1, sizeof(*e));
                e->kind = TALLY_LINK;
                e->hour = hour;
                e->human = 1;
                e->len = (unsigned char)snprintf(e->name, sizeof(e->name), "o%04d",
                                                 (k * 1000 + s * 100 + j) % LINKS);
                batch_add(b, e);
            }
            *tail = b;
            tail = &b->next;
        }
        assert_int_equal(spool_write(f->spool, writer, list, err, sizeof(err)), 0);
        while (list != NULL) {
            struct batch *b = list;
            list = b->next;
            batch_free(b);
        }
        h_sleep_ms(3); /* file names carry the millisecond: keep them in order */
    }
    h_redis_stop(&f->r, true);
    assert_int_equal(h_daemon_start(&f->d, &f->r, CONF, false), 0);
    assert_true(h_wait_log(&f->d, "event=spool_replay", 5000));
    assert_non_null(strstr(h_daemon_log(&f->d), "files_left=4"));
    assert_int_equal(h_metric(&f->d, "hopcount_pending_keys"), BOUND);

    assert_int_equal(h_redis_start(&f->r), 0);
    long long deadline = h_now_ms() + 20000, worst = 0;
    while (count_spool_files(f) > 0 && h_now_ms() < deadline) {
        long long p = h_metric(&f->d, "hopcount_pending_keys");
        worst = p > worst ? p : worst;
        h_sleep_ms(10);
    }
    assert_int_equal(count_spool_files(f), 0);
    if (worst > BOUND + BOUND / 2)
        fail_msg("pending reached %lld keys during the replay", worst);
    assert_int_equal(wait_sum(f, 0, LINKS, 5000, 5000), 5000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_spill_never_blocks_requests, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_failed_spill_is_bounded_and_counted, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_failed_spill_delivered_from_memory, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_replay_is_bounded, setup, teardown),
    };
    return cmocka_run_group_tests_name("overflow", tests, NULL, NULL);
}
