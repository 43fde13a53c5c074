#include "replay/demofile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/crc32c.h"
#include "common/fileio.h"
#include "common/log.h"
#include "replay/cio.h"
#include "replay/wire.h"

/* Header fields after magic, version and flags (version 2): counts, size and checksum of the
 * records, rewritten by the writer at close. */
#define COUNTS_AT 16

struct replay_demo_writer {
    atomic_file af;
    replay_cio io; /* its crc and offset restart after the header: they cover the records */
    uint64_t n_records, n_transitions;
    bool broken; /* a write failed part-way: close must not commit */
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
    /* Zero counts until close: the temporary file, were it ever renamed by hand, holds records
     * its header does not describe, which a reader refuses. */
    w->io = (replay_cio){.f = w->af.f, .what = w->af.path};
    if (replay_cio_write(&w->io, REPLAY_DEMO_MAGIC, 8, err) != SHOAL_OK ||
        replay_cio_write_u32(&w->io, REPLAY_DEMO_VERSION, err) != SHOAL_OK ||
        replay_cio_write_u32(&w->io, 0, err) != SHOAL_OK ||
        replay_cio_write_u64(&w->io, 0, err) != SHOAL_OK ||
        replay_cio_write_u64(&w->io, 0, err) != SHOAL_OK ||
        replay_cio_write_u64(&w->io, 0, err) != SHOAL_OK ||
        replay_cio_write_u32(&w->io, 0, err) != SHOAL_OK) {
        replay_demo_writer_abort(w);
        return NULL;
    }
    w->io.crc = 0;
    w->io.offset = 0;
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
    if (rc == SHOAL_OK) {
        w->n_records++;
        w->n_transitions += t.count;
    } else {
        w->broken = true;
    }
    return rc;
}

/* Writes the counts, size and CRC of the records into the header. */
static int finish_header(replay_demo_writer *w, shoal_err *err)
{
    if (fflush(w->af.f) != 0 || fseek(w->af.f, COUNTS_AT, SEEK_SET) != 0) {
        return shoal_err_set(err, SHOAL_EIO, "%s: %s", w->af.path, strerror(errno));
    }
    replay_cio head = {.f = w->af.f, .what = w->af.path};
    int rc = replay_cio_write_u64(&head, w->n_records, err);
    if (rc == SHOAL_OK) {
        rc = replay_cio_write_u64(&head, w->n_transitions, err);
    }
    if (rc == SHOAL_OK) {
        rc = replay_cio_write_u64(&head, w->io.offset, err);
    }
    if (rc == SHOAL_OK) {
        rc = replay_cio_write_u32(&head, w->io.crc, err);
    }
    return rc;
}

