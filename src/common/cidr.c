/* cidr: networks as ranges of 128-bit addresses (IPv4 as ::ffff:a.b.c.d),
 * sorted and merged, so a lookup is one binary search. */
#include "cidr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "util.h"

#define CIDR_LINE_MAX 128

/* A 128-bit address, most significant half first. */
struct addr128 {
    uint64_t hi, lo;
};

struct range {
    struct addr128 first, last;
};

/* A filter in front of the search: one bit per IPv4 /16 and one per hash
 * of an IPv6 /32, set when a range touches it. Most clients are in no
 * scanner network, and their answer then costs one access to 16 KB that
 * stay in cache, not a binary search whose steps miss it. */
#define FILTER_BITS 65536

struct cidr_set {
    struct range *r;
    size_t n;
    bool v6_all; /* a range too wide for the IPv6 filter: always search */
    uint64_t v4[FILTER_BITS / 64];
    uint64_t v6[FILTER_BITS / 64];
};

static int cmp128(struct addr128 a, struct addr128 b)
{
    if (a.hi != b.hi)
        return a.hi < b.hi ? -1 : 1;
    return a.lo < b.lo ? -1 : a.lo > b.lo;
}

static struct addr128 from_bytes(const unsigned char b[16])
{
    struct addr128 a = {0, 0};
    for (int i = 0; i < 8; i++) {
        a.hi = a.hi << 8 | b[i];
        a.lo = a.lo << 8 | b[8 + i];
    }
    return a;
}

void cidr_addr_from_v4(struct cidr_addr *out, const unsigned char v4[4])
{
    memset(out->b, 0, 10);
    out->b[10] = out->b[11] = 0xff;
    memcpy(out->b + 12, v4, 4);
}

/* IPv4 a.b.c.d as ::ffff:a.b.c.d. */
static struct addr128 from_v4(const unsigned char b[4])
{
    struct cidr_addr m;
    cidr_addr_from_v4(&m, b);
    return from_bytes(m.b);
}

/* The host bits below a prefix of `bits` (of 128), as a mask. */
static struct addr128 host_mask(int bits)
{
    struct addr128 m;
    m.hi = bits >= 64 ? 0 : (bits == 0 ? UINT64_MAX : UINT64_MAX >> bits);
    m.lo = bits >= 128 ? 0 : (bits <= 64 ? UINT64_MAX : UINT64_MAX >> (bits - 64));
    return m;
}

/* Parse one network into r. NULL, or why not. */
static const char *parse_net(const char *s, struct range *r)
{
    char buf[CIDR_LINE_MAX];
    const char *slash = strchr(s, '/');
    size_t alen = slash ? (size_t)(slash - s) : strlen(s);
    if (alen == 0 || alen >= sizeof(buf))
        return "not an address";
    memcpy(buf, s, alen);
    buf[alen] = '\0';
    unsigned char b[16];
    int maxbits, bits;
    struct addr128 a;
    if (inet_pton(AF_INET, buf, b) == 1) {
        maxbits = 32;
        a = from_v4(b);
    } else if (inet_pton(AF_INET6, buf, b) == 1) {
        maxbits = 128;
        a = from_bytes(b);
    } else {
        return "not an IPv4 or IPv6 address";
    }
    bits = maxbits;
    if (slash != NULL) {
        long long v;
        if (util_parse_ll(slash + 1, &v) != 0 || v < 0 || v > maxbits)
            return maxbits == 32 ? "prefix length not 0..32" : "prefix length not 0..128";
        bits = (int)v;
    }
    if (maxbits == 32)
        bits += 96; /* within ::ffff:0:0/96 */
    struct addr128 m = host_mask(bits);
    if ((a.hi & m.hi) != 0 || (a.lo & m.lo) != 0)
        return "host bits set below the prefix (write the network's first address)";
    r->first = a;
    r->last = (struct addr128){a.hi | m.hi, a.lo | m.lo};
    return NULL;
}

