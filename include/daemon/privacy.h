/* privacy: opt-out (DNT, GPC), prefetch and bot classification of a request
 * from its headers. Pure, apart from loading the bots file. User-agent bytes
 * are matched and forgotten: nothing here keeps them. */
#ifndef HOPCOUNT_PRIVACY_H
#define HOPCOUNT_PRIVACY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The request headers the classifier reads; everything else is skipped. */
enum privacy_header {
    PRIVACY_H_OTHER = 0,   /* not interesting */
    PRIVACY_H_DNT,         /* DNT */
    PRIVACY_H_SEC_GPC,     /* Sec-GPC */
    PRIVACY_H_SEC_PURPOSE, /* Sec-Purpose */
    PRIVACY_H_PURPOSE,     /* Purpose */
    PRIVACY_H_X_MOZ,       /* X-Moz */
    PRIVACY_H_X_PURPOSE,   /* X-Purpose */
    PRIVACY_H_USER_AGENT,  /* User-Agent */
};

/* Flags of one request. */
#define PRIVACY_DNT 0x1u      /* DNT: 1 */
#define PRIVACY_GPC 0x2u      /* Sec-GPC: 1 */
#define PRIVACY_PREFETCH 0x4u /* a prefetch or preview fetch */
#define PRIVACY_BOT_UA 0x8u   /* user agent matches the bots list */
#define PRIVACY_SCAN_UA 0x10u /* user agent matches a scan: pattern of the bots list */
#define PRIVACY_SCAN_NET 0x20u /* the client is in a scanner network (http.c) */

struct privacy_bots;

/* The bytes of a header value looked at (http.c keeps no more): a longer
 * user agent is judged on its first PRIVACY_VALUE_MAX bytes. */
#define PRIVACY_VALUE_MAX 1024

/* Which header name[0..len) is (case-insensitive). */
enum privacy_header privacy_header_kind(const char *name, size_t len);

/* The flags that header h with value v[0..len) sets; the user agent is tested
 * against bots (which may be NULL: no bot patterns). */
unsigned privacy_header_flags(enum privacy_header h, const char *v, size_t len,
                              struct privacy_bots *bots);

/* True when the request must not be recorded under these settings. */
bool privacy_opted_out(unsigned flags, bool honour_dnt, bool honour_gpc);

/* A bots list from text: one case-insensitive substring pattern per line,
 * '#' starts a comment, blank lines ignored; a line "scan: PATTERN" names a
 * mail-security scanner (counted as scan, not bot). Never NULL; the caller owns it.
 * Lines longer than 200 bytes are refused: returns NULL with *bad_line set. */
struct privacy_bots *privacy_bots_parse(const char *text, size_t len, int *bad_line);

/* Load the bots file at path; NULL with a reason in err on failure. */
struct privacy_bots *privacy_bots_load(const char *path, char *err, size_t errsz);
void privacy_bots_free(struct privacy_bots *b);

/* PRIVACY_BOT_UA or PRIVACY_SCAN_UA when ua[0..len) (its first
 * PRIVACY_VALUE_MAX bytes) contains one of the patterns (the first that
 * matches, in file order, decides), else 0. Remembers the answer
 * under a 64-bit hash of the user agent (never the agent itself), so a bots
 * list belongs to one thread. */
unsigned privacy_bots_match(struct privacy_bots *b, const char *ua, size_t len);

#endif
