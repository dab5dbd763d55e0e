/* End-to-end tests of hopctl: the real build/hopctl against a real
 * redis-server, and a real build/hopcount picking its changes up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

#define OUT (1 << 20)

struct fx {
    struct h_redis r;
    struct h_daemon d;
    char out[OUT];
    char err[OUT];
    char resp[65536];
};

static const char *BROWSER = "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) "
                             "Gecko/20100101 Firefox/120.0\r\n";

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    *state = f;
    if (h_redis_start(&f->r) != 0)
        return -1;
    return h_daemon_conf(&f->d, &f->r, NULL);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    return f != NULL ? h_fixture_end(&f->r, &f->d, f) : 0;
}

/* Run hopctl -c CONF args... (NULL-terminated) with stdin from input. */
static int ctl_conf(struct fx *f, const char *conf, const char *input, ...)
{
    va_list ap;
    va_start(ap, input);
    int rc = h_hopctl_v(conf, input, f->out, OUT, f->err, OUT, ap);
    va_end(ap);
    return rc;
}
#define ctl(f, ...) ctl_conf((f), (f)->d.conf, NULL, __VA_ARGS__, (char *)NULL)
#define ctl_in(f, input, ...)                                                            \
    ctl_conf((f), (f)->d.conf, (input), __VA_ARGS__, (char *)NULL)

static int lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* One line on stderr containing want: SPEC's "one-line reason". */
static void assert_one_line(const char *err, const char *want)
{
    if (lines(err) != 1 || strstr(err, want) == NULL)
        fail_msg("stderr should be one line with \"%s\", is:\n%s", want, err);
}

static char *hget_str(const struct h_redis *r, const char *key, const char *field,
                      char *buf, size_t cap)
{
    redisContext *c = h_redis_connect(r);
    buf[0] = '\0';
    if (c == NULL)
        return NULL;
    redisReply *rep = redisCommand(c, "HGET %s %s", key, field);
    char *rv = NULL;
    if (rep != NULL && rep->type == REDIS_REPLY_STRING) {
        snprintf(buf, cap, "%s", rep->str);
        rv = buf;
    }
    freeReplyObject(rep);
    redisFree(c);
    return rv;
}

/* Poll GET path until it answers want; the milliseconds it took, or -1. */
static int wait_status(struct fx *f, const char *path, int want, int ms)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int st = h_get(f->d.port, "GET", path, BROWSER, f->resp, sizeof(f->resp));
        clock_gettime(CLOCK_MONOTONIC, &t1);
        int took =
            (int)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
        if (st == want)
            return took;
        if (took > ms)
            return -1;
        h_sleep_ms(10);
    }
}

static void today(char *buf, size_t cap)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%d", &tm);
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

/* add: validated, written with its campaign set, refused over an existing
 * code unless --force, and live on a running daemon within a second. */
static void test_add_live(void **state)
{
    struct fx *f = *state;
    char buf[4096];
    assert_int_equal(h_daemon_start(&f->d, &f->r, NULL, true), 0);

    /* Unknown first, so the daemon holds it in its negative cache. */
    assert_int_equal(h_get(f->d.port, "GET", "/fresh", BROWSER, f->resp, sizeof(f->resp)),
                     404);
    assert_int_equal(
        ctl(f, "add", "fresh", "https://example.com/fresh?a=1", "--campaign", "c1"), 0);
    assert_string_equal(f->out, "fresh: added\n");
    int took = wait_status(f, "/fresh", 302, 1000);
    assert_in_range(took, 0, 1000);
    assert_string_equal(h_header(f->resp, "Location", buf, sizeof(buf)),
                        "https://example.com/fresh?a=1");
    assert_string_equal(hget_str(&f->r, "hc:link:fresh", "campaign", buf, sizeof(buf)),
                        "c1");
    assert_non_null(hget_str(&f->r, "hc:link:fresh", "created", buf, sizeof(buf)));
    long long created = atoll(buf);
    assert_true(created > 1700000000);
    assert_int_equal(h_redis_int(&f->r, "SISMEMBER hc:campaign:c1:links fresh"), 1);

    /* The same again changes nothing; another target is refused. */
    assert_int_equal(
        ctl(f, "add", "fresh", "https://example.com/fresh?a=1", "--campaign", "c1"), 0);
    assert_string_equal(f->out, "fresh: unchanged\n");
    assert_int_equal(ctl(f, "add", "fresh", "https://example.com/other"), 1);
    assert_one_line(f->err, "--force");
    assert_string_equal(hget_str(&f->r, "hc:link:fresh", "url", buf, sizeof(buf)),
                        "https://example.com/fresh?a=1");

    /* --force: new target and campaign, live within a second; the old
     * campaign set loses the code, created is kept. */
    assert_int_equal(ctl(f, "add", "fresh", "https://example.com/other", "--campaign",
                         "c2", "--force"),
                     0);
    assert_string_equal(f->out, "fresh: replaced\n");
    for (took = 0; took <= 1000; took += 10) {
        assert_int_equal(
            h_get(f->d.port, "GET", "/fresh", BROWSER, f->resp, sizeof(f->resp)), 302);
        if (strcmp(h_header(f->resp, "Location", buf, sizeof(buf)),
                   "https://example.com/other") == 0)
            break;
        h_sleep_ms(10);
    }
    assert_in_range(took, 0, 1000);
    assert_int_equal(h_redis_int(&f->r, "SISMEMBER hc:campaign:c1:links fresh"), 0);
    assert_int_equal(h_redis_int(&f->r, "SISMEMBER hc:campaign:c2:links fresh"), 1);
    assert_int_equal(atoll(hget_str(&f->r, "hc:link:fresh", "created", buf, sizeof(buf))),
                     created);

    /* Without a campaign: no campaign field, no set. */
    assert_int_equal(ctl(f, "add", "plain", "http://example.org/"), 0);
    assert_null(hget_str(&f->r, "hc:link:plain", "campaign", buf, sizeof(buf)));
    assert_in_range(wait_status(f, "/plain", 302, 1000), 0, 1000);
}

/* Poll GET path until its answer carries Tk: N (want) or not; the ms it
 * took, or -1 after ms. */
static int wait_tk(struct fx *f, const char *path, bool want, int ms)
{
    char buf[64];
    long long start = h_now_ms();
    for (;;) {
        assert_int_equal(h_get(f->d.port, "GET", path, BROWSER, f->resp, sizeof(f->resp)),
                         302);
        bool tk = h_header(f->resp, "Tk", buf, sizeof(buf)) != NULL;
        int took = (int)(h_now_ms() - start);
        if (tk == want)
            return took;
        if (took > ms)
            return -1;
        h_sleep_ms(10);
    }
}

/* --no-track: redirected with Tk: N and never counted, its code in no log
 * line; turning tracking off and on is live within a second; list and
 * stats say so. */
