/* The Lua scripts as files (src/WING/lua/NAME.lua), run with redis-cli --eval
 * against a real redis-server: every answer each documents, its refusals
 * included. (The embedded copies the programs send are the same files,
 * without comments: scripts/embed-lua.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

struct fx {
    struct h_redis r;
    char out[4096], err[4096];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    *state = f;
    return h_redis_start(&f->r);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    h_redis_stop(&f->r, false);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->r.dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* redis-cli --eval script KEYS... , ARGV... (NULL-terminated; "" is an
 * empty argument); its output, one line per reply element, in f->out. */
static const char *eval(struct fx *f, const char *script, ...)
{
    char port[16], *argv[64];
    int n = 0;
    va_list ap;
    snprintf(port, sizeof(port), "%d", f->r.port);
    argv[n++] = "redis-cli";
    argv[n++] = "-p";
    argv[n++] = port;
    argv[n++] = "--eval";
    argv[n++] = (char *)script;
    va_start(ap, script);
    for (const char *w; n < 63 && (w = va_arg(ap, const char *)) != NULL;)
        argv[n++] = (char *)w;
    va_end(ap);
    argv[n] = NULL;
    if (h_run(argv, NULL, f->out, sizeof(f->out), f->err, sizeof(f->err)) != 0)
        fail_msg("redis-cli --eval %s: %s", script, f->err);
    return f->out;
}
#define EVAL(f, script, ...) eval((f), (script), __VA_ARGS__, (const char *)NULL)

/* The writer's marker m, as a number (-1 when absent). */
static long long marker(struct fx *f)
{
    redisContext *c = h_redis_connect(&f->r);
    redisReply *r = redisCommand(c, "GET m");
    long long v = r != NULL && r->type == REDIS_REPLY_STRING ? atoll(r->str) : -1;
    freeReplyObject(r);
    redisFree(c);
    return v;
}

#define FLUSH "src/daemon/lua/flush.lua"
#define LINK_SET "src/cli/lua/link_set.lua"
#define LINK_RM "src/cli/lua/link_rm.lua"

static void test_flush(void **state)
{
    struct fx *f = *state;
    /* Batch 1: applied, the marker moves. */
    assert_string_equal(EVAL(f, FLUSH, "m", "c1", "c2", ",", "1", "0", "2", "total", "5",
                             "d:x", "5", "1", "bot", "2"),
                        "0\n");
    assert_int_equal(h_hget(&f->r, "c1", "total"), 5);
    assert_int_equal(h_hget(&f->r, "c2", "bot"), 2);
    assert_int_equal(marker(f), 1);
    /* Its retry (the reply was lost): "applied before", nothing again. */
    assert_string_equal(EVAL(f, FLUSH, "m", "c1", "c2", ",", "1", "0", "2", "total", "5",
                             "d:x", "5", "1", "bot", "2"),
                        "1\n");
    assert_int_equal(h_hget(&f->r, "c1", "total"), 5);
    /* Batch 3 before 2: a gap, refused, nothing applied. */
    assert_string_equal(EVAL(f, FLUSH, "m", "c1", ",", "3", "0", "1", "total", "1"),
                        "2\n");
    assert_int_equal(h_hget(&f->r, "c1", "total"), 5);
    assert_int_equal(marker(f), 1);
    /* The gap path ("apply anyway"): applied, the marker jumps. */
    assert_string_equal(EVAL(f, FLUSH, "m", "c1", ",", "3", "1", "1", "total", "1"),
                        "0\n");
    assert_int_equal(h_hget(&f->r, "c1", "total"), 6);
    assert_int_equal(marker(f), 3);
    /* A key of another type is refused and named (its index among the
     * counter keys); the others and the marker are applied. */
    assert_int_equal(h_redis_int(&f->r, "SADD notahash x"), 1);
    assert_string_equal(EVAL(f, FLUSH, "m", "c1", "notahash", "c2", ",", "4", "0", "1",
                             "total", "1", "1", "total", "1", "1", "total", "1"),
                        "0\n2\n");
    assert_int_equal(h_hget(&f->r, "c1", "total"), 7);
    assert_int_equal(h_hget(&f->r, "c2", "total"), 1);
    assert_int_equal(marker(f), 4);
}

