#include "replay/cio.h"

#include <errno.h>
#include <string.h>

#include "common/crc32c.h"

int replay_cio_write(replay_cio *io, const void *data, size_t n, shoal_err *err)
{
    if (n && fwrite(data, 1, n, io->f) != n) {
        return shoal_err_set(err, SHOAL_EIO, "%s: write failed at byte %llu: %s", io->what,
                             (unsigned long long)io->offset, strerror(errno));
    }
    io->crc = crc32c_update(io->crc, data, n);
    io->offset += n;
    return SHOAL_OK;
}

int replay_cio_read(replay_cio *io, void *data, size_t n, shoal_err *err)
{
    size_t got = n ? fread(data, 1, n, io->f) : 0;
    if (got != n) {
        if (ferror(io->f)) {
            return shoal_err_set(err, SHOAL_EIO, "%s: read failed at byte %llu: %s", io->what,
                                 (unsigned long long)(io->offset + got), strerror(errno));
        }
        return shoal_err_set(err, SHOAL_ECORRUPT,
                             "%s: truncated: ends at byte %llu where %zu more bytes were expected",
                             io->what, (unsigned long long)(io->offset + got), n - got);
    }
    io->crc = crc32c_update(io->crc, data, n);
    io->offset += n;
    return SHOAL_OK;
}

int replay_cio_write_u32(replay_cio *io, uint32_t v, shoal_err *err)
{
    uint8_t b[4];
    for (int i = 0; i < 4; i++) {
        b[i] = (uint8_t)(v >> (8 * i));
    }
    return replay_cio_write(io, b, 4, err);
}

int replay_cio_write_u64(replay_cio *io, uint64_t v, shoal_err *err)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)(v >> (8 * i));
    }
    return replay_cio_write(io, b, 8, err);
}

int replay_cio_read_u32(replay_cio *io, uint32_t *v, shoal_err *err)
{
    uint8_t b[4];
    int rc = replay_cio_read(io, b, 4, err);
    *v = 0;
    for (int i = 0; rc == SHOAL_OK && i < 4; i++) {
        *v |= (uint32_t)b[i] << (8 * i);
    }
    return rc;
}

int replay_cio_read_u64(replay_cio *io, uint64_t *v, shoal_err *err)
{
    uint8_t b[8];
    int rc = replay_cio_read(io, b, 8, err);
    *v = 0;
    for (int i = 0; rc == SHOAL_OK && i < 8; i++) {
        *v |= (uint64_t)b[i] << (8 * i);
    }
    return rc;
}
