/* wraphtml: the href values of a mail's <a> and <area> elements, where
 * Gumbo (an HTML5 parser: the tree a browser builds) found them in the
 * source bytes. */
#include <gumbo.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "wrapfind.h"

struct walk {
    const char *buf;
    size_t len;
    struct wrap_list *l;
};

static bool html_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

/* Where p (a piece of the source) is in it, or false when it is not (the
 * parser made the attribute up). */
static bool source_span(const struct walk *w, GumboStringPiece p, size_t *start,
                        size_t *end)
{
    if (p.data == NULL || p.data < w->buf || p.data + p.length > w->buf + w->len)
        return false;
    *start = (size_t)(p.data - w->buf);
    *end = *start + p.length;
    return true;
}

/* Whether the attribute has a value in the source (for one without, the
 * parser points its value at its name). */
static bool has_value(const GumboAttribute *a)
{
    return a->original_value.data >= a->original_name.data + a->original_name.length;
}

/* The bytes of a value inside its quotes; false when [start, end) is not
 * a whole value as written (="..." or ='...', or = then bytes up to a space
 * or '>'): the parser can point at part of one in broken markup, and a
 * link that cannot be found exactly is left alone. */
static bool unquote(const char *buf, size_t len, size_t *start, size_t *end)
{
    size_t eq = *start;
    while (eq > 0 && html_space(buf[eq - 1]))
        eq--;
    if (eq == 0 || buf[eq - 1] != '=')
        return false;
    char q = buf[*start];
    if (q == '"' || q == '\'') {
        if (*end - *start < 2 || buf[*end - 1] != q)
            return false;
        (*start)++;
        (*end)--;
        return true;
    }
    return *end == len || html_space(buf[*end]) || buf[*end] == '>';
}

/* The value with the white space HTML strips from a URL around it. */
static char *trimmed(const char *v)
{
    size_t n = strlen(v);
    while (n > 0 && html_space(v[n - 1]))
        n--;
    while (n > 0 && html_space(*v)) {
        v++;
        n--;
    }
    return xstrndup(v, n);
}

static enum wrap_mark mark_of(const char *v)
{
    if (strcmp(v, "off") == 0)
        return WRAP_MARK_OFF;
    if (strcmp(v, "notrack") == 0)
        return WRAP_MARK_NOTRACK;
    return WRAP_MARK_UNKNOWN;
}

/* An <a> or <area>: its href (and data-hopcount, dropped) if in the source. */
static void take_link(const struct walk *w, const GumboElement *e)
{
    const GumboAttribute *href = gumbo_get_attribute(&e->attributes, "href");
    const GumboAttribute *mark = gumbo_get_attribute(&e->attributes, "data-hopcount");
    size_t start, end;
    if (href == NULL || !has_value(href) ||
        !source_span(w, href->original_value, &start, &end) || start == end)
        return;
    if (!unquote(w->buf, w->len, &start, &end))
        return;
    /* The URL alone: space around it stays as it was. */
    while (start < end && html_space(w->buf[start]))
        start++;
    while (end > start && html_space(w->buf[end - 1]))
        end--;
    if (start == end)
        return;
    struct wrap_found *f = wrap_list_add(w->l);
    f->start = start;
    f->end = end;
    f->drop_start = f->drop_end = start;
    f->target = trimmed(href->value);
    f->line = (long)href->value_start.line;
    size_t ms, me, ns, ne;
    if (mark != NULL && source_span(w, mark->original_name, &ns, &ne)) {
        f->mark = mark_of(mark->value);
        if (!has_value(mark) || !source_span(w, mark->original_value, &ms, &me) ||
            me < ne)
            me = ne;
        /* With the space before it, unless what follows would then run
         * into the attribute before (a value written without quotes). */
        char next = me < w->len ? w->buf[me] : '>';
        if (html_space(next) || next == '>')
            while (ns > 0 && html_space(w->buf[ns - 1]))
                ns--;
        f->drop_start = ns;
        f->drop_end = me;
    }
}

/* Every element under root, in document order, without recursion (a mail
 * may nest deeper than the stack would). */
static void walk(const struct walk *w, const GumboNode *root)
{
    size_t cap = 256, n = 0;
    const GumboNode **stack = xmalloc(cap * sizeof(*stack));
    stack[n++] = root;
    while (n > 0) {
        const GumboNode *node = stack[--n];
        const GumboVector *children;
        if (node->type == GUMBO_NODE_ELEMENT || node->type == GUMBO_NODE_TEMPLATE) {
            const GumboElement *e = &node->v.element;
            if (e->tag == GUMBO_TAG_A || e->tag == GUMBO_TAG_AREA)
                take_link(w, e);
            children = &e->children;
        } else if (node->type == GUMBO_NODE_DOCUMENT) {
            children = &node->v.document.children;
        } else {
            continue;
        }
        if (n + children->length > cap) {
            while (n + children->length > cap)
                cap *= 2;
            stack = xrealloc(stack, cap * sizeof(*stack));
        }
        for (unsigned i = children->length; i-- > 0;) /* the first on top */
            stack[n++] = children->data[i];
    }
    free(stack);
}

static int by_start(const void *a, const void *b)
{
    const struct wrap_found *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

int wrap_find_html(const char *buf, size_t len, struct wrap_list *l)
{
    GumboOutput *out = gumbo_parse_with_options(&kGumboDefaultOptions, buf, len);
    if (out == NULL)
        return -1;
    size_t first = l->n;
    struct walk w = {buf, len, l};
    walk(&w, out->document);
    gumbo_destroy_output(&kGumboDefaultOptions, out);
    /* In source order, each span once: misnested markup makes the parser
     * clone an element, attributes and all (the same source bytes). */
    if (l->n - first > 1)
        qsort(l->v + first, l->n - first, sizeof(*l->v), by_start);
    size_t k = first;
    for (size_t i = first; i < l->n; i++) {
        if (k > first && l->v[k - 1].start == l->v[i].start) {
            free(l->v[i].target);
            continue;
        }
        l->v[k++] = l->v[i];
    }
    l->n = k;
    return 0;
}
