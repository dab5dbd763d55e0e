/* server: start-up and shutdown of the whole daemon: workers, the admin
 * listener and signals, on the main thread's own loop. */
#ifndef HOPCOUNT_SERVER_H
#define HOPCOUNT_SERVER_H

struct conf;

/* Run until SIGTERM or SIGINT. conf is borrowed. Returns the exit status:
 * 0 after a clean stop, 1 when something could not start. */
int server_run(const struct conf *conf);

#endif