static const char *hget(struct fx *f, const char *key, const char *field, char *buf,
                        size_t cap)
{
    redisContext *c = h_redis_connect(&f->r);
    redisReply *r = redisCommand(c, "HGET %s %s", key, field);
    snprintf(buf, cap, "%s",
             r != NULL && r->type == REDIS_REPLY_STRING ? r->str : "(nil)");
    freeReplyObject(r);
    redisFree(c);
    return buf;
}

/* KEYS link; ARGV url, campaign, created, force, believed campaign,
 * channel, code. It touches the link alone (the sets are hopctl's next
 * step): one key, so it runs in a cluster too. */
static void test_link_set(void **state)
{
    struct fx *f = *state;
    char v[64];
    /* A new link: 3 (added). */
    assert_string_equal(
        EVAL(f, LINK_SET, "L:a", ",", "https://e.com/a", "nl", "100", "0", "", "ev", "a"),
        "3\n");
    assert_string_equal(hget(f, "L:a", "url", v, sizeof(v)), "https://e.com/a");
    assert_string_equal(hget(f, "L:a", "campaign", v, sizeof(v)), "nl");
    /* The same again: 0 (unchanged). */
    assert_string_equal(EVAL(f, LINK_SET, "L:a", ",", "https://e.com/a", "nl", "200", "0",
                             "nl", "ev", "a"),
                        "0\n");
    /* Another target without force: refused, 1 (exists); nothing changes. */
    assert_string_equal(EVAL(f, LINK_SET, "L:a", ",", "https://e.com/b", "nl", "200", "0",
                             "nl", "ev", "a"),
                        "1\n");
    assert_string_equal(hget(f, "L:a", "url", v, sizeof(v)), "https://e.com/a");
    /* With force, into campaign c2: 4 (replaced), created kept. */
    assert_string_equal(EVAL(f, LINK_SET, "L:a", ",", "https://e.com/b", "c2", "200", "1",
                             "nl", "ev", "a"),
                        "4\n");
    assert_string_equal(hget(f, "L:a", "url", v, sizeof(v)), "https://e.com/b");
    assert_string_equal(hget(f, "L:a", "created", v, sizeof(v)), "100");
    assert_string_equal(hget(f, "L:a", "campaign", v, sizeof(v)), "c2");
    /* Believed in nl, it is in c2 now: refused, 2 (moved); nothing changes. */
    assert_string_equal(EVAL(f, LINK_SET, "L:a", ",", "https://e.com/c", "x", "300", "1",
                             "nl", "ev", "a"),
                        "2\n");
    assert_string_equal(hget(f, "L:a", "campaign", v, sizeof(v)), "c2");
    /* Only the link key was touched. */
    assert_int_equal(h_redis_int(&f->r, "DBSIZE"), 1);
}

/* KEYS link; ARGV believed campaign, channel, code. */
static void test_link_rm(void **state)
{
    struct fx *f = *state;
    assert_int_equal(
        h_redis_int(&f->r, "HSET L:a url https://e.com/a campaign nl created 1"), 3);
    /* Believed in another campaign: refused, -1; nothing changes. */
    assert_string_equal(EVAL(f, LINK_RM, "L:a", ",", "x", "ev", "a"), "-1\n");
    assert_int_equal(h_redis_int(&f->r, "EXISTS L:a"), 1);
    /* Removed: 1. */
    assert_string_equal(EVAL(f, LINK_RM, "L:a", ",", "nl", "ev", "a"), "1\n");
    assert_int_equal(h_redis_int(&f->r, "EXISTS L:a"), 0);
    /* Gone already: 0. */
    assert_string_equal(EVAL(f, LINK_RM, "L:a", ",", "", "ev", "a"), "0\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link_rm, setup, teardown),
    };
    return cmocka_run_group_tests_name("scripts", tests, NULL, NULL);
}
