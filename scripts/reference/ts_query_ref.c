/* Reference for scripts/bench-query: parse every file named on stdin (one path per line)
   with a grammar loaded by dlopen, run a tree-sitter query with tree-sitter's own query
   cursor, and count matches and captures (text predicates are not applied: tree-sitter's
   core leaves them to the client). Usage: ts_query_ref LIB.so LANGUAGE QUERY.scm < files */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tree_sitter/api.h>
#include "slurp.h"


int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: %s LIB.so LANGUAGE QUERY.scm < files\n", argv[0]); return 2; }
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
    if (!query) { fprintf(stderr, "query error %d at %u\n", error, offset); return 2; }
    TSParser *parser = ts_parser_new();
    ts_parser_set_language(parser, language);
    TSQueryCursor *cursor = ts_query_cursor_new();
    char path[4096];
    long files = 0, matches = 0, captures = 0;
    while (fgets(path, sizeof path, stdin)) {
        path[strcspn(path, "\n")] = 0;
        long len;
        char *src = slurp(path, &len);
        if (!src) continue;
        TSTree *tree = ts_parser_parse_string(parser, NULL, src, (uint32_t)len);
        ts_query_cursor_exec(cursor, query, ts_tree_root_node(tree));
        TSQueryMatch m;
        while (ts_query_cursor_next_match(cursor, &m)) { matches++; captures += m.capture_count; }
        ts_tree_delete(tree);
        free(src);
        files++;
    }
    printf("%ld files, %ld matches, %ld captures\n", files, matches, captures);
    return 0;
}
