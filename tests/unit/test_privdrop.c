/* Unit tests for master/privdrop: who the serving processes become. As
 * root: the default rule (ferry where that user exists, else nobody with
 * nogroup), a named user and group, root kept on purpose, unknown names
 * refused; as anyone else: only oneself. And the master's reading of a
 * child killed by SIGSYS: logged, counted, the call named. No test here
 * changes this process's identity: the resolution only reads the user and
 * group databases. */
#include "master/privdrop.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

static struct privdrop_user who;
static char err[256];

/* The databases' answers live in static storage that the next lookup
 * overwrites: the tests keep copies. */
struct ids {
    uid_t uid;
    gid_t gid;
    char name[64];
};

static struct ids user_ids(const char *name)
{
    struct passwd *pw = getpwnam(name);
    struct ids ids = {0};

    assert_non_null(pw);
    ids.uid = pw->pw_uid;
    ids.gid = pw->pw_gid;
    snprintf(ids.name, sizeof(ids.name), "%s", pw->pw_name);
    return ids;
}

static void test_default_rule_as_root(void **state)
{
    bool has_ferry = getpwnam("ferry") != NULL;
    struct ids user = user_ids(has_ferry ? "ferry" : "nobody");
    struct group *nogroup = getgrnam("nogroup");
    gid_t gid = nogroup != NULL && !has_ferry ? nogroup->gr_gid : user.gid;

    (void)state;
    assert_int_equal(privdrop_resolve(NULL, NULL, 0, 0, &who, err, sizeof(err)), 0);
    assert_true(who.change);
    assert_true(who.by_default);
    /* ferry where this machine has that user, else nobody:nogroup */
    assert_int_equal(who.fallback, !has_ferry);
    assert_string_equal(who.user, user.name);
    assert_int_equal(who.uid, user.uid);
    assert_int_equal(who.gid, gid);
    /* Supplementary groups: the group itself, at least. */
    assert_true(who.ngroups >= 1);
    assert_int_equal(who.groups[0], who.gid);
}

static void test_named_user_and_group(void **state)
{
    struct ids nobody = user_ids("nobody");
    struct group *g = getgrgid(0);
    char root_group[64];

    (void)state;
    assert_non_null(g);
    snprintf(root_group, sizeof(root_group), "%s", g->gr_name);
    assert_int_equal(privdrop_resolve("nobody", NULL, 0, 0, &who, err, sizeof(err)), 0);
    assert_true(who.change);
    assert_false(who.by_default);
    assert_int_equal(who.uid, nobody.uid);
    assert_int_equal(who.gid, nobody.gid); /* the user's primary group */
    /* Group 0 is a way back to root's files: refused, and said why. */
    assert_int_equal(privdrop_resolve("nobody", root_group, 0, 0, &who, err, sizeof(err)), -EPERM);
    assert_non_null(strstr(err, "may not run in group 0"));
}

static void test_root_kept(void **state)
{
    (void)state;
    assert_int_equal(privdrop_resolve("root", NULL, 0, 0, &who, err, sizeof(err)), 0);
    assert_false(who.change);
    assert_int_equal(who.uid, 0);
}

static void test_unknown_names(void **state)
{
    (void)state;
    assert_int_equal(privdrop_resolve("no-such-user-ferrytest", NULL, 0, 0, &who, err, sizeof(err)),
                     -ENOENT);
    assert_string_equal(err, "--user no-such-user-ferrytest: no such user");
    assert_int_equal(
        privdrop_resolve("nobody", "no-such-group-ferrytest", 0, 0, &who, err, sizeof(err)),
        -ENOENT);
    assert_string_equal(err, "--group no-such-group-ferrytest: no such group");
}

/* Not root: no change, and --user may only name oneself. */
static void test_not_root(void **state)
{
    struct ids nobody = user_ids("nobody");

    (void)state;
    assert_int_equal(privdrop_resolve(NULL, NULL, nobody.uid, nobody.gid, &who, err, sizeof(err)),
                     0);
    assert_false(who.change);
    assert_int_equal(who.uid, nobody.uid);
    assert_string_equal(who.user, "nobody");
    assert_int_equal(
        privdrop_resolve("nobody", NULL, nobody.uid, nobody.gid, &who, err, sizeof(err)), 0);
    assert_false(who.change);
    assert_int_equal(privdrop_resolve("root", NULL, nobody.uid, nobody.gid, &who, err, sizeof(err)),
                     -EPERM);
    assert_non_null(strstr(err, "--user root: only root may run the serving processes as"));
    assert_int_equal(privdrop_resolve(NULL, "root", nobody.uid, nobody.gid, &who, err, sizeof(err)),
                     -EPERM);
    assert_non_null(strstr(err, "--group root"));
    /* A uid with no name in the database is no error. */
    assert_int_equal(privdrop_resolve(NULL, NULL, 54321, 54321, &who, err, sizeof(err)), 0);
    assert_string_equal(who.user, "54321");
}

/* A child dead of SIGSYS: a violation, counted, its call named; any other
 * end is not one. */
static void test_reaped(void **state)
{
    struct scoreboard *sb = sb_create(2, 1);
    int slot;

    (void)state;
    assert_non_null(sb);
    slot = sb_claim(sb, SB_KIND_WORKER);
    assert_int_equal(atomic_load(sb_violation(sb, slot)), -1);
    atomic_store(sb_violation(sb, slot), __NR_execve);
    assert_false(privdrop_reaped(sb, slot, 1234, 0, "worker"));              /* exit 0 */
    assert_false(privdrop_reaped(sb, slot, 1234, SIGKILL, "worker"));        /* killed */
    assert_true(privdrop_reaped(sb, slot, 1234, SIGSYS, "worker"));          /* SIGSYS */
    assert_true(privdrop_reaped(sb, slot, 1234, SIGSYS | WCOREFLAG, "hub")); /* and a core */
    assert_int_equal(sb->pool.violations, 2);
    sb_release(sb, slot, SB_EXIT_CRASH);
    slot = sb_claim(sb, SB_KIND_WORKER); /* reset at claim */
    assert_int_equal(atomic_load(sb_violation(sb, slot)), -1);
    sb_destroy(sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_rule_as_root),
        cmocka_unit_test(test_named_user_and_group),
        cmocka_unit_test(test_root_kept),
        cmocka_unit_test(test_unknown_names),
        cmocka_unit_test(test_not_root),
        cmocka_unit_test(test_reaped),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
