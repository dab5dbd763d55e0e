/* wrap: hopctl wrap, a newsletter's links replaced by tracked ones. What is
 * wrapped is decided here; wraptext.c and wraphtml.c find the links,
 * wrapcodes.c gives them codes, wraplist.c writes the mail again. */
#include <errno.h>
#include <event2/http.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "csv.h"
#include "ctl.h"
#include "hash.h"
#include "url.h"
#include "util.h"
#include "wrapcodes.h"
#include "wrapfind.h"

#define WRAP_INPUT_MAX (64u << 20) /* bytes of mail read at most */

/* What becomes of one link found. */
enum verdict {
    KEEP,      /* not a link to wrap (mailto:, #top, relative, ours, --skip) */
    KEEP_SAID, /* left as it is, and said why (a merge tag) */
    BAD,       /* left as it is: an error (exit 1; --strict writes nothing) */
    WRAP,
};

struct run {
    struct ctl *ctl;
    const char *name;  /* the input, for messages */
    char *base;        /* the short links' origin, without a trailing / */
    char *base_origin; /* its host:port: links there are wrapped already */
    bool html;
    struct wrap_list found;
    size_t *target_of; /* per found link: index into t, or SIZE_MAX */
    struct wrap_target *t;
    size_t nt, tcap;
    int bad, said;
};

/* The host and port of an absolute http(s) URL ("host:port", lower case,
 * the scheme's port when none is written), or NULL. */
static char *origin_of(const char *url)
{
    struct evhttp_uri *u = evhttp_uri_parse_with_flags(url, EVHTTP_URI_NONCONFORMANT);
    const char *h = u ? evhttp_uri_get_host(u) : NULL;
    const char *scheme = u ? evhttp_uri_get_scheme(u) : NULL;
    char *out = NULL;
    if (h != NULL && *h && scheme != NULL) {
        int port = evhttp_uri_get_port(u);
        if (port < 0)
            port = strcasecmp(scheme, "https") == 0 ? 443 : 80;
        out = xmalloc(strlen(h) + 8);
        sprintf(out, "%s:%d", h, port);
    }
    for (char *p = out; p && *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    if (u)
        evhttp_uri_free(u);
    return out;
}

/* A merge tag of the common ESPs in url: {{…}}, {%…%}, *|…|*, %%…%%, or
 * […] after the host (a bracketed host is IPv6). */
static const char *merge_tag(const char *url)
{
    static const char *const open[] = {"{{", "{%", "*|", "%%"};
    for (size_t i = 0; i < sizeof(open) / sizeof(*open); i++)
        if (strstr(url, open[i]) != NULL)
            return open[i];
    const char *host = strstr(url, "://");
    const char *after = host ? host + 3 + strcspn(host + 3, "/?#") : url;
    const char *lb = strchr(after, '[');
    return lb != NULL && strchr(lb, ']') != NULL ? "[" : NULL;
}

/* The scheme of url, lower case, into out (when it has one). */
static bool scheme_of(const char *url, char *out, size_t cap)
{
    size_t n = strcspn(url, ":/?#");
    if (url[n] != ':' || n == 0 || n >= cap)
        return false;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)(url[i] >= 'A' && url[i] <= 'Z' ? url[i] - 'A' + 'a' : url[i]);
    out[n] = '\0';
    return true;
}

static void say(struct run *r, long line, const char *what, const char *url)
{
    char shown[300];
    fprintf(stderr, "%s:%ld: %s: %s\n", r->name, line, what,
            ctl_shown_url(url, strlen(url), shown, sizeof(shown)));
}

