#include <criterion/criterion.h>
#include <string.h>

#include "common/counts.h"

Test(common_counts, adds_raises_and_reads_counts_per_code)
{
    count_table *t = count_table_new(16, "test.slots", NULL);
    cr_assert_not_null(t);
    cr_assert_eq(count_table_get(t, 42), 0);
    cr_assert_eq(count_table_add(t, 42, 1), 1);
    cr_assert_eq(count_table_add(t, 42, 2), 3);
    cr_assert_eq(count_table_add(t, 0, 1), 1, "code 0 is a code like any other");
    cr_assert_eq(count_table_raise(t, 42, 2), 3, "raising never lowers");
    cr_assert_eq(count_table_raise(t, 42, 10), 10);
    cr_assert_eq(count_table_raise(t, 7, 5), 5, "raising a new code stores it");
    cr_assert_eq(count_table_codes(t), 3);
    cr_assert_eq(count_table_add(t, 99, 0), 0, "adding nothing stores nothing");
    cr_assert_eq(count_table_codes(t), 3);
    count_table_free(t);
}

Test(common_counts, a_full_table_counts_new_codes_as_new_and_says_how_many)
{
    count_table *t = count_table_new(16, "test.slots", NULL);
    for (uint64_t c = 1; c <= 14; c++) { /* 7/8 of 16 */
        cr_assert_eq(count_table_add(t, c * 1000, 1), 1);
    }
    cr_assert_eq(count_table_codes(t), 14);
    cr_assert_eq(count_table_add(t, 123456, 3), 3, "not stored: counted as new");
    cr_assert_eq(count_table_get(t, 123456), 0);
    cr_assert_eq(count_table_overflow(t), 3);
    cr_assert_eq(count_table_add(t, 1000, 1), 2, "stored codes still count");
    count_table_free(t);
}

Test(common_counts, a_size_that_is_not_a_power_of_two_is_refused_by_name)
{
    shoal_err err = {0};
    cr_assert_null(count_table_new(1000, "replay.count_table", &err));
    cr_assert_eq(err.code, SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "replay.count_table = 1000"), "%s", err.msg);
    cr_assert_null(count_table_new(8, "x", &err));
}
