/* proxyproto: PROXY protocol v1 (text) and v2 (binary) headers, per
 * https://www.haproxy.org/download/2.8/doc/proxy-protocol.txt */
#include "proxyproto.h"

#include <string.h>

#define V1_MAX 107
#define V2_FIXED 16

static const unsigned char v2_sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                         0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

/* The next space-separated word of line[*pos..end): its start and length. */
static bool word(const char *line, size_t end, size_t *pos, const char **w, size_t *wl)
{
    size_t p = *pos;
    if (p >= end || line[p] == ' ')
        return false;
    size_t q = p;
    while (q < end && line[q] != ' ')
        q++;
    *w = line + p;
    *wl = q - p;
    *pos = q < end ? q + 1 : q;
    return true;
}

static bool port_ok(const char *s, size_t len)
{
    unsigned v = 0;
    if (len == 0 || len > 5 || (len > 1 && s[0] == '0'))
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    return v <= 65535;
}

/* "PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n" or "PROXY UNKNOWN ...\r\n". */
static int parse_v1(const unsigned char *buf, size_t len, struct cidr_addr *src,
                    bool *has_src)
{
    const char *line = (const char *)buf;
    size_t n = len < V1_MAX ? len : V1_MAX;
    const char *cr = memchr(line, '\r', n);
    if (cr == NULL)
        return len >= V1_MAX || memchr(line, '\n', n) != NULL ? -1 : 0;
    size_t end = (size_t)(cr - line);
    if (end + 1 >= len)
        return 0;
    if (line[end + 1] != '\n')
        return -1;
    size_t pos = 6, wl[5];
    const char *w[5];
    if (end < 6 || !word(line, end, &pos, &w[0], &wl[0]))
        return -1;
    if (wl[0] == 7 && memcmp(w[0], "UNKNOWN", 7) == 0) {
        *has_src = false;
        return (int)end + 2;
    }
    bool v4 = wl[0] == 4 && memcmp(w[0], "TCP4", 4) == 0;
    bool v6 = wl[0] == 4 && memcmp(w[0], "TCP6", 4) == 0;
    if (!v4 && !v6)
        return -1;
    for (int i = 1; i < 5; i++)
        if (!word(line, end, &pos, &w[i], &wl[i]))
            return -1;
    struct cidr_addr dst;
    if (pos != end || !cidr_addr_parse(src, w[1], wl[1]) ||
        !cidr_addr_parse(&dst, w[2], wl[2]) || !port_ok(w[3], wl[3]) ||
        !port_ok(w[4], wl[4]))
        return -1;
    /* TCP4 names IPv4 addresses, TCP6 IPv6 ones (mapped forms included). */
    bool src4 = memchr(w[1], ':', wl[1]) == NULL;
    if (src4 != v4 || (memchr(w[2], ':', wl[2]) == NULL) != v4)
        return -1;
    *has_src = true;
    return (int)end + 2;
}

static int parse_v2(const unsigned char *buf, size_t len, struct cidr_addr *src,
                    bool *has_src)
{
    if (len < V2_FIXED)
        return 0;
    unsigned ver = buf[12] >> 4, cmd = buf[12] & 0x0F, fam = buf[13];
    size_t body = (size_t)buf[14] << 8 | buf[15];
    if (ver != 2 || cmd > 1 || V2_FIXED + body > PROXYPROTO_MAX)
        return -1;
    if (len < V2_FIXED + body)
        return 0;
    int total = (int)(V2_FIXED + body);
    *has_src = false;
    if (cmd == 0) /* LOCAL: the balancer's own connection */
        return total;
    switch (fam) {
    case 0x11: /* TCP over IPv4 */
    case 0x12: /* UDP over IPv4 */
        if (body < 12)
            return -1;
        cidr_addr_from_v4(src, buf + V2_FIXED);
        *has_src = true;
        break;
    case 0x21: /* over IPv6 */
    case 0x22:
        if (body < 36)
            return -1;
        memcpy(src->b, buf + V2_FIXED, 16);
        *has_src = true;
        break;
    case 0x00: /* UNSPEC */
    case 0x31: /* AF_UNIX */
    case 0x32:
        break;
    default:
        return -1;
    }
    return total;
}

int proxyproto_parse(const unsigned char *buf, size_t len, struct cidr_addr *src,
                     bool *has_src)
{
    size_t n = len < sizeof(v2_sig) ? len : sizeof(v2_sig);
    if (memcmp(buf, v2_sig, n) == 0)
        return n < sizeof(v2_sig) ? 0 : parse_v2(buf, len, src, has_src);
    n = len < 6 ? len : 6;
    if (memcmp(buf, "PROXY ", n) != 0)
        return -1;
    return n < 6 ? 0 : parse_v1(buf, len, src, has_src);
}
