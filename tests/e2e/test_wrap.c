/* hopctl wrap end to end (issue 16): the real build/hopctl wraps the mails
 * of tests/e2e/mail/ (hand-written tables, MJML output, MSO conditional
 * comments, ESP merge tags, a text part) against a real redis-server; every
 * wrapped link answers 302 to its original target from a running hopcount
 * and counts there; un-wrapping with the map gives the mail back byte for
 * byte; wrapping again (the mail or its output) changes nothing; and in
 * headless Chromium the wrapped mail's links land on their targets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdp.h"
#include "harness.h"

#define OUT (1 << 20)

struct fx {
    struct h_redis r;
    struct h_daemon d;
    char base[64];
    char out[OUT], err[OUT];
    char resp[8192];
};

/* A map row: code, url (decoded), campaign, track. */
struct row {
    char code[80], url[2200], campaign[80];
    bool track;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    *state = f;
    int rc = h_fixture_start(&f->r, &f->d, NULL, NULL);
    snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%d", f->d.port);
    return rc;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    return f != NULL ? h_fixture_end(&f->r, &f->d, f) : 0;
}

/* hopctl -c CONF wrap args... (NULL-terminated), stdin from input. */
static int wrap(struct fx *f, const char *input, ...)
{
    va_list ap;
    va_start(ap, input);
    int rc = h_hopctl_v(f->d.conf, input, f->out, OUT, f->err, OUT, ap);
    va_end(ap);
    return rc;
}

static char *slurp(const char *path)
{
    static char buf[4][OUT];
    static int turn;
    char *b = buf[turn++ % 4];
    h_read_file(path, b, OUT);
    return b;
}

static void path_in(const struct fx *f, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", f->r.dir, name);
}

/* The rows of a --map file (after its header). */
static size_t read_map(const char *path, struct row *rows, size_t max)
{
    const char *s = slurp(path);
    assert_non_null(strstr(s, "code,url,campaign,track\n"));
    s = strchr(s, '\n') + 1;
    size_t n = 0;
    while (*s && n < max) {
        struct row *r = &rows[n++];
        const char *c1 = strchr(s, ','), *end = strchr(s, '\n');
        assert_non_null(c1);
        snprintf(r->code, sizeof(r->code), "%.*s", (int)(c1 - s), s);
        const char *u = c1 + 1, *ue;
        if (*u == '"') { /* quoted: "" inside */
            size_t k = 0;
            for (u++; !(u[0] == '"' && u[1] != '"'); u++) {
                r->url[k++] = *u;
                u += u[0] == '"';
            }
            r->url[k] = '\0';
            ue = u + 1;
        } else {
            ue = strchr(u, ',');
            snprintf(r->url, sizeof(r->url), "%.*s", (int)(ue - u), u);
        }
        const char *c3 = strchr(ue + 1, ',');
        snprintf(r->campaign, sizeof(r->campaign), "%.*s", (int)(c3 - ue - 1), ue + 1);
        r->track = strncmp(c3 + 1, "on", 2) == 0;
        s = end + 1;
    }
    return n;
}

