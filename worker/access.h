/*
 * access: the access log, one line per answered request of any protocol,
 * in the Combined Log Format (--access-log PATH|-):
 *
 *   127.0.0.1 - - [26/Nov/2026:10:00:00 +0000] "GET /a.txt HTTP/1.1" 200 6 "-" "curl/7.88.1"
 *
 * Times are UTC. Untrusted text (target, Referer, User-Agent) has control
 * bytes, quotes, backslashes and non-ASCII escaped as \xHH, so one request
 * is always one line. Native requests log as "GET name FERRY/1" (FILE for
 * the two-step FILE_REQUEST, LIST for a listing) with the HTTP status code
 * that means the same (NOT_FOUND 404, TOO_LARGE 413, ...; docs/HTTP.md).
 * The file is opened by the master at start (so a bad path fails there)
 * and reopened by every process on SIGUSR1 or reopen-logs.
 */
#ifndef FERRY_ACCESS_H
#define FERRY_ACCESS_H

#include "worker/conn.h"

#include <stddef.h>

/* Opens path for appending ("-": standard output). Returns 0 or -errno. */
int access_open(const char *path);

/* Reopens the file after rotation (same descriptor number). Returns 0 when
 * there is no access log (or it is stdout), 1 when reopened, or -errno. */
int access_reopen(void);

/* Stops logging in this process (a reload dropped the access log); the
 * children forked after it inherit none. */
void access_close(void);

/* The access log's descriptor, or -1: a process that closes descriptors
 * (a fork) keeps this one. */
int access_fd(void);

/* Formats c's request as a Combined Log Format line (newline included)
 * into buf (cap bytes). Returns its length. */
size_t access_format(const struct conn *c, char *buf, size_t cap);

/* Writes c's request to the access log, if there is one. */
void access_write(const struct conn *c);

#endif
