/* cdp: headless Chromium driven over the DevTools protocol on a pipe
 * (--remote-debugging-pipe: JSON messages, each ended by a NUL, on the
 * browser's fds 3 and 4), for tests that must act in a real browser: load a
 * page, wait for it, evaluate JavaScript in it. One page per browser. */
#ifndef HOPCOUNT_CDP_H
#define HOPCOUNT_CDP_H

#include <stddef.h>
#include <sys/types.h>

#define CDP_MSG_MAX (1 << 20)

struct cdp {
    pid_t pid;
    int to, from;      /* our ends of the pipes */
    int next_id;       /* the next command's id */
    char session[128]; /* the page's session */
    int loaded;        /* the page's load event came */
    char buf[CDP_MSG_MAX];
    size_t have; /* bytes in buf not yet taken as messages */
    char msg[CDP_MSG_MAX];
};

#define CDP_ARGV_MAX 24
/* argv[0..n) (n < CDP_ARGV_MAX - 9) made the arguments of a headless
 * Chromium: the program and the flags every test uses put in front, a NULL
 * after. */
void cdp_chromium_argv(char **argv, int n);

/* Start Chromium (profile in dir, window width x 1400) with a blank page
 * attached. 0, or -1 with the reason on stderr. */
int cdp_open(struct cdp *c, const char *dir, int width);
/* Load url and wait for its load event (at most 30 s). 0 or -1. */
int cdp_navigate(struct cdp *c, const char *url);
/* Evaluate the JavaScript expression js in the page; its value, a string,
 * decoded into out. 0, or -1 with the browser's answer in out. */
int cdp_eval_string(struct cdp *c, const char *js, char *out, size_t cap);
/* Close the browser and wait for it. */
void cdp_close(struct cdp *c);

#endif
