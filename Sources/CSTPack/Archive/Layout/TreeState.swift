import Glibc

/// What a file looked like on disk when it was read: enough to tell cheaply whether it may
/// have changed since (as git's index does). Taken with lstat before the file is read, so a
/// write after the stat always shows as a change.
package struct FileStamp: Sendable, Equatable {
    package var size: UInt64
    package var mtimeNanos: Int64
    package var ctimeNanos: Int64
    package var inode: UInt64

    package init(size: UInt64, mtimeNanos: Int64, ctimeNanos: Int64, inode: UInt64) {
        self.size = size; self.mtimeNanos = mtimeNanos; self.ctimeNanos = ctimeNanos; self.inode = inode
    }

    init(_ st: stat) {
        size = UInt64(max(0, st.st_size))
        mtimeNanos = Int64(st.st_mtim.tv_sec) &* 1_000_000_000 &+ Int64(st.st_mtim.tv_nsec)
        ctimeNanos = Int64(st.st_ctim.tv_sec) &* 1_000_000_000 &+ Int64(st.st_ctim.tv_nsec)
        inode = UInt64(st.st_ino)
    }

    /// Whether a stamp recorded in an archive last modified at `takenAt` (ns since 1970) can
    /// not vouch for the content: a file modified within the file system's timestamp
    /// granularity of the moment it was read could change again without its stamp moving
    /// (git's "racily clean" entries, judged by the index file's own mtime, as here), so it is
    /// compared by content instead. The archive's mtime, not a clock reading stored in it,
    /// keeps builds of the same tree byte-identical.
    func isRacy(takenAt: Int64) -> Bool {
        mtimeNanos >= takenAt &- FileStamp.racyWindowNanos
    }

    /// Larger than any timestamp granularity of Linux file systems in use (ext4 and xfs
    /// stamp with the kernel tick, FAT with 2 s).
    static let racyWindowNanos: Int64 = 3_000_000_000
}

/// How `build` chose and encoded the files: what `update` and the staleness check must
/// repeat to reach the same archive as a fresh build.
package struct TreeOptions: Sendable, Equatable {
    package var storeSource = true
    package var noIgnore = false
    package var usedGit = false
    package var maxFileSize: UInt32 = 4 << 20
    package var checkpointBytes: UInt32 = UInt32(Format.checkpointBytes)
    package var sourceLevel: Int32 = 0
    package var parseTimeoutMicros: UInt64 = 10_000_000
    package var excludes: [String] = []
    /// `--lang EXT=NAME`, sorted by extension.
    package var languageOverrides: [(String, String)] = []

    package init() {}

    package static func == (a: TreeOptions, b: TreeOptions) -> Bool {
        a.storeSource == b.storeSource && a.noIgnore == b.noIgnore && a.usedGit == b.usedGit
            && a.maxFileSize == b.maxFileSize && a.checkpointBytes == b.checkpointBytes && a.sourceLevel == b.sourceLevel
            && a.parseTimeoutMicros == b.parseTimeoutMicros && a.excludes == b.excludes
            && a.languageOverrides.map(\.0) == b.languageOverrides.map(\.0) && a.languageOverrides.map(\.1) == b.languageOverrides.map(\.1)
    }
}

/// Per stored file: its stamp and its build figures (kept so that an update, which does
/// not parse the file again, can still report them in BUILD_INFO).
package struct StoredFileState: Sendable, Equatable {
    package var stamp: FileStamp
    package var treeSitterBytes: UInt32
    package var phase1Bytes: UInt32
    package var unmodelledBytes: UInt32
}

/// A file the build read and passed over (binary, or its parse failed): remembered so that a
/// later check does not read it again while its stamp is unchanged.
package struct PassedOverFile: Sendable, Equatable {
    package enum Reason: UInt8, Sendable { case binary = 1, parseFailed = 2 }
    package var path: [UInt8]
    package var reason: Reason
    package var stamp: FileStamp
}

