/* cidr: a set of IPv4 and IPv6 networks (CIDR notation), matched against a
 * client address on the request path in O(log n), without allocation: the
 * scanner networks and trusted proxies. The address is looked up and
 * forgotten, never stored. Shared: conf checks trusted_proxies with it. */
#ifndef HOPCOUNT_CIDR_H
#define HOPCOUNT_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct sockaddr;
struct cidr_set;

/* One client address as 16 bytes (IPv4 as ::ffff:a.b.c.d), held in memory
 * for the life of a request and never written anywhere. */
struct cidr_addr {
    unsigned char b[16];
};

/* From 4 IPv4 bytes, as ::ffff:a.b.c.d. */
void cidr_addr_from_v4(struct cidr_addr *out, const unsigned char v4[4]);

/* From a socket address (AF_INET or AF_INET6); false for another family. */
bool cidr_addr_from_sockaddr(struct cidr_addr *out, const struct sockaddr *sa);

/* From text s[0..len): an IPv4 or IPv6 address, no port, no brackets. */
bool cidr_addr_parse(struct cidr_addr *out, const char *s, size_t len);

/* Parse text (one network per line: "192.0.2.0/24", "2001:db8::/32", a bare
 * address for one host; "#" starts a comment; blank lines allowed), named
 * `name` in messages. Every error is written to err as "NAME:LINE: reason",
 * all in one pass; NULL on any. The caller frees the result. */
struct cidr_set *cidr_set_parse(const char *text, size_t len, const char *name,
                                FILE *err);

/* Why network s ("192.0.2.0/24", "2001:db8::/32", an address) is not
 * one, or NULL when it is. */
const char *cidr_net_check(const char *s);

/* From a conf list: networks separated by commas (checked with
 * cidr_net_check). */
struct cidr_set *cidr_set_parse_list(const char *list, const char *name, FILE *err);

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

/* The same for an address already in 16-byte form. */
bool cidr_set_has(const struct cidr_set *s, const struct cidr_addr *a);

#endif
