/* loadtest/src/clients.c: the known distinct followers of make
 * bench-uniques. N clients, each its own loopback address (127.A.B.C from
 * client FIRST on) and one of five browser agents, follow /CODE one to three
 * times each (fixed seed), all follows in one shuffled order, each on its own
 * connection to 127.0.0.1:PORT. Bounded: exactly the follows drawn.
 *
 * Usage: clients PORT CODE FIRST N SEED; prints "sent S errors E". */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "agents.h"

static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return rng_state >> 33;
}

/* Client i's address: 127.A.B.C, A from 20 up, C never 0. */
static void addr_of(long i, struct in_addr *a)
{
    unsigned v = (127u << 24) | ((20u + (unsigned)(i / 62500)) << 16) |
                 ((unsigned)(i / 250 % 250) << 8) | (unsigned)(i % 250 + 1);
    a->s_addr = htonl(v);
}

/* One follow of client i; 0 when a 302 came back. */
static int follow(int port, const char *code, long i)
{
    struct sockaddr_in me = {.sin_family = AF_INET};
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct timeval tv = {.tv_sec = 5};
    addr_of(i, &me.sin_addr);
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char req[512], resp[1024];
    int n = snprintf(req, sizeof(req),
                     "GET /%s HTTP/1.1\r\nHost: go.example\r\nUser-Agent: %s\r\n"
                     "Connection: close\r\n\r\n",
                     code, browsers[i % (long)(sizeof(browsers) / sizeof(*browsers))]);
    int rc = -1;
    if (bind(fd, (struct sockaddr *)&me, sizeof(me)) == 0 &&
        connect(fd, (struct sockaddr *)&to, sizeof(to)) == 0 &&
        send(fd, req, (size_t)n, 0) == n) {
        ssize_t got = recv(fd, resp, sizeof(resp) - 1, 0);
        if (got > 12) {
            resp[got] = '\0';
            rc = strncmp(resp + 9, "302", 3) == 0 ? 0 : -1;
        }
    }
    close(fd);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: clients PORT CODE FIRST N SEED\n");
        return 2;
    }
    int port = atoi(argv[1]);
    const char *code = argv[2];
    long first = atol(argv[3]), n = atol(argv[4]);
    rng_state = strtoull(argv[5], NULL, 10);
    if (n <= 0 || n > 4000000 || first < 0) {
        fprintf(stderr, "clients: N must be 1..4000000\n");
        return 2;
    }
    long *order = malloc((size_t)n * 3 * sizeof(*order)), total = 0;
    if (order == NULL)
        return 1;
    for (long i = 0; i < n; i++)
        for (uint64_t k = 0, times = 1 + rnd() % 3; k < times; k++)
            order[total++] = first + i;
    for (long i = total - 1; i > 0; i--) { /* Fisher-Yates */
        long j = (long)(rnd() % (uint64_t)(i + 1)), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    long errors = 0;
    for (long i = 0; i < total; i++)
        errors += follow(port, code, order[i]) != 0;
    printf("sent %ld errors %ld\n", total, errors);
    free(order);
    return errors == 0 ? 0 : 1;
}
