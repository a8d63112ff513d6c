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

    package struct BaseEntry: Sendable {
        package var kind: UInt8
        package var stream: UInt8
        package var language: UInt16
        package var offset: UInt64
        package var length: UInt64
        package var checksum: UInt64
    }

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
    convenience init(copying bytes: UnsafeRawBufferPointer, name: String = "<memory>") throws {
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
            var h = try all.slice(at: 0, length: Format.headerSize, context: "\(path) header")
            let magic = Array(try h.bytes(8))
            guard magic == Format.magic else { throw FormatError("\(path): not a cstpack archive (bad magic bytes)") }
            version = try h.u32()
            guard Format.readableVersions.contains(version) else {
                throw FormatError("\(path): archive format version \(version); this cstpack reads versions \(Format.readableVersions.lowerBound) to \(Format.readableVersions.upperBound)")
            }
            let headerSum = Hash.xxh3(UnsafeRawBufferPointer(start: m, count: 56))
            let rawFlags = try h.u32()
            let fileLength = try h.u64()
            let tableOffset = try h.u64()
            let sectionCount = Int(try h.u32())
            maxSegmentRaw = Int(try h.u32())
            let tableSum = try h.u64()
            guard try h.u64() == 0 else { throw FormatError("\(path): reserved header bytes 48-55 are not zero") }
            guard Hash.checksumMatches(headerSum, try h.u64()) else { throw FormatError("\(path): header checksum mismatch (corrupt header)") }
            flags = Format.HeaderFlags(rawValue: rawFlags)
            guard Format.HeaderFlags.known.isSuperset(of: flags) else {
                throw FormatError("\(path): unknown header flags 0x\(String(rawFlags, radix: 16)) (written by a newer cstpack?)")
            }
            guard fileLength == UInt64(size) else {
                throw FormatError("\(path): archive is \(size) bytes but its header says \(fileLength) (truncated or extended)")
            }
            guard maxSegmentRaw <= Format.maxSegmentRaw else { throw FormatError("\(path): segment size \(maxSegmentRaw) too large") }
            guard sectionCount <= 64, tableOffset <= UInt64(size) else { throw FormatError("\(path): section table out of range") }
            let table = try all.slice(at: Int(tableOffset), length: sectionCount * Format.sectionEntrySize, context: "\(path) section table")
            guard Hash.checksumMatches(Hash.xxh3(UnsafeRawBufferPointer(start: table.base, count: table.count)), tableSum) else {
                throw FormatError("\(path): section table checksum mismatch")
            }
            var t = table
            var found: [Format.SectionID: SectionEntry] = [:]
            for _ in 0..<sectionCount {
                let rawID = try t.u32()
                let rawCodec = try t.u32()
                guard let codec = Format.SectionCodec(rawValue: rawCodec) else {
                    throw FormatError("\(path): section \(rawID) has unknown codec \(rawCodec)")
                }
                let entry = SectionEntry(id: rawID, codec: codec, offset: try t.u64(), length: try t.u64(), checksum: try t.u64())
                guard let id = Format.SectionID(rawValue: entry.id), Format.SectionID.required(version: version).contains(id) else {
                    throw FormatError("\(path): unknown section id \(entry.id) in a version \(version) archive")
                }
                guard found[id] == nil else { throw FormatError("\(path): section \(id) appears twice") }
                guard entry.offset >= UInt64(Format.headerSize), entry.offset <= UInt64(size),
                      entry.length <= UInt64(size) - entry.offset else {
                    throw FormatError("\(path): section \(id) (\(entry.offset)+\(entry.length)) lies outside the file")
                }
                found[id] = entry
            }
            for id in Format.SectionID.required(version: version) where found[id] == nil {
                throw FormatError("\(path): section \(id) is missing")
            }
            sections = found
            func section(_ id: Format.SectionID) throws(FormatError) -> ByteReader {
                let e = found[id]!
                let context = "\(path) \(id) section"
                var r = try all.slice(at: Int(e.offset), length: Int(e.length), context: context)
                if id == .segments {
                    guard e.codec == .stored else { throw FormatError("\(context): segments cannot be compressed as a section") }
                    return r
                }
                let sum = Hash.xxh3(UnsafeRawBufferPointer(start: r.base, count: r.count))
                guard Hash.checksumMatches(sum, e.checksum) else { throw FormatError("\(path): \(id) section checksum mismatch (corrupt)") }
                guard e.codec == .zstd else { return r }
                let raw = try r.u64()
                let stored = try r.bytes(r.remaining)
                guard raw <= UInt64(max(stored.count * Format.maxSectionExpansion, 1 << 20)), raw <= UInt64(Format.maxSegmentRaw) else {
                    throw FormatError("\(context): claims \(raw) bytes from \(stored.count) compressed")
                }
                let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(Int(raw), 1), alignment: 16)
                owned.append(buffer)
                let out = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<Int(raw)])
                do {
                    try SectionCompression.decompress(stored, into: out)
                } catch {
                    throw FormatError("\(context): \(error.description)")
                }
                return ByteReader(UnsafeRawBufferPointer(out), context: context)
            }
            strings = try StringTable(try section(.strings))
            languages = try Self.readLanguages(try section(.languages), strings: strings)
            let basesSection = try section(.bases)
            basesContent = basesSection
            bases = try Self.readBases(basesSection, languageCount: languages.count)
            var modelBase = [Int?](repeating: nil, count: languages.count)
            for (i, b) in bases.enumerated() where b.kind == Format.BaseKind.tagModel.rawValue {
                guard modelBase[Int(b.language)] == nil else {
                    throw FormatError("\(path): bases section: two tag models for language \(b.language)")
                }
                modelBase[Int(b.language)] = i
            }
            self.modelBase = modelBase
            (segmentTable, segmentCount) = try Self.table(try section(.segmentTable), entrySize: Format.segmentEntrySize, name: "segment table")
            (recordTable, recordCount) = try Self.table(try section(.records), entrySize: Format.recordEntrySize, name: "record table")
            (fileTable, fileCount) = try Self.table(try section(.files), entrySize: Format.fileEntrySize, name: "file index")
            buildInfo = try Self.readBuildInfo(try section(.buildInfo), languageCount: languages.count)
            treeState = found[.tree] == nil ? nil : try TreeState.read(try section(.tree), strings: strings, fileCount: fileCount)
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

    private static func table(_ r: ByteReader, entrySize: Int, name: String) throws(FormatError) -> (ByteReader, Int) {
        var h = r
        let n = Int(try h.u32())
        guard try h.u32() == 0 else { throw FormatError("\(r.context): reserved field is not zero") }
        guard n <= (r.count - 8) / entrySize, r.count == 8 + n * entrySize else {
            throw FormatError("\(r.context): \(name) of \(n) entries does not match its \(r.count) bytes")
        }
        return (try r.slice(at: 8, length: n * entrySize, context: r.context), n)
    }

    private static func readLanguages(_ section: ByteReader, strings: StringTable) throws(FormatError) -> [LanguageTable] {
        var r = section
        let n = Int(try r.u32())
        guard n <= 0xFFFF else { throw FormatError("\(r.context): \(n) languages") }
        var out: [LanguageTable] = []
        for _ in 0..<n {
            let name = try strings.string(try r.u32())
            let abi = try r.u32()
            let hash = try r.u64()
            let kinds = Int(try r.u32())
            guard kinds >= 1, kinds <= 0x10000, kinds * 5 <= r.remaining else { throw FormatError("\(r.context): \(name): \(kinds) kinds") }
            var kindNames: [String] = [], kindNamed: [Bool] = []
            for _ in 0..<kinds {
                kindNames.append(try strings.string(try r.u32()))
                let named = try r.u8()
                guard named <= 1 else { throw FormatError("\(r.context): \(name): bad named flag") }
                kindNamed.append(named == 1)
            }
            let fields = Int(try r.u32())
            guard fields < 0xFFFF, fields * 4 <= r.remaining else { throw FormatError("\(r.context): \(name): \(fields) fields") }
            var fieldNames = [""]
            for _ in 0..<fields { fieldNames.append(try strings.string(try r.u32())) }
            let table = LanguageTable(name: name, abi: abi, kindNames: kindNames, kindNamed: kindNamed, fieldNames: fieldNames)
            guard table.grammarHash == hash else { throw FormatError("\(r.context): \(name): grammar hash does not match its tables") }
            out.append(table)
        }
        guard r.isAtEnd else { throw FormatError("\(r.context): \(r.remaining) stray bytes") }
        return out
    }

    private static func readBases(_ section: ByteReader, languageCount: Int) throws(FormatError) -> [BaseEntry] {
        var r = section
        let n = Int(try r.u32())
        guard try r.u32() == 0 else { throw FormatError("\(r.context): reserved field is not zero") }
        guard n <= r.remaining / Format.baseEntrySize else { throw FormatError("\(r.context): \(n) bases do not fit") }
        var out: [BaseEntry] = []
        for _ in 0..<n {
            let kind = try r.u8(), stream = try r.u8(), language = try r.u16()
            guard let k = Format.BaseKind(rawValue: kind), let s = Format.Stream(rawValue: stream) else {
                throw FormatError("\(r.context): base of unknown kind \(kind) or stream \(stream)")
            }
            guard k != .tagModel || (s == .cst && Int(language) < languageCount) else {
                throw FormatError("\(r.context): tag model for stream \(stream), language \(language) (\(languageCount) languages)")
            }
            guard try r.u32() == 0 else { throw FormatError("\(r.context): reserved field is not zero") }
            let e = BaseEntry(kind: kind, stream: stream, language: language,
                              offset: try r.u64(), length: try r.u64(), checksum: try r.u64())
            let tableEnd = UInt64(8 + n * Format.baseEntrySize)
            guard e.offset >= tableEnd, e.offset <= UInt64(section.count), e.length <= UInt64(section.count) - e.offset else {
                throw FormatError("\(r.context): base outside the section")
            }
            out.append(e)
        }
        return out
    }

    private static func readBuildInfo(_ section: ByteReader, languageCount: Int) throws(FormatError) -> BuildInfo {
        var r = section
        var info = BuildInfo()
        let n = Int(try r.u32())
        guard n == languageCount else { throw FormatError("\(r.context): \(n) language entries for \(languageCount) languages") }
        for _ in 0..<n {
            let lang = try r.u16()
            guard try r.u16() == 0, Int(lang) < languageCount else { throw FormatError("\(r.context): bad language entry") }
            info.languages.append(LanguageBuildInfo(language: lang, files: try r.u32(), treeSitterBytes: try r.u64(),
                                                    phase1Bytes: try r.u64(), bytecodeBytes: try r.u64(),
                                                    unmodelledBytes: try r.u64()))
        }
        guard let codec = Codec(rawValue: try r.u8()) else { throw FormatError("\(r.context): unknown codec") }
        info.codec = codec
        info.level = Int(Int8(bitPattern: try r.u8()))
        info.phases = Format.Phases(rawValue: try r.u16())
        guard Format.Phases.all.isSuperset(of: info.phases) else { throw FormatError("\(r.context): unknown phase bits") }
        info.segmentSize = try r.u32()
        let counts = Int(try r.u32())
        guard counts == SkipCounts.fieldCount else { throw FormatError("\(r.context): \(counts) skip counters") }
        var a: [Int] = []
        for _ in 0..<counts { a.append(Int(try r.u32())) }
        info.skipped = SkipCounts(a)
        guard r.isAtEnd else { throw FormatError("\(r.context): \(r.remaining) stray bytes") }
        return info
    }

    // MARK: Entries

    package func segment(_ i: Int) throws(FormatError) -> SegmentEntry {
        guard i >= 0, i < segmentCount else { throw FormatError("segment \(i) outside the \(segmentCount) segments") }
        var r = segmentTable
        try r.seek(to: i * Format.segmentEntrySize)
        let offset = try r.u64(), stored = try r.u32(), raw = try r.u32()
        let codecByte = try r.u8(), streamByte = try r.u8()
        guard try r.u16() == 0 else { throw FormatError("segment \(i): reserved field is not zero") }
        let base = try r.u32(), checksum = try r.u64()
        guard let codec = Codec(rawValue: codecByte) else { throw FormatError("segment \(i): unknown codec \(codecByte)") }
        guard let stream = Format.Stream(rawValue: streamByte) else { throw FormatError("segment \(i): unknown stream \(streamByte)") }
        let seg = sections[.segments]!
        guard offset >= seg.offset, UInt64(stored) <= seg.offset + seg.length - min(offset, seg.offset + seg.length),
              offset <= seg.offset + seg.length else {
            throw FormatError("segment \(i): \(offset)+\(stored) lies outside the segments section")
        }
        guard raw >= 1, Int(raw) <= maxSegmentRaw else { throw FormatError("segment \(i): raw length \(raw) outside 1...\(maxSegmentRaw)") }
        guard base == Format.none32 || Int(base) < bases.count else { throw FormatError("segment \(i): base \(base) does not exist") }
        return SegmentEntry(offset: offset, storedLength: stored, rawLength: raw, codec: codec, stream: stream, base: base, checksum: checksum)
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
            let bytes = try baseBytes(b)
            guard Hash.checksumMatches(Hash.xxh3(bytes), bases[b].checksum) else { throw FormatError("base \(b): checksum mismatch") }
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

    /// A copy of base `i`'s bytes.
    package func base(_ i: Int) throws(FormatError) -> [UInt8] { Array(try baseBytes(i)) }

    package func record(_ i: Int) throws(FormatError) -> RecordEntry {
        guard i >= 0, i < recordCount else { throw FormatError("record \(i) outside the \(recordCount) records") }
        var r = recordTable
        try r.seek(to: i * Format.recordEntrySize)
        let e = RecordEntry(segment: try r.u32(), offset: try r.u32(), length: try r.u32(), first: try r.u32())
        // Callers index per-segment tables with this: it must name an existing segment.
        guard Int(e.segment) < segmentCount else { throw FormatError("record \(i): segment \(e.segment) does not exist (\(segmentCount) segments)") }
        return e
    }

    package func file(_ i: Int) throws(FormatError) -> FileEntry {
        guard i >= 0, i < fileCount else { throw FormatError("file \(i) outside the \(fileCount) files") }
        var r = try fileTable.slice(at: i * Format.fileEntrySize, length: Format.fileEntrySize, context: "file \(i)")
        let e = try FileEntry.read(&r)
        guard Int(e.language) < languages.count else { throw FormatError("file \(i): language \(e.language) does not exist") }
        guard Format.FileFlags.known.isSuperset(of: e.flags), !e.flags.isSuperset(of: [.source, .lineTable]) else { throw FormatError("file \(i): unknown flags \(e.flags.rawValue)") }
        // Node ids are Int32 in decoded trees: a larger count (forged; checksums are no MAC)
        // would let ids pass `id < node_count` and trap on conversion.
        guard e.nodeCount >= 1, e.nodeCount <= UInt32(Int32.max) else {
            throw FormatError("file \(i): \(e.nodeCount) nodes (1 to 2147483647)")
        }
        guard UInt64(e.firstCSTRecord) + UInt64(e.cstRecordCount) <= UInt64(recordCount),
              UInt64(e.firstSourceRecord) + UInt64(e.sourceRecordCount) <= UInt64(recordCount), e.cstRecordCount >= 1 else {
            throw FormatError("file \(i): records outside the record table")
        }
        return e
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
            let p = try strings.bytes(try r.u32())
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
