import CTreeSitterSupport
import XCTest
@testable import CSTPack

/// Grammars with a known scanner bug are loaded mended (CTreeSitterSupport/scanner_fixes.c).
final class ScannerFixTests: XCTestCase {
    /// lua's scanner left its state uninitialized, so each parse started from whatever the
    /// allocator returned. Mended, a fresh scanner always starts from the zero state.
    func testLuaScannerStartsFromTheZeroState() throws {
        let lua = try TestGrammars.require("lua")
        for round in 0..<200 {
            // Small blocks freed just before: recycled memory is what the unmended scanner read.
            var junk = (0..<8).map { _ in [UInt8](repeating: UInt8(truncatingIfNeeded: round), count: 8) }
            junk.removeAll()
            var buffer = [CChar](repeating: 0x7F, count: 16)
            let n = cst_fresh_scanner_state(lua.language, &buffer, 16)
            XCTAssertEqual(n, 2)
            XCTAssertEqual(Array(buffer.prefix(2)), [0, 0], "round \(round)")
        }
    }

    /// A second registry (the parse helper makes its own; so do some commands) gets the same
    /// mended language, not the library's own.
    func testEveryRegistryGetsTheMendedLua() throws {
        let first = try TestGrammars.require("lua")
        let again = GrammarRegistry(directories: GrammarRegistry.searchDirectories(explicit: nil))
        let lua = try XCTUnwrap(again.grammars["lua"])
        XCTAssertEqual(lua.language, first.language)
        var buffer = [CChar](repeating: 0x7F, count: 16)
        XCTAssertEqual(cst_fresh_scanner_state(lua.language, &buffer, 16), 2)
        XCTAssertEqual(Array(buffer.prefix(2)), [0, 0])
    }

    /// End to end: broken lua files (where the start state decides the parse) give the same
    /// archive in three builds, and `verify --deep` agrees with every tree.
    func testBrokenLuaFilesPackDeterministically() throws {
        let registry = try TestGrammars.require()
        _ = try TestGrammars.require("lua")
        let dir = try makeTempDir()
        let root = dir + "/tree"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        var rng = SplitMix64(seed: 0x10a)
        let pieces = ["local s = [[", "]]", "--[==[", "]==]", "x = 1", "\n", "if a then", "end", "\"", "(", ")", "[=[", "]=]", "-- c"]
        for k in 0..<120 {
            let text = (0..<(4 + rng.below(30))).map { _ in pieces[rng.below(pieces.count)] }.joined(separator: " ")
            try writeBytes(Array(text.utf8), to: root + "/f\(k).lua")
        }
        var archives: [[UInt8]] = []
        for jobs in [1, 2, 1] {
            let out = dir + "/a\(archives.count).cstpack"
            _ = try buildArchive(root: root, output: out, jobs: jobs, grammars: registry)
            archives.append(try readBytes(out))
        }
        XCTAssertEqual(archives[0], archives[1])
        XCTAssertEqual(archives[0], archives[2])
        var deep = VerifyOptions()
        deep.deep = true
        let report = Verifier.run(try Archive(path: dir + "/a0.cstpack"), options: deep, grammars: registry)
        XCTAssertTrue(report.ok, "verify --deep: \(report.problems.prefix(3))")
    }
}
