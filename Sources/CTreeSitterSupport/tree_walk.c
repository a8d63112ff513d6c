#define _GNU_SOURCE
#include "tree_walk.h"
#include <dlfcn.h>
#include <stdbool.h>
#include <stdlib.h>
#include <tree_sitter/parser.h>

/* tree-sitter 0.20.7's private representation of a subtree (lib/src/subtree.h), as the
   Debian library was compiled: checked against its machine code (ts_node_child_count
   reads a 16-bit child_count at offset 36 and visible_child_count at 48; ts_node_has_error
   reads error_cost at 32 and is_missing as bit 1 of byte 43; ts_node_is_named reads bit 1
   of byte 42, or bit 2 of an inline subtree's first byte).

   A subtree is one machine word: a pointer to heap data, or, when its lowest bit is set,
   an inline leaf packed into the word itself. */

typedef struct {
    uint32_t bytes;
    uint32_t row;
    uint32_t column;
} WalkLength;

typedef struct {
    uint32_t ref_count;
    WalkLength padding;
    WalkLength size;
    uint32_t lookahead_bytes;
    uint32_t error_cost;
    uint16_t child_count;
    uint16_t symbol;
    uint16_t parse_state;
    bool visible : 1;
    bool named : 1;
    bool extra : 1;
    bool fragile_left : 1;
    bool fragile_right : 1;
    bool has_changes : 1;
    bool has_external_tokens : 1;
    bool has_external_scanner_state_change : 1;
    bool depends_on_column : 1;
    bool is_missing : 1;
    bool is_keyword : 1;
    union {
        struct {
            uint32_t visible_child_count;
            uint32_t named_child_count;
            uint32_t node_count;
            int32_t dynamic_precedence;
            uint16_t repeat_depth;
            uint16_t production_id;
            uint16_t first_leaf_symbol;
            uint16_t first_leaf_parse_state;
        } node;
        struct {
            union {
                char *long_data;
                char short_data[24];
            };
            uint32_t length;
        } external_scanner_state;
        int32_t lookahead_char;
    };
} HeapSubtree;

_Static_assert(sizeof(void *) == 8, "the inline subtree layout below is the 64-bit one");
_Static_assert(offsetof(HeapSubtree, error_cost) == 32, "tree-sitter 0.20.7 layout");
_Static_assert(offsetof(HeapSubtree, child_count) == 36, "tree-sitter 0.20.7 layout");
_Static_assert(offsetof(HeapSubtree, node.visible_child_count) == 48, "tree-sitter 0.20.7 layout");
_Static_assert(offsetof(HeapSubtree, node.production_id) == 66, "tree-sitter 0.20.7 layout");

typedef union {
    uint64_t bits;
    const HeapSubtree *ptr;
} Subtree;

/* Inline leaf (little-endian): bit 0 is_inline, 1 visible, 2 named, 3 extra, 4 has_changes,
   5 is_missing, 6 is_keyword; byte 1 symbol; bytes 2-3 parse state; byte 4 padding columns;
   byte 5 padding rows and lookahead; byte 6 padding bytes; byte 7 size bytes. */
static inline bool is_inline(Subtree s) { return s.bits & 1; }
static inline bool sub_visible(Subtree s) { return is_inline(s) ? (s.bits >> 1) & 1 : s.ptr->visible; }
static inline bool sub_named(Subtree s) { return is_inline(s) ? (s.bits >> 2) & 1 : s.ptr->named; }
static inline bool sub_extra(Subtree s) { return is_inline(s) ? (s.bits >> 3) & 1 : s.ptr->extra; }
static inline bool sub_missing(Subtree s) { return is_inline(s) ? (s.bits >> 5) & 1 : s.ptr->is_missing; }
static inline uint16_t sub_symbol(Subtree s) { return is_inline(s) ? (uint16_t)((s.bits >> 8) & 0xFF) : s.ptr->symbol; }
static inline uint32_t sub_padding(Subtree s) { return is_inline(s) ? (uint32_t)((s.bits >> 48) & 0xFF) : s.ptr->padding.bytes; }
static inline uint32_t sub_size(Subtree s) { return is_inline(s) ? (uint32_t)(s.bits >> 56) : s.ptr->size.bytes; }
static inline uint32_t sub_child_count(Subtree s) { return is_inline(s) ? 0 : s.ptr->child_count; }
/* Children are stored just before the heap data. */
static inline const Subtree *sub_children(Subtree s) { return (const Subtree *)s.ptr - s.ptr->child_count; }
static inline uint32_t sub_visible_child_count(Subtree s) {
    return sub_child_count(s) > 0 ? s.ptr->node.visible_child_count : 0;
}
/* ts_node_has_error: error_cost > 0, and a missing leaf always has a cost. */
static inline bool sub_has_error(Subtree s) {
    if (sub_missing(s)) return true;
    return is_inline(s) ? false : s.ptr->error_cost > 0;
}

#define SYM_ERROR ((TSSymbol)-1)
#define SYM_ERROR_REPEAT ((TSSymbol)-2)

