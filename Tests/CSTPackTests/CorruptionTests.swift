import Foundation
import Glibc
import XCTest
@testable import CSTPack

/// Damaged archives: every single-byte flip and every truncation must be detected (by
/// Archive(path:) throwing or Verifier reporting a problem), and nothing may trap.
/// Each sweep runs in a forked child so that a trap fails the test with the case at fault.
final class CorruptionTests: XCTestCase {

    /// A small tree of four files in three languages (one with a syntax error).
    private func smallArchive(codec: Codec) throws -> (dir: String, archive: String) {
        let registry = try TestGrammars.require()
        let dir = try makeTempDir("cstpack-corrupt")
        let root = dir + "/tree"
        try FileManager.default.createDirectory(atPath: root + "/pkg", withIntermediateDirectories: true)
        try writeBytes(Array("""
        import os

        class Thing:
            def __init__(self, name):
                self.name = name

            def greet(self):
                return f"hello {self.name}"
        """.utf8), to: root + "/pkg/thing.py")
        try writeBytes(Array("def broken(:\n    pass\n".utf8), to: root + "/pkg/broken.py")
        try writeBytes(Array("{\"name\": \"x\", \"values\": [1, 2.5, true, null], \"nested\": {\"a\": \"b\"}}\n".utf8), to: root + "/data.json")
        let third: (String, String)
        if registry.grammars["javascript"] != nil {
            third = ("app.js", "export function add(a, b) { return a + b; }\nconst s = `t ${add(1, 2)}`;\n")
        } else {
            third = ("more.py", "x = [1, 2, 3]\n")
        }
        try writeBytes(Array(third.1.utf8), to: root + "/" + third.0)
        let out = dir + "/small-\(codec).cstpack"
        try buildArchive(root: root, output: out, grammars: registry) { $0.codec = codec; $0.keepEveryModel = true }
        let a = try Archive(path: out)
        XCTAssertEqual(a.fileCount, 4)
        let report = Verifier.run(a, options: VerifyOptions(), grammars: nil)
        XCTAssertTrue(report.ok, "the pristine archive verifies: \(report.problems)")
        return (dir, out)
    }

    /// Result of one damaged archive.
    private enum Verdict: String {
        case openFailed = "open"
        case verifyFailed = "verify"
        case undetected = "UNDETECTED"
    }

    /// Opens and checks one damaged archive. Reads every tree, source and the stats too;
    /// these may only fail by throwing. Called in the child process.
    private static func judge(_ path: String) -> (Verdict, readsFailed: Bool) {
        let archive: Archive
        do { archive = try Archive(path: path) } catch { return (.openFailed, true) }
        let report = Verifier.run(archive, options: VerifyOptions(), grammars: nil)
        let reader = ArchiveReader(archive)
        var readsFailed = false
        for i in 0..<archive.fileCount {
            do { _ = try reader.tree(ofFile: i) } catch { readsFailed = true }
            do { _ = try reader.source(ofFile: i) } catch { readsFailed = true }
            do { _ = try reader.fileTree(i) } catch { readsFailed = true }
            do {
                let n = Int(try archive.file(i).nodeCount)
                for id in Set([0, n / 2, n - 1]) { _ = try reader.node(ofFile: i, id: id) }
            } catch { readsFailed = true }
        }
        do { _ = try StatsReport.compute(archive).json() } catch { readsFailed = true }
        // What a search reads first (SUMMARIES: read on first use, checksum included).
        do { for i in 0..<archive.fileCount { _ = try archive.summary(ofFile: i) } } catch { readsFailed = true }
        return (report.ok ? .undetected : .verifyFailed, readsFailed)
    }

    /// Every byte of the header, section table, segments and the small tables, then
    /// `randomFlips` positions anywhere (the string and language sections are large blobs
    /// under one checksum each, so they are sampled).
    private func flipSweep(codec: Codec, randomFlips: Int, seed: UInt64) throws {
        let (dir, path) = try smallArchive(codec: codec)
        let pristine = try readBytes(path)
        let a = try Archive(path: path)
        var positions: [Int] = Array(0..<Format.headerSize)
        for (id, e) in a.sections where id != .strings && id != .languages {
            positions += Array(Int(e.offset)..<Int(e.offset + e.length))
        }
        let tableStart = a.sections.values.map { Int($0.offset + $0.length) }.max() ?? pristine.count
        positions += Array(tableStart..<pristine.count)
        let exhaustive = positions.count
        var rng = SplitMix64(seed: seed)
        for _ in 0..<randomFlips { positions.append(rng.below(pristine.count)) }
        // Control: the judge passes the undamaged archive (so "detected" below means something).
        let control = Self.judge(path)
        XCTAssertEqual(control.0, .undetected, "the pristine archive must verify")
        XCTAssertFalse(control.readsFailed, "the pristine archive must read")
        let damaged = dir + "/damaged.cstpack"
        let (outcome, lines) = runIsolatedCollecting { mark in
            var rng = SplitMix64(seed: seed ^ 0xFFFF)
            for (k, pos) in positions.enumerated() {
                let mask = UInt8(1 + rng.below(255))
                var bytes = pristine
                bytes[pos] ^= mask
                mark("case \(k) pos \(pos) mask \(mask)")
                do { try writeBytes(bytes, to: damaged) } catch { mark("FAIL cannot write: \(error)"); return 2 }
                let (verdict, readsFailed) = Self.judge(damaged)
                if verdict == .undetected {
                    mark("UNDETECTED pos \(pos) mask \(mask) readsFailed \(readsFailed)")
                } else if verdict == .verifyFailed && !readsFailed {
                    // Verify saw it, so a reader of every file should see it too.
                    mark("READS-OK pos \(pos) mask \(mask)")
                }
            }
            mark("done")
            return 0
        }
        XCTAssertGreaterThan(exhaustive, 500)
        report(outcome, lines, what: "\(codec) archive of \(pristine.count) bytes, \(positions.count) flips (\(exhaustive) exhaustive)")
        XCTAssertEqual(lines.filter { $0.hasPrefix("case ") }.count, positions.count, "every flip was tried")
    }

