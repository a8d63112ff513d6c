#ifndef CSTPACK_TREE_WALK_H
#define CSTPACK_TREE_WALK_H
#include <stddef.h>
#include <stdint.h>
#include <tree_sitter/api.h>

/* Reading a whole tree-sitter tree into flat preorder arrays, fast.

   tree-sitter's cursor re-derives every fact of a node from its ancestors on each call
   (alias, field, position): measured, that was ~15% of a build's parse time. This walker
   reads tree-sitter 0.20.7's internal subtree layout directly, in one pass, and produces
   exactly the nodes, kinds, fields, flags and byte ranges that the cursor walk gives.

   It depends on a private layout, so it is used only when `cst_walk_available()` says the
   loaded libtree-sitter is the 0.20.7 this layout was checked against (by its symbols);
   otherwise callers use the cursor. `verify --source/--deep` always uses the cursor: the
   check does not share the code it checks. */

typedef struct {
    uint16_t *kinds;
    uint16_t *fields;
    uint8_t *flags; /* bit0 named, bit1 extra, bit2 missing, bit3 has_error */
    uint32_t *starts;
    uint32_t *ends;
    int32_t *parents;
    size_t count;
    size_t capacity;
    void *frames; /* the walk's own stack: no recursion, depth is unbounded */
    size_t frame_capacity;
} CSTWalkBuffers;

enum {
    CST_WALK_OK = 0,
    /* A public symbol at or past `error_kind` (the caller's kind table does not fit). */
    CST_WALK_BAD_SYMBOL = 1,
    CST_WALK_NO_MEMORY = 2,
    /* The walk disagrees with tree-sitter's public API about the root: layout mismatch. */
    CST_WALK_MISMATCH = 3,
};

/* Whether the loaded libtree-sitter has the layout this walker reads. */
int cst_walk_available(void);

/* Fills `out` (reusing its memory) with every node the cursor would visit, in preorder.
   ERROR nodes get kind `error_kind`; any other public symbol must be below it.
   On failure, `*bad_symbol` holds the offending symbol for CST_WALK_BAD_SYMBOL. */
int cst_walk_tree(const TSTree *tree, uint16_t error_kind, CSTWalkBuffers *out, uint16_t *bad_symbol);

void cst_walk_buffers_free(CSTWalkBuffers *buffers);

#endif