static bool code_byte(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

/* s with every occurrence of from (with whole: not followed by a byte of a
 * code) replaced by to, into out. */
static void replace_all(char *out, size_t cap, const char *s, const char *from,
                        const char *to, bool whole)
{
    size_t n = 0, fl = strlen(from), tl = strlen(to);
    while (*s) {
        if (strncmp(s, from, fl) == 0 && !(whole && code_byte(s[fl]))) {
            assert_true(n + tl < cap);
            memcpy(out + n, to, tl);
            n += tl;
            s += fl;
        } else {
            assert_true(n + 1 < cap);
            out[n++] = *s++;
        }
    }
    out[n] = '\0';
}

/* The wrapped mail un-wrapped with the map: each BASE/CODE back to its
 * URL (with & as &amp; in HTML). */
static void unwrap(const struct fx *f, const char *wrapped, const struct row *rows,
                   size_t n, bool html, char *out)
{
    static char a[OUT], url[4400];
    snprintf(a, OUT, "%s", wrapped);
    for (size_t i = 0; i < n; i++) {
        char link[200];
        snprintf(link, sizeof(link), "%s/%s", f->base, rows[i].code);
        if (html)
            replace_all(url, sizeof(url), rows[i].url, "&", "&amp;", false);
        else
            snprintf(url, sizeof(url), "%s", rows[i].url);
        replace_all(out, OUT, a, link, url, true);
        snprintf(a, OUT, "%s", out);
    }
    snprintf(out, OUT, "%s", a);
}

/* Each row's link answers 302 to its URL, once; then each tracked one has
 * counted that follow, and a --no-track one nothing. */
static void follow_each(struct fx *f, const struct row *rows, size_t n)
{
    static const char *browser = "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) "
                                 "Gecko/20100101 Firefox/120.0\r\n";
    for (size_t i = 0; i < n; i++) {
        char path[100], loc[2200];
        snprintf(path, sizeof(path), "/%s", rows[i].code);
        assert_int_equal(h_get(f->d.port, "GET", path, browser, f->resp, sizeof(f->resp)),
                         302);
        assert_non_null(h_header(f->resp, "Location", loc, sizeof(loc)));
        assert_string_equal(loc, rows[i].url);
    }
    assert_true(h_wait_flushed(&f->d, 5000));
    for (size_t i = 0; i < n; i++) {
        char key[120];
        snprintf(key, sizeof(key), "hc:clicks:%s", rows[i].code);
        assert_int_equal(h_hget(&f->r, key, "total"), rows[i].track ? 1 : 0);
    }
}

/* Wrap mail (a file of tests/e2e/mail/) in campaign camp: exit 0, the map,
 * the output; un-wrapping gives the mail back; wrapping the mail again
 * gives the same output and no new link; wrapping the output changes
 * nothing. Returns the map's rows. */
static size_t wrap_round_trip(struct fx *f, const char *mail, const char *camp, bool html,
                              struct row *rows, size_t max)
{
    char in[200], out[400], out2[400], map[400], map2[400];
    snprintf(in, sizeof(in), "tests/e2e/mail/%s", mail);
    path_in(f, "out1", out, sizeof(out));
    path_in(f, "out2", out2, sizeof(out2));
    path_in(f, "map1", map, sizeof(map));
    path_in(f, "map2", map2, sizeof(map2));
    if (wrap(f, NULL, "wrap", "--base", f->base, "--campaign", camp, "--map", map, "-o",
             out, in, (char *)NULL) != 0)
        fail_msg("wrap %s: %s", mail, f->err);
    size_t n = read_map(map, rows, max);
    assert_true(n > 0);
    static char restored[OUT];
    unwrap(f, slurp(out), rows, n, html, restored);
    assert_string_equal(restored, slurp(in));

    char set[120];
    snprintf(set, sizeof(set), "SCARD hc:campaign:%s:links", camp);
    long long links = h_redis_int(&f->r, set);
    assert_int_equal(wrap(f, NULL, "wrap", "--base", f->base, "--campaign", camp, "--map",
                          map2, "-o", out2, in, (char *)NULL),
                     0);
    assert_string_equal(slurp(out2), slurp(out));
    assert_string_equal(slurp(map2), slurp(map));
    assert_int_equal(h_redis_int(&f->r, set), links);

    assert_int_equal(wrap(f, NULL, "wrap", "--base", f->base, "--campaign", camp, "-o",
                          out2, out, (char *)NULL),
                     0);
    assert_string_equal(slurp(out2), slurp(out));
    assert_non_null(strstr(f->err, "0 link(s) wrapped"));
    assert_int_equal(h_redis_int(&f->r, set), links);
    return n;
}

static const struct row *find_row(const struct row *rows, size_t n, const char *url)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i].url, url) == 0)
            return &rows[i];
    fail_msg("no link to %s", url);
    return NULL;
}

/* The targets tables.html and part.txt share. */
static const char *const SPRING[] = {
    "https://example.com/spring?utm_source=news&utm_medium=email",
    "https://example.com/blog/spring-colours.html",
    "https://example.com/lookbook",
};

static void find_rows(const struct row *rows, size_t n, const char *const *urls,
                      size_t nurls)
{
    for (size_t i = 0; i < nurls; i++)
        find_row(rows, n, urls[i]);
}

