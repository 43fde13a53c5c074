/* cluster/cmd_play.c: `shoal play` driven in a pseudo-terminal as a person would drive it:
 * keys typed on the terminal (arrows, WASD, digits, q, Ctrl-C), the file it writes checked by
 * `shoal demos check`, read back and loaded into a shard's demo store, and the terminal's
 * settings checked on the pty's slave after the process is gone. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "common/clock.h"
#include "env/env.h"
#include "replay/demofile.h"
#include "replay/store.h"

#include "evaluator_fixtures.h"
#include "shoal_cli.h"

/* One `shoal play` in a pty; out holds what it drew since mark (older output is dropped). */
typedef struct session {
    int master, slave;
    pid_t pid;
    char path[128]; /* the demonstration file it writes */
    char out[1 << 18];
    size_t n;
} session;

static session ses;
static char dir[64];

static void setup(void)
{
    fx_dir_make(dir, "shoal-play");
}

static void teardown(void)
{
    fx_dir_remove(dir);
}

TestSuite(play, .init = setup, .fini = teardown, .timeout = 120);

/* Starts `shoal play --out DIR/file` with options (split at spaces) on a new pty, as its
 * controlling terminal. */
static void start(session *s, const char *term, const char *file, const char *options)
{
    memset(s, 0, sizeof *s);
    snprintf(s->path, sizeof s->path, "%s/%s", dir, file);
    char args[512];
    snprintf(args, sizeof args, "--out %s %s", s->path, options);
    struct winsize ws = {.ws_row = 40, .ws_col = 120};
    cr_assert_eq(openpty(&s->master, &s->slave, NULL, NULL, &ws), 0);
    struct termios t;
    cr_assert_eq(tcgetattr(s->slave, &t), 0);
    cr_assert(t.c_lflag & ECHO && t.c_lflag & ICANON, "a new pty starts cooked");
    char words[1024];
    snprintf(words, sizeof words, "%s", args);
    char *argv[32] = {"shoal", "play"};
    int argc = 2;
    for (char *w = strtok(words, " "); w && argc < 31; w = strtok(NULL, " ")) {
        argv[argc++] = w;
    }
    argv[argc] = NULL;
    s->pid = fork();
    cr_assert(s->pid >= 0);
    if (s->pid == 0) {
        setsid();
        ioctl(s->slave, TIOCSCTTY, 0);
        dup2(s->slave, 0);
        dup2(s->slave, 1);
        dup2(s->slave, 2);
        close(s->master);
        setenv("TERM", term, 1);
        unsetenv("COLORTERM");
        execv(getenv("SHOAL_BIN"), argv);
        _exit(127);
    }
}

/* Reads what the game drew for up to ms. */
static void drain(session *s, int ms)
{
    uint64_t end = clock_now_ns() + (uint64_t)ms * 1000000u;
    for (;;) {
        uint64_t now = clock_now_ns();
        if (now >= end) {
            return;
        }
        struct pollfd p = {.fd = s->master, .events = POLLIN};
        if (poll(&p, 1, (int)((end - now) / 1000000u) + 1) <= 0) {
            continue;
        }
        if (s->n + 4096 >= sizeof s->out) {
            size_t keep = sizeof s->out / 2;
            memmove(s->out, s->out + s->n - keep, keep);
            s->n = keep;
        }
        ssize_t r = read(s->master, s->out + s->n, sizeof s->out - 1 - s->n);
        if (r <= 0) {
            return;
        }
        s->n += (size_t)r;
        s->out[s->n] = '\0';
    }
}

/* Waits (bounded: the machine is loaded) until text appears; forgets what came before it. */
static void expect(session *s, const char *text)
{
    for (int i = 0; i < 600; i++) {
        char *at = s->n ? strstr(s->out, text) : NULL;
        if (at) {
            size_t from = (size_t)(at - s->out) + strlen(text);
            memmove(s->out, s->out + from, s->n - from + 1);
            s->n -= from;
            return;
        }
        drain(s, 50);
    }
    cr_assert_fail("'%s' never appeared; the screen ends with: %s", text,
                   s->n > 400 ? s->out + s->n - 400 : s->out);
}

static void type(session *s, const char *keys)
{
    size_t n = strlen(keys);
    cr_assert_eq(write(s->master, keys, n), (ssize_t)n);
}

