/* wrapcodes: codes for a mail's targets, existing or new. */
#include "wrapcodes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "hash.h"
#include "util.h"

#define SLUG_MAX 24
#define DRAWS_MAX 20 /* tries for one target before giving up */

/* ---- slugs --------------------------------------------------------------- */

static bool slug_byte(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* s[0..n) lower-cased into out as a slug; its length. */
static size_t slugify(const char *s, size_t n, char *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k < SLUG_MAX; i++) {
        char c = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] - 'A' + 'a') : s[i];
        if (slug_byte(c))
            out[k++] = c;
        else if (k > 0 && out[k - 1] != '-')
            out[k++] = '-';
    }
    while (k > 0 && out[k - 1] == '-')
        k--;
    out[k] = '\0';
    return k;
}

void wrap_slug(const char *url, char *out)
{
    const char *host = strstr(url, "://");
    host = host ? host + 3 : url;
    size_t hlen = strcspn(host, "/?#");
    const char *path = host + hlen, *pend = path + strcspn(path, "?#");
    /* The last non-empty segment, without an extension. */
    const char *seg = NULL;
    size_t slen = 0;
    for (const char *p = path; p < pend;) {
        const char *q = p + 1;
        while (q < pend && *q != '/')
            q++;
        if (q - p > 1) {
            seg = p + 1;
            slen = (size_t)(q - p - 1);
        }
        p = q;
    }
    if (seg != NULL) {
        const char *dot = memchr(seg, '.', slen);
        if (dot != NULL && dot > seg)
            slen = (size_t)(dot - seg);
        if (slugify(seg, slen, out) > 0)
            return;
    }
    if (hlen > 4 && strncmp(host, "www.", 4) == 0) {
        host += 4;
        hlen -= 4;
    }
    if (slugify(host, strcspn(host, ".:/?#") < hlen ? strcspn(host, ".:/?#") : hlen,
                out) == 0)
        strcpy(out, "link");
}

/* ---- codes in use in this run -------------------------------------------- */

struct used {
    char (*v)[CODE_MAX_LEN + 1];
    size_t cap, n;
};

static void used_put(struct used *u, const char *code)
{
    size_t j = hash_bytes(code, strlen(code)) & (u->cap - 1);
    while (u->v[j][0] != '\0')
        j = (j + 1) & (u->cap - 1);
    strcpy(u->v[j], code);
    u->n++;
}

/* Whether code was taken in this run; takes it if not. */
static bool used_take(struct used *u, const char *code)
{
    if (u->cap == 0) {
        u->cap = 64;
        u->v = xcalloc(u->cap, sizeof(*u->v));
    }
    size_t j = hash_bytes(code, strlen(code)) & (u->cap - 1);
    for (; u->v[j][0] != '\0'; j = (j + 1) & (u->cap - 1))
        if (strcmp(u->v[j], code) == 0)
            return true;
    if (2 * (u->n + 1) > u->cap) {
        struct used old = *u;
        u->cap = old.cap * 2;
        u->n = 0;
        u->v = xcalloc(u->cap, sizeof(*u->v));
        for (size_t i = 0; i < old.cap; i++)
            if (old.v[i][0] != '\0')
                used_put(u, old.v[i]);
        free(old.v);
    }
    used_put(u, code);
    return false;
}

/* ---- existing links ------------------------------------------------------ */

