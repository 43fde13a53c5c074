/* `shoal play`: a person plays a game in the terminal and the episodes become a demonstration
 * file. The recording itself is `shoal demos record`'s (actor/record.h, with this file's
 * keyboard as the outside policy), so a person's demonstrations carry exactly the actors'
 * encoding; this file only draws the game and reads the keys.
 *
 * The terminal: stdin in non-canonical mode without echo, reads that never block (VMIN = 0,
 * VTIME = 0; poll() waits for the frame), the alternate screen and a hidden cursor. Signals
 * stay on (ISIG) so that Ctrl-C is a SIGINT, caught like SIGTERM and SIGHUP: the loop ends as
 * on q and the one exit path restores the terminal; a second signal restores it from the
 * handler and exits at once. Ctrl-Z and Ctrl-\ are switched off while playing: a suspended or
 * dumped game would leave the shell in raw mode. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "actor/record.h"
#include "cluster/cmdline.h"
#include "cluster/commands.h"
#include "common/clock.h"
#include "env/env.h"
#include "env/plugin.h"
#include "env/registry.h"

/* The largest grid drawn (two columns a cell) and the most channels told apart by colour. */
#define PLAY_MAX_H 48u
#define PLAY_MAX_W 64u
#define PLAY_MAX_CHANNELS 16u
#define PLAY_MAX_ACTIONS 32u

typedef struct args {
    cmdline_args cfg;
    const char *env, *out, *sticky;
    uint64_t seed, fps, episodes;
    bool step, force, seed_given;
} args;

static int parse(int argc, char **argv, args *a)
{
    a->fps = 10;
    const cli_option options[] = {
        {"--env", "NAME", "the game (replaces env.name)", .value = &a->env, .required = true},
        {"--out", "FILE", "the demonstration file to write", .value = &a->out, .required = true},
        {"--episodes", "N", "stop after N episodes (default: when you press q)",
         .number = &a->episodes},
        {"--fps", "N", "frames a second in real time (default 10, MinAtar's human speed)",
         .number = &a->fps, .min = 1, .max = 60},
        {"--step", NULL, "step by step: each key press advances one frame", .flag = &a->step},
        {"--seed", "N", "the game's seed (default run.seed)", .number = &a->seed,
         .given = &a->seed_given},
        {"--sticky", "P", "sticky-action probability for games that have them (replaces\n"
                          "env.sticky; MinAtar's default is 0.1)", .value = &a->sticky},
        {"--force", NULL, "replace FILE when it exists", .flag = &a->force},
        CMDLINE_CONFIG(&a->cfg, false),
        CMDLINE_SET(&a->cfg),
    };
    const cli_command cmd = {
        .name = "shoal play",
        .usage = "shoal play --env NAME --out FILE [--step] [--fps N] [--episodes N] [--seed N]\n"
                 "                  [--sticky P] [--force] [--config FILE] [--set S.K=V ...]",
        .about = "You play the game in this terminal; your episodes are written as a\n"
                 "demonstration file that replay.demos loads (docs/formats.md), encoded as\n"
                 "`shoal demos record` encodes the expert's (actor.n_step, actor.gamma,\n"
                 "actor.batch; masks for network.heads > 1). Each channel of the observation is\n"
                 "one colour (the legend names the game's glyph for it); the score, episode and\n"
                 "step are shown above the grid and the keys below it.\n"
                 "\n"
                 "Keys: arrows or WASD move (the game's left/right/up/down), space fires, the\n"
                 "digits choose an action by its number, q quits. In real time the game advances\n"
                 "--fps frames a second and takes the last key pressed in each frame (none: the\n"
                 "no-op). With --step each key advances one frame ('.' or Enter: the no-op);\n"
                 "games without a no-op action (chain, deepsea) are always played step by step.",
        .options = options,
        .n_options = sizeof options / sizeof options[0],
        .notes = "q, Ctrl-C or a SIGTERM ends the session: every finished episode is written, the\n"
                 "episode being played is dropped (it would end without its terminal), and\n"
                 "nothing is written when no episode ended (exit 1). An episode is cut as a time\n"
                 "limit cuts it after 100000 steps or env.max_episode_steps. stdin must be a\n"
                 "terminal. Grids up to 48x64 cells with up to 16 channels are drawn (MinAtar,\n"
                 "deepsea, chain); larger observations are refused. FILE is refused when it\n"
                 "exists, unless --force.",
    };
    return cmdline_parse(&cmd, argc, argv);
}

