/* End-to-end tests of the dashboard listener's JSON API (issue 15) against
 * the real daemon and Redis: a link's numbers equal Redis's counters after
 * known traffic, 400/401/404 paths, hostile values escaped, the one-second
 * cache, HTTP Basic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define RESP 65536

struct fx {
    struct h_redis r;
    struct h_daemon d;
    char resp[RESP];
    char pwfile[400];
};

static const char *BROWSER = "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) "
                             "Gecko/20100101 Firefox/120.0\r\n";

static void seed(const struct h_redis *r)
{
    h_link_add(r, "d1", "https://example.com/d1", "launch");
    h_link_add(r, "d2", "https://example.com/d2", "launch");
    /* hopctl keeps the campaign's set; a member that is not a code (another
     * tool's) is left out. */
    assert_int_equal(h_redis_int(r, "SADD hc:campaign:launch:links d1 d2 bad:member"), 3);
    /* The list of campaigns (hopctl and hopctl prune keep it). */
    assert_int_equal(h_redis_int(r, "SADD hc:campaigns launch quiet bad:name"), 3);
    h_link_add(r, "q1", "https://example.com/q1", "quiet");
    /* Values another tool wrote: served as data, never as markup. */
    assert_int_equal(
        h_redis_int(r, "HSET hc:link:evil url %s campaign %s created 1700000000",
                    "https://example.com/?q=\"</script><b>&amp;", "x\"<i>\\\n"),
        3);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    *state = f;
    return h_fixture_start(&f->r, &f->d, NULL, seed);
}

static int setup_password(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    *state = f;
    snprintf(f->pwfile, sizeof(f->pwfile), "/tmp/hopcount-dash-pw-%d", (int)getpid());
    FILE *p = fopen(f->pwfile, "w");
    if (p == NULL)
        return -1;
    fputs("s3cret-Pw\n", p);
    fclose(p);
    char extra[600];
    snprintf(extra, sizeof(extra), "server.dashboard_password_file = %s", f->pwfile);
    return h_fixture_start(&f->r, &f->d, extra, seed);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (f != NULL && f->pwfile[0] != '\0')
        unlink(f->pwfile);
    return f != NULL ? h_fixture_end(&f->r, &f->d, f) : 0;
}

static int api(struct fx *f, const char *path, const char *headers)
{
    return h_get(f->d.dash_port, "GET", path, headers ? headers : "", f->resp,
                 sizeof(f->resp));
}

static const char *body(const struct fx *f)
{
    const char *b = strstr(f->resp, "\r\n\r\n");
    return b ? b + 4 : "";
}

static void today(char *buf, size_t cap, int days_ago)
{
    time_t t = time(NULL) - (time_t)days_ago * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%d", &tm);
}

/* After known traffic the API says what Redis holds, in hopctl stats's
 * fields. */