static inline bool symbol_named(const TSLanguage *l, TSSymbol s) {
    if (s == SYM_ERROR) return true;
    if (s == SYM_ERROR_REPEAT) return false;
    return l->symbol_metadata[s].named;
}

static inline TSSymbol public_symbol(const TSLanguage *l, TSSymbol s) {
    return s == SYM_ERROR ? s : l->public_symbol_map[s];
}

int cst_walk_available(void) {
    static int answer = -1;
    int a = __atomic_load_n(&answer, __ATOMIC_ACQUIRE);
    if (a >= 0) return a;
    /* 0.20.7 has ts_tree_cursor_current_field_id; 0.20.8 and later add these functions and
       widen child_count to 32 bits, which moves every field after it. */
    static const char *const later[] = {
        "ts_node_descendant_count", "ts_tree_cursor_goto_descendant", "ts_language_next_state",
        "ts_lookahead_iterator_new", "ts_tree_included_ranges", "ts_node_is_error",
    };
    a = dlsym(RTLD_DEFAULT, "ts_tree_cursor_current_field_id") != NULL
        && dlsym(RTLD_DEFAULT, "ts_node_has_error") != NULL;
    for (size_t i = 0; a && i < sizeof later / sizeof later[0]; i++) {
        if (dlsym(RTLD_DEFAULT, later[i]) != NULL) a = 0;
    }
    if (getenv("CSTPACK_CURSOR_WALK") != NULL) a = 0; /* for comparisons and benchmarks */
    __atomic_store_n(&answer, a, __ATOMIC_RELEASE);
    return a;
}

/* One node whose children are being read. */
typedef struct {
    const Subtree *children;
    uint32_t child_count;
    uint32_t next;
    uint32_t structural_index;
    uint32_t position; /* start byte of child `next` */
    const TSSymbol *aliases;
    const TSFieldMapEntry *fields;
    const TSFieldMapEntry *fields_end;
    int32_t parent;   /* output index of the nearest visible ancestor */
    uint16_t field;   /* for a hidden node: the field its visible descendants inherit */
} Frame;

/* realloc that leaves *p as it was when it fails. */
static bool resize(void **p, size_t count, size_t element) {
    void *q = realloc(*p, count * element);
    if (!q) return false;
    *p = q;
    return true;
}

/* Room for `need` elements, doubling. */
static size_t doubled(size_t capacity, size_t need, size_t first) {
    size_t n = capacity ? capacity : first;
    while (n < need) n *= 2;
    return n;
}

static bool grow(void **p, size_t *capacity, size_t need, size_t element) {
    if (need <= *capacity) return true;
    size_t n = doubled(*capacity, need, 256);
    if (!resize(p, n, element)) return false;
    *capacity = n;
    return true;
}

/* The six node arrays share one capacity; it grows only once all six have. */
static bool reserve_nodes(CSTWalkBuffers *b, size_t need) {
    if (need <= b->capacity) return true;
    size_t n = doubled(b->capacity, need, 1024);
    if (!resize((void **)&b->kinds, n, sizeof *b->kinds) || !resize((void **)&b->fields, n, sizeof *b->fields)
        || !resize((void **)&b->flags, n, sizeof *b->flags) || !resize((void **)&b->starts, n, sizeof *b->starts)
        || !resize((void **)&b->ends, n, sizeof *b->ends) || !resize((void **)&b->parents, n, sizeof *b->parents)) {
        return false;
    }
    b->capacity = n;
    return true;
}

static inline void open_frame(Frame *f, const TSLanguage *l, Subtree s, uint32_t position, int32_t parent, uint16_t field) {
    uint16_t production = s.ptr->node.production_id;
    f->children = sub_children(s);
    f->child_count = s.ptr->child_count;
    f->next = 0;
    f->structural_index = 0;
    f->position = position;
    f->aliases = production ? &l->alias_sequences[production * l->max_alias_sequence_length] : NULL;
    if (l->field_count == 0) {
        f->fields = f->fields_end = NULL;
    } else {
        TSFieldMapSlice slice = l->field_map_slices[production];
        f->fields = &l->field_map_entries[slice.index];
        f->fields_end = f->fields + slice.length;
    }
    f->parent = parent;
    f->field = field;
}

static inline uint16_t field_at(const Frame *f, uint32_t structural_index) {
    for (const TSFieldMapEntry *e = f->fields; e < f->fields_end; e++) {
        if (!e->inherited && e->child_index == structural_index) return e->field_id;
    }
    return 0;
}

