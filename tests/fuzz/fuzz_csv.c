/* libFuzzer driver: CSV lines. Whatever the bytes, csv_split stays inside the
 * line, and what csv_write_field writes back splits into the same fields. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXF 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *line = malloc(size + 1);
    struct csv_field f[MAXF], g[MAXF];
    const char *why = NULL;

    memcpy(line, data, size);
    int n = csv_split(line, size, f, MAXF, &why);
    if (n < 0) {
        if (why == NULL)
            abort(); /* every refusal has a reason */
        free(line);
        return 0;
    }
    if (n < 1 || n > MAXF)
        abort();
    char *buf = NULL;
    size_t sz = 0;
    FILE *m = open_memstream(&buf, &sz);
    for (int i = 0; i < n; i++) {
        if (f[i].s < line || f[i].s + f[i].len > line + size)
            abort(); /* a field outside the line */
        if (i > 0)
            fputc(',', m);
        csv_write_field(m, f[i].s, f[i].len);
    }
    fclose(m);
    /* A field holding CR or LF is written quoted on one "line": still one record here. */
    int n2 = csv_split(buf, sz, g, MAXF, &why);
    if (n2 != n)
        abort();
    for (int i = 0; i < n; i++)
        if (g[i].len != f[i].len || memcmp(g[i].s, f[i].s, f[i].len) != 0)
            abort();
    free(buf);
    free(line);
    return 0;
}
