import Foundation
import Glibc
import XCTest
@testable import CSTPack

// Shared helpers for the CSTPack tests: a seeded generator, paths, grammars, temporary
// directories, file I/O and crash isolation.

/// SplitMix64: small, fast, deterministic; every randomized test seeds its own.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A value in 0..<n.
    mutating func below(_ n: Int) -> Int { Int(next(upperBound: UInt64(n))) }
    /// True with probability p.
    mutating func chance(_ p: Double) -> Bool { Double(next() >> 11) / Double(1 << 53) < p }
    mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: next()) } }
}

/// An error thrown by the test helpers, with a message that says what is missing.
struct TestSetupError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

enum TestPaths {
    /// The package root: Tests/CSTPackTests/<this file> up three levels.
    static let repoRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures: URL = repoRoot.appendingPathComponent("Fixtures/tree")
    static var fixturesPath: String { fixtures.path }
}

enum TestGrammars {
    /// The default search path, as the CLI uses it. Loaded once per process.
    static let registry: GrammarRegistry = GrammarRegistry(directories: GrammarRegistry.searchDirectories(explicit: nil))

    /// The registry, or a failure that says where grammars were looked for.
    static func require(file: StaticString = #filePath, line: UInt = #line) throws -> GrammarRegistry {
        let r = registry
        if r.grammars.isEmpty {
            let msg = "no tree-sitter grammars found (searched \(r.searchedDirectories.joined(separator: ", "))); run scripts/setup first"
            XCTFail(msg, file: file, line: line)
            throw TestSetupError(msg)
        }
        return r
    }

    static func require(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> Grammar {
        let r = try require(file: file, line: line)
        guard let g = r.grammars[name] else {
            let msg = "grammar '\(name)' not found (have: \(r.grammars.keys.sorted().joined(separator: ", "))); run scripts/setup first"
            XCTFail(msg, file: file, line: line)
            throw TestSetupError(msg)
        }
        return g
    }
}

func readBytes(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

func writeBytes(_ bytes: [UInt8], to path: String) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

extension XCTestCase {
    /// A fresh directory removed when the test ends.
    func makeTempDir(_ label: String = "cstpack-tests") throws -> String {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: base) }
        return base.path
    }
}

/// Every regular file under `root` (relative paths, sorted), hidden entries skipped.
func listFiles(_ root: String) throws -> [String] {
    let fm = FileManager.default
    guard let e = fm.enumerator(atPath: root) else { throw TestSetupError("cannot list \(root)") }
    var out: [String] = []
    while let rel = e.nextObject() as? String {
        if rel.split(separator: "/").contains(where: { $0.hasPrefix(".") }) { continue }
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: root + "/" + rel, isDirectory: &isDir), !isDir.boolValue { out.append(rel) }
    }
    return out.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
}

/// Parses `bytes` with `grammar`, as the builder does.
func parseTree(_ bytes: [UInt8], grammar: Grammar) throws -> CSTTree {
    let parser = TreeSitterParser()
    return try bytes.withUnsafeBytes { try parser.parse($0, grammar: grammar, timeoutMicros: 0).tree }
}

/// Feeds every record to a fresh decoder and finishes it.
func decodeAll(_ enc: TreeCodec.Encoded, table: LanguageTable, model: TagModel? = nil, nodeCount: Int, sourceLength: Int) throws -> CSTTree {
    var d = TreeDecoder(table: table, model: model, nodeCount: nodeCount, sourceLength: sourceLength)
    for (k, r) in enc.records.enumerated() {
        try r.withUnsafeBytes { try d.feed($0, context: "record \(k)") }
    }
    return try d.finish(context: "test tree")
}

// The checkpoint path that ArchiveReader.node(ofFile:id:) takes, through the decoder's
// internal entry points (kept here, in one place, so that the tests follow its changes).

