/*
 * fetch: one download, from request to renamed file. GET first (one round
 * trip, resumable); a server that predates GET answers it BAD_REQUEST, and
 * the session then asks with FILE_REQUEST + READY, for this file and the
 * next ones.
 */
#ifndef FERRY_CLIENT_FETCH_H
#define FERRY_CLIENT_FETCH_H

#include "common/wire.h"
#include "contrib/client/client.h"
#include "contrib/client/progress.h"

#include <stdbool.h>
#include <stdint.h>

/* What a run of downloads from one server shares. */
struct fetch_session {
    const struct client_opts *o;
    enum prog_mode mode; /* how each transfer shows on stderr */
    bool legacy;         /* the server predates GET: FILE_REQUEST + READY */
    /* When set (not with -c): the content's SHA-256 must be this, or the
     * file is not kept (EX_TRANSFER). */
    const uint8_t *sha256;
};

/* Starts a session for o (its progress mode picked from o and stderr). */
void fetch_init(struct fetch_session *s, const struct client_opts *o);

/* Reads and decodes the 11-byte FILE_RESPONSE on fd, saying on stderr
 * what it was with verbose. Returns EX_OK with *resp (of any status), or
 * an exit code with e set (nothing, or not a FILE_RESPONSE, came). */
int fetch_response(int fd, bool verbose, struct wire_response *resp, struct client_err *e);

/*
 * Downloads name into its output (see output.h). With -c, an output that
 * is already there without a .part is asked about instead: complete (the
 * server's size) is EX_OK, said on stderr unless quiet; else refused.
 * Returns EX_OK, or an exit code with e set (with -c, saying what the
 * .part keeps when a later -c can resume it); nothing is printed but the
 * progress display, that line and, with -v, the protocol trace.
 */
int fetch_file(struct fetch_session *s, const char *name, struct client_err *e);

#endif
