#include "evaluator/svg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"

/* Canvas and plot area in SVG user units (pixels at 100% zoom). */
#define WIDTH 800.0
#define HEIGHT 480.0
#define LEFT 80.0
#define RIGHT 30.0
#define TOP 56.0
#define BOTTOM 64.0
#define COLOR "#1f77b4"

/* A linear map from data to the plot area, with the axis range and its tick spacing. */
typedef struct axis {
    double lo, hi, tick;
} axis;

typedef struct plot {
    axis x, y;
    int x_is_steps;
} plot;

static double px(const plot *p, double x)
{
    return LEFT + (x - p->x.lo) / (p->x.hi - p->x.lo) * (WIDTH - LEFT - RIGHT);
}

static double py(const plot *p, double y)
{
    return HEIGHT - BOTTOM - (y - p->y.lo) / (p->y.hi - p->y.lo) * (HEIGHT - TOP - BOTTOM);
}

/* 1, 2 or 5 times a power of ten, at least raw: ticks humans read at a glance. */
static double nice_step(double raw)
{
    double mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

/* Widens [lo, hi] to tick multiples with about 5 ticks; an empty range gets a unit width. */
static axis make_axis(double lo, double hi)
{
    if (!(hi > lo)) {
        double pad = fabs(lo) > 0 ? fabs(lo) * 0.5 : 1;
        lo -= pad;
        hi += pad;
    }
    axis a;
    a.tick = nice_step((hi - lo) / 5);
    a.lo = floor(lo / a.tick) * a.tick;
    a.hi = ceil(hi / a.tick) * a.tick;
    return a;
}

/* Tick label: 250k, 1.5M, 2G for counts; %g for returns. */
static void label(char *buf, size_t cap, double v, int count)
{
    double a = fabs(v);
    if (count && a >= 1e9) {
        snprintf(buf, cap, "%gG", v / 1e9);
    } else if (count && a >= 1e6) {
        snprintf(buf, cap, "%gM", v / 1e6);
    } else if (count && a >= 1e3) {
        snprintf(buf, cap, "%gk", v / 1e3);
    } else {
        snprintf(buf, cap, "%g", fabs(v) < 1e-12 ? 0.0 : v);
    }
}

static void put_escaped(FILE *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        default: fputc(*s, out);
        }
    }
}

static double x_of(const plot *p, const evaluator_record *r)
{
    return p->x_is_steps ? (double)r->step : (double)r->frames;
}

static int by_x(const void *a, const void *b)
{
    const evaluator_record *ra = a, *rb = b;
    uint64_t xa = ra->frames ? ra->frames : ra->step, xb = rb->frames ? rb->frames : rb->step;
    return xa < xb ? -1 : xa > xb ? 1 : ra->step < rb->step ? -1 : ra->step > rb->step;
}

static plot make_plot(const evaluator_record *rows, size_t n)
{
    plot p = {.x_is_steps = n > 0};
    for (size_t i = 0; i < n; i++) {
        p.x_is_steps = p.x_is_steps && rows[i].frames == 0;
    }
    double xlo = 0, xhi = 0, ylo = 0, yhi = 0;
    for (size_t i = 0; i < n; i++) {
        double x = x_of(&p, &rows[i]);
        double lo = rows[i].mean - rows[i].std, hi = rows[i].mean + rows[i].std;
        xhi = x > xhi || i == 0 ? x : xhi;
        ylo = lo < ylo || i == 0 ? lo : ylo;
        yhi = hi > yhi || i == 0 ? hi : yhi;
    }
    p.x = make_axis(xlo, xhi > xlo ? xhi : xlo + 1);
    p.y = make_axis(ylo, yhi);
    return p;
}

static void draw_axes(FILE *out, const plot *p)
{
    char buf[32];
    double x0 = LEFT, x1 = WIDTH - RIGHT, y0 = HEIGHT - BOTTOM, y1 = TOP;
    fprintf(out, "<g class=\"grid\" stroke=\"#dddddd\" stroke-width=\"1\">\n");
    for (double v = p->y.lo; v <= p->y.hi + p->y.tick * 1e-6; v += p->y.tick) {
        fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", x0, py(p, v), x1,
                py(p, v));
    }
    fprintf(out, "</g>\n<g class=\"axes\" font-family=\"sans-serif\" font-size=\"12\" "
                 "fill=\"#333333\">\n");
    fprintf(out, "<path d=\"M%.1f %.1fV%.1fH%.1f\" fill=\"none\" stroke=\"#333333\"/>\n", x0, y1,
            y0, x1);
    for (double v = p->x.lo; v <= p->x.hi + p->x.tick * 1e-6; v += p->x.tick) {
        label(buf, sizeof buf, v, 1);
        fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333333\"/>"
                     "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
                px(p, v), y0, px(p, v), y0 + 5, px(p, v), y0 + 19, buf);
    }
    for (double v = p->y.lo; v <= p->y.hi + p->y.tick * 1e-6; v += p->y.tick) {
        label(buf, sizeof buf, v, 0);
        fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333333\"/>"
                     "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                x0 - 5, py(p, v), x0, py(p, v), x0 - 8, py(p, v) + 4, buf);
    }
    fprintf(out, "<text class=\"xlabel\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
                 "font-size=\"14\">%s</text>\n",
            (x0 + x1) / 2, HEIGHT - 18, p->x_is_steps ? "learner steps" : "frames");
    fprintf(out, "<text class=\"ylabel\" transform=\"translate(22 %.1f) rotate(-90)\" "
                 "text-anchor=\"middle\" font-size=\"14\">mean evaluation return</text>\n",
            (y0 + y1) / 2);
    fprintf(out, "</g>\n");
}

