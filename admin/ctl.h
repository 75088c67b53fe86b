/*
 * ctl: ferryctl's command line and socket discovery, apart from its I/O so
 * that the unit tests can drive them.
 */
#ifndef FERRY_CTL_H
#define FERRY_CTL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Exit codes (documented in ctl_usage() and docs/ADMIN.md). */
enum { CTL_OK = 0, CTL_SERVER_ERROR = 1, CTL_USAGE = 2, CTL_UNREACHABLE = 3 };

struct ctl_cmd {
    const char *name;
    const char *args;
    const char *help;
    /* Adds the command's arguments to req; -1 with err set on bad usage. */
    int (*build)(int argc, char **argv, json_t *req, char *err, size_t errlen);
    void (*print)(FILE *out, json_t *resp);
    bool stream; /* the answer is followed by events, one per line */
    bool live;   /* a refreshing view (top): ferryctl drives the requests */
};

struct ctl_args {
    const char *socket; /* -s, or NULL */
    bool json;          /* --json: print the server's answer as is */
    const struct ctl_cmd *cmd;
    json_t *req;         /* the request to send; the caller frees it */
    double interval;     /* top: seconds between frames */
    unsigned iterations; /* top: frames before quitting, 0: until 'q' */
};

/*
 * Parses argv. Options stop at the command word, so "resize -2" reaches
 * the command. Returns 0, 1 when help was asked for, or -1 with err set.
 */
int ctl_parse(int argc, char **argv, struct ctl_args *a, char *err, size_t errlen);

/* Prints the usage text: every option, command and exit code. */
void ctl_usage(FILE *out);

/*
 * Finds the admin socket when -s was not given: $FERRY_ADMIN_SOCKET, else
 * the one ferryd-*.sock in the default directory. Returns 0 with buf set,
 * or CTL_USAGE (several) or CTL_UNREACHABLE (none), with err set.
 */
int ctl_find_socket(char *buf, size_t len, char *err, size_t errlen);

#endif
