/*
 * config: ferryd's command line. One table drives getopt_long, the bounds
 * checks and --help, so they cannot disagree.
 */
#ifndef FERRY_CONFIG_H
#define FERRY_CONFIG_H

#include "common/addr.h"
#include "common/log.h"

#include <stdbool.h>
#include <stddef.h>

enum pool_mode { MODE_ITERATIVE, MODE_FORK, MODE_PREFORK };

struct config {
    enum pool_mode mode;
    unsigned workers; /* prefork: pool size; fork: concurrency limit */
    unsigned max_children;
    unsigned chunk_size;
    unsigned io_timeout;      /* each write */
    unsigned request_timeout; /* the whole request; READY after the response */
    unsigned shutdown_timeout;
    unsigned stall_timeout; /* 0: no watchdog */
    unsigned backlog;
    enum log_level log_level;
    const char *admin_socket; /* NULL: derived from the port */
    const char *admin_group;  /* NULL: none */
    const char *log_file;     /* NULL: stderr */
    const char *address;      /* host or address literal, brackets removed */
    const char *port;
    const char *directory;
    char host[ADDR_HOST_MAX]; /* storage for address */
    char portbuf[12];         /* storage for port, "0".."65535" */
};

/*
 * Fills cfg from argv (options anywhere on the line). Returns 0 to run, 1 when --help or --version
 * was printed (exit 0), or -EINVAL after printing the problem (exit 2).
 */
int cfg_parse(int argc, char **argv, struct config *cfg);

/* Returns the mode's name ("prefork"), or "unknown". */
const char *cfg_mode_name(enum pool_mode mode);

#endif