/* ---- the terminal ---- */

/* What the signal handler needs: the terminal to put back and whether a stop came. File-static
 * because a handler takes no argument. */
static struct termios saved_tty;
static volatile sig_atomic_t tty_saved;
static volatile sig_atomic_t stop_signal;

static const char screen_on[] = "\033[?1049h\033[?25l\033[H\033[2J";
static const char screen_off[] = "\033[0m\033[?25h\033[?1049l";

static void on_signal(int sig)
{
    if (stop_signal && tty_saved) {
        /* The second signal: the first did not end the session; restore and go. */
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
        ssize_t w = write(STDOUT_FILENO, screen_off, sizeof screen_off - 1);
        (void)w;
        _exit(128 + sig);
    }
    stop_signal = sig;
}

typedef struct term {
    struct sigaction old[3];
    bool raw, screen;
} term;

static const int stop_signals[3] = {SIGINT, SIGTERM, SIGHUP};

static int term_open(term *t, shoal_err *err)
{
    memset(t, 0, sizeof *t);
    if (tcgetattr(STDIN_FILENO, &saved_tty) != 0) {
        return shoal_err_set(err, SHOAL_EIO, "cannot read the terminal's settings: %s",
                             strerror(errno));
    }
    tty_saved = 1;
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < 3; i++) {
        sigaction(stop_signals[i], &sa, &t->old[i]);
    }
    struct termios raw = saved_tty;
    raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
    raw.c_iflag &= ~(tcflag_t)(IXON | ICRNL);
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    raw.c_cc[VSUSP] = _POSIX_VDISABLE;
    raw.c_cc[VQUIT] = _POSIX_VDISABLE;
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) != 0) {
        return shoal_err_set(err, SHOAL_EIO, "cannot set the terminal to raw mode: %s",
                             strerror(errno));
    }
    t->raw = true;
    fputs(screen_on, stdout);
    fflush(stdout);
    t->screen = true;
    return SHOAL_OK;
}

/* Puts the terminal back as it was; safe to call on any path, more than once. */
static void term_close(term *t)
{
    if (t->screen) {
        fputs(screen_off, stdout);
        fflush(stdout);
        t->screen = false;
    }
    if (t->raw) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
        t->raw = false;
    }
    if (tty_saved) {
        for (int i = 0; i < 3; i++) {
            sigaction(stop_signals[i], &t->old[i], NULL);
        }
        tty_saved = 0;
    }
}

/* ---- keys ---- */

typedef enum key_kind { KEY_NONE, KEY_QUIT, KEY_ACTION, KEY_NOOP, KEY_OTHER } key_kind;

typedef struct keymap {
    int by_name[5];   /* agent action of left, right, up, down, fire; -1 none */
    int noop;         /* agent action named noop; -1 none */
    uint32_t n_actions;
} keymap;

static const char *const move_names[5] = {"left", "right", "up", "down", "fire"};
enum { MOVE_LEFT, MOVE_RIGHT, MOVE_UP, MOVE_DOWN, MOVE_FIRE };

static void keymap_init(keymap *k, const env *e)
{
    k->n_actions = env_n_actions(e);
    k->noop = -1;
    for (int m = 0; m < 5; m++) {
        k->by_name[m] = -1;
    }
    for (uint32_t a = 0; a < k->n_actions; a++) {
        const char *name = env_action_name(e, a);
        for (int m = 0; m < 5; m++) {
            if (strcmp(name, move_names[m]) == 0) {
                k->by_name[m] = (int)a;
            }
        }
        if (strcmp(name, "noop") == 0) {
            k->noop = (int)a;
        }
    }
}

