/* Unit tests for spool: round trip, order of replay, corrupt files kept
 * aside and never half-applied, files removed once delivered. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "hash.h"
#include "spool.h"

static struct tally_entry *entry(enum tally_kind k, const char *name, int64_t hour,
                                 uint64_t human, uint64_t bot)
{
    struct tally_entry *e = calloc(1, sizeof(*e));
    e->kind = (unsigned char)k;
    e->len = (unsigned char)strlen(name);
    memcpy(e->name, name, e->len + 1);
    e->hour = hour;
    e->human = human;
    e->bot = bot;
    return e;
}

static int count_files(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name), s = strlen(suffix);
        if (l > s && strcmp(de->d_name + l - s, suffix) == 0)
            n++;
    }
    if (d)
        closedir(d);
    return n;
}

static void free_list(struct batch *b)
{
    while (b) {
        struct batch *next = b->next;
        batch_free(b);
        b = next;
    }
}

/* Let undelivered batches go: their files stay. */
static void release_list(struct batch *b)
{
    for (struct batch *x = b; x != NULL; x = x->next)
        spool_file_release(x->file);
    free_list(b);
}

static int setup(void **state)
{
    char *dir = strdup("/tmp/hopcount-spool-XXXXXX");
    *state = mkdtemp(dir);
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", (char *)*state);
    int rc = system(cmd);
    free(*state);
    return rc == 0 ? 0 : -1;
}

/* dir/name holding body and the checksum line a writer adds. */
static void write_spool_text(const char *dir, const char *name, const char *body)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "%send 1 %016llx\n", body,
            (unsigned long long)hash_bytes(body, strlen(body)));
    fclose(f);
}

/* Every file of dir, in one read. */
static long load_all(const char *dir, struct batch **list, int *corrupt)
{
    struct spool_queue *q = spool_queue_open(dir);
    assert_non_null(q);
    long n = spool_queue_read(q, SIZE_MAX, list, corrupt);
    assert_int_equal(spool_queue_left(q), 0);
    spool_queue_free(q);
    return n;
}

static void test_round_trip_in_order(void **state)
{
    const char *dir = *state;
    char err[256];
    /* Written out of order, in two files: replay sorts by writer, then seq. */
    struct batch *b2 = batch_new("w1-0", 2, 2);
    batch_add(b2, entry(TALLY_LINK, "spring24", 493210, 12, 1));
    batch_add(b2, entry(TALLY_CAMPAIGN, "spring.24", 493210, 12, 1));
    struct batch *b1 = batch_new("w1-0", 1, 1);
    struct tally_entry *solo = entry(TALLY_LINK, "solo", 493209, 0, 3);
    solo->scan = 5;
    batch_add(b1, solo);
    assert_int_equal(spool_write(dir, "w1-0", b2, err, sizeof(err)), 0);
    usleep(2000); /* distinct file names */
    assert_int_equal(spool_write(dir, "w1-0", b1, err, sizeof(err)), 0);
    batch_free(b1);
    batch_free(b2);
    assert_int_equal(count_files(dir, ".spool"), 2);
    assert_int_equal(count_files(dir, ".tmp"), 0);

    struct batch *list = NULL;
    int corrupt = -1;
    assert_int_equal(load_all(dir, &list, &corrupt), 2);
    assert_int_equal(corrupt, 0);
    assert_int_equal(list->seq, 1);
    assert_string_equal(list->writer, "w1-0");
    assert_int_equal(list->n, 1);
    assert_string_equal(list->entries[0]->name, "solo");
    assert_int_equal(list->entries[0]->bot, 3);
    assert_int_equal(list->entries[0]->scan, 5);
    assert_int_equal(list->entries[0]->hour, 493209);
    struct batch *second = list->next;
    assert_int_equal(second->seq, 2);
    assert_int_equal(second->n, 2);
    assert_int_equal(second->entries[1]->kind, TALLY_CAMPAIGN);
    assert_string_equal(second->entries[1]->name, "spring.24");
    assert_int_equal(second->entries[0]->human, 12);
    assert_int_equal(spool_follows(list), 8 + 13); /* campaign keys repeat them */
    assert_null(second->next);

    /* Delivered one by one: each file goes when its batches are done. */
    spool_file_done(list->file);
    assert_int_equal(count_files(dir, ".spool"), 1);
    spool_file_done(second->file);
    assert_int_equal(count_files(dir, ".spool"), 0);
    free_list(list);
}

