/* wrapfind: the links of a mail found where they are written, and the mail
 * written again with nothing else changed (hopctl wrap, issue 16). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wrapfind.h"

/* h rewritten with l's links replaced by with[] (HTML), malloc'd. */
static char *rewritten(const char *h, const struct wrap_list *l, char *const *with)
{
    char *out = NULL;
    size_t outlen = 0;
    FILE *f = open_memstream(&out, &outlen);
    assert_int_equal(wrap_rewrite(f, h, strlen(h), l, with, true), 0);
    fclose(f);
    return out;
}

/* The URLs wrap_find_text finds in text, joined by '|'. */
static const char *text_urls(const char *text)
{
    static char out[4096];
    struct wrap_list l = {0};
    wrap_find_text(text, strlen(text), &l);
    out[0] = '\0';
    for (size_t i = 0; i < l.n; i++) {
        assert_memory_equal(text + l.v[i].start, l.v[i].target, strlen(l.v[i].target));
        assert_int_equal(l.v[i].end - l.v[i].start, strlen(l.v[i].target));
        strcat(out, i ? "|" : "");
        strcat(out, l.v[i].target);
    }
    wrap_list_free(&l);
    return out;
}

static void test_text_urls(void **state)
{
    (void)state;
    assert_string_equal(text_urls("Shop: https://e.com/a?x=1&y=2."),
                        "https://e.com/a?x=1&y=2");
    assert_string_equal(text_urls("(see https://e.com/b), then"), "https://e.com/b");
    assert_string_equal(text_urls("[sizes](https://e.com/wiki/Size_(clothing)) ok"),
                        "https://e.com/wiki/Size_(clothing)");
    assert_string_equal(text_urls("at <https://e.com/l>!"), "https://e.com/l");
    assert_string_equal(text_urls("\"https://e.com/q\", and HTTP://E.COM/up;"),
                        "https://e.com/q|HTTP://E.COM/up");
    assert_string_equal(text_urls("myhttp://e.com/x http:// alone, https://"), "");
    assert_string_equal(text_urls("**https://e.com/bold**?! x"), "https://e.com/bold");
    assert_string_equal(text_urls("a\thttp://e.com/1\nhttp://e.com/2\r\n"),
                        "http://e.com/1|http://e.com/2");
    assert_string_equal(text_urls("https://e.com/{{id}}/x'"), "https://e.com/{{id}}/x");
}

static void test_text_lines(void **state)
{
    (void)state;
    const char *t = "one https://e.com/1\n\ntwo\nhttps://e.com/2 and https://e.com/3\n";
    struct wrap_list l = {0};
    wrap_find_text(t, strlen(t), &l);
    assert_int_equal(l.n, 3);
    assert_int_equal(l.v[0].line, 1);
    assert_int_equal(l.v[1].line, 4);
    assert_int_equal(l.v[2].line, 4);
    wrap_list_free(&l);
}

/* An <a>'s and an <area>'s href values: their bytes inside the quotes,
 * decoded targets, lines; <link>, <img>, <form> and comments not. */
static void test_html_hrefs(void **state)
{
    (void)state;
    const char *h =
        "<link href=\"https://e.com/css\"><p>x\n"
        "<a href=\"https://e.com/a?x=1&amp;y=2\">a</a>\n"
        "<A HREF='https://e.com/b'>b</A><a href=https://e.com/c>c</a>\n"
        "<!-- <a href=\"https://e.com/hidden\">h</a> -->"
        "<img src=\"https://e.com/i.png\"><form action=\"https://e.com/f\"></form>"
        "<map><area href=\" https://e.com/area \"></map><a>none</a><a href=\"\">e</a>";
    struct wrap_list l = {0};
    assert_int_equal(wrap_find_html(h, strlen(h), &l), 0);
    assert_int_equal(l.n, 4);
    assert_string_equal(l.v[0].target, "https://e.com/a?x=1&y=2");
    assert_int_equal(l.v[0].end - l.v[0].start, strlen("https://e.com/a?x=1&amp;y=2"));
    assert_memory_equal(h + l.v[0].start, "https://e.com/a?x=1&amp;y=2\"", 28);
    assert_int_equal(l.v[0].line, 2);
    assert_string_equal(l.v[1].target, "https://e.com/b");
    assert_memory_equal(h + l.v[1].start - 1, "'https://e.com/b'", 17);
    assert_string_equal(l.v[2].target, "https://e.com/c");
    assert_memory_equal(h + l.v[2].start - 5, "href=https://e.com/c>", 21);
    assert_int_equal(l.v[2].line, 3);
    assert_string_equal(l.v[3].target, "https://e.com/area");
    for (size_t i = 0; i < l.n; i++)
        assert_int_equal(l.v[i].mark, WRAP_MARK_NONE);
    wrap_list_free(&l);
}

