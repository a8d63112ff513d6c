import Foundation

/// The regular expressions of `#match?` predicates, in the syntax and with the meaning of
/// Rust's `regex` crate, which tree-sitter's Rust binding (and its CLI) applies them with:
/// Unicode-aware `\w` `\d` `\s` `\b` and classes, `.` stops only at `\n`, `^` and `$` only at
/// the ends of the text (at line ends too with `(?m)`), flags `(?imsxU)`, counted
/// repetition, nested classes with `&&` `--` `~~`, `\p{..}` general categories. Syntax
/// outside that is an error, never a guess. Run on a node's bytes (UTF-8; an invalid byte
/// matches nothing) by a Pike VM: time linear in the text for every pattern.
struct ByteRegex {
    enum Assertion: UInt8 { case textStart, textEnd, lineStart, lineEnd, wordBoundary, notWordBoundary }
    enum Inst {
        case char(Int32)            // class index
        case split(Int32, Int32)
        case jump(Int32)
        case assert(Assertion)
        case match
    }

    private var program: [Inst] = []
    private var classes: [CharClass] = []
    private var anchoredAtStart = false
    /// For a pattern that starts `^` then an ASCII class: a text whose first byte is not
    /// in it cannot match (`^[A-Z]` on most names).
    private var firstByte: (UInt64, UInt64)? = nil
    /// For `^(word|word|…)$`: the words, looked up instead of run.
    private var literals: Set<[UInt8]>? = nil
    static let maxProgram = 100_000

    struct SyntaxError: Error, CustomStringConvertible {
        let message: String
        let offset: Int
        var description: String { "\(message) (at character \(offset + 1))" }
    }

    init(_ pattern: String) throws(SyntaxError) {
        var p = Parser(scalars: Array(pattern.unicodeScalars))
        let tree = try p.parseAll()
        var c = Compiler()
        try c.emit(tree)
        c.program.append(.match)
        guard c.program.count <= Self.maxProgram else {
            throw SyntaxError(message: "the regular expression is too large once its repetitions are expanded", offset: 0)
        }
        program = c.program
        classes = c.classes
        if case .concat(let parts) = tree, case .assertion(.textStart)? = parts.first {
            anchoredAtStart = true
            if parts.count > 1, case .set(let cls) = parts[1], cls.asciiOnly {
                firstByte = (cls.low, cls.high)
            }
            if parts.count == 3, case .assertion(.textEnd) = parts[2] {
                literals = Self.words(parts[1]).map(Set.init)
            }
        } else if case .assertion(.textStart) = tree {
            anchoredAtStart = true
        }
    }

    /// `word` or `word|word|…` (case-sensitive literals only), else nil.
    static func words(_ n: Node) -> [[UInt8]]? {
        func word(_ n: Node) -> [UInt8]? {
            switch n {
            case .literal(let s): return Array(String(s).utf8)
            case .empty: return []
            case .concat(let items):
                var w: [UInt8] = []
                for i in items { guard case .literal(let s) = i else { return nil }; w += Array(String(s).utf8) }
                return w
            default: return nil
            }
        }
        if case .alternation(let alts) = n {
            var out: [[UInt8]] = []
            for a in alts { guard let w = word(a) else { return nil }; out.append(w) }
            return out
        }
        return word(n).map { [$0] }
    }

    /// Whether the pattern matches somewhere in `text`.
    func firstMatch(in text: UnsafeBufferPointer<UInt8>) -> Bool {
        if let (low, high) = firstByte {
            guard let b = text.first, b < 0x80, (b < 64 ? low >> UInt64(b) : high >> UInt64(b - 64)) & 1 != 0 else { return false }
        }
        if let literals { return literals.contains(Array(text)) }
        return run(text)
    }

    // MARK: - Matching

    /// A scalar at a byte position: its value (0x110000 and up for a byte that is not UTF-8,
    /// which no class holds) and its length.
    @inline(__always) static func decode(_ t: UnsafeBufferPointer<UInt8>, _ i: Int) -> (UInt32, Int) {
        let b0 = t[i]
        if b0 < 0x80 { return (UInt32(b0), 1) }
        func cont(_ k: Int) -> UInt32? { i + k < t.count && t[i + k] & 0xC0 == 0x80 ? UInt32(t[i + k] & 0x3F) : nil }
        let bad = (0x110000 + UInt32(b0), 1)
        if b0 >= 0xC2 && b0 < 0xE0 {
            guard let c1 = cont(1) else { return bad }
            return ((UInt32(b0 & 0x1F) << 6) | c1, 2)
        }
        if b0 >= 0xE0 && b0 < 0xF0 {
            guard let c1 = cont(1), let c2 = cont(2) else { return bad }
            let v = (UInt32(b0 & 0x0F) << 12) | (c1 << 6) | c2
            return v < 0x800 || (v >= 0xD800 && v < 0xE000) ? bad : (v, 3)
        }
        if b0 >= 0xF0 && b0 < 0xF5 {
            guard let c1 = cont(1), let c2 = cont(2), let c3 = cont(3) else { return bad }
            let v = (UInt32(b0 & 0x07) << 18) | (c1 << 12) | (c2 << 6) | c3
            return v < 0x10000 || v > 0x10FFFF ? bad : (v, 4)
        }
        return bad
    }

