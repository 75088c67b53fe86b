/*
 * proc: fork and child set-up. See proc.h.
 */
#include "master/proc.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

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
    sigset_t none;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        sigaction(sig, &sa, NULL); /* EINVAL for SIGKILL/SIGSTOP and gaps: fine */
    signal(SIGPIPE, SIG_IGN);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) /* the master died before prctl took hold */
        _exit(1);
    proc_close_except(keep, nkeep);
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
