#include "common/grow.h"

#include <stdlib.h>

#include "common/err.h"

int grow_items(void **buf, size_t *cap, size_t need, size_t item_bytes)
{
    if (need <= *cap) {
        return SHOAL_OK;
    }
    size_t n = need > 2 * *cap ? need : 2 * *cap;
    void *b = realloc(*buf, n * item_bytes);
    if (!b) {
        return SHOAL_ENOMEM;
    }
    *buf = b;
    *cap = n;
    return SHOAL_OK;
}
