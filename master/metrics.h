/*
 * metrics: a scoreboard snapshot in the Prometheus text exposition format
 * (version 0.0.4), following Prometheus' naming conventions: monotonic
 * figures are `_total` counters (rates are left to rate()), per-worker
 * families are labelled by slot alone so that a respawned worker continues
 * its slot's series instead of starting new ones, and the master's own
 * process figures carry the standard `process_*` names.
 */
#ifndef FERRY_METRICS_H
#define FERRY_METRICS_H

#include "master/config.h"
#include "master/listen.h"
#include "master/snapshot.h"

#include <stdio.h>

/*
 * Writes the exposition of s to out, with the accept queue of each open
 * listener of ls (NULL: none) and the calling process's own figures, read
 * now from /proc/self; a figure that cannot be read is left out.
 */
void metrics_render(FILE *out, const struct snapshot *s, const struct config *cfg,
                    const struct listeners *ls);

#endif
