import Foundation
import Glibc
import XCTest
@testable import CSTPack
import CSTPackForgery

/// Inputs that crashed a reader (found by scripts/fuzz), kept in Fixtures/crashes/ and read
/// again exactly as the fuzz target reads them (ReadEverything: open, every file's tree,
/// source, line table, node API, nodes from checkpoints, stats, verify). Each runs in a
/// forked child with its address space capped, so a trap or an allocation sized by an
/// unchecked length fails the test instead of passing unnoticed.
final class RegressionTests: XCTestCase {
    static let crashes = TestPaths.repoRoot.appendingPathComponent("Fixtures/crashes")

    private func crashInputs() throws -> [String] {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.crashes.path)
        return names.filter { !$0.hasSuffix(".md") && !$0.hasPrefix(".") }.sorted()
    }

    /// Caps the child's address space at what it uses now plus `extra` bytes (not under a
    /// sanitizer, which reserves terabytes of shadow memory up front).
    private static func capAddressSpace(extra: Int) {
        guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
              let pages = Int(statm.split(separator: " ").first ?? "") else { return }
        let now = pages * Int(sysconf(Int32(_SC_PAGESIZE)))
        guard now < 64 << 30 else { return }
        var limit = rlimit(rlim_cur: rlim_t(now + extra), rlim_max: rlim_t(now + extra))
        _ = setrlimit(Int32(RLIMIT_AS.rawValue), &limit)
    }

    func testFuzzFindingsReadWithoutCrashing() throws {
        let inputs = try crashInputs()
        XCTAssertFalse(inputs.isEmpty, "Fixtures/crashes holds the inputs scripts/fuzz found")
        for name in inputs {
            let bytes = try readBytes(Self.crashes.appendingPathComponent(name).path)
            // As the fuzzer read it (checksums recomputed, as a forger would) and as found.
            for (input, how) in [(Reseal.resealed(bytes), "resealed"), (bytes, "as found")] {
                let started = monotonicSeconds()
                let (outcome, last) = runIsolated { mark in
                    Self.capAddressSpace(extra: 512 << 20)
                    mark("reading")
                    let reads = input.withUnsafeBytes { ReadEverything.run($0) }
                    mark("done \(reads)")
                    return 0
                }
                XCTAssertEqual(outcome, .exited(0), "\(name) (\(how)): \(outcome) after \(last ?? "-")")
                XCTAssertLessThan(monotonicSeconds() - started, 20, "\(name): reading took too long")
            }
        }
    }

    /// Checksums are not a MAC: a forger rewrites the FILES and RECORDS sections and
    /// recomputes every checksum. A file entry claiming more than Int32.max nodes, whose
    /// record starts near that count, gave node ids that passed `id < node_count` and
    /// trapped at Int32(...) in the decoder (base, ancestors, stopAfter). The entry is now
    /// rejected when read, and every read of the archive ends in errors, not a trap.
    func testForgedNodeCountPastInt32IsRejected() throws {
        let registry = try TestGrammars.require()
        let dir = try makeTempDir("cstpack-forged")
        try FileManager.default.createDirectory(atPath: dir + "/tree", withIntermediateDirectories: true)
        try writeBytes(Array("def f(x):\n    return [x, x + 1]\n".utf8), to: dir + "/tree/a.py")
        try buildArchive(root: dir + "/tree", output: dir + "/a.cstpack", grammars: registry) { $0.noIgnore = true }
        let archive = try Archive(path: dir + "/a.cstpack")
        let claimed: UInt32 = 0x8000_0004
        // Each table: u32 count, u32 reserved, the entries.
        var files = ByteWriter(), records = ByteWriter()
        files.u32(UInt32(archive.fileCount)); files.u32(0)
        records.u32(UInt32(archive.recordCount)); records.u32(0)
        for i in 0..<archive.fileCount {
            var e = try archive.file(i)
            if i == 0 {
                e.nodeCount = claimed
                XCTAssertEqual(e.cstRecordCount, 1)
            }
            e.write(to: &files)
        }
        for i in 0..<archive.recordCount {
            let r = try archive.record(i)
            let first = i == (try archive.file(0).firstCSTRecord.index) ? claimed - 4 : r.first
            RecordEntry(segment: r.segment, offset: r.offset, length: r.length, first: first).write(to: &records)
        }
        let forged = Self.replacingSections([.files: files.bytes, .records: records.bytes], in: try readBytes(dir + "/a.cstpack"))
        do {
            let (outcome, lines) = runIsolatedCollecting { mark in
                Self.capAddressSpace(extra: 512 << 20)
                do {
                    let a = try forged.withUnsafeBytes { try Archive(copying: $0, name: "forged") }
                    do { _ = try a.file(0); mark("file: accepted") } catch { mark("file: \(error)") }
                    let reader = ArchiveReader(a)
                    do { _ = try reader.node(ofFile: 0, id: Int(claimed) - 1); mark("node: decoded") } catch { mark("node: \(error)") }
                    ReadEverything.run(a)
                    mark("read everything")
                } catch {
                    mark("open: \(error)")
                }
                return 0
            }
            XCTAssertEqual(outcome, .exited(0), "\(lines)")
            XCTAssertFalse(lines.contains { $0.hasPrefix("open: ") }, "the checksums were recomputed: \(lines)")
            XCTAssertTrue(lines.contains { $0.hasPrefix("file: ") && $0.contains("2147483647") }, "\(lines)")
            XCTAssertTrue(lines.contains { $0.hasPrefix("node: ") && $0 != "node: decoded" }, "\(lines)")
            XCTAssertTrue(lines.contains("read everything"), "\(lines)")
        }
    }

    /// `verify --deep` re-parses the stored source, which a forger chooses: 2,000 `[` stored as
    /// a markdown file's source overran tree-sitter-markdown's scanner state (assertion or
    /// heap corruption) inside verify itself. Re-parsed in the parse helper (as the CLI does),
    /// it is one problem reported for that file, and verify goes on.
    func testVerifyDeepOfForgedSourceThatCrashesTheGrammarIsAProblem() throws {
        let registry = try TestGrammars.require()
        guard registry.grammars["markdown"] != nil else { throw XCTSkip("no markdown grammar") }
        guard let helper = CLITests.executable else { throw XCTSkip("the cstpack executable is not built") }
        let dir = try makeTempDir("cstpack-forged-source")
        try FileManager.default.createDirectory(atPath: dir + "/tree", withIntermediateDirectories: true)
        let benign = String(repeating: "x", count: 2000)
        try writeBytes(Array(benign.utf8), to: dir + "/tree/a.md")
        try writeBytes(Array("# b\n".utf8), to: dir + "/tree/b.md")
        try buildArchive(root: dir + "/tree", output: dir + "/a.cstpack", grammars: registry) { $0.noIgnore = true; $0.codec = .none }
        // The stored source, changed in place (its segment's checksum is recomputed below).
        var bytes = try readBytes(dir + "/a.cstpack")
        let run = Array(benign.utf8)
        let at = try XCTUnwrap((0...(bytes.count - run.count)).first { bytes[$0] == run[0] && Array(bytes[$0..<($0 + run.count)]) == run },
                               "the stored source is in the archive as written (--codec none)")
        for k in 0..<run.count { bytes[at + k] = UInt8(ascii: "[") }
        // And the file entry's content hash, recomputed for the new text.
        let built = try Archive(path: dir + "/a.cstpack")
        var files = ByteWriter()
        files.u32(UInt32(built.fileCount)); files.u32(0)
        for i in 0..<built.fileCount {
            var e = try built.file(i)
            if try built.path(ofFile: i) == Array("a.md".utf8) {
                e.contentHash = Array(repeating: UInt8(ascii: "["), count: run.count).withUnsafeBytes { Hash.content($0) }
            }
            e.write(to: &files)
        }
        let forged = Self.replacingSections([.files: files.bytes], in: bytes)
        let (outcome, lines) = runIsolatedCollecting { mark in
            do {
                let a = try forged.withUnsafeBytes { try Archive(copying: $0, name: "forged") }
                var o = VerifyOptions()
                o.deep = true
                o.parseHelper = helper // in process (nil), the child died of the assertion
                let report = Verifier.run(a, options: o, grammars: registry)
                for p in report.problems { mark("problem: \(p)") }
                mark("reparsed \(report.filesReparsed)")
            } catch {
                mark("open: \(error)")
            }
            return 0
        }
        XCTAssertEqual(outcome, .exited(0), "\(lines)")
        XCTAssertTrue(lines.contains { $0.hasPrefix("problem: a.md: ") && $0.contains("crashed") }, "\(lines)")
        XCTAssertTrue(lines.contains("reparsed 1"), "b.md is still re-parsed: \(lines)")
    }

    /// `archive` with the given sections replaced by these bytes and every checksum
    /// recomputed, as a forger would.
    static func replacingSections(_ replacements: [Format.SectionID: [UInt8]], in archive: [UInt8]) -> [UInt8] {
        Reseal.replacingSections(Dictionary(uniqueKeysWithValues: replacements.map { ($0.key.rawValue, $0.value) }), in: archive)
    }

    /// The specific failures each finding caused are now clean errors (in a child too, so
    /// that a regression fails this test and not the whole run).
    func testFuzzFindingsGiveErrors() throws {
        func open(_ name: String) throws -> Archive {
            let bytes = Reseal.resealed(try readBytes(Self.crashes.appendingPathComponent(name).path))
            return try bytes.withUnsafeBytes { try Archive(copying: $0, name: name) }
        }
        let (outcome, lines) = runIsolatedCollecting { mark in
            Self.capAddressSpace(extra: 512 << 20)
            do {
                // A record naming a segment that does not exist: stats indexed past its
                // per-segment table.
                let a = try open("stats-record-names-missing-segment.cstpack")
                do { _ = try StatsReport.compute(a); mark("stats: no error") } catch { mark("stats: \(error)") }
                // A file entry whose source_length (unchecked) sized a 600 MB reservation.
                let b = try open("source-length-sizes-allocation.cstpack")
                let reader = ArchiveReader(b)
                var failures = 0
                for i in 0..<b.fileCount where (try? reader.source(ofFile: i)) == nil { failures += 1 }
                mark("source failures: \(failures)")
            } catch {
                mark("open: \(error)")
            }
            return 0
        }
        XCTAssertEqual(outcome, .exited(0), "\(lines)")
        XCTAssertTrue(lines.contains { $0.hasPrefix("stats: ") && $0.contains("does not exist") }, "\(lines)")
        XCTAssertTrue(lines.contains { $0.hasPrefix("source failures: ") && $0 != "source failures: 0" }, "\(lines)")
    }
}

