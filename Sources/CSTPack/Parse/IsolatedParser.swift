import Glibc

/// Parses in a helper process (`cstpack parse-helper`), so that a crash inside tree-sitter
/// takes down the helper and not the build. tree-sitter 0.20.7 corrupts its heap and aborts
/// when a tree nests about 65,536 deep (measured: 64 KiB of `[` in JSON or `(` in Python;
/// 48 KiB of either parses), which no guard in our own code can prevent. The helper is
/// started on first use, serves one request at a time over two pipes, and is restarted after
/// a crash. Protocol (little-endian, ByteWriter/ByteReader):
///
///     request:  u32 n + library path, u32 n + grammar name, u64 timeout µs, u8 want tree,
///               u64 n + source bytes
///     response: u8 0, u64 tree-sitter bytes, u64 node count n, then n × u16 kinds,
///               n × u16 fields, n × u8 flags, n × u32 starts, n × u32 ends, n × i32 parents
///               (n = 0 when no tree was wanted);  or u8 1, u32 n + error message
public final class IsolatedParser {
    public let executable: String
    private var pid: pid_t = 0
    private var toChild: Int32 = -1
    private var fromChild: Int32 = -1

    public init(executable: String) {
        self.executable = executable
    }

    deinit { stop() }

    private func start() throws {
        // A helper that dies while we write must not kill us with SIGPIPE: the write fails
        // with EPIPE, and the exit status says what happened.
        signal(SIGPIPE, SIG_IGN)
        // Workers start helpers concurrently: pipes are created and marked close-on-exec
        // under one lock, so that no helper inherits another's pipe (it would then never
        // see its input close, and never exit).
        try Self.spawnLock.locked { try spawn() }
    }

    private static let spawnLock = Mutex()

