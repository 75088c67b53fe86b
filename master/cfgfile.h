/*
 * cfgfile: reads an INI file (libinih) entry by entry, with the line each
 * entry is on, for ferryd's configuration file (docs/CONFIG.md). It knows
 * nothing of what the keys mean: master/config.c does.
 *
 * The syntax is libinih's, as Debian builds it: "key = value" (or
 * "key: value"), "[section]", comments starting a line with ';' or '#',
 * inline comments after " ;", surrounding blanks trimmed (an indented line
 * is an entry of its own: no values over several lines), lines of at most
 * CFGFILE_LINE_MAX - 1 characters, not counting leading blanks and the line
 * end.
 */
#ifndef FERRY_CFGFILE_H
#define FERRY_CFGFILE_H

#define CFGFILE_LINE_MAX 200 /* libinih's INI_MAX_LINE */

/* One entry: its section ("" before the first), key, value and line. */
typedef void (*cfgfile_entry_fn)(void *user, const char *section, const char *key,
                                 const char *value, unsigned line);

/*
 * Reads path, calling fn for each entry in order. Returns 0; -errno when
 * the file cannot be opened or read; or -EINVAL when a line is neither an
 * entry, a section, a comment nor blank (or is too long, or holds a NUL
 * byte), *bad_line then
 * saying the first such line (the entries elsewhere were still passed on).
 */
int cfgfile_read(const char *path, cfgfile_entry_fn fn, void *user, unsigned *bad_line);

#endif
