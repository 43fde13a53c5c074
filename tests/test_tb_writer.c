/* TensorBoard event files: the writer's records are read back here by a parser of the test's
 * own (every length and data CRC checked with the reference CRC32C and the mask spelled out
 * again), decoded with the generated protobuf-c code, and decoded by protoc itself against
 * proto/tensorboard.proto (skipped, with a message, where protoc is not installed). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "common/fileio.h"
#include "proto/tensorboard.pb-c.h"
#include "tb/record.h"
#include "tb/writer.h"

static char dir[64];

static void make_dir(void)
{
    strcpy(dir, "/tmp/shoal-tb-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(tb_writer, .init = make_dir, .fini = remove_dir, .timeout = 60);

/* TensorFlow's masking (core/lib/hash/crc32c.h), written out independently of tb/record.h. */
static uint32_t mask_ref(uint32_t crc)
{
    return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A file's records, each checked: offsets and lengths of the data. */
typedef struct records {
    uint8_t *bytes;
    size_t n_bytes;
    size_t n;
    size_t at[64], len[64];
} records;

static void read_records(const char *path, records *r)
{
    memset(r, 0, sizeof *r);
    cr_assert_eq(file_read_all(path, 1 << 20, &r->bytes, &r->n_bytes, NULL), SHOAL_OK);
    size_t at = 0;
    while (at < r->n_bytes) {
        cr_assert_lt(r->n, 64);
        cr_assert_geq(r->n_bytes - at, 16, "record %zu cut short", r->n);
        const uint8_t *p = r->bytes + at;
        uint64_t len = (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
        cr_assert_eq(le32(p + 8), mask_ref(crc32c_update_sw(0, p, 8)),
                     "record %zu: masked CRC of the length", r->n);
        cr_assert_leq(len, r->n_bytes - at - 16, "record %zu: length past the end", r->n);
        cr_assert_eq(le32(p + 12 + len), mask_ref(crc32c_update_sw(0, p + 12, len)),
                     "record %zu: masked CRC of the data", r->n);
        r->at[r->n] = at + 12;
        r->len[r->n] = (size_t)len;
        r->n++;
        at += 16 + (size_t)len;
    }
}

static Shoal__Tb__Event *event_of(const records *r, size_t i)
{
    Shoal__Tb__Event *ev = shoal__tb__event__unpack(NULL, r->len[i], r->bytes + r->at[i]);
    cr_assert_not_null(ev, "record %zu does not decode as an Event", i);
    return ev;
}

static tb_writer *new_writer(const char *sub)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    shoal_err err = {0};
    tb_writer *w = tb_writer_new(path, "test", &err);
    cr_assert_not_null(w, "%s", err.msg);
    return w;
}

/* The one file in dir/sub. */
static void only_file(const char *sub, char *out, size_t cap)
{
    char path[96];
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    DIR *d = opendir(path);
    cr_assert_not_null(d);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] != '.') {
            cr_assert_lt((size_t)snprintf(out, cap, "%s/%.150s", path, e->d_name), cap);
            n++;
        }
    }
    closedir(d);
    cr_assert_eq(n, 1);
}

/* The checked records of the one file in dir/sub. */
static void records_in(const char *sub, records *r)
{
    char file[256];
    only_file(sub, file, sizeof file);
    read_records(file, r);
}

Test(tb_writer, masked_crcs_match_a_record_tensorflow_wrote)
{
    /* The file_version record of TensorFlow's event_file_loader_test.py, byte for byte. */
    static const uint8_t rec[] = {0x18, 0, 0, 0, 0, 0, 0, 0, 0xa3, 0x7f, 'K', '"',
                                  '\t', 0, 0, 0, '\'', 0xe6, 0xb3, 0xd5, 'A', 0x1a, '\r',
                                  'b', 'r', 'a', 'i', 'n', '.', 'E', 'v', 'e', 'n', 't', ':',
                                  '2', 'j', 'M', 0x0b, 0x15};
    cr_assert_eq(sizeof rec, 12 + 24 + 4);
    cr_assert_eq(tb_masked_crc32c(rec, 8), le32(rec + 8));
    cr_assert_eq(tb_masked_crc32c(rec + 12, 24), le32(rec + 36));
    Shoal__Tb__Event *ev = shoal__tb__event__unpack(NULL, 24, rec + 12);
    cr_assert_not_null(ev);
    cr_assert_eq(ev->what_case, SHOAL__TB__EVENT__WHAT_FILE_VERSION);
    cr_assert_str_eq(ev->file_version, "brain.Event:2");
    cr_assert_gt(ev->wall_time, 1.4e9);
    shoal__tb__event__free_unpacked(ev, NULL);
}

