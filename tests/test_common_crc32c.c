#include <criterion/criterion.h>
#include <string.h>

#include "common/crc32c.h"

Test(crc32c, known_answers_from_rfc3720)
{
    cr_assert_eq(crc32c("123456789", 9), 0xE3069283u);
    cr_assert_eq(crc32c("", 0), 0u);
    uint8_t zeros[32] = {0}, ones[32], inc[32], dec[32];
    memset(ones, 0xff, sizeof ones);
    for (int i = 0; i < 32; i++) {
        inc[i] = (uint8_t)i;
        dec[i] = (uint8_t)(31 - i);
    }
    /* RFC 3720 (iSCSI) Appendix B.4 test vectors. */
    cr_assert_eq(crc32c(zeros, 32), 0x8A9136AAu);
    cr_assert_eq(crc32c(ones, 32), 0x62A8AB43u);
    cr_assert_eq(crc32c(inc, 32), 0x46DD794Eu);
    cr_assert_eq(crc32c(dec, 32), 0x113FDB5Cu);
}

Test(crc32c, pieces_give_the_same_value_as_the_whole)
{
    uint8_t buf[1000];
    for (int i = 0; i < 1000; i++) {
        buf[i] = (uint8_t)(i * 131 + 7);
    }
    uint32_t whole = crc32c(buf, sizeof buf);
    for (size_t cut = 0; cut <= 1000; cut += 37) {
        cr_assert_eq(crc32c_update(crc32c_update(0, buf, cut), buf + cut, 1000 - cut), whole);
    }
}

Test(crc32c, hardware_and_table_versions_agree_at_every_length_and_offset)
{
    uint8_t buf[300];
    for (int i = 0; i < 300; i++) {
        buf[i] = (uint8_t)(i * 73 + 1);
    }
    for (size_t off = 0; off < 9; off++) {
        for (size_t n = 0; n + off <= 300; n += 13) {
            cr_assert_eq(crc32c_update(5, buf + off, n), crc32c_update_sw(5, buf + off, n));
        }
    }
}

Test(crc32_ieee, known_answers_of_zip_crc32)
{
    /* The CRC catalogue's check value of CRC-32/ISO-HDLC, and zlib.crc32(b"a") = 0xE8B7BE43. */
    cr_assert_eq(crc32_ieee("123456789", 9), 0xCBF43926u);
    cr_assert_eq(crc32_ieee("", 0), 0u);
    cr_assert_eq(crc32_ieee("a", 1), 0xE8B7BE43u);
    const char *s = "The quick brown fox jumps over the lazy dog";
    cr_assert_eq(crc32_ieee(s, strlen(s)), 0x414FA339u);
    cr_assert_eq(crc32_ieee_update(crc32_ieee(s, 10), s + 10, strlen(s) - 10), 0x414FA339u);
}
