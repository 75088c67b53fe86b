/*
 * metrics: a scoreboard snapshot in the Prometheus text exposition format
 * (version 0.0.4), one family per figure, per-worker labels where a figure
 * belongs to a worker.
 */
#ifndef FERRY_METRICS_H
#define FERRY_METRICS_H

#include "master/config.h"
#include "master/snapshot.h"

#include <stdio.h>

/* Writes the exposition of s (rates from h) to out. */
void metrics_render(FILE *out, const struct snapshot *s, const struct snap_history *h,
                    const struct config *cfg);

#endif
