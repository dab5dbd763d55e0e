/* spool: batches Redis could not take, kept on disk until the next start.
 *
 * A spool file is text, so an operator can read it:
 *
 *     hopcount-spool 3
 *     writer 3f9c0d1e22ab4c10-0
 *     batch 3f9c0d1e22ab4c10-0 17 4 (its writer, sequence number, entries)
 *     L 493210 12 1 4 spring24      (kind: L link, C campaign; UTC hour;
 *     C 493210 12 1 4 spring         human; bot; scan; name)
 *     U 493200 spring24 1a2b:3,7:1  (unique followers, U of a link, V of a
 *     V 493200 spring 1a2b:3,7:1     campaign: the day's first hour; name;
 *                                    HyperLogLog cells, register:rank)
 *     end 1 9a0b1c2d3e4f5a6b        (batches, then XXH3 of every byte before
 *                                    this line)
 *
 * Version 1 files (written before the scan class: no scan column) and
 * version 2 (before unique followers) are still read.
 *
 * It is written to a temporary name, fsync'd, renamed into place and the
 * directory fsync'd, so a file either is whole or does not exist. */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "code.h"
#include "hash.h"
#include "hll.h"
#include "log.h"
#include "util.h"

#define SPOOL_MAGIC_V1 "hopcount-spool 1\n"
#define SPOOL_MAGIC_V2 "hopcount-spool 2\n"
#define SPOOL_MAGIC "hopcount-spool 3\n"
#define SPOOL_SUFFIX ".spool"

struct spool_file {
    char *path;
    size_t left; /* batches still held by someone */
    bool keep;   /* one was let go undelivered: the file stays */
};

