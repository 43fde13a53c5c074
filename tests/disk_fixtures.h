/* A small disk that fills up, for full-disk tests: a tmpfs mounted in a mount namespace of the
 * test process's own (so nothing outside sees it, the processes the test starts do, and it goes
 * away with the test even if the test dies). A test that cannot make one is skipped, saying
 * why. */
#ifndef SHOAL_TESTS_DISK_FIXTURES_H
#define SHOAL_TESTS_DISK_FIXTURES_H

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h> /* unshare: the including file defines _GNU_SOURCE first */
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

/* Mounts a tmpfs of `size` ("4m") at the existing folder path; skips the test when it cannot. */
static inline void fx_mount_small_disk(const char *path, const char *size)
{
    if (unshare(CLONE_NEWNS) != 0) {
        cr_skip_test("full-disk test skipped: cannot create a mount namespace (%s); it needs root "
                     "or CAP_SYS_ADMIN to mount a small tmpfs", strerror(errno));
    }
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
        cr_skip_test("full-disk test skipped: cannot make mounts private (%s)", strerror(errno));
    }
    char opts[32];
    snprintf(opts, sizeof opts, "size=%s", size);
    if (mount("tmpfs", path, "tmpfs", 0, opts) != 0) {
        cr_skip_test("full-disk test skipped: cannot mount a tmpfs (%s)", strerror(errno));
    }
}

/* Appends to path until the disk is full. */
static inline void fx_fill_disk(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
    static char block[65536];
    memset(block, 0x5A, sizeof block);
    size_t chunk = sizeof block;
    for (;;) {
        ssize_t n = write(fd, block, chunk);
        if (n < 0 && errno == ENOSPC && chunk > 1) {
            chunk /= 2; /* fill the last partial blocks too */
            continue;
        }
        if (n < 0) {
            break;
        }
    }
    cr_assert_eq(errno, ENOSPC, "filling %s: %s", path, strerror(errno));
    close(fd);
}

#endif
