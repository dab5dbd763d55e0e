/* rconn: one asynchronous Redis connection on a libevent loop, with its own
 * connect and per-command timers (hiredis 0.14 has none), a handshake (AUTH,
 * SELECT, PING) and reconnection with capped exponential backoff. */
#ifndef HOPCOUNT_RCONN_H
#define HOPCOUNT_RCONN_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct redisReply;
struct conf;
struct rconn;

/* Connection states. */
enum rconn_state {
    RCONN_DOWN = 0,       /* no connection; a reconnect timer is armed */
    RCONN_CONNECTING = 1, /* TCP/unix connect or handshake in progress */
    RCONN_READY = 2,      /* handshake answered; commands are accepted */
    RCONN_CLOSED = 3,     /* rconn_close called: never reconnects */
};

/* A command's completion: reply is borrowed and dies when this returns; it is
 * NULL when the command failed for any reason (timeout, disconnect, close).
 * Runs exactly once for every command rconn_command accepted. */
typedef void rconn_reply_fn(struct rconn *rc, struct redisReply *reply, void *arg);

/* A state change: called on every transition into READY, and into DOWN
 * from READY (attempts that fail before READY are retried quietly). */
typedef void rconn_state_fn(struct rconn *rc, enum rconn_state state, void *arg);

/* A published message on the subscribed channel; msg is borrowed. */
typedef void rconn_message_fn(struct rconn *rc, const char *msg, size_t len, void *arg);

/* A connection to the Redis named in conf (borrowed; must outlive it), for
 * use on base's thread only. `name` labels log lines. Starts connecting at
 * once. on_state may be NULL. */
struct rconn *rconn_new(struct event_base *base, const struct conf *conf,
                        const char *name, rconn_state_fn *on_state, void *arg);

/* Where the next connect goes: fill *host (borrowed until the connect
 * returns) and *port, or return -1 when no address is known yet (the attempt
 * then fails and is retried with backoff). */
typedef int rconn_addr_fn(void *arg, const char **host, int *port);

/* A connection whose address is asked of fn before every connect (a cluster
 * node, the primary a sentinel names, a subscriber that moves between
 * nodes), not read from conf. Same otherwise as rconn_new. */
struct rconn *rconn_new_at(struct event_base *base, const struct conf *conf,
                           const char *name, rconn_addr_fn *addr, void *addr_arg,
                           rconn_state_fn *on_state, void *arg);

/* After every connect, before READY: ask ROLE and refuse (drop, retry) a
 * server that is not a primary (sentinel mode: never write to a replica). */
void rconn_require_primary(struct rconn *rc);

/* No AUTH, no SELECT in the handshake (a sentinel has neither). */
void rconn_plain(struct rconn *rc);

/* Make this a subscriber connection: after every handshake it SUBSCRIBEs to
 * channel (copied) and hands each message to fn. Call before the first
 * READY (right after rconn_new). A subscriber takes no other commands. */
void rconn_subscribe(struct rconn *rc, const char *channel, rconn_message_fn *fn,
                     void *arg);

/* Send a command in argv form. Returns 0 when accepted (fn will run exactly
 * once), -1 when the connection is not READY (fn never runs). argv and
 * argvlen are copied. */
int rconn_command(struct rconn *rc, rconn_reply_fn *fn, void *arg, int argc,
                  const char **argv, const size_t *argvlen);

/* Send a command already in RESP form (redisFormatCommandArgv), copied.
 * Same contract as rconn_command. */
int rconn_formatted(struct rconn *rc, rconn_reply_fn *fn, void *arg, const char *cmd,
                    size_t len);

bool rconn_ready(const struct rconn *rc);

/* Its address changed: connect again now, dropping the connection it has
 * (up, or being made) or cutting short the backoff it waits out. */
void rconn_restart(struct rconn *rc, const char *why);

/* Counts the READY transitions: a command answered under one epoch and a
 * WAIT under the same epoch went over the same connection. */
unsigned long rconn_epoch(const struct rconn *rc);

/* The label given at creation. */
const char *rconn_name(const struct rconn *rc);

/* Fail every pending command (NULL replies), close and stop reconnecting.
 * Must not be called from inside one of this connection's callbacks. */
void rconn_close(struct rconn *rc);

/* Close (if not closed) and free. rconn_free(NULL) does nothing. */
void rconn_free(struct rconn *rc);

#endif
