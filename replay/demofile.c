#include "replay/demofile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/crc32c.h"
#include "common/fileio.h"
#include "replay/cio.h"
#include "replay/wire.h"

struct replay_demo_writer {
    atomic_file af;
    replay_cio io;
    uint8_t *buf;
    size_t buf_bytes;
};

replay_demo_writer *replay_demo_writer_open(const char *path, shoal_err *err)
{
    replay_demo_writer *w = calloc(1, sizeof *w);
    if (!w) {
        shoal_err_set(err, SHOAL_ENOMEM, "cannot allocate a demo writer");
        return NULL;
    }
    if (atomic_file_open(&w->af, path, err) != SHOAL_OK) {
        free(w);
        return NULL;
    }
    w->io = (replay_cio){.f = w->af.f, .what = w->af.path};
    if (replay_cio_write(&w->io, REPLAY_DEMO_MAGIC, 8, err) != SHOAL_OK ||
        replay_cio_write_u32(&w->io, REPLAY_DEMO_VERSION, err) != SHOAL_OK ||
        replay_cio_write_u32(&w->io, 0, err) != SHOAL_OK) {
        replay_demo_writer_abort(w);
        return NULL;
    }
    return w;
}

int replay_demo_writer_append(replay_demo_writer *w, const replay_batch *batch, shoal_err *err)
{
    if (!batch->demo || batch->actor_id != REPLAY_DEMO_ACTOR) {
        return shoal_err_set(err, SHOAL_EINVAL, "%s: a demonstration batch needs demo = true and "
                             "actor_id 0x%08X", w->af.path, REPLAY_DEMO_ACTOR);
    }
    replay_wire_insert m;
    replay_wire_batch(batch, &m);
    const Shoal__V1__InsertBatch *b = &m.msg;
    obs_spec spec;
    if (replay_wire_spec_of(b->obs_spec, &spec, err) != SHOAL_OK) {
        return shoal_err_prefix(err, "%s", w->af.path);
    }
    replay_transitions t;
    if (replay_wire_insert_view(b, &spec, UINT32_MAX, &t, err) != SHOAL_OK) {
        if (err) {
            err->code = SHOAL_EINVAL;
        }
        return shoal_err_prefix(err, "%s", w->af.path);
    }
    size_t n = shoal__v1__insert_batch__get_packed_size(b);
    if (n > REPLAY_DEMO_MAX_RECORD) {
        return shoal_err_set(err, SHOAL_EINVAL, "%s: a %zu-byte record exceeds %zu bytes; write "
                             "smaller batches", w->af.path, n, REPLAY_DEMO_MAX_RECORD);
    }
    if (n > w->buf_bytes) {
        uint8_t *bigger = realloc(w->buf, n);
        if (!bigger) {
            return shoal_err_set(err, SHOAL_ENOMEM, "cannot allocate %zu bytes", n);
        }
        w->buf = bigger;
        w->buf_bytes = n;
    }
    shoal__v1__insert_batch__pack(b, w->buf);
    int rc = replay_cio_write_u32(&w->io, (uint32_t)n, err);
    if (rc == SHOAL_OK) {
        rc = replay_cio_write_u32(&w->io, crc32c(w->buf, n), err);
    }
    if (rc == SHOAL_OK) {
        rc = replay_cio_write(&w->io, w->buf, n, err);
    }
    return rc;
}

int replay_demo_writer_close(replay_demo_writer *w, shoal_err *err)
{
    int rc = atomic_file_commit(&w->af, err);
    free(w->buf);
    free(w);
    return rc;
}

void replay_demo_writer_abort(replay_demo_writer *w)
{
    if (!w) {
        return;
    }
    atomic_file_abort(&w->af);
    free(w->buf);
    free(w);
}