Test(tb_writer, file_is_named_as_tensorboard_expects_and_starts_with_the_version)
{
    tb_writer *w = new_writer("run");
    const char *path = tb_writer_path(w);
    char host[256] = "";
    gethostname(host, sizeof host);
    char want[400];
    snprintf(want, sizeof want, ".%s.%ld.test", host, (long)getpid());
    const char *base = strrchr(path, '/') + 1;
    cr_assert_eq(strncmp(base, "events.out.tfevents.", 20), 0, "%s", base);
    cr_assert_eq(strspn(base + 20, "0123456789"), 10, "%s", base);
    cr_assert_str_eq(base + 30, want);
    tb_writer_free(w);
    records r;
    records_in("run", &r);
    cr_assert_eq(r.n, 1);
    Shoal__Tb__Event *ev = event_of(&r, 0);
    cr_assert_eq(ev->what_case, SHOAL__TB__EVENT__WHAT_FILE_VERSION);
    cr_assert_str_eq(ev->file_version, "brain.Event:2");
    cr_assert_not_null(ev->source_metadata);
    cr_assert_str_eq(ev->source_metadata->writer, "shoal");
    cr_assert(fabs(ev->wall_time - (double)time(NULL)) < 60.0);
    shoal__tb__event__free_unpacked(ev, NULL);
    free(r.bytes);
}

Test(tb_writer, scalars_and_a_histogram_read_back_with_every_crc_right)
{
    tb_writer *w = new_writer("a/b");
    shoal_err err = {0};
    cr_assert_eq(tb_writer_scalar(w, "learner/loss", 10, 0.25, &err), SHOAL_OK, "%s", err.msg);
    tb_scalar two[] = {{"x/one", 1.5}, {"x/two", -2.0}};
    cr_assert_eq(tb_writer_scalars(w, 20, two, 2, &err), SHOAL_OK, "%s", err.msg);
    float values[1000];
    double sum = 0.0;
    for (int i = 0; i < 1000; i++) {
        values[i] = (float)(i % 100) * 0.5f; /* 0 .. 49.5 */
        sum += values[i];
    }
    values[7] = NAN; /* left out */
    sum -= 3.5;
    cr_assert_eq(tb_writer_histogram(w, "learner/priorities", 30, values, 1000, &err), SHOAL_OK,
                 "%s", err.msg);
    cr_assert_eq(tb_writer_flush(w, &err), SHOAL_OK);
    tb_writer_free(w);

    records r;
    records_in("a/b", &r);
    cr_assert_eq(r.n, 4);
    Shoal__Tb__Event *ev = event_of(&r, 1);
    cr_assert_eq(ev->step, 10);
    cr_assert_eq(ev->what_case, SHOAL__TB__EVENT__WHAT_SUMMARY);
    cr_assert_eq(ev->summary->n_value, 1);
    cr_assert_str_eq(ev->summary->value[0]->tag, "learner/loss");
    cr_assert_eq(ev->summary->value[0]->value_case, SHOAL__TB__SUMMARY__VALUE__VALUE_SIMPLE_VALUE);
    cr_assert_float_eq(ev->summary->value[0]->simple_value, 0.25f, 0.0f);
    shoal__tb__event__free_unpacked(ev, NULL);

    ev = event_of(&r, 2);
    cr_assert_eq(ev->step, 20);
    cr_assert_eq(ev->summary->n_value, 2);
    cr_assert_str_eq(ev->summary->value[1]->tag, "x/two");
    cr_assert_float_eq(ev->summary->value[1]->simple_value, -2.0f, 0.0f);
    shoal__tb__event__free_unpacked(ev, NULL);

    ev = event_of(&r, 3);
    cr_assert_eq(ev->step, 30);
    const Shoal__Tb__Summary__Value *v = ev->summary->value[0];
    cr_assert_eq(v->value_case, SHOAL__TB__SUMMARY__VALUE__VALUE_HISTO);
    const Shoal__Tb__HistogramProto *h = v->histo;
    cr_assert_float_eq(h->num, 999.0, 0.0);
    cr_assert_float_eq(h->min, 0.0, 0.0);
    cr_assert_float_eq(h->max, 49.5, 0.0);
    cr_assert_float_eq(h->sum, sum, 1e-9);
    cr_assert_eq(h->n_bucket, TB_HISTOGRAM_BUCKETS);
    cr_assert_eq(h->n_bucket_limit, TB_HISTOGRAM_BUCKETS);
    double counted = 0.0, lo = h->min;
    for (size_t b = 0; b < h->n_bucket; b++) {
        cr_assert_gt(h->bucket_limit[b], lo, "bucket limits ascend");
        lo = h->bucket_limit[b];
        counted += h->bucket[b];
    }
    cr_assert_float_eq(h->bucket_limit[h->n_bucket - 1], 49.5, 0.0);
    cr_assert_float_eq(counted, 999.0, 0.0);
    /* each value lies in its bucket: [limit[b-1], limit[b]), the first from min, max in the
     * last */
    size_t naive[TB_HISTOGRAM_BUCKETS] = {0};
    for (int i = 0; i < 1000; i++) {
        if (isnan(values[i])) {
            continue;
        }
        size_t b = 0;
        while (b + 1 < h->n_bucket && values[i] >= h->bucket_limit[b]) {
            b++;
        }
        naive[b]++;
    }
    for (size_t b = 0; b < h->n_bucket; b++) {
        cr_assert_float_eq(h->bucket[b], (double)naive[b], 0.0, "bucket %zu", b);
    }
    shoal__tb__event__free_unpacked(ev, NULL);
    free(r.bytes);
}

