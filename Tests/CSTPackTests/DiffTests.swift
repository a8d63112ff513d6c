import Foundation
import Glibc
import XCTest
@testable import CommandSupport
@testable import CSTPack

/// `cstpack diff`: file-level matching, GumTree node matching and its edit script, the
/// budget fallback, rendering; properties checked over generated edits of the fixture files.
final class DiffTests: XCTestCase {

    // MARK: Helpers

    /// Fixture files without syntax errors (c/list.c has some in this grammar), with their
    /// grammar and a statement to insert.
    static let languages: [(path: String, grammar: String, statement: String)] = [
        ("python/app.py", "python", "zq_N = N"),
        ("js/app.js", "javascript", "let zq_N = N;"),
        ("ts/service.ts", "typescript", "let zq_N = N;"),
        ("rust/lib.rs", "rust", "let zq_N = N;"),
        ("go/main.go", "go", "zq_N := N"),
        ("java/Main.java", "java", "int zq_N = N;"),
        ("cpp/shape.cpp", "cpp", "int zq_N = N;"),
        ("ruby/model.rb", "ruby", "zq_N = N"),
        ("bash/deploy.sh", "bash", "zq_N=N"),
    ]

    func fileTree(_ bytes: [UInt8], _ grammar: Grammar, path: String = "f") throws -> FileTree {
        let tree = try parseTree(bytes, grammar: grammar)
        return FileTree(path: Array(path.utf8), table: grammar.table, tree: tree, source: bytes,
                        lineStarts: bytes.withUnsafeBytes { Lines.starts($0) })
    }

    func treeDiff(_ old: [UInt8], _ new: [UInt8], _ grammar: Grammar, options: TreeDiffOptions = TreeDiffOptions()) throws -> TreeDiff {
        TreeDiff.compute(old: try fileTree(old, grammar), new: try fileTree(new, grammar), options: options)
    }

    /// A copy of the fixture tree in a fresh directory.
    func copyFixtures() throws -> String {
        let dir = try makeTempDir("cstpack-diff") + "/tree"
        try FileManager.default.copyItem(atPath: TestPaths.fixturesPath, toPath: dir)
        return dir
    }

    func build(_ root: String) throws -> Archive {
        let out = try makeTempDir("cstpack-diff-archive") + "/a.cstpack"
        try buildArchive(root: root, output: out, grammars: try TestGrammars.require()) { $0.noIgnore = true }
        return try Archive(path: out)
    }

    func plan(_ old: Archive, _ new: Archive, _ tweak: (inout DiffOptions) -> Void = { _ in }) throws -> [FileDiff] {
        var o = DiffOptions()
        o.jobs = 2
        tweak(&o)
        return try DiffPlan(old: try Snapshot(archive: old), new: try Snapshot(archive: new), options: o).collect()
    }

    func edit(_ root: String, _ rel: String, _ change: (String) -> String) throws {
        let path = root + "/" + rel
        let text = String(decoding: try readBytes(path), as: UTF8.self)
        let changed = change(text)
        XCTAssertNotEqual(text, changed, "edit of \(rel) changed nothing")
        try writeBytes(Array(changed.utf8), to: path)
    }

    func nameStatus(_ files: [FileDiff]) -> [String] {
        files.map { String(decoding: DiffPrinter(format: .nameStatus, color: false).render($0).dropLast(), as: UTF8.self) }
    }

    // MARK: File level

    func testArchiveAgainstItselfHasNoDifferences() throws {
        let root = try copyFixtures()
        let a = try build(root)
        XCTAssertGreaterThan(a.fileCount, 10)
        XCTAssertTrue(try plan(a, a).isEmpty)
        let again = try build(root)
        XCTAssertTrue(try plan(a, again).isEmpty)
        var o = DiffOptions()
        o.noIgnore = true
        let dir = try Snapshot(directory: root, grammars: try TestGrammars.require(), options: o)
        XCTAssertEqual(dir.files.count, a.fileCount)
        XCTAssertTrue(try DiffPlan(old: try Snapshot(archive: a), new: dir, options: o).collect().isEmpty)
    }

    func testAddedDeletedModifiedAndSwap() throws {
        let oldRoot = try copyFixtures(), newRoot = try copyFixtures()
        try edit(newRoot, "python/app.py") { $0.replacingOccurrences(of: "return self.price_cents / 100", with: "return self.price_cents / 1000\n        zq = 1") }
        try edit(newRoot, "rust/lib.rs") { $0.replacingOccurrences(of: "use std::fmt;\n", with: "") }
        try FileManager.default.removeItem(atPath: newRoot + "/ruby/model.rb")
        try writeBytes(Array("def added():\n    return 1\n".utf8), to: newRoot + "/python/added.py")
        let a = try build(oldRoot), b = try build(newRoot)
        let forward = try plan(a, b), backward = try plan(b, a)
        XCTAssertEqual(nameStatus(forward), ["A\tpython/added.py", "M\tpython/app.py", "D\truby/model.rb", "M\trust/lib.rs"])
        XCTAssertEqual(nameStatus(backward), ["D\tpython/added.py", "M\tpython/app.py", "A\truby/model.rb", "M\trust/lib.rs"])
        for (f, g) in zip(forward, backward) where f.status == .modified {
            let d = try XCTUnwrap(f.treeDiff), e = try XCTUnwrap(g.treeDiff)
            XCTAssertEqual(d.count(.insert), e.count(.delete), f.new!.displayPath)
            XCTAssertEqual(d.count(.delete), e.count(.insert), f.new!.displayPath)
            XCTAssertEqual(spans(d, .insert, new: true), spans(e, .delete, new: false))
            XCTAssertEqual(spans(d, .delete, new: false), spans(e, .insert, new: true))
            XCTAssertEqual(d.count(.update), e.count(.update))
        }
        let app = try XCTUnwrap(forward.first { $0.new?.displayPath == "python/app.py" }?.treeDiff)
        XCTAssertEqual(app.count(.update), 1)
        XCTAssertEqual(app.count(.insert), 1)
        XCTAssertEqual(app.changes.first { $0.op == .update }?.newText, "1000")
        let lib = try XCTUnwrap(forward.first { $0.new?.displayPath == "rust/lib.rs" }?.treeDiff)
        XCTAssertEqual(lib.changes.map(\.op), [.delete])
        XCTAssertEqual(lib.changes.first?.kind, "use_declaration")
    }

    func spans(_ d: TreeDiff, _ op: NodeChange.Op, new: Bool) -> [[Int]] {
        d.changes.filter { $0.op == op }.compactMap { new ? $0.new : $0.old }.map { [$0.startByte, $0.endByte] }.sorted { $0.lexicographicallyPrecedes($1) }
    }