static void test_tables(void **state)
{
    struct fx *f = *state;
    struct row rows[16];
    size_t n = wrap_round_trip(f, "tables.html", "spring", true, rows, 16);
    /* Twice the same sale (once with space around it) is one link. */
    assert_int_equal(n, 5);
    find_rows(rows, n, SPRING, 3);
    find_row(rows, n, "https://example.com/stores/north");
    find_row(rows, n, "https://example.com/stores/south?x=1&y=2");
    char path[400];
    path_in(f, "out1", path, sizeof(path));
    const char *out = slurp(path);
    for (const char *kept =
             "mailto:help@example.com?subject=Spring%20sale\0tel:+15555550123\0"
             "\"/preferences\"\0\"#top\"\0https://example.com/mail.css\0"
             "https://example.com/logo.png\0https://example.com/subscribe\0";
         *kept; kept += strlen(kept) + 1)
        assert_non_null(strstr(out, kept));
    follow_each(f, rows, n);
    assert_int_equal(h_hget(&f->r, "hc:campaign:spring:clicks", "total"), 5);
}

static void test_mjml_and_mso(void **state)
{
    struct fx *f = *state;
    struct row rows[16];
    size_t n = wrap_round_trip(f, "mjml.html", "arrivals", true, rows, 16);
    assert_int_equal(n, 2); /* the text link and the button are one */
    find_row(rows, n, "https://shop.example.org/new?ref=mail&lang=en");
    follow_each(f, rows, n);

    n = wrap_round_trip(f, "mso.html", "webinar", true, rows, 16);
    assert_int_equal(n, 3);
    follow_each(f, rows, n);
    /* The VML button inside the Outlook-only comment, and the URL in the
     * text, are left as they are. */
    char path[400];
    path_in(f, "out1", path, sizeof(path));
    const char *out = slurp(path);
    assert_non_null(
        strstr(out, "href=\"https://example.net/webinar/register\" style=\"height"));
    assert_non_null(strstr(out, "Copy https://example.net/webinar/register into"));
}

static void test_merge_tags_and_marks(void **state)
{
    struct fx *f = *state;
    char out[400];
    path_in(f, "out1", out, sizeof(out));
    assert_int_equal(wrap(f, NULL, "wrap", "--base", f->base, "--campaign", "offers",
                          "-o", out, "tests/e2e/mail/merge.html", (char *)NULL),
                     0);
    /* Each URL or bare merge tag is said, with its line. */
    const char *said[] = {"merge.html:4: left as it is: holds a merge tag ({{",
                          "merge.html:7: left as it is: holds a merge tag (*|",
                          "merge.html:9: left as it is: holds a merge tag (%%",
                          "merge.html:11: left as it is: holds a merge tag (["};
    for (size_t i = 0; i < sizeof(said) / sizeof(*said); i++)
        if (strstr(f->err, said[i]) == NULL)
            fail_msg("not said: %s\nin: %s", said[i], f->err);
    assert_non_null(strstr(f->err, "2 link(s) wrapped: 2 target(s), 2 new link(s)"));
    const char *o = slurp(out);
    assert_null(strstr(o, "data-hopcount"));
    assert_non_null(strstr(o, "<a href=\"https://example.com/private\">Not tracked"));
    for (const char *kept = "{{unsubscribe_url}}\0*|ARCHIVE|*\0%%view_email_url%%\0"
                            "{% url 'prefs' %}\0[UNSUBSCRIBE]\0?id={{subscriber.id}}\0";
         *kept; kept += strlen(kept) + 1)
        assert_non_null(strstr(o, kept));
    /* The receipt became a --no-track link: redirected, never counted. */
    char link[120];
    const char *a = strstr(o, "\">Your receipt");
    assert_non_null(a);
    while (a > o && a[-1] != '"')
        a--;
    assert_true(strncmp(a - 9, "<a href=\"", 9) == 0);
    snprintf(link, sizeof(link), "%.*s", (int)strcspn(a, "\""), a);
    struct row r = {.track = false};
    snprintf(r.code, sizeof(r.code), "%s", link + strlen(f->base) + 1);
    snprintf(r.url, sizeof(r.url), "https://example.com/receipt");
    char key[120];
    snprintf(key, sizeof(key), "HEXISTS hc:link:%s notrack", r.code);
    assert_int_equal(h_redis_int(&f->r, key), 1);
    follow_each(f, &r, 1);
}

