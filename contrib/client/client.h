/*
 * client: what the ferry client's modules share: the exit codes, the
 * options of one command line, and an error that travels up to main() to
 * be printed once, with the file's name when it is about a file.
 */
#ifndef FERRY_CLIENT_H
#define FERRY_CLIENT_H

#include "common/addr.h"

#include <stdbool.h>
#include <stdint.h>

/* Exit codes; documented in usage() and the README. */
enum {
    EX_OK = 0,
    EX_LOCAL = 1, /* local file: exists, cannot create, write failed (disk full) */
    EX_USAGE = 2,
    EX_CONNECT = 3,   /* cannot resolve or connect */
    EX_TOO_LARGE = 4, /* refused: size above MAX_SIZE (also the server's TOO_LARGE) */
    EX_TRANSFER = 5,  /* truncated, timed out, or a malformed answer */
    EX_STATUS = 10,   /* + the server's status: 11 version ... 17 server error, 19 bad offset */
};

#define CLIENT_PORT_LEN 8
#define CLIENT_HUB_KEY  32 /* an Ed25519 public key: a hub's long-term key */

/* One command line, parsed. */
struct client_opts {
    char host[ADDR_HOST_MAX], port[CLIENT_PORT_LEN];
    const char *output;        /* -o; NULL: the current directory */
    uint64_t max_size;         /* MAX_SIZE */
    uint64_t timeout_ms;       /* -t */
    uint64_t rate;             /* --rate, bytes per second; 0: unlimited */
    uint64_t hub_keepalive_ms; /* hub: --hub-keepalive */
    const char *hub_wire;      /* hub: --hub-wire, "secure" or "plain" */
    const char *known_hubs;    /* hub: --known-hubs FILE; NULL: the default */
    bool has_hub_key;          /* hub: --hub-key, in hub_key */
    uint8_t hub_key[CLIENT_HUB_KEY];
    char files_port[CLIENT_PORT_LEN]; /* hub: --files-port; "": the hub's PORT */
    const char *auto_fetch;           /* hub: --auto-fetch DIR; NULL: off */
    bool force, quiet, verbose, resume, many, json;
};

/* An error on its way to main(): the exit code and the message to print. */
struct client_err {
    int code;
    bool about_file; /* the message follows "NAME: " (a server status) */
    char msg[640];
};

/* Records an error in e; returns code, for "return client_fail(...)". */
int client_fail(struct client_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* As client_fail(), for a message that reads after the file's name. */
int client_fail_file(struct client_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Adds to e's message (what became of the file, say), cut if the
 * message is full. */
void client_append(struct client_err *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints e on stderr: "ferry: MSG", or "ferry: NAME: MSG" when it is about
 * the file or always_name is set (--many names every line). */
void client_report(const struct client_err *e, const char *name, bool always_name);

#endif
