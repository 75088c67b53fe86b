/*
 * http: HTTP/1.1 (RFC 9110/9112) as a connection handler (conn.h): GET and
 * HEAD of the files under the served directory, with conditional requests,
 * one byte range, keep-alive and pipelining, directory indexes and
 * redirects. docs/HTTP.md says what it does and why, choice by choice.
 *
 * Timing: a new connection must send its whole head within
 * --header-timeout of accept; a kept-alive one may stay idle, without a
 * byte, for --keepalive-timeout (then it is closed silently), and its next
 * head must be whole within --header-timeout of its first byte. One
 * deadline per head, never an idle timer that each byte resets: a client
 * trickling bytes (slowloris) gets 408 at the deadline.
 */
#ifndef FERRY_HTTP_H
#define FERRY_HTTP_H

#include "worker/conn.h"

#include <stdbool.h>
#include <stddef.h>

/* --redirect /from=/to: a moved file. */
struct http_redirect {
    const char *from; /* a decoded path, "/old.txt" */
    const char *to;   /* the Location, as given */
};

#define HTTP_REDIRECTS_MAX 64

/* What every HTTP connection of a process shares. */
struct http_config {
    int header_timeout_ms;
    int keepalive_timeout_ms;
    unsigned keepalive_requests; /* requests on one connection, at most */
    bool autoindex;              /* list directories without an index.html */
    const struct http_redirect *redirects;
    size_t nredirects;
};

extern const struct conn_handler http_handler;

#endif
