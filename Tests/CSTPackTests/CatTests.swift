import Foundation
import XCTest
@testable import CSTPack

/// Files read back exactly (issue 16): `cat`, `extract`, and `query --text`.
extension CLITests {
    /// What a successful run wrote to stdout, as bytes (`run` reads it as text).
    func stdoutBytes(_ args: [String]) throws -> [UInt8] {
        let dir = try makeTempDir("cstpack-stdout")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try exe())
        p.arguments = args
        p.standardInput = FileHandle.nullDevice
        FileManager.default.createFile(atPath: dir + "/out", contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/out"))
        p.standardOutput = out
        try p.run()
        p.waitUntilExit()
        try out.close()
        XCTAssertEqual(p.terminationStatus, 0, "\(args)")
        return try readBytes(dir + "/out")
    }

    func testCatAndExtractGiveTheFilesBackByteForByte() throws {
        let (root, archive) = try liveTree()
        let files = try listFiles(root)
        let stored = try run(["ls", "-a", archive, "--null"]).stdout.split(separator: "\0").map(String.init)
        XCTAssertTrue(stored.contains("python/latin1.py"), "a file that is not UTF-8 is among them")
        // `cat` of every file, in path order, is their concatenation (compared as bytes,
        // through a file: the helper reads stdout as text).
        let dir = try makeTempDir("cstpack-extract")
        XCTAssertEqual(try stdoutBytes(["cat", "-a", archive, "**"]), try stored.flatMap { try readBytes(root + "/" + $0) })
        let x = try run(["extract", "-a", archive, "--to", dir + "/out"])
        XCTAssertEqual(x.status, 0, x.description)
        for path in stored { XCTAssertEqual(try readBytes(dir + "/out/" + path), try readBytes(root + "/" + path), path) }
        XCTAssertEqual(Set(try listFiles(dir + "/out")), Set(stored))
        XCTAssertTrue(Set(files).isSuperset(of: stored))
        // Nothing is overwritten without --force, and nothing at all is written then.
        try writeBytes(Array("mine".utf8), to: dir + "/out/python/app.py")
        let again = try run(["extract", "-a", archive, "--to", dir + "/out", "python/*"])
        XCTAssertEqual(again.status, 2, again.description)
        XCTAssertTrue(again.stderr.hasPrefix("cstpack: error: ") && again.stderr.contains("exists (use --force"), again.description)
        XCTAssertEqual(try readBytes(dir + "/out/python/app.py"), Array("mine".utf8))
        let forced = try run(["extract", "-a", archive, "--to", dir + "/out", "--force", "python/*"])
        XCTAssertEqual(forced.status, 0, forced.description)
        XCTAssertEqual(try readBytes(dir + "/out/python/app.py"), try readBytes(root + "/python/app.py"))
        let none = try run(["cat", "-a", archive, "nothing/*.zz"])
        XCTAssertEqual(none.status, 2, none.description)
    }

    func testTextIsTheNodesBytesWhateverTheirEncoding() throws {
        let (root, archive) = try liveTree()
        let source = try readBytes(root + "/python/latin1.py")
        XCTAssertNil(String(validatingUTF8: source.map { CChar(bitPattern: $0) } + [0]), "the fixture is not UTF-8")
        let dir = try makeTempDir("cstpack-text")
        let out = try stdoutBytes(["query", "-a", archive, "python/latin1.py", "0", "--text"])
        let tree = try ArchiveReader(try Archive(path: archive)).tree(ofFile: try XCTUnwrap(try Archive(path: archive).fileIndex(path: Array("python/latin1.py".utf8))))
        XCTAssertEqual(out, Array(source[Int(tree.starts[0])..<Int(tree.ends[0])]) + [0x0A], "the root's bytes exactly, then a newline")
        // Without stored source --text is an error, once, not a line of output.
        let bare = dir + "/bare.cstpack"
        XCTAssertEqual(try run(["build", root, "-o", bare, "-q", "--no-ignore", "--no-source"]).status, 0)
        let t = try run(["query", "-a", bare, "--all", "function_definition", "--text", "--as-built"])
        XCTAssertEqual(t.status, 2, t.description)
        XCTAssertEqual(t.stdout, "")
        XCTAssertEqual(t.stderr.split(separator: "\n").count, 1, t.description)
        XCTAssertTrue(t.stderr.contains("--no-source"), t.description)
    }
}

