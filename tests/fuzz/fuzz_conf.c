/* libFuzzer driver: the conf parser. Any bytes: either a conf or errors,
 * never a crash, a leak or a half-built conf. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    FILE *in = fmemopen((void *)data, size, "r");
    FILE *err = fopen("/dev/null", "w");
    if (in == NULL || err == NULL)
        abort();
    struct conf *c = conf_load_stream(in, "fuzz.conf", err);
    if (c != NULL) {
        FILE *out = fopen("/dev/null", "w");
        conf_print(c, out);
        fclose(out);
        conf_free(c);
    }
    fclose(in);
    fclose(err);
    return 0;
}
