/* A progress bar for commands that do long work with a known end (`shoal demos record`,
 * `shoal eval`): one line on a terminal, redrawn in place, at most ten times a second,
 *
 *     eval [##########..........]  15/30 episodes  50%  00:07 left
 *
 * and nothing at all when the stream is not a terminal (a log file, a pipe, a test), so that
 * scripted output stays what it was. The line is erased when the bar finishes.
 *
 *     pbar b;
 *     pbar_init(&b, stderr, "eval", "episodes", 30);
 *     for (...) pbar_update(&b, done);       // or pass pbar_callback and &b to a long call
 *     pbar_finish(&b);
 */
#ifndef SHOAL_COMMON_PBAR_H
#define SHOAL_COMMON_PBAR_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct pbar {
    FILE *out;
    bool on;           /* out is a terminal */
    const char *label; /* borrowed */
    const char *unit;  /* borrowed: "episodes" */
    uint64_t total;
    uint64_t start_ns, drawn_ns;
    uint64_t done;
} pbar;

/* A bar of total steps on out; on only when out is a terminal. label and unit are borrowed. */
void pbar_init(pbar *b, FILE *out, const char *label, const char *unit, uint64_t total);

/* Notes that done of the total steps are complete and redraws when 0.1 s has passed since the
 * last drawing, or when done reaches the total. */
void pbar_update(pbar *b, uint64_t done);

/* For calls that report progress through a callback: arg is the pbar; total replaces its total
 * (the caller may learn it late, e.g. episodes per head). */
void pbar_callback(void *arg, uint64_t done, uint64_t total);

/* Erases the bar's line (the command's own output follows on a clean line). */
void pbar_finish(pbar *b);

#endif
