import CTreeSitter
import Foundation
import XCTest
@testable import CSTPack

/// The query engine against tree-sitter's own (ts_query_cursor) on fixtures and real
/// files: the same matches with the same captures. Text predicates are client-side in
/// tree-sitter, so the harness applies them to tree-sitter's matches itself.
final class QueryTests: XCTestCase {
    struct Found: Hashable, Comparable, CustomStringConvertible {
        var pattern: Int
        var captures: [String]
        static func < (a: Found, b: Found) -> Bool { (a.pattern, a.captures.joined(separator: "|")) < (b.pattern, b.captures.joined(separator: "|")) }
        var description: String { "pattern \(pattern): \(captures.joined(separator: ", "))" }
    }

    /// Files to check for a language: its fixtures, plus a sample of real files when present.
    func files(_ language: String, ext: String, real: String?) -> [String] {
        var out: [String] = []
        let fm = FileManager.default
        if let e = fm.enumerator(atPath: TestPaths.fixturesPath) {
            for case let p as String in e where p.hasSuffix("." + ext) { out.append(TestPaths.fixturesPath + "/" + p) }
        }
        if let dir = real, let names = try? fm.contentsOfDirectory(atPath: dir) {
            out += names.filter { $0.hasSuffix("." + ext) }.sorted().prefix(60).map { dir + "/" + $0 }
        }
        return out.sorted()
    }

    func queryFiles(_ language: String) -> [String] {
        var out = [TestPaths.repoRoot.appendingPathComponent("Fixtures/queries/\(language).scm").path]
        // Queries the grammar packages ship, when scripts/setup-grammars fetched them.
        for dir in GrammarRegistry.searchDirectories(explicit: nil) {
            let q = dir + "/queries/" + language
            if let names = try? FileManager.default.contentsOfDirectory(atPath: q) {
                out += names.filter { $0.hasSuffix(".scm") }.sorted().map { q + "/" + $0 }
            }
        }
        return out
    }

    func testPythonQueriesMatchTreeSitter() throws {
        let stdlib = "/" + (ProcessInfo.processInfo.environment["CSTPACK_TEST_STDLIB"] ?? "")
        let real = FileManager.default.fileExists(atPath: stdlib + "/os.py") ? stdlib : Self.pythonStdlib()
        try compareQueries(language: "python", ext: "py", real: real)
    }

    /// Go's tags.scm opens definitions with `((comment)* @doc . (function_declaration ...))`.
    func testGoQueriesMatchTreeSitter() throws {
        try compareQueries(language: "go", ext: "go", real: nil)
    }

    func testRustQueriesMatchTreeSitter() throws {
        try compareQueries(language: "rust", ext: "rs", real: nil)
    }

