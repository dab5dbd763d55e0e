/* dashhtml: the dashboard's pages and its CSV. */
#include "dashhtml.h"

#include <string.h>

#include "code.h"
#include "dashread.h"
#include "html.h"
#include "keys.h"
#include "url.h"

#define CHART_H 120 /* a chart's drawing height, in its own units */
#define BAR_W 12    /* a day's or an hour's bar */

static void text(FILE *out, const char *s)
{
    html_escape(out, s, strlen(s));
}

/* <a href="/DIR/NAME">NAME</a>, NAME escaped (codes and campaign names are
 * URL-safe: checked before they come here). */
static void link_to(FILE *out, const char *dir, const char *name)
{
    fprintf(out, "<a href=\"/%s/", dir);
    text(out, name);
    fputs("\">", out);
    text(out, name);
    fputs("</a>", out);
}

static const char style[] =
    "body{font:16px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1a1a1a;"
    "background:#fff;margin:0}"
    "header{background:#1f3b5c;padding:.6rem 1rem}header a{color:#fff;margin-right:1rem}"
    "main{max-width:64rem;margin:0 auto;padding:1rem}"
    "h1{font-size:1.5rem;margin:.5rem 0}h2{font-size:1.15rem;margin-top:1.5rem}"
    "a{color:#0b4f9c}dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem "
    "1rem}"
    "dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}"
    ".scroll{overflow-x:auto}table{border-collapse:collapse;min-width:100%}"
    "th,td{padding:.3rem .5rem;border-bottom:1px solid #ddd;text-align:right}"
    "th:first-child,td:first-child,td.t,th.t{text-align:left}td.t{overflow-wrap:anywhere}"
    ".axis{display:flex;justify-content:space-between;font-size:.85rem;color:#555}"
    "svg{display:block;width:100%;height:auto;max-height:14rem}"
    "svg.spark{width:8rem;height:2rem;display:inline-block;vertical-align:middle}"
    ".h{fill:#1f5fbf}.b{fill:#6b6b6b}.s{fill:#b35c00}"
    ".key span{display:inline-block;width:.8rem;height:.8rem;margin:0 .3rem 0 1rem}"
    "details{margin:.5rem 0}";

static void head(FILE *out, const char *title)
{
    fputs("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
          "<title>",
          out);
    text(out, title);
    fprintf(out,
            " — hopcount</title><style>%s</style></head>\n<body><header><nav>"
            "<a href=\"/\">Campaigns</a><a href=\"/privacy\">Privacy</a></nav></header>"
            "<main>\n",
            style);
}

static void foot(FILE *out)
{
    fputs("</main></body></html>\n", out);
}

static void date_of(const struct dash_read *rd, int i, char *buf)
{
    keys_date(buf, (rd->first_day + i) * 24);
}

static void key_legend(FILE *out)
{
    fputs("<p class=\"key\" aria-hidden=\"true\"><span style=\"background:#1f5fbf\">"
          "</span>people<span style=\"background:#6b6b6b\"></span>bots"
          "<span style=\"background:#b35c00\"></span>scanners</p>\n",
          out);
}

/* A bar's height for v of max, in chart units (at least 1 when v > 0). */
static long long bar(long long v, long long max)
{
    if (v <= 0 || max <= 0)
        return 0;
    long long h = v * (CHART_H - 10) / max;
    return h > 0 ? h : 1;
}

/* Days stacked: people at the bottom, bots, scanners; a title per day. */
static void day_chart(FILE *out, const struct dash_read *rd, const struct dash_day *days,
                      const char *label)
{
    long long max = 0;
    for (int i = 0; i < rd->ndays; i++) {
        long long t = days[i].follows + days[i].bot + days[i].scan;
        max = t > max ? t : max;
    }
    fprintf(out, "<svg class=\"days\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"",
            rd->ndays * BAR_W, CHART_H);
    text(out, label);
    fputs("\" preserveAspectRatio=\"none\">\n", out);
    for (int i = 0; i < rd->ndays; i++) {
        char d[KEYS_DATE_MAX];
        date_of(rd, i, d);
        const struct dash_day *v = &days[i];
        long long y = CHART_H;
        fprintf(out, "<g><title>%s: %lld people, %lld bots, %lld scanners</title>", d,
                v->follows, v->bot, v->scan);
        const long long parts[] = {v->follows, v->bot, v->scan};
        static const char *const cls[] = {"h", "b", "s"};
        for (int k = 0; k < 3; k++) {
            long long h = bar(parts[k], max);
            if (h == 0)
                continue;
            y -= h;
            fprintf(out,
                    "<rect class=\"%s\" x=\"%d\" y=\"%lld\" width=\"%d\" height=\"%lld\" "
                    "data-v=\"%lld\"/>",
                    cls[k], i * BAR_W + 1, y, BAR_W - 2, h, parts[k]);
        }
        fputs("</g>\n", out);
    }
    char first[KEYS_DATE_MAX], last[KEYS_DATE_MAX];
    date_of(rd, 0, first);
    date_of(rd, rd->ndays - 1, last);
    fprintf(out,
            "</svg>\n<div class=\"axis\" aria-hidden=\"true\"><span>%s</span>"
            "<span>highest day: %lld</span><span>%s</span></div>\n",
            first, max, last);
    key_legend(out);
}

