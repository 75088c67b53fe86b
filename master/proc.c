/*
 * proc: fork and child set-up. See proc.h.
 */
#include "master/proc.h"

#include "common/log.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

extern char **environ;

/* The area that holds the title: argv's strings and the environment's
 * that follow them contiguously. */
static char *proc_title_area;
static size_t proc_title_len;

static int proc_cmp(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

void proc_close_except(const int *keep, size_t nkeep)
{
    int sorted[64];
    unsigned first = 3;

    if (nkeep > sizeof(sorted) / sizeof(sorted[0]))
        abort(); /* a programming error: callers keep a handful */
    memcpy(sorted, keep, nkeep * sizeof(int));
    qsort(sorted, nkeep, sizeof(int), proc_cmp);
    for (size_t i = 0; i < nkeep; i++) {
        if (sorted[i] < (int)first)
            continue;
        if ((unsigned)sorted[i] > first)
            close_range(first, (unsigned)sorted[i] - 1, 0);
        first = (unsigned)sorted[i] + 1;
    }
    close_range(first, ~0U, 0);
}

/* Child side: a clean slate for signals, a tie to the parent's life. */
static void proc_child_setup(pid_t parent, const int *keep, size_t nkeep)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        sigaction(sig, &sa, NULL); /* EINVAL for SIGKILL/SIGSTOP and gaps: fine */
    signal(SIGPIPE, SIG_IGN);
    log_forked();
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) /* the master died before prctl took hold */
        _exit(1);
    proc_close_except(keep, nkeep);
    /* Signals stay blocked: one sent now (a stop racing the fork) waits
     * for the handlers the child installs, then proc_unblock_signals(). */
}

void proc_block_signals(void)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, NULL);
}

void proc_unblock_signals(void)
{
    sigset_t none;

    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

pid_t proc_fork(const int *keep, size_t nkeep)
{
    sigset_t all, old;
    pid_t parent = getpid(), pid;
    int err;

    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    pid = fork();
    if (pid == 0) {
        proc_child_setup(parent, keep, nkeep);
        return 0;
    }
    err = errno;
    sigprocmask(SIG_SETMASK, &old, NULL);
    return pid < 0 ? -err : pid;
}

/* Copies n strings of v to the heap, pointing v at the copies. Returns
 * false when out of memory (v is then unchanged). */
static bool proc_copy_strings(char **v, size_t n)
{
    char **copy = calloc(n + 1, sizeof(char *));

    if (copy == NULL)
        return false;
    for (size_t i = 0; i < n; i++) {
        if ((copy[i] = strdup(v[i])) == NULL) {
            while (i > 0)
                free(copy[--i]);
            free(copy);
            return false;
        }
    }
    memcpy(v, copy, n * sizeof(char *));
    free(copy); /* the strings live on, for the whole process */
    return true;
}

int proc_title_init(int argc, char **argv)
{
    char *start = argv[0], *end = argv[0] + strlen(argv[0]) + 1;
    size_t nenv = 0;
    char **env;

    for (int i = 1; i < argc && argv[i] == end; i++)
        end = argv[i] + strlen(argv[i]) + 1;
    while (environ[nenv] != NULL)
        nenv++;
    for (size_t i = 0; i < nenv && environ[i] == end; i++)
        end = environ[i] + strlen(environ[i]) + 1;
    /* environ is the C library's array: point it at a copy of our own. */
    env = calloc(nenv + 1, sizeof(char *));
    if (env == NULL)
        return -ENOMEM;
    memcpy(env, environ, nenv * sizeof(char *));
    if (!proc_copy_strings(argv, (size_t)argc) || !proc_copy_strings(env, nenv)) {
        free(env);
        return -ENOMEM;
    }
    environ = env;
    proc_title_area = start;
    proc_title_len = (size_t)(end - start);
    return 0;
}

/* comm holds 15 bytes: "ferryd: worker 12" becomes "ferryd: worker". */
static void proc_set_comm(const char *title)
{
    char comm[16];
    size_t n = strnlen(title, sizeof(comm) - 1);

    memcpy(comm, title, n);
    while (n > 0 && comm[n - 1] == ' ')
        n--;
    comm[n] = '\0';
    prctl(PR_SET_NAME, comm);
}

void proc_set_title(const char *fmt, ...)
{
    char title[128];
    va_list ap;
    int n;

    n = snprintf(title, sizeof(title), "ferryd: ");
    va_start(ap, fmt);
    vsnprintf(title + n, sizeof(title) - (size_t)n, fmt, ap);
    va_end(ap);
    proc_set_comm(title);
    if (proc_title_area == NULL || proc_title_len < 2)
        return;
    /* The whole area is cleared: ps reads it up to the first NUL. */
    memset(proc_title_area, 0, proc_title_len);
    memcpy(proc_title_area, title, strnlen(title, proc_title_len - 1));
}
