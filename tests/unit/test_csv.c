/* Unit tests for csv: splitting a line in place and writing fields back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"

static struct csv_field f[4];
static char line[512];

/* Split s; returns the field count (or -1) and leaves the fields in f. */
static int split(const char *s, const char **why)
{
    const char *w = NULL;
    snprintf(line, sizeof(line), "%s", s);
    int n = csv_split(line, strlen(line), f, 3, &w);
    if (why != NULL)
        *why = w;
    return n;
}

static void assert_field(int i, const char *want)
{
    assert_int_equal(f[i].len, strlen(want));
    assert_memory_equal(f[i].s, want, f[i].len);
}

static void test_plain(void **state)
{
    (void)state;
    assert_int_equal(split("spring24,https://example.com/a,demo", NULL), 3);
    assert_field(0, "spring24");
    assert_field(1, "https://example.com/a");
    assert_field(2, "demo");
    assert_int_equal(split("a,b", NULL), 2);
    assert_int_equal(split("", NULL), 1);
    assert_field(0, "");
    assert_int_equal(split("a,b,", NULL), 3); /* an empty campaign */
    assert_field(2, "");
    assert_int_equal(split("  a , b\t,c  ", NULL), 3);
    assert_field(0, "a");
    assert_field(1, "b");
    assert_field(2, "c");
}

static void test_quoted(void **state)
{
    (void)state;
    assert_int_equal(split("\"a\",\"https://e.com/?x=1,2\",\"c\"", NULL), 3);
    assert_field(0, "a");
    assert_field(1, "https://e.com/?x=1,2");
    assert_field(2, "c");
    assert_int_equal(split("a,\"say \"\"hi\"\"\",", NULL), 3);
    assert_field(1, "say \"hi\"");
    assert_int_equal(split("a, \"b\" ,c", NULL), 3);
    assert_field(1, "b");
    assert_int_equal(split("\"\",x", NULL), 2);
    assert_field(0, "");
}

static void test_errors(void **state)
{
    (void)state;
    const char *why;
    assert_int_equal(split("a,\"unterminated", &why), -1);
    assert_string_equal(why, "unterminated quoted field");
    assert_int_equal(split("a,\"b\"c", &why), -1);
    assert_string_equal(why, "text after a closing quote");
    assert_int_equal(split("a,b\"c", &why), -1);
    assert_string_equal(why, "quote inside an unquoted field");
    assert_int_equal(split("a,b,c,d", &why), -1);
    assert_string_equal(why, "too many fields");
    assert_int_equal(split("\"", &why), -1);
}

/* What csv_write_field writes, csv_split reads back unchanged. */
static void test_round_trip(void **state)
{
    (void)state;
    const char *values[] = {
        "plain", "with,comma", "with \"quotes\"", " lead", "trail ", "", "\"", ",,,"};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        char *buf = NULL;
        size_t sz = 0;
        FILE *m = open_memstream(&buf, &sz);
        assert_non_null(m);
        csv_write_field(m, values[i], strlen(values[i]));
        fputs(",x", m);
        fclose(m);
        const char *why;
        assert_int_equal(split(buf, &why), 2);
        assert_field(0, values[i]);
        assert_field(1, "x");
        free(buf);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_quoted),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests_name("csv", tests, NULL, NULL);
}