static void test_text_part(void **state)
{
    struct fx *f = *state;
    struct row rows[16];
    size_t n = wrap_round_trip(f, "part.txt", "spring", false, rows, 16);
    assert_int_equal(n, 5);
    find_rows(rows, n, SPRING, 3);
    find_row(rows, n, "https://example.com/wiki/Size_(clothing)");
    find_row(rows, n, "https://example.com/quoted");
    /* (f->err is the last run's: of the wrapped output, out1.) */
    assert_non_null(strstr(f->err, "out1:9: left as it is: holds a merge tag ({{"));
    follow_each(f, rows, n);
}

/* A target the daemon would refuse is said as FILE:LINE, the rest is
 * written, exit 1; with --strict nothing is written or created. */
static void test_invalid_and_strict(void **state)
{
    struct fx *f = *state;
    char in[400];
    path_in(f, "bad.html", in, sizeof(in));
    FILE *m = fopen(in, "w");
    fprintf(m, "<p><a href=\"https://example.com/good\">good</a>\n"
               "<a href=\"https://exa mple.com/x\">bad</a></p>\n");
    fclose(m);
    long long keys = h_redis_int(&f->r, "DBSIZE");
    assert_int_equal(
        wrap(f, NULL, "wrap", "--base", f->base, "--strict", in, (char *)NULL), 1);
    assert_string_equal(f->out, "");
    assert_non_null(strstr(f->err, "bad.html:2: left as it is:"));
    assert_non_null(strstr(f->err, "nothing written (--strict)"));
    assert_int_equal(h_redis_int(&f->r, "DBSIZE"), keys);

    assert_int_equal(wrap(f, in, "wrap", "--base", f->base, (char *)NULL), 1);
    assert_non_null(strstr(f->err, "stdin:2: left as it is:"));
    assert_non_null(strstr(f->out, "<a href=\"https://exa mple.com/x\">bad</a>"));
    assert_null(strstr(f->out, "https://example.com/good"));
    assert_non_null(strstr(f->out, f->base));
}

/* Whether the table in out has a row for code with the status. */
static bool plan_row(const char *out, const char *code, const char *status)
{
    for (const char *l = out; l != NULL && *l;
         l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        size_t n = strlen(code);
        if (strncmp(l, code, n) != 0 || l[n] != ' ')
            continue;
        const char *p = l + n + strspn(l + n, " ");
        return strncmp(p, status, strlen(status)) == 0;
    }
    return false;
}

/* --dry-run reads which links exist and writes nothing; --codes slug. */
static void test_dry_run_and_slugs(void **state)
{
    struct fx *f = *state;
    const char *mail = "tests/e2e/mail/tables.html";
    long long keys = h_redis_int(&f->r, "DBSIZE");
    assert_int_equal(wrap(f, NULL, "wrap", "--base", f->base, "--campaign", "spring",
                          "--codes", "slug", "--dry-run", mail, (char *)NULL),
                     0);
    assert_int_equal(h_redis_int(&f->r, "DBSIZE"), keys);
    assert_true(plan_row(f->out, "lookbook", "new "));
    assert_true(plan_row(f->out, "spring-colours", "new "));

    assert_int_equal(wrap(f, NULL, "wrap", "--base", f->base, "--campaign", "spring",
                          "--codes", "slug", mail, (char *)NULL),
                     0);
    char link[200];
    snprintf(link, sizeof(link), "HREF='%s/spring-colours'", f->base);
    assert_non_null(strstr(f->out, link));
    assert_int_equal(wrap(f, NULL, "wrap", "--base", f->base, "--campaign", "spring",
                          "--dry-run", mail, (char *)NULL),
                     0);
    assert_true(plan_row(f->out, "lookbook", "existing "));
    /* Another campaign's lookbook is another link: its slug is taken. */
    assert_int_equal(wrap(f, NULL, "wrap", "--base", f->base, "--campaign", "autumn",
                          "--codes", "slug", mail, (char *)NULL),
                     0);
    snprintf(link, sizeof(link), "href=%s/lookbook-2>", f->base);
    if (strstr(f->out, link) == NULL)
        fail_msg("no %s in:\n%s\n%s", link, f->out, f->err);
}

