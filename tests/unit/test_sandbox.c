/* Unit tests for worker/sandbox: in forked children, the seccomp
 * allow-list lets an allowed call through and kills a forbidden one with
 * SIGSYS, its number recorded where the master reads it; arguments are
 * checked (kill only iterative mode's, to the master; clone only a thread, no executable
 * memory); Landlock lets a file beneath the served directory be opened and
 * refuses one outside it, and a write beneath it without uploads; the
 * test hook reports a refused open; the helpers' tables. */
#include "worker/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

/* Shared with the children: the slot's violation entry. */
static _Atomic int32_t *violation;
static struct sandbox_status status;
static char tmp[64];
static int rootfd = -1;

/* A temporary tree: root/inside.txt (the served directory) and
 * outside.txt beside it, both world-readable; the sandbox prepared for
 * it, the test process being the master. */
static int setup(void **state)
{
    struct sandbox_plan plan = {.seccomp = true, .master = getpid()};
    char path[128];
    int fd;

    (void)state;
    violation =
        mmap(NULL, sizeof(*violation), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (violation == MAP_FAILED)
        return -1;
    snprintf(tmp, sizeof(tmp), "/tmp/test_sandbox-XXXXXX");
    if (mkdtemp(tmp) == NULL)
        return -1;
    snprintf(path, sizeof(path), "%s/root", tmp);
    mkdir(path, 0755);
    rootfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    snprintf(path, sizeof(path), "%s/root/inside.txt", tmp);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    close(fd);
    snprintf(path, sizeof(path), "%s/outside.txt", tmp);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    close(fd);
    plan.dirfd = rootfd;
    return rootfd < 0 || sandbox_init(&plan, &status) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
    if (system(cmd) != 0)
        return -1;
    close(rootfd);
    return 0;
}

/* Runs body in a child that entered role's sandbox; returns its wait
 * status. The child exits 0 when body returns 0, 10 + its value else. */
static int in_sandbox_as(enum sandbox_role role, int (*body)(void))
{
    int wstatus;
    pid_t pid;

    atomic_store(violation, -1);
    pid = fork();
    if (pid == 0) {
        int rc = sandbox_enter(role, violation);

        _exit(rc < 0 ? 2 : body() == 0 ? 0 : 10);
    }
    assert_true(pid > 0);
    assert_int_equal(waitpid(pid, &wstatus, 0), pid);
    return wstatus;
}

/* The child's body returned 0: it exited 0, not killed. */
static void assert_exited_ok(int w)
{
    assert_true(WIFEXITED(w));
    assert_int_equal(WEXITSTATUS(w), 0);
}

/* in_sandbox_as() a pool worker. */
static int in_sandbox(int (*body)(void))
{
    return in_sandbox_as(SANDBOX_WORKER, body);
}

static void skip_without_seccomp(void)
{
#ifdef FERRY_SECCOMP_LOG
    skip(); /* a learning build logs instead of killing */
#endif
    if (!status.seccomp)
        skip();
}

static int allowed_calls(void)
{
    char buf[8];
    int p[2];

    if (getpid() <= 0 || pipe(p) < 0 || write(p[1], "ok", 2) != 2 || read(p[0], buf, 2) != 2)
        return 1;
    return memcmp(buf, "ok", 2) == 0 ? 0 : 1;
}

static int calls_execve(void)
{
    char *const argv[] = {"/bin/true", NULL};

    execve(argv[0], argv, argv + 1);
    return 0; /* not reached: killed */
}

static void test_allowed_then_killed(void **state)
{
    int w;

    (void)state;
    skip_without_seccomp();
    w = in_sandbox(allowed_calls);
    assert_exited_ok(w);
    assert_int_equal(atomic_load(violation), -1);
    w = in_sandbox(calls_execve);
    assert_true(WIFSIGNALED(w));
    assert_int_equal(WTERMSIG(w), SIGSYS);
    assert_int_equal(atomic_load(violation), __NR_execve);
}

/* abort() (an assertion, malloc finding its heap corrupt) must end the
 * process as SIGABRT, not as a policy violation on the way there. */
static int aborts(void)
{
    abort();
}

static void test_abort_is_no_violation(void **state)
{
    int w;

    (void)state;
    skip_without_seccomp();
    w = in_sandbox(aborts);
    assert_true(WIFSIGNALED(w));
    assert_int_equal(WTERMSIG(w), SIGABRT);
    assert_int_equal(atomic_load(violation), -1);
}

/* kill(): iterative mode's process may signal the master (itself, there;
 * the test process here) alone; a pool worker signals nobody, not even its
 * master (--max-requests rings a pipe instead). */
static int kills_master(void)
{
    return kill(getppid(), 0);
}

static int kills_init(void)
{
    kill(1, 0);
    return 0;
}

static void assert_killed_by(int w, int nr)
{
    assert_true(WIFSIGNALED(w));
    assert_int_equal(WTERMSIG(w), SIGSYS);
    assert_int_equal(atomic_load(violation), nr);
}

static void test_kill_master_only(void **state)
{
    int w;

    (void)state;
    skip_without_seccomp();
    w = in_sandbox_as(SANDBOX_ITERATIVE, kills_master);
    assert_exited_ok(w);
    assert_killed_by(in_sandbox_as(SANDBOX_ITERATIVE, kills_init), __NR_kill);
    assert_killed_by(in_sandbox(kills_master), __NR_kill);
    assert_killed_by(in_sandbox(kills_init), __NR_kill);
}

/* A new user namespace, a fork, executable memory, a raw socket: each
 * killed, and named. */
static int clones_namespace(void)
{
    return (int)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
}

static __attribute__((unused)) int forks(void)
{
    return (int)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
}

static int maps_exec(void)
{
    return mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) ==
           MAP_FAILED;
}

