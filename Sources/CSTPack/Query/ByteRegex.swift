import Foundation

/// The regular expressions of `#match?` predicates, run on a node's bytes without making a
/// String. Grammar queries use a small ASCII subset (`^[A-Z]`, `^(abs|all|…)$`); this
/// compiles that subset to a backtracking program. Anything outside it, non-ASCII text, or
/// a search that runs past its step bound answers `nil`, and the caller asks
/// NSRegularExpression (ICU), whose semantics these follow: `.` stops at line terminators,
/// `$` also matches before a final line terminator, `\w` `\d` `\s` on ASCII.
struct ByteRegex {
    enum Op {
        case byte(UInt8)
        case set(Int)          // offset of the set's four words in `setBits`
        case any               // `.`: any byte but a line terminator
        case split(Int, Int)   // try the first, then the second
        case jump(Int)
        case start, end        // `^`, `$`
        case match
    }

    private var program: [Op] = []
    /// Byte sets, four 64-bit words each.
    private var setBits: [UInt64] = []
    private var anchoredAtStart = false
    /// For a pattern that starts `^` then a byte or set: that set's offset in `setBits`.
    private var firstByte: Int? = nil
    /// For `^(word|word|…)$`: the words by length (`^(abs|all|…)$` on every call's name
    /// would otherwise try each alternative in turn).
    private var literalsByLength: [Int: [[UInt8]]]? = nil
    static let stepLimit = 20_000
    static let maxThreads = 256
    static let maxProgram = 4_096

    /// nil when the pattern is outside the supported subset.
    init?(_ pattern: String) {
        var p = Parser(bytes: Array(pattern.utf8))
        guard p.bytes.allSatisfy({ $0 < 0x80 }), let tree = p.parseAlternation(), p.at == p.bytes.count else { return nil }
        var out: [Op] = []
        var sets: [[Bool]] = []
        guard Self.emit(tree, into: &out, sets: &sets) else { return nil }
        out.append(.match)
        guard out.count <= Self.maxProgram else { return nil }
        for m in sets { setBits += Self.words(m) }
        program = out.map { if case .set(let i) = $0 { return .set(i * 4) } else { return $0 } }
        if case .start = out.first { anchoredAtStart = true }
        if let words = Self.anchoredWords(tree) { literalsByLength = Dictionary(grouping: words, by: \.count) }
        if anchoredAtStart, out.count > 1 {
            switch program[1] {
            case .byte(let b):
                firstByte = setBits.count
                setBits += Self.words(Parser.bitmap([b]))
            case .set(let offset): firstByte = offset
            default: break
            }
        }
    }

    /// Whether the pattern matches somewhere in `text`; nil when the answer needs ICU.
    func firstMatch(in text: UnsafeBufferPointer<UInt8>) -> Bool? {
        // Most texts fail an anchored pattern's first test (`^[A-Z]` on `self`).
        if let first = firstByte {
            guard let b = text.first, inSet(first, b) else { return false }
        }
        if text.contains(where: { $0 >= 0x80 }) { return nil }
        if let byLength = literalsByLength {
            // `$` also matches before one final line terminator (or CR LF).
            func isWord(_ n: Int) -> Bool {
                byLength[n]?.contains { w in n == 0 || w.withUnsafeBufferPointer { memcmp($0.baseAddress!, text.baseAddress!, n) == 0 } } ?? false
            }
            let n = text.count
            if isWord(n) { return true }
            if n >= 1, Self.isLineTerminator(text[n - 1]), isWord(n - 1) { return true }
            return n >= 2 && text[n - 2] == 0x0D && text[n - 1] == 0x0A && isWord(n - 2)
        }
        return withUnsafeTemporaryAllocation(of: (pc: Int, pos: Int).self, capacity: Self.maxThreads) { stack in
            run(text, stack)
        }
    }

