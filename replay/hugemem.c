#include "replay/hugemem.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define HUGE_PAGE ((size_t)2 << 20)

void *replay_hugemem_alloc(size_t bytes)
{
    size_t align = bytes >= HUGE_PAGE ? HUGE_PAGE : 64;
    size_t rounded = (bytes + align - 1) & ~(align - 1);
    if (rounded < bytes) {
        return NULL;
    }
    void *p = aligned_alloc(align, rounded ? rounded : align);
    if (!p) {
        return NULL;
    }
#ifdef MADV_HUGEPAGE
    if (align == HUGE_PAGE) {
        (void)madvise(p, rounded, MADV_HUGEPAGE); /* advice only: ordinary pages still work */
    }
#endif
    memset(p, 0, rounded);
    return p;
}

void replay_hugemem_free(void *p)
{
    free(p);
}
