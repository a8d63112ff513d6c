import Glibc

/// ast-grep's pattern language (https://ast-grep.github.io/guide/pattern-syntax.html): code
/// with metavariables, parsed once with the target language's grammar and matched against
/// stored trees node by node.

/// A metavariable as ast-grep reads one from a pattern node's whole text.
enum MetaVariable: Equatable {
    /// `$A` (one named node), `$$A` (`named` false: any node). `name` nil for `$_`, `$_X`.
    case single(name: Int?, named: Bool)
    /// `$$$` (nil) or `$$$ARGS`: zero or more sibling nodes.
    case multiple(name: Int?)

    var isMultiple: Bool { if case .multiple = self { return true }; return false }
}

/// How closely a pattern node must match (ast-grep's `--strictness`).
package enum PatternStrictness: String, CaseIterable, Sendable {
    /// Every node, anonymous and comments included.
    case cst
    /// Every pattern node; the candidate's anonymous nodes may be skipped.
    case smart
    /// Named nodes only, on both sides.
    case ast
    /// As ast, and the candidate's comments are skipped too.
    case relaxed
    /// As relaxed, and leaves compare kinds, not text.
    case signature
}

/// One node of a compiled pattern.
indirect enum PatternNode {
    case metaVariable(MetaVariable)
    /// A node without children: its kind and text must match.
    case terminal(kind: UInt16, named: Bool, text: [UInt8])
    /// Its kind must match; its children match the candidate's in order.
    case inner(kind: UInt16, children: [PatternNode])

    /// Anonymous leaves (punctuation): skipped after an ellipsis.
    var isTrivial: Bool { if case .terminal(_, false, _) = self { return true }; return false }
    var ellipsis: MetaVariable? {
        if case .metaVariable(let m) = self, m.isMultiple { return m }
        return nil
    }
}

/// A pattern compiled for one language.
package struct CompiledPattern: Sendable {
    let root: PatternNodeBox
    /// The root's kind when it is not a metavariable: only nodes of that kind can match.
    let rootKind: UInt16?
    /// Metavariable names, by index.
    let names: [String]
    let strictness: PatternStrictness
    let errorKind: UInt16
    /// Whether matching compares text (leaves or repeated metavariables).
    let needsText: Bool
    /// Byte strings every match contains, its named leaves' texts (none in signature
    /// strictness, which compares leaves by kind): a file that lacks one is not decoded.
    let literals: [[UInt8]]
    /// Kinds every match has nodes of: its named nodes' (but ERROR's, which stands for any).
    let requiredKinds: [UInt16]
    /// Its named leaves, as (kind, text): each needs a node of that kind with that text
    /// (not in signature strictness).
    let leaves: [(kind: UInt16, text: [UInt8])]

    /// Whether a file with this summary may hold a match: it has every required kind, and,
    /// when `text` (the file's text is stored, so its filter was made), a node for each
    /// named leaf (a leaf with its text in the filter, or a kind that is not always a leaf).
    func mayMatch(_ summary: FileSummary, text: Bool) -> Bool {
        for k in requiredKinds where summary.entry(k) == nil { return false }
        guard text else { return true }
        for (k, t) in leaves {
            guard let e = summary.entry(k) else { return false }
            if !e.inner && !summary.mayHaveLeaf(t) { return false }
        }
        return true
    }

    /// Whether `text` (a whole file) contains every literal, so that a match may be in it.
    func mayMatch(in text: UnsafeRawBufferPointer) -> Bool {
        literals.allSatisfy { contains(text, $0) }
    }
}

/// Whether `needle` occurs in `haystack` (memchr finds its first byte's places at memory
/// speed; Glibc's memmem is not in Swift's Glibc module).
func contains(_ haystack: UnsafeRawBufferPointer, _ needle: [UInt8]) -> Bool {
    guard let first = needle.first else { return true }
    guard let base = haystack.baseAddress, haystack.count >= needle.count else { return false }
    return needle.withUnsafeBytes { n in
        let end = base + (haystack.count - n.count + 1)
        var p = base
        while p < end, let hit = memchr(p, Int32(first), end - p) {
            if memcmp(hit, n.baseAddress!, n.count) == 0 { return true }
            p = UnsafeRawPointer(hit) + 1
        }
        return false
    }
}

/// A class box so that the recursive pattern is shared between threads without copying.
final class PatternNodeBox: @unchecked Sendable {
    let node: PatternNode
    init(_ node: PatternNode) { self.node = node }
}

