/* server: start-up and shutdown of the whole daemon: workers, the admin
 * listener and signals, on the main thread's own loop. */
#ifndef HOPCOUNT_SERVER_H
#define HOPCOUNT_SERVER_H

struct conf;
struct priv;

/* Run until SIGTERM or SIGINT: bind, switch user as priv says, start the
 * workers. SIGHUP reloads conf->path into conf (borrowed; its live keys
 * change), SIGUSR1 reopens the log file. Returns the exit status: 0 after a
 * clean stop, 1 when something could not start. */
int server_run(struct conf *conf, const struct priv *priv);

#endif
