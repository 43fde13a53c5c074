#define _GNU_SOURCE /* strsignal */
#include "cluster/guardian.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster/rundir.h"
#include "common/fileio.h"

/* What the rank tells its guardian once it knows its role. */
typedef struct guardian_identity {
    char run_dir[FILEIO_PATH_MAX];
    int32_t role;
    uint32_t index;
} guardian_identity;

static volatile pid_t guarded; /* the rank, in the guardian process */

static void pass_on(int sig)
{
    if (guarded > 0) {
        kill(guarded, sig);
    }
}

/* Reads exactly n bytes unless the writer closes first; false then. */
static bool read_full(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return false;
        }
        got += (size_t)r;
    }
    return true;
}

void guardian_describe(char *out, size_t cap, cluster_role role, uint32_t index,
                       const char *host, int pid, int status)
{
    char how[128];
    if (WIFSIGNALED(status)) {
        snprintf(how, sizeof how, "killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    } else {
        snprintf(how, sizeof how, "exited with code %d before finishing",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
    snprintf(out, cap, "%s %u (%s, pid %d) died: %s", cluster_role_title(role), index, host, pid,
             how);
}

/* The guardian's life: learn who the rank is, wait for it, report an unfinished end, and end
 * the same way. */
static _Noreturn void guard(pid_t rank, int fd)
{
    guarded = rank;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = pass_on;
    sa.sa_flags = SA_RESTART;
    const int passed[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2};
    for (size_t i = 0; i < sizeof passed / sizeof passed[0]; i++) {
        sigaction(passed[i], &sa, NULL);
    }
    guardian_identity id;
    bool known = read_full(fd, &id, sizeof id) && id.role >= CLUSTER_ROLE_REPLAY &&
                 id.role <= CLUSTER_ROLE_ACTOR;
    close(fd);
    int status = 0;
    while (waitpid(rank, &status, 0) < 0 && errno == EINTR) {
    }
    char done[FILEIO_PATH_MAX];
    struct stat st;
    id.run_dir[sizeof id.run_dir - 1] = '\0';
    const char *role = known ? cluster_role_name((cluster_role)id.role) : "";
    bool finished = known && rundir_role_file(done, sizeof done, id.run_dir, role, id.index,
                                              RUNDIR_DONE) &&
                    stat(done, &st) == 0;
    if (known && !finished) {
        char host[256] = "?", text[512];
        gethostname(host, sizeof host - 1);
        guardian_describe(text, sizeof text, (cluster_role)id.role, id.index, host, (int)rank,
                          status);
        rundir_mark(id.run_dir, role, id.index, RUNDIR_DIED, text);
    }
    if (WIFSIGNALED(status)) {
        /* End by the same signal, without a core file of the guardian. */
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        signal(WTERMSIG(status), SIG_DFL);
        sigset_t all;
        sigfillset(&all);
        sigprocmask(SIG_UNBLOCK, &all, NULL);
        raise(WTERMSIG(status));
        _exit(128 + WTERMSIG(status));
    }
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

void guardian_start(guardian *g)
{
    g->fd = -1;
    int fds[2];
    if (pipe(fds) != 0) {
        return;
    }
    pid_t parent = getpid();
    pid_t rank = fork();
    if (rank < 0) {
        close(fds[0]);
        close(fds[1]);
        return;
    }
    if (rank > 0) {
        close(fds[1]);
        guard(rank, fds[0]);
    }
    close(fds[0]);
    /* A guardian killed outright must not leave the rank behind; it may already be gone. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) {
        raise(SIGKILL);
    }
    g->fd = fds[1];
}

void guardian_identify(guardian *g, const char *run_dir, cluster_role role, uint32_t index)
{
    if (g->fd < 0) {
        return;
    }
    guardian_identity id;
    memset(&id, 0, sizeof id);
    snprintf(id.run_dir, sizeof id.run_dir, "%s", run_dir);
    id.role = (int32_t)role;
    id.index = index;
    const char *p = (const char *)&id;
    size_t left = sizeof id;
    while (left > 0) {
        ssize_t w = write(g->fd, p, left);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    close(g->fd);
    g->fd = -1;
}
