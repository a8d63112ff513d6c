import Foundation
import XCTest
@testable import CommandSupport
@testable import CSTPack

/// `update`, `build --reuse` and the live view: an archive kept current must equal a fresh
/// build of the same tree, node for node, and answers must never come from a stale snapshot.
final class UpdateTests: XCTestCase {

    /// A tree of real files (the fixtures) plus generated Python modules, with stamps an hour
    /// old (as files of a tree people work on are: outside the racy window).
    func makeTree() throws -> String {
        let root = try makeTempDir("cstpack-update") + "/tree"
        try FileManager.default.copyItem(atPath: TestPaths.fixturesPath, toPath: root)
        for k in 0..<60 {
            var text = "import os\n\n"
            for f in 0..<(k % 7 + 20) { text += "def f\(k)_\(f)(a, b):\n    return a * \(f) + b  # \(String(repeating: "x", count: k))\n\n" }
            try writeText(text, root + "/gen/m\(k).py")
        }
        try age(root)
        return root
    }

    func writeText(_ s: String, _ path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try writeBytes(Array(s.utf8), to: path)
    }

    func append(_ s: String, _ path: String) throws {
        try writeBytes(try readBytes(path) + Array(s.utf8), to: path)
    }

    /// Sets every file's mtime an hour back.
    func age(_ root: String) throws {
        let old = Date(timeIntervalSinceNow: -3600)
        for f in try listFiles(root) { try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: root + "/" + f) }
    }

    func update(_ archive: String, root: String? = nil, reuse: Bool = false, output: String? = nil) throws -> UpdateSummary {
        var o = Updater.Options(output: output ?? archive)
        o.root = root
        o.reuse = reuse
        return try Updater.update(try Archive(path: archive), options: o, grammars: try TestGrammars.require()) { _ in }
    }

    /// The two archives hold the same files with the same content, and every tree decodes
    /// to the same nodes.
    func assertSameTrees(_ a: String, _ b: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let x = try Archive(path: a), y = try Archive(path: b)
        XCTAssertEqual(x.fileCount, y.fileCount, "file count", file: file, line: line)
        let rx = ArchiveReader(x), ry = ArchiveReader(y)
        for i in 0..<min(x.fileCount, y.fileCount) {
            let p = try x.path(ofFile: i)
            XCTAssertEqual(p, try y.path(ofFile: i), "path of file \(i)", file: file, line: line)
            XCTAssertEqual(try x.file(i).contentHash, try y.file(i).contentHash, "content of \(String(decoding: p, as: UTF8.self))", file: file, line: line)
            XCTAssertEqual(x.languages[Int(try x.file(i).language)].name, y.languages[Int(try y.file(i).language)].name, file: file, line: line)
            if let d = firstDifference(try rx.tree(ofFile: i), try ry.tree(ofFile: i)) {
                XCTFail("\(String(decoding: p, as: UTF8.self)): \(d)", file: file, line: line)
            }
            XCTAssertEqual(try rx.source(ofFile: i), try ry.source(ofFile: i), file: file, line: line)
        }
        XCTAssertEqual(x.buildInfo.languages.map(\.files), y.buildInfo.languages.map(\.files), "files per language", file: file, line: line)
    }

    func verify(_ archive: String, source: String, file: StaticString = #filePath, line: UInt = #line) throws {
        var o = VerifyOptions()
        o.sourceDirectory = source
        let r = Verifier.run(try Archive(path: archive), options: o, grammars: try TestGrammars.require())
        XCTAssertTrue(r.ok, r.problems.prefix(5).joined(separator: "; "), file: file, line: line)
    }

    func testUpdateEqualsAFreshBuild() throws {
        let grammars = try TestGrammars.require()
        let root = try makeTree()
        let dir = (root as NSString).deletingLastPathComponent
        let archive = dir + "/live.cstpack", fresh = dir + "/fresh.cstpack"
        try buildArchive(root: root, output: archive, grammars: grammars) { $0.noIgnore = true; $0.keepEveryModel = true; $0.segmentSize = 8192 }
        let before = try Archive(path: archive)
        XCTAssertNotNil(before.treeState)
        XCTAssertEqual(before.treeState?.files.count, before.fileCount)

        // Nothing changed: nothing is read, parsed or written.
        let mtime = try FileManager.default.attributesOfItem(atPath: archive)[.modificationDate] as? Date
        let same = try update(archive)
        XCTAssertFalse(same.wrote)
        XCTAssertEqual(same.unchanged, before.fileCount)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: archive)[.modificationDate] as? Date, mtime)

        // 2 changed, 1 deleted, 1 renamed, 1 added, 1 added holding an existing file's content.
        try append("\ndef added_here():\n    pass\n", root + "/gen/m3.py")
        try append("\n// more\nfunction more() { return 1 }\n", root + "/js/app.js")
        try FileManager.default.removeItem(atPath: root + "/gen/m4.py")
        try FileManager.default.moveItem(atPath: root + "/gen/m5.py", toPath: root + "/gen/renamed.py")
        try writeText("def brand_new():\n    return 42\n", root + "/gen/new.py")
        try FileManager.default.copyItem(atPath: root + "/gen/m6.py", toPath: root + "/gen/copy_of_m6.py")
        let s = try update(archive)
        XCTAssertTrue(s.wrote)
        XCTAssertEqual([s.changed, s.added, s.deleted, s.renamed], [2, 2, 1, 1], "\(s)")
        XCTAssertEqual(s.parsed, 3, "only new content is parsed")
        XCTAssertEqual(s.reused, before.fileCount - 2 - 1 + 1, "every other file keeps its records")
        XCTAssertGreaterThan(s.segmentsCopied, 0, "segments are copied whole")

        try buildArchive(root: root, output: fresh, grammars: grammars) { $0.noIgnore = true; $0.keepEveryModel = true; $0.segmentSize = 8192 }
        try assertSameTrees(archive, fresh)
        try verify(archive, source: root)

        // The same update again, from the same base, gives the same bytes.
        let base2 = dir + "/base2.cstpack"
        try buildArchive(root: root, output: base2, grammars: grammars) { $0.noIgnore = true; $0.keepEveryModel = true }
        try append("\nx = 1\n", root + "/gen/m7.py")
        try FileManager.default.copyItem(atPath: base2, toPath: dir + "/base3.cstpack")
        _ = try update(base2)
        _ = try update(dir + "/base3.cstpack")
        XCTAssertEqual(try readBytes(base2), try readBytes(dir + "/base3.cstpack"), describeArchiveDifference(base2, dir + "/base3.cstpack"))
    }

    func testRepeatedUpdatesMatchFreshBuildsAndStayCompact() throws {
        let grammars = try TestGrammars.require()
        let root = try makeTree()
        let dir = (root as NSString).deletingLastPathComponent
        let archive = dir + "/live.cstpack", fresh = dir + "/fresh.cstpack"
        // Small segments, so that updates leave dead bytes in many of them.
        try buildArchive(root: root, output: archive, grammars: grammars) { $0.noIgnore = true; $0.segmentSize = 4096 }
        var rng = SplitMix64(seed: 7)
        for round in 0..<8 {
            for _ in 0..<3 {
                let k = rng.below(30)
                let p = root + "/gen/m\(k).py"
                if FileManager.default.fileExists(atPath: p) { try append("\ndef r\(round)_\(k)():\n    return \(round)\n", p) }
            }
            if round % 3 == 2 { try? FileManager.default.removeItem(atPath: root + "/gen/m\(rng.below(30)).py") }
            let s = try update(archive)
            XCTAssertTrue(s.wrote)
            try buildArchive(root: root, output: fresh, grammars: grammars) { $0.noIgnore = true; $0.segmentSize = 4096 }
            try assertSameTrees(archive, fresh)
            let a = try Archive(path: archive)
            var o = VerifyOptions()
            o.deep = true
            let r = Verifier.run(a, options: o, grammars: grammars)
            XCTAssertTrue(r.ok, "round \(round): " + r.problems.prefix(3).joined(separator: "; "))
            // Dead bytes stay a small share of the segments (Updater.segmentsToKeep).
            var raw = 0
            for i in 0..<a.segmentCount { raw += Int(try a.segment(i).rawLength) }
            XCTAssertLessThanOrEqual(r.deadBytes * 50, raw + 50 * 4096, "round \(round): \(r.deadBytes) dead of \(raw)")
        }
    }

    func testBuildReuseTakesIdenticalFilesFromAnotherCheckout() throws {
        let grammars = try TestGrammars.require()
        let first = try makeTree()
        let dir = (first as NSString).deletingLastPathComponent
        let second = dir + "/second"
        try FileManager.default.copyItem(atPath: first, toPath: second)
        try append("\ndef only_in_second():\n    pass\n", second + "/gen/m1.py")
        let a = dir + "/first.cstpack", b = dir + "/second.cstpack", fresh = dir + "/fresh.cstpack"
        try buildArchive(root: first, output: a, grammars: grammars) { $0.noIgnore = true }
        var o = Updater.Options(output: b)
        o.root = second
        o.reuse = true
        var build = BuildOptions(root: second, output: b, jobs: 1)
        build.noIgnore = true
        o.build = build
        XCTAssertNil(Updater.reuseMismatch(try Archive(path: a), build, grammars: grammars))
        let s = try Updater.update(try Archive(path: a), options: o, grammars: grammars) { _ in }
        XCTAssertEqual(s.parsed, 1, "\(s)")
        try buildArchive(root: second, output: fresh, grammars: grammars) { $0.noIgnore = true }
        try assertSameTrees(b, fresh)
        try verify(b, source: second)
        XCTAssertEqual(try Archive(path: b).treeState?.rootPath, resolvedPath(second))
        // Other encoding options: records cannot be taken as they are.
        build.storeSource = false
        XCTAssertNotNil(Updater.reuseMismatch(try Archive(path: a), build, grammars: grammars))
    }

    func testFilesPassedOverAreRememberedNotReadAgain() throws {
        let grammars = try TestGrammars.require()
        let root = try makeTree()
        try writeBytes(Array("def x():\n".utf8) + [0, 1, 2] + Array("\n".utf8), to: root + "/gen/binary.py")
        try age(root)
        let archive = (root as NSString).deletingLastPathComponent + "/a.cstpack"
        try buildArchive(root: root, output: archive, grammars: grammars) { $0.noIgnore = true }
        let state = try XCTUnwrap(try Archive(path: archive).treeState)
        XCTAssertEqual(state.passedOver.map { String(decoding: $0.path, as: UTF8.self) }, ["gen/binary.py"])
        let s = try update(archive)
        XCTAssertFalse(s.wrote, "a remembered binary file is not read again")
        XCTAssertEqual(s.skipped.binary, 1)
    }
}