static void test_link_numbers(void **state)
{
    struct fx *f = *state;
    for (int i = 0; i < 3; i++)
        assert_int_equal(h_get(f->d.port, "GET", "/d1", BROWSER, f->resp, RESP), 302);
    for (int i = 0; i < 2; i++)
        assert_int_equal(h_get(f->d.port, "HEAD", "/d1", "", f->resp, RESP), 302);
    assert_int_equal(h_get(f->d.port, "GET", "/d1", "DNT: 1\r\n", f->resp, RESP), 302);
    assert_true(h_wait_flushed(&f->d, 5000));
    assert_int_equal(h_hget(&f->r, "hc:clicks:d1", "total"), 3);
    assert_int_equal(h_hget(&f->r, "hc:clicks:d1", "bot"), 2);

    if (api(f, "/api/v1/links/d1?days=3", NULL) != 200)
        fail_msg("%s", f->resp);
    assert_non_null(strstr(f->resp, "Content-Type: application/json"));
    char want[600], d0[16], d1[16], d2[16];
    today(d0, sizeof(d0), 0);
    today(d1, sizeof(d1), 1);
    today(d2, sizeof(d2), 2);
    snprintf(
        want, sizeof(want),
        "{\"code\": \"d1\", \"url\": \"https://example.com/d1\", \"campaign\": "
        "\"launch\", \"created\": \"1970-01-01\", \"track\": true, \"total\": 3, "
        "\"bot\": 2, "
        "\"scan\": 0, \"days\": [{\"day\": \"%s\", \"follows\": 0, \"bot\": 0, "
        "\"scan\": 0, \"uniques\": 0}, {\"day\": \"%s\", \"follows\": 0, \"bot\": 0, "
        "\"scan\": 0, \"uniques\": 0}, {\"day\": \"%s\", \"follows\": 3, \"bot\": 2, "
        "\"scan\": 0, \"uniques\": 0}]}\n",
        d2, d1, d0);
    assert_string_equal(body(f), want);

    /* from/to, inclusive; by default the last 14 days. */
    char path[200];
    snprintf(path, sizeof(path), "/api/v1/links/d1?from=%s&to=%s", d1, d0);
    assert_int_equal(api(f, path, NULL), 200);
    assert_non_null(strstr(body(f), "\"days\": [{\"day\": \""));
    int n = 0;
    for (const char *p = body(f); (p = strstr(p, "\"day\":")) != NULL; p++)
        n++;
    assert_int_equal(n, 2);
    assert_int_equal(api(f, "/api/v1/links/d1", NULL), 200);
    n = 0;
    for (const char *p = body(f); (p = strstr(p, "\"day\":")) != NULL; p++)
        n++;
    assert_int_equal(n, 14);
}

/* A campaign: its counters, its days and its links, most followed first,
 * as Redis holds them. */
static void test_campaign_numbers(void **state)
{
    struct fx *f = *state;
    for (int i = 0; i < 3; i++)
        assert_int_equal(h_get(f->d.port, "GET", "/d1", BROWSER, f->resp, RESP), 302);
    assert_int_equal(h_get(f->d.port, "GET", "/d2", BROWSER, f->resp, RESP), 302);
    assert_int_equal(h_get(f->d.port, "HEAD", "/d2", "", f->resp, RESP), 302);
    assert_true(h_wait_flushed(&f->d, 5000));
    assert_int_equal(h_hget(&f->r, "hc:campaign:launch:clicks", "total"), 4);
    if (api(f, "/api/v1/campaigns/launch?days=1", NULL) != 200)
        fail_msg("%s", f->resp);
    char want[600], d0[16];
    today(d0, sizeof(d0), 0);
    snprintf(
        want, sizeof(want),
        /* links: the set's size, as hopctl stats says it */
        "{\"campaign\": \"launch\", \"links\": 3, \"total\": 4, \"bot\": 1, \"scan\": 0, "
        "\"days\": [{\"day\": \"%s\", \"follows\": 4, \"bot\": 1, \"scan\": 0, "
        "\"uniques\": 0}], \"by_link\": [{\"code\": \"d1\", \"url\": "
        "\"https://example.com/d1\", \"total\": 3, \"bot\": 0, \"scan\": 0}, "
        "{\"code\": \"d2\", \"url\": \"https://example.com/d2\", \"total\": 1, "
        "\"bot\": 1, \"scan\": 0}]}\n",
        d0);
    assert_string_equal(body(f), want);
    assert_int_equal(api(f, "/api/v1/campaigns/nosuch", NULL), 404);
    assert_string_equal(body(f), "{\"error\": \"no such campaign: nosuch\"}\n");
    assert_int_equal(api(f, "/api/v1/campaigns/bad%3Aname", NULL), 404);
    assert_int_equal(api(f, "/api/v1/campaigns/launch?days=0", NULL), 400);
}

/* Every campaign of P:campaigns, most followed over the days first, each
 * with its links' number, counts and days (30 by default). */
