/* Unit tests for worker/tree: paths opened beneath the root with no
 * symbolic link followed anywhere, through openat2() and through the
 * O_NOFOLLOW walk used where openat2() is missing (both, the same
 * answers); special files refused unopened; hidden names (a component
 * beginning with '.') missing unless TREE_HIDDEN, an upload's temporary
 * file always; listings sorted and filtered. */
#include "worker/tree.h"

#include <errno.h>
#include <fcntl.h>
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

static char root[64];
static int rootfd = -1;

static void make(const char *rel, const char *text)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", root, rel);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void make_dir(const char *rel)
{
    char path[256];

    snprintf(path, sizeof(path), "%s/%s", root, rel);
    assert_int_equal(mkdir(path, 0755), 0);
}

static int setup(void **state)
{
    char path[256];

    (void)state;
    snprintf(root, sizeof(root), "/tmp/ferry-tree-XXXXXX");
    assert_non_null(mkdtemp(root));
    snprintf(path, sizeof(path), "%s/a", root);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/a/b", root);
    assert_int_equal(mkdir(path, 0755), 0);
    make("a/b/ref.html", "ref");
    make("top.txt", "top");
    make(".hidden", "h");
    make(".env", "SECRET=1\n");
    make_dir(".git");
    make(".git/config", "[core]\n");
    make_dir("a/.hidden");
    make("a/.hidden/b", "b");
    make(".ferry-put-0123456789abcdef", "half an upload"); /* TREE_OWN_PREFIX */
    make_dir(".ferry-put-dir");
    make(".ferry-put-dir/f", "f");
    snprintf(path, sizeof(path), "%s/.lnk", root);
    assert_int_equal(symlink("top.txt", path), 0);
    snprintf(path, sizeof(path), "%s/.fifo", root);
    assert_int_equal(mkfifo(path, 0644), 0);
    snprintf(path, sizeof(path), "%s/link", root); /* a directory link inside the root */
    assert_int_equal(symlink("a", path), 0);
    snprintf(path, sizeof(path), "%s/out", root); /* and one leaving it */
    assert_int_equal(symlink("/etc", path), 0);
    snprintf(path, sizeof(path), "%s/a/fifo", root);
    assert_int_equal(mkfifo(path, 0644), 0);
    rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    assert_true(rootfd >= 0);
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];

    (void)state;
    close(rootfd);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
    return system(cmd) == 0 ? 0 : -1;
}

/* tree_open(path, flags): the descriptor (checked and closed) or -errno. */
static int open_rc(const char *path, unsigned flags)
{
    struct stat st;
    int fd = tree_open(rootfd, path, flags, &st);

    if (fd >= 0) {
        assert_true(S_ISREG(st.st_mode));
        close(fd);
        return 0;
    }
    return fd;
}

/* The same answers through openat2() and through the walk. */
static void test_open_both_ways(void **state)
{
    static const struct {
        const char *path;
        int rc;
    } cases[] = {
        {"top.txt", 0},
        {"a/b/ref.html", 0},
        {"a/b", -EISDIR},
        {"", -EISDIR},
        {"link/b/ref.html", -ELOOP}, /* a link mid-path */
        {"out/passwd", -ELOOP},
        {"link", -ELOOP},
        {"a/fifo", -ENXIO},
        {"a/../top.txt", -EINVAL},
        {"./top.txt", -EINVAL},
        {"a//b/ref.html", -EINVAL},
        {"nope", -ENOENT},
        {"a/nope/x", -ENOENT},
        {"top.txt/x", -ENOTDIR},
    };

    (void)state;
    for (int walk = 0; walk < 2; walk++) {
        tree_force_walk(walk);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            int rc = open_rc(cases[i].path, 0);

            if (rc != cases[i].rc)
                fail_msg("%s (%s): %d, wanted %d", cases[i].path, walk ? "walk" : "openat2", rc,
                         cases[i].rc);
        }
    }
    tree_force_walk(false);
}

/* Hidden names, through openat2() and through the walk: without
 * TREE_HIDDEN a component beginning with '.' anywhere is -ENOENT, judged
 * by its name before anything is looked at (a directory, a link, a FIFO
 * or nothing at all: the same answer); with it, what the entry is; an
 * upload's temporary file is -ENOENT either way. */
static void test_open_hidden(void **state)
{
    static const struct {
        const char *path;
        int rc, rc_hidden; /* without flags, with TREE_HIDDEN */
    } cases[] = {
        {".env", -ENOENT, 0},
        {".git/config", -ENOENT, 0},
        {".git", -ENOENT, -EISDIR}, /* so no redirect to "/.git/" either */
        {"a/.hidden/b", -ENOENT, 0},
        {"a/.hidden", -ENOENT, -EISDIR},
        {".hidden", -ENOENT, 0},
        {".nope", -ENOENT, -ENOENT},
        {".git/nope/x", -ENOENT, -ENOENT},
        {".lnk", -ENOENT, -ELOOP},
        {".fifo", -ENOENT, -ENXIO},
        {".env/x", -ENOENT, -ENOTDIR},
        {".ferry-put-0123456789abcdef", -ENOENT, -ENOENT},
        {".ferry-put-dir/f", -ENOENT, -ENOENT},
        {"a/./.env", -EINVAL, -EINVAL},
        {"top.txt", 0, 0},
        {"a/b/ref.html", 0, 0},
    };

    (void)state;
    for (int walk = 0; walk < 2; walk++) {
        tree_force_walk(walk);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            int rc = open_rc(cases[i].path, 0), rc_hidden = open_rc(cases[i].path, TREE_HIDDEN);

            if (rc != cases[i].rc || rc_hidden != cases[i].rc_hidden)
                fail_msg("%s (%s): %d and %d, wanted %d and %d", cases[i].path,
                         walk ? "walk" : "openat2", rc, rc_hidden, cases[i].rc, cases[i].rc_hidden);
        }
    }
    tree_force_walk(false);
}