static void test_released_file_stays(void **state)
{
    const char *dir = *state;
    char err[256];
    struct batch *b = batch_new("w2-1", 7, 1);
    batch_add(b, entry(TALLY_LINK, "x", 1, 1, 0));
    assert_int_equal(spool_write(dir, "w2-1", b, err, sizeof(err)), 0);
    batch_free(b);
    struct batch *list = NULL;
    int corrupt;
    assert_int_equal(load_all(dir, &list, &corrupt), 1);
    spool_file_release(list->file); /* not delivered: the file must stay */
    assert_int_equal(count_files(dir, ".spool"), 1);
    free_list(list);
}

/* Every kind of damage: the file is kept aside and nothing of it is read. */
static void test_corrupt_files_kept_aside(void **state)
{
    const char *dir = *state;
    char err[256], path[512];
    struct batch *b = batch_new("w3-0", 1, 2);
    batch_add(b, entry(TALLY_LINK, "aaa", 5, 4, 0));
    batch_add(b, entry(TALLY_LINK, "bbb", 5, 4, 0));
    assert_int_equal(spool_write(dir, "w3-0", b, err, sizeof(err)), 0);
    batch_free(b);

    DIR *d = opendir(dir);
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strstr(de->d_name, ".spool"))
            snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
    closedir(d);
    /* Flip one digit of a count: the checksum no longer matches. */
    FILE *f = fopen(path, "r+");
    char text[1024];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = '\0';
    char *p = strstr(text, "L 5 4 0 0 bbb");
    assert_non_null(p);
    p[4] = '9';
    rewind(f);
    fwrite(text, 1, n, f);
    fclose(f);

    struct batch *list = NULL;
    int corrupt = 0;
    assert_int_equal(load_all(dir, &list, &corrupt), 0);
    assert_null(list);
    assert_int_equal(corrupt, 1);
    assert_int_equal(count_files(dir, ".spool"), 0);
    assert_int_equal(count_files(dir, ".corrupt"), 1);

    /* A truncated file (a crash mid-write cannot leave one, a disk can). */
    snprintf(path, sizeof(path), "%s/trunc.spool", dir);
    f = fopen(path, "w");
    fputs("hopcount-spool 1\nwriter w\nbatch w 1 2\nL 1 1 0 a\n", f);
    fclose(f);
    assert_int_equal(load_all(dir, &list, &corrupt), 0);
    assert_int_equal(corrupt, 1);
    assert_int_equal(count_files(dir, ".corrupt"), 2);
}

/* A spool file written before the scan class (version 1: no scan column)
 * is still replayed, its follows whole. */
/* Unique followers' cells go out and come back whole, beside counters. */
static void test_cells_round_trip(void **state)
{
    const char *dir = *state;
    char err[256];
    struct batch *b = batch_new("w2-0", 1, 3);
    batch_add(b, entry(TALLY_LINK, "spring24", 493210, 3, 0));
    struct tally_entry *u = entry(TALLY_LINK_UNIQ, "spring24", 493200, 0, 0);
    for (unsigned reg = 0; reg < 300; reg++)
        hll_set_add(&u->cells,
                    (hll_cell)((reg * 53 % HLL_REGISTERS) << 8 | (1 + reg % 51)));
    batch_add(b, u);
    struct tally_entry *v = entry(TALLY_CAMPAIGN_UNIQ, "spring.24", 493200, 0, 0);
    hll_set_add(&v->cells, (HLL_REGISTERS - 1) << 8 | 51);
    batch_add(b, v);
    assert_int_equal(spool_write(dir, "w2-0", b, err, sizeof(err)), 0);

    struct batch *list = NULL;
    int corrupt = -1;
    assert_int_equal(load_all(dir, &list, &corrupt), 1);
    assert_int_equal(corrupt, 0);
    assert_int_equal(list->n, 3);
    assert_int_equal(spool_follows(list), 3);
    for (int i = 1; i < 3; i++) {
        const struct tally_entry *in = b->entries[i], *out = list->entries[i];
        assert_int_equal(out->kind, in->kind);
        assert_int_equal(out->hour, in->hour);
        assert_string_equal(out->name, in->name);
        assert_int_equal(out->cells.n, in->cells.n);
        for (uint32_t j = 0; j < in->cells.cap; j++) /* each cell, at its rank */
            if (hll_set_slot(&in->cells, j) != 0) {
                struct hll_set copy = {0};
                for (uint32_t k = 0; k < out->cells.cap; k++)
                    if (hll_set_slot(&out->cells, k) != 0)
                        hll_set_add(&copy, hll_set_slot(&out->cells, k));
                assert_int_equal(hll_set_add(&copy, hll_set_slot(&in->cells, j)), 0);
                assert_int_equal(copy.n, in->cells.n);
                hll_set_free(&copy);
            }
    }
    assert_int_equal(list->room, 3 + 300 / TALLY_CELLS_PER_KEY);
    spool_file_done(list->file);
    free_list(list);
    batch_free(b);
}

