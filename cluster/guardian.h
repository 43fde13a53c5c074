/* The guardian of a `shoal train` rank: why a rank died, said by the only process that can know.
 * A process killed by SIGKILL (kill -9, the OOM killer) writes nothing, and its exit status goes
 * to its parent, which is mpirun or orted: neither passes it on under --enable-recovery. So
 * before MPI_Init each rank forks; the parent stays behind as the guardian (idle in waitpid, a
 * few hundred kB) and the child goes on as the rank. Once the rank knows its role it tells the
 * guardian through a pipe (guardian_identify). When the rank ends without its .done marker, the
 * guardian writes RUN_DIR/log/<role>-<index>.died ("replay shard 0 (host, pid 1234) died: killed
 * by signal 9 (Killed)"), which the launcher prints and acts on (cluster/liveness.h). Then it
 * ends the way the rank did (same signal or exit code), so mpirun sees what it saw before.
 *
 * Signals mpirun or orted send to the guardian's pid (SIGTERM, SIGINT, SIGHUP, SIGUSR1/2) are
 * passed to the rank; a guardian killed outright takes the rank with it (PR_SET_PDEATHSIG).
 *
 *     guardian g;
 *     guardian_start(&g);                 // returns in the rank only
 *     MPI_Init(...); ... learn the role ...
 *     guardian_identify(&g, run_dir, CLUSTER_ROLE_REPLAY, 0);
 */
#ifndef SHOAL_CLUSTER_GUARDIAN_H
#define SHOAL_CLUSTER_GUARDIAN_H

#include <stdint.h>

#include "cluster/layout.h"

typedef struct guardian {
    int fd; /* write end of the pipe to the guardian; -1 without one */
} guardian;

/* Forks the guardian. Returns in the rank (the child); the guardian itself never returns from
 * here. When fork fails the rank runs unguarded (g->fd = -1) and its death is found by its
 * heartbeat instead. Call before MPI_Init and before any thread starts. */
void guardian_start(guardian *g);

/* Tells the guardian which rank it watches (its marker's folder and name) and closes the pipe.
 * Without this call the guardian only mirrors the rank's end. */
void guardian_identify(guardian *g, const char *run_dir, cluster_role role, uint32_t index);

/* The text of a .died marker: "<title> <index> (<host>, pid <pid>) died: <how>" into out, where
 * how is "killed by signal 9 (Killed)" or "exited with code 1 before finishing" from a waitpid
 * status. */
void guardian_describe(char *out, size_t cap, cluster_role role, uint32_t index,
                       const char *host, int pid, int status);

#endif
