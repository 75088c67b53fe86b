/*
 * svc: what the small TCP services (echo.c, daytime.c, lottery.c) share
 * as connection handlers (conn.h).
 *
 * A service's connection is one session, and the session is one request
 * in the logs and on the scoreboard: method "ECHO", "DAYTIME"...,
 * answered OK at the first exchange, reported once at close with every
 * byte the service sent. Between exchanges the session waits for its
 * client, idle (the scoreboard's keep-alive state: no watchdog, and a
 * stop closes it), for at most --io-timeout.
 */
#ifndef FERRY_SVC_H
#define FERRY_SVC_H

#include "worker/conn.h"

/* A session begins: its method for the logs, and the wait for the
 * client's first bytes (--io-timeout from accept). */
void svc_start(struct conn *c, const char *method);

/* Bytes of an answer are queued: the first time, the session counts as
 * answered (OK); the scoreboard shows it sending. Returns CONN_WRITE. */
enum conn_wait svc_sending(struct conn *c);

/* Everything queued was sent: waits, idle, for the client's next bytes.
 * Returns CONN_READ, or CONN_DONE when the client has closed. */
enum conn_wait svc_idle(struct conn *c, int64_t now);

/* The session ends with what is queued (maybe nothing), for why (NULL:
 * the client asked): the FIN follows the last answer, and bytes still
 * arriving are drained, not answered with a reset. Returns CONN_WRITE or
 * CONN_DONE. */
enum conn_wait svc_last(struct conn *c, const char *why);

/* The handlers' expired and busy callbacks: the client was silent for
 * --io-timeout; over --max-conn-per-ip, closed at once. */
enum conn_wait svc_expired(struct conn *c, int64_t now);
enum conn_wait svc_busy(struct conn *c, int64_t now);

#endif
