/* Unit tests for tally: aggregation per key and hour, bounds, take. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "hash.h"
#include "tally.h"

/* The daemon's entry point, with a hint of its own (empty each time). */
static int add(struct tally *t, enum tally_kind k, const char *name, int64_t hour,
               enum tally_class cls)
{
    struct tally_hint hint = {0};
    return tally_add_hinted(t, &hint, k, hash_bytes(name, strlen(name)), name,
                            strlen(name), hour, cls);
}

static struct tally_entry *find(struct tally_entry *list, enum tally_kind k,
                                const char *name, int64_t hour)
{
    for (; list; list = list->next)
        if (list->kind == k && list->hour == hour && strcmp(list->name, name) == 0)
            return list;
    return NULL;
}

static void test_aggregates(void **state)
{
    (void)state;
    struct tally *t = tally_new(1000);
    for (int i = 0; i < 5; i++)
        assert_int_equal(add(t, TALLY_LINK, "a", 100, TALLY_HUMAN), 0);
    assert_int_equal(add(t, TALLY_LINK, "a", 100, TALLY_BOT), 0);
    assert_int_equal(add(t, TALLY_LINK, "a", 101, TALLY_HUMAN), 0);
    assert_int_equal(add(t, TALLY_CAMPAIGN, "a", 100, TALLY_HUMAN), 0);
    assert_int_equal(add(t, TALLY_LINK, "a", 100, TALLY_SCAN), 0);
    assert_int_equal(add(t, TALLY_LINK, "a", 100, TALLY_SCAN), 0);
    assert_int_equal(tally_keys(t), 3);
    assert_int_equal(tally_follows(t), 10);

    struct tally_entry *list = tally_take(t);
    assert_int_equal(tally_keys(t), 0);
    assert_int_equal(tally_follows(t), 0);
    struct tally_entry *e = find(list, TALLY_LINK, "a", 100);
    assert_non_null(e);
    assert_int_equal(e->human, 5);
    assert_int_equal(e->bot, 1);
    assert_int_equal(e->scan, 2);
    assert_int_equal(tally_entry_follows(e), 8);
    assert_int_equal(find(list, TALLY_LINK, "a", 101)->human, 1);
    assert_int_equal(find(list, TALLY_CAMPAIGN, "a", 100)->human, 1);
    tally_list_free(list);
    tally_free(t);
}

static void test_bound(void **state)
{
    (void)state;
    struct tally *t = tally_new(1000);
    char name[16];
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof(name), "c%d", i);
        assert_int_equal(add(t, TALLY_LINK, name, 1, TALLY_HUMAN), 0);
    }
    assert_int_equal(add(t, TALLY_LINK, "new", 1, TALLY_HUMAN),
                     -1);                                        /* new key: refused */
    assert_int_equal(add(t, TALLY_LINK, "c7", 1, TALLY_BOT), 0); /* old key: counted */
    assert_int_equal(tally_keys(t), 1000);
    assert_int_equal(tally_follows(t), 1001);
    tally_free(t);
}

/* Unique followers' cells: one entry per (kind, name, day), each register
 * once at its highest rank, apart from the counters; cells take room at
 * TALLY_CELLS_PER_KEY a key. */
