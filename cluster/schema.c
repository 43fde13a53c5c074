#include "cluster/commands.h"

#include <stdlib.h>

#include "actor/actor.h"
#include "actor/explore.h"
#include "common/obs.h"
#include "env/env_config.h"
#include "evaluator/evaluate.h"
#include "learner/learner.h"
#include "nn/nn_config.h"
#include "nn/rnd.h"
#include "replay/server.h"

/* Keys of the whole run, owned by the cluster part. Each other part owns its own table. */
static const config_key run_keys[] = {
    {"run", "name", CONFIG_STRING, "breakout", 0, 0, NULL,
     "run name; the run folder is runs/<name> unless --run-dir says otherwise"},
    {"run", "seed", CONFIG_INT, "1", 0, 4294967295.0, NULL,
     "master seed; every random stream derives from (seed, role, rank, index)"},
    {"run", "max_frames", CONFIG_INT, "0", 0, 9.2e18, NULL,
     "stop the run after this many environment frames (0: no limit)"},
    {"run", "max_seconds", CONFIG_FLOAT, "0", 0, 1e9, NULL,
     "stop the run after this many seconds (0: no limit)"},
    {"run", "demo_episodes", CONFIG_INT, "0", 0, 1e9, NULL,
     "shoal train records this many scripted-expert episodes into each missing file of "
     "replay.demos before it starts (0: demo files must exist)"},
    {"run", "restarts", CONFIG_INT, "2", 0, 1000, NULL,
     "times shoal train resumes the run by itself (as --resume would) after a replay shard, "
     "learner or evaluator died or stopped answering (0: never)"},
    {"run", "tensorboard", CONFIG_BOOL, "true", 0, 0, NULL,
     "write TensorBoard event files under RUN_DIR/tb/ (learner, evaluator, actor-<i>; view "
     "them with tensorboard --logdir RUN_DIR/tb); actors write every learner.metrics_secs"},
    {"run", "progress_secs", CONFIG_FLOAT, "5", 0.1, 3600, NULL,
     "seconds between progress lines of shoal train"},
    {"cluster", "replay_shards", CONFIG_INT, "1", 1, 64, NULL,
     "replay shard processes (world ranks 0 .. replay_shards-1)"},
    {"cluster", "learners", CONFIG_INT, "1", 1, 4096, NULL,
     "learner processes (MPI data-parallel), after the shards"},
    {"cluster", "evaluators", CONFIG_INT, "1", 0, 1, NULL,
     "evaluator processes (0 or 1), after the learners"},
    {"cluster", "actors", CONFIG_INT, "2", 0, 65536, NULL,
     "actor processes started by shoal train on this machine (under your own mpirun: every "
     "rank after the evaluator is an actor); 0: learn from fixed data only (replay.demos or "
     "replay.checkpoint), ended by learner.max_updates or run.max_seconds"},
    {"cluster", "bind_host", CONFIG_STRING, "127.0.0.1", 0, 0, NULL,
     "address shards and the parameter publisher bind to; 'auto' binds every interface and "
     "advertises cluster.advertise_host (for several machines)"},
    {"cluster", "advertise_host", CONFIG_STRING, "", 0, 0, NULL,
     "with bind_host = auto, what each rank tells the others to connect to: empty for the host's "
     "name (which must resolve on every machine), a subnet like 10.0.0.0/24 for the host's "
     "address in it, or a name or address taken as it is"},
    {"cluster", "mpirun_args", CONFIG_STRING, "", 0, 0, NULL,
     "extra mpirun options shoal train passes when it starts mpirun, split at blanks ('...' and "
     "\"...\" group), e.g. \"--mca plm_rsh_agent ssh\"; added to --mpirun-args"},
    {"cluster", "curve", CONFIG_ENUM, "auto", 0, 0, "auto|on|off",
     "ZeroMQ CURVE (encryption and authentication) on replay and parameter sockets; auto: on "
     "unless bind_host is loopback (127.x, localhost, ::1); off is unsafe beyond a trusted "
     "network: anyone who reaches the ports can read the traffic and insert into the shards"},
    {"cluster", "curve_keys", CONFIG_STRING, "", 0, 0, NULL,
     "folder holding the run's CURVE keys server.key and client.key (0700, files 0600; made "
     "there by shoal train when missing); empty: RUN_DIR/keys"},
    {"cluster", "interface", CONFIG_STRING, "", 0, 0, NULL,
     "network interface(s) or CIDR (e.g. eth1 or 10.0.0.0/24) MPI's own TCP traffic and "
     "listeners are restricted to with --hostfile (btl_tcp_if_include, oob_tcp_if_include); "
     "empty: every interface with --hostfile, loopback on one machine"},
    {"log", "level", CONFIG_ENUM, "info", 0, 0, "debug|info|warn|error|off",
     "lowest level written to stderr and the log files"},
    {"log", "file", CONFIG_STRING, "", 0, 0, NULL,
     "append log lines to this file as well (empty: stderr only)"},
    CONFIG_KEY_END,
};

const config_key *const *shoal_config_tables(size_t *n_tables)
{
    static const config_key *const tables[] = {
        run_keys,
        env_config_keys,
        obs_facts_config_keys,
        nn_config_keys,
        replay_config_keys,
        actor_config_keys,
        actor_explore_config_keys,
        nn_rnd_config_keys,
        evaluator_config_keys,
        learner_config_keys,
    };
    *n_tables = sizeof tables / sizeof tables[0];
    return tables;
}

config *shoal_config_load(const char *path, const char *const *overrides, int n_overrides,
                          shoal_err *err)
{
    size_t n_tables;
    const config_key *const *tables = shoal_config_tables(&n_tables);
    config *cfg = config_new(tables, n_tables, err);
    if (!cfg) {
        return NULL;
    }
    if (path && config_load_file(cfg, path, err) != SHOAL_OK) {
        config_free(cfg);
        return NULL;
    }
    for (int i = 0; i < n_overrides; i++) {
        if (config_set(cfg, overrides[i], "--set", err) != SHOAL_OK) {
            config_free(cfg);
            return NULL;
        }
    }
    return cfg;
}