static enum verdict judge(struct run *r, const struct wrap_found *f)
{
    const char *u = f->target;
    char scheme[16], why[300];
    if (f->mark == WRAP_MARK_UNKNOWN) {
        say(r, f->line, "data-hopcount is neither \"off\" nor \"notrack\"; left as it is",
            u);
        return BAD;
    }
    if (f->mark == WRAP_MARK_OFF || u[0] == '\0' || u[0] == '#')
        return KEEP;
    const char *tag = merge_tag(u);
    if (tag != NULL) {
        snprintf(why, sizeof(why), "left as it is: holds a merge tag (%s…)", tag);
        say(r, f->line, why, u);
        return KEEP_SAID;
    }
    if (!scheme_of(u, scheme, sizeof(scheme)) ||
        (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0))
        return KEEP; /* relative, mailto:, tel:, ... */
    char *origin = origin_of(u);
    bool ours = origin != NULL && strcmp(origin, r->base_origin) == 0;
    free(origin);
    if (ours)
        return KEEP;
    for (int i = 0; i < r->ctl->o.nskip; i++)
        if (fnmatch(r->ctl->o.skip[i], u, 0) == 0)
            return KEEP;
    const char *reason;
    if (!url_target_ok(u, strlen(u), &reason)) {
        snprintf(why, sizeof(why), "left as it is: %s", reason);
        say(r, f->line, why, u);
        return BAD;
    }
    return WRAP;
}

/* The index of the target (url, notrack), added when new. */
static size_t target_index(struct run *r, const struct wrap_found *f, size_t **slots,
                           size_t *cap)
{
    bool notrack = f->mark == WRAP_MARK_NOTRACK;
    if (2 * (r->nt + 1) > *cap) {
        size_t ncap = *cap ? *cap * 2 : 256;
        size_t *ns = xcalloc(ncap, sizeof(*ns));
        for (size_t i = 0; i < r->nt; i++) {
            size_t j = (hash_bytes(r->t[i].url, strlen(r->t[i].url)) + r->t[i].notrack) &
                       (ncap - 1);
            while (ns[j] != 0)
                j = (j + 1) & (ncap - 1);
            ns[j] = i + 1;
        }
        free(*slots);
        *slots = ns;
        *cap = ncap;
    }
    size_t j = (hash_bytes(f->target, strlen(f->target)) + notrack) & (*cap - 1);
    for (; (*slots)[j] != 0; j = (j + 1) & (*cap - 1)) {
        struct wrap_target *x = &r->t[(*slots)[j] - 1];
        if (x->notrack == notrack && strcmp(x->url, f->target) == 0) {
            x->count++;
            return (*slots)[j] - 1;
        }
    }
    if (r->nt == r->tcap) {
        r->tcap = r->tcap ? r->tcap * 2 : 64;
        r->t = xrealloc(r->t, r->tcap * sizeof(*r->t));
    }
    r->t[r->nt] = (struct wrap_target){
        .url = xstrdup(f->target), .notrack = notrack, .count = 1, .line = f->line};
    (*slots)[j] = ++r->nt;
    return r->nt - 1;
}

/* Judge every link found; gather the distinct targets of those wrapped. */
static void judge_all(struct run *r)
{
    size_t *slots = NULL, cap = 0;
    r->target_of = xcalloc(r->found.n ? r->found.n : 1, sizeof(*r->target_of));
    for (size_t i = 0; i < r->found.n; i++) {
        enum verdict v = judge(r, &r->found.v[i]);
        r->bad += v == BAD;
        r->said += v == KEEP_SAID;
        r->target_of[i] =
            v == WRAP ? target_index(r, &r->found.v[i], &slots, &cap) : SIZE_MAX;
    }
    free(slots);
}