/// The TREE section (Spec/FORMAT.md section 14a): the directory an archive was built from,
/// the options that chose and encoded its files, and every file's stamp.
package struct TreeState: Sendable, Equatable {
    /// Absolute path of the built directory, as `realpath` gave it.
    package var root: [UInt8]
    /// /etc/machine-id of the machine that built it (empty if unknown): a path on another
    /// machine names another tree.
    package var machine: [UInt8]
    package var options: TreeOptions
    /// One per FILES entry, in the same order.
    package var files: [StoredFileState]
    /// In path order.
    package var passedOver: [PassedOverFile]

    static let fileEntrySize = 48
    static let passedOverEntrySize = 40

    func write(to w: inout ByteWriter, strings: inout StringTableBuilder) {
        w.index(strings.intern(root)); w.index(strings.intern(machine))
        var flags: UInt32 = 0
        if options.storeSource { flags |= 1 }
        if options.noIgnore { flags |= 2 }
        if options.usedGit { flags |= 4 }
        w.u32(flags); w.u32(options.maxFileSize); w.u32(options.checkpointBytes)
        w.u32(UInt32(bitPattern: options.sourceLevel)); w.u64(options.parseTimeoutMicros)
        w.u32(UInt32(options.excludes.count))
        for e in options.excludes { w.index(strings.intern(e)) }
        w.u32(UInt32(options.languageOverrides.count))
        for (ext, name) in options.languageOverrides { w.index(strings.intern(ext)); w.index(strings.intern(name)) }
        w.u32(UInt32(files.count)); w.u32(0)
        for f in files {
            write(f.stamp, to: &w)
            w.u32(f.treeSitterBytes); w.u32(f.phase1Bytes); w.u32(f.unmodelledBytes); w.u32(0)
        }
        w.u32(UInt32(passedOver.count)); w.u32(0)
        for p in passedOver {
            w.index(strings.intern(p.path)); w.u8(p.reason.rawValue); w.u8(0); w.u16(0)
            write(p.stamp, to: &w)
        }
    }

    private func write(_ s: FileStamp, to w: inout ByteWriter) {
        w.u64(s.size); w.u64(UInt64(bitPattern: s.mtimeNanos)); w.u64(UInt64(bitPattern: s.ctimeNanos)); w.u64(s.inode)
    }

    private static func readStamp(_ r: inout ByteReader) throws(FormatError) -> FileStamp {
        FileStamp(size: try r.u64(), mtimeNanos: Int64(bitPattern: try r.u64()), ctimeNanos: Int64(bitPattern: try r.u64()), inode: try r.u64())
    }

    static func read(_ section: ByteReader, strings: StringTable, fileCount: Int) throws(FormatError) -> TreeState {
        var r = section
        let root = try strings.byteArray(try r.index(StringID.self))
        let machine = try strings.byteArray(try r.index(StringID.self))
        let flags = try r.u32()
        guard flags & ~7 == 0 else { throw FormatError("\(r.context): unknown flags \(flags)") }
        var o = TreeOptions()
        o.storeSource = flags & 1 != 0; o.noIgnore = flags & 2 != 0; o.usedGit = flags & 4 != 0
        o.maxFileSize = try r.u32(); o.checkpointBytes = try r.u32()
        o.sourceLevel = Int32(bitPattern: try r.u32()); o.parseTimeoutMicros = try r.u64()
        let excludes = Int(try r.u32())
        guard excludes <= r.remaining / 4 else { throw FormatError("\(r.context): \(excludes) excludes do not fit") }
        for _ in 0..<excludes { o.excludes.append(try strings.string(try r.index(StringID.self))) }
        let overrides = Int(try r.u32())
        guard overrides <= r.remaining / 8 else { throw FormatError("\(r.context): \(overrides) overrides do not fit") }
        for _ in 0..<overrides { o.languageOverrides.append((try strings.string(try r.index(StringID.self)), try strings.string(try r.index(StringID.self)))) }
        let n = Int(try r.u32())
        guard try r.u32() == 0 else { throw FormatError("\(r.context): reserved field is not zero") }
        guard n == fileCount else { throw FormatError("\(r.context): \(n) file stamps for \(fileCount) files") }
        guard n <= r.remaining / fileEntrySize else { throw FormatError("\(r.context): \(n) file stamps do not fit") }
        var files: [StoredFileState] = []
        files.reserveCapacity(n)
        for _ in 0..<n {
            let stamp = try readStamp(&r)
            files.append(StoredFileState(stamp: stamp, treeSitterBytes: try r.u32(), phase1Bytes: try r.u32(), unmodelledBytes: try r.u32()))
            guard try r.u32() == 0 else { throw FormatError("\(r.context): reserved field is not zero") }
        }
        let m = Int(try r.u32())
        guard try r.u32() == 0 else { throw FormatError("\(r.context): reserved field is not zero") }
        guard m <= r.remaining / passedOverEntrySize else { throw FormatError("\(r.context): \(m) passed-over files do not fit") }
        var passed: [PassedOverFile] = []
        for _ in 0..<m {
            let path = try strings.byteArray(try r.index(StringID.self))
            guard let reason = PassedOverFile.Reason(rawValue: try r.u8()) else { throw FormatError("\(r.context): unknown reason") }
            guard try r.u8() == 0, try r.u16() == 0 else { throw FormatError("\(r.context): reserved field is not zero") }
            if let last = passed.last, !last.path.lexicographicallyPrecedes(path) {
                throw FormatError("\(r.context): passed-over files are not sorted by path")
            }
            passed.append(PassedOverFile(path: path, reason: reason, stamp: try readStamp(&r)))
        }
        guard r.isAtEnd else { throw FormatError("\(r.context): \(r.remaining) stray bytes") }
        return TreeState(root: root, machine: machine, options: o, files: files, passedOver: passed)
    }

    /// Where the machine id is read (tests point it elsewhere to play another machine).
    nonisolated(unsafe) static var machineIDPath = "/etc/machine-id"

    /// This machine's id (/etc/machine-id), or empty.
    package static func machineID() -> [UInt8] {
        guard let bytes = try? readFile(Array(machineIDPath.utf8), limit: 4096) else { return [] }
        return Array(bytes.prefix { $0 != UInt8(ascii: "\n") })
    }

}

