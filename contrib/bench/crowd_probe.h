/*
 * crowd_probe: ferry-crowd's probe, the normal client: sequential GETs for
 * a duration, each on a new connection (sending Connection: close) or on
 * one kept alive, timed from connect (or send) to the body's last byte,
 * the body checked against Content-Length. Also the response-head parsing
 * that ferry-crowd's crowd connections share with it.
 */
#ifndef FERRY_CROWD_PROBE_H
#define FERRY_CROWD_PROBE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#define PROBE_HEAD_MAX 4096 /* a response head, at most */
#define PROBE_REQ_MAX  512
#define PROBE_BUF      (1 << 18)

/* What went wrong with a probe request (probe.err counts them). */
enum probe_err { PE_CONNECT, PE_TIMEOUT, PE_STATUS, PE_SHORT, PE_LONG, PE_IO, PE_N };
/* Their names, for reports. */
extern const char *const probe_err_name[PE_N];

/* The caller fills the first part before starting probe_run() on a thread
 * and reads the rest once done is true (or after joining the thread). */
struct probe {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char req[PROBE_REQ_MAX]; /* the whole request */
    size_t reqlen;
    bool keepalive;                      /* one connection, reopened when closed */
    int64_t duration, interval, timeout; /* ns; timeout: per request */
    int64_t hard_deadline;               /* CLOCK_MONOTONIC ns: nothing runs past it */
    char *buf;                           /* PROBE_BUF bytes of the caller's */
    /* results */
    int64_t *lat; /* nlat latencies in ns, malloc()ed: the caller frees */
    size_t nlat, caplat;
    uint64_t err[PE_N];
    uint64_t retries; /* a kept-alive connection found closed: the request resent once */
    double secs;      /* how long it ran */
    atomic_bool done;
};

/* A response head, parsed. */
struct probe_head {
    int status;
    int64_t clen; /* -1: no Content-Length */
    bool close;   /* Connection: close */
};

/* Returns the status of a "HTTP/1.x NNN" line at p (n bytes), or -1. */
int probe_status(const char *p, size_t n);

/* Parses a NUL-terminated response head (status line to the blank line).
 * Returns 0 with h filled, or -1 for a malformed one. */
int probe_head_parse(const char *head, size_t n, struct probe_head *h);

/* Returns the length of the head (through its blank line) in p, or 0. */
size_t probe_head_end(const char *p, size_t n);

/* The probe thread's function (arg: a struct probe): requests one at a time
 * for duration, one started every interval (back to back when 0 or when
 * one takes longer), errors counted by kind. Sets done last; returns NULL. */
void *probe_run(void *arg);

#endif