    static func pythonStdlib() -> String? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return nil }
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        let dir = out.trimmingCharacters(in: .whitespacesAndNewlines)
        return dir.isEmpty ? nil : dir
    }

    func compareQueries(language: String, ext: String, real: String?) throws {
        let grammar = try TestGrammars.require(language)
        var compared = 0, matches = 0
        // Each file parsed once, for every query file.
        let trees: [(String, [UInt8], FileTree)] = try files(language, ext: ext, real: real).map { file in
            let source = try readBytes(file)
            let parsed = try source.withUnsafeBytes { try TreeSitterParser().parse($0, grammar: grammar, timeoutMicros: 0) }
            return (file, source, FileTree(path: Array(file.utf8), table: grammar.table, tree: parsed.tree, source: source,
                                           lineStarts: source.withUnsafeBytes { Lines.starts($0) }))
        }
        for queryPath in queryFiles(language) {
            let text = try String(contentsOfFile: queryPath, encoding: .utf8)
            guard let tsQuery = Self.tsQuery(grammar, text) else {
                // tree-sitter rejects it too (a query for another grammar version): so must we.
                let (offset, kind) = Self.tsQueryError(grammar, text)
                XCTAssertThrowsError(try { _ = try QueryParser.parse(text, table: grammar.table); try TreeSitterQueryCheck.check(text, table: grammar.table) }(),
                                     "\(queryPath): tree-sitter rejects it (error \(kind) at byte \(offset): \(text.utf8.dropFirst(Int(offset)).prefix(40).map { Character(Unicode.Scalar($0)) })), we accept it")
                continue
            }
            defer { ts_query_delete(tsQuery) }
            let query = try QueryParser.parse(text, table: grammar.table)
            XCTAssertEqual(query.patterns.count, Int(ts_query_pattern_count(tsQuery)), queryPath)
            let matcher = try QueryMatcher(query)
            for (file, source, ft) in trees {
                let expected = try Self.treeSitterMatches(grammar, tsQuery, source)
                let ours = try matcher.matches(in: ft).map { m in
                    Found(pattern: m.pattern, captures: m.captures.map {
                        "\(query.captureNames[$0.id])=\(ft.kindName($0.node))@\(ft.tree.starts[$0.node])-\(ft.tree.ends[$0.node])"
                    })
                }
                let a = expected.sorted(), b = ours.sorted()
                if a != b {
                    let missing = Set(a).subtracting(b).sorted().prefix(5)
                    let extra = Set(b).subtracting(a).sorted().prefix(5)
                    XCTFail("\(queryPath) on \(file): tree-sitter \(a.count) matches, ours \(b.count); missing \(missing); extra \(extra)")
                }
                compared += 1
                matches += a.count
            }
        }
        XCTAssertGreaterThan(compared, 0)
        XCTAssertGreaterThan(matches, 0)
    }

    static func tsQuery(_ g: Grammar, _ text: String) -> OpaquePointer? {
        // tree-sitter frees with the allocator current then: ours must be installed before
        // the query is made (a test run alone made it first, and ts_query_delete aborted).
        _ = TreeSitterParser.installCountingAllocator
        var offset: UInt32 = 0
        var error = TSQueryErrorNone
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) { ts_query_new(g.language, $0.baseAddress, UInt32($0.count), &offset, &error) }
        }
    }

    static func tsQueryError(_ g: Grammar, _ text: String) -> (UInt32, UInt32) {
        _ = TreeSitterParser.installCountingAllocator
        var offset: UInt32 = 0
        var error = TSQueryErrorNone
        let bytes = Array(text.utf8)
        let q = bytes.withUnsafeBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) { ts_query_new(g.language, $0.baseAddress, UInt32($0.count), &offset, &error) }
        }
        if let q { ts_query_delete(q) }
        return (offset, error.rawValue)
    }

    /// tree-sitter's matches, with #eq? #not-eq? #match? #not-match? #any-of? applied.
    static func treeSitterMatches(_ g: Grammar, _ query: OpaquePointer, _ source: [UInt8]) throws -> [Found] {
        let parser = ts_parser_new()
        defer { ts_parser_delete(parser) }
        ts_parser_set_language(parser, g.language)
        var padded = source
        padded.append(0) // an empty file still needs an address
        let tree = padded.withUnsafeBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) { ts_parser_parse_string(parser, nil, $0.baseAddress!, UInt32(source.count)) }
        }
        defer { ts_tree_delete(tree) }
        let cursor = ts_query_cursor_new()
        defer { ts_query_cursor_delete(cursor) }
        ts_query_cursor_exec(cursor, query, ts_tree_root_node(tree))
        func string(_ id: UInt32) -> String {
            var len: UInt32 = 0
            let p = ts_query_string_value_for_id(query, id, &len)!
            return String(decoding: UnsafeRawBufferPointer(start: p, count: Int(len)), as: UTF8.self)
        }
        func captureName(_ id: UInt32) -> String {
            var len: UInt32 = 0
            let p = ts_query_capture_name_for_id(query, id, &len)!
            return String(decoding: UnsafeRawBufferPointer(start: p, count: Int(len)), as: UTF8.self)
        }
        func text(_ n: TSNode) -> String {
            String(decoding: source[Int(ts_node_start_byte(n))..<Int(ts_node_end_byte(n))], as: UTF8.self)
        }
        var out: [Found] = []
        // Compiled once per pattern string, not once per match (most of the test's time).
        var regexes: [UInt32: ByteRegex] = [:]
        var m = TSQueryMatch()
        while ts_query_cursor_next_match(cursor, &m) {
            let caps = (0..<Int(m.capture_count)).map { m.captures[$0] }
            var stepCount: UInt32 = 0
            let steps = ts_query_predicates_for_pattern(query, UInt32(m.pattern_index), &stepCount)
            var ok = true
            var k = 0
            while k < Int(stepCount) {
                var args: [TSQueryPredicateStep] = []
                while k < Int(stepCount) && steps![k].type != TSQueryPredicateStepTypeDone { args.append(steps![k]); k += 1 }
                k += 1
                guard let op = args.first.map({ string($0.value_id) }), !op.hasSuffix("!") else { continue }
                // As cstpack documents them (tree-sitter's Rust binding): every node of a
                // quantified capture for the plain forms, some node for #any-…?, pairwise
                // for two captures, and a capture without nodes passes.
                let nodes = caps.filter { $0.index == args[1].value_id }.map(\.node)
                let positive = !op.contains("not-")
                let someNode = op.hasPrefix("any-") && !op.hasSuffix("of?")
                var results: [Bool] = []
                switch op {
                case "eq?", "not-eq?", "any-eq?", "any-not-eq?":
                    if args[2].type == TSQueryPredicateStepTypeCapture {
                        let others = caps.filter { $0.index == args[2].value_id }.map(\.node)
                        results = zip(nodes, others).map { (text($0) == text($1)) == positive }
                    } else {
                        let s = string(args[2].value_id)
                        results = nodes.map { (text($0) == s) == positive }
                    }
                case "match?", "not-match?", "any-match?", "any-not-match?":
                    let re = try regexes[args[2].value_id] ?? ByteRegex(string(args[2].value_id))
                    regexes[args[2].value_id] = re
                    results = nodes.map { n in
                        let bytes = Array(text(n).utf8)
                        return bytes.withUnsafeBufferPointer { re.firstMatch(in: $0) } == positive
                    }
                case "any-of?", "not-any-of?":
                    let values = Set(args.dropFirst(2).map { string($0.value_id) })
                    results = nodes.map { values.contains(text($0)) == positive }
                default:
                    continue // not a text predicate: tree-sitter's cursor does not apply it either
                }
                if !results.isEmpty && !(someNode ? results.contains(true) : !results.contains(false)) { ok = false }
            }
            guard ok else { continue }
            let sorted = caps.sorted {
                let a = (ts_node_start_byte($0.node), -Int(ts_node_end_byte($0.node)), $0.index)
                let b = (ts_node_start_byte($1.node), -Int(ts_node_end_byte($1.node)), $1.index)
                return a < b
            }
            out.append(Found(pattern: Int(m.pattern_index), captures: sorted.map {
                "\(captureName($0.index))=\(String(cString: ts_node_type($0.node)))@\(ts_node_start_byte($0.node))-\(ts_node_end_byte($0.node))"
            }))
        }
        return out
    }

    /// line:col and @byte lookups give tree-sitter's descendant-for-range node.
    func testNodeAtPointMatchesTreeSitter() throws {
        var rng = SplitMix64(seed: 7)
        var checked = 0
        for (language, ext) in [("python", "py"), ("rust", "rs"), ("c", "c"), ("javascript", "js")] {
            let g = try TestGrammars.require(language)
            for file in files(language, ext: ext, real: nil) {
                let source = try readBytes(file)
                guard !source.isEmpty else { continue }
                let parsed = try source.withUnsafeBytes { try TreeSitterParser().parse($0, grammar: g, timeoutMicros: 0) }
                let ft = FileTree(path: [], table: g.table, tree: parsed.tree, source: source,
                                  lineStarts: source.withUnsafeBytes { Lines.starts($0) })
                let parser = ts_parser_new()
                ts_parser_set_language(parser, g.language)
                let tree = source.withUnsafeBufferPointer { b in
                    b.withMemoryRebound(to: CChar.self) { ts_parser_parse_string(parser, nil, $0.baseAddress, UInt32($0.count)) }
                }
                let root = ts_tree_root_node(tree)
                for _ in 0..<200 {
                    let b = UInt32(rng.below(source.count + 1))
                    for anonymous in [false, true] {
                        let expected = anonymous ? ts_node_descendant_for_byte_range(root, b, b) : ts_node_named_descendant_for_byte_range(root, b, b)
                        let n = ft.deepestNode(at: b, anonymous: anonymous)
                        let e = "\(String(cString: ts_node_type(expected)))@\(ts_node_start_byte(expected))-\(ts_node_end_byte(expected))"
                        let o = "\(ft.kindName(n))@\(ft.tree.starts[n])-\(ft.tree.ends[n])"
                        XCTAssertEqual(o, e, "\(file) byte \(b) anonymous \(anonymous)")
                        checked += 1
                    }
                }
                ts_tree_delete(tree)
                ts_parser_delete(parser)
            }
        }
        XCTAssertGreaterThan(checked, 1000)
    }

    /// `((_)* (_)* …)` inside a parent can match one root in more ways than can be
    /// compared pairwise (found by the query fuzzer: a 700-byte query on a small JSON file
    /// ran past two minutes under ASan). The ways kept per root and the comparisons between them are bounded
    /// like the search's steps, and a file that reaches the bound is reported.
    func testSplitsOfQuantifiedWildcardsStayBounded() throws {
        let g = try TestGrammars.require("json")
        let source = Array(("{" + (0..<100).map { "\"k\($0)\": \($0)" }.joined(separator: ", ") + "}\n").utf8)
        let ft = FileTree(path: Array("wide.json".utf8), table: g.table, tree: try parseTree(source, grammar: g), source: source,
                          lineStarts: source.withUnsafeBytes { Lines.starts($0) })
        let text = "(object " + (0..<16).map { "(_)* (_)* @c\($0) @d\($0)" }.joined(separator: " ") + ")"
        let matcher = try QueryMatcher(try QueryParser.parse(text, table: g.table))
        let started = monotonicSeconds()
        XCTAssertFalse(try matcher.matches(in: ft).isEmpty)
        XCTAssertLessThan(monotonicSeconds() - started, 10, "about 1 s in a debug build; 30 s before the bounds")
        XCTAssertGreaterThan(matcher.budgetExceeded, 0, "the bound is reported")
    }

    /// A live answer found stale only after the search's workers ended (summaries make a
    /// kind count end before the tree's walk does): the search throws the check's error and
    /// lets nothing out. It used to join its threads a second time there, and crash.
    func testAnAnswerAbandonedAfterTheWorkersEndedThrowsTheChecksError() throws {
        let out = try makeTempDir("cstpack-abandoned") + "/a.cstpack"
        try buildArchive(root: TestPaths.fixturesPath, output: out, grammars: try TestGrammars.require()) { $0.noIgnore = true }
        let archive = try Archive(path: out)
        struct Stale: Error {}
        for selector in [NodeSelector.kind("identifier"), .query("(identifier) @i")] {
            for countOnly in [true, false] {
                var options = QueryOptions()
                options.jobs = 2
                options.countOnly = countOnly
                XCTAssertThrowsError(try QueryRunner.run(archive, files: Array(0..<archive.fileCount), selector: selector, options: options,
                                                         beforeOutput: { throw Stale() }, outputReady: { false },
                                                         each: { $0.count }, outputSize: { _ in 0 },
                                                         sink: { _ in XCTFail("an abandoned answer was let out") })) {
                    XCTAssertTrue($0 is Stale, "\($0)")
                }
            }
        }
    }

    func testQueryErrorsPointAtTheProblem() throws {
        let g = try TestGrammars.require("python")
        func error(_ q: String) -> QueryError? {
            do { _ = try QueryParser.parse(q, table: g.table); return nil } catch { return error }
        }
        XCTAssertEqual(error("(function_definiton)")?.column, 2)
        XCTAssertTrue(error("(function_definiton)")?.message.contains("function_definition") ?? false)
        XCTAssertEqual(error("(call\n  functon: (identifier))").map { [$0.line, $0.column] }, [2, 3])
        // Predicates tree-sitter's cursor leaves to the application are accepted, and listed.
        XCTAssertNil(error("((identifier) @a (#is-not? local))"))
        XCTAssertEqual(try QueryParser.parse("((identifier) @a (#is-not? local))", table: g.table).unappliedPredicates, ["#is-not?"])
        XCTAssertTrue(error("((identifier) @a (#match? @a \"(?=x)\"))")?.message.contains("look-around") ?? false)
        XCTAssertTrue(error("((identifier) @a (#match? @a \"\\\\Z\"))")?.message.contains("unrecognized escape") ?? false)
        XCTAssertTrue(error("((identifier) @a (#any-of? @a))")?.message.contains("takes a capture and strings") ?? false)
        XCTAssertNotNil(error("(identifier"))
        XCTAssertNotNil(error("\"no-such-token\""))
        XCTAssertNotNil(error("((identifier) @a (#eq? @b \"x\"))"))
        XCTAssertNil(error("((identifier) @a (#set! priority 105))"))
        // Deep nesting is an error, not a stack overflow.
        XCTAssertTrue(error(String(repeating: "[", count: 100_000) + "(identifier)" + String(repeating: "]", count: 100_000))?
            .message.contains("nests more than") ?? false)
        XCTAssertTrue(error(String(repeating: "(module ", count: 100_000) + String(repeating: ")", count: 100_000))?
            .message.contains("nests more than") ?? false)
        XCTAssertNil(error(String(repeating: "[", count: 50) + "(identifier)" + String(repeating: "]", count: 50)))
    }

    func testSelectorsAndGlobs() throws {
        XCTAssertEqual(try NodeSelector("42"), .id(42))
        XCTAssertEqual(try NodeSelector("120:17"), .point(line: 120, column: 17))
        XCTAssertEqual(try NodeSelector("@5123"), .byte(5123))
        XCTAssertEqual(try NodeSelector("function_definition"), .kind("function_definition"))
        XCTAssertEqual(try NodeSelector("(identifier) @x"), .query("(identifier) @x"))
        XCTAssertEqual(try NodeSelector("4294967295:4294967295"), .point(line: 4294967295, column: 4294967295))
        for bad in ["2:9223372036854775807", "99999999999999999999:1", "0:1", "1:-1", "-1", "2147483647", "@-1", "@4294967296"] {
            XCTAssertThrowsError(try NodeSelector(bad), bad) { XCTAssertTrue("\($0)".contains(" must be between "), "\($0)") }
        }
        let g: (String, String) -> Bool = { Locate.glob(Array($0.utf8)[...], Array($1.utf8)[...]) }
        XCTAssertTrue(g("src/**/*.py", "src/a/b/c.py"))
        XCTAssertTrue(g("src/**/*.py", "src/c.py"))
        XCTAssertFalse(g("src/*.py", "src/a/c.py"))
        XCTAssertTrue(g("**", "x/y"))
        XCTAssertTrue(g("[a-c]?.rs", "bz.rs"))
        XCTAssertFalse(g("[!a-c]?.rs", "bz.rs"))
    }

    /// Globs are matched in O(|pattern|·|path|) without recursion: they answer exactly as
    /// the backtracking definition below (the earlier matcher) on random patterns and paths,
    /// and patterns on which backtracking takes exponential time, or recursion as deep as
    /// the pattern, finish at once.
    func testGlobAgreesWithBacktrackingAndIsNeverExponential() {
        func reference(_ p: ArraySlice<UInt8>, _ s: ArraySlice<UInt8>) -> Bool {
            var p = p, s = s
            while let c = p.first {
                switch c {
                case UInt8(ascii: "*"):
                    if p.dropFirst().first == UInt8(ascii: "*") {
                        var rest = p.dropFirst(2)
                        if rest.first == UInt8(ascii: "/") { rest = rest.dropFirst() }
                        if rest.isEmpty { return true }
                        var t = s
                        while true {
                            if reference(rest, t) { return true }
                            guard let slash = t.firstIndex(of: UInt8(ascii: "/")) else { return false }
                            t = t[(slash + 1)...]
                        }
                    }
                    let rest = p.dropFirst()
                    var t = s
                    while true {
                        if reference(rest, t) { return true }
                        guard let f = t.first, f != UInt8(ascii: "/") else { return false }
                        t = t.dropFirst()
                    }
                case UInt8(ascii: "?"):
                    guard let f = s.first, f != UInt8(ascii: "/") else { return false }
                    p = p.dropFirst(); s = s.dropFirst()
                case UInt8(ascii: "["):
                    guard let close = p.dropFirst(2).firstIndex(of: UInt8(ascii: "]")), let f = s.first else { return false }
                    var set = p[(p.startIndex + 1)..<close]
                    let negate = set.first == UInt8(ascii: "!") || set.first == UInt8(ascii: "^")
                    if negate { set = set.dropFirst() }
                    var hit = false
                    var k = set.startIndex
                    while k < set.endIndex {
                        if k + 2 < set.endIndex && set[k + 1] == UInt8(ascii: "-") {
                            if f >= set[k] && f <= set[k + 2] { hit = true }
                            k += 3
                        } else {
                            if f == set[k] { hit = true }
                            k += 1
                        }
                    }
                    guard hit != negate else { return false }
                    p = p[(close + 1)...]; s = s.dropFirst()
                default:
                    guard s.first == c else { return false }
                    p = p.dropFirst(); s = s.dropFirst()
                }
            }
            return s.isEmpty
        }
        var rng = SplitMix64(seed: 0x6105)
        let patternAtoms = ["a", "b", "/", "*", "**", "**/", "?", "[ab]", "[!a]", "[a-b]", "[]a]", "[", "]", "-", "!"]
        let pathBytes = Array("ab/-!]".utf8)
        var matched = 0
        for _ in 0..<20_000 {
            let p = (0..<rng.below(7)).map { _ in patternAtoms[rng.below(patternAtoms.count)] }.joined()
            let s = (0..<rng.below(9)).map { _ in pathBytes[rng.below(pathBytes.count)] }
            let want = reference(Array(p.utf8)[...], s[...])
            XCTAssertEqual(Locate.glob(Array(p.utf8)[...], s[...]), want, "glob '\(p)' on '\(String(decoding: s, as: UTF8.self))'")
            if want { matched += 1 }
        }
        XCTAssertGreaterThan(matched, 1000, "the random cases match often enough to mean something")
        // Backtracking: ~C(60, 12) steps; recursion: 100,000 frames.
        let started = monotonicSeconds()
        let path = Array(repeating: UInt8(ascii: "a"), count: 60)[...]
        XCTAssertFalse(Locate.glob(Array((String(repeating: "*a", count: 12) + "*b").utf8)[...], path))
        XCTAssertFalse(Locate.glob(Array((String(repeating: "**/a", count: 12) + "b").utf8)[...], Array(repeating: UInt8(ascii: "/"), count: 60)[...]))
        XCTAssertTrue(Locate.glob(Array(String(repeating: "*", count: 200_000).utf8)[...], path))
        XCTAssertLessThan(monotonicSeconds() - started, 5)
    }

    /// `#match?` follows Rust's `regex` crate, as tree-sitter's Rust binding: the same
    /// answers on Fixtures/queries/rust-regex-cases.jsonl (patterns and texts answered by
    /// the Rust crate itself, scripts/reference/regex_cases.py), and the same patterns
    /// rejected.
    func testByteRegexAgreesWithRustRegex() throws {
        let path = TestPaths.repoRoot.appendingPathComponent("Fixtures/queries/rust-regex-cases.jsonl").path
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        var checked = 0, rejected = 0, unsupported = 0
        for line in lines {
            let o = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let pattern = try XCTUnwrap(o["p"] as? String)
            if let why = o["error"] as? String {
                XCTAssertThrowsError(try ByteRegex(pattern), "Rust rejects /\(pattern)/ (\(why)), we accept it")
                rejected += 1
                continue
            }
            let text = try XCTUnwrap(o["t"] as? String)
            let expected = try XCTUnwrap(o["m"] as? Bool)
            let re: ByteRegex
            do { re = try ByteRegex(pattern) } catch {
                // Documented: Unicode scripts (\p{Greek}) are not supported, and say so.
                if "\(error)".contains("unsupported Unicode class") { unsupported += 1; continue }
                XCTFail("Rust accepts /\(pattern)/, we reject it: \(error)")
                continue
            }
            let answer = Array(text.utf8).withUnsafeBufferPointer { re.firstMatch(in: $0) }
            XCTAssertEqual(answer, expected, "/\(pattern)/ on \(text.debugDescription)")
            checked += 1
        }
        XCTAssertGreaterThan(checked, 1000)
        XCTAssertGreaterThan(rejected, 20)
        XCTAssertLessThan(unsupported, checked / 10)
        // Deep nesting is an error, not a stack overflow; long texts take linear time.
        XCTAssertThrowsError(try ByteRegex(String(repeating: "(", count: 100_000) + "a" + String(repeating: ")", count: 100_000)))
        let started = monotonicSeconds()
        let re = try ByteRegex("(a*)*b")
        XCTAssertFalse(Array(repeating: UInt8(ascii: "a"), count: 20_000).withUnsafeBufferPointer { re.firstMatch(in: $0) })
        XCTAssertLessThan(monotonicSeconds() - started, 10)
    }

    /// A class's members used to be joined one by one, each join re-deriving the class's
    /// ASCII bitmap from everything before it: the square of the class's length (found by
    /// the query fuzzer: a 1 KB query took 24 s). 10,000 members of every sort now compile in
    /// about a second in a debug build; quadratically they took hours, so the bound cannot flake.
    func testLongCharacterClassesCompileInLinearTime() throws {
        let members = ["a", "\\d", "[xy]", "[:digit:]", "\\p{Lu}", "0-9", "\\]", "é"]
        let body = (0..<10_000).map { members[$0 % members.count] }.joined()
        let started = monotonicSeconds()
        let re = try ByteRegex("^[" + body + "]+$")
        let negated = try ByteRegex("[^" + body + "]")
        XCTAssertLessThan(monotonicSeconds() - started, 10)
        for (text, inside) in [("aé7xQ]", true), ("b", false), ("Z", true), (" ", false)] {
            XCTAssertEqual(Array(text.utf8).withUnsafeBufferPointer { re.firstMatch(in: $0) }, inside, text)
            XCTAssertEqual(Array(text.utf8).withUnsafeBufferPointer { negated.firstMatch(in: $0) }, !inside, text)
        }
        // Nested classes under (?i) and chains of set operations: each level used to test
        // every case variant again, and `~~` repeated both operands (exponential in depth).
        for depth in [20, 60, 120] {
            let nested = try ByteRegex("(?i)^" + String(repeating: "[^", count: depth) + "k" + String(repeating: "]", count: depth) + "$")
            let odd = depth % 2 == 1 // an odd number of negations leaves everything but k, K and the Kelvin sign
            for text in ["k", "K", "\u{212A}", "x"] {
                XCTAssertEqual(Array(text.utf8).withUnsafeBufferPointer { nested.firstMatch(in: $0) }, (text == "x") == odd, "depth \(depth) \(text)")
            }
            let chain = try ByteRegex("^[a-z" + String(repeating: "~~a-c", count: depth / 2) + "]$")
            XCTAssertEqual(Array("b".utf8).withUnsafeBufferPointer { chain.firstMatch(in: $0) }, depth / 2 % 2 == 0, "~~ \(depth)")
        }
        XCTAssertThrowsError(try ByteRegex("[a" + String(repeating: "&&a", count: 200) + "]"), "set operations count against the nesting bound")
        // Set operations between long operands too.
        let both = try ByteRegex("^[" + body + "&&" + body + "--[0-4]]$")
        XCTAssertTrue(Array("7".utf8).withUnsafeBufferPointer { both.firstMatch(in: $0) })
        XCTAssertFalse(Array("3".utf8).withUnsafeBufferPointer { both.firstMatch(in: $0) })
    }
}
