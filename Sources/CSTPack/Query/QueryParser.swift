import CTreeSitter
import Foundation

/// Parses tree-sitter query text against one language. Supported: node patterns, fields
/// `name:`, negated fields `!name`, anonymous `"tokens"`, wildcards `(_)` and `_`,
/// `(MISSING)` nodes (tree-sitter 0.25's syntax, optionally with a kind or a token),
/// captures `@name`, quantifiers `? * +`, alternations `[ ]`, groups, anchors `.`, and
/// the text predicates `#eq?`, `#not-eq?`, `#match?`, `#not-match?`, `#any-of?`,
/// `#not-any-of?` and their `#any-…?` forms (see TextPredicate). Directives ending in `!`
/// (`#set!`, `#strip!`, ...) and other predicates (`#is-not? local`) carry data for the
/// application: accepted and not applied, as tree-sitter's query cursor does. Anything
/// else is an error with its position.
package struct QueryParser {
    let text: [UInt8]
    let table: LanguageTable
    var i = 0
    var captureNames: [String] = []
    var unapplied: [String] = []
    /// Each `(MISSING ...)` and the same test without MISSING (`(_)`, `(kind)`, `"token"`),
    /// which tree-sitter 0.20.7, without the syntax, can check.
    var missingForms: [(Range<Int>, [UInt8])] = []
    /// Nesting is recursion in this parser and in matching: bounded, with an error.
    var depth = 0
    static let maxDepth = 256

    package static func parse(_ source: String, table: LanguageTable) throws(QueryError) -> Query {
        var p = QueryParser(text: Array(source.utf8), table: table)
        return try p.parseQuery()
    }

    init(text: [UInt8], table: LanguageTable) {
        self.text = text
        self.table = table
    }

    func error(_ message: String, at offset: Int? = nil) -> QueryError {
        let o = min(offset ?? i, text.count)
        var line = 1, col = 1
        for b in text[0..<o] {
            if b == 0x0A { line += 1; col = 1 } else { col += 1 }
        }
        return QueryError(message: message, offset: o, line: line, column: col)
    }

    var atEnd: Bool { i >= text.count }
    var peek: UInt8 { i < text.count ? text[i] : 0 }

    mutating func skipSpace() {
        while i < text.count {
            let c = text[i]
            if c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D {
                i += 1
            } else if c == UInt8(ascii: ";") {
                while i < text.count && text[i] != 0x0A { i += 1 }
            } else {
                return
            }
        }
    }

    static func isNameByte(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
            || c == UInt8(ascii: "_") || c == UInt8(ascii: "-") || c == UInt8(ascii: ".") || c == UInt8(ascii: "?")
            || c == UInt8(ascii: "!") || c == UInt8(ascii: "/") || c >= 0x80
    }

    mutating func name() throws(QueryError) -> String {
        let start = i
        while i < text.count && Self.isNameByte(text[i]) { i += 1 }
        guard i > start else { throw error("expected a name") }
        return String(decoding: text[start..<i], as: UTF8.self)
    }

    mutating func expect(_ c: Character) throws(QueryError) {
        skipSpace()
        guard peek == UInt8(ascii: c.unicodeScalars.first!) else { throw error("expected '\(c)'") }
        i += 1
    }

    mutating func stringLiteral() throws(QueryError) -> String {
        let start = i
        i += 1 // opening quote
        var bytes: [UInt8] = []
        while true {
            guard i < text.count else { throw error("unterminated string", at: start) }
            let c = text[i]
            i += 1
            if c == UInt8(ascii: "\"") { break }
            if c == UInt8(ascii: "\\") {
                guard i < text.count else { throw error("unterminated string", at: start) }
                let e = text[i]
                i += 1
                switch e {
                case UInt8(ascii: "n"): bytes.append(0x0A)
                case UInt8(ascii: "t"): bytes.append(0x09)
                case UInt8(ascii: "r"): bytes.append(0x0D)
                case UInt8(ascii: "0"): bytes.append(0)
                default: bytes.append(e)
                }
            } else {
                bytes.append(c)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    mutating func captureID(_ name: String) -> Int {
        if let k = captureNames.firstIndex(of: name) { return k }
        captureNames.append(name)
        return captureNames.count - 1
    }

    mutating func parseQuery() throws(QueryError) -> Query {
        var patterns: [Query.Pattern] = []
        while true {
            skipSpace()
            if atEnd { break }
            let start = i
            var predicates: [Query.Predicate] = []
            let item = try parseItem(predicates: &predicates, topLevel: true)
            var items = [item]
            if case .group(let inner) = item.expr, item.captures.isEmpty, item.quantifier == .one {
                items = inner
            }
            guard !items.isEmpty else { throw error("empty pattern", at: start) }
            patterns.append(Query.Pattern(items: items, predicates: predicates, offset: start))
        }
        var q = Query(patterns: patterns, captureNames: captureNames)
        q.unappliedPredicates = unapplied
        if !missingForms.isEmpty {
            var plain = text
            for (range, form) in missingForms { plain.replaceSubrange(range, with: form + [UInt8](repeating: 0x20, count: range.count - form.count)) }
            q.plainText = String(decoding: plain, as: UTF8.self)
        }
        return q
    }

    /// An expression with its quantifier and captures.
    mutating func parseItem(predicates: inout [Query.Predicate], topLevel: Bool = false) throws(QueryError) -> Query.Item {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maxDepth else { throw error("the query nests more than \(Self.maxDepth) levels deep") }
        skipSpace()
        let start = i
        let expr: Query.Expr
        switch peek {
        case UInt8(ascii: "("):
            expr = try parseParenthesized(predicates: &predicates)
        case UInt8(ascii: "["):
            i += 1
            var alternatives: [[Query.Item]] = []
            while true {
                skipSpace()
                if peek == UInt8(ascii: "]") { i += 1; break }
                guard !atEnd else { throw error("unterminated alternation", at: start) }
                let alt = try parseItem(predicates: &predicates)
                if case .group(let inner) = alt.expr, alt.captures.isEmpty, alt.quantifier == .one {
                    alternatives.append(inner)
                } else {
                    alternatives.append([alt])
                }
            }
            guard !alternatives.isEmpty else { throw error("empty alternation", at: start) }
            expr = .alternation(alternatives)
        case UInt8(ascii: "\""):
            expr = .token(try tokenKinds(at: start))
        case UInt8(ascii: "_"):
            i += 1
            expr = .any
        default:
            throw error(atEnd ? "unexpected end of query" : "unexpected '\(Character(Unicode.Scalar(peek)))'")
        }
        var item = Query.Item(expr: expr)
        while true {
            skipSpace()
            switch peek {
            case UInt8(ascii: "?"): i += 1; item.quantifier = .optional
            case UInt8(ascii: "*"): i += 1; item.quantifier = .zeroOrMore
            case UInt8(ascii: "+"): i += 1; item.quantifier = .oneOrMore
            case UInt8(ascii: "@"):
                i += 1
                item.captures.append(captureID(try name()))
            default:
                return item
            }
        }
    }

    /// `(kind ...)`, `(_ ...)`, a group `((a) (b))`, or (inside one) a predicate.
    mutating func parseParenthesized(predicates: inout [Query.Predicate]) throws(QueryError) -> Query.Expr {
        let start = i
        i += 1
        skipSpace()
        let c = peek
        if c == UInt8(ascii: "(") || c == UInt8(ascii: "[") || c == UInt8(ascii: "\"") || c == UInt8(ascii: "#") {
            // A group of sibling patterns (and predicates).
            var items: [Query.Item] = []
            var anchorPending = false
            while true {
                skipSpace()
                if peek == UInt8(ascii: ")") { i += 1; break }
                guard !atEnd else { throw error("unterminated group", at: start) }
                if peek == UInt8(ascii: "(") && i + 1 < text.count && nextNonSpace(after: i + 1) == UInt8(ascii: "#") {
                    try parsePredicate(into: &predicates)
                    continue
                }
                if peek == UInt8(ascii: ".") {
                    i += 1
                    if items.isEmpty { anchorPending = true } else { items[items.count - 1].anchoredAfter = true }
                    continue
                }
                var item = try parseItem(predicates: &predicates)
                if anchorPending { item.anchoredBefore = true; anchorPending = false }
                if let last = items.last, last.anchoredAfter { item.anchoredBefore = true }
                items.append(item)
            }
            return .group(items)
        }
        // A node pattern.
        let kinds: Set<UInt16>?
        if c == UInt8(ascii: "_") && (i + 1 >= text.count || !Self.isNameByte(text[i + 1])) {
            i += 1
            kinds = nil
        } else {
            let kindStart = i
            if try name() == "MISSING" { return try parseMissing(start: start) }
            i = kindStart
            kinds = try namedKinds()
        }
        var children: [Query.Item] = []
        var negated: [UInt16] = []
        var anchorPending = false
        while true {
            skipSpace()
            if peek == UInt8(ascii: ")") { i += 1; break }
            guard !atEnd else { throw error("unterminated node pattern", at: start) }
            if peek == UInt8(ascii: "(") && nextNonSpace(after: i + 1) == UInt8(ascii: "#") {
                try parsePredicate(into: &predicates)
                continue
            }
            if peek == UInt8(ascii: ".") {
                i += 1
                if children.isEmpty { anchorPending = true } else { children[children.count - 1].anchoredAfter = true }
                continue
            }
            if peek == UInt8(ascii: "!") {
                i += 1
                let fieldStart = i
                let f = try name()
                negated.append(try fieldID(f, at: fieldStart))
                continue
            }
            var field: UInt16? = nil
            let save = i
            if Self.isNameByte(peek) && peek != UInt8(ascii: "_") || (peek == UInt8(ascii: "_") && i + 1 < text.count && Self.isNameByte(text[i + 1])) {
                let n = try name()
                skipSpace()
                guard peek == UInt8(ascii: ":") else { throw error("expected '(', '[', '\"', '_' or 'field:'", at: save) }
                i += 1
                field = try fieldID(n, at: save)
            }
            var item = try parseItem(predicates: &predicates)
            item.field = field
            if anchorPending { item.anchoredBefore = true; anchorPending = false }
            if let last = children.last, last.anchoredAfter { item.anchoredBefore = true }
            children.append(item)
        }
        return .node(kinds: kinds, children: children, negatedFields: negated)
    }

    /// The named kinds called by the name that follows (a grammar may give one name several ids).
    mutating func namedKinds() throws(QueryError) -> Set<UInt16> {
        let at = i
        let kind = try name()
        let codes = Set(table.kindNames.indices.filter { table.kindNames[$0] == kind && table.kindNamed[$0] }.map { UInt16($0) })
        guard codes.isEmpty else { return codes }
        let near = nearestNames(kind, in: Array(Set(table.kindNames.enumerated().filter { table.kindNamed[$0.offset] }.map(\.element))))
        throw error("no node kind '\(kind)' in \(table.name)" + (near.isEmpty ? "" : " (nearest: \(near.joined(separator: ", ")))"), at: at)
    }

    /// The anonymous kinds whose text is the string literal that follows (`start`: for the error).
    mutating func tokenKinds(at start: Int) throws(QueryError) -> Set<UInt16> {
        let s = try stringLiteral()
        let codes = Set(table.kindNames.indices.filter { table.kindNames[$0] == s && !table.kindNamed[$0] }.map { UInt16($0) })
        guard !codes.isEmpty else { throw error("no anonymous node \"\(s)\" in \(table.name)", at: start) }
        return codes
    }

    /// The rest of `(MISSING)`, `(MISSING kind)` or `(MISSING "token")`, after the word.
    mutating func parseMissing(start: Int) throws(QueryError) -> Query.Expr {
        skipSpace()
        var kinds: Set<UInt16>? = nil
        let at = i
        var form = Array("(_)".utf8) // not `_`: `((MISSING) @m)` would read as `(_ @m)`
        if peek == UInt8(ascii: "\"") {
            kinds = try tokenKinds(at: at)
            form = Array(text[at..<i])
        } else if peek != UInt8(ascii: ")") && !atEnd {
            kinds = try namedKinds()
            form = [UInt8(ascii: "(")] + text[at..<i] + [UInt8(ascii: ")")]
        }
        skipSpace()
        guard peek == UInt8(ascii: ")") else {
            throw error(atEnd ? "unterminated node pattern" : "expected ')' after (MISSING ...): a missing node has no children", at: atEnd ? start : i)
        }
        i += 1
        missingForms.append((start..<i, form))
        return .missing(kinds)
    }

    func nextNonSpace(after k: Int) -> UInt8 {
        var j = k
        while j < text.count, text[j] == 0x20 || text[j] == 0x09 || text[j] == 0x0A || text[j] == 0x0D { j += 1 }
        return j < text.count ? text[j] : 0
    }

    mutating func fieldID(_ name: String, at offset: Int) throws(QueryError) -> UInt16 {
        guard let f = table.fieldNames.firstIndex(of: name), f > 0 else {
            let near = nearestNames(name, in: Array(table.fieldNames.dropFirst()))
            throw error("no field '\(name)' in \(table.name)" + (near.isEmpty ? "" : " (nearest: \(near.joined(separator: ", ")))"), at: offset)
        }
        return UInt16(f)
    }

    mutating func parsePredicate(into predicates: inout [Query.Predicate]) throws(QueryError) {
        let start = i
        i += 1
        skipSpace()
        i += 1 // '#'
        let nameStart = i
        let op = try name()
        var captures: [Int] = []
        var strings: [String] = []
        var args: [(isCapture: Bool, value: String)] = []
        while true {
            skipSpace()
            if peek == UInt8(ascii: ")") { i += 1; break }
            guard !atEnd else { throw error("unterminated predicate", at: start) }
            if peek == UInt8(ascii: "@") {
                i += 1
                let n = try name()
                guard let k = captureNames.firstIndex(of: n) else { throw error("predicate names unknown capture @\(n)") }
                captures.append(k)
                args.append((true, n))
            } else if peek == UInt8(ascii: "\"") {
                let s = try stringLiteral()
                strings.append(s)
                args.append((false, s))
            } else {
                let s = try name()
                strings.append(s)
                args.append((false, s))
            }
        }
        if op.hasSuffix("!") { return } // directives: data for editors, no effect on matching
        guard let kind = Query.Predicate.Kind(rawValue: op) else {
            // As tree-sitter's bindings: other predicates are the application's to apply.
            if !unapplied.contains("#" + op) { unapplied.append("#" + op) }
            return
        }
        guard let first = args.first, first.isCapture, let capture = captures.first else {
            throw error("#\(op) takes a capture first", at: nameStart)
        }
        switch kind {
        case .eq, .notEq, .anyEq, .anyNotEq:
            guard args.count == 2 else { throw error("#\(op) takes two arguments", at: nameStart) }
            predicates.append(.init(kind: kind, capture: capture, otherCapture: args[1].isCapture ? captures[1] : nil,
                                    strings: args[1].isCapture ? [] : [args[1].value]))
        case .match, .notMatch, .anyMatch, .anyNotMatch:
            guard args.count == 2, !args[1].isCapture else { throw error("#\(op) takes a capture and a regular expression", at: nameStart) }
            do {
                _ = try ByteRegex(args[1].value)
            } catch {
                let shown = args[1].value.count > 60 ? args[1].value.prefix(59) + "…" : args[1].value[...]
                throw self.error("invalid regular expression \"\(shown)\" in #\(op): \(error)", at: nameStart)
            }
            predicates.append(.init(kind: kind, capture: capture, otherCapture: nil, strings: [args[1].value]))
        case .anyOf, .notAnyOf:
            guard args.count >= 2, !args.dropFirst().contains(where: { $0.isCapture }) else {
                throw error("#\(op) takes a capture and strings", at: nameStart)
            }
            predicates.append(.init(kind: kind, capture: capture, otherCapture: nil, strings: strings))
        }
    }
}

/// Up to `limit` names closest to `target` by edit distance (for "did you mean" hints).
package func nearestNames(_ target: String, in names: [String], limit: Int = 5) -> [String] {
    let t = Array(target.utf8)
    let scored = Set(names).map { ($0, editDistance(t, Array($0.utf8))) }
    let cutoff = max(2, t.count / 2)
    return scored.filter { $0.1 <= cutoff || $0.0.contains(target) || target.contains($0.0) && $0.0.count > 2 }
        .sorted { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }
        .prefix(limit).map(\.0)
}

func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var prev = Array(0...b.count)
    var cur = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        cur[0] = i
        for j in 1...b.count {
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        swap(&prev, &cur)
    }
    return prev[b.count]
}

/// tree-sitter's own verdict on a query (ts_query_new), for what only its analysis of the
/// grammar decides: a pattern no tree can match ("impossible pattern") is an error there,
/// so it is one here. Uses the installed grammar whose vocabulary is the archive's.
enum TreeSitterQueryCheck {
    static func grammar(for table: LanguageTable) -> Grammar? {
        guard let g = GrammarRegistry.loadedOnce(table.name).grammars[table.name], g.table.grammarHash == table.grammarHash else { return nil }
        return g
    }

    /// Throws tree-sitter's error, at its position, when it rejects `text`.
    static func check(_ text: String, table: LanguageTable) throws(QueryError) {
        guard let g = grammar(for: table) else { return }
        _ = TreeSitterParser.installCountingAllocator
        var offset: UInt32 = 0
        var error = TSQueryErrorNone
        let bytes = Array(text.utf8)
        let q = bytes.withUnsafeBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) { ts_query_new(g.language, $0.baseAddress, UInt32($0.count), &offset, &error) }
        }
        if let q { ts_query_delete(q); return }
        let what: String
        switch error {
        case TSQueryErrorStructure: what = "impossible pattern: no \(table.name) tree has this structure (tree-sitter's analysis of the grammar)"
        case TSQueryErrorNodeType: what = "invalid node type for \(table.name)"
        case TSQueryErrorField: what = "invalid field for \(table.name)"
        case TSQueryErrorCapture: what = "invalid capture"
        default: what = "invalid syntax"
        }
        let parser = QueryParser(text: bytes, table: table)
        throw parser.error("tree-sitter rejects the query: \(what)", at: Int(offset))
    }
}
