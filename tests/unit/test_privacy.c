/* Unit tests for privacy: opt-out, prefetch and bot classification. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "privacy.h"

static unsigned flags(const char *name, const char *value, struct privacy_bots *b)
{
    return privacy_header_flags(privacy_header_kind(name, strlen(name)), value,
                                strlen(value), b);
}

static void test_header_kinds(void **state)
{
    (void)state;
    assert_int_equal(privacy_header_kind("DNT", 3), PRIVACY_H_DNT);
    assert_int_equal(privacy_header_kind("dnt", 3), PRIVACY_H_DNT);
    assert_int_equal(privacy_header_kind("Sec-GPC", 7), PRIVACY_H_SEC_GPC);
    assert_int_equal(privacy_header_kind("user-AGENT", 10), PRIVACY_H_USER_AGENT);
    assert_int_equal(privacy_header_kind("Sec-Purpose", 11), PRIVACY_H_SEC_PURPOSE);
    assert_int_equal(privacy_header_kind("X-Moz", 5), PRIVACY_H_X_MOZ);
    assert_int_equal(privacy_header_kind("DNTX", 4), PRIVACY_H_OTHER);
    assert_int_equal(privacy_header_kind("Cookie", 6), PRIVACY_H_OTHER);
}

static void test_opt_out(void **state)
{
    (void)state;
    assert_int_equal(flags("DNT", "1", NULL), PRIVACY_DNT);
    assert_int_equal(flags("DNT", " 1\t", NULL), PRIVACY_DNT);
    assert_int_equal(flags("DNT", "0", NULL), 0);
    assert_int_equal(flags("DNT", "11", NULL), 0);
    assert_int_equal(flags("DNT", "", NULL), 0);
    assert_int_equal(flags("Sec-GPC", "1", NULL), PRIVACY_GPC);
    assert_int_equal(flags("Sec-GPC", "0", NULL), 0);

    assert_true(privacy_opted_out(PRIVACY_DNT, true, true));
    assert_false(privacy_opted_out(PRIVACY_DNT, false, true));
    assert_true(privacy_opted_out(PRIVACY_GPC, false, true));
    assert_false(privacy_opted_out(PRIVACY_GPC, true, false));
    assert_false(privacy_opted_out(PRIVACY_PREFETCH | PRIVACY_BOT_UA, true, true));
}

static void test_prefetch(void **state)
{
    (void)state;
    assert_int_equal(flags("Sec-Purpose", "prefetch", NULL), PRIVACY_PREFETCH);
    assert_int_equal(flags("Sec-Purpose", "prefetch;prerender", NULL), PRIVACY_PREFETCH);
    assert_int_equal(flags("Purpose", "prefetch", NULL), PRIVACY_PREFETCH);
    assert_int_equal(flags("X-Moz", "Prefetch", NULL), PRIVACY_PREFETCH);
    assert_int_equal(flags("X-Purpose", "preview", NULL), PRIVACY_PREFETCH);
    assert_int_equal(flags("X-Purpose", "instant", NULL), 0);
    assert_int_equal(flags("Sec-Purpose", "", NULL), 0);
}

static void test_bots(void **state)
{
    (void)state;
    const char *text = "# comment\n\nGooglebot\n  Slackbot  # trailing\r\nmail scanner\n"
                       "SCAN:  SafeGate\nscan:\n";
    int bad = 0;
    struct privacy_bots *b = privacy_bots_parse(text, strlen(text), &bad);
    assert_non_null(b);
    /* Three patterns, comments and blanks ignored: "comment" is not one. */
    assert_int_equal(flags("User-Agent", "a comment reader", b), 0);
    const char *g =
        "Mozilla/5.0 (compatible; googlebot/2.1; +http://www.google.com/bot.html)";
    for (int i = 0; i < 3; i++) /* the memo must give the same answer */
        assert_int_equal(flags("User-Agent", g, b), PRIVACY_BOT_UA);
    assert_int_equal(flags("User-Agent", "Slackbot-LinkExpanding 1.0", b),
                     PRIVACY_BOT_UA);
    assert_int_equal(flags("User-Agent", "Some MAIL SCANNER v2", b), PRIVACY_BOT_UA);
    /* "scan:" (any case) makes a scanner pattern; an empty one is skipped. */
    for (int i = 0; i < 2; i++)
        assert_int_equal(flags("User-Agent", "Mozilla/5.0 safegate/3", b),
                         PRIVACY_SCAN_UA);
    assert_int_equal(flags("User-Agent", "scan: x", b), 0);
    const char *ff =
        "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0";
    for (int i = 0; i < 3; i++)
        assert_int_equal(flags("User-Agent", ff, b), 0);
    assert_int_equal(flags("User-Agent", "", b), 0);
    privacy_bots_free(b);

    char longline[300];
    memset(longline, 'x', sizeof(longline) - 1);
    longline[sizeof(longline) - 1] = '\0';
    char text2[400];
    snprintf(text2, sizeof(text2), "ok\n%s\n", longline);
    assert_null(privacy_bots_parse(text2, strlen(text2), &bad));
    assert_int_equal(bad, 2);
}