    /// The scalar that ends just before byte `i` (for `\b` and `(?m)^`), or nil at 0.
    static func previous(_ t: UnsafeBufferPointer<UInt8>, _ i: Int) -> UInt32? {
        guard i > 0 else { return nil }
        var s = i - 1
        while s > 0 && i - s < 4 && t[s] & 0xC0 == 0x80 { s -= 1 }
        let (v, n) = decode(t, s)
        return s + n == i ? v : 0x110000
    }

    private func run(_ text: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = program.count
        return withUnsafeTemporaryAllocation(of: Int32.self, capacity: 4 * n + 2) { buf in
            // Two thread lists (dense arrays with a sparse membership index each).
            let cur = UnsafeMutableBufferPointer(rebasing: buf[0..<n])
            let next = UnsafeMutableBufferPointer(rebasing: buf[n..<2 * n])
            let mark = UnsafeMutableBufferPointer(rebasing: buf[2 * n..<3 * n])
            let stack = UnsafeMutableBufferPointer(rebasing: buf[3 * n..<4 * n])
            mark.initialize(repeating: -1)
            var curCount = 0, nextCount = 0
            var generation: Int32 = 0
            var pos = 0
            var prev: UInt32? = nil
            let end = text.count
            while true {
                let (ch, len) = pos < end ? Self.decode(text, pos) : (UInt32.max, 0)
                let nextScalar: UInt32? = pos < end ? ch : nil
                // Follow jumps, splits and assertions from `start` into list `into`.
                func add(_ start: Int32, _ into: UnsafeMutableBufferPointer<Int32>, _ count: inout Int) -> Bool {
                    var top = 0
                    stack[top] = start; top += 1
                    while top > 0 {
                        top -= 1
                        let pc = Int(stack[top])
                        if mark[pc] == generation { continue }
                        mark[pc] = generation
                        switch program[pc] {
                        case .match: return true
                        case .char:
                            into[count] = Int32(pc); count += 1
                        case .jump(let a):
                            stack[top] = a; top += 1
                        case .split(let a, let b):
                            stack[top] = b; top += 1
                            stack[top] = a; top += 1
                        case .assert(let a):
                            if holds(a, prev: prev, next: nextScalar) { stack[top] = Int32(pc + 1); top += 1 }
                        }
                    }
                    return false
                }
                // Threads carried from the previous step are closed here, at this position.
                var closed = 0
                var k = 0
                while k < curCount {
                    if add(cur[k], next, &closed) { return true }
                    k += 1
                }
                if pos == 0 || !anchoredAtStart {
                    if add(0, next, &closed) { return true }
                }
                if closed == 0 && (anchoredAtStart || pos >= end) { return false }
                if pos >= end { return false }
                // Step every thread over this scalar.
                nextCount = 0
                for j in 0..<closed {
                    let pc = Int(next[j])
                    if case .char(let c) = program[pc], classes[Int(c)].contains(ch) {
                        cur[nextCount] = Int32(pc + 1); nextCount += 1
                    }
                }
                curCount = nextCount
                generation += 1
                prev = ch
                pos += len
            }
        }
    }

    @inline(__always) private func holds(_ a: Assertion, prev: UInt32?, next: UInt32?) -> Bool {
        switch a {
        case .textStart: return prev == nil
        case .textEnd: return next == nil
        case .lineStart: return prev == nil || prev == 0x0A
        case .lineEnd: return next == nil || next == 0x0A
        case .wordBoundary, .notWordBoundary:
            let boundary = CharClass.isWord(prev) != CharClass.isWord(next)
            return boundary == (a == .wordBoundary)
        }
    }

    // MARK: - Syntax

    indirect enum Node {
        case empty
        case literal(Unicode.Scalar)
        case set(CharClass)
        case assertion(Assertion)
        case concat([Node])
        case alternation([Node])
        case repeated(Node, min: Int, max: Int?)
    }

    struct Flags { var caseless = false, multiline = false, dotAll = false, verbose = false }

    struct Parser {
        let scalars: [Unicode.Scalar]
        var at = 0
        var depth = 0
        static let maxDepth = 128
        static let maxCount = ByteRegex.maxProgram