Test(tb_writer, a_histogram_of_equal_values_has_one_bucket_and_of_none_no_record)
{
    tb_writer *w = new_writer("h");
    float same[5] = {2, 2, 2, 2, 2}, nan[1] = {NAN};
    cr_assert_eq(tb_writer_histogram(w, "h/same", 1, same, 5, NULL), SHOAL_OK);
    cr_assert_eq(tb_writer_histogram(w, "h/none", 2, same, 0, NULL), SHOAL_OK);
    cr_assert_eq(tb_writer_histogram(w, "h/nan", 3, nan, 1, NULL), SHOAL_OK);
    tb_writer_free(w);
    records r;
    records_in("h", &r);
    cr_assert_eq(r.n, 2);
    Shoal__Tb__Event *ev = event_of(&r, 1);
    const Shoal__Tb__HistogramProto *h = ev->summary->value[0]->histo;
    cr_assert_eq(h->n_bucket, 1);
    cr_assert_float_eq(h->bucket[0], 5.0, 0.0);
    cr_assert_float_eq(h->bucket_limit[0], 2.0, 0.0);
    shoal__tb__event__free_unpacked(ev, NULL);
    free(r.bytes);
}

Test(tb_writer, every_numeric_csv_column_becomes_a_scalar_at_the_rows_step)
{
    tb_writer *w = new_writer("csv");
    shoal_err err = {0};
    const char *header = "time_s,step,frames,note,loss_td,new_column\n";
    cr_assert_eq(tb_writer_csv_row(w, "learner/", header, "1.5,42,1000,hello,0.125,-3e2\n",
                                   "step", &err),
                 SHOAL_OK, "%s", err.msg);
    cr_assert_eq(tb_writer_csv_row(w, "learner/", header, "1.5,43,1000\n", "step", &err),
                 SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "more columns"), "%s", err.msg);
    cr_assert_eq(tb_writer_csv_row(w, "learner/", header, "1,2,3,4,5,6,7\n", "step", &err),
                 SHOAL_EINVAL);
    cr_assert_eq(tb_writer_csv_row(w, "learner/", header, "1,x,3,4,5,6\n", "step", &err),
                 SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "'step'"), "%s", err.msg);
    tb_writer_free(w);

    records r;
    records_in("csv", &r);
    cr_assert_eq(r.n, 2, "the bad rows wrote nothing");
    Shoal__Tb__Event *ev = event_of(&r, 1);
    cr_assert_eq(ev->step, 42);
    const char *tags[] = {"learner/time_s", "learner/frames", "learner/loss_td",
                          "learner/new_column"};
    const float want[] = {1.5f, 1000.0f, 0.125f, -300.0f};
    cr_assert_eq(ev->summary->n_value, 4);
    for (size_t i = 0; i < 4; i++) {
        cr_assert_str_eq(ev->summary->value[i]->tag, tags[i]);
        cr_assert_float_eq(ev->summary->value[i]->simple_value, want[i], 0.0f);
    }
    shoal__tb__event__free_unpacked(ev, NULL);
    free(r.bytes);
}

Test(tb_writer, bad_names_and_tags_are_errors)
{
    shoal_err err = {0};
    cr_assert_null(tb_writer_new(dir, "a/b", &err));
    cr_assert_eq(err.code, SHOAL_EINVAL);
    cr_assert_null(tb_writer_new(dir, "", &err));
    tb_writer *w = new_writer("t");
    cr_assert_eq(tb_writer_scalar(w, "", 1, 1.0, &err), SHOAL_EINVAL);
    char long_tag[TB_TAG_MAX + 2];
    memset(long_tag, 'a', sizeof long_tag - 1);
    long_tag[sizeof long_tag - 1] = '\0';
    cr_assert_eq(tb_writer_scalar(w, long_tag, 1, 1.0, &err), SHOAL_EINVAL);
    cr_assert_eq(tb_writer_scalars(w, 1, NULL, 0, &err), SHOAL_EINVAL);
    tb_writer_free(w);
    /* a folder that cannot be made */
    char blocker[128], under[160];
    snprintf(blocker, sizeof blocker, "%s/file", dir);
    cr_assert_eq(atomic_write_file(blocker, "x", 1, NULL), SHOAL_OK);
    snprintf(under, sizeof under, "%s/sub", blocker);
    cr_assert_null(tb_writer_new(under, "x", &err));
    cr_assert_eq(err.code, SHOAL_EIO);
    cr_assert(strstr(err.msg, blocker), "%s", err.msg);
}

