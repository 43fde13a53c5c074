/* cluster/cmd_demos.c: `shoal demos info` and `shoal demos merge` on files written through the
 * demo writer with known contents (record and check are in test_cmd_actor.c). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "replay/demofile.h"
#include "replay_fixtures.h"

#include "evaluator_fixtures.h"
#include "shoal_cli.h"

static char dir[64];
static char out[1 << 16];

static void setup(void)
{
    fx_dir_make(dir, "shoal-demos");
}

static void teardown(void)
{
    fx_dir_remove(dir);
}

TestSuite(demos, .init = setup, .fini = teardown, .timeout = 60);

/* Breakout-shaped demonstrations (10,10,4 bits): two records of five transitions with these
 * actions, the first record ending episodes of return 3.5 (2 steps) and -1 (3 steps), the
 * second one of return 10 (5 steps). Returns path (in dir). */
static const uint32_t file_actions[10] = {0, 1, 1, 2, 0, 2, 2, 2, 1, 0};

static const char *write_file(const char *name, uint32_t action_offset)
{
    static char path[4][128];
    static int next;
    char *p = path[next++ % 4];
    snprintf(p, 128, "%s/%s", dir, name);
    static fx_batch f;
    shoal_err err = {0};
    replay_demo_writer *w = replay_demo_writer_open(p, &err);
    cr_assert_not_null(w, "%s", err.msg);
    for (int r = 0; r < 2; r++) {
        fx_batch_fill(&f, 0, 0, 5, 1.0f, true);
        for (int k = 0; k < 5; k++) {
            f.action[k] = file_actions[r * 5 + k] + action_offset;
        }
        float rets[2] = {3.5f, -1.0f};
        uint32_t lens[2] = {2, 3};
        float ret10 = 10.0f;
        uint32_t len5 = 5;
        f.b.episodes = r == 0 ? (replay_episodes){.count = 2, .ret = rets, .length = lens,
                                                  .head = f.ep_head}
                              : (replay_episodes){.count = 1, .ret = &ret10, .length = &len5,
                                                  .head = f.ep_head};
        f.b.env_steps = 5;
        cr_assert_eq(replay_demo_writer_append(w, &f.b, &err), SHOAL_OK, "%s", err.msg);
    }
    cr_assert_eq(replay_demo_writer_close(w, &err), SHOAL_OK, "%s", err.msg);
    return p;
}

/* A copy of src at dst with byte `at` flipped. */
static void damage(const char *src, const char *dst, long at)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cp %s %s", src, dst);
    cr_assert_eq(system(cmd), 0);
    FILE *f = fopen(dst, "r+b");
    cr_assert_not_null(f);
    fseek(f, at, SEEK_SET);
    int c = fgetc(f);
    fseek(f, at, SEEK_SET);
    fputc(c ^ 0x40, f);
    fclose(f);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

Test(demos, info_counts_episodes_returns_and_actions)
{
    const char *a = write_file("a.demo", 0);
    char args[512];
    snprintf(args, sizeof args, "demos info --episodes %s", a);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    cr_assert_not_null(strstr(out, "version 2, 2 records, 10 transitions (10 env steps), "
                                   "3 episodes"), "%s", out);
    cr_assert_not_null(strstr(out, "10,10,4 bit observations, no bootstrap masks"), "%s", out);
    cr_assert_not_null(strstr(out, "returns: mean 4.167, min -1, max 10"), "%s", out);
    cr_assert_not_null(strstr(out, "actions: 0 3 (30.0%) 1 3 (30.0%) 2 4 (40.0%)"), "%s", out);
    cr_assert_not_null(strstr(out, "episode 1: return 3.5, 2 steps\n  episode 2: return -1, 3 "
                                   "steps\n  episode 3: return 10, 5 steps"), "%s", out);
    snprintf(args, sizeof args, "demos info --env minatar/breakout %s", a);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    cr_assert_not_null(strstr(out, "actions (minatar/breakout): noop 3 (30.0%) left 3 (30.0%) "
                                   "right 4 (40.0%)"), "%s", out);
    cr_assert_null(strstr(out, "episode 1:"), "no list without --episodes: %s", out);
    snprintf(args, sizeof args, "demos info --json --episodes --env minatar/breakout %s", a);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    cr_assert_not_null(strstr(out, "\"records\": 2, \"transitions\": 10, \"env_steps\": 10, "
                                   "\"episodes\": 3, \"shape\": \"10,10,4\", \"dtype\": \"bit\""),
                       "%s", out);
    cr_assert_not_null(strstr(out, "\"actions\": [3, 3, 4], \"env\": \"minatar/breakout\", "
                                   "\"action_names\": [\"noop\", \"left\", \"right\"], "
                                   "\"episode_returns\": [3.5, -1, 10], "
                                   "\"episode_lengths\": [2, 3, 5]}\n"), "%s", out);
}

