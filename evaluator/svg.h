/* The learning curve as a standalone SVG file (RUN_DIR/eval.svg), readable in any browser:
 * mean evaluation return against frames, one point per evaluated checkpoint joined by a
 * line, a shaded band of ± one standard deviation (of the episode returns, not of the mean),
 * axes with round-number ticks and labels, the environment in the title and the last
 * evaluation in a corner. Points are drawn in frame order whatever order they were evaluated
 * in; when no record has frames (a learner that does not count them), the x axis shows
 * learner steps instead. Hovering a point shows its step, frames and mean ± std. The file is
 * replaced atomically, so a browser reloading it never sees half a picture.
 *
 *     evaluator_svg_write("runs/x/eval.svg", h.rows, h.n, "minatar/breakout", &err);
 */
#ifndef SHOAL_EVALUATOR_SVG_H
#define SHOAL_EVALUATOR_SVG_H

#include <stddef.h>
#include <stdio.h>

#include "common/err.h"
#include "evaluator/results.h"

/* Writes the curve of n records (any order; n may be 0: empty axes) to out. EIO, ENOMEM. */
int evaluator_svg_print(FILE *out, const evaluator_record *rows, size_t n, const char *env_name,
                        shoal_err *err);

/* The same into path, atomically (common/fileio.h). EIO naming the file, ENOMEM. */
int evaluator_svg_write(const char *path, const evaluator_record *rows, size_t n,
                        const char *env_name, shoal_err *err);

#endif
