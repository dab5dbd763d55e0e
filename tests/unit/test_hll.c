/* Unit tests for hll: a hash's cell, the element that sets it (checked
 * against a real redis-server by reading the HyperLogLog's registers back),
 * and the set of cells one key gathers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../e2e/harness.h"
#include "hll.h"

static void test_cell_of(void **state)
{
    (void)state;
    assert_int_equal(hll_cell_of(0x4000), (0u << 8) | 1); /* bit 14 set: rank 1 */
    assert_int_equal(hll_cell_of(0x3fff | 0x10000), (0x3fffu << 8) | 3);
    assert_int_equal(hll_cell_of(0x1234), (0x1234u << 8) | 51); /* no bit above */
    assert_int_equal(hll_cell_of(1ull << 63 | 5), (5u << 8) | 50);
    uint64_t h = 1;
    for (int i = 0; i < 100000; i++, h = h * 6364136223846793005ull + 1)
        assert_true(hll_cell_valid(hll_cell_of(h))); /* every cell it makes */
    assert_false(hll_cell_valid(0));
    assert_false(hll_cell_valid((HLL_REGISTERS << 8) | 1));
    assert_false(hll_cell_valid((7u << 8) | 52));
}

/* The registers of a sparse HyperLogLog string (Redis's layout: a 16-byte
 * header "HYLL", encoding 1; then ZERO 00xxxxxx, XZERO 01xxxxxx yyyyyyyy
 * and VAL 1vvvvvxx opcodes); regs gets each register's value. */
static void sparse_registers(const unsigned char *s, size_t len, unsigned char *regs)
{
    assert_true(len >= 16 && memcmp(s, "HYLL", 4) == 0 && s[4] == 1);
    size_t reg = 0;
    for (size_t i = 16; i < len;) {
        unsigned op = s[i];
        if ((op & 0xc0) == 0) {
            reg += (op & 0x3f) + 1;
            i++;
        } else if ((op & 0xc0) == 0x40) {
            assert_true(i + 1 < len);
            reg += (((op & 0x3f) << 8) | s[i + 1]) + 1;
            i += 2;
        } else {
            unsigned v = ((op >> 2) & 0x1f) + 1, run = (op & 3) + 1;
            for (unsigned k = 0; k < run; k++)
                regs[reg++] = (unsigned char)v;
            i++;
        }
        assert_true(reg <= HLL_REGISTERS);
    }
    assert_int_equal(reg, HLL_REGISTERS);
}

/* PFADD of a cell's element into an empty key sets that register, to that
 * rank, and nothing else: for the edges and thousands of random cells. */
static void test_element_sets_its_cell(void **state)
{
    (void)state;
    struct h_redis r = {0};
    assert_int_equal(h_redis_start(&r), 0);
    redisContext *c = h_redis_connect(&r);
    assert_non_null(c);
    static unsigned char regs[HLL_REGISTERS];
    srand(7);
    enum { N = 3000 };
    for (int i = 0; i < N; i++) {
        unsigned reg = i == 0   ? 0
                       : i == 1 ? HLL_REGISTERS - 1
                                : (unsigned)rand() % HLL_REGISTERS;
        /* Ranks above 32 make Redis turn the key dense: 1..32 here. */
        unsigned rank = i == 2 ? 32 : i == 3 ? 1 : 1 + (unsigned)rand() % 32;
        hll_cell cell = (hll_cell)(reg << 8 | rank);
        unsigned char el[8];
        hll_element(cell, el);
        redisReply *rep = redisCommand(c, "PFADD k %b", el, sizeof(el));
        assert_non_null(rep);
        assert_int_equal(rep->integer, 1);
        freeReplyObject(rep);
        rep = redisCommand(c, "GET k");
        assert_non_null(rep);
        memset(regs, 0, sizeof(regs));
        sparse_registers((const unsigned char *)rep->str, rep->len, regs);
        freeReplyObject(rep);
        for (unsigned j = 0; j < HLL_REGISTERS; j++)
            if (regs[j] != (j == reg ? rank : 0))
                fail_msg("cell %u/%u: register %u is %u", reg, rank, j, regs[j]);
        freeReplyObject(redisCommand(c, "DEL k"));
    }
    /* The top ranks: the key turns dense, and PFCOUNT still sees one. */
    for (unsigned rank = 33; rank <= HLL_RANK_MAX; rank++) {
        unsigned char el[8];
        hll_element((hll_cell)(77u << 8 | rank), el);
        redisReply *rep = redisCommand(c, "PFADD top%u %b", rank, el, sizeof(el));
        assert_int_equal(rep->integer, 1);
        freeReplyObject(rep);
    }
    redisFree(c);
    h_redis_stop(&r, false);
}

/* A cell's element is a function of the cell alone, and distinct cells
 * have distinct elements. */
static void test_element_is_the_cell(void **state)
{
    (void)state;
    unsigned char a[8], b[8];
    hll_element((5u << 8) | 3, a);
    hll_element((5u << 8) | 3, b);
    assert_memory_equal(a, b, 8);
    hll_element((5u << 8) | 4, b);
    assert_memory_not_equal(a, b, 8);
    hll_element((6u << 8) | 3, b);
    assert_memory_not_equal(a, b, 8);
}

static void test_set(void **state)
{
    (void)state;
    struct hll_set s = {0};
    assert_int_equal(hll_set_add(&s, (9u << 8) | 2), 1);
    assert_int_equal(hll_set_add(&s, (9u << 8) | 1), 0); /* lower: kept at 2 */
    assert_int_equal(hll_set_add(&s, (9u << 8) | 5), 0); /* higher: raised */
    assert_int_equal(s.n, 1);
    /* Every register: the set grows to hold them all, each once. */
    for (unsigned reg = 0; reg < HLL_REGISTERS; reg++)
        hll_set_add(&s, (hll_cell)(reg << 8 | 1));
    assert_int_equal(s.n, HLL_REGISTERS);
    unsigned seen = 0, rank9 = 0;
    for (uint32_t i = 0; i < s.cap; i++) {
        hll_cell c = hll_set_slot(&s, i);
        if (c == 0)
            continue;
        seen++;
        if (hll_cell_register(c) == 9)
            rank9 = hll_cell_rank(c);
    }
    assert_int_equal(seen, HLL_REGISTERS);
    assert_int_equal(rank9, 5);
    hll_set_free(&s);
    assert_int_equal(s.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cell_of),
        cmocka_unit_test(test_element_sets_its_cell),
        cmocka_unit_test(test_element_is_the_cell),
        cmocka_unit_test(test_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
