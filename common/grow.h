/* Growing a buffer that only grows: steady state allocates nothing, and a burst costs a few
 * doublings. One helper for every such buffer (reply tables, parameter blobs, ...).
 *
 *     if (grow_items((void **)&t->rows, &t->cap, n, sizeof *t->rows) != SHOAL_OK) { ... }
 */
#ifndef SHOAL_COMMON_GROW_H
#define SHOAL_COMMON_GROW_H

#include <stddef.h>

/* Makes *buf (room for *cap items of item_bytes) hold at least need items: realloc to the
 * larger of need and twice *cap. SHOAL_OK, or SHOAL_ENOMEM with *buf and *cap unchanged. */
int grow_items(void **buf, size_t *cap, size_t need, size_t item_bytes);

#endif
