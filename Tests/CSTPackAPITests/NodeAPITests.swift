import CSTPack
import CTreeSitter
import Foundation
import XCTest

/// The public node API against tree-sitter's own answers (`ts_node_*`, `TSTreeCursor`),
/// node by node, over the fixtures and a part of the Python standard library.
final class NodeAPITests: XCTestCase {
    /// Disagreements of one kind: a count and the first few, for the failure message.
    struct Tally {
        var compared = 0
        /// Nodes of no bytes, whose parent and siblings only the cursor's structure checks.
        var zeroWidth = 0
        var differences: [String: (count: Int, first: [String])] = [:]

        mutating func check<T: Equatable>(_ what: String, _ ours: T, _ theirs: T, _ at: @autoclosure () -> String) {
            compared += 1
            guard ours != theirs else { return }
            var d = differences[what] ?? (0, [])
            d.count += 1
            if d.first.count < 3 { d.first.append("\(at()): ours \(ours), tree-sitter \(theirs)") }
            differences[what] = d
        }

        func assertNone(file: StaticString = #filePath, line: UInt = #line) {
            for (what, d) in differences.sorted(by: { $0.key < $1.key }) {
                XCTFail("\(what): \(d.count) of the nodes disagree: \(d.first.joined(separator: "; "))", file: file, line: line)
            }
        }
    }

    static func text(_ source: [UInt8], _ n: TSNode) -> String {
        String(decoding: source[Int(ts_node_start_byte(n))..<Int(ts_node_end_byte(n))], as: UTF8.self)
    }

    /// Compares every node of `file` with tree-sitter's parse of `source`.
    func compare(_ file: ArchiveFile, source: [UInt8], tally: inout Tally) throws {
        let tree = try file.syntaxTree()
        let ts = try Reference.parse(source, language: file.language)
        defer { ts_tree_delete(ts) }
        let order = Reference.preorder(ts)
        tally.check("node count", tree.nodeCount, order.count, file.path)
        guard tree.nodeCount == order.count else { return }
        var ids: [UInt: Int] = [:]
        for (i, n) in order.enumerated() { ids[n.node.key] = i }
        // A node tree-sitter answers with, as an id (-1: null, -2: not in the cursor's walk).
        func id(_ n: TSNode) -> Int { ts_node_is_null(n) ? -1 : ids[n.key] ?? -2 }
        // Each node's siblings as tree-sitter's child lists give them.
        var siblings: [[Int]] = Array(repeating: [], count: order.count)
        for (i, o) in order.enumerated() where o.parent >= 0 { siblings[o.parent].append(i) }
        var slot = [Int](repeating: 0, count: order.count)
        for list in siblings { for (k, c) in list.enumerated() { slot[c] = k } }
        for (i, (n, field, parent)) in order.enumerated() {
            let node = tree.node(id: i)!
            let at = "\(file.path) #\(i)"
            tally.check("id", node.id, i, at)
            tally.check("kind", node.kind, String(cString: ts_node_type(n)), at)
            tally.check("isNamed", node.isNamed, ts_node_is_named(n), at)
            tally.check("isExtra", node.isExtra, ts_node_is_extra(n), at)
            tally.check("isMissing", node.isMissing, ts_node_is_missing(n), at)
            tally.check("isError", node.isError, ts_node_symbol(n) == UInt16.max, at)
            tally.check("hasError", node.hasError, ts_node_has_error(n), at)
            tally.check("fieldName", node.fieldName, field, at)
            tally.check("byteRange", node.byteRange, Int(ts_node_start_byte(n))..<Int(ts_node_end_byte(n)), at)
            let s = ts_node_start_point(n), e = ts_node_end_point(n)
            tally.check("start", node.start, SourcePoint(line: Int(s.row) + 1, column: Int(s.column) + 1), at)
            tally.check("end", node.end, SourcePoint(line: Int(e.row) + 1, column: Int(e.column) + 1), at)
            tally.check("text", node.text, Self.text(source, n), at)
            // Parent and siblings: the cursor's structure for every node, and tree-sitter's
            // ts_node_parent and ts_node_*_sibling too except for a node of no bytes, where
            // tree-sitter 0.20.7's ts_node_parent can stop at a preceding sibling that ends
            // where the node is (it looks for the first child reaching the node's end).
            tally.check("parent", node.parent?.id ?? -1, parent, at)
            let list = parent >= 0 ? siblings[parent] : [i]
            let k = parent >= 0 ? slot[i] : 0
                        tally.check("nextSibling", node.nextSibling?.id ?? -1, k + 1 < list.count ? list[k + 1] : -1, at)
            tally.check("previousSibling", node.previousSibling?.id ?? -1, k > 0 ? list[k - 1] : -1, at)
            tally.check("nextNamedSibling", node.nextNamedSibling?.id ?? -1,
                        list[(k + 1)...].first { ts_node_is_named(order[$0].node) } ?? -1, at)
            tally.check("previousNamedSibling", node.previousNamedSibling?.id ?? -1,
                        list[..<k].last { ts_node_is_named(order[$0].node) } ?? -1, at)
            if ts_node_start_byte(n) < ts_node_end_byte(n) {
                tally.check("ts_node_parent", node.parent?.id ?? -1, id(ts_node_parent(n)), at)
                tally.check("ts_node_next_sibling", node.nextSibling?.id ?? -1, id(ts_node_next_sibling(n)), at)
                tally.check("ts_node_prev_sibling", node.previousSibling?.id ?? -1, id(ts_node_prev_sibling(n)), at)
                tally.check("ts_node_next_named_sibling", node.nextNamedSibling?.id ?? -1, id(ts_node_next_named_sibling(n)), at)
                tally.check("ts_node_prev_named_sibling", node.previousNamedSibling?.id ?? -1, id(ts_node_prev_named_sibling(n)), at)
            } else {
                tally.zeroWidth += 1
            }
            let count = Int(ts_node_child_count(n))
            tally.check("childCount", node.childCount, count, at)
            tally.check("namedChildCount", node.namedChildCount, Int(ts_node_named_child_count(n)), at)
            let children = node.children, named = node.namedChildren
            tally.check("children", children.map(\.id), (0..<count).map { id(ts_node_child(n, UInt32($0))) }, at)
            tally.check("namedChildren", named.map(\.id),
                        (0..<Int(ts_node_named_child_count(n))).map { id(ts_node_named_child(n, UInt32($0))) }, at)
            tally.check("child(at:)", (0...count).map { node.child(at: $0)?.id ?? -1 }, children.map(\.id) + [-1], at)
            tally.check("namedChild(at:)", (0...named.count).map { node.namedChild(at: $0)?.id ?? -1 }, named.map(\.id) + [-1], at)
            // Every field its children fill, and one no node has.
            let fields = Set(children.compactMap(\.fieldName) + ["name", "no_such_field"])
            for f in fields.sorted() {
                let theirs = f.withCString { id(ts_node_child_by_field_name(n, $0, UInt32(strlen($0)))) }
                tally.check("child(field:)", node.child(field: f)?.id ?? -1, theirs, "\(at) field \(f)")
                tally.check("children(field:)", node.children(field: f).first?.id ?? -1, theirs, "\(at) field \(f)")
            }
        }
    }