/* The shipped list catches crawlers, unfurlers and scanners, and no browser. */
static void test_shipped_bots(void **state)
{
    (void)state;
    char err[256];
    struct privacy_bots *b = privacy_bots_load("conf/bots.txt", err, sizeof(err));
    assert_non_null(b);
    const char *bots[] = {
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
        "WhatsApp/2.23.20.0",
        "TelegramBot (like TwitterBot)",
        "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient "
        "+http://www.linkedin.com)",
        "python-requests/2.31.0",
        "curl/7.88.1",
        "Go-http-client/1.1",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "HeadlessChrome/120.0.0.0 Safari/537.36",
    };
    for (size_t i = 0; i < sizeof(bots) / sizeof(bots[0]); i++)
        if (privacy_bots_match(b, bots[i], strlen(bots[i])) != PRIVACY_BOT_UA)
            fail_msg("not classified as a bot: %s", bots[i]);
    /* Mail-security scanners are their own class. */
    const char *scanners[] = {
        "Mozilla/5.0 (compatible; Barracuda Sentinel)",
        "Proofpoint URL Defense",
        "Mozilla/5.0 (compatible; Microsoft-SafeLinks)",
    };
    for (size_t i = 0; i < sizeof(scanners) / sizeof(scanners[0]); i++) {
        unsigned f = privacy_bots_match(b, scanners[i], strlen(scanners[i]));
        if (f != PRIVACY_SCAN_UA)
            fail_msg("not classified as a scanner: %s", scanners[i]);
        /* The memo answers the same the second time. */
        assert_int_equal(privacy_bots_match(b, scanners[i], strlen(scanners[i])), f);
    }
    const char *humans[] = {
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
        "Gecko) "
        "Chrome/120.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 (KHTML, like "
        "Gecko) Version/17.1 Safari/605.1.15",
        "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, "
        "like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Mobile Safari/537.36",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
        "Gecko) "
        "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0",
    };
    for (size_t i = 0; i < sizeof(humans) / sizeof(humans[0]); i++)
        if (privacy_bots_match(b, humans[i], strlen(humans[i])))
            fail_msg("browser classified as a bot: %s", humans[i]);
    privacy_bots_free(b);

    assert_null(privacy_bots_load("/nonexistent/bots.txt", err, sizeof(err)));
    assert_non_null(strstr(err, "cannot open /nonexistent/bots.txt"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_kinds), cmocka_unit_test(test_opt_out),
        cmocka_unit_test(test_prefetch),     cmocka_unit_test(test_bots),
        cmocka_unit_test(test_shipped_bots),
    };
    return cmocka_run_group_tests_name("privacy", tests, NULL, NULL);
}