    private func run(_ text: UnsafeBufferPointer<UInt8>, _ stack: UnsafeMutableBufferPointer<(pc: Int, pos: Int)>) -> Bool? {
        var steps = 0
        let lastStart = anchoredAtStart ? 0 : text.count
        for begin in 0...lastStart {
            var depth = 1
            stack[0] = (0, begin)
            while depth > 0 {
                depth -= 1
                var (pc, pos) = stack[depth]
                thread: while true {
                    steps += 1
                    if steps > Self.stepLimit { return nil }
                    switch program[pc] {
                    case .byte(let b):
                        guard pos < text.count, text[pos] == b else { break thread }
                        pc += 1; pos += 1
                    case .set(let s):
                        guard pos < text.count else { break thread }
                        guard inSet(s, text[pos]) else { break thread }
                        pc += 1; pos += 1
                    case .any:
                        guard pos < text.count, !Self.isLineTerminator(text[pos]) else { break thread }
                        pc += 1; pos += 1
                    case .split(let a, let b):
                        guard depth < stack.count else { return nil }
                        stack[depth] = (b, pos)
                        depth += 1
                        pc = a
                    case .jump(let a):
                        pc = a
                    case .start:
                        guard pos == 0 else { break thread }
                        pc += 1
                    case .end:
                        let n = text.count
                        let atEnd = pos == n
                            || (pos == n - 1 && Self.isLineTerminator(text[pos]))
                            || (pos == n - 2 && text[pos] == 0x0D && text[pos + 1] == 0x0A)
                        guard atEnd else { break thread }
                        pc += 1
                    case .match:
                        return true
                    }
                }
            }
        }
        return false
    }

    static func isLineTerminator(_ b: UInt8) -> Bool { b >= 0x0A && b <= 0x0D }

    @inline(__always) private func inSet(_ offset: Int, _ b: UInt8) -> Bool {
        setBits[offset + Int(b) >> 6] & (1 << UInt64(b & 63)) != 0
    }

    /// A byte set as the four 64-bit words `setBits` holds.
    static func words(_ members: [Bool]) -> [UInt64] {
        var w = [UInt64](repeating: 0, count: 4)
        for b in 0..<256 where members[b] { w[b >> 6] |= 1 << UInt64(b & 63) }
        return w
    }

    /// The words of a pattern `^word$` or `^(word|word|…)$`, or nil.
    static func anchoredWords(_ tree: Node) -> [[UInt8]]? {
        guard case .sequence(let parts) = tree, parts.count == 3, case .start = parts[0], case .end = parts[2] else { return nil }
        func word(_ n: Node) -> [UInt8]? {
            switch n {
            case .byte(let b): return [b]
            case .sequence(let items):
                var w: [UInt8] = []
                for i in items { guard case .byte(let b) = i else { return nil }; w.append(b) }
                return w
            default: return nil
            }
        }
        if case .alternation(let alts) = parts[1] {
            var words: [[UInt8]] = []
            for a in alts { guard let w = word(a) else { return nil }; words.append(w) }
            return words
        }
        return word(parts[1]).map { [$0] }
    }

    // MARK: - Parsing

    indirect enum Node {
        case byte(UInt8), set([Bool]), any, start, end
        case sequence([Node])
        case alternation([Node])
        case repeated(Node, min: Int, max: Int?) // max nil: unbounded
    }

    struct Parser {
        let bytes: [UInt8]
        var at = 0
        var depth = 0
        static let maxDepth = 64
        var peek: UInt8? { at < bytes.count ? bytes[at] : nil }

        mutating func parseAlternation() -> Node? {
            var alts: [Node] = []
            while true {
                guard let s = parseSequence() else { return nil }
                alts.append(s)
                guard peek == UInt8(ascii: "|") else { break }
                at += 1
            }
            return alts.count == 1 ? alts[0] : .alternation(alts)
        }

        mutating func parseSequence() -> Node? {
            var items: [Node] = []
            while let c = peek, c != UInt8(ascii: "|"), c != UInt8(ascii: ")") {
                guard var atom = parseAtom() else { return nil }
                while let q = peek, let bounds = parseQuantifier(q) {
                    // A lazy quantifier finds a match exactly when the greedy one does;
                    // possessive ones do not, so they are left to ICU.
                    if peek == UInt8(ascii: "?") { at += 1 } else if peek == UInt8(ascii: "+") { return nil }
                    atom = .repeated(atom, min: bounds.0, max: bounds.1)
                }
                items.append(atom)
            }
            return items.count == 1 ? items[0] : .sequence(items)
        }