/* A cell line that is not whole or not a cell makes the file corrupt. */
static void test_bad_cells_corrupt(void **state)
{
    const char *dir = *state;
    const char *bad[] = {"U 24 c1 4000:1", "U 24 c1 7:0", "U 24 c1 7:52", "U 24 c1 7:1,",
                         "U 24 c1 ",       "U 24 c1 7-1", "V 24 c:1 7:1", "U 24 c1 7:1 x",
                         "U 24 c1 ,7:1",   "U x c1 7:1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        char name[64], body[256];
        snprintf(body, sizeof(body),
                 "hopcount-spool 3\nwriter w9-0\nbatch w9-0 4 1\n%s\n", bad[i]);
        snprintf(name, sizeof(name), "w9-0-%zu.spool", i + 1);
        write_spool_text(dir, name, body);
        struct batch *list = NULL;
        int corrupt = -1;
        assert_int_equal(load_all(dir, &list, &corrupt), 0);
        if (corrupt != 1)
            fail_msg("not refused: \"%s\"", bad[i]);
        assert_null(list);
    }
}

static void test_reads_version_1(void **state)
{
    const char *dir = *state;
    const char *body = "hopcount-spool 1\nwriter w9-0\nbatch w9-0 4 2\n"
                       "L 493210 7 2 old\nC 493210 7 2 camp\n";
    write_spool_text(dir, "w9-0-1.spool", body);
    struct batch *list = NULL;
    int corrupt = -1;
    assert_int_equal(load_all(dir, &list, &corrupt), 1);
    assert_int_equal(corrupt, 0);
    assert_int_equal(list->seq, 4);
    assert_string_equal(list->entries[0]->name, "old");
    assert_int_equal(list->entries[0]->human, 7);
    assert_int_equal(list->entries[0]->bot, 2);
    assert_int_equal(list->entries[0]->scan, 0);
    assert_int_equal(list->entries[1]->kind, TALLY_CAMPAIGN);
    spool_file_done(list->file);
    free_list(list);
}

static void test_missing_dir_is_empty(void **state)
{
    (void)state;
    struct batch *list = NULL;
    int corrupt = 0;
    assert_int_equal(load_all("/nonexistent/hopcount-spool", &list, &corrupt), 0);
    assert_null(list);
}

/* Review item 5: replay loaded every file at once, however many there
 * were. Read a bounded part at a time, oldest file first. */
static void test_bounded_reads_oldest_first(void **state)
{
    const char *dir = *state;
    char err[256];
    for (int i = 0; i < 3; i++) { /* three files of 4 keys, writers w0 w1 w2 */
        char writer[16], name[16];
        snprintf(writer, sizeof(writer), "w%d", 2 - i); /* names sort the other way */
        struct batch *b = batch_new(writer, 1, 4);
        for (int k = 0; k < 4; k++) {
            snprintf(name, sizeof(name), "k%d", k);
            batch_add(b, entry(TALLY_LINK, name, 1, 1, 0));
        }
        assert_int_equal(spool_write(dir, writer, b, err, sizeof(err)), 0);
        batch_free(b);
        usleep(2000); /* distinct, ordered file times */
    }
    struct spool_queue *q = spool_queue_open(dir);
    assert_non_null(q);
    assert_int_equal(spool_queue_left(q), 3);
    const char *want[] = {"w2", "w1", "w0"};
    for (int i = 0; i < 3; i++) {
        struct batch *list = NULL;
        int corrupt = -1;
        assert_int_equal(spool_queue_read(q, 3, &list, &corrupt), 1); /* one file */
        assert_int_equal(corrupt, 0);
        assert_string_equal(list->writer, want[i]);
        assert_int_equal(spool_queue_left(q), 2 - i);
        release_list(list);
    }
    /* A bound of 5 keys takes two files of 4. */
    spool_queue_free(q);
    q = spool_queue_open(dir);
    struct batch *list = NULL;
    int corrupt;
    assert_int_equal(spool_queue_read(q, 5, &list, &corrupt), 2);
    assert_int_equal(spool_queue_left(q), 1);
    release_list(list);
    spool_queue_free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_released_file_stays, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_files_kept_aside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reads_version_1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cells_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_cells_corrupt, setup, teardown),
        cmocka_unit_test(test_missing_dir_is_empty),
        cmocka_unit_test_setup_teardown(test_bounded_reads_oldest_first, setup, teardown),
    };
    return cmocka_run_group_tests_name("spool", tests, NULL, NULL);
}
