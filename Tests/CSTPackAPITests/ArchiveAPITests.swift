import CSTPack
import CTreeSitter
import Foundation
import XCTest

/// Opening archives, files, the cache, lifetimes, queries and the example program, through
/// the public API only.
final class ArchiveAPITests: XCTestCase {
    func testFilesAndLookupByPath() throws {
        let path = try Archives.fixtures()
        let archive = try CSTArchive(path: path)
        XCTAssertEqual(archive.path, path)
        // Stored order is path order (by bytes), as `cstpack ls` lists them.
        let listed = try Executables.cstpack(["ls", "-a", path]).stdout.split(separator: "\n").map { String($0.split(separator: "\t")[0]) }
        XCTAssertEqual(archive.files.map(\.path), listed)
        for f in archive.files {
            XCTAssertEqual(archive.file(path: f.path), f)
            XCTAssertEqual(try f.syntaxTree().nodeCount, f.nodeCount)
            XCTAssertEqual(try f.syntaxTree().file, f)
        }
        let app = try XCTUnwrap(archive.file(path: "python/app.py"))
        XCTAssertEqual(app.language, "python")
        XCTAssertEqual(app.description, "python/app.py")
        XCTAssertNil(archive.file(path: "python/app"))
        XCTAssertNil(archive.file(path: "./python/app.py"))
        XCTAssertNil(archive.file(path: ""))
    }