    func testSingleByteFlipsAreDetectedZstd() throws {
        try flipSweep(codec: .zstd, randomFlips: 2000, seed: 0xBAD_0001)
    }

    func testSingleByteFlipsAreDetectedLZ4AndNone() throws {
        try flipSweep(codec: .lz4, randomFlips: 300, seed: 0xBAD_0002)
        try flipSweep(codec: .none, randomFlips: 300, seed: 0xBAD_0003)
    }

    func testTruncationsAndExtensionsAreDetected() throws {
        let (dir, path) = try smallArchive(codec: .zstd)
        let pristine = try readBytes(path)
        let damaged = dir + "/truncated.cstpack"
        var lengths: [Int]
        if pristine.count < 20_000 {
            lengths = Array(0..<pristine.count)
        } else {
            var rng = SplitMix64(seed: 0xBAD_0004)
            lengths = Array(0..<200) + (0..<300).map { _ in rng.below(pristine.count) } + [pristine.count - 1]
        }
        let (outcome, lines) = runIsolatedCollecting { mark in
            for n in lengths {
                mark("case truncate to \(n)")
                do { try writeBytes(Array(pristine[0..<n]), to: damaged) } catch { return 2 }
                let (verdict, _) = Self.judge(damaged)
                if verdict == .undetected { mark("UNDETECTED truncated to \(n) of \(pristine.count)") }
            }
            // Extended by a few bytes (zeros or garbage) must not pass either.
            for extra in [[UInt8(0)], [0, 0, 0, 0, 0, 0, 0, 0], Array(pristine[0..<64])] {
                mark("case extend by \(extra.count)")
                do { try writeBytes(pristine + extra, to: damaged) } catch { return 2 }
                if Self.judge(damaged).0 == .undetected { mark("UNDETECTED extended by \(extra.count)") }
            }
            mark("done")
            return 0
        }
        report(outcome, lines, what: "truncations of a \(pristine.count)-byte archive")
        XCTAssertEqual(lines.filter { $0.hasPrefix("case ") }.count, lengths.count + 3, "every length was tried")
    }

    func testDamagedArchivesThrowCleanErrors() throws {
        let (dir, path) = try smallArchive(codec: .zstd)
        let pristine = try readBytes(path)
        // Not an archive at all.
        let text = dir + "/text.cstpack"
        try writeBytes(Array(String(repeating: "not an archive\n", count: 10).utf8), to: text)
        XCTAssertThrowsError(try Archive(path: text)) { XCTAssertTrue("\($0)".contains("not a cstpack archive"), "\($0)") }
        XCTAssertThrowsError(try Archive(path: dir + "/missing.cstpack")) { XCTAssertTrue("\($0)".contains("cannot open"), "\($0)") }
        XCTAssertThrowsError(try Archive(path: dir), "a directory is not an archive")
        // A newer version number is named as such.
        var newer = pristine
        newer[8] = UInt8(Format.version + 1)
        let v = dir + "/v2.cstpack"
        try writeBytes(newer, to: v)
        XCTAssertThrowsError(try Archive(path: v)) { XCTAssertTrue("\($0)".contains("version"), "\($0)") }
        // A damaged segment is reported by the reader with the segment it is in.
        let seg = try Archive(path: path).segment(0)
        var bad = pristine
        bad[Int(seg.offset)] ^= 0xFF
        let s = dir + "/seg.cstpack"
        try writeBytes(bad, to: s)
        let a = try Archive(path: s)
        let report = Verifier.run(a, options: VerifyOptions(), grammars: nil)
        XCTAssertFalse(report.ok)
        XCTAssertTrue(report.problems.contains { $0.contains("segment 0") }, "\(report.problems)")
    }

    // MARK: Reporting

    private func report(_ outcome: IsolatedOutcome, _ lines: [String], what: String) {
        let undetected = lines.filter { $0.hasPrefix("UNDETECTED") }
        let readsOK = lines.filter { $0.hasPrefix("READS-OK") }
        switch outcome {
        case .signalled(let sig):
            XCTFail("\(what): TRAPPED (signal \(sig)) at \(lines.last(where: { $0.hasPrefix("case") }) ?? "-")")
        case .exited(let code) where code != 0:
            XCTFail("\(what): child exited \(code): \(lines.suffix(3))")
        default:
            XCTAssertEqual(lines.last, "done", what)
        }
        if !undetected.isEmpty {
            XCTFail("\(what): \(undetected.count) damaged archive(s) open and verify OK: \(undetected.prefix(40).joined(separator: "; "))")
        }
        // Verify found a problem the readers did not: reported, but only informative when
        // the flip is in a part that verify checks and the readers do not need.
        if !readsOK.isEmpty {
            print("note: \(what): \(readsOK.count) flips caught by verify but not by any reader: \(readsOK.prefix(10).joined(separator: "; "))")
        }
    }
}