static bool same_campaign(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

/* Each target whose link the campaign has: its code (the first by code). */
static int find_existing(struct store *st, const char *campaign, struct wrap_target *t,
                         size_t n, struct used *u, char *err, size_t errsz)
{
    struct ctl_links l = {0};
    if (ctl_links_read(st, campaign, &l, err, errsz) != 0) {
        ctl_links_free(&l);
        return -1;
    }
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    size_t *slot = xcalloc(cap, sizeof(*slot)); /* target index + 1 */
    for (size_t i = 0; i < n; i++) {
        size_t j = hash_bytes(t[i].url, strlen(t[i].url)) & (cap - 1);
        while (slot[j] != 0)
            j = (j + 1) & (cap - 1);
        slot[j] = i + 1;
    }
    for (size_t k = 0; k < l.n; k++) {
        const struct store_read *e = &l.v[k];
        if (e->url == NULL || !same_campaign(e->campaign, campaign))
            continue;
        size_t j = hash_bytes(e->url, strlen(e->url)) & (cap - 1);
        for (; slot[j] != 0; j = (j + 1) & (cap - 1)) {
            struct wrap_target *x = &t[slot[j] - 1];
            if (x->code[0] == '\0' && x->notrack == e->notrack &&
                strcmp(x->url, e->url) == 0) {
                snprintf(x->code, sizeof(x->code), "%s", e->code);
                x->existed = true;
                used_take(u, x->code);
            }
        }
    }
    free(slot);
    ctl_links_free(&l);
    return 0;
}

/* ---- new links ----------------------------------------------------------- */

/* A code for t not taken in this run: try (from 0) picks the slug's
 * suffix, or a new random draw. 0, or -1 with err. */
static int draw(struct wrap_target *t, enum wrap_codes how, size_t len, int try,
                struct used *u, char *err, size_t errsz)
{
    for (int k = 0;; k++) {
        if (how == WRAP_CODES_RANDOM) {
            if (code_random(t->code, len) != 0) {
                snprintf(err, errsz, "no randomness: getrandom failed");
                return -1;
            }
        } else {
            char slug[SLUG_MAX + 1];
            wrap_slug(t->url, slug);
            if (try + k == 0)
                snprintf(t->code, sizeof(t->code), "%s", slug);
            else
                snprintf(t->code, sizeof(t->code), "%s-%d", slug, try + k + 1);
        }
        if (!used_take(u, t->code))
            return 0;
    }
}

/* Create the links of t[0..n) without a code yet, in pipelined windows; a
 * code another link has is drawn again. 0, or -1 with err. */
static int create(struct store *st, const char *campaign, struct wrap_target *t, size_t n,
                  enum wrap_codes how, size_t len, struct used *u, char *err,
                  size_t errsz)
{
    size_t *todo = xcalloc(n ? n : 1, sizeof(*todo)), ntodo = 0;
    for (size_t i = 0; i < n; i++)
        if (t[i].code[0] == '\0')
            todo[ntodo++] = i;
    int rv = 0;
    int64_t now = (int64_t)(util_wall_ms() / 1000);
    for (int try = 0; ntodo > 0 && rv == 0; try++) {
        if (try == DRAWS_MAX) {
            snprintf(err, errsz, "no free code for %s after %d tries", t[todo[0]].url,
                     DRAWS_MAX);
            rv = -1;
            break;
        }
        size_t left = 0;
        for (size_t w = 0; w < ntodo && rv == 0; w += CTL_PIPELINE) {
            size_t end = w + CTL_PIPELINE < ntodo ? w + CTL_PIPELINE : ntodo;
            for (size_t k = w; k < end && rv == 0; k++) {
                struct wrap_target *x = &t[todo[k]];
                struct store_link l;
                if (draw(x, how, len, try, u, err, errsz) != 0) {
                    rv = -1;
                    break;
                }
                ctl_link_from_args(&l, x->code, x->url, campaign);
                l.notrack = x->notrack;
                rv = store_set_append(st, &l, false, NULL, now, err, errsz);
            }
            for (size_t k = w; k < end && rv == 0; k++) {
                enum store_result res;
                if (store_set_reply(st, &res, err, errsz) != 0) {
                    rv = -1;
                    break;
                }
                if (res == STORE_REFUSED) {
                    rv = -1; /* Redis's words in err */
                    break;
                }
                /* Added; or made, with the same target, since we looked. */
                if (res != STORE_ADDED && res != STORE_UNCHANGED)
                    todo[left++] = todo[k];
            }
        }
        ntodo = left;
    }
    free(todo);
    return rv;
}

int wrap_codes(struct store *st, const char *campaign, struct wrap_target *t, size_t n,
               enum wrap_codes how, size_t len, bool dry, char *err, size_t errsz)
{
    struct used u = {0};
    int rv = find_existing(st, campaign, t, n, &u, err, errsz);
    for (size_t i = 0; rv == 0 && dry && i < n; i++)
        if (t[i].code[0] == '\0')
            rv = draw(&t[i], how, len, 0, &u, err, errsz);
    if (rv == 0 && !dry)
        rv = create(st, campaign, t, n, how, len, &u, err, errsz);
    free(u.v);
    return rv;
}