    func files(of archive: CSTArchive, root: String) throws -> [(ArchiveFile, [UInt8])] {
        try archive.files.map { f in
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: root + "/" + f.path)))
            return (f, bytes)
        }
    }

    func testFixtureNodesAgreeWithTreeSitter() throws {
        let archive = try CSTArchive(path: try Archives.fixtures())
        var tally = Tally()
        var languages = Set<String>()
        for (f, bytes) in try files(of: archive, root: Paths.fixtures) {
            XCTAssertEqual(try f.source(), bytes, f.path)
            XCTAssertEqual(f.byteCount, bytes.count, f.path)
            try compare(f, source: bytes, tally: &tally)
            languages.insert(f.language)
        }
        tally.assertNone()
        XCTAssertGreaterThan(tally.zeroWidth, 0, "nodes of no bytes (missing nodes, empty blocks) are among those compared")
        XCTAssertGreaterThanOrEqual(languages.count, 10, "fixtures in many grammars")
        XCTAssertGreaterThan(tally.compared, 100_000)
    }

    func testStdlibNodesAgreeWithTreeSitter() throws {
        let (path, root) = try Archives.stdlib()
        let archive = try CSTArchive(path: path)
        var tally = Tally()
        var nodes = 0
        for (f, bytes) in try files(of: archive, root: root) {
            try compare(f, source: bytes, tally: &tally)
            nodes += f.nodeCount
        }
        tally.assertNone()
        XCTAssertGreaterThan(archive.files.count, 30)
        XCTAssertGreaterThan(nodes, 150_000)
    }

    /// Without stored text, nodes have no text, and their points (from the stored line
    /// table) are the same.
    func testWithoutSourceOnlyTextIsMissing() throws {
        let with = try CSTArchive(path: try Archives.fixtures())
        let without = try CSTArchive(path: try Archives.fixtures(noSource: true))
        XCTAssertTrue(with.storesSource)
        XCTAssertFalse(without.storesSource)
        XCTAssertEqual(with.files.map(\.path), without.files.map(\.path))
        for (a, b) in zip(with.files, without.files) {
            XCTAssertNil(try b.source())
            let ta = try a.syntaxTree(), tb = try b.syntaxTree()
            XCTAssertEqual(ta.nodeCount, tb.nodeCount)
            for (x, y) in zip(ta.nodes, tb.nodes) {
                XCTAssertNil(y.text)
                if x.kind != y.kind || x.start != y.start || x.end != y.end || x.byteRange != y.byteRange {
                    XCTFail("\(a.path) #\(x.id): \(x) with text, \(y) without")
                    break
                }
            }
        }
    }

    /// descendant(forByteRange:) from the root and from inner nodes, against
    /// ts_node_descendant_for_byte_range and its named form.
    func testDescendantForByteRangeAgreesWithTreeSitter() throws {
        let (path, root) = try Archives.stdlib()
        let archive = try CSTArchive(path: path)
        var rng = SplitMix64(seed: 0xA11CE)
        var tally = Tally()
        for (f, bytes) in try files(of: archive, root: root).prefix(12) + files(of: try CSTArchive(path: try Archives.fixtures()), root: Paths.fixtures) {
            let tree = try f.syntaxTree()
            let ts = try Reference.parse(bytes, language: f.language)
            defer { ts_tree_delete(ts) }
            let order = Reference.preorder(ts)
            guard order.count == tree.nodeCount else { XCTFail("\(f.path): node counts differ"); continue }
            var ids: [UInt: Int] = [:]
            for (i, n) in order.enumerated() { ids[n.node.key] = i }
            for _ in 0..<300 {
                let from = Bool.random(using: &rng) ? 0 : Int.random(in: 0..<tree.nodeCount, using: &rng)
                let a = Int.random(in: 0...bytes.count, using: &rng)
                let b = min(bytes.count, a + [0, 0, 1, 5, 40, 400].randomElement(using: &rng)!)
                let at = "\(f.path) from #\(from) \(a)..<\(b)"
                let tsFrom = order[from].node
                tally.check("descendant", tree.node(id: from)!.descendant(forByteRange: a..<b).id,
                            ids[ts_node_descendant_for_byte_range(tsFrom, UInt32(a), UInt32(b)).key] ?? -2, at)
                tally.check("namedDescendant", tree.node(id: from)!.namedDescendant(forByteRange: a..<b).id,
                            ids[ts_node_named_descendant_for_byte_range(tsFrom, UInt32(a), UInt32(b)).key] ?? -2, at)
                if from == 0 {
                    tally.check("tree.descendant", tree.descendant(forByteRange: a..<b).id,
                                ids[ts_node_descendant_for_byte_range(tsFrom, UInt32(a), UInt32(b)).key] ?? -2, at)
                }
            }
        }
        tally.assertNone()
        XCTAssertGreaterThan(tally.compared, 5_000)
    }

    /// node(atLine:column:) gives what `cstpack query FILE L:C` prints, and what
    /// tree-sitter's named descendant for that byte is.
    func testNodeAtLineColumnAgreesWithTheCLIAndTreeSitter() throws {
        let (path, root) = try Archives.stdlib()
        let archive = try CSTArchive(path: path)
        var rng = SplitMix64(seed: 0x10CA7E)
        var viaCLI = 0
        var tally = Tally()
        for (k, (f, bytes)) in try files(of: archive, root: root).enumerated() {
            let tree = try f.syntaxTree()
            let ts = try Reference.parse(bytes, language: f.language)
            defer { ts_tree_delete(ts) }
            let order = Reference.preorder(ts)
            var ids: [UInt: Int] = [:]
            for (i, n) in order.enumerated() { ids[n.node.key] = i }
            var lineStarts = [0]
            for (i, b) in bytes.enumerated() where b == 0x0A { lineStarts.append(i + 1) }
            for probe in 0..<60 {
                let line = Int.random(in: 1...lineStarts.count, using: &rng)
                let lineEnd = line < lineStarts.count ? lineStarts[line] - 1 : bytes.count
                let column = Int.random(in: 1...(lineEnd - lineStarts[line - 1] + 1), using: &rng)
                let byte = lineStarts[line - 1] + column - 1
                guard let node = tree.node(atLine: line, column: column) else {
                    XCTFail("\(f.path) \(line):\(column) is inside the file, and no node was found")
                    continue
                }
                let expected = ts_node_named_descendant_for_byte_range(ts_tree_root_node(ts), UInt32(byte), UInt32(byte))
                tally.check("node(atLine:column:)", node.id, ids[expected.key] ?? -2, "\(f.path) \(line):\(column)")
                // The CLI for a few points of a few files (a process each).
                if k % 8 == 0 && probe < 4 {
                    let r = try Executables.cstpack(["query", "-a", path, f.path, "\(line):\(column)", "--json"])
                    let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
                    XCTAssertEqual(json?["id"] as? Int, node.id, "\(f.path) \(line):\(column): \(r.stdout)")
                    viaCLI += 1
                }
            }
            // Points outside the file: nil, as the CLI says it is outside.
            XCTAssertNil(tree.node(atLine: lineStarts.count + 1, column: 1))
            XCTAssertNil(tree.node(atLine: 0, column: 1))
            XCTAssertNil(tree.node(atLine: 1, column: 0))
            let firstLineEnd = lineStarts.count > 1 ? lineStarts[1] - 1 : bytes.count
            XCTAssertNil(tree.node(atLine: 1, column: firstLineEnd + 2))
        }
        tally.assertNone()
        XCTAssertGreaterThan(viaCLI, 10)
    }

    /// A cursor visits the nodes in preorder, with tree-sitter's cursor's fields and depths,
    /// and stays in the subtree it started at.
    func testCursorWalksAsTreeSitterCursor() throws {
        let archive = try CSTArchive(path: try Archives.fixtures())
        var tally = Tally()
        for (f, bytes) in try files(of: archive, root: Paths.fixtures) {
            let tree = try f.syntaxTree()
            let ts = try Reference.parse(bytes, language: f.language)
            defer { ts_tree_delete(ts) }
            var theirs: [String] = []
            var c = ts_tree_cursor_new(ts_tree_root_node(ts))
            var depth = 0
            walk: while true {
                let field = ts_tree_cursor_current_field_name(&c).map { String(cString: $0) } ?? "-"
                theirs.append("\(String(cString: ts_node_type(ts_tree_cursor_current_node(&c)))) \(field) \(depth)")
                if ts_tree_cursor_goto_first_child(&c) { depth += 1; continue }
                while !ts_tree_cursor_goto_next_sibling(&c) {
                    guard ts_tree_cursor_goto_parent(&c) else { break walk }
                    depth -= 1
                }
            }
            ts_tree_cursor_delete(&c)
            var ours: [String] = [], visited: [Int] = []
            var cursor = tree.walk()
            walk: while true {
                ours.append("\(cursor.kind) \(cursor.fieldName ?? "-") \(cursor.depth)")
                visited.append(cursor.nodeID)
                XCTAssertEqual(cursor.node.id, cursor.nodeID)
                if cursor.gotoFirstChild() { continue }
                while !cursor.gotoNextSibling() {
                    guard cursor.gotoParent() else { break walk }
                }
            }
            tally.check("walk", ours, theirs, f.path)
            tally.check("preorder ids", visited, Array(0..<tree.nodeCount), f.path)
            // A cursor made at an inner node walks that subtree only.
            if let inner = tree.nodes.first(where: { $0.childCount > 1 && $0.parent != nil && $0.nextSibling != nil }) {
                var sub = inner.walk()
                XCTAssertFalse(sub.gotoNextSibling(), f.path)
                XCTAssertFalse(sub.gotoParent(), f.path)
                XCTAssertNil(sub.fieldName, f.path)
                var seen = 0
                walk: while true {
                    seen += 1
                    if sub.gotoFirstChild() { continue }
                    while !sub.gotoNextSibling() {
                        guard sub.gotoParent() else { break walk }
                    }
                }
                XCTAssertEqual(sub.nodeID, inner.id)
                let end = inner.nextSibling!.id
                XCTAssertEqual(seen, end - inner.id, "\(f.path): the subtree of #\(inner.id)")
                sub.reset(to: tree.root)
                XCTAssertEqual(sub.nodeID, 0)
                XCTAssertEqual(sub.depth, 0)
            }
        }
        tally.assertNone()
    }
}