    func testRenamedFilesAreDetected() throws {
        let oldRoot = try copyFixtures(), newRoot = try copyFixtures()
        try FileManager.default.moveItem(atPath: newRoot + "/go/main.go", toPath: newRoot + "/go/server.go")
        try FileManager.default.createDirectory(atPath: newRoot + "/java2", withIntermediateDirectories: true)
        try FileManager.default.moveItem(atPath: newRoot + "/java/Main.java", toPath: newRoot + "/java2/Main.java")
        try FileManager.default.moveItem(atPath: newRoot + "/js/app.js", toPath: newRoot + "/js/main.js")
        try edit(newRoot, "js/main.js") { $0 + "\nexport const zq = 1;\n" }
        let a = try build(oldRoot), b = try build(newRoot)
        let files = try plan(a, b)
        XCTAssertEqual(files.count, 3, "\(nameStatus(files))")
        XCTAssertTrue(nameStatus(files).contains("R100\tgo/main.go\tgo/server.go"), "\(nameStatus(files))")
        XCTAssertTrue(nameStatus(files).contains("R100\tjava/Main.java\tjava2/Main.java"), "\(nameStatus(files))")
        let js = try XCTUnwrap(files.first { $0.new?.displayPath == "js/main.js" })
        guard case .renamed(let score) = js.status else { return XCTFail("js/app.js -> js/main.js not a rename: \(js.status)") }
        XCTAssertTrue((50..<100).contains(score), "score \(score)")
        XCTAssertEqual(js.treeDiff?.changes.map(\.op), [.insert])
        // Identical-content renames need no node-level diff; exact renames only when asked.
        XCTAssertNil(files.first { $0.new?.displayPath == "go/server.go" }?.treeDiff)
        let exact = try plan(a, b) { $0.renameThreshold = 101 }
        XCTAssertEqual(nameStatus(exact).filter { $0.hasPrefix("R") }.count, 2)
        XCTAssertTrue(nameStatus(exact).contains("D\tjs/app.js") && nameStatus(exact).contains("A\tjs/main.js"))
        // Paths limit the diff (either side of a rename).
        let limited = try plan(a, b) { $0.paths = ["go"] }
        XCTAssertEqual(nameStatus(limited), ["R100\tgo/main.go\tgo/server.go"])
        // One glob syntax with every command: `*` stays in a folder, `**` crosses folders.
        let pattern = try plan(a, b) { $0.paths = ["**/*.java"] }
        XCTAssertEqual(nameStatus(pattern), ["R100\tjava/Main.java\tjava2/Main.java"])
        XCTAssertThrowsError(try plan(a, b) { $0.paths = ["*.java"] }, "no file at the top: a typo, not an empty diff")
        let excluded = try plan(a, b) { $0.paths = ["go", ":!go/main.go"] }
        XCTAssertEqual(nameStatus(excluded), ["A\tgo/server.go"])
    }

    func testArchiveAgainstDirectoryMatchesArchiveAgainstArchive() throws {
        let oldRoot = try copyFixtures(), newRoot = try copyFixtures()
        try edit(newRoot, "python/app.py") { $0.replacingOccurrences(of: "range(3)", with: "range(4)") }
        try edit(newRoot, "c/list.c") { $0.replacingOccurrences(of: "#include", with: "#include <zq.h>\n#include") }
        try FileManager.default.removeItem(atPath: newRoot + "/json/config.json")
        try FileManager.default.moveItem(atPath: newRoot + "/yaml/ci.yaml", toPath: newRoot + "/yaml/ci2.yaml")
        let a = try build(oldRoot), b = try build(newRoot)
        let viaArchive = try plan(a, b)
        var o = DiffOptions()
        o.noIgnore = true
        o.jobs = 2
        let dir = try Snapshot(directory: newRoot, grammars: try TestGrammars.require(), options: o, otherLanguages: Set(a.languages.map(\.name)))
        let viaDirectory = try DiffPlan(old: try Snapshot(archive: a), new: dir, options: o).collect()
        XCTAssertEqual(nameStatus(viaArchive), nameStatus(viaDirectory))
        XCTAssertEqual(nameStatus(viaArchive), ["M\tc/list.c", "D\tjson/config.json", "M\tpython/app.py", "R100\tyaml/ci.yaml\tyaml/ci2.yaml"])
        for (x, y) in zip(viaArchive, viaDirectory) {
            XCTAssertEqual(x.treeDiff?.changes.map(\.op), y.treeDiff?.changes.map(\.op))
            XCTAssertEqual(x.treeDiff?.changes.map(\.new), y.treeDiff?.changes.map(\.new))
        }
        let py = try XCTUnwrap(viaDirectory.first { $0.new?.displayPath == "python/app.py" }?.treeDiff)
        XCTAssertEqual(py.changes.map(\.op), [.update])
        XCTAssertEqual(py.changes.first?.new?.start, LineColumn(line: 49, column: 44))
        XCTAssertEqual(py.groups.first?.path.map(\.name), ["Inventory", "refresh"])
        XCTAssertEqual(py.groups.first?.parts, ["body"])
    }

    // MARK: Node level

    func testChangedTokensAreUpdatesAndSourcelessArchivesSaySo() throws {
        let grammar = try TestGrammars.require("python")
        let old = Array("def f(a, b):\n    return a + b * 2\n\n\ndef g():\n    return 0\n".utf8)
        let new = Array("def f(a, b):\n    return a - b * 2\n\n\ndef g():\n    return i\n".utf8)
        let d = try treeDiff(old, new, grammar)
        XCTAssertEqual(d.changes.map(\.op), [.update, .update])
        XCTAssertEqual(d.changes.map(\.kind), ["binary_operator.operator", "integer → identifier"])
        XCTAssertEqual(d.changes.map { $0.oldText ?? "" }, ["+", "0"])
        XCTAssertEqual(d.groups.map { $0.path.map(\.name) }, [["f"], ["g"]])
        // Without stored source there is nothing to compare node text with.
        let oldRoot = try copyFixtures(), newRoot = try copyFixtures()
        try edit(newRoot, "python/app.py") { $0.replacingOccurrences(of: "range(3)", with: "range(4)") }
        let out = try makeTempDir("cstpack-diff-archive") + "/nosource.cstpack"
        try buildArchive(root: oldRoot, output: out, grammars: try TestGrammars.require()) { $0.noIgnore = true; $0.storeSource = false }
        let files = try plan(try Archive(path: out), try build(newRoot))
        XCTAssertEqual(nameStatus(files), ["M\tpython/app.py"])
        guard case .unavailable(let why) = files[0].nodes else { return XCTFail("\(files[0].nodes)") }
        XCTAssertTrue(why.contains("--no-source"), why)
    }

    func testMovedFunctionIsOneMove() throws {
        let cases: [(String, String, String)] = [
            ("python/app.py", "python", "function_definition"),
            ("rust/lib.rs", "rust", "function_item"),
            ("bash/deploy.sh", "bash", "function_definition"),
            ("go/main.go", "go", "function_declaration"),
            ("c/list.c", "c", "function_definition"),
        ]
        for (rel, lang, kind) in cases {
            let grammar = try TestGrammars.require(lang)
            let old = try readBytes(TestPaths.fixturesPath + "/" + rel)
            let t = try fileTree(old, grammar)
            let tops = (1..<t.count).filter { t.tree.parents[$0] == 0 && t.kindName($0) == kind }
            XCTAssertGreaterThanOrEqual(tops.count, 2, "\(rel): needs two top-level \(kind)s")
            let f = tops[0]
            let s = Int(t.tree.starts[f]), e = Int(t.tree.ends[f])
            var new = Array(old[..<s]) + Array(old[e...])
            while new.last == 0x0A { new.removeLast() }
            new += Array("\n\n".utf8) + Array(old[s..<e]) + [0x0A]
            let d = try treeDiff(old, new, grammar)
            XCTAssertEqual(d.changes.map(\.op), [.move], "\(rel): \(d.changes.map { "\($0.op) \($0.kind)" })")
            XCTAssertEqual(d.changes.first?.kind, kind, rel)
            XCTAssertEqual(d.changes.first?.old?.startByte, s, rel)
            let back = try treeDiff(new, old, grammar)
            XCTAssertEqual(back.changes.map(\.op), [.move], "\(rel) backwards: \(back.changes.map { "\($0.op) \($0.kind)" })")
        }
    }

