#ifndef CSTPACK_TREE_SITTER_SHIM_H
#define CSTPACK_TREE_SITTER_SHIM_H
#include <tree_sitter/api.h>
#include <stdint.h>

/* Everything cstpack stores about one node, read in a single call: by-value TSNode
   calls from Swift copy a 32-byte struct each, which costs ~30% of a full walk. */
typedef struct {
    uint32_t start_byte;
    uint32_t end_byte;
    uint16_t symbol;
    uint16_t field;
    uint8_t flags; /* bit0 named, bit1 extra, bit2 missing, bit3 has_error */
} CSTNodeFacts;

static inline void cst_cursor_facts(const TSTreeCursor *cursor, CSTNodeFacts *out) {
    TSNode node = ts_tree_cursor_current_node(cursor);
    out->start_byte = ts_node_start_byte(node);
    out->end_byte = ts_node_end_byte(node);
    out->symbol = ts_node_symbol(node);
    out->field = ts_tree_cursor_current_field_id(cursor);
    out->flags = (uint8_t)((ts_node_is_named(node) ? 1 : 0)
        | (ts_node_is_extra(node) ? 2 : 0)
        | (ts_node_is_missing(node) ? 4 : 0)
        | (ts_node_has_error(node) ? 8 : 0));
}

#endif