static void test_campaigns_list(void **state)
{
    struct fx *f = *state;
    assert_int_equal(h_get(f->d.port, "GET", "/d1", BROWSER, f->resp, RESP), 302);
    assert_int_equal(h_get(f->d.port, "GET", "/q1", BROWSER, f->resp, RESP), 302);
    assert_int_equal(h_get(f->d.port, "GET", "/d2", BROWSER, f->resp, RESP), 302);
    assert_true(h_wait_flushed(&f->d, 5000));
    assert_int_equal(api(f, "/api/v1/campaigns?days=1", NULL), 200);
    char want[800], d0[16];
    today(d0, sizeof(d0), 0);
    snprintf(want, sizeof(want),
             "{\"campaigns\": [{\"campaign\": \"launch\", \"links\": 3, \"total\": 2, "
             "\"bot\": 0, \"scan\": 0, \"days\": [{\"day\": \"%s\", \"follows\": 2, "
             "\"bot\": 0, \"scan\": 0, \"uniques\": 0}]}, {\"campaign\": \"quiet\", "
             "\"links\": 0, \"total\": 1, \"bot\": 0, \"scan\": 0, \"days\": [{\"day\": "
             "\"%s\", \"follows\": 1, \"bot\": 0, \"scan\": 0, \"uniques\": 0}]}]}\n",
             d0, d0);
    assert_string_equal(body(f), want);
    assert_int_equal(api(f, "/api/v1/campaigns", NULL), 200);
    int n = 0;
    for (const char *p = body(f); (p = strstr(p, "\"day\":")) != NULL; p++)
        n++;
    assert_int_equal(n, 2 * 30);
    assert_int_equal(api(f, "/api/v1/campaigns?days=91", NULL), 400);
    assert_string_equal(body(f), "{\"error\": \"days must be 1 to 90\"}\n");
}

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

/* The pages, server-rendered after known traffic: the numbers in the text,
 * the charts' bars (one per day or hour, each with its value and a title),
 * the tables beside them, the CSV; nothing loads from anywhere else. */
static void test_pages(void **state)
{
    struct fx *f = *state;
    for (int i = 0; i < 3; i++)
        assert_int_equal(h_get(f->d.port, "GET", "/d1", BROWSER, f->resp, RESP), 302);
    assert_int_equal(h_get(f->d.port, "HEAD", "/d1", "", f->resp, RESP), 302);
    assert_int_equal(h_get(f->d.port, "GET", "/d2", BROWSER, f->resp, RESP), 302);
    assert_true(h_wait_flushed(&f->d, 5000));
    char d0[16], want[300];
    today(d0, sizeof(d0), 0);

    assert_int_equal(api(f, "/", NULL), 200);
    assert_non_null(strstr(f->resp, "Content-Type: text/html; charset=utf-8"));
    assert_non_null(strstr(f->resp, "Content-Security-Policy: default-src 'none'"));
    assert_non_null(strstr(body(f),
                           "<a href=\"/campaigns/launch\">launch</a></td><td>3</td>"
                           "<td>4</td><td>1</td><td>0</td><td>4</td>"));
    assert_int_equal(count_of(body(f), "<svg class=\"spark\""), 2);
    assert_int_equal(count_of(body(f), "<rect class=\"h\""), 2 * 30);
    assert_null(strstr(body(f), "bad:name"));

    assert_int_equal(api(f, "/campaigns/launch?days=3", NULL), 200);
    assert_non_null(strstr(body(f), "<h1>Campaign launch</h1>"));
    assert_non_null(strstr(body(f), "<dd id=\"links\">3</dd>"));
    assert_non_null(strstr(body(f), "<dd id=\"total\">4</dd>"));
    snprintf(want, sizeof(want), "<title>%s: 4 people, 1 bots, 0 scanners</title>", d0);
    assert_non_null(strstr(body(f), want));
    assert_non_null(strstr(body(f), "data-v=\"4\"/>"));
    assert_int_equal(count_of(body(f), "<g><title>"), 3);
    snprintf(want, sizeof(want),
             "<tr><td>%s</td><td>4</td><td>1</td><td>0</td><td>0</td>", d0);
    assert_non_null(strstr(body(f), want));
    const char *d1row = strstr(body(f), "<a href=\"/links/d1\">d1</a>");
    const char *d2row = strstr(body(f), "<a href=\"/links/d2\">d2</a>");
    assert_true(d1row != NULL && d2row != NULL &&
                d1row < d2row); /* most followed first */
    assert_non_null(strstr(body(f), "href=\"/campaigns/launch/links.csv\""));

    assert_int_equal(api(f, "/campaigns/launch/links.csv", NULL), 200);
    assert_non_null(strstr(f->resp, "Content-Type: text/csv"));
    assert_string_equal(body(f), "code,url,follows,bot,scan\r\n"
                                 "d1,https://example.com/d1,3,1,0\r\n"
                                 "d2,https://example.com/d2,1,0,0\r\n");

    assert_int_equal(api(f, "/links/d1", NULL), 200);
    assert_non_null(
        strstr(body(f), "<dd id=\"target\"><a href=\"https://example.com/d1\""));
    assert_non_null(
        strstr(body(f), "<dd id=\"campaign\"><a href=\"/campaigns/launch\">"));
    assert_non_null(strstr(body(f), "<dd id=\"tracked\">yes</dd>"));
    assert_int_equal(count_of(body(f), "<svg class=\"hours\""), 1);
    assert_int_equal(count_of(body(f), "<rect class=\"h\" x="),
                     48 + 1); /* + today's bar */
    assert_non_null(strstr(body(f), "data-v=\"3\"><title>"));

    assert_int_equal(api(f, "/privacy", NULL), 200);
    assert_non_null(strstr(body(f), "<code>DNT: 1</code>"));
    assert_int_equal(api(f, "/links/nosuch", NULL), 404);
    assert_non_null(strstr(body(f), "<h1>no such link: nosuch</h1>"));
    assert_int_equal(api(f, "/nothing", NULL), 404);
    assert_non_null(strstr(f->resp, "text/html"));
    /* No page asks for anything elsewhere: no script, no external URL but
     * the link targets themselves. */
    const char *pages[] = {"/", "/campaigns/launch", "/links/d1", "/privacy"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(api(f, pages[i], NULL), 200);
        assert_null(strstr(body(f), "<script"));
        assert_null(strstr(body(f), "src="));
        assert_null(strstr(body(f), "<link"));
    }
}

