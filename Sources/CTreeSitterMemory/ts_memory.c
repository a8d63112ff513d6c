#include "ts_memory.h"
#include <malloc.h>
#include <stdlib.h>
#include <tree_sitter/api.h>

static __thread int64_t live_bytes;

static void *counting_malloc(size_t n) {
    void *p = malloc(n);
    if (p) live_bytes += (int64_t)malloc_usable_size(p);
    return p;
}

static void *counting_calloc(size_t c, size_t n) {
    void *p = calloc(c, n);
    if (p) live_bytes += (int64_t)malloc_usable_size(p);
    return p;
}

static void *counting_realloc(void *old, size_t n) {
    int64_t before = old ? (int64_t)malloc_usable_size(old) : 0;
    void *p = realloc(old, n);
    if (p) live_bytes += (int64_t)malloc_usable_size(p) - before;
    return p;
}

static void counting_free(void *p) {
    if (p) live_bytes -= (int64_t)malloc_usable_size(p);
    free(p);
}

void cst_install_counting_allocator(void) {
    ts_set_allocator(counting_malloc, counting_calloc, counting_realloc, counting_free);
}

int64_t cst_thread_ts_live_bytes(void) { return live_bytes; }
