import Foundation
import Glibc
import XCTest
@testable import CommandSupport
@testable import CSTPack

/// Building the fixture tree into archives and reading everything back.
final class ArchiveTests: XCTestCase {

    /// The fixture files an archive should hold: a known language with a grammar, not binary.
    private func expectedFiles(_ registry: GrammarRegistry) throws -> [String: String] {
        let map = LanguageMap()
        var out: [String: String] = [:]
        for rel in try listFiles(TestPaths.fixturesPath) {
            let name = Array((rel.split(separator: "/").last.map(String.init) ?? rel).utf8)
            guard let lang = map.language(forFileName: name), registry.grammars[lang] != nil else { continue }
            if try readBytes(TestPaths.fixturesPath + "/" + rel).prefix(8000).contains(0) { continue }
            out[rel] = lang
        }
        return out
    }

    private func buildFixtures(jobs: Int = 1, _ tweak: (inout BuildOptions) -> Void = { _ in }) throws -> (path: String, summary: BuildSummary) {
        let registry = try TestGrammars.require()
        let out = try makeTempDir() + "/fixtures.cstpack"
        let summary = try buildArchive(root: TestPaths.fixturesPath, output: out, jobs: jobs, grammars: registry, tweak)
        return (out, summary)
    }

    private func paths(_ a: Archive) throws -> [String] {
        try (0..<a.fileCount).map { String(decoding: try a.path(ofFile: $0), as: UTF8.self) }
    }

    // MARK: Determinism

    func testBuildIsDeterministicAcrossJobCounts() throws {
        // Tag models are kept even on these small files, so that training is covered too.
        let one = try buildFixtures(jobs: 1) { $0.keepEveryModel = true }
        let four = try buildFixtures(jobs: 4) { $0.keepEveryModel = true }
        let again = try buildFixtures(jobs: 1) { $0.keepEveryModel = true }
        XCTAssertGreaterThanOrEqual(try Archive(path: one.path).bases.count, 10, "a tag model per language")
        let a = try readBytes(one.path), b = try readBytes(four.path), c = try readBytes(again.path)
        XCTAssertGreaterThan(a.count, Format.headerSize)
        XCTAssertTrue(a == c, "two builds with jobs 1 differ: \(describeArchiveDifference(one.path, again.path))")
        if a != b {
            XCTFail("archives built with jobs 1 and 4 differ: \(describeArchiveDifference(one.path, four.path))")
        }
        XCTAssertEqual(one.summary.files, four.summary.files)
        XCTAssertEqual(one.summary.nodes, four.summary.nodes)
    }

    // MARK: Verify

    func testVerifyPassesInEveryMode() throws {
        let registry = try TestGrammars.require()
        let (path, summary) = try buildFixtures()
        let archive = try Archive(path: path)
        XCTAssertEqual(archive.fileCount, summary.files)

        let plain = Verifier.run(archive, options: VerifyOptions(), grammars: nil)
        XCTAssertTrue(plain.ok, "verify: \(plain.problems)")
        XCTAssertEqual(plain.files, archive.fileCount)
        XCTAssertEqual(plain.uniqueFiles, archive.fileCount - 1, "one pair of identical files")
        XCTAssertEqual(plain.nodes, summary.nodes)
        XCTAssertGreaterThan(plain.segments, 0)
        XCTAssertEqual(plain.nodesCompared, 0)

        var deep = VerifyOptions()
        deep.deep = true
        let d = Verifier.run(archive, options: deep, grammars: registry)
        XCTAssertTrue(d.ok, "verify --deep: \(d.problems)")
        XCTAssertGreaterThan(d.nodesCompared, 0)
        XCTAssertEqual(d.filesReparsed, archive.fileCount - 1)

        var fromSource = VerifyOptions()
        fromSource.sourceDirectory = TestPaths.fixturesPath
        let s = Verifier.run(archive, options: fromSource, grammars: registry)
        XCTAssertTrue(s.ok, "verify --source: \(s.problems)")
        XCTAssertGreaterThan(s.nodesCompared, 0)
        XCTAssertEqual(s.filesReparsed, archive.fileCount, "--source re-parses every file, shared ones too")
        XCTAssertEqual(s.nodesCompared, summary.nodes)
    }

