#ifndef CSTPACK_SCANNER_FIXES_H
#define CSTPACK_SCANNER_FIXES_H
#include <tree_sitter/api.h>

/* Grammars whose external scanner breaks a cstpack guarantee, mended when they are loaded.

   lua (tree-sitter-languages 1.10.2): the scanner's create() mallocs its 8-byte state and
   never initializes it, and deserialize() ignores the empty state that starts every parse.
   Each parse so starts from whatever the allocator returned: the same file can parse
   differently from one run to the next (measured: mutated files gave different trees and
   archives in 3 builds of 400 files, and `verify --deep` disagreed on 12). The mended
   language's create() gives the state the zero bytes its own deserialize() reads as
   "no string open".

   Returns `language` itself, or a mended copy that lives as long as the process. The copy
   is made only when the scanner round-trips the zero state as expected. */
const TSLanguage *cst_mended_language(const TSLanguage *language, const char *name);

/* The state a fresh scanner of `language` serializes to, before any parse (for tests);
   returns its length, or -1 when the language has no external scanner. */
int cst_fresh_scanner_state(const TSLanguage *language, char *buffer, unsigned capacity);

#endif