static int read_header(replay_cio *io, shoal_err *err)
{
    char magic[8];
    uint32_t version, flags;
    int rc = replay_cio_read(io, magic, 8, err);
    if (rc == SHOAL_OK && memcmp(magic, REPLAY_DEMO_MAGIC, 8) != 0) {
        return shoal_err_set(err, SHOAL_ECORRUPT, "%s is not a shoal demonstration file (magic "
                             "is not %s)", io->what, REPLAY_DEMO_MAGIC);
    }
    if (rc == SHOAL_OK) {
        rc = replay_cio_read_u32(io, &version, err);
    }
    if (rc == SHOAL_OK) {
        rc = replay_cio_read_u32(io, &flags, err);
    }
    if (rc == SHOAL_OK && version != REPLAY_DEMO_VERSION) {
        return shoal_err_set(err, SHOAL_EVERSION, "%s: demo file version %u; this build reads "
                             "version %u", io->what, version, REPLAY_DEMO_VERSION);
    }
    return rc;
}

/* Reads one record into *buf; *done at a clean end of file. */
static int read_record(replay_cio *io, size_t index, uint8_t **buf, size_t *cap, size_t *len,
                       bool *done, shoal_err *err)
{
    uint64_t at = io->offset;
    int c = fgetc(io->f);
    if (c == EOF) {
        *done = true;
        return ferror(io->f) ? shoal_err_set(err, SHOAL_EIO, "%s: %s", io->what, strerror(errno))
                             : SHOAL_OK;
    }
    ungetc(c, io->f);
    uint32_t n, crc;
    int rc = replay_cio_read_u32(io, &n, err);
    if (rc == SHOAL_OK) {
        rc = replay_cio_read_u32(io, &crc, err);
    }
    if (rc == SHOAL_OK && n > REPLAY_DEMO_MAX_RECORD) {
        rc = shoal_err_set(err, SHOAL_ECORRUPT, "%s: record %zu at byte %llu claims %u bytes "
                           "(limit %zu): corrupt file", io->what, index, (unsigned long long)at, n,
                           REPLAY_DEMO_MAX_RECORD);
    }
    if (rc == SHOAL_OK && n > *cap) {
        uint8_t *bigger = realloc(*buf, n);
        if (!bigger) {
            return shoal_err_set(err, SHOAL_ENOMEM, "cannot allocate %u bytes", n);
        }
        *buf = bigger;
        *cap = n;
    }
    if (rc == SHOAL_OK) {
        rc = replay_cio_read(io, *buf, n, err);
    }
    if (rc == SHOAL_OK && crc32c(*buf, n) != crc) {
        rc = shoal_err_set(err, SHOAL_ECORRUPT, "%s: record %zu at byte %llu fails its CRC32C "
                           "check: the file is damaged", io->what, index, (unsigned long long)at);
    }
    if (rc != SHOAL_OK && err && err->code == SHOAL_ECORRUPT && !strstr(err->msg, "record")) {
        shoal_err_prefix(err, "record %zu at byte %llu", index, (unsigned long long)at);
    }
    *len = n;
    return rc;
}

typedef int (*record_fn)(void *ctx, const Shoal__V1__InsertBatch *b, shoal_err *err);

/* Calls fn for each record as it was written (decoded, not yet checked). */
static int read_records(const char *path, record_fn fn, void *ctx, shoal_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return shoal_err_set(err, errno == ENOENT ? SHOAL_ENOTFOUND : SHOAL_EIO,
                             "cannot open demonstration file %s: %s", path, strerror(errno));
    }
    replay_cio io = {.f = f, .what = path};
    uint8_t *buf = NULL;
    size_t cap = 0, len = 0;
    int rc = read_header(&io, err);
    for (size_t i = 0; rc == SHOAL_OK; i++) {
        bool done = false;
        rc = read_record(&io, i, &buf, &cap, &len, &done, err);
        if (rc != SHOAL_OK || done) {
            break;
        }
        Shoal__V1__InsertBatch *b = shoal__v1__insert_batch__unpack(NULL, len, buf);
        if (!b) {
            rc = shoal_err_set(err, SHOAL_ECORRUPT, "%s: record %zu is not a shoal.v1.InsertBatch",
                               path, i);
            break;
        }
        rc = fn(ctx, b, err);
        shoal__v1__insert_batch__free_unpacked(b, NULL);
        if (rc != SHOAL_OK) {
            shoal_err_prefix(err, "%s: record %zu", path, i);
        }
    }
    free(buf);
    fclose(f);
    return rc;
}