extension CLITests {
    /// A built copy of the fixtures, aged outside the racy window.
    func liveTree() throws -> (root: String, archive: String) {
        _ = try TestGrammars.require()
        let dir = try makeTempDir("cstpack-live")
        let root = dir + "/tree"
        try FileManager.default.copyItem(atPath: TestPaths.fixturesPath, toPath: root)
        let old = Date(timeIntervalSinceNow: -3600)
        for f in try listFiles(root) { try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: root + "/" + f) }
        let archive = dir + "/index.cstpack"
        let b = try run(["build", root, "-o", archive, "-q", "--no-ignore"])
        XCTAssertEqual(b.status, 0, b.description)
        return (root, archive)
    }

    func testQueriesAnswerForTheTreeAsItIsNow() throws {
        let (root, archive) = try liveTree()
        let count = { (extra: [String]) throws -> (String, String) in
            let r = try self.run(["query", "-a", archive, "--all", "function_definition", "--count"] + extra)
            return (r.stdout.trimmingCharacters(in: .whitespacesAndNewlines), r.stderr)
        }
        let (before, quiet) = try count([])
        XCTAssertEqual(quiet, "", "no note when nothing changed")
        try writeBytes(try readBytes(root + "/python/app.py") + Array("\ndef one_more():\n    pass\n".utf8), to: root + "/python/app.py")
        try writeBytes(Array("def a():\n    pass\n\ndef b():\n    pass\n".utf8), to: root + "/python/fresh.py")
        let (after, note) = try count([])
        XCTAssertEqual(Int(after), Int(before).map { $0 + 3 }, "the changed and the new file are read fresh: \(note)")
        XCTAssertTrue(note.contains("cstpack: note: 2 file(s) changed"), note)
        // The answer is worked out from the archive while the tree is checked: what it found
        // there is dropped, and only the fresh answer is printed.
        let added = try run(["query", "-a", archive, "--all", "--lang", "python", "-p", "def one_more(): $$$"])
        XCTAssertEqual(added.stdout.split(separator: "\n").count, 1, added.description)
        XCTAssertTrue(added.stdout.hasPrefix("python/app.py:"), added.description)
        XCTAssertEqual(added.stderr.components(separatedBy: "cstpack: note:").count, 2, "one note: \(added.stderr)")
        let lines = try run(["query", "-a", archive, "--all", "function_definition"])
        XCTAssertEqual(lines.stdout.split(separator: "\n").count, Int(after), lines.description)
        XCTAssertEqual(try count(["--as-built"]).0, before, "--as-built answers from the archive alone")
        // A query of one file reads that file as it is now, and an unchanged file's answer
        // needs no note (only its own stamp is checked).
        let one = try run(["query", "-a", archive, "python/app.py", "function_definition", "--count"])
        XCTAssertEqual(Int(one.stdout.trimmingCharacters(in: .whitespacesAndNewlines)), 9 + 1, "app.py has 9 functions, one added: \(one.description)")
        let untouched = try run(["query", "-a", archive, "python/broken.py", "0"])
        XCTAssertEqual(untouched.status, 0, untouched.description)
        XCTAssertEqual(untouched.stderr, "", "an unchanged file is answered from the archive")
        // The fresh file is there for point queries and ls; a deleted one is gone.
        let q = try run(["query", "-a", archive, "python/fresh.py", "1:5"])
        XCTAssertEqual(q.status, 0, q.description)
        XCTAssertTrue(q.stdout.contains("identifier"), q.description)
        try FileManager.default.removeItem(atPath: root + "/python/crlf.py")
        let ls = try run(["ls", "-a", archive])
        XCTAssertFalse(ls.stdout.contains("python/crlf.py"), ls.description)
        XCTAssertTrue(ls.stdout.contains("python/fresh.py"), ls.description)
        XCTAssertTrue(try run(["ls", "-a", archive, "--as-built"]).stdout.contains("python/crlf.py"))
        // `update` makes the archive current, after which nothing is read fresh.
        let live = try count([]).0
        XCTAssertEqual(Int(live), Int(after).map { $0 - 3 }, "crlf.py's three functions are gone")
        let u = try run(["update", "-a", archive])
        XCTAssertEqual(u.status, 0, u.description)
        XCTAssertTrue(u.stdout.contains("1 changed, 1 added, 1 deleted"), u.description)
        XCTAssertEqual(try count(["--as-built"]).0, live)
        XCTAssertEqual(try count([]).1, "", "nothing is read fresh after update")
    }

    func testUpdateRefusesWhatItCannotDo() throws {
        let (root, archive) = try liveTree()
        // A directory that is another tree.
        let other = try makeTempDir("cstpack-other")
        for k in 0..<6 { try writeBytes(Array("x\(k) = \(k)\n".utf8), to: other + "/o\(k).py") }
        let r = try run(["update", other, "-a", archive])
        XCTAssertEqual(r.status, 2, r.description)
        XCTAssertTrue(r.stderr.hasPrefix("cstpack: error: ") && r.stderr.contains("does not look like the tree"), r.description)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1)
        // The recorded directory is gone: update says so; queries answer as built, with a note.
        let moved = root + ".moved"
        try FileManager.default.moveItem(atPath: root, toPath: moved)
        let u = try run(["update", "-a", archive])
        XCTAssertEqual(u.status, 2, u.description)
        XCTAssertTrue(u.stderr.contains("does not exist here") && u.stderr.contains("--as-built"), u.description)
        let q = try run(["query", "-a", archive, "--all", "function_definition", "--count"])
        XCTAssertEqual(q.status, 0, q.description)
        XCTAssertTrue(q.stderr.contains("answering from the archive as built"), q.description)
        // Naming the tree where it is now updates it (the same paths, so the same tree).
        let n = try run(["update", moved, "-a", archive])
        XCTAssertEqual(n.status, 0, n.description)
        XCTAssertEqual(try Archive(path: archive).treeState?.rootPath, resolvedPath(moved))
    }

    func testAVersion2ArchiveStillReadsButCannotBeUpdated() throws {
        let (_, archive) = try liveTree()
        let v2 = try downgraded(archive, to: 2)
        let old = try Archive(path: v2)
        XCTAssertEqual(old.version, 2)
        XCTAssertNil(old.treeState)
        let v = try run(["verify", "-a", v2])
        XCTAssertEqual(v.status, 0, v.description)
        let q = try run(["query", "-a", v2, "--all", "function_definition", "--count"])
        XCTAssertEqual(q.status, 0, q.description)
        XCTAssertEqual(q.stderr, "")
        let u = try run(["update", "-a", v2])
        XCTAssertEqual(u.status, 2, u.description)
        XCTAssertTrue(u.stderr.contains("records no source tree"), u.description)
    }

    /// A version 3 archive (no summaries) answers as a version 4 one does, decoding instead;
    /// `update` makes it version 4, with the summaries a fresh build writes.
    func testAVersion3ArchiveAnswersAlikeAndUpdatesToVersion4() throws {
        let (root, archive) = try liveTree()
        let v3 = try downgraded(archive, to: 3)
        let old = try Archive(path: v3)
        XCTAssertEqual(old.version, 3)
        XCTAssertFalse(old.hasSummaries)
        XCTAssertEqual(try run(["verify", "-a", v3]).status, 0)
        for args in [["--all", "function_definition", "--count", "--by-file"], ["--all", "identifier", "--count"],
                     ["--all", "function_definition"], ["--all", "-p", "print($$$)", "--lang", "python"],
                     ["--all", "-p", "len($X)", "--lang", "python", "--count", "--by-file"],
                     ["--all", "(function_definition name: (identifier) @n)"], ["--all", "(return_statement) @r", "--count", "--by-file"],
                     ["--all", "((comment)* @c . (function_definition) @f)"], ["--all", "[(call) (lambda)] @x", "--count"],
                     ["--all", "(call function: (identifier) @f (#eq? @f \"len\"))", "--count", "--by-file"],
                     ["--all", "(ERROR) @e", "--count"], ["--all", "(_ (string)+ @s)", "--count"]] {
            let a = try run(["query", "-a", archive, "--as-built"] + args)
            let b = try run(["query", "-a", v3, "--as-built"] + args)
            XCTAssertEqual(a.status, b.status, "\(args): \(a.description) \(b.description)")
            XCTAssertEqual(a.stdout, b.stdout, "\(args)")
            XCTAssertFalse(a.stdout.isEmpty || a.stdout == "0\n", "\(args): \(a.description)")
        }
        // An edit, so that update writes; the summaries of the files it takes over are
        // worked out from their trees, and match a fresh build's.
        try writeBytes(Array("def added(x):\n    return len(x)\n".utf8), to: root + "/python/added.py")
        let u = try run(["update", "-a", v3, "-q"])
        XCTAssertEqual(u.status, 0, u.description)
        let updated = try Archive(path: v3)
        XCTAssertEqual(updated.version, Format.version)
        XCTAssertTrue(updated.hasSummaries)
        XCTAssertEqual(try run(["verify", "-a", v3]).status, 0)
        let fresh = root + "/../fresh.cstpack"
        XCTAssertEqual(try run(["build", root, "-q", "--no-ignore", "-o", fresh]).status, 0)
        let f = try Archive(path: fresh)
        XCTAssertEqual(f.fileCount, updated.fileCount)
        for i in 0..<f.fileCount {
            XCTAssertEqual(try f.path(ofFile: i), try updated.path(ofFile: i))
            XCTAssertEqual(try f.summaryBytes(ofFile: i), try updated.summaryBytes(ofFile: i), "file \(i)")
        }
    }

    func testKillDuringUpdateLeavesThePreviousArchive() throws {
        let (root, archive) = try liveTree()
        for k in 0..<40 {
            var text = ""
            for f in 0..<200 { text += "def g\(k)_\(f)(a):\n    return [a, \(f), \"\(k)\"]\n" }
            try writeBytes(Array(text.utf8), to: root + "/python/big\(k).py")
        }
        let pristine = try readBytes(archive)
        let exe = try exe()
        for delay in [5_000, 20_000, 60_000, 150_000] as [useconds_t] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: exe)
            p.arguments = ["update", "-a", archive, "-q"]
            p.standardInput = FileHandle.nullDevice
            try p.run()
            usleep(delay)
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            let now = try readBytes(archive)
            let v = try run(["verify", "-a", archive])
            XCTAssertEqual(v.status, 0, "after kill -9 at \(delay) µs: \(v.description)")
            if now != pristine {
                // The update finished before the kill: then it is the whole new archive.
                XCTAssertTrue(v.stdout.contains("\(try Archive(path: archive).fileCount) files"))
                XCTAssertGreaterThan(try Archive(path: archive).fileCount, try Archive(copying: pristine.withUnsafeBytes { $0 }).fileCount)
            }
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: (archive as NSString).deletingLastPathComponent).filter { $0.contains(".tmp-") }
        _ = try run(["update", "-a", archive, "-q"])
        XCTAssertTrue(try FileManager.default.contentsOfDirectory(atPath: (archive as NSString).deletingLastPathComponent).filter { $0.contains(".tmp-") }.isEmpty,
                      "temporaries of killed updates are removed by the next one (\(leftovers))")
    }

    func testUpdateThatCannotWriteLeavesThePreviousArchive() throws {
        if ProcessInfo.processInfo.environment["CSTPACK_TEST_SANITIZER"] == "thread" {
            throw XCTSkip("the ThreadSanitizer runtime cannot start under ulimit -f 16")
        }
        let (root, archive) = try liveTree()
        try writeBytes(try readBytes(root + "/python/app.py") + Array("\ndef later():\n    pass\n".utf8), to: root + "/python/app.py")
        let pristine = try readBytes(archive)
        XCTAssertGreaterThan(pristine.count, 16 << 10, "the archive must not fit under the limit")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        // Disk full, as the kernel reports a file size limit: the write fails with EFBIG.
        p.arguments = ["-c", "ulimit -f 16; exec \"$0\" update -q -a \"$1\" 2>\"$1.err\"", try exe(), archive]
        p.standardInput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .exit)
        XCTAssertEqual(p.terminationStatus, 2)
        let err = String(decoding: try readBytes(archive + ".err"), as: UTF8.self)
        XCTAssertEqual(err.split(separator: "\n").count, 1, err)
        XCTAssertTrue(err.hasPrefix("cstpack: error: \(archive): cannot write the archive: File too large"), err)
        XCTAssertEqual(try readBytes(archive), pristine, "the previous archive is intact")
        let dir = (archive as NSString).deletingLastPathComponent
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains(".tmp-") }, [])
        // And the next update, with room, succeeds.
        let u = try run(["update", "-a", archive])
        XCTAssertEqual(u.status, 0, u.description)
        XCTAssertTrue(u.stdout.contains("1 changed"), u.description)
    }
}

