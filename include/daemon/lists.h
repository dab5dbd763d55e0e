/* lists: the files and conf lists a request is classified with — the bots
 * list, the scanner networks, the trusted proxies — loaded together, so a
 * reload swaps them as one. Each worker has its own copy (the bots list
 * keeps a per-thread memo); nothing in it holds a client's address. */
#ifndef HOPCOUNT_LISTS_H
#define HOPCOUNT_LISTS_H

#include <stdio.h>

struct conf;
struct privacy_bots;
struct cidr_set;

struct lists {
    struct privacy_bots *bots; /* bots_file, or NULL */
    struct cidr_set *scanners; /* scanners_file, or NULL */
    struct cidr_set *trusted;  /* trusted_proxies, or NULL */
};

/* Load what conf names. Every error is written to err, one per line, with
 * where it is ("FILE:LINE: reason", or the conf key's place); NULL on any. */
struct lists *lists_load(const struct conf *conf, FILE *err);

/* lists_free(NULL) does nothing. */
void lists_free(struct lists *l);

#endif
