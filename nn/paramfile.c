#include "nn/paramfile.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crc32c.h"
#include "common/fileio.h"

static const uint8_t MAGIC[8] = {'S', 'H', 'O', 'A', 'L', 'N', 'E', 'T'};

/* magic, version, arch_len | arch | step, frames, n_params, optim_kind, optim_steps, n_state */
#define FIXED_HEAD (8 + 4 + 4)
#define FIXED_MID (8 + 8 + 8 + 4 + 8 + 8)
#define MAX_FILE_BYTES ((size_t)1 << 34)

/* The parsed file: counters and pointers into the file's bytes. */
typedef struct parsed {
    const uint8_t *arch;
    uint32_t arch_len;
    uint64_t step, frames, n_params, optim_steps, n_state;
    uint32_t optim_kind;
    const uint8_t *params, *state;
} parsed;

/* Writes little-endian integers and raw bytes while keeping the running CRC. */
typedef struct writer {
    FILE *f;
    uint32_t crc;
    int ok;
} writer;

static void put(writer *w, const void *data, size_t n)
{
    w->crc = crc32c_update(w->crc, data, n);
    w->ok = w->ok && fwrite(data, 1, n, w->f) == n;
}

static void put_u32(writer *w, uint32_t v)
{
    uint8_t b[4];
    for (int i = 0; i < 4; i++) {
        b[i] = (uint8_t)(v >> (8 * i));
    }
    put(w, b, 4);
}