int replay_demo_writer_close(replay_demo_writer *w, shoal_err *err)
{
    int rc = SHOAL_OK;
    if (w->broken) {
        rc = shoal_err_set(err, SHOAL_EIO, "%s: not written: an earlier write to it failed",
                           w->af.path);
    } else {
        rc = finish_header(w, err);
    }
    if (rc == SHOAL_OK) {
        rc = atomic_file_commit(&w->af, err);
    } else {
        atomic_file_abort(&w->af);
    }
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

/* What a file's header says; version 1 files say only version and flags. */
typedef struct demo_header {
    uint32_t version, flags;
    uint64_t n_records, n_transitions, records_bytes;
    uint32_t crc;
} demo_header;

static int read_header(replay_cio *io, uint64_t file_bytes, demo_header *h, shoal_err *err)
{
    if (file_bytes < REPLAY_DEMO_HEADER_V1) {
        return shoal_err_set(err, SHOAL_ECORRUPT, "%s: truncated: %llu bytes, too short for a "
                             "demonstration file header", io->what,
                             (unsigned long long)file_bytes);
    }
    char magic[8];
    int rc = replay_cio_read(io, magic, 8, err);
    if (rc == SHOAL_OK && memcmp(magic, REPLAY_DEMO_MAGIC, 8) != 0) {
        return shoal_err_set(err, SHOAL_ECORRUPT, "%s is not a shoal demonstration file (magic "
                             "is not %s)", io->what, REPLAY_DEMO_MAGIC);
    }
    if (rc == SHOAL_OK) {
        rc = replay_cio_read_u32(io, &h->version, err);
    }
    if (rc == SHOAL_OK) {
        rc = replay_cio_read_u32(io, &h->flags, err);
    }
    if (rc != SHOAL_OK) {
        return rc;
    }
    if (h->version != REPLAY_DEMO_VERSION && h->version != 1) {
        return shoal_err_set(err, SHOAL_EVERSION, "%s: demo file version %u; this build reads "
                             "versions 1 and %u", io->what, h->version, REPLAY_DEMO_VERSION);
    }
    if (h->flags & ~REPLAY_DEMO_FLAGS_KNOWN) {
        return shoal_err_set(err, SHOAL_ECORRUPT, "%s: unknown bits 0x%08x in the header's flags "
                             "word (this build knows 0x%08x): the file is damaged or from a newer "
                             "shoal", io->what, h->flags & ~REPLAY_DEMO_FLAGS_KNOWN,
                             REPLAY_DEMO_FLAGS_KNOWN);
    }
    if (h->version == 1) {
        return SHOAL_OK;
    }
    if (file_bytes < REPLAY_DEMO_HEADER) {
        return shoal_err_set(err, SHOAL_ECORRUPT, "%s: truncated: %llu bytes, shorter than the "
                             "%d-byte header", io->what, (unsigned long long)file_bytes,
                             REPLAY_DEMO_HEADER);
    }
    rc = replay_cio_read_u64(io, &h->n_records, err);
    if (rc == SHOAL_OK) {
        rc = replay_cio_read_u64(io, &h->n_transitions, err);
    }
    if (rc == SHOAL_OK) {
        rc = replay_cio_read_u64(io, &h->records_bytes, err);
    }
    if (rc == SHOAL_OK) {
        rc = replay_cio_read_u32(io, &h->crc, err);
    }
    uint64_t body = file_bytes - REPLAY_DEMO_HEADER;
    if (rc == SHOAL_OK && body != h->records_bytes) {
        rc = shoal_err_set(err, SHOAL_ECORRUPT, "%s: %s: the header describes %llu records in "
                           "%llu bytes after it, the file holds %llu", io->what,
                           body < h->records_bytes ? "truncated" : "trailing bytes",
                           (unsigned long long)h->n_records,
                           (unsigned long long)h->records_bytes, (unsigned long long)body);
    }
    return rc;
}

/* Reads one record into *buf. */
static int read_record(replay_cio *io, size_t index, uint8_t **buf, size_t *cap, size_t *len,
                       shoal_err *err)
{
    uint64_t at = io->offset;
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

/* What a whole read found, checked against a version 2 header at the end. */
static int check_totals(const char *path, const demo_header *h, uint64_t n_records,
                        uint64_t n_transitions, uint32_t crc, shoal_err *err)
{
    if (h->version == 1) {
        return n_records ? SHOAL_OK
                         : shoal_err_set(err, SHOAL_ECORRUPT, "%s: a version 1 file with no "
                                         "records: cut to its header", path);
    }
    if (n_records != h->n_records || n_transitions != h->n_transitions) {
        return shoal_err_set(err, SHOAL_ECORRUPT, "%s: holds %llu records of %llu transitions but "
                             "its header says %llu of %llu: the file is damaged", path,
                             (unsigned long long)n_records, (unsigned long long)n_transitions,
                             (unsigned long long)h->n_records,
                             (unsigned long long)h->n_transitions);
    }
    if (crc != h->crc) {
        return shoal_err_set(err, SHOAL_ECORRUPT, "%s: CRC32C of the records is %08x but the "
                             "header says %08x: the file is damaged", path, crc, h->crc);
    }
    return SHOAL_OK;
}

typedef int (*record_fn)(void *ctx, const Shoal__V1__InsertBatch *b, shoal_err *err);

/* Calls fn for each record as it was written (decoded, not yet checked), checking the header
 * before the first and the counts and checksum after the last: a caller that must not act on
 * part of a damaged file reads it once with a fn that only checks. warn_v1: say in the log
 * that a version 1 file cannot be checked whole. */
static int read_records(const char *path, record_fn fn, void *ctx, bool warn_v1,
                        replay_demo_summary *sum, shoal_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return shoal_err_set(err, errno == ENOENT ? SHOAL_ENOTFOUND : SHOAL_EIO,
                             "cannot open demonstration file %s: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        int rc = shoal_err_set(err, SHOAL_EIO, "%s: %s", path, strerror(errno));
        fclose(f);
        return rc;
    }
    uint64_t file_bytes = (uint64_t)st.st_size;
    replay_cio io = {.f = f, .what = path};
    demo_header h = {0};
    uint8_t *buf = NULL;
    size_t cap = 0, len = 0;
    uint64_t n_transitions = 0;
    int rc = read_header(&io, file_bytes, &h, err);
    io.crc = 0; /* the file's checksum covers its records */
    size_t i = 0;
    for (; rc == SHOAL_OK && io.offset < file_bytes; i++) {
        rc = read_record(&io, i, &buf, &cap, &len, err);
        if (rc != SHOAL_OK) {
            break;
        }
        Shoal__V1__InsertBatch *b = shoal__v1__insert_batch__unpack(NULL, len, buf);
        if (!b) {
            rc = shoal_err_set(err, SHOAL_ECORRUPT, "%s: record %zu is not a shoal.v1.InsertBatch",
                               path, i);
            break;
        }
        n_transitions += b->count;
        rc = fn(ctx, b, err);
        shoal__v1__insert_batch__free_unpacked(b, NULL);
        if (rc != SHOAL_OK) {
            shoal_err_prefix(err, "%s: record %zu", path, i);
        }
    }
    if (rc == SHOAL_OK) {
        rc = check_totals(path, &h, i, n_transitions, io.crc, err);
    }
    if (rc == SHOAL_OK && sum) {
        *sum = (replay_demo_summary){h.version, i, n_transitions};
    }
    if (rc == SHOAL_OK && h.version == 1 && warn_v1) {
        log_warn("%s is a version 1 demonstration file: it has no record count or checksum, so a "
                 "cut at a record boundary goes unnoticed; record it again with `shoal demos "
                 "record` for version %u", path, REPLAY_DEMO_VERSION);
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

/* A pass over files that checks every record and stores nothing. */
typedef struct check_ctx {
    const obs_spec *spec; /* what the records must hold; NULL: each record's own obs_spec */
    size_t n;             /* transitions checked */
} check_ctx;

/* Checks a record as a shard would before storing it (against c->spec, or else against its own
 * spec, when a record that disagrees with itself is a damaged file: ECORRUPT). */
static int check_batch(void *ctx, const Shoal__V1__InsertBatch *b, shoal_err *err)
{
    check_ctx *c = ctx;
    obs_spec own;
    replay_transitions t;
    int rc = c->spec ? SHOAL_OK : replay_wire_spec_of(b->obs_spec, &own, err);
    if (rc == SHOAL_OK) {
        rc = replay_wire_insert_view(b, c->spec ? c->spec : &own, UINT32_MAX, &t, err);
    }
    if (rc != SHOAL_OK && !c->spec && err) {
        err->code = SHOAL_ECORRUPT;
    }
    if (rc == SHOAL_OK && !b->demo) {
        rc = shoal_err_set(err, SHOAL_EINVAL, "batch is not marked demo");
    }
    if (rc == SHOAL_OK) {
        c->n += t.count;
    }
    return rc;
}

static int check_file(void *ctx, const char *path, shoal_err *err)
{
    return read_records(path, check_batch, ctx, false, NULL, err);
}

typedef struct plain_ctx {
    replay_demo_fn fn;
    void *ctx;
} plain_ctx;

/* Hands a checked record on as a replay_batch. */
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
    check_ctx c = {0};
    int rc = check_file(&c, path, err);
    if (rc == SHOAL_OK) {
        plain_ctx p = {.fn = fn, .ctx = ctx};
        rc = read_records(path, plain_record, &p, true, NULL, err);
    }
    return rc;
}

int replay_demo_check(const char *path, replay_demo_summary *out, shoal_err *err)
{
    check_ctx c = {0};
    return read_records(path, check_batch, &c, false, out, err);
}

int replay_demo_count(const char *paths, size_t *n_transitions, shoal_err *err)
{
    check_ctx c = {0};
    int rc = each_path(paths, check_file, &c, err);
    *n_transitions = c.n;
    return rc;
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
    return read_records(path, load_batch, ctx, true, NULL, err);
}

int replay_demo_load(replay_store *s, const char *paths, size_t *n_transitions, shoal_err *err)
{
    /* Every file is checked whole before anything is stored, so a damaged one leaves the store
     * as it was. */
    check_ctx c = {.spec = replay_store_spec(s)};
    int rc = each_path(paths, check_file, &c, err);
    replay_totals t = replay_store_totals(s);
    uint64_t room = replay_store_demo_capacity(s) - t.demo_size;
    if (rc == SHOAL_OK && c.n > room) {
        rc = shoal_err_set(err, SHOAL_ESTATE, "%s hold %zu demonstrations; the demo store has "
                           "room for %llu (replay.demo_capacity)", paths, c.n,
                           (unsigned long long)room);
    }
    load_ctx l = {.store = s};
    if (rc == SHOAL_OK) {
        rc = each_path(paths, load_file, &l, err);
    }
    if (n_transitions) {
        *n_transitions = l.n;
    }
    return rc;
}
