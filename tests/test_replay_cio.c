#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "common/crc32c.h"
#include "replay/cio.h"

Test(replay_cio, integers_are_little_endian_and_read_back)
{
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    replay_cio w = {.f = f, .what = "mem"};
    shoal_err err = {0};
    cr_assert_eq(replay_cio_write_u32(&w, 0x01020304u, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(replay_cio_write_u64(&w, 0x1122334455667788ull, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(w.offset, 12);
    rewind(f);
    uint8_t raw[12];
    cr_assert_eq(fread(raw, 1, 12, f), 12);
    const uint8_t want[12] = {4, 3, 2, 1, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11};
    cr_assert_arr_eq(raw, want, 12, "byte order is fixed, whatever the host's");
    rewind(f);
    replay_cio r = {.f = f, .what = "mem"};
    uint32_t a;
    uint64_t b;
    cr_assert_eq(replay_cio_read_u32(&r, &a, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(replay_cio_read_u64(&r, &b, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(a, 0x01020304u);
    cr_assert_eq(b, 0x1122334455667788ull);
    cr_assert_eq(r.offset, 12);
    fclose(f);
}

Test(replay_cio, both_sides_fold_every_byte_into_the_same_crc32c)
{
    FILE *f = tmpfile();
    replay_cio w = {.f = f, .what = "mem"};
    shoal_err err = {0};
    const char text[] = "shoal replay";
    cr_assert_eq(replay_cio_write(&w, text, 5, &err), SHOAL_OK);
    cr_assert_eq(replay_cio_write(&w, text + 5, sizeof text - 5, &err), SHOAL_OK);
    cr_assert_eq(replay_cio_write(&w, NULL, 0, &err), SHOAL_OK, "an empty write is fine");
    cr_assert_eq(w.crc, crc32c(text, sizeof text), "chunks fold like one buffer");
    rewind(f);
    replay_cio r = {.f = f, .what = "mem"};
    char back[sizeof text];
    cr_assert_eq(replay_cio_read(&r, back, sizeof back, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_str_eq(back, text);
    cr_assert_eq(r.crc, w.crc);
    fclose(f);
}

Test(replay_cio, a_short_read_is_a_truncated_file_with_the_offset)
{
    FILE *f = tmpfile();
    replay_cio w = {.f = f, .what = "x.ckpt"};
    shoal_err err = {0};
    cr_assert_eq(replay_cio_write(&w, "abcdef", 6, &err), SHOAL_OK);
    rewind(f);
    replay_cio r = {.f = f, .what = "x.ckpt"};
    uint32_t v;
    cr_assert_eq(replay_cio_read_u32(&r, &v, &err), SHOAL_OK);
    cr_assert_eq(replay_cio_read_u32(&r, &v, &err), SHOAL_ECORRUPT);
    cr_assert_eq(v, 0, "nothing half-read is handed out");
    cr_assert(strstr(err.msg, "x.ckpt") && strstr(err.msg, "truncated") &&
                  strstr(err.msg, "byte 6") && strstr(err.msg, "2 more bytes"),
              "%s", err.msg);
    cr_assert_eq(r.offset, 4, "the failed read is not counted");
    fclose(f);
}

Test(replay_cio, a_failing_write_is_eio_naming_the_file)
{
    FILE *f = fopen("/dev/full", "wb");
    if (!f) {
        cr_skip("no /dev/full on this system");
    }
    setvbuf(f, NULL, _IONBF, 0); /* unbuffered: the write itself fails, not a later flush */
    replay_cio w = {.f = f, .what = "demo.tmp"};
    shoal_err err = {0};
    cr_assert_eq(replay_cio_write_u64(&w, 7, &err), SHOAL_EIO);
    cr_assert(strstr(err.msg, "demo.tmp") && strstr(err.msg, "write failed"), "%s", err.msg);
    cr_assert_eq(w.offset, 0);
    fclose(f);
}