static int opens_socket(void)
{
    return socket(AF_PACKET, SOCK_RAW, 0);
}

static void test_arguments_checked(void **state)
{
    static const struct {
        int (*body)(void);
        int nr;
    } cases[] = {
        {clones_namespace, __NR_clone},
#if !defined(__SANITIZE_ADDRESS__) /* LeakSanitizer's helper is such a process */
        {forks, __NR_clone},
#endif
        {maps_exec, __NR_mmap},
        {opens_socket, __NR_socket},
    };

    (void)state;
    skip_without_seccomp();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int w = in_sandbox(cases[i].body);

        assert_true(WIFSIGNALED(w));
        assert_int_equal(WTERMSIG(w), SIGSYS);
        assert_int_equal(atomic_load(violation), cases[i].nr);
    }
}

/* clone3 answers ENOSYS (glibc then uses clone); a thread is allowed. */
static int clone3_enosys(void)
{
    long r = syscall(SYS_clone3, NULL, 0);

    return r == -1 && errno == ENOSYS ? 0 : 1;
}

static void test_clone3_enosys(void **state)
{
    int w;

    (void)state;
    skip_without_seccomp();
    w = in_sandbox(clone3_enosys);
    assert_exited_ok(w);
}

/* Beneath the served directory: read, not write (no uploads); outside it:
 * nothing, though the file's mode lets anyone read it. */
static int landlock_body(void)
{
    char path[128];
    int fd = openat(rootfd, "inside.txt", O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return 1;
    close(fd);
    if (openat(rootfd, "inside.txt", O_WRONLY | O_CLOEXEC) >= 0 || errno != EACCES)
        return 2;
    snprintf(path, sizeof(path), "%s/outside.txt", tmp);
    if (open(path, O_RDONLY | O_CLOEXEC) >= 0 || errno != EACCES)
        return 3;
    if (open("/etc/passwd", O_RDONLY | O_CLOEXEC) >= 0 || errno != EACCES)
        return 4;
    return 0;
}

static void test_landlock(void **state)
{
    int w;

    (void)state;
    if (status.landlock_abi == 0)
        skip();
    w = in_sandbox(landlock_body);
    assert_exited_ok(w);
}

/* The hook's open goes around the served tree and is refused. */
static int hook_body(void)
{
    char buf[512] = "";
    int p[2];
    ssize_t n;

    if (pipe(p) < 0 || dup2(p[1], STDERR_FILENO) < 0)
        return 1;
    setenv("FERRY_TEST_HOOK", "open:/etc/passwd", 1);
    sandbox_test_hook(SANDBOX_WORKER);
    n = read(p[0], buf, sizeof(buf) - 1);
    if (n <= 0)
        return 2;
    buf[n] = '\0';
    return strstr(buf, "test hook: open /etc/passwd: Permission denied") != NULL ? 0 : 3;
}

static void test_hook(void **state)
{
    int w;

    (void)state;
    if (status.landlock_abi == 0)
        skip();
    w = in_sandbox(hook_body);
    assert_exited_ok(w);
}

static void test_names_and_rights(void **state)
{
    char buf[32];

    (void)state;
    assert_string_equal(sandbox_syscall_name(__NR_execve, buf, sizeof(buf)), "execve");
    assert_string_equal(sandbox_syscall_name(99999, buf, sizeof(buf)), "syscall 99999");
    assert_int_equal(sandbox_landlock_fs(0), 0);
    assert_int_equal(sandbox_landlock_fs(1), 0x1fff);
    assert_int_equal(sandbox_landlock_fs(2), 0x3fff);
    assert_int_equal(sandbox_landlock_fs(4), 0x7fff);
    assert_int_equal(sandbox_landlock_fs(7), 0xffff);
    if (status.seccomp) {
        /* A role's list is no smaller than the calls it was seen making. */
        assert_true(status.calls[SANDBOX_WORKER] > 50);
        assert_true(status.calls[SANDBOX_ITERATIVE] > status.calls[SANDBOX_WORKER]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allowed_then_killed),
        cmocka_unit_test(test_abort_is_no_violation),
        cmocka_unit_test(test_kill_master_only),
        cmocka_unit_test(test_arguments_checked),
        cmocka_unit_test(test_clone3_enosys),
        cmocka_unit_test(test_landlock),
        cmocka_unit_test(test_hook),
        cmocka_unit_test(test_names_and_rights),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
