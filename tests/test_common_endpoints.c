#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/endpoints.h"

static int parse(const char *text, endpoint_file *ep, shoal_err *err)
{
    return endpoints_parse(text, strlen(text), "endpoints.json", ep, err);
}

Test(endpoints, a_written_file_reads_back_equal)
{
    endpoint_file ep = {.n_replay = 2}, back;
    strcpy(ep.replay[0], "tcp://10.0.0.1:5555");
    strcpy(ep.replay[1], "tcp://10.0.0.2:5555");
    strcpy(ep.params, "tcp://10.0.0.1:5560");
    char dir[] = "/tmp/shoal-ep-XXXXXX", path[256];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/endpoints.json", dir);
    shoal_err err = {0};
    cr_assert_eq(endpoints_write(path, &ep, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(endpoints_read(path, &back, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(back.n_replay, 2);
    cr_assert_str_eq(back.replay[1], "tcp://10.0.0.2:5555");
    cr_assert_str_eq(back.params, "tcp://10.0.0.1:5560");
    char list[600];
    cr_assert_eq(endpoints_join_replay(&back, list, sizeof list, &err), SHOAL_OK);
    cr_assert_str_eq(list, "tcp://10.0.0.1:5555,tcp://10.0.0.2:5555");
    cr_assert_eq(endpoints_join_replay(&back, list, 10, &err), SHOAL_EINVAL);
    unlink(path);
    rmdir(dir);
}

Test(endpoints, other_keys_and_whitespace_are_fine)
{
    endpoint_file ep;
    shoal_err err = {0};
    cr_assert_eq(parse(" {\n \"run\": \"x\",\n \"params\" : \"tcp://h:2\" ,\n \"replay\":[ "
                       "\"tcp://h:1\" ]\n}\n", &ep, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(ep.n_replay, 1);
    cr_assert_str_eq(ep.replay[0], "tcp://h:1");
}

Test(endpoints, malformed_files_are_refused_with_what_was_expected)
{
    endpoint_file ep;
    shoal_err err = {0};
    cr_assert_eq(parse("", &ep, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "expected '{'"), "%s", err.msg);
    cr_assert_eq(parse("{\"replay\": [\"tcp://h:1\"]}", &ep, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "params"), "%s", err.msg);
    cr_assert_eq(parse("{\"replay\": \"tcp://h:1\", \"params\": \"p\"}", &ep, &err),
                 SHOAL_EINVAL);
    cr_assert_eq(parse("{\"replay\": [\"tcp://h:1\"], \"params\": \"p", &ep, &err),
                 SHOAL_EINVAL);
    cr_assert_eq(parse("{\"replay\": [], \"params\": \"p\"}", &ep, &err), SHOAL_EINVAL);
    cr_assert_eq(parse("{\"n\": 3, \"replay\": [\"a\"], \"params\": \"p\"}", &ep, &err),
                 SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "'n'"), "%s", err.msg);
    cr_assert_eq(endpoints_read("/nonexistent/endpoints.json", &ep, &err),
                 SHOAL_ENOTFOUND);
}

Test(endpoints, a_comma_separated_list_splits_into_rows_and_bad_lists_are_refused)
{
    char rows[3][32];
    size_t n;
    shoal_err err = {0};
    cr_assert_eq(endpoints_split("tcp://a:1,tcp://b:2", &rows[0][0], 3, 32, &n, &err), SHOAL_OK);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(rows[1], "tcp://b:2");
    cr_assert_eq(endpoints_split("", &rows[0][0], 3, 32, &n, &err), SHOAL_EINVAL);
    cr_assert_eq(endpoints_split("a,,b", &rows[0][0], 3, 32, &n, &err), SHOAL_EINVAL);
    cr_assert_eq(endpoints_split("a,b,c,d", &rows[0][0], 3, 32, &n, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "a,b,c,d") != NULL, "%s", err.msg);
    cr_assert_eq(endpoints_split("tcp://a-very-long-host-name-indeed:1", &rows[0][0], 3, 32, &n,
                                 &err),
                 SHOAL_EINVAL);
}

Test(endpoints, a_bound_endpoint_takes_the_advertised_host_and_keeps_its_port)
{
    shoal_err err = {0};
    char out[ENDPOINTS_MAX_LEN] = "tcp://0.0.0.0:36219";
    cr_assert_eq(endpoints_with_host(out, "h2", out, sizeof out, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_str_eq(out, "tcp://h2:36219");
    cr_assert_eq(endpoints_with_host("tcp://[::]:5", "fe80::1", out, sizeof out, &err), SHOAL_OK);
    cr_assert_str_eq(out, "tcp://[fe80::1]:5");
    cr_assert_eq(endpoints_with_host("nohost", "h", out, sizeof out, &err), SHOAL_EINVAL);
    char small[12];
    cr_assert_eq(endpoints_with_host("tcp://a:1", "a-long-host", small, sizeof small, &err),
                 SHOAL_EINVAL);
    char host[64];
    cr_assert_eq(endpoints_host("tcp://10.77.0.2:5555", host, sizeof host, &err), SHOAL_OK);
    cr_assert_str_eq(host, "10.77.0.2");
    cr_assert_eq(endpoints_host("tcp://[::1]:5555", host, sizeof host, &err), SHOAL_OK);
    cr_assert_str_eq(host, "::1");
    cr_assert_eq(endpoints_host("tcp://:5555", host, sizeof host, &err), SHOAL_EINVAL);
}
