/*
 * progress: a one-line progress bar on stderr (bytes, percent, rate, ETA),
 * redrawn at most ten times a second.
 */
#ifndef FERRY_PROGRESS_H
#define FERRY_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

struct progress {
    bool enabled;
    uint64_t total;
    int64_t start_ns;
    int64_t drawn_ns;
};

/* Starts a bar for total bytes; draws nothing when enabled is false. */
void prog_start(struct progress *pg, bool enabled, uint64_t total);

/* Records that done bytes have arrived. */
void prog_update(struct progress *pg, uint64_t done);

/* Draws the final state and ends the line. */
void prog_finish(struct progress *pg, uint64_t done);

#endif
