import CTreeSitter
import Foundation
import Glibc
import XCTest

// What the public-API tests need besides CSTPack's public API: the package's executables
// (to build archives as a user does), tree-sitter itself (the reference), and corpora.

struct SetupError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

enum Paths {
    /// The package root: Tests/CSTPackAPITests/<this file> up three levels.
    static let repoRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static var fixtures: String { repoRoot.appendingPathComponent("Fixtures/tree").path }

    /// The Python standard library ($CSTPACK_TEST_STDLIB, else python3's own).
    static let stdlib: String? = {
        if let e = ProcessInfo.processInfo.environment["CSTPACK_TEST_STDLIB"], FileManager.default.fileExists(atPath: e + "/os.py") {
            return e
        }
        let r = try? Executables.run("/usr/bin/env", ["python3", "-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"])
        let dir = r?.stdout.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        return FileManager.default.fileExists(atPath: dir + "/os.py") ? dir : nil
    }()
}

enum Executables {
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// An executable product of this package, built beside the test bundle.
    static func path(_ name: String) throws -> String {
        var dirs: [URL] = []
        let arg0 = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var walk = arg0.deletingLastPathComponent()
        for _ in 0..<5 {
            dirs.append(walk)
            walk = walk.deletingLastPathComponent()
        }
        for b in Bundle.allBundles where b.bundlePath.hasSuffix(".xctest") { dirs.append(b.bundleURL.deletingLastPathComponent()) }
        for scratch in [".build-tests", ".build"] { dirs.append(Paths.repoRoot.appendingPathComponent("\(scratch)/debug")) }
        for d in dirs {
            let candidate = d.appendingPathComponent(name).path
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDir), !isDir.boolValue,
               FileManager.default.isExecutableFile(atPath: candidate) {
                return candidate
            }
        }
        throw SetupError("cannot find the \(name) executable beside the test bundle; build it with `swift build`")
    }

    /// Runs a program with no stdin, capturing its output through files.
    static func run(_ executable: String, _ args: [String]) throws -> Run {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cstpack-api-run-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let outURL = dir.appendingPathComponent("out"), errURL = dir.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = args
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = out
        p.standardError = err
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "CSTPACK_ARCHIVE")
        p.environment = env
        try p.run()
        p.waitUntilExit()
        try out.close(); try err.close()
        return Run(status: p.terminationStatus,
                   stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
                   stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
    }

    /// `cstpack ARGS...`, which must succeed.
    @discardableResult
    static func cstpack(_ args: [String]) throws -> Run {
        let r = try run(try path("cstpack"), args)
        guard r.status == 0 else { throw SetupError("cstpack \(args.joined(separator: " ")): status \(r.status): \(r.stderr)") }
        return r
    }
}

/// Archives built once per test process with the `cstpack` executable.
enum Archives {
    static let directory: String = {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("cstpack-api-tests-\(getpid())").path
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        XCTestObservationCenter.shared.addTestObserver(RemoveWhenDone(d))
        return d
    }()

    /// Removes the archives when the test bundle finishes.
    final class RemoveWhenDone: NSObject, XCTestObservation, @unchecked Sendable {
        let path: String
        init(_ path: String) { self.path = path }
        func testBundleDidFinish(_ testBundle: Bundle) { try? FileManager.default.removeItem(atPath: path) }
    }

    nonisolated(unsafe) private static var built: [String: String] = [:]
    private static let lock = NSLock()

    /// `cstpack build ROOT -o ... EXTRA`, built once for each (root, extra).
    static func build(_ root: String, _ extra: [String] = []) throws -> String {
        lock.lock()
        defer { lock.unlock() }
        let key = ([root] + extra).joined(separator: "\u{0}")
        if let hit = built[key] { return hit }
        let out = directory + "/\(built.count).cstpack"
        try Executables.cstpack(["build", root, "-o", out, "-q"] + extra)
        built[key] = out
        return out
    }

    static func fixtures(noSource: Bool = false) throws -> String {
        try build(Paths.fixtures, noSource ? ["--no-source"] : [])
    }

