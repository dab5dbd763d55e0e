/* wrapfind: the links of a newsletter, found where they are written (the
 * bytes of an href value, or of a URL in plain text), and the mail written
 * again with some of them replaced and nothing else changed. The finders
 * decide nothing about what is wrapped: wrap.c does. Pure: no I/O but
 * wrap_rewrite's output. */
#ifndef HOPCOUNT_WRAPFIND_H
#define HOPCOUNT_WRAPFIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* What the mail's author marked a link with (data-hopcount="..."). */
enum wrap_mark {
    WRAP_MARK_NONE = 0,
    WRAP_MARK_OFF,     /* "off": never wrapped */
    WRAP_MARK_NOTRACK, /* "notrack": wrapped as a --no-track link */
    WRAP_MARK_UNKNOWN, /* another value: an error */
};

/* One link found. [start, end) are the bytes a short link would replace
 * (an href value inside its quotes, or a URL in text); [drop_start,
 * drop_end) the bytes removed whatever happens (a data-hopcount attribute
 * and the space before it), empty when drop_start == drop_end. */
struct wrap_found {
    size_t start, end;
    size_t drop_start, drop_end;
    char *target; /* the URL: entities decoded, surrounding space trimmed */
    long line;    /* 1-based line of start */
    enum wrap_mark mark;
};

struct wrap_list {
    struct wrap_found *v;
    size_t n, cap;
};

/* http:// and https:// URLs in plain text (or Markdown) as mail clients
 * find them: starting at a word boundary, ending before white space, a
 * control byte, < > " or `, and without trailing . , ; : ! ? ' " * or a
 * closing ) ] } that has no opening one in the URL; <URL> forms included
 * (the > ends it). Appended to l in order. */
void wrap_find_text(const char *buf, size_t len, struct wrap_list *l);

/* The href of every <a> and <area> element of HTML (Gumbo, as a browser
 * parses it), in document order; elements inside comments are not seen.
 * 0, or -1 when the parser gave up. */
int wrap_find_html(const char *buf, size_t len, struct wrap_list *l);

/* The mail again: buf with, for each found link i, [start, end) replaced by
 * with[i] (NULL: kept) and [drop_start, drop_end) left out, every other byte
 * as it was. HTML-escapes the replacement when html. 0, or -1 when writing
 * failed. l must be in order, without overlaps (as the finders make it). */
int wrap_rewrite(FILE *out, const char *buf, size_t len, const struct wrap_list *l,
                 char *const *with, bool html);

/* A new zeroed entry at the end of l. */
struct wrap_found *wrap_list_add(struct wrap_list *l);
void wrap_list_free(struct wrap_list *l);

#endif
