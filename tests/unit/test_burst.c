/* Unit tests for burst (the burst rule's shared client table) and held
 * (a worker's follows awaiting its verdict). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "burst.h"
#include "held.h"

static struct cidr_addr addr(const char *s)
{
    struct cidr_addr a;
    assert_true(cidr_addr_parse(&a, s, strlen(s)));
    return a;
}

/* One key per hour: stable within it, another the next hour, and an hour
 * that is over never gets its key back. */
static void test_hourly_key(void **state)
{
    (void)state;
    struct burst *b = burst_new(1024);
    struct cidr_addr a = addr("192.0.2.1"), a2 = addr("192.0.2.2");
    uint64_t c1 = burst_client(b, &a, 7, 100);
    assert_true(c1 != 0);
    assert_true(burst_client(b, &a, 7, 100) == c1);
    assert_true(burst_client(b, &a, 8, 100) != c1);  /* another agent */
    assert_true(burst_client(b, &a2, 7, 100) != c1); /* another address */
    uint64_t c2 = burst_client(b, &a, 7, 101);
    assert_true(c2 != 0 && c2 != c1);
    assert_true(burst_client(b, &a, 7, 100) == 0); /* hour 100's key is gone */
    assert_true(burst_client(b, &a, 7, 101) == c2);
    burst_free(b);
}

static void test_rule(void **state)
{
    (void)state;
    struct burst *b = burst_new(1024);
    uint64_t c = 0x1234567890abcdefull;
    /* Two codes of campaign 9, one of campaign 8: not yet. */
    struct burst_ticket t = burst_note(b, c, 9, 1, 1000, 10, 3);
    assert_true(t.tracked && !t.scanner);
    assert_int_equal(t.start, 1000);
    assert_false(burst_note(b, c, 9, 2, 1001, 10, 3).scanner);
    assert_false(burst_note(b, c, 9, 2, 1002, 10, 3).scanner); /* the same code again */
    assert_false(burst_note(b, c, 8, 3, 1003, 10, 3).scanner);
    assert_false(burst_scanner(b, c, 1000));
    /* A third code of campaign 9: a scanner, in this window. */
    t = burst_note(b, c, 9, 4, 1004, 10, 3);
    assert_true(t.scanner);
    assert_true(burst_scanner(b, c, 1000));
    /* The next window, right after: still a scanner (its tail of links);
     * the last one's verdict is remembered. */
    t = burst_note(b, c, 9, 5, 1010, 10, 3);
    assert_true(t.tracked && t.scanner);
    assert_int_equal(t.start, 1010);
    assert_true(burst_scanner(b, c, 1000));
    assert_true(burst_scanner(b, c, 1010));
    /* A window more than one window's length after: clean again. */
    t = burst_note(b, c, 9, 1, 1040, 10, 3);
    assert_true(t.tracked && !t.scanner);
    assert_false(burst_scanner(b, c, 1040));
    /* More distinct codes than a slot holds, over campaigns: a scanner. */
    uint64_t d = 0x0fedcba987654321ull;
    for (uint32_t i = 0; i < BURST_LINKS_MAX; i++)
        assert_false(burst_note(b, d, i, i, 2000, 10, 3).scanner);
    assert_true(burst_note(b, d, 99, 99, 2001, 10, 3).scanner);
    burst_free(b);
}

/* A slot and its neighbour busy with open windows: the third client is
 * not tracked (counted as it is), and is once a window closes. */
static void test_full(void **state)
{
    (void)state;
    struct burst *b = burst_new(1024);
    uint64_t base = 5;
    assert_true(burst_note(b, base, 1, 1, 100, 10, 3).tracked);
    assert_true(burst_note(b, base ^ 1, 1, 1, 100, 10, 3).tracked);
    uint64_t third = base | (1ull << 40);
    assert_false(burst_note(b, third, 1, 1, 105, 10, 3).tracked);
    assert_true(burst_note(b, third, 1, 1, 110, 10, 3).tracked);
    burst_free(b);
}

struct runner {
    struct burst *b;
    int first;
};

/* Half of each client's codes from each thread. */
static void *note_half(void *arg)
{
    struct runner *r = arg;
    for (int round = 0; round < 2; round++)
        for (uint64_t c = 1; c <= 200; c++) {
            uint64_t client = c * 0x9E3779B97F4A7C15ull;
            uint32_t codes = c % 2 ? 4 : 2; /* odd clients: scanners */
            for (uint32_t k = (uint32_t)r->first; k < codes; k += 2)
                burst_note(r->b, client, 7, k + 1, 500, 10, 3);
        }
    return NULL;
}

/* Two threads noting one client's follows see one client. */
static void test_two_threads(void **state)
{
    (void)state;
    struct burst *b = burst_new(4096);
    struct runner r[2] = {{b, 0}, {b, 1}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, note_half, &r[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    for (uint64_t c = 1; c <= 200; c++)
        assert_int_equal(burst_scanner(b, c * 0x9E3779B97F4A7C15ull, 500), c % 2 == 1);
    burst_free(b);
}

struct taken {
    uint64_t follows;
    char last[8];
};

static void take(const struct held_follow *f, void *arg)
{
    struct taken *t = arg;
    t->follows += f->count;
    memcpy(t->last, f->code, f->code_len + 1);
}

static void test_held(void **state)
{
    (void)state;
    struct held *h = held_new(2);
    assert_true(held_add(h, 1, 10, 20, 5, "ab", 2, 77, "camp", 4));
    assert_true(held_add(h, 1, 10, 21, 5, "ab", 2, 77, "camp", 4)); /* folded */
    assert_true(held_add(h, 2, 10, 22, 5, "cd", 2, 78, NULL, 0));
    assert_false(held_add(h, 3, 10, 23, 5, "ef", 2, 79, NULL, 0)); /* full */
    assert_int_equal(held_follows(h), 3);
    struct taken t = {0};
    assert_int_equal(held_take_due(h, 19, take, &t), 0);
    assert_int_equal(held_take_due(h, 20, take, &t), 2);
    assert_string_equal(t.last, "ab");
    assert_true(held_add(h, 3, 10, 23, 5, "ef", 2, 79, NULL, 0)); /* room again */
    assert_int_equal(held_take_due(h, UINT32_MAX, take, &t), 2);
    assert_int_equal(t.follows, 4);
    assert_int_equal(held_follows(h), 0);
    held_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hourly_key), cmocka_unit_test(test_rule),
        cmocka_unit_test(test_full),       cmocka_unit_test(test_two_threads),
        cmocka_unit_test(test_held),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
