/* privacy: opt-out (DNT, GPC), prefetch and bot classification. */
#include "privacy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hash.h"
#include "util.h"

#define PRIVACY_PATTERN_MAX 200
#define PRIVACY_MEMO_SLOTS 4096 /* power of two */

#define PRIVACY_SCAN_PREFIX "scan:"

struct privacy_bots {
    char **patterns; /* lower-cased */
    size_t *lens;
    unsigned *flags; /* PRIVACY_BOT_UA, or PRIVACY_SCAN_UA for a "scan:" line */
    size_t n;
    /* Direct-mapped memo: the hash of an agent and the answer for it. */
    struct {
        uint64_t hash;
        unsigned char state; /* 0 empty, else 1 + the flags answered */
    } memo[PRIVACY_MEMO_SLOTS];
};

static const struct {
    const char *name;
    enum privacy_header kind;
} header_names[] = {
    {"dnt", PRIVACY_H_DNT},
    {"sec-gpc", PRIVACY_H_SEC_GPC},
    {"sec-purpose", PRIVACY_H_SEC_PURPOSE},
    {"purpose", PRIVACY_H_PURPOSE},
    {"x-moz", PRIVACY_H_X_MOZ},
    {"x-purpose", PRIVACY_H_X_PURPOSE},
    {"user-agent", PRIVACY_H_USER_AGENT},
};

enum privacy_header privacy_header_kind(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(header_names) / sizeof(header_names[0]); i++)
        if (strlen(header_names[i].name) == len &&
            strncasecmp(header_names[i].name, name, len) == 0)
            return header_names[i].kind;
    return PRIVACY_H_OTHER;
}

/* Strip optional whitespace around a field value. */
static void ows_trim(const char **v, size_t *len)
{
    while (*len > 0 && (**v == ' ' || **v == '\t')) {
        (*v)++;
        (*len)--;
    }
    while (*len > 0 && ((*v)[*len - 1] == ' ' || (*v)[*len - 1] == '\t'))
        (*len)--;
}

static bool contains_nocase(const char *v, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++)
        if (strncasecmp(v + i, needle, n) == 0)
            return true;
    return false;
}

unsigned privacy_header_flags(enum privacy_header h, const char *v, size_t len,
                              struct privacy_bots *bots)
{
    ows_trim(&v, &len);
    switch (h) {
    case PRIVACY_H_DNT:
        return len == 1 && v[0] == '1' ? PRIVACY_DNT : 0;
    case PRIVACY_H_SEC_GPC:
        return len == 1 && v[0] == '1' ? PRIVACY_GPC : 0;
    case PRIVACY_H_SEC_PURPOSE:
    case PRIVACY_H_PURPOSE:
    case PRIVACY_H_X_MOZ:
        return contains_nocase(v, len, "prefetch") ? PRIVACY_PREFETCH : 0;
    case PRIVACY_H_X_PURPOSE:
        return contains_nocase(v, len, "preview") ? PRIVACY_PREFETCH : 0;
    case PRIVACY_H_USER_AGENT:
        return bots != NULL ? privacy_bots_match(bots, v, len) : 0;
    case PRIVACY_H_OTHER:
        break;
    }
    return 0;
}

bool privacy_opted_out(unsigned flags, bool honour_dnt, bool honour_gpc)
{
    return (honour_dnt && (flags & PRIVACY_DNT)) || (honour_gpc && (flags & PRIVACY_GPC));
}

struct privacy_bots *privacy_bots_parse(const char *text, size_t len, int *bad_line)
{
    struct privacy_bots *b = xcalloc(1, sizeof(*b));
    size_t cap = 0;
    int lineno = 0;
    size_t pos = 0;

    while (pos < len) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t l = nl ? (size_t)(nl - line) : len - pos;
        pos += l + (nl ? 1 : 0);
        lineno++;
        const char *hash = memchr(line, '#', l);
        if (hash != NULL)
            l = (size_t)(hash - line);
        while (l > 0 &&
               (line[l - 1] == ' ' || line[l - 1] == '\t' || line[l - 1] == '\r'))
            l--;
        while (l > 0 && (*line == ' ' || *line == '\t')) {
            line++;
            l--;
        }
        unsigned flag = PRIVACY_BOT_UA;
        size_t pl = strlen(PRIVACY_SCAN_PREFIX);
        if (l >= pl && strncasecmp(line, PRIVACY_SCAN_PREFIX, pl) == 0) {
            flag = PRIVACY_SCAN_UA;
            line += pl;
            l -= pl;
            while (l > 0 && (*line == ' ' || *line == '\t')) {
                line++;
                l--;
            }
        }
        if (l == 0)
            continue;
        if (l > PRIVACY_PATTERN_MAX) {
            privacy_bots_free(b);
            *bad_line = lineno;
            return NULL;
        }
        if (b->n == cap) {
            cap = cap ? cap * 2 : 64;
            b->patterns = xrealloc(b->patterns, cap * sizeof(*b->patterns));
            b->lens = xrealloc(b->lens, cap * sizeof(*b->lens));
            b->flags = xrealloc(b->flags, cap * sizeof(*b->flags));
        }
        char *p = xstrndup(line, l);
        for (size_t i = 0; i < l; i++)
            if (p[i] >= 'A' && p[i] <= 'Z')
                p[i] = (char)(p[i] - 'A' + 'a');
        b->patterns[b->n] = p;
        b->lens[b->n] = l;
        b->flags[b->n] = flag;
        b->n++;
    }
    return b;
}

struct privacy_bots *privacy_bots_load(const char *path, char *err, size_t errsz)
{
    size_t len;
    char *text = util_read_file(path, &len);
    if (text == NULL) {
        snprintf(err, errsz, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    int bad_line = 0;
    struct privacy_bots *b = privacy_bots_parse(text, len, &bad_line);
    free(text);
    if (b == NULL)
        snprintf(err, errsz, "%s:%d: pattern longer than %d bytes", path, bad_line,
                 PRIVACY_PATTERN_MAX);
    return b;
}

void privacy_bots_free(struct privacy_bots *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->n; i++)
        free(b->patterns[i]);
    free(b->patterns);
    free(b->lens);
    free(b->flags);
    free(b);
}

unsigned privacy_bots_match(struct privacy_bots *b, const char *ua, size_t len)
{
    char low[PRIVACY_VALUE_MAX];

    if (b->n == 0 || len == 0)
        return 0;
    if (len > sizeof(low))
        len = sizeof(low);
    uint64_t h = hash_bytes(ua, len);
    size_t slot = (size_t)(h & (PRIVACY_MEMO_SLOTS - 1));
    if (b->memo[slot].state != 0 && b->memo[slot].hash == h)
        return b->memo[slot].state - 1u;

    for (size_t i = 0; i < len; i++)
        low[i] = (ua[i] >= 'A' && ua[i] <= 'Z') ? (char)(ua[i] - 'A' + 'a') : ua[i];
    unsigned hit = 0;
    for (size_t i = 0; i < b->n && hit == 0; i++)
        if (memmem(low, len, b->patterns[i], b->lens[i]) != NULL)
            hit = b->flags[i];
    b->memo[slot].hash = h;
    b->memo[slot].state = (unsigned char)(1u + hit);
    return hit;
}
