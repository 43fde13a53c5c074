/* Demonstrations for a DQfD run of `shoal train`: before the roles start, each file of
 * replay.demos that does not exist yet is recorded with the game's scripted expert
 * (run.demo_episodes episodes), as `shoal demos record` would, so a config alone starts a
 * DQfD run. Relative demo paths are taken from the current folder, like every other path.
 *
 *     train_demos_record_missing(cfg, &err);   // prints a line per file it records
 */
#ifndef SHOAL_CLUSTER_TRAIN_DEMOS_H
#define SHOAL_CLUSTER_TRAIN_DEMOS_H

#include "common/config.h"
#include "common/err.h"

/* Records every missing file of replay.demos (creating its folder), printing what it does on
 * stdout; nothing when run.demo_episodes is 0 or replay.demos is empty. Errors of the demo
 * list, the folders and the recording are returned as they come. */
int train_demos_record_missing(const config *cfg, shoal_err *err);

#endif
