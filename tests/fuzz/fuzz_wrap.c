/* libFuzzer driver: hopctl wrap's finders and rewriter (issue 16), both
 * on every input (seeds: tests/e2e/mail/ and corpus/wrap/). Text: every URL found lies
 * inside the input, in order, starts with http(s)://, and is its bytes. HTML: every href
 * found lies inside the input, in order, without overlaps; the mail rewritten with each
 * href replaced keeps every other byte (bar the data-hopcount attributes dropped), and
 * parses again to the same links, now with the replacement as their target. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wrapfind.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define WITH "https://s.example/X&y"

static void check_text(const char *buf, size_t len)
{
    struct wrap_list l = {0};
    wrap_find_text(buf, len, &l);
    size_t at = 0;
    for (size_t i = 0; i < l.n; i++) {
        const struct wrap_found *f = &l.v[i];
        if (f->start < at || f->end > len || f->end <= f->start ||
            f->end - f->start != strlen(f->target) ||
            memcmp(buf + f->start, f->target, f->end - f->start) != 0 ||
            (strncasecmp(f->target, "http://", 7) != 0 &&
             strncasecmp(f->target, "https://", 8) != 0))
            abort();
        at = f->end;
    }
    wrap_list_free(&l);
}

/* The output's bytes outside the edits are the input's. */
static void check_kept(const char *in, size_t len, const char *out, size_t outlen,
                       const struct wrap_list *l, size_t withlen)
{
    size_t i = 0, o = 0;
    for (size_t k = 0; k < l->n; k++) {
        const struct wrap_found *f = &l->v[k];
        size_t a = f->start, b = f->end;           /* replaced */
        size_t c = f->drop_start, d = f->drop_end; /* dropped */
        size_t first = d > c && c < a ? c : a;
        if (first < i || memcmp(in + i, out + o, first - i) != 0)
            abort();
        o += first - i;
        if (d > c && c < a) { /* dropped, then kept up to the href, then it */
            if (memcmp(in + d, out + o, a - d) != 0)
                abort();
            o += a - d;
        }
        o += withlen;
        i = b;
        if (d > c && c > a) { /* the href, kept up to the drop, dropped */
            if (memcmp(in + b, out + o, c - b) != 0)
                abort();
            o += c - b;
            i = d;
        }
    }
    if (outlen - o != len - i || memcmp(in + i, out + o, len - i) != 0)
        abort();
}

static void check_html(const char *buf, size_t len)
{
    struct wrap_list l = {0};
    if (wrap_find_html(buf, len, &l) != 0)
        abort();
    size_t at = 0;
    char **with = calloc(l.n + 1, sizeof(*with));
    for (size_t i = 0; i < l.n; i++) {
        const struct wrap_found *f = &l.v[i];
        size_t lo = f->start, hi = f->end;
        if (f->drop_end > f->drop_start) {
            if (f->drop_end <= f->start)
                lo = f->drop_start;
            else if (f->drop_start >= f->end)
                hi = f->drop_end;
            else
                abort(); /* a drop overlapping its href */
        }
        if (lo < at || hi > len || f->end <= f->start)
            abort();
        at = hi;
        with[i] = WITH;
    }
    char *out = NULL;
    size_t outlen = 0;
    FILE *m = open_memstream(&out, &outlen);
    if (wrap_rewrite(m, buf, len, &l, with, true) != 0)
        abort();
    fclose(m);
    check_kept(buf, len, out, outlen, &l, strlen("https://s.example/X&amp;y"));
    struct wrap_list again = {0};
    if (wrap_find_html(out, outlen, &again) != 0 || again.n != l.n)
        abort();
    for (size_t i = 0; i < again.n; i++)
        if (strcmp(again.v[i].target, WITH) != 0)
            abort();
    wrap_list_free(&again);
    free(out);
    free(with);
    wrap_list_free(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    check_text(buf, size);
    check_html(buf, size);
    free(buf);
    return 0;
}
