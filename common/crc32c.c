#include "common/crc32c.h"

#include <pthread.h>
#include <string.h>

#define POLY_C 0x82F63B78u    /* Castagnoli, reflected */
#define POLY_IEEE 0xEDB88320u /* IEEE 802.3 (zip, PNG, gzip), reflected */

/* Slicing-by-8 tables for each polynomial: constants of the algorithm, built once on first use. */
static uint32_t table_c[8][256], table_ieee[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void build_one(uint32_t table[8][256], uint32_t poly)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) {
            c = (c & 1) ? (c >> 1) ^ poly : c >> 1;
        }
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        for (int t = 1; t < 8; t++) {
            table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
        }
    }
}

static void build_tables(void)
{
    build_one(table_c, POLY_C);
    build_one(table_ieee, POLY_IEEE);
}

/* Both CRCs are reflected with all-ones initial value and final XOR; only the table differs. */
static uint32_t slice8(const uint32_t table[8][256], uint32_t crc, const void *data, size_t n)
{
    pthread_once(&table_once, build_tables);
    const uint8_t *p = data;
    uint32_t c = ~crc;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        uint32_t lo = (uint32_t)w ^ c;
        uint32_t hi = (uint32_t)(w >> 32);
        c = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^ table[5][(lo >> 16) & 0xff] ^
            table[4][lo >> 24] ^ table[3][hi & 0xff] ^ table[2][(hi >> 8) & 0xff] ^
            table[1][(hi >> 16) & 0xff] ^ table[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n--) {
        c = (c >> 8) ^ table[0][(c ^ *p++) & 0xff];
    }
    return ~c;
}

uint32_t crc32c_update_sw(uint32_t crc, const void *data, size_t n)
{
    return slice8(table_c, crc, data, n);
}

uint32_t crc32_ieee_update(uint32_t crc, const void *data, size_t n)
{
    return slice8(table_ieee, crc, data, n);
}

uint32_t crc32_ieee(const void *data, size_t n)
{
    return crc32_ieee_update(0, data, n);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc, const void *data, size_t n)
{
    const uint8_t *p = data;
    uint64_t c = ~crc;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = __builtin_ia32_crc32di(c, w);
        p += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n--) {
        c32 = __builtin_ia32_crc32qi(c32, *p++);
    }
    return ~c32;
}

uint32_t crc32c_update(uint32_t crc, const void *data, size_t n)
{
    if (__builtin_cpu_supports("sse4.2")) {
        return crc_hw(crc, data, n);
    }
    return crc32c_update_sw(crc, data, n);
}
#else
uint32_t crc32c_update(uint32_t crc, const void *data, size_t n)
{
    return crc32c_update_sw(crc, data, n);
}
#endif

uint32_t crc32c(const void *data, size_t n)
{
    return crc32c_update(0, data, n);
}