/// Decodes records `k...` starting at checkpoint `k` (the record's first node is `base`);
/// returns the nodes from `base` on.
func decodeFromCheckpoint(_ records: [[UInt8]], from k: Int, base: Int, table: LanguageTable, model: TagModel? = nil,
                          nodeCount: Int, sourceLength: Int) throws -> (nodes: CSTTree, openAtEnd: Int) {
    var d = TreeDecoder(table: table, model: model, nodeCount: nodeCount, sourceLength: sourceLength, base: base)
    for j in k..<records.count {
        try records[j].withUnsafeBytes { raw in
            var r = ByteReader(raw, context: "record \(j)")
            try d.readState(&r, checkAgainstRunning: d.recordsRead > 0)
            _ = try d.run(&r, stopAfter: nil)
        }
    }
    return (d.nodes.tree(), d.stack.count)
}

/// Finds node `id` from checkpoint `k` as the reader does; nil when it is never completed.
func nodeFromCheckpoint(_ records: [[UInt8]], from k: Int, base: Int, id: Int, table: LanguageTable, model: TagModel? = nil,
                        nodeCount: Int, sourceLength: Int) throws -> NodeRecord? {
    var d = TreeDecoder(table: table, model: model, nodeCount: nodeCount, sourceLength: sourceLength, base: base)
    for j in k..<records.count {
        let done = try records[j].withUnsafeBytes { raw in
            var r = ByteReader(raw, context: "record \(j)")
            try d.readState(&r, checkAgainstRunning: d.recordsRead > 0)
            return try d.run(&r, stopAfter: Int32(id))
        }
        if done { return d.record(id) }
    }
    return nil
}

/// A node of a tree as the reader reports it.
func nodeRecord(_ t: CSTTree, _ id: Int) -> NodeRecord {
    NodeRecord(id: id, kind: t.kinds[id], field: t.fields[id], flags: t.flags[id],
               start: t.starts[id], end: t.ends[id], parent: Int(t.parents[id]))
}

/// The first differing node of two trees, for readable failures.
func firstDifference(_ a: CSTTree, _ b: CSTTree) -> String? {
    if a.count != b.count { return "node counts differ: \(a.count) vs \(b.count)" }
    for i in 0..<a.count {
        if a.kinds[i] != b.kinds[i] || a.fields[i] != b.fields[i] || a.flags[i] != b.flags[i]
            || a.starts[i] != b.starts[i] || a.ends[i] != b.ends[i] || a.parents[i] != b.parents[i] {
            return "node \(i): (kind \(a.kinds[i]), field \(a.fields[i]), flags \(a.flags[i].rawValue), \(a.starts[i])..<\(a.ends[i]), parent \(a.parents[i])) vs (kind \(b.kinds[i]), field \(b.fields[i]), flags \(b.flags[i].rawValue), \(b.starts[i])..<\(b.ends[i]), parent \(b.parents[i]))"
        }
    }
    return nil
}

/// Builds `root` into `output` with the given option tweaks.
@discardableResult
func buildArchive(root: String, output: String, jobs: Int = 1, grammars: GrammarRegistry,
                  _ tweak: (inout BuildOptions) -> Void = { _ in }) throws -> BuildSummary {
    var o = BuildOptions(root: root, output: output, jobs: jobs)
    tweak(&o)
    return try Builder.build(o, grammars: grammars) { _ in }
}

/// Where two archives differ: first differing byte and the sections whose bytes differ.
func describeArchiveDifference(_ pathA: String, _ pathB: String) -> String {
    guard let a = try? readBytes(pathA), let b = try? readBytes(pathB) else { return "cannot read the archives" }
    let at = (0..<min(a.count, b.count)).first { a[$0] != b[$0] } ?? min(a.count, b.count)
    var text = "sizes \(a.count) and \(b.count), first difference at byte \(at)"
    if let x = try? Archive(path: pathA), let y = try? Archive(path: pathB) {
        var differing: [String] = []
        for (id, e) in x.sections.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            guard let f = y.sections[id] else { differing.append("\(id) (missing)"); continue }
            let sa = a[Int(e.offset)..<Int(e.offset + e.length)], sb = b[Int(f.offset)..<Int(f.offset + f.length)]
            if !sa.elementsEqual(sb) { differing.append("\(id)") }
        }
        text += "; sections that differ: \(differing.joined(separator: ", "))"
        if x.buildInfo.languages != y.buildInfo.languages {
            let diffs = zip(x.buildInfo.languages, y.buildInfo.languages).filter { $0 != $1 }.prefix(3).map {
                "language \($0.0.language) (\(x.languages[Int($0.0.language)].name)): treeSitterBytes \($0.0.treeSitterBytes) vs \($0.1.treeSitterBytes), phase1 \($0.0.phase1Bytes) vs \($0.1.phase1Bytes), bytecode \($0.0.bytecodeBytes) vs \($0.1.bytecodeBytes)"
            }
            text += "; build info: " + diffs.joined(separator: "; ")
        }
    }
    return text
}

