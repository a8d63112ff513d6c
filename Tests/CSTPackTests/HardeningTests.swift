import Foundation
import Glibc
import XCTest
@testable import CSTPack
import CSTPackForgery

/// Hostile source trees and archives of another version (issue 6). The slow cases (a real
/// 50 MB file parsed, 100,000 files) are in scripts/hostile; faults during a build (kill -9,
/// disk full, files changing, readers during a replace) in scripts/faults.
final class HardeningTests: XCTestCase {

    struct Built {
        var summary: BuildSummary
        var warnings: [String]
        var skipped: [(String, String)]
        var archive: Archive
    }

    /// Builds `root` (walking the directory itself) and opens and verifies the result.
    private func build(_ root: String, _ tweak: (inout BuildOptions) -> Void = { _ in }) throws -> Built {
        let registry = try TestGrammars.require()
        let out = try makeTempDir("cstpack-hostile-out") + "/out.cstpack"
        var o = BuildOptions(root: root, output: out, jobs: 2)
        o.noIgnore = true
        tweak(&o)
        var warnings: [String] = []
        var skipped: [(String, String)] = []
        let summary = try Builder.build(o, grammars: registry) { e in
            switch e {
            case .warning(let w): warnings.append(w)
            case .skipped(let why, let path): skipped.append((why, path))
            case .progress, .model: break
            }
        }
        let a = try Archive(path: out)
        let report = Verifier.run(a, options: VerifyOptions(), grammars: nil)
        XCTAssertTrue(report.ok, "\(report.problems)")
        return Built(summary: summary, warnings: warnings, skipped: skipped, archive: a)
    }

    private func write(_ text: String, _ path: String) throws { try writeBytes(Array(text.utf8), to: path) }

    // MARK: Trees

    func testSymlinkLoopsAreNotFollowed() throws {
        let root = try makeTempDir("cstpack-loops")
        try FileManager.default.createDirectory(atPath: root + "/sub", withIntermediateDirectories: true)
        try write("x = 1\n", root + "/sub/a.py")
        XCTAssertEqual(symlink(".", root + "/sub/self"), 0)          // sub/self -> sub
        XCTAssertEqual(symlink("..", root + "/sub/up"), 0)           // sub/up -> root
        XCTAssertEqual(symlink("b.py", root + "/a.py"), 0)           // a.py <-> b.py
        XCTAssertEqual(symlink("a.py", root + "/b.py"), 0)
        XCTAssertEqual(symlink("/nonexistent/x.py", root + "/dangling.py"), 0)
        let b = try build(root)
        XCTAssertEqual(b.summary.files, 1)
        XCTAssertEqual(b.summary.skipped.symlinks, 5)
        XCTAssertEqual(try b.archive.path(ofFile: 0), Array("sub/a.py".utf8))
    }

    func testNamesWithNewlinesSpacesAndInvalidUTF8() throws {
        let root = try makeTempDir("cstpack-names")
        let names: [[UInt8]] = [
            Array("with space.py".utf8), Array("new\nline.py".utf8), Array("tab\there.py".utf8),
            [0x62, 0x61, 0x64, 0xFF, 0xFE, 0x2E, 0x70, 0x79],            // "bad\xff\xfe.py"
            Array("-dash.py".utf8), Array("back\\slash.py".utf8), Array("ünï.py".utf8),
            Array(String(repeating: "n", count: 250).utf8) + Array(".py".utf8), // 253-byte name
        ]
        for (i, n) in names.enumerated() {
            let fd = (Array(root.utf8) + [0x2F] + n).withCString { open($0, O_WRONLY | O_CREAT | O_TRUNC, 0o644) }
            XCTAssertGreaterThanOrEqual(fd, 0, "create \(n)")
            let text = Array("v\(i) = \(i)\n".utf8)
            _ = text.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            close(fd)
        }
        let b = try build(root)
        XCTAssertEqual(b.summary.files, names.count)
        let reader = ArchiveReader(b.archive)
        for (i, n) in names.enumerated() {
            guard let f = try b.archive.fileIndex(path: n) else { XCTFail("\(n) not found by its bytes"); continue }
            XCTAssertEqual(try reader.source(ofFile: f), Array("v\(i) = \(i)\n".utf8))
        }
        // Paths are kept as bytes: sorted byte-wise, the invalid UTF-8 intact.
        let stored = try (0..<b.archive.fileCount).map { try b.archive.path(ofFile: $0) }
        XCTAssertEqual(stored, names.sorted { $0.lexicographicallyPrecedes($1) })
    }

