#ifndef CSTPACK_TS_MEMORY_H
#define CSTPACK_TS_MEMORY_H
#include <stdint.h>
/* Measuring tree-sitter's own memory: an allocator that counts the bytes each thread
   holds, so `stats` can compare the archive with the trees tree-sitter keeps in memory. */
void cst_install_counting_allocator(void);
int64_t cst_thread_ts_live_bytes(void);
#endif