/* Waits (bounded) for the process; returns its exit code; the rest of its output is in out. */
static int finish(session *s)
{
    int status = 0;
    for (int i = 0; i < 600; i++) {
        drain(s, 50);
        pid_t r = waitpid(s->pid, &status, WNOHANG);
        if (r == s->pid) {
            drain(s, 50);
            cr_assert(WIFEXITED(status), "shoal play died of signal %d",
                      WIFSIGNALED(status) ? WTERMSIG(status) : 0);
            return WEXITSTATUS(status);
        }
    }
    kill(s->pid, SIGKILL);
    waitpid(s->pid, &status, 0);
    cr_assert_fail("shoal play did not exit; the screen ends with: %s",
                   s->n > 400 ? s->out + s->n - 400 : s->out);
    return -1;
}

/* The terminal as the shell had it: echo and line editing back on. */
static void assert_restored(session *s)
{
    struct termios t;
    cr_assert_eq(tcgetattr(s->slave, &t), 0);
    cr_assert(t.c_lflag & ECHO, "echo is back on");
    cr_assert(t.c_lflag & ICANON, "canonical mode is back on");
    cr_assert(t.c_lflag & ISIG, "signals are back on");
    cr_assert_neq(t.c_cc[VSUSP], _POSIX_VDISABLE, "Ctrl-Z is back");
    cr_assert_not_null(strstr(s->out, "\033[?25h\033[?1049l"), "cursor and main screen back");
    close(s->master);
    close(s->slave);
}

/* What a file holds, read through the shard's reader. */
typedef struct contents {
    uint32_t action[4096];
    size_t n;
    size_t episodes;
    float ret[64];
    uint32_t length[64];
} contents;

static int collect(void *ctx, const replay_batch *b, shoal_err *err)
{
    (void)err;
    contents *c = ctx;
    for (size_t i = 0; i < b->t.count && c->n < 4096; i++) {
        c->action[c->n++] = b->t.action[i];
    }
    for (size_t i = 0; i < b->episodes.count && c->episodes < 64; i++) {
        c->ret[c->episodes] = b->episodes.ret[i];
        c->length[c->episodes++] = b->episodes.length[i];
    }
    return SHOAL_OK;
}