/* The ± std band as one polygon: the upper edge left to right, the lower edge back. */
static void draw_curve(FILE *out, const plot *p, const evaluator_record *rows, size_t n)
{
    fprintf(out, "<polygon class=\"band\" fill=\"" COLOR "\" fill-opacity=\"0.2\" stroke=\"none\" "
                 "points=\"");
    for (size_t i = 0; i < n; i++) {
        fprintf(out, "%s%.1f,%.1f", i ? " " : "", px(p, x_of(p, &rows[i])),
                py(p, rows[i].mean + rows[i].std));
    }
    for (size_t i = n; i-- > 0;) {
        fprintf(out, " %.1f,%.1f", px(p, x_of(p, &rows[i])), py(p, rows[i].mean - rows[i].std));
    }
    fprintf(out, "\"/>\n<polyline class=\"mean\" fill=\"none\" stroke=\"" COLOR "\" "
                 "stroke-width=\"2\" points=\"");
    for (size_t i = 0; i < n; i++) {
        fprintf(out, "%s%.1f,%.1f", i ? " " : "", px(p, x_of(p, &rows[i])),
                py(p, rows[i].mean));
    }
    fprintf(out, "\"/>\n<g class=\"points\" fill=\"" COLOR "\">\n");
    for (size_t i = 0; i < n; i++) {
        fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\"><title>step %llu, %llu frames: "
                     "%.4g \u00b1 %.3g over %zu episodes</title></circle>\n",
                px(p, x_of(p, &rows[i])), py(p, rows[i].mean), (unsigned long long)rows[i].step,
                (unsigned long long)rows[i].frames, rows[i].mean, rows[i].std, rows[i].episodes);
    }
    fprintf(out, "</g>\n");
}

static void draw_titles(FILE *out, const evaluator_record *rows, size_t n, const char *env_name)
{
    fprintf(out, "<text class=\"title\" x=\"%.1f\" y=\"26\" text-anchor=\"middle\" "
                 "font-family=\"sans-serif\" font-size=\"17\" font-weight=\"bold\">",
            WIDTH / 2);
    put_escaped(out, env_name);
    fprintf(out, ": evaluation return (mean \u00b1 std over episodes)</text>\n"
                 "<text class=\"last\" x=\"%.1f\" y=\"46\" text-anchor=\"end\" "
                 "font-family=\"sans-serif\" font-size=\"12\" fill=\"#555555\">",
            WIDTH - RIGHT);
    if (n == 0) {
        fprintf(out, "no checkpoint evaluated yet");
    } else {
        /* the last one evaluated is the newest the evaluator has seen; rows are in x order */
        const evaluator_record *last = &rows[n - 1];
        fprintf(out, "%zu evaluations; newest: step %llu, %.4g \u00b1 %.3g (%zu episodes)", n,
                (unsigned long long)last->step, last->mean, last->std, last->episodes);
    }
    fprintf(out, "</text>\n");
}

int evaluator_svg_print(FILE *out, const evaluator_record *rows, size_t n, const char *env_name,
                        shoal_err *err)
{
    evaluator_record *sorted = malloc((n ? n : 1) * sizeof *sorted);
    if (!sorted) {
        return shoal_err_set(err, SHOAL_ENOMEM, "evaluator: out of memory for the curve");
    }
    if (n > 0) {
        memcpy(sorted, rows, n * sizeof *sorted);
        qsort(sorted, n, sizeof *sorted, by_x);
    }
    plot p = make_plot(sorted, n);
    fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                 "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                 "viewBox=\"0 0 %.0f %.0f\">\n"
                 "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            WIDTH, HEIGHT, WIDTH, HEIGHT);
    draw_titles(out, sorted, n, env_name);
    draw_axes(out, &p);
    draw_curve(out, &p, sorted, n);
    fprintf(out, "</svg>\n");
    free(sorted);
    if (ferror(out)) {
        return shoal_err_set(err, SHOAL_EIO, "writing the learning curve failed");
    }
    return SHOAL_OK;
}

int evaluator_svg_write(const char *path, const evaluator_record *rows, size_t n,
                        const char *env_name, shoal_err *err)
{
    atomic_file af;
    if (atomic_file_open(&af, path, err) != SHOAL_OK) {
        return SHOAL_EIO;
    }
    if (evaluator_svg_print(af.f, rows, n, env_name, err) != SHOAL_OK) {
        atomic_file_abort(&af);
        return shoal_err_prefix(err, "%s", path);
    }
    return atomic_file_commit(&af, err);
}