        var peek: Unicode.Scalar? { at < scalars.count ? scalars[at] : nil }
        func error(_ m: String, _ o: Int? = nil) -> SyntaxError { SyntaxError(message: m, offset: o ?? at) }

        mutating func parseAll() throws(SyntaxError) -> Node {
            var flags = Flags()
            let n = try parseAlternation(&flags)
            if at < scalars.count { throw error("unopened group: ')'") }
            return n
        }

        mutating func skipVerbose(_ f: Flags) {
            guard f.verbose else { return }
            while let c = peek {
                if c.properties.isWhitespace { at += 1 } else if c == "#" {
                    while let d = peek, d != "\n" { at += 1 }
                } else { return }
            }
        }

        mutating func parseAlternation(_ flags: inout Flags) throws(SyntaxError) -> Node {
            var alts: [Node] = []
            while true {
                alts.append(try parseConcat(&flags))
                guard peek == "|" else { break }
                at += 1
            }
            return alts.count == 1 ? alts[0] : .alternation(alts)
        }

        mutating func parseConcat(_ flags: inout Flags) throws(SyntaxError) -> Node {
            var items: [Node] = []
            while true {
                skipVerbose(flags)
                guard let c = peek, c != "|", c != ")" else { break }
                guard var atom = try parseAtom(&flags) else { continue } // a flag group `(?i)`
                while true {
                    skipVerbose(flags)
                    guard let bounds = try parseQuantifier() else { break }
                    if peek == "?" { at += 1 } // lazy: the same answer to "is there a match"
                    atom = .repeated(atom, min: bounds.0, max: bounds.1)
                }
                items.append(atom)
            }
            if items.isEmpty { return .empty }
            return items.count == 1 ? items[0] : .concat(items)
        }

        /// `*` `+` `?` `{n}` `{n,}` `{n,m}` at the cursor (consumed), or nil.
        mutating func parseQuantifier() throws(SyntaxError) -> (Int, Int?)? {
            switch peek {
            case "*": at += 1; return (0, nil)
            case "+": at += 1; return (1, nil)
            case "?": at += 1; return (0, 1)
            case "{":
                let start = at
                at += 1
                func number() throws(SyntaxError) -> Int? {
                    while peek == " " { at += 1 }
                    var n = 0, digits = 0
                    while let c = peek, c >= "0" && c <= "9" {
                        n = min(n * 10 + Int(c.value - 48), 1_000_000); digits += 1; at += 1
                    }
                    while peek == " " { at += 1 }
                    return digits > 0 ? n : nil
                }
                guard let lo = try number() else { throw error("repetition quantifier expects a valid decimal", start) }
                var hi: Int? = lo
                if peek == "," {
                    at += 1
                    hi = try number()
                }
                guard peek == "}" else { throw error("unclosed counted repetition", start) }
                at += 1
                if let h = hi, h < lo { throw error("invalid repetition range {\(lo),\(h)}", start) }
                if lo > Self.maxCount || (hi ?? 0) > Self.maxCount {
                    throw error("the regular expression is too large once its repetitions are expanded", start)
                }
                return (lo, hi)
            default: return nil
            }
        }

