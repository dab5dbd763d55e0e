/* wrapcodes: a code for each distinct target of a mail, per campaign: the
 * link the campaign already has for it (so that wrapping again reuses it),
 * or a new one drawn and created through the same script as hopctl add,
 * pipelined. */
#ifndef HOPCOUNT_WRAPCODES_H
#define HOPCOUNT_WRAPCODES_H

#include <stdbool.h>
#include <stddef.h>

#include "code.h"
#include "store.h"

enum wrap_codes { WRAP_CODES_RANDOM, WRAP_CODES_SLUG };

/* A distinct target of the mail. */
struct wrap_target {
    char *url;
    bool notrack;
    long count; /* links in the mail to it */
    long line;  /* its first */
    char code[CODE_MAX_LEN + 1];
    bool existed; /* the campaign had the link already */
};

/* Give each of t[0..n) a code: an existing link of campaign (NULL: of no
 * campaign) with the same target and tracking, else a fresh one (how:
 * random codes of len characters, or slugs of the target) created now, or
 * with dry only drawn (Redis is read, never written). 0, or -1 with err. */
int wrap_codes(struct store *st, const char *campaign, struct wrap_target *t, size_t n,
               enum wrap_codes how, size_t len, bool dry, char *err, size_t errsz);

/* A readable code for url into out (at least 25 bytes): the last path
 * segment without its extension, else the host's first label (not www),
 * lower case, runs of other bytes as one '-', at most 24 characters. */
void wrap_slug(const char *url, char *out);

#endif