/* With TREE_HIDDEN, a dot-file is opened like any other: its bytes. */
static void test_open_hidden_content(void **state)
{
    struct stat st;
    char buf[32] = "";
    int fd = tree_open(rootfd, ".env", TREE_HIDDEN, &st);

    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(st.st_size, 9);
    assert_int_equal(read(fd, buf, sizeof(buf) - 1), 9);
    assert_string_equal(buf, "SECRET=1\n");
    close(fd);
}

static void test_why(void **state)
{
    (void)state;
    assert_int_equal(tree_why(ENOENT), TREE_WHY_NOT_FOUND);
    assert_int_equal(tree_why(ELOOP), TREE_WHY_LINK);
    assert_int_equal(tree_why(ENXIO), TREE_WHY_SPECIAL);
    assert_int_equal(tree_why(EACCES), TREE_WHY_DENIED);
    assert_int_equal(tree_why(EIO), TREE_WHY_FAILED);
}

static void test_list(void **state)
{
    struct tree_list l;

    (void)state;
    assert_int_equal(tree_list(rootfd, "", TREE_FILES_NATIVE, 0, &l), 0);
    assert_int_equal(l.n, 1); /* regular files, no hidden one */
    assert_string_equal(l.v[0].name, "top.txt");
    assert_int_equal(l.v[0].size, 3);
    tree_list_free(&l);
    assert_int_equal(tree_list(rootfd, "a", TREE_FILES_DIRS, 0, &l), 0);
    assert_int_equal(l.n, 1); /* b/, not the FIFO, not .hidden/ */
    assert_string_equal(l.v[0].name, "b");
    assert_true(l.v[0].dir);
    tree_list_free(&l);
    assert_int_equal(tree_list(rootfd, "link", TREE_FILES_DIRS, 0, &l), -ELOOP);
}

/* The names of a listing, joined by spaces ("" for an error: its rc). */
static int list_names(const char *path, enum tree_filter filter, unsigned flags, char *out,
                      size_t cap)
{
    struct tree_list l;
    int rc = tree_list(rootfd, path, filter, flags, &l);
    size_t len = 0;

    out[0] = '\0';
    for (size_t i = 0; rc == 0 && i < l.n; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? " " : "", l.v[i].name);
    tree_list_free(&l);
    return rc;
}

/* Listings leave hidden names out unless TREE_HIDDEN, an upload's
 * temporary file always; a hidden directory cannot be listed at all
 * (-ENOENT), whichever way its path is resolved. */
static void test_list_hidden(void **state)
{
    static const struct {
        const char *path;
        enum tree_filter filter;
        unsigned flags;
        int rc;
        const char *names;
    } cases[] = {
        {"", TREE_FILES_NATIVE, 0, 0, "top.txt"},
        {"", TREE_FILES_NATIVE, TREE_HIDDEN, 0, ".env .hidden top.txt"},
        {"", TREE_FILES_DIRS, 0, 0, "a top.txt"},
        {"", TREE_FILES_DIRS, TREE_HIDDEN, 0, ".env .git .hidden a top.txt"},
        {"a", TREE_FILES_DIRS, 0, 0, "b"},
        {"a", TREE_FILES_DIRS, TREE_HIDDEN, 0, ".hidden b"},
        {".git", TREE_FILES_DIRS, 0, -ENOENT, ""},
        {".git", TREE_FILES_DIRS, TREE_HIDDEN, 0, "config"},
        {"a/.hidden", TREE_FILES_DIRS, 0, -ENOENT, ""},
        {"a/.hidden", TREE_FILES_DIRS, TREE_HIDDEN, 0, "b"},
        {".ferry-put-dir", TREE_FILES_DIRS, TREE_HIDDEN, -ENOENT, ""},
    };
    char names[256];

    (void)state;
    for (int walk = 0; walk < 2; walk++) {
        tree_force_walk(walk);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            int rc =
                list_names(cases[i].path, cases[i].filter, cases[i].flags, names, sizeof(names));

            if (rc != cases[i].rc || strcmp(names, cases[i].names) != 0)
                fail_msg("list \"%s\" filter %d flags %u (%s): %d \"%s\", wanted %d \"%s\"",
                         cases[i].path, cases[i].filter, cases[i].flags, walk ? "walk" : "openat2",
                         rc, names, cases[i].rc, cases[i].names);
        }
    }
    tree_force_walk(false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_both_ways),
        cmocka_unit_test(test_open_hidden),
        cmocka_unit_test(test_open_hidden_content),
        cmocka_unit_test(test_why),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_list_hidden),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