static void test_no_track(void **state)
{
    struct fx *f = *state;
    char buf[4096];
    assert_int_equal(h_daemon_start(&f->d, &f->r, "log.access_log = on", true), 0);
    assert_int_equal(ctl(f, "add", "rcpt7q", "https://example.com/receipt", "--campaign",
                         "orders", "--no-track"),
                     0);
    assert_in_range(wait_status(f, "/rcpt7q", 302, 1000), 0, 1000);
    assert_string_equal(h_header(f->resp, "Location", buf, sizeof(buf)),
                        "https://example.com/receipt");
    assert_string_equal(h_header(f->resp, "Tk", buf, sizeof(buf)), "N");
    for (int i = 0; i < 4; i++)
        assert_int_equal(h_get(f->d.port, i % 2 ? "HEAD" : "GET", "/rcpt7q", BROWSER,
                               f->resp, sizeof(f->resp)),
                         302);
    assert_true(h_wait_flushed(&f->d, 3000));
    assert_int_equal(h_redis_int(&f->r, "EXISTS hc:clicks:rcpt7q"), 0);
    assert_int_equal(h_redis_int(&f->r, "EXISTS hc:campaign:orders:clicks"), 0);
    assert_int_equal(h_metric(&f->d, "hopcount_requests_total{outcome=\"untracked\"}"),
                     5);
    assert_null(strstr(h_daemon_log(&f->d), "rcpt7q"));

    assert_int_equal(ctl(f, "stats", "rcpt7q"), 0);
    assert_non_null(strstr(f->out, "tracking  off (--no-track)"));
    assert_int_equal(ctl(f, "list", "--campaign", "orders", "--format", "csv"), 0);
    assert_string_equal(f->out, "code,url,campaign,track\n"
                                "rcpt7q,https://example.com/receipt,orders,off\n");

    /* Tracking on again (--force: the link changes): counted within a second;
     * the first GET without Tk: N is the one counted follow. */
    assert_int_equal(ctl(f, "add", "rcpt7q", "https://example.com/receipt", "--campaign",
                         "orders", "--force"),
                     0);
    assert_int_equal(h_redis_int(&f->r, "HEXISTS hc:link:rcpt7q notrack"), 0);
    assert_in_range(wait_tk(f, "/rcpt7q", false, 1000), 0, 1000);
    assert_int_equal(h_wait_hget(&f->r, "hc:clicks:rcpt7q", "total", 1, 3000), 1);
    assert_int_equal(ctl(f, "stats", "rcpt7q", "--format", "json"), 0);
    assert_non_null(strstr(f->out, "\"track\": true"));
    /* And off again: not counted any more, within a second. */
    assert_int_equal(ctl(f, "add", "rcpt7q", "https://example.com/receipt", "--campaign",
                         "orders", "--no-track", "--force"),
                     0);
    assert_in_range(wait_tk(f, "/rcpt7q", true, 1000), 0, 1000);
    assert_true(h_wait_flushed(&f->d, 3000));
    long long before = h_hget(&f->r, "hc:clicks:rcpt7q", "total");
    for (int i = 0; i < 3; i++)
        assert_int_equal(
            h_get(f->d.port, "GET", "/rcpt7q", BROWSER, f->resp, sizeof(f->resp)), 302);
    assert_true(h_wait_flushed(&f->d, 3000));
    assert_int_equal(h_hget(&f->r, "hc:clicks:rcpt7q", "total"), before);
}

/* A counter field's name for hours_ago hours before now (kind "h" for the
 * hour field; "d", "bot:d", "scan:d" for that hour's day). */
static void field_at(char *buf, size_t cap, const char *kind, long long hours_ago)
{
    time_t t = (time_t)((time(NULL) / 3600 - hours_ago) * 3600);
    struct tm tm;
    gmtime_r(&t, &tm);
    if (strcmp(kind, "h") == 0)
        strftime(buf, cap, "h:%Y-%m-%dT%H", &tm);
    else {
        char day[16];
        strftime(day, sizeof(day), "%Y-%m-%d", &tm);
        snprintf(buf, cap, "%s:%s", kind, day);
    }
}

/* Fields of link and campaign hashes around the windows, a key of another
 * prefix, and a hash another tool wrote: prune removes exactly the fields
 * outside their window, --dry-run only counts, a changed window applies at
 * the next run, and a pass killed halfway is finished by the next. */
