/* The TFRecord framing of an event file (TensorFlow's core/lib/io/record_writer.cc, which
 * TensorBoard's reader checks): each record is
 *
 *     uint64 length (little-endian) | uint32 masked CRC32C of those 8 bytes |
 *     data (length bytes: one Event)  | uint32 masked CRC32C of the data
 *
 * and a CRC is masked as ((crc >> 15) | (crc << 17)) + 0xa282ead8, so that the CRC of data
 * that holds CRCs stays well spread. Internal to tb: the writer and the reader share it.
 */
#ifndef SHOAL_TB_RECORD_H
#define SHOAL_TB_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "common/crc32c.h"

#define TB_RECORD_HEADER_BYTES 12
#define TB_RECORD_FOOTER_BYTES 4
#define TB_FILE_VERSION "brain.Event:2"

static inline uint32_t tb_masked_crc32c(const void *data, size_t n)
{
    uint32_t crc = crc32c(data, n);
    return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

static inline void tb_put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static inline void tb_put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static inline uint32_t tb_get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t tb_get_le64(const uint8_t *p)
{
    return (uint64_t)tb_get_le32(p) | (uint64_t)tb_get_le32(p + 4) << 32;
}

#endif