    func testOpeningFailuresAreErrors() throws {
        XCTAssertThrowsError(try CSTArchive(path: "/nonexistent/index.cstpack")) { e in
            XCTAssertTrue(e is CSTPackError, "\(e)")
            XCTAssertTrue("\(e)".contains("cannot open"), "\(e)")
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cstpack-api-bad-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data("not an archive, just text".utf8).write(to: URL(fileURLWithPath: dir + "/text.cstpack"))
        XCTAssertThrowsError(try CSTArchive(path: dir + "/text.cstpack")) { XCTAssertTrue($0 is CSTPackError) }
        // A truncated archive.
        let good = try Data(contentsOf: URL(fileURLWithPath: try Archives.fixtures()))
        try good.prefix(good.count / 2).write(to: URL(fileURLWithPath: dir + "/half.cstpack"))
        XCTAssertThrowsError(try CSTArchive(path: dir + "/half.cstpack")) { XCTAssertTrue($0 is CSTPackError) }
        // A flipped byte in the segments: opening succeeds (segments are checked when
        // read), and reading the trees that use it fails with an error, never a crash.
        var bad = good
        let at = 64 + (bad.count - 64) / 3
        bad[at] ^= 0x55
        try bad.write(to: URL(fileURLWithPath: dir + "/flipped.cstpack"))
        let archive = try CSTArchive(path: dir + "/flipped.cstpack")
        var failures = 0
        for f in archive.files {
            do { _ = try f.syntaxTree(); _ = try f.source() } catch { XCTAssertTrue(error is CSTPackError, "\(error)"); failures += 1 }
        }
        XCTAssertGreaterThan(failures, 0, "a corrupt segment is noticed")
    }

    /// Nodes, trees and files keep what they read alive: they stay usable after the
    /// archive value (and its mapping) is gone.
    func testValuesOutliveTheArchive() throws {
        var node: SyntaxNode? = nil
        var file: ArchiveFile? = nil
        weakArchive: do {
            let archive = try CSTArchive(path: try Archives.fixtures())
            file = archive.file(path: "rust/lib.rs")
            node = try archive.file(path: "python/app.py")!.syntaxTree().node(atLine: 20, column: 7)
            break weakArchive
        }
        let n = try XCTUnwrap(node)
        XCTAssertEqual(n.kind, "identifier")
        XCTAssertEqual(n.text, "Item")
        XCTAssertEqual(n.parent?.kind, "class_definition")
        XCTAssertEqual(n.parent?.child(field: "name"), n)
        XCTAssertEqual(n.tree.file.path, "python/app.py")
        let tree = try XCTUnwrap(file).syntaxTree()
        XCTAssertEqual(tree.root.kind, "source_file")
        XCTAssertEqual(try file!.source()?.count, file!.byteCount)
    }

    /// The cache stays within its budget over a walk of many files, and answers repeated
    /// reads.
    func testCacheStaysWithinItsBudget() throws {
        let (path, _) = try Archives.stdlib()
        let limit = 4 << 20
        let archive = try CSTArchive(path: path, cacheLimit: limit)
        XCTAssertEqual(archive.cacheLimit, limit)
        XCTAssertEqual(archive.cacheStatistics.hitRate, 0)
        // Every file but the smallest, then the smallest: the last tree read is small, so
        // the cache must have evicted down to the budget.
        let smallest = archive.files.min { $0.nodeCount < $1.nodeCount }!
        var nodes = 0
        for f in archive.files where f != smallest {
            var cursor = try f.syntaxTree().walk()
            repeat {
                nodes += 1
                if cursor.gotoFirstChild() { continue }
                while !cursor.gotoNextSibling() { guard cursor.gotoParent() else { break } }
            } while cursor.nodeID != 0
        }
        _ = try smallest.syntaxTree()
        XCTAssertEqual(nodes + smallest.nodeCount, archive.files.reduce(0) { $0 + $1.nodeCount })
        let afterWalk = archive.cacheStatistics
        XCTAssertLessThanOrEqual(afterWalk.cachedBytes, limit)
        XCTAssertGreaterThan(afterWalk.cachedBytes, 0)
        XCTAssertEqual(afterWalk.treeReads, archive.files.count)
        XCTAssertEqual(afterWalk.treeHits, 0)
        XCTAssertGreaterThan(afterWalk.segmentHits, 0, "consecutive files share segments")
        XCTAssertLessThan(afterWalk.segmentHits, afterWalk.segmentReads)
        // The last tree read is cached: reading it again is a hit, and gives the same nodes.
        let again = try smallest.syntaxTree()
        XCTAssertEqual(archive.cacheStatistics.treeHits, 1)
        XCTAssertEqual(again.root, try smallest.syntaxTree().root)
        // With no budget, nothing is kept: the same read decodes again.
        let uncached = try CSTArchive(path: path, cacheLimit: 0)
        _ = try uncached.files[0].syntaxTree()
        _ = try uncached.files[0].syntaxTree()
        XCTAssertEqual(uncached.cacheStatistics.treeHits, 0)
        XCTAssertEqual(uncached.cacheStatistics.treeReads, 2)
        XCTAssertGreaterThan(uncached.cacheStatistics.hitRate, 0, "the last segment read is kept")
        // A large budget keeps every tree.
        let roomy = try CSTArchive(path: path, cacheLimit: 1 << 30)
        for f in roomy.files { _ = try f.syntaxTree() }
        for f in roomy.files { _ = try f.syntaxTree() }
        XCTAssertEqual(roomy.cacheStatistics.treeHits, roomy.files.count)
    }

    // MARK: Queries

    /// tree-sitter's matches of `source` in a file, each "pattern capture=start-end ...".
    func referenceMatches(_ source: String, file: ArchiveFile, text: [UInt8]) throws -> [String] {
        let ts = try Reference.parse(text, language: file.language)
        defer { ts_tree_delete(ts) }
        var offset: UInt32 = 0
        var error = TSQueryErrorNone
        let query = try source.withCString { s in
            guard let q = ts_query_new(try Reference.language(file.language), s, UInt32(strlen(s)), &offset, &error) else {
                throw SetupError("tree-sitter rejects the query at \(offset)")
            }
            return q
        }
        defer { ts_query_delete(query) }
        let cursor = ts_query_cursor_new()
        defer { ts_query_cursor_delete(cursor) }
        ts_query_cursor_exec(cursor, query, ts_tree_root_node(ts))
        var out: [String] = []
        var m = TSQueryMatch()
        while ts_query_cursor_next_match(cursor, &m) {
            let caps = (0..<Int(m.capture_count)).map { m.captures[$0] }.map { c -> String in
                var len: UInt32 = 0
                let name = String(cString: ts_query_capture_name_for_id(query, c.index, &len))
                return "\(name)=\(ts_node_start_byte(c.node))-\(ts_node_end_byte(c.node))"
            }
            out.append("\(m.pattern_index) " + caps.sorted().joined(separator: " "))
        }
        return out.sorted()
    }

    func render(_ m: SyntaxQuery.Match) -> String {
        "\(m.pattern) " + m.captures.map { "\($0.name)=\($0.byteRange.lowerBound)-\($0.byteRange.upperBound)" }.sorted().joined(separator: " ")
    }

    func testQueriesAgreeWithTreeSitter() throws {
        let (path, root) = try Archives.stdlib()
        let archive = try CSTArchive(path: path)
        let queries = [
            "(function_definition name: (identifier) @name parameters: (parameters) @params)",
            "(class_definition name: (identifier) @class body: (block (function_definition name: (identifier) @method)))",
            "[(string) @s (integer) @n] (call function: (attribute object: (identifier) @obj attribute: (identifier) @attr))",
            "(decorated_definition (decorator) @d definition: (_) @def)",
        ]
        var compared = 0
        for q in queries {
            let all = try archive.query(q)
            var byFile: [String: [String]] = [:]
            for m in all { byFile[m.file.path, default: []].append(render(m)) }
            for f in archive.files where f.language == "python" {
                let text = [UInt8](try Data(contentsOf: URL(fileURLWithPath: root + "/" + f.path)))
                let expected = try referenceMatches(q, file: f, text: text)
                XCTAssertEqual((byFile[f.path] ?? []).sorted(), expected, "\(f.path): \(q)")
                compared += expected.count
            }
            // The same through a compiled query and one tree at a time.
            let compiled = try SyntaxQuery(q, language: "python", in: archive)
            var count = 0
            for f in archive.files where f.language == "python" { count += try f.syntaxTree().matches(of: compiled).count }
            XCTAssertEqual(count, all.count)
        }
        XCTAssertGreaterThan(compared, 5_000)
    }

    func testQueryResultsAreNodes() throws {
        let archive = try CSTArchive(path: try Archives.fixtures())
        let matches = try archive.query(#"((function_definition name: (identifier) @name) (#match? @name "^_"))"#, language: "python")
        XCTAssertFalse(matches.isEmpty)
        for m in matches {
            XCTAssertEqual(m.node.kind, "function_definition")
            let name = try XCTUnwrap(m.nodes(forCapture: "name").first)
            XCTAssertEqual(name.parent, m.node)
            XCTAssertTrue(name.text?.hasPrefix("_") ?? false)
            XCTAssertEqual(m.file.language, "python")
        }
        // Without a language, it runs where it applies: Python's function_definition is
        // also C's, and the C files' matches come with theirs.
        let everywhere = try archive.query("(function_definition) @f")
        XCTAssertEqual(Set(everywhere.map(\.file.language)).isSuperset(of: ["python", "c"]), true)
        var streamed = 0
        try archive.forEachMatch("(function_definition) @f") { _ in streamed += 1 }
        XCTAssertEqual(streamed, everywhere.count)
        // Errors: a malformed query, a kind no language has, a language the archive lacks,
        // a query compiled for another language.
        XCTAssertThrowsError(try archive.query("(function_definition")) { XCTAssertTrue($0 is CSTPackError) }
        XCTAssertThrowsError(try archive.query("(no_such_kind)")) { XCTAssertTrue("\($0)".contains("no_such_kind"), "\($0)") }
        XCTAssertThrowsError(try SyntaxQuery("(identifier)", language: "cobol", in: archive)) { XCTAssertTrue("\($0)".contains("cobol")) }
        let rustQuery = try SyntaxQuery("(identifier) @i", language: "rust", in: archive)
        XCTAssertEqual(rustQuery.captureNames, ["i"])
        XCTAssertEqual(rustQuery.patternCount, 1)
        XCTAssertThrowsError(try archive.file(path: "python/app.py")!.syntaxTree().matches(of: rustQuery))
        // Text predicates need stored text.
        let noSource = try CSTArchive(path: try Archives.fixtures(noSource: true))
        XCTAssertThrowsError(try noSource.query(#"((identifier) @i (#eq? @i "self"))"#, language: "python"))
        XCTAssertFalse(try noSource.query("(identifier) @i", language: "python").isEmpty)
    }

    // MARK: The example program

    /// cstpack-outline prints every Python class and function with its line and nesting,
    /// as tree-sitter's own parse shows them.
    func testOutlineExamplePrintsDefinitions() throws {
        let path = try Archives.fixtures()
        let archive = try CSTArchive(path: path)
        let outline = try Executables.path("cstpack-outline")
        var checked = 0
        for f in archive.files where f.language == "python" && f.nodeCount > 1 {
            let text = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Paths.fixtures + "/" + f.path)))
            let ts = try Reference.parse(text, language: "python")
            defer { ts_tree_delete(ts) }
            var expected = ""
            var nesting: [Int] = [] // preorder indices of enclosing definitions
            let order = Reference.preorder(ts)
            var depthOf = [Int](repeating: 0, count: order.count)
            for (i, o) in order.enumerated() {
                depthOf[i] = o.parent < 0 ? 0 : depthOf[o.parent] + 1
                while let last = nesting.last, depthOf[last] >= depthOf[i] { nesting.removeLast() }
                let kind = String(cString: ts_node_type(o.node))
                guard kind == "class_definition" || kind == "function_definition" else { continue }
                let name = "name".withCString { ts_node_child_by_field_name(o.node, $0, 4) }
                let label = String(decoding: text[Int(ts_node_start_byte(name))..<Int(ts_node_end_byte(name))], as: UTF8.self)
                expected += "\(ts_node_start_point(o.node).row + 1): " + String(repeating: "  ", count: nesting.count) + "\(kind) \(label)\n"
                nesting.append(i)
            }
            let r = try Executables.run(outline, [path, f.path])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(r.stdout, expected, f.path)
            checked += expected.split(separator: "\n").count
        }
        XCTAssertGreaterThan(checked, 10)
        let missing = try Executables.run(outline, [path, "no/such/file.py"])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.hasPrefix("cstpack-outline: error: no file"), missing.stderr)
    }
}