static void test_prune(void **state)
{
    struct fx *f = *state;
    enum { HOURLY = 2, DAILY = 3, MANY = 3000 };
    char conf[64], fld[40];
    snprintf(conf, sizeof(conf), "retention.hourly_days = %d\nretention.daily_days = %d",
             HOURLY, DAILY);
    assert_int_equal(h_daemon_rewrite_conf(&f->d, &f->r, conf), 0);
    const char *keys[] = {"hc:clicks:pr1", "hc:campaign:news:clicks", "other:clicks:pr1"};
    for (size_t k = 0; k < 3; k++) {
        h_redis_int(&f->r, "HSET %s total 10 bot 3 scan 4 custom 1", keys[k]);
        long long at[] = {0, HOURLY * 24, HOURLY * 24 + 1, 24 * DAILY, 24 * (DAILY + 1)};
        for (size_t i = 0; i < 5; i++) {
            field_at(fld, sizeof(fld), "h", at[i]);
            h_redis_int(&f->r, "HSET %s %s 1", keys[k], fld);
        }
        const char *daykinds[] = {"d", "bot:d", "scan:d"};
        for (size_t d = 0; d < 3; d++)
            for (long long day = 0; day <= DAILY + 1; day++) {
                field_at(fld, sizeof(fld), daykinds[d], day * 24);
                h_redis_int(&f->r, "HSET %s %s 1", keys[k], fld);
            }
    }
    h_redis_int(&f->r, "SET hc:clicks:notahash x");
    long long before = h_redis_int(&f->r, "HLEN hc:clicks:pr1");
    /* Unique followers' days, kept as long as day fields; the day's hash
     * key and another prefix's are not theirs to touch. */
    const char *uniq[] = {"hc:uniq:pr1", "hc:campaign:news:uniq", "other:uniq:pr1",
                          "hc:uniqkey"};
    for (size_t k = 0; k < 4; k++)
        for (long long day = 0; day <= DAILY + 1; day++) {
            field_at(fld, sizeof(fld), "d", day * 24);
            h_redis_int(&f->r, "PFADD %s:%s x", uniq[k], fld + 2);
        }

    /* --dry-run: the count, nothing removed. Hours just past the window: 3
     * (hourly*24+1, and the two day-old ones); days: one per kind. */
    assert_int_equal(ctl(f, "prune", "--dry-run"), 0);
    assert_non_null(strstr(f->out, "prune --dry-run (full: every field read): 3 counter "
                                   "keys, 2 of them with fields that would go: 6 hour "
                                   "fields before "));
    assert_non_null(strstr(f->out, "6 day fields before "));
    assert_non_null(strstr(f->out, "; 2 unique followers' days"));
    assert_int_equal(h_redis_int(&f->r, "HLEN hc:clicks:pr1"), before);
    field_at(fld, sizeof(fld), "d", 24 * (DAILY + 1));
    assert_int_equal(h_redis_int(&f->r, "EXISTS hc:uniq:pr1:%s", fld + 2), 1);

    assert_int_equal(ctl(f, "prune"), 0);
    assert_non_null(strstr(f->out, "removed: 6 hour fields"));
    assert_non_null(strstr(f->out, "; 2 unique followers' days"));
    for (size_t k = 0; k < 4; k++) {
        field_at(fld, sizeof(fld), "d", 24 * DAILY); /* just inside */
        assert_int_equal(h_redis_int(&f->r, "EXISTS %s:%s", uniq[k], fld + 2), 1);
        field_at(fld, sizeof(fld), "d", 24 * (DAILY + 1)); /* just outside */
        assert_int_equal(h_redis_int(&f->r, "EXISTS %s:%s", uniq[k], fld + 2), k >= 2);
    }
    for (size_t k = 0; k < 2; k++) {
        assert_int_equal(h_redis_int(&f->r, "HLEN %s", keys[k]), before - 6);
        field_at(fld, sizeof(fld), "h", HOURLY * 24); /* just inside */
        assert_int_equal(h_redis_int(&f->r, "HEXISTS %s %s", keys[k], fld), 1);
        field_at(fld, sizeof(fld), "h", HOURLY * 24 + 1); /* just outside */
        assert_int_equal(h_redis_int(&f->r, "HEXISTS %s %s", keys[k], fld), 0);
        field_at(fld, sizeof(fld), "scan:d", 24 * DAILY);
        assert_int_equal(h_redis_int(&f->r, "HEXISTS %s %s", keys[k], fld), 1);
        field_at(fld, sizeof(fld), "bot:d", 24 * (DAILY + 1));
        assert_int_equal(h_redis_int(&f->r, "HEXISTS %s %s", keys[k], fld), 0);
        assert_int_equal(h_hget(&f->r, keys[k], "total"), 10);
        assert_int_equal(h_hget(&f->r, keys[k], "custom"), 1);
    }
    assert_int_equal(h_redis_int(&f->r, "HLEN other:clicks:pr1"), before);
    assert_non_null(strstr(f->out, "keys that are not hashes were left alone"));
    /* Campaigns with counters join the dashboard's list (links other tools
     * wrote, or from before the list). */
    assert_int_equal(h_redis_int(&f->r, "SISMEMBER hc:campaigns news"), 1);
    assert_int_equal(h_redis_int(&f->r, "SCARD hc:campaigns"), 1);
    assert_int_equal(h_redis_int(&f->r, "EXISTS hc:prune:done"), 1);
    assert_int_equal(ctl(f, "prune"), 0); /* nothing more, by name this time */
    assert_non_null(strstr(f->out, "prune (daily: "));
    assert_non_null(strstr(f->out, "0 of them"));

    /* A shorter window, at the next run (by name: the hours that left it);
     * daily_days 0 keeps every day. */
    assert_int_equal(h_daemon_rewrite_conf(&f->d, &f->r,
                                           "retention.hourly_days = 1\n"
                                           "retention.daily_days = 0"),
                     0);
    assert_int_equal(ctl(f, "prune"), 0);
    assert_non_null(strstr(f->out, "prune (daily: "));
    assert_non_null(strstr(f->out, "2 of them with fields removed: 2 hour fields"));
    assert_non_null(strstr(f->out, "0 day fields before (daily_days = 0"));

    /* Many keys whose fields are older than the last cut (as a late spool
     * replay writes them): a full pass, killed partway, then one to the end. */
    redisContext *c = h_redis_connect(&f->r);
    field_at(fld, sizeof(fld), "h", 100);
    for (int i = 0; i < MANY; i++)
        redisAppendCommand(c, "HSET hc:clicks:m%d total 1 %s 1", i, fld);
    for (int i = 0; i < MANY; i++) {
        redisReply *r = NULL;
        assert_int_equal(redisGetReply(c, (void **)&r), REDIS_OK);
        freeReplyObject(r);
    }
    redisFree(c);
    char cmd[600];
    const char *bin = getenv("HOPCTL_BIN") ? getenv("HOPCTL_BIN") : "build/hopctl";
    snprintf(cmd, sizeof(cmd),
             "timeout -s KILL 0.3 %s -c %s prune --full >/dev/null 2>&1", bin, f->d.conf);
    int st = system(cmd);
    (void)st; /* killed, or done if the machine was quick: either is a valid state */
    long long left = 0;
    for (int i = 0; i < MANY; i++)
        left += h_redis_int(&f->r, "HEXISTS hc:clicks:m%d %s", i, fld);
    assert_int_equal(ctl(f, "prune", "--full"), 0);
    assert_non_null(strstr(f->out, "prune (full: "));
    snprintf(cmd, sizeof(cmd), "removed: %lld hour fields", left);
    assert_non_null(strstr(f->out, cmd));
    for (int i = 0; i < MANY; i += 97) {
        char key[32];
        snprintf(key, sizeof(key), "hc:clicks:m%d", i);
        assert_int_equal(h_redis_int(&f->r, "HEXISTS %s %s", key, fld), 0);
        assert_int_equal(h_hget(&f->r, key, "total"), 1);
    }
}

