/* import: hopctl import, CSV rows pipelined into Redis. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "code.h"
#include "csv.h"
#include "ctl.h"
#include "hash.h"
#include "util.h"

/* ---- import -------------------------------------------------------------- */

/* The codes seen so far in the file, with their line: open addressing over
 * XXH3, the strings in one arena, compared in full. */
struct seen {
    struct seen_slot {
        uint64_t hash;
        long line;  /* 0: empty */
        long count; /* occurrences */
        size_t off;
    } * slots;
    size_t cap, n;
    char *arena;
    size_t used, size;
};

/* The line of an earlier occurrence of code (counting this one), or 0 after
 * recording it. */
static long seen_add(struct seen *s, const char *code, size_t len, long line)
{
    if (s->n * 2 >= s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 4096;
        struct seen_slot *ns = xcalloc(ncap, sizeof(*ns));
        for (size_t i = 0; i < s->cap; i++) {
            if (s->slots[i].line == 0)
                continue;
            size_t j = s->slots[i].hash & (ncap - 1);
            while (ns[j].line != 0)
                j = (j + 1) & (ncap - 1);
            ns[j] = s->slots[i];
        }
        free(s->slots);
        s->slots = ns;
        s->cap = ncap;
    }
    uint64_t h = hash_bytes(code, len);
    size_t j = h & (s->cap - 1);
    for (; s->slots[j].line != 0; j = (j + 1) & (s->cap - 1)) {
        const char *c = s->arena + s->slots[j].off;
        if (s->slots[j].hash == h && strlen(c) == len && memcmp(c, code, len) == 0) {
            s->slots[j].count++;
            return s->slots[j].line;
        }
    }
    if (s->used + len + 1 > s->size) {
        while (s->used + len + 1 > s->size)
            s->size = s->size ? s->size * 2 : 65536;
        s->arena = xrealloc(s->arena, s->size);
    }
    memcpy(s->arena + s->used, code, len);
    s->arena[s->used + len] = '\0';
    s->slots[j] = (struct seen_slot){.hash = h, .line = line, .count = 1, .off = s->used};
    s->used += len + 1;
    s->n++;
    return 0;
}

static void seen_free(struct seen *s)
{
    free(s->slots);
    free(s->arena);
}

/* One row of the batch in flight: its fields copied out of the line. */
struct row {
    long line;
    bool queued;           /* sent to Redis; otherwise msg says why it is bad */
    enum store_result res; /* Redis's answer, once read */
    char *msg;
    char code[CODE_MAX_LEN + 1];
    char *url;
    char *campaign; /* "" for none */
    bool notrack;
};

struct import {
    struct ctl *ctl;
    const char *name; /* for messages: the path, or "stdin" */
    struct row rows[CTL_PIPELINE];
    int nrows;
    struct seen seen;
    struct seen targets; /* "campaign\nurl" of the good rows */
    long added, replaced, unchanged, bad;
    int64_t now;
};

/* Codes per target within one campaign beyond which import warns: a few
 * per newsletter (a logo, a button and a text link to one page) is normal;
 * hundreds look like one code per recipient. */
#define IMPORT_SAME_TARGET_WARN 100
#define IMPORT_WARNINGS_MAX 5

/* Review item 19: one code per subscriber turns aggregate counters into
 * per-person data. Say so for every target that many codes share. */
static void import_warn_targets(const struct import *im)
{
    long shown = 0, more = 0;
    for (size_t i = 0; i < im->targets.cap; i++) {
        const struct seen_slot *t = &im->targets.slots[i];
        if (t->line == 0 || t->count <= IMPORT_SAME_TARGET_WARN)
            continue;
        if (shown++ == IMPORT_WARNINGS_MAX) {
            more++;
            shown--;
            continue;
        }
        const char *key = im->targets.arena + t->off, *url = strchr(key, '\n') + 1;
        int clen = (int)(url - 1 - key);
        char label[96] = "without a campaign";
        if (clen > 0)
            snprintf(label, sizeof(label), "of campaign %.*s", clen, key);
        fprintf(stderr,
                "%s:%ld: warning: %ld codes %s point to %s: one code per recipient makes "
                "the counts per-person data (see docs/privacy.md)\n",
                im->name, t->line, t->count, label, url);
    }
    if (more > 0)
        fprintf(stderr, "%s: warning: %ld more targets shared by over %d codes each\n",
                im->name, more, IMPORT_SAME_TARGET_WARN);
}

