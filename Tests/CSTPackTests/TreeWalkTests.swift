import XCTest
@testable import CSTPack

/// The build reads trees with a direct walker over tree-sitter's internal layout
/// (CTreeSitterSupport/tree_walk.c); `verify` reads them with the public cursor. They must agree on every
/// node of every tree, valid or broken, in every grammar.
final class TreeWalkTests: XCTestCase {
    private func assertSame(_ bytes: [UInt8], _ grammar: Grammar, _ label: String) throws {
        let (fast, cursor) = try bytes.withUnsafeBytes { try TreeSitterParser().parseReadByBoth($0, grammar: grammar) }
        if fast != cursor { XCTFail("\(label) (\(grammar.name)): \(firstDifference(cursor, fast) ?? "differs")") }
    }

    func testTheFastWalkerIsInUse() throws {
        _ = try TestGrammars.require()
        // On the supported library (Debian's 0.20.7) the comparisons below are not vacuous.
        XCTAssertTrue(TreeSitterParser.fastWalkAvailable, "the direct walker is off: libtree-sitter is not 0.20.7, or CSTPACK_CURSOR_WALK is set")
    }

    func testFixturesWalkAlike() throws {
        let registry = try TestGrammars.require()
        let map = LanguageMap()
        var compared = 0
        for rel in try listFiles(TestPaths.fixturesPath) {
            let name = Array((rel.split(separator: "/").last.map(String.init) ?? rel).utf8)
            guard let lang = map.language(forFileName: name), let grammar = registry.grammars[lang] else { continue }
            let bytes = try readBytes(TestPaths.fixturesPath + "/" + rel)
            try assertSame(bytes, grammar, rel)
            compared += 1
        }
        XCTAssertGreaterThanOrEqual(compared, 18)
    }

    /// Fixture text mutated at random (bytes deleted, duplicated, swapped in from other
    /// languages) and fed to every grammar: ERROR and MISSING nodes, aliases and fields
    /// in trees that no grammar expects.
    func testMutatedSourcesInEveryGrammarWalkAlike() throws {
        let registry = try TestGrammars.require()
        var pool: [[UInt8]] = []
        for rel in try listFiles(TestPaths.fixturesPath) {
            let bytes = try readBytes(TestPaths.fixturesPath + "/" + rel)
            if !bytes.prefix(8000).contains(0) && bytes.count < 20_000 { pool.append(bytes) }
        }
        XCTAssertFalse(pool.isEmpty)
        var rng = SplitMix64(seed: 0x5eed_7a1c)
        var nodes = 0
        for name in registry.grammars.keys.sorted() {
            let grammar = registry.grammars[name]!
            for round in 0..<12 {
                var text = pool[rng.below(pool.count)]
                for _ in 0..<rng.below(8) {
                    guard !text.isEmpty else { break }
                    let at = rng.below(text.count)
                    switch rng.below(3) {
                    case 0: text.removeSubrange(at..<min(text.count, at + 1 + rng.below(40)))
                    case 1: text.insert(contentsOf: text[at..<min(text.count, at + 1 + rng.below(40))], at: rng.below(text.count))
                    default:
                        let other = pool[rng.below(pool.count)]
                        let from = rng.below(max(other.count, 1))
                        text.insert(contentsOf: other[from..<min(other.count, from + rng.below(200))], at: at)
                    }
                }
                try assertSame(text, grammar, "\(name) round \(round)")
                nodes += text.count
            }
        }
        XCTAssertGreaterThan(nodes, 0)
    }

    func testDeepAndEmptyTreesWalkAlike() throws {
        let python = try TestGrammars.require("python")
        let json = try TestGrammars.require("json")
        try assertSame([], python, "empty file")
        try assertSame(Array(("x = " + String(repeating: "(", count: 3000) + "1" + String(repeating: ")", count: 3000)).utf8), python, "deep python")
        try assertSame(Array((String(repeating: "[", count: 5000) + String(repeating: "]", count: 4000)).utf8), json, "deep, unbalanced json")
        try assertSame(Array("def f(:\n  return )\n\u{0}\u{ff}".utf8), python, "broken python")
    }
}

final class WalkerExcludeTests: XCTestCase {
    /// An exclude pattern matches a file when it matches the file's relative path, any name
    /// in it, or the relative path of a folder it is in (an excluded folder is not walked).
    /// The directory walk checks a file's folders once, as it enters them: its result must be
    /// the one of checking every file against all of these.
    func testExcludesMatchThePathOrAnyNameOfIt() throws {
        let root = try makeTempDir()
        let paths = ["a/b/c.py", "a/x.py", "a/b.py", "site-packages/z.py", "d/site-packages/q.py", "d/q.py",
                     "e/f.py", "e/f.py.txt", "g/x.json", "g/h/x.c", "top.py", "n/o/p/r.rs", "n/o/s.rs"]
        for p in paths {
            let full = root + "/" + p
            try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try writeBytes(Array("x\n".utf8), to: full)
        }
        let patterns = [["site-packages"], ["*.txt", "a/b"], ["e/f.py", "x.*"], ["a/*"], ["n/o"], ["*/o/*"], ["q.py", "top.py"], []]
        // The same inside a git work tree, where git lists the files.
        let git = Process()
        git.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        git.arguments = ["git", "-C", root, "init", "-q"]
        try git.run(); git.waitUntilExit()
        XCTAssertEqual(git.terminationStatus, 0, "git init")
        for excludes in patterns { for noIgnore in [true, false] {
            var walker = Walker(root: root)
            walker.noIgnore = noIgnore
            walker.excludes = excludes
            let result = try walker.walk()
            XCTAssertEqual(result.usedGit, !noIgnore)
            let walked = result.files.map(\.displayPath)
            let expected = paths.filter { p in
                let names = p.split(separator: "/").map(String.init)
                let folders = (1..<names.count).map { names[..<$0].joined(separator: "/") }
                let parts = [p] + names + folders
                return !excludes.contains { e in parts.contains { fnmatch(e, $0, 0) == 0 } }
            }.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
            XCTAssertEqual(walked, expected, "excludes \(excludes), \(noIgnore ? "walked" : "listed by git")")
        } }
    }
}