/* The whole of path ("-": stdin) into *buf. 0, or EXIT_BAD (said). */
static int read_all(const char *path, const char *name, char **buf, size_t *len)
{
    FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (in == NULL)
        return ctl_fail("%s: %s", name, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *b = xmalloc(cap);
    for (;;) {
        if (n == cap) {
            if (cap >= WRAP_INPUT_MAX) {
                free(b);
                if (in != stdin)
                    fclose(in);
                return ctl_fail("%s: larger than %u MB", name, WRAP_INPUT_MAX >> 20);
            }
            cap *= 2;
            b = xrealloc(b, cap);
        }
        size_t got = fread(b + n, 1, cap - n, in);
        n += got;
        if (got == 0)
            break;
    }
    bool failed = ferror(in);
    if (in != stdin)
        fclose(in);
    if (failed) {
        free(b);
        return ctl_fail("%s: read error", name);
    }
    *buf = b;
    *len = n;
    return EXIT_OK;
}

/* HTML unless it reads as text: the first byte that is not white space
 * (or a BOM) is '<' and what follows is not a <URL>. */
static bool looks_html(const char *buf, size_t len)
{
    size_t i = len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
    while (i < len &&
           (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'))
        i++;
    return i < len && buf[i] == '<' &&
           !(len - i > 5 && strncasecmp(buf + i + 1, "http", 4) == 0);
}

/* The --base URL checked and kept without its trailing '/'. EXIT_OK or
 * EXIT_USAGE (said). */
static int take_base(struct run *r, const char *base)
{
    const char *why;
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    r->base = xstrndup(base, n);
    if (!url_target_ok(r->base, n, &why))
        return ctl_usage_error("--base: %s", why);
    if (strpbrk(r->base, "?#&") != NULL)
        return ctl_usage_error("--base: \"%s\" has a query or fragment", r->base);
    r->base_origin = origin_of(r->base);
    if (r->base_origin == NULL)
        return ctl_usage_error("--base: \"%s\" has no host", r->base);
    return EXIT_OK;
}

/* The table --dry-run prints: code, new or existing, links in the mail, target. */
static void print_plan(const struct run *r)
{
    size_t cw = 4;
    for (size_t i = 0; i < r->nt; i++)
        cw = strlen(r->t[i].code) > cw ? strlen(r->t[i].code) : cw;
    printf("%-*s  %-8s  %5s  %-5s  %s\n", (int)cw, "CODE", "LINK", "COUNT", "TRACK",
           "TARGET");
    for (size_t i = 0; i < r->nt; i++) {
        char shown[300];
        printf("%-*s  %-8s  %5ld  %-5s  %s\n", (int)cw, r->t[i].code,
               r->t[i].existed ? "existing" : "new", r->t[i].count,
               r->t[i].notrack ? "off" : "on",
               ctl_shown_url(r->t[i].url, strlen(r->t[i].url), shown, sizeof(shown)));
    }
}

/* --map: code,url,campaign,track rows, which hopctl import reads. */
static int write_map(const struct run *r, const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return ctl_fail("--map %s: %s", path, strerror(errno));
    const char *camp = r->ctl->o.campaign;
    fputs("code,url,campaign,track\n", f);
    for (size_t i = 0; i < r->nt; i++) {
        fprintf(f, "%s,", r->t[i].code);
        csv_write_field(f, r->t[i].url, strlen(r->t[i].url));
        fputc(',', f);
        if (camp != NULL)
            csv_write_field(f, camp, strlen(camp));
        fprintf(f, ",%s\n", r->t[i].notrack ? "off" : "on");
    }
    if (fclose(f) != 0)
        return ctl_fail("--map %s: write error", path);
    return EXIT_OK;
}

/* The mail with the wrapped links replaced, to -o FILE (whole or not at
 * all: written aside, then renamed) or stdout. */
static int write_mail(const struct run *r, const char *buf, size_t len)
{
    char **with = xcalloc(r->found.n ? r->found.n : 1, sizeof(*with));
    for (size_t i = 0; i < r->found.n; i++)
        if (r->target_of[i] != SIZE_MAX) {
            const char *code = r->t[r->target_of[i]].code;
            with[i] = xmalloc(strlen(r->base) + strlen(code) + 2);
            sprintf(with[i], "%s/%s", r->base, code);
        }
    const char *path = r->ctl->o.output;
    char *tmp = NULL;
    FILE *out = stdout;
    int rv = EXIT_OK;
    if (path != NULL) {
        tmp = xmalloc(strlen(path) + 16);
        sprintf(tmp, "%s.hopctl-tmp", path);
        out = fopen(tmp, "wb");
        if (out == NULL)
            rv = ctl_fail("-o %s: %s", tmp, strerror(errno));
    }
    if (rv == EXIT_OK &&
        (wrap_rewrite(out, buf, len, &r->found, with, r->html) != 0 || fflush(out) != 0))
        rv = ctl_fail("%s: write error", path ? tmp : "stdout");
    if (path != NULL && out != NULL && fclose(out) != 0 && rv == EXIT_OK)
        rv = ctl_fail("-o %s: write error", tmp);
    if (path != NULL && rv == EXIT_OK && rename(tmp, path) != 0)
        rv = ctl_fail("-o %s: %s", path, strerror(errno));
    if (tmp != NULL && rv != EXIT_OK)
        unlink(tmp);
    free(tmp);
    for (size_t i = 0; i < r->found.n; i++)
        free(with[i]);
    free(with);
    return rv;
}

static void run_free(struct run *r)
{
    wrap_list_free(&r->found);
    for (size_t i = 0; i < r->nt; i++)
        free(r->t[i].url);
    free(r->t);
    free(r->target_of);
    free(r->base);
    free(r->base_origin);
}

/* Find, judge, give codes, write. */
static int wrap_mail(struct run *r, const char *buf, size_t len)
{
    struct opts *o = &r->ctl->o;
    const char *fmt = o->format_name ? o->format_name : "auto";
    r->html =
        strcmp(fmt, "html") == 0 || (strcmp(fmt, "auto") == 0 && looks_html(buf, len));
    if (!r->html)
        wrap_find_text(buf, len, &r->found);
    else if (wrap_find_html(buf, len, &r->found) != 0)
        return ctl_fail("%s: the HTML parser gave up", r->name);
    judge_all(r);
    if (r->bad > 0 && o->strict)
        return ctl_fail("%s: %d link(s) cannot be wrapped; nothing written (--strict)",
                        r->name, r->bad);
    char err[512];
    if (r->nt > 0 && ctl_connect(r->ctl) != EXIT_OK)
        return EXIT_BAD;
    if (r->nt > 0 &&
        wrap_codes(r->ctl->store, o->campaign, r->t, r->nt,
                   o->codes_slug ? WRAP_CODES_SLUG : WRAP_CODES_RANDOM,
                   o->given & OPT_LENGTH ? (size_t)o->length : CODE_RANDOM_DEFAULT_LEN,
                   o->dry_run, err, sizeof(err)) != 0)
        return ctl_fail("%s", err);
    if (o->dry_run) {
        print_plan(r);
        return r->bad ? EXIT_BAD : EXIT_OK;
    }
    int rv = write_mail(r, buf, len);
    if (rv == EXIT_OK && o->map != NULL)
        rv = write_map(r, o->map);
    if (rv != EXIT_OK)
        return rv;
    size_t wrapped = 0, made = 0;
    for (size_t i = 0; i < r->nt; i++) {
        wrapped += (size_t)r->t[i].count;
        made += !r->t[i].existed;
    }
    fprintf(stderr,
            "hopctl: %zu link(s) wrapped: %zu target(s), %zu new link(s); %zu left as "
            "they are\n",
            wrapped, r->nt, made, r->found.n - wrapped);
    return r->bad ? EXIT_BAD : EXIT_OK;
}

int cmd_wrap(struct ctl *ctl)
{
    struct opts *o = &ctl->o;
    struct run r = {.ctl = ctl};
    char why[400];
    const char *path = ctl->nargs ? ctl->args[0] : "-";
    r.name = strcmp(path, "-") == 0 ? "stdin" : path;
    if (o->base == NULL)
        return ctl_usage_error("wrap needs --base URL: where the short links live "
                               "(https://go.example.com)");
    if (o->campaign &&
        ctl_bad_campaign(o->campaign, strlen(o->campaign), why, sizeof(why)) != NULL)
        return ctl_fail("%s", why);
    int rv = take_base(&r, o->base);
    char *buf = NULL;
    size_t len = 0;
    if (rv == EXIT_OK)
        rv = read_all(path, r.name, &buf, &len);
    if (rv == EXIT_OK)
        rv = wrap_mail(&r, buf, len);
    free(buf);
    run_free(&r);
    return rv;
}