        /// One atom, or nil for a flag group `(?i)` that only sets flags.
        mutating func parseAtom(_ flags: inout Flags) throws(SyntaxError) -> Node? {
            let start = at
            let c = scalars[at]
            at += 1
            switch c {
            case ".":
                return .set(flags.dotAll ? CharClass.anything : CharClass.anything.subtracting(CharClass.scalar(0x0A)))
            case "^": return .assertion(flags.multiline ? .lineStart : .textStart)
            case "$": return .assertion(flags.multiline ? .lineEnd : .textEnd)
            case "(":
                depth += 1
                defer { depth -= 1 }
                guard depth <= Self.maxDepth else { throw error("the regular expression nests too deeply", start) }
                var inner = flags
                if peek == "?" {
                    at += 1
                    if peek == "P" || peek == "<" {
                        if peek == "P" { at += 1 }
                        guard peek == "<" else { throw error("unrecognized flag", at) }
                        if at + 1 < scalars.count, scalars[at + 1] == "=" || scalars[at + 1] == "!" {
                            throw error("look-around, including look-ahead and look-behind, is not supported", start)
                        }
                        at += 1
                        let nameStart = at
                        while let d = peek, d != ">" {
                            guard d.properties.isAlphabetic || d == "_" || (d >= "0" && d <= "9" && at > nameStart)
                                    || ((d == "." || d == "[" || d == "]") && at > nameStart) else {
                                throw error("invalid capture group name", at)
                            }
                            at += 1
                        }
                        guard peek == ">", at > nameStart else { throw error("invalid capture group name", nameStart) }
                        at += 1
                    } else if peek == "=" || peek == "!" {
                        throw error("look-around, including look-ahead and look-behind, is not supported", start)
                    } else {
                        // Flags: `(?flags)` for the rest of this group, `(?flags:...)` for its own.
                        var negate = false, any = false
                        while true {
                            guard let f = peek else { throw error("unclosed group", start) }
                            at += 1
                            switch f {
                            case "i": inner.caseless = !negate; any = true
                            case "m": inner.multiline = !negate; any = true
                            case "s": inner.dotAll = !negate; any = true
                            case "x": inner.verbose = !negate; any = true
                            case "U": any = true // greed does not change whether there is a match
                            case "u":
                                if negate { throw error("(?-u) (matching bytes, not characters) is not supported", at - 1) }
                                any = true
                            case "R": throw error("the CRLF flag (?R) is not supported", at - 1)
                            case "-":
                                if negate { throw error("repeated negation in flags", at - 1) }
                                negate = true
                            case ")":
                                if negate && scalars[at - 2] == "-" { throw error("missing flag after '-'", at - 1) }
                                if !any && !negate { throw error("empty flag group", start) }
                                flags = inner
                                return nil
                            case ":":
                                if negate && scalars[at - 2] == "-" { throw error("missing flag after '-'", at - 1) }
                                let n = try parseAlternation(&inner)
                                guard peek == ")" else { throw error("unclosed group", start) }
                                at += 1
                                return n
                            default:
                                throw error("unrecognized flag '\(f)'", at - 1)
                            }
                        }
                    }
                }
                let n = try parseAlternation(&inner)
                guard peek == ")" else { throw error("unclosed group", start) }
                at += 1
                return n
            case ")": throw error("unopened group", start)
            case "[": return .set(try parseClass(flags, start: start))
            case "\\": return try parseEscape(flags, inClass: false)
            case "*", "+", "?", "{": throw error("repetition operator missing expression", start)
            default:
                return literal(c, flags)
            }
        }

        func literal(_ c: Unicode.Scalar, _ flags: Flags) -> Node {
            flags.caseless ? .set(CharClass.scalar(c.value).caseless()) : .literal(c)
        }

        /// After `\`: an escape, a class or an assertion.
        mutating func parseEscape(_ flags: Flags, inClass: Bool) throws(SyntaxError) -> Node {
            let start = at - 1
            guard let c = peek else { throw error("incomplete escape sequence", start) }
            at += 1
            func lit(_ v: UInt32) throws(SyntaxError) -> Node {
                guard let s = Unicode.Scalar(v) else { throw error("invalid Unicode scalar value", start) }
                return literal(s, flags)
            }
            switch c {
            case "d", "D", "w", "W", "s", "S":
                let base: CharClass = c == "d" || c == "D" ? .digit : c == "w" || c == "W" ? .word : .space
                return .set(c.properties.isUppercase ? base.negated() : base)
            case "p", "P":
                var name = ""
                if peek == "{" {
                    at += 1
                    while let d = peek, d != "}" { name.unicodeScalars.append(d); at += 1 }
                    guard peek == "}" else { throw error("unclosed Unicode class", start) }
                    at += 1
                } else if let d = peek {
                    name = String(d); at += 1
                } else {
                    throw error("incomplete escape sequence", start)
                }
                guard var cls = CharClass.unicode(name) else { throw error("unsupported Unicode class '\(name)'", start) }
                if flags.caseless { cls = cls.caseless() }
                return .set(c == "P" ? cls.negated() : cls)
            case "b", "B", "A", "z":
                if inClass { throw error("unrecognized escape sequence", start) }
                switch c {
                case "b": return .assertion(.wordBoundary)
                case "B": return .assertion(.notWordBoundary)
                case "A": return .assertion(.textStart)
                default: return .assertion(.textEnd)
                }
            case "n": return try lit(0x0A)
            case "t": return try lit(0x09)
            case "r": return try lit(0x0D)
            case "f": return try lit(0x0C)
            case "v": return try lit(0x0B)
            case "a": return try lit(0x07)
            case "x", "u", "U":
                let width = c == "x" ? 2 : c == "u" ? 4 : 8
                var digits = ""
                if peek == "{" {
                    at += 1
                    while let d = peek, d != "}" { digits.unicodeScalars.append(d); at += 1 }
                    guard peek == "}" else { throw error("unclosed hexadecimal escape", start) }
                    at += 1
                } else {
                    for _ in 0..<width {
                        guard let d = peek else { throw error("incomplete hexadecimal escape", start) }
                        digits.unicodeScalars.append(d); at += 1
                    }
                }
                guard !digits.isEmpty, digits.count <= 8, let v = UInt32(digits, radix: 16) else { throw error("invalid hexadecimal escape", start) }
                return try lit(v)
            default:
                // Escaped punctuation stands for itself; other escapes mean nothing here.
                if c.isASCII && !(c.properties.isAlphabetic || (c >= "0" && c <= "9")) && c.value >= 0x20 && c.value < 0x7F {
                    return literal(c, flags)
                }
                throw error("unrecognized escape sequence '\\\(c)'", start)
            }
        }