    func testEmptyDirectoryGivesAnEmptyValidArchive() throws {
        let root = try makeTempDir("cstpack-empty")
        // Refused by default: an empty result must not replace a good archive.
        let out = root + ".cstpack"
        addTeardownBlock { unlink(out) }
        try writeBytes(Array("previous".utf8), to: out)
        XCTAssertThrowsError(try buildArchive(root: root, output: out, grammars: try TestGrammars.require())) {
            XCTAssertTrue("\($0)".contains("no files to pack") && "\($0)".contains("--allow-empty"), "\($0)")
        }
        XCTAssertEqual(try readBytes(out), Array("previous".utf8))
        let b = try build(root) { $0.allowEmpty = true }
        XCTAssertEqual(b.summary.files, 0)
        XCTAssertEqual(b.archive.fileCount, 0)
        XCTAssertTrue(b.warnings.contains { $0.contains("no files") }, "\(b.warnings)")
        XCTAssertNoThrow(try StatsReport.compute(b.archive))
    }

    func testDirectoryWithoutAnyKnownLanguage() throws {
        let root = try makeTempDir("cstpack-unknown")
        for n in ["a.xyz", "b.unknownext", "Makefile.in", "c"] { try write("data\n", root + "/" + n) }
        let b = try build(root) { $0.allowEmpty = true }
        XCTAssertEqual(b.summary.files, 0)
        XCTAssertEqual(b.summary.skipped.unknownLanguage, 4)
        XCTAssertTrue(b.warnings.contains { $0.contains("no files") && $0.contains("unknown language 4") }, "\(b.warnings)")
    }

