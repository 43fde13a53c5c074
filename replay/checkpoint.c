#include "replay/checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "common/clock.h"
#include "common/fileio.h"
#include "replay/cio.h"

static int f64_io(replay_cio *io, double *v, bool load, shoal_err *err)
{
    uint64_t bits;
    memcpy(&bits, v, sizeof bits);
    int rc = load ? replay_cio_read_u64(io, &bits, err) : replay_cio_write_u64(io, bits, err);
    memcpy(v, &bits, sizeof bits);
    return rc;
}

static int u64_io(replay_cio *io, uint64_t *v, bool load, shoal_err *err)
{
    return load ? replay_cio_read_u64(io, v, err) : replay_cio_write_u64(io, *v, err);
}

static int actor_io(replay_cio *io, replay_actor_rec *a, bool load, shoal_err *err)
{
    double last = a->last_return;
    uint64_t *u[] = {&a->episodes, &a->env_steps, &a->transitions, &a->params_version};
    double *d[] = {&a->return_sum, &a->intrinsic_sum, &last, &a->last_seen_s};
    int rc = SHOAL_OK;
    for (size_t i = 0; rc == SHOAL_OK && i < 4; i++) {
        rc = u64_io(io, u[i], load, err);
    }
    for (size_t i = 0; rc == SHOAL_OK && i < 4; i++) {
        rc = f64_io(io, d[i], load, err);
    }
    a->last_return = (float)last;
    return rc;
}

/* The server's own state: limiter counters, blocked time, error count, per-actor statistics
 * (the count of actors seen, then each one's id and record). */
static int server_io(const replay_ckpt_state *s, replay_cio *io, bool load, shoal_err *err)
{
    uint64_t n_seen = 0;
    for (uint32_t i = 0; !load && i < s->max_actors; i++) {
        n_seen += s->actors[i].seen;
    }
    uint64_t *u[] = {&s->lim->inserted, &s->lim->sampled, s->errors, s->env_steps, &n_seen};
    double *d[] = {&s->lim->insert_blocked_s, &s->lim->sample_blocked_s};
    int rc = SHOAL_OK;
    for (size_t i = 0; rc == SHOAL_OK && i < 2; i++) {
        rc = f64_io(io, d[i], load, err);
    }
    for (size_t i = 0; rc == SHOAL_OK && i < 5; i++) {
        rc = u64_io(io, u[i], load, err);
    }
    for (uint32_t i = 0; rc == SHOAL_OK && !load && i < s->max_actors; i++) {
        if (s->actors[i].seen) {
            rc = replay_cio_write_u32(io, i, err);
            if (rc == SHOAL_OK) {
                rc = actor_io(io, &s->actors[i], false, err);
            }
        }
    }
    for (uint64_t k = 0; rc == SHOAL_OK && load && k < n_seen; k++) {
        uint32_t id;
        rc = replay_cio_read_u32(io, &id, err);
        if (rc == SHOAL_OK && id >= s->max_actors) {
            return shoal_err_set(err, SHOAL_EINVAL, "%s holds actor %u; replay.max_actors is %u",
                                 io->what, id, s->max_actors);
        }
        if (rc == SHOAL_OK) {
            s->actors[id].seen = true;
            rc = actor_io(io, &s->actors[id], true, err);
        }
    }
    return rc;
}

int replay_ckpt_write(const char *path, const replay_ckpt_state *s, uint64_t *bytes,
                      shoal_err *err)
{
    atomic_file af;
    int rc = atomic_file_open(&af, path, err);
    if (rc != SHOAL_OK) {
        return rc;
    }
    replay_cio io = {.f = af.f, .what = path};
    rc = replay_cio_write(&io, REPLAY_CKPT_MAGIC, 8, err);
    if (rc == SHOAL_OK) {
        rc = replay_cio_write_u32(&io, REPLAY_CKPT_VERSION, err);
    }
    if (rc == SHOAL_OK) {
        rc = replay_cio_write_u32(&io, s->shard, err);
    }
    if (rc == SHOAL_OK) {
        rc = replay_store_save(s->store, &io, err);
    }
    if (rc == SHOAL_OK) {
        rc = server_io(s, &io, false, err);
    }
    if (rc == SHOAL_OK) {
        rc = replay_cio_write_u32(&io, io.crc, err);
    }
    if (rc != SHOAL_OK) {
        atomic_file_abort(&af);
        return rc;
    }
    if (bytes) {
        *bytes = io.offset;
    }
    return atomic_file_commit(&af, err);
}

int replay_ckpt_read(const char *path, const replay_ckpt_state *s, shoal_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) {
            return SHOAL_ENOTFOUND;
        }
        return shoal_err_set(err, SHOAL_EIO, "cannot open checkpoint %s: %s", path,
                             strerror(errno));
    }
    replay_cio io = {.f = f, .what = path};
    char magic[8];
    uint32_t version = 0, shard = 0, crc = 0;
    int rc = replay_cio_read(&io, magic, 8, err);
    if (rc == SHOAL_OK && memcmp(magic, REPLAY_CKPT_MAGIC, 8) != 0) {
        rc = shoal_err_set(err, SHOAL_ECORRUPT, "%s is not a shoal replay checkpoint", path);
    }
    if (rc == SHOAL_OK) {
        rc = replay_cio_read_u32(&io, &version, err);
    }
    if (rc == SHOAL_OK && version != REPLAY_CKPT_VERSION) {
        rc = shoal_err_set(err, SHOAL_EVERSION, "%s: checkpoint version %u; this build reads %u",
                           path, version, REPLAY_CKPT_VERSION);
    }
    if (rc == SHOAL_OK) {
        rc = replay_cio_read_u32(&io, &shard, err);
    }
    if (rc == SHOAL_OK && shard != s->shard) {
        rc = shoal_err_set(err, SHOAL_EINVAL, "%s belongs to shard %u, not shard %u", path, shard,
                           s->shard);
    }
    if (rc == SHOAL_OK) {
        rc = replay_store_load(s->store, &io, err);
    }
    if (rc == SHOAL_OK) {
        rc = server_io(s, &io, true, err);
    }
    uint32_t want = io.crc;
    if (rc == SHOAL_OK) {
        rc = replay_cio_read_u32(&io, &crc, err);
    }
    if (rc == SHOAL_OK && crc != want) {
        rc = shoal_err_set(err, SHOAL_ECORRUPT, "%s fails its CRC32C check (stored 0x%08x, "
                           "computed 0x%08x): the file is damaged", path, crc, want);
    }
    if (rc == SHOAL_OK && fgetc(f) != EOF) {
        rc = shoal_err_set(err, SHOAL_ECORRUPT, "%s has trailing bytes after its checksum", path);
    }
    fclose(f);
    return rc;
}