/// `stats` says which figures it measured and which it shared out (issue 13).
final class StatsBasisTests: XCTestCase {
    func testPerLanguageFiguresAreLabelledEstimatedUnlessMeasured() throws {
        let grammars = try TestGrammars.require()
        let out = try makeTempDir("cstpack-stats") + "/a.cstpack"
        try buildArchive(root: TestPaths.fixturesPath, output: out, grammars: grammars) { $0.noIgnore = true }
        let a = try Archive(path: out)
        let plain = try StatsReport.compute(a)
        XCTAssertEqual(plain.total.cst_bytes_basis, "measured")
        XCTAssertFalse(plain.languages.isEmpty)
        XCTAssertTrue(plain.languages.values.allSatisfy { $0.cst_bytes_basis == "estimated" })
        XCTAssertTrue(plain.text().contains("cst (est.)"))
        let measured = try StatsReport.compute(a, measure: true)
        XCTAssertTrue(measured.languages.values.allSatisfy { $0.cst_bytes_basis == "measured" })
        XCTAssertTrue(measured.text().contains("cst (measured)"))
        // Each language compressed alone: together at least the CST segments' share of
        // compression context is lost, never less than zero bytes, and the sum is of the
        // order of the CST segments (no metadata in it).
        let sum = measured.languages.values.reduce(0) { $0 + $1.cst_bytes }
        XCTAssertGreaterThan(sum, 0)
        XCTAssertLessThan(sum, measured.total.cst_bytes * 3)
        // The fixtures hold two identical files: their saving is measured, not shared out.
        let m = try XCTUnwrap(measured.phase2.measured)
        XCTAssertGreaterThan(m.identical_files_saved, 0)
        XCTAssertEqual(m.identical_files_saved + m.tag_models_saved + m.cst_segments_with_phase2 + (Int(a.sections[.bases]!.length) - 8),
                       m.cst_segments_without_phase2)
    }
}

