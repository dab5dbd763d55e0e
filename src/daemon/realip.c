/* realip: X-Forwarded-For, rightmost untrusted hop. */
#include "realip.h"

#include <string.h>

/* One entry s[0..len), trimmed, to an address: "a.b.c.d", "a.b.c.d:port",
 * "v6", "[v6]", "[v6]:port". */
static bool entry_addr(const char *s, size_t len, struct cidr_addr *out)
{
    while (len > 0 && (s[0] == ' ' || s[0] == '\t')) {
        s++;
        len--;
    }
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (close == NULL)
            return false;
        size_t rest = len - (size_t)(close - s) - 1;
        if (rest > 0 && close[1] != ':')
            return false;
        return cidr_addr_parse(out, s + 1, (size_t)(close - s) - 1);
    }
    const char *colon = memchr(s, ':', len);
    if (colon != NULL && memchr(colon + 1, ':', len - (size_t)(colon - s) - 1) == NULL)
        len = (size_t)(colon - s); /* one colon: IPv4 with a port */
    return cidr_addr_parse(out, s, len);
}

void realip_from_xff(const char *v, size_t len, const struct cidr_set *trusted,
                     struct cidr_addr *addr)
{
    size_t end = len;
    while (end > 0) {
        size_t start = end;
        while (start > 0 && v[start - 1] != ',')
            start--;
        struct cidr_addr hop;
        if (!entry_addr(v + start, end - start, &hop))
            return;
        *addr = hop;
        if (!cidr_set_has(trusted, &hop))
            return;
        end = start > 0 ? start - 1 : 0;
    }
}
