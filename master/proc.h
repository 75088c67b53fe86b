/*
 * proc: forking children that owe nothing to the master.
 *
 * The master blocks every signal across fork() so that no handler of its
 * event loop ever runs in a child; the child then resets every disposition,
 * asks to be killed when the master dies (PR_SET_PDEATHSIG), closes every
 * descriptor it does not own (the loop's epoll fd, its signal pipe, other
 * children's sockets); it unblocks signals once its handlers are in place.
 */
#ifndef FERRY_PROC_H
#define FERRY_PROC_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Forks. In the parent returns the child's pid, or -errno. In the child
 * returns 0 once it is set up, having kept only stdin/out/err and the
 * descriptors in keep, with default dispositions and every signal still
 * blocked: the child installs its handlers, then proc_unblock_signals(),
 * so that a signal sent right after the fork is handled, not fatal.
 */
pid_t proc_fork(const int *keep, size_t nkeep);

/* Blocks the signals an operator sends (TERM, INT, HUP, USR1, USR2) until
 * the handlers exist: at start, so that a stop sent while ferryd is still
 * starting is handled once it can be, never fatal. */
void proc_block_signals(void);

/* Unblocks every signal (in a child, or at start, once the handlers are
 * installed). */
void proc_unblock_signals(void);

/* Closes every descriptor above 2 that is not in keep. */
void proc_close_except(const int *keep, size_t nkeep);

/*
 * Makes room to retitle the process, as nginx and PostgreSQL do: the
 * strings of argv (and of the environment, which follows them) are copied
 * to the heap, argv[] and environ are pointed at the copies, and the
 * original area becomes the title's. Call once, first thing in main().
 * Returns 0, or -ENOMEM (titles are then left alone).
 */
int proc_title_init(int argc, char **argv);

/* Sets the title seen by ps ("ferryd: " + the formatted text) and comm
 * (the first 15 bytes, as prctl(PR_SET_NAME) allows). */
void proc_set_title(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
