/* Reference for scripts/bench: tree-sitter's own parse time of a tree's files, read into
   memory first. stdin: one "LANGUAGE<TAB>PATH" per line (as `cstpack ls --json` names them);
   each file is parsed once with ts_parser_parse_string and its tree deleted, one thread.
   Prints the parse loop's wall time in seconds (reading and loading not counted).
   Usage: ts_parse_ref LIB.so < list */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <tree_sitter/api.h>
#include "slurp.h"


int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s LIB.so < list\n", argv[0]); return 2; }
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) { fprintf(stderr, "%s\n", dlerror()); return 2; }
    size_t n = 0, cap = 1024;
    const TSLanguage **langs = malloc(cap * sizeof *langs);
    char **texts = malloc(cap * sizeof *texts);
    long *lens = malloc(cap * sizeof *lens);
    char line[8192];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\n")] = 0;
        char *tab = strchr(line, '\t');
        if (!tab) continue;
        *tab = 0;
        char sym[256];
        snprintf(sym, sizeof sym, "tree_sitter_%s", line);
        const TSLanguage *(*fn)(void) = (const TSLanguage *(*)(void))dlsym(lib, sym);
        if (!fn) { fprintf(stderr, "no %s\n", sym); return 2; }
        if (n == cap) {
            cap *= 2;
            langs = realloc(langs, cap * sizeof *langs); texts = realloc(texts, cap * sizeof *texts); lens = realloc(lens, cap * sizeof *lens);
        }
        texts[n] = slurp(tab + 1, &lens[n]);
        if (!texts[n]) { perror(tab + 1); return 2; }
        langs[n++] = fn();
    }
    TSParser *parser = ts_parser_new();
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (size_t i = 0; i < n; i++) {
        ts_parser_set_language(parser, langs[i]);
        TSTree *tree = ts_parser_parse_string(parser, NULL, texts[i], (uint32_t)lens[i]);
        ts_tree_delete(tree);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%.3f\n", (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
    return 0;
}
