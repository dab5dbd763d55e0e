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

int url_join_query(const char *target, size_t tlen, const char *q, size_t qlen, char *out,
                   size_t outsz)
{
    static const char hex[] = "0123456789ABCDEF";
    const char *frag = memchr(target, '#', tlen);
    size_t blen = frag ? (size_t)(frag - target) : tlen;
    size_t o = 0;

#define PUT(ch)                                                                          \
    do {                                                                                 \
        if (o + 1 >= outsz)                                                              \
            return -1;                                                                   \
        out[o++] = (ch);                                                                 \
    } while (0)

    for (size_t i = 0; i < blen; i++)
        PUT(target[i]);
    if (qlen > 0) {
        const char *qm = memchr(target, '?', blen);
        if (qm == NULL)
            PUT('?');
        else if (blen > 0 && target[blen - 1] != '?' && target[blen - 1] != '&')
            PUT('&');
        for (size_t i = 0; i < qlen; i++) {
            unsigned char c = (unsigned char)q[i];
            if (c == '%' && i + 2 < qlen && hexdig(q[i + 1]) && hexdig(q[i + 2])) {
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
    for (size_t i = blen; i < tlen; i++)
        PUT(target[i]);
#undef PUT
    out[o] = '\0';
    if (!url_target_ok(out, o, NULL))
        return -1;
    return (int)o;
}
