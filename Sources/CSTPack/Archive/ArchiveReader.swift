/// Reads files out of an Archive for one thread: decompresses segments (checking their
/// checksums and sizes), keeps recently used ones in a size-bounded LRU cache, and decodes
/// CSTs, source text and line tables. Not shared between threads: make one per thread.
package final class ArchiveReader {
    package let archive: Archive
    private let decompressor = Decompressor()
    private var cache: [Int: (bytes: [UInt8], lastUse: Int, complete: Bool)] = [:]
    /// Bytes of decompressed segments the cache holds now.
    private(set) var cachedBytes = 0
    private var clock = 0
    package let cacheLimit: Int
    package private(set) var segmentsDecompressed = 0
    /// Segment reads, and those the cache answered (the public API reports the hit rate).
    private(set) var segmentRequests = 0, segmentHits = 0

    private var trees: [(file: Int, tree: FileTree)] = []
    /// Decode buffers that point lookups reuse (their trees are copied out of them).
    var lookupBuffers: TreeDecoder.Buffers? = nil
    /// Decoded files kept for repeated lookups (0 turns the cache off).
    package var treeCacheLimit = 8

    func cachedTree(_ i: Int) -> FileTree? {
        guard let k = trees.firstIndex(where: { $0.file == i }) else { return nil }
        let hit = trees.remove(at: k)
        trees.append(hit)
        return hit.tree
    }

    func cacheTree(_ t: FileTree, for i: Int) {
        guard treeCacheLimit > 0 else { return }
        if trees.count >= treeCacheLimit { trees.removeFirst() }
        trees.append((i, t))
    }

    /// Whether record reads decompress a segment only up to the record (a lookup), or
    /// whole (a scan over many files: a prefix read later extended would decompress the
    /// segment's start again).
    package let readsPrefixes: Bool

    package init(_ archive: Archive, cacheLimit: Int = 64 << 20, scanning: Bool = false) {
        self.archive = archive
        self.cacheLimit = cacheLimit
        readsPrefixes = !scanning
    }

    /// The decompressed bytes of segment `i` (checksum and length verified), or with
    /// `prefix`, at least its first `prefix` bytes (the whole segment's length is then
    /// checked only if it is all decompressed).
    package func segmentBytes(_ i: Int, prefix: Int? = nil) throws -> [UInt8] {
        clock += 1
        segmentRequests += 1
        if let hit = cache[i], hit.bytes.count >= (prefix ?? Int.max) || hit.complete {
            cache[i]!.lastUse = clock
            segmentHits += 1
            return hit.bytes
        }
        if let old = cache.removeValue(forKey: i) { cachedBytes -= old.bytes.count }
        let s = try archive.segment(i)
        let stored = try archive.storedBytes(segment: i)
        guard Hash.xxh3(stored) == s.checksum else { throw FormatError("segment \(i): checksum mismatch (corrupt data)") }
        var out: [UInt8] = []
        var dict: (id: Int, bytes: UnsafeRawBufferPointer)? = nil
        if let id = s.base {
            let b = id.index
            dict = (b, try archive.verifiedBaseBytes(b))
        }
        // A prefix is rounded up to 64 KiB, so that the next records of the same segment
        // are usually there already.
        let want = prefix.map { min(Int(s.rawLength), ($0 + 0xFFFF) & ~0xFFFF) } ?? Int(s.rawLength)
        do {
            try decompressor.decompress(stored, codec: s.codec, rawLength: Int(s.rawLength), prefix: want, dictionary: dict, into: &out)
        } catch {
            throw FormatError("segment \(i): \(error)")
        }
        segmentsDecompressed += 1
        while cachedBytes + out.count > cacheLimit, let victim = cache.min(by: { $0.value.lastUse < $1.value.lastUse }) {
            cachedBytes -= victim.value.bytes.count
            cache.removeValue(forKey: victim.key)
        }
        cache[i] = (out, clock, out.count == Int(s.rawLength))
        cachedBytes += out.count
        return out
    }

    /// The bytes of record `i`, checked to lie inside its segment of the expected stream.
    package func recordBytes(_ i: Int, stream: Format.Stream) throws -> ArraySlice<UInt8> {
        let r = try archive.record(i)
        let s = try archive.segment(r.segment.index)
        guard s.stream == stream else { throw FormatError("record \(i) points into a \(s.stream) segment, expected \(stream)") }
        let bytes = try segmentBytes(r.segment.index, prefix: readsPrefixes ? Int(r.offset) + Int(r.length) : nil)
        guard UInt64(r.offset) + UInt64(r.length) <= UInt64(bytes.count) else {
            throw FormatError("record \(i): \(r.offset)+\(r.length) outside segment \(r.segment) (\(bytes.count) bytes)")
        }
        return bytes[Int(r.offset)..<Int(r.offset + r.length)]
    }

    /// Decodes file `i`'s whole CST.
    package func tree(ofFile i: Int) throws -> CSTTree {
        try decode(file: i, reusing: nil).tree()
    }

    /// Decodes file `i`'s whole CST into `reusing` when given (scans over many files then
    /// allocate once; the buffers grow if needed), else into new buffers.
    package func decode(file i: Int, reusing: TreeDecoder.Buffers?) throws -> TreeDecoder.Buffers {
        let f = try archive.file(i)
        let table = archive.languages[Int(f.language)]
        let context = "file \(i)"
        try checkNodeCount(f, fromRecord: 0, firstNode: 0, context: context)
        var d = TreeDecoder(table: table, model: try archive.tagModel(language: Int(f.language)), nodeCount: Int(f.nodeCount),
                            sourceLength: Int(f.sourceLength), reusing: reusing)
        var total = 0
        for (k, recordIndex) in f.cstRecords.enumerated() {
            let rec = try archive.record(recordIndex)
            guard Int(rec.first) == d.count else {
                throw FormatError("\(context) record \(k): says it starts at node \(rec.first), the stream is at node \(d.count)")
            }
            let bytes = try recordBytes(recordIndex, stream: .cst)
            total += bytes.count
            try bytes.withUnsafeBytes { raw in
                try d.feed(raw, context: "\(context) record \(k)")
            }
        }
        guard total == Int(f.cstBytes) else { throw FormatError("\(context): CST is \(total) bytes, the index says \(f.cstBytes)") }
        return try d.finishInPlace(context: context)
    }

    /// File `i`'s summary worked out from its stored tree and text (what a build writes in
    /// SUMMARIES for it).
    package func computedSummary(ofFile i: Int) throws -> FileSummary {
        let buffers = try decode(file: i, reusing: nil)
        let kindCount = archive.languages[Int(try archive.file(i).language)].kindCount
        return try withSource(ofFile: i) { FileSummary(buffers, kindCount: kindCount, source: $0) }
            ?? FileSummary(buffers, kindCount: kindCount, source: nil)
    }

    /// The stored source text of file `i`, or nil when the archive has none for it.
    package func source(ofFile i: Int) throws -> [UInt8]? {
        try withSource(ofFile: i) { [UInt8]($0) }
    }

    /// Calls `body` with file `i`'s stored text, or returns nil when the archive has none
    /// for it. Each record must start where the text has got to, and the whole must be
    /// `source_length` long (no buffer is reserved from that unchecked claim: fuzzing found
    /// a 600 MB reserve from a 6 KB archive).
    package func withSource<R>(ofFile i: Int, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R? {
        let f = try archive.file(i)
        guard f.flags.contains(.source) else { return nil }
        var parts: [ArraySlice<UInt8>] = []
        var length = 0
        for (k, r) in f.sourceRecords.enumerated() {
            let rec = try archive.record(r)
            guard Int(rec.first) == length else { throw FormatError("file \(i): source record \(k) starts at \(rec.first), expected \(length)") }
            let bytes = try recordBytes(r, stream: .source)
            length += bytes.count
            parts.append(bytes)
        }
        guard length == Int(f.sourceLength) else { throw FormatError("file \(i): source is \(length) bytes, the index says \(f.sourceLength)") }
        // Text in one record (the usual case) is handed over in place, inside its segment: a
        // scan of many files for a literal then copies nothing.
        if parts.count == 1 { return try parts[0].withUnsafeBytes(body) }
        return try Array(parts.joined()).withUnsafeBytes(body)
    }

    /// Row start offsets of file `i` (from the source, or from the stored line table).
    package func lineStarts(ofFile i: Int, source: [UInt8]?) throws -> [UInt32]? {
        if let s = source { return s.withUnsafeBytes { Lines.starts($0) } }
        let f = try archive.file(i)
        guard f.flags.contains(.lineTable) else { return nil }
        var bytes: [UInt8] = []
        for r in f.sourceRecords { bytes.append(contentsOf: try recordBytes(r, stream: .source)) }
        return try bytes.withUnsafeBytes { raw in try LineTable.decode(raw, sourceLength: Int(f.sourceLength)) }
    }

    /// Every node takes at least one byte of bytecode: a node count beyond the bytes of the
    /// records is corrupt, and is refused before decoding (the decoder's buffers grow with
    /// the nodes actually decoded, so memory does not depend on this claim either).
    func checkNodeCount(_ f: FileEntry, fromRecord k: Int, firstNode: Int, context: String) throws {
        var bytes = 0
        for r in f.cstRecords.dropFirst(k) { bytes += Int(try archive.record(r).length) }
        guard firstNode <= Int(f.nodeCount), Int(f.nodeCount) - firstNode <= bytes else {
            throw FormatError("\(context): \(f.nodeCount) nodes cannot fit in \(bytes) bytes of records")
        }
    }

    /// One node of file `i`, decoded from the nearest checkpoint: only the segments of the
    /// records from that checkpoint to the node's end are read.
    package func node(ofFile i: Int, id: Int) throws -> NodeRecord {
        let f = try archive.file(i)
        guard id >= 0, id < Int(f.nodeCount) else { throw FormatError("node \(id) outside the \(f.nodeCount) nodes of file \(i)") }
        var k = Int(f.cstRecordCount) - 1
        while k > 0, Int(try archive.record(f.firstCSTRecord.index + k).first) > id { k -= 1 }
        let start = Int(try archive.record(f.firstCSTRecord.index + k).first)
        try checkNodeCount(f, fromRecord: k, firstNode: start, context: "file \(i)")
        var d = TreeDecoder(table: archive.languages[Int(f.language)], model: try archive.tagModel(language: Int(f.language)),
                            nodeCount: Int(f.nodeCount),
                            sourceLength: Int(f.sourceLength), base: start)
        while k < Int(f.cstRecordCount) {
            let bytes = try recordBytes(f.firstCSTRecord.index + k, stream: .cst)
            let complete = try bytes.withUnsafeBytes { (raw) -> Bool in
                var r = ByteReader(raw, context: "file \(i) record \(k)")
                try d.readState(&r, checkAgainstRunning: d.recordsRead > 0)
                return try d.run(&r, stopAfter: Int32(id))
            }
            if complete { return d.record(id) }
            k += 1
        }
        throw FormatError("file \(i): node \(id) is never completed")
    }
}

/// One node's facts, as a reader returns them.
package struct NodeRecord: Equatable, Sendable {
    package var id: Int
    package var kind: UInt16
    package var field: UInt16
    package var flags: CSTTree.Flags
    package var start: UInt32
    package var end: UInt32
    package var parent: Int
}