static void test_usage(void **state)
{
    struct fx *f = *state;
    const char *mail = "tests/e2e/mail/tables.html";
    assert_int_equal(wrap(f, NULL, "wrap", mail, (char *)NULL), 2);
    assert_non_null(strstr(f->err, "wrap needs --base URL"));
    assert_int_equal(wrap(f, NULL, "wrap", "--base", "ftp://x", mail, (char *)NULL), 2);
    assert_int_equal(
        wrap(f, NULL, "wrap", "--base", "https://go.example.com/?a", mail, (char *)NULL),
        2);
    assert_int_equal(
        wrap(f, NULL, "wrap", "--base", f->base, "--format", "xml", mail, (char *)NULL),
        2);
    assert_non_null(strstr(f->err, "is not html, text or auto"));
    assert_int_equal(
        wrap(f, NULL, "wrap", "--base", f->base, "--codes", "pretty", mail, (char *)NULL),
        2);
    assert_int_equal(
        wrap(f, NULL, "wrap", "--base", f->base, "/nonexistent", (char *)NULL), 1);
    assert_int_equal(wrap(f, NULL, "list", "--format", "html", (char *)NULL), 2);
}

/* --skip globs, and a --base with a path: links already there are ours. */
static void test_skip(void **state)
{
    struct fx *f = *state;
    assert_int_equal(wrap(f, "tests/e2e/mail/tables.html", "wrap", "--base", f->base,
                          "--skip", "*/stores/*", "--skip",
                          "https://example.com/lookbook", (char *)NULL),
                     0);
    assert_non_null(strstr(f->out, "href=\"https://example.com/stores/north\""));
    assert_non_null(strstr(f->out, "href=https://example.com/lookbook>"));
    assert_non_null(strstr(f->err, "3 link(s) wrapped: 2 target(s)"));
}

/* The wrapped mail in headless Chromium: each link, followed, lands on its
 * original target (pages of the dashboard, which answer here). */
static void test_links_land_in_chromium(void **state)
{
    struct fx *f = *state;
    char in[400], out[400], url[600];
    path_in(f, "mail.html", in, sizeof(in));
    path_in(f, "wrapped.html", out, sizeof(out));
    FILE *m = fopen(in, "w");
    fprintf(m,
            "<!doctype html><html><body><table><tr><td>"
            "<a id=\"l0\" href=\"http://127.0.0.1:%d/privacy\">privacy</a>"
            "<a id=\"l1\" "
            "href=\"http://127.0.0.1:%d/api/v1/campaigns?days=3&amp;x=1\">api</a>"
            "</td></tr></table></body></html>\n",
            f->d.dash_port, f->d.dash_port);
    fclose(m);
    assert_int_equal(wrap(f, NULL, "wrap", "--base", f->base, "--campaign", "browser",
                          "-o", out, in, (char *)NULL),
                     0);
    static struct cdp c;
    assert_int_equal(cdp_open(&c, f->r.dir, 1000), 0);
    const char *want[] = {"/privacy", "/api/v1/campaigns?days=3&x=1"};
    for (int i = 0; i < 2; i++) {
        char js[100], href[400], at[400];
        snprintf(url, sizeof(url), "file://%s", out);
        assert_int_equal(cdp_navigate(&c, url), 0);
        snprintf(js, sizeof(js), "document.getElementById('l%d').href", i);
        assert_int_equal(cdp_eval_string(&c, js, href, sizeof(href)), 0);
        if (strncmp(href, f->base, strlen(f->base)) != 0)
            fail_msg("link %d is %s", i, href);
        assert_int_equal(cdp_navigate(&c, href), 0);
        assert_int_equal(cdp_eval_string(&c, "location.href", at, sizeof(at)), 0);
        char target[200];
        snprintf(target, sizeof(target), "http://127.0.0.1:%d%s", f->d.dash_port,
                 want[i]);
        assert_string_equal(at, target);
    }
    cdp_close(&c);
    assert_true(h_wait_flushed(&f->d, 5000));
    /* Counted, as what a headless browser is: a bot (conf/bots.txt). */
    assert_int_equal(h_hget(&f->r, "hc:campaign:browser:clicks", "bot"), 2);
    assert_int_equal(h_hget(&f->r, "hc:campaign:browser:clicks", "total"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tables, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mjml_and_mso, setup, teardown),
        cmocka_unit_test_setup_teardown(test_merge_tags_and_marks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_text_part, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_and_strict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dry_run_and_slugs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_usage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_skip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_links_land_in_chromium, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
