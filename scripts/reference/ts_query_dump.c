/* Reference for scripts/conformance: tree-sitter's own query engine (ts_query_new and
   ts_query_cursor, whatever libtree-sitter is linked) over files named on stdin, one path a
   line. Prints, as plain lines:
     C <id> <name>                  capture names
     P <pattern> <start byte> <steps>  predicate steps: s<hex string> c<capture> | (end)
     F <path>                       then its matches:
     M <pattern> <capture>:<start>:<end> ...
     L                              the cursor dropped matches in this file (match limit)
   Text predicates are not applied (tree-sitter's C library leaves them to the client).
   With --check, only compiles the query: prints "ok", or "error <kind> <byte offset>" and
   exits 1. Usage: ts_query_dump LIB.so LANGUAGE QUERY.scm [--check] < files */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tree_sitter/api.h>
#include "slurp.h"

static void hex(const char *s, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) printf("%02x", (unsigned char)s[i]);
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: %s LIB.so LANGUAGE QUERY.scm [--check] < files\n", argv[0]); return 2; }
    int check = argc > 4 && strcmp(argv[4], "--check") == 0;
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) { fprintf(stderr, "%s\n", dlerror()); return 2; }
    char sym[256];
    snprintf(sym, sizeof sym, "tree_sitter_%s", argv[2]);
    const TSLanguage *(*fn)(void) = (const TSLanguage *(*)(void))dlsym(lib, sym);
    if (!fn) { fprintf(stderr, "no %s\n", sym); return 2; }
    const TSLanguage *language = fn();
    long qlen;
    char *qtext = slurp(argv[3], &qlen);
    if (!qtext) { perror(argv[3]); return 2; }
    uint32_t offset; TSQueryError error;
    TSQuery *query = ts_query_new(language, qtext, (uint32_t)qlen, &offset, &error);
    if (!query) { printf("error %d %u\n", error, offset); return 1; }
    if (check) { printf("ok\n"); return 0; }
    for (uint32_t c = 0; c < ts_query_capture_count(query); c++) {
        uint32_t n; const char *name = ts_query_capture_name_for_id(query, c, &n);
        printf("C %u %.*s\n", c, (int)n, name);
    }
    for (uint32_t p = 0; p < ts_query_pattern_count(query); p++) {
        uint32_t steps;
        const TSQueryPredicateStep *s = ts_query_predicates_for_pattern(query, p, &steps);
        printf("P %u %u", p, ts_query_start_byte_for_pattern(query, p));
        for (uint32_t k = 0; k < steps; k++) {
            if (s[k].type == TSQueryPredicateStepTypeString) {
                uint32_t n; const char *v = ts_query_string_value_for_id(query, s[k].value_id, &n);
                printf(" s"); hex(v, n);
            } else if (s[k].type == TSQueryPredicateStepTypeCapture) {
                printf(" c%u", s[k].value_id);
            } else {
                printf(" |");
            }
        }
        printf("\n");
    }
    TSParser *parser = ts_parser_new();
    ts_parser_set_language(parser, language);
    TSQueryCursor *cursor = ts_query_cursor_new();
    char path[4096];
    while (fgets(path, sizeof path, stdin)) {
        path[strcspn(path, "\n")] = 0;
        long len;
        char *src = slurp(path, &len);
        printf("F %s\n", path);
        if (!src) continue;
        TSTree *tree = ts_parser_parse_string(parser, NULL, src, (uint32_t)len);
        ts_query_cursor_exec(cursor, query, ts_tree_root_node(tree));
        TSQueryMatch m;
        while (ts_query_cursor_next_match(cursor, &m)) {
            printf("M %u", m.pattern_index);
            for (uint16_t k = 0; k < m.capture_count; k++)
                printf(" %u:%u:%u", m.captures[k].index, ts_node_start_byte(m.captures[k].node), ts_node_end_byte(m.captures[k].node));
            printf("\n");
        }
        if (ts_query_cursor_did_exceed_match_limit(cursor)) printf("L\n");
        ts_tree_delete(tree);
        free(src);
    }
    return 0;
}