/// Nothing public reads outside the archive's memory or hands out memory that dies with it
/// (issue 13): segment and base bytes are copies, their indices checked.
final class PublicMemoryTests: XCTestCase {
    func testSegmentAndBaseBytesAreCheckedCopies() throws {
        let grammars = try TestGrammars.require()
        let out = try makeTempDir("cstpack-memory") + "/a.cstpack"
        try buildArchive(root: TestPaths.fixturesPath, output: out, grammars: grammars) { $0.noIgnore = true; $0.keepEveryModel = true }
        var copy: [UInt8] = []
        var base: [UInt8] = []
        do {
            let a = try Archive(path: out)
            XCTAssertGreaterThan(a.segmentCount, 0)
            XCTAssertGreaterThan(a.bases.count, 0)
            for bad in [-1, a.segmentCount, Int.max] { XCTAssertThrowsError(try a.storedSegment(bad), "segment \(bad)") }
            for bad in [-1, a.bases.count, Int.max] { XCTAssertThrowsError(try a.base(bad), "base \(bad)") }
            copy = try a.storedSegment(0)
            base = try a.base(0)
        }
        // The archive is unmapped here; the copies stay valid and equal the file's bytes.
        let file = try readBytes(out)
        let a = try Archive(path: out)
        let s = try a.segment(0)
        XCTAssertEqual(copy, Array(file[Int(s.offset)..<Int(s.offset) + Int(s.storedLength)]))
        XCTAssertEqual(Hash.xxh3(base), a.bases[0].checksum)
    }
}