    func testFiftyMegabyteFileIsSkippedByDefault() throws {
        let root = try makeTempDir("cstpack-big")
        try write("x = 1\n", root + "/small.py")
        let fd = open(root + "/big.py", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        XCTAssertEqual(ftruncate(fd, 50 << 20), 0) // sparse: costs no disk
        close(fd)
        let b = try build(root)
        XCTAssertEqual(b.summary.files, 1)
        XCTAssertEqual(b.summary.skipped.tooLarge, 1)
        XCTAssertTrue(b.skipped.contains { $0.1 == "big.py" && $0.0.contains("--max-file-size") }, "\(b.skipped)")
        // Raised, it is read (and here skipped as binary: it is all zero bytes).
        let raised = try build(root) { $0.maxFileSize = 64 << 20 }
        XCTAssertEqual(raised.summary.skipped.binary, 1)
    }

    /// A file that grows past --max-file-size between the walk and the read is skipped.
    func testFileGrowingPastTheLimitWhileReadIsRefused() throws {
        let root = try makeTempDir("cstpack-grow")
        let path = root + "/f.py"
        try write(String(repeating: "x = 1\n", count: 100), path)
        XCTAssertEqual(try readFile(Array(path.utf8), limit: 1 << 20).count, 600)
        XCTAssertThrowsError(try readFile(Array(path.utf8), limit: 599)) { XCTAssertTrue("\($0)".contains("size limit"), "\($0)") }
    }

    /// A FIFO or a symbolic link swapped in for a file after the walk: refused at once, not
    /// waited on (a FIFO opened for reading blocks until a writer comes) or followed.
    func testSpecialFilesSwappedInAreRefusedWithoutBlocking() throws {
        let root = try makeTempDir("cstpack-fifo")
        XCTAssertEqual(mkfifo(root + "/pipe.py", 0o644), 0)
        XCTAssertEqual(symlink("/etc/passwd", root + "/link.py"), 0)
        let (outcome, lines) = runIsolatedCollecting { mark in
            alarm(10)
            for n in ["pipe.py", "link.py"] {
                do { _ = try readFile(Array((root + "/" + n).utf8), limit: 1 << 20); mark("\(n): read") } catch { mark("\(n): \(error)") }
            }
            return 0
        }
        XCTAssertEqual(outcome, .exited(0), "blocked or crashed: \(lines)")
        XCTAssertEqual(lines.count, 2, "\(lines)")
        XCTAssertFalse(lines.contains { $0.hasSuffix(": read") }, "\(lines)")
    }

    func testParseTimeoutSkipsASlowFileWithAClearMessage() throws {
        let root = try makeTempDir("cstpack-slow")
        try write("x = 1\n", root + "/ok.py")
        // ~3 MB of unbalanced brackets and operators: error recovery keeps tree-sitter busy
        // for far longer than 1 ms.
        try write(String(repeating: "f(a[b{c + (d * [e, {f: (g", count: 120_000), root + "/slow.py")
        let b = try build(root) { $0.parseTimeoutMicros = 1_000; $0.maxFileSize = 8 << 20 }
        XCTAssertEqual(b.summary.files, 1)
        XCTAssertEqual(b.summary.skipped.parseFailed, 1)
        XCTAssertTrue(b.warnings.contains { $0.contains("slow.py") && $0.contains("timed out") && $0.contains("--parse-timeout") }, "\(b.warnings)")
    }

    // MARK: Write errors

    /// A consumer waiting for the next result when the queue is cancelled gets nil (a build
    /// whose write failed used to wait there forever).
    /// Runs of indices stay inside the window and cover every index once, in order.
    func testQueueRunsStayInsideTheWindow() throws {
        let q = OrderedWorkQueue<Int>(total: 25, window: 10)
        XCTAssertEqual(q.take(run: 8), 0..<8)
        XCTAssertEqual(q.take(run: 8), 8..<10, "cut at the window's edge")
        for i in 0..<10 { q.put(i, i) }
        for i in 0..<10 { XCTAssertEqual(q.next(), i) }
        var seen: [Int] = Array(0..<10)
        while let run = q.take(run: 8) {
            XCTAssertLessThanOrEqual(run.count, 8)
            for i in run { q.put(i, i); seen.append(i) }
            for i in run { XCTAssertEqual(q.next(), i) }
        }
        XCTAssertEqual(seen, Array(0..<25))
        XCTAssertNil(q.next())
    }

    /// A worker that holds the result the consumer waits for, and finds the window full
    /// (another worker ran ahead), gets an empty run instead of waiting: it waited before,
    /// and a stdlib build hung for good.
    func testWorkerHoldingTheNextResultIsNotBlockedByAFullWindow() throws {
        let q = OrderedWorkQueue<Int>(total: 20, window: 4)
        XCTAssertEqual(q.take(run: 1), 0..<1)           // worker A: item 0, not put yet
        XCTAssertEqual(q.take(run: 3), 1..<4)           // worker B fills the window
        for i in 1..<4 { q.put(i, i) }
        XCTAssertEqual(q.take(run: 1, holdingResults: true), 4..<4, "A must not wait for a window only it can free")
        q.put(0, 0)
        for i in 0..<4 { XCTAssertEqual(q.next(), i) }
        XCTAssertEqual(q.take(run: 2, holdingResults: true), 4..<6)
    }

    func testCancelledQueueReleasesTheWaitingConsumer() throws {
        let q = OrderedWorkQueue<Int>(total: 10, window: 4)
        XCTAssertEqual(q.take(), 0)
        q.put(0, 100)
        XCTAssertEqual(q.next(), 100)
        let done = DispatchSemaphore(value: 0)
        final class Box: @unchecked Sendable { var value: Int?? = .none }
        let box = Box()
        Thread.detachNewThread {
            box.value = .some(q.next()) // waits for item 1, which nobody will produce
            done.signal()
        }
        usleep(50_000)
        q.cancel()
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success, "next() still waiting after cancel()")
        XCTAssertEqual(box.value, .some(nil))
        XCTAssertNil(q.take())
    }