    /// Generated edits of the fixture files: renamed identifiers, changed numbers, deleted,
    /// inserted and moved statements. Every non-blank byte the edit changed on either side lies
    /// inside a reported change of that side, no reported change covers a byte the edit left
    /// alone, and diffing backwards swaps inserts and deletes.
    func testEditsAreCoveredExactlyAndSwapBackwards() throws {
        let seed = ProcessInfo.processInfo.environment["CSTPACK_DIFF_SEED"].flatMap { UInt64($0) } ?? 0x5EED_D1FF
        var rng = SplitMix64(seed: seed)
        var checked = 0, fresh = 0, compound = 0
        for (rel, lang, statement) in Self.languages {
            guard let grammar = TestGrammars.registry.grammars[lang] else { XCTFail("no grammar \(lang)"); continue }
            let old = try readBytes(TestPaths.fixturesPath + "/" + rel)
            let t = try fileTree(old, grammar)
            XCTAssertFalse(t.tree.flags[0].contains(.hasError), rel)
            let cands = candidates(t, old)
            var done = 0, attempts = 0
            while done < 16 && attempts < 300 {
                attempts += 1
                fresh += 1
                guard var e = randomEdit(t, old, cands, statement: statement, fresh: fresh, rng: &rng) else { continue }
                if rng.chance(0.4) {
                    fresh += 1
                    if let second = randomEdit(t, old, cands, statement: statement, fresh: fresh, rng: &rng),
                       let both = Self.compose(e, second, old) {
                        e = both
                    }
                }
                let newTree = try fileTree(e.new, grammar)
                if newTree.tree.flags[0].contains(.hasError) { continue }
                done += 1
                checked += 1
                if e.what.contains(" + ") { compound += 1 }
                let label = "\(rel) \(e.what)"
                let d = TreeDiff.compute(old: t, new: newTree)
                XCTAssertEqual(d.mode, .structural, label)
                checkCovered(d, old, e, label: label, trees: (t, newTree))
                let back = TreeDiff.compute(old: newTree, new: t)
                XCTAssertEqual(spans(d, .insert, new: true), spans(back, .delete, new: false), "\(label): inserts vs backward deletes")
                XCTAssertEqual(spans(d, .delete, new: false), spans(back, .insert, new: true), "\(label): deletes vs backward inserts")
                XCTAssertEqual(spans(d, .update, new: true), spans(back, .update, new: false), "\(label): updates")
                XCTAssertEqual(d.count(.move), back.count(.move), "\(label): moves")
                // The coarse fallback must cover the edit too (it may report more).
                var tiny = TreeDiffOptions()
                tiny.maxNodes = 2
                let coarse = TreeDiff.compute(old: t, new: newTree, options: tiny)
                XCTAssertTrue(coarse.isCoarse)
                checkCovered(coarse, old, e, label: "\(label) (coarse)", exact: false)
            }
            XCTAssertGreaterThanOrEqual(done, 12, "\(rel): too few valid edits generated")
        }
        XCTAssertGreaterThan(checked, 120)
        XCTAssertGreaterThan(compound, 20)
    }

    struct Edit {
        var what: String
        var new: [UInt8]
        /// Changed byte ranges: old side, new side.
        var oldRanges: [Range<Int>]
        var newRanges: [Range<Int>]
        /// For a replacement (not a move): the old range replaced, the text put there, and the
        /// part of that text that is not layout.
        var replaced: Range<Int>? = nil
        var text: [UInt8] = []
        var changed: Range<Int> = 0..<0
    }

    static func replacement(_ old: [UInt8], _ r: Range<Int>, _ text: [UInt8], changed: Range<Int>, what: String) -> Edit {
        Edit(what: what, new: Array(old[..<r.lowerBound]) + text + Array(old[r.upperBound...]),
             oldRanges: r.isEmpty ? [] : [r], newRanges: [(r.lowerBound + changed.lowerBound)..<(r.lowerBound + changed.upperBound)],
             replaced: r, text: text, changed: changed)
    }

    /// Two replacements at least 80 bytes apart (so that unchanged siblings separate them)
    /// made together.
    static func compose(_ x: Edit, _ y: Edit, _ old: [UInt8]) -> Edit? {
        guard let rx = x.replaced, let ry = y.replaced else { return nil }
        let (e1, r1, e2, r2) = rx.lowerBound <= ry.lowerBound ? (x, rx, y, ry) : (y, ry, x, rx)
        guard r1.upperBound + 80 <= r2.lowerBound else { return nil }
        let new = Array(old[..<r1.lowerBound]) + e1.text + Array(old[r1.upperBound..<r2.lowerBound]) + e2.text + Array(old[r2.upperBound...])
        let shift = e1.text.count - r1.count
        let n2 = (r2.lowerBound + shift + e2.changed.lowerBound)..<(r2.lowerBound + shift + e2.changed.upperBound)
        return Edit(what: "\(e1.what) + \(e2.what)", new: new, oldRanges: e1.oldRanges + e2.oldRanges,
                    newRanges: e1.newRanges + [n2])
    }

    /// Every non-blank byte in the edit's ranges lies inside a reported change of its side
    /// (inserted/updated/moved new nodes; deleted/updated/moved old nodes); with `exact`, no
    /// reported change covers a non-blank byte outside them.
    func checkCovered(_ d: TreeDiff, _ old: [UInt8], _ e: Edit, label: String, exact: Bool = true,
                      trees: (old: FileTree?, new: FileTree?) = (nil, nil)) {
        var newCover = Set<Int>(), oldCover = Set<Int>()
        for c in d.changes {
            if c.op != .delete, let s = c.new { newCover.formUnion(s.startByte..<s.endByte) }
            if c.op != .insert, let s = c.old { oldCover.formUnion(s.startByte..<s.endByte) }
        }
        let describe = d.changes.map { "\($0.op) \($0.kind) \($0.old.map { "\($0.startByte)..<\($0.endByte)" } ?? "-") \($0.new.map { "\($0.startByte)..<\($0.endByte)" } ?? "-")" }
        for (side, bytes, ranges, cover) in [("new", e.new, e.newRanges, newCover), ("old", old, e.oldRanges, oldCover)] {
            for r in ranges {
                let missing = r.filter { !isSpace(bytes[$0]) && !cover.contains($0) }
                XCTAssertTrue(missing.isEmpty, "\(label): \(side) bytes \(missing.prefix(5)) of \(r) not inside a reported change; \(describe)")
            }
            guard exact else { continue }
            // A token is atomic: an updated leaf that overlaps the edit may extend beyond it
            // (a line inserted into a heredoc updates the whole heredoc body).
            var inEdit = Set(ranges.flatMap { $0 })
            for c in d.changes where c.op == .update {
                guard let o = c.old, let n = c.new, let ot = trees.old, let nt = trees.new,
                      !ot.tree.hasChildren(c.oldNode), !nt.tree.hasChildren(c.newNode) else { continue }
                let touches = e.newRanges.contains { $0.overlaps(n.startByte..<n.endByte) }
                    || e.oldRanges.contains { $0.overlaps(o.startByte..<o.endByte) }
                    || e.newRanges.contains { $0.isEmpty && n.startByte <= $0.lowerBound && $0.lowerBound <= n.endByte }
                if touches { inEdit.formUnion(side == "new" ? n.startByte..<n.endByte : o.startByte..<o.endByte) }
            }
            let extra = cover.filter { !inEdit.contains($0) && !isSpace(bytes[$0]) }
            XCTAssertTrue(extra.isEmpty, "\(label): unchanged \(side) bytes reported, e.g. \(extra.sorted().prefix(5)); \(describe)")
        }
    }