/// Faults around the live index: another machine's archive, files that change while they
/// are read.
final class LiveFaultTests: XCTestCase {
    func testAnArchiveFromAnotherMachineAnswersAsBuilt() throws {
        let grammars = try TestGrammars.require()
        let dir = try makeTempDir("cstpack-machine")
        let root = dir + "/tree"
        try FileManager.default.copyItem(atPath: TestPaths.fixturesPath, toPath: root)
        let archive = dir + "/a.cstpack"
        try writeBytes(Array("machine-one\n".utf8), to: dir + "/id-one")
        try writeBytes(Array("machine-two\n".utf8), to: dir + "/id-two")
        let saved = TreeState.machineIDPath
        defer { TreeState.machineIDPath = saved }
        TreeState.machineIDPath = dir + "/id-one"
        try buildArchive(root: root, output: archive, grammars: grammars) { $0.noIgnore = true }
        XCTAssertEqual(try Archive(path: archive).treeState?.machine, Array("machine-one".utf8))
        try writeBytes(Array("def changed():\n    pass\n".utf8), to: root + "/python/app.py")
        // The same path on another machine is another tree: nothing is read from it.
        TreeState.machineIDPath = dir + "/id-two"
        let other = try LiveView.open(try Archive(path: archive), grammars: grammars, parseHelper: nil, jobs: 1)
        XCTAssertNil(other.summary)
        XCTAssertTrue(other.notes.first?.contains("built on another machine") == true, "\(other.notes)")
        XCTAssertEqual(other.archive.path, archive, "answers from the archive itself")
        // On the machine that built it, the change is seen.
        TreeState.machineIDPath = dir + "/id-one"
        let here = try LiveView.open(try Archive(path: archive), grammars: grammars, parseHelper: nil, jobs: 1)
        XCTAssertEqual(here.summary?.changed, 1, "\(here.notes)")
    }