static void row_bad(struct import *im, long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void row_bad(struct import *im, long line, const char *fmt, ...)
{
    char buf[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    struct row *r = &im->rows[im->nrows++];
    memset(r, 0, sizeof(*r));
    r->line = line;
    r->msg = xstrdup(buf);
}

/* Read every answer of the batch, then retry the rows that moved campaign
 * (their retry is synchronous, so it must wait until no pipelined answer is
 * left unread), then report the bad rows in line order. */
static int import_drain(struct import *im)
{
    char err[512];
    int rv = 0;
    for (int i = 0; i < im->nrows && rv == 0; i++) {
        struct row *r = &im->rows[i];
        if (!r->queued)
            continue;
        if (store_set_reply(im->ctl->store, &r->res, err, sizeof(err)) != 0) {
            ctl_fail("%s", err);
            rv = -1;
        } else if (r->res == STORE_REFUSED)
            r->msg = xstrdup(err);
    }
    for (int i = 0; i < im->nrows && rv == 0; i++) {
        struct row *r = &im->rows[i];
        if (!r->queued || r->res != STORE_MOVED)
            continue;
        /* Already in another campaign (and --force): look it up, retry. */
        struct store_link l;
        ctl_link_from_args(&l, r->code, r->url, r->campaign[0] ? r->campaign : NULL);
        l.notrack = r->notrack;
        if (store_set(im->ctl->store, &l, true, &r->res, err, sizeof(err)) != 0) {
            ctl_fail("%s", err);
            rv = -1;
        } else if (r->res == STORE_REFUSED)
            r->msg = xstrdup(err);
    }
    for (int i = 0; i < im->nrows; i++) {
        struct row *r = &im->rows[i];
        if (rv == 0 && r->queued) {
            if (r->res == STORE_ADDED)
                im->added++;
            else if (r->res == STORE_REPLACED)
                im->replaced++;
            else if (r->res == STORE_UNCHANGED)
                im->unchanged++;
            else if (r->res == STORE_EXISTS)
                r->msg = xstrdup(
                    "link exists with another target or campaign (--force replaces it)");
        }
        if (r->msg != NULL && rv == 0) {
            fprintf(stderr, "%s:%ld: %s%s%s\n", im->name, r->line, r->code,
                    r->code[0] ? ": " : "", r->msg);
            im->bad++;
        }
        free(r->msg);
        free(r->url);
        free(r->campaign);
    }
    im->nrows = 0;
    return rv;
}

/* The track column: on (or empty) counts, off never counts. */
static bool track_field(const struct csv_field *f, bool *notrack)
{
    if (f->len == 0 || (f->len == 2 && strncasecmp(f->s, "on", 2) == 0)) {
        *notrack = false;
        return true;
    }
    if (f->len == 3 && strncasecmp(f->s, "off", 3) == 0) {
        *notrack = true;
        return true;
    }
    return false;
}

/* Parse one CSV line (without its ending) and queue its write. */
static void import_line(struct import *im, char *line, size_t len, long lineno,
                        bool *header)
{
    struct csv_field f[4];
    const char *why;
    char msg[512];

    int n = csv_split(line, len, f, 4, &why);
    bool first = *header;
    *header = false;
    if (n < 0) {
        row_bad(im, lineno, "%s (expected code,url[,campaign[,track]])", why);
        return;
    }
    if (n < 2) {
        row_bad(im, lineno, "1 field (expected code,url[,campaign[,track]])");
        return;
    }
    if (first && f[0].len == 4 && strncasecmp(f[0].s, "code", 4) == 0 && f[1].len == 3 &&
        strncasecmp(f[1].s, "url", 3) == 0)
        return; /* the header */
    struct store_link l = {
        f[0].s, f[0].len, f[1].s, f[1].len, n >= 3 ? f[2].s : "", n >= 3 ? f[2].len : 0,
        false};
    if (n == 4 && !track_field(&f[3], &l.notrack)) {
        row_bad(im, lineno, "track \"%.*s\" is not on or off",
                (int)(f[3].len > 40 ? 40 : f[3].len), f[3].s);
        return;
    }
    if (ctl_link_invalid(&l, msg, sizeof(msg))) {
        row_bad(im, lineno, "%s", msg);
        return;
    }
    long earlier = seen_add(&im->seen, l.code, l.code_len, lineno);
    if (earlier != 0) {
        row_bad(im, lineno, "duplicate code (first on line %ld)", earlier);
        memcpy(im->rows[im->nrows - 1].code, l.code, l.code_len);
        return;
    }
    char *target = xmalloc(l.campaign_len + 1 + l.url_len);
    memcpy(target, l.campaign, l.campaign_len);
    target[l.campaign_len] = '\n';
    memcpy(target + l.campaign_len + 1, l.url, l.url_len);
    seen_add(&im->targets, target, l.campaign_len + 1 + l.url_len, lineno);
    free(target);
    struct row *r = &im->rows[im->nrows++];
    memset(r, 0, sizeof(*r));
    r->line = lineno;
    memcpy(r->code, l.code, l.code_len);
    r->url = xstrndup(l.url, l.url_len);
    r->campaign = xstrndup(l.campaign, l.campaign_len);
    r->notrack = l.notrack;
    l.code = r->code;
    l.url = r->url;
    l.campaign = r->campaign;
    if (store_set_append(im->ctl->store, &l, im->ctl->o.force, NULL, im->now, msg,
                         sizeof(msg)) != 0) {
        r->msg = xstrdup(msg);
        return;
    }
    r->queued = true;
}

/* One physical line as fgets read it (buf holds CTL_LINE_MAX bytes): too
 * long (the rest skipped), blank, with a NUL, or a row to parse. */
static void import_physical_line(struct import *im, FILE *in, char *buf, long lineno,
                                 bool *header)
{
    size_t len = strlen(buf);
    if (len == CTL_LINE_MAX - 1 && buf[len - 1] != '\n' && !feof(in)) {
        int c; /* too long: skip to the end of this line */
        while ((c = getc(in)) != EOF && c != '\n')
            ;
        row_bad(im, lineno, "line longer than %d bytes", CTL_LINE_MAX - 2);
        *header = false;
        return;
    }
    if (len > 0 && buf[len - 1] == '\n')
        len--;
    if (len > 0 && buf[len - 1] == '\r')
        len--;
    char *line = buf;
    /* A UTF-8 byte order mark, as spreadsheets write. */
    if (lineno == 1 && len >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
        line += 3;
        len -= 3;
    }
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    if (i == len)
        return; /* blank lines are not rows */
    if (memchr(line, '\0', len) != NULL) {
        row_bad(im, lineno, "NUL byte in line");
        *header = false;
        return;
    }
    import_line(im, line, len, lineno, header);
}

/* Every row of in, pipelined CTL_PIPELINE at a time. 0, or -1 (said). */
static int import_stream(struct import *im, FILE *in)
{
    char buf[CTL_LINE_MAX];
    long lineno = 0;
    bool header = true;
    while (fgets(buf, sizeof(buf), in) != NULL) {
        import_physical_line(im, in, buf, ++lineno, &header);
        if (im->nrows == CTL_PIPELINE && import_drain(im) != 0)
            return -1;
    }
    if (ferror(in)) {
        ctl_fail("%s: read error: %s", im->name, strerror(errno));
        import_drain(im);
        return -1;
    }
    return import_drain(im);
}

int cmd_import(struct ctl *ctl)
{
    const char *path = ctl->args[0];
    bool from_stdin = strcmp(path, "-") == 0;
    FILE *in = from_stdin ? stdin : fopen(path, "r");
    int rv = EXIT_BAD;

    if (in == NULL)
        return ctl_fail("%s: %s", path, strerror(errno));
    struct import *im = xcalloc(1, sizeof(*im));
    im->ctl = ctl;
    im->name = from_stdin ? "stdin" : path;
    im->now = (int64_t)(util_wall_ms() / 1000);
    if (ctl_connect(ctl) == EXIT_OK && import_stream(im, in) == 0) {
        import_warn_targets(im);
        printf("%s: %ld added, %ld replaced, %ld unchanged, %ld bad rows\n", im->name,
               im->added, im->replaced, im->unchanged, im->bad);
        rv = im->bad > 0 ? EXIT_BAD : EXIT_OK;
    }
    for (int i = 0; i < im->nrows; i++) {
        free(im->rows[i].msg);
        free(im->rows[i].url);
        free(im->rows[i].campaign);
    }
    seen_free(&im->seen);
    seen_free(&im->targets);
    free(im);
    if (!from_stdin)
        fclose(in);
    return rv;
}
