#include <criterion/criterion.h>
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "common/fileio.h"
#include "common/log.h"
#include "replay/demofile.h"
#include "replay_fixtures.h"

static char dir[64];

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/shoal-demo-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    atexit(remove_dir);
}

/* Writes `records` batches of n demonstrations, ids from first. */
static void write_demos(const char *path, size_t records, size_t n, uint32_t first)
{
    static fx_batch f;
    shoal_err err = {0};
    replay_demo_writer *w = replay_demo_writer_open(path, &err);
    cr_assert_not_null(w, "%s", err.msg);
    for (size_t r = 0; r < records; r++) {
        fx_batch_fill(&f, 0, first + (uint32_t)(r * n), n, 0.5f, true);
        cr_assert_eq(replay_demo_writer_append(w, &f.b, &err), SHOAL_OK, "%s", err.msg);
    }
    cr_assert_eq(replay_demo_writer_close(w, &err), SHOAL_OK, "%s", err.msg);
}

static replay_store *demo_store(size_t demo_cap)
{
    replay_server_config c = fx_server_config(100, demo_cap);
    replay_store *s = replay_store_new(&c.store, NULL);
    cr_assert_not_null(s);
    return s;
}

Test(replay_demofile, written_demos_load_into_the_demo_store_in_order)
{
    make_dir();
    char a[128], b[128], both[300];
    snprintf(a, sizeof a, "%s/a.demo", dir);
    snprintf(b, sizeof b, "%s/b.demo", dir);
    write_demos(a, 3, 10, 0);
    write_demos(b, 1, 7, 100);
    snprintf(both, sizeof both, "%s, %s", a, b);
    size_t n = 0;
    shoal_err err = {0};
    cr_assert_eq(replay_demo_count(both, &n, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(n, 37);
    replay_store *s = demo_store(37);
    cr_assert_eq(replay_demo_load(s, both, &n, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(n, 37);
    cr_assert_eq(replay_store_totals(s).demo_size, 37);
    replay_sample *x = replay_sample_new(64, FX_OB, NULL);
    replay_sample_req req = {.batch_size = 64, .demo_only = true, .beta = 0.4};
    cr_assert_eq(replay_store_sample(s, &req, x, &err), SHOAL_OK, "%s", err.msg);
    for (size_t j = 0; j < x->count; j++) {
        uint32_t id = x->action[j];
        cr_assert(id < 30 || (id >= 100 && id < 107));
        size_t slot = x->key[j] & 0xFFFFFFFFu;
        cr_assert_eq(slot, id < 100 ? id : 30 + (id - 100), "files load in order");
    }
    replay_sample_free(x);
    replay_store_free(s);
}

/* The bytes of a file (caller frees). */
static uint8_t *slurp(const char *path, size_t *n)
{
    uint8_t *data = NULL;
    shoal_err err = {0};
    cr_assert_eq(file_read_all(path, 1 << 20, &data, n, &err), SHOAL_OK, "%s", err.msg);
    return data;
}

static void spill(const char *path, const uint8_t *data, size_t n)
{
    shoal_err err = {0};
    cr_assert_eq(atomic_write_file(path, data, n, &err), SHOAL_OK, "%s", err.msg);
}

static uint32_t u32_at(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_u64_at(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

/* Asserts that counting, reading and loading path all fail with code and a message naming
 * the file and holding each of the words, and that the store and the reader's function see
 * nothing of it. */
static int records_seen;

static int see_record(void *ctx, const replay_batch *b, shoal_err *err)
{
    (void)ctx, (void)b, (void)err;
    records_seen++;
    return SHOAL_OK;
}

static void assert_refused(const char *path, int code, const char *w1, const char *w2)
{
    shoal_err err = {0};
    size_t n = 99;
    cr_assert_eq(replay_demo_count(path, &n, &err), code, "count: %s", err.msg);
    cr_assert(strstr(err.msg, path) && strstr(err.msg, w1) && (!w2 || strstr(err.msg, w2)),
              "count: %s", err.msg);
    records_seen = 0;
    cr_assert_eq(replay_demo_read(path, see_record, NULL, &err), code, "read: %s", err.msg);
    cr_assert_eq(records_seen, 0, "the reader's function sees no record of a refused file");
    replay_store *s = demo_store(100);
    cr_assert_eq(replay_demo_load(s, path, &n, &err), code, "load: %s", err.msg);
    cr_assert(strstr(err.msg, path) && strstr(err.msg, w1) && (!w2 || strstr(err.msg, w2)),
              "load: %s", err.msg);
    cr_assert_eq(replay_store_totals(s).demo_size, 0, "never loaded in part");
    replay_store_free(s);
}

/* A file of three records of ten demonstrations each at p; *data its bytes. */
static size_t write_three(char *p, size_t cap, uint8_t **data)
{
    make_dir();
    snprintf(p, cap, "%s/x.demo", dir);
    write_demos(p, 3, 10, 0);
    size_t n;
    *data = slurp(p, &n);
    return n;
}

/* The size of the record at byte at (length word, CRC word, payload). */
static size_t record_bytes(const uint8_t *data, size_t at)
{
    return 8 + u32_at(data + at);
}

Test(replay_demofile, the_header_carries_version_counts_size_and_checksum)
{
    char p[128];
    uint8_t *data;
    size_t n = write_three(p, sizeof p, &data);
    cr_assert_eq(memcmp(data, "SHOALDEM", 8), 0);
    cr_assert_eq(u32_at(data + 8), REPLAY_DEMO_VERSION);
    cr_assert_eq(u32_at(data + 12), 0, "flags");
    cr_assert_eq(u32_at(data + 16), 3, "records");
    cr_assert_eq(u32_at(data + 24), 30, "transitions");
    cr_assert_eq(u32_at(data + 32), n - REPLAY_DEMO_HEADER, "bytes of records");
    cr_assert_eq(u32_at(data + 40), crc32c(data + REPLAY_DEMO_HEADER, n - REPLAY_DEMO_HEADER));
    size_t r0 = record_bytes(data, REPLAY_DEMO_HEADER);
    cr_assert_eq(REPLAY_DEMO_HEADER + 3 * r0, n, "three records of equal size");
    free(data);
}

Test(replay_demofile, a_file_truncated_at_a_record_boundary_is_refused)
{
    char p[128];
    uint8_t *data;
    write_three(p, sizeof p, &data);
    size_t r0 = record_bytes(data, REPLAY_DEMO_HEADER);
    spill(p, data, REPLAY_DEMO_HEADER + 2 * r0);
    assert_refused(p, SHOAL_ECORRUPT, "truncated", "3 records");
    spill(p, data, REPLAY_DEMO_HEADER + 2 * r0 + 5); /* inside a record */
    assert_refused(p, SHOAL_ECORRUPT, "truncated", NULL);
    free(data);
}

Test(replay_demofile, a_file_cut_to_its_header_or_inside_it_is_refused)
{
    char p[128];
    uint8_t *data;
    write_three(p, sizeof p, &data);
    spill(p, data, REPLAY_DEMO_HEADER);
    assert_refused(p, SHOAL_ECORRUPT, "truncated", "holds 0");
    spill(p, data, 30);
    assert_refused(p, SHOAL_ECORRUPT, "truncated", "shorter than the 44-byte header");
    spill(p, data, 10);
    assert_refused(p, SHOAL_ECORRUPT, "truncated", "too short");
    spill(p, data, 0);
    assert_refused(p, SHOAL_ECORRUPT, "truncated", NULL);
    free(data);
}

Test(replay_demofile, unknown_flag_bits_are_refused)
{
    char p[128];
    uint8_t *data;
    size_t n = write_three(p, sizeof p, &data);
    data[12] = 0x04;
    spill(p, data, n);
    assert_refused(p, SHOAL_ECORRUPT, "unknown bits 0x00000004", "flags");
    data[12] = 0;
    data[15] = 0x80;
    spill(p, data, n);
    assert_refused(p, SHOAL_ECORRUPT, "unknown bits 0x80000000", "flags");
    free(data);
}

Test(replay_demofile, a_flipped_byte_in_a_record_is_refused_naming_the_record)
{
    char p[128];
    uint8_t *data;
    size_t n = write_three(p, sizeof p, &data);
    size_t r0 = record_bytes(data, REPLAY_DEMO_HEADER);
    data[REPLAY_DEMO_HEADER + r0 + 20] ^= 1; /* inside record 1's payload */
    spill(p, data, n);
    assert_refused(p, SHOAL_ECORRUPT, "record 1", "CRC32C");
    data[REPLAY_DEMO_HEADER + r0 + 20] ^= 1;
    data[REPLAY_DEMO_HEADER + r0 + 1] ^= 0x40; /* record 1's length word */
    spill(p, data, n);
    assert_refused(p, SHOAL_ECORRUPT, "record 1", NULL);
    free(data);
}

Test(replay_demofile, counts_or_a_checksum_unlike_the_header_are_refused)
{
    char p[128];
    uint8_t *data;
    size_t n = write_three(p, sizeof p, &data);
    put_u64_at(data + 16, 2);
    spill(p, data, n);
    assert_refused(p, SHOAL_ECORRUPT, "holds 3 records of 30 transitions",
                   "header says 2 of 30");
    put_u64_at(data + 16, 3);
    put_u64_at(data + 24, 31);
    spill(p, data, n);
    assert_refused(p, SHOAL_ECORRUPT, "header says 3 of 31", NULL);
    put_u64_at(data + 24, 30);
    data[40] ^= 1;
    spill(p, data, n);
    assert_refused(p, SHOAL_ECORRUPT, "CRC32C of the records", NULL);
    data[40] ^= 1;
    /* two records swapped: each passes its own CRC, the file's checksum does not */
    size_t r0 = record_bytes(data, REPLAY_DEMO_HEADER);
    uint8_t *swapped = malloc(n);
    cr_assert_not_null(swapped);
    memcpy(swapped, data, REPLAY_DEMO_HEADER);
    memcpy(swapped + REPLAY_DEMO_HEADER, data + REPLAY_DEMO_HEADER + r0, r0);
    memcpy(swapped + REPLAY_DEMO_HEADER + r0, data + REPLAY_DEMO_HEADER, r0);
    memcpy(swapped + REPLAY_DEMO_HEADER + 2 * r0, data + REPLAY_DEMO_HEADER + 2 * r0, r0);
    spill(p, swapped, n);
    assert_refused(p, SHOAL_ECORRUPT, "CRC32C of the records", NULL);
    free(swapped);
    /* a byte after the records */
    uint8_t *longer = malloc(n + 1);
    cr_assert_not_null(longer);
    memcpy(longer, data, n);
    longer[n] = 0;
    spill(p, longer, n + 1);
    assert_refused(p, SHOAL_ECORRUPT, "trailing bytes", NULL);
    free(longer);
    free(data);
}

Test(replay_demofile, bad_magic_unknown_version_and_missing_files_are_refused)
{
    char p[128];
    uint8_t *data;
    size_t n = write_three(p, sizeof p, &data);
    memcpy(data, "SHOALXXX", 8);
    spill(p, data, n);
    assert_refused(p, SHOAL_ECORRUPT, "not a shoal demonstration file", NULL);
    memcpy(data, "SHOALDEM", 8);
    data[8] = 9; /* version 9 */
    spill(p, data, n);
    assert_refused(p, SHOAL_EVERSION, "version 9", NULL);
    size_t count;
    shoal_err err = {0};
    cr_assert_eq(replay_demo_count("/nonexistent/x.demo", &count, &err), SHOAL_ENOTFOUND);
    cr_assert(strstr(err.msg, "/nonexistent/x.demo") != NULL);
    free(data);
}

Test(replay_demofile, a_damaged_second_file_leaves_the_store_unchanged)
{
    make_dir();
    char a[128], b[128], both[300];
    snprintf(a, sizeof a, "%s/a.demo", dir);
    snprintf(b, sizeof b, "%s/b.demo", dir);
    write_demos(a, 2, 10, 0);
    write_demos(b, 2, 10, 100);
    size_t n;
    uint8_t *data = slurp(b, &n);
    data[n - 3] ^= 0x20;
    spill(b, data, n);
    snprintf(both, sizeof both, "%s,%s", a, b);
    replay_store *s = demo_store(100);
    shoal_err err = {0};
    size_t loaded = 7;
    cr_assert_eq(replay_demo_load(s, both, &loaded, &err), SHOAL_ECORRUPT);
    cr_assert(strstr(err.msg, b) && strstr(err.msg, "record 1"), "%s", err.msg);
    cr_assert_eq(replay_store_totals(s).demo_size, 0, "a.demo is not loaded alone");
    cr_assert_eq(loaded, 0);
    free(data);
    replay_store_free(s);
    s = demo_store(15);
    cr_assert_eq(replay_demo_load(s, a, &loaded, &err), SHOAL_ESTATE, "20 do not fit in 15");
    cr_assert(strstr(err.msg, "room for 15") != NULL, "%s", err.msg);
    cr_assert_eq(replay_store_totals(s).demo_size, 0);
    replay_store_free(s);
}

/* Rewrites a version 2 file at path as the version 1 file the old writer made of the same
 * records, cut to `keep` bytes of records. */
static void make_v1(const char *path, const uint8_t *v2, size_t n, size_t keep)
{
    size_t body = n - REPLAY_DEMO_HEADER;
    uint8_t *v1 = malloc(16 + body);
    cr_assert_not_null(v1);
    memcpy(v1, v2, 16);
    v1[8] = 1;
    memcpy(v1 + 16, v2 + REPLAY_DEMO_HEADER, body);
    spill(path, v1, 16 + (keep < body ? keep : body));
    free(v1);
}

Test(replay_demofile, version_1_files_load_with_a_warning_and_every_check_they_allow)
{
    char p[128], logp[160];
    uint8_t *data;
    size_t n = write_three(p, sizeof p, &data);
    size_t r0 = record_bytes(data, REPLAY_DEMO_HEADER);
    make_v1(p, data, n, SIZE_MAX);
    snprintf(logp, sizeof logp, "%s/replay.log", dir);
    cr_assert_eq(log_setup("replay", 0, LOG_INFO, logp, NULL), SHOAL_OK);
    replay_store *s = demo_store(100);
    shoal_err err = {0};
    size_t loaded = 0;
    cr_assert_eq(replay_demo_load(s, p, &loaded, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(loaded, 30);
    replay_store_free(s);
    log_close();
    size_t log_n;
    char *log = (char *)slurp(logp, &log_n);
    log = realloc(log, log_n + 1);
    log[log_n] = '\0';
    const char *warning = strstr(log, "is a version 1 demonstration file");
    cr_assert(warning && strstr(log, p), "a warning naming the file:\n%s", log);
    cr_assert_null(strstr(warning + 1, "is a version 1 demonstration file"), "once:\n%s", log);
    free(log);

    make_v1(p, data, n, 0);
    assert_refused(p, SHOAL_ECORRUPT, "cut to its header", NULL);
    make_v1(p, data, n, 2 * r0 + 5);
    assert_refused(p, SHOAL_ECORRUPT, "record 2", "truncated");
    make_v1(p, data, n, SIZE_MAX);
    uint8_t *v1 = slurp(p, &n);
    v1[12] = 1;
    spill(p, v1, n);
    assert_refused(p, SHOAL_ECORRUPT, "unknown bits 0x00000001", NULL);
    v1[12] = 0;
    v1[16 + r0 + 30] ^= 4;
    spill(p, v1, n);
    assert_refused(p, SHOAL_ECORRUPT, "record 1", "CRC32C");
    free(v1);
    free(data);
}

Test(replay_demofile, an_interrupted_writer_leaves_no_file_that_loads)
{
    make_dir();
    char p[128];
    snprintf(p, sizeof p, "%s/w.demo", dir);
    static fx_batch f;
    shoal_err err = {0};
    replay_demo_writer *w = replay_demo_writer_open(p, &err);
    cr_assert_not_null(w, "%s", err.msg);
    for (uint32_t r = 0; r < 2; r++) {
        fx_batch_fill(&f, 0, 10 * r, 10, 0.5f, true);
        cr_assert_eq(replay_demo_writer_append(w, &f.b, &err), SHOAL_OK, "%s", err.msg);
    }
    cr_assert_neq(access(p, F_OK), 0, "nothing at the target before close");
    /* What a killed writer leaves is its temporary file: renamed by hand, it is refused. */
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    char tmp[512] = "";
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strncmp(e->d_name, "w.demo", 6) == 0) {
            snprintf(tmp, sizeof tmp, "%s/%s", dir, e->d_name);
        }
    }
    closedir(d);
    cr_assert(tmp[0], "the writer's temporary file is beside the target");
    fflush(NULL); /* the writer's buffered records reach the temporary file */
    char copy[160];
    snprintf(copy, sizeof copy, "%s/copy.demo", dir);
    size_t n;
    uint8_t *data = slurp(tmp, &n);
    cr_assert_gt(n, REPLAY_DEMO_HEADER);
    spill(copy, data, n);
    assert_refused(copy, SHOAL_ECORRUPT, "trailing bytes", "describes 0 records");
    free(data);
    cr_assert_eq(replay_demo_writer_close(w, &err), SHOAL_OK, "%s", err.msg);
    size_t count = 0;
    cr_assert_eq(replay_demo_count(p, &count, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(count, 20);
}

Test(replay_demofile, the_writer_refuses_agent_data_and_inconsistent_batches)
{
    make_dir();
    char p[128];
    snprintf(p, sizeof p, "%s/y.demo", dir);
    static fx_batch f;
    shoal_err err = {0};
    replay_demo_writer *w = replay_demo_writer_open(p, &err);
    cr_assert_not_null(w);
    fx_batch_fill(&f, 3, 0, 4, 1.0f, false);
    cr_assert_eq(replay_demo_writer_append(w, &f.b, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "demo = true") != NULL, "%s", err.msg);
    fx_batch_fill(&f, 0, 0, 4, 1.0f, true);
    f.b.t.n_heads = 4; /* masks missing */
    cr_assert_eq(replay_demo_writer_append(w, &f.b, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "mask") != NULL, "%s", err.msg);
    replay_demo_writer_abort(w);
    cr_assert_neq(access(p, F_OK), 0, "nothing appears before close");
}

Test(replay_demofile, a_shard_sizes_its_demo_store_from_the_files_and_demos_do_not_fit_twice)
{
    make_dir();
    char p[128];
    snprintf(p, sizeof p, "%s/z.demo", dir);
    write_demos(p, 2, 25, 0);
    replay_server_config cfg = fx_server_config(100, 10);
    snprintf(cfg.demos, sizeof cfg.demos, "%s", p);
    shoal_err err = {0};
    replay_server *srv = replay_server_new(&cfg, &err);
    cr_assert_not_null(srv, "%s", err.msg);
    cr_assert_eq(replay_store_demo_capacity(replay_server_store(srv)), 50);
    cr_assert_eq(replay_store_totals(replay_server_store(srv)).demo_size, 50);
    replay_server_free(srv);
    snprintf(cfg.demos, sizeof cfg.demos, "%s,%s/missing.demo", p, dir);
    cr_assert_null(replay_server_new(&cfg, &err));
    cr_assert_eq(err.code, SHOAL_ENOTFOUND);
    cr_assert(strstr(err.msg, "replay.demos") != NULL, "%s", err.msg);
    /* a shard refuses a file cut at a record boundary instead of starting with part of it */
    size_t n;
    uint8_t *data = slurp(p, &n);
    spill(p, data, n - record_bytes(data, REPLAY_DEMO_HEADER));
    free(data);
    snprintf(cfg.demos, sizeof cfg.demos, "%s", p);
    cr_assert_null(replay_server_new(&cfg, &err));
    cr_assert_eq(err.code, SHOAL_ECORRUPT);
    cr_assert(strstr(err.msg, "replay.demos") && strstr(err.msg, p) && strstr(err.msg, "truncated"),
              "%s", err.msg);
}