Test(tb_writer, many_scalars_split_over_records)
{
    tb_writer *w = new_writer("many");
    tb_scalar s[150];
    char tags[150][16];
    for (int i = 0; i < 150; i++) {
        snprintf(tags[i], sizeof tags[i], "m/%d", i);
        s[i] = (tb_scalar){tags[i], i};
    }
    cr_assert_eq(tb_writer_scalars(w, 5, s, 150, NULL), SHOAL_OK);
    tb_writer_free(w);
    records r;
    records_in("many", &r);
    size_t seen = 0;
    for (size_t i = 1; i < r.n; i++) {
        Shoal__Tb__Event *ev = event_of(&r, i);
        for (size_t k = 0; k < ev->summary->n_value; k++, seen++) {
            cr_assert_str_eq(ev->summary->value[k]->tag, tags[seen]);
        }
        shoal__tb__event__free_unpacked(ev, NULL);
    }
    cr_assert_eq(seen, 150);
    free(r.bytes);
}

/* ---- protoc ---- */

static bool have_protoc(void)
{
    return system("protoc --version >/dev/null 2>&1") == 0;
}

/* protoc --decode of record i of r into out (text format). */
static void protoc_decode(const records *r, size_t i, char *out, size_t cap)
{
    char bin[128], txt[128], cmd[1024];
    snprintf(bin, sizeof bin, "%s/record.bin", dir);
    snprintf(txt, sizeof txt, "%s/record.txt", dir);
    cr_assert_eq(atomic_write_file(bin, r->bytes + r->at[i], r->len[i], NULL), SHOAL_OK);
    const char *src = getenv("SHOAL_SOURCE_DIR");
    cr_assert_not_null(src);
    snprintf(cmd, sizeof cmd,
             "protoc --decode=shoal.tb.Event --proto_path='%s/proto' '%s/proto/tensorboard.proto'"
             " < '%s' > '%s' 2>&1",
             src, src, bin, txt);
    int rc = system(cmd);
    uint8_t *text;
    size_t n;
    cr_assert_eq(file_read_all(txt, 1 << 20, &text, &n, NULL), SHOAL_OK);
    snprintf(out, cap, "%.*s", (int)n, (char *)text);
    free(text);
    cr_assert_eq(rc, 0, "protoc failed on record %zu: %s", i, out);
}

Test(tb_writer, protoc_decodes_every_record_against_our_schema)
{
    if (!have_protoc()) {
        cr_skip_test("protoc is not installed (Debian package protobuf-compiler; "
                     "cluster/install-deps.sh installs it): the protoc decode is not checked");
    }
    tb_writer *w = new_writer("p");
    cr_assert_eq(tb_writer_scalar(w, "learner/loss_td", 7, 0.5, NULL), SHOAL_OK);
    float v[4] = {0.0f, 1.0f, 2.0f, 4.0f};
    cr_assert_eq(tb_writer_histogram(w, "learner/priorities", 8, v, 4, NULL), SHOAL_OK);
    tb_writer_free(w);
    records r;
    records_in("p", &r);
    cr_assert_eq(r.n, 3);
    char text[8192];
    protoc_decode(&r, 0, text, sizeof text);
    cr_assert(strstr(text, "file_version: \"brain.Event:2\""), "%s", text);
    cr_assert(strstr(text, "writer: \"shoal\""), "%s", text);
    cr_assert(strstr(text, "wall_time: "), "%s", text);
    protoc_decode(&r, 1, text, sizeof text);
    cr_assert(strstr(text, "step: 7"), "%s", text);
    cr_assert(strstr(text, "tag: \"learner/loss_td\""), "%s", text);
    cr_assert(strstr(text, "simple_value: 0.5"), "%s", text);
    protoc_decode(&r, 2, text, sizeof text);
    cr_assert(strstr(text, "step: 8"), "%s", text);
    cr_assert(strstr(text, "histo {"), "%s", text);
    cr_assert(strstr(text, "num: 4"), "%s", text);
    cr_assert(strstr(text, "max: 4"), "%s", text);
    cr_assert(strstr(text, "sum: 7"), "%s", text);
    cr_assert(strstr(text, "sum_squares: 21"), "%s", text);
    cr_assert(strstr(text, "bucket_limit: "), "%s", text);
    free(r.bytes);
}
