import Glibc

/// A `.cstpack` archive opened read-only through mmap. Opening checks the header, the
/// section table and the checksums of every section but the segments (each segment is
/// checked when it is read). All later reads go through bounds-checked readers.
package final class Archive: @unchecked Sendable {
    package let path: String
    package let size: Int
    /// The archive file's mtime (ns since 1970) when opened; Int64.max for one in memory.
    /// File stamps recorded close to it cannot vouch for their files (FileStamp.isRacy).
    package let modifiedAt: Int64
    private let base: UnsafeMutableRawPointer
    package let version: UInt32
    package let flags: Format.HeaderFlags
    package let maxSegmentRaw: Int
    package let sections: [Format.SectionID: SectionEntry]
    package let strings: StringTable
    package let languages: [LanguageTable]
    package let bases: [BaseEntry]
    /// Index of each language's tag-model base, if it has one.
    package let modelBase: [Int?]
    private let modelLock = Mutex()
    private var models: [Int: TagModel] = [:]
    package let segmentCount: Int
    package let recordCount: Int
    package let fileCount: Int
    package let buildInfo: BuildInfo
    /// The directory the archive was built from, its options and file stamps (nil in a
    /// version 2 archive, written before cstpack recorded them).
    package let treeState: TreeState?
    /// Decompressed metadata sections, which the readers above point into.
    private let ownedSections: [UnsafeMutableRawBufferPointer]
    /// The BASES section's content (decompressed when stored compressed).
    private let basesContent: ByteReader
    private let segmentTable: ByteReader
    private let recordTable: ByteReader
    private let fileTable: ByteReader
    /// The SUMMARIES section's entry (nil before version 4). Its checksum is checked, its
    /// content decompressed and validated, when first used: a point lookup never reads it
    /// (and checking its ~0.5 MB on every open cost a cold lookup 1 ms).
    private let summariesEntry: SectionEntry?
    private let summariesLock = Mutex()
    private var summariesRead: Result<(ends: ByteReader, body: ByteReader), FormatError>? = nil
    private var summariesBuffer: UnsafeMutableRawBufferPointer? = nil

    /// The archive the reading commands use when none is named.
    package static let defaultPath = "index.cstpack"

    /// How the archive's bytes are held, and so how they are released.
    private enum Storage {
        /// mmap of the file (munmap).
        case mapped
        /// A heap copy of exactly `size` bytes (deallocate): for tests and the fuzz target,
        /// where reading a byte past the end is caught by AddressSanitizer.
        case heap
    }
    private let storage: Storage

    package convenience init(path: String) throws {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw CSTPackError("\(path): cannot open archive: \(errnoText())")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw CSTPackError("\(path): cannot stat: \(errnoText())") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw CSTPackError("\(path): not a regular file") }
        let size = Int(st.st_size)
        guard size >= Format.headerSize else {
            throw CSTPackError("\(path): not a cstpack archive (only \(size) bytes; a header is \(Format.headerSize))")
        }
        guard let m = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), m != UnsafeMutableRawPointer(bitPattern: -1) else {
            throw CSTPackError("\(path): cannot map: \(errnoText())")
        }
        try self.init(path: path, base: m, size: size, storage: .mapped,
                      modifiedAt: Int64(st.st_mtim.tv_sec) &* 1_000_000_000 &+ Int64(st.st_mtim.tv_nsec))
    }

    /// Opens an archive held in memory (copied, so `bytes` need not outlive it). `name`
    /// stands for the path in messages. Used by tests and the fuzz target.
    package convenience init(copying bytes: UnsafeRawBufferPointer, name: String = "<memory>") throws {
        guard bytes.count >= Format.headerSize else {
            throw CSTPackError("\(name): not a cstpack archive (only \(bytes.count) bytes; a header is \(Format.headerSize))")
        }
        let m = UnsafeMutableRawPointer.allocate(byteCount: bytes.count, alignment: 16)
        m.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        try self.init(path: name, base: m, size: bytes.count, storage: .heap, modifiedAt: .max)
    }

    /// Takes ownership of `m` (`size` bytes): released on failure and in deinit.
    private init(path: String, base m: UnsafeMutableRawPointer, size: Int, storage: Storage, modifiedAt: Int64) throws {
        self.path = path
        self.modifiedAt = modifiedAt
        self.size = size
        self.storage = storage
        base = m
        var owned: [UnsafeMutableRawBufferPointer] = []
        do {
            let all = ByteReader(UnsafeRawBufferPointer(start: m, count: size), context: path)
            let header = try ArchiveHeader.read(all, path: path)
            version = header.version
            flags = header.flags
            maxSegmentRaw = header.maxSegmentRaw
            let found = try SectionEntry.readTable(all, header: header, path: path)
            sections = found
            func section(_ id: Format.SectionID) throws(FormatError) -> ByteReader {
                try found[id]!.content(of: all, path: path) { owned.append($0) }
            }
            strings = try StringTable(try section(.strings))
            languages = try LanguageTable.readSection(try section(.languages), strings: strings)
            let basesSection = try section(.bases)
            basesContent = basesSection
            bases = try BaseEntry.readSection(basesSection, languageCount: languages.count)
            var modelBase = [Int?](repeating: nil, count: languages.count)
            for (i, b) in bases.enumerated() where b.kind == .tagModel {
                guard modelBase[Int(b.language)] == nil else {
                    throw FormatError("\(path): bases section: two tag models for language \(b.language)")
                }
                modelBase[Int(b.language)] = i
            }
            self.modelBase = modelBase
            (segmentTable, segmentCount) = try Self.table(try section(.segmentTable), entrySize: Format.segmentEntrySize, name: "segment table")
            (recordTable, recordCount) = try Self.table(try section(.records), entrySize: Format.recordEntrySize, name: "record table")
            (fileTable, fileCount) = try Self.table(try section(.files), entrySize: Format.fileEntrySize, name: "file index")
            buildInfo = try BuildInfo.read(try section(.buildInfo), languageCount: languages.count)
            treeState = found[.tree] == nil ? nil : try TreeState.read(try section(.tree), strings: strings, fileCount: fileCount)
            summariesEntry = found[.summaries]
            _ = try section(.segments)
            ownedSections = owned
        } catch let e as FormatError {
            Self.release(m, size: size, storage: storage)
            for b in owned { b.deallocate() }
            throw CSTPackError(e.description)
        } catch {
            Self.release(m, size: size, storage: storage)
            for b in owned { b.deallocate() }
            throw error
        }
    }

    deinit {
        Self.release(base, size: size, storage: storage)
        for b in ownedSections { b.deallocate() }
        summariesBuffer?.deallocate()
    }

    private static func release(_ m: UnsafeMutableRawPointer, size: Int, storage: Storage) {
        switch storage {
        case .mapped: munmap(m, size)
        case .heap: m.deallocate()
        }
    }

    /// Opens `explicit`, else `$CSTPACK_ARCHIVE`, else ./index.cstpack, with a message that
    /// says what was looked for.
    package static func open(explicit: String?) throws -> Archive {
        let path = try resolvePath(explicit: explicit)
        do {
            return try Archive(path: path)
        } catch let e as CSTPackError where explicit == nil && fromEnvironment != nil {
            throw CSTPackError("\(e.description) (named by $CSTPACK_ARCHIVE)")
        }
    }

    private static var fromEnvironment: String? {
        getenv("CSTPACK_ARCHIVE").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The archive path `open(explicit:)` reads: `explicit`, else `$CSTPACK_ARCHIVE`, else
    /// `index.cstpack` in the current directory or the nearest parent that has one (as git
    /// finds `.git`).
    package static func resolvePath(explicit: String?) throws -> String {
        if let e = explicit { return e }
        if let env = fromEnvironment { return env }
        var looked: [String] = []
        var dir = realPath(".") ?? "."
        while true {
            let candidate = (dir == "/" ? "" : dir) + "/" + defaultPath
            looked.append(dir)
            if access(candidate, F_OK) == 0 { return dir == realPath(".") ? defaultPath : candidate }
            guard dir != "/", let slash = dir.lastIndex(of: "/") else { break }
            dir = slash == dir.startIndex ? "/" : String(dir[..<slash])
        }
        let shown = looked.count <= 4 ? looked.joined(separator: ", ") : (looked.prefix(3) + ["…", looked.last!]).joined(separator: ", ")
        throw CSTPackError("no archive given and no \(defaultPath) in \(shown) (use -a/--archive PATH, set CSTPACK_ARCHIVE, or run `cstpack build DIR` first)")
    }

    /// A fixed-entry table that is its whole section: its entries and their count.
    private static func table(_ section: ByteReader, entrySize: Int, name: String) throws(FormatError) -> (ByteReader, Int) {
        var r = section
        let n = try TableHead.read(&r, entrySize: entrySize, name: name, exact: true)
        return (try section.slice(at: 8, length: n * entrySize, context: section.context), n)
    }

    // MARK: Entries

    package func segment(_ i: Int) throws(FormatError) -> SegmentEntry {
        guard i >= 0, i < segmentCount else { throw FormatError("segment \(i) outside the \(segmentCount) segments") }
        var r = segmentTable
        try r.seek(to: i * Format.segmentEntrySize)
        return try SegmentEntry.read(&r, segment: i, region: sections[.segments]!, maxRaw: maxSegmentRaw, baseCount: bases.count)
    }

    /// The stored (possibly compressed) bytes of segment `i`, inside the mapping: valid only
    /// while this archive lives, so not public (readers copy what they keep). The entry is
    /// read and checked here, never taken from a caller.
    func storedBytes(segment i: Int) throws(FormatError) -> UnsafeRawBufferPointer {
        let s = try segment(i)
        return UnsafeRawBufferPointer(start: base + Int(s.offset), count: Int(s.storedLength))
    }

    /// A copy of segment `i`'s stored bytes (its entry checked against the file).
    package func storedSegment(_ i: Int) throws(FormatError) -> [UInt8] { Array(try storedBytes(segment: i)) }

    /// Language `language`'s tag model, or nil when it has none. Parsed and validated on
    /// first use (its checksum too), then shared by every reader of this archive.
    package func tagModel(language: Int) throws(FormatError) -> TagModel? {
        guard language >= 0, language < modelBase.count, let b = modelBase[language] else { return nil }
        return try modelLock.locked { () throws(FormatError) -> TagModel in
            if let m = models[b] { return m }
            let bytes = try verifiedBaseBytes(b)
            let m = try TagModel.parse(bytes, table: languages[language], context: "base \(b) (tag model of \(languages[language].name))")
            models[b] = m
            return m
        }
    }

    /// Base `i`'s bytes (its bounds were checked when the archive was opened), inside
    /// memory this archive owns: not public.
    func baseBytes(_ i: Int) throws(FormatError) -> UnsafeRawBufferPointer {
        guard i >= 0, i < bases.count else { throw FormatError("base \(i) outside the \(bases.count) bases") }
        let b = bases[i]
        return UnsafeRawBufferPointer(start: basesContent.base! + Int(b.offset), count: Int(b.length))
    }

    /// Base `i`'s bytes, after checking them against the entry's checksum.
    func verifiedBaseBytes(_ i: Int) throws(FormatError) -> UnsafeRawBufferPointer {
        let bytes = try baseBytes(i)
        guard Hash.xxh3(bytes) == bases[i].checksum else { throw FormatError("base \(i): checksum mismatch") }
        return bytes
    }

    /// A copy of base `i`'s bytes.
    package func base(_ i: Int) throws(FormatError) -> [UInt8] { Array(try baseBytes(i)) }

    package func record(_ i: Int) throws(FormatError) -> RecordEntry {
        guard i >= 0, i < recordCount else { throw FormatError("record \(i) outside the \(recordCount) records") }
        // A seek, not a slice: no context string per record on this hot path.
        var r = recordTable
        try r.seek(to: i * Format.recordEntrySize)
        return try RecordEntry.read(&r, record: i, segmentCount: segmentCount)
    }

    package func file(_ i: Int) throws(FormatError) -> FileEntry {
        guard i >= 0, i < fileCount else { throw FormatError("file \(i) outside the \(fileCount) files") }
        var r = try fileTable.slice(at: i * Format.fileEntrySize, length: Format.fileEntrySize, context: "file \(i)")
        return try FileEntry.read(&r, file: i, languageCount: languages.count, recordCount: recordCount)
    }

    /// Whether the archive has file summaries (version 4).
    package var hasSummaries: Bool { summariesEntry != nil }

    /// The SUMMARIES table, read and checked on first use (nil when the archive has none):
    /// a search calls this once before its files, so that a damaged table is one error.
    package func summaryTable() throws(FormatError) -> (ends: ByteReader, body: ByteReader)? {
        guard let entry = summariesEntry else { return nil }
        return try summariesLock.locked { () throws(FormatError) -> (ends: ByteReader, body: ByteReader) in
            if summariesRead == nil {
                let all = ByteReader(UnsafeRawBufferPointer(start: base, count: size), context: path)
                summariesRead = Result { () throws(FormatError) -> (ends: ByteReader, body: ByteReader) in
                    try SummaryTable.read(try entry.content(of: all, path: path) { summariesBuffer = $0 }, fileCount: fileCount)
                }
            }
            return try summariesRead!.get()
        }
    }

    /// File `i`'s summary (checked against its entry), or nil in an archive without them.
    package func summary(ofFile i: Int) throws(FormatError) -> FileSummary? {
        guard var r = try summaryReader(ofFile: i) else { return nil }
        let entry = try file(i)
        return try FileSummary.read(&r, kindCount: languages[Int(entry.language)].kindCount, nodeCount: Int(entry.nodeCount))
    }

    /// File `i`'s summary bytes as stored (nil in an archive without summaries).
    package func summaryBytes(ofFile i: Int) throws(FormatError) -> [UInt8]? {
        guard var r = try summaryReader(ofFile: i) else { return nil }
        return Array(try r.bytes(r.count))
    }

    private func summaryReader(ofFile i: Int) throws(FormatError) -> ByteReader? {
        guard let (ends, body) = try summaryTable() else { return nil }
        guard i >= 0, i < fileCount else { throw FormatError("file \(i) outside the \(fileCount) files") }
        var e = ends
        var start = 0
        if i > 0 { try e.seek(to: 4 * (i - 1)); start = Int(try e.u32()) }
        let end = Int(try e.u32())
        return try body.slice(at: start, length: end - start, context: "summary of file \(i)")
    }

    package func path(ofFile i: Int) throws(FormatError) -> [UInt8] {
        try strings.byteArray(try file(i).pathID)
    }

    /// Binary search of the path-sorted file index.
    package func fileIndex(path: [UInt8]) throws(FormatError) -> Int? {
        var lo = 0, hi = fileCount
        while lo < hi {
            let mid = (lo + hi) / 2
            // Only the entry's path id (its first field) and a byte comparison: this runs
            // on every `query FILE ...`.
            var r = try fileTable.slice(at: mid * Format.fileEntrySize, length: 4, context: "file \(mid)")
            let p = try strings.bytes(try r.index(StringID.self))
            let order = path.withUnsafeBytes { q -> Int in
                let n = min(p.count, q.count)
                let c = n == 0 ? 0 : Int(memcmp(p.baseAddress!, q.baseAddress!, n))
                return c != 0 ? c : p.count - q.count
            }
            if order == 0 { return mid }
            if order < 0 { lo = mid + 1 } else { hi = mid }
        }
        return nil
    }
}