extension CLITests {
    /// Paths as git users type them (issue 16): the archive is found in a parent directory,
    /// FILE is relative to the current directory inside the tree, a directory selects the
    /// files under it, `:!GLOB` and --exclude leave files out.
    func testPathsAsGitUsersTypeThem() throws {
        let (root, archive) = try liveTree()
        try FileManager.default.moveItem(atPath: archive, toPath: root + "/index.cstpack")
        let sub = root + "/python"
        let listed = try run(["ls", "--as-built"], cwd: sub)
        XCTAssertEqual(listed.status, 0, listed.description)
        XCTAssertTrue(listed.stdout.contains("js/app.js"), "found ../index.cstpack: \(listed.description)")
        let here = try run(["ls", ".", ":!crlf.py", "--as-built"], cwd: sub)
        let paths = here.stdout.split(separator: "\n").map { String($0.split(separator: "\t")[0]) }
        XCTAssertTrue(!paths.isEmpty && paths.allSatisfy { $0.hasPrefix("python/") }, here.description)
        XCTAssertFalse(paths.contains("python/crlf.py"))
        let up = try run(["ls", "..", "--exclude", "python/**", "--as-built"], cwd: sub)
        XCTAssertFalse(up.stdout.contains("python/"), up.description)
        XCTAssertTrue(up.stdout.contains("js/app.js"), up.description)
        let q = try run(["query", "app.py", "0", "--as-built"], cwd: sub)
        XCTAssertEqual(q.status, 0, q.description)
        XCTAssertTrue(q.stdout.hasPrefix("python/app.py:1:1"), q.description)
        let nowhere = try makeTempDir("cstpack-nowhere")
        let none = try run(["ls"], cwd: nowhere)
        XCTAssertEqual(none.status, 2)
        XCTAssertTrue(none.stderr.contains("no index.cstpack in ") && none.stderr.contains(", /"), none.description)
        var env = ProcessInfo.processInfo.environment
        env["CSTPACK_ARCHIVE"] = nowhere + "/missing.cstpack"
        let named = try run(["ls"], cwd: nowhere, environment: env)
        XCTAssertEqual(named.status, 2)
        XCTAssertTrue(named.stderr.contains("$CSTPACK_ARCHIVE"), named.description)
    }
}