        /// After `[`: a class, with nested classes and `&&` `--` `~~`.
        mutating func parseClass(_ flags: Flags, start: Int) throws(SyntaxError) -> CharClass {
            CharClass(try parseClassExpression(flags, start: start))
        }

        /// A class's members are gathered and its expression built once when it closes:
        /// making a CharClass per member (its ASCII bitmap over the whole expression so far)
        /// cost the square of the class's length.
        mutating func parseClassExpression(_ flags: Flags, start: Int) throws(SyntaxError) -> CharClass.Expr {
            // A set operation nests its operands one level deeper: both count against the
            // nesting bound, which keeps a membership test's recursion shallow.
            var operations = 0
            depth += 1
            defer { depth -= 1 + operations }
            guard depth <= Self.maxDepth else { throw error("the regular expression nests too deeply", start) }
            var negated = false
            if peek == "^" { negated = true; at += 1 }
            var pending: (op: Unicode.Scalar, left: CharClass.Expr)? = nil
            var ranges: [(UInt32, UInt32)] = []
            var sets: [CharClass.Expr] = []
            var first = true
            func close() -> CharClass.Expr {
                let u = CharClass.Expr.union(of: [.ranges(ranges)] + sets)
                guard let p = pending else { return u }
                switch p.op {
                case "&": return .intersection(p.left, u)
                case "-": return .intersection(p.left, .not(u))
                default: return .symmetricDifference(p.left, u)
                }
            }
            while true {
                guard let c = peek else { throw error("unclosed character class", start) }
                if c == "]" && !first {
                    at += 1
                    break
                }
                first = false
                // Set operators: `&&`, `--`, `~~`.
                if (c == "&" || c == "-" || c == "~"), at + 1 < scalars.count, scalars[at + 1] == c {
                    at += 2
                    operations += 1
                    depth += 1
                    guard depth <= Self.maxDepth else { throw error("the regular expression nests too deeply", at - 2) }
                    let left = close()
                    pending = (c, left)
                    ranges = []
                    sets = []
                    continue
                }
                if c == "[" {
                    // `[:alpha:]` or a nested class.
                    if at + 1 < scalars.count, scalars[at + 1] == ":" , let (cls, end) = posixClass(at) {
                        at = end
                        sets.append(cls.expr)
                        continue
                    }
                    at += 1
                    sets.append(try parseClassExpression(flags, start: at - 1))
                    continue
                }
                var low: UInt32
                at += 1
                if c == "\\" {
                    let e = try parseEscape(Flags(), inClass: true)
                    switch e {
                    case .literal(let s): low = s.value
                    case .set(let cls):
                        sets.append(cls.expr)
                        continue
                    default: throw error("unrecognized escape sequence", at - 2)
                    }
                } else {
                    low = c.value
                }
                // A range `a-z` (a `-` before `]` is itself).
                if peek == "-", at + 1 < scalars.count, scalars[at + 1] != "]", scalars[at + 1] != "-" {
                    at += 1
                    let hs = scalars[at]
                    at += 1
                    var high = hs.value
                    if hs == "\\" {
                        guard case .literal(let s) = try parseEscape(Flags(), inClass: true) else {
                            throw error("invalid range boundary", at - 2)
                        }
                        high = s.value
                    } else if hs == "[" {
                        throw error("invalid range boundary", at - 1)
                    }
                    guard high >= low else { throw error("invalid character class range", at - 1) }
                    ranges.append((low, high))
                } else {
                    ranges.append((low, low))
                }
            }
            // As Rust's regex: each bracket folds case, then negates.
            var cls = close()
            if flags.caseless { cls = .caseless(cls) }
            return negated ? .not(cls) : cls
        }

