/*
 * notify: tells the service manager how the service is doing, by
 * systemd's readiness protocol (sd_notify(3)), written by hand so that
 * ferry needs no libsystemd.
 *
 * The manager passes an AF_UNIX datagram socket in $NOTIFY_SOCKET: a
 * path ("/run/systemd/notify") or, with a leading '@', a name in the
 * abstract namespace. Each call sends one datagram of "NAME=VALUE" lines
 * and closes its socket again: nothing is kept open across fork(), and
 * the environment is left as it was (a re-executed master still finds
 * the socket). Without $NOTIFY_SOCKET every call does nothing and
 * returns 0, so a caller needs no test of its own. Nothing here logs:
 * every function returns 0 or a negative errno for its caller to report.
 *
 * With Type=notify and the default NotifyAccess=main, systemd only
 * listens to the main process: call these from the master alone.
 */
#ifndef FERRY_NOTIFY_H
#define FERRY_NOTIFY_H

#include <stdbool.h>
#include <sys/types.h>

/* The longest datagram sent; a longer STATUS= text is cut to fit. */
#define NOTIFY_MAX 1024

/* True when $NOTIFY_SOCKET is set (and not empty): a manager listens. */
bool notify_enabled(void);

/*
 * Sends state, one or more "NAME=VALUE" lines joined by '\n' ("READY=1",
 * "READY=1\nSTATUS=serving"), as one datagram to $NOTIFY_SOCKET. Returns
 * 0 when it was sent or when $NOTIFY_SOCKET is unset or empty;
 * -EAFNOSUPPORT when the address is neither a path nor '@'NAME,
 * -EINVAL for a bare '@', -ENAMETOOLONG when it does not fit a socket
 * address, -EMSGSIZE for a state over NOTIFY_MAX bytes, -EAGAIN when the
 * manager's queue stayed full for a second, or the -errno of socket(2)
 * or sendmsg(2) (-ENOENT, -ECONNREFUSED: nobody listens there).
 */
int notify_send(const char *state);

/* "READY=1": start-up is complete (listeners bound, pool up), or a
 * reload announced by notify_reloading() is done. As notify_send(). */
int notify_ready(void);

/* "RELOADING=1" with "MONOTONIC_USEC=" now (CLOCK_MONOTONIC, which
 * Type=notify-reload requires and Type=notify ignores): a reload began;
 * send notify_ready() once it is over, whatever its outcome. As
 * notify_send(). */
int notify_reloading(void);

/* "STOPPING=1": a shutdown began. As notify_send(). */
int notify_stopping(void);

/* "STATUS=" and the text (printf format), shown by systemctl status.
 * Newlines and other control bytes become spaces, so the text stays one
 * line; a text too long is cut. As notify_send(). */
int notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "MAINPID=pid": pid is now the service's main process (a binary
 * upgrade hands the master's role to its child). Sent by a process
 * other than the main one, systemd takes it only with
 * NotifyAccess=all. As notify_send(); -EINVAL for pid < 1. */
int notify_mainpid(pid_t pid);

#endif