static int by_first(const void *x, const void *y)
{
    const struct range *a = x, *b = y;
    return cmp128(a->first, b->first);
}

/* last + 1 == next's first, without overflow. */
static bool adjacent(struct addr128 last, struct addr128 next)
{
    struct addr128 n = last;
    if (++n.lo == 0)
        n.hi++;
    return !(last.hi == UINT64_MAX && last.lo == UINT64_MAX) && cmp128(n, next) == 0;
}

/* Sort and merge overlapping or adjacent ranges. */
static void merge(struct cidr_set *s)
{
    if (s->n < 2)
        return;
    qsort(s->r, s->n, sizeof(*s->r), by_first);
    size_t k = 0;
    for (size_t i = 1; i < s->n; i++) {
        struct range *cur = &s->r[k];
        if (cmp128(s->r[i].first, cur->last) <= 0 || adjacent(cur->last, s->r[i].first)) {
            if (cmp128(s->r[i].last, cur->last) > 0)
                cur->last = s->r[i].last;
        } else {
            s->r[++k] = s->r[i];
        }
    }
    s->n = k + 1;
}

static bool is_mapped(struct addr128 a)
{
    return a.hi == 0 && (a.lo >> 32) == 0xffff;
}

static unsigned v6_bucket(uint64_t top32)
{
    uint64_t h = top32 * 0x9E3779B97F4A7C15ull;
    return (unsigned)(h >> 48);
}

static void set_bit(uint64_t *bits, unsigned i)
{
    bits[i / 64] |= 1ull << (i % 64);
}

static bool get_bit(const uint64_t *bits, unsigned i)
{
    return (bits[i / 64] >> (i % 64)) & 1;
}

/* Set the filter bits every range touches: the IPv4 /16s of its part in
 * ::ffff:0:0/96, the IPv6 /32s of the rest (all of them when there are more
 * /32s than bits). */
static void build_filter(struct cidr_set *s)
{
    const struct addr128 m0 = {0, 0xffff00000000ull}, m1 = {0, 0xffffffffffffull};
    for (size_t i = 0; i < s->n; i++) {
        struct addr128 f = s->r[i].first, l = s->r[i].last;
        if (cmp128(f, m1) <= 0 && cmp128(l, m0) >= 0) {
            struct addr128 a = cmp128(f, m0) > 0 ? f : m0, b = cmp128(l, m1) < 0 ? l : m1;
            for (uint64_t p = (a.lo >> 16) & 0xffff; p <= ((b.lo >> 16) & 0xffff); p++)
                set_bit(s->v4, (unsigned)p);
        }
        if (is_mapped(f) && is_mapped(l))
            continue;
        if ((l.hi >> 32) - (f.hi >> 32) >= FILTER_BITS)
            s->v6_all = true;
        else
            for (uint64_t p = f.hi >> 32; p <= l.hi >> 32; p++)
                set_bit(s->v6, v6_bucket(p));
    }
}

struct cidr_set *cidr_set_parse(const char *text, size_t len, const char *name, FILE *err)
{
    struct cidr_set *s = xcalloc(1, sizeof(*s));
    size_t cap = 0;
    int errors = 0, lineno = 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        lineno++;
        char line[CIDR_LINE_MAX];
        size_t n = (size_t)(eol - p);
        const char *hash = memchr(p, '#', n);
        if (hash != NULL)
            n = (size_t)(hash - p);
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r'))
            n--;
        const char *q = p;
        while (n > 0 && (*q == ' ' || *q == '\t')) {
            q++;
            n--;
        }
        p = nl ? nl + 1 : end;
        if (n == 0)
            continue;
        if (n >= sizeof(line)) {
            fprintf(err, "%s:%d: line too long for a network\n", name, lineno);
            errors++;
            continue;
        }
        memcpy(line, q, n);
        line[n] = '\0';
        if (s->n == cap) {
            cap = cap ? cap * 2 : 64;
            s->r = xrealloc(s->r, cap * sizeof(*s->r));
        }
        const char *why = parse_net(line, &s->r[s->n]);
        if (why != NULL) {
            fprintf(err,
                    "%s:%d: %s: \"%s\" (accepted: 192.0.2.0/24, 2001:db8::/32, or one "
                    "address)\n",
                    name, lineno, why, line);
            errors++;
            continue;
        }
        s->n++;
    }
    if (errors > 0) {
        cidr_set_free(s);
        return NULL;
    }
    merge(s);
    build_filter(s);
    return s;
}