        /// `[:name:]` (or `[:^name:]`) starting at `i`: the class and the index after it.
        func posixClass(_ i: Int) -> (CharClass, Int)? {
            var j = i + 2
            var negate = false
            if j < scalars.count, scalars[j] == "^" { negate = true; j += 1 }
            var name = ""
            while j < scalars.count, scalars[j] != ":" { name.unicodeScalars.append(scalars[j]); j += 1 }
            guard j + 1 < scalars.count, scalars[j + 1] == "]" else { return nil }
            let ranges: [(UInt32, UInt32)]
            switch name {
            case "alnum": ranges = [(0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)]
            case "alpha": ranges = [(0x41, 0x5A), (0x61, 0x7A)]
            case "ascii": ranges = [(0, 0x7F)]
            case "blank": ranges = [(0x09, 0x09), (0x20, 0x20)]
            case "cntrl": ranges = [(0, 0x1F), (0x7F, 0x7F)]
            case "digit": ranges = [(0x30, 0x39)]
            case "graph": ranges = [(0x21, 0x7E)]
            case "lower": ranges = [(0x61, 0x7A)]
            case "print": ranges = [(0x20, 0x7E)]
            case "punct": ranges = [(0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E)]
            case "space": ranges = [(0x09, 0x0D), (0x20, 0x20)]
            case "upper": ranges = [(0x41, 0x5A)]
            case "word": ranges = [(0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A), (0x5F, 0x5F)]
            case "xdigit": ranges = [(0x30, 0x39), (0x41, 0x46), (0x61, 0x66)]
            default: return nil
            }
            let cls = CharClass(.ranges(ranges))
            return (negate ? cls.negated() : cls, j + 2)
        }
    }

    struct Compiler {
        var program: [Inst] = []
        var classes: [CharClass] = []

        mutating func emit(_ n: Node) throws(SyntaxError) {
            guard program.count <= ByteRegex.maxProgram else {
                throw SyntaxError(message: "the regular expression is too large once its repetitions are expanded", offset: 0)
            }
            switch n {
            case .empty: break
            case .literal(let s):
                classes.append(.scalar(s.value))
                program.append(.char(Int32(classes.count - 1)))
            case .set(let c):
                classes.append(c)
                program.append(.char(Int32(classes.count - 1)))
            case .assertion(let a): program.append(.assert(a))
            case .concat(let items): for i in items { try emit(i) }
            case .alternation(let alts):
                var jumps: [Int] = []
                for (k, a) in alts.enumerated() {
                    if k < alts.count - 1 {
                        let split = program.count
                        program.append(.split(0, 0))
                        try emit(a)
                        jumps.append(program.count)
                        program.append(.jump(0))
                        program[split] = .split(Int32(split + 1), Int32(program.count))
                    } else {
                        try emit(a)
                    }
                }
                for j in jumps { program[j] = .jump(Int32(program.count)) }
            case .repeated(let inner, let lo, let hi):
                for _ in 0..<lo { try emit(inner) }
                if let hi {
                    var splits: [Int] = []
                    for _ in lo..<hi {
                        splits.append(program.count)
                        program.append(.split(0, 0))
                        try emit(inner)
                    }
                    for s in splits { program[s] = .split(Int32(s + 1), Int32(program.count)) }
                } else {
                    let split = program.count
                    program.append(.split(0, 0))
                    try emit(inner)
                    program.append(.jump(Int32(split)))
                    program[split] = .split(Int32(split + 1), Int32(program.count))
                }
            }
        }
    }
}

/// A set of Unicode scalars: an expression over ranges and Unicode properties, with its
/// ASCII part as a bitmap (the common case tested without walking the expression).
struct CharClass: Sendable {
    indirect enum Expr: Sendable {
        case ranges([(UInt32, UInt32)])
        case digit, word, space, any
        case category(Set<Unicode.GeneralCategory>)
        case property(String)
        case not(Expr)
        case union(Expr, Expr)
        case intersection(Expr, Expr)
        /// In exactly one of the two (`~~`); its own case so that each side is tested once.
        case symmetricDifference(Expr, Expr)
        case caseless(Expr)

        /// The union of `parts` as a balanced tree, so that evaluating it recurses only
        /// logarithmically deep however many parts a class has.
        static func union(of parts: [Expr]) -> Expr {
            switch parts.count {
            case 0: return .ranges([])
            case 1: return parts[0]
            default:
                let mid = parts.count / 2
                return .union(union(of: Array(parts[..<mid])), union(of: Array(parts[mid...])))
            }
        }
    }
    let expr: Expr
    /// Membership of scalars 0-63 and 64-127.
    let low: UInt64, high: UInt64
    /// No member outside ASCII.
    let asciiOnly: Bool
    /// Folds case somewhere (membership is decided over case variants).
    let foldsCase: Bool

    init(_ e: Expr) {
        expr = e
        foldsCase = Self.folds(e)
        var l: UInt64 = 0, h: UInt64 = 0
        for v in UInt32(0)..<128 where Self.eval(e, v, folds: foldsCase) {
            if v < 64 { l |= 1 << UInt64(v) } else { h |= 1 << UInt64(v - 64) }
        }
        low = l; high = h
        asciiOnly = Self.ascii(e)
    }

