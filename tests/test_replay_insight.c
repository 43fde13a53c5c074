#include <criterion/criterion.h>
#include <math.h>

#include "replay/insight.h"
#include "replay/store.h"

static uint64_t agent_key(uint32_t slot)
{
    return ((uint64_t)1 << 32) | slot;
}

Test(replay_insight, ages_in_inserts_follow_the_ring_after_it_wraps)
{
    shoal_err err = {0};
    replay_insight_rec *r = replay_insight_rec_new(10, &err);
    cr_assert_not_null(r, "%s", err.msg);
    /* 25 inserts into 10 slots: slot s holds insert index 20 + s for s < 5, 10 + s above, so
     * the newest (index 24) is in slot 4. */
    replay_insight_rec_inserted(r, 0, 25, 1000);
    uint64_t keys[] = {agent_key(4), agent_key(3), agent_key(5), agent_key(9), agent_key(0),
                       REPLAY_KEY_DEMO_BIT | 7};
    replay_insight_rec_sampled(r, keys, 6, 25, 3000000000u);
    replay_insight out = {0};
    replay_insight_rec_fill(r, 3000000000u, 25, 6, &out);
    cr_assert_eq(out.window, 6);
    cr_assert_eq(out.window_demo, 1);
    cr_assert_eq(out.window_aged, 5);
    /* ages 0, 1, 9, 5, 4 -> sorted 0 1 4 5 9: nearest-rank median 4, 90th percentile 9 */
    cr_assert_float_eq(out.age_p50, 4.0, 0);
    cr_assert_float_eq(out.age_p90, 9.0, 0);
    cr_assert_float_eq(out.age_s_p50, 3.0, 1e-6, "inserted at 1 µs, sampled at 3 s");
    replay_insight_rec_free(r);
}

Test(replay_insight, the_window_keeps_only_the_latest_samples)
{
    shoal_err err = {0};
    replay_insight_rec *r = replay_insight_rec_new(100, &err);
    cr_assert_not_null(r, "%s", err.msg);
    replay_insight_rec_inserted(r, 0, 100, 5);
    uint64_t old = agent_key(0), young = agent_key(99);
    for (uint32_t i = 0; i < REPLAY_AGE_WINDOW; i++) {
        replay_insight_rec_sampled(r, &old, 1, 100, 10);
    }
    for (uint32_t i = 0; i < REPLAY_AGE_WINDOW; i++) {
        replay_insight_rec_sampled(r, &young, 1, 100, 10);
    }
    replay_insight out = {0};
    replay_insight_rec_fill(r, 10, 100, 2 * REPLAY_AGE_WINDOW, &out);
    cr_assert_eq(out.window, REPLAY_AGE_WINDOW);
    cr_assert_float_eq(out.age_p90, 0.0, 0, "the age-99 samples have left the window");
    replay_insight_rec_free(r);
}

Test(replay_insight, slots_written_before_the_start_have_no_age_in_seconds)
{
    shoal_err err = {0};
    replay_insight_rec *r = replay_insight_rec_new(8192, &err);
    cr_assert_not_null(r, "%s", err.msg);
    /* A restored ring of 8000 (no times), then 4 fresh inserts in slots 8000..8003: buckets of
     * two slots, so slot 7999 stays unknown and 8000 is known. */
    replay_insight_rec_inserted(r, 8000, 4, 2000000000u);
    uint64_t keys[] = {agent_key(7999), agent_key(8000), agent_key(8003)};
    replay_insight_rec_sampled(r, keys, 3, 8004, 5000000000u);
    replay_insight out = {0};
    replay_insight_rec_fill(r, 5000000000u, 8004, 3, &out);
    cr_assert_eq(out.window_aged, 2);
    cr_assert_float_eq(out.age_s_p90, 3.0, 1e-6);
    cr_assert_float_eq(out.age_p90, 4.0, 0, "slot 7999 is 4 inserts old");
    replay_insight_rec_free(r);
}

Test(replay_insight, rates_come_from_the_snapshots_of_the_last_seconds)
{
    shoal_err err = {0};
    replay_insight_rec *r = replay_insight_rec_new(100, &err);
    cr_assert_not_null(r, "%s", err.msg);
    replay_insight out = {0};
    replay_insight_rec_fill(r, 0, 0, 0, &out);
    cr_assert_float_eq(out.inserts_per_s, 0.0, 0, "no snapshot yet: no rate");
    for (uint64_t t = 0; t <= 20; t++) {
        replay_insight_rec_tick(r, t * 1000000000u, 50 * t, 400 * t);
    }
    replay_insight_rec_fill(r, 20000000000u, 1000, 8000, &out);
    cr_assert_float_eq(out.inserts_per_s, 50.0, 1e-9);
    cr_assert_float_eq(out.samples_per_s, 400.0, 1e-9);
    replay_insight_rec_free(r);
}

Test(replay_insight, priority_bins_are_half_decades_from_1e_minus_4_to_10)
{
    cr_assert_eq(replay_priority_bin(0.0), 0);
    cr_assert_eq(replay_priority_bin(NAN), 0);
    cr_assert_eq(replay_priority_bin(0.5e-4), 0);
    cr_assert_eq(replay_priority_bin(1e-4), 1);
    cr_assert_eq(replay_priority_bin(2e-4), 1);
    cr_assert_eq(replay_priority_bin(1e-3), 3);
    cr_assert_eq(replay_priority_bin(0.5), 8);
    cr_assert_eq(replay_priority_bin(1.0), 9);
    cr_assert_eq(replay_priority_bin(5.0), 10);
    cr_assert_eq(replay_priority_bin(10.0), 11);
    cr_assert_eq(replay_priority_bin(1e9), 11);
    for (size_t k = 1; k + 1 < REPLAY_PRIORITY_BINS; k++) {
        cr_assert_float_eq(replay_priority_bin_low(k + 1) / replay_priority_bin_low(k), sqrt(10.0),
                           1e-12);
    }
}

Test(replay_insight, merging_adds_counts_and_weights_percentiles_by_window)
{
    replay_insight a = {.window = 10, .window_demo = 2, .window_aged = 8, .age_p50 = 10,
                        .age_p90 = 20, .age_s_p50 = 1, .inserts_per_s = 5, .sample_wait_s = 1,
                        .priority_hist = {1, 2}};
    replay_insight b = {.window = 26, .window_demo = 2, .window_aged = 0, .age_p50 = 40,
                        .age_p90 = 50, .inserts_per_s = 7, .sample_wait_s = 3,
                        .priority_hist = {0, 1, 4}};
    replay_insight m = {0};
    replay_insight_merge(&m, &a);
    replay_insight_merge(&m, &b);
    cr_assert_eq(m.window, 36);
    cr_assert_eq(m.window_demo, 4);
    cr_assert_float_eq(m.age_p50, (10.0 * 8 + 40.0 * 24) / 32, 1e-12);
    cr_assert_float_eq(m.age_s_p50, 1.0, 1e-12, "shards without timed samples do not count");
    cr_assert_float_eq(m.inserts_per_s, 12.0, 1e-12);
    cr_assert_float_eq(m.sample_wait_s, 3.0, 0);
    cr_assert_eq(m.priority_hist[0], 1);
    cr_assert_eq(m.priority_hist[1], 3);
    cr_assert_eq(m.priority_hist[2], 4);
}
