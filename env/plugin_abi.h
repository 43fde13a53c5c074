/* shoal environment plugin ABI: the one header a plugin author compiles against.
 *
 * Installed as <shoal/env_plugin.h>; `pkg-config --cflags shoal-plugin` finds it. It is
 * self-contained C11 (no other shoal header, nothing to link): plain structs, fixed-size
 * integers and function pointers. Inside shoal's source tree it is env/plugin_abi.h, and
 * env/game.h builds the built-in games on the same table.
 *
 * A plugin is a shared library that exports one function, shoal_env_plugin, returning a
 * descriptor: the ABI version it was built for and its games.
 *
 *     #include <shoal/env_plugin.h>
 *
 *     static const env_host *host;             // random draws and error reporting
 *     static const env_game coin = {.name = "example/coin", .create = create, ...};
 *
 *     const env_plugin *shoal_env_plugin(const env_host *h)
 *     {
 *         static const env_game *const games[] = {&coin};
 *         static const env_plugin plugin = {
 *             .abi_major = SHOAL_ENV_ABI_MAJOR, .abi_minor = SHOAL_ENV_ABI_MINOR,
 *             .n_games = 1, .games = games};
 *         host = h;
 *         return &plugin;
 *     }
 *
 *     cc -std=c11 -shared -fPIC $(pkg-config --cflags shoal-plugin) -o libcoin.so coin.c
 *     shoal env list --plugin ./libcoin.so        # or [env] plugins = ./libcoin.so
 *
 * The complete example is share/shoal/examples/env-plugin/coin_plugin.c under the install
 * prefix (env/examples/coin_plugin.c in the source tree).
 *
 * Versioning. shoal loads a plugin only when the plugin's abi_major equals SHOAL_ENV_ABI_MAJOR
 * and its abi_minor is at most SHOAL_ENV_ABI_MINOR, and otherwise refuses it with a message
 * naming the library, the version it was built for and the version this shoal supports.
 *   - MAJOR goes up when a plugin built for the old version could misbehave: a field of a
 *     struct below is removed, reordered or retyped, a function's arguments or meaning
 *     change, or a field a plugin must fill is added. MINOR goes back to 0.
 *   - MINOR goes up when something is added that older plugins can do without: an optional
 *     field appended at the end of env_game or env_host, or a new observation encoding. A
 *     host reads a field added in minor m only from plugins built for minor m or later; a
 *     plugin built for a newer minor than the host may rely on what the host lacks, so it is
 *     refused.
 *   - Never changed: the name and signature of shoal_env_plugin and the first two fields
 *     (abi_major, abi_minor) of env_plugin and env_host, so any shoal can read any plugin's
 *     version, and any plugin the host's.
 * The ABI version is independent of shoal's release version (`pkg-config --modversion`).
 *
 * Threads: shoal may play many environments of one game at once, each state on one thread
 * at a time; a game's functions must not share mutable data between states.
 */
#ifndef SHOAL_ENV_PLUGIN_ABI_H
#define SHOAL_ENV_PLUGIN_ABI_H

#include <stddef.h>
#include <stdint.h>

#define SHOAL_ENV_ABI_MAJOR 2
#define SHOAL_ENV_ABI_MINOR 0

/* The name of the function a plugin exports (dlsym looks it up). */
#define SHOAL_ENV_PLUGIN_ENTRY "shoal_env_plugin"

/* Observation encodings (env_game.dtype); the numbers of shoal's ObsDtype. Observations are
 * row-major (H, W, C). BIT packs value (row*W + col)*C + channel into bit i of byte i/8, LSB
 * first; UINT8 stores one byte per value. */
#define ENV_DTYPE_BIT 1u
#define ENV_DTYPE_UINT8 2u

/* Owned by shoal; a plugin only passes pointers to them back (host->uniform, host->fail). */
typedef struct env_rand env_rand;
typedef struct shoal_err shoal_err;

/* The shape of one observation, set by env_game.create. */
typedef struct env_shape {
    uint32_t h, w, c;
} env_shape;

