/* Unit tests for reply: exact bytes of redirects and fixed responses, and the
 * last check on a Location. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "reply.h"

static struct reply_date date(void)
{
    struct reply_date d = {0};
    reply_date_update(&d, 1796000000); /* Mon, 30 Nov 2026 00:53:20 UTC */
    return d;
}

static void test_redirect_bytes(void **state)
{
    (void)state;
    struct reply_buf b = {0};
    struct reply_date d = date();
    const char *loc = "https://example.com/x";
    assert_int_equal(reply_redirect(&b, &d, 302, loc, strlen(loc), 0, REPLY_KEEP), 302);
    const char *want = "HTTP/1.1 302 Found\r\nLocation: https://example.com/x\r\n"
                       "Date: Mon, 30 Nov 2026 00:53:20 GMT\r\n"
                       "Cache-Control: private, no-store\r\nX-Robots-Tag: noindex\r\n"
                       "Content-Length: 0\r\n\r\n";
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.p, want, b.len);
    assert_null(memmem(b.p, b.len, "Set-Cookie", 10));
    reply_buf_free(&b);

    assert_int_equal(
        reply_redirect(&b, &d, 307, loc, strlen(loc), REPLY_TK_N, REPLY_CLOSE), 307);
    assert_non_null(memmem(b.p, b.len, "HTTP/1.1 307 Temporary Redirect\r\n", 33));
    assert_non_null(memmem(b.p, b.len, "\r\nTk: N\r\n", 9));
    assert_non_null(memmem(b.p, b.len, "\r\nConnection: close\r\n\r\n", 23));
    reply_buf_free(&b);
}

static void test_unsafe_location(void **state)
{
    (void)state;
    struct reply_buf b = {0};
    struct reply_date d = date();
    const char *bad = "https://e.com/\r\nSet-Cookie: a=b";
    assert_int_equal(reply_redirect(&b, &d, 302, bad, strlen(bad), 0, REPLY_KEEP), -1);
    assert_memory_equal(b.p, "HTTP/1.1 404 ", 13);
    assert_null(memmem(b.p, b.len, "Set-Cookie", 10));
    reply_buf_free(&b);
    assert_false(reply_location_safe("", 0));
    assert_false(reply_location_safe("a b", 3));
    assert_true(reply_location_safe("https://e.com/", 14));
}

static void test_fixed(void **state)
{
    (void)state;
    struct reply_buf b = {0};
    struct reply_date d = date();
    assert_int_equal(reply_fixed(&b, &d, REPLY_ROBOTS, false, REPLY_KEEP), 200);
    assert_non_null(memmem(b.p, b.len, "\r\n\r\nUser-agent: *\nDisallow: /\n", 30));
    reply_buf_free(&b);

    assert_int_equal(reply_fixed(&b, &d, REPLY_BAD_METHOD, true, REPLY_CLOSE), 405);
    assert_non_null(memmem(b.p, b.len, "Allow: GET, HEAD\r\n", 18));
    assert_non_null(memmem(b.p, b.len, "Content-Length: 19\r\n", 20));
    assert_memory_equal(b.p + b.len - 4, "\r\n\r\n", 4); /* HEAD: no body */
    reply_buf_free(&b);

    assert_int_equal(reply_fixed(&b, &d, REPLY_UNAVAILABLE, false, REPLY_KEEP_10), 503);
    assert_non_null(memmem(b.p, b.len, "Retry-After: 5\r\n", 16));
    assert_non_null(memmem(b.p, b.len, "Connection: keep-alive\r\n", 24));
    reply_buf_free(&b);

    assert_int_equal(reply_fixed(&b, &d, REPLY_GPC, false, REPLY_KEEP), 200);
    assert_non_null(memmem(b.p, b.len, "{\"gpc\": true", 12));
    reply_buf_free(&b);
    assert_int_equal(reply_kind_status(REPLY_URI_TOO_LONG), 414);
    assert_int_equal(reply_kind_status(REPLY_HEADERS_TOO_LARGE), 431);
    assert_int_equal(reply_kind_status(REPLY_PREFETCH_REFUSED), 503);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redirect_bytes),
        cmocka_unit_test(test_unsafe_location),
        cmocka_unit_test(test_fixed),
    };
    return cmocka_run_group_tests_name("reply", tests, NULL, NULL);
}
