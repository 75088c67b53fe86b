/* Unit tests for master/cfgfile: libinih with line numbers, on real files
 * in a temporary directory: every entry with its section and line, what
 * libinih takes for a comment, CRLF and a last line without its newline,
 * the first bad line (a syntax error, or a line too long) while the other
 * entries still arrive, and files that cannot be read. */
#include "master/cfgfile.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static char dir[64]; /* the suite's temporary directory */

/* What cfgfile_read() passed on, in order. */
struct entry {
    char section[64], key[256], value[256];
    unsigned line;
};

struct entries {
    struct entry e[64];
    unsigned n;
};

static void collect(void *user, const char *section, const char *key, const char *value,
                    unsigned line)
{
    struct entries *es = user;
    struct entry *e;

    assert_true(es->n < sizeof(es->e) / sizeof(es->e[0]));
    e = &es->e[es->n++];
    snprintf(e->section, sizeof(e->section), "%s", section);
    snprintf(e->key, sizeof(e->key), "%s", key);
    snprintf(e->value, sizeof(e->value), "%s", value);
    e->line = line;
}

/* Writes len bytes of text to name in the directory; returns its path
 * (static: until the next call). */
static const char *write_n(const char *name, const char *text, size_t len)
{
    static char path[128];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    return path;
}

static const char *write_file(const char *name, const char *text)
{
    return write_n(name, text, strlen(text));
}

/* Reads text as a file: cfgfile_read()'s result, the entries in *es. */
static int read_text(const char *text, struct entries *es, unsigned *bad)
{
    memset(es, 0, sizeof(*es));
    *bad = 12345; /* cfgfile_read() must set it */
    return cfgfile_read(write_file("t.conf", text), collect, es, bad);
}