    /// Nodes that edits may touch, found once per file.
    struct Candidates {
        var identifiers: [Int] = [], numbers: [Int] = [], statements: [Int] = [], topStatements: [Int] = []
    }

    func candidates(_ t: FileTree, _ old: [UInt8]) -> Candidates {
        var lineStart = [Int](repeating: 0, count: old.count + 1)
        var ls = 0
        for k in 0..<old.count { lineStart[k] = ls; if old[k] == 0x0A { ls = k + 1 } }
        lineStart[old.count] = ls
        var c = Candidates()
        let ends = t.tree.subtreeEnds()
        for i in 1..<t.count {
            let kind = t.kindName(i)
            let leaf = !t.tree.hasChildren(i)
            let s = Int(t.tree.starts[i]), e = Int(t.tree.ends[i])
            if t.isNamed(i) && leaf && kind.hasSuffix("identifier") && e > s { c.identifiers.append(i) }
            if t.isNamed(i) && leaf && (kind.contains("integer") || kind.contains("number") || kind == "int_literal") { c.numbers.append(i) }
            // Statements: named, not extra, children of a block-like node or of the root,
            // alone on their lines.
            guard t.isNamed(i), !t.tree.flags[i].contains(.extra) else { continue }
            let p = Int(t.tree.parents[i])
            let pk = t.kindName(p)
            guard p == 0 || pk.contains("block") || pk.contains("body") || pk == "compound_statement" else { continue }
            let siblings = (p + 1..<Int(ends[p])).filter { Int(t.tree.parents[$0]) == p && t.isNamed($0) && !t.tree.flags[$0].contains(.extra) }
            guard siblings.count >= 2 || p == 0 else { continue } // a block keeps a statement
            let alone = old[lineStart[s]..<s].allSatisfy { $0 == 0x20 || $0 == 0x09 } && (e == old.count || old[e] == 0x0A)
            guard alone else { continue }
            c.statements.append(i)
            if p == 0 { c.topStatements.append(i) }
        }
        return c
    }

    func randomEdit(_ t: FileTree, _ old: [UInt8], _ cands: Candidates, statement: String, fresh: Int, rng: inout SplitMix64) -> Edit? {
        func lineIndent(_ at: Int) -> [UInt8] {
            var s = at
            while s > 0 && old[s - 1] != 0x0A { s -= 1 }
            var e = s
            while e < at && (old[e] == 0x20 || old[e] == 0x09) { e += 1 }
            return Array(old[s..<e])
        }
        func replace(_ r: Range<Int>, with text: [UInt8], what: String) -> Edit {
            Self.replacement(old, r, text, changed: 0..<text.count, what: what)
        }
        switch rng.below(5) {
        case 0: // rename an identifier
            let ids = cands.identifiers
            guard !ids.isEmpty else { return nil }
            let i = ids[rng.below(ids.count)]
            return replace(Int(t.tree.starts[i])..<Int(t.tree.ends[i]), with: Array("zq\(fresh)x".utf8), what: "rename node \(i)")
        case 1: // change a number
            let nums = cands.numbers
            guard !nums.isEmpty else { return nil }
            let i = nums[rng.below(nums.count)]
            return replace(Int(t.tree.starts[i])..<Int(t.tree.ends[i]), with: Array("7\(fresh)".utf8), what: "number node \(i)")
        case 2: // delete a statement
            let stmts = cands.statements
            guard !stmts.isEmpty else { return nil }
            let i = stmts[rng.below(stmts.count)]
            return replace(Int(t.tree.starts[i])..<Int(t.tree.ends[i]), with: [], what: "delete node \(i) \(t.kindName(i))")
        case 3: // insert a statement after one
            let stmts = cands.statements
            guard !stmts.isEmpty else { return nil }
            let i = stmts[rng.below(stmts.count)]
            let at = Int(t.tree.ends[i])
            let prefix = [UInt8(0x0A)] + lineIndent(Int(t.tree.starts[i]))
            let text = Array(statement.replacingOccurrences(of: "N", with: "\(fresh)").utf8)
            return Self.replacement(old, at..<at, prefix + text, changed: prefix.count..<(prefix.count + text.count),
                                    what: "insert after node \(i) \(t.kindName(i))")
        default: // move a top-level statement to the end
            let tops = cands.topStatements
            // Past two or more siblings, so that the move is the one shortest edit.
            guard tops.count >= 3 else { return nil }
            let i = tops[rng.below(tops.count - 2)]
            let s = Int(t.tree.starts[i]), e = Int(t.tree.ends[i])
            var rest = Array(old[..<s]) + Array(old[e...])
            while rest.last == 0x0A { rest.removeLast() }
            rest += [0x0A, 0x0A]
            let at = rest.count
            let new = rest + Array(old[s..<e]) + [0x0A]
            return Edit(what: "move node \(i) \(t.kindName(i))", new: new, oldRanges: [s..<e], newRanges: [at..<(at + e - s)])
        }
    }

