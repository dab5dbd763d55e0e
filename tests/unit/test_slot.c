/* Unit tests of Redis Cluster key slots (src/common/slot.c): the spec's
 * vectors and hash-tag rules, then thousands of keys against the answer of
 * a real cluster-enabled redis-server (CLUSTER KEYSLOT). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../e2e/harness.h"
#include "slot.h"

static unsigned slot_s(const char *key)
{
    return slot_of(key, strlen(key));
}

static void test_vectors_and_tags(void **state)
{
    (void)state;
    assert_int_equal(slot_crc16("123456789", 9), 0x31C3); /* the spec's check value */
    assert_int_equal(slot_s("foo"), 12182);
    assert_int_equal(slot_s("{user1000}.following"), slot_s("user1000"));
    assert_int_equal(slot_s("{user1000}.followers"), slot_s("user1000"));
    assert_int_equal(slot_s("foo{}{bar}"),
                     slot_crc16("foo{}{bar}", 10) & 16383);    /* empty */
    assert_int_equal(slot_s("foo{{bar}}zap"), slot_s("{bar")); /* from the first '{' */
    assert_int_equal(slot_s("foo{bar}{zap}"), slot_s("bar"));  /* to the first '}' */
    assert_int_equal(slot_s("{"), slot_crc16("{", 1) & 16383);
    assert_int_equal(slot_s(""), 0);
    assert_true(slot_s("hc:clicks:spring24") < SLOT_COUNT);
}

static void test_agrees_with_redis(void **state)
{
    (void)state;
    struct h_redis r = {.cluster = true};
    assert_int_equal(h_redis_start(&r), 0);
    redisContext *c = h_redis_connect(&r);
    assert_non_null(c);
    char key[80];
    srand(42);
    enum { N = 3000 };
    for (int i = 0; i < N; i++) {
        int len = 1 + rand() % 40;
        for (int j = 0; j < len; j++) {
            int p = rand() % 20;
            key[j] = p == 0 ? '{' : p == 1 ? '}' : (char)('a' + rand() % 26);
        }
        key[len] = '\0';
        redisAppendCommand(c, "CLUSTER KEYSLOT %b", key, (size_t)len);
    }
    srand(42);
    for (int i = 0; i < N; i++) {
        int len = 1 + rand() % 40;
        for (int j = 0; j < len; j++) {
            int p = rand() % 20;
            key[j] = p == 0 ? '{' : p == 1 ? '}' : (char)('a' + rand() % 26);
        }
        key[len] = '\0';
        redisReply *rep = NULL;
        assert_int_equal(redisGetReply(c, (void **)&rep), REDIS_OK);
        assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
        if ((long long)slot_of(key, (size_t)len) != rep->integer)
            fail_msg("%s: %u, Redis says %lld", key, slot_of(key, (size_t)len),
                     rep->integer);
        freeReplyObject(rep);
    }
    redisFree(c);
    h_redis_stop(&r, false);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", r.dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors_and_tags),
        cmocka_unit_test(test_agrees_with_redis),
    };
    return cmocka_run_group_tests_name("slot", tests, NULL, NULL);
}
