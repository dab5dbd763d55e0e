/* realip: the client's address behind trusted proxies, from X-Forwarded-For
 * (like nginx's realip module with real_ip_recursive on). Used to classify
 * a request, then forgotten: never stored, logged, counted or sent. */
#ifndef HOPCOUNT_REALIP_H
#define HOPCOUNT_REALIP_H

#include <stdbool.h>
#include <stddef.h>

#include "cidr.h"

/* *addr is the peer that sent the header and is in trusted. Walk the
 * X-Forwarded-For value v[0..len) (the values of every such header joined
 * by ",") from the right, past the hops in trusted, and set *addr to the
 * rightmost one that is not (or the leftmost, when all are). An entry that
 * is not an address (IPv4, IPv6, either with a port, IPv6 in brackets)
 * stops the walk: *addr stays the last address believed. */
void realip_from_xff(const char *v, size_t len, const struct cidr_set *trusted,
                     struct cidr_addr *addr);

#endif
