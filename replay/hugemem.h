/* Zeroed memory for the shard's large, randomly accessed blocks (the store's columns and the
 * sum-trees), backed by 2 MiB pages where the kernel offers them.
 *
 * A sample or a priority update touches a handful of random rows and tree nodes spread over
 * hundreds of megabytes; with 4 KiB pages nearly every one of those accesses also misses the
 * TLB, and the page walk costs as much as the cache miss itself. Blocks of at least 2 MiB are
 * aligned to 2 MiB and marked MADV_HUGEPAGE (transparent huge pages in "madvise" mode, the
 * common default, serve only marked memory); smaller ones and kernels without THP get ordinary
 * pages. Every page is touched here, so the footprint is real from start-up and the hot paths
 * take no page faults.
 *
 *     double *v = replay_hugemem_alloc(n * sizeof *v);   // NULL when out of memory
 *     replay_hugemem_free(v);
 */
#ifndef SHOAL_REPLAY_HUGEMEM_H
#define SHOAL_REPLAY_HUGEMEM_H

#include <stddef.h>

/* bytes of zeroed memory, 64-byte aligned at least; NULL when out of memory. */
void *replay_hugemem_alloc(size_t bytes);

/* Frees p (NULL is fine). */
void replay_hugemem_free(void *p);

#endif