extension TreeState {
    /// The TREE section of a build of `root` with `options` (its file states are added by
    /// the writer, one per file).
    static func describing(_ options: BuildOptions, root: String, usedGit: Bool,
                           passedOver: [PassedOverFile]) -> TreeState {
        var o = TreeOptions()
        o.storeSource = options.storeSource
        o.noIgnore = options.noIgnore
        o.usedGit = usedGit
        o.maxFileSize = UInt32(clamping: options.maxFileSize)
        o.checkpointBytes = UInt32(clamping: options.checkpointBytes)
        o.sourceLevel = Int32(clamping: options.sourceLevel ?? options.codec.defaultSourceLevel)
        o.parseTimeoutMicros = options.parseTimeoutMicros
        o.excludes = options.excludes
        o.languageOverrides = options.languageOverrides.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        return TreeState(root: Array((realPath(root) ?? root).utf8), machine: machineID(),
                         options: o, files: [], passedOver: passedOver)
    }

    /// The build options that reproduce this archive's choices and encoding (`update`).
    func buildOptions(_ info: BuildInfo, root: String, output: String, jobs: Int) -> BuildOptions {
        var b = BuildOptions(root: root, output: output, jobs: jobs)
        b.codec = info.codec
        b.level = info.level
        b.sourceLevel = Int(options.sourceLevel)
        b.segmentSize = Int(info.segmentSize)
        b.checkpointBytes = Int(options.checkpointBytes)
        b.maxFileSize = Int(options.maxFileSize)
        b.storeSource = options.storeSource
        b.languageOverrides = Dictionary(options.languageOverrides, uniquingKeysWith: { a, _ in a })
        b.parseTimeoutMicros = options.parseTimeoutMicros
        b.noIgnore = options.noIgnore
        b.excludes = options.excludes
        b.phases = info.phases
        return b
    }

    package var rootPath: String { String(decoding: root, as: UTF8.self) }
}
