/*
 * ctl: ferryctl's command line, socket discovery and output width, apart
 * from its I/O so that the unit tests can drive them.
 */
#ifndef FERRY_CTL_H
#define FERRY_CTL_H

#include "common/adminpath.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Exit codes (documented in ctl_usage() and docs/ADMIN.md). */
enum { CTL_OK = 0, CTL_SERVER_ERROR = 1, CTL_USAGE = 2, CTL_UNREACHABLE = 3 };

/* What a command line asks for, when it is not an error. */
enum ctl_action { CTL_RUN = 0, CTL_HELP = 1, CTL_VERSION = 2 };

/* An option: --name, or -letter; with a value named arg, or a flag. One
 * table per command drives the parser and the usage alike. */
struct ctl_opt {
    const char *name;
    char letter; /* 0: long only */
    const char *arg;
    const char *help;
    int key; /* which one, for the code that applies it */
};

struct ctl_cmd {
    const char *name;
    const char *args;      /* its operands, for the usage ("N|+N|-N"), or "" */
    const char *args_help; /* what they mean, or NULL */
    const char *help;
    const struct ctl_opt *opts; /* ending with {0}; NULL: none */
    /* Adds option o (with its value, or NULL) to req; -1 with err set. */
    int (*option)(json_t *req, const struct ctl_opt *o, const char *val, char *err, size_t errlen);
    /* Adds the n operands to req; -1 with err set. NULL: takes none. */
    int (*operands)(json_t *req, int n, char **v, char *err, size_t errlen);
    bool signed_operand; /* its first operand may start with '-' ("resize -2") */
    void (*print)(FILE *out, json_t *resp, unsigned width);
    bool stream; /* the answer is followed by events, one per line */
    bool live;   /* a refreshing view (top): ferryctl drives the requests */
    unsigned timeout_s; /* how long its answer may take; 0: the default */
};

struct ctl_args {
    const char *socket; /* -s, or NULL */
    bool json;          /* --json: print the server's answer as is */
    bool wide;          /* --wide: full width whatever the terminal */
    const struct ctl_cmd *cmd;
    json_t *req; /* the request to send; the caller frees it */
};

/*
 * Parses argv. Options may come anywhere, before or after the command
 * word, and "--" ends them; the command's own options count only after
 * it. A word starting with '-' right after a command with a signed
 * operand ("resize -2") is that operand unless it is a known option.
 * Returns CTL_RUN (a->req set), CTL_HELP (a->cmd set when help was asked
 * about a command), CTL_VERSION, or -1 with one line in err ("resize:
 * '-x' is not N, +N or -N") and a->cmd set when the problem is the
 * command's. --help wins over errors elsewhere on the line.
 */
int ctl_parse(int argc, char **argv, struct ctl_args *a, char *err, size_t errlen);

/* Prints the whole usage: every option, command, command option and
 * default, where sockets are searched and the exit codes. */
void ctl_usage(FILE *out);

/* Prints cmd's usage: its synopsis, operands and options. */
void ctl_cmd_usage(FILE *out, const struct ctl_cmd *cmd);

/*
 * Finds the admin socket when -s was not given: $FERRY_ADMIN_SOCKET, else
 * ctl_find_socket_in() over the places adminpath's rule gives this user.
 */
int ctl_find_socket(char *buf, size_t len, char *err, size_t errlen);

/*
 * Collects the sockets (PREFIX*.sock) in the n places that this user may
 * open (read and write). Exactly one: returns 0 with its path in buf.
 * None: CTL_UNREACHABLE, err naming where it looked. Several: CTL_USAGE,
 * err listing them (one a line) and how to pick one.
 */
int ctl_find_socket_in(const struct apath_place *places, size_t n, char *buf, size_t len, char *err,
                       size_t errlen);

/*
 * Returns the width to print at (CUT_WIDE: no limit). --wide: no limit;
 * a terminal: its width (tty_cols), else $COLUMNS (columns) if it is a
 * number above 0, else 80; not a terminal: $COLUMNS if set (watch(1) and
 * people set it on purpose), else no limit.
 */
unsigned ctl_width(bool wide, bool tty, unsigned tty_cols, const char *columns);

#endif
