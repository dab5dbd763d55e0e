/* output: what hopctl's table, csv and json formats share. */
#ifndef HOPCOUNT_OUTPUT_H
#define HOPCOUNT_OUTPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "json.h"

/* The UTC date (YYYY-MM-DD) of a Unix time. */
void utc_date(int64_t unix_s, char *buf, size_t sz);

#endif
