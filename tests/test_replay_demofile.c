#include <criterion/criterion.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/fileio.h"
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

Test(replay_demofile, a_damaged_file_is_refused_naming_the_record)
{
    make_dir();
    char p[128];
    snprintf(p, sizeof p, "%s/x.demo", dir);
    write_demos(p, 3, 10, 0);
    uint8_t *data;
    size_t n;
    shoal_err err = {0};
    cr_assert_eq(file_read_all(p, 1 << 20, &data, &n, &err), SHOAL_OK);
    size_t rec = (n - 16) / 3; /* three records of equal size */
    data[16 + rec + 20] ^= 1;  /* inside record 1's payload */
    cr_assert_eq(atomic_write_file(p, data, n, &err), SHOAL_OK);
    replay_store *s = demo_store(30);
    cr_assert_eq(replay_demo_load(s, p, NULL, &err), SHOAL_ECORRUPT);
    cr_assert(strstr(err.msg, "record 1") != NULL, "%s", err.msg);
    cr_assert(strstr(err.msg, "CRC32C") != NULL, "%s", err.msg);
    data[16 + rec + 20] ^= 1;
    cr_assert_eq(atomic_write_file(p, data, n - 5, &err), SHOAL_OK);
    size_t count;
    cr_assert_eq(replay_demo_count(p, &count, &err), SHOAL_ECORRUPT);
    cr_assert(strstr(err.msg, "truncated") != NULL, "%s", err.msg);
    cr_assert(strstr(err.msg, "record 2") != NULL, "%s", err.msg);
    memcpy(data, "SHOALXXX", 8);
    cr_assert_eq(atomic_write_file(p, data, n, &err), SHOAL_OK);
    cr_assert_eq(replay_demo_count(p, &count, &err), SHOAL_ECORRUPT);
    cr_assert(strstr(err.msg, "not a shoal demonstration file") != NULL, "%s", err.msg);
    memcpy(data, "SHOALDEM", 8);
    data[8] = 9; /* version 9 */
    cr_assert_eq(atomic_write_file(p, data, n, &err), SHOAL_OK);
    cr_assert_eq(replay_demo_count(p, &count, &err), SHOAL_EVERSION);
    cr_assert_eq(replay_demo_count("/nonexistent/x.demo", &count, &err), SHOAL_ENOTFOUND);
    cr_assert(strstr(err.msg, "/nonexistent/x.demo") != NULL);
    free(data);
    replay_store_free(s);
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
}