// MARK: Crash isolation

/// Outcome of running a closure in a forked child.
enum IsolatedOutcome: Equatable {
    case exited(Int32)
    case signalled(Int32)
}

/// Runs `body` in a forked child process so that a trap (precondition, index out of range)
/// fails one test instead of killing the whole test process. The child writes progress
/// markers to `markers` (one line each) so that the parent can say which case trapped.
/// The body returns the exit status the child uses.
func runIsolated(_ body: (_ mark: (String) -> Void) -> Int32) -> (outcome: IsolatedOutcome, lastMarker: String?) {
    let (outcome, lines) = runIsolatedCollecting(body)
    return (outcome, lines.last)
}

/// runIsolated, returning the marker lines (the last few MB of them).
func runIsolatedCollecting(_ body: (_ mark: (String) -> Void) -> Int32) -> (outcome: IsolatedOutcome, lines: [String]) {
    var fds: [Int32] = [0, 0]
    guard pipe(&fds) == 0 else { return (.exited(-1), ["pipe failed"]) }
    fflush(nil)
    let pid = fork()
    if pid == 0 {
        // Die of the signal itself, without the runtime's backtracer (the parent reports).
        for sig in [SIGILL, SIGTRAP, SIGSEGV, SIGBUS, SIGABRT, SIGFPE] { signal(sig, SIG_DFL) }
        close(fds[0])
        let w = fds[1]
        let status = body { marker in
            let line = Array((marker + "\n").utf8)
            line.withUnsafeBytes { _ = write(w, $0.baseAddress, $0.count) }
        }
        close(w)
        _exit(status)
    }
    close(fds[1])
    var collected: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buf.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        collected.append(contentsOf: buf[0..<n])
        if collected.count > 4 << 20 { collected.removeFirst(collected.count - (1 << 20)) }
    }
    close(fds[0])
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let lines = String(decoding: collected, as: UTF8.self).split(separator: "\n").map(String.init)
    // WIFEXITED / WEXITSTATUS / WTERMSIG by hand (the macros are not imported).
    let termSig = status & 0x7F
    if termSig == 0 { return (.exited((status >> 8) & 0xFF), lines) }
    return (.signalled(termSig), lines)
}

/// `archive` as an older cstpack wrote it: version 3 without SUMMARIES, version 2 also
/// without TREE (the sections dropped from the table, the header resealed).
func downgraded(_ archive: String, to version: UInt32) throws -> String {
    let a = try Archive(path: archive)
    var bytes = try readBytes(archive)
    let tableOffset = Int(bytes[24..<32].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.1) << (8 * UInt64($1.0)) })
    let dropped: Set<UInt32> = version <= 2 ? [Format.SectionID.tree.rawValue, Format.SectionID.summaries.rawValue]
                                            : [Format.SectionID.summaries.rawValue]
    var table: [UInt8] = []
    for k in 0..<a.sections.count {
        let entry = Array(bytes[(tableOffset + 32 * k)..<(tableOffset + 32 * k + 32)])
        if !dropped.contains(UInt32(entry[0])) { table += entry }
    }
    bytes.replaceSubrange(tableOffset..<bytes.count, with: table)
    func put(_ v: UInt64, at o: Int, width: Int) { for k in 0..<width { bytes[o + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(k))) } }
    put(UInt64(version), at: 8, width: 4)
    put(UInt64(bytes.count), at: 16, width: 8)
    put(UInt64(table.count / 32), at: 32, width: 4)
    put(Hash.xxh3(table), at: 40, width: 8)
    put(Hash.xxh3(Array(bytes[0..<56])), at: 56, width: 8)
    let path = archive + ".v\(version)"
    try writeBytes(bytes, to: path)
    return path
}
