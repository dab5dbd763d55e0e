/* url: the rules a redirect target must obey, and the forward_query join.
 * Pure functions: no I/O, no allocation except where stated. */
#ifndef HOPCOUNT_URL_H
#define HOPCOUNT_URL_H

#include <stdbool.h>
#include <stddef.h>

#define URL_MAX_LEN 2048

/* True when url[0..len) may become a Location header: an absolute http or
 * https URL with a host, only printable ASCII without space, at most
 * URL_MAX_LEN bytes, parsed by libevent's strict URI parser. On false, *why
 * (if not NULL) points to a static reason. */
bool url_target_ok(const char *url, size_t len, const char **why);

/* Append the query string q[0..qlen) (without its '?') to target[0..tlen),
 * with '?' or '&' as fits and any byte outside the URL-safe set
 * percent-encoded; a fragment in the target stays last. Writes into out (size
 * outsz) and returns the length, or -1 when the result would not fit or is not
 * a valid target. */
int url_join_query(const char *target, size_t tlen, const char *q, size_t qlen, char *out,
                   size_t outsz);

#endif
