#!/usr/bin/env python3
"""tree-sitter 0.25's query cursor (py-tree-sitter 0.25.2), the outside reference for what the
C library cstpack links (0.20.7) lacks: `(MISSING)` patterns. Parses each file with the bundle's
grammar and prints one JSON line per match: {"file", "pattern", "captures": [[name, start, end]]}.

Usage: ts025_query.py LANGUAGES_SO LANG QUERY FILE...   (PYTHONPATH: where tree-sitter 0.25.2 is)"""
import ctypes, json, sys, warnings

warnings.simplefilter("ignore")  # the int form of Language() is deprecated, and still the one a .so gives
import tree_sitter as ts

lib_path, name, query_text, files = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
entry = getattr(ctypes.cdll.LoadLibrary(lib_path), "tree_sitter_" + name)
entry.restype = ctypes.c_void_p
language = ts.Language(entry())
query = ts.Query(language, query_text)
for path in files:
    with open(path, "rb") as f:
        tree = ts.Parser(language).parse(f.read())
    for pattern, captures in ts.QueryCursor(query).matches(tree.root_node):
        found = sorted([c, n.start_byte, n.end_byte] for c, nodes in captures.items() for n in nodes)
        print(json.dumps({"file": path, "pattern": pattern, "captures": found}))
