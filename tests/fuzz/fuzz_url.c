/* libFuzzer driver: target validation and the forward_query join. The input
 * is "TARGET\nQUERY". Whatever the bytes, a joined URL is a valid target and
 * safe to write into a Location header. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"
#include "url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    const char *nl = memchr(s, '\n', size);
    size_t tlen = nl ? (size_t)(nl - s) : size;
    const char *q = nl ? nl + 1 : s + size;
    size_t qlen = nl ? size - tlen - 1 : 0;

    bool ok = url_target_ok(s, tlen, NULL);
    if (ok && !reply_location_safe(s, tlen))
        abort(); /* a valid target is always safe to emit */
    char out[URL_MAX_LEN + 1];
    int n = url_join_query(s, tlen, q, qlen, "utm_*,a*,b*,q*", out, sizeof(out));
    if (n >= 0) {
        if ((size_t)n != strlen(out) || !url_target_ok(out, (size_t)n, NULL) ||
            !reply_location_safe(out, (size_t)n))
            abort();
    }
    return 0;
}