extension CLITests {
    /// Forged summaries (checksums recomputed): a wrong count or filter is a `verify`
    /// problem naming the file, a malformed one an error for that file in a search, and a
    /// bad table an error on opening; never a trap or a silently wrong archive.
    func testForgedSummariesAreCaught() throws {
        let dir = try makeTempDir("cstpack-forged-summaries")
        try FileManager.default.createDirectory(atPath: dir + "/tree", withIntermediateDirectories: true)
        try writeBytes(Array("def f(x):\n    return [x, x + 1]\n".utf8), to: dir + "/tree/a.py")
        try writeBytes(Array("print(1)\n".utf8), to: dir + "/tree/b.py")
        try buildArchive(root: dir + "/tree", output: dir + "/a.cstpack", grammars: try TestGrammars.require()) { $0.noIgnore = true }
        let archive = try Archive(path: dir + "/a.cstpack")
        let bytes = try readBytes(dir + "/a.cstpack")
        func section(_ summaries: [[UInt8]]) -> [UInt8] { SummaryTable.write(summaries) }
        let good = try (0..<archive.fileCount).map { try archive.summaryBytes(ofFile: $0)! }
        func forged(_ change: (inout [FileSummary]) -> Void) throws -> Archive {
            var all = try (0..<archive.fileCount).map { try archive.summary(ofFile: $0)! }
            change(&all)
            let b = RegressionTests.replacingSections([.summaries: section(all.map(\.bytes))], in: bytes)
            return try b.withUnsafeBytes { try Archive(copying: $0, name: "forged") }
        }
        // Counts moved from one kind to another (still summing to the node count).
        let moved = try forged { s in
            let j = s[0].kinds.firstIndex { $0.count >= 2 }!
            s[0].kinds[j].count -= 1
            s[0].kinds[j == 0 ? 1 : 0].count += 1
        }
        var report = Verifier.run(moved, options: VerifyOptions(), grammars: nil)
        XCTAssertTrue(report.problems.contains { $0.hasPrefix("a.py: summary (19): ") && $0.contains("nodes of kind") }, "\(report.problems)")
        // A filter that says no leaf text is there.
        let blind = try forged { s in s[1].filter = s[1].filter.map { _ in 0 } }
        report = Verifier.run(blind, options: VerifyOptions(), grammars: nil)
        XCTAssertTrue(report.problems.contains { $0.hasPrefix("b.py: summary (19): the leaf-text filter") }, "\(report.problems)")
        // Counts that do not sum to the node count: the file's summary does not read.
        let short = try forged { s in s[0].kinds[0].count += 1 }
        XCTAssertThrowsError(try short.summary(ofFile: 0)) { XCTAssertTrue("\($0)".contains("sum to"), "\($0)") }
        report = Verifier.run(short, options: VerifyOptions(), grammars: nil)
        XCTAssertTrue(report.problems.contains { $0.hasPrefix("a.py: ") && $0.contains("sum to") }, "\(report.problems)")
        // Table damage: ends past the body, a count other than the files', trailing bytes.
        var table = section(good)
        table[8] = 0xFF
        // The table is read on first use (a point lookup never reads it): each is one error
        // there, one problem for verify, and one error line for a search.
        for (k, bad) in [table, section([good[0]]), section(good) + [0]].enumerated() {
            let b = RegressionTests.replacingSections([.summaries: bad], in: bytes)
            let a = try b.withUnsafeBytes { try Archive(copying: $0, name: "forged") }
            XCTAssertNoThrow(try ArchiveReader(a).fileTree(0), "\(k)")
            XCTAssertThrowsError(try a.summaryTable(), "\(k)")
            XCTAssertThrowsError(try a.summary(ofFile: 0), "\(k)")
            let r = Verifier.run(a, options: VerifyOptions(), grammars: nil)
            XCTAssertEqual(r.problems.count, 1, "\(k): \(r.problems)")
            XCTAssertTrue(r.problems.first?.contains("SUMMARIES") == true || r.problems.first?.contains("summar") == true, "\(k): \(r.problems)")
            let path = dir + "/table\(k).cstpack"
            try writeBytes(b, to: path)
            let q = try run(["query", "-a", path, "--all", "--as-built", "identifier", "--count"])
            XCTAssertEqual(q.status, 2, q.description)
            XCTAssertEqual(q.stderr.split(separator: "\n").count, 1, q.description)
            XCTAssertTrue(q.stderr.hasPrefix("cstpack: error: "), q.description)
            ReadEverything.run(a)
        }
        // Through the command line: a malformed summary is one error line for that file, exit 2.
        let path = dir + "/short.cstpack"
        var tooMany = try archive.summary(ofFile: 0)!
        tooMany.kinds[0].count += 1
        try writeBytes(RegressionTests.replacingSections([.summaries: section([tooMany.bytes, good[1]])], in: bytes), to: path)
        let q = try run(["query", "-a", path, "--all", "--as-built", "identifier", "--count"])
        XCTAssertEqual(q.status, 2, q.description)
        XCTAssertTrue(q.stderr.contains("a.py: summary of file 0: kind counts sum to"), q.description)
        ReadEverything.run(short)
    }
}