/// The README's and the DocC articles' examples, as written there, on the stdlib part.
final class DocumentedExampleTests: XCTestCase {
    func testReadmeExample() throws {
        let (path, _) = try Archives.stdlib()
        var lines: [String] = []
        // From README.md, "Library" (the archive's path aside).
        let archive = try CSTArchive(path: path, cacheLimit: 16 << 20)
        let tree = try archive.file(path: "json/decoder.py")!.syntaxTree()
        if let node = tree.node(atLine: 120, column: 17) {        // as `cstpack query FILE 120:17`
            lines.append("\(node.kind) \(node.start) \(node.parent?.kind ?? "-") \(node.text ?? "")")
        }
        for m in try archive.query("(class_definition name: (identifier) @name)", language: "python") {
            lines.append("\(m.file.path) \(m.captures[0].node.start.line) \(m.captures[0].node.text ?? "")")
        }
        // The CLI gives the same node.
        let r = try Executables.cstpack(["query", "-a", path, "json/decoder.py", "120:17", "--json"])
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let start = try XCTUnwrap(json["start"] as? [String: Any])
        XCTAssertEqual(lines.first, "\(json["kind"]!) \(start["line"]!):\(start["column"]!) \(tree.node(id: json["id"] as! Int)!.parent!.kind) \(json["text"]!)")
        let classLine = try lineNumber(of: "class JSONDecodeError(", in: "json/decoder.py")
        XCTAssertTrue(lines.contains("json/decoder.py \(classLine) JSONDecodeError"), "\(lines.prefix(5))")
    }

