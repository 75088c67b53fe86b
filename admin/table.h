/*
 * table: the aligned tables of ferryctl's human output (the workers, the
 * connections, the listeners), fitted to a width like ps and top. Each
 * column says how it gives way on a short line (struct table_col): it is
 * dropped in its turn, or cut in the middle by fmt's cuts, keeping a port
 * or an extension whole. The caller fills the cells; a table lays itself
 * out when it is printed.
 */
#ifndef FERRY_TABLE_H
#define FERRY_TABLE_H

#include "admin/cut.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* The most columns a table has. */
#define TABLE_COLS_MAX 20

/* How a column gives way on a short line. First the droppable columns
 * that are not tight go, lowest drop first, while the cut columns would
 * be narrower than their soft width; then the tight ones, while the cut
 * columns would be narrower than their narrowest cut (cut_min()); the
 * cut columns share what is left. No other column is ever cut: a number
 * shows whole or not at all. */
struct table_col {
    const char *head;
    bool right;         /* right-aligned: numbers */
    bool standin;       /* shown only once the column before it is dropped */
    bool tight;         /* dropped only when the cut columns cannot narrow further */
    bool hidden;        /* never shown: it tells nothing in this answer */
    unsigned drop;      /* 0: always shown; else its turn to be dropped */
    unsigned floor;     /* narrowest drawn, so that top's columns hold still */
    unsigned soft;      /* 0: never cut; else cut to fit, kept this wide if it can */
    enum cut_keep keep; /* what a cut keeps whole: a port, an extension */
    unsigned gap;       /* spaces before it, when not first: 1 unless set */
};

/* A table: its columns, a header row and a row per entry. */
struct table;

/* Returns a table of n entries with the ncols columns cols (at most
 * TABLE_COLS_MAX; not copied, so they must outlive it) and its header row
 * set, its other cells empty; or NULL when out of memory. */
struct table *table_new(const struct table_col *cols, size_t ncols, size_t n);

/* Frees t and its cells (NULL: nothing). */
void table_free(struct table *t);

/* Sets the cell of entry row (0: the first after the header) and col to
 * the formatted text (its first 511 bytes), its control characters
 * replaced (cut_clean()); out of memory, the cell is left empty. */
__attribute__((format(printf, 4, 5))) void table_set(struct table *t, size_t row, size_t col,
                                                     const char *fmt, ...);

/* Prints t, the header row first, laid out within width display columns
 * (CUT_WIDE: every column, nothing cut). */
void table_print(FILE *out, const struct table *t, unsigned width);

#endif