    /// The CLI under a file size limit (ulimit -f): SIGXFSZ is ignored, the write error is
    /// one clear line, the temporary file is removed, the previous archive is untouched.
    func testWriteErrorMidBuildIsOneCleanError() throws {
        _ = try TestGrammars.require()
        guard let exe = CLITests.executable else { throw XCTSkip("no cstpack executable built beside the tests") }
        // ThreadSanitizer's runtime dies with SIGBUS at start-up under a small `ulimit -f`
        // (even `cstpack --version`); scripts/faults covers this with the release build.
        if ProcessInfo.processInfo.environment["CSTPACK_TEST_SANITIZER"] == "thread" {
            throw XCTSkip("the ThreadSanitizer runtime cannot start under ulimit -f 16")
        }
        let dir = try makeTempDir("cstpack-efbig")
        let dest = dir + "/out.cstpack"
        try writeBytes(Array("previous".utf8), to: dest)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        // 16 blocks (8 or 16 KiB): the fixtures' archive is larger.
        p.arguments = ["-c", "ulimit -f 16; exec \"$0\" build -q --no-ignore -o \"$1\" \"$2\" 2>\"$1.err\"", exe, dest, TestPaths.fixturesPath]
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(60)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        if p.isRunning { p.terminate(); XCTFail("the build hung after its write failed"); return }
        XCTAssertEqual(p.terminationReason, .exit, "killed by a signal (SIGXFSZ?)")
        XCTAssertEqual(p.terminationStatus, 2)
        let err = String(decoding: try readBytes(dest + ".err"), as: UTF8.self)
        let lines = err.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, err)
        XCTAssertTrue(err.hasPrefix("cstpack: error: \(dest): cannot write the archive: File too large"), err)
        XCTAssertEqual(try readBytes(dest), Array("previous".utf8))
        let left = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains(".tmp-") }
        XCTAssertEqual(left, [], "temporary files left")
    }

    // MARK: Deep nesting (no recursion in encoder, decoder, verify)

    /// 10,000 levels of nested expressions, through tree-sitter, the encoder (checkpoints of
    /// 10,000 ancestors), the decoder, single nodes from checkpoints and verify --deep.
    func testTenThousandLevelsOfNesting() throws {
        let registry = try TestGrammars.require()
        let root = try makeTempDir("cstpack-deep")
        let depth = 10_000
        try write("x = " + String(repeating: "(", count: depth) + "1" + String(repeating: ")", count: depth) + "\n", root + "/deep.py")
        try write(String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "\n", root + "/deep.json")
        try write(String(repeating: "-", count: depth) + "1\n", root + "/unary.py")
        // Built here (the builder's threads cannot run in a forked child under TSan), read
        // in a child.
        // Checkpoints under the whole stack (a build makes them only in files long enough to
        // pay for such headers; a reader must accept them anyway).
        let b = try build(root) { $0.segmentSize = 4096; $0.jobs = 1; $0.checkpointBytesPerAncestor = 0 }
        let (outcome, lines) = runIsolatedCollecting { mark in
            do {
                mark("files \(b.summary.files)")
                let reader = ArchiveReader(b.archive)
                for i in 0..<b.archive.fileCount {
                    let t = try reader.tree(ofFile: i)
                    mark("depth \(t.depth()) records \(try b.archive.file(i).cstRecordCount)")
                    // The deepest node, and the last, from their checkpoints.
                    var d = [Int](repeating: 1, count: t.count)
                    for j in 1..<t.count { d[j] = d[Int(t.parents[j])] + 1 }
                    let deepest = d.indices.max { d[$0] < d[$1] } ?? 0
                    for id in [deepest, t.count - 1] {
                        guard try reader.node(ofFile: i, id: id) == nodeRecord(t, id) else { mark("node \(id) differs"); return 1 }
                    }
                }
                var options = VerifyOptions()
                options.deep = true
                let report = Verifier.run(b.archive, options: options, grammars: registry)
                mark("verify \(report.ok) \(report.nodesCompared) \(report.problems.prefix(3))")
                mark("read \(ReadEverything.run(b.archive))")
            } catch {
                mark("error \(error)")
                return 1
            }
            return 0
        }
        XCTAssertEqual(outcome, .exited(0), "\(lines.suffix(5))")
        XCTAssertEqual(lines.first, "files 3", "\(lines)")
        XCTAssertEqual(lines.filter { $0.hasPrefix("depth ") }.count, 3, "\(lines)")
        for l in lines where l.hasPrefix("depth ") {
            let parts = l.split(separator: " ")
            XCTAssertGreaterThanOrEqual(Int(parts[1]) ?? 0, depth, l)
            XCTAssertGreaterThan(Int(parts[3]) ?? 0, 1, "checkpoints: \(l)")
        }
        XCTAssertTrue(lines.contains { $0.hasPrefix("verify true") }, "\(lines)")
    }

    /// A synthetic chain 200,000 nodes deep through the codec alone.
    func testCodecHandlesAChainTwoHundredThousandDeep() throws {
        let table = LanguageTable(name: "chain", abi: 14, kindNames: ["a", "b", "ERROR"], kindNamed: [true, true, true], fieldNames: [""])
        let n = 200_000
        var t = CSTTree(reservingCapacity: n)
        for i in 0..<n {
            t.append(kind: UInt16(i % 2), field: 0, flags: .named, start: UInt32(i), end: UInt32(2 * n - i), parent: Int32(i - 1))
        }
        let (outcome, lines) = runIsolatedCollecting { mark in
            do {
                let enc = try TreeCodec.encode(t, table: table, recordLimit: 4096, bytesPerAncestor: 0)
                mark("records \(enc.records.count)")
                let back = try decodeAll(enc, table: table, nodeCount: n, sourceLength: 2 * n)
                mark(back == t ? "equal" : "differ: \(firstDifference(back, t) ?? "")")
                let k = enc.records.count - 1
                let node = try nodeFromCheckpoint(enc.records, from: k, base: Int(enc.firstNodes[k]), id: n - 1,
                                                  table: table, nodeCount: n, sourceLength: 2 * n)
                mark(node == nodeRecord(t, n - 1) ? "checkpoint ok" : "checkpoint differs")
                mark("depth \(back.depth()) subtree \(back.subtreeEnds()[0]) children \(back.childLists().children.count)")
            } catch {
                mark("error \(error)")
            }
            return 0
        }
        XCTAssertEqual(outcome, .exited(0), "\(lines)")
        XCTAssertTrue(lines.contains("equal"), "\(lines)")
        XCTAssertTrue(lines.contains("checkpoint ok"), "\(lines)")
        XCTAssertTrue(lines.contains("depth \(n) subtree \(n) children \(n - 1)"), "\(lines)")
    }

    // MARK: Versions

    /// Another format version is named, with the one this reader reads, whether or not the
    /// header checksum was recomputed: the version is checked before the checksum.
    func testOtherFormatVersionsAreRejectedNamingBothVersions() throws {
        let registry = try TestGrammars.require()
        let dir = try makeTempDir("cstpack-version")
        try write("x = 1\n", dir + "/a.py")
        let path = dir + "/a.cstpack"
        try buildArchive(root: dir, output: path, grammars: registry) { $0.noIgnore = true }
        let pristine = try readBytes(path)
        func withVersion(_ v: UInt32, resum: Bool) -> [UInt8] {
            var b = pristine
            for k in 0..<4 { b[8 + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(k))) }
            if resum {
                let sum = b.withUnsafeBytes { Hash.xxh3(UnsafeRawBufferPointer(rebasing: $0[0..<56])) }
                for k in 0..<8 { b[56 + k] = UInt8(truncatingIfNeeded: sum >> (8 * UInt64(k))) }
            }
            return b
        }
        for v: UInt32 in [0, 1, 5, 7, 0xFFFF_FFFF] where !Format.readableVersions.contains(v) {
            for resum in [true, false] {
                let p = dir + "/v\(v)-\(resum).cstpack"
                try writeBytes(withVersion(v, resum: resum), to: p)
                XCTAssertThrowsError(try Archive(path: p)) { e in
                    XCTAssertEqual("\(e)", "\(p): archive format version \(v); this cstpack reads versions 2 to 4")
                }
            }
        }
        // This version with a recomputed checksum opens (the edit itself is sound) ...
        let same = dir + "/same.cstpack"
        try writeBytes(withVersion(Format.version, resum: true), to: same)
        XCTAssertEqual(try Archive(path: same).fileCount, 1)
        // ... and any other header damage is a checksum error, not a version error.
        var damaged = pristine
        damaged[12] ^= 0x01
        try writeBytes(damaged, to: same)
        XCTAssertThrowsError(try Archive(path: same)) { XCTAssertTrue("\($0)".contains("header checksum mismatch"), "\($0)") }
    }
}

