/* access: per-request access lines, or per-minute counts.
 *
 * In minute mode each worker thread keeps a small open-addressing table of
 * (code, status, outcome) -> count for the current UTC minute (thread-local:
 * no locks on the request path). When the minute turns, or at the thread's
 * end, every row is written as one line and the table emptied. Past
 * ACCESS_ROWS - ACCESS_OTHERS codes in a minute, answers of new codes are
 * counted under code "*" (with their status and outcome). */
#include "access.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "code.h"
#include "conf.h"
#include "hash.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

#define ACCESS_ROWS 4096  /* a power of two */
#define ACCESS_OTHERS 256 /* rows kept for code "*": > statuses x outcomes */
_Static_assert(ACCESS_OTHERS > METRICS_NSTATUS * METRICS_NOUTCOME,
               "every status and outcome pair must find a row for code *");

struct access_row {
    uint64_t count; /* 0: empty */
    uint64_t hash;
    int status;
    const char *outcome; /* a metrics_outcome_name(): static */
    unsigned char len;
    char code[CODE_MAX_LEN + 1];
};

struct access_table {
    int64_t minute; /* minutes since the epoch; -1 when empty */
    size_t used;
    struct access_row rows[ACCESS_ROWS];
};

static _Thread_local struct access_table *table;

static void write_minute(struct access_table *t)
{
    time_t secs = (time_t)(t->minute * 60);
    struct tm tm;
    char when[32];
    gmtime_r(&secs, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%MZ", &tm);
    for (size_t i = 0; i < ACCESS_ROWS; i++) {
        struct access_row *r = &t->rows[i];
        if (r->count == 0)
            continue;
        log_info("event=access_minute minute=%s code=%s status=%d outcome=%s count=%llu",
                 when, r->code, r->status, r->outcome, (unsigned long long)r->count);
        r->count = 0;
    }
    t->used = 0;
    t->minute = -1;
}

/* The row of (code, status, outcome): found, or made. Once the table is
 * down to its last ACCESS_OTHERS free rows, a new code goes to the row of
 * code "*" with its status and outcome instead; those rows always fit, as
 * there are fewer status and outcome pairs than ACCESS_OTHERS. */
static struct access_row *row_for(struct access_table *t, const char *code, size_t len,
                                  int status, const char *outcome)
{
    bool others = len == 1 && code[0] == '*';
    uint64_t h =
        hash_bytes(code, len) ^ ((uint64_t)status << 48) ^ (uint64_t)(uintptr_t)outcome;
    size_t i = h & (ACCESS_ROWS - 1);
    for (;; i = (i + 1) & (ACCESS_ROWS - 1)) { /* never full: see above */
        struct access_row *r = &t->rows[i];
        if (r->count == 0)
            break;
        if (r->hash == h && r->status == status && r->outcome == outcome &&
            r->len == len && memcmp(r->code, code, len) == 0)
            return r;
    }
    if (!others && t->used >= ACCESS_ROWS - ACCESS_OTHERS)
        return row_for(t, "*", 1, status, outcome);
    struct access_row *r = &t->rows[i];
    r->hash = h;
    r->status = status;
    r->outcome = outcome;
    r->len = (unsigned char)len;
    memcpy(r->code, code, len);
    r->code[len] = '\0';
    t->used++;
    return r;
}

void access_record(int mode, const char *method, const char *code, size_t code_len,
                   int status, const char *outcome, unsigned long long duration_us)
{
    if (mode == CONF_ACCESS_ON) {
        log_info("event=access method=%s code=%.*s status=%d outcome=%s duration_us=%llu",
                 method, code ? (int)code_len : 1, code ? code : "-", status, outcome,
                 duration_us);
        return;
    }
    if (mode != CONF_ACCESS_MINUTE)
        return;
    if (table == NULL) {
        table = xcalloc(1, sizeof(*table));
        table->minute = -1;
    }
    int64_t minute = (int64_t)(util_wall_ms() / 60000);
    if (table->minute != minute && table->used > 0)
        write_minute(table);
    table->minute = minute;
    row_for(table, code ? code : "-", code ? code_len : 1, status, outcome)->count++;
}

void access_tick(uint64_t wall_ms, bool final)
{
    if (table == NULL)
        return;
    if (table->used > 0 && (final || table->minute != (int64_t)(wall_ms / 60000)))
        write_minute(table);
    if (final) {
        free(table);
        table = NULL;
    }
}
