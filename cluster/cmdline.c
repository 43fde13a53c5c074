#include "cluster/cmdline.h"

#include <stdio.h>
#include <sys/stat.h>

#include "cluster/commands.h"
#include "cluster/envfacts.h"
#include "cluster/rundir.h"
#include "common/fileio.h"
#include "common/log.h"

int cmdline_parse(const cli_command *cmd, int argc, char **argv)
{
    shoal_err err = {0};
    int rc = cli_parse(cmd, argc, argv, &err);
    if (rc == CLI_HELP) {
        cli_help(cmd, stdout);
        return 0;
    }
    if (rc == SHOAL_OK) {
        return CMDLINE_RUN;
    }
    fprintf(stderr, "%s: %s\n", cmd->name, err.msg);
    if (rc == SHOAL_ENOMEM) {
        return 1;
    }
    cli_synopsis(cmd, stderr);
    return EXIT_USAGE;
}

config *cmdline_config_load(const char *file, const char *run_dir, bool run_config_optional,
                            const cli_list *sets, shoal_err *err)
{
    char run_config[FILEIO_PATH_MAX];
    struct stat st;
    if (!file && run_dir) {
        if (rundir_path(run_config, sizeof run_config, run_dir, "config.ini", err) != SHOAL_OK) {
            return NULL;
        }
        if (!run_config_optional || stat(run_config, &st) == 0) {
            file = run_config;
        }
        if (file && run_config_optional) {
            log_info("using the run's configuration %s", file);
        }
    }
    return shoal_config_load(file, sets ? sets->items : NULL, sets ? (int)sets->n : 0, err);
}

config *cmdline_role_config(const char *name, const cmdline_args *a, const char *run_dir,
                            bool run_config_optional)
{
    shoal_err err = {0};
    config *cfg = cmdline_config_load(a->config, run_dir, run_config_optional, &a->sets, &err);
    /* A role started by hand reads the run's env facts from its config like one started by
     * `shoal train`: derived here from env.name when the config does not carry them. */
    cfg = cluster_with_env_facts(cfg, &err);
    if (!cfg) {
        fprintf(stderr, "%s: %s\n", name, err.msg);
    }
    return cfg;
}

void cmdline_log_setup(const config *cfg, const char *role, int index)
{
    log_level level = LOG_INFO;
    log_level_parse(config_str(cfg, "log", "level"), &level, NULL);
    const char *file = config_str(cfg, "log", "file");
    log_setup(role, index, level, file[0] ? file : NULL, NULL);
}
