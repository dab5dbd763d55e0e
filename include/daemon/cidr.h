/* cidr: a set of IPv4 and IPv6 networks (CIDR notation), matched against a
 * client address on the request path in O(log n), without allocation. For
 * the scanner networks and trusted proxies of issue 13: the address is
 * looked up and forgotten, never stored. */
#ifndef HOPCOUNT_CIDR_H
#define HOPCOUNT_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct sockaddr;
struct cidr_set;

/* Parse text (one network per line: "192.0.2.0/24", "2001:db8::/32", a bare
 * address for one host; "#" starts a comment; blank lines allowed), named
 * `name` in messages. Every error is written to err as "NAME:LINE: reason",
 * all in one pass; NULL on any. The caller frees the result. */
struct cidr_set *cidr_set_parse(const char *text, size_t len, const char *name,
                                FILE *err);

/* The same from the file at path ("PATH: cannot open: ..." when it cannot
 * be read). */
struct cidr_set *cidr_set_load(const char *path, FILE *err);

void cidr_set_free(struct cidr_set *s);

/* Disjoint ranges after overlapping and adjacent networks were merged. */
size_t cidr_set_ranges(const struct cidr_set *s);

/* Whether the address (AF_INET, or AF_INET6 — an IPv4-mapped ::ffff:a.b.c.d
 * matches the IPv4 networks) is in the set. false for other families and
 * for NULL s. */
bool cidr_set_contains(const struct cidr_set *s, const struct sockaddr *sa);

#endif
