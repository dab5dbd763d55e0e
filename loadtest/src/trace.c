/* loadtest/src/trace.c: the newsletter trace of make bench-scanners. It
 * generates, from a fixed seed, one mailing's follows by class — people
 * (some with DNT, a few clicking three links within seconds), mail-security
 * scanners from listed and unlisted networks (about as many follows as
 * people make) (every link within seconds of
 * delivery, browser agents), crawlers, HEAD probes and prefetches — and
 * replays it on real time against hopcount listeners on 127.0.0.1, each
 * request on its own connection from the client's own 127.x.y.z address.
 * Every event goes to every port given (one hopcount per configuration
 * under test, all seeing the same trace at once).
 *
 * Usage: trace SPAN_S PORT... ; prints "truth CLASS FOLLOWS" lines (the
 * GETs a perfect classifier counts in that class) and "sent N errors E".
 * Each class has its own campaign (nl-CLASS, links CLASS-0..5): the burst
 * rule works per client, so classes do not interact and Redis's counts per
 * campaign are the per-class outcome. Bounded: one pass over a fixed trace. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdbool.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "agents.h"

#define LINKS 6
#define MAX_EVENTS 100000
#define MAX_PORTS 8

enum cls {
    C_HUMAN,
    C_SCAN_LISTED,
    C_SCAN_UNLISTED,
    C_SCAN_AGENT,
    C_CRAWLER,
    C_HEAD,
    C_PREFETCH,
    NCLS
};
static const char *const cls_name[NCLS] = {
    "human", "scanlisted", "scanunlisted", "scanagent", "crawler", "head", "prefetch"};

static const char *const scan_agents[] = {
    "Mozilla/5.0 (compatible; Barracuda Sentinel (EE))",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Proofpoint URL Defense",
};
static const char *const crawlers[] = {
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
};

struct event {
    uint32_t t_ms;
    uint32_t src; /* 127.x.y.z, host order */
    unsigned char cls, link, head, dnt, prefetch, ua, crawler, agent;
};

static struct event ev[MAX_EVENTS];
static size_t nev;
static unsigned long long truth[NCLS];

static double rnd(void)
{
    return (double)random() / ((double)RAND_MAX + 1.0);
}

static void add(uint32_t t_ms, uint32_t src, enum cls c, int link, int ua)
{
    if (nev == MAX_EVENTS)
        return;
    ev[nev++] = (struct event){.t_ms = t_ms,
                               .src = src,
                               .cls = (unsigned char)c,
                               .link = (unsigned char)link,
                               .ua = (unsigned char)ua};
}

static uint32_t addr(unsigned b, unsigned i)
{
    return (127u << 24) | (b << 16) | ((i / 250u) << 8) | (i % 250u + 1u);
}

/* The mailing: `span` seconds of deliveries. */
static void generate(unsigned span)
{
    unsigned span_ms = span * 1000u;
    int nb = (int)(sizeof(browsers) / sizeof(browsers[0]));
    /* People: 3,000 who click. A click each, then more: a second in 60%, a
     * third in 25% of cases. Clicks minutes or days apart in real time are
     * replayed at least one burst window (11-16 s) apart; 2% of people
     * click three links within seconds (replayed as they happen): the
     * burst rule's false positives. 10% send DNT or GPC. */
    for (unsigned i = 0; i < 3000; i++) {
        uint32_t src = addr(1 + i / 60000, i % 60000);
        int ua = (int)(random() % nb), dnt = rnd() < 0.10;
        int clicks = 1 + (rnd() < 0.60) + (rnd() < 0.25);
        bool fast = rnd() < 0.02;
        if (fast)
            clicks = 3;
        uint32_t t = (uint32_t)(rnd() * span_ms);
        int first = (int)(random() % LINKS);
        for (int k = 0; k < clicks; k++) {
            add(t, src, C_HUMAN, (first + k) % LINKS, ua);
            ev[nev - 1].dnt = (unsigned char)dnt;
            if (!dnt)
                truth[C_HUMAN]++;
            t += fast ? 1000u + (uint32_t)(rnd() * 3000)
                      : 11000u + (uint32_t)(rnd() * 5000);
        }
    }
    /* Scanners: 840 recipients behind a gateway that opens every link
     * 0.2-3 s apart with a browser agent, within seconds of delivery; half
     * from networks in the scanners file, half from networks it lacks. */
    for (unsigned i = 0; i < 840; i++) {
        enum cls c = i % 2 ? C_SCAN_UNLISTED : C_SCAN_LISTED;
        uint32_t src = addr(c == C_SCAN_LISTED ? 200 : 201, i / 2);
        int ua = (int)(random() % nb);
        uint32_t t = (uint32_t)(rnd() * span_ms);
        for (int l = 0; l < LINKS; l++) {
            add(t, src, c, l, ua);
            truth[c]++;
            t += 200u + (uint32_t)(rnd() * 2800);
        }
    }
    /* Gateways that name themselves in their agent, from networks not
     * listed, checking one link each: 150. */
    for (unsigned i = 0; i < 150; i++) {
        add((uint32_t)(rnd() * span_ms), addr(6, i), C_SCAN_AGENT,
            (int)(random() % LINKS), (int)(random() % 2));
        ev[nev - 1].agent = 1;
        truth[C_SCAN_AGENT]++;
    }
    /* Crawlers (a link unfurled in chat, indexed): 400 follows. */
    for (unsigned i = 0; i < 400; i++) {
        add((uint32_t)(rnd() * span_ms), addr(3, i % 50), C_CRAWLER,
            (int)(random() % LINKS), (int)(random() % 3));
        ev[nev - 1].crawler = 1;
        truth[C_CRAWLER]++;
    }
    /* HEAD probes (link checkers): 400, never a GET. */
    for (unsigned i = 0; i < 400; i++) {
        add((uint32_t)(rnd() * span_ms), addr(4, i), C_HEAD, (int)(random() % LINKS),
            (int)(random() % nb));
        ev[nev - 1].head = 1;
        truth[C_HEAD]++;
    }
    /* Prefetches (a mail app warming links): 400, refused with 503. */
    for (unsigned i = 0; i < 400; i++) {
        add((uint32_t)(rnd() * span_ms), addr(5, i), C_PREFETCH, (int)(random() % LINKS),
            (int)(random() % nb));
        ev[nev - 1].prefetch = 1;
        truth[C_PREFETCH]++;
    }
}