static void assert_entry(const struct entries *es, unsigned i, const char *section, const char *key,
                         const char *value, unsigned line)
{
    assert_true(i < es->n);
    assert_string_equal(es->e[i].section, section);
    assert_string_equal(es->e[i].key, key);
    assert_string_equal(es->e[i].value, value);
    assert_int_equal(es->e[i].line, line);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/ferry-cfgfile-XXXXXX");
    return mkdtemp(dir) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Every entry with its section and the line it is on: comments (';', '#'
 * at the start, " ;" inline), blank lines, "key: value", blanks around
 * keys and values, a ';' without a blank before it kept, and a last line
 * without its newline. */
static void test_entries_and_lines(void **state)
{
    struct entries es;
    unsigned bad;

    (void)state;
    assert_int_equal(read_text("; a comment\n"                      /* 1 */
                               "# another\n"                        /* 2 */
                               "\n"                                 /* 3 */
                               "mode = fork\n"                      /* 4 */
                               "workers: 3\n"                       /* 5 */
                               "   \t \n"                           /* 6 */
                               "[listen]\n"                         /* 7 */
                               "http = [::1]:8080 ; inline\n"       /* 8 */
                               "native=127.0.0.1:0\n"               /* 9 */
                               "   ; indented comment\n"            /* 10 */
                               "[access http]   ; the http rules\n" /* 11 */
                               "deny   =   all   \n"                /* 12 */
                               "[redirect]\n"                       /* 13 */
                               "/a = /b;c\n"                        /* 14 */
                               "/q = https://x/y?a=b # not one\n"   /* 15 */
                               "/last = /x",                        /* 16 */
                               &es, &bad),
                     0);
    assert_int_equal(bad, 0);
    assert_int_equal(es.n, 8);
    assert_entry(&es, 0, "", "mode", "fork", 4);
    assert_entry(&es, 1, "", "workers", "3", 5);
    assert_entry(&es, 2, "listen", "http", "[::1]:8080", 8);
    assert_entry(&es, 3, "listen", "native", "127.0.0.1:0", 9);
    assert_entry(&es, 4, "access http", "deny", "all", 12);
    assert_entry(&es, 5, "redirect", "/a", "/b;c", 14);
    assert_entry(&es, 6, "redirect", "/q", "https://x/y?a=b # not one", 15);
    assert_entry(&es, 7, "redirect", "/last", "/x", 16);
}

/* The separator is the first '=' or ':' of the line: the value keeps the
 * rest ("a = b = c"), and an empty value is an entry too. */
static void test_separators(void **state)
{
    struct entries es;
    unsigned bad;

    (void)state;
    assert_int_equal(read_text("a = b = c\n"
                               "http: [::1]:80\n"
                               "empty =\n"
                               "x=y\n",
                               &es, &bad),
                     0);
    assert_int_equal(bad, 0);
    assert_int_equal(es.n, 4);
    assert_entry(&es, 0, "", "a", "b = c", 1);
    assert_entry(&es, 1, "", "http", "[::1]:80", 2);
    assert_entry(&es, 2, "", "empty", "", 3);
    assert_entry(&es, 3, "", "x", "y", 4);
}

/* A file written on Windows: the '\r' is a blank, trimmed, and the lines
 * count the same; a UTF-8 byte order mark is skipped. */
static void test_crlf_and_bom(void **state)
{
    struct entries es;
    unsigned bad;

    (void)state;
    assert_int_equal(read_text("; c\r\n"
                               "a = 1\r\n"
                               "\r\n"
                               "[s]\r\n"
                               "b = two words\r\n",
                               &es, &bad),
                     0);
    assert_int_equal(bad, 0);
    assert_int_equal(es.n, 2);
    assert_entry(&es, 0, "", "a", "1", 2);
    assert_entry(&es, 1, "s", "b", "two words", 5);
    assert_int_equal(read_text("\xef\xbb\xbf"
                               "workers = 1\n",
                               &es, &bad),
                     0);
    assert_int_equal(es.n, 1);
    assert_entry(&es, 0, "", "workers", "1", 1);
}

/* An empty file and one of comments only: nothing, and no error. */
static void test_empty(void **state)
{
    struct entries es;
    unsigned bad;

    (void)state;
    assert_int_equal(read_text("", &es, &bad), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(es.n, 0);
    assert_int_equal(read_text("# only\n;comments\n\n", &es, &bad), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(es.n, 0);
}

/* Lines that are neither an entry, a section, a comment nor blank: the
 * first is *bad_line, and every entry elsewhere still arrives, with its
 * line. A section without its ']' leaves the previous section current. */
static void test_syntax_errors(void **state)
{
    struct entries es;
    unsigned bad;

    (void)state;
    assert_int_equal(read_text("a = 1\n"        /* 1 */
                               "\n"             /* 2 */
                               "not an entry\n" /* 3 */
                               "b = 2\n"        /* 4 */
                               "[broken\n"      /* 5 */
                               "c = 3\n"        /* 6 */
                               "also wrong\n"   /* 7 */
                               "[ok]\n"         /* 8 */
                               "d = 4\n",       /* 9 */
                               &es, &bad),
                     -EINVAL);
    assert_int_equal(bad, 3);
    assert_int_equal(es.n, 4);
    assert_entry(&es, 0, "", "a", "1", 1);
    assert_entry(&es, 1, "", "b", "2", 4);
    assert_entry(&es, 2, "", "c", "3", 6);
    assert_entry(&es, 3, "ok", "d", "4", 9);
    /* The section line alone is wrong, at the end of the file. */
    assert_int_equal(read_text("a = 1\n[x", &es, &bad), -EINVAL);
    assert_int_equal(bad, 2);
    assert_int_equal(es.n, 1);
}

/* A line of more than CFGFILE_LINE_MAX - 1 characters is a bad line: its
 * own number, its rest not taken for a line of its own (not even when the
 * rest looks like an entry), and the lines after it counted and read. */
static void test_long_line(void **state)
{
    char text[2048], pad[400];
    struct entries es;
    unsigned bad;

    (void)state;
    memset(pad, 'x', 300);
    pad[300] = '\0';
    /* Line 3: 300 'x' then "=y": past the buffer, an entry "xx..x = y" if
     * the rest were read as a line. */
    snprintf(text, sizeof(text), "a = 1\n[s]\n%s = y\nb = 2\nc = %s\nd = 4\n", pad, pad);
    assert_int_equal(read_text(text, &es, &bad), -EINVAL);
    assert_int_equal(bad, 3);
    assert_int_equal(es.n, 3);
    assert_entry(&es, 0, "", "a", "1", 1);
    assert_entry(&es, 1, "s", "b", "2", 4);
    assert_entry(&es, 2, "s", "d", "4", 6);
    /* The first bad line wins, whichever kind comes first. */
    snprintf(text, sizeof(text), "oops\nb = %s\nc = 3\n", pad);
    assert_int_equal(read_text(text, &es, &bad), -EINVAL);
    assert_int_equal(bad, 1);
    assert_int_equal(es.n, 1);
    assert_entry(&es, 0, "", "c", "3", 3);
    snprintf(text, sizeof(text), "a = 1\nb = %s\nc = 3\noops\n", pad);
    assert_int_equal(read_text(text, &es, &bad), -EINVAL);
    assert_int_equal(bad, 2);
    assert_int_equal(es.n, 2);
    assert_entry(&es, 1, "", "c", "3", 3);
    /* Long and last, without a newline. */
    snprintf(text, sizeof(text), "a = 1\nb = %s", pad);
    assert_int_equal(read_text(text, &es, &bad), -EINVAL);
    assert_int_equal(bad, 2);
    assert_int_equal(es.n, 1);
    /* 198 characters and the newline fit: no error, the value whole. */
    memset(pad, 'v', 194);
    pad[194] = '\0';
    snprintf(text, sizeof(text), "k = %s\nz = 1\n", pad); /* "k = " + 194 = 198 */
    assert_int_equal(read_text(text, &es, &bad), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(es.n, 2);
    assert_entry(&es, 0, "", "k", pad, 1);
    assert_entry(&es, 1, "", "z", "1", 2);
}

/* cfgfile.h: lines of "at most CFGFILE_LINE_MAX - 1 characters" (199),
 * and config.c's message says "longer than 199 characters": a line of
 * exactly 199 must be read, with or without its newline. */
static void test_line_of_199_characters(void **state)
{
    char text[512], pad[256];
    struct entries es;
    unsigned bad;

    (void)state;
    memset(pad, 'v', 195);
    pad[195] = '\0';
    snprintf(text, sizeof(text), "k = %s\nz = 1\n", pad); /* "k = " + 195 = 199 */
    assert_int_equal(strcspn(text, "\n"), CFGFILE_LINE_MAX - 1);
    assert_int_equal(read_text(text, &es, &bad), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(es.n, 2);
    assert_entry(&es, 0, "", "k", pad, 1);
    assert_entry(&es, 1, "", "z", "1", 2);
    snprintf(text, sizeof(text), "z = 1\nk = %s", pad); /* the last line, no newline */
    assert_int_equal(read_text(text, &es, &bad), 0);
    assert_int_equal(es.n, 2);
    assert_entry(&es, 1, "", "k", pad, 2);
}

/* Leading blanks are dropped: an indented line is an entry of its own,
 * never libinih's continuation of the one before; a line of blanks alone,
 * or of a bare value, is a syntax error where it is. */
static void test_continuation_lines(void **state)
{
    struct entries es;
    unsigned bad;

    (void)state;
    assert_int_equal(read_text("[listen]\n"                /* 1 */
                               "    http = [::1]:8080\n"   /* 2 */
                               "    native = [::1]:9090\n" /* 3 */
                               "  ; comment\n"             /* 4 */
                               "\n"                        /* 5 */
                               "\tafter = blank\n",        /* 6 */
                               &es, &bad),
                     0);
    assert_int_equal(bad, 0);
    assert_int_equal(es.n, 3);
    assert_entry(&es, 0, "listen", "http", "[::1]:8080", 2);
    assert_entry(&es, 1, "listen", "native", "[::1]:9090", 3);
    assert_entry(&es, 2, "listen", "after", "blank", 6);
    assert_int_equal(read_text("[listen]\n"          /* 1 */
                               "http = [::1]:8080\n" /* 2 */
                               "\t8081\n",           /* 3: no key */
                               &es, &bad),
                     -EINVAL);
    assert_int_equal(bad, 3);
    assert_int_equal(es.n, 1);
}

/* Files that cannot be read: -errno, no entry, *bad_line 0. */
static void test_unreadable(void **state)
{
    struct entries es = {0};
    char path[128];
    unsigned bad = 12345;
    int rc;

    (void)state;
    snprintf(path, sizeof(path), "%s/missing.conf", dir);
    assert_int_equal(cfgfile_read(path, collect, &es, &bad), -ENOENT);
    assert_int_equal(bad, 0);
    assert_int_equal(es.n, 0);
    /* A directory opens, and fails at the first read. */
    bad = 12345;
    rc = cfgfile_read(dir, collect, &es, &bad);
    assert_true(rc < 0);
    assert_int_not_equal(rc, -EINVAL); /* no syntax error, a read error */
    assert_int_equal(bad, 0);
    assert_int_equal(es.n, 0);
    /* Through a file where a directory should be. */
    write_file("plain", "a = 1\n");
    snprintf(path, sizeof(path), "%s/plain/x.conf", dir);
    assert_int_equal(cfgfile_read(path, collect, &es, &bad), -ENOTDIR);
    if (geteuid() == 0)
        return; /* root reads a file of mode 000 */
    snprintf(path, sizeof(path), "%s/secret.conf", dir);
    write_file("secret.conf", "a = 1\n");
    assert_int_equal(chmod(path, 0), 0);
    assert_int_equal(cfgfile_read(path, collect, &es, &bad), -EACCES);
    assert_int_equal(es.n, 0);
}

/* A NUL byte inside a line: that line is bad (as cfgfile_gets() cannot
 * tell it from a line too long, *bad_line is its line), but it must not
 * take the next line with it: the lines after it are read and counted. */
static void test_nul_byte(void **state)
{
    static const char text[] = "a = 1\nb = 2\0junk\nc = 3\nd = 4\n";
    struct entries es = {0};
    unsigned bad;
    int rc;

    (void)state;
    rc = cfgfile_read(write_n("nul.conf", text, sizeof(text) - 1), collect, &es, &bad);
    assert_true(rc == 0 || (rc == -EINVAL && bad == 2));
    assert_true(es.n >= 3);
    assert_entry(&es, 0, "", "a", "1", 1);
    assert_entry(&es, es.n - 2, "", "c", "3", 3);
    assert_entry(&es, es.n - 1, "", "d", "4", 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entries_and_lines),
        cmocka_unit_test(test_separators),
        cmocka_unit_test(test_crlf_and_bom),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_long_line),
        cmocka_unit_test(test_line_of_199_characters),
        cmocka_unit_test(test_continuation_lines),
        cmocka_unit_test(test_unreadable),
        cmocka_unit_test(test_nul_byte),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
