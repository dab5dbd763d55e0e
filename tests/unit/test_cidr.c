/* cidr: parsing (every error at its line), merging, and lookups checked
 * against a plain scan of the networks for random addresses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"

static struct cidr_set *parse(const char *text, char **errs)
{
    size_t len;
    FILE *err = open_memstream(errs, &len);
    struct cidr_set *s = cidr_set_parse(text, strlen(text), "s.txt", err);
    fclose(err);
    return s;
}

static bool has(const struct cidr_set *s, const char *addr)
{
    struct sockaddr_in in = {.sin_family = AF_INET};
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
    if (inet_pton(AF_INET, addr, &in.sin_addr) == 1)
        return cidr_set_contains(s, (struct sockaddr *)&in);
    assert_int_equal(inet_pton(AF_INET6, addr, &in6.sin6_addr), 1);
    return cidr_set_contains(s, (struct sockaddr *)&in6);
}

static void test_match(void **state)
{
    (void)state;
    char *errs = NULL;
    struct cidr_set *s =
        parse("# Example Gateway (https://example.com/ranges.json)\n"
              "192.0.2.0/24   # a comment after a network\n"
              "\n   198.51.100.7\r\n"
              "2001:db8::/32\n"
              "203.0.113.0/25\n203.0.113.128/25\n", /* adjacent: merged */
              &errs);
    free(errs);
    assert_non_null(s);
    assert_int_equal(cidr_set_ranges(s), 4);
    assert_true(has(s, "192.0.2.0"));
    assert_true(has(s, "192.0.2.255"));
    assert_false(has(s, "192.0.3.0"));
    assert_false(has(s, "192.0.1.255"));
    assert_true(has(s, "198.51.100.7"));
    assert_false(has(s, "198.51.100.8"));
    assert_true(has(s, "203.0.113.200"));
    assert_true(has(s, "2001:db8:ffff::1"));
    assert_false(has(s, "2001:db9::"));
    /* An IPv4 client on a dual-stack socket. */
    assert_true(has(s, "::ffff:192.0.2.10"));
    assert_false(has(s, "::ffff:10.0.0.1"));
    cidr_set_free(s);

    s = parse("0.0.0.0/0\n::/0\n", &errs); /* everything */
    free(errs);
    assert_non_null(s);
    assert_true(has(s, "255.255.255.255"));
    assert_true(has(s, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
    cidr_set_free(s);
    assert_false(cidr_set_contains(NULL, NULL));
}

static void test_errors(void **state)
{
    (void)state;
    char *errs = NULL;
    assert_null(parse("192.0.2.0/24\n192.0.2.1/24\n10.0.0.0/33\nexample.com\n"
                      "2001:db8::/129\n/8\n",
                      &errs));
    assert_non_null(strstr(errs, "s.txt:2: host bits set below the prefix"));
    assert_non_null(strstr(errs, "s.txt:3: prefix length not 0..32"));
    assert_non_null(
        strstr(errs, "s.txt:4: not an IPv4 or IPv6 address: \"example.com\""));
    assert_non_null(strstr(errs, "s.txt:5: prefix length not 0..128"));
    assert_non_null(strstr(errs, "s.txt:6: not an address"));
    free(errs);
    assert_null(cidr_set_load("/nonexistent/scanners.txt", stderr));
}

/* 10,000 random IPv4 networks, overlapping at will: every lookup agrees with
 * a scan of the networks as written. */
static void test_against_scan(void **state)
{
    (void)state;
    enum { N = 10000, PROBES = 200000 };
    static uint32_t base[N], mask[N];
    char *text = malloc((size_t)N * 24), *p = text;
    srand(12345);
    for (int i = 0; i < N; i++) {
        int bits = 8 + rand() % 25; /* /8 .. /32 */
        mask[i] = bits == 32 ? UINT32_MAX : ~(UINT32_MAX >> bits);
        base[i] = ((uint32_t)rand() << 1 ^ (uint32_t)rand()) & mask[i];
        p += sprintf(p, "%u.%u.%u.%u/%d\n", base[i] >> 24, base[i] >> 16 & 255,
                     base[i] >> 8 & 255, base[i] & 255, bits);
    }
    char *errs = NULL;
    size_t elen;
    FILE *err = open_memstream(&errs, &elen);
    struct cidr_set *s = cidr_set_parse(text, (size_t)(p - text), "big", err);
    fclose(err);
    free(errs);
    assert_non_null(s);
    int hits = 0;
    for (int k = 0; k < PROBES; k++) {
        uint32_t a = k % 2 ? base[rand() % N] + (uint32_t)(rand() % 512)
                           : ((uint32_t)rand() << 1 ^ (uint32_t)rand());
        bool want = false;
        for (int i = 0; i < N && !want; i++)
            want = (a & mask[i]) == base[i];
        struct sockaddr_in in = {.sin_family = AF_INET};
        in.sin_addr.s_addr = htonl(a);
        assert_int_equal(cidr_set_contains(s, (struct sockaddr *)&in), want);
        hits += want;
    }
    assert_true(hits > PROBES / 4); /* both answers well exercised */
    cidr_set_free(s);
    free(text);
}

/* The filter in front of the search never hides a member: networks that
 * hold IPv4-mapped space without being IPv4 (::/64, ::/0), IPv4 wider than
 * a /16, IPv6 wider than the filter's /32s. */
static void test_filter_edges(void **state)
{
    (void)state;
    char *errs = NULL;
    struct cidr_set *s = parse("::/64\n", &errs);
    assert_true(has(s, "1.2.3.4")); /* ::ffff:1.2.3.4 is in ::/64 */
    assert_true(has(s, "::1"));
    assert_false(has(s, "2001:db8::1"));
    cidr_set_free(s);
    free(errs);
    s = parse("::/0\n", &errs);
    assert_true(has(s, "203.0.113.9") && has(s, "2001:db8::1") && has(s, "ff02::1"));
    cidr_set_free(s);
    free(errs);
    s = parse("10.0.0.0/7\n0.0.0.0/32\n2001:db8::/32\n2400::/12\n", &errs);
    assert_true(has(s, "10.0.0.1") && has(s, "11.255.255.255") && has(s, "0.0.0.0"));
    assert_false(has(s, "12.0.0.0") || has(s, "9.255.255.255") || has(s, "0.0.0.1"));
    assert_true(has(s, "2001:db8:ffff::1") && has(s, "240f:ffff::1") && has(s, "2400::"));
    assert_false(has(s, "2001:db9::1") || has(s, "2410::1"));
    cidr_set_free(s);
    free(errs);
}

/* IPv6 networks /24../64 in 2001::/16 against a plain scan. */
static void test_against_scan_v6(void **state)
{
    (void)state;
    enum { N = 2000, PROBES = 50000 };
    static uint64_t base[N], mask[N];
    char *text = malloc((size_t)N * 48), *p = text;
    srand(777);
    for (int i = 0; i < N; i++) {
        int bits = 24 + rand() % 41;
        mask[i] = bits == 64 ? UINT64_MAX : ~(UINT64_MAX >> bits);
        base[i] = (0x2001000000000000ull | ((uint64_t)rand() << 16 ^ (uint64_t)rand())) &
                  mask[i];
        p += sprintf(p, "%x:%x:%x:%x::/%d\n", (unsigned)(base[i] >> 48),
                     (unsigned)(base[i] >> 32 & 0xffff),
                     (unsigned)(base[i] >> 16 & 0xffff), (unsigned)(base[i] & 0xffff),
                     bits);
    }
    char *errs = NULL;
    struct cidr_set *s = parse(text, &errs);
    free(errs);
    assert_non_null(s);
    int hits = 0;
    for (int k = 0; k < PROBES; k++) {
        uint64_t a =
            k % 2 ? base[rand() % N] + ((uint64_t)(rand() % 4096) << 8)
                  : 0x2001000000000000ull | ((uint64_t)rand() << 16 ^ (uint64_t)rand());
        bool want = false;
        for (int i = 0; i < N && !want; i++)
            want = (a & mask[i]) == base[i];
        struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
        for (int b = 0; b < 8; b++)
            in6.sin6_addr.s6_addr[b] = (unsigned char)(a >> (56 - 8 * b));
        in6.sin6_addr.s6_addr[15] = (unsigned char)k;
        assert_int_equal(cidr_set_contains(s, (struct sockaddr *)&in6), want);
        hits += want;
    }
    assert_true(hits > PROBES / 4 && hits < PROBES);
    cidr_set_free(s);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match),           cmocka_unit_test(test_errors),
        cmocka_unit_test(test_against_scan),    cmocka_unit_test(test_filter_edges),
        cmocka_unit_test(test_against_scan_v6),
    };
    return cmocka_run_group_tests_name("cidr", tests, NULL, NULL);
}
