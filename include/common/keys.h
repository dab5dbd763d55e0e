/* keys: the one place that spells Redis key and field names (SPEC §4). */
#ifndef HOPCOUNT_KEYS_H
#define HOPCOUNT_KEYS_H

#include <stddef.h>
#include <stdint.h>

#define KEYS_FIELD_URL "url"
#define KEYS_FIELD_CAMPAIGN "campaign"
#define KEYS_FIELD_CREATED "created"
#define KEYS_FIELD_NOTRACK "notrack" /* "1": redirected, never counted */
#define KEYS_FIELD_TOTAL "total"
#define KEYS_FIELD_BOT "bot"
#define KEYS_FIELD_SCAN "scan"

/* Room for any key: a 32-byte prefix, the longest suffix and a 64-byte name. */
#define KEYS_MAX 128
/* Room for any counter field. */
#define KEYS_FIELD_MAX 24

/* Each writes a NUL-terminated key into buf (KEYS_MAX bytes) and returns its
 * length, or -1 when it would not fit. name[0..len) is not validated here. */
int keys_link(char *buf, const char *prefix, const char *code, size_t len);
int keys_clicks(char *buf, const char *prefix, const char *code, size_t len);
int keys_campaign_clicks(char *buf, const char *prefix, const char *name, size_t len);
int keys_campaign_links(char *buf, const char *prefix, const char *name, size_t len);
int keys_events(char *buf, const char *prefix);
/* P:campaigns: the set of campaign names, for listing them (hopctl adds a
 * link's campaign; hopctl prune adds every campaign with counters). */
int keys_campaigns(char *buf, const char *prefix);
/* P:prune:done: where the last completed hopctl prune pass cut, so the
 * next one removes only what left the windows since (docs/redis-schema.md). */
int keys_prune_state(char *buf, const char *prefix);
/* Unique followers (uniques = on), per UTC day: the HyperLogLogs
 * P:uniq:CODE:YYYY-MM-DD and P:campaign:NAME:uniq:YYYY-MM-DD, and the
 * day's random hash key P:uniqkey:YYYY-MM-DD (gone just after the day).
 * date is the day's keys_date; hour is any hour of the day. */
int keys_uniq(char *buf, const char *prefix, const char *code, size_t len,
              const char *date);
int keys_campaign_uniq(char *buf, const char *prefix, const char *name, size_t len,
                       const char *date);
int keys_uniq_key(char *buf, const char *prefix, int64_t hour);
/* The UTC day (days since the epoch) a unique followers' key of prefix
 * names (P:uniq:CODE:DATE, P:campaign:NAME:uniq:DATE), or -1 for any other
 * key. */
int64_t keys_uniq_day(const char *key, size_t len, const char *prefix);
/* The UTC date of hour, "YYYY-MM-DD", into buf (KEYS_DATE_MAX bytes). */
#define KEYS_DATE_MAX 16
int keys_date(char *buf, int64_t hour);

/* P:flush:WRITER: the last batch sequence applied for a writer. */
int keys_flush_marker(char *buf, const char *prefix, const char *writer);
/* P:flush:{TAG}:WRITER: the same, in the slot TAG hashes to (mode cluster:
 * a batch's marker lives in its counters' slot). */
#define KEYS_TAGGED_MAX 96
int keys_flush_marker_tagged(char *buf, const char *prefix, const char *tag,
                             const char *writer);

/* A writer id: 8 hex digits of its start (Unix seconds), 16 random hex
 * digits, "-" and the worker number ("692b5e1f3f9c0d1e22ab4c10-0"); a spill
 * adds "-sN", a cluster slot ".sSLOT". */
#define KEYS_WRITER_DATED 24 /* hex digits before the "-" */

/* Whether key[0..len) is a flush marker of prefix (P:flush:WRITER...,
 * P:flush:{TAG}:WRITER...): 1 with its writer's start in *start_s, 0 for a
 * marker whose writer id carries no start (written before ids did), -1 for
 * another key. */
int keys_marker_start(const char *key, size_t len, const char *prefix, int64_t *start_s);

/* Counter fields for the UTC hour `hour` (hours since the epoch), written into
 * buf (KEYS_FIELD_MAX bytes): "d:YYYY-MM-DD", "h:YYYY-MM-DDTHH",
 * and a class's day, "CLS:d:YYYY-MM-DD" (cls KEYS_FIELD_BOT or
 * KEYS_FIELD_SCAN). Return the length. */
int keys_field_day(char *buf, int64_t hour);
int keys_field_hour(char *buf, int64_t hour);
int keys_field_class_day(char *buf, const char *cls, int64_t hour);

#endif
