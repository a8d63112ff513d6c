import Glibc

/// One file, encoded by a worker and ready to be appended in path order.
package struct EncodedFile: Sendable {
    package var path: [UInt8]
    package var stamp: FileStamp
    package var language: Int
    package var contentHash: ContentHash
    package var sourceLength: Int
    package var lineCount: Int
    package var nodeCount: Int
    package var syntaxErrors: Bool
    package var cst: TreeCodec.Encoded
    /// What the source records hold: the text, or a line table, or nothing.
    package var sourcePayload: [UInt8]
    package var sourceFlags: Format.FileFlags
    package var treeSitterBytes: Int
    /// The file's summary (SUMMARIES), as stored.
    package var summary: [UInt8]
}

/// Writes an archive to a temporary file beside the destination and renames it into
/// place only when complete (fsync before and after), so an interrupted build leaves the
/// previous archive untouched.
package final class ArchiveWriter {
    package let destination: String
    let tempPath: String
    private var fd: Int32
    private var offset: UInt64
    private let compressor: Compressor
    /// Source text is compressed at its own (usually faster) level: it is not the CST.
    private let sourceCompressor: Compressor
    private let segmentSize: Int
    private var finished = false

    private var strings = StringTableBuilder()
    private let languages: [LanguageTable]
    private var segments: [SegmentEntry] = []
    private var records: [RecordEntry] = []
    private var files: [FileEntry] = []
    private var byContent: [ContentHashKey: Int] = [:]
    private var pending: [Format.Stream: PendingSegment] = [.cst: PendingSegment(), .source: PendingSegment()]
    private var lastPath: [UInt8]? = nil
    package private(set) var buildInfo: BuildInfo
    private var maxRaw = 0

    struct ContentHashKey: Hashable { var hash: ContentHash; var language: Int }

    struct PendingSegment {
        var bytes: [UInt8] = []
        /// Records placed in this segment, whose segment index is known once it is sealed.
        var recordIndices: [Int] = []
    }

    /// The TREE section's content but the per-file states, which `add` collects.
    private var tree: TreeState? = nil
    private var fileStates: [StoredFileState] = []
    /// Each file's summary bytes, in FILES order.
    private var summaries: [[UInt8]] = []
    /// Whether `finish` syncs to disk and compresses metadata (an archive for one answer,
    /// deleted after, needs neither).
    private let durable: Bool

    /// Tag models by language (phase 2), written as bases.
    private var models: [TagModel?]
    /// Identical files share records (phase 2).
    private let shareIdentical: Bool

    /// The tag models the files were encoded with (set before `finish`).
    package func setModels(_ m: [TagModel?]) {
        precondition(m.count == languages.count, "one model slot per language")
        models = m
    }

    /// The directory, options and skipped files for the TREE section (set before `finish`).
    package func setTree(_ t: TreeState) { tree = t }

    package init(destination: String, languages: [LanguageTable], phases: Format.Phases = .all,
                codec: Codec, level: Int, sourceLevel: Int, segmentSize: Int, durable: Bool = true) throws {
        self.destination = destination
        self.durable = durable
        self.languages = languages
        models = languages.map { _ in nil }
        shareIdentical = phases.contains(.delta)
        self.segmentSize = segmentSize
        compressor = Compressor(codec: codec, level: level)
        sourceCompressor = Compressor(codec: codec, level: sourceLevel)
        tempPath = destination + ".tmp-\(getpid())"
        Self.removeStaleTemporaries(of: destination)
        fd = open(tempPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CSTPackError("\(tempPath): cannot create: \(errnoText())") }
        TemporaryFiles.register(tempPath)
        offset = 0
        buildInfo = BuildInfo(languages: languages.indices.map { LanguageBuildInfo(language: UInt16($0), files: 0, treeSitterBytes: 0, phase1Bytes: 0, bytecodeBytes: 0) },
                              codec: codec, level: level, segmentSize: UInt32(segmentSize), phases: phases)
        do {
            try write([UInt8](repeating: 0, count: Format.headerSize)) // header is written last
        } catch {
            abort()
            throw error
        }
    }

    deinit { if !finished { abort() } }

    /// Removes `<destination>.tmp-<pid>` files left by builds that were killed (kill -9
    /// cannot be caught), when that process no longer exists.
    static func removeStaleTemporaries(of destination: String) {
        let dir = directoryOf(destination)
        let prefix = String(destination.split(separator: "/").last ?? "") + ".tmp-"
        guard let names = try? listDirectory(dir) else { return }
        for name in names where name.hasPrefix(prefix) {
            guard let pid = Int32(name.dropFirst(prefix.count)), pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { unlink(dir + "/" + name) }
        }
    }

    /// Removes the temporary file (after a failure).
    package func abort() {
        finished = true
        if fd >= 0 { close(fd); fd = -1 }
        unlink(tempPath)
        TemporaryFiles.unregister(tempPath)
    }

    private func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    private func write(_ bytes: UnsafeRawBufferPointer) throws {
        let code = writeAll(fd, bytes)
        if code != 0 {
            // Disk full, a file size limit, an I/O error: say what it means for the user
            // (the caller aborts, which removes the temporary file).
            throw CSTPackError("\(destination): cannot write the archive: \(errnoText(code)) (after \(offset) bytes of \(tempPath), which is removed; the previous archive is unchanged)")
        }
        offset += UInt64(bytes.count)
    }

    /// Appends a file. Files must come in strictly increasing byte order of path.
    package func add(_ file: EncodedFile) throws {
        let state = StoredFileState(stamp: file.stamp, treeSitterBytes: UInt32(clamping: file.treeSitterBytes),
                                    phase1Bytes: UInt32(clamping: file.cst.phase1Bytes), unmodelledBytes: UInt32(clamping: file.cst.plainBytes))
        let entry = FileEntry(pathID: strings.intern(file.path), language: UInt16(file.language),
                              flags: file.sourceFlags.union(file.syntaxErrors ? .syntaxErrors : []),
                              contentHash: file.contentHash, sourceLength: UInt32(file.sourceLength),
                              lineCount: UInt32(file.lineCount), nodeCount: UInt32(file.nodeCount),
                              cstBytes: UInt32(file.cst.byteCount), firstCSTRecord: RecordID(0), cstRecordCount: 0,
                              firstSourceRecord: RecordID(0), sourceRecordCount: 0, sameAs: nil)
        try add(file.path, entry, state: state, summary: file.summary) {
            for (record, first) in zip(file.cst.records, file.cst.firstNodes) {
                try place(record[...], stream: .cst, first: first)
            }
            return file.cst.records.count
        } placeSource: {
            var start = 0
            while start < file.sourcePayload.count {
                let end = min(file.sourcePayload.count, start + segmentSize)
                try place(file.sourcePayload[start..<end], stream: .source, first: UInt32(start))
                start = end
            }
        }
    }

    /// A record of a file taken from another archive: one left in a segment copied whole
    /// (`copySegment`), or its bytes, placed like a new record.
    package enum CopiedRecord {
        case inCopiedSegment(RecordEntry)
        case bytes(ArraySlice<UInt8>, first: UInt32)
    }

    /// Appends a file whose records come from another archive, unchanged (`update`,
    /// `build --reuse`). `entry` is that archive's entry (its language already this
    /// archive's index), `summary` its summary; its records are placed in the order given.
    package func add(copied path: [UInt8], _ entry: FileEntry, state: StoredFileState, summary: [UInt8],
                    cst: () throws -> [CopiedRecord], source: () throws -> [CopiedRecord]) throws {
        var e = entry
        e.pathID = strings.intern(path)
        e.sameAs = nil
        func put(_ list: [CopiedRecord], _ stream: Format.Stream) throws {
            for r in list {
                switch r {
                case .inCopiedSegment(let entry):
                    precondition(copiedSegments.contains(entry.segment.index), "a record of a segment that was not copied")
                    records.append(entry)
                case .bytes(let bytes, let first): try place(bytes, stream: stream, first: first)
                }
            }
        }
        try add(path, e, state: state, summary: summary) {
            let r = try cst()
            try put(r, .cst)
            return r.count
        } placeSource: {
            try put(try source(), .source)
        }
    }

    private func add(_ path: [UInt8], _ fileEntry: FileEntry, state: StoredFileState, summary: [UInt8],
                     placeCST: () throws -> Int, placeSource: () throws -> Void) throws {
        if let last = lastPath { precondition(last.lexicographicallyPrecedes(path), "files out of order") }
        lastPath = path
        let language = Int(fileEntry.language)
        var info = buildInfo.languages[language]
        info.files += 1
        info.treeSitterBytes += UInt64(state.treeSitterBytes)
        info.phase1Bytes += UInt64(state.phase1Bytes)
        info.bytecodeBytes += UInt64(fileEntry.cstBytes)
        info.unmodelledBytes += UInt64(state.unmodelledBytes)
        buildInfo.languages[language] = info

        var entry = fileEntry
        let key = ContentHashKey(hash: entry.contentHash, language: language)
        if shareIdentical, let earlier = byContent[key], files[earlier].flags == entry.flags {
            // Identical content, same language: share the earlier file's records (phase 2).
            let e = files[earlier]
            entry.firstCSTRecord = e.firstCSTRecord; entry.cstRecordCount = e.cstRecordCount
            entry.firstSourceRecord = e.firstSourceRecord; entry.sourceRecordCount = e.sourceRecordCount
            entry.sameAs = FileID(earlier)
        } else {
            entry.firstCSTRecord = RecordID(records.count)
            entry.cstRecordCount = UInt32(try placeCST())
            entry.firstSourceRecord = RecordID(records.count)
            try placeSource()
            entry.sourceRecordCount = UInt32(records.count - entry.firstSourceRecord.index)
            entry.sameAs = nil
            byContent[key] = files.count
        }
        files.append(entry)
        fileStates.append(state)
        summaries.append(summary)
    }

    /// Segments written whole from another archive, by their index here.
    private var copiedSegments = Set<Int>()

    /// Writes segment `i` of `archive` as it is stored there (no decompression); returns
    /// its index in this archive. Its checksum is verified first: a copy never hides damage.
    package func copySegment(_ i: Int, of archive: Archive) throws -> SegmentID {
        let s = try archive.segment(i)
        precondition(s.base == nil, "segments that name a base are not copied")
        let stored = try archive.storedBytes(segment: i)
        guard Hash.xxh3(stored) == s.checksum else {
            throw CSTPackError("\(archive.path): segment \(i): checksum mismatch (corrupt data)")
        }
        let index = segments.count
        var e = s
        e.offset = offset
        segments.append(e)
        maxRaw = max(maxRaw, Int(s.rawLength))
        copiedSegments.insert(index)
        try write(stored)
        return SegmentID(index)
    }

    private func place(_ bytes: ArraySlice<UInt8>, stream: Format.Stream, first: UInt32) throws {
        if !pending[stream]!.bytes.isEmpty && pending[stream]!.bytes.count + bytes.count > segmentSize {
            try seal(stream)
        }
        let index = records.count
        // The segment is known when it is sealed.
        records.append(RecordEntry(segment: SegmentID(rawValue: .max), offset: UInt32(pending[stream]!.bytes.count),
                                   length: UInt32(bytes.count), first: first))
        pending[stream]!.bytes.append(contentsOf: bytes)
        pending[stream]!.recordIndices.append(index)
    }

    private func seal(_ stream: Format.Stream) throws {
        let p = pending[stream]!
        guard !p.bytes.isEmpty else { return }
        pending[stream] = PendingSegment()
        let c = stream == .cst ? compressor : sourceCompressor
        let stored = try p.bytes.withUnsafeBytes { try c.compress($0) }
        let useStored = compressor.codec != .none && stored.count < p.bytes.count
        let payload = useStored ? stored : p.bytes
        let segmentIndex = SegmentID(segments.count)
        segments.append(SegmentEntry(offset: offset, storedLength: UInt32(payload.count), rawLength: UInt32(p.bytes.count),
                                     codec: useStored ? compressor.codec : .none, stream: stream, base: nil,
                                     checksum: Hash.xxh3(payload)))
        maxRaw = max(maxRaw, p.bytes.count)
        for r in p.recordIndices { records[r].segment = segmentIndex }
        try write(payload)
    }

    /// Writes the remaining sections and the header, syncs and renames into place.
    package func finish(skipped: SkipCounts) throws {
        do {
            try seal(.cst)
            try seal(.source)
            buildInfo.skipped = skipped
            let segmentsStart = UInt64(Format.headerSize)
            var sections = [SectionEntry(id: .segments, codec: .stored, offset: segmentsStart, length: offset - segmentsStart, checksum: 0)]
            // Metadata is compressed when that saves bytes (Spec/FORMAT.md, "Section table").
            func section(_ id: Format.SectionID, _ raw: [UInt8]) throws {
                let (codec, bytes) = try SectionEntry.store(raw, compress: durable)
                sections.append(SectionEntry(id: id, codec: codec, offset: offset, length: UInt64(bytes.count), checksum: Hash.xxh3(bytes)))
                try write(bytes)
            }
            // Language tables intern their names before the string table is written.
            let languageBytes = LanguageTable.writeSection(languages, strings: &strings)
            let treeBytes = serializeTree()
            try section(.strings, strings.serialize())
            try section(.languages, languageBytes)
            try section(.bases, BaseEntry.writeSection(models.enumerated().compactMap { i, m in
                m.map { (kind: .tagModel, stream: .cst, language: UInt16(i), bytes: $0.serialized()) }
            }))
            try section(.segmentTable, table(segments) { $0.write(to: &$1) })
            try section(.records, table(records) { $0.write(to: &$1) })
            try section(.files, table(files) { $0.write(to: &$1) })
            var info = ByteWriter()
            buildInfo.write(to: &info)
            try section(.buildInfo, info.bytes)
            try section(.tree, treeBytes)
            try section(.summaries, SummaryTable.write(summaries))

            let table = SectionEntry.writeTable(sections)
            let tableOffset = offset
            try write(table)

            let header = ArchiveHeader(flags: files.contains { $0.flags.contains(.source) } ? .sources : [],
                                       fileLength: offset, tableOffset: tableOffset, sectionCount: sections.count,
                                       maxSegmentRaw: maxRaw, tableChecksum: Hash.xxh3(table)).write()
            try header.withUnsafeBytes { h in
                guard pwrite(fd, h.baseAddress, h.count, 0) == h.count else {
                    throw CSTPackError("\(tempPath): cannot write header: \(errnoText())")
                }
            }
            guard !durable || fsync(fd) == 0 else { throw CSTPackError("\(tempPath): fsync failed: \(errnoText())") }
            guard close(fd) == 0 else { fd = -1; throw CSTPackError("\(tempPath): close failed: \(errnoText())") }
            fd = -1
            guard rename(tempPath, destination) == 0 else {
                throw CSTPackError("cannot rename \(tempPath) to \(destination): \(errnoText())")
            }
            TemporaryFiles.unregister(tempPath)
            finished = true
            if durable { syncDirectory(of: destination) }
        } catch {
            abort()
            throw error
        }
    }

    package var fileCount: Int { files.count }
    package var archiveBytes: UInt64 { offset }

    private func serializeTree() -> [UInt8] {
        var t = tree ?? TreeState(root: [], machine: [], options: TreeOptions(), files: [], passedOver: [])
        t.files = fileStates
        var w = ByteWriter()
        t.write(to: &w, strings: &strings)
        return w.bytes
    }

    /// A fixed-entry table section: its head, then each entry.
    private func table<Entry>(_ entries: [Entry], _ write: (Entry, inout ByteWriter) -> Void) -> [UInt8] {
        var w = ByteWriter()
        TableHead.write(count: entries.count, to: &w)
        for e in entries { write(e, &w) }
        return w.bytes
    }
}

private func syncDirectory(of path: String) {
    let dir = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
    let fd = open(dir.isEmpty ? "/" : dir, O_RDONLY | O_DIRECTORY)
    if fd >= 0 { fsync(fd); close(fd) }
}
