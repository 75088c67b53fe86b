/*
 * proc: forking children that owe nothing to the master.
 *
 * The master blocks every signal across fork() so that no handler of its
 * event loop ever runs in a child; the child then resets every disposition,
 * asks to be killed when the master dies (PR_SET_PDEATHSIG), closes every
 * descriptor it does not own (the loop's epoll fd, its signal pipe, other
 * children's sockets) and unblocks signals.
 */
#ifndef FERRY_PROC_H
#define FERRY_PROC_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Forks. In the parent returns the child's pid, or -errno. In the child
 * returns 0 once it is set up, having kept only stdin/out/err and the
 * descriptors in keep.
 */
pid_t proc_fork(const int *keep, size_t nkeep);

/* Closes every descriptor above 2 that is not in keep. */
void proc_close_except(const int *keep, size_t nkeep);

#endif
