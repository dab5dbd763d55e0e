/* keys: the one place that spells Redis key and field names (SPEC §4). */
#include "keys.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* prefix ":" mid name suffix, NUL-terminated, without snprintf: this runs
 * for every counter key of every flush. */
static int key(char *buf, const char *prefix, const char *mid, const char *name,
               size_t len, const char *suffix)
{
    size_t pl = strlen(prefix), ml = strlen(mid), sl = strlen(suffix);
    size_t n = pl + 1 + ml + len + sl;
    if (n >= KEYS_MAX)
        return -1;
    char *w = buf;
    memcpy(w, prefix, pl);
    w += pl;
    *w++ = ':';
    memcpy(w, mid, ml);
    w += ml;
    memcpy(w, name, len);
    w += len;
    memcpy(w, suffix, sl + 1);
    return (int)n;
}

int keys_link(char *buf, const char *prefix, const char *code, size_t len)
{
    return key(buf, prefix, "link:", code, len, "");
}

int keys_clicks(char *buf, const char *prefix, const char *code, size_t len)
{
    return key(buf, prefix, "clicks:", code, len, "");
}

int keys_campaign_clicks(char *buf, const char *prefix, const char *name, size_t len)
{
    return key(buf, prefix, "campaign:", name, len, ":clicks");
}

int keys_campaign_links(char *buf, const char *prefix, const char *name, size_t len)
{
    return key(buf, prefix, "campaign:", name, len, ":links");
}

int keys_flush_marker(char *buf, const char *prefix, const char *writer)
{
    return key(buf, prefix, "flush:", writer, strlen(writer), "");
}

int keys_flush_marker_tagged(char *buf, const char *prefix, const char *tag,
                             const char *writer)
{
    char suffix[KEYS_TAGGED_MAX];
    int n = snprintf(suffix, sizeof(suffix), "{%s}:%s", tag, writer);
    if (n < 0 || (size_t)n >= sizeof(suffix))
        return -1;
    return key(buf, prefix, "flush:", suffix, (size_t)n, "");
}

int keys_marker_start(const char *key, size_t len, const char *prefix, int64_t *start_s)
{
    char head[KEYS_MAX];
    int hl = keys_flush_marker(head, prefix, "");
    if (hl < 0 || len <= (size_t)hl || memcmp(key, head, (size_t)hl) != 0)
        return -1;
    const char *w = key + hl, *end = key + len;
    if (*w == '{') { /* the cluster form: {TAG}:WRITER */
        const char *close = memchr(w, '}', (size_t)(end - w));
        if (close == NULL || close + 1 >= end || close[1] != ':')
            return -1;
        w = close + 2;
    }
    size_t hex = 0;
    while (w + hex < end && isxdigit((unsigned char)w[hex]))
        hex++;
    if (hex != KEYS_WRITER_DATED || w + hex >= end || w[hex] != '-')
        return 0;
    int64_t t = 0;
    for (int i = 0; i < 8; i++) {
        char c = (char)tolower((unsigned char)w[i]);
        t = t * 16 + (c <= '9' ? c - '0' : c - 'a' + 10);
    }
    *start_s = t;
    return 1;
}

int keys_events(char *buf, const char *prefix)
{
    return key(buf, prefix, "events", "", 0, "");
}

int keys_campaigns(char *buf, const char *prefix)
{
    return key(buf, prefix, "campaigns", "", 0, "");
}

int keys_prune_state(char *buf, const char *prefix)
{
    return key(buf, prefix, "prune:done", "", 0, "");
}

static void utc(int64_t hour, struct tm *tm)
{
    time_t t = (time_t)(hour * 3600);
    gmtime_r(&t, tm);
}

int keys_date(char *buf, int64_t hour)
{
    struct tm tm;
    utc(hour, &tm);
    return snprintf(buf, KEYS_DATE_MAX, "%04d-%02d-%02d", tm.tm_year + 1900,
                    tm.tm_mon + 1, tm.tm_mday);
}

int keys_uniq(char *buf, const char *prefix, const char *code, size_t len,
              const char *date)
{
    char name[KEYS_MAX];
    size_t dl = strlen(date);
    if (len + 1 + dl >= sizeof(name))
        return -1;
    memcpy(name, code, len);
    name[len] = ':';
    memcpy(name + len + 1, date, dl + 1);
    return key(buf, prefix, "uniq:", name, len + 1 + dl, "");
}

int keys_campaign_uniq(char *buf, const char *prefix, const char *name, size_t len,
                       const char *date)
{
    char suffix[KEYS_DATE_MAX + 8] = ":uniq:";
    if (strlen(date) >= KEYS_DATE_MAX)
        return -1;
    strcat(suffix, date);
    return key(buf, prefix, "campaign:", name, len, suffix);
}

int64_t keys_uniq_day(const char *key, size_t len, const char *prefix)
{
    size_t pl = strlen(prefix);
    enum { DATE = 10 };
    if (len <= pl + 1 + DATE || memcmp(key, prefix, pl) != 0 || key[pl] != ':' ||
        key[len - DATE - 1] != ':')
        return -1;
    const char *rest = key + pl + 1, *end = key + len - DATE - 1;
    bool link = (size_t)(end - rest) > 5 && memcmp(rest, "uniq:", 5) == 0;
    bool camp = (size_t)(end - rest) > 14 && memcmp(rest, "campaign:", 9) == 0 &&
                memcmp(end - 5, ":uniq", 5) == 0;
    if (!link && !camp)
        return -1;
    int y, m, d, n = 0;
    char date[DATE + 1];
    memcpy(date, end + 1, DATE);
    date[DATE] = '\0';
    if (sscanf(date, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != DATE || m < 1 ||
        m > 12 || d < 1 || d > 31)
        return -1;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d};
    time_t t = timegm(&tm);
    char back[KEYS_DATE_MAX];
    if (keys_date(back, (int64_t)t / 3600) != DATE || memcmp(back, date, DATE) != 0)
        return -1; /* not a real date (Feb 30) */
    return (int64_t)t / 86400;
}

int keys_uniq_key(char *buf, const char *prefix, int64_t hour)
{
    char date[KEYS_DATE_MAX];
    int n = keys_date(date, hour);
    return key(buf, prefix, "uniqkey:", date, (size_t)n, "");
}

int keys_field_day(char *buf, int64_t hour)
{
    struct tm tm;
    utc(hour, &tm);
    return snprintf(buf, KEYS_FIELD_MAX, "d:%04d-%02d-%02d", tm.tm_year + 1900,
                    tm.tm_mon + 1, tm.tm_mday);
}

int keys_field_hour(char *buf, int64_t hour)
{
    struct tm tm;
    utc(hour, &tm);
    return snprintf(buf, KEYS_FIELD_MAX, "h:%04d-%02d-%02dT%02d", tm.tm_year + 1900,
                    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour);
}

int keys_field_class_day(char *buf, const char *cls, int64_t hour)
{
    struct tm tm;
    utc(hour, &tm);
    return snprintf(buf, KEYS_FIELD_MAX, "%s:d:%04d-%02d-%02d", cls, tm.tm_year + 1900,
                    tm.tm_mon + 1, tm.tm_mday);
}