/* Appends one node to the output. */
static inline int emit(CSTWalkBuffers *b, const TSLanguage *l, uint16_t error_kind, TSSymbol symbol, bool named,
                       Subtree s, uint32_t start, uint16_t field, int32_t parent, uint16_t *bad_symbol) {
    TSSymbol pub = public_symbol(l, symbol);
    uint16_t kind;
    if (pub == SYM_ERROR) {
        kind = error_kind;
    } else if (pub < error_kind) {
        kind = pub;
    } else {
        *bad_symbol = pub;
        return CST_WALK_BAD_SYMBOL;
    }
    if (b->count == b->capacity && !reserve_nodes(b, b->count + 1)) return CST_WALK_NO_MEMORY;
    size_t i = b->count++;
    b->kinds[i] = kind;
    b->fields[i] = field;
    b->flags[i] = (uint8_t)((named ? 1 : 0) | (sub_extra(s) ? 2 : 0) | (sub_missing(s) ? 4 : 0) | (sub_has_error(s) ? 8 : 0));
    b->starts[i] = start;
    b->ends[i] = start + sub_size(s);
    b->parents[i] = parent;
    return CST_WALK_OK;
}

int cst_walk_tree(const TSTree *tree, uint16_t error_kind, CSTWalkBuffers *b, uint16_t *bad_symbol) {
    const TSLanguage *l = ts_tree_language(tree);
    TSNode root_node = ts_tree_root_node(tree);
    Subtree root = *(const Subtree *)root_node.id;
    b->count = 0;
    size_t depth = 0;

    /* Every subtree is at most one node: the root's count of subtrees bounds the output. */
    size_t bound = sub_child_count(root) > 0 ? root.ptr->node.node_count : 1;
    if (!reserve_nodes(b, bound)) return CST_WALK_NO_MEMORY;

    uint32_t root_start = sub_padding(root);
    int status = emit(b, l, error_kind, sub_symbol(root), sub_named(root), root, root_start, 0, -1, bad_symbol);
    if (status != CST_WALK_OK) return status;
    if (sub_child_count(root) > 0) {
        if (!grow(&b->frames, &b->frame_capacity, 1, sizeof(Frame))) return CST_WALK_NO_MEMORY;
        open_frame(&((Frame *)b->frames)[0], l, root, root_start, 0, 0);
        depth = 1;
    }
    while (depth > 0) {
        Frame *f = &((Frame *)b->frames)[depth - 1];
        if (f->next == f->child_count) {
            depth--;
            continue;
        }
        /* As tree-sitter's child iterator: positions, aliases and structural indices. */
        Subtree child = f->children[f->next];
        uint32_t start = f->position;
        bool extra = sub_extra(child);
        bool visible = sub_visible(child);
        TSSymbol alias = 0;
        uint32_t structural = f->structural_index;
        if (!extra && f->aliases) {
            alias = f->aliases[structural];
            if (alias) visible = true;
            f->structural_index++;
        }
        f->position += sub_size(child);
        f->next++;
        if (f->next < f->child_count) f->position += sub_padding(f->children[f->next]);

        /* As ts_tree_cursor_current_field_id: the first field found from this node up
           through its hidden ancestors, none for extras. */
        uint16_t field = 0;
        if (!extra) {
            field = field_at(f, structural);
            if (!field) field = f->field;
        }
        int32_t parent = f->parent;
        bool has_children = sub_child_count(child) > 0;
        if (visible) {
            TSSymbol symbol = alias ? alias : sub_symbol(child);
            bool named = alias ? symbol_named(l, alias) : sub_named(child);
            int32_t index = (int32_t)b->count;
            status = emit(b, l, error_kind, symbol, named, child, start, field, parent, bad_symbol);
            if (status != CST_WALK_OK) return status;
            if (!has_children) continue;
            if (!grow(&b->frames, &b->frame_capacity, depth + 1, sizeof(Frame))) return CST_WALK_NO_MEMORY;
            open_frame(&((Frame *)b->frames)[depth], l, child, start, index, 0);
            depth++;
        } else if (sub_visible_child_count(child) > 0) {
            /* A hidden node: its visible descendants are its parent's children. */
            if (!grow(&b->frames, &b->frame_capacity, depth + 1, sizeof(Frame))) return CST_WALK_NO_MEMORY;
            open_frame(&((Frame *)b->frames)[depth], l, child, start, parent, field);
            depth++;
        }
    }
    /* What the public API says about the root must agree (a cheap guard on the layout). */
    uint32_t root_children = 0;
    for (size_t i = 1; i < b->count; i++) root_children += b->parents[i] == 0;
    TSSymbol root_symbol = ts_node_symbol(root_node);
    uint16_t root_kind = root_symbol == SYM_ERROR ? error_kind : root_symbol;
    if (b->kinds[0] != root_kind || b->starts[0] != ts_node_start_byte(root_node)
        || b->ends[0] != ts_node_end_byte(root_node) || root_children != ts_node_child_count(root_node)
        || (b->count > 1 && b->starts[1] != ts_node_start_byte(ts_node_child(root_node, 0)))) {
        return CST_WALK_MISMATCH;
    }
    return CST_WALK_OK;
}

void cst_walk_buffers_free(CSTWalkBuffers *b) {
    free(b->kinds);
    free(b->fields);
    free(b->flags);
    free(b->starts);
    free(b->ends);
    free(b->parents);
    free(b->frames);
    *b = (CSTWalkBuffers){0};
}