/// Archive size is linear in the number of nodes for every tree shape (issue 13): a
/// checkpoint's state header lists every open ancestor, so cutting records every 8 KiB under
/// a deep stack made a left-deep chain's archive quadratic (200,000 terms: 82 MB, 137 B/node).
final class TreeShapeTests: XCTestCase {
    func testEveryShapeStaysUnderOneBytePerNodeWithoutSource() throws {
        let grammars = try TestGrammars.require()
        let shapes: [(name: String, text: String)] = [
            ("left50k.py", "x = (1 +\n" + String(repeating: " 1 +\n", count: 49_999) + " 1)\n"),
            ("left200k.py", "x = (1 +\n" + String(repeating: " 1 +\n", count: 199_999) + " 1)\n"),
            ("right30k.json", String(repeating: "[0,\n", count: 30_000) + "1" + String(repeating: "]", count: 30_000) + "\n"),
            ("flat300k.json", "[" + Array(repeating: "0", count: 300_000).joined(separator: ",") + "]\n"),
            ("nest10k.py", "x = " + String(repeating: "(", count: 10_000) + "1" + String(repeating: ")", count: 10_000) + "\n"),
        ]
        for shape in shapes {
            let dir = try makeTempDir("cstpack-shape")
            try writeBytes(Array(shape.text.utf8), to: dir + "/" + shape.name)
            let out = dir + ".cstpack"
            addTeardownBlock { unlink(out) }
            try buildArchive(root: dir, output: out, grammars: grammars) { $0.noIgnore = true; $0.storeSource = false }
            let a = try Archive(path: out)
            XCTAssertEqual(a.fileCount, 1, shape.name)
            let f = try a.file(0)
            var cst = 0
            for i in 0..<a.segmentCount where try a.segment(i).stream == .cst { cst += Int(try a.segment(i).storedLength) }
            let perNode = Double(cst) / Double(f.nodeCount)
            XCTAssertLessThanOrEqual(perNode, 1.0, "\(shape.name): \(cst) B of CST for \(f.nodeCount) nodes")
            XCTAssertLessThan(cst, Int(f.sourceLength), "\(shape.name): CST larger than its source")
            // Lookups deep inside still find the right node.
            let reader = ArchiveReader(a)
            let whole = try reader.tree(ofFile: 0)
            for id in [Int(f.nodeCount) / 2, Int(f.nodeCount) - 2] {
                XCTAssertEqual(try ArchiveReader(a).node(ofFile: 0, id: id), nodeRecord(whole, id), "\(shape.name) node \(id)")
            }
        }
    }

    func testVerifyWarnsWhenACSTIsLargerThanItsSource() throws {
        let grammars = try TestGrammars.require()
        let dir = try makeTempDir("cstpack-bigcst")
        try writeBytes(Array(String(repeating: "x=1\n", count: 2000).utf8), to: dir + "/tiny.py")
        try writeBytes(Array("y=2\n".utf8), to: dir + "/small.py")
        let out = dir + "/a.cstpack"
        // Stored as is, six nodes a line take more bytes than four bytes of text (the small
        // file too, but under 1 KiB that says nothing).
        try buildArchive(root: dir, output: out, grammars: grammars) { $0.noIgnore = true; $0.codec = .none }
        let r = Verifier.run(try Archive(path: out), options: VerifyOptions(), grammars: nil)
        XCTAssertTrue(r.ok)
        XCTAssertEqual(r.warnings.count, 1, "\(r.warnings)")
        XCTAssertTrue(r.warnings.first?.hasPrefix("tiny.py: its CST takes ") == true && r.warnings.first?.contains("more than its 8000 bytes of source") == true, "\(r.warnings)")
    }
}
