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

/* Append to target[0..tlen) the parameters of the query string q[0..qlen)
 * (without its '?') whose key is named by keys (a list of names and
 * prefixes ending in '*', separated by commas or spaces: "utm_*, ref"),
 * except a key the target's own query has and repeats of one already
 * forwarded; '?' or '&' as fits, bytes outside the URL-safe set
 * percent-encoded, a fragment in the target last. Writes into out (size
 * outsz) and returns the length (tlen when nothing was forwarded), or -1
 * when the result would not fit or is not a valid target. */
int url_join_query(const char *target, size_t tlen, const char *q, size_t qlen,
                   const char *keys, char *out, size_t outsz);

/* True when list is a valid forward_query_keys value (see url_join_query):
 * at least one name of [A-Za-z0-9_.-]{1,64}, each maybe ending in '*'. */
bool url_query_keys_ok(const char *list);

#endif