/* Checks path with `shoal demos check`, reads it, and loads it into a shard's demo store. */
static void read_back(const char *path, contents *c, size_t transitions)
{
    char args[512], out[4096];
    snprintf(args, sizeof args, "demos check %s", path);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    cr_assert_not_null(strstr(out, "whole"), "%s", out);
    memset(c, 0, sizeof *c);
    shoal_err err = {0};
    cr_assert_eq(replay_demo_read(path, collect, c, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(c->n, transitions);
    replay_store_config sc = {.capacity = 16, .demo_capacity = transitions, .alpha = 0.6,
                              .epsilon_demo = 1.0, .seed = 1, .max_batch = 32};
    env_options o;
    env_options_default(&o);
    env *e = env_make(NULL, "chain", &o, &err);
    cr_assert_not_null(e, "%s", err.msg);
    sc.spec = env_obs_spec(e); /* the shard's spec comes from the run's env, as in training */
    env_free(e);
    cr_assert_eq(obs_spec_finish(&sc.spec, &err), SHOAL_OK, "%s", err.msg);
    replay_store *s = replay_store_new(&sc, &err);
    cr_assert_not_null(s, "%s", err.msg);
    size_t n = 0;
    cr_assert_eq(replay_demo_load(s, path, &n, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(n, transitions);
    cr_assert_eq(replay_store_totals(s).demo_size, transitions);
    replay_store_free(s);
}

/* Chain (length 10) lasts 18 steps and has left (0) and right (1). */
#define LEFT "\033[D"
#define RIGHT "\033[C"
static const char *const episode_keys[18] = {RIGHT, "d", LEFT, "a", "1", "0", RIGHT, RIGHT, "D",
                                             "x", /* not a key: no step */
                                             RIGHT, "1", LEFT, RIGHT, RIGHT, RIGHT, "d", "d"};
static const uint32_t episode_actions[18] = {1, 1, 0, 0, 1, 0, 1, 1, 1,
                                            1, 1, 0, 1, 1, 1, 1, 1, 1};

/* Types one chain episode's keys (17 steps from the table and one more right). */
static void type_episode(session *s)
{
    for (int i = 0; i < 18; i++) {
        type(s, episode_keys[i]);
    }
    type(s, RIGHT);
}

/* Plays the first episode from the first frame to its end screen. */
static void play_first_episode(session *s)
{
    expect(s, "episode 1  step 0");
    type_episode(s);
    expect(s, "episode 1 over");
}

Test(play, chain_step_by_step_records_the_keys_typed_and_restores_the_terminal)
{
    start(&ses, "xterm-256color", "me.demo", "--env chain --episodes 2 --step --seed 3");
    const char *path = ses.path;
    expect(&ses, "episode 1  step 0");
    cr_assert_not_null(strstr(ses.out, "left"), "the keys are listed: %s", ses.out);
    type_episode(&ses);
    expect(&ses, "episode 1 over");
    type(&ses, "x"); /* any key: the next episode */
    expect(&ses, "episode 2  step 0");
    type_episode(&ses);
    cr_assert_eq(finish(&ses), 0, "%s", ses.out);
    cr_assert_not_null(strstr(ses.out, "played 2 episodes of chain: 36 transitions"), "%s",
                       ses.out);
    assert_restored(&ses);
    contents c;
    read_back(path, &c, 36);
    cr_assert_eq(c.episodes, 2);
    for (size_t i = 0; i < 36; i++) {
        cr_assert_eq(c.action[i], episode_actions[i % 18], "step %zu", i);
    }
    cr_assert_eq(c.length[0], 18);
    cr_assert_eq(c.length[1], 18);
}

Test(play, q_mid_episode_keeps_finished_episodes_and_drops_the_unfinished_one)
{
    start(&ses, "xterm", "q.demo", "--env chain");
    const char *path = ses.path;
    expect(&ses, "one key press is one step");
    type_episode(&ses);
    expect(&ses, "episode 1 over");
    type(&ses, " ");
    expect(&ses, "episode 2  step 0");
    type(&ses, RIGHT RIGHT LEFT RIGHT RIGHT);
    expect(&ses, "episode 2  step 5");
    type(&ses, "q");
    cr_assert_eq(finish(&ses), 0, "%s", ses.out);
    cr_assert_not_null(strstr(ses.out, "played 1 episodes of chain: 18 transitions"), "%s",
                       ses.out);
    cr_assert_not_null(strstr(ses.out, "unfinished episode (5 steps) was not written"), "%s",
                       ses.out);
    assert_restored(&ses);
    contents c;
    read_back(path, &c, 18);
    cr_assert_eq(c.episodes, 1);
    for (size_t i = 0; i < 18; i++) {
        cr_assert_eq(c.action[i], episode_actions[i]);
    }
}

Test(play, ctrl_c_ends_the_session_like_q_and_restores_the_terminal)
{
    start(&ses, "xterm", "c.demo", "--env chain --step");
    const char *path = ses.path;
    play_first_episode(&ses);
    type(&ses, "\n");
    expect(&ses, "episode 2  step 0");
    type(&ses, RIGHT);
    expect(&ses, "episode 2  step 1");
    type(&ses, "\003"); /* the terminal turns Ctrl-C into SIGINT */
    cr_assert_eq(finish(&ses), 0, "%s", ses.out);
    cr_assert_not_null(strstr(ses.out, "played 1 episodes"), "%s", ses.out);
    assert_restored(&ses);
    contents c;
    read_back(path, &c, 18);
}

Test(play, quitting_before_an_episode_ends_writes_nothing_and_exits_1)
{
    start(&ses, "xterm", "none.demo", "--env chain");
    const char *path = ses.path;
    expect(&ses, "episode 1  step 0");
    type(&ses, RIGHT "q");
    cr_assert_eq(finish(&ses), 1, "%s", ses.out);
    cr_assert_not_null(strstr(ses.out, "nothing written"), "%s", ses.out);
    assert_restored(&ses);
    struct stat st;
    cr_assert_neq(stat(path, &st), 0, "no file");
}

Test(play, sigterm_mid_episode_restores_the_terminal)
{
    start(&ses, "xterm", "t.demo", "--env chain");
    expect(&ses, "episode 1  step 0");
    kill(ses.pid, SIGTERM);
    cr_assert_eq(finish(&ses), 1, "%s", ses.out);
    assert_restored(&ses);
}

Test(play, breakout_in_real_time_takes_keys_per_frame_and_noop_without_one)
{
    start(&ses, "xterm-256color", "b.demo",
          "--env minatar/breakout --fps 10 --episodes 1 --set env.max_episode_steps=40");
    const char *path = ses.path;
    expect(&ses, "[real time]");
    cr_assert_not_null(strstr(ses.out, "\033[48;5;"), "256 colours: %s", ses.out);
    for (int i = 0; i < 3; i++) { /* the ball may be lost after ten frames: one second */
        type(&ses, RIGHT);
        drain(&ses, 100);
    }
    cr_assert_eq(finish(&ses), 0, "%s", ses.out);
    assert_restored(&ses);
    contents c = {0};
    shoal_err err = {0};
    cr_assert_eq(replay_demo_read(path, collect, &c, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(c.episodes, 1);
    size_t right = 0;
    for (size_t i = 0; i < c.n; i++) {
        cr_assert(c.action[i] == 0 || c.action[i] == 2, "only no-op and right: %u",
                  c.action[i]);
        right += c.action[i] == 2;
    }
    cr_assert(right >= 1 && right <= 3, "each key press is one frame's action: %zu", right);
    cr_assert_eq(c.n, c.length[0]);
}

Test(play, sixteen_colour_terminals_get_sgr_backgrounds)
{
    start(&ses, "xterm", "s.demo", "--env minatar/seaquest --step");
    expect(&ses, "[step by step]");
    expect(&ses, ";30m"); /* a bright background with black glyphs, no 256-colour codes */
    cr_assert_null(strstr(ses.out, "\033[48;5;"), "%s", ses.out);
    type(&ses, "q");
    cr_assert_eq(finish(&ses), 1, "%s", ses.out);
    assert_restored(&ses);
}

Test(play, help_usage_and_bad_input_are_answered_before_the_terminal_changes)
{
    char out[8192], args[512];
    cr_assert_eq(run("play --help", out, sizeof out), 0);
    cr_assert_not_null(strstr(out, "--step"), "%s", out);
    cr_assert_not_null(strstr(out, "dropped"), "the help says what happens to an unfinished "
                       "episode: %s", out);
    cr_assert_eq(run("play --env chain", out, sizeof out), 2);
    cr_assert_not_null(strstr(out, "--out"), "%s", out);
    cr_assert_eq(run("play --env chain --out x --fps 0", out, sizeof out), 2);
    snprintf(args, sizeof args, "play --env chain --out %s/p.demo < /dev/null", dir);
    cr_assert_eq(run(args, out, sizeof out), 1);
    cr_assert_not_null(strstr(out, "stdin is not a terminal"), "%s", out);
    snprintf(args, sizeof args, "play --env nosuchgame --out %s/p.demo", dir);
    cr_assert_eq(run(args, out, sizeof out), 1);
    cr_assert_not_null(strstr(out, "nosuchgame"), "%s", out);
    snprintf(args, sizeof args, "play --env deepsea --set env.options=size=100 --out %s/p.demo",
             dir);
    cr_assert_eq(run(args, out, sizeof out), 1);
    cr_assert_not_null(strstr(out, "100x100 cells"), "%s", out);
    snprintf(args, sizeof args, "play --env chain --sticky 2 --out %s/p.demo", dir);
    cr_assert_eq(run(args, out, sizeof out), 2);
    cr_assert_not_null(strstr(out, "--sticky"), "%s", out);
    snprintf(args, sizeof args, "%s/exists.demo", dir);
    FILE *f = fopen(args, "w");
    cr_assert_not_null(f);
    fclose(f);
    snprintf(args, sizeof args, "play --env chain --out %s/exists.demo", dir);
    cr_assert_eq(run(args, out, sizeof out), 1);
    cr_assert_not_null(strstr(out, "--force"), "%s", out);
}

Test(play, a_terminal_that_hangs_up_keeps_the_finished_episodes)
{
    start(&ses, "xterm", "h.demo", "--env chain");
    const char *path = ses.path;
    play_first_episode(&ses);
    close(ses.master); /* the terminal window closes: SIGHUP, then a hung-up stdin */
    int status = 0;
    pid_t done = 0;
    for (int i = 0; i < 600 && (done = waitpid(ses.pid, &status, WNOHANG)) == 0; i++) {
        clock_sleep_ms(50);
    }
    if (done != ses.pid) {
        kill(ses.pid, SIGKILL);
        waitpid(ses.pid, &status, 0);
        cr_assert_fail("shoal play did not exit after the hang-up");
    }
    cr_assert(WIFEXITED(status), "shoal play exited");
    cr_assert_eq(WEXITSTATUS(status), 0);
    close(ses.slave);
    contents c;
    read_back(path, &c, 18);
    cr_assert_eq(c.episodes, 1);
}