    static let anything = CharClass(.any)
    static let digit = CharClass(.digit)
    static let word = CharClass(.word)
    static let space = CharClass(.space)
    static func scalar(_ v: UInt32) -> CharClass { CharClass(.ranges([(v, v)])) }
    static func range(_ a: UInt32, _ b: UInt32) -> CharClass { CharClass(.ranges([(a, b)])) }
    func negated() -> CharClass { CharClass(.not(expr)) }
    func subtracting(_ o: CharClass) -> CharClass { CharClass(.intersection(expr, .not(o.expr))) }
    func caseless() -> CharClass { CharClass(.caseless(expr)) }

    /// `\p{..}` names: general categories (short and long names) and a few binary properties.
    static func unicode(_ name: String) -> CharClass? {
        let key = name.replacingOccurrences(of: " ", with: "").replacingOccurrences(of: "_", with: "").lowercased()
        typealias G = Unicode.GeneralCategory
        let groups: [String: [G]] = [
            "l": [.uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter], "letter": [.uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter],
            "lu": [.uppercaseLetter], "uppercaseletter": [.uppercaseLetter], "ll": [.lowercaseLetter], "lowercaseletter": [.lowercaseLetter],
            "lt": [.titlecaseLetter], "titlecaseletter": [.titlecaseLetter], "lm": [.modifierLetter], "modifierletter": [.modifierLetter],
            "lo": [.otherLetter], "otherletter": [.otherLetter],
            "lc": [.uppercaseLetter, .lowercaseLetter, .titlecaseLetter], "casedletter": [.uppercaseLetter, .lowercaseLetter, .titlecaseLetter],
            "m": [.nonspacingMark, .spacingMark, .enclosingMark], "mark": [.nonspacingMark, .spacingMark, .enclosingMark],
            "mn": [.nonspacingMark], "mc": [.spacingMark], "me": [.enclosingMark],
            "n": [.decimalNumber, .letterNumber, .otherNumber], "number": [.decimalNumber, .letterNumber, .otherNumber],
            "nd": [.decimalNumber], "decimalnumber": [.decimalNumber], "nl": [.letterNumber], "no": [.otherNumber],
            "p": [.connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation, .finalPunctuation, .otherPunctuation],
            "punctuation": [.connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation, .finalPunctuation, .otherPunctuation],
            "pc": [.connectorPunctuation], "pd": [.dashPunctuation], "ps": [.openPunctuation], "pe": [.closePunctuation],
            "pi": [.initialPunctuation], "pf": [.finalPunctuation], "po": [.otherPunctuation],
            "s": [.mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol], "symbol": [.mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol],
            "sm": [.mathSymbol], "sc": [.currencySymbol], "sk": [.modifierSymbol], "so": [.otherSymbol],
            "z": [.spaceSeparator, .lineSeparator, .paragraphSeparator], "separator": [.spaceSeparator, .lineSeparator, .paragraphSeparator],
            "zs": [.spaceSeparator], "zl": [.lineSeparator], "zp": [.paragraphSeparator],
            "c": [.control, .format, .surrogate, .privateUse, .unassigned], "other": [.control, .format, .surrogate, .privateUse, .unassigned],
            "cc": [.control], "control": [.control], "cf": [.format], "format": [.format], "co": [.privateUse], "cn": [.unassigned], "cs": [.surrogate],
        ]
        if let g = groups[key] { return CharClass(.category(Set(g))) }
        switch key {
        case "any": return .anything
        case "ascii": return .range(0, 0x7F)
        case "alphabetic", "alpha", "whitespace", "space", "uppercase", "upper", "lowercase", "lower":
            return CharClass(.property(key))
        default: return nil
        }
    }

    static func ascii(_ e: Expr) -> Bool {
        switch e {
        case .ranges(let rs): return rs.allSatisfy { $0.1 < 0x80 }
        case .intersection(let a, let b): return ascii(a) || ascii(b)
        case .union(let a, let b), .symmetricDifference(let a, let b): return ascii(a) && ascii(b)
        case .caseless(let a):
            // The Kelvin sign and the long s fold to k and s.
            guard ascii(a) else { return false }
            return !(eval(a, 0x6B) || eval(a, 0x4B) || eval(a, 0x73) || eval(a, 0x53))
        default: return false
        }
    }

    @inline(__always) func contains(_ v: UInt32) -> Bool {
        if v < 64 { return low >> UInt64(v) & 1 != 0 }
        if v < 128 { return high >> UInt64(v - 64) & 1 != 0 }
        if v > 0x10FFFF || asciiOnly { return false }
        return Self.eval(expr, v, folds: foldsCase)
    }

    static func isWord(_ v: UInt32?) -> Bool {
        guard let v else { return false }
        return v <= 0x10FFFF && eval(.word, v)
    }

    static func eval(_ e: Expr, _ v: UInt32) -> Bool { eval(e, v, folds: folds(e)) }