const char *cidr_net_check(const char *s)
{
    struct range r;
    return strlen(s) >= CIDR_LINE_MAX ? "too long for a network" : parse_net(s, &r);
}

struct cidr_set *cidr_set_parse_list(const char *list, const char *name, FILE *err)
{
    char *text = xstrdup(list);
    for (char *p = text; *p != '\0'; p++)
        if (*p == ',')
            *p = '\n';
    struct cidr_set *s = cidr_set_parse(text, strlen(text), name, err);
    free(text);
    return s;
}

struct cidr_set *cidr_set_load(const char *path, FILE *err)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(err, "%s: cannot open: %s\n", path, strerror(errno));
        return NULL;
    }
    char *text = NULL;
    size_t cap = 0, len = 0;
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (len + got > cap) {
            cap = (len + got) * 2;
            text = xrealloc(text, cap);
        }
        memcpy(text + len, chunk, got);
        len += got;
    }
    bool bad = ferror(f) != 0;
    fclose(f);
    struct cidr_set *s = NULL;
    if (bad)
        fprintf(err, "%s: read error\n", path);
    else
        s = cidr_set_parse(text != NULL ? text : "", len, path, err);
    free(text);
    return s;
}

void cidr_set_free(struct cidr_set *s)
{
    if (s == NULL)
        return;
    free(s->r);
    free(s);
}

size_t cidr_set_ranges(const struct cidr_set *s)
{
    return s != NULL ? s->n : 0;
}

bool cidr_addr_from_sockaddr(struct cidr_addr *out, const struct sockaddr *sa)
{
    if (sa == NULL)
        return false;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        cidr_addr_from_v4(out, (const unsigned char *)&in->sin_addr);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        memcpy(out->b, in6->sin6_addr.s6_addr, 16);
        return true;
    }
    return false;
}

bool cidr_addr_parse(struct cidr_addr *out, const char *s, size_t len)
{
    char buf[INET6_ADDRSTRLEN];
    unsigned char v4[4];
    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET, buf, v4) == 1) {
        cidr_addr_from_v4(out, v4);
        return true;
    }
    return inet_pton(AF_INET6, buf, out->b) == 1;
}

bool cidr_set_has(const struct cidr_set *s, const struct cidr_addr *addr)
{
    if (s == NULL || s->n == 0)
        return false;
    /* The filter, on the bytes as they are: most answers end here. */
    const unsigned char *b = addr->b;
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(b, mapped, 12) == 0) {
        if (!get_bit(s->v4, (unsigned)b[12] << 8 | b[13]))
            return false;
    } else if (!s->v6_all) {
        uint64_t top32 =
            (uint64_t)b[0] << 24 | (uint64_t)b[1] << 16 | (uint64_t)b[2] << 8 | b[3];
        if (!get_bit(s->v6, v6_bucket(top32)))
            return false;
    }
    struct addr128 a = from_bytes(b);
    /* The last range starting at or before a. */
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmp128(s->r[mid].first, a) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > 0 && cmp128(a, s->r[lo - 1].last) <= 0;
}

bool cidr_set_contains(const struct cidr_set *s, const struct sockaddr *sa)
{
    struct cidr_addr a;
    return cidr_addr_from_sockaddr(&a, sa) && cidr_set_has(s, &a);
}
