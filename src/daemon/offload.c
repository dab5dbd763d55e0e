/* offload: one blocking job at a time on a thread of its own.
 *
 * States: IDLE -> QUEUED (offload_start) -> RUNNING (the thread took it) ->
 * FINISHED (work returned; the eventfd is written) -> IDLE (done ran, on the
 * loop or in offload_wait). Only the loop's thread starts jobs and runs
 * done, so done never races with the next start. */
#include "offload.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

enum job_state { IDLE, QUEUED, RUNNING, FINISHED };

struct offload {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* the state changed */
    enum job_state state;
    bool quit;
    void (*work)(void *arg);
    void (*done)(void *arg);
    void *arg;
    int efd;
    struct event *ev;
};

/* FINISHED -> IDLE and run done; on the loop's thread only. */
static void complete(struct offload *o)
{
    pthread_mutex_lock(&o->lock);
    bool finished = o->state == FINISHED;
    if (finished)
        o->state = IDLE;
    void (*done)(void *) = o->done;
    void *arg = o->arg;
    pthread_mutex_unlock(&o->lock);
    if (finished)
        done(arg);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    uint64_t n;
    (void)what;
    while (read(fd, &n, sizeof(n)) < 0 && errno == EINTR)
        ;
    complete(arg);
}

static void *run(void *arg)
{
    struct offload *o = arg;
    pthread_mutex_lock(&o->lock);
    for (;;) {
        while (o->state != QUEUED && !o->quit)
            pthread_cond_wait(&o->cond, &o->lock);
        if (o->state != QUEUED)
            break;
        o->state = RUNNING;
        pthread_mutex_unlock(&o->lock);
        o->work(o->arg);
        pthread_mutex_lock(&o->lock);
        o->state = FINISHED;
        pthread_cond_broadcast(&o->cond);
        uint64_t one = 1;
        while (write(o->efd, &one, sizeof(one)) < 0 && errno == EINTR)
            ;
    }
    pthread_mutex_unlock(&o->lock);
    return NULL;
}

struct offload *offload_new(struct event_base *base, char *err, size_t errsz)
{
    struct offload *o = xcalloc(1, sizeof(*o));
    pthread_mutex_init(&o->lock, NULL);
    pthread_cond_init(&o->cond, NULL);
    o->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (o->efd < 0) {
        snprintf(err, errsz, "eventfd: %s", strerror(errno));
        goto err;
    }
    o->ev = event_new(base, o->efd, EV_READ | EV_PERSIST, on_wake, o);
    if (o->ev == NULL || event_add(o->ev, NULL) != 0) {
        snprintf(err, errsz, "cannot create the offload event");
        goto err;
    }
    int rc = pthread_create(&o->thread, NULL, run, o);
    if (rc != 0) {
        snprintf(err, errsz, "cannot start the spool thread: %s", strerror(rc));
        goto err;
    }
    return o;
err:
    if (o->ev != NULL)
        event_free(o->ev);
    if (o->efd >= 0)
        close(o->efd);
    pthread_cond_destroy(&o->cond);
    pthread_mutex_destroy(&o->lock);
    free(o);
    return NULL;
}

int offload_start(struct offload *o, void (*work)(void *arg), void (*done)(void *arg),
                  void *arg)
{
    pthread_mutex_lock(&o->lock);
    if (o->state != IDLE) {
        pthread_mutex_unlock(&o->lock);
        return -1;
    }
    o->work = work;
    o->done = done;
    o->arg = arg;
    o->state = QUEUED;
    pthread_cond_broadcast(&o->cond);
    pthread_mutex_unlock(&o->lock);
    return 0;
}

bool offload_busy(struct offload *o)
{
    pthread_mutex_lock(&o->lock);
    bool busy = o->state != IDLE;
    pthread_mutex_unlock(&o->lock);
    return busy;
}

void offload_wait(struct offload *o)
{
    pthread_mutex_lock(&o->lock);
    while (o->state == QUEUED || o->state == RUNNING)
        pthread_cond_wait(&o->cond, &o->lock);
    pthread_mutex_unlock(&o->lock);
    complete(o); /* the eventfd's wake-up then finds nothing to do */
}

void offload_free(struct offload *o)
{
    if (o == NULL)
        return;
    offload_wait(o);
    pthread_mutex_lock(&o->lock);
    o->quit = true;
    pthread_cond_broadcast(&o->cond);
    pthread_mutex_unlock(&o->lock);
    pthread_join(o->thread, NULL);
    event_free(o->ev);
    close(o->efd);
    pthread_cond_destroy(&o->cond);
    pthread_mutex_destroy(&o->lock);
    free(o);
}