    func testVerifySourceDetectsAChangedFile() throws {
        let registry = try TestGrammars.require()
        let dir = try makeTempDir()
        let root = dir + "/tree"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try writeBytes(Array("def f(x):\n    return x + 1\n".utf8), to: root + "/a.py")
        try writeBytes(Array("{\"k\": [1, 2, 3]}\n".utf8), to: root + "/b.json")
        let out = dir + "/a.cstpack"
        try buildArchive(root: root, output: out, grammars: registry)
        var o = VerifyOptions()
        o.sourceDirectory = root
        XCTAssertTrue(Verifier.run(try Archive(path: out), options: o, grammars: registry).ok)
        try writeBytes(Array("def f(x):\n    return x + 2\n".utf8), to: root + "/a.py")
        let report = Verifier.run(try Archive(path: out), options: o, grammars: registry)
        XCTAssertFalse(report.ok, "a changed source file must be reported")
        XCTAssertTrue(report.problems.contains { $0.contains("a.py") }, "\(report.problems)")
    }

    // MARK: Contents

    func testEveryFileMatchesAFreshParse() throws {
        let registry = try TestGrammars.require()
        let (path, summary) = try buildFixtures { $0.keepEveryModel = true }
        let archive = try Archive(path: path)
        let reader = ArchiveReader(archive)
        let expected = try expectedFiles(registry)
        let stored = try paths(archive)
        XCTAssertEqual(Set(stored), Set(expected.keys), "archived files")
        XCTAssertEqual(stored, stored.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }, "file index sorted by path")
        XCTAssertEqual(summary.files, expected.count)
        var rng = SplitMix64(seed: 0xA7C4_0001)
        var lookups = 0
        for (i, rel) in stored.enumerated() {
            let bytes = try readBytes(TestPaths.fixturesPath + "/" + rel)
            let f = try archive.file(i)
            let table = archive.languages[Int(f.language)]
            XCTAssertEqual(table.name, expected[rel], rel)
            guard let grammar = registry.grammars[table.name] else { XCTFail("no grammar \(table.name)"); continue }
            XCTAssertEqual(table, grammar.table, "\(rel): stored language table")
            let fresh = try parseTree(bytes, grammar: grammar)
            let tree = try reader.tree(ofFile: i)
            if tree != fresh { XCTFail("\(rel): \(firstDifference(fresh, tree) ?? "differs")") }
            XCTAssertEqual(try reader.source(ofFile: i), bytes, "\(rel): stored source")
            XCTAssertEqual(Int(f.sourceLength), bytes.count)
            XCTAssertEqual(Int(f.nodeCount), fresh.count)
            XCTAssertEqual(Int(f.lineCount), bytes.withUnsafeBytes { Lines.count($0) }, rel)
            XCTAssertEqual(f.contentHash, bytes.withUnsafeBytes { Hash.content($0) }, rel)
            XCTAssertEqual(f.flags.contains(.syntaxErrors), fresh.flags[0].contains(.hasError), rel)
            XCTAssertEqual(try archive.fileIndex(path: Array(rel.utf8)), i, rel)
            // Single nodes from their checkpoint match the full decode.
            var ids: Set<Int> = [0, tree.count - 1, tree.count / 2]
            for _ in 0..<8 { ids.insert(rng.below(tree.count)) }
            for id in ids.sorted() {
                let n = try reader.node(ofFile: i, id: id)
                XCTAssertEqual(n, nodeRecord(tree, id), "\(rel) node \(id)")
                lookups += 1
            }
            XCTAssertThrowsError(try reader.node(ofFile: i, id: tree.count), "\(rel): node past the end")
            XCTAssertThrowsError(try reader.node(ofFile: i, id: -1))
            let ft = try reader.fileTree(i)
            XCTAssertEqual(ft.displayPath, rel)
            XCTAssertEqual(ft.lineStarts, bytes.withUnsafeBytes { Lines.starts($0) })
        }
        XCTAssertGreaterThan(lookups, 100)
        XCTAssertNil(try archive.fileIndex(path: Array("python/nope.py".utf8)))
        XCTAssertNil(try archive.fileIndex(path: []))
        XCTAssertThrowsError(try archive.file(archive.fileCount))
        XCTAssertThrowsError(try reader.tree(ofFile: -1))
    }

    func testSpecialFixtures() throws {
        let (path, summary) = try buildFixtures()
        let archive = try Archive(path: path)
        let reader = ArchiveReader(archive)

        // Identical files share their records.
        guard let a = try archive.fileIndex(path: Array("python/dup_a.py".utf8)),
              let b = try archive.fileIndex(path: Array("other/dup_b.py".utf8)) else {
            return XCTFail("duplicate fixtures missing from the archive")
        }
        let fa = try archive.file(a), fb = try archive.file(b)
        let (first, second) = b < a ? (fb, fa) : (fa, fb)
        XCTAssertNil(first.sameAs, "the earlier path owns the records")
        XCTAssertEqual(second.sameAs, FileID(min(a, b)), "the later path shares them")
        XCTAssertEqual(first.firstCSTRecord, second.firstCSTRecord)
        XCTAssertEqual(first.firstSourceRecord, second.firstSourceRecord)
        XCTAssertEqual(try reader.tree(ofFile: a), try reader.tree(ofFile: b))
        XCTAssertEqual(try reader.source(ofFile: a), try reader.source(ofFile: b))
        XCTAssertEqual(summary.files, archive.fileCount)
        let unique = try (0..<archive.fileCount).filter { try archive.file($0).sameAs == nil }.count
        XCTAssertEqual(unique, archive.fileCount - 1, "exactly one file is shared")

        // Skipped: binary data and text without a grammar.
        XCTAssertNil(try archive.fileIndex(path: Array("bin/blob.dat".utf8)))
        XCTAssertNil(try archive.fileIndex(path: Array("docs/notes.txt".utf8)))
        XCTAssertGreaterThanOrEqual(summary.skipped.unknownLanguage, 2, "blob.dat and notes.txt")

        // The empty file is stored.
        guard let e = try archive.fileIndex(path: Array("python/empty.py".utf8)) else { return XCTFail("empty.py missing") }
        let fe = try archive.file(e)
        XCTAssertEqual(fe.sourceLength, 0)
        XCTAssertEqual(fe.lineCount, 0)
        XCTAssertGreaterThanOrEqual(fe.nodeCount, 1)
        XCTAssertEqual(try reader.source(ofFile: e), [])
        let et = try reader.tree(ofFile: e)
        XCTAssertEqual(et.count, Int(fe.nodeCount))
        XCTAssertEqual(et.ends[0], 0)

        // Syntax errors are flagged; clean files are not.
        let broken = try XCTUnwrap(try archive.fileIndex(path: Array("python/broken.py".utf8)))
        let app = try XCTUnwrap(try archive.fileIndex(path: Array("python/app.py".utf8)))
        XCTAssertTrue(try archive.file(broken).flags.contains(.syntaxErrors))
        XCTAssertFalse(try archive.file(app).flags.contains(.syntaxErrors))
        let brokenRs = try XCTUnwrap(try archive.fileIndex(path: Array("rust/broken.rs".utf8)))
        XCTAssertTrue(try archive.file(brokenRs).flags.contains(.syntaxErrors))

        // CRLF and Latin-1 bytes come back byte for byte.
        for rel in ["python/crlf.py", "python/latin1.py"] {
            let i = try XCTUnwrap(try archive.fileIndex(path: Array(rel.utf8)), rel)
            XCTAssertEqual(try reader.source(ofFile: i), try readBytes(TestPaths.fixturesPath + "/" + rel), rel)
        }
    }

    func testBinaryFileWithKnownExtensionIsSkipped() throws {
        let registry = try TestGrammars.require()
        let dir = try makeTempDir()
        let root = dir + "/tree"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try writeBytes(Array("x = 1\n".utf8) + [0, 1, 2, 0], to: root + "/nul.py")
        try writeBytes(Array("y = 2\n".utf8), to: root + "/ok.py")
        let out = dir + "/b.cstpack"
        let s = try buildArchive(root: root, output: out, grammars: registry)
        XCTAssertEqual(s.skipped.binary, 1)
        XCTAssertEqual(s.files, 1)
        let a = try Archive(path: out)
        XCTAssertEqual(try paths(a), ["ok.py"])
        XCTAssertEqual(a.buildInfo.skipped.binary, 1)
    }

    func testRawBytePathsAndSymlinks() throws {
        let registry = try TestGrammars.require()
        let dir = try makeTempDir()
        let root = dir + "/tree"
        try FileManager.default.createDirectory(atPath: root + "/sub dir", withIntermediateDirectories: true)
        // A Latin-1 file name (not UTF-8), a name with a space, and a symbolic link.
        let latin1Name: [UInt8] = Array("caf".utf8) + [0xE9] + Array(".py".utf8)
        let full = Array(root.utf8) + [UInt8(ascii: "/")] + latin1Name + [0]
        let fd = full.withUnsafeBufferPointer { p in
            p.withMemoryRebound(to: CChar.self) { Glibc.open($0.baseAddress!, O_WRONLY | O_CREAT | O_TRUNC, 0o644) }
        }
        XCTAssertGreaterThanOrEqual(fd, 0, "cannot create a Latin-1 file name here")
        let body = Array("name = 'caf\u{e9}'\n".utf8)
        XCTAssertEqual(body.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }, body.count)
        Glibc.close(fd)
        try writeBytes(Array("x = 1\n".utf8), to: root + "/sub dir/a b.py")
        try FileManager.default.createSymbolicLink(atPath: root + "/link.py", withDestinationPath: root + "/sub dir/a b.py")
        let out = dir + "/p.cstpack"
        let s = try buildArchive(root: root, output: out, grammars: registry)
        XCTAssertEqual(s.files, 2)
        XCTAssertEqual(s.skipped.symlinks, 1)
        let a = try Archive(path: out)
        XCTAssertEqual(try (0..<a.fileCount).map { try a.path(ofFile: $0) }, [latin1Name, Array("sub dir/a b.py".utf8)])
        XCTAssertEqual(try a.fileIndex(path: latin1Name), 0)
        XCTAssertNil(try a.fileIndex(path: Array("link.py".utf8)))
        var o = VerifyOptions()
        o.sourceDirectory = root
        let report = Verifier.run(a, options: o, grammars: registry)
        XCTAssertTrue(report.ok, "\(report.problems)")
        XCTAssertEqual(report.filesReparsed, 2)
    }

    // MARK: --no-source

    func testNoSourceBuild() throws {
        let registry = try TestGrammars.require()
        let (withSource, _) = try buildFixtures()
        let (path, _) = try buildFixtures { $0.storeSource = false }
        let archive = try Archive(path: path)
        let reader = ArchiveReader(archive)
        let plain = Verifier.run(archive, options: VerifyOptions(), grammars: nil)
        XCTAssertTrue(plain.ok, "\(plain.problems)")
        var o = VerifyOptions()
        o.sourceDirectory = TestPaths.fixturesPath
        let s = Verifier.run(archive, options: o, grammars: registry)
        XCTAssertTrue(s.ok, "\(s.problems)")
        XCTAssertGreaterThan(s.nodesCompared, 0)
        XCTAssertLessThan(archive.size, try Archive(path: withSource).size, "no source text, smaller archive")
        for (i, rel) in try paths(archive).enumerated() {
            let bytes = try readBytes(TestPaths.fixturesPath + "/" + rel)
            let f = try archive.file(i)
            XCTAssertTrue(f.flags.contains(.lineTable), rel)
            XCTAssertFalse(f.flags.contains(.source), rel)
            XCTAssertNil(try reader.source(ofFile: i), rel)
            let starts = try reader.lineStarts(ofFile: i, source: nil)
            XCTAssertEqual(starts, bytes.withUnsafeBytes { Lines.starts($0) }, "\(rel): line starts")
            let ft = try reader.fileTree(i)
            XCTAssertNil(ft.source)
            XCTAssertNotNil(ft.point(UInt32(bytes.count)))
        }
    }

    // MARK: Small segments

    /// The node at a byte found by decoding only up to it (what `query FILE L:C` does) is
    /// the node a full decode finds, with the same facts and the same complete subtree, in
    /// every fixture, with and without tag models, across record boundaries.
    func testLookupAtAByteDecodesOnlyWhatItNeeds() throws {
        var rng = SplitMix64(seed: 0xA7C4_0003)
        var compared = 0, partial = 0, fromCheckpoint = 0
        // Default records; small segments with models; a checkpoint every 256 bytes, so
        // that most lookups start from one (and some fall back to the file's start).
        for tweak: (inout BuildOptions) -> Void in [{ _ in }, { $0.keepEveryModel = true; $0.segmentSize = 4096 },
                                                     { $0.checkpointBytes = 256 }] {
            let (path, _) = try buildFixtures(tweak)
            let archive = try Archive(path: path)
            let full = ArchiveReader(archive)
            for i in 0..<archive.fileCount {
                let ft = try full.fileTree(i)
                var bytes: Set<UInt32> = [0, UInt32(ft.sourceLength)]
                for _ in 0..<25 { bytes.insert(UInt32(rng.below(ft.sourceLength + 1))) }
                for b in bytes.sorted() {
                    for anonymous in [false, true] {
                        let reader = ArchiveReader(archive) // nothing cached: the partial path
                        let (pt, index) = try reader.fileTree(i, at: b, anonymous: anonymous)
                        // A tree decoded from a checkpoint starts at node `firstID`; its
                        // nodes' parents before that are -1.
                        let n = index + pt.firstID
                        let expected = ft.deepestNode(at: b, anonymous: anonymous)
                        XCTAssertEqual(n, expected, "\(ft.displayPath) @\(b) anonymous \(anonymous)")
                        guard n == expected else { continue }
                        let end = Int(ft.tree.subtreeEnds()[n])
                        XCTAssertGreaterThanOrEqual(pt.count + pt.firstID, end, "the node's subtree is decoded")
                        for j in n..<min(end, pt.count + pt.firstID) {
                            var got = nodeRecord(pt.tree, j - pt.firstID)
                            got.id += pt.firstID
                            if got.parent >= 0 { got.parent += pt.firstID } else if ft.tree.parents[j] < pt.firstID { got.parent = Int(ft.tree.parents[j]) }
                            XCTAssertEqual(got, nodeRecord(ft.tree, j), "\(ft.displayPath) @\(b): node \(j)")
                        }
                        if pt.firstID > 0 { fromCheckpoint += 1 }
                        if pt.count + pt.firstID < ft.count { partial += 1 }
                        compared += 1
                    }
                }
                // By line and column too, and a point outside the file.
                if let starts = ft.lineStarts, !starts.isEmpty {
                    let line = 1 + rng.below(starts.count)
                    let got = try ArchiveReader(archive).fileTree(i, line: line, column: 1)
                    XCTAssertEqual(got.map { $0.node + $0.tree.firstID }, ft.byteOffset(line: line, column: 1).map { ft.deepestNode(at: $0) })
                    XCTAssertNil(try ArchiveReader(archive).fileTree(i, line: starts.count + 1, column: 1))
                    XCTAssertEqual(try ArchiveReader(archive).pointOutside(i, line: starts.count + 1, column: 1),
                                   "line \(starts.count + 1) is past the end of the file (\(starts.count) lines)")
                    let lineLength = (line < starts.count ? Int(starts[line]) - 1 : ft.sourceLength) - Int(starts[line - 1])
                    XCTAssertNil(try ArchiveReader(archive).fileTree(i, line: line, column: lineLength + 2))
                    XCTAssertTrue(try ArchiveReader(archive).pointOutside(i, line: line, column: lineLength + 2)
                        .hasPrefix("column \(lineLength + 2) is past the end of line \(line) (columns 1 to \(lineLength + 1):"))
                }
            }
        }
        XCTAssertGreaterThan(compared, 1000)
        XCTAssertGreaterThan(partial, compared / 3, "most lookups stop before the end of the file")
        XCTAssertGreaterThan(fromCheckpoint, compared / 10, "lookups in files of several records start from a checkpoint")
    }

    func testSmallSegmentsAndCheckpointLookups() throws {
        let registry = try TestGrammars.require()
        let python = try TestGrammars.require("python")
        let dir = try makeTempDir()
        let root = dir + "/tree"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        var text = ""
        var n = 0
        while text.utf8.count < 100_000 {
            text += "def f\(n)(a, b=\(n)):\n    return [a * b for a in range(\(n % 17))] + {\"k\": (a, b)}[\"k\"]\n\n"
            n += 1
        }
        try writeBytes(Array(text.utf8), to: root + "/big.py")
        try writeBytes(Array("print('small')\n".utf8), to: root + "/small.py")
        let out = dir + "/s.cstpack"
        try buildArchive(root: root, output: out, grammars: registry) { $0.segmentSize = 4096; $0.keepEveryModel = true }
        let archive = try Archive(path: out)
        XCTAssertNotNil(try archive.tagModel(language: 0), "checkpoints of a file coded with a tag model")
        XCTAssertTrue(Verifier.run(archive, options: VerifyOptions(), grammars: nil).ok)
        var deep = VerifyOptions()
        deep.deep = true
        let d = Verifier.run(archive, options: deep, grammars: registry)
        XCTAssertTrue(d.ok, "\(d.problems)")

        let i = try XCTUnwrap(try archive.fileIndex(path: Array("big.py".utf8)))
        let f = try archive.file(i)
        XCTAssertGreaterThan(f.cstRecordCount, 4, "a 100 KB file in 4 KB segments spans several CST records")
        XCTAssertGreaterThan(f.sourceRecordCount, 4)
        XCTAssertLessThanOrEqual(archive.maxSegmentRaw, 4096 + 4096, "segments stay near the segment size")
        let bytes = try readBytes(root + "/big.py")
        let full = try ArchiveReader(archive).tree(ofFile: i)
        let fresh = try parseTree(bytes, grammar: python)
        if full != fresh { XCTFail(firstDifference(fresh, full) ?? "differs") }
        XCTAssertEqual(try ArchiveReader(archive).source(ofFile: i), bytes)

        // Lookups around every checkpoint and at random.
        var ids: Set<Int> = [0, full.count - 1]
        var cstSegments = Set<SegmentID>()
        for k in 0..<Int(f.cstRecordCount) {
            let r = try archive.record(f.firstCSTRecord.index + k)
            cstSegments.insert(r.segment)
            for delta in -1...1 { let id = Int(r.first) + delta; if id >= 0 && id < full.count { ids.insert(id) } }
        }
        var rng = SplitMix64(seed: 0xA7C4_0002)
        for _ in 0..<100 { ids.insert(rng.below(full.count)) }
        let reader = ArchiveReader(archive)
        for id in ids.sorted() {
            let node = try reader.node(ofFile: i, id: id)
            XCTAssertEqual(node, nodeRecord(full, id), "node \(id)")
        }
        // A leaf near the end is found from the last checkpoint, without reading the
        // segments before it.
        XCTAssertGreaterThan(cstSegments.count, 4)
        let lastLeaf = full.count - 1
        let cold = ArchiveReader(archive)
        _ = try cold.node(ofFile: i, id: lastLeaf)
        XCTAssertLessThanOrEqual(cold.segmentsDecompressed, 2, "checkpoint lookup read \(cold.segmentsDecompressed) segments")
        // A segment read in part for a record is read whole when asked for whole.
        for seg in 0..<archive.segmentCount {
            let r = ArchiveReader(archive)
            let part = try r.segmentBytes(seg, prefix: 10)
            let whole = try r.segmentBytes(seg)
            XCTAssertEqual(whole.count, Int(try archive.segment(seg).rawLength))
            XCTAssertEqual(Array(whole.prefix(part.count)), part)
        }
    }

    // MARK: Stats

    /// Languages with as many nodes as each other are listed by name: the order of a
    /// dictionary changes from process to process, and `stats` printed them in that order.
    func testStatsListsLanguagesWithEqualNodeCountsByName() throws {
        let (path, _) = try buildFixtures()
        var report = try StatsReport.compute(try Archive(path: path))
        let names = report.languages.keys.sorted()
        XCTAssertGreaterThan(names.count, 3)
        for name in names { report.languages[name]!.nodes = 7 }
        let rows = report.text().split(separator: "\n").compactMap { line -> String? in
            let first = String(line.split(separator: " ").first ?? "")
            return names.contains(first) ? first : nil
        }
        XCTAssertEqual(rows, names)
    }

    func testStatsJSON() throws {
        let (path, summary) = try buildFixtures()
        let archive = try Archive(path: path)
        let report = try StatsReport.compute(archive)
        let json = try report.json()
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let keys = ["files", "lines", "nodes", "source_bytes", "cst_bytes", "archive_bytes"]
        let total = try XCTUnwrap(object["total"] as? [String: Any], "total")
        for k in keys { XCTAssertNotNil(total[k] as? Int, "total.\(k)") }
        let languages = try XCTUnwrap(object["languages"] as? [String: Any])
        let python = try XCTUnwrap(languages["python"] as? [String: Any], "languages.python")
        for k in keys { XCTAssertNotNil(python[k] as? Int, "languages.python.\(k)") }

        var nodes = 0, source = 0, lines = 0, pyFiles = 0
        for i in 0..<archive.fileCount {
            let f = try archive.file(i)
            nodes += Int(f.nodeCount); source += Int(f.sourceLength); lines += Int(f.lineCount)
            if archive.languages[Int(f.language)].name == "python" { pyFiles += 1 }
        }
        XCTAssertEqual(total["files"] as? Int, archive.fileCount)
        XCTAssertEqual(total["nodes"] as? Int, nodes)
        XCTAssertEqual(total["nodes"] as? Int, summary.nodes)
        XCTAssertEqual(total["lines"] as? Int, lines)
        XCTAssertEqual(total["source_bytes"] as? Int, source)
        XCTAssertEqual(total["archive_bytes"] as? Int, archive.size)
        XCTAssertEqual(total["archive_bytes"] as? Int, try readBytes(path).count)
        let cst = try XCTUnwrap(total["cst_bytes"] as? Int)
        XCTAssertGreaterThan(cst, 0)
        XCTAssertLessThan(cst, archive.size)
        XCTAssertEqual(python["files"] as? Int, pyFiles)
        XCTAssertEqual(pyFiles, 7)
        XCTAssertEqual(python["unique_files"] as? Int, 6)
        // Per-language sizes and the summaries (an index of the whole archive, counted on
        // their own) add up to the total (up to rounding).
        let summaries = try XCTUnwrap(object["summary_bytes"] as? Int)
        XCTAssertEqual(summaries, Int(archive.sections[.summaries]!.length))
        var langSum = 0
        for (_, v) in languages { langSum += ((v as? [String: Any])?["archive_bytes"] as? Int) ?? 0 }
        XCTAssertEqual(Double(langSum + summaries), Double(archive.size), accuracy: Double(languages.count) + 1)
        XCTAssertFalse(report.text().isEmpty)
    }
}