    /// A file rewritten again and again while updates run: each update succeeds and leaves a
    /// valid archive; once the writes stop, one more update equals a fresh build.
    func testFilesChangingDuringUpdates() throws {
        let grammars = try TestGrammars.require()
        let dir = try makeTempDir("cstpack-churn")
        let root = dir + "/tree"
        try FileManager.default.copyItem(atPath: TestPaths.fixturesPath, toPath: root)
        let archive = dir + "/a.cstpack", fresh = dir + "/fresh.cstpack"
        try buildArchive(root: root, output: archive, grammars: grammars) { $0.noIgnore = true }
        let churn = root + "/python/churn.py"
        // Read by the writer thread and set by this one: under a lock (ThreadSanitizer).
        final class Stop: @unchecked Sendable {
            private let lock = Mutex()
            private var value = false
            var now: Bool {
                get { lock.locked { value } }
                set { lock.locked { value = newValue } }
            }
        }
        let stop = Stop()
        let writer = Thread {
            var k = 0
            while !stop.now {
                k += 1
                let text = (0..<(k % 50 + 1)).map { "def f\($0)_\(k)():\n    return \($0)\n" }.joined()
                // Rewritten in place (same inode), as editors that do not rename do.
                if let h = FileHandle(forWritingAtPath: churn) ?? {
                    FileManager.default.createFile(atPath: churn, contents: nil); return FileHandle(forWritingAtPath: churn) }() {
                    try? h.truncate(atOffset: 0)
                    h.write(Data(text.utf8))
                    try? h.close()
                }
            }
        }
        writer.start()
        for _ in 0..<8 {
            var o = Updater.Options(output: archive)
            o.jobs = 1
            _ = try Updater.update(try Archive(path: archive), options: o, grammars: grammars) { _ in }
            let r = Verifier.run(try Archive(path: archive), options: VerifyOptions(), grammars: nil)
            XCTAssertTrue(r.ok, r.problems.prefix(3).joined(separator: "; "))
        }
        stop.now = true
        while writer.isExecuting { usleep(1000) }
        var o = Updater.Options(output: archive)
        o.jobs = 1
        _ = try Updater.update(try Archive(path: archive), options: o, grammars: grammars) { _ in }
        try buildArchive(root: root, output: fresh, grammars: grammars) { $0.noIgnore = true }
        let a = try Archive(path: archive), f = try Archive(path: fresh)
        XCTAssertEqual(a.fileCount, f.fileCount)
        let i = try XCTUnwrap(try a.fileIndex(path: Array("python/churn.py".utf8)))
        let j = try XCTUnwrap(try f.fileIndex(path: Array("python/churn.py".utf8)))
        XCTAssertEqual(try a.file(i).contentHash, try f.file(j).contentHash, "the last content, not a stale one")
        var v = VerifyOptions()
        v.sourceDirectory = root
        XCTAssertTrue(Verifier.run(a, options: v, grammars: grammars).ok)
    }
}

/// realpath(3) of `path`, its buffer freed (LeakSanitizer saw it kept).
func resolvedPath(_ path: String) -> String? {
    guard let p = realpath(path, nil) else { return nil }
    defer { free(p) }
    return String(cString: p)
}