static int by_time(const void *a, const void *b)
{
    const struct event *x = a, *y = b;
    return x->t_ms < y->t_ms ? -1 : x->t_ms > y->t_ms;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* One request on its own connection from e's address; 0 when answered. */
static int send_one(const struct event *e, int port)
{
    char req[1024], resp[2048];
    const char *ua = e->crawler ? crawlers[e->ua % 3]
                     : e->agent ? scan_agents[e->ua % 2]
                                : browsers[e->ua];
    int n = snprintf(
        req, sizeof(req),
        "%s /%s-%d HTTP/1.1\r\nHost: go.example\r\nUser-Agent: %s\r\n"
        "Accept: text/html\r\nAccept-Language: en\r\n%s%sConnection: close\r\n\r\n",
        e->head ? "HEAD" : "GET", cls_name[e->cls], e->link, ua,
        e->dnt ? "DNT: 1\r\n" : "", e->prefetch ? "Sec-Purpose: prefetch\r\n" : "");
    struct sockaddr_in from = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(e->src)};
    struct sockaddr_in to = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {.tv_sec = 5};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    int rc = -1;
    if (bind(fd, (struct sockaddr *)&from, sizeof(from)) == 0 &&
        connect(fd, (struct sockaddr *)&to, sizeof(to)) == 0 &&
        send(fd, req, (size_t)n, MSG_NOSIGNAL) == n) {
        ssize_t got = recv(fd, resp, sizeof(resp) - 1, 0);
        rc = got > 12 && memcmp(resp, "HTTP/1.1 ", 9) == 0 ? 0 : -1;
    }
    close(fd);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc - 2 > MAX_PORTS) {
        fprintf(stderr, "usage: trace SPAN_S PORT...\n");
        return 2;
    }
    unsigned span = (unsigned)atoi(argv[1]);
    int ports[MAX_PORTS], nports = argc - 2;
    for (int i = 0; i < nports; i++)
        ports[i] = atoi(argv[2 + i]);
    srandom(13);
    generate(span ? span : 30);
    qsort(ev, nev, sizeof(ev[0]), by_time);
    uint64_t t0 = now_ms();
    unsigned long long errors = 0;
    for (size_t i = 0; i < nev; i++) {
        uint64_t due = t0 + ev[i].t_ms, now = now_ms();
        if (due > now)
            usleep((useconds_t)((due - now) * 1000u));
        for (int p = 0; p < nports; p++)
            errors += send_one(&ev[i], ports[p]) != 0;
    }
    for (int c = 0; c < NCLS; c++)
        printf("truth %s %llu\n", cls_name[c], truth[c]);
    printf("sent %zu errors %llu late_ms %llu\n", nev, errors,
           (unsigned long long)(now_ms() - t0 - ev[nev - 1].t_ms));
    return errors > 0;
}