/* Takes one key from the front of buf (n bytes) and says what it is; *used is the bytes it
 * took (0: an escape sequence still incomplete, wait for more). */
static key_kind key_next(const keymap *k, const unsigned char *buf, size_t n, size_t *used,
                         uint32_t *action)
{
    *used = 1;
    int move = -1;
    unsigned char c = buf[0];
    if (c == 27) {
        if (n < 3) {
            *used = n >= 2 && buf[1] != '[' && buf[1] != 'O' ? 1 : 0;
            return *used ? KEY_OTHER : KEY_NONE;
        }
        *used = 3;
        switch (buf[2]) {
        case 'A': move = MOVE_UP; break;
        case 'B': move = MOVE_DOWN; break;
        case 'C': move = MOVE_RIGHT; break;
        case 'D': move = MOVE_LEFT; break;
        default: return KEY_OTHER;
        }
    } else if (c == 'q' || c == 'Q') {
        return KEY_QUIT;
    } else if (c == ' ') {
        move = MOVE_FIRE;
    } else if (c == 'a' || c == 'A') {
        move = MOVE_LEFT;
    } else if (c == 'd' || c == 'D') {
        move = MOVE_RIGHT;
    } else if (c == 'w' || c == 'W') {
        move = MOVE_UP;
    } else if (c == 's' || c == 'S') {
        move = MOVE_DOWN;
    } else if (c >= '0' && c <= '9' && (uint32_t)(c - '0') < k->n_actions) {
        *action = (uint32_t)(c - '0');
        return KEY_ACTION;
    } else if (c == '.' || c == '\r' || c == '\n') {
        if (k->noop >= 0) {
            *action = (uint32_t)k->noop;
            return KEY_NOOP;
        }
        return KEY_OTHER;
    } else {
        return KEY_OTHER;
    }
    if (k->by_name[move] < 0) {
        return KEY_OTHER;
    }
    *action = (uint32_t)k->by_name[move];
    return KEY_ACTION;
}

/* ---- drawing ---- */

/* Distinct colours for channels 0..15: xterm-256 indices, and the 16-colour SGR codes. */
static const int colour256[PLAY_MAX_CHANNELS] = {196, 46, 33, 226, 201, 51, 208, 129,
                                                 118, 27, 220, 163, 87, 166, 250, 94};
static const int colour16[PLAY_MAX_CHANNELS] = {101, 102, 104, 103, 105, 106, 41, 45,
                                                42, 44, 43, 100, 46, 47, 107, 40};

typedef struct player {
    const args *a;
    keymap keys;
    bool step_mode, colour256;
    unsigned char pending[64]; /* keys read but not yet used (step by step) */
    size_t n_pending;
    uint64_t next_frame_ns;
    char *frame; /* the screen, written with one fwrite */
    size_t frame_cap, frame_len;
    char message[160];
} player;

