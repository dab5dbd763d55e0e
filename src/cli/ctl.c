/* ctl: hopctl's shared helpers: messages, link checks, the store. */
#include "ctl.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "code.h"
#include "url.h"
#include "util.h"

void ctl_vsay(const char *fmt, va_list ap)
{
    fputs("hopctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

/* A target read from Redis, for a table: as is when it is a valid target,
 * else escaped by util_shown() (other tools may have written anything). */
const char *ctl_shown_url(const char *s, size_t len, char *out, size_t outsz)
{
    if (url_target_ok(s, len, NULL))
        return s;
    return util_shown(s, len, out, outsz);
}

/* The same for a campaign name. */
const char *ctl_shown_campaign(const char *s, size_t len, char *out, size_t outsz)
{
    if (code_campaign_valid(s, len))
        return s;
    return util_shown(s, len, out, outsz);
}

int ctl_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ctl_vsay(fmt, ap);
    va_end(ap);
    return EXIT_BAD;
}

/* buf = WHAT "s" is not RULE (s shown safely); returns buf. */
static const char *refused(const char *what, const char *rule, const char *s, size_t len,
                           char *buf, size_t bufsz)
{
    char shown[400];
    snprintf(buf, bufsz, "%s \"%s\" is not %s", what,
             util_shown(s, len, shown, sizeof(shown)), rule);
    return buf;
}

const char *ctl_bad_code(const char *code, size_t len, char *buf, size_t bufsz)
{
    return code_valid(code, len)
               ? NULL
               : refused("code", "[A-Za-z0-9_-]{1,64}", code, len, buf, bufsz);
}

const char *ctl_bad_campaign(const char *name, size_t len, char *buf, size_t bufsz)
{
    return code_campaign_valid(name, len)
               ? NULL
               : refused("campaign", "[A-Za-z0-9_.-]{1,64}", name, len, buf, bufsz);
}

/* Why code, url and campaign cannot make a link, or NULL when they can. The
 * same rules the daemon re-checks when it reads the link back. */
const char *ctl_link_invalid(const struct store_link *l, char *buf, size_t bufsz)
{
    char s[400];
    const char *why = NULL;
    if (ctl_bad_code(l->code, l->code_len, buf, bufsz) != NULL)
        return buf;
    if (!url_target_ok(l->url, l->url_len, &why)) {
        snprintf(buf, bufsz, "target \"%s\": %s",
                 util_shown(l->url, l->url_len, s, sizeof(s)), why);
        return buf;
    }
    if (l->campaign_len > 0 && ctl_bad_campaign(l->campaign, l->campaign_len, buf, bufsz))
        return buf;
    return NULL;
}

int ctl_connect(struct ctl *ctl)
{
    char err[512];
    ctl->store = store_open(ctl->conf, err, sizeof(err));
    if (ctl->store == NULL)
        return ctl_fail("%s", err);
    return EXIT_OK;
}

void ctl_link_from_args(struct store_link *l, const char *code, const char *url,
                        const char *campaign)
{
    l->code = code;
    l->code_len = strlen(code);
    l->url = url;
    l->url_len = strlen(url);
    l->campaign = campaign ? campaign : "";
    l->campaign_len = campaign ? strlen(campaign) : 0;
    l->notrack = false;
}

/* ---- links read back ----------------------------------------------------- */

static void links_push(const char *code, size_t len, void *arg)
{
    struct ctl_links *l = arg;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    memset(&l->v[l->n], 0, sizeof(l->v[0]));
    l->v[l->n++].code = xstrndup(code, len);
}

void ctl_links_free(struct ctl_links *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].code);
        free(l->v[i].url);
        free(l->v[i].campaign);
        free(l->v[i].error); /* a key of another type: not a link, not listed */
    }
    free(l->v);
    *l = (struct ctl_links){0};
}

static int by_code(const void *a, const void *b)
{
    return strcmp(((const struct store_read *)a)->code,
                  ((const struct store_read *)b)->code);
}

int ctl_links_read(struct store *st, const char *camp, struct ctl_links *l, char *err,
                   size_t errsz)
{
    if (store_scan_codes(st, camp, links_push, l, err, errsz) != 0)
        return -1;
    /* SCAN may return a key more than once: sort, then drop repeats. (No
     * links: l->v is NULL, which qsort must not be given.) */
    if (l->n > 1)
        qsort(l->v, l->n, sizeof(*l->v), by_code);
    size_t w = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (w > 0 && strcmp(l->v[w - 1].code, l->v[i].code) == 0) {
            free(l->v[i].code);
            continue;
        }
        l->v[w++] = l->v[i];
    }
    l->n = w;
    return store_read_links(st, l->v, l->n, err, errsz);
}