    func testFindNodesArticleQuery() throws {
        let (path, _) = try Archives.stdlib()
        let archive = try CSTArchive(path: path)
        var out: [String] = []
        let matches = try archive.query("""
            (class_definition
              name: (identifier) @class
              body: (block (function_definition name: (identifier) @method)))
            """, language: "python")
        for match in matches {
            let cls = match.nodes(forCapture: "class").first?.text ?? "?"
            for method in match.nodes(forCapture: "method") {
                out.append("\(match.file.path):\(method.start.line): \(cls).\(method.text ?? "?")")
            }
        }
        let methodLine = try lineNumber(of: "    def decode(self", in: "json/decoder.py")
        XCTAssertTrue(out.contains("json/decoder.py:\(methodLine): JSONDecoder.decode"), "\(out.filter { $0.hasPrefix("json/decoder") })")
    }

    /// The 1-based line of the stdlib part's file `path` that starts with `prefix`.
    func lineNumber(of prefix: String, in path: String) throws -> Int {
        let text = try String(contentsOfFile: try Archives.stdlib().root + "/" + path, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        return try XCTUnwrap(lines.firstIndex { $0.hasPrefix(prefix) }) + 1
    }
}

/// One archive shared by threads: reads are serialized inside, and every thread sees the
/// trees one thread alone sees.
final class ConcurrencyAPITests: XCTestCase {
    func testThreadsShareAnArchive() throws {
        let (path, _) = try Archives.stdlib()
        let alone = try CSTArchive(path: path)
        var expected: [String: String] = [:]
        for f in alone.files {
            let t = try f.syntaxTree()
            expected[f.path] = "\(t.nodeCount) \(t.root.byteRange) \(t.nodes.last!.kind) \(t.nodes.filter(\.isNamed).count)"
        }
        // A small budget, so that threads evict each other's trees and segments.
        let shared = try CSTArchive(path: path, cacheLimit: 1 << 20)
        let files = shared.files
        let results = Results()
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            for k in 0..<files.count {
                let f = files[(k * 7 + worker * 13) % files.count]
                do {
                    let t = try f.syntaxTree()
                    results.add(f.path, "\(t.nodeCount) \(t.root.byteRange) \(t.nodes.last!.kind) \(t.nodes.filter(\.isNamed).count)")
                } catch {
                    results.add(f.path, "error: \(error)")
                }
            }
        }
        XCTAssertEqual(results.count, 4 * files.count)
        for (path, seen) in results.all {
            XCTAssertEqual(Set(seen), [expected[path]!], path)
        }
        XCTAssertEqual(shared.cacheStatistics.treeReads, 4 * files.count)
    }

    final class Results: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var all: [String: [String]] = [:]
        private(set) var count = 0
        func add(_ path: String, _ s: String) {
            lock.lock()
            all[path, default: []].append(s)
            count += 1
            lock.unlock()
        }
    }
}
