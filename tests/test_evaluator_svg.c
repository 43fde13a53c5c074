/* evaluator/svg.h: the learning curve is well-formed XML with one point per evaluation in
 * frame order, the ± std band, labelled axes with ticks, an escaped title, and an atomic
 * replacement on disk. */
#include <criterion/criterion.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "evaluator/svg.h"

static char *render(const evaluator_record *rows, size_t n, const char *env_name)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    shoal_err err = {0};
    cr_assert_eq(evaluator_svg_print(mem, rows, n, env_name, &err), SHOAL_OK, "%s", err.msg);
    fclose(mem);
    return text;
}

/* Checks that every tag is closed in order, attributes are quoted, '<' never appears in text
 * and the root is <svg>; returns the number of elements. Fails the test otherwise. */
static size_t check_xml(const char *s)
{
    char stack[32][32];
    size_t depth = 0, elements = 0, roots = 0;
    const char *p = s;
    if (strncmp(p, "<?xml", 5) == 0) {
        p = strstr(p, "?>");
        cr_assert_not_null(p);
        p += 2;
    }
    while ((p = strchr(p, '<')) != NULL) {
        const char *end = strchr(p, '>');
        cr_assert_not_null(end, "unterminated tag at %.40s", p);
        cr_assert_null(memchr(p + 1, '<', (size_t)(end - p - 1)), "'<' inside a tag: %.60s", p);
        size_t quotes = 0;
        for (const char *q = p; q < end; q++) {
            quotes += *q == '"';
        }
        cr_assert_eq(quotes % 2, 0, "unbalanced quotes: %.80s", p);
        if (p[1] == '/') {
            cr_assert_gt(depth, 0, "closing tag without an open one: %.40s", p);
            depth--;
            size_t n = strlen(stack[depth]);
            cr_assert(strncmp(p + 2, stack[depth], n) == 0 && p[2 + n] == '>',
                      "</%s> expected, found %.20s", stack[depth], p);
        } else {
            size_t n = strcspn(p + 1, " />\n");
            cr_assert(n > 0 && n < 32, "bad tag name at %.40s", p);
            elements++;
            if (depth == 0) {
                roots++;
                cr_assert(strncmp(p + 1, "svg", n) == 0 && n == 3, "root is not <svg>");
            }
            if (end[-1] != '/') {
                cr_assert_lt(depth, 32);
                memcpy(stack[depth], p + 1, n);
                stack[depth][n] = '\0';
                depth++;
            }
        }
        p = end + 1;
    }
    cr_assert_eq(depth, 0, "%zu element(s) left open", depth);
    cr_assert_eq(roots, 1);
    return elements;
}

/* The "points" attribute of the first element starting with tag: its x,y pairs. */
static size_t points_of(const char *svg, const char *tag, double *xs, double *ys, size_t cap)
{
    const char *p = strstr(svg, tag);
    cr_assert_not_null(p, "%s missing", tag);
    p = strstr(p, "points=\"");
    cr_assert_not_null(p);
    p += 8;
    size_t n = 0;
    while (*p != '"') {
        char *end;
        double x = strtod(p, &end);
        cr_assert_eq(*end, ',', "bad point at %.20s", p);
        double y = strtod(end + 1, &end);
        cr_assert_lt(n, cap);
        xs[n] = x;
        ys[n] = y;
        n++;
        p = end;
        while (*p == ' ') {
            p++;
        }
    }
    return n;
}

static evaluator_record rec(uint64_t step, uint64_t frames, double mean, double std)
{
    evaluator_record r = {.step = step, .frames = frames, .wall_seconds = 0, .episodes = 10,
                          .mean = mean, .std = std, .min = mean - std, .max = mean + std};
    return r;
}

Test(evaluator_svg, the_curve_has_one_point_per_evaluation_in_frame_order)
{
    /* evaluated newest first, as the watcher does when behind */
    const evaluator_record rows[] = {rec(300, 1200000, 9, 2), rec(100, 400000, 1, 1),
                                     rec(200, 800000, 4, 3), rec(50, 200000, 0.5, 0)};
    char *svg = render(rows, 4, "minatar/breakout");
    check_xml(svg);
    double xs[16], ys[16];
    cr_assert_eq(points_of(svg, "<polyline class=\"mean\"", xs, ys, 16), 4);
    for (size_t i = 1; i < 4; i++) {
        cr_assert_gt(xs[i], xs[i - 1], "points go left to right in frames");
    }
    cr_assert_gt(ys[0], ys[3], "a higher mean is drawn higher (smaller y)");
    double bx[16], by[16];
    cr_assert_eq(points_of(svg, "<polygon class=\"band\"", bx, by, 16), 8, "upper and lower edge");
    cr_assert_float_eq(bx[1], xs[1], 1e-9);
    cr_assert_lt(by[2], ys[2], "mean + std above the mean");
    cr_assert_gt(by[5], ys[2], "mean - std below it (the lower edge runs back)");
    cr_assert_float_eq(by[0], ys[0], 1e-9, "std 0: the band closes on the line");
    size_t circles = 0;
    for (const char *p = strstr(svg, "<circle"); p; p = strstr(p + 1, "<circle")) {
        circles++;
    }
    cr_assert_eq(circles, 4);
    free(svg);
}

