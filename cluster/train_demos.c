#include "cluster/train_demos.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "actor/record.h"
#include "common/endpoints.h"
#include "common/fileio.h"

/* Creates the folder a file lies in (nothing for a file in the current or root folder). */
static int make_parent(const char *file, shoal_err *err)
{
    char folder[FILEIO_PATH_MAX];
    snprintf(folder, sizeof folder, "%s", file);
    char *slash = strrchr(folder, '/');
    if (!slash || slash == folder) {
        return SHOAL_OK;
    }
    *slash = '\0';
    return file_mkdirs(folder, err);
}

static int record_one(const config *cfg, uint64_t episodes, const char *file, shoal_err *err)
{
    actor_record_config rc_cfg;
    actor_record_summary sum;
    printf("shoal train: recording %llu expert episodes into %s\n", (unsigned long long)episodes,
           file);
    fflush(stdout);
    int rc = actor_record_config_from(cfg, NULL, "expert", episodes, file, &rc_cfg, err);
    if (rc == SHOAL_OK) {
        rc = actor_record_run(&rc_cfg, &sum, err);
    }
    if (rc == SHOAL_OK) {
        printf("shoal train: %llu episodes, %llu transitions, mean return %.2f\n",
               (unsigned long long)sum.episodes, (unsigned long long)sum.transitions,
               sum.mean_return);
    }
    return rc;
}

int train_demos_record_missing(const config *cfg, shoal_err *err)
{
    uint64_t episodes = (uint64_t)config_int(cfg, "run", "demo_episodes");
    const char *list = config_str(cfg, "replay", "demos");
    if (episodes == 0 || !list[0]) {
        return SHOAL_OK;
    }
    char files[16][FILEIO_PATH_MAX];
    size_t n = 0;
    int rc = endpoints_split(list, &files[0][0], 16, FILEIO_PATH_MAX, &n, err);
    for (size_t i = 0; rc == SHOAL_OK && i < n; i++) {
        struct stat st;
        if (stat(files[i], &st) == 0) {
            continue;
        }
        rc = make_parent(files[i], err);
        if (rc == SHOAL_OK) {
            rc = record_one(cfg, episodes, files[i], err);
        }
    }
    return rc;
}
