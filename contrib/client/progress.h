/*
 * progress: how a transfer shows itself on stderr. On a terminal, a
 * one-line bar (percent, bar, bytes, rate, ETA) redrawn in place at most
 * ten times a second and fitted to the terminal's width at every redraw;
 * elsewhere (a pipe, a log file), one summary line when it succeeds. A
 * resumed transfer counts its rate and ETA from what arrives now, not
 * from the bytes it already had.
 */
#ifndef FERRY_PROGRESS_H
#define FERRY_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

enum prog_mode {
    PROG_OFF,     /* nothing (-q) */
    PROG_BAR,     /* stderr is a terminal */
    PROG_SUMMARY, /* stderr is not a terminal */
    PROG_REPORT,  /* a terminal, one line per file (--many): the bar while it
                     runs, then erased and replaced by the summary line */
};

struct progress {
    enum prog_mode mode;
    const char *label; /* the file's name, for the summary; not copied */
    uint64_t total;
    uint64_t base; /* bytes held before the transfer began (a resume) */
    int64_t start_ns;
    int64_t drawn_ns;
};

/* Picks the mode for stderr: PROG_OFF when quiet, else by isatty(); on a
 * terminal PROG_REPORT when every file must end in one line (report). */
enum prog_mode prog_mode_for_stderr(bool quiet, bool report);

/* Starts showing a transfer of total bytes of label (kept, not copied),
 * of which base are already there. */
void prog_start(struct progress *pg, enum prog_mode mode, const char *label, uint64_t total,
                uint64_t base);

/* Records that done bytes have arrived; redraws the bar if it is time. */
void prog_update(struct progress *pg, uint64_t done);

/* Ends the display: the bar's last state and a newline (so that an error
 * message starts on its own line), or the summary line when ok; in
 * PROG_REPORT mode the bar is erased, then the summary line when ok. */
void prog_finish(struct progress *pg, uint64_t done, bool ok);

/* Whether a bar is on screen, its line not ended: a message must start
 * with a newline. Async-signal-safe, for the handler of a fatal signal. */
bool prog_line_open(void);

#endif
