/* Unit tests for keys: the Redis names dashboards read (SPEC §4). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>
#include <time.h>

#include "keys.h"

static void test_keys(void **state)
{
    (void)state;
    char k[KEYS_MAX];
    assert_int_equal(keys_link(k, "hc", "spring24", 8), 16);
    assert_string_equal(k, "hc:link:spring24");
    keys_clicks(k, "hc", "spring24", 8);
    assert_string_equal(k, "hc:clicks:spring24");
    keys_campaign_clicks(k, "app.v2", "spring", 6);
    assert_string_equal(k, "app.v2:campaign:spring:clicks");
    keys_campaign_links(k, "hc", "spring", 6);
    assert_string_equal(k, "hc:campaign:spring:links");
    keys_events(k, "hc");
    assert_string_equal(k, "hc:events");

    char name[64];
    memset(name, 'x', sizeof(name));
    char prefix[33];
    memset(prefix, 'p', 32);
    prefix[32] = '\0';
    assert_true(keys_campaign_clicks(k, prefix, name, 64) > 0); /* the longest fits */
    assert_true(keys_campaign_uniq(k, prefix, name, 64, "2026-11-30") > 0);
    assert_true(keys_uniq(k, prefix, name, 64, "2026-11-30") > 0);
}

/* Unique followers' keys, by UTC day: any hour of the day names it. */
static void test_uniq_keys(void **state)
{
    (void)state;
    char k[KEYS_MAX];
    struct tm tm = {.tm_year = 2026 - 1900, .tm_mon = 10, .tm_mday = 30, .tm_hour = 23};
    int64_t hour = (int64_t)(timegm(&tm) / 3600);
    char d[KEYS_DATE_MAX];
    assert_int_equal(keys_date(d, hour), 10);
    assert_string_equal(d, "2026-11-30");
    assert_int_equal(keys_uniq(k, "hc", "spring24", 8, d), 27);
    assert_string_equal(k, "hc:uniq:spring24:2026-11-30");
    keys_date(d, hour - 23);
    keys_campaign_uniq(k, "hc", "spring", 6, d);
    assert_string_equal(k, "hc:campaign:spring:uniq:2026-11-30");
    keys_uniq_key(k, "hc", hour + 1);
    assert_string_equal(k, "hc:uniqkey:2026-12-01");
    /* A unique key's day, from its name; other keys and dates are -1. */
    keys_date(d, hour);
    keys_uniq(k, "hc", "spring24", 8, d);
    assert_int_equal(keys_uniq_day(k, strlen(k), "hc"), hour / 24);
    keys_date(d, hour + 1);
    keys_campaign_uniq(k, "hc", "a.b", 3, d);
    assert_int_equal(keys_uniq_day(k, strlen(k), "hc"), hour / 24 + 1);
    const char *no[] = {"hc:uniqkey:2026-11-30",         "hc:uniq:2026-11-30",
                        "hc:uniq:x:2026-02-30",          "hc:uniq:x:2026-11-3x",
                        "other:uniq:x:2026-11-30",       "hc:clicks:x",
                        "hc:campaign:x:clicks",          "hc:campaign:uniq:2026-11-30",
                        "hc:campaign:x:links:2026-11-30"};
    for (size_t i = 0; i < sizeof(no) / sizeof(*no); i++)
        if (keys_uniq_day(no[i], strlen(no[i]), "hc") != -1)
            fail_msg("%s taken for a unique key", no[i]);
}

static void test_fields(void **state)
{
    (void)state;
    char f[KEYS_FIELD_MAX];
    struct tm tm = {.tm_year = 2026 - 1900, .tm_mon = 2, .tm_mday = 1, .tm_hour = 13};
    int64_t hour = (int64_t)(timegm(&tm) / 3600);

    assert_int_equal(keys_field_day(f, hour), 12);
    assert_string_equal(f, "d:2026-03-01");
    keys_field_hour(f, hour);
    assert_string_equal(f, "h:2026-03-01T13");
    keys_field_class_day(f, KEYS_FIELD_BOT, hour);
    assert_string_equal(f, "bot:d:2026-03-01");
    assert_int_equal(keys_field_class_day(f, KEYS_FIELD_SCAN, hour), 17);
    assert_string_equal(f, "scan:d:2026-03-01");
    /* Hours are UTC: 23:00 on Dec 31 is still that day. */
    struct tm nye = {.tm_year = 2025 - 1900, .tm_mon = 11, .tm_mday = 31, .tm_hour = 23};
    keys_field_hour(f, (int64_t)(timegm(&nye) / 3600));
    assert_string_equal(f, "h:2025-12-31T23");
    assert_string_equal(KEYS_FIELD_TOTAL, "total");
    assert_string_equal(KEYS_FIELD_BOT, "bot");
    assert_string_equal(KEYS_FIELD_SCAN, "scan");
}

/* A marker's writer start, in both forms; other keys and undated ids. */
static void test_marker_start(void **state)
{
    (void)state;
    int64_t t = -1;
    const char *plain = "hc:flush:692b5e1f3f9c0d1e22ab4c10-0";
    assert_int_equal(keys_marker_start(plain, strlen(plain), "hc", &t), 1);
    assert_int_equal(t, 0x692b5e1f);
    t = -1;
    const char *tagged = "hc:flush:{3560}:692B5E203f9c0d1e22ab4c10-1.s9";
    assert_int_equal(keys_marker_start(tagged, strlen(tagged), "hc", &t), 1);
    assert_int_equal(t, 0x692b5e20);
    const char *spill = "hc:flush:692b5e1f3f9c0d1e22ab4c10-0-s3";
    assert_int_equal(keys_marker_start(spill, strlen(spill), "hc", &t), 1);
    /* Ids from before they carried a start: markers, undated. */
    const char *old = "hc:flush:3f9c0d1e22ab4c10-0";
    assert_int_equal(keys_marker_start(old, strlen(old), "hc", &t), 0);
    /* Not markers: another prefix, another key, a broken tag. */
    assert_int_equal(keys_marker_start(plain, strlen(plain), "hx", &t), -1);
    const char *clicks = "hc:clicks:692b5e1f3f9c0d1e22ab4c10-0";
    assert_int_equal(keys_marker_start(clicks, strlen(clicks), "hc", &t), -1);
    const char *broken = "hc:flush:{3560";
    assert_int_equal(keys_marker_start(broken, strlen(broken), "hc", &t), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_uniq_keys),
        cmocka_unit_test(test_marker_start),
    };
    return cmocka_run_group_tests_name("keys", tests, NULL, NULL);
}
