/* wraplist: the links found in a mail, and the mail written again with
 * some of them replaced. */
#include <stdlib.h>
#include <string.h>

#include "html.h"
#include "util.h"
#include "wrapfind.h"

struct wrap_found *wrap_list_add(struct wrap_list *l)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    struct wrap_found *f = &l->v[l->n++];
    memset(f, 0, sizeof(*f));
    return f;
}

void wrap_list_free(struct wrap_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].target);
    free(l->v);
    *l = (struct wrap_list){0};
}

/* One change to the mail: [start, end) becomes with (NULL: nothing). */
struct edit {
    size_t start, end;
    const char *with;
};

static int by_start(const void *a, const void *b)
{
    const struct edit *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

int wrap_rewrite(FILE *out, const char *buf, size_t len, const struct wrap_list *l,
                 char *const *with, bool html)
{
    struct edit *e = xcalloc(2 * l->n + 1, sizeof(*e));
    size_t n = 0;
    for (size_t i = 0; i < l->n; i++) {
        const struct wrap_found *f = &l->v[i];
        if (with != NULL && with[i] != NULL)
            e[n++] = (struct edit){f->start, f->end, with[i]};
        if (f->drop_end > f->drop_start)
            e[n++] = (struct edit){f->drop_start, f->drop_end, NULL};
    }
    qsort(e, n, sizeof(*e), by_start);
    size_t at = 0;
    for (size_t k = 0; k < n; k++) {
        fwrite(buf + at, 1, e[k].start - at, out);
        if (e[k].with != NULL && html)
            html_escape(out, e[k].with, strlen(e[k].with));
        else if (e[k].with != NULL)
            fputs(e[k].with, out);
        at = e[k].end;
    }
    fwrite(buf + at, 1, len - at, out);
    free(e);
    return ferror(out) ? -1 : 0;
}