        /// `*` `+` `?` `{n}` `{n,}` `{n,m}` at the cursor (consumed), or nil.
        mutating func parseQuantifier(_ q: UInt8) -> (Int, Int?)? {
            switch q {
            case UInt8(ascii: "*"): at += 1; return (0, nil)
            case UInt8(ascii: "+"): at += 1; return (1, nil)
            case UInt8(ascii: "?"): at += 1; return (0, 1)
            case UInt8(ascii: "{"):
                var j = at + 1
                func number() -> Int? {
                    var n = 0, digits = 0
                    while j < bytes.count, bytes[j] >= 0x30, bytes[j] <= 0x39, digits < 4 {
                        n = n * 10 + Int(bytes[j] - 0x30); j += 1; digits += 1
                    }
                    return digits > 0 ? n : nil
                }
                guard let lo = number() else { return nil }
                var hi: Int? = lo
                if j < bytes.count, bytes[j] == UInt8(ascii: ",") {
                    j += 1
                    hi = number()
                }
                guard j < bytes.count, bytes[j] == UInt8(ascii: "}"), hi.map({ $0 >= lo }) ?? true else { return nil }
                at = j + 1
                return (lo, hi)
            default: return nil
            }
        }

        mutating func parseAtom() -> Node? {
            guard let c = peek else { return nil }
            at += 1
            switch c {
            case UInt8(ascii: "."): return .any
            case UInt8(ascii: "^"): return .start
            case UInt8(ascii: "$"): return .end
            case UInt8(ascii: "("):
                // Nesting is recursion here: deep patterns are left to ICU.
                depth += 1
                defer { depth -= 1 }
                guard depth <= Self.maxDepth else { return nil }
                if peek == UInt8(ascii: "?") {
                    // Only the non-capturing group; flags and look-arounds go to ICU.
                    guard at + 1 < bytes.count, bytes[at + 1] == UInt8(ascii: ":") else { return nil }
                    at += 2
                }
                guard let inner = parseAlternation(), peek == UInt8(ascii: ")") else { return nil }
                at += 1
                return inner
            case UInt8(ascii: "["): return parseClass()
            case UInt8(ascii: "\\"): return parseEscape().map { $0.count == 1 ? .byte($0.first!) : .set(Self.bitmap($0)) }
            case UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "?"), UInt8(ascii: "{"), UInt8(ascii: "}"),
                 UInt8(ascii: "]"), UInt8(ascii: ")"):
                return nil
            default: return .byte(c)
            }
        }

        /// After `\`: the bytes it stands for, or nil when ICU must decide.
        mutating func parseEscape() -> [UInt8]? {
            guard let c = peek else { return nil }
            at += 1
            let digits = Array(UInt8(ascii: "0")...UInt8(ascii: "9"))
            let word = digits + Array(UInt8(ascii: "a")...UInt8(ascii: "z")) + Array(UInt8(ascii: "A")...UInt8(ascii: "Z")) + [UInt8(ascii: "_")]
            let space: [UInt8] = [0x20, 0x09, 0x0A, 0x0B, 0x0C, 0x0D] // as ICU answers (\v included)
            func not(_ s: [UInt8]) -> [UInt8] { (0..<128).map(UInt8.init).filter { !s.contains($0) } }
            switch c {
            case UInt8(ascii: "d"): return digits
            case UInt8(ascii: "D"): return not(digits)
            case UInt8(ascii: "w"): return word
            case UInt8(ascii: "W"): return not(word)
            case UInt8(ascii: "s"): return space
            case UInt8(ascii: "S"): return not(space)
            case UInt8(ascii: "n"): return [0x0A]
            case UInt8(ascii: "t"): return [0x09]
            case UInt8(ascii: "r"): return [0x0D]
            case UInt8(ascii: "f"): return [0x0C]
            default:
                // Escaped punctuation is itself; escaped letters and digits mean something
                // else (\b, \p, back references…) and go to ICU.
                let isAlnum = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
                return isAlnum ? nil : [c]
            }
        }

