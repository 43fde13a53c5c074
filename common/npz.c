#include "common/npz.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crc32c.h"
#include "common/fileio.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "npz entries are written as little-endian float32 ('<f4'); add byte swapping for this host"
#endif

/* Zip signatures and fields (PKWARE APPNOTE.TXT 6.3: 4.3.7 local header, 4.3.12 central
 * directory header, 4.3.16 end of central directory). Version 2.0 is the lowest that
 * readers of stored entries expect; a fixed DOS date (1980-01-01 00:00) keeps exports of
 * the same checkpoint byte-identical. */
#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_END 0x06054b50u
#define ZIP_VERSION 20u
#define DOS_DATE ((0u << 9) | (1u << 5) | 1u)
#define LOCAL_HEAD 30u
#define MAX_ZIP ((uint64_t)UINT32_MAX)
#define MAX_ENTRIES 0xFFFFu

/* .npy 1.0: magic, version, u16 header length, then the header dict padded with spaces and
 * a newline so that the data starts on a 64-byte boundary (what numpy itself writes). */
#define NPY_MAGIC "\x93NUMPY\x01\x00"
#define NPY_PREAMBLE 10u
#define NPY_ALIGN 64u
#define NPY_HEADER_MAX 512u

typedef struct entry {
    char name[NPZ_NAME_MAX + 5]; /* + ".npy" */
    uint32_t crc, size, offset;
} entry;

struct npz_writer {
    atomic_file af;
    entry *entries;
    size_t n, cap;
    uint64_t at; /* bytes written so far */
    int failed;
};

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

npz_writer *npz_writer_open(const char *path, shoal_err *err)
{
    npz_writer *w = calloc(1, sizeof *w);
    if (!w) {
        shoal_err_set(err, SHOAL_ENOMEM, "%s: out of memory", path);
        return NULL;
    }
    if (atomic_file_open(&w->af, path, err) != SHOAL_OK) {
        free(w);
        return NULL;
    }
    return w;
}

static int fail(npz_writer *w, shoal_err *err, int code, const char *what, const char *name)
{
    w->failed = 1;
    return shoal_err_set(err, code, "%s: entry \"%s\": %s", w->af.path, name, what);
}

/* Reserves the entry name (with suffix) after checking it is new and fits. */
static int new_entry(npz_writer *w, const char *name, const char *suffix, uint64_t bytes,
                     entry **out, shoal_err *err)
{
    if (w->failed) {
        return shoal_err_set(err, SHOAL_ESTATE, "%s: an earlier entry failed", w->af.path);
    }
    size_t len = strlen(name);
    if (len == 0 || len > NPZ_NAME_MAX) {
        return fail(w, err, SHOAL_EINVAL, "name is empty or too long", name);
    }
    char full[sizeof w->entries[0].name];
    snprintf(full, sizeof full, "%s%s", name, suffix);
    for (size_t i = 0; i < w->n; i++) {
        if (strcmp(w->entries[i].name, full) == 0) {
            return fail(w, err, SHOAL_EINVAL, "the archive already has this entry", name);
        }
    }
    /* The central directory adds 46 + name bytes per entry and 22 at the end. */
    uint64_t after = w->at + LOCAL_HEAD + strlen(full) + bytes + (w->n + 1) * (46u + sizeof full) + 22u;
    if (bytes > MAX_ZIP || after > MAX_ZIP || w->n >= MAX_ENTRIES) {
        return fail(w, err, SHOAL_EINVAL, "the archive would pass 4 GiB or 65535 entries (zip64 "
                    "is not written)", name);
    }
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 32;
        entry *grown = realloc(w->entries, cap * sizeof *grown);
        if (!grown) {
            return fail(w, err, SHOAL_ENOMEM, "out of memory", name);
        }
        w->entries = grown;
        w->cap = cap;
    }
    entry *e = &w->entries[w->n];
    memset(e, 0, sizeof *e);
    memcpy(e->name, full, strlen(full) + 1);
    e->offset = (uint32_t)w->at;
    e->size = (uint32_t)bytes;
    *out = e;
    return SHOAL_OK;
}

static void write_bytes(npz_writer *w, const void *data, size_t n)
{
    if (n && fwrite(data, 1, n, w->af.f) != n) {
        w->failed = 1;
    }
    w->at += n;
}

/* The local header needs the CRC before the data: the caller computes it over the parts. */
static int write_entry(npz_writer *w, entry *e, const void *part1, size_t n1, const void *part2,
                       size_t n2, shoal_err *err)
{
    e->crc = crc32_ieee_update(crc32_ieee(part1, n1), part2, n2);
    uint8_t h[LOCAL_HEAD];
    size_t name_len = strlen(e->name);
    put_le(h, SIG_LOCAL, 4);
    put_le(h + 4, ZIP_VERSION, 2);
    put_le(h + 6, 0, 2); /* flags */
    put_le(h + 8, 0, 2); /* method: stored */
    put_le(h + 10, 0, 2);
    put_le(h + 12, DOS_DATE, 2);
    put_le(h + 14, e->crc, 4);
    put_le(h + 18, e->size, 4);
    put_le(h + 22, e->size, 4);
    put_le(h + 26, name_len, 2);
    put_le(h + 28, 0, 2);
    write_bytes(w, h, sizeof h);
    write_bytes(w, e->name, name_len);
    write_bytes(w, part1, n1);
    write_bytes(w, part2, n2);
    if (w->failed) {
        return fail(w, err, SHOAL_EIO, "write failed (disk full?)", e->name);
    }
    w->n++;
    return SHOAL_OK;
}

