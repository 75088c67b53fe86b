/*
 * hubfile: the files of `ferry hub` (docs/HUB.md, "Files"): postfile#'s
 * upload, a native PUT to the hub's ferryd with the session's token
 * (and, on the secure wire, a MAC under the session's key after the
 * content), and --auto-fetch's download of an announced file, a native
 * GET into DIR, kept only when its SHA-256 is the one announced.
 *
 * Both are blocking, as the rest of the native client is: each read and
 * write is bounded by the options' timeout (30 s without progress).
 */
#ifndef FERRY_CLIENT_HUBFILE_H
#define FERRY_CLIENT_HUBFILE_H

#include "contrib/client/client.h"

#include <stdint.h>

/* The file postfile# names, opened. */
struct hubfile_src {
    int fd;
    uint64_t size;
};

/* Opens path to be uploaded: a regular file we may read (a symbolic
 * link to one is followed; a FIFO is not waited for). Returns EX_OK, or
 * EX_LOCAL with e set. */
int hubfile_open(const char *path, struct hubfile_src *src, struct client_err *e);

/* One upload. */
struct hubfile_put {
    const struct client_opts *o; /* host, the files port, timeout, verbose */
    const char *name;            /* what the file is called at the hub */
    uint32_t token;              /* the hub session's */
    /* The MAC to send after the content, over name, size and its
     * SHA-256; NULL on the plain wire (nothing follows the content).
     * Returns 0 or -errno. */
    int (*mac)(void *ctx, const char *name, uint64_t size, const uint8_t sha256[32],
               uint8_t mac[32]);
    void *ctx;
};

/*
 * Sends src (closed after) as q->name: the PUT's header and name, the
 * content (its SHA-256 computed on the way), the MAC if any, and reads
 * the FILE_RESPONSE, which may come early (a refusal before the
 * content). Returns EX_OK with *status and *size (the stored size, or
 * with TOO_LARGE the limit), or an exit code with e set.
 */
int hubfile_put(const struct hubfile_put *q, struct hubfile_src *src, unsigned *status,
                uint64_t *size, struct client_err *e);

/* What a PUT's refusal means ("the name is taken by a file another user
 * uploaded"), for a message. */
const char *hubfile_put_status(unsigned status);

/*
 * Downloads name from o's host and port into dir with the existing native
 * GET code (a temporary file renamed into place: never a half-written
 * file); asks for at most size bytes and keeps the file only when its
 * SHA-256 is sha256. A file of that name in dir is replaced only when
 * replace says so (the caller fetched it before: a new version); else it
 * is left alone and the fetch fails. Returns EX_OK, or an exit code with
 * e set (nothing kept).
 */
int hubfile_fetch(const struct client_opts *o, const char *dir, const char *name, uint64_t size,
                  const uint8_t sha256[32], bool replace, struct client_err *e);

#endif