/* Hostile values in pages: text, never markup, and a target that is not
 * one hopcount would redirect to is not made a link. */
static void test_hostile_pages(void **state)
{
    struct fx *f = *state;
    assert_int_equal(api(f, "/links/evil", NULL), 200);
    const char *b = body(f);
    assert_null(strstr(b, "</script><b>"));
    assert_null(strstr(b, "<i>"));
    assert_non_null(
        strstr(b, "<dd id=\"target\">https://example.com/?q=&quot;&lt;/script&gt;"
                  "&lt;b&gt;&amp;amp;</dd>"));
    assert_non_null(strstr(b, "<dd id=\"campaign\">x&quot;&lt;i&gt;\\&#xfffd;</dd>"));
}

/* A campaign of 300 links: its reads wait their turn (16 on the wire at
 * once) and every link is there, most followed first. */
static void test_big_campaign(void **state)
{
    struct fx *f = *state;
    redisContext *c = h_redis_connect(&f->r);
    for (int i = 0; i < 300; i++) {
        redisAppendCommand(c, "SADD hc:campaign:big:links b%d", i);
        redisAppendCommand(c, "HSET hc:link:b%d url https://example.com/%d campaign big",
                           i, i);
        redisAppendCommand(c, "HSET hc:clicks:b%d total %d", i, i);
    }
    for (int i = 0; i < 900; i++) {
        redisReply *r = NULL;
        assert_int_equal(redisGetReply(c, (void **)&r), REDIS_OK);
        freeReplyObject(r);
    }
    redisFree(c);
    assert_int_equal(api(f, "/api/v1/campaigns/big?days=1", NULL), 200);
    assert_int_equal(count_of(body(f), "{\"code\": \"b"), 300);
    assert_non_null(strstr(body(f), "\"by_link\": [{\"code\": \"b299\", \"url\": "
                                    "\"https://example.com/299\", \"total\": 299"));
    assert_non_null(strstr(body(f),
                           "{\"code\": \"b0\", \"url\": \"https://example.com/0\", "
                           "\"total\": 0, \"bot\": 0, \"scan\": 0}]}"));
}