/* The days as a table: the chart's alternative. */
static void day_table(FILE *out, const struct dash_read *rd, const struct dash_day *days)
{
    fputs("<details><summary>The days as a table</summary><div class=\"scroll\"><table>"
          "<thead><tr><th scope=\"col\">Day (UTC)</th><th scope=\"col\">People</th>"
          "<th scope=\"col\">Bots</th><th scope=\"col\">Scanners</th>"
          "<th scope=\"col\">Unique people</th></tr></thead><tbody>\n",
          out);
    for (int i = 0; i < rd->ndays; i++) {
        char d[KEYS_DATE_MAX];
        date_of(rd, i, d);
        fprintf(
            out,
            "<tr><td>%s</td><td>%lld</td><td>%lld</td><td>%lld</td><td>%lld</td></tr>\n",
            d, days[i].follows, days[i].bot, days[i].scan, days[i].uniques);
    }
    fputs("</tbody></table></div></details>\n", out);
}

/* A month in a line: one bar of people per day. */
static void sparkline(FILE *out, const struct dash_read *rd, const struct dash_day *days,
                      const char *name)
{
    long long max = 0;
    for (int i = 0; i < rd->ndays; i++)
        max = days[i].follows > max ? days[i].follows : max;
    fprintf(out, "<svg class=\"spark\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"",
            rd->ndays * BAR_W, CHART_H);
    fputs("people per day, ", out);
    text(out, name);
    fputs("\" preserveAspectRatio=\"none\">", out);
    for (int i = 0; i < rd->ndays; i++) {
        long long h = bar(days[i].follows, max);
        char d[KEYS_DATE_MAX];
        date_of(rd, i, d);
        fprintf(out,
                "<rect class=\"h\" x=\"%d\" y=\"%lld\" width=\"%d\" height=\"%lld\" "
                "data-v=\"%lld\"><title>%s: %lld</title></rect>",
                i * BAR_W + 1, CHART_H - h, BAR_W - 2, h, days[i].follows, d,
                days[i].follows);
    }
    fputs("</svg>", out);
}

static void totals(FILE *out, const struct dash_totals *t)
{
    fprintf(out,
            "<dt>People, all time</dt><dd id=\"total\">%lld</dd><dt>Bots</dt>"
            "<dd id=\"bot\">%lld</dd><dt>Scanners</dt><dd id=\"scan\">%lld</dd>\n",
            t->total, t->bot, t->scan);
}

/* A target: as text, and as a link only when it is one hopcount would
 * redirect to. */
static void target(FILE *out, const char *url)
{
    if (url == NULL) {
        fputs("<em>removed (its counts remain)</em>", out);
        return;
    }
    const char *why;
    bool ok = url_target_ok(url, strlen(url), &why);
    if (ok) {
        fputs("<a href=\"", out);
        text(out, url);
        fputs("\" rel=\"noreferrer noopener\">", out);
    }
    text(out, url);
    if (ok)
        fputs("</a>", out);
}