/* The .npy header for a float32 array in C order; returns its length (a multiple of 64). */
static size_t npy_header(char *h, const size_t *shape, size_t n_dims)
{
    char dims[NPZ_MAX_DIMS * 24 + 4] = "";
    size_t at = 0;
    for (size_t i = 0; i < n_dims; i++) {
        at += (size_t)snprintf(dims + at, sizeof dims - at, "%zu,%s", shape[i],
                               i + 1 < n_dims ? " " : "");
    }
    if (n_dims > 1) {
        dims[at - 1] = '\0'; /* numpy writes (2, 3) but (5,) */
    }
    memcpy(h, NPY_MAGIC, 8);
    int n = snprintf(h + NPY_PREAMBLE, NPY_HEADER_MAX - NPY_PREAMBLE,
                     "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", dims);
    size_t len = NPY_PREAMBLE + (size_t)n + 1;
    size_t total = (len + NPY_ALIGN - 1) / NPY_ALIGN * NPY_ALIGN;
    memset(h + NPY_PREAMBLE + n, ' ', total - len);
    h[total - 1] = '\n';
    put_le((uint8_t *)h + 8, total - NPY_PREAMBLE, 2);
    return total;
}

int npz_writer_add_f32(npz_writer *w, const char *name, const size_t *shape, size_t n_dims,
                       const float *data, shoal_err *err)
{
    if (n_dims > NPZ_MAX_DIMS) {
        return fail(w, err, SHOAL_EINVAL, "too many dimensions", name);
    }
    uint64_t count = 1;
    for (size_t i = 0; i < n_dims; i++) {
        if (shape[i] > MAX_ZIP || (shape[i] && count > MAX_ZIP / shape[i])) {
            return fail(w, err, SHOAL_EINVAL, "array larger than 4 GiB", name);
        }
        count *= shape[i];
    }
    char h[NPY_HEADER_MAX];
    size_t head = npy_header(h, shape, n_dims);
    entry *e = NULL;
    int rc = new_entry(w, name, ".npy", head + 4 * count, &e, err);
    return rc != SHOAL_OK ? rc : write_entry(w, e, h, head, data, (size_t)(4 * count), err);
}

int npz_writer_add_file(npz_writer *w, const char *name, const void *data, size_t n,
                        shoal_err *err)
{
    entry *e = NULL;
    int rc = new_entry(w, name, "", n, &e, err);
    return rc != SHOAL_OK ? rc : write_entry(w, e, data, n, NULL, 0, err);
}

static void write_central(npz_writer *w)
{
    uint64_t start = w->at;
    for (size_t i = 0; i < w->n; i++) {
        const entry *e = &w->entries[i];
        uint8_t h[46];
        memset(h, 0, sizeof h);
        put_le(h, SIG_CENTRAL, 4);
        put_le(h + 4, ZIP_VERSION, 2); /* made by: MS-DOS/FAT attributes, version 2.0 */
        put_le(h + 6, ZIP_VERSION, 2);
        put_le(h + 12, 0, 2);
        put_le(h + 14, DOS_DATE, 2);
        put_le(h + 16, e->crc, 4);
        put_le(h + 20, e->size, 4);
        put_le(h + 24, e->size, 4);
        put_le(h + 28, strlen(e->name), 2);
        put_le(h + 42, e->offset, 4);
        write_bytes(w, h, sizeof h);
        write_bytes(w, e->name, strlen(e->name));
    }
    uint8_t end[22];
    memset(end, 0, sizeof end);
    put_le(end, SIG_END, 4);
    put_le(end + 8, w->n, 2);
    put_le(end + 10, w->n, 2);
    put_le(end + 12, w->at - start, 4);
    put_le(end + 16, start, 4);
    write_bytes(w, end, sizeof end);
}

int npz_writer_commit(npz_writer **wp, shoal_err *err)
{
    npz_writer *w = *wp;
    if (!w->failed) {
        write_central(w);
    }
    int rc;
    if (w->failed) {
        rc = shoal_err_set(err, SHOAL_EIO, "%s: not written: an entry was refused or a write "
                           "failed (disk full?)", w->af.path);
        atomic_file_abort(&w->af);
    } else {
        rc = atomic_file_commit(&w->af, err);
    }
    free(w->entries);
    free(w);
    *wp = NULL;
    return rc;
}

void npz_writer_abort(npz_writer **wp)
{
    if (!wp || !*wp) {
        return;
    }
    atomic_file_abort(&(*wp)->af);
    free((*wp)->entries);
    free(*wp);
    *wp = NULL;
}
