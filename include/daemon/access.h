/* access: the access log, as log.access_log asks: off; on, a line per
 * request; minute, per worker and UTC minute a line per code, status and
 * outcome with its count, so that no line stands for one request. Never an
 * address, agent, referrer or query string. */
#ifndef HOPCOUNT_ACCESS_H
#define HOPCOUNT_ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Record one answer: method, code (NULL: "-", an opted-out or rejected
 * request), status, outcome and duration, in mode (enum conf_access). In
 * minute mode it is added to this thread's table for the current minute. */
void access_record(int mode, const char *method, const char *code, size_t code_len,
                   int status, const char *outcome, unsigned long long duration_us);

/* Write this thread's summary of every minute before the one of wall_ms (all
 * of it when final: the thread is ending). Call it once a second. */
void access_tick(uint64_t wall_ms, bool final);

#endif