static void test_cells(void **state)
{
    (void)state;
    struct tally *t = tally_new(4);
    struct tally_hint lh = {0}, ch = {0};
    uint64_t h = hash_bytes("c1", 2);
    assert_int_equal(
        tally_add_cell(t, &lh, TALLY_LINK_UNIQ, h, "c1", 2, 24, (5u << 8) | 2), 0);
    assert_int_equal(
        tally_add_cell(t, &lh, TALLY_LINK_UNIQ, h, "c1", 2, 24, (5u << 8) | 4), 0);
    assert_int_equal(
        tally_add_cell(t, &lh, TALLY_LINK_UNIQ, h, "c1", 2, 24, (6u << 8) | 1), 0);
    assert_int_equal(
        tally_add_cell(t, &ch, TALLY_CAMPAIGN_UNIQ, h, "c1", 2, 24, (5u << 8) | 1), 0);
    assert_int_equal(add(t, TALLY_LINK, "c1", 24, TALLY_HUMAN), 0);
    assert_int_equal(tally_keys(t), 3);
    assert_int_equal(tally_cells(t), 3);
    assert_int_equal(tally_follows(t), 1); /* cells are not follows */
    struct tally_entry *list = tally_take(t);
    struct tally_entry *lu = find(list, TALLY_LINK_UNIQ, "c1", 24);
    assert_non_null(lu);
    assert_true(tally_entry_uniq(lu));
    assert_int_equal(lu->cells.n, 2);
    assert_int_equal(tally_entry_follows(lu), 0);
    bool rank4 = false;
    for (uint32_t i = 0; i < lu->cells.cap; i++)
        rank4 |= hll_set_slot(&lu->cells, i) == ((5u << 8) | 4);
    assert_true(rank4);
    assert_false(tally_entry_uniq(find(list, TALLY_LINK, "c1", 24)));
    tally_list_free(list);
    assert_int_equal(tally_cells(t), 0);

    /* Room: 4 keys, or 3 keys and TALLY_CELLS_PER_KEY cells. */
    struct tally_hint hint = {0};
    for (unsigned reg = 0; reg < TALLY_CELLS_PER_KEY; reg++)
        assert_int_equal(tally_add_cell(t, &hint, TALLY_LINK_UNIQ, h, "c1", 2, 0,
                                        (hll_cell)(reg << 8 | 1)),
                         0);
    assert_int_equal(add(t, TALLY_LINK, "a", 0, TALLY_HUMAN), 0);
    assert_int_equal(add(t, TALLY_LINK, "b", 0, TALLY_HUMAN), 0);
    assert_int_equal(add(t, TALLY_LINK, "c", 0, TALLY_HUMAN), -1); /* full */
    assert_int_equal(
        tally_add_cell(t, &hint, TALLY_LINK_UNIQ, h, "c1", 2, 0, (99u << 8) | 1), -1);
    assert_int_equal(add(t, TALLY_LINK, "a", 0, TALLY_HUMAN), 0); /* a key it holds */
    tally_free(t);
}

static void test_many_keys_grow(void **state)
{
    (void)state;
    struct tally *t = tally_new(100000);
    char name[16];
    for (int r = 0; r < 3; r++)
        for (int i = 0; i < 20000; i++) {
            snprintf(name, sizeof(name), "k%d", i);
            assert_int_equal(add(t, TALLY_LINK, name, 7, TALLY_HUMAN), 0);
        }
    assert_int_equal(tally_keys(t), 20000);
    struct tally_entry *list = tally_take(t);
    size_t n = 0;
    for (struct tally_entry *e = list; e; e = e->next) {
        assert_int_equal(e->human, 3);
        n++;
    }
    assert_int_equal(n, 20000);
    tally_list_free(list);
    tally_free(t);
}

/* A hint skips the lookup within an epoch and is never followed after a
 * take freed its entry (ASan would catch a stale dereference). */
static void test_hints(void **state)
{
    (void)state;
    struct tally *t = tally_new(1000);
    struct tally_hint hint = {0};
    uint64_t h = hash_bytes("a", 1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(
            tally_add_hinted(t, &hint, TALLY_LINK, h, "a", 1, 9, TALLY_HUMAN), 0);
    assert_non_null(hint.e);
    assert_int_equal(add(t, TALLY_LINK, "a", 9, TALLY_BOT), 0); /* same key, no hint */
    assert_int_equal(tally_keys(t), 1);
    assert_int_equal(hint.e->human, 3);
    assert_int_equal(hint.e->bot, 1);
    /* Another hour: a new key, and the hint moves to it. */
    assert_int_equal(tally_add_hinted(t, &hint, TALLY_LINK, h, "a", 1, 10, TALLY_HUMAN),
                     0);
    assert_int_equal(tally_keys(t), 2);
    assert_int_equal(hint.e->hour, 10);

    tally_list_free(tally_take(t)); /* the hinted entry is freed */
    assert_int_equal(tally_add_hinted(t, &hint, TALLY_LINK, h, "a", 1, 10, TALLY_BOT), 0);
    struct tally_entry *list = tally_take(t);
    assert_non_null(list);
    assert_null(list->next);
    assert_int_equal(list->bot, 1);
    assert_int_equal(list->human, 0);
    tally_list_free(list);
    tally_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aggregates), cmocka_unit_test(test_bound),
        cmocka_unit_test(test_cells),      cmocka_unit_test(test_many_keys_grow),
        cmocka_unit_test(test_hints),
    };
    return cmocka_run_group_tests_name("tally", tests, NULL, NULL);
}