/// Language facts ast-grep attaches to a grammar.
enum PatternLanguage {
    /// The character that stands for `$` in patterns of languages whose identifiers cannot
    /// contain `$` (ast-grep's expando character).
    static func expando(_ language: String) -> Character {
        switch language {
        case "c", "cpp", "css": return "_"
        case "python", "rust", "go", "c_sharp", "elixir", "haskell", "kotlin", "php", "ruby", "swift": return "µ"
        default: return "$"
        }
    }

    /// Where a pattern that does not parse at the top level is read again: the text
    /// around it (a function body), for grammars whose top level takes declarations only.
    static func statementContexts(_ language: String) -> [(String, String)] {
        switch language {
        case "go": return [("package _\nfunc _() {\n", "\n}\n")]
        case "rust": return [("fn _() {\n", "\n}\n"), ("fn _() {\n", ";\n}\n")]
        case "c", "cpp": return [("void _() {\n", "\n}\n"), ("void _() {\n", ";\n}\n")]
        default: return []
        }
    }

    /// ast-grep's language names and aliases, as our grammar names.
    static func grammarName(_ s: String) -> String {
        let aliases: [String: String] = [
            "py": "python", "js": "javascript", "jsx": "javascript", "ts": "typescript", "rs": "rust",
            "golang": "go", "cc": "cpp", "c++": "cpp", "cxx": "cpp", "cs": "c_sharp", "csharp": "c_sharp",
            "ex": "elixir", "hs": "haskell", "kt": "kotlin", "rb": "ruby", "yml": "yaml",
        ]
        let lower = s.lowercased()
        return aliases[lower] ?? lower
    }
}

enum PatternCompiler {
    /// ast-grep's pre-processing: `$` becomes the expando character where it starts a
    /// metavariable (`$A`, `$$A`, `$$$A`, `$_`, `$$$`).
    static func substituteExpando(_ pattern: String, _ expando: Character) -> String {
        guard expando != "$" else { return pattern }
        var out = ""
        var dollars = 0
        for c in pattern {
            if c == "$" { dollars += 1; continue }
            let replace = ("A"..."Z").contains(c) || c == "_" || dollars == 3
            out += String(repeating: replace ? expando : "$", count: dollars)
            dollars = 0
            out.append(c)
        }
        out += String(repeating: dollars == 3 ? expando : "$", count: dollars)
        return out
    }

    /// Metavariable names: A-Z and _ first, then A-Z, 0-9 and _.
    static func isNameCharacter(_ c: Character) -> Bool { ("A"..."Z").contains(c) || ("0"..."9").contains(c) || c == "_" }
    static func isName<S: Collection<Character>>(_ s: S) -> Bool {
        guard let f = s.first, ("A"..."Z").contains(f) || f == "_" else { return false }
        return s.allSatisfy(isNameCharacter)
    }

    /// The metavariable a node's whole text spells, if any (`sigil` is the expando).
    static func metaVariable(_ text: Substring, sigil: Character, intern: (String) -> Int) -> MetaVariable? {
        let three = String(repeating: sigil, count: 3)
        if text == three { return .multiple(name: nil) }
        if text.hasPrefix(three) {
            let rest = text.dropFirst(3)
            guard rest.allSatisfy(isNameCharacter) else { return nil }
            return .multiple(name: rest.first == "_" ? nil : intern(String(rest)))
        }
        guard text.first == sigil else { return nil }
        var rest = text.dropFirst()
        var named = true
        if rest.first == sigil { rest = rest.dropFirst(); named = false }
        guard isName(rest) else { return nil }
        return .single(name: rest.first == "_" ? nil : intern(String(rest)), named: named)
    }

