import Foundation
import XCTest
@testable import CSTPack

/// End to end through the built `cstpack` executable.
final class CLITests: XCTestCase {

    struct Run {
        var status: Int32
        var reason: Process.TerminationReason
        var stdout: String
        var stderr: String
        var exitedNormally: Bool { reason == .exit }
        var description: String { "status \(status) (\(reason == .exit ? "exit" : "signal")), stdout: \(stdout.prefix(2000)), stderr: \(stderr.prefix(2000))" }
    }

    /// The `cstpack` executable built beside this test bundle.
    static let executable: String? = {
        var dirs: [URL] = []
        if let env = ProcessInfo.processInfo.environment["CSTPACK_TEST_EXECUTABLE"] { return env }
        let arg0 = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        dirs.append(arg0.deletingLastPathComponent())
        for b in Bundle.allBundles where b.bundlePath.hasSuffix(".xctest") {
            dirs.append(b.bundleURL.deletingLastPathComponent())
        }
        dirs.append(Bundle.main.bundleURL)
        dirs.append(Bundle.main.bundleURL.deletingLastPathComponent())
        // The .xctest may be a directory (bundle) whose executable lives deeper inside.
        var walk = arg0.deletingLastPathComponent()
        for _ in 0..<4 {
            if walk.lastPathComponent.hasSuffix(".xctest") { dirs.append(walk.deletingLastPathComponent()) }
            walk = walk.deletingLastPathComponent()
        }
        for scratch in [".build-tests", ".build"] {
            dirs.append(TestPaths.repoRoot.appendingPathComponent("\(scratch)/debug"))
        }
        for d in dirs {
            let candidate = d.appendingPathComponent("cstpack").path
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDir), !isDir.boolValue,
               FileManager.default.isExecutableFile(atPath: candidate) {
                return candidate
            }
        }
        return nil
    }()

    func exe() throws -> String {
        guard let e = Self.executable else {
            let msg = "cannot find the cstpack executable beside the test bundle (\(CommandLine.arguments[0])); build it with `swift build` or set CSTPACK_TEST_EXECUTABLE"
            XCTFail(msg)
            throw TestSetupError(msg)
        }
        return e
    }

    /// Runs cstpack (or `program`, built beside it) with no stdin, capturing stdout and
    /// stderr through files.
    func run(_ args: [String], cwd: String? = nil, environment: [String: String]? = nil, program: String = "cstpack") throws -> Run {
        var exe = try exe()
        if program != "cstpack" { exe = URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent(program).path }
        let dir = try makeTempDir("cstpack-cli-io")
        let outPath = dir + "/stdout", errPath = dir + "/stderr"
        XCTAssertTrue(FileManager.default.createFile(atPath: outPath, contents: nil))
        XCTAssertTrue(FileManager.default.createFile(atPath: errPath, contents: nil))
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = out
        p.standardError = err
        if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "CSTPACK_ARCHIVE")
        if let environment { env = environment }
        p.environment = env
        try p.run()
        p.waitUntilExit()
        try out.close(); try err.close()
        return Run(status: p.terminationStatus, reason: p.terminationReason,
                   stdout: String(decoding: try readBytes(outPath), as: UTF8.self),
                   stderr: String(decoding: try readBytes(errPath), as: UTF8.self))
    }

    @discardableResult
    func buildFixtures(extra: [String] = []) throws -> String {
        _ = try TestGrammars.require()
        let out = try makeTempDir("cstpack-cli") + "/cli.cstpack"
        let r = try run(["build", TestPaths.fixturesPath, "-o", out, "-q"] + extra)
        XCTAssertEqual(r.status, 0, "build: \(r.description)")
        XCTAssertTrue(r.exitedNormally)
        XCTAssertEqual(r.stdout, "", "-q prints no summary")
        XCTAssertTrue(FileManager.default.fileExists(atPath: out))
        return out
    }

    /// `--query-file` (`-f`): the query read from a file, with FILE, a glob or --all as
    /// its target; one error line and exit 2 when the file cannot be read or tree-sitter
    /// rejects the query (issue 14).
    func testQueryFile() throws {
        let archive = try buildFixtures()
        let dir = try makeTempDir("cstpack-cli-qf")
        let query = dir + "/defs.scm"
        try "; a comment first, as in shipped files\n(function_definition name: (identifier) @name)\n".write(toFile: query, atomically: true, encoding: .utf8)
        let inline = try run(["query", "-a", archive, "--as-built", "**/*.py", "(function_definition name: (identifier) @name)", "--json"])
        XCTAssertEqual(inline.status, 0, inline.description)
        let fromFile = try run(["query", "-a", archive, "--as-built", "**/*.py", "-f", query, "--json"])
        XCTAssertEqual(fromFile.stdout, inline.stdout, fromFile.description)
        XCTAssertTrue(fromFile.stdout.contains("\"pattern\":0"), fromFile.stdout)
        let all = try run(["query", "-a", archive, "--as-built", "--all", "--query-file", query, "--count"])
        XCTAssertEqual(all.status, 0, all.description)
        XCTAssertEqual(Int(all.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0, inline.stdout.split(separator: "\n").count)
        // A kind name in a query file is still a query (and so an error).
        try "identifier\n".write(toFile: dir + "/kind.scm", atomically: true, encoding: .utf8)
        try "(function_definition (import_statement))".write(toFile: dir + "/impossible.scm", atomically: true, encoding: .utf8)
        for (args, needle) in [(["--all", "-f", dir + "/missing.scm"], "cannot read query file"),
                               (["--all", "-f", dir], "cannot read query file"),
                               (["--all", "-f", dir + "/kind.scm"], "query error at 1:1"),
                               (["**/*.py", "-f", dir + "/impossible.scm"], "impossible pattern"),
                               (["-f", query], "give FILE")] {
            let r = try run(["query", "-a", archive, "--as-built"] + args)
            XCTAssertEqual(r.status, 2, r.description)
            let lines = r.stderr.split(separator: "\n")
            XCTAssertEqual(lines.count, 1, r.description)
            XCTAssertTrue(r.stderr.contains(needle), "\(args): \(r.description)")
        }
    }

    // MARK: Happy paths

    func testBuildVerifyStats() throws {
        let archive = try buildFixtures()
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: (archive as NSString).deletingLastPathComponent)
        XCTAssertEqual(leftovers, ["cli.cstpack"], "no temporary files left beside the archive")

        let v = try run(["verify", "-a", archive])
        XCTAssertEqual(v.status, 0, v.description)
        XCTAssertTrue(v.stdout.contains(": OK:"), v.description)
        XCTAssertFalse(v.stdout.contains("problem:"))

        let s = try run(["verify", "-a", archive, "--source", TestPaths.fixturesPath])
        XCTAssertEqual(s.status, 0, s.description)
        XCTAssertTrue(s.stdout.contains("identical to tree-sitter's"), s.description)
        XCTAssertFalse(s.stdout.contains("re-parsed 0 files"), s.description)

        let d = try run(["verify", "-a", archive, "--deep"])
        XCTAssertEqual(d.status, 0, d.description)
        XCTAssertTrue(d.stdout.contains("identical to tree-sitter's"), d.description)

        let j = try run(["verify", "-a", archive, "--json"])
        XCTAssertEqual(j.status, 0, j.description)
        let vj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(vj["ok"] as? Bool, true)
        XCTAssertGreaterThan(vj["files"] as? Int ?? 0, 10)

        let both = try run(["verify", "-a", archive, "--deep", "--source", TestPaths.fixturesPath])
        XCTAssertNotEqual(both.status, 0, "--deep with --source is a usage error")
        XCTAssertTrue(both.exitedNormally)

        let st = try run(["stats", "-a", archive, "--json"])
        XCTAssertEqual(st.status, 0, st.description)
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(st.stdout.utf8)) as? [String: Any], st.stdout)
        let total = try XCTUnwrap(obj["total"] as? [String: Any])
        XCTAssertGreaterThan(total["files"] as? Int ?? 0, 10)
        XCTAssertGreaterThan(total["nodes"] as? Int ?? 0, 1000)
        let langs = try XCTUnwrap(obj["languages"] as? [String: Any])
        XCTAssertNotNil(langs["python"])

        let text = try run(["stats", "-a", archive])
        XCTAssertEqual(text.status, 0, text.description)
        XCTAssertTrue(text.stdout.contains("python"), text.description)
    }

    func testLanguagesListsPython() throws {
        _ = try TestGrammars.require()
        let r = try run(["languages"])
        XCTAssertEqual(r.status, 0, r.description)
        XCTAssertTrue(r.stdout.split(separator: "\n").contains { $0.hasPrefix("python ") }, r.description)
        let j = try run(["languages", "--json"])
        XCTAssertEqual(j.status, 0, j.description)
        let names = j.stdout.split(separator: "\n").compactMap { line -> String? in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["language"] as? String
        }
        XCTAssertTrue(names.contains("python"), j.description)
    }

    func testDeterministicAcrossJobCounts() throws {
        let a = try buildFixtures(extra: ["-j", "1"])
        let b = try buildFixtures(extra: ["-j", "2"])
        let x = try readBytes(a), y = try readBytes(b)
        XCTAssertGreaterThan(x.count, 64)
        if x != y {
            XCTFail("cstpack build -j 1 and -j 2 differ: \(describeArchiveDifference(a, b))")
        }
    }

    // MARK: Failures

    /// The shape every failure must have: a normal exit with a non-zero status and a
    /// one-line `cstpack: error:` on stderr or `problem:` lines on stdout.
    private func assertCleanFailure(_ r: Run, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(r.exitedNormally, "\(what): killed by a signal: \(r.description)", file: file, line: line)
        XCTAssertNotEqual(r.status, 0, "\(what): \(r.description)", file: file, line: line)
        let errLines = r.stderr.split(separator: "\n", omittingEmptySubsequences: true)
        let problems = r.stdout.split(separator: "\n").filter { $0.hasPrefix("problem:") }
        if !errLines.isEmpty {
            XCTAssertEqual(errLines.count, 1, "\(what): one line on stderr: \(r.stderr)", file: file, line: line)
            XCTAssertTrue(errLines[0].hasPrefix("cstpack: error: "), "\(what): \(r.stderr)", file: file, line: line)
        } else {
            XCTAssertFalse(problems.isEmpty, "\(what): neither an error nor a problem line: \(r.description)", file: file, line: line)
        }
    }

    func testCorruptedArchiveFailsVerify() throws {
        let archive = try buildFixtures()
        let pristine = try readBytes(archive)
        let dir = try makeTempDir("cstpack-cli-bad")
        let a = try Archive(path: archive)
        let seg = try a.segment(0)
        let strings = try XCTUnwrap(a.sections[.strings])
        // header, a segment's payload, the string table, and the last byte (section table).
        let positions = [12, Int(seg.offset) + Int(seg.storedLength) / 2, Int(strings.offset) + 5, pristine.count - 1]
        for pos in positions {
            var bytes = pristine
            bytes[pos] ^= 0x5A
            let bad = dir + "/bad-\(pos).cstpack"
            try writeBytes(bytes, to: bad)
            let r = try run(["verify", "-a", bad])
            assertCleanFailure(r, "verify of an archive flipped at byte \(pos)")
            if pos == positions[1] {
                XCTAssertEqual(r.status, 1, "a damaged segment is a verify problem: \(r.description)")
                XCTAssertTrue(r.stdout.contains("FAILED"), r.description)
            }
            let s = try run(["stats", "-a", bad])
            XCTAssertTrue(s.exitedNormally, "stats on a damaged archive: \(s.description)")
        }
        // Truncated.
        let cut = dir + "/cut.cstpack"
        try writeBytes(Array(pristine[0..<(pristine.count / 2)]), to: cut)
        let r = try run(["verify", "-a", cut])
        assertCleanFailure(r, "verify of a truncated archive")
        XCTAssertTrue(r.stderr.contains("truncated") || r.stderr.contains("bytes"), r.description)
    }

    /// tree-sitter 0.20.7 aborts (heap corruption) on trees nested ~65,536 deep, and the
    /// fixed-form Fortran scanner makes its lexer read a wild pointer on a 564-byte file.
    /// Files are parsed in the helper process: the build warns, skips them and goes on, in
    /// every mode that parses (a build with phase 2 training, --phases 1,3, --parse-only).
    func testTreeSitterCrashSkipsTheFileNotTheBuild() throws {
        _ = try TestGrammars.require("json")
        _ = try TestGrammars.require("fixed_form_fortran")
        let dir = try makeTempDir("cstpack-cli-crash")
        let root = dir + "/tree"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try writeBytes(Array(repeating: UInt8(ascii: "["), count: 70_000), to: root + "/deep.json")
        // The first 564 bytes of a broken Rust fixture, read as fixed-form Fortran: its scanner
        // asks the lexer for the column, and 0.20.7's lexer steps back before the input's
        // start and reads a wild pointer (SIGSEGV). The whole file parses; this prefix does not.
        let rust = try readBytes(TestPaths.fixturesPath + "/rust/broken.rs")
        try writeBytes(Array(rust.prefix(564)), to: root + "/small.f")
        try writeBytes(Array("{\"ok\": [1, 2, 3]}\n".utf8), to: root + "/fine.json")
        try writeBytes(Array("def f(x):\n    return x\n".utf8), to: root + "/fine.py")
        // More files than a worker's run (16), so that the crashes fall in different runs,
        // one of them in the batch the helper parses while the worker encodes the run before.
        for k in 0..<40 { try writeBytes(Array("v\(k) = [\(k)]\n".utf8), to: root + "/m\(k < 10 ? "0" : "")\(k).py") }
        let out = dir + "/out.cstpack"
        for extra in [[], ["--phases", "1,3"], ["-j", "1"], ["--parse-only"]] {
            let r = try run(["build", root, "-o", out] + extra)
            XCTAssertTrue(r.exitedNormally, "\(extra): \(r.description)")
            XCTAssertEqual(r.status, 0, "\(extra): \(r.description)")
            XCTAssertTrue(r.stderr.contains("deep.json: skipped: tree-sitter crashed while parsing it"), "\(extra): \(r.description)")
            XCTAssertTrue(r.stderr.contains("small.f: skipped: tree-sitter crashed while parsing it"), "\(extra): \(r.description)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 2, "one line each, no crash report: \(r.stderr)")
            XCTAssertTrue(r.stdout.contains("parse failed 2"), "\(extra): \(r.stdout)")
            guard !extra.contains("--parse-only") else { continue }
            let v = try run(["verify", "-a", out])
            XCTAssertEqual(v.status, 0, v.description)
            let ls = try run(["ls", "-a", out])
            XCTAssertEqual(ls.stdout.split(separator: "\n").map { String($0.prefix { $0 != "\t" }) },
                           ["fine.json", "fine.py"] + (0..<40).map { "m\($0 < 10 ? "0" : "")\($0).py" }, ls.description)
        }
        // With the helper off (every file in process) the same files would end the build:
        // that is what the helper is for. (Not run: it kills the process.)
    }

    /// Every numeric argument is range-checked before use: a hostile number (past Int, at
    /// Int.max, negative, zero where 1 is the least) is one `cstpack: error:` line naming
    /// the valid range and exit status 2, never a trap on overflow nor a usage screen.
    func testHostileNumbersAreOneLineErrors() throws {
        let archive = try buildFixtures()
        let dir = try makeTempDir("cstpack-cli-numbers")
        let tree = dir + "/tree"
        try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true)
        try writeBytes(Array("def f(x):\n    return x\n".utf8), to: tree + "/a.py")
        let out = dir + "/out.cstpack"
        let huge = "99999999999999999999", max = "9223372036854775807", min = "-9223372036854775808"
        let file = "python/app.py"
        let cases: [([String], String)] = [
            // query: NODE as line:column, @byte, node id; --depth, -j.
            (["query", "-a", archive, file, "2:\(max)"], "column"),
            (["query", "-a", archive, file, "2:\(huge)"], "column"),
            (["query", "-a", archive, file, "\(max):1"], "line"),
            (["query", "-a", archive, file, "\(huge):\(huge)"], "line"),
            (["query", "-a", archive, file, "0:1"], "line"),
            (["query", "-a", archive, file, "1:0"], "column"),
            (["query", "-a", archive, file, "@\(huge)"], "byte"),
            (["query", "-a", archive, file, "@\(max)"], "byte"),
            (["query", "-a", archive, file, huge], "node id"),
            (["query", "-a", archive, file, max], "node id"),
            (["query", "-a", archive, "--all", "2:\(max)"], "column"),
            (["query", "-a", archive, file, "1", "--tree", "--depth", huge], "--depth"),
            (["query", "-a", archive, file, "1", "--tree", "--depth=-1"], "--depth"),
            (["query", "-a", archive, file, "1", "-j", "0"], "-j"),
            (["query", "-a", archive, file, "1", "-j", huge], "-j"),
            // build
            (["build", tree, "-o", out, "--parse-timeout", max], "--parse-timeout"),
            (["build", tree, "-o", out, "--parse-timeout", huge], "--parse-timeout"),
            (["build", tree, "-o", out, "--parse-timeout=-1"], "--parse-timeout"),
            (["build", tree, "-o", out, "-j", "0"], "-j"),
            (["build", tree, "-o", out, "-j", max], "-j"),
            (["build", tree, "-o", out, "--level", "23"], "--level"),
            (["build", tree, "-o", out, "--level=\(min)"], "--level"),
            (["build", tree, "-o", out, "--codec", "lz4", "--level", "13"], "--level"),
            (["build", tree, "-o", out, "--codec", "none", "--level", max], "--level"),
            (["build", tree, "-o", out, "--source-level", huge], "--source-level"),
            (["build", tree, "-o", out, "--segment-size", max], "--segment-size"),
            (["build", tree, "-o", out, "--segment-size", "4095"], "--segment-size"),
            (["build", tree, "-o", out, "--max-file-size", "0"], "--max-file-size"),
            (["build", tree, "-o", out, "--max-file-size", huge], "--max-file-size"),
            (["build", tree, "-o", out, "--isolate-above=-1"], "--isolate-above"),
            (["build", tree, "-o", out, "--isolate-above", huge], "--isolate-above"),
            (["build", tree, "-o", out, "--checkpoint-bytes", max], "--checkpoint-bytes"),
            // diff
            (["diff", archive, archive, "--max-nodes", "0"], "--max-nodes"),
            (["diff", archive, archive, "--max-nodes", huge], "--max-nodes"),
            (["diff", archive, archive, "--max-time", max], "--max-time"),
            (["diff", archive, archive, "--max-time=-5"], "--max-time"),
            (["diff", archive, archive, "--rename-threshold", "102"], "--rename-threshold"),
            (["diff", archive, archive, "-j", "0"], "-j"),
            (["diff", archive, tree, "--parse-timeout", max], "--parse-timeout"),
            (["diff", archive, tree, "--max-file-size", huge], "--max-file-size"),
            (["update", "-a", archive, "-j", "0"], "-j"),
            (["update", "-a", archive, "-j", huge], "-j"),
            // the benchmark drivers (cstpack-bench)
            (["decode-all", "-a", archive, "-j", "0"], "-j"),
            (["decode-all", "-a", archive, "-j", huge], "-j"),
            (["bench-lookup", "-a", archive, "--count=-1"], "--count"),
            (["bench-lookup", "-a", archive, "--warm-rounds", huge], "--warm-rounds"),
        ]
        // A trap's backtrace would only slow the failing runs down.
        var env = ProcessInfo.processInfo.environment
        env["SWIFT_BACKTRACE"] = "enable=no"
        for (args, name) in cases {
            let program = ["decode-all", "bench-lookup"].contains(args[0]) ? "cstpack-bench" : "cstpack"
            let what = program + " " + args.joined(separator: " ")
            let r = try run(args, environment: env, program: program)
            XCTAssertTrue(r.exitedNormally, "\(what): killed by a signal: \(r.description)")
            XCTAssertEqual(r.status, 2, "\(what): \(r.description)")
            let lines = r.stderr.split(separator: "\n", omittingEmptySubsequences: true)
            XCTAssertEqual(lines.count, 1, "\(what): one line on stderr: \(r.stderr)")
            let line = String(lines.first ?? "")
            XCTAssertTrue(line.hasPrefix("\(program): error: "), "\(what): \(r.stderr)")
            XCTAssertTrue(line.contains(name) && line.contains(" between "), "\(what): names \(name) and its range: \(r.stderr)")
            XCTAssertEqual(r.stdout, "", "\(what): \(r.description)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "no build ran")
    }

    /// The benchmark drivers are their own program, not commands of the shipped cstpack.
    func testBenchmarkDriversAreNotShippedCommands() throws {
        for name in ["decode-all", "bench-lookup"] {
            let shipped = try run([name])
            XCTAssertEqual(shipped.status, 2, "cstpack \(name): \(shipped.description)")
            XCTAssertTrue(shipped.stderr.hasPrefix("cstpack: error: Unexpected argument '\(name)'"), shipped.description)
            let bench = try run([name, "--help"], program: "cstpack-bench")
            XCTAssertEqual(bench.status, 0, "cstpack-bench \(name): \(bench.description)")
        }
    }

    func testVerifyWithoutArchiveInEmptyDirectory() throws {
        let empty = try makeTempDir("cstpack-cli-empty")
        let r = try run(["verify"], cwd: empty)
        assertCleanFailure(r, "verify with no archive")
        XCTAssertTrue((r.stderr + r.stdout).contains("index.cstpack"), r.description)
        let s = try run(["stats"], cwd: empty)
        assertCleanFailure(s, "stats with no archive")
        XCTAssertTrue((s.stderr + s.stdout).contains("index.cstpack"), s.description)
    }

    func testBuildOfMissingDirectoryFailsCleanly() throws {
        let dir = try makeTempDir("cstpack-cli-missing")
        let out = dir + "/out.cstpack"
        let r = try run(["build", dir + "/does-not-exist", "-o", out, "-q"])
        assertCleanFailure(r, "build of a missing directory")
        XCTAssertTrue(r.stderr.contains("does-not-exist"), r.description)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [], "nothing written")

        // A regular file is not a directory either.
        let f = dir + "/file.py"
        try writeBytes(Array("x = 1\n".utf8), to: f)
        let r2 = try run(["build", f, "-o", out, "-q"])
        assertCleanFailure(r2, "build of a regular file")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))

        // Bad option values are usage errors.
        let r3 = try run(["build", TestPaths.fixturesPath, "-o", out, "--codec", "gzip"])
        XCTAssertTrue(r3.exitedNormally)
        XCTAssertNotEqual(r3.status, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }
}
