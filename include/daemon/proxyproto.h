/* proxyproto: the PROXY protocol header (HAProxy's, versions 1 and 2) a
 * load balancer sends before the request, giving the client's address. The
 * address is used to classify the request and forgotten (issue 13). */
#ifndef HOPCOUNT_PROXYPROTO_H
#define HOPCOUNT_PROXYPROTO_H

#include <stdbool.h>
#include <stddef.h>

#include "cidr.h"

/* The longest header accepted: a version 1 line is at most 107 bytes; a
 * version 2 header with TLVs beyond this is refused. */
#define PROXYPROTO_MAX 536

/* Parse the header at the start of buf[0..len). Returns its length (> 0)
 * with *has_src true and *src the source address of a proxied TCP
 * connection (false for PROXY UNKNOWN and version 2 LOCAL, a health check
 * that speaks for itself); 0 when more bytes are needed; -1 when buf does
 * not start with a valid header. */
int proxyproto_parse(const unsigned char *buf, size_t len, struct cidr_addr *src,
                     bool *has_src);

#endif