    /// Parses `pattern` with `grammar` and keeps the node ast-grep matches with: the
    /// innermost node with more than one child, or the leaf. Errors say where.
    /// With `selector` (a rule's pattern object), `pattern` is the context and the pattern is
    /// its first node of that kind, which candidates must have too.
    static func compile(_ pattern: String, grammar: Grammar, strictness: PatternStrictness, selector: String? = nil,
                        parser: UntrustedTextParser) throws -> CompiledPattern {
        let lang = grammar.name
        let expando = PatternLanguage.expando(lang)
        try checkSigils(pattern, expando: expando)
        let processed = substituteExpando(pattern, expando)
        let text = Array(processed.utf8)
        let table = grammar.table
        func parse(_ source: [UInt8]) throws -> (tree: CSTTree, ends: [Int32]) {
            let t: CSTTree
            // Pattern text is short: a second is far more than any grammar needs for it.
            do { t = try parser.parse(source, grammar: grammar, timeoutMicros: 1_000_000) } catch {
                throw CSTPackError("the pattern does not parse as \(lang): \(error)")
            }
            return (t, t.subtreeEnds())
        }
        var (tree, ends) = try parse(text)
        var bytes = text
        func children(_ i: Int) -> [Int] {
            var out: [Int] = []
            var c = i + 1
            while c < Int(ends[i]) { out.append(c); c = Int(ends[c]) }
            return out
        }
        func column(_ byte: UInt32) -> Int {
            // Characters, not bytes: the expando character is wider than `$`.
            String(decoding: text[..<Int(min(byte, UInt32(text.count)))], as: UTF8.self).count + 1
        }
        func shown(_ i: Int) -> String {
            let t = String(decoding: bytes[Int(tree.starts[i])..<Int(tree.ends[i])], as: UTF8.self)
            let original = t.replacingOccurrences(of: String(expando), with: "$")
            return original.count > 30 ? String(original.prefix(29)) + "…" : original
        }
        func isSingle(_ i: Int) -> Bool {
            let c = children(i)
            if c.count == 1 { return true }
            if c.count == 2 { return tree.flags[c[1]].contains(.missing) || table.kindNames[Int(tree.kinds[c[1]])].isEmpty }
            return false
        }
        var top = 0
        // MISSING nodes are fine (`malloc($N)` in C lacks its `;`): ast-grep leaves them out.
        // So is an ERROR whose text, or an enclosing node's, is a metavariable (`{ $$$ }`
        // where a grammar wants items): the metavariable stands for the whole of it.
        func isMetaVariable(_ i: Int) -> Bool {
            metaVariable(String(decoding: bytes[Int(tree.starts[i])..<Int(tree.ends[i])], as: UTF8.self)[...],
                         sigil: expando, intern: { _ in 0 }) != nil
        }
        func firstError(_ t: CSTTree) -> Int? {
            (0..<t.count).first { i in
                guard t.kinds[i] == table.errorKind else { return false }
                var a = i
                while a > 0 { if isMetaVariable(a) { return false }; a = Int(t.parents[a]) }
                return true
            }
        }
        if let e = firstError(tree) {
            let error = CSTPackError("the pattern does not parse as \(lang): a syntax error at column \(column(tree.starts[e])) ('\(shown(e))')")
            // Newer grammars (ast-grep's) take statements and expressions at the top level
            // where these take only declarations: such a pattern is read inside a function.
            var found: Int? = nil
            for (prefix, suffix) in PatternLanguage.statementContexts(lang) where found == nil {
                bytes = Array(prefix.utf8) + text + Array(suffix.utf8)
                (tree, ends) = try parse(bytes)
                guard firstError(tree) == nil else { continue }
                let space: Set<UInt8> = [0x20, 0x0A, 0x09, 0x0D]
                let lead = text.prefix { space.contains($0) }.count, trail = text.reversed().prefix { space.contains($0) }.count
                let from = UInt32(prefix.utf8.count + lead), to = UInt32(prefix.utf8.count + text.count - trail)
                found = (0..<tree.count).first { tree.starts[$0] == from && tree.ends[$0] == to }
            }
            guard let found else { throw error }
            top = found
        } else if selector == nil {
            let rootChildren = children(0)
            if rootChildren.isEmpty { throw CSTPackError("the pattern is empty (no \(lang) syntax in it)") }
            if !isSingle(0) {
                throw CSTPackError("the pattern is \(rootChildren.count) \(lang) nodes ('\(shown(rootChildren[0]))' at column 1, then '\(shown(rootChildren[1]))' at column \(column(tree.starts[rootChildren[1]]))); a pattern is one node")
            }
        }
        // Matching recurses along the pattern's nesting: a bound no real pattern reaches.
        let depth = tree.depth()
        if depth > Self.maxDepth { throw CSTPackError("the pattern nests \(depth) levels deep; at most \(Self.maxDepth)") }
        var selectedKind: UInt16? = nil
        if let selector {
            guard let s = (0..<tree.count).first(where: { table.kindNames[Int(tree.kinds[$0])] == selector && tree.flags[$0].contains(.named) })
                    ?? (0..<tree.count).first(where: { table.kindNames[Int(tree.kinds[$0])] == selector }) else {
                throw CSTPackError("the selector '\(selector)' matches no node of the context")
            }
            top = s
            selectedKind = tree.kinds[s]
        } else {
            while isSingle(top) { top = children(top)[0] }
        }

        var names: [String] = []
        func intern(_ n: String) -> Int {
            if let k = names.firstIndex(of: n) { return k }
            names.append(n); return names.count - 1
        }
        var needsText = false
        var seen = Set<Int>()
        func convert(_ i: Int) throws -> PatternNode {
            let text = bytes[Int(tree.starts[i])..<Int(tree.ends[i])]
            let s = String(decoding: text, as: UTF8.self)
            if let m = metaVariable(s[...], sigil: expando, intern: intern) {
                if case .single(let n?, _) = m, !seen.insert(n).inserted { needsText = true }
                if case .multiple(let n?) = m, !seen.insert(n).inserted { needsText = true }
                return .metaVariable(m)
            }
            let kids = children(i)
            if kids.isEmpty {
                needsText = true
                return .terminal(kind: tree.kinds[i], named: tree.flags[i].contains(.named), text: Array(text))
            }
            return .inner(kind: tree.kinds[i], children: try kids.filter { !tree.flags[$0].contains(.missing) }.map(convert))
        }
        let root = try convert(top)
        var rootKind: UInt16? = selectedKind
        switch root {
        case .terminal(let k, _, _), .inner(let k, _): rootKind = rootKind ?? k
        case .metaVariable: break
        }
        let named = namedParts(root, errorKind: table.errorKind)
        return CompiledPattern(root: PatternNodeBox(root), rootKind: rootKind, names: names,
                               strictness: strictness, errorKind: table.errorKind, needsText: needsText,
                               literals: strictness == .signature ? [] : named.texts,
                               requiredKinds: named.kinds,
                               leaves: strictness == .signature ? [] : named.leaves)
    }

