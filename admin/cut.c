/*
 * cut: display widths and cuts of text. See cut.h.
 */
#include "admin/cut.h"

#include <langinfo.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* A cut that keeps a port or an extension leaves no fewer columns than this
 * before the ellipsis: "127.…:40900", "STAR….iso". */
#define CUT_HEAD 4

/* The longest end a cut keeps as an extension (".torrent"): a longer one
 * is a dot within a name, not an extension. */
#define CUT_EXT_MAX 8

size_t cut_cols(const char *s)
{
    size_t n = 0;

    for (; *s != '\0'; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80; /* not a continuation byte */
    return n;
}

/* Returns s advanced by n code points, or its end. */
static const char *cut_skip(const char *s, size_t n)
{
    for (; *s != '\0'; s++) {
        if (((unsigned char)*s & 0xC0) == 0x80)
            continue;
        if (n == 0)
            break;
        n--;
    }
    return s;
}

const char *cut_ellipsis(void)
{
    const char *cs = nl_langinfo(CODESET);

    return strcmp(cs, "UTF-8") == 0 || strcmp(cs, "utf8") == 0 ? "\u2026" : "...";
}

size_t cut_keep_cols(const char *s, enum cut_keep keep)
{
    const char *base, *at;

    if (keep == CUT_KEEP_PORT) {
        at = strrchr(s, ':');
        if (at == NULL || at[1] == '\0' || at[strspn(at + 1, "0123456789") + 1] != '\0')
            return 0;
        return cut_cols(at > s && at[-1] == ']' ? at - 1 : at); /* "[::1]:443": from ']' */
    }
    if (keep == CUT_KEEP_EXT) {
        base = strrchr(s, '/') ? strrchr(s, '/') + 1 : s;
        at = strrchr(base, '.');
        if (at == NULL || at == base || at[1] == '\0' || cut_cols(at) > CUT_EXT_MAX)
            return 0; /* a dot file, or a dot that starts no extension */
        return cut_cols(at);
    }
    return 0;
}

size_t cut_min(const char *s, enum cut_keep keep)
{
    size_t n = cut_cols(s), k = cut_keep_cols(s, keep), m = CUT_MIN;

    if (k > 0 && CUT_HEAD + cut_cols(cut_ellipsis()) + k > m)
        m = CUT_HEAD + cut_cols(cut_ellipsis()) + k;
    return n < m ? n : m;
}

/* Plans the cut of s to cols columns: the first *head bytes, *ell, then s
 * from *tail, which holds the end that keep names when there is room for
 * it and something before it. Returns false when s fits as it is. */
static bool cut_split(const char *s, size_t cols, enum cut_keep keep, size_t *head,
                      const char **ell, const char **tail)
{
    size_t n = cut_cols(s), ew, room, back, k;

    if (n <= cols)
        return false;
    *ell = cut_ellipsis();
    ew = cut_cols(*ell);
    if (cols <= ew) { /* no room for the mark: only the start */
        *head = (size_t)(cut_skip(s, cols) - s);
        *ell = *tail = "";
        return true;
    }
    room = cols - ew;
    back = room / 2;
    k = cut_keep_cols(s, keep);
    if (k > back && k < room)
        back = k;
    *head = (size_t)(cut_skip(s, room - back) - s);
    *tail = cut_skip(s, n - back);
    return true;
}

char *cut_keeping(const char *s, size_t cols, enum cut_keep keep, char *buf, size_t len)
{
    const char *ell, *tail;
    size_t head;

    if (cut_split(s, cols, keep, &head, &ell, &tail))
        snprintf(buf, len, "%.*s%s%s", (int)head, s, ell, tail);
    else
        snprintf(buf, len, "%s", s);
    return buf;
}

char *cut_text(const char *s, size_t cols, char *buf, size_t len)
{
    return cut_keeping(s, cols, CUT_KEEP_NONE, buf, len);
}

void cut_put(FILE *out, const char *s, size_t cols, enum cut_keep keep)
{
    const char *ell, *tail;
    size_t head;

    if (!cut_split(s, cols, keep, &head, &ell, &tail)) {
        fputs(s, out);
        return;
    }
    fwrite(s, 1, head, out);
    fputs(ell, out);
    fputs(tail, out);
}

void cut_put_line(FILE *out, const char *line, unsigned width)
{
    const char *ell = cut_ellipsis();
    size_t ew = cut_cols(ell);

    if (width == CUT_WIDE || cut_cols(line) <= width) {
        fputs(line, out);
    } else if (width <= ew) {
        fwrite(line, 1, (size_t)(cut_skip(line, width) - line), out);
    } else {
        fwrite(line, 1, (size_t)(cut_skip(line, width - ew) - line), out);
        fputs(ell, out);
    }
    fputc('\n', out);
}

char *cut_clean(char *s)
{
    for (char *p = s; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    }
    return s;
}