Test(demos, info_refuses_damaged_files_and_files_of_another_game)
{
    const char *a = write_file("a.demo", 0);
    char bad[128], args[512];
    snprintf(bad, sizeof bad, "%s/bad.demo", dir);
    damage(a, bad, 100);
    snprintf(args, sizeof args, "demos info %s %s", a, bad);
    cr_assert_eq(run(args, out, sizeof out), 1, "%s", out);
    cr_assert_not_null(strstr(out, "refused"), "%s", out);
    cr_assert_not_null(strstr(out, bad), "names the file: %s", out);
    snprintf(args, sizeof args, "demos info --env minatar/seaquest %s", a);
    cr_assert_eq(run(args, out, sizeof out), 1, "%s", out);
    cr_assert_not_null(strstr(out, "10,10,4 bit observations; minatar/seaquest has 10,10,10"),
                       "%s", out);
    const char *wide = write_file("wide.demo", 1); /* actions up to 3: breakout has 0..2 */
    snprintf(args, sizeof args, "demos info --env minatar/breakout %s", wide);
    cr_assert_eq(run(args, out, sizeof out), 1, "%s", out);
    cr_assert_not_null(strstr(out, "takes action 3; minatar/breakout has 3 actions"), "%s", out);
    cr_assert_eq(run("demos info", out, sizeof out), 2, "%s", out);
    cr_assert_eq(run("demos info --help", out, sizeof out), 0, "%s", out);
    cr_assert_not_null(strstr(out, "--episodes"), "%s", out);
    snprintf(args, sizeof args, "demos info %s/none.demo", dir);
    cr_assert_eq(run(args, out, sizeof out), 1, "%s", out);
}

typedef struct actions {
    uint32_t v[64];
    size_t n;
} actions;

static int collect(void *ctx, const replay_batch *b, shoal_err *err)
{
    (void)err;
    actions *x = ctx;
    for (size_t i = 0; i < b->t.count && x->n < 64; i++) {
        x->v[x->n++] = b->t.action[i];
    }
    return SHOAL_OK;
}

Test(demos, merge_writes_every_record_in_order_into_a_loadable_file)
{
    const char *a = write_file("a.demo", 0);
    const char *b = write_file("b.demo", 0);
    char m[128], args[512];
    snprintf(m, sizeof m, "%s/m.demo", dir);
    snprintf(args, sizeof args, "demos merge --out %s %s %s %s", m, a, b, a);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    cr_assert_not_null(strstr(out, "merged 3 files: 6 records, 30 transitions, 9 episodes"),
                       "%s", out);
    snprintf(args, sizeof args, "demos check %s", m);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    actions x = {0};
    shoal_err err = {0};
    cr_assert_eq(replay_demo_read(m, collect, &x, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(x.n, 30);
    for (size_t i = 0; i < 30; i++) {
        cr_assert_eq(x.v[i], file_actions[i % 10]);
    }
    replay_server_config c = fx_server_config(16, 30);
    replay_store *s = replay_store_new(&c.store, &err);
    cr_assert_not_null(s, "%s", err.msg);
    size_t n = 0;
    cr_assert_eq(replay_demo_load(s, m, &n, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(replay_store_totals(s).demo_size, 30);
    replay_store_free(s);
    snprintf(args, sizeof args, "demos info %s", m);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    cr_assert_not_null(strstr(out, "9 episodes"), "%s", out);
}

Test(demos, merge_refuses_an_existing_output_unless_forced_and_may_then_append_to_an_input)
{
    const char *a = write_file("a.demo", 0);
    const char *b = write_file("b.demo", 0);
    char args[512];
    snprintf(args, sizeof args, "demos merge --out %s %s", a, b);
    cr_assert_eq(run(args, out, sizeof out), 1, "%s", out);
    cr_assert_not_null(strstr(out, "exists") && strstr(out, "--force"), "%s", out);
    snprintf(args, sizeof args, "demos merge --force --out %s %s %s", a, a, b);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    snprintf(args, sizeof args, "demos info %s", a);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    cr_assert_not_null(strstr(out, "4 records, 20 transitions"), "%s", out);
}

Test(demos, merge_refuses_mismatched_or_damaged_inputs_and_writes_nothing)
{
    const char *a = write_file("a.demo", 0);
    char other[128], m[128], args[512];
    snprintf(other, sizeof other, "%s/deepsea.demo", dir);
    snprintf(args, sizeof args, "demos record --env deepsea --policy expert --episodes 1 "
             "--out %s", other);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    snprintf(m, sizeof m, "%s/m.demo", dir);
    snprintf(args, sizeof args, "demos merge --out %s %s %s", m, a, other);
    cr_assert_eq(run(args, out, sizeof out), 1, "%s", out);
    cr_assert_not_null(strstr(out, a) && strstr(out, other), "names both files: %s", out);
    cr_assert_not_null(strstr(out, "10,10,4 bit observations"), "%s", out);
    cr_assert(!exists(m));
    char bad[128];
    snprintf(bad, sizeof bad, "%s/bad.demo", dir);
    damage(a, bad, 60);
    snprintf(args, sizeof args, "demos merge --out %s %s %s", m, a, bad);
    cr_assert_eq(run(args, out, sizeof out), 1, "%s", out);
    cr_assert_not_null(strstr(out, bad), "%s", out);
    cr_assert(!exists(m));
    snprintf(args, sizeof args, "demos merge --env minatar/seaquest --out %s %s", m, a);
    cr_assert_eq(run(args, out, sizeof out), 1, "%s", out);
    cr_assert_not_null(strstr(out, "minatar/seaquest has"), "%s", out);
    cr_assert(!exists(m));
    cr_assert_eq(run("demos merge a.demo", out, sizeof out), 2, "%s", out);
    cr_assert_not_null(strstr(out, "--out"), "%s", out);
    cr_assert_eq(run("demos merge --help", out, sizeof out), 0, "%s", out);
    cr_assert_eq(run("demos bogus", out, sizeof out), 2, "%s", out);
    cr_assert_not_null(strstr(out, "info, merge"), "%s", out);
}