static void page_campaigns(FILE *out, const struct dash_read *rd)
{
    head(out, "Campaigns");
    fprintf(out,
            "<h1>Campaigns</h1>\n<p>The last %d days (UTC), most followed first.</p>\n",
            rd->ndays);
    if (rd->nrows == 0)
        fputs("<p>No campaign yet: links added with <code>hopctl add --campaign</code> "
              "show here.</p>\n",
              out);
    fputs("<div class=\"scroll\"><table id=\"campaigns\"><thead><tr><th scope=\"col\">"
          "Campaign</th><th scope=\"col\">Links</th><th scope=\"col\">People</th>"
          "<th scope=\"col\">Bots</th><th scope=\"col\">Scanners</th>"
          "<th scope=\"col\">People in these days</th><th scope=\"col\">Per day</th></tr>"
          "</thead><tbody>\n",
          out);
    for (size_t i = 0; i < rd->nrows; i++) {
        const struct dash_row *r = &rd->rows[i];
        fputs("<tr><td>", out);
        link_to(out, "campaigns", r->code);
        fprintf(out,
                "</td><td>%lld</td><td>%lld</td><td>%lld</td><td>%lld</td><td>%lld</td>"
                "<td>",
                r->nlinks, r->t.total, r->t.bot, r->t.scan, r->period);
        sparkline(out, rd, r->days, r->code);
        fputs("</td></tr>\n", out);
    }
    fputs("</tbody></table></div>\n", out);
    foot(out);
}

static void page_campaign(FILE *out, const struct dash_read *rd)
{
    head(out, rd->name);
    fputs("<h1>Campaign ", out);
    text(out, rd->name);
    fprintf(out, "</h1>\n<dl><dt>Links</dt><dd id=\"links\">%lld</dd>\n", rd->nlinks);
    totals(out, &rd->t);
    fputs("</dl>\n<h2>Per day (UTC)</h2>\n", out);
    day_chart(out, rd, rd->days, "follows per day: people, bots and scanners");
    day_table(out, rd, rd->days);
    fputs("<h2>Links, most followed first</h2>\n<p><a href=\"/campaigns/", out);
    text(out, rd->name);
    fputs(
        "/links.csv\" download>Download as CSV</a></p>\n<div class=\"scroll\"><table "
        "id=\"links-table\"><thead><tr><th scope=\"col\">Code</th><th "
        "scope=\"col\" class=\"t\">Target"
        "</th><th scope=\"col\">People</th><th scope=\"col\">Bots</th><th scope=\"col\">"
        "Scanners</th></tr></thead><tbody>\n",
        out);
    for (size_t i = 0; i < rd->nrows; i++) {
        const struct dash_row *r = &rd->rows[i];
        fputs("<tr><td>", out);
        link_to(out, "links", r->code);
        fputs("</td><td class=\"t\">", out);
        target(out, r->url);
        fprintf(out, "</td><td>%lld</td><td>%lld</td><td>%lld</td></tr>\n", r->t.total,
                r->t.bot, r->t.scan);
    }
    fputs("</tbody></table></div>\n", out);
    foot(out);
}

/* The last hours of people, one bar each. */
static void hour_chart(FILE *out, const struct dash_read *rd)
{
    long long max = 0;
    for (int h = 0; h < DASHREAD_HOURS; h++)
        max = rd->hours[h] > max ? rd->hours[h] : max;
    fprintf(out,
            "<svg class=\"hours\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"people "
            "per hour, the last %d hours\" preserveAspectRatio=\"none\">\n",
            DASHREAD_HOURS * BAR_W, CHART_H, DASHREAD_HOURS);
    for (int h = 0; h < DASHREAD_HOURS; h++) {
        char f[KEYS_FIELD_MAX];
        keys_field_hour(f, rd->first_hour + h);
        long long height = bar(rd->hours[h], max);
        fprintf(out,
                "<rect class=\"h\" x=\"%d\" y=\"%lld\" width=\"%d\" height=\"%lld\" "
                "data-v=\"%lld\"><title>%s:00 UTC: %lld people</title></rect>\n",
                h * BAR_W + 1, CHART_H - height, BAR_W - 2, height, rd->hours[h], f + 2,
                rd->hours[h]);
    }
    char first[KEYS_FIELD_MAX], last[KEYS_FIELD_MAX];
    keys_field_hour(first, rd->first_hour);
    keys_field_hour(last, rd->first_hour + DASHREAD_HOURS - 1);
    fprintf(out,
            "</svg>\n<div class=\"axis\" aria-hidden=\"true\"><span>%s:00</span>"
            "<span>highest hour: %lld</span><span>%s:00</span></div>\n",
            first + 2, max, last + 2);
    fputs(
        "<details><summary>The hours as a table</summary><div class=\"scroll\">"
        "<table><thead><tr><th scope=\"col\">Hour (UTC)</th><th scope=\"col\">People</th>"
        "</tr></thead><tbody>\n",
        out);
    for (int h = 0; h < DASHREAD_HOURS; h++) {
        char f[KEYS_FIELD_MAX];
        keys_field_hour(f, rd->first_hour + h);
        fprintf(out, "<tr><td>%s:00</td><td>%lld</td></tr>\n", f + 2, rd->hours[h]);
    }
    fputs("</tbody></table></div></details>\n", out);
}

