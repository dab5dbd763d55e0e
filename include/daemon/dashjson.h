/* dashjson: a dashboard read as the API's JSON (docs/api.md): the fields
 * and numbers of hopctl stats --format json. */
#ifndef HOPCOUNT_DASHJSON_H
#define HOPCOUNT_DASHJSON_H

#include <stdio.h>

struct dash_read;

/* rd (read without failure, found) as its JSON document and a newline. */
void dash_json(FILE *out, const struct dash_read *rd);

/* {"error": why} and a newline. */
void dash_json_error(FILE *out, const char *why);

#endif