/* Calls fn on each comma-separated path. */
static int each_path(const char *paths, int (*fn)(void *, const char *, shoal_err *), void *ctx,
                     shoal_err *err)
{
    char path[FILEIO_PATH_MAX];
    const char *p = paths;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n && (*p == ' ' || *p == '\t')) {
            p++;
            n--;
        }
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t')) {
            n--;
        }
        if (n >= sizeof path) {
            return shoal_err_set(err, SHOAL_EINVAL, "demo path of %zu bytes is too long", n);
        }
        if (n) {
            memcpy(path, p, n);
            path[n] = '\0';
            int rc = fn(ctx, path, err);
            if (rc != SHOAL_OK) {
                return rc;
            }
        }
        if (!end) {
            break;
        }
        p = end + 1;
    }
    return SHOAL_OK;
}

typedef struct plain_ctx {
    replay_demo_fn fn;
    void *ctx;
} plain_ctx;

/* Checks a record against its own spec and hands it on as a replay_batch. */
static int plain_record(void *ctx, const Shoal__V1__InsertBatch *b, shoal_err *err)
{
    const plain_ctx *p = ctx;
    obs_spec spec;
    replay_batch batch;
    int rc = replay_wire_spec_of(b->obs_spec, &spec, err);
    if (rc == SHOAL_OK) {
        rc = replay_wire_batch_view(b, &spec, UINT32_MAX, &batch, err);
    }
    if (rc != SHOAL_OK) {
        if (err) {
            err->code = SHOAL_ECORRUPT;
        }
        return SHOAL_ECORRUPT;
    }
    return p->fn(p->ctx, &batch, err);
}

int replay_demo_read(const char *path, replay_demo_fn fn, void *ctx, shoal_err *err)
{
    plain_ctx p = {.fn = fn, .ctx = ctx};
    return read_records(path, plain_record, &p, err);
}

static int count_batch(void *ctx, const Shoal__V1__InsertBatch *b, shoal_err *err)
{
    (void)err;
    *(size_t *)ctx += b->count;
    return SHOAL_OK;
}

static int count_file(void *ctx, const char *path, shoal_err *err)
{
    return read_records(path, count_batch, ctx, err);
}

int replay_demo_count(const char *paths, size_t *n_transitions, shoal_err *err)
{
    *n_transitions = 0;
    return each_path(paths, count_file, n_transitions, err);
}

typedef struct load_ctx {
    replay_store *store;
    size_t n;
} load_ctx;

static int load_batch(void *ctx, const Shoal__V1__InsertBatch *b, shoal_err *err)
{
    load_ctx *l = ctx;
    replay_transitions t;
    int rc = replay_wire_insert_view(b, replay_store_spec(l->store), UINT32_MAX, &t, err);
    if (rc == SHOAL_OK && !b->demo) {
        rc = shoal_err_set(err, SHOAL_EINVAL, "batch is not marked demo");
    }
    if (rc == SHOAL_OK) {
        rc = replay_store_insert(l->store, &t, true, err);
    }
    if (rc == SHOAL_OK) {
        l->n += t.count;
    }
    return rc;
}

static int load_file(void *ctx, const char *path, shoal_err *err)
{
    return read_records(path, load_batch, ctx, err);
}

int replay_demo_load(replay_store *s, const char *paths, size_t *n_transitions, shoal_err *err)
{
    load_ctx l = {.store = s};
    int rc = each_path(paths, load_file, &l, err);
    if (n_transitions) {
        *n_transitions = l.n;
    }
    return rc;
}
