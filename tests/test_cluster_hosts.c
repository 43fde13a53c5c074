/* cluster/hosts.c: the host a rank advertises, name resolution, hostfile and mpirun-argument
 * checks of a run across several machines (the machines themselves: tests/multihost.sh). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/hosts.h"
#include "shoal_cli.h"

Test(cluster_hosts, loopback_names_are_this_machine_only)
{
    cr_assert(hosts_is_loopback("127.0.0.1"));
    cr_assert(hosts_is_loopback("127.0.1.1"));
    cr_assert(hosts_is_loopback("localhost"));
    cr_assert(hosts_is_loopback("::1"));
    cr_assert_not(hosts_is_loopback("auto"));
    cr_assert_not(hosts_is_loopback("10.77.0.1"));
}

Test(cluster_hosts, a_fixed_bind_host_is_advertised_and_auto_takes_name_subnet_or_literal)
{
    shoal_err err = {0};
    char out[HOSTS_NAME_MAX], name[HOSTS_NAME_MAX];
    cr_assert_eq(hosts_advertised("10.1.2.3", "", out, sizeof out, &err), SHOAL_OK);
    cr_assert_str_eq(out, "10.1.2.3");
    cr_assert_eq(gethostname(name, sizeof name), 0);
    cr_assert_eq(hosts_advertised("auto", "", out, sizeof out, &err), SHOAL_OK);
    cr_assert_str_eq(out, name);
    cr_assert_eq(hosts_advertised("auto", "127.0.0.0/8", out, sizeof out, &err), SHOAL_OK);
    cr_assert_str_eq(out, "127.0.0.1");
    cr_assert_eq(hosts_advertised("auto", "0.0.0.1/32", out, sizeof out, &err),
                 SHOAL_ENOTFOUND);
    cr_assert(strstr(err.msg, "no address in that subnet"), "%s", err.msg);
    cr_assert_eq(hosts_advertised("auto", "h9.example", out, sizeof out, &err), SHOAL_OK);
    cr_assert_str_eq(out, "h9.example");
}

Test(cluster_hosts, a_name_that_does_not_resolve_is_refused_with_the_override_to_use)
{
    shoal_err err = {0};
    cr_assert_eq(hosts_check_resolves("127.0.0.1", "replay shard 0", &err), SHOAL_OK);
    cr_assert_eq(hosts_check_resolves("localhost", "replay shard 0", &err), SHOAL_OK);
    /* .invalid never resolves (RFC 6761). */
    cr_assert_eq(hosts_check_resolves("nohost.invalid", "replay shard 1", &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "nohost.invalid") && strstr(err.msg, "replay shard 1") &&
                  strstr(err.msg, "cluster.advertise_host"),
              "%s", err.msg);
}

static int names_others(const char *text, char *other)
{
    char path[] = "/tmp/shoal-hostfile-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    shoal_err err = {0};
    int rc = hosts_hostfile_names_others(path, other, HOSTS_NAME_MAX, &err);
    unlink(path);
    return rc;
}

Test(cluster_hosts, a_hostfile_of_this_machine_only_names_no_others)
{
    char other[HOSTS_NAME_MAX] = "", self[HOSTS_NAME_MAX], text[512];
    cr_assert_eq(gethostname(self, sizeof self), 0);
    snprintf(text, sizeof text, "# comment\n\nlocalhost slots=4\n127.0.0.1\n%s slots=2\n", self);
    cr_assert_eq(names_others(text, other), 0);
    cr_assert_eq(names_others("localhost slots=2\n  node02 slots=8 # second\n", other), 1);
    cr_assert_str_eq(other, "node02");
    shoal_err err = {0};
    cr_assert_eq(hosts_hostfile_names_others("/nonexistent/hosts", other, sizeof other, &err),
                 -1);
    cr_assert(strstr(err.msg, "/nonexistent/hosts"), "%s", err.msg);
}

Test(cluster_hosts, mpirun_arguments_split_at_blanks_and_quotes_group)
{
    char text[] = "--mca plm_rsh_agent '/opt/my agent.sh'  -x \"A=b c\" --tag-output";
    char *words[8];
    size_t n = 0;
    shoal_err err = {0};
    cr_assert_eq(hosts_split_words(text, words, 8, &n, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(n, 6);
    cr_assert_str_eq(words[0], "--mca");
    cr_assert_str_eq(words[1], "plm_rsh_agent");
    cr_assert_str_eq(words[2], "/opt/my agent.sh");
    cr_assert_str_eq(words[3], "-x");
    cr_assert_str_eq(words[4], "A=b c");
    cr_assert_str_eq(words[5], "--tag-output");
    char empty[] = "   ";
    cr_assert_eq(hosts_split_words(empty, words, 8, &n, &err), SHOAL_OK);
    cr_assert_eq(n, 0);
    char open[] = "--mca 'x";
    cr_assert_eq(hosts_split_words(open, words, 8, &n, &err), SHOAL_EINVAL);
    char many[] = "a b c";
    cr_assert_eq(hosts_split_words(many, words, 2, &n, &err), SHOAL_EINVAL);
}

/* `shoal train` itself: the checks above at its start (no MPI job is started by either). */
Test(cluster_hosts, train_refuses_a_hostfile_of_other_machines_with_a_loopback_bind_host)
{
    char dir[] = "/tmp/shoal-hosts-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char hostfile[64], cmd[512], out[8192];
    snprintf(hostfile, sizeof hostfile, "%s/hosts", dir);
    FILE *f = fopen(hostfile, "w");
    cr_assert_not_null(f);
    fputs("localhost slots=2\nnode02.invalid slots=2\n", f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "train --hostfile %s --run-dir %s/run", hostfile, dir);
    cr_assert_eq(run(cmd, out, sizeof out), 1, "%s", out);
    cr_assert(strstr(out, "node02.invalid") && strstr(out, "cluster.bind_host=auto"), "%s", out);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

Test(cluster_hosts, train_passes_mpirun_args_to_mpirun_and_keeps_them_in_config_ini)
{
    char dir[] = "/tmp/shoal-hosts-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char cmd[512], out[16384], path[128];
    /* An option mpirun does not know: it refuses at once, naming it, so the run ends there. */
    snprintf(cmd, sizeof cmd,
             "train --run-dir %s/run --mpirun-args \"--shoal-test-unknown-option 'a b'\" "
             "--set run.max_seconds=20",
             dir);
    cr_assert_neq(run(cmd, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "shoal-test-unknown-option"), "mpirun did not see the option: %s",
              out);
    snprintf(path, sizeof path, "%s/run/config.ini", dir);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    fclose(f);
    cr_assert(strstr(out, "mpirun_args = --shoal-test-unknown-option 'a b'"), "%s", out);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}
