/* Unit tests for realip (X-Forwarded-For behind trusted proxies) and
 * proxyproto (PROXY protocol v1 and v2 headers). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "cidr.h"
#include "proxyproto.h"
#include "realip.h"

static struct cidr_addr addr(const char *s)
{
    struct cidr_addr a;
    assert_true(cidr_addr_parse(&a, s, strlen(s)));
    return a;
}

static bool same(struct cidr_addr a, const char *s)
{
    struct cidr_addr b = addr(s);
    return memcmp(a.b, b.b, 16) == 0;
}

/* The client behind peer, given the header v. */
static struct cidr_addr xff(const char *peer, const char *v,
                            const struct cidr_set *trusted)
{
    struct cidr_addr a = addr(peer);
    realip_from_xff(v, strlen(v), trusted, &a);
    return a;
}

static void test_xff_rightmost_untrusted(void **state)
{
    (void)state;
    const char *nets = "10.0.0.0/8\n192.168.1.1\nfd00::/8\n";
    struct cidr_set *t = cidr_set_parse(nets, strlen(nets), "t", stderr);
    assert_non_null(t);
    /* One hop. */
    assert_true(same(xff("10.1.1.1", "203.0.113.7", t), "203.0.113.7"));
    /* Spoofed entries left of the real client are never believed. */
    assert_true(
        same(xff("10.1.1.1", "6.6.6.6, 203.0.113.7, 10.2.2.2", t), "203.0.113.7"));
    /* Ports, brackets, spaces, IPv6. */
    assert_true(same(xff("10.1.1.1", "203.0.113.7:5555", t), "203.0.113.7"));
    assert_true(
        same(xff("10.1.1.1", " [2001:db8::5]:443 ,192.168.1.1", t), "2001:db8::5"));
    assert_true(same(xff("10.1.1.1", "2001:db8::6", t), "2001:db8::6"));
    /* All trusted: the leftmost. */
    assert_true(same(xff("10.1.1.1", "10.9.9.9, 192.168.1.1", t), "10.9.9.9"));
    /* Garbage stops the walk at the last address believed. */
    assert_true(same(xff("10.1.1.1", "203.0.113.7, unknown", t), "10.1.1.1"));
    assert_true(same(xff("10.1.1.1", "unknown, 10.3.3.3", t), "10.3.3.3"));
    assert_true(same(xff("10.1.1.1", "1.2.3.4,,10.3.3.3", t), "10.3.3.3"));
    assert_true(same(xff("10.1.1.1", "", t), "10.1.1.1"));
    assert_true(same(xff("10.1.1.1", "[2001:db8::5", t), "10.1.1.1"));
    assert_true(same(xff("10.1.1.1", "[2001:db8::5]x", t), "10.1.1.1"));
    cidr_set_free(t);
}

static int pp(const char *s, size_t len, struct cidr_addr *a, bool *has)
{
    return proxyproto_parse((const unsigned char *)s, len, a, has);
}

