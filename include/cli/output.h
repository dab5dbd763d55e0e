/* output: what hopctl's table, csv and json formats share. */
#ifndef HOPCOUNT_OUTPUT_H
#define HOPCOUNT_OUTPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* s[0..len) as a JSON string (quotes, backslashes and controls escaped). */
void json_string(FILE *out, const char *s, size_t len);

/* The same, or null when s is NULL. */
void json_string_or_null(FILE *out, const char *s, size_t len);

/* The UTC date (YYYY-MM-DD) of a Unix time. */
void utc_date(int64_t unix_s, char *buf, size_t sz);

#endif
