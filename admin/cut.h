/*
 * cut: text fitted to a terminal's width, for ferryctl: display widths of
 * UTF-8, cuts in the middle with an ellipsis that keep a port or an
 * extension whole, and the cleaning of text that came from the server.
 * The layer both the tables (table.h) and the reports (fmt.h) draw with.
 */
#ifndef FERRY_CUT_H
#define FERRY_CUT_H

#include <stddef.h>
#include <stdio.h>

/* A width meaning "no limit": a pipe, or --wide. */
#define CUT_WIDE 0u

/* A cut cell is never drawn narrower than this (unless its text is):
 * narrower, the ellipsis leaves nothing to recognise. */
#define CUT_MIN 8

/* Returns the display width of the UTF-8 string s: its code points (wide
 * East Asian characters count as one). */
size_t cut_cols(const char *s);

/* Returns the ellipsis that marks a cut: "…" when LC_CTYPE is UTF-8
 * (setlocale() decides), else "..." so that a C-locale terminal shows no
 * mojibake. */
const char *cut_ellipsis(void);

/* What a cut keeps whole at the end of a cell. */
enum cut_keep {
    CUT_KEEP_NONE, /* nothing in particular: the middle goes */
    CUT_KEEP_PORT, /* an address's port: "10.0.…:4242", "[2001:db8…:1]:443" */
    CUT_KEEP_EXT,  /* a file name's extension: "debian-12…VD-1.iso" */
};

/* Writes s into buf cut to at most cols display columns: the middle
 * replaced by the ellipsis, the start and the end kept. Returns buf. */
char *cut_text(const char *s, size_t cols, char *buf, size_t len);

/* Returns the display width of the end of s that a cut of kind keep keeps
 * whole: the port after the last ':' (from the ']' of "[::1]:443"), the
 * extension after the last '.' of the last path component (8 columns at
 * most, not a dot file's), else 0. */
size_t cut_keep_cols(const char *s, enum cut_keep keep);

/* Returns the narrowest that s can be cut to and stay recognisable: 8
 * columns, or 4 before the ellipsis and the end that keep names; s's own
 * width when that is less. */
size_t cut_min(const char *s, enum cut_keep keep);

/* As cut_text(), with the end that keep names whole whenever cols leaves
 * room for it and a column before the ellipsis (cut_min() always
 * does). Returns buf. */
char *cut_keeping(const char *s, size_t cols, enum cut_keep keep, char *buf, size_t len);

/* Prints s cut to cols columns as cut_keeping() cuts it, keeping its
 * end as keep says, however long s is. */
void cut_put(FILE *out, const char *s, size_t cols, enum cut_keep keep);

/* Prints line and a newline, its end replaced by the ellipsis if it is
 * wider than width (CUT_WIDE: never): the last resort, for a width
 * narrower than a table's last column (a few columns). */
void cut_put_line(FILE *out, const char *line, unsigned width);

/* Replaces the control characters in s, which came from the server, with
 * '?' (printed raw they would move the cursor or recolour the terminal).
 * Returns s. */
char *cut_clean(char *s);

#endif