static void put(player *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(player *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = p->frame_cap - p->frame_len;
    int n = vsnprintf(p->frame + p->frame_len, room, fmt, ap);
    va_end(ap);
    if (n > 0) {
        p->frame_len += (size_t)n < room ? (size_t)n : room - 1;
    }
}

static void channel_style(const player *p, uint32_t ch, char *buf, size_t cap)
{
    if (p->colour256) {
        snprintf(buf, cap, "\033[48;5;%dm\033[38;5;16m", colour256[ch]);
    } else {
        snprintf(buf, cap, "\033[%d;30m", colour16[ch]);
    }
}

static void draw(player *p, const actor_record_view *v)
{
    const env *e = v->e;
    obs_shape s = env_obs_shape(e);
    obs_dtype dt = env_obs_dtype(e);
    const char *glyphs = env_game_of(e)->glyphs ? env_game_of(e)->glyphs : "";
    size_t n_glyphs = strlen(glyphs);
    char style[32];
    p->frame_len = 0;
    put(p, "\033[H");
    put(p, "shoal play  %s  episode %llu  step %llu  score %g  %s\033[K\r\n",
        p->a->env, (unsigned long long)v->episode + 1, (unsigned long long)v->steps, v->ret,
        p->step_mode ? "[step by step]" : "[real time]");
    for (uint32_t y = 0; y < s.h; y++) {
        for (uint32_t x = 0; x < s.w; x++) {
            uint32_t on = s.c;
            for (uint32_t c = 0; c < s.c && on == s.c; c++) {
                if (env_obs_value(v->obs, s, dt, y, x, c)) {
                    on = c;
                }
            }
            if (on == s.c) {
                put(p, "\033[0m\033[2m. \033[0m");
                continue;
            }
            channel_style(p, on, style, sizeof style);
            put(p, "%s%c \033[0m", style, on < n_glyphs ? glyphs[on] : '#');
        }
        put(p, "\033[K\r\n");
    }
    put(p, "\033[K\r\n");
    for (uint32_t c = 0; c < s.c; c++) {
        channel_style(p, c, style, sizeof style);
        put(p, "%s%c \033[0m ch %u  ", style, c < n_glyphs ? glyphs[c] : '#', c);
    }
    put(p, "\033[K\r\nkeys:");
    static const char *const move_keys[5] = {"<-/a", "->/d", "^/w", "v/s", "space"};
    for (uint32_t act = 0; act < p->keys.n_actions; act++) {
        const char *key = "";
        for (int m = 0; m < 5; m++) {
            if (p->keys.by_name[m] == (int)act) {
                key = move_keys[m];
            }
        }
        if ((int)act == p->keys.noop) {
            key = p->step_mode ? "./Enter" : "(none)";
        }
        if (act < 10) {
            put(p, "  %s%s%u %s", key, key[0] ? "/" : "", act, env_action_name(e, act));
        } else {
            put(p, "  %s %s", key[0] ? key : "-", env_action_name(e, act));
        }
    }
    put(p, "  q quit\033[K\r\n%s\033[K\r\n\033[J", p->message);
    fwrite(p->frame, 1, p->frame_len, stdout);
    fflush(stdout);
}

/* ---- the outside policy: the keyboard ---- */

/* Waits up to timeout_ms (-1: no bound) for keys and appends what arrived to p->pending.
 * SHOAL_EINTERRUPTED after a stop signal or when the terminal hung up; EIO when reading
 * fails. */
static int read_keys(player *p, int timeout_ms, shoal_err *err)
{
    if (stop_signal) {
        return SHOAL_EINTERRUPTED;
    }
    struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
    int r = poll(&pfd, 1, timeout_ms);
    if (stop_signal) {
        return SHOAL_EINTERRUPTED;
    }
    if (r < 0 && errno == EINTR) {
        return SHOAL_OK;
    }
    if (r < 0) {
        return shoal_err_set(err, SHOAL_EIO, "reading the keyboard: %s", strerror(errno));
    }
    if (r == 0) {
        return SHOAL_OK;
    }
    if (pfd.revents & (POLLHUP | POLLERR | POLLNVAL) && !(pfd.revents & POLLIN)) {
        return SHOAL_EINTERRUPTED; /* the terminal went away: end as on q, keep what ended */
    }
    ssize_t n = read(STDIN_FILENO, p->pending + p->n_pending, sizeof p->pending - p->n_pending);
    if (n < 0 && errno != EINTR && errno != EAGAIN) {
        return shoal_err_set(err, SHOAL_EIO, "reading the keyboard: %s", strerror(errno));
    }
    if (n > 0) {
        p->n_pending += (size_t)n;
    }
    return SHOAL_OK;
}

/* Takes the next key from p->pending (KEY_NONE: none complete yet). */
static key_kind take_key(player *p, uint32_t *action)
{
    while (p->n_pending > 0) {
        size_t used;
        key_kind k = key_next(&p->keys, p->pending, p->n_pending, &used, action);
        if (used == 0) {
            if (p->n_pending == sizeof p->pending) {
                used = 1; /* never wait forever on a broken escape sequence */
            } else {
                return KEY_NONE;
            }
        }
        memmove(p->pending, p->pending + used, p->n_pending - used);
        p->n_pending -= used;
        if (k != KEY_NONE) {
            return k;
        }
    }
    return KEY_NONE;
}

/* Step by step: the next key that is an action (or q). */
static int wait_key(player *p, uint32_t *action, bool any, shoal_err *err)
{
    for (;;) {
        key_kind k = take_key(p, action);
        if (k == KEY_QUIT) {
            return SHOAL_EINTERRUPTED;
        }
        if (k == KEY_ACTION || k == KEY_NOOP || (any && k != KEY_NONE)) {
            return SHOAL_OK;
        }
        if (k == KEY_NONE) {
            int rc = read_keys(p, -1, err);
            if (rc != SHOAL_OK) {
                return rc;
            }
        }
    }
}

/* Real time: the last action key pressed before the frame's deadline, else the no-op. */
static int frame_key(player *p, uint32_t *action, shoal_err *err)
{
    uint64_t frame_ns = 1000000000ull / p->a->fps;
    uint64_t now = clock_now_ns();
    if (p->next_frame_ns == 0 || now > p->next_frame_ns + frame_ns) {
        p->next_frame_ns = now + frame_ns; /* a late frame does not make the next ones rush */
    }
    *action = (uint32_t)p->keys.noop;
    for (;;) {
        uint32_t a;
        key_kind k;
        while ((k = take_key(p, &a)) != KEY_NONE) {
            if (k == KEY_QUIT) {
                return SHOAL_EINTERRUPTED;
            }
            if (k == KEY_ACTION || k == KEY_NOOP) {
                *action = a;
            }
        }
        now = clock_now_ns();
        if (now >= p->next_frame_ns) {
            break;
        }
        int rc = read_keys(p, (int)((p->next_frame_ns - now + 999999) / 1000000), err);
        if (rc != SHOAL_OK) {
            return rc;
        }
    }
    p->next_frame_ns += frame_ns;
    return SHOAL_OK;
}

static int keyboard_policy(void *arg, const actor_record_view *v, uint32_t *action,
                           shoal_err *err)
{
    player *p = arg;
    if (v->over) {
        uint64_t done = v->episode + 1;
        bool last = p->a->episodes && done >= p->a->episodes;
        snprintf(p->message, sizeof p->message, "episode %llu over: return %g. %s",
                 (unsigned long long)done, v->ret,
                 last ? "That was the last one." : "Press any key for the next one, q to quit.");
        draw(p, v);
        if (last) {
            return SHOAL_OK;
        }
        if (!p->step_mode) {
            p->n_pending = 0; /* keys held as the episode ended do not skip this screen */
        }
        int rc = wait_key(p, action, true, err);
        p->next_frame_ns = 0;
        p->message[0] = '\0';
        return rc;
    }
    if (v->steps > 0 && v->last_reward != 0.0f) {
        snprintf(p->message, sizeof p->message, "reward %+g", v->last_reward);
    } else if (v->steps > 0) {
        p->message[0] = '\0';
    }
    draw(p, v);
    return p->step_mode ? wait_key(p, action, false, err) : frame_key(p, action, err);
}

/* ---- the command ---- */

/* Makes the game once before the terminal changes, to refuse what cannot be played there. */
static int check_game(const actor_record_config *rc, keymap *keys, obs_shape *shape,
                      shoal_err *err)
{
    env_registry *reg = env_registry_new(err);
    env *e = NULL;
    if (!reg || env_plugin_load_list(reg, rc->plugins, err) != SHOAL_OK ||
        !(e = env_make(reg, rc->env_name, &rc->env, err))) {
        env_registry_free(reg);
        return err->code;
    }
    obs_shape s = env_obs_shape(e);
    int code = SHOAL_OK;
    if (s.h > PLAY_MAX_H || s.w > PLAY_MAX_W || s.c > PLAY_MAX_CHANNELS) {
        code = shoal_err_set(err, SHOAL_EINVAL, "%s's observations are %ux%u cells of %u "
                             "channels; the terminal shows at most %ux%u cells of %u channels",
                             rc->env_name, s.h, s.w, s.c, PLAY_MAX_H, PLAY_MAX_W,
                             PLAY_MAX_CHANNELS);
    } else if (env_n_actions(e) > PLAY_MAX_ACTIONS) {
        code = shoal_err_set(err, SHOAL_EINVAL, "%s has %u actions; play takes at most %u",
                             rc->env_name, env_n_actions(e), PLAY_MAX_ACTIONS);
    }
    keymap_init(keys, e);
    *shape = s;
    env_free(e);
    env_registry_free(reg);
    return code;
}

static int play(const args *a)
{
    shoal_err err = {0};
    struct stat st;
    if (!a->force && stat(a->out, &st) == 0) {
        fprintf(stderr, "shoal play: %s exists; choose another --out, or --force to replace it\n",
                a->out);
        return 1;
    }
    config *cfg = cmdline_config_load(a->cfg.config, NULL, false, &a->cfg.sets, &err);
    if (!cfg) {
        fprintf(stderr, "shoal play: %s\n", err.msg);
        return 1;
    }
    static actor_record_config rc;
    int code = actor_record_config_from(cfg, a->env, NULL, a->episodes, a->out, &rc, &err);
    config_free(cfg);
    double sticky = 0.0;
    if (code == SHOAL_OK && a->sticky) {
        code = cli_parse_double(a->sticky, "--sticky", &sticky, &err);
        if (code == SHOAL_OK && (sticky < 0.0 || sticky > 1.0)) {
            code = shoal_err_set(&err, SHOAL_EINVAL, "--sticky %s: expected a probability in "
                                 "[0, 1]", a->sticky);
        }
        if (code != SHOAL_OK) {
            fprintf(stderr, "shoal play: %s\n", err.msg);
            return EXIT_USAGE;
        }
        rc.env.sticky = sticky;
    }
    if (a->seed_given) {
        rc.seed = a->seed;
    }
    player p = {.a = a};
    obs_shape shape = {0};
    if (code == SHOAL_OK) {
        code = check_game(&rc, &p.keys, &shape, &err);
    }
    if (code != SHOAL_OK) {
        fprintf(stderr, "shoal play: %s\n", err.msg);
        return 1;
    }
    if (!isatty(STDIN_FILENO)) {
        fprintf(stderr, "shoal play: stdin is not a terminal: play reads the keyboard, so run it "
                        "in a terminal (not through a pipe or a file)\n");
        return 1;
    }
    p.step_mode = a->step || p.keys.noop < 0;
    const char *term_name = getenv("TERM");
    const char *colorterm = getenv("COLORTERM");
    p.colour256 = (term_name && strstr(term_name, "256")) || (colorterm && colorterm[0]);
    /* A cell takes at most 32 bytes of escapes; the lines around the grid fit in 8 KiB. */
    p.frame_cap = (size_t)shape.h * shape.w * 32 + 8192;
    p.frame = malloc(p.frame_cap);
    if (!p.frame) {
        fprintf(stderr, "shoal play: out of memory\n");
        return 1;
    }
    if (p.step_mode && !a->step) {
        snprintf(p.message, sizeof p.message, "%s has no no-op action: one key press is one "
                 "step.", a->env);
    }
    rc.policy = keyboard_policy;
    rc.policy_arg = &p;
    stop_signal = 0;
    term t;
    actor_record_summary s = {0};
    code = term_open(&t, &err);
    if (code == SHOAL_OK) {
        code = actor_record_run(&rc, &s, &err);
    }
    term_close(&t);
    free(p.frame);
    if (code != SHOAL_OK) {
        fprintf(stderr, "shoal play: %s\n", err.msg);
        return 1;
    }
    demos_print_summary("played", &rc, &s);
    if (s.dropped_steps) {
        printf("the unfinished episode (%llu steps) was not written\n",
               (unsigned long long)s.dropped_steps);
    }
    return 0;
}

int cmd_play(int argc, char **argv)
{
    args a = {0};
    int rc = parse(argc, argv, &a);
    if (rc == CMDLINE_RUN) {
        rc = play(&a);
    }
    cli_list_fini(&a.cfg.sets);
    return rc;
}