Test(evaluator_svg, axes_are_labelled_with_round_ticks_and_the_title_names_the_env)
{
    const evaluator_record rows[] = {rec(100, 250000, 3, 1), rec(200, 1000000, 12, 2)};
    char *svg = render(rows, 2, "minatar/breakout");
    cr_assert(strstr(svg, ">frames</text>"), "%s", svg);
    cr_assert(strstr(svg, ">mean evaluation return</text>"), "%s", svg);
    cr_assert(strstr(svg, "minatar/breakout: evaluation return"), "%s", svg);
    cr_assert(strstr(svg, ">1M</text>"), "a tick at one million frames:\n%s", svg);
    cr_assert(strstr(svg, ">0</text>"), "%s", svg);
    cr_assert(strstr(svg, ">200k</text>") || strstr(svg, ">500k</text>"), "%s", svg);
    cr_assert(strstr(svg, ">14</text>") || strstr(svg, ">15</text>"), "y covers mean + std");
    cr_assert(strstr(svg, "newest: step 200"), "%s", svg);
    free(svg);
}

Test(evaluator_svg, markup_in_the_environment_name_is_escaped)
{
    const evaluator_record rows[] = {rec(1, 10, 1, 0)};
    char *svg = render(rows, 1, "plug<in>&\"game\"");
    check_xml(svg);
    cr_assert(strstr(svg, "plug&lt;in&gt;&amp;&quot;game&quot;"), "%s", svg);
    free(svg);
}

Test(evaluator_svg, no_evaluations_yet_still_draws_labelled_axes)
{
    char *svg = render(NULL, 0, "chain");
    check_xml(svg);
    cr_assert(strstr(svg, "no checkpoint evaluated yet"), "%s", svg);
    cr_assert(strstr(svg, ">frames</text>"));
    double xs[4], ys[4];
    cr_assert_eq(points_of(svg, "<polyline class=\"mean\"", xs, ys, 4), 0);
    free(svg);
}

Test(evaluator_svg, without_frame_counts_the_x_axis_shows_learner_steps)
{
    const evaluator_record rows[] = {rec(100, 0, 1, 0), rec(200, 0, 1, 0)};
    char *svg = render(rows, 2, "chain");
    check_xml(svg);
    cr_assert(strstr(svg, ">learner steps</text>"), "%s", svg);
    cr_assert(strstr(svg, ">200</text>"), "%s", svg);
    free(svg);
}

Test(evaluator_svg, the_file_is_replaced_atomically_and_leaves_no_temporary_files)
{
    char dir[64];
    strcpy(dir, "/tmp/shoal-evaluator-svg-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/eval.svg", dir);
    const evaluator_record rows[] = {rec(1, 10, 1, 0), rec(2, 20, 2, 1)};
    shoal_err err = {0};
    cr_assert_eq(evaluator_svg_write(path, rows, 1, "chain", &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(evaluator_svg_write(path, rows, 2, "chain", &err), SHOAL_OK, "%s", err.msg);
    uint8_t *data;
    size_t n;
    cr_assert_eq(file_read_all(path, 1 << 20, &data, &n, &err), SHOAL_OK);
    data[n] = '\0';
    check_xml((char *)data);
    double xs[4], ys[4];
    cr_assert_eq(points_of((char *)data, "<polyline class=\"mean\"", xs, ys, 4), 2);
    free(data);
    DIR *d = opendir(dir);
    size_t files = 0;
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        files += de->d_name[0] != '.';
    }
    closedir(d);
    cr_assert_eq(files, 1, "only eval.svg");
    snprintf(path, sizeof path, "%s/missing/eval.svg", dir);
    cr_assert_eq(evaluator_svg_write(path, rows, 2, "chain", &err), SHOAL_EIO);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}