    private func spawn() throws {
        var request: [Int32] = [-1, -1], response: [Int32] = [-1, -1]
        guard pipe(&request) == 0 else { throw CSTPackError("cannot create a pipe for the parse helper: \(errnoText())") }
        guard pipe(&response) == 0 else {
            close(request[0]); close(request[1])
            throw CSTPackError("cannot create a pipe for the parse helper: \(errnoText())")
        }
        for fd in request + response { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        // Trees of large files are megabytes: 1 MiB pipes (the usual maximum; a refusal keeps
        // the 64 KiB default) take them in far fewer reads, writes and context switches.
        let setPipeSize: Int32 = 1031 // F_SETPIPE_SZ (<linux/fcntl.h>), which Glibc does not export
        for fd in [request[1], response[1]] { _ = fcntl(fd, setPipeSize, 1 << 20) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, request[0], 0)
        posix_spawn_file_actions_adddup2(&actions, response[1], 1)
        // glibc and the Swift runtime print crash reports to stderr; the parent reports the
        // crash itself, in one line.
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var env = Array(environmentStrings().filter { !$0.hasPrefix("SWIFT_BACKTRACE=") })
        env.append("SWIFT_BACKTRACE=enable=no")
        let argv = [executable, "parse-helper"]
        var cArgs = argv.map { strdup($0) } + [nil]
        var cEnv = env.map { strdup($0) } + [nil]
        defer { for p in cArgs { free(p) }; for p in cEnv { free(p) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, executable, &actions, nil, &cArgs, &cEnv)
        close(request[0]); close(response[1])
        guard rc == 0 else {
            close(request[1]); close(response[0])
            throw CSTPackError("cannot start the parse helper \(executable): \(errnoText(rc))")
        }
        pid = child
        toChild = request[1]
        fromChild = response[0]
    }

    /// Ends the helper (it exits when its input closes) and returns its wait status.
    @discardableResult
    private func stop() -> Int32 {
        guard pid > 0 else { return 0 }
        if toChild >= 0 { close(toChild); toChild = -1 }
        if fromChild >= 0 { close(fromChild); fromChild = -1 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        pid = 0
        return status
    }

    /// The helper died during a request: reap it and say how.
    private func crashed() -> CSTPackError {
        let status = stop()
        let signalNumber = status & 0x7F
        if signalNumber != 0 {
            let name = strsignal(signalNumber).map { String(cString: $0) } ?? "signal"
            return CSTPackError("tree-sitter crashed while parsing it (\(name), signal \(signalNumber), in the parse helper)")
        }
        // Under AddressSanitizer the corruption is caught and the helper exits instead.
        return CSTPackError("tree-sitter crashed while parsing it (the parse helper exited with status \((status >> 8) & 0xFF))")
    }

    /// Parses `source` in the helper. Returns nil when `wantTree` is false (parse only).
    public func parse(_ source: UnsafeRawBufferPointer, grammar: Grammar, timeoutMicros: UInt64,
                      wantTree: Bool) throws -> TreeSitterParser.Result? {
        if pid == 0 { try start() }
        var w = ByteWriter()
        let path = Array(grammar.libraryPath.utf8), name = Array(grammar.name.utf8)
        w.u32(UInt32(path.count)); w.append(path)
        w.u32(UInt32(name.count)); w.append(name)
        w.u64(timeoutMicros); w.u8(wantTree ? 1 : 0); w.u64(UInt64(source.count))
        let sent = w.bytes.withUnsafeBytes { writeAll(toChild, $0) }
        guard sent == 0, writeAll(toChild, source) == 0 else { throw crashed() }

        guard let status = try? readExact(fromChild, count: 1).first else { throw crashed() }
        if status == 1 {
            guard let n = try? readInteger(fromChild, UInt32.self), let text = try? readExact(fromChild, count: Int(min(n, 1 << 16))) else { throw crashed() }
            throw CSTPackError(String(decoding: text, as: UTF8.self))
        }
        guard status == 0, let tsBytes = try? readInteger(fromChild, UInt64.self),
              let count = try? readInteger(fromChild, UInt64.self) else { throw crashed() }
        // The helper is our own code, but it just ran the code that may corrupt memory:
        // a count that no tree of this source can have is treated as a crash.
        guard count <= UInt64(source.count) * 16 + 1024 else { _ = stop(); throw CSTPackError("the parse helper sent a malformed tree") }
        guard wantTree else { return nil }
        let n = Int(count)
        var tree = CSTTree()
        do {
            tree.kinds = try readArray(UInt16.self, n)
            tree.fields = try readArray(UInt16.self, n)
            tree.flags = try readArray(UInt8.self, n).map { CSTTree.Flags(rawValue: $0) }
            tree.starts = try readArray(UInt32.self, n)
            tree.ends = try readArray(UInt32.self, n)
            tree.parents = try readArray(Int32.self, n)
        } catch {
            throw crashed()
        }
        return TreeSitterParser.Result(tree: tree, treeSitterBytes: Int(clamping: tsBytes))
    }

    private func readArray<T: FixedWidthInteger>(_: T.Type, _ n: Int) throws -> [T] {
        let values = try [T](unsafeUninitializedCapacity: n) { buffer, initialized in
            try readExact(fromChild, into: UnsafeMutableRawBufferPointer(buffer))
            initialized = n
        }
        #if _endian(little)
        return values
        #else
        return values.map { T(littleEndian: $0) }
        #endif
    }
}

/// The helper's side: serves requests from stdin until it closes. Grammars are loaded from
/// the library the parent names (the same file, so the same kind and field numbers).
public enum ParseHelper {
    public static func serve() -> Int32 {
        let parser = TreeSitterParser()
        var registries: [String: GrammarRegistry] = [:]
        while true {
            do {
                guard let pathLength = try? readInteger(0, UInt32.self) else { return 0 } // the parent is done
                let path = String(decoding: try readExact(0, count: Int(pathLength)), as: UTF8.self)
                let name = String(decoding: try readExact(0, count: Int(try readInteger(0, UInt32.self))), as: UTF8.self)
                let timeout = try readInteger(0, UInt64.self)
                let wantTree = try readInteger(0, UInt8.self) == 1
                let source = try readExact(0, count: Int(try readInteger(0, UInt64.self)))
                let directory = directoryOf(path)
                if registries[directory] == nil { registries[directory] = GrammarRegistry(directories: [directory], extraNames: [name]) }
                var w = ByteWriter()
                if let grammar = registries[directory]!.grammars[name], grammar.libraryPath == path {
                    do {
                        let result: TreeSitterParser.Result? = try source.withUnsafeBytes { raw in
                            if wantTree { return try parser.parse(raw, grammar: grammar, timeoutMicros: timeout) }
                            try parser.parseOnly(raw, grammar: grammar, timeoutMicros: timeout)
                            return nil
                        }
                        let t = result?.tree ?? CSTTree()
                        w = ByteWriter(capacity: 17 + t.count * 17)
                        w.u8(0)
                        w.u64(UInt64(result?.treeSitterBytes ?? 0))
                        w.u64(UInt64(t.count))
                        w.integers(t.kinds)
                        w.integers(t.fields)
                        w.integers(t.flags.map(\.rawValue))
                        w.integers(t.starts)
                        w.integers(t.ends)
                        w.integers(t.parents)
                    } catch {
                        w = errorResponse("\(error)")
                    }
                } else {
                    w = errorResponse("the parse helper cannot load grammar '\(name)' from \(path)")
                }
                guard w.bytes.withUnsafeBytes({ writeAll(1, $0) }) == 0 else { return 1 }
            } catch {
                return 1
            }
        }
    }

    private static func errorResponse(_ message: String) -> ByteWriter {
        var w = ByteWriter()
        let text = Array(message.utf8.prefix(1 << 16))
        w.u8(1); w.u32(UInt32(text.count)); w.append(text)
        return w
    }
}

/// One little-endian integer from `fd` (read through ByteReader, like every other integer).
func readInteger<T: FixedWidthInteger>(_ fd: Int32, _: T.Type) throws -> T {
    let bytes = try readExact(fd, count: MemoryLayout<T>.size)
    return try bytes.withUnsafeBytes { raw throws -> T in
        var r = ByteReader(raw, context: "parse helper pipe")
        return try r.fixed(T.self)
    }
}

/// Exactly `count` bytes from `fd`; throws at end of file or on an error.
func readExact(_ fd: Int32, count: Int) throws -> [UInt8] {
    try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
        try readExact(fd, into: UnsafeMutableRawBufferPointer(buffer))
        initialized = count
    }
}

func readExact(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws {
    var done = 0
    while done < buffer.count {
        let n = read(fd, buffer.baseAddress! + done, buffer.count - done)
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { throw CSTPackError(n == 0 ? "unexpected end of input" : errnoText()) }
        done += n
    }
}

/// The process's environment as KEY=VALUE strings.
func environmentStrings() -> [String] {
    var out: [String] = []
    var p = environ
    while let entry = p.pointee {
        out.append(String(cString: entry))
        p += 1
    }
    return out
}
