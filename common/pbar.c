#include "common/pbar.h"

#include <unistd.h>

#include "common/clock.h"

#define WIDTH 24
#define REDRAW_NS 100000000u

void pbar_init(pbar *b, FILE *out, const char *label, const char *unit, uint64_t total)
{
    *b = (pbar){.out = out, .on = isatty(fileno(out)) == 1, .label = label, .unit = unit,
                .total = total, .start_ns = clock_now_ns()};
}

static void draw(pbar *b, uint64_t now_ns)
{
    uint64_t total = b->total ? b->total : 1;
    uint64_t done = b->done < total ? b->done : total;
    char bar[WIDTH + 1];
    size_t filled = (size_t)(done * WIDTH / total);
    for (size_t i = 0; i < WIDTH; i++) {
        bar[i] = i < filled ? '#' : '.';
    }
    bar[WIDTH] = '\0';
    double elapsed = (double)(now_ns - b->start_ns) * 1e-9;
    char left[32] = "";
    if (done > 0 && done < total) {
        unsigned long s = (unsigned long)(elapsed * (double)(total - done) / (double)done);
        snprintf(left, sizeof left, "  %02lu:%02lu left", s / 60, s % 60);
    }
    /* \r and erase-to-end-of-line: a shorter line leaves nothing of a longer one behind. */
    fprintf(b->out, "\r%s [%s] %llu/%llu %s %3u%%%s\033[K", b->label, bar,
            (unsigned long long)done, (unsigned long long)b->total, b->unit,
            (unsigned)(done * 100 / total), left);
    fflush(b->out);
    b->drawn_ns = now_ns;
}

void pbar_update(pbar *b, uint64_t done)
{
    b->done = done;
    if (!b->on) {
        return;
    }
    uint64_t now = clock_now_ns();
    if (done >= b->total || b->drawn_ns == 0 || now - b->drawn_ns >= REDRAW_NS) {
        draw(b, now);
    }
}

void pbar_callback(void *arg, uint64_t done, uint64_t total)
{
    pbar *b = arg;
    b->total = total;
    pbar_update(b, done);
}

void pbar_finish(pbar *b)
{
    if (b->on && b->drawn_ns) {
        fputs("\r\033[K", b->out);
        fflush(b->out);
    }
    b->drawn_ns = 0;
}
