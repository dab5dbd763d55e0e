/* libFuzzer driver: what a client or balancer says about an address. The
 * PROXY header parser reads only the bytes it is given, never claims more
 * than it was given or PROXYPROTO_MAX, and answers the same for the same
 * bytes with more appended; the X-Forwarded-For walk stays inside its value
 * and keeps the address it started from when the value has nothing it can
 * believe. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "proxyproto.h"
#include "realip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct cidr_set *trusted;
    if (trusted == NULL) {
        const char *nets = "10.0.0.0/8\nfd00::/8\n127.0.0.1\n";
        trusted = cidr_set_parse(nets, strlen(nets), "fuzz", stderr);
    }
    /* Exact-size copies, so ASan sees any read past the end. */
    unsigned char *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    struct cidr_addr a, b;
    bool has = false, has2 = false;
    int n = proxyproto_parse(buf, size, &a, &has);
    if (n > (int)size || n > PROXYPROTO_MAX || n < -1)
        abort();
    if (n > 0) {
        /* A whole header stays the same header whatever follows it. */
        unsigned char *more = malloc(size + 8);
        memcpy(more, buf, size);
        memcpy(more + size, "GET / HT", 8);
        if (proxyproto_parse(more, size + 8, &b, &has2) != n || has2 != has ||
            (has && memcmp(a.b, b.b, 16) != 0))
            abort();
        free(more);
    }
    struct cidr_addr start = {{0}}, c;
    start.b[10] = start.b[11] = 0xff;
    start.b[12] = 10;
    c = start;
    realip_from_xff((const char *)buf, size, trusted, &c);
    /* Blanks and commas only: no address to believe, the start stays. */
    bool blank = true;
    for (size_t i = 0; i < size && blank; i++)
        blank = buf[i] == ' ' || buf[i] == '\t' || buf[i] == ',';
    if (blank && memcmp(c.b, start.b, 16) != 0)
        abort();
    free(buf);
    return 0;
}
