/* Unit tests for worker/tree: paths opened beneath the root with no
 * symbolic link followed anywhere, through openat2() and through the
 * O_NOFOLLOW walk used where openat2() is missing (both, the same
 * answers); special files refused unopened; listings sorted and
 * filtered. */
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

/* tree_open(path): the descriptor (checked and closed) or -errno. */
static int open_rc(const char *path)
{
    struct stat st;
    int fd = tree_open(rootfd, path, &st);

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
            int rc = open_rc(cases[i].path);

            if (rc != cases[i].rc)
                fail_msg("%s (%s): %d, wanted %d", cases[i].path, walk ? "walk" : "openat2", rc,
                         cases[i].rc);
        }
    }
    tree_force_walk(false);
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
    assert_int_equal(tree_list(rootfd, "", TREE_FILES_NATIVE, &l), 0);
    /* Regular files whose names are valid: .hidden is a valid name. */
    assert_int_equal(l.n, 2);
    assert_string_equal(l.v[0].name, ".hidden");
    assert_string_equal(l.v[1].name, "top.txt");
    assert_int_equal(l.v[1].size, 3);
    tree_list_free(&l);
    assert_int_equal(tree_list(rootfd, "a", TREE_FILES_DIRS, &l), 0);
    assert_int_equal(l.n, 1); /* b/, not the FIFO */
    assert_string_equal(l.v[0].name, "b");
    assert_true(l.v[0].dir);
    tree_list_free(&l);
    assert_int_equal(tree_list(rootfd, "link", TREE_FILES_DIRS, &l), -ELOOP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_both_ways),
        cmocka_unit_test(test_why),
        cmocka_unit_test(test_list),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
