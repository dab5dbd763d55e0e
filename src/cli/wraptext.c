/* wraptext: URLs in plain text, found as mail clients find them. */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "util.h"
#include "wrapfind.h"

/* Bytes that end a URL in text. */
static bool url_stop(unsigned char c)
{
    return c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == '"' || c == '`';
}

static bool word_byte(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           c == '_' || c >= 0x80;
}

/* The length of a scheme ("http://" or "https://", any case) at p. */
static size_t scheme_at(const char *p, size_t left)
{
    if (left >= 8 && strncasecmp(p, "https://", 8) == 0)
        return 8;
    if (left >= 7 && strncasecmp(p, "http://", 7) == 0)
        return 7;
    return 0;
}

/* How many more c than its opening counterpart u[0..n) holds. */
static long unbalanced(const char *u, size_t n, char open, char close)
{
    long depth = 0;
    for (size_t i = 0; i < n; i++)
        depth += u[i] == open ? -1 : u[i] == close ? 1 : 0;
    return depth;
}

/* The URL at u[0..n) without what a sentence around it put after it. */
static size_t trim_end(const char *u, size_t n, size_t scheme)
{
    while (n > scheme) {
        char c = u[n - 1];
        if (strchr(".,;:!?'\"*", c) != NULL ||
            (c == ')' && unbalanced(u, n, '(', ')') > 0) ||
            (c == ']' && unbalanced(u, n, '[', ']') > 0) ||
            (c == '}' && unbalanced(u, n, '{', '}') > 0))
            n--;
        else
            break;
    }
    return n;
}

void wrap_find_text(const char *buf, size_t len, struct wrap_list *l)
{
    long line = 1;
    size_t counted = 0; /* lines counted up to here */
    for (size_t i = 0; i < len; i++) {
        size_t scheme = scheme_at(buf + i, len - i);
        if (scheme == 0 || (i > 0 && word_byte((unsigned char)buf[i - 1])))
            continue;
        size_t end = i + scheme;
        while (end < len && !url_stop((unsigned char)buf[end]))
            end++;
        size_t n = trim_end(buf + i, end - i, scheme);
        if (n == scheme) /* nothing after the scheme */
            continue;
        for (; counted < i; counted++)
            line += buf[counted] == '\n';
        struct wrap_found *f = wrap_list_add(l);
        f->start = i;
        f->end = i + n;
        f->drop_start = f->drop_end = i;
        f->target = xstrndup(buf + i, n);
        f->line = line;
        i += n - 1;
    }
}
