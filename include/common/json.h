/* json: JSON strings, for hopctl's --format json and the dashboard's API. */
#ifndef HOPCOUNT_JSON_H
#define HOPCOUNT_JSON_H

#include <stddef.h>
#include <stdio.h>

/* s[0..len) as a JSON string (quotes, backslashes and controls escaped;
 * "<", ">" and "&" too, so that the text is safe inside HTML as well). */
void json_string(FILE *out, const char *s, size_t len);

/* The same, or null when s is NULL. */
void json_string_or_null(FILE *out, const char *s, size_t len);

#endif
