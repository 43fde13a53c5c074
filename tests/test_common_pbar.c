/* The progress bar: drawn on a terminal, silent elsewhere; and the commands that use it
 * (`shoal demos record`, `shoal eval`) under a pseudo-terminal and through a pipe. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <string.h>
#include <unistd.h>

#include "common/pbar.h"
#include "shoal_cli.h"

/* Everything readable on fd within a short wait, into buf. */
static size_t drain(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (n + 1 < cap && poll(&p, 1, 200) > 0) {
        ssize_t k = read(fd, buf + n, cap - 1 - n);
        if (k <= 0) {
            break;
        }
        n += (size_t)k;
    }
    buf[n] = '\0';
    return n;
}

Test(pbar, nothing_is_written_when_the_stream_is_not_a_terminal)
{
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    pbar b;
    pbar_init(&b, f, "work", "items", 3);
    cr_assert_not(b.on);
    for (uint64_t i = 1; i <= 3; i++) {
        pbar_update(&b, i);
    }
    pbar_callback(&b, 4, 4);
    pbar_finish(&b);
    fflush(f);
    cr_assert_eq(ftell(f), 0, "a file got %ld bytes of progress bar", ftell(f));
    fclose(f);
}

Test(pbar, a_terminal_gets_the_bar_redrawn_in_place_and_erased_at_the_end)
{
    int master, slave;
    cr_assert_eq(openpty(&master, &slave, NULL, NULL, NULL), 0);
    FILE *f = fdopen(slave, "w");
    cr_assert_not_null(f);
    pbar b;
    pbar_init(&b, f, "work", "items", 4);
    cr_assert(b.on);
    pbar_update(&b, 1);
    pbar_update(&b, 4);
    char out[4096];
    drain(master, out, sizeof out);
    cr_assert_not_null(strstr(out, "\rwork [######..................] 1/4 items  25%"), "%s", out);
    cr_assert_not_null(strstr(out, "[########################] 4/4 items 100%"), "%s", out);
    pbar_finish(&b);
    drain(master, out, sizeof out);
    cr_assert_str_eq(out, "\r\033[K", "the line is erased");
    fclose(f);
    close(master);
}

/* ---- the commands ---- */

static bool have_script(void)
{
    return system("script --version > /dev/null 2>&1") == 0;
}

Test(pbar, demos_record_shows_a_bar_on_a_terminal_and_none_through_a_pipe)
{
    char out[8192], cmd[1024];
    snprintf(cmd, sizeof cmd, "%s demos record --env minatar/breakout --policy expert "
             "--episodes 3 --out /tmp/shoal-pbar-%d.demo 2>&1", getenv("SHOAL_BIN"), getpid());
    cr_assert_eq(run_shell(cmd, out, sizeof out), 0, "%s", out);
    cr_assert_not_null(strstr(out, "recorded 3 episodes"), "%s", out);
    cr_assert_null(strchr(out, '\r'), "a carriage return went to a pipe: %s", out);
    cr_assert_null(strstr(out, "[#"), "%s", out);
    if (!have_script()) {
        cr_skip_test("util-linux script(1) is not installed: the terminal half is not checked");
    }
    char wrapped[1200];
    snprintf(wrapped, sizeof wrapped, "script -q -e -c '%.*s' /dev/null", (int)strlen(cmd) - 5,
             cmd);
    cr_assert_eq(run_shell(wrapped, out, sizeof out), 0, "%s", out);
    cr_assert_not_null(strstr(out, "shoal demos record [########################] 3/3 episodes "
                                   "100%"), "%s", out);
    cr_assert_not_null(strstr(out, "recorded 3 episodes"), "%s", out);
    snprintf(cmd, sizeof cmd, "rm -f /tmp/shoal-pbar-%d.demo", getpid());
    cr_assert_eq(system(cmd), 0);
}