static void put_u64(writer *w, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)(v >> (8 * i));
    }
    put(w, b, 8);
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p)
{
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "parameter files store float32 little-endian; add byte swapping for this host"
#endif

int nn_paramfile_save(const char *path, const nn_qnet *net, const nn_optim *opt, uint64_t step,
                      uint64_t frames, shoal_err *err)
{
    atomic_file af;
    if (atomic_file_open(&af, path, err) != SHOAL_OK) {
        return err ? err->code : SHOAL_EIO;
    }
    writer w = {af.f, 0, 1};
    const char *arch = nn_qnet_arch(net);
    size_t n_state = 0;
    const float *state = NULL;
    if (opt) {
        state = nn_optim_state(opt, &n_state);
    }
    put(&w, MAGIC, sizeof MAGIC);
    put_u32(&w, NN_PARAMFILE_VERSION);
    put_u32(&w, (uint32_t)strlen(arch));
    put(&w, arch, strlen(arch));
    put_u64(&w, step);
    put_u64(&w, frames);
    put_u64(&w, nn_qnet_n_params(net));
    put_u32(&w, opt ? (uint32_t)nn_optim_config_of(opt)->kind : 0u);
    put_u64(&w, opt ? nn_optim_steps(opt) : 0u);
    put_u64(&w, n_state);
    put(&w, nn_qnet_params(net), nn_qnet_n_params(net) * sizeof(float));
    if (n_state) {
        put(&w, state, n_state * sizeof(float));
    }
    put_u32(&w, w.crc);
    if (!w.ok) {
        atomic_file_abort(&af);
        return shoal_err_set(err, SHOAL_EIO, "%s: write failed (disk full?)", path);
    }
    return atomic_file_commit(&af, err);
}

/* Checks structure, size and CRC of a whole file image; fills p with views into buf. */
static int parse(const uint8_t *buf, size_t n, const char *path, parsed *p, shoal_err *err)
{
    if (n < FIXED_HEAD || memcmp(buf, MAGIC, sizeof MAGIC) != 0) {
        return shoal_err_set(err, SHOAL_ECORRUPT, "%s: not a shoal parameter file (no \"SHOALNET\" "
                             "magic in its %zu bytes)", path, n);
    }
    uint32_t version = get_u32(buf + 8);
    if (version != NN_PARAMFILE_VERSION) {
        return shoal_err_set(err, SHOAL_EVERSION, "%s: parameter file format version %u; this "
                             "build reads version %u", path, version, NN_PARAMFILE_VERSION);
    }
    p->arch_len = get_u32(buf + 12);
    if (p->arch_len >= NN_QNET_ARCH_MAX) {
        return shoal_err_set(err, SHOAL_ECORRUPT, "%s: architecture string of %u bytes exceeds "
                             "%d; the file is corrupt", path, p->arch_len, NN_QNET_ARCH_MAX - 1);
    }
    size_t head = FIXED_HEAD + p->arch_len + FIXED_MID;
    if (n < head + 4) {
        return shoal_err_set(err, SHOAL_ECORRUPT, "%s: truncated: %zu bytes, shorter than its "
                             "own header", path, n);
    }
    const uint8_t *q = buf + FIXED_HEAD + p->arch_len;
    p->arch = buf + FIXED_HEAD;
    p->step = get_u64(q);
    p->frames = get_u64(q + 8);
    p->n_params = get_u64(q + 16);
    p->optim_kind = get_u32(q + 24);
    p->optim_steps = get_u64(q + 28);
    p->n_state = get_u64(q + 36);
    if (p->n_params > n / 4 || p->n_state > n / 4 || head + 4 * (p->n_params + p->n_state) + 4 != n) {
        uint64_t want = head + 4 * (p->n_params + p->n_state) + 4;
        int overflow = p->n_params > n / 4 || p->n_state > n / 4;
        return shoal_err_set(err, SHOAL_ECORRUPT, "%s: %s: the header describes %s%llu bytes, "
                             "the file has %zu", path, n < want || overflow ? "truncated"
                             : "trailing bytes", overflow ? "more than " : "",
                             overflow ? (unsigned long long)n : (unsigned long long)want, n);
    }
    uint32_t stored = get_u32(buf + n - 4), actual = crc32c(buf, n - 4);
    if (stored != actual) {
        return shoal_err_set(err, SHOAL_ECORRUPT, "%s: CRC32C mismatch (stored %08x, computed "
                             "%08x); the file is corrupt", path, stored, actual);
    }
    p->params = buf + head;
    p->state = p->params + 4 * p->n_params;
    return SHOAL_OK;
}

static int read_parsed(const char *path, uint8_t **buf, parsed *p, shoal_err *err)
{
    size_t n = 0;
    int rc = file_read_all(path, MAX_FILE_BYTES, buf, &n, err);
    if (rc != SHOAL_OK) {
        return rc;
    }
    rc = parse(*buf, n, path, p, err);
    if (rc != SHOAL_OK) {
        free(*buf);
        *buf = NULL;
    }
    return rc;
}

int nn_paramfile_load(const char *path, nn_qnet *net, nn_optim *opt, uint64_t *step,
                      uint64_t *frames, shoal_err *err)
{
    uint8_t *buf = NULL;
    parsed p = {0};
    int rc = read_parsed(path, &buf, &p, err);
    if (rc != SHOAL_OK) {
        return rc;
    }
    const char *arch = nn_qnet_arch(net);
    if (p.arch_len != strlen(arch) || memcmp(p.arch, arch, p.arch_len) != 0 ||
        p.n_params != nn_qnet_n_params(net)) {
        rc = shoal_err_set(err, SHOAL_EARCH, "%s: holds \"%.*s\" but the network is \"%s\"",
                           path, (int)p.arch_len, (const char *)p.arch, arch);
        goto done;
    }
    size_t n_state = 0;
    float *state = NULL;
    if (opt) {
        state = nn_optim_state(opt, &n_state);
        if (p.optim_kind != (uint32_t)nn_optim_config_of(opt)->kind || p.n_state != n_state) {
            rc = shoal_err_set(err, SHOAL_ESTATE, "%s: holds optimizer kind %u with %llu state "
                               "floats; expected kind %d with %zu (load with no optimizer to "
                               "take the parameters only)", path, p.optim_kind,
                               (unsigned long long)p.n_state, (int)nn_optim_config_of(opt)->kind,
                               n_state);
            goto done;
        }
        memcpy(state, p.state, n_state * sizeof(float));
        nn_optim_set_steps(opt, p.optim_steps);
    }
    memcpy(nn_qnet_params(net), p.params, p.n_params * sizeof(float));
    if (step) {
        *step = p.step;
    }
    if (frames) {
        *frames = p.frames;
    }
done:
    free(buf);
    return rc;
}

int nn_paramfile_read_arch(const char *path, char *arch, size_t cap, shoal_err *err)
{
    uint8_t *buf = NULL;
    parsed p = {0};
    int rc = read_parsed(path, &buf, &p, err);
    if (rc != SHOAL_OK) {
        return rc;
    }
    if (cap <= p.arch_len) {
        rc = shoal_err_set(err, SHOAL_EINVAL, "%s: architecture string needs %u bytes, buffer has "
                           "%zu", path, p.arch_len + 1, cap);
    } else {
        memcpy(arch, p.arch, p.arch_len);
        arch[p.arch_len] = '\0';
    }
    free(buf);
    return rc;
}

int nn_paramfile_checkpoint_name(uint64_t step, char *name, size_t cap, shoal_err *err)
{
    int n = snprintf(name, cap, "step-%" PRIu64 ".ckpt", step);
    if (n < 0 || (size_t)n >= cap) {
        return shoal_err_set(err, SHOAL_EINVAL, "checkpoint name of step %" PRIu64 " needs %d "
                             "bytes, buffer has %zu", step, n + 1, cap);
    }
    return SHOAL_OK;
}

int nn_paramfile_checkpoint_path(const char *run_dir, uint64_t step, char *out, size_t cap,
                                 shoal_err *err)
{
    char name[NN_PARAMFILE_NAME_MAX];
    nn_paramfile_checkpoint_name(step, name, sizeof name, NULL);
    int n = snprintf(out, cap, "%s/" NN_PARAMFILE_CHECKPOINT_DIR "/%s", run_dir, name);
    if (n < 0 || (size_t)n >= cap) {
        return shoal_err_set(err, SHOAL_EINVAL, "%s: run directory path too long", run_dir);
    }
    return SHOAL_OK;
}

int nn_paramfile_sibling_path(const char *path, const char *ext, char *out, size_t cap,
                              shoal_err *err)
{
    size_t n = strlen(path);
    const char *ckpt = ".ckpt";
    size_t n_ckpt = strlen(ckpt);
    if (n >= n_ckpt && strcmp(path + n - n_ckpt, ckpt) == 0) {
        n -= n_ckpt;
    }
    int len = snprintf(out, cap, "%.*s%s", (int)n, path, ext);
    if (len < 0 || (size_t)len >= cap) {
        return shoal_err_set(err, SHOAL_EINVAL, "%s: checkpoint path too long", path);
    }
    return SHOAL_OK;
}

bool nn_paramfile_checkpoint_step(const char *name, uint64_t *step)
{
    const char *digits = name + 5;
    if (strncmp(name, "step-", 5) != 0 || *digits < '0' || *digits > '9' ||
        (digits[0] == '0' && digits[1] != '.')) {
        return false;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(digits, &end, 10);
    if (errno || strcmp(end, ".ckpt") != 0) {
        return false;
    }
    *step = v;
    return true;
}

int nn_paramfile_checkpoint_each(const char *run_dir,
                                 int (*fn)(uint64_t step, void *arg, shoal_err *err), void *arg,
                                 shoal_err *err)
{
    char dir[FILEIO_PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s/" NN_PARAMFILE_CHECKPOINT_DIR, run_dir) >= (int)sizeof dir) {
        return shoal_err_set(err, SHOAL_EINVAL, "%s: run directory path too long", run_dir);
    }
    DIR *d = opendir(dir);
    if (!d) {
        return shoal_err_set(err, errno == ENOENT ? SHOAL_ENOTFOUND : SHOAL_EIO, "%s: %s", dir,
                             strerror(errno));
    }
    int rc = SHOAL_OK;
    for (struct dirent *e; rc == SHOAL_OK && (e = readdir(d)) != NULL;) {
        uint64_t step;
        if (nn_paramfile_checkpoint_step(e->d_name, &step)) {
            rc = fn(step, arg, err);
        }
    }
    closedir(d);
    return rc;
}