/* A numeric parameter a game accepts as an option ("width=6"); plain static data. */
typedef struct env_param_def {
    const char *name;
    double default_value, min, max;
    int integer; /* 1: the value must be a whole number */
    const char *doc;
} env_param_def;

/* What shoal offers a plugin; valid for as long as the library stays loaded. */
typedef struct env_host {
    uint32_t abi_major, abi_minor; /* the host's SHOAL_ENV_ABI_MAJOR and _MINOR */
    /* Draws from the generator a game's reset and step receive; use these rather than a
     * generator of the plugin's own so that seeds reproduce episodes. */
    double (*uniform)(env_rand *r);                              /* [0, 1) */
    int64_t (*integer)(env_rand *r, int64_t low, int64_t high); /* [low, high) */
    /* Says why create failed (printf format); shoal shows the message as it is, so name the
     * game in it. Call it with the err create received, then return NULL. */
    void (*fail)(shoal_err *err, const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 2, 3)))
#endif
        ;
} env_host;

/* One game's rules. shoal adds what every game shares: sticky actions (when sticky_actions),
 * time limits, the agent's action subset, seeding and rendering. A game acts on its native
 * actions 0 .. n_native_actions - 1; the agent's actions map to them through
 * minimal_actions (or are all of them with the option actions=full). Required: name, dtype,
 * the actions, create, destroy, reset, step and observe. step, reset and observe should not
 * allocate: they run in the actors' hot loop. */
typedef struct env_game {
    const char *name;                /* registry name, "vendor/game"; unique */
    const char *summary;             /* one line for `shoal env list` */
    uint32_t dtype;                  /* ENV_DTYPE_BIT or ENV_DTYPE_UINT8 */
    uint32_t n_native_actions;       /* actions the game accepts, 0 .. n-1 */
    const char *const *action_names; /* n_native_actions names */
    uint32_t n_minimal_actions;      /* the agent's default action set, as native indices */
    const uint32_t *minimal_actions;
    int sticky_actions;              /* 1: shoal applies the sticky-action rule */
    int has_ramping;                 /* 1: the ramping option means something to this game */
    const char *glyphs;              /* one character per channel for the ASCII renderer */
    size_t n_params;                 /* at most 8 */
    const env_param_def *params;

    /* New state for these parameter values (one per params entry, in order, already range
     * checked); sets *shape. On failure: host->fail(err, ...) and NULL. */
    void *(*create)(const double *param_values, int ramping, env_shape *shape, shoal_err *err);
    /* Frees state; NULL is fine. */
    void (*destroy)(void *state);
    /* Optional (may be NULL): called when the environment is seeded, before the next reset. */
    void (*seed)(void *state, uint64_t seed);
    /* Starts an episode. */
    void (*reset)(void *state, env_rand *r);
    /* One step with a native action; returns the reward and sets *terminal (0/1). Never
     * called again after terminal until reset. */
    float (*step)(void *state, uint32_t action, env_rand *r, int *terminal);
    /* Writes the observation into obs, which shoal has zeroed (h * w * c values). */
    void (*observe)(const void *state, uint8_t *obs);
    /* Optional: the difficulty ramp level, or -1 when the game has none. */
    int (*ramp_index)(const void *state);
    /* Optional: a scripted expert's native action in this state (demonstrations, `shoal env
     * stats --policy expert`). */
    uint32_t (*expert)(const void *state, env_rand *r);
} env_game;

/* What a plugin offers: static data that stays valid until the library is closed. */
typedef struct env_plugin {
    uint32_t abi_major, abi_minor; /* SHOAL_ENV_ABI_MAJOR, SHOAL_ENV_ABI_MINOR */
    size_t n_games;
    const env_game *const *games;
} env_plugin;

/* The plugin's entry point, called once when shoal loads the library. Keep host (it outlives
 * the library). Returning NULL declines to load (for instance when host->abi_major is not
 * the one the plugin needs). */
typedef const env_plugin *(*env_plugin_entry)(const env_host *host);
const env_plugin *shoal_env_plugin(const env_host *host);

#endif