    /// A pattern's named nodes, in one walk:
    /// - `kinds`: their kinds but ERROR (which stands for any), each once: no strictness
    ///   passes a named pattern node over, and each matches only a node of its kind;
    /// - `texts`: its named leaves' texts, each once: in every strictness but signature a
    ///   named leaf matches only a node with its text, and no match passes one over;
    /// - `leaves`: those leaves but ERROR's, as (kind, text), each once.
    static func namedParts(_ root: PatternNode, errorKind: UInt16)
        -> (kinds: [UInt16], texts: [[UInt8]], leaves: [(kind: UInt16, text: [UInt8])]) {
        var kinds = Set<UInt16>()
        var texts: [[UInt8]] = []
        var leaves: [(kind: UInt16, text: [UInt8])] = []
        var pending = [root]
        while let node = pending.popLast() {
            switch node {
            case .terminal(let k, true, let text):
                if !text.isEmpty && !texts.contains(text) { texts.append(text) }
                guard k != errorKind else { break }
                kinds.insert(k)
                if !leaves.contains(where: { $0.kind == k && $0.text == text }) { leaves.append((k, text)) }
            case .inner(let k, let children):
                if k != errorKind { kinds.insert(k) }
                pending += children
            default: break
            }
        }
        return (kinds.sorted(), texts, leaves)
    }

    static let maxDepth = 256

    /// `$` runs that are no metavariable: four or more, and, in languages where `$` is no
    /// identifier character, `$` before a word that is not a metavariable name (`$name`,
    /// `$Name`, `$1`): ast-grep would look for that text literally, never what was meant.
    static func checkSigils(_ pattern: String, expando: Character) throws {
        let chars = Array(pattern)
        var i = 0
        func isWord(_ c: Character) -> Bool { c.isLetter || c.isNumber || c == "_" }
        while i < chars.count {
            guard chars[i] == "$" else { i += 1; continue }
            var j = i
            while j < chars.count && chars[j] == "$" { j += 1 }
            var k = j
            while k < chars.count && isWord(chars[k]) { k += 1 }
            let form = String(chars[i..<k])
            let bad = j - i > 3 || (expando != "$" && k > j && !isName(chars[j..<k]))
            if bad {
                throw CSTPackError("unknown metavariable form '\(form)' at column \(i + 1) (metavariables are $NAME, $$NAME, $$$NAME, $_ and $$$; NAME is A-Z, 0-9 and _)")
            }
            i = k
        }
    }
}
