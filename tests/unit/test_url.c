/* Unit tests for url: what may become a Location, and the forward_query join. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "url.h"

static bool ok(const char *s)
{
    return url_target_ok(s, strlen(s), NULL);
}

static void test_targets(void **state)
{
    (void)state;
    assert_true(ok("https://example.com"));
    assert_true(ok("http://example.com/a/b?c=d&e=f#frag"));
    assert_true(ok("HTTPS://EXAMPLE.COM/X"));
    assert_true(ok("https://example.com:8443/x"));
    assert_true(ok("https://[2001:db8::1]/x"));
    assert_true(ok("https://example.com/%E2%9C%93"));

    assert_false(ok(""));
    assert_false(ok("javascript:alert(1)"));
    assert_false(ok("data:text/html,hi"));
    assert_false(ok("ftp://example.com/x"));
    assert_false(ok("//evil.example/x"));
    assert_false(ok("/relative/path"));
    assert_false(ok("relative"));
    assert_false(ok("http://"));
    assert_false(ok("https:///path"));
    assert_false(ok("https://example.com/a b"));
    assert_false(ok("https://example.com/\r\nSet-Cookie: x=1"));
    assert_false(ok("https://example.com/\n"));
    assert_false(ok("https://example.com/\t"));
    assert_false(ok("https://example.com/caf\xc3\xa9"));
    assert_false(ok("https://example.com/<script>"));
    assert_false(url_target_ok("https://example.com/\0x", 21, NULL));

    char big[URL_MAX_LEN + 2];
    memcpy(big, "https://example.com/", 20);
    memset(big + 20, 'a', sizeof(big) - 21);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(strlen(big), URL_MAX_LEN + 1);
    const char *why = NULL;
    assert_false(url_target_ok(big, strlen(big), &why));
    assert_string_equal(why, "URL longer than 2048 bytes");
    assert_true(url_target_ok(big, URL_MAX_LEN, NULL));
}

static void join(const char *t, const char *q, const char *want)
{
    char out[URL_MAX_LEN + 1];
    int n = url_join_query(t, strlen(t), q, strlen(q), out, sizeof(out));
    if (want == NULL) {
        assert_int_equal(n, -1);
        return;
    }
    assert_int_equal(n, (int)strlen(want));
    assert_string_equal(out, want);
}

static void test_join(void **state)
{
    (void)state;
    join("https://e.com/x", "utm_source=nl", "https://e.com/x?utm_source=nl");
    join("https://e.com/x?a=1", "utm_source=nl", "https://e.com/x?a=1&utm_source=nl");
    join("https://e.com/x?", "b=2", "https://e.com/x?b=2");
    join("https://e.com/x?a=1&", "b=2", "https://e.com/x?a=1&b=2");
    join("https://e.com/x#top", "b=2", "https://e.com/x?b=2#top");
    join("https://e.com/x", "", "https://e.com/x");
    /* Bytes outside the URL-safe set are percent-encoded, triplets kept. */
    join("https://e.com/x", "q=a b\"<>", "https://e.com/x?q=a%20b%22%3C%3E");
    join("https://e.com/x", "q=%41%zz", "https://e.com/x?q=%41%25zz");
    join("https://e.com/x", "q=\r\nSet-Cookie:x", "https://e.com/x?q=%0D%0ASet-Cookie:x");
    join("https://e.com/x", "q=\xff", "https://e.com/x?q=%FF");
    join("https://e.com/x", "a#b", "https://e.com/x?a%23b");

    char q[URL_MAX_LEN];
    memset(q, 'a', sizeof(q) - 1);
    q[sizeof(q) - 1] = '\0';
    join("https://e.com/x", q, NULL); /* would pass 2048 bytes */

    char small[8];
    assert_int_equal(
        url_join_query("https://e.com/x", 15, "a=1", 3, small, sizeof(small)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_targets),
        cmocka_unit_test(test_join),
    };
    return cmocka_run_group_tests_name("url", tests, NULL, NULL);
}
