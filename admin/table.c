/*
 * table: column fitting for ferryctl's tables. See table.h.
 *
 * Laying a table out measures every column, drops columns in their turn
 * until the cut ones would fit, lets the cut columns share what is left,
 * then prints each row through a memstream so that a line still too long
 * (a width narrower than the last column) is cut at its end.
 */
#include "admin/table.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Room for one cell: a 255-byte file name quoted, and slack. */
#define TABLE_CELL_MAX 512

struct table {
    const struct table_col *cols;
    size_t ncols, nrows; /* rows: the header, then the entries */
    char **cell;         /* nrows * ncols, NULL: empty */
};

struct table *table_new(const struct table_col *cols, size_t ncols, size_t n)
{
    struct table *t = calloc(1, sizeof(*t));

    if (t == NULL || (t->cell = calloc((n + 1) * ncols, sizeof(char *))) == NULL) {
        free(t);
        return NULL;
    }
    t->cols = cols;
    t->ncols = ncols;
    t->nrows = n + 1;
    for (size_t c = 0; c < ncols; c++)
        t->cell[c] = strdup(cols[c].head);
    return t;
}

void table_free(struct table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cell[i]);
    free(t->cell);
    free(t);
}

void table_set(struct table *t, size_t row, size_t col, const char *fmt, ...)
{
    char text[TABLE_CELL_MAX];
    char **cell = &t->cell[(row + 1) * t->ncols + col];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    free(*cell);
    *cell = strdup(cut_clean(text));
}

static const char *table_get(const struct table *t, size_t row, size_t col)
{
    const char *s = t->cell[row * t->ncols + col];
    return s ? s : "";
}

/* The widest text of every column, header included, and its floor; and
 * the narrowest it can be drawn: as wide for a column never cut, the
 * widest of its cells' narrowest cuts for a cut one. */
static void table_measure(const struct table *t, unsigned *nat, unsigned *min)
{
    for (size_t c = 0; c < t->ncols; c++) {
        nat[c] = t->cols[c].floor;
        min[c] = 0;
        for (size_t r = 0; r < t->nrows; r++) {
            const char *s = table_get(t, r, c);
            size_t n = cut_cols(s), m = cut_min(s, t->cols[c].keep);

            nat[c] = n > nat[c] ? (unsigned)n : nat[c];
            min[c] = m > min[c] ? (unsigned)m : min[c];
        }
        if (!t->cols[c].soft)
            min[c] = nat[c];
    }
}

/* The line width with the shown columns at w. */
static size_t table_need(const struct table *t, const unsigned *w, const bool *shown)
{
    size_t need = 0;
    bool first = true;

    for (size_t c = 0; c < t->ncols; c++) {
        if (!shown[c])
            continue;
        need += first ? 0 : t->cols[c].gap ? t->cols[c].gap : 1;
        need += w[c];
        first = false;
    }
    return need;
}

/* Drops the shown column whose turn it is (showing its stand-in), a tight
 * one only if tight. Returns false when none is left to drop. */
static bool table_drop(const struct table *t, bool *shown, bool tight)
{
    size_t victim = t->ncols;

    for (size_t c = 0; c < t->ncols; c++) {
        const struct table_col *col = &t->cols[c];

        if (shown[c] && col->drop > 0 && (tight || !col->tight) &&
            (victim == t->ncols || col->drop < t->cols[victim].drop))
            victim = c;
    }
    if (victim == t->ncols)
        return false;
    shown[victim] = false;
    if (victim + 1 < t->ncols && t->cols[victim + 1].standin && !t->cols[victim + 1].hidden)
        shown[victim + 1] = true;
    return true;
}

/* Shares room among the shown cut columns (their w starting at their
 * narrowest), a column at a time to the narrowest of them: first up to
 * their soft width, then up to their full one, so that a long file name
 * does not starve a short peer. */
static void table_share(const struct table *t, const unsigned *nat, const bool *shown, unsigned *w,
                        size_t room)
{
    for (int pass = 0; pass < 2; pass++) {
        while (room > 0) {
            size_t to = t->ncols;

            for (size_t c = 0; c < t->ncols; c++) {
                unsigned cap = pass == 0 && t->cols[c].soft < nat[c] ? t->cols[c].soft : nat[c];

                if (shown[c] && t->cols[c].soft && w[c] < cap && (to == t->ncols || w[c] < w[to]))
                    to = c;
            }
            if (to == t->ncols)
                break;
            w[to]++;
            room--;
        }
    }
}

/* Lays the table out within width: w[c] is each column's width, 0 for
 * one not shown. Only a width narrower than the last column left leaves
 * a line too long (cut_put_line() cuts it). */
static void table_layout(const struct table *t, unsigned width, unsigned *w)
{
    unsigned nat[TABLE_COLS_MAX], min[TABLE_COLS_MAX], soft[TABLE_COLS_MAX];
    bool shown[TABLE_COLS_MAX];
    size_t need;

    table_measure(t, nat, min);
    for (size_t c = 0; c < t->ncols; c++) {
        shown[c] = !t->cols[c].standin && !t->cols[c].hidden;
        soft[c] = t->cols[c].soft && t->cols[c].soft < nat[c] ? t->cols[c].soft : nat[c];
        soft[c] = soft[c] > min[c] ? soft[c] : min[c];
    }
    while (width != CUT_WIDE && table_need(t, soft, shown) > width && table_drop(t, shown, false))
        ;
    while (width != CUT_WIDE && table_need(t, min, shown) > width && table_drop(t, shown, true))
        ;
    for (size_t c = 0; c < t->ncols; c++)
        w[c] = shown[c] ? nat[c] : 0;
    if (width == CUT_WIDE || table_need(t, w, shown) <= width)
        return;
    for (size_t c = 0; c < t->ncols; c++)
        w[c] = shown[c] ? min[c] : 0;
    need = table_need(t, w, shown);
    table_share(t, nat, shown, w, need < width ? width - need : 0);
}

/* Prints row r laid out at w. */
static void table_row(FILE *out, const struct table *t, size_t r, const unsigned *w, unsigned width)
{
    char *line = NULL;
    size_t len = 0, last = t->ncols;
    FILE *m = open_memstream(&line, &len);
    bool first = true;

    if (m == NULL)
        return;
    for (size_t c = 0; c < t->ncols; c++)
        last = w[c] ? c : last;
    for (size_t c = 0; c < t->ncols; c++) {
        const char *s = table_get(t, r, c);
        size_t n = cut_cols(s);
        unsigned pad = n < w[c] ? w[c] - (unsigned)n : 0;

        if (w[c] == 0)
            continue;
        if (!first)
            fprintf(m, "%*s", (int)(t->cols[c].gap ? t->cols[c].gap : 1), "");
        if (t->cols[c].right)
            fprintf(m, "%*s", (int)pad, "");
        cut_put(m, s, w[c], t->cols[c].keep);
        if (!t->cols[c].right && c != last)
            fprintf(m, "%*s", (int)pad, "");
        first = false;
    }
    fclose(m);
    cut_put_line(out, line, width);
    free(line);
}

void table_print(FILE *out, const struct table *t, unsigned width)
{
    /* Zeroed only for gcc, which cannot see that the layout sets every
     * column it reads. */
    unsigned w[TABLE_COLS_MAX] = {0};

    table_layout(t, width, w);
    for (size_t r = 0; r < t->nrows; r++)
        table_row(out, t, r, w, width);
}