    /// Whether `e` folds case anywhere (then membership is decided over `v`'s case variants).
    static func folds(_ e: Expr) -> Bool {
        switch e {
        case .caseless: return true
        case .not(let a): return folds(a)
        case .union(let a, let b), .intersection(let a, let b), .symmetricDifference(let a, let b): return folds(a) || folds(b)
        default: return false
        }
    }

    /// Membership of `v`. Under case folding every node is decided for all of `v`'s case
    /// variants at once (a bit each), so each node is visited once: testing the variants
    /// node by node multiplied the work by the variants at each nested folded class.
    static func eval(_ e: Expr, _ v: UInt32, folds: Bool) -> Bool {
        guard v <= 0x10FFFF else { return false }
        guard folds else { return leaf(e, v) ?? (members(e, [v]) & 1 != 0) }
        return members(e, [v] + caseVariants(v).filter { $0 != v }.prefix(31)) & 1 != 0
    }

    /// Bit i set: `orbit[i]` is in `e`. The orbit is one set of case variants, so a folded
    /// node holds all of them or none.
    static func members(_ e: Expr, _ orbit: [UInt32]) -> UInt32 {
        let all: UInt32 = orbit.count >= 32 ? .max : (1 << UInt32(orbit.count)) - 1
        switch e {
        case .not(let a): return ~members(a, orbit) & all
        case .union(let a, let b): return members(a, orbit) | members(b, orbit)
        case .intersection(let a, let b): return members(a, orbit) & members(b, orbit)
        case .symmetricDifference(let a, let b): return members(a, orbit) ^ members(b, orbit)
        case .caseless(let a): return members(a, orbit) != 0 ? all : 0
        default:
            var m: UInt32 = 0
            for (i, w) in orbit.enumerated() where leaf(e, w) == true { m |= 1 << UInt32(i) }
            return m
        }
    }

    /// Membership in a node without operands; nil for the others.
    static func leaf(_ e: Expr, _ v: UInt32) -> Bool? {
        switch e {
        case .ranges(let rs): return rs.contains { v >= $0.0 && v <= $0.1 }
        case .any: return true
        case .digit:
            if v < 0x80 { return v >= 0x30 && v <= 0x39 }
            return Unicode.Scalar(v)?.properties.generalCategory == .decimalNumber
        case .word:
            if v < 0x80 { return (v >= 0x30 && v <= 0x39) || (v >= 0x41 && v <= 0x5A) || (v >= 0x61 && v <= 0x7A) || v == 0x5F }
            guard let p = Unicode.Scalar(v)?.properties else { return false }
            switch p.generalCategory {
            case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
            default: return p.isAlphabetic || p.isJoinControl
            }
        case .space:
            if v < 0x80 { return (v >= 0x09 && v <= 0x0D) || v == 0x20 }
            return Unicode.Scalar(v)?.properties.isWhitespace ?? false
        case .category(let set):
            guard let s = Unicode.Scalar(v) else { return set.contains(.surrogate) }
            return set.contains(s.properties.generalCategory)
        case .property(let name):
            guard let p = Unicode.Scalar(v)?.properties else { return false }
            switch name {
            case "alphabetic", "alpha": return p.isAlphabetic
            case "whitespace", "space": return p.isWhitespace
            case "uppercase", "upper": return p.isUppercase
            default: return p.isLowercase
            }
        default: return nil
        }
    }

    /// The scalars that simple case folding makes equal to `v` (its case mappings of one
    /// scalar, and theirs: ſ, S and s are one).
    static func caseVariants(_ v: UInt32) -> [UInt32] {
        func mappings(_ v: UInt32) -> [UInt32] {
            guard let s = Unicode.Scalar(v) else { return [] }
            if v < 0x80 {
                if v >= 0x41 && v <= 0x5A { return [v + 32] }
                if v >= 0x61 && v <= 0x7A { return [v - 32] }
                return []
            }
            let p = s.properties
            return [p.lowercaseMapping, p.uppercaseMapping, p.titlecaseMapping].compactMap { m in
                let scalars = Array(m.unicodeScalars)
                return scalars.count == 1 ? scalars[0].value : nil
            }
        }
        var out: [UInt32] = []
        var frontier = [v]
        for _ in 0..<2 {
            var next: [UInt32] = []
            for w in frontier { for m in mappings(w) where m != v && !out.contains(m) { out.append(m); next.append(m) } }
            frontier = next
        }
        // Non-ASCII scalars whose case folding is ASCII.
        switch v {
        case 0x6B, 0x4B: out.append(0x212A)  // k K: the Kelvin sign
        case 0x73, 0x53: out.append(0x17F)   // s S: the long s
        default: break
        }
        return out
    }
}
