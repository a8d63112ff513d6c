import Glibc

/// Parses in a helper process (`cstpack parse-helper`), so that a crash inside tree-sitter
/// or a grammar takes down the helper and not the build. tree-sitter 0.20.7 corrupts its heap
/// and aborts when a tree nests about 65,536 deep (measured: 64 KiB of `[` in JSON or `(` in
/// Python; 48 KiB of either parses), and grammars' scanners crash on small inputs too; no
/// guard in our own code can prevent either. The helper is started on first use, serves one
/// request at a time over two pipes, and is restarted after a crash.
///
/// Protocol (little-endian, ByteWriter/ByteReader): each message is a frame, a u64 length
/// and then that many bytes, which the other side reads whole. A request carries a batch of
/// files (small files go several at a time: a round trip costs ~20 µs), the reply one
/// result per file, in order.
///
///     request:  u32 files, then per file: u32 n + library path, u32 n + grammar name,
///               u64 timeout µs, u8 tree (0 none, 1 read by the fast walker, 2 by
///               tree-sitter's cursor), u64 n + source bytes
///     reply:    per file: u8 0, u64 tree-sitter bytes, u64 node count n, then n × u16 kinds,
///               n × u16 fields, n × u8 flags, n × u32 starts, n × u32 ends, n × i32 parents
///               (n = 0 when no tree was wanted);  or u8 1, u32 n + error message
package final class IsolatedParser {
    package let executable: String
    private var pid: pid_t = 0
    private var toChild: Int32 = -1
    private var fromChild: Int32 = -1
    /// The smaller of the two pipes' sizes (1 MiB when the kernel grants it).
    private var pipeSize = 64 << 10

    package init(executable: String) {
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
        let setPipeSize: Int32 = 1031, getPipeSize: Int32 = 1032 // F_SETPIPE_SZ, F_GETPIPE_SZ (<linux/fcntl.h>)
        for fd in [request[1], response[1]] { _ = fcntl(fd, setPipeSize, 1 << 20) }
        pipeSize = Int(min(fcntl(request[1], getPipeSize), fcntl(response[1], getPipeSize)))
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

    /// Starts the helper now, so that its start overlaps the caller's other work (a
    /// pattern search opens its archive meanwhile). A failure is left for the first parse
    /// to report.
    package func prepare() {
        if pid == 0 { try? start() }
    }

    /// One file of a batch.
    package struct Job {
        package let source: UnsafeRawBufferPointer
        package let grammar: Grammar
    }

    /// Parses `source` in the helper. Returns nil when `wantTree` is false (parse only).
    /// `reader` is how the helper reads tree-sitter's tree (`verify` reads it with the cursor,
    /// not with the build's walker it checks).
    package func parse(_ source: UnsafeRawBufferPointer, grammar: Grammar, timeoutMicros: UInt64,
                      wantTree: Bool, reader: TreeSitterParser.Reader = .fast) throws -> TreeSitterParser.Result? {
        try receive(try send([Job(source: source, grammar: grammar)], timeoutMicros: timeoutMicros,
                             wantTree: wantTree, reader: reader))[0].get()
    }

    /// Parses a batch in one round trip: per file, its result or the error tree-sitter gave.
    /// Throws when the helper crashed (which file did it is then unknown: parse them one by
    /// one to find out).
    package func parse(_ jobs: [Job], timeoutMicros: UInt64, wantTree: Bool) throws -> [Result<TreeSitterParser.Result?, Error>] {
        try receive(try send(jobs, timeoutMicros: timeoutMicros, wantTree: wantTree))
    }

    /// A request sent and not yet answered: what reading its reply needs.
    package struct Sent {
        let sourceLengths: [Int]
        let wantTree: Bool
    }

    /// Sends a batch; `receive` reads its reply. In between the caller may do other work
    /// (encode the previous batch) while the helper parses: a request must then fit in the
    /// pipe (`Self.pipeBytes`), or the helper, blocked on its reply, never reads it.
    package func send(_ jobs: [Job], timeoutMicros: UInt64, wantTree: Bool,
                      reader: TreeSitterParser.Reader = .fast) throws -> Sent {
        if pid == 0 { try start() }
        var w = Frame.writer(capacity: 4 + jobs.reduce(0) { $0 + 40 + $1.grammar.libraryPath.utf8.count + $1.grammar.name.utf8.count + $1.source.count })
        w.u32(UInt32(jobs.count))
        for job in jobs {
            let path = Array(job.grammar.libraryPath.utf8), name = Array(job.grammar.name.utf8)
            w.u32(UInt32(path.count)); w.append(path)
            w.u32(UInt32(name.count)); w.append(name)
            w.u64(timeoutMicros); w.u8(wantTree ? (reader == .cursor ? 2 : 1) : 0)
            w.u64(UInt64(job.source.count)); w.append(job.source)
        }
        guard Frame.write(toChild, &w) == 0 else { throw crashed() }
        return Sent(sourceLengths: jobs.map(\.source.count), wantTree: wantTree)
    }

    /// The largest request that may be left unanswered (`send` without `receive`): half the
    /// pipes' size, so that it fits while the helper is still writing the previous reply.
    /// Starts the helper if needed.
    package func inFlightLimit() throws -> Int {
        if pid == 0 { try start() }
        return max(0, pipeSize / 2 - (4 << 10))
    }

    /// Source bytes a batch holds at most (a request in flight is then at most half of the
    /// 1 MiB pipes the helper is given).
    package static let batchBytes = 480 << 10

    /// Reads the reply to `sent`.
    package func receive(_ sent: Sent) throws -> [Result<TreeSitterParser.Result?, Error>] {
        let wantTree = sent.wantTree
        // The helper is our own code, but it just ran the code that may corrupt memory: a
        // reply that no tree of these sources can give is treated as a crash.
        let maxNodes = sent.sourceLengths.map { UInt64($0) * 16 + 1024 }
        let limit = maxNodes.reduce(0) { $0 + 17 + 15 * $1 + (1 << 17) }
        guard let reply = try? Frame.read(fromChild, limit: limit) else { throw crashed() }
        return try reply.withUnsafeBytes { raw throws -> [Result<TreeSitterParser.Result?, Error>] in
            var r = ByteReader(raw, context: "the parse helper's reply")
            do {
                var results: [Result<TreeSitterParser.Result?, Error>] = []
                for k in sent.sourceLengths.indices {
                    let status = try r.u8()
                    if status == 1 {
                        let text = try r.bytes(Int(try r.u32()))
                        results.append(.failure(CSTPackError(String(decoding: text, as: UTF8.self))))
                        continue
                    }
                    guard status == 0 else { throw FormatError("status \(status)") }
                    let tsBytes = try r.u64()
                    let count = try r.u64()
                    guard count <= maxNodes[k], wantTree || count == 0 else { throw FormatError("\(count) nodes") }
                    guard wantTree else { results.append(.success(nil)); continue }
                    let n = Int(count)
                    var tree = CSTTree()
                    tree.kinds = try r.integers(UInt16.self, count: n)
                    tree.fields = try r.integers(UInt16.self, count: n)
                    tree.flags = try r.integers(UInt8.self, count: n).map { CSTTree.Flags(rawValue: $0) }
                    tree.starts = try r.integers(UInt32.self, count: n)
                    tree.ends = try r.integers(UInt32.self, count: n)
                    tree.parents = try r.integers(Int32.self, count: n)
                    results.append(.success(TreeSitterParser.Result(tree: tree, treeSitterBytes: Int(clamping: tsBytes))))
                }
                guard r.isAtEnd else { throw FormatError("bytes after the last result") }
                return results
            } catch {
                _ = stop()
                throw CSTPackError("the parse helper sent a malformed reply")
            }
        }
    }
}

/// One message of the helper protocol: a u64 length, then that many bytes.
enum Frame {
    /// A writer with room for the length, which `write` fills in.
    static func writer(capacity: Int) -> ByteWriter {
        var w = ByteWriter(capacity: 8 + capacity)
        w.u64(0)
        return w
    }

    /// Writes the frame in one call; 0 on success, else errno.
    static func write(_ fd: Int32, _ w: inout ByteWriter) -> Int32 {
        w.patch(UInt64(w.count - 8), at: 0)
        return w.bytes.withUnsafeBytes { writeAll(fd, $0) }
    }

    /// The next frame's bytes (its length at most `limit`); throws at end of input.
    static func read(_ fd: Int32, limit: UInt64) throws -> [UInt8] {
        let length = try readInteger(fd, UInt64.self)
        guard length <= limit else { throw CSTPackError("a parse helper message of \(length) bytes (at most \(limit) expected)") }
        return try readExact(fd, count: Int(length))
    }
}

/// The helper's side: serves requests from stdin until it closes. Grammars are loaded from
/// the library the parent names (the same file, so the same kind and field numbers).
package enum ParseHelper {
    package static func serve() -> Int32 {
        let parser = TreeSitterParser(), cursorParser = TreeSitterParser(reader: .cursor)
        var registries: [String: GrammarRegistry] = [:]
        while true {
            // The parent is done when its end of the pipe closes.
            guard let request = try? Frame.read(0, limit: UInt64(Int.max)) else { return 0 }
            var reply = Frame.writer(capacity: 1 << 16)
            request.withUnsafeBytes { raw in
                var r = ByteReader(raw, context: "parse request")
                guard let count = try? r.u32() else { return errorReply("the parse helper got a malformed request", into: &reply) }
                for _ in 0..<count {
                    let path: String, name: String, timeout: UInt64, tree: UInt8, source: UnsafeRawBufferPointer
                    do {
                        path = String(decoding: try r.bytes(Int(try r.u32())), as: UTF8.self)
                        name = String(decoding: try r.bytes(Int(try r.u32())), as: UTF8.self)
                        timeout = try r.u64()
                        tree = try r.u8()
                        source = try r.bytes(Int(try r.u64()))
                    } catch {
                        return errorReply("the parse helper got a malformed request: \(error)", into: &reply)
                    }
                    let directory = directoryOf(path)
                    if registries[directory] == nil { registries[directory] = GrammarRegistry(directories: [directory], extraNames: [name]) }
                    guard let grammar = registries[directory]!.grammars[name], grammar.libraryPath == path else {
                        errorReply("the parse helper cannot load grammar '\(name)' from \(path)", into: &reply)
                        continue
                    }
                    do {
                        let result: TreeSitterParser.Result?
                        if tree != 0 {
                            result = try (tree == 2 ? cursorParser : parser).parse(source, grammar: grammar, timeoutMicros: timeout)
                        } else {
                            try parser.parseOnly(source, grammar: grammar, timeoutMicros: timeout)
                            result = nil
                        }
                        let t = result?.tree ?? CSTTree()
                        reply.u8(0)
                        reply.u64(UInt64(result?.treeSitterBytes ?? 0))
                        reply.u64(UInt64(t.count))
                        reply.integers(t.kinds)
                        reply.integers(t.fields)
                        reply.integers(t.flags.map(\.rawValue))
                        reply.integers(t.starts)
                        reply.integers(t.ends)
                        reply.integers(t.parents)
                    } catch {
                        errorReply("\(error)", into: &reply)
                    }
                }
            }
            guard Frame.write(1, &reply) == 0 else { return 1 }
        }
    }

    private static func errorReply(_ message: String, into w: inout ByteWriter) {
        let text = Array(message.utf8.prefix(1 << 16))
        w.u8(1); w.u32(UInt32(text.count)); w.append(text)
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
