/* url: the rules a redirect target must obey, and the forward_query join. */
#include "url.h"

#include <event2/http.h>
#include <string.h>
#include <strings.h>

bool url_target_ok(const char *url, size_t len, const char **why)
{
    const char *dummy;
    char buf[URL_MAX_LEN + 1];

    if (why == NULL)
        why = &dummy;
    if (len == 0) {
        *why = "empty URL";
        return false;
    }
    if (len > URL_MAX_LEN) {
        *why = "URL longer than 2048 bytes";
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c >= 0x7f) {
            *why = "whitespace, control or non-ASCII byte in URL";
            return false;
        }
    }
    memcpy(buf, url, len);
    buf[len] = '\0';

    /* Strict parse: libevent refuses characters RFC 3986 does not allow. */
    struct evhttp_uri *u = evhttp_uri_parse_with_flags(buf, 0);
    if (u == NULL) {
        *why = "not a valid URI";
        return false;
    }
    bool ok = true;
    const char *scheme = evhttp_uri_get_scheme(u);
    const char *host = evhttp_uri_get_host(u);
    if (scheme == NULL ||
        (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)) {
        *why = "scheme is not http or https";
        ok = false;
    } else if (host == NULL || *host == '\0') {
        *why = "URL has no host";
        ok = false;
    }
    evhttp_uri_free(u);
    return ok;
}

static bool hexdig(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* RFC 3986 query characters: unreserved, sub-delims, ':', '@', '/', '?'. */
static bool query_char_ok(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("-._~!$&'()*+,;=:@/?", c) != NULL;
}

bool url_query_keys_ok(const char *list)
{
    size_t n = 0;
    for (const char *p = list; *p != '\0';) {
        if (*p == ',' || *p == ' ') {
            p++;
            continue;
        }
        size_t len = strcspn(p, ", ");
        size_t name = len > 0 && p[len - 1] == '*' ? len - 1 : len;
        if (name == 0 || name > 64)
            return false;
        for (size_t i = 0; i < name; i++) {
            char c = p[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
                return false;
        }
        n++;
        p += len;
    }
    return n > 0;
}

/* True when key[0..klen) is named by the list (a name, or a prefix with *). */
static bool key_listed(const char *key, size_t klen, const char *list)
{
    for (const char *p = list; *p != '\0';) {
        if (*p == ',' || *p == ' ') {
            p++;
            continue;
        }
        size_t len = strcspn(p, ", ");
        if (p[len - 1] == '*') {
            if (klen >= len - 1 && memcmp(key, p, len - 1) == 0)
                return true;
        } else if (klen == len && memcmp(key, p, len) == 0)
            return true;
        p += len;
    }
    return false;
}

/* True when the query q[0..qlen) has a parameter named key[0..klen). */
static bool query_has(const char *q, size_t qlen, const char *key, size_t klen)
{
    size_t i = 0;
    while (i < qlen) {
        const char *amp = memchr(q + i, '&', qlen - i);
        size_t end = amp ? (size_t)(amp - q) : qlen;
        const char *eq = memchr(q + i, '=', end - i);
        size_t kend = eq ? (size_t)(eq - q) : end;
        if (kend - i == klen && memcmp(q + i, key, klen) == 0)
            return true;
        i = end + 1;
    }
    return false;
}

int url_join_query(const char *target, size_t tlen, const char *q, size_t qlen,
                   const char *keys, char *out, size_t outsz)
{
    static const char hex[] = "0123456789ABCDEF";
    const char *frag = memchr(target, '#', tlen);
    size_t blen = frag ? (size_t)(frag - target) : tlen;
    const char *tq = memchr(target, '?', blen);
    const char *tquery = tq ? tq + 1 : "";
    size_t tqlen = tq ? blen - (size_t)(tq + 1 - target) : 0;
    size_t o = 0;
    bool first = tq == NULL;

#define PUT(ch)                                                                          \
    do {                                                                                 \
        if (o + 1 >= outsz)                                                              \
            return -1;                                                                   \
        out[o++] = (ch);                                                                 \
    } while (0)

    for (size_t i = 0; i < blen; i++)
        PUT(target[i]);
    bool sep = !first && blen > 0 && target[blen - 1] != '?' && target[blen - 1] != '&';
    size_t i = 0;
    while (i < qlen) {
        const char *amp = memchr(q + i, '&', qlen - i);
        size_t end = amp ? (size_t)(amp - q) : qlen;
        const char *eq = memchr(q + i, '=', end - i);
        size_t klen = (eq ? (size_t)(eq - q) : end) - i;
        /* Only listed keys, never one the target has (a visitor must not
         * add to or override the target's own parameters: a next= there
         * could become an open redirect), and each once. */
        bool fwd = klen > 0 && key_listed(q + i, klen, keys) &&
                   !query_has(tquery, tqlen, q + i, klen) && !query_has(q, i, q + i, klen);
        if (fwd) {
            if (first)
                PUT('?');
            else if (sep)
                PUT('&');
            first = false;
            sep = true;
            for (size_t k = i; k < end; k++) {
                unsigned char c = (unsigned char)q[k];
                if (c == '%' && k + 2 < end && hexdig(q[k + 1]) && hexdig(q[k + 2])) {
                    PUT('%');
                } else if (query_char_ok(c)) {
                    PUT((char)c);
                } else {
                    PUT('%');
                    PUT(hex[c >> 4]);
                    PUT(hex[c & 15]);
                }
            }
        }
        i = end + 1;
    }
    for (size_t k = blen; k < tlen; k++)
        PUT(target[k]);
#undef PUT
    out[o] = '\0';
    if (!url_target_ok(out, o, NULL))
        return -1;
    return (int)o;
}