/* Misnested markup makes the parser clone an <a>: found once. */
static void test_html_clone_once(void **state)
{
    (void)state;
    const char *h = "<p><a href=\"https://e.com/x\"><b>one<p>two</b></a>three";
    struct wrap_list l = {0};
    assert_int_equal(wrap_find_html(h, strlen(h), &l), 0);
    assert_int_equal(l.n, 1);
    wrap_list_free(&l);
}

/* data-hopcount: its mark, and the attribute (with the space before it)
 * dropped on rewriting, before or after the href. */
static void test_html_marks_dropped(void **state)
{
    (void)state;
    const char *h = "<a href=\"https://e.com/1\" data-hopcount=\"off\">1</a>"
                    "<a data-hopcount='notrack'  href=\"https://e.com/2\">2</a>"
                    "<a href=\"https://e.com/3\" data-hopcount=maybe>3</a>";
    struct wrap_list l = {0};
    assert_int_equal(wrap_find_html(h, strlen(h), &l), 0);
    assert_int_equal(l.n, 3);
    assert_int_equal(l.v[0].mark, WRAP_MARK_OFF);
    assert_int_equal(l.v[1].mark, WRAP_MARK_NOTRACK);
    assert_int_equal(l.v[2].mark, WRAP_MARK_UNKNOWN);
    char *with[3] = {NULL, "https://go.e.com/b&c", NULL};
    char *out = rewritten(h, &l, with);
    assert_string_equal(out, "<a href=\"https://e.com/1\">1</a>"
                             "<a  href=\"https://go.e.com/b&amp;c\">2</a>"
                             "<a href=\"https://e.com/3\">3</a>");
    free(out);
    wrap_list_free(&l);
}

/* Every byte but the replaced ones comes out as it went in. */
static void test_rewrite_keeps_the_rest(void **state)
{
    (void)state;
    const char *h =
        "<!--[if mso]><v:roundrect href=\"https://e.com/v\"/><![endif]-->\r\n"
        "<table><tr><td><a\thref = \"https://e.com/a\"  style='x'>&nbsp;a</a>";
    struct wrap_list l = {0};
    assert_int_equal(wrap_find_html(h, strlen(h), &l), 0);
    assert_int_equal(l.n, 1);
    char *with[1] = {"http://s/X"};
    char *out = rewritten(h, &l, with);
    assert_string_equal(
        out, "<!--[if mso]><v:roundrect href=\"https://e.com/v\"/><![endif]-->\r\n"
             "<table><tr><td><a\thref = \"http://s/X\"  style='x'>&nbsp;a</a>");
    free(out);
    wrap_list_free(&l);
}

/* Broken markup the fuzzer found (tests/fuzz/corpus/wrap/regress-*): an
 * href without a value (the parser points its value at its name), a value
 * the parser located only in part (after a character reference written
 * without quotes), and a mark whose removal would run the attribute after
 * it into an unquoted href. */
static void test_html_broken_markup(void **state)
{
    (void)state;
    const char *h = "<a href {{first}}>x</a><a href= &middot\xbb>y</a>"
                    "<a href=https://e.com/p data-hopcount=\"off\"z=1>z</a>";
    struct wrap_list l = {0};
    assert_int_equal(wrap_find_html(h, strlen(h), &l), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0].target, "https://e.com/p");
    char *with[1] = {"https://s/X"};
    char *out = rewritten(h, &l, with);
    assert_string_equal(out, "<a href {{first}}>x</a><a href= &middot\xbb>y</a>"
                             "<a href=https://s/X z=1>z</a>");
    free(out);
    wrap_list_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_urls),
        cmocka_unit_test(test_text_lines),
        cmocka_unit_test(test_html_hrefs),
        cmocka_unit_test(test_html_clone_once),
        cmocka_unit_test(test_html_marks_dropped),
        cmocka_unit_test(test_rewrite_keeps_the_rest),
        cmocka_unit_test(test_html_broken_markup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