/* mkdir -p for dir; 0 or -1 with errno. */
static int make_dirs(const char *dir)
{
    char path[4096];
    if (util_strlcpy(path, dir, sizeof(path)) >= sizeof(path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0750) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(path, 0750) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

int spool_prepare(const char *dir)
{
    return make_dirs(dir);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* A unique entry's line: "U|V HOUR NAME REG:RANK,...". */
static void write_cells(FILE *m, const struct tally_entry *e)
{
    fprintf(m, "%c %" PRId64 " %s ", e->kind == TALLY_LINK_UNIQ ? 'U' : 'V', e->hour,
            e->name);
    const char *sep = "";
    for (uint32_t i = 0; i < e->cells.cap; i++) {
        hll_cell c = hll_set_slot(&e->cells, i);
        if (c == 0)
            continue;
        fprintf(m, "%s%x:%u", sep, hll_cell_register(c), hll_cell_rank(c));
        sep = ",";
    }
    fputc('\n', m);
}

/* The file's text for list: header, batches, and the checksum line. NULL
 * with a reason in err. */
static char *format_file(const char *writer, const struct batch *list, size_t *len,
                         char *err, size_t errsz)
{
    char *text = NULL;
    size_t nbatches = 0;
    FILE *m = open_memstream(&text, len);
    if (m == NULL) {
        snprintf(err, errsz, "open_memstream: %s", strerror(errno));
        return NULL;
    }
    fputs(SPOOL_MAGIC, m);
    fprintf(m, "writer %s\n", writer);
    for (const struct batch *b = list; b != NULL; b = b->next) {
        fprintf(m, "batch %s %" PRIu64 " %zu\n", b->writer, b->seq, b->n);
        for (size_t i = 0; i < b->n; i++) {
            const struct tally_entry *e = b->entries[i];
            if (tally_entry_uniq(e)) {
                write_cells(m, e);
                continue;
            }
            fprintf(m, "%c %" PRId64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %s\n",
                    e->kind == TALLY_LINK ? 'L' : 'C', e->hour, e->human, e->bot, e->scan,
                    e->name);
        }
        nbatches++;
    }
    fflush(m);
    uint64_t h = hash_bytes(text, *len);
    fprintf(m, "end %zu %016" PRIx64 "\n", nbatches, h);
    fclose(m);
    return text;
}

/* Write text as dir/NAME durably: to a temporary name, fsync'd, renamed
 * into place, the directory fsync'd; a file is whole or absent. 0, or -1
 * with a reason in err. */
static int write_durably(const char *dir, const char *name, const char *text, size_t len,
                         char *err, size_t errsz)
{
    char tmp[4200], final[4200];
    if (make_dirs(dir) != 0) {
        snprintf(err, errsz, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
    snprintf(final, sizeof(final), "%s/%s%s", dir, name, SPOOL_SUFFIX);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0) {
        snprintf(err, errsz, "cannot create %s: %s", tmp, strerror(errno));
        return -1;
    }
    if (write_all(fd, text, len) != 0 || fsync(fd) != 0) {
        snprintf(err, errsz, "cannot write %s: %s", tmp, strerror(errno));
        close(fd);
        goto unlink_tmp;
    }
    if (close(fd) != 0) {
        snprintf(err, errsz, "cannot close %s: %s", tmp, strerror(errno));
        goto unlink_tmp;
    }
    if (rename(tmp, final) != 0) {
        snprintf(err, errsz, "cannot rename %s: %s", tmp, strerror(errno));
        goto unlink_tmp;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        if (fsync(dfd) != 0)
            log_warn("event=spool_dir_fsync_failed dir=%s errno=%d", dir, errno);
        close(dfd);
    }
    return 0;
unlink_tmp:
    unlink(tmp);
    return -1;
}

int spool_write(const char *dir, const char *writer, const struct batch *list, char *err,
                size_t errsz)
{
    if (list == NULL)
        return 0;
    size_t len = 0;
    char *text = format_file(writer, list, &len, err, errsz);
    if (text == NULL)
        return -1;
    /* WRITER-MS: the milliseconds order the files for replay. */
    char name[128];
    snprintf(name, sizeof(name), "%s-%llu", writer, (unsigned long long)util_wall_ms());
    int rc = write_durably(dir, name, text, len, err, errsz);
    free(text);
    return rc;
}

/* Check the last line, "end BATCHES XXH3", against everything before it,
 * and the magic first line (its version in *version); cut the text before
 * the last line. The number of batches it names, or -1. */
static long check_envelope(char *text, size_t len, int *version)
{
    if (len < 2 || text[len - 1] != '\n')
        return -1;
    text[len - 1] = '\0';
    char *endline = strrchr(text, '\n');
    if (endline == NULL)
        return -1;
    endline++;
    size_t body = (size_t)(endline - text);
    size_t want_batches;
    uint64_t want_hash;
    char extra;
    if (sscanf(endline, "end %zu %" SCNx64 "%c", &want_batches, &want_hash, &extra) != 2 ||
        hash_bytes(text, body) != want_hash || want_batches > (size_t)LONG_MAX)
        return -1;
    text[body - 1] = '\0';
    if (strncmp(text, SPOOL_MAGIC, strlen(SPOOL_MAGIC)) == 0)
        *version = 3;
    else if (strncmp(text, SPOOL_MAGIC_V2, strlen(SPOOL_MAGIC_V2)) == 0)
        *version = 2;
    else if (strncmp(text, SPOOL_MAGIC_V1, strlen(SPOOL_MAGIC_V1)) == 0)
        *version = 1;
    else
        return -1;
    return (long)want_batches;
}

/* A unique entry's line (version 3), "U|V HOUR NAME REG:RANK,...", added
 * to b. 0 or -1. */
static int parse_cells(const char *line, struct batch *b)
{
    char name[CODE_MAX_LEN + 2], kind;
    int64_t hour;
    int at = 0;
    if (sscanf(line, "%c %" SCNd64 " %65s %n", &kind, &hour, name, &at) != 3 || at == 0)
        return -1;
    size_t nl = strlen(name);
    if (kind == 'U' ? !code_valid(name, nl) : !code_campaign_valid(name, nl))
        return -1;
    struct tally_entry *e = xcalloc(1, sizeof(*e));
    e->kind = kind == 'U' ? TALLY_LINK_UNIQ : TALLY_CAMPAIGN_UNIQ;
    e->hour = hour;
    e->len = (unsigned char)nl;
    memcpy(e->name, name, nl + 1);
    for (const char *p = line + at; *p != '\0';) {
        unsigned reg, rank;
        int used = 0;
        if (sscanf(p, "%4x:%2u%n", &reg, &rank, &used) != 2 ||
            !hll_cell_valid((hll_cell)(reg << 8 | rank)) ||
            (p[used] != ',' && p[used] != '\0') ||
            (p[used] == ',' && p[used + 1] == '\0')) {
            tally_entry_free(e);
            return -1;
        }
        hll_set_add(&e->cells, (hll_cell)(reg << 8 | rank));
        p += used + (p[used] == ',');
    }
    if (e->cells.n == 0) {
        tally_entry_free(e);
        return -1;
    }
    batch_add(b, e);
    return 0;
}

/* One entry line, "KIND HOUR HUMAN BOT SCAN NAME" (version 1: no SCAN),
 * or from version 3 a unique entry's, added to b. 0 or -1. */
static int parse_entry(const char *line, int version, struct batch *b)
{
    if (version >= 3 && (line[0] == 'U' || line[0] == 'V'))
        return parse_cells(line, b);
    char name[CODE_MAX_LEN + 2], kind, extra;
    uint64_t human, bot, scan = 0;
    int64_t hour;
    int got =
        version == 1
            ? sscanf(line, "%c %" SCNd64 " %" SCNu64 " %" SCNu64 " %65s%c", &kind, &hour,
                     &human, &bot, name, &extra)
            : sscanf(line, "%c %" SCNd64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %65s%c",
                     &kind, &hour, &human, &bot, &scan, name, &extra) -
                  1;
    if (got != 5 || (kind != 'L' && kind != 'C'))
        return -1;
    size_t nl = strlen(name);
    if (kind == 'L' ? !code_valid(name, nl) : !code_campaign_valid(name, nl))
        return -1;
    struct tally_entry *e = xcalloc(1, sizeof(*e));
    e->kind = kind == 'L' ? TALLY_LINK : TALLY_CAMPAIGN;
    e->hour = hour;
    e->human = human;
    e->bot = bot;
    e->scan = scan;
    e->len = (unsigned char)nl;
    memcpy(e->name, name, nl + 1);
    batch_add(b, e);
    return 0;
}

/* Parse one file's text; appends its batches to *arr. -1 on any defect. */
static int parse(char *text, size_t len, struct spool_file *f, struct batch ***arr,
                 size_t *n, size_t *cap)
{
    int version = 0;
    long want_batches = check_envelope(text, len, &version);
    if (want_batches < 0)
        return -1;
    long got = 0;
    struct batch *cur = NULL;
    size_t cur_left = 0;
    char *save = NULL;
    for (char *line = strtok_r(text + strlen(SPOOL_MAGIC), "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        char writer[BATCH_WRITER_MAX], extra;
        uint64_t seq;
        size_t nent;
        if (strncmp(line, "writer ", 7) == 0)
            continue;
        if (sscanf(line, "batch %63s %" SCNu64 " %zu%c", writer, &seq, &nent, &extra) ==
            3) {
            if (cur_left != 0 || nent == 0 || nent > 1000000)
                return -1;
            cur = batch_new(writer, seq, nent);
            cur->file = f;
            cur_left = nent;
            if (*n == *cap) {
                *cap = *cap ? *cap * 2 : 64;
                *arr = xrealloc(*arr, *cap * sizeof(**arr));
            }
            (*arr)[(*n)++] = cur;
            got++;
            continue;
        }
        if (cur == NULL || cur_left == 0 || parse_entry(line, version, cur) != 0)
            return -1;
        cur_left--;
    }
    if (cur_left != 0 || got != want_batches)
        return -1;
    f->left = (size_t)got;
    return 0;
}

static int by_writer_seq(const void *a, const void *b)
{
    const struct batch *x = *(struct batch *const *)a, *y = *(struct batch *const *)b;
    int c = strcmp(x->writer, y->writer);
    if (c != 0)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

struct spool_queue {
    char *dir;
    char **names; /* oldest first */
    size_t n, next;
};

/* The milliseconds a file name ends with ("WRITER-MS.spool"). */
static unsigned long long name_ms(const char *name)
{
    const char *dash = strrchr(name, '-');
    return dash != NULL ? strtoull(dash + 1, NULL, 10) : 0;
}

static int by_age(const void *a, const void *b)
{
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    unsigned long long mx = name_ms(x), my = name_ms(y);
    if (mx != my)
        return mx < my ? -1 : 1;
    return strcmp(x, y);
}

struct spool_queue *spool_queue_open(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL && errno != ENOENT)
        return NULL;
    struct spool_queue *q = xcalloc(1, sizeof(*q));
    q->dir = xstrdup(dir);
    size_t cap = 0;
    for (struct dirent *de; d != NULL && (de = readdir(d)) != NULL;) {
        size_t nl = strlen(de->d_name);
        size_t sl = strlen(SPOOL_SUFFIX);
        if (de->d_name[0] == '.' || nl <= sl ||
            strcmp(de->d_name + nl - sl, SPOOL_SUFFIX) != 0)
            continue;
        if (q->n == cap) {
            cap = cap ? cap * 2 : 16;
            q->names = xrealloc(q->names, cap * sizeof(*q->names));
        }
        q->names[q->n++] = xstrdup(de->d_name);
    }
    if (d != NULL)
        closedir(d);
    if (q->n > 1)
        qsort(q->names, q->n, sizeof(*q->names), by_age);
    return q;
}

size_t spool_queue_left(const struct spool_queue *q)
{
    return q->n - q->next;
}

void spool_queue_free(struct spool_queue *q)
{
    if (q == NULL)
        return;
    for (size_t i = 0; i < q->n; i++)
        free(q->names[i]);
    free(q->names);
    free(q->dir);
    free(q);
}

/* Read one file's batches into *arr; a bad file is set aside as .corrupt
 * (nothing of it is kept) and counted in *corrupt. */
static void read_one(const char *path, struct batch ***arr, size_t *n, size_t *cap,
                     int *corrupt)
{
    size_t len;
    char *text = util_read_file(path, &len);
    struct spool_file *f = xcalloc(1, sizeof(*f));
    f->path = xstrdup(path);
    size_t before = *n;
    if (text == NULL || parse(text, len, f, arr, n, cap) != 0) {
        /* Never half-applied: drop what was parsed, keep the file aside. */
        for (size_t i = before; i < *n; i++)
            batch_free((*arr)[i]);
        *n = before;
        char aside[4300];
        snprintf(aside, sizeof(aside), "%s.corrupt", path);
        if (rename(path, aside) != 0)
            log_error("event=spool_corrupt file=%s reason=\"cannot rename: %s\"", path,
                      strerror(errno));
        else
            log_error("event=spool_corrupt file=%s kept_as=%s reason=\"checksum or "
                      "format mismatch; nothing replayed from it\"",
                      path, aside);
        (*corrupt)++;
        free(f->path);
        free(f);
    } else if (f->left == 0) {
        unlink(path);
        free(f->path);
        free(f);
    }
    free(text);
}

long spool_queue_read(struct spool_queue *q, size_t max_keys, struct batch **out,
                      int *corrupt)
{
    struct batch **arr = NULL;
    size_t n = 0, cap = 0, keys = 0;

    *corrupt = 0;
    while (q->next < q->n && (n == 0 || keys < max_keys)) {
        char path[4200];
        snprintf(path, sizeof(path), "%s/%s", q->dir, q->names[q->next++]);
        size_t before = n;
        read_one(path, &arr, &n, &cap, corrupt);
        for (size_t i = before; i < n; i++)
            keys += arr[i]->n;
    }
    /* Oldest files first keeps each writer's batches in order across reads:
     * a writer's unconfirmed batches are all in the first file that holds
     * any of them (later ones hold only repeats, answered "applied"). */
    if (n > 1)
        qsort(arr, n, sizeof(*arr), by_writer_seq);
    struct batch **tail = out;
    while (*tail != NULL)
        tail = &(*tail)->next;
    for (size_t i = 0; i < n; i++) {
        arr[i]->next = NULL;
        *tail = arr[i];
        tail = &arr[i]->next;
    }
    free(arr);
    return (long)n;
}

static void file_drop(struct spool_file *f)
{
    if (--f->left > 0)
        return;
    if (f->keep)
        ;
    else if (unlink(f->path) != 0 && errno != ENOENT)
        log_error("event=spool_unlink_failed file=%s errno=%d", f->path, errno);
    else
        log_info("event=spool_replayed file=%s", f->path);
    free(f->path);
    free(f);
}

void spool_file_done(struct spool_file *f)
{
    if (f != NULL && f->left > 0)
        file_drop(f);
}

void spool_file_split(struct spool_file *f, size_t more)
{
    if (f != NULL)
        f->left += more;
}

void spool_file_release(struct spool_file *f)
{
    if (f != NULL && f->left > 0) {
        f->keep = true;
        file_drop(f);
    }
}

uint64_t spool_follows(const struct batch *list)
{
    uint64_t n = 0;
    for (; list != NULL; list = list->next)
        n += list->follows;
    return n;
}
