/* CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of parameter files,
 * replay checkpoints, demo files and Params messages. Uses the SSE4.2 crc32 instruction when
 * the CPU has it and a slicing-by-8 table otherwise; both give the same value.
 * Also the classic CRC-32 (IEEE 802.3, reflected 0xEDB88320) that zip archives require
 * (common/npz.h), from the same table code; it has no instruction on x86, so tables only.
 *
 *     uint32_t c = crc32c(data, n);                  // whole buffer
 *     uint32_t c = crc32c_update(crc32c_update(0, a, na), b, nb);  // in pieces, same value
 */
#ifndef SHOAL_COMMON_CRC32C_H
#define SHOAL_COMMON_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continues the CRC `crc` (0 to start) over n bytes at data; returns the new CRC. */
uint32_t crc32c_update(uint32_t crc, const void *data, size_t n);

/* CRC32C of n bytes. crc32c("123456789", 9) == 0xE3069283. */
uint32_t crc32c(const void *data, size_t n);

/* The portable table implementation, kept as the reference for tests. */
uint32_t crc32c_update_sw(uint32_t crc, const void *data, size_t n);

/* CRC-32 (IEEE 802.3, as in zip, gzip and PNG), continued from crc (0 to start).
 * crc32_ieee("123456789", 9) == 0xCBF43926. */
uint32_t crc32_ieee_update(uint32_t crc, const void *data, size_t n);
uint32_t crc32_ieee(const void *data, size_t n);

#endif
