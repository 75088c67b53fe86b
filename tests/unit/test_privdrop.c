/* Unit tests for master/privdrop: who the serving processes become. As
 * root: the default rule (ferry where that user exists, else nobody with
 * nogroup), a named user and group, root kept on purpose, unknown names
 * refused; as anyone else: only oneself. And the master's reading of a
 * child killed by SIGSYS: logged, counted, the call named. No test here
 * changes this process's identity (the resolution only reads the user and
 * group databases) but in a forked child: the master acting as the serving
 * user for the hub's database, and back. */
#include "master/privdrop.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
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

/* The master's effective capabilities (capget). */
static uint64_t effective_caps(void)
{
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct d[2];

    if (syscall(SYS_capget, &h, d) < 0)
        return 0;
    return d[0].effective | (uint64_t)d[1].effective << 32;
}

/* In the child: acts as nobody, makes a file, comes back. Exit 0 if all
 * was as it should be, else the number of the check that failed. */
static int act_as_serving_body(const char *dir, uid_t uid, gid_t gid)
{
    struct config cfg = {.user = "nobody", .group = "nogroup"};
    char path[256];
    struct stat st;
    uint64_t caps = effective_caps();
    int dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), fd;

    if (privdrop_init(&cfg) != 0 || privdrop_act_as_serving() != 0)
        return 1;
    if (geteuid() != uid || getegid() != gid || getuid() != 0)
        return 2;
    snprintf(path, sizeof(path), "%s/made-as-nobody", dir);
    if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0)
        return 3;
    close(fd);
    if (stat(path, &st) < 0 || st.st_uid != uid || st.st_gid != gid)
        return 4; /* made the hub's, not root's and given away */
    if (open("/etc/shadow", O_RDONLY) >= 0)
        return 5; /* no capability acts meanwhile */
    privdrop_act_as_master();
    if (geteuid() != 0 || getegid() != 0 || effective_caps() != caps)
        return 6;
    if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != dumpable)
        return 7;
    privdrop_act_as_master(); /* a second time: nothing */
    return geteuid() == 0 ? 0 : 8;
}

/* As root: the master's sessions on the hub's database run as the serving
 * user, so a file they make is the hub's from the start; then the master
 * is what it was, capabilities and dumpable flag included. */
static void test_act_as_serving(void **state)
{
    struct ids nobody, nogroup;
    char dir[] = "/tmp/ferry-test-privdrop-XXXXXX", path[256];
    struct group *g;
    pid_t pid;
    int w;

    (void)state;
    if (geteuid() != 0)
        skip();
    nobody = user_ids("nobody");
    assert_non_null(g = getgrnam("nogroup"));
    nogroup.gid = g->gr_gid;
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chmod(dir, 0777), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(act_as_serving_body(dir, nobody.uid, nogroup.gid));
    assert_int_equal(waitpid(pid, &w, 0), pid);
    snprintf(path, sizeof(path), "%s/made-as-nobody", dir);
    unlink(path);
    rmdir(dir);
    assert_true(WIFEXITED(w));
    assert_int_equal(WEXITSTATUS(w), 0);
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
        cmocka_unit_test(test_act_as_serving),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
