/* output: JSON strings and dates for hopctl's formats. */
#include "output.h"

#include <time.h>

void utc_date(int64_t unix_s, char *buf, size_t sz)
{
    time_t t = (time_t)unix_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, sz, "%Y-%m-%d", &tm);
}
