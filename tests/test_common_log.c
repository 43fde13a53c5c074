#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/log.h"

Test(log, lines_carry_time_level_role_and_rank_and_reach_the_file)
{
    char path[] = "/tmp/shoal-log-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    shoal_err err = {0};
    cr_assert_eq(log_setup("learner", 3, LOG_INFO, path, &err), SHOAL_OK, "%s", err.msg);
    log_debug("hidden below the level");
    log_info("step %d done", 7);
    log_warn("careful");
    log_close();
    uint8_t *data;
    size_t n;
    cr_assert_eq(file_read_all(path, 1 << 16, &data, &n, &err), SHOAL_OK);
    unlink(path);
    regex_t re;
    cr_assert_eq(regcomp(&re,
                         "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z INFO  "
                         "learner/3 step 7 done\n[^\n]+ WARN  learner/3 careful\n$",
                         REG_EXTENDED),
                 0);
    cr_assert_eq(regexec(&re, (char *)data, 0, NULL, 0), 0, "log was:\n%s", data);
    regfree(&re);
    cr_assert_null(strstr((char *)data, "hidden"));
    free(data);
}

Test(log, level_names_parse_and_bad_ones_list_the_valid_names)
{
    log_level l;
    shoal_err err = {0};
    cr_assert_eq(log_level_parse("warn", &l, &err), SHOAL_OK);
    cr_assert_eq(l, LOG_WARN);
    cr_assert_eq(log_level_parse("loud", &l, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "debug, info, warn, error, off") != NULL, "%s", err.msg);
}

Test(log, an_unwritable_file_is_an_error)
{
    shoal_err err = {0};
    cr_assert_eq(log_setup("actor", 0, LOG_INFO, "/nonexistent-shoal/x.log", &err), SHOAL_EIO);
    cr_assert(strstr(err.msg, "/nonexistent-shoal/x.log") != NULL);
}

Test(log, the_stderr_level_filters_stderr_but_not_the_file)
{
    char path[] = "/tmp/shoal-log-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    cr_assert_eq(log_setup("actor", 1, LOG_INFO, path, NULL), SHOAL_OK);
    log_set_stderr_level(LOG_WARN);
    cr_redirect_stderr();
    log_info("file only");
    log_warn("both");
    log_close();
    fflush(stderr);
    FILE *err_out = cr_get_redirected_stderr();
    char buf[512] = {0};
    size_t n = fread(buf, 1, sizeof buf - 1, err_out);
    buf[n] = '\0';
    cr_assert_null(strstr(buf, "file only"), "%s", buf);
    cr_assert_not_null(strstr(buf, "both"), "%s", buf);
    uint8_t *data;
    size_t len;
    cr_assert_eq(file_read_all(path, 1 << 16, &data, &len, NULL), SHOAL_OK);
    cr_assert_not_null(strstr((char *)data, "file only"));
    cr_assert_not_null(strstr((char *)data, "both"));
    free(data);
    unlink(path);
}
