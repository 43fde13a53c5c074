/* tb_file_each: what the writer wrote comes back, and a damaged file is an error naming the
 * file and the record, not a crash. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "tb/reader.h"
#include "tb/writer.h"

static char dir[64];

static void make_dir(void)
{
    strcpy(dir, "/tmp/shoal-tbr-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(tb_reader, .init = make_dir, .fini = remove_dir, .timeout = 60);

typedef struct seen {
    size_t n, n_hist;
    char tags[8][64];
    int64_t steps[8];
    double values[8];
} seen;

static int collect(const tb_value *v, void *arg)
{
    seen *s = arg;
    if (s->n < 8) {
        snprintf(s->tags[s->n], sizeof s->tags[s->n], "%s", v->tag);
        s->steps[s->n] = v->step;
        s->values[s->n] = v->value;
    }
    s->n++;
    s->n_hist += v->histogram;
    return 0;
}

/* A file with two scalars and a histogram; its path into out. */
static void write_sample(char *out, size_t cap)
{
    shoal_err err = {0};
    tb_writer *w = tb_writer_new(dir, "r", &err);
    cr_assert_not_null(w, "%s", err.msg);
    snprintf(out, cap, "%s", tb_writer_path(w));
    cr_assert_eq(tb_writer_scalar(w, "a/x", 1, 3.0, NULL), SHOAL_OK);
    cr_assert_eq(tb_writer_scalar(w, "a/y", 2, -1.0, NULL), SHOAL_OK);
    float v[3] = {1, 2, 3};
    cr_assert_eq(tb_writer_histogram(w, "a/h", 3, v, 3, NULL), SHOAL_OK);
    tb_writer_free(w);
}

Test(tb_reader, reads_back_what_the_writer_wrote)
{
    char path[256];
    write_sample(path, sizeof path);
    seen s = {0};
    size_t n_records = 0;
    shoal_err err = {0};
    cr_assert_eq(tb_file_each(path, collect, &s, &n_records, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(n_records, 4);
    cr_assert_eq(s.n, 3);
    cr_assert_eq(s.n_hist, 1);
    cr_assert_str_eq(s.tags[0], "a/x");
    cr_assert_eq(s.steps[1], 2);
    cr_assert_float_eq(s.values[1], -1.0, 0.0);
    cr_assert_str_eq(s.tags[2], "a/h");
    cr_assert_float_eq(s.values[2], 3.0, 0.0);
}

static void corrupt_and_expect(const char *path, size_t at, const char *what)
{
    uint8_t *bytes;
    size_t n;
    cr_assert_eq(file_read_all(path, 1 << 20, &bytes, &n, NULL), SHOAL_OK);
    char bad[300];
    snprintf(bad, sizeof bad, "%s.bad", path);
    cr_assert_lt(at, n);
    bytes[at] ^= 0x01;
    cr_assert_eq(atomic_write_file(bad, bytes, n, NULL), SHOAL_OK);
    free(bytes);
    seen s = {0};
    shoal_err err = {0};
    cr_assert_eq(tb_file_each(bad, collect, &s, NULL, &err), SHOAL_ECORRUPT);
    cr_assert(strstr(err.msg, what), "%s", err.msg);
    cr_assert(strstr(err.msg, bad), "%s", err.msg);
}

Test(tb_reader, a_flipped_bit_in_a_length_or_its_data_is_caught)
{
    char path[256];
    write_sample(path, sizeof path);
    corrupt_and_expect(path, 0, "length's CRC");
    corrupt_and_expect(path, 14, "data's CRC");
}

Test(tb_reader, a_file_cut_short_is_corrupt_and_an_empty_one_too)
{
    char path[256];
    write_sample(path, sizeof path);
    uint8_t *bytes;
    size_t n;
    cr_assert_eq(file_read_all(path, 1 << 20, &bytes, &n, NULL), SHOAL_OK);
    char cut[300];
    snprintf(cut, sizeof cut, "%s.cut", path);
    shoal_err err = {0};
    for (size_t keep = 1; keep < 40; keep += 7) {
        cr_assert_eq(atomic_write_file(cut, bytes, n - keep, NULL), SHOAL_OK);
        cr_assert_eq(tb_file_each(cut, collect, &(seen){0}, NULL, &err), SHOAL_ECORRUPT,
                     "cut by %zu bytes", keep);
    }
    free(bytes);
    cr_assert_eq(atomic_write_file(cut, "", 0, NULL), SHOAL_OK);
    cr_assert_eq(tb_file_each(cut, collect, &(seen){0}, NULL, &err), SHOAL_ECORRUPT);
    cr_assert(strstr(err.msg, "empty"), "%s", err.msg);
}

Test(tb_reader, a_folder_is_read_file_by_file_in_name_order)
{
    shoal_err err = {0};
    cr_assert_eq(tb_dir_each(dir, collect, &(seen){0}, NULL, &err), SHOAL_ENOTFOUND);
    cr_assert(strstr(err.msg, "no TensorBoard event file"), "%s", err.msg);
    char missing[128];
    snprintf(missing, sizeof missing, "%s/nope", dir);
    cr_assert_eq(tb_dir_each(missing, collect, &(seen){0}, NULL, &err), SHOAL_ENOTFOUND);
    char path[256], other[128];
    write_sample(path, sizeof path);
    snprintf(other, sizeof other, "%s/notes.txt", dir); /* not an event file: left alone */
    cr_assert_eq(atomic_write_file(other, "x", 1, NULL), SHOAL_OK);
    seen s = {0};
    size_t files = 0;
    cr_assert_eq(tb_dir_each(dir, collect, &s, &files, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(files, 1);
    cr_assert_eq(s.n, 3);
    cr_assert_str_eq(s.tags[0], "a/x");
}
