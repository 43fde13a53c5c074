/* Shared by test programs that check files a role wrote (checkpoints, logs): read one whole,
 * compare it with the bytes expected, count log lines. Each fails the test on a read error. */
#ifndef SHOAL_TESTS_FILE_CHECKS_H
#define SHOAL_TESTS_FILE_CHECKS_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"

/* The whole file at path (caller frees); fails the test when it cannot be read. */
static inline uint8_t *fx_slurp(const char *path, size_t *n)
{
    uint8_t *data = NULL;
    shoal_err err = {0};
    cr_assert_eq(file_read_all(path, 1 << 30, &data, n, &err), SHOAL_OK, "%s", err.msg);
    return data;
}

/* Fails the test unless the file at path holds exactly the n bytes of want (then frees want). */
static inline void fx_assert_file_is(const char *path, uint8_t *want, size_t n, const char *why)
{
    size_t got_n;
    uint8_t *got = fx_slurp(path, &got_n);
    cr_assert_eq(got_n, n, "%s: %zu bytes, expected %zu", why, got_n, n);
    cr_assert_eq(memcmp(got, want, n), 0, "%s", why);
    free(got);
    free(want);
}

/* Lines of the text file at path that contain needle. */
static inline int fx_count_lines(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    char line[2048];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        n += strstr(line, needle) != NULL;
    }
    fclose(f);
    return n;
}

#endif