/* ---- writing in a child process ---- */

/* What the child sends back: one write of less than PIPE_BUF bytes, so it arrives whole. */
typedef struct child_result {
    int32_t code;
    uint64_t bytes;
    double write_s;
    char msg[sizeof(((shoal_err *)0)->msg)];
} child_result;

_Static_assert(sizeof(child_result) <= 512, "a child's result must fit one atomic pipe write");

/* The child's whole life. It must not return into the caller (whose ZeroMQ context and threads
 * it shares only as copied memory) and must not run exit handlers: _exit. */
static _Noreturn void child_main(int fd, pid_t parent, const char *path,
                                 const replay_ckpt_state *st)
{
#ifdef __linux__
    /* A checkpoint is written only while its shard lives: a shard killed mid-write takes its
     * writer with it (the temporary file is left, the previous checkpoint stays), so a restarted
     * shard never sees an older checkpoint renamed over its own. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
    if (getppid() != parent) {
        _exit(1);
    }
    /* On a shard's few cores the writer (CRC, copies, fsync) competes with the serve loop it
     * exists to spare: it gets the CPU the shard leaves. */
    nice(10);
    child_result r;
    memset(&r, 0, sizeof r);
    shoal_err e = {0};
    uint64_t t0 = clock_now_ns();
    r.code = replay_ckpt_write(path, st, &r.bytes, &e);
    r.write_s = clock_since_s(t0);
    memcpy(r.msg, e.msg, sizeof r.msg);
    ssize_t n = write(fd, &r, sizeof r);
    _exit(n == (ssize_t)sizeof r ? 0 : 1);
}

int replay_ckpt_start(replay_ckpt_job *job, const char *path, const replay_ckpt_state *st,
                      shoal_err *err)
{
    if (job->pid > 0) {
        return shoal_err_set(err, SHOAL_ESTATE, "%s: a checkpoint is already being written",
                             path);
    }
    int fds[2];
    if (pipe(fds) != 0) {
        return shoal_err_set(err, SHOAL_EAGAIN, "%s: pipe: %s", path, strerror(errno));
    }
    pid_t parent = getpid();
    uint64_t t0 = clock_now_ns();
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        child_main(fds[1], parent, path, st);
    }
    int e = errno;
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        return shoal_err_set(err, SHOAL_EAGAIN, "%s: cannot fork the checkpoint writer: %s",
                             path, strerror(e));
    }
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    *job = (replay_ckpt_job){.pid = pid, .fd = fds[0], .start_ns = t0,
                             .fork_s = clock_since_s(t0)};
    return SHOAL_OK;
}

/* How a child that sent no result ended, as text. */
static void describe_exit(int pid, char *out, size_t cap)
{
    int status = 0;
    pid_t got;
    do {
        got = waitpid(pid, &status, 0);
    } while (got < 0 && errno == EINTR);
    if (got != pid) {
        snprintf(out, cap, "ended without a result (already reaped)");
    } else if (WIFSIGNALED(status)) {
        snprintf(out, cap, "was killed by signal %d", WTERMSIG(status));
    } else {
        snprintf(out, cap, "exited with status %d without a result",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
}

int replay_ckpt_poll(replay_ckpt_job *job, bool wait, replay_ckpt_done *done, shoal_err *err)
{
    if (done) {
        *done = (replay_ckpt_done){0};
    }
    if (job->pid <= 0) {
        return SHOAL_OK;
    }
    struct pollfd p = {.fd = job->fd, .events = POLLIN};
    int n;
    do {
        n = poll(&p, 1, wait ? -1 : 0);
    } while (n < 0 && errno == EINTR);
    if (n == 0) {
        return SHOAL_EAGAIN;
    }
    child_result r;
    ssize_t got;
    do {
        got = read(job->fd, &r, sizeof r);
    } while (got < 0 && errno == EINTR);
    close(job->fd);
    int rc;
    if (got == (ssize_t)sizeof r) {
        /* The result is in; the child is in _exit. SIGCHLD set to SIG_IGN would have reaped it
         * already, which is why the pipe, not the exit status, carries the result. */
        while (waitpid(job->pid, NULL, 0) < 0 && errno == EINTR) {
        }
        rc = r.code == SHOAL_OK ? SHOAL_OK : shoal_err_set(err, r.code, "%s", r.msg);
        if (done) {
            *done = (replay_ckpt_done){.bytes = r.bytes, .write_s = r.write_s};
        }
    } else {
        char how[96];
        describe_exit(job->pid, how, sizeof how);
        rc = shoal_err_set(err, SHOAL_EIO, "the checkpoint writer (pid %d) %s; the previous "
                           "checkpoint is kept", job->pid, how);
    }
    *job = (replay_ckpt_job)REPLAY_CKPT_JOB_INIT;
    return rc;
}