static void page_link(FILE *out, const struct dash_read *rd)
{
    head(out, rd->name);
    fputs("<h1>Link ", out);
    text(out, rd->name);
    fputs("</h1>\n<dl><dt>Target</dt><dd id=\"target\">", out);
    target(out, rd->url);
    fputs("</dd><dt>Campaign</dt><dd id=\"campaign\">", out);
    if (rd->campaign == NULL) {
        fputs("—", out);
    } else if (code_campaign_valid(rd->campaign, strlen(rd->campaign))) {
        link_to(out, "campaigns", rd->campaign);
    } else {
        text(out, rd->campaign);
    }
    char created[KEYS_DATE_MAX] = "—";
    if (rd->created > 0)
        keys_date(created, rd->created / 3600);
    fprintf(out,
            "</dd><dt>Created</dt><dd id=\"created\">%s</dd><dt>Tracked</dt>"
            "<dd id=\"tracked\">%s</dd>\n",
            created,
            rd->notrack ? "no (--no-track): followers are redirected, never counted"
                        : "yes");
    totals(out, &rd->t);
    fputs("</dl>\n<h2>Per day (UTC)</h2>\n", out);
    day_chart(out, rd, rd->days, "follows per day: people, bots and scanners");
    day_table(out, rd, rd->days);
    fprintf(out, "<h2>The last %d hours (UTC)</h2>\n", DASHREAD_HOURS);
    hour_chart(out, rd);
    foot(out);
}

void dash_html(FILE *out, const struct dash_read *rd)
{
    if (rd->kind == DASH_LINK)
        page_link(out, rd);
    else if (rd->kind == DASH_CAMPAIGN)
        page_campaign(out, rd);
    else
        page_campaigns(out, rd);
}

void dash_html_privacy(FILE *out)
{
    head(out, "Privacy");
    fputs("<h1>What these counts are</h1>\n<p>hopcount counts how many times each link "
          "was followed, per hour and per day, in three kinds: people, bots (crawlers, "
          "link previews, HEAD probes) and mail-security scanners. It never stores, logs "
          "or puts in these pages an IP address, a browser's user agent, a cookie or a "
          "referrer: nothing here can tell who followed a link. A browser that sends "
          "Do-Not-Track (<code>DNT: 1</code>) or Global Privacy Control "
          "(<code>Sec-GPC: 1</code>) is redirected and not counted at all. Where unique "
          "people are shown, they are estimated per day from a hash under a key that is "
          "destroyed after the day, so no two days can be joined and no one can be "
          "looked up.</p>\n",
          out);
    foot(out);
}

void dash_html_error(FILE *out, const char *why)
{
    head(out, "Not here");
    fputs("<h1>", out);
    text(out, why);
    fputs("</h1>\n<p><a href=\"/\">All campaigns</a></p>\n", out);
    foot(out);
}

/* One CSV field: quoted when it holds a quote, comma or line end; a
 * leading = + - @ (a formula to a spreadsheet) made text with a '. */
static void csv_field(FILE *out, const char *s)
{
    bool formula = s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@';
    bool quote = formula || strpbrk(s, "\",\r\n") != NULL;
    if (quote)
        putc('"', out);
    if (formula)
        putc('\'', out);
    for (; *s; s++) {
        if (*s == '"')
            putc('"', out);
        putc(*s, out);
    }
    if (quote)
        putc('"', out);
}

void dash_csv(FILE *out, const struct dash_read *rd)
{
    fputs("code,url,follows,bot,scan\r\n", out);
    for (size_t i = 0; i < rd->nrows; i++) {
        const struct dash_row *r = &rd->rows[i];
        csv_field(out, r->code);
        putc(',', out);
        csv_field(out, r->url ? r->url : "");
        fprintf(out, ",%lld,%lld,%lld\r\n", r->t.total, r->t.bot, r->t.scan);
    }
}
