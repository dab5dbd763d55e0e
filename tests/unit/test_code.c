/* Unit tests for code: short-code and campaign-name syntax. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "code.h"

static bool ok(const char *s)
{
    return code_valid(s, strlen(s));
}

static void test_codes(void **state)
{
    (void)state;
    char max[65], over[66];
    memset(max, 'a', 64);
    max[64] = '\0';
    memset(over, 'a', 65);
    over[65] = '\0';
    assert_true(ok("a"));
    assert_true(ok("spring24"));
    assert_true(ok("A-b_C-9"));
    assert_true(ok(max));
    assert_false(ok(over));
    assert_false(ok(""));
    assert_false(ok("a.b"));
    assert_false(ok("a/b"));
    assert_false(ok("a b"));
    assert_false(ok("a%20"));
    assert_false(ok("caf\xc3\xa9"));
    assert_false(code_valid("ab\0c", 4)); /* NUL inside */
    assert_false(ok("a\r\nb"));
}

static void test_campaigns(void **state)
{
    (void)state;
    assert_true(code_campaign_valid("spring.2024_x-y", 15));
    assert_false(code_campaign_valid("", 0));
    assert_false(code_campaign_valid("a:b", 3));
    assert_false(code_campaign_valid("a b", 3));
    char over[66];
    memset(over, 'c', 65);
    assert_false(code_campaign_valid(over, 65));
    assert_true(code_campaign_valid(over, 64));
}

/* Random codes: valid, of the asked length, only from the look-alike-free
 * alphabet, every character of it reachable, and not repeating. */
static void test_random(void **state)
{
    (void)state;
    char code[CODE_MAX_LEN + 1];
    int seen[256] = {0};
    char first[9];

    assert_int_equal(code_random(first, 8), 0);
    for (int i = 0; i < 2000; i++) {
        size_t len =
            (size_t)(CODE_RANDOM_MIN_LEN + i % (CODE_MAX_LEN - CODE_RANDOM_MIN_LEN + 1));
        memset(code, '!', sizeof(code));
        assert_int_equal(code_random(code, len), 0);
        assert_int_equal(strlen(code), len);
        assert_true(code_valid(code, len));
        assert_null(strpbrk(code, "0Oo1lI-_"));
        for (size_t j = 0; j < len; j++)
            seen[(unsigned char)code[j]]++;
        if (len == 8)
            assert_string_not_equal(code, first);
    }
    int distinct = 0;
    for (int c = 0; c < 256; c++)
        distinct += seen[c] > 0;
    assert_int_equal(distinct, 56);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codes),
        cmocka_unit_test(test_campaigns),
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests_name("code", tests, NULL, NULL);
}
