#!/usr/bin/env python3
"""Writes Fixtures/queries/rust-regex-cases.jsonl: regular expressions and texts with the
answers of Rust's `regex` crate (through PyPI's flpc wheel), the engine tree-sitter's Rust
binding runs #match? with. {"p": pattern, "t": text, "m": true|false} per case, or
{"p": pattern, "error": message} when Rust rejects the pattern. Deterministic (fixed seed).
Usage: python3 scripts/reference/regex_cases.py [OUT]   (needs `pip install flpc==0.2.5`; OUT
instead of the fixture, e.g. to compare with it)"""
import json, os, random, sys
import flpc

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
rng = random.Random(0x5EED)
atoms = ["a", "b", "_", "A", "Z", "0", ".", r"\.", r"\d", r"\w", r"\s", r"\W", r"\D", r"\S", "[a-c]", "[^a-c]",
         "[A-Z_]", "[-a]", "[a-]", r"[\]x]", "(a|bc)", "(?:ab|)", r"\n", "[.]", r"\b", r"\B", "(?i)a", "(?i:k)", "a{2}",
         "b{1,3}", "c{2,}", "[[a]b]", r"\p{L}", r"\pN", r"\p{Lu}", "é", "[a-z&&[^c]]", "[a-z--b]", "[[:alpha:]]",
         "[[:^digit:]]", "(?m)^", "(?m)$", "(?s).", r"\x41", r"\u00e9", "^", "$", r"\A", r"\z", "(?x) a # c\n", "(?P<n>a)",
         r"\\", r"\/", "[é-ë]", "(?i)é", r"\p{Greek}", r"\Z", r"\e", "(?=a)", "a**", "{", "[a", "(a", r"\1", "(?U)a+"]
quantifiers = ["", "", "", "*", "+", "?", "*?", "+?", "{0,2}", "{2}", "{1,}"]
alphabet = list("abcAZ_0 .\n\r\x0bxk-]é\u0661\u212a\u017f\u0391\t")
cases = []
fixed = [
    ("^[A-Z][A-Z\\d_]*$", ["ABC", "ABC\n", "Abc", "A_1", "A\u0661", ""]),
    ("^(abs|all|any)$", ["abs", "abs\n", "all ", "an"]),
    ("$", ["", "\n"]), ("a$", ["a\n", "a", "a\r\n"]), (".", ["\n", "\r", "é"]), ("^.$", ["é", "\r", "\n"]),
    ("\\bé", ["é", "aé", " é"]), ("(?i)k", ["\u212a", "K"]), ("(?i)\u212a", ["k", "K"]), ("(?i)s", ["\u017f"]),
    ("\\d", ["\u0661", "\uff11"]), ("\\w", ["é", "\u0661", "\u200d", "-"]), ("\\s", ["\u00a0", "\u2028", "\x0b", "\x1c"]),
    ("(?m)^b", ["a\nb", "a\rb"]), ("(?s)a.b", ["a\nb"]), ("a.b", ["a\nb", "a\rb"]), ("(?x) a b", ["ab", "a b"]),
    ("[[:word:]]+$", ["é", "ab_"]), ("^\\p{Lu}", ["É", "é"]), ("^[^a]$", ["é", "\n"]), ("a{3}", ["aa", "aaa"]),
]
for p, ts in fixed:
    for t in ts:
        cases.append((p, t))
for _ in range(700):
    p = "^" if rng.random() < 0.3 else ""
    for _ in range(1 + rng.randrange(4)):
        p += rng.choice(atoms) + rng.choice(quantifiers)
        if rng.random() < 0.12:
            p += "|"
    if rng.random() < 0.3:
        p += "$"
    for _ in range(4):
        cases.append((p, "".join(rng.choice(alphabet) for _ in range(rng.randrange(7)))))
out, seen = [], set()
for p, t in cases:
    try:
        r = flpc.compile(p)
    except Exception as e:
        if p not in seen:
            out.append({"p": p, "error": str(e).strip().splitlines()[-1]})
            seen.add(p)
        continue
    out.append({"p": p, "t": t, "m": flpc.search(r, t) is not None})
dest = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "Fixtures/queries/rust-regex-cases.jsonl")
with open(dest, "w", encoding="utf-8") as f:
    for o in out:
        f.write(json.dumps(o, ensure_ascii=False) + "\n")
print(len(out), "cases;", sum(1 for o in out if "error" in o), "rejected patterns")