    func testBudgetFallbackIsLabelled() throws {
        let grammar = try TestGrammars.require("python")
        let old = try readBytes(TestPaths.fixturesPath + "/python/app.py")
        let new = Array(String(decoding: old, as: UTF8.self).replacingOccurrences(of: "range(3)", with: "range(5)").utf8)
        var tiny = TreeDiffOptions()
        tiny.maxNodes = 100
        let d = try treeDiff(old, new, grammar, options: tiny)
        guard case .coarse(let reason) = d.mode else { return XCTFail("not coarse: \(d.mode)") }
        XCTAssertTrue(reason.contains("over the limit of 100"), reason)
        XCTAssertEqual(d.changes.map(\.op), [.update], "a one-token change stays one update even coarse")
        var slow = TreeDiffOptions()
        slow.maxWork = 10
        let w = try treeDiff(old, new, grammar, options: slow)
        guard case .coarse(let why) = w.mode else { return XCTFail("not coarse: \(w.mode)") }
        XCTAssertTrue(why.contains("budget"), why)
        let f = FileDiff(status: .modified, old: nil, new: SnapshotFile(path: Array("app.py".utf8), hash: ContentHash(low: 0, high: 0), language: "python", size: 0, lines: 0, index: -1), nodes: .diff(d))
        let human = String(decoding: DiffPrinter(format: .human, color: false).render(f), as: UTF8.self)
        XCTAssertTrue(human.contains("coarse diff (\(reason))"), human)
        let json = String(decoding: DiffPrinter(format: .json, color: false).render(f), as: UTF8.self)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let nodes = try XCTUnwrap(object["nodes"] as? [String: Any])
        XCTAssertEqual(nodes["mode"] as? String, "coarse")
        XCTAssertEqual(nodes["reason"] as? String, reason)
        XCTAssertTrue(DiffPrinter(format: .stat, color: false).stat([f]).contains("(coarse)"))
    }

    /// 10,000 levels of nesting, diffed on a thread with a 512 KiB stack: no recursion.
    func testDeepTreesDoNotOverflowTheStack() throws {
        let grammar = try TestGrammars.require("json")
        let depth = 10_000
        let old = Array((String(repeating: "[", count: depth) + "1" + String(repeating: "]", count: depth) + "\n").utf8)
        var new = old
        new[depth] = UInt8(ascii: "2")
        let a = try fileTree(old, grammar), b = try fileTree(new, grammar)
        XCTAssertGreaterThan(a.tree.depth(), depth)
        final class Box: @unchecked Sendable { var results: [TreeDiff] = [] }
        let box = Box()
        let ok = runOnSmallStack(512 << 10) {
            box.results.append(TreeDiff.compute(old: a, new: b))
            var tiny = TreeDiffOptions()
            tiny.maxNodes = 10
            box.results.append(TreeDiff.compute(old: a, new: b, options: tiny))
            var changed = b
            changed = try! self.fileTree(Array(new[1...]) + [0x0A], grammar)
            box.results.append(TreeDiff.compute(old: a, new: changed))
        }
        XCTAssertTrue(ok)
        XCTAssertEqual(box.results.count, 3)
        XCTAssertEqual(box.results[0].changes.map(\.op), [.update])
        XCTAssertEqual(box.results[0].changes.first?.new?.startByte, depth)
        XCTAssertTrue(box.results[1].isCoarse)
        XCTAssertEqual(box.results[1].changes.map(\.op), [.update])
        XCTAssertFalse(box.results[2].changes.isEmpty)
        let render = DiffPrinter(format: .human, color: false)
        XCTAssertFalse(render.human(FileDiff(status: .modified, old: nil, new: nil, nodes: .diff(box.results[0]))).isEmpty)
    }

    func runOnSmallStack(_ bytes: Int, _ body: @escaping () -> Void) -> Bool {
        final class Job { let body: () -> Void; init(_ b: @escaping () -> Void) { body = b } }
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        pthread_attr_setstacksize(&attr, bytes)
        var thread = pthread_t()
        let job = Unmanaged.passRetained(Job(body)).toOpaque()
        let rc = pthread_create(&thread, &attr, { raw in
            Unmanaged<Job>.fromOpaque(raw!).takeRetainedValue().body()
            return nil
        }, job)
        pthread_attr_destroy(&attr)
        guard rc == 0 else { return false }
        pthread_join(thread, nil)
        return true
    }

    // MARK: Pairing and renames (issue 15)

