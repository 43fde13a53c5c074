/* The run folder (ARCHITECTURE.md, Run directory): config.ini (the effective configuration),
 * endpoints.json (where external actors connect), checkpoints/, log/, and the files the roles
 * write (metrics.csv, eval.*, replay-<shard>.ckpt, tb/ with TensorBoard's event files).
 *
 * endpoints.json is read and written by common/endpoints.h.
 *
 * The folder is also how the processes of `shoal train` signal each other, because mpirun
 * --enable-recovery passes on neither exit codes nor a stop request: the STOP file asks every
 * rank to stop, and markers in log/ say how each rank ended (<role>-<index>.done when its role
 * returned, <role>-<index>.failed holding the reason when it failed).
 *
 *     rundir_prepare("runs/breakout", false, &err);        // refuses to overwrite a run
 *     rundir_write_config("runs/breakout", cfg, &err);
 *     rundir_mark("runs/breakout", "actor", 3, RUNDIR_DONE, "");
 */
#ifndef SHOAL_CLUSTER_RUNDIR_H
#define SHOAL_CLUSTER_RUNDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/curve.h"
#include "common/err.h"

/* Creates dir, dir/checkpoints and dir/log. Without resume, a folder that already holds a run
 * (config.ini or checkpoints) is refused with EINVAL telling the user to resume it or pick
 * another; with resume, the folder must hold a config.ini (ENOTFOUND otherwise). */
int rundir_prepare(const char *dir, bool resume, shoal_err *err);

/* Writes dir/config.ini atomically with the effective configuration. */
int rundir_write_config(const char *dir, const config *cfg, shoal_err *err);

/* Joins dir and name into out (cap bytes); EINVAL when too long. */
int rundir_path(char *out, size_t cap, const char *dir, const char *name, shoal_err *err);

/* Makes a relative path (cap bytes, in place) relative to the run folder dir, so that files a
 * config names (actor.episode_log) land in the run whatever the working folder; absolute and
 * empty paths are kept. EINVAL when too long. */
int rundir_resolve(char *path, size_t cap, const char *dir, shoal_err *err);

/* The TensorBoard folder of a role, dir/tb/<role> (index < 0) or dir/tb/<role>-<index>, into
 * out; "" when run.tensorboard is false or dir is "". EINVAL when too long. */
int rundir_tb_dir(char *out, size_t cap, const config *cfg, const char *dir, const char *role,
                  int index, shoal_err *err);

/* The suffixes of the markers in dir/log/: the rank's role returned; the role failed (the
 * reason inside); the rank ended without finishing (its guardian's report, cluster/guardian.h);
 * the rank's heartbeat ("HOST PID", touched every second by its watcher). */
#define RUNDIR_DONE ".done"
#define RUNDIR_FAILED ".failed"
#define RUNDIR_DIED ".died"
#define RUNDIR_ALIVE ".alive"

/* dir/log/<role>-<index><suffix> into out: a rank's log (".log") or one of its markers. False
 * when it does not fit in cap bytes. */
bool rundir_role_file(char *out, size_t cap, const char *dir, const char *role, uint32_t index,
                      const char *suffix);

/* Writes the marker dir/log/<role>-<index><suffix> holding text, atomically; when that fails
 * (a full disk), creates it directly, empty if need be. Best effort (a rank that cannot write
 * its marker is reported by the launcher as not finished). */
void rundir_mark(const char *dir, const char *role, uint32_t index, const char *suffix,
                 const char *text);

/* How many markers in dir/log start with prefix (NULL: any role) and end in suffix. */
int rundir_count_markers(const char *dir, const char *prefix, const char *suffix);

/* Reads the marker dir/log/<role>-<index><suffix> into text (cap bytes, NUL-terminated, cut
 * short if need be, without its trailing newline); false when there is none. */
bool rundir_read_marker(const char *dir, const char *role, uint32_t index, const char *suffix,
                        char *text, size_t cap);

/* Removes every marker ending in suffix (a resumed run starts with no .done, .died or .alive). */
void rundir_clear_markers(const char *dir, const char *suffix);

/* The STOP file every rank of the run watches, into out ("" when dir is too long). */
void rundir_stop_path(char *out, size_t cap, const char *dir);

/* Asks every rank to stop (writes the STOP file); best effort. */
void rundir_request_stop(const char *dir);

/* ---- CURVE keys (common/curve.h; docs/cluster.md, "Security on the wire") ---- */

/* Whether the run's sockets use CURVE: cluster.curve, where auto means on unless
 * cluster.bind_host is loopback. */
bool rundir_curve_on(const config *cfg);

/* The run's key folder into out: cluster.curve_keys when set, else dir/keys. EINVAL when dir is
 * "" and cluster.curve_keys is not set (a role started by hand must name the key folder). */
int rundir_keys_dir(char *out, size_t cap, const config *cfg, const char *dir, shoal_err *err);

/* At run preparation, when CURVE is on: checks the library and makes the key pairs in the key
 * folder (owner-only) unless they are there; nothing when off. */
int rundir_curve_prepare(const config *cfg, const char *dir, shoal_err *err);

/* The keys of one process of the run (server: a process that binds); out->on false when CURVE
 * is off. dir may be "" when cluster.curve_keys names the folder. Errors say which key or file
 * is wrong and what to do. */
int rundir_curve_keys(const config *cfg, const char *dir, bool server, curve_keys *out,
                      shoal_err *err);

/* For a role started by hand on its own endpoint (shoal replay --bind, shoal learner
 * --params-bind): EINVAL when cluster.curve is auto, cluster.bind_host is loopback (so CURVE
 * is off) but endpoint binds beyond loopback, which would leave that socket open unencrypted;
 * the message says which keys to set. */
int rundir_curve_check_bind(const config *cfg, const char *endpoint, shoal_err *err);

/* The actor index a joining actor (`shoal actor --join`) takes, assigned by the run folder:
 * creates dir/log/join-<i>.claim ("HOST PID") with O_EXCL for the highest i below limit that
 * no other joiner holds, down to floor; *index gets it. O_EXCL creation is atomic (also on
 * NFS v3 and later), so two joiners never take the same index. ENOTFOUND when every one is
 * held (a killed joiner's claim stays: remove it), EIO. */
int rundir_claim_join(const char *dir, uint32_t floor, uint32_t limit, uint32_t *index,
                      shoal_err *err);

/* Gives the index back (removes its claim file). */
void rundir_release_join(const char *dir, uint32_t index);

/* The run folder of a checkpoint that lies in RUN_DIR/checkpoints/ (its config.ini names the
 * environment it was trained on), written into buf (cap bytes, FILEIO_PATH_MAX suffice);
 * returns buf, or NULL when the checkpoint lies elsewhere or the path is too long. */
const char *rundir_of_checkpoint(const char *checkpoint, char *buf, size_t cap);

#endif
