/* Hosts of a run across several machines: which name or address a rank advertises to the
 * others (cluster.bind_host, cluster.advertise_host), whether a name resolves, whether a
 * hostfile names other machines, and the words of cluster.mpirun_args / --mpirun-args. These
 * checks turn the silent failures of a misconfigured multi-host run (a run at frames 0 for its
 * whole budget) into a message at start (docs/cluster.md, Several machines).
 *
 *     char host[HOSTS_NAME_MAX];
 *     hosts_advertised("auto", "10.77.0.0/24", host, sizeof host, &err); // "10.77.0.3"
 *     hosts_check_resolves(host, "shard 0", &err);
 */
#ifndef SHOAL_CLUSTER_HOSTS_H
#define SHOAL_CLUSTER_HOSTS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

#define HOSTS_NAME_MAX 256

/* Whether host is this machine only: "localhost", 127.0.0.0/8, "::1". */
bool hosts_is_loopback(const char *host);

/* The host this rank advertises, into out (cap bytes). bind_host other than "auto" is itself
 * (a specific address). With "auto": advertise_host "" is this machine's name (gethostname);
 * "A.B.C.D/N" is this machine's IPv4 address in that subnet (ENOTFOUND when it has none, naming
 * its addresses); anything else is taken as it is. */
int hosts_advertised(const char *bind_host, const char *advertise_host, char *out, size_t cap,
                     shoal_err *err);

/* Whether host resolves here (getaddrinfo); EINVAL with a message naming whose host (what, e.g.
 * "replay shard 0") and how to fix it (cluster.advertise_host) when not. */
int hosts_check_resolves(const char *host, const char *what, shoal_err *err);

/* Whether the OpenMPI hostfile at path names a machine other than this one (its first word on
 * each line, comments and blank lines skipped; this one: loopback names and gethostname()).
 * The first such name goes into other (cap bytes). Returns 1, 0, or -1 with err (EIO). */
int hosts_hostfile_names_others(const char *path, char *other, size_t cap, shoal_err *err);

/* Splits text (modified in place) into words at blanks; '...' and "..." group words and are
 * removed (no escapes). At most cap words into words, the count into *n. EINVAL on an
 * unterminated quote or too many words. */
int hosts_split_words(char *text, char **words, size_t cap, size_t *n, shoal_err *err);

#endif
