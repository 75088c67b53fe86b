/*
 * output: where a downloaded file goes, atomically. A regular file is
 * written into a temporary file beside the target and renamed into place
 * only when every byte is there; on a failure the temporary file is
 * removed. With -c (resume) the temporary file is TARGET.part instead:
 * kept after a failure, resumed from its length next time. stdout, a
 * device or a FIFO (-o /dev/null) is written in place: renaming over it
 * would replace the device itself.
 */
#ifndef FERRY_CLIENT_OUTPUT_H
#define FERRY_CLIENT_OUTPUT_H

#include "contrib/client/client.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

struct output {
    bool to_stdout;
    bool stream; /* stdout, a device or a FIFO: written in place */
    bool resume; /* -c: through path.part, which outlives a failure */
    char path[PATH_MAX];
    char part[PATH_MAX];  /* the temporary file (path.part with -c) once open */
    uint64_t have;        /* -c: the bytes path.part holds */
    bool exists;          /* -c: path is there and no path.part: complete? */
    uint64_t exists_size; /* its size, to ask the server about */
    int fd;
};

/*
 * Decides the target of name before connecting, so that a local problem
 * costs the server nothing: -o (a file, a directory, '-') or ./name;
 * refuses an existing file without -f; with -c measures path.part, and
 * marks an existing regular file without a path.part as exists (only the
 * server can tell whether it is complete). Returns EX_OK, or an exit code
 * with e set.
 */
int out_prepare(const struct client_opts *o, const char *name, struct output *out,
                struct client_err *e);

/* Opens what out_prepare() chose: creates the temporary file, or opens
 * path.part (locked against a second ferry) at its end. Returns EX_OK or
 * EX_LOCAL with e set. */
int out_open(struct output *out, struct client_err *e);

/* Empties path.part to write it from the start (the server cannot
 * resume). Returns EX_OK or EX_LOCAL with e set. */
int out_rewind(struct output *out, struct client_err *e);

/* After a failure: removes the temporary file; keeps path.part, synced,
 * and sets have to the bytes it holds. */
void out_abort(struct output *out);

/* Makes the complete file durable and renames it into place (over an
 * existing one only when force). Returns EX_OK or EX_LOCAL with e set. */
int out_commit(struct output *out, bool force, struct client_err *e);

/* What to call the output in a message: its path, or "stdout". */
const char *out_label(const struct output *out);

/* For a fatal signal's handler: removes the temporary file, if one is
 * open (never a .part); with -c, says once on stderr what the .part keeps,
 * if anything: "ferry: WHY; 31.2 MiB kept in big.bin.part (ferry get -c
 * resumes)", on a line of its own when fresh_line. Async-signal-safe. */
void out_on_signal(const char *why, bool fresh_line);

#endif
