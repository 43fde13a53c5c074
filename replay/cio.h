/* Checksummed stream I/O for replay checkpoints and demonstration files: every byte written or
 * read through a replay_cio is folded into a running CRC32C, and a short read is reported as a
 * truncated file rather than garbage.
 *
 *     replay_cio io = {.f = f, .what = path};
 *     replay_cio_write(&io, &hdr, sizeof hdr, &err);
 *     uint32_t crc = io.crc;    // checksum of everything written so far
 */
#ifndef SHOAL_REPLAY_CIO_H
#define SHOAL_REPLAY_CIO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/err.h"

typedef struct replay_cio {
    FILE *f;
    const char *what; /* file name for messages */
    uint32_t crc;     /* CRC32C of every byte through this stream */
    uint64_t offset;  /* bytes so far */
} replay_cio;

/* Writes n bytes. EIO with strerror on failure. */
int replay_cio_write(replay_cio *io, const void *data, size_t n, shoal_err *err);

/* Reads exactly n bytes. ECORRUPT ("truncated") at end of file, EIO on read errors. */
int replay_cio_read(replay_cio *io, void *data, size_t n, shoal_err *err);

/* Little-endian fixed-width helpers for headers (columns are written raw). */
int replay_cio_write_u32(replay_cio *io, uint32_t v, shoal_err *err);
int replay_cio_write_u64(replay_cio *io, uint64_t v, shoal_err *err);
int replay_cio_read_u32(replay_cio *io, uint32_t *v, shoal_err *err);
int replay_cio_read_u64(replay_cio *io, uint64_t *v, shoal_err *err);

#endif