/* Bad input: exit 1, a one-line reason, and nothing written to Redis. */
static void test_add_rejects(void **state)
{
    struct fx *f = *state;
    char overlong[2100] = "https://example.com/";
    memset(overlong + strlen(overlong), 'a', 2049 - strlen(overlong));
    overlong[2049] = '\0';
    struct {
        const char *code, *url, *campaign, *why;
    } bad[] = {
        {"js", "javascript:alert(1)", NULL, "scheme"},
        {"rel", "/relative/path", NULL, "scheme"},
        {"rel2", "example.com/x", NULL, "target"},
        {"crlf", "https://example.com/\r\nSet-Cookie: a=b", NULL, "\\x0d\\x0a"},
        {"space", "https://example.com/a b", NULL, "target"},
        {"long", overlong, NULL, "2048"},
        {"ftp", "ftp://example.com/file", NULL, "scheme"},
        {"nohost", "https:///path", NULL, "target"},
        {"bad code", "https://example.com/", NULL, "code"},
        {"a/b", "https://example.com/", NULL, "code"},
        {"", "https://example.com/", NULL, "code"},
        {"camp", "https://example.com/", "bad campaign", "campaign"},
        {"camp2", "https://example.com/", "a:b", "campaign"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = bad[i].campaign ? ctl(f, "add", bad[i].code, bad[i].url, "--campaign",
                                       bad[i].campaign)
                                 : ctl(f, "add", bad[i].code, bad[i].url);
        if (rc != 1)
            fail_msg("add %s %s: exit %d, want 1", bad[i].code, bad[i].url, rc);
        assert_one_line(f->err, bad[i].why);
        assert_int_equal(ctl(f, "new", bad[i].url), bad[i].campaign || i >= 8 ? 0 : 1);
    }
    /* Only the `new` calls with good targets wrote anything. */
    assert_int_equal(h_redis_int(&f->r, "DBSIZE"), 5);
    assert_int_equal(h_redis_int(&f->r, "EXISTS hc:link:js hc:link:camp"), 0);
}

/* Keys written by other tools: a campaign no set can name is replaced with
 * --force; a key of another type is a one-line error, and in an import only
 * its own row is bad. */
static void test_foreign_data(void **state)
{
    struct fx *f = *state;
    char camp[301], buf[4096], path[400];
    memset(camp, 'c', 300);
    camp[300] = '\0';
    assert_int_equal(
        h_redis_int(&f->r, "HSET hc:link:odd url https://x.example/ campaign %s", camp),
        2);
    assert_int_equal(ctl(f, "add", "odd", "https://example.com/odd", "--campaign", "ok"),
                     1);
    assert_int_equal(
        ctl(f, "add", "odd", "https://example.com/odd", "--campaign", "ok", "--force"),
        0);
    assert_string_equal(hget_str(&f->r, "hc:link:odd", "campaign", buf, sizeof(buf)),
                        "ok");
    assert_int_equal(h_redis_int(&f->r, "HSET hc:link:odd2 campaign %s", camp), 1);
    assert_int_equal(ctl(f, "rm", "odd2"), 0);
    assert_int_equal(h_redis_int(&f->r, "EXISTS hc:link:odd2"), 0);

    redisContext *c = h_redis_connect(&f->r);
    assert_non_null(c);
    /* Terminal escapes in a stored target are not printed raw in tables. */
    freeReplyObject(
        redisCommand(c, "HSET hc:link:esc url %s", "https://x.example/\x1b[31mred"));
    assert_int_equal(ctl(f, "list"), 0);
    assert_null(strchr(f->out, '\x1b'));
    assert_non_null(strstr(f->out, "https://x.example/\\x1b[31mred"));
    assert_int_equal(ctl(f, "stats", "esc"), 0);
    assert_null(strchr(f->out, '\x1b'));
    /* A link written without its campaign set membership is repaired. */
    freeReplyObject(
        redisCommand(c, "HSET hc:link:loose url https://example.com/l campaign lc"));
    assert_int_equal(ctl(f, "add", "loose", "https://example.com/l", "--campaign", "lc"),
                     0);
    assert_string_equal(f->out, "loose: unchanged\n");
    assert_int_equal(h_redis_int(&f->r, "SISMEMBER hc:campaign:lc:links loose"), 1);
    freeReplyObject(redisCommand(c, "SET hc:link:str text"));
    redisFree(c);
    assert_int_equal(ctl(f, "add", "str", "https://example.com/s", "--force"), 1);
    assert_one_line(f->err, "WRONGTYPE");
    assert_int_equal(ctl(f, "rm", "str"), 1);
    assert_one_line(f->err, "WRONGTYPE");
    snprintf(path, sizeof(path), "%s/foreign.csv", f->r.dir);
    write_file(
        path,
        "a,https://example.com/a\nstr,https://example.com/s\nb,https://example.com/b\n");
    assert_int_equal(ctl(f, "import", path), 1);
    assert_non_null(strstr(f->out, "2 added"));
    assert_int_equal(lines(f->err), 1);
    assert_non_null(strstr(f->err, ":2: str: WRONGTYPE"));
}

/* Usage errors exit 2; --help exits 0; Redis away is one line and exit 1. */
static void test_usage_and_unreachable(void **state)
{
    struct fx *f = *state;
    assert_int_equal(ctl(f, "--help"), 0);
    assert_non_null(strstr(f->out, "usage: hopctl"));
    assert_int_equal(ctl(f, "stats", "--help"), 0);
    assert_non_null(strstr(f->out, "--days N"));
    assert_int_equal(ctl(f, "-V"), 0);
    assert_non_null(strstr(f->out, "hopctl "));

    assert_int_equal(ctl_conf(f, f->d.conf, NULL, (char *)NULL), 2);
    assert_int_equal(ctl(f, "frobnicate"), 2);
    assert_int_equal(ctl(f, "add", "onlycode"), 2);
    assert_int_equal(ctl(f, "add", "a", "https://e.com/", "extra"), 2);
    assert_int_equal(ctl(f, "add", "a", "https://e.com/", "--purge"), 2);
    assert_int_equal(ctl(f, "add", "a", "https://e.com/", "--campaign"), 2);
    assert_int_equal(ctl(f, "rm"), 2);
    assert_int_equal(ctl(f, "new", "https://e.com/", "--length", "3"), 2);
    assert_int_equal(ctl(f, "new", "https://e.com/", "--length", "x"), 2);
    assert_int_equal(ctl(f, "stats", "a", "--days", "0"), 2);
    assert_int_equal(ctl(f, "stats", "a", "--format", "xml"), 2);
    assert_int_equal(ctl(f, "stats"), 2);
    assert_int_equal(ctl(f, "stats", "a", "--campaign", "b"), 2);
    assert_int_equal(ctl(f, "list", "--bogus"), 2);
    assert_int_equal(h_redis_int(&f->r, "DBSIZE"), 0);

    /* A conf with errors: exit 1 with file:line. */
    char path[400];
    snprintf(path, sizeof(path), "%s/broken.conf", f->r.dir);
    write_file(path, "[redis]\nport = 99999\n");
    assert_int_equal(ctl_conf(f, path, NULL, "list", (char *)NULL), 1);
    assert_non_null(strstr(f->err, "broken.conf:2:"));

    /* Nothing listens on the port: one clear line, exit 1. */
    snprintf(path, sizeof(path), "%s/away.conf", f->r.dir);
    char conf[200];
    snprintf(conf, sizeof(conf), "[redis]\nhost = 127.0.0.1\nport = %d\n", h_free_port());
    write_file(path, conf);
    assert_int_equal(ctl_conf(f, path, NULL, "add", "x", "https://e.com/", (char *)NULL),
                     1);
    assert_one_line(f->err, "cannot connect");
    assert_int_equal(ctl_conf(f, path, NULL, "list", (char *)NULL), 1);
    assert_one_line(f->err, "cannot connect");
}

/* new: a fresh code from the look-alike-free alphabet, stored and live. */
static void test_new(void **state)
{
    struct fx *f = *state;
    char code[80], key[120], buf[4096];
    assert_int_equal(h_daemon_start(&f->d, &f->r, NULL, true), 0);

    assert_int_equal(ctl(f, "new", "https://example.com/n1", "--campaign", "fall"), 0);
    assert_int_equal(sscanf(f->out, "%79s", code), 1);
    assert_int_equal(strlen(code), 8);
    assert_int_equal(
        strspn(code, "23456789abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"), 8);
    snprintf(key, sizeof(key), "hc:link:%s", code);
    assert_string_equal(hget_str(&f->r, key, "url", buf, sizeof(buf)),
                        "https://example.com/n1");
    assert_string_equal(hget_str(&f->r, key, "campaign", buf, sizeof(buf)), "fall");
    char path[100];
    snprintf(path, sizeof(path), "/%s", code);
    assert_in_range(wait_status(f, path, 302, 1000), 0, 1000);

    assert_int_equal(ctl(f, "new", "https://example.com/n2", "--length", "20"), 0);
    assert_int_equal(strlen(f->out), 21);
    /* Codes do not repeat. */
    assert_int_equal(ctl(f, "new", "https://example.com/n1", "--campaign", "fall"), 0);
    assert_string_not_equal(strtok(f->out, "\n"), code);
    assert_int_equal(h_redis_int(&f->r, "SCARD hc:campaign:fall:links"), 2);
}

/* rm: the link and its set membership go, the daemon answers 404 within a
 * second, counts stay unless --purge. */
static void test_rm_live(void **state)
{
    struct fx *f = *state;
    char day[32], hour[32], botday[32];
    assert_int_equal(h_daemon_start(&f->d, &f->r, NULL, true), 0);
    h_fields(day, hour, botday, sizeof(day));

    assert_int_equal(ctl(f, "add", "gone", "https://example.com/g", "--campaign", "c"),
                     0);
    assert_in_range(wait_status(f, "/gone", 302, 1000), 0, 1000);
    assert_int_equal(h_get(f->d.port, "GET", "/gone", BROWSER, f->resp, sizeof(f->resp)),
                     302);
    assert_int_equal(h_wait_hget(&f->r, "hc:clicks:gone", "total", 2, 3000), 2);

    assert_int_equal(ctl(f, "rm", "gone"), 0);
    assert_non_null(strstr(f->out, "gone: removed"));
    assert_in_range(wait_status(f, "/gone", 404, 1000), 0, 1000);
    assert_int_equal(h_redis_int(&f->r, "EXISTS hc:link:gone"), 0);
    assert_int_equal(h_redis_int(&f->r, "SISMEMBER hc:campaign:c:links gone"), 0);
    assert_int_equal(h_hget(&f->r, "hc:clicks:gone", "total"), 2);
    assert_int_equal(h_hget(&f->r, "hc:campaign:c:clicks", "total"), 2);

    /* Gone already: exit 1, one line. The counts can still be purged. */
    assert_int_equal(ctl(f, "rm", "gone"), 1);
    assert_one_line(f->err, "no such link: gone");
    assert_int_equal(ctl(f, "rm", "gone", "--purge"), 0);
    assert_int_equal(h_redis_int(&f->r, "EXISTS hc:clicks:gone"), 0);
    assert_int_equal(ctl(f, "rm", "gone", "--purge"), 1);

    assert_int_equal(ctl(f, "add", "both", "https://example.com/b"), 0);
    assert_in_range(wait_status(f, "/both", 302, 1000), 0, 1000);
    assert_int_equal(h_wait_hget(&f->r, "hc:clicks:both", "total", 1, 3000), 1);
    /* Its unique followers' days go with its counts; another code's stay. */
    assert_int_equal(h_redis_int(&f->r, "PFADD hc:uniq:both:2026-11-28 a"), 1);
    assert_int_equal(h_redis_int(&f->r, "PFADD hc:uniq:both:2026-11-29 a"), 1);
    assert_int_equal(h_redis_int(&f->r, "PFADD hc:uniq:both2:2026-11-29 a"), 1);
    assert_int_equal(ctl(f, "rm", "both", "--purge"), 0);
    assert_string_equal(f->out, "both: removed, counts purged\n");
    assert_int_equal(h_redis_int(&f->r, "EXISTS hc:link:both hc:clicks:both"), 0);
    assert_int_equal(
        h_redis_int(&f->r, "EXISTS hc:uniq:both:2026-11-28 hc:uniq:both:2026-11-29"), 0);
    assert_int_equal(h_redis_int(&f->r, "EXISTS hc:uniq:both2:2026-11-29"), 1);
    assert_in_range(wait_status(f, "/both", 404, 1000), 0, 1000);
    assert_int_equal(ctl(f, "rm", "bad/code"), 1);
}

/* list: sorted, filtered by campaign, in three formats; its CSV imports
 * back into another database as the same links. */
static void test_list(void **state)
{
    struct fx *f = *state;
    assert_int_equal(
        ctl(f, "add", "zeta", "https://example.com/z?x=1,2", "--campaign", "s"), 0);
    assert_int_equal(ctl(f, "add", "alpha", "https://example.com/a"), 0);
    assert_int_equal(ctl(f, "add", "mid", "https://example.com/m", "--campaign", "s"), 0);
    /* Not tracked: the same link, tracking off, replaced only with --force. */
    assert_int_equal(ctl(f, "add", "zeta", "https://example.com/z?x=1,2", "--campaign",
                         "s", "--no-track"),
                     1);
    assert_int_equal(ctl(f, "add", "zeta", "https://example.com/z?x=1,2", "--campaign",
                         "s", "--no-track", "--force"),
                     0);
    assert_non_null(strstr(f->out, "zeta: replaced"));
    assert_int_equal(h_redis_int(&f->r, "HEXISTS hc:link:zeta notrack"), 1);
    /* A key no valid code names is not listed. */
    assert_int_equal(
        h_redis_int(&f->r, "HSET %s url %s", "hc:link:bad code", "https://x.y/"), 1);

    assert_int_equal(ctl(f, "list"), 0);
    assert_int_equal(lines(f->out), 4);
    assert_non_null(strstr(f->out, "  TRACK  URL\n"));
    assert_non_null(strstr(f->out, "  off    https://example.com/z?x=1,2\n"));
    assert_non_null(strstr(f->out, "  on     https://example.com/a\n"));
    char *a = strstr(f->out, "\nalpha "), *m = strstr(f->out, "\nmid "),
         *z = strstr(f->out, "\nzeta ");
    assert_true(a != NULL && m != NULL && z != NULL && a < m && m < z);
    assert_non_null(strstr(f->out, "https://example.com/z?x=1,2"));

    assert_int_equal(ctl(f, "list", "--campaign", "s"), 0);
    assert_int_equal(lines(f->out), 3);
    assert_null(strstr(f->out, "alpha"));

    assert_int_equal(ctl(f, "list", "--format", "json"), 0);
    assert_non_null(strstr(f->out,
                           "{\"code\": \"alpha\", \"url\": \"https://example.com/a\", "
                           "\"campaign\": null, \"created\": "));
    assert_non_null(strstr(f->out, ", \"track\": false}"));
    assert_non_null(strstr(f->out, ", \"track\": true}"));
    assert_non_null(strstr(f->out,
                           "{\"code\": \"zeta\", \"url\": "
                           "\"https://example.com/z?x=1,2\", \"campaign\": \"s\""));

    assert_int_equal(ctl(f, "list", "--format", "csv"), 0);
    assert_string_equal(f->out, "code,url,campaign,track\n"
                                "alpha,https://example.com/a,,on\n"
                                "mid,https://example.com/m,s,on\n"
                                "zeta,\"https://example.com/z?x=1,2\",s,off\n");
    static char csv[OUT];
    char path[400];
    snprintf(csv, sizeof(csv), "%s", f->out);
    snprintf(path, sizeof(path), "%s/export.csv", f->r.dir);
    write_file(path, csv);

    /* Into db 1 with another prefix: the same links come back. */
    struct h_daemon other = {0};
    assert_int_equal(
        h_daemon_conf(&other, &f->r, "redis.db = 1\nredis.key_prefix = shop"), 0);
    assert_int_equal(ctl_conf(f, other.conf, NULL, "import", path, (char *)NULL), 0);
    assert_non_null(strstr(f->out, "3 added"));
    assert_int_equal(
        ctl_conf(f, other.conf, NULL, "list", "--format", "csv", (char *)NULL), 0);
    assert_string_equal(f->out, csv);
    assert_int_equal(h_redis_int(&f->r, "DBSIZE"),
                     6); /* db 0 untouched (hc:campaigns too) */
    assert_int_equal(
        ctl_conf(f, other.conf, NULL, "list", "--campaign", "s", (char *)NULL), 0);
    assert_int_equal(lines(f->out), 3);
}

/* import: every good row is written, each bad row is FILE:LINE: reason,
 * exit 1 when any row was bad; stdin; duplicates; --force. */
static void test_import(void **state)
{
    struct fx *f = *state;
    char path[400], want[600], buf[4096];
    snprintf(path, sizeof(path), "%s/links.csv", f->r.dir);
    char longurl[2200] = "https://example.com/";
    memset(longurl + 20, 'x', 2100);
    longurl[2120] = '\0';
    char text[8192];
    snprintf(text, sizeof(text),
             "\xef\xbb\xbf"
             "code,url,campaign\n"                           /* 1: header */
             "i1,https://example.com/1\n"                    /* 2 */
             "\"i2\",\"https://example.com/2?a=1,2\",nl\r\n" /* 3: quoted, CRLF */
             "i3,javascript:alert(1)\n"                      /* 4: bad */
             "\n"                                            /* 5: blank */
             "i4,/relative\n"                                /* 6: bad */
             "i1,https://example.com/again\n"                /* 7: duplicate */
             "bad code,https://example.com/\n"               /* 8: bad */
             "i5,\"https://example.com/open\n"               /* 9: bad quote */
             "i6\n"                                          /* 10: one field */
             "i7,https://example.com/7,c,extra\n"            /* 11: bad track */
             "i8,%s\n"                                       /* 12: overlong */
             "i9,https://example.com/9,bad/camp\n"           /* 13: campaign */
             "i10,https://example.com/10,nl\n",              /* 14 */
             longurl);
    write_file(path, text);
    assert_int_equal(ctl(f, "import", path), 1);
    assert_non_null(strstr(f->out, "3 added, 0 replaced, 0 unchanged, 9 bad rows"));
    int badlines[] = {4, 6, 7, 8, 9, 10, 11, 12, 13};
    assert_int_equal(lines(f->err), 9);
    for (size_t i = 0; i < sizeof(badlines) / sizeof(badlines[0]); i++) {
        snprintf(want, sizeof(want), "%s:%d: ", path, badlines[i]);
        if (strstr(f->err, want) == NULL)
            fail_msg("no \"%s\" in:\n%s", want, f->err);
    }
    assert_non_null(strstr(f->err, ":7: i1: duplicate code (first on line 2)"));
    assert_non_null(strstr(f->err, ":11: track \"extra\" is not on or off"));
    assert_string_equal(hget_str(&f->r, "hc:link:i1", "url", buf, sizeof(buf)),
                        "https://example.com/1");
    assert_string_equal(hget_str(&f->r, "hc:link:i2", "url", buf, sizeof(buf)),
                        "https://example.com/2?a=1,2");
    assert_int_equal(h_redis_int(&f->r, "SCARD hc:campaign:nl:links"), 2);
    assert_int_equal(h_redis_int(&f->r, "DBSIZE"), 5); /* with hc:campaigns */

    /* Again, from stdin: the good rows are unchanged; names say stdin. */
    assert_int_equal(ctl_in(f, path, "import", "-"), 1);
    assert_non_null(strstr(f->out, "0 added, 0 replaced, 3 unchanged, 9 bad rows"));
    assert_non_null(strstr(f->err, "stdin:4: "));

    /* An existing code with another target: bad without --force. */
    snprintf(path, sizeof(path), "%s/change.csv", f->r.dir);
    write_file(path, "i1,https://example.com/changed\ni11,https://example.com/11\n");
    assert_int_equal(ctl(f, "import", path), 1);
    snprintf(want, sizeof(want), "%s:1: i1: link exists", path);
    assert_non_null(strstr(f->err, want));
    assert_int_equal(lines(f->err), 1);
    assert_string_equal(hget_str(&f->r, "hc:link:i1", "url", buf, sizeof(buf)),
                        "https://example.com/1");
    assert_int_equal(ctl(f, "import", path, "--force"), 0);
    assert_non_null(strstr(f->out, "0 added, 1 replaced, 1 unchanged, 0 bad rows"));
    assert_string_equal(hget_str(&f->r, "hc:link:i1", "url", buf, sizeof(buf)),
                        "https://example.com/changed");

    /* --force moves a link out of its campaign. */
    write_file(path, "i2,\"https://example.com/2?a=1,2\"\n");
    assert_int_equal(ctl(f, "import", path), 1);
    assert_int_equal(ctl(f, "import", path, "--force"), 0);
    assert_int_equal(h_redis_int(&f->r, "SISMEMBER hc:campaign:nl:links i2"), 0);
    assert_null(hget_str(&f->r, "hc:link:i2", "campaign", buf, sizeof(buf)));
    /* A move (the retry after the campaign changed) keeps the track column. */
    write_file(path, "i10,https://example.com/10,,off\n");
    assert_int_equal(ctl(f, "import", path, "--force"), 0);
    assert_int_equal(h_redis_int(&f->r, "SISMEMBER hc:campaign:nl:links i10"), 0);
    assert_int_equal(h_redis_int(&f->r, "HEXISTS hc:link:i10 notrack"), 1);
    write_file(path, "i10,https://example.com/10,nl,on\n");
    assert_int_equal(ctl(f, "import", path, "--force"), 0);
    assert_int_equal(h_redis_int(&f->r, "SISMEMBER hc:campaign:nl:links i10"), 1);
    assert_int_equal(h_redis_int(&f->r, "HEXISTS hc:link:i10 notrack"), 0);

    /* A file that is not there; an empty file. */
    assert_int_equal(ctl(f, "import", "/nonexistent/x.csv"), 1);
    assert_one_line(f->err, "/nonexistent/x.csv");
    assert_int_equal(ctl_in(f, "/dev/null", "import", "-"), 0);
    assert_non_null(strstr(f->out, "0 added"));
}

/* Pipelining across batches: more rows than one pipeline holds. */
static void test_import_many(void **state)
{
    struct fx *f = *state;
    char path[400];
    snprintf(path, sizeof(path), "%s/many.csv", f->r.dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    for (int i = 0; i < 5000; i++)
        fprintf(fp, "m%d,https://example.com/m/%d,c%d\n", i, i, i % 7);
    fprintf(fp, "m17,https://example.com/dup\n");
    fclose(fp);
    assert_int_equal(ctl(f, "import", path), 1);
    assert_non_null(strstr(f->out, "5000 added, 0 replaced, 0 unchanged, 1 bad rows"));
    char want[600];
    snprintf(want, sizeof(want), "%s:5001: m17: duplicate code (first on line 18)\n",
             path);
    assert_string_equal(f->err, want);
    long long sum = 0;
    for (int c = 0; c < 7; c++) {
        char cmd[64];
        snprintf(cmd, sizeof(cmd), "SCARD hc:campaign:c%d:links", c);
        sum += h_redis_int(&f->r, cmd);
    }
    assert_int_equal(sum, 5000);
    assert_int_equal(ctl(f, "list"), 0);
    assert_int_equal(lines(f->out), 5001);
}

/* Review item 19: one code per recipient turns aggregate counts into
 * per-person data; import says so for a target that more than 100 codes of
 * one campaign share, and still imports (a warning, not a refusal). */
static void test_import_warns_per_recipient_codes(void **state)
{
    struct fx *f = *state;
    char path[400];
    snprintf(path, sizeof(path), "%s/per-person.csv", f->r.dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fprintf(fp, "code,url,campaign\n");
    for (int i = 0; i < 3; i++) /* a logo, a button, a text link: normal */
        fprintf(fp, "n%d,https://example.com/sale,nl\n", i);
    for (int i = 0; i < 101; i++) /* line 5 on */
        fprintf(fp, "p%d,https://example.com/offer,nl\n", i);
    for (int i = 0; i < 100; i++) /* the same target in another campaign */
        fprintf(fp, "q%d,https://example.com/offer,other\n", i);
    for (int i = 0; i < 120; i++) /* line 206 on */
        fprintf(fp, "r%d,https://example.com/plain\n", i);
    fclose(fp);
    assert_int_equal(ctl(f, "import", path), 0);
    assert_non_null(strstr(f->out, "324 added, 0 replaced, 0 unchanged, 0 bad rows"));
    char want[800];
    snprintf(want, sizeof(want),
             "%s:5: warning: 101 codes of campaign nl point to https://example.com/offer: "
             "one code per recipient makes the counts per-person data (see "
             "docs/privacy.md)\n",
             path);
    assert_non_null(strstr(f->err, want));
    snprintf(want, sizeof(want),
             "%s:206: warning: 120 codes without a campaign point to "
             "https://example.com/plain",
             path);
    assert_non_null(strstr(f->err, want));
    assert_int_equal(lines(f->err), 2);
}

/* Review item 15: against a frozen Redis hopctl said "Resource temporarily
 * unavailable" instead of naming the timeout. */
static void test_frozen_redis_names_timeout(void **state)
{
    struct fx *f = *state;
    if (ctl(f, "list") != 0) /* positive control */
        fail_msg("hopctl list failed before Redis was frozen: %s", f->err);
    kill(f->r.pid, SIGSTOP);
    int rc = ctl(f, "add", "frozen", "https://example.com/f");
    kill(f->r.pid, SIGCONT);
    assert_int_equal(rc, 1);
    assert_one_line(f->err, "no answer within command_timeout_ms (1000 ms)");
}

/* Regression (review 2026-11, item 1): import --force read the answers of
 * later pipelined rows as the answers of the synchronous retry of a row that
 * moved campaign, so moves, new rows and unchanged rows were mis-reported
 * and not written. Thousands of rows in several pipelines: some move, some
 * are new, some unchanged, some replaced. */
static void test_import_force_moves(void **state)
{
    struct fx *f = *state;
    char path[400], want[128], buf[4096];
    snprintf(path, sizeof(path), "%s/before.csv", f->r.dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    for (int i = 0; i < 3000; i++)
        fprintf(fp, "f%d,https://example.com/f/%d,c1\n", i, i);
    fclose(fp);
    assert_int_equal(ctl(f, "import", path), 0);
    assert_int_equal(h_redis_int(&f->r, "SCARD hc:campaign:c1:links"), 3000);

    /* i % 4: 0 moves to c2, 1 unchanged, 2 new target (same campaign),
     * 3 moves and gets a new target; plus 1,000 new codes. */
    snprintf(path, sizeof(path), "%s/after.csv", f->r.dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    for (int i = 0; i < 3000; i++) {
        switch (i % 4) {
        case 0: fprintf(fp, "f%d,https://example.com/f/%d,c2\n", i, i); break;
        case 1: fprintf(fp, "f%d,https://example.com/f/%d,c1\n", i, i); break;
        case 2: fprintf(fp, "f%d,https://example.com/g/%d,c1\n", i, i); break;
        default: fprintf(fp, "f%d,https://example.com/g/%d,c2\n", i, i); break;
        }
        if (i % 3 == 0)
            fprintf(fp, "n%d,https://example.com/n/%d,c2\n", i, i);
    }
    fclose(fp);
    assert_int_equal(ctl(f, "import", path, "--force"), 0);
    assert_string_equal(f->err, "");
    assert_non_null(strstr(f->out, "1000 added, 2250 replaced, 750 unchanged, 0 bad rows"));
    assert_int_equal(h_redis_int(&f->r, "SCARD hc:campaign:c1:links"), 1500);
    assert_int_equal(h_redis_int(&f->r, "SCARD hc:campaign:c2:links"), 2500);
    for (int i = 0; i < 3000; i++) {
        char key[64];
        snprintf(key, sizeof(key), "hc:link:f%d", i);
        const char *camp = i % 4 == 0 || i % 4 == 3 ? "c2" : "c1";
        assert_string_equal(hget_str(&f->r, key, "campaign", buf, sizeof(buf)), camp);
        snprintf(want, sizeof(want), "https://example.com/%s/%d", i % 4 >= 2 ? "g" : "f",
                 i);
        assert_string_equal(hget_str(&f->r, key, "url", buf, sizeof(buf)), want);
    }
}

/* stats: the numbers real requests produced, in table, csv and json. */
static void test_stats(void **state)
{
    struct fx *f = *state;
    char day[16], want[400];
    assert_int_equal(h_daemon_start(&f->d, &f->r, NULL, true), 0);
    today(day, sizeof(day));

    assert_int_equal(
        ctl(f, "add", "st", "https://example.com/st", "--campaign", "launch"), 0);
    assert_int_equal(
        ctl(f, "add", "st2", "https://example.com/st2", "--campaign", "launch"), 0);
    /* The campaign is in the dashboard's list, once. */
    assert_int_equal(h_redis_int(&f->r, "SCARD hc:campaigns"), 1);
    assert_int_equal(h_redis_int(&f->r, "SISMEMBER hc:campaigns launch"), 1);
    assert_in_range(wait_status(f, "/st", 302, 1000), 0, 1000); /* follow 1 */
    for (int i = 0; i < 4; i++)
        assert_int_equal(
            h_get(f->d.port, "GET", "/st", BROWSER, f->resp, sizeof(f->resp)), 302);
    for (int i = 0; i < 2; i++)
        assert_int_equal(h_get(f->d.port, "HEAD", "/st", "", f->resp, sizeof(f->resp)),
                         302);
    assert_int_equal(
        h_get(f->d.port, "GET", "/st", "DNT: 1\r\n", f->resp, sizeof(f->resp)), 302);
    assert_in_range(wait_status(f, "/st2", 302, 1000), 0, 1000);
    assert_int_equal(h_wait_hget(&f->r, "hc:clicks:st", "total", 5, 3000), 5);
    assert_int_equal(h_wait_hget(&f->r, "hc:clicks:st", "bot", 2, 3000), 2);
    assert_int_equal(h_wait_hget(&f->r, "hc:campaign:launch:clicks", "total", 6, 3000),
                     6);
    /* Scanner follows, as the daemon writes them (test_scanners drives it). */
    char scanday[32];
    snprintf(scanday, sizeof(scanday), "scan:d:%s", day);
    h_redis_int(&f->r, "HINCRBY hc:clicks:st scan 4");
    h_redis_int(&f->r, "HINCRBY hc:clicks:st %s 4", scanday);

    assert_int_equal(ctl(f, "stats", "st", "--format", "json"), 0);
    assert_non_null(strstr(f->out,
                           "{\"code\": \"st\", \"url\": \"https://example.com/st\", "
                           "\"campaign\": \"launch\", \"track\": true, \"total\": 5, "
                           "\"bot\": 2, \"scan\": 4, \"days\": ["));
    snprintf(
        want, sizeof(want),
        "{\"day\": \"%s\", \"follows\": 5, \"bot\": 2, \"scan\": 4, \"uniques\": 0}]}\n",
        day);
    assert_non_null(strstr(f->out, want));
    int ndays = 0;
    for (const char *p = f->out; (p = strstr(p, "\"day\":")) != NULL; p++)
        ndays++;
    assert_int_equal(ndays, 14);
    assert_int_equal(
        strstr(f->out, "\"follows\": 0, \"bot\": 0, \"scan\": 0, \"uniques\": 0}") !=
            NULL,
        1);

    assert_int_equal(ctl(f, "stats", "st", "--format", "csv", "--days", "3"), 0);
    char csv[400];
    time_t t = time(NULL);
    char d1[16], d2[16];
    struct tm tm;
    time_t y1 = t - 86400, y2 = t - 2 * 86400;
    gmtime_r(&y2, &tm);
    strftime(d2, sizeof(d2), "%Y-%m-%d", &tm);
    gmtime_r(&y1, &tm);
    strftime(d1, sizeof(d1), "%Y-%m-%d", &tm);
    snprintf(csv, sizeof(csv),
             "day,follows,bot,scan,uniques\n%s,0,0,0,0\n%s,0,0,0,0\n%s,5,2,4,0\n", d2, d1,
             day);
    assert_string_equal(f->out, csv);

    assert_int_equal(ctl(f, "stats", "st"), 0);
    assert_non_null(strstr(f->out, "follows   5 (all time), 2 by bots, 4 by scanners\n"));
    snprintf(want, sizeof(want),
             "%s        5     2      4  ########################################\n", day);
    assert_non_null(strstr(f->out, want));
    assert_int_equal(lines(f->out), 4 + 2 + 14);

    assert_int_equal(ctl(f, "stats", "--campaign", "launch", "--format", "json"), 0);
    assert_non_null(strstr(f->out,
                           "{\"campaign\": \"launch\", \"links\": 2, \"total\": 6, "
                           "\"bot\": 2, \"scan\": 0, \"days\": ["));
    snprintf(
        want, sizeof(want),
        "{\"day\": \"%s\", \"follows\": 6, \"bot\": 2, \"scan\": 0, \"uniques\": 0}]}\n",
        day);
    assert_non_null(strstr(f->out, want));
    assert_int_equal(ctl(f, "stats", "--campaign", "launch"), 0);
    assert_non_null(strstr(f->out, "links     2\n"));

    /* What stats says is what Redis holds. */
    char fday[32], fhour[32], fbot[32];
    h_fields(fday, fhour, fbot, sizeof(fday));
    assert_int_equal(h_hget(&f->r, "hc:clicks:st", fday), 5);
    assert_int_equal(h_hget(&f->r, "hc:clicks:st", fbot), 2);

    assert_int_equal(ctl(f, "stats", "nosuch"), 1);
    assert_one_line(f->err, "no such link: nosuch");
    assert_int_equal(ctl(f, "stats", "--campaign", "nosuch"), 1);
    assert_one_line(f->err, "no such campaign: nosuch");
    /* A counter that is not a number is an error, not a zero. */
    assert_int_equal(h_redis_int(&f->r, "HSET hc:clicks:st2 total oops"), 0);
    assert_int_equal(ctl(f, "stats", "st2"), 1);
    assert_one_line(f->err, "not a count");
}

/* With uniques on, stats shows each day's unique followers of a link and
 * of its campaign (a "people" column, "uniques" in CSV and JSON); a key
 * that is not a HyperLogLog is an error. */
static void test_stats_uniques(void **state)
{
    struct fx *f = *state;
    char day[16], want[400];
    assert_int_equal(h_daemon_start(&f->d, &f->r, "tracking.uniques = on\n", true), 0);
    today(day, sizeof(day));
    assert_int_equal(ctl(f, "add", "pu", "https://example.com/pu", "--campaign", "ppl"),
                     0);
    assert_in_range(wait_status(f, "/pu", 302, 1000), 0, 1000);
    long long deadline = h_now_ms() + 5000;
    while (h_metric(&f->d, "hopcount_uniques_keyed_workers") != 2 &&
           h_now_ms() < deadline)
        h_sleep_ms(20);
    const char *req = "GET /pu HTTP/1.1\r\nHost: go.example\r\nConnection: close\r\n\r\n";
    const char *from[] = {"127.0.4.1", "127.0.4.2", "127.0.4.3", "127.0.4.1"};
    for (int i = 0; i < 4; i++)
        assert_true(h_raw_from(f->d.port, from[i], req, strlen(req), f->resp,
                               sizeof(f->resp)) > 0);
    assert_true(h_wait_flushed(&f->d, 5000));
    /* 127.0.0.1 (the first follow, unless it came before the key) and three. */
    char key[64];
    snprintf(key, sizeof(key), "hc:uniq:pu:%s", day);
    long long people = h_redis_int(&f->r, "PFCOUNT %s", key);
    assert_in_range(people, 2, 4); /* two in one register count once */

    assert_int_equal(ctl(f, "stats", "pu", "--format", "json"), 0);
    snprintf(want, sizeof(want), "\"uniques\": %lld}]}\n", people);
    assert_non_null(strstr(f->out, want));
    assert_int_equal(
        ctl(f, "stats", "--campaign", "ppl", "--format", "csv", "--days", "1"), 0);
    snprintf(want, sizeof(want), "day,follows,bot,scan,uniques\n%s,5,0,0,%lld\n", day,
             people);
    assert_string_equal(f->out, want);
    assert_int_equal(ctl(f, "stats", "pu"), 0);
    assert_non_null(strstr(f->out, "  people\n"));
    snprintf(want, sizeof(want), "%s        5     0      0       %lld  ", day, people);
    assert_non_null(strstr(f->out, want));

    assert_int_equal(h_redis_int(&f->r, "DEL %s", key), 1);
    assert_int_equal(h_redis_int(&f->r, "SADD %s x", key), 1);
    assert_int_equal(ctl(f, "stats", "pu"), 1);
    assert_non_null(strstr(f->err, key));
}

/* hopctl markers: counts the flush markers by their writer's start and
 * deletes, with --older-than, only those of writers started before then;
 * a running daemon's own marker (dated now) is never among them. */
static void test_markers(void **state)
{
    struct fx *f = *state;
    assert_int_equal(h_daemon_start(&f->d, &f->r, "server.threads = 1", true), 0);
    h_link_add(&f->r, "m1", "https://example.com/m1", "camp");
    assert_int_equal(h_get(f->d.port, "GET", "/m1", BROWSER, f->resp, sizeof(f->resp)),
                     302);
    assert_true(h_wait_flushed(&f->d, 3000)); /* the daemon's marker is written */
    long long now = h_now_wall_s();
    char k1[128], k2[128], k3[128];
    snprintf(k1, sizeof(k1), "hc:flush:%08llx0123456789abcdef-0", now - 40 * 86400);
    snprintf(k2, sizeof(k2), "hc:flush:{3560}:%08llx0123456789abcdef-1.s0",
             now - 31 * 86400);
    snprintf(k3, sizeof(k3), "hc:flush:%08llx0123456789abcdef-0", now - 2 * 86400);
    assert_int_equal(h_redis_int(&f->r, "SET %s 7", k1), -1); /* +OK */
    assert_int_equal(h_redis_int(&f->r, "SET %s 7", k2), -1);
    assert_int_equal(h_redis_int(&f->r, "SET %s 7", k3), -1);
    assert_int_equal(h_redis_int(&f->r, "SET hc:flush:0123456789abcdef-0 3"), -1);
    assert_int_equal(h_redis_int(&f->r, "SET hx:flush:%s 1", k1 + 9), -1);

    assert_int_equal(ctl(f, "markers"), 0);
    assert_non_null(strstr(f->out, "5 markers, the oldest writer started"));
    assert_non_null(
        strstr(f->out, "(40 days ago), 1 from writers whose ids carry no start"));
    assert_int_equal(ctl(f, "markers", "--older-than", "30", "--dry-run"), 0);
    assert_non_null(strstr(f->out, "would delete 2 markers"));
    assert_int_equal(h_redis_int(&f->r, "EXISTS %s %s", k1, k2), 2);
    assert_int_equal(ctl(f, "markers", "--older-than", "30"), 0);
    assert_non_null(strstr(f->out, "deleted 2 markers of writers started before"));
    assert_int_equal(h_redis_int(&f->r, "EXISTS %s %s", k1, k2), 0);
    assert_int_equal(h_redis_int(&f->r, "EXISTS %s", k3), 1);
    assert_int_equal(h_redis_int(&f->r, "EXISTS hx:flush:%s", k1 + 9), 1);
    assert_int_equal(ctl(f, "markers"), 0);
    assert_non_null(strstr(f->out, "3 markers"));
    /* --dry-run alone is a usage error. */
    assert_int_equal(ctl(f, "markers", "--dry-run"), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_add_live, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_rejects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_track, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_usage_and_unreachable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rm_live, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_warns_per_recipient_codes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_import_force_moves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_frozen_redis_names_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_uniques, setup, teardown),
        cmocka_unit_test_setup_teardown(test_markers, setup, teardown),
    };
    return cmocka_run_group_tests_name("hopctl", tests, NULL, NULL);
}
