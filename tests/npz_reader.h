/* A strict reader of the .npz files shoal writes (common/npz.h), written from the zip and .npy
 * specifications rather than from the writer: it walks the end record, the central directory
 * and each local header, checks that they agree, checks every entry's CRC-32, and parses each
 * .npy header (magic, version 1.0, header length, alignment, dtype '<f4', C order, shape).
 * For the tests of `shoal export`, which must pass without Python. */
#ifndef SHOAL_TESTS_NPZ_READER_H
#define SHOAL_TESTS_NPZ_READER_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crc32c.h"
#include "common/fileio.h"

#define NPZR_MAX_ENTRIES 512

typedef struct npzr_entry {
    char name[256];
    const uint8_t *data; /* the entry's bytes inside the file image */
    uint32_t size;
    int is_npy;
    size_t n_dims, shape[8], count;
    const float *values; /* .npy: the array (aligned copy owned by the reader) */
} npzr_entry;

typedef struct npzr {
    uint8_t *file;
    size_t n_bytes;
    npzr_entry e[NPZR_MAX_ENTRIES];
    size_t n;
} npzr;

static inline uint32_t npzr_le(const uint8_t *p, int bytes)
{
    uint32_t v = 0;
    for (int i = bytes - 1; i >= 0; i--) {
        v = v << 8 | p[i];
    }
    return v;
}

/* "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" -> shape. */
static inline void npzr_parse_npy(npzr_entry *e)
{
    cr_assert_geq(e->size, 10u, "%s: shorter than a .npy preamble", e->name);
    cr_assert(memcmp(e->data, "\x93NUMPY\x01\x00", 8) == 0, "%s: not .npy version 1.0", e->name);
    size_t hlen = npzr_le(e->data + 8, 2);
    cr_assert_eq((10 + hlen) % 64, 0u, "%s: data not 64-byte aligned", e->name);
    cr_assert_leq(10 + hlen, e->size, "%s: header past the entry", e->name);
    char h[1024];
    cr_assert_lt(hlen, sizeof h);
    memcpy(h, e->data + 10, hlen);
    h[hlen] = '\0';
    cr_assert_eq(h[hlen - 1], '\n', "%s: header does not end in a newline", e->name);
    cr_assert(strstr(h, "'descr': '<f4'"), "%s: dtype is not little-endian float32: %s", e->name,
              h);
    cr_assert(strstr(h, "'fortran_order': False"), "%s: not C order: %s", e->name, h);
    const char *s = strstr(h, "'shape': (");
    cr_assert_not_null(s, "%s: no shape: %s", e->name, h);
    s += strlen("'shape': (");
    e->n_dims = 0;
    e->count = 1;
    while (*s != ')') {
        char *end;
        unsigned long v = strtoul(s, &end, 10);
        cr_assert(end != s, "%s: bad shape in %s", e->name, h);
        cr_assert_lt(e->n_dims, 8u);
        e->shape[e->n_dims++] = v;
        e->count *= v;
        s = end;
        if (*s == ',') {
            s++;
        }
        while (*s == ' ') {
            s++;
        }
    }
    cr_assert_eq(10 + hlen + 4 * e->count, e->size, "%s: %zu values do not fill the entry",
                 e->name, e->count);
    float *v = malloc(4 * e->count + 1);
    cr_assert_not_null(v);
    memcpy(v, e->data + 10 + hlen, 4 * e->count);
    e->values = v;
}

/* Reads and checks path; every failure is a test failure naming what is wrong. */
static inline void npzr_open(npzr *z, const char *path)
{
    memset(z, 0, sizeof *z);
    shoal_err err = {0};
    cr_assert_eq(file_read_all(path, (size_t)1 << 32, &z->file, &z->n_bytes, &err), SHOAL_OK,
                 "%s", err.msg);
    const uint8_t *f = z->file;
    size_t n = z->n_bytes;
    cr_assert_geq(n, 22u, "%s: no end of central directory record", path);
    const uint8_t *end = f + n - 22; /* shoal writes no archive comment */
    cr_assert_eq(npzr_le(end, 4), 0x06054b50u, "%s: no end record at the end", path);
    size_t n_entries = npzr_le(end + 10, 2), cd_size = npzr_le(end + 12, 4);
    size_t cd_off = npzr_le(end + 16, 4);
    cr_assert_eq(npzr_le(end + 8, 2), n_entries);
    cr_assert_eq(cd_off + cd_size, n - 22, "%s: central directory does not end at the end record",
                 path);
    cr_assert_leq(n_entries, NPZR_MAX_ENTRIES);
    const uint8_t *c = f + cd_off;
    size_t expect_local = 0;
    for (size_t i = 0; i < n_entries; i++) {
        npzr_entry *e = &z->e[i];
        cr_assert_eq(npzr_le(c, 4), 0x02014b50u, "%s: central header %zu", path, i);
        cr_assert_eq(npzr_le(c + 10, 2), 0u, "%s: entry %zu is compressed", path, i);
        uint32_t crc = npzr_le(c + 16, 4), csize = npzr_le(c + 20, 4), usize = npzr_le(c + 24, 4);
        size_t name_len = npzr_le(c + 28, 2), extra = npzr_le(c + 30, 2);
        size_t comment = npzr_le(c + 32, 2), local = npzr_le(c + 42, 4);
        cr_assert_eq(csize, usize);
        cr_assert_lt(name_len, sizeof e->name);
        memcpy(e->name, c + 46, name_len);
        e->name[name_len] = '\0';
        cr_assert_eq(local, expect_local, "%s: entries are not back to back", e->name);
        const uint8_t *l = f + local;
        cr_assert_eq(npzr_le(l, 4), 0x04034b50u, "%s: no local header", e->name);
        cr_assert_eq(npzr_le(l + 8, 2), 0u);
        cr_assert_eq(npzr_le(l + 14, 4), crc, "%s: local and central CRC differ", e->name);
        cr_assert_eq(npzr_le(l + 18, 4), csize);
        cr_assert_eq(npzr_le(l + 22, 4), usize);
        size_t lname = npzr_le(l + 26, 2), lextra = npzr_le(l + 28, 2);
        cr_assert(lname == name_len && memcmp(l + 30, e->name, name_len) == 0);
        e->data = l + 30 + lname + lextra;
        e->size = usize;
        cr_assert_leq((size_t)(e->data - f) + usize, cd_off, "%s: data past the directory", e->name);
        cr_assert_eq(crc32_ieee(e->data, usize), crc, "%s: CRC-32 mismatch", e->name);
        expect_local = (size_t)(e->data - f) + usize;
        size_t len = strlen(e->name);
        e->is_npy = len > 4 && strcmp(e->name + len - 4, ".npy") == 0;
        if (e->is_npy) {
            e->name[len - 4] = '\0';
            npzr_parse_npy(e);
        }
        c += 46 + name_len + extra + comment;
    }
    cr_assert_eq(expect_local, cd_off, "%s: bytes between the entries and the directory", path);
    z->n = n_entries;
}

/* The entry called name (".npy" dropped), or NULL. */
static inline const npzr_entry *npzr_find(const npzr *z, const char *name)
{
    for (size_t i = 0; i < z->n; i++) {
        if (strcmp(z->e[i].name, name) == 0) {
            return &z->e[i];
        }
    }
    return NULL;
}

static inline void npzr_close(npzr *z)
{
    for (size_t i = 0; i < z->n; i++) {
        free((void *)z->e[i].values);
    }
    free(z->file);
}

#endif