extension CLITests {
    /// grep's exit statuses (issue 16): usage errors are errors like any other, exit 2, one
    /// line; `help` of an unknown command is one too.
    func testUsageErrorsExitTwoOnOneLine() throws {
        let archive = try buildFixtures()
        for args in [["build", "--codec", "brotli", TestPaths.fixturesPath], ["bogus"], ["query", "-a", archive],
                     ["help", "bogus"], ["ls", "-a", archive, "--no-such-option"], ["query", "-a", archive, "--all", "x", "--tree", "--json"]] {
            let r = try run(args)
            XCTAssertEqual(r.status, 2, "\(args): \(r.description)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "\(args): \(r.description)")
            XCTAssertTrue(r.stderr.hasPrefix("cstpack: error: "), "\(args): \(r.description)")
        }
        XCTAssertEqual(try run(["help", "query"]).status, 0)
        XCTAssertEqual(try run(["--version"]).status, 0)
        XCTAssertEqual(try run(["query", "-a", archive, "--all", "no_such_kind_anywhere"]).status, 2)
        XCTAssertEqual(try run(["query", "-a", archive, "--all", "ERROR", "--count", "--as-built"]).status, 0, "the broken fixtures have ERROR nodes")
    }
}

extension CLITests {
    /// A bad regular expression is one error before any file is read; a corrupt segment
    /// still lets the other files' results print, and the command exits 2 (issue 16).
    func testQueryErrorsAreReportedOnceAndExitTwo() throws {
        let archive = try buildFixtures()
        let bad = try run(["query", "-a", archive, "--all", "((identifier) @x (#match? @x \"[unclosed\"))", "--as-built"])
        XCTAssertEqual(bad.status, 2, bad.description)
        XCTAssertEqual(bad.stderr.split(separator: "\n").count, 1, bad.description)
        XCTAssertTrue(bad.stderr.contains("invalid regular expression"), bad.description)
        // Damage the first CST segment: some files fail, the rest still print.
        let a = try Archive(path: archive)
        let first = try (0..<a.segmentCount).first { try a.segment($0).stream == .cst }!
        var bytes = try readBytes(archive)
        bytes[Int(try a.segment(first).offset) + 3] ^= 0xFF
        let damaged = archive + ".damaged"
        try writeBytes(bytes, to: damaged)
        let q = try run(["query", "-a", damaged, "--all", "identifier", "--as-built"])
        XCTAssertEqual(q.status, 2, q.description)
        XCTAssertTrue(q.stderr.contains("checksum mismatch"), q.description)
        XCTAssertTrue(q.stderr.contains("could not be read"), q.description)
    }
}

extension CLITests {
    /// `build` must not destroy work (issue 16): an empty result, an output that is a
    /// directory, an unknown grammar are refused before anything is replaced; negative zstd
    /// levels are values, not options; verify --deep without stored source says why.
    func testBuildRefusesWhatWouldDestroyWork() throws {
        let archive = try buildFixtures()
        let pristine = try readBytes(archive)
        let empty = try makeTempDir("cstpack-empty-tree")
        try writeBytes(Array("just text\n".utf8), to: empty + "/notes.unknownext")
        let e = try run(["build", empty, "-o", archive, "-q"])
        XCTAssertEqual(e.status, 2, e.description)
        XCTAssertTrue(e.stderr.contains("no files to pack") && e.stderr.contains("--allow-empty"), e.description)
        XCTAssertEqual(try readBytes(archive), pristine, "the previous archive is kept")
        XCTAssertEqual(try run(["build", empty, "-o", archive, "-q", "--allow-empty"]).status, 0)
        XCTAssertEqual(try Archive(path: archive).fileCount, 0)
        let d = try run(["build", TestPaths.fixturesPath, "-o", empty, "-q"])
        XCTAssertEqual(d.status, 2, d.description)
        XCTAssertTrue(d.stderr.contains("is a directory"), d.description)
        let k = try run(["build", TestPaths.fixturesPath, "-o", archive, "--lang", "py=klingon"])
        XCTAssertEqual(k.status, 2, k.description)
        XCTAssertTrue(k.stderr.contains("no grammar 'klingon'") && k.stderr.contains("python"), k.description)
        let neg = try run(["build", TestPaths.fixturesPath, "-o", archive, "-q", "--level", "-5", "--no-ignore"])
        XCTAssertEqual(neg.status, 0, neg.description)
        XCTAssertEqual(try Archive(path: archive).buildInfo.level, -5)
        let bare = try run(["build", TestPaths.fixturesPath, "-o", archive, "-q", "--no-source", "--no-ignore"])
        XCTAssertEqual(bare.status, 0, bare.description)
        let v = try run(["verify", "-a", archive, "--deep"])
        XCTAssertEqual(v.status, 2, v.description)
        XCTAssertTrue(v.stderr.contains("--source DIR"), v.description)
        XCTAssertEqual(try run(["verify", "-a", archive, "--source", TestPaths.fixturesPath]).status, 0)
    }
}

extension CLITests {
    /// Results an editor can open (issue 16): --vimgrep, FILE:LINE:COL locators, ranges,
    /// grep's context lines, --heading, colour only when asked or on a terminal.
    func testResultsAnEditorCanOpen() throws {
        let (root, archive) = try liveTree()
        let source = String(decoding: try readBytes(root + "/python/app.py"), as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        let v = try run(["query", "-a", archive, "python/app.py", "function_definition", "--vimgrep"])
        XCTAssertEqual(v.status, 0, v.description)
        let lines = v.stdout.split(separator: "\n")
        XCTAssertFalse(lines.isEmpty)
        for l in lines {
            let parts = l.split(separator: ":", maxSplits: 3, omittingEmptySubsequences: false)
            XCTAssertEqual(parts.count, 4, String(l))
            XCTAssertEqual(parts[0], "python/app.py")
            let line = try XCTUnwrap(Int(parts[1])), column = try XCTUnwrap(Int(parts[2]))
            XCTAssertGreaterThanOrEqual(column, 1, "columns start at 1 (vim reads column 0 as none)")
            XCTAssertEqual(String(parts[3]), String(source[line - 1]), "the match's whole first line")
            // The location it printed, given back as one argument, finds the same node.
            let back = try run(["query", "-a", archive, "python/app.py:\(line):\(column)"])
            XCTAssertEqual(back.status, 0, back.description)
            XCTAssertTrue(back.stdout.hasPrefix("python/app.py:\(line):\(column)-"), back.description)
        }
        let span = try run(["query", "-a", archive, "python/app.py", "10:1-12:5"])
        XCTAssertTrue(span.stdout.contains("function_definition"), span.description)
        for bad in ["42:", "@-5", "3:x", "12:1-3:1"] {
            let r = try run(["query", "-a", archive, "python/app.py", bad])
            XCTAssertEqual(r.status, 2, "\(bad): \(r.description)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.description)
        }
        let c = try run(["query", "-a", archive, "python/app.py", "function_definition", "-C", "1"])
        XCTAssertTrue(c.stdout.contains("python/app.py:10:def logged(func):"), c.description)
        XCTAssertTrue(c.stdout.contains("python/app.py-11-"), c.description)
        XCTAssertTrue(c.stdout.contains("--\n"), c.description)
        let h = try run(["query", "-a", archive, "--all", "function_definition", "--heading"])
        XCTAssertTrue(h.stdout.hasPrefix("bash/deploy.sh\n"), h.description)
        XCTAssertFalse(h.stdout.contains("bash/deploy.sh:"), h.description)
        XCTAssertTrue(try run(["query", "-a", archive, "--all", "identifier", "--color", "always"]).stdout.contains("\u{1B}["))
        XCTAssertFalse(try run(["query", "-a", archive, "--all", "identifier"]).stdout.contains("\u{1B}["), "not a terminal: no colour")
        let t = try run(["query", "-a", archive, "python/*.py", "function_definition", "--tree", "--depth", "0"])
        XCTAssertTrue(t.stdout.contains("; python/app.py\n"), "--tree names the file: \(t.description)")
    }
}

extension CLITests {
    /// Completions come from the binary for every shell, and scripts/setup installed the man
    /// page (tests run after it).
    func testCompletionsAndManPage() throws {
        for shell in ["bash", "zsh", "fish"] {
            let r = try run(["--generate-completion-script", shell])
            XCTAssertEqual(r.status, 0, r.description)
            XCTAssertTrue(r.stdout.contains("update") && r.stdout.contains("extract"), "\(shell): every command is completed")
        }
        let home = ProcessInfo.processInfo.environment["XDG_DATA_HOME"] ?? (NSHomeDirectory() + "/.local/share")
        let man = String(decoding: try readBytes(home + "/man/man1/cstpack.1"), as: UTF8.self)
        XCTAssertTrue(man.contains(".Dt CSTPACK 1") && man.contains("update"), "the installed man page is cstpack's")
    }
}

final class ExtractorTests: XCTestCase {
    func testStoredPathsThatLeaveTheDirectoryAreRefused() {
        for bad in ["../x.py", "a/../../x.py", "/etc/passwd", "a//b.py", "./a.py", "a/./b.py", "", "a/.."] {
            XCTAssertThrowsError(try Extractor.safeRelative(Array(bad.utf8)), bad)
        }
        for good in ["a.py", "a/b/c.py", "..a.py", "a/.hidden.py", "a/b..py"] {
            XCTAssertNoThrow(try Extractor.safeRelative(Array(good.utf8)), good)
        }
    }
}
