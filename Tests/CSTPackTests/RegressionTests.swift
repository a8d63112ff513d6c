import Foundation
import Glibc
import XCTest
@testable import CSTPack

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
            // As found (checksums ignored: a forger recomputes them) and as shipped.
            for enforced in [false, true] {
                let started = monotonicSeconds()
                let (outcome, last) = runIsolated { mark in
                    Self.capAddressSpace(extra: 512 << 20)
                    Hash.checksumsEnforced = enforced
                    mark("reading")
                    let reads = bytes.withUnsafeBytes { ReadEverything.run($0) }
                    mark("done \(reads)")
                    return 0
                }
                XCTAssertEqual(outcome, .exited(0), "\(name) (checksums \(enforced ? "on" : "off")): \(outcome) after \(last ?? "-")")
                XCTAssertLessThan(monotonicSeconds() - started, 20, "\(name): reading took too long")
            }
        }
    }

    /// The specific failures each finding caused are now clean errors (in a child too, so
    /// that a regression fails this test and not the whole run).
    func testFuzzFindingsGiveErrors() throws {
        func open(_ name: String) throws -> Archive {
            let bytes = try readBytes(Self.crashes.appendingPathComponent(name).path)
            return try bytes.withUnsafeBytes { try Archive(copying: $0, name: name) }
        }
        let (outcome, lines) = runIsolatedCollecting { mark in
            Self.capAddressSpace(extra: 512 << 20)
            Hash.checksumsEnforced = false
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
