/*
 * list: `ferry ls`: the LIST exchange, and the listing printed as a table
 * for people or as JSON for scripts.
 */
#ifndef FERRY_CLIENT_LIST_H
#define FERRY_CLIENT_LIST_H

#include "common/wire.h"
#include "contrib/client/client.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct list_entry {
    uint16_t name_len;
    char name[WIRE_NAME_MAX + 1]; /* NUL-terminated too, but may hold NULs */
    uint64_t size;
    int64_t mtime; /* Unix seconds */
};

/* The listing, in the server's order (by name). */
struct list {
    struct list_entry *v;
    size_t n, cap;
};

/*
 * Asks the server of o for its listing. Returns EX_OK with l filled (free
 * it with list_free()), or an exit code with e set (l empty): a server
 * that predates LIST is EX_STATUS + BAD_REQUEST. Records of kinds other
 * than a regular file are skipped: this client could not fetch them.
 */
int list_fetch(const struct client_opts *o, struct list *l, struct client_err *e);

/* Prints "SIZE  MODIFIED  NAME" rows: human sizes, local time. */
void list_print_table(const struct list *l, FILE *out);

/* Prints one JSON array of {"name", "size", "mtime"} objects. */
void list_print_json(const struct list *l, FILE *out);

void list_free(struct list *l);

#endif