        mutating func parseClass() -> Node? {
            var members = [Bool](repeating: false, count: 256)
            var negated = false
            if peek == UInt8(ascii: "^") { negated = true; at += 1 }
            var first = true
            while true {
                guard let c = peek else { return nil }
                if c == UInt8(ascii: "]") && !first { at += 1; break }
                first = false
                // Nested sets and set operations are ICU's.
                if c == UInt8(ascii: "[") { return nil }
                if c == UInt8(ascii: "&"), at + 1 < bytes.count, bytes[at + 1] == UInt8(ascii: "&") { return nil }
                at += 1
                var lowSet: [UInt8]
                if c == UInt8(ascii: "\\") {
                    guard let e = parseEscape() else { return nil }
                    lowSet = e
                } else {
                    lowSet = [c]
                }
                // A range `a-z` (a `-` first or last is itself).
                if lowSet.count == 1, peek == UInt8(ascii: "-"), at + 1 < bytes.count, bytes[at + 1] != UInt8(ascii: "]") {
                    at += 1
                    guard let h = peek else { return nil }
                    at += 1
                    var high = h
                    if h == UInt8(ascii: "\\") {
                        guard let e = parseEscape(), e.count == 1 else { return nil }
                        high = e[0]
                    }
                    guard high >= lowSet[0] else { return nil }
                    lowSet = Array(lowSet[0]...high)
                }
                for b in lowSet { members[Int(b)] = true }
            }
            if negated {
                // ICU's negated class matches any other character, non-ASCII ones too, and
                // the text is ASCII whenever we answer.
                for i in 0..<256 { members[i].toggle() }
            }
            return .set(members)
        }

        static func bitmap(_ bytes: [UInt8]) -> [Bool] {
            var m = [Bool](repeating: false, count: 256)
            for b in bytes { m[Int(b)] = true }
            return m
        }
    }

    // MARK: - Code generation

    /// Appends the program for `node`; false when it would be too large.
    static func emit(_ node: Node, into out: inout [Op], sets: inout [[Bool]]) -> Bool {
        guard out.count <= maxProgram else { return false }
        switch node {
        case .byte(let b): out.append(.byte(b))
        case .set(let m):
            if let i = sets.firstIndex(of: m) { out.append(.set(i)) } else { sets.append(m); out.append(.set(sets.count - 1)) }
        case .any: out.append(.any)
        case .start: out.append(.start)
        case .end: out.append(.end)
        case .sequence(let items):
            for i in items where !emit(i, into: &out, sets: &sets) { return false }
        case .alternation(let alts):
            // split L1, next; L1: alt; jump end; next: split L2, next2; …
            var jumps: [Int] = []
            for (k, alt) in alts.enumerated() {
                if k < alts.count - 1 {
                    let split = out.count
                    out.append(.split(split + 1, -1))
                    guard emit(alt, into: &out, sets: &sets) else { return false }
                    jumps.append(out.count)
                    out.append(.jump(-1))
                    out[split] = .split(split + 1, out.count)
                } else {
                    guard emit(alt, into: &out, sets: &sets) else { return false }
                }
            }
            for j in jumps { out[j] = .jump(out.count) }
        case .repeated(let inner, let lo, let hi):
            for _ in 0..<lo where !emit(inner, into: &out, sets: &sets) { return false }
            if let hi {
                // Each optional copy: split body, skip.
                var skips: [Int] = []
                for _ in lo..<hi {
                    skips.append(out.count)
                    out.append(.split(out.count + 1, -1))
                    guard emit(inner, into: &out, sets: &sets) else { return false }
                }
                for s in skips { out[s] = .split(s + 1, out.count) }
            } else {
                // loop: split body, exit; body; jump loop
                let loop = out.count
                out.append(.split(loop + 1, -1))
                guard emit(inner, into: &out, sets: &sets) else { return false }
                out.append(.jump(loop))
                out[loop] = .split(loop + 1, out.count)
            }
        }
        return out.count <= maxProgram
    }
}
