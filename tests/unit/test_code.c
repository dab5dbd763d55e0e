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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codes),
        cmocka_unit_test(test_campaigns),
    };
    return cmocka_run_group_tests_name("code", tests, NULL, NULL);
}