/* Bad parameters are 400, unknown links and paths 404, as JSON. */
static void test_errors(void **state)
{
    struct fx *f = *state;
    const char *bad[] = {"days=0",
                         "days=367",
                         "days=x",
                         "days=3&from=2026-01-01",
                         "from=2026-02-30",
                         "from=2026-1-1",
                         "from=2026-03-02&to=2026-03-01",
                         "from=2024-01-01&to=2026-01-01",
                         "to=2026-01-01",
                         "color=red"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        char path[200];
        snprintf(path, sizeof(path), "/api/v1/links/d1?%s", bad[i]);
        if (api(f, path, NULL) != 400)
            fail_msg("%s: %s", path, f->resp);
        assert_non_null(strstr(body(f), "{\"error\": \""));
    }
    assert_int_equal(api(f, "/api/v1/links/nosuch", NULL), 404);
    assert_string_equal(body(f), "{\"error\": \"no such link: nosuch\"}\n");
    assert_int_equal(api(f, "/api/v1/links/bad%20code", NULL), 404);
    assert_int_equal(api(f, "/api/v1/nothing", NULL), 404);
    assert_non_null(strstr(body(f), "{\"error\": "));
    assert_int_equal(h_get(f->d.dash_port, "POST", "/api/v1/links/d1", "", f->resp, RESP),
                     405);
}

/* Values other tools wrote come out as JSON strings that no HTML parser
 * would take for markup. */
static void test_hostile_values(void **state)
{
    struct fx *f = *state;
    assert_int_equal(api(f, "/api/v1/links/evil?days=1", NULL), 200);
    const char *b = body(f);
    assert_null(strchr(b, '<'));
    assert_null(strchr(b, '>'));
    assert_null(strchr(b, '&'));
    assert_non_null(strstr(b,
                           "\"url\": \"https://example.com/?q=\\\"\\u003c/script\\u003e"
                           "\\u003cb\\u003e\\u0026amp;\""));
    assert_non_null(strstr(b, "\"campaign\": \"x\\\"\\u003ci\\u003e\\\\\\u000a\""));
    assert_non_null(strstr(b, "\"created\": \"2023-11-14\""));
}

/* The same request within a second is answered from the cache: Redis is
 * asked once. */
static void test_cache(void **state)
{
    struct fx *f = *state;
    long long before = h_cmd_calls(&f->r, "hmget");
    for (int i = 0; i < 20; i++)
        assert_int_equal(api(f, "/api/v1/links/d1?days=2", NULL), 200);
    long long after = h_cmd_calls(&f->r, "hmget");
    /* Two HMGETs (the link, its counters) per read; 20 requests in well
     * under a second take one read, two if the second turned. */
    assert_in_range(after - before, 2, 4);
}

/* With a password: none or a wrong one is 401 (logged without it), the
 * right one under any user name is 200. */
static void test_basic_auth(void **state)
{
    struct fx *f = *state;
    assert_int_equal(api(f, "/api/v1/links/d1", NULL), 401);
    assert_non_null(strstr(f->resp, "WWW-Authenticate: Basic realm=\"hopcount\""));
    /* "ops:wrong-Pw", "ops:s3cret-Pw", "x:s3cret-Pw" in base64 */
    assert_int_equal(
        api(f, "/api/v1/links/d1", "Authorization: Basic b3BzOndyb25nLVB3\r\n"), 401);
    assert_int_equal(api(f, "/api/v1/links/d1", "Authorization: Basic !!!\r\n"), 401);
    assert_int_equal(
        api(f, "/api/v1/links/d1", "Authorization: Basic b3BzOnMzY3JldC1Qdw==\r\n"), 200);
    assert_int_equal(
        api(f, "/api/v1/links/d1?days=1", "Authorization: Basic eDpzM2NyZXQtUHc=\r\n"),
        200);
    assert_true(h_wait_log(&f->d, "event=dashboard_auth_failed", 2000));
    assert_null(strstr(h_daemon_log(&f->d), "wrong-Pw"));
    assert_null(strstr(h_daemon_log(&f->d), "s3cret"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_link_numbers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_campaign_numbers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_campaigns_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_campaign, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_basic_auth, setup_password, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
