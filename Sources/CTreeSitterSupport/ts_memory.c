#include "ts_memory.h"
#include <stdlib.h>
#include <string.h>
#include <tree_sitter/api.h>

/* Each block carries its requested size in a 16-byte prefix (keeping malloc's alignment),
   so the count is of bytes tree-sitter asked for: unlike malloc_usable_size, that does not
   depend on the allocator's history, and the same file always measures the same. */
#define PREFIX 16

static __thread int64_t live_bytes;

static void *counting_malloc(size_t n) {
    unsigned char *p = malloc(n + PREFIX);
    if (!p) return NULL;
    memcpy(p, &n, sizeof n);
    live_bytes += (int64_t)n;
    return p + PREFIX;
}

static void *counting_calloc(size_t c, size_t n) {
    if (n != 0 && c > SIZE_MAX / n) return NULL;
    void *p = counting_malloc(c * n);
    if (p) memset(p, 0, c * n);
    return p;
}

static void counting_free(void *p) {
    if (!p) return;
    unsigned char *base = (unsigned char *)p - PREFIX;
    size_t n;
    memcpy(&n, base, sizeof n);
    live_bytes -= (int64_t)n;
    free(base);
}

static void *counting_realloc(void *old, size_t n) {
    if (!old) return counting_malloc(n);
    unsigned char *base = (unsigned char *)old - PREFIX;
    size_t before;
    memcpy(&before, base, sizeof before);
    unsigned char *p = realloc(base, n + PREFIX);
    if (!p) return NULL;
    memcpy(p, &n, sizeof n);
    live_bytes += (int64_t)n - (int64_t)before;
    return p + PREFIX;
}

void cst_install_counting_allocator(void) {
    ts_set_allocator(counting_malloc, counting_calloc, counting_realloc, counting_free);
}

int64_t cst_thread_ts_live_bytes(void) { return live_bytes; }