static void test_proxy_v1(void **state)
{
    (void)state;
    struct cidr_addr a;
    bool has = false;
    const char *h = "PROXY TCP4 198.51.100.22 203.0.113.1 35646 80\r\nGET / HTTP/1.1\r\n";
    size_t hl = strlen("PROXY TCP4 198.51.100.22 203.0.113.1 35646 80\r\n");
    assert_int_equal(pp(h, strlen(h), &a, &has), (int)hl);
    assert_true(has);
    assert_true(same(a, "198.51.100.22"));
    /* Every prefix is "more, please". */
    for (size_t i = 0; i < hl; i++)
        assert_int_equal(pp(h, i, &a, &has), 0);
    const char *h6 = "PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n";
    assert_int_equal(pp(h6, strlen(h6), &a, &has), (int)strlen(h6));
    assert_true(same(a, "2001:db8::1"));
    const char *unk = "PROXY UNKNOWN whatever\r\n";
    assert_int_equal(pp(unk, strlen(unk), &a, &has), (int)strlen(unk));
    assert_false(has);
    const char *bad[] = {
        "GET / HTTP/1.1\r\n",
        "PROXY TCP4 198.51.100.22 203.0.113.1 35646\r\n",
        "PROXY TCP4 198.51.100.22 203.0.113.1 35646 80 9\r\n",
        "PROXY TCP4 2001:db8::1 203.0.113.1 1 2\r\n",
        "PROXY TCP6 198.51.100.22 2001:db8::2 1 2\r\n",
        "PROXY TCP4 198.51.100.22 203.0.113.1 65536 80\r\n",
        "PROXY TCP4 198.51.100.22 203.0.113.1 080 80\r\n",
        "PROXY TCP4  198.51.100.22 203.0.113.1 1 80\r\n",
        "PROXY TCP4 198.51.100.22 203.0.113.1 1 80\n",
        "PROXY TCP4 198.51.100.22 203.0.113.1 1 80\rX",
        "PROXY UDP4 198.51.100.22 203.0.113.1 1 80\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (pp(bad[i], strlen(bad[i]), &a, &has) != -1)
            fail_msg("accepted: %s", bad[i]);
    /* No end within 107 bytes. */
    char longl[200] = "PROXY TCP4 ";
    memset(longl + 11, '1', 150);
    assert_int_equal(pp(longl, 161, &a, &has), -1);
}

static size_t v2(unsigned char *b, unsigned cmd, unsigned fam, const unsigned char *body,
                 size_t blen)
{
    static const unsigned char sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                          0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
    memcpy(b, sig, 12);
    b[12] = (unsigned char)(0x20 | cmd);
    b[13] = (unsigned char)fam;
    b[14] = (unsigned char)(blen >> 8);
    b[15] = (unsigned char)blen;
    memcpy(b + 16, body, blen);
    return 16 + blen;
}

static void test_proxy_v2(void **state)
{
    (void)state;
    unsigned char b[700],
        body[600] = {198, 51, 100, 23, 203, 0, 113, 1, 0x8b, 0x3e, 0, 80};
    struct cidr_addr a;
    bool has;
    size_t n = v2(b, 1, 0x11, body, 12);
    assert_int_equal(proxyproto_parse(b, n, &a, &has), (int)n);
    assert_true(has);
    assert_true(same(a, "198.51.100.23"));
    for (size_t i = 0; i < n; i++)
        assert_int_equal(proxyproto_parse(b, i, &a, &has), 0);
    /* With TLVs after the addresses. */
    n = v2(b, 1, 0x11, body, 40);
    assert_int_equal(proxyproto_parse(b, n, &a, &has), (int)n);
    /* IPv6. */
    unsigned char b6[36] = {0x20, 0x01, 0x0d, 0xb8, [15] = 9};
    n = v2(b, 1, 0x21, b6, 36);
    assert_int_equal(proxyproto_parse(b, n, &a, &has), (int)n);
    assert_true(same(a, "2001:db8::9"));
    /* LOCAL: no address. */
    n = v2(b, 0, 0x00, body, 0);
    assert_int_equal(proxyproto_parse(b, n, &a, &has), (int)n);
    assert_false(has);
    /* Short address block, bad version, unknown family, too long. */
    n = v2(b, 1, 0x11, body, 8);
    assert_int_equal(proxyproto_parse(b, n, &a, &has), -1);
    n = v2(b, 1, 0x11, body, 12);
    b[12] = 0x11;
    assert_int_equal(proxyproto_parse(b, n, &a, &has), -1);
    n = v2(b, 1, 0x41, body, 12);
    assert_int_equal(proxyproto_parse(b, n, &a, &has), -1);
    n = v2(b, 1, 0x11, body, 600);
    assert_int_equal(proxyproto_parse(b, n, &a, &has), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xff_rightmost_untrusted),
        cmocka_unit_test(test_proxy_v1),
        cmocka_unit_test(test_proxy_v2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
