#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fileio.h"

static char dir[64];

static void make_dir(void)
{
    strcpy(dir, "/tmp/shoal-fileio-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

static int count_entries(const char *path)
{
    DIR *d = opendir(path);
    cr_assert_not_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        n += e->d_name[0] != '.';
    }
    closedir(d);
    return n;
}

Test(fileio, atomic_write_replaces_the_file_whole, .init = make_dir, .fini = remove_dir)
{
    char path[128];
    snprintf(path, sizeof path, "%s/f.bin", dir);
    shoal_err err = {0};
    cr_assert_eq(atomic_write_file(path, "old contents", 12, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(atomic_write_file(path, "new", 3, &err), SHOAL_OK, "%s", err.msg);
    uint8_t *data;
    size_t n;
    cr_assert_eq(file_read_all(path, 1 << 20, &data, &n, &err), SHOAL_OK);
    cr_assert_eq(n, 3);
    cr_assert_eq(memcmp(data, "new", 3), 0);
    free(data);
    cr_assert_eq(count_entries(dir), 1, "no temporary file may be left behind");
}

Test(fileio, an_aborted_write_leaves_the_old_file_and_no_temporary, .init = make_dir, .fini = remove_dir)
{
    char path[128];
    snprintf(path, sizeof path, "%s/f.bin", dir);
    shoal_err err = {0};
    cr_assert_eq(atomic_write_file(path, "old", 3, &err), SHOAL_OK);
    atomic_file af;
    cr_assert_eq(atomic_file_open(&af, path, &err), SHOAL_OK);
    fputs("partial new contents", af.f);
    fflush(af.f);
    cr_assert_eq(count_entries(dir), 2, "the temporary file lives beside the target");
    atomic_file_abort(&af);
    uint8_t *data;
    size_t n;
    cr_assert_eq(file_read_all(path, 1 << 20, &data, &n, &err), SHOAL_OK);
    cr_assert_eq(n, 3);
    cr_assert_eq(memcmp(data, "old", 3), 0);
    free(data);
    cr_assert_eq(count_entries(dir), 1);
}

Test(fileio, a_writer_killed_mid_write_never_exposes_a_partial_file, .init = make_dir, .fini = remove_dir)
{
    /* A child rewrites the file in a loop with a large payload; we kill it at random moments
     * and check that the target is always one whole version. */
    char path[128];
    snprintf(path, sizeof path, "%s/f.bin", dir);
    enum { N = 1 << 20 };
    for (int round = 0; round < 5; round++) {
        pid_t pid = fork();
        cr_assert(pid >= 0);
        if (pid == 0) {
            uint8_t *buf = malloc(N);
            for (int v = 0;; v++) {
                memset(buf, 'a' + v % 26, N);
                atomic_write_file(path, buf, N, NULL);
            }
        }
        usleep(20000 + round * 7000);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        uint8_t *data;
        size_t n;
        shoal_err err = {0};
        int rc = file_read_all(path, 2 * N, &data, &n, &err);
        if (rc == SHOAL_ENOTFOUND) {
            continue; /* killed before the first rename */
        }
        cr_assert_eq(rc, SHOAL_OK, "%s", err.msg);
        cr_assert_eq(n, (size_t)N, "partial file of %zu bytes visible", n);
        for (size_t i = 1; i < n; i++) {
            cr_assert_eq(data[i], data[0]);
        }
        free(data);
    }
}

Test(fileio, open_fails_clearly_in_a_missing_folder)
{
    atomic_file af;
    shoal_err err = {0};
    cr_assert_eq(atomic_file_open(&af, "/nonexistent-shoal/x.bin", &err), SHOAL_EIO);
    cr_assert(strstr(err.msg, "/nonexistent-shoal/x.bin") != NULL, "%s", err.msg);
    atomic_file_abort(&af);
}

Test(fileio, read_all_enforces_the_size_limit_and_reports_missing_files, .init = make_dir, .fini = remove_dir)
{
    char path[128];
    snprintf(path, sizeof path, "%s/f.bin", dir);
    shoal_err err = {0};
    uint8_t *data;
    size_t n;
    cr_assert_eq(file_read_all(path, 10, &data, &n, &err), SHOAL_ENOTFOUND);
    cr_assert_eq(atomic_write_file(path, "0123456789abc", 13, &err), SHOAL_OK);
    cr_assert_eq(file_read_all(path, 10, &data, &n, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "limit") != NULL, "%s", err.msg);
}

Test(fileio, mkdirs_creates_nested_folders, .init = make_dir, .fini = remove_dir)
{
    char path[128];
    snprintf(path, sizeof path, "%s/a/b/c", dir);
    shoal_err err = {0};
    cr_assert_eq(file_mkdirs(path, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(file_mkdirs(path, &err), SHOAL_OK, "existing folders are fine");
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert(S_ISDIR(st.st_mode));
}