    /// A part of the standard library: a few packages and large modules, real code of
    /// every shape the Python grammar has.
    static func stdlib() throws -> (archive: String, root: String) {
        guard let lib = Paths.stdlib else { throw SetupError("no Python standard library found (set CSTPACK_TEST_STDLIB)") }
        let root = directory + "/stdlib-part"
        if !FileManager.default.fileExists(atPath: root) {
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            for item in ["json", "email", "argparse.py", "typing.py", "dataclasses.py", "textwrap.py", "ast.py", "inspect.py"]
            where FileManager.default.fileExists(atPath: lib + "/" + item) {
                try FileManager.default.copyItem(atPath: lib + "/" + item, toPath: root + "/" + item)
            }
        }
        return (try build(root, ["--exclude", "__pycache__"]), root)
    }
}

/// tree-sitter grammars loaded straight from the grammar library with dlopen, as an
/// editor would: the reference the API is checked against.
enum Reference {
    nonisolated(unsafe) private static var languages: [String: OpaquePointer] = [:]
    private static let lock = NSLock()

    static var grammarDirectories: [String] {
        var dirs: [String] = []
        if let env = ProcessInfo.processInfo.environment["CSTPACK_GRAMMARS"], !env.isEmpty {
            dirs += env.split(separator: ":").map(String.init)
        }
        if let xdg = ProcessInfo.processInfo.environment["XDG_DATA_HOME"], !xdg.isEmpty {
            dirs.append(xdg + "/cstpack/grammars")
        } else {
            dirs.append(NSHomeDirectory() + "/.local/share/cstpack/grammars")
        }
        return dirs
    }

    static func language(_ name: String) throws -> OpaquePointer {
        lock.lock()
        defer { lock.unlock() }
        if let l = languages[name] { return l }
        for dir in grammarDirectories {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { continue }
            for so in names.sorted() where so.hasSuffix(".so") {
                guard let handle = dlopen(dir + "/" + so, RTLD_NOW | RTLD_LOCAL), let sym = dlsym(handle, "tree_sitter_" + name) else { continue }
                typealias Make = @convention(c) () -> OpaquePointer?
                guard let l = unsafeBitCast(sym, to: Make.self)() else { continue }
                languages[name] = l
                return l
            }
        }
        throw SetupError("no tree-sitter grammar '\(name)' in \(grammarDirectories.joined(separator: ", ")); run scripts/setup")
    }

    /// A tree-sitter parse of `source`; the caller deletes the tree.
    static func parse(_ source: [UInt8], language name: String) throws -> OpaquePointer {
        let parser = ts_parser_new()!
        defer { ts_parser_delete(parser) }
        ts_parser_set_language(parser, try language(name))
        var padded = source
        padded.append(0) // an empty file still needs an address
        let tree = padded.withUnsafeBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) { ts_parser_parse_string(parser, nil, $0.baseAddress!, UInt32(source.count)) }
        }
        guard let tree else { throw SetupError("tree-sitter returned no tree") }
        return tree
    }

    /// Every node of the tree in preorder as TSTreeCursor visits them, with the field each
    /// fills in its parent and its parent's index in the list (-1 for the root).
    static func preorder(_ tree: OpaquePointer) -> [(node: TSNode, field: String?, parent: Int)] {
        var out: [(TSNode, String?, Int)] = []
        var open: [Int] = []
        var cursor = ts_tree_cursor_new(ts_tree_root_node(tree))
        defer { ts_tree_cursor_delete(&cursor) }
        while true {
            out.append((ts_tree_cursor_current_node(&cursor), ts_tree_cursor_current_field_name(&cursor).map { String(cString: $0) },
                        open.last ?? -1))
            if ts_tree_cursor_goto_first_child(&cursor) { open.append(out.count - 1); continue }
            while !ts_tree_cursor_goto_next_sibling(&cursor) {
                guard ts_tree_cursor_goto_parent(&cursor) else { return out }
                open.removeLast()
            }
        }
    }
}

extension TSNode {
    /// A key that tells nodes of one tree apart.
    var key: UInt { UInt(bitPattern: id) }
}

/// SplitMix64: the tests' seeded generator (every run probes the same points).
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
}