    func py(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// The failures of issue 15: neighbours of another name paired as renames, a new wrapper
    /// taken for the old function renamed, nested functions paired one level off.
    func testSameNamedDeclarationsPairBeforeSimilarOnes() throws {
        let grammar = try TestGrammars.require("python")
        var options = TreeDiffOptions()
        options.checkReplay = true
        // class A, B -> B (changed), C: A deleted, C inserted, B changed; no rename.
        let classes = TreeDiff.compute(old: try fileTree(py("class A:\n    x = 1\n\n\nclass B:\n    y = 2\n"), grammar),
                                       new: try fileTree(py("class B:\n    y = 3\n\n\nclass C:\n    z = 4\n"), grammar), options: options)
        XCTAssertEqual(classes.changes.map(\.op), [.delete, .update, .insert], "\(classes.changes.map { "\($0.op) \($0.kind)" })")
        XCTAssertEqual(classes.changes.map(\.kind), ["class_definition", "integer", "class_definition"])
        XCTAssertEqual(classes.groups.map { $0.path.map(\.name) }, [[], ["B"]])
        XCTAssertTrue(classes.renames.isEmpty, "\(classes.renames)")
        XCTAssertTrue(classes.groups.allSatisfy { $0.path.allSatisfy { $0.oldName == nil } })
        // A new wrapper in front of the old function: inserted; the old one changed in place.
        let wrapper = TreeDiff.compute(old: try fileTree(py("def f(a):\n    return a + 1\n\n\ndef h():\n    return 2\n"), grammar),
                                       new: try fileTree(py("def wrap(a):\n    return f(a)\n\n\ndef f(a):\n    return a + 2\n\n\ndef h():\n    return 2\n"), grammar),
                                       options: options)
        XCTAssertEqual(wrapper.changes.map(\.op), [.insert, .update], "\(wrapper.changes.map { "\($0.op) \($0.kind)" })")
        XCTAssertEqual(wrapper.changes.first?.newText, "def wrap(a):\n    return f(a)")
        XCTAssertEqual(wrapper.groups.last?.path.map(\.name), ["f"])
        XCTAssertTrue(wrapper.renames.isEmpty, "\(wrapper.renames)")
        // A nested function added in front of the others: each other one keeps its partner.
        let nested = TreeDiff.compute(
            old: try fileTree(py("def outer(a):\n    def g(x):\n        return x + 1\n\n    def h(x):\n        return g(x) * 2\n\n    def k(x):\n        return h(x) - 3\n\n    return k\n"), grammar),
            new: try fileTree(py("def outer(a):\n    def f(x):\n        return x + 9\n\n    def g(x):\n        return x + 2\n\n    def h(x):\n        return g(x) * 5\n\n    def k(x):\n        return h(x) - 6\n\n    return k\n"), grammar),
            options: options)
        XCTAssertEqual(nested.changes.map(\.op), [.insert, .update, .update, .update], "\(nested.changes.map { "\($0.op) \($0.kind)" })")
        XCTAssertEqual(nested.changes.first?.kind, "function_definition")
        XCTAssertTrue(nested.renames.isEmpty, "\(nested.renames)")
        XCTAssertFalse(nested.changes.contains { $0.kind == "identifier" }, "a nested name updated: paired one level off")
        // A true rename is still one: the old name is gone, the new one is new.
        let renamed = TreeDiff.compute(old: try fileTree(py("def load(path):\n    return open(path).read()\n\n\ndef keep():\n    return 1\n"), grammar),
                                       new: try fileTree(py("def read_all(path):\n    return open(path).read()\n\n\ndef keep():\n    return 1\n"), grammar),
                                       options: options)
        XCTAssertEqual(renamed.renames.map { "\($0.oldName) -> \($0.newName)" }, ["load -> read_all"])
        XCTAssertEqual(renamed.groups.first?.path.first?.oldName, "load")
        // Names are whole, however long (shortened only in human output).
        let longOld = "test_" + String(repeating: "old_", count: 20), longNew = "test_" + String(repeating: "new_", count: 20)
        let long = TreeDiff.compute(old: try fileTree(py("def \(longOld)(x):\n    return x + 1\n"), grammar),
                                    new: try fileTree(py("def \(longNew)(x):\n    return x + 1\n"), grammar), options: options)
        XCTAssertEqual(long.renames.map(\.oldName), [longOld])
        XCTAssertEqual(long.groups.first?.path.first?.name, longNew)
        XCTAssertTrue(DiffPrinter(format: .human, color: false).groupTitle(long.groups[0]).contains("…"))
        // ... but not when the old name lives on in the scope: then one is inserted.
        let kept = TreeDiff.compute(old: try fileTree(py("class K:\n    def load(self, path):\n        return open(path).read()\n"), grammar),
                                    new: try fileTree(py("class K:\n    def read_all(self, path):\n        return open(path).read()\n\n    def load(self):\n        return 0\n"), grammar),
                                    options: options)
        XCTAssertTrue(kept.renames.isEmpty, "\(kept.renames)")
        // A node wrapped in an inserted one stays, and the insert says so.
        let wrapped = TreeDiff.compute(old: try fileTree(py("def f(x):\n    return x + a\n"), grammar),
                                       new: try fileTree(py("def f(x):\n    return x + a + 1\n"), grammar), options: options)
        XCTAssertEqual(wrapped.changes.map(\.op), [.insert])
        let at = "def f(x):\n    return ".utf8.count
        XCTAssertEqual(wrapped.changes.first?.kept.map { [$0.startByte, $0.endByte] }, [[at, at + 5]])
        let line = DiffPrinter(format: .human, color: false).changeLine(wrapped.changes[0])
        XCTAssertTrue(line.hasSuffix("`x + a + 1`  (keeps 2:12-2:17)"), line)
        for d in [classes, wrapper, nested, renamed, kept, wrapped] { XCTAssertEqual(d.replay, .some(nil)) }
    }

    // MARK: Replay (issue 15)

    /// Random inserts, deletes, moves and updates of statements and tokens, one to three in a
    /// row, on real standard library files: every edit script, structural and coarse, replays
    /// on the old tree to the new one; and a script with an action left out does not.
    func testEditScriptsReplayOnGeneratedEditsOfStdlibFiles() throws {
        guard let stdlib = QueryTests.pythonStdlib(), FileManager.default.fileExists(atPath: stdlib + "/argparse.py") else {
            throw XCTSkip("no Python standard library found (python3 -c 'import sysconfig')")
        }
        let grammar = try TestGrammars.require("python")
        let names = ["textwrap.py", "shlex.py", "fractions.py", "string.py", "csv.py", "heapq.py",
                     "bisect.py", "json/decoder.py", "json/encoder.py", "email/utils.py"]
        var rng = SplitMix64(seed: ProcessInfo.processInfo.environment["CSTPACK_DIFF_SEED"].flatMap { UInt64($0) } ?? 0x5EED_15)
        var checked = 0, moves = 0, broken = 0
        var options = TreeDiffOptions()
        options.checkReplay = true
        var tiny = options
        tiny.maxNodes = 2
        for name in names {
            let path = stdlib + "/" + name
            guard FileManager.default.fileExists(atPath: path) else { continue }
            let original = try readBytes(path)
            let t0 = try fileTree(original, grammar)
            guard !t0.tree.flags[0].contains(.hasError) else { continue }
            for round in 0..<9 {
                var text = original
                var what: [String] = []
                for _ in 0...rng.below(3) {
                    let t = try fileTree(text, grammar)
                    guard let (next, label) = randomTreeEdit(t, text, rng: &rng) else { continue }
                    let parsed = try fileTree(next, grammar)
                    if parsed.tree.flags[0].contains(.hasError) { continue }
                    text = next
                    what.append(label)
                }
                guard text != original else { continue }
                let label = "\(name) round \(round): \(what.joined(separator: ", "))"
                let newTree = try fileTree(text, grammar)
                let d = TreeDiff.compute(old: t0, new: newTree, options: options)
                XCTAssertEqual(d.mode, .structural, label)
                XCTAssertEqual(d.replay, .some(nil), label)
                if d.replay != .some(nil) {
                    let keep = try makeTempDir("cstpack-replay-failure")
                    try writeBytes(original, to: keep + "/old.py")
                    try writeBytes(text, to: keep + "/new.py")
                    XCTFail("\(label): the two versions are in \(keep)")
                }
                let coarse = TreeDiff.compute(old: t0, new: newTree, options: tiny)
                XCTAssertEqual(coarse.replay, .some(nil), "\(label) (coarse)")
                moves += d.count(.move)
                checked += 1
                // The check can fail: without its first action, a script does not replay.
                if let first = d.changes.first {
                    let a = DiffTree(t0, kindLabels: labels(t0).kinds, fieldLabels: labels(t0).fields)
                    let b = DiffTree(newTree, kindLabels: labels(newTree).kinds, fieldLabels: labels(newTree).fields)
                    let m = matching(t0, newTree)
                    XCTAssertNil(EditReplay(a: a, b: b, m1: m.m1, m2: m.m2).check(d.changes), label)
                    if first.op != .update || a.value[first.oldNode] != b.value[first.newNode] || a.label[first.oldNode] != b.label[first.newNode] {
                        XCTAssertNotNil(EditReplay(a: a, b: b, m1: m.m1, m2: m.m2).check(Array(d.changes.dropFirst())), "\(label): replays without \(first.op) \(first.kind)")
                        broken += 1
                    }
                }
            }
        }
        XCTAssertGreaterThan(checked, 80)
        XCTAssertGreaterThan(moves, 5)
        XCTAssertGreaterThan(broken, 40)
    }

    func labels(_ t: FileTree) -> (kinds: [Int32], fields: [Int32]) {
        let f = TableFactsCache.shared.facts(t.table)
        return (f.kindLabels, f.fieldLabels)
    }

    /// The matching TreeDiff.compute uses, for checking replays of altered scripts.
    func matching(_ old: FileTree, _ new: FileTree) -> (m1: [Int32], m2: [Int32]) {
        let fa = TableFactsCache.shared.facts(old.table), fb = TableFactsCache.shared.facts(new.table)
        let a = DiffTree(old, kindLabels: fa.kindLabels, fieldLabels: fa.fieldLabels)
        let b = DiffTree(new, kindLabels: fb.kindLabels, fieldLabels: fb.fieldLabels)
        var m = TreeMatcher(a, b, budget: DiffBudget(maxWork: Int.max, seconds: 1e9), identityFields: fb.identityFields,
                            decls: DeclarationPair(a: Declarations(a, facts: fa), b: Declarations(b, facts: fb)))
        try? m.run()
        return (m.m1, m.m2)
    }

    /// One random edit of a Python file's text: a statement deleted, copied after a sibling,
    /// or moved after another sibling (same block, so the indentation holds), an identifier
    /// renamed or a number changed.
    func randomTreeEdit(_ t: FileTree, _ text: [UInt8], rng: inout SplitMix64) -> ([UInt8], String)? {
        // Statements: named children of the module or a block with another named child,
        // alone on their lines; leaves for renames and numbers.
        var c = Candidates()
        let lists = t.tree.childLists()
        var bySibling: [Int32: [Int]] = [:]
        for p in 0..<t.count where p == 0 || t.kindName(p) == "block" {
            let kids = lists.children[Int(lists.offsets[p])..<Int(lists.offsets[p + 1])].map(Int.init)
                .filter { t.isNamed($0) && !t.tree.flags[$0].contains(.extra) }
            guard kids.count >= 2 else { continue }
            for i in kids {
                let s = Int(t.tree.starts[i]), e = Int(t.tree.ends[i])
                var b = s
                while b > 0 && (text[b - 1] == 0x20 || text[b - 1] == 0x09) { b -= 1 }
                guard (b == 0 || text[b - 1] == 0x0A) && (e == text.count || text[e] == 0x0A) else { continue }
                c.statements.append(i)
                bySibling[Int32(p), default: []].append(i)
            }
        }
        for i in 1..<t.count where !t.tree.hasChildren(i) && t.isNamed(i) {
            if t.kindName(i) == "identifier" { c.identifiers.append(i) }
            if t.kindName(i) == "integer" { c.numbers.append(i) }
        }
        func range(_ i: Int) -> Range<Int> { Int(t.tree.starts[i])..<Int(t.tree.ends[i]) }
        func sibling(of i: Int) -> Int? {
            let sibs = (bySibling[t.tree.parents[i]] ?? []).filter { $0 != i }
            return sibs.isEmpty ? nil : sibs[rng.below(sibs.count)]
        }
        switch rng.below(5) {
        case 0:
            guard !c.statements.isEmpty else { return nil }
            let i = c.statements[rng.below(c.statements.count)]
            return (Array(text[..<range(i).lowerBound]) + Array(text[range(i).upperBound...]), "delete \(t.kindName(i))")
        case 1, 2:
            guard !c.statements.isEmpty else { return nil }
            let i = c.statements[rng.below(c.statements.count)]
            guard let j = sibling(of: i) else { return nil }
            let r = range(i), at = range(j).upperBound
            let indent = Array(text[..<r.lowerBound].reversed().prefix { $0 == 0x20 || $0 == 0x09 }.reversed())
            let piece = [UInt8(0x0A)] + indent + Array(text[r])
            let copied = Array(text[..<at]) + piece + Array(text[at...])
            if rng.below(2) == 0 { return (copied, "copy \(t.kindName(i))") }
            // Moved: the copy stays, the original goes.
            if at < r.lowerBound {
                let shift = piece.count
                return (Array(copied[..<(r.lowerBound + shift)]) + Array(copied[(r.upperBound + shift)...]), "move \(t.kindName(i)) up")
            }
            return (Array(copied[..<r.lowerBound]) + Array(copied[r.upperBound...]), "move \(t.kindName(i)) down")
        case 3:
            guard !c.identifiers.isEmpty else { return nil }
            let i = c.identifiers[rng.below(c.identifiers.count)]
            return (Array(text[..<range(i).lowerBound]) + Array("zq\(rng.below(1000))".utf8) + Array(text[range(i).upperBound...]), "rename identifier")
        default:
            guard !c.numbers.isEmpty else { return nil }
            let i = c.numbers[rng.below(c.numbers.count)]
            return (Array(text[..<range(i).lowerBound]) + Array("7\(rng.below(1000))".utf8) + Array(text[range(i).upperBound...]), "number")
        }
    }

    /// Every modified file of real release pairs (sdists from PyPI, cached where
    /// scripts/bench-diff keeps them): every edit script replays.
    func testEditScriptsReplayOnRealReleasePairs() throws {
        let cache = ProcessInfo.processInfo.environment["CSTPACK_DIFF_CORPUS"]
            ?? (ProcessInfo.processInfo.environment["HOME"] ?? "") + "/.cache/cstpack-bench"
        let pairs = [("flask", "2.3.3", "3.0.0"), ("requests", "2.31.0", "2.32.3")]
        var missing: [String] = []
        var replayed = 0
        for (project, old, new) in pairs {
            guard let a = try sdist(cache, project, old), let b = try sdist(cache, project, new) else {
                missing.append("\(project) \(old)/\(new)")
                continue
            }
            let files = try plan(try build(a), try build(b)) { $0.tree.checkReplay = true }
            let modified = files.filter { $0.status == .modified }
            XCTAssertGreaterThan(modified.count, 5, project)
            for f in files {
                guard let d = f.treeDiff else { continue }
                XCTAssertEqual(d.replay, .some(nil), "\(project): \(f.path)")
                replayed += 1
            }
        }
        if replayed == 0 {
            throw XCTSkip("release pairs absent (\(missing.joined(separator: ", "))) from \(cache): fetch them with scripts/bench-diff --quality-only, or pip download --no-binary :all: --no-deps flask==2.3.3 -d \(cache)/flask-2.3.3 (and the others)")
        }
        XCTAssertTrue(missing.isEmpty, "absent: \(missing)")
    }

    /// The extracted source tree of a cached sdist, or nil when it is not cached.
    func sdist(_ cache: String, _ project: String, _ version: String) throws -> String? {
        let dir = "\(cache)/\(project)-\(version)"
        guard let name = (try? FileManager.default.contentsOfDirectory(atPath: dir))?.first(where: { $0.hasSuffix(".tar.gz") }) else { return nil }
        let out = try makeTempDir("cstpack-sdist")
        let tar = Process()
        tar.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        tar.arguments = ["tar", "-C", out, "-xzf", dir + "/" + name]
        try tar.run()
        tar.waitUntilExit()
        guard tar.terminationStatus == 0, let top = try FileManager.default.contentsOfDirectory(atPath: out).first else { return nil }
        return out + "/" + top
    }

    // MARK: Showing changes, paths (issue 15)

    func testUpdatesShowChangedWordsAndJSONCarriesWholeTexts() throws {
        let grammar = try TestGrammars.require("python")
        let long = String(repeating: "word ", count: 30)
        let old = py("def f():\n    \"\"\"Return the first value of the list.\n\n    More words here.\n    \"\"\"\n    return \"\(long)a\"\n")
        let new = py("def f():\n    \"\"\"Return the last value of the list.\n\n    More words here.\n    \"\"\"\n    return \"\(long)b\"\n")
        let d = try treeDiff(old, new, grammar)
        XCTAssertEqual(d.changes.map(\.op), [.update, .update], "\(d.changes.map { "\($0.op) \($0.kind)" })")
        // Whole texts, never cut.
        XCTAssertTrue(d.changes[0].newText?.contains("Return the last value of the list.\n\n    More words here.") ?? false, "\(d.changes[0].newText ?? "")")
        XCTAssertEqual(d.changes[1].newText?.hasSuffix("\(long)b"), true, "\(d.changes[1].newText ?? "")")
        let f = FileDiff(status: .modified, old: nil, new: SnapshotFile(path: Array("f.py".utf8), hash: ContentHash(low: 0, high: 0), language: "python", size: 0, lines: 0, index: -1), nodes: .diff(d))
        let json = String(decoding: DiffPrinter(format: .json, color: false).render(f), as: UTF8.self)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let changes = try XCTUnwrap((object["nodes"] as? [String: Any])?["changes"] as? [[String: Any]])
        XCTAssertEqual(changes.map { $0["new_text"] as? String }, d.changes.map(\.newText))
        XCTAssertFalse(json.contains("…"))
        // Human output: the changed words marked, the cut marked.
        let human = String(decoding: DiffPrinter(format: .human, color: false).render(f), as: UTF8.self)
        XCTAssertTrue(human.contains("[-first-]{+last+}"), human)
        XCTAssertTrue(human.contains("[-a-]{+b+}") || human.contains("[-\(long)a-]{+\(long)b+}"), human)
        let colored = String(decoding: DiffPrinter(format: .human, color: true).render(f), as: UTF8.self)
        XCTAssertTrue(colored.contains("\u{1B}[1;31mfirst\u{1B}[0m") && colored.contains("\u{1B}[1;32mlast\u{1B}[0m"), colored)
        XCTAssertEqual(WordDiff.segments("a + b", "a - b").map(\.kind), [.same, .deleted, .inserted, .same])
        XCTAssertEqual(DiffPrinter.shortened("  first line\nsecond"), "first line…")
        XCTAssertEqual(DiffPrinter.shortened(String(repeating: "x", count: 80)), String(repeating: "x", count: 59) + "…")
    }

    func testMinifiedFilesGetTheCoarseDiffUnlessForced() throws {
        let grammar = try TestGrammars.require("javascript")
        let numbers = (0..<3000).map(String.init).joined(separator: ",")
        let old = Array("var a=[\(numbers)];function f(x){return x+1}\n".utf8)
        let new = Array("var a=[\(numbers.replacingOccurrences(of: ",1500,", with: ",15000,"))];function f(x){return x+2}\n".utf8)
        var options = TreeDiffOptions()
        options.checkReplay = true
        let d = try treeDiff(old, new, grammar, options: options)
        guard case .coarse(let reason) = d.mode else { return XCTFail("not coarse: \(d.mode)") }
        XCTAssertTrue(reason.hasPrefix("minified or generated: a line of"), reason)
        XCTAssertEqual(d.replay, .some(nil))
        options.structuralLongLines = true
        let forced = try treeDiff(old, new, grammar, options: options)
        XCTAssertEqual(forced.mode, .structural)
        XCTAssertEqual(forced.changes.map(\.op), [.update, .update])
        // Short lines on average: structural.
        let plain = try treeDiff(Array("function f(x) {\n  return x + 1\n}\n".utf8), Array("function f(x) {\n  return x + 2\n}\n".utf8), grammar)
        XCTAssertEqual(plain.mode, .structural)
    }

    func testExcludeAppliesToBothSides() throws {
        let oldRoot = try copyFixtures(), newRoot = try copyFixtures()
        try edit(newRoot, "python/app.py") { $0.replacingOccurrences(of: "range(3)", with: "range(4)") }
        try edit(newRoot, "rust/lib.rs") { $0.replacingOccurrences(of: "use std::fmt;\n", with: "") }
        try FileManager.default.removeItem(atPath: newRoot + "/ruby/model.rb")
        let a = try build(oldRoot), b = try build(newRoot)
        XCTAssertEqual(nameStatus(try plan(a, b) { $0.excludes = ["**/*.rs"] }), ["M\tpython/app.py", "D\truby/model.rb"])
        XCTAssertEqual(nameStatus(try plan(a, b) { $0.excludes = ["ruby", "*.rs"] }), ["M\tpython/app.py", "M\trust/lib.rs"],
                       "`*` stays in a folder: *.rs matches no stored path")
        XCTAssertEqual(nameStatus(try plan(a, b) { $0.paths = ["python", "rust"]; $0.excludes = ["python/*"] }), ["M\trust/lib.rs"])
        XCTAssertThrowsError(try plan(a, b) { $0.paths = ["nosuch/**"] })
    }

    // MARK: Output

    func testRenderedForms() throws {
        let oldRoot = try copyFixtures(), newRoot = try copyFixtures()
        try edit(newRoot, "python/app.py") { $0.replacingOccurrences(of: "def tagged(self, tag: str)", with: "def tagged(self, label: str)") }
        try FileManager.default.moveItem(atPath: newRoot + "/go/main.go", toPath: newRoot + "/go/other.go")
        let a = try build(oldRoot), b = try build(newRoot)
        let files = try plan(a, b)
        XCTAssertEqual(nameStatus(files), ["R100\tgo/main.go\tgo/other.go", "M\tpython/app.py"])
        let human = files.map { String(decoding: DiffPrinter(format: .human, color: false).render($0), as: UTF8.self) }.joined()
        XCTAssertTrue(human.contains("R100  go/main.go → go/other.go"), human)
        XCTAssertTrue(human.contains("class_definition `Inventory` › function_definition `tagged`: parameters changed"), human)
        XCTAssertTrue(human.contains("~ update  39:22-39:27  identifier  `tag` → `label`"), human)
        XCTAssertFalse(human.contains("\u{1B}["))
        let colored = String(decoding: DiffPrinter(format: .human, color: true).render(files[1]), as: UTF8.self)
        XCTAssertTrue(colored.contains("\u{1B}[33m"))
        for f in files {
            let line = String(decoding: DiffPrinter(format: .json, color: false).render(f), as: UTF8.self)
            XCTAssertTrue(line.hasSuffix("}\n"))
            let o = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            XCTAssertNotNil(o["status"] as? String)
            if o["status"] as? String == "M" {
                let nodes = try XCTUnwrap(o["nodes"] as? [String: Any])
                XCTAssertEqual(nodes["updated"] as? Int, 1)
                let change = try XCTUnwrap((nodes["changes"] as? [[String: Any]])?.first)
                XCTAssertEqual(change["op"] as? String, "update")
                XCTAssertEqual(change["old_text"] as? String, "tag")
                XCTAssertEqual(change["new_text"] as? String, "label")
                // Positions as `query --json` gives them.
                let start = try XCTUnwrap((change["new"] as? [String: Any])?["start"] as? [String: Int])
                XCTAssertEqual(start, ["line": 39, "column": 22])
                XCTAssertNotNil((change["new"] as? [String: Any])?["start_byte"] as? Int)
            } else {
                XCTAssertEqual(o["score"] as? Int, 100)
            }
        }
        let stat = DiffPrinter(format: .stat, color: false).stat(files)
        XCTAssertTrue(stat.contains("python/app.py") && stat.contains("+0 -0 ~1 >0"), stat)
        XCTAssertTrue(stat.contains("2 files changed (1 modified, 1 renamed)"), stat)
    }
}

extension CSTTree {
    /// In preorder a node's first child, if any, comes right after it.
    func hasChildren(_ i: Int) -> Bool { i + 1 < count && parents[i + 1] == Int32(i) }
}
