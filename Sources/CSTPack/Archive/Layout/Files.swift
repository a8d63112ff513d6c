/// An entry of FILES (Spec/FORMAT.md, 10.1), sorted by path: the file's language, flags,
/// content hash and sizes, and the runs of records that hold its CST and its source.
package struct FileEntry: Sendable, Equatable {
    package var pathID: StringID
    package var language: UInt16
    package var flags: Format.FileFlags
    package var contentHash: ContentHash
    package var sourceLength: UInt32
    package var lineCount: UInt32
    package var nodeCount: UInt32
    package var cstBytes: UInt32
    package var firstCSTRecord: RecordID
    package var cstRecordCount: UInt32
    package var firstSourceRecord: RecordID
    package var sourceRecordCount: UInt32
    /// The earlier file whose records this one shares (identical content, 10.2).
    package var sameAs: FileID?

    /// The records of the CST stream, in order.
    package var cstRecords: Range<Int> { firstCSTRecord.index..<(firstCSTRecord.index + Int(cstRecordCount)) }
    /// The records of the source stream, in order.
    package var sourceRecords: Range<Int> { firstSourceRecord.index..<(firstSourceRecord.index + Int(sourceRecordCount)) }

    package func write(to w: inout ByteWriter) {
        w.index(pathID); w.u16(language); w.u16(flags.rawValue)
        w.u64(contentHash.low); w.u64(contentHash.high)
        w.u32(sourceLength); w.u32(lineCount); w.u32(nodeCount); w.u32(cstBytes)
        w.index(firstCSTRecord); w.u32(cstRecordCount); w.index(firstSourceRecord); w.u32(sourceRecordCount)
        w.optionalIndex(sameAs); w.u32(0)
    }

    /// Reads entry `i`, checked against the archive: an existing language, known flags, a
    /// node count that fits node ids, and records inside the record table.
    package static func read(_ r: inout ByteReader, file i: Int, languageCount: Int, recordCount: Int) throws(FormatError) -> FileEntry {
        let e = FileEntry(
            pathID: try r.index(StringID.self), language: try r.u16(), flags: Format.FileFlags(rawValue: try r.u16()),
            contentHash: ContentHash(low: try r.u64(), high: try r.u64()),
            sourceLength: try r.u32(), lineCount: try r.u32(), nodeCount: try r.u32(), cstBytes: try r.u32(),
            firstCSTRecord: try r.index(RecordID.self), cstRecordCount: try r.u32(),
            firstSourceRecord: try r.index(RecordID.self), sourceRecordCount: try r.u32(),
            sameAs: try r.optionalIndex(FileID.self))
        guard try r.u32() == 0 else { throw FormatError("\(r.context): reserved field is not zero") }
        guard Int(e.language) < languageCount else { throw FormatError("file \(i): language \(e.language) does not exist") }
        guard Format.FileFlags.known.isSuperset(of: e.flags), !e.flags.isSuperset(of: [.source, .lineTable]) else {
            throw FormatError("file \(i): unknown flags \(e.flags.rawValue)")
        }
        // Node ids are Int32 in decoded trees: a larger count (forged; checksums are no MAC)
        // would let ids pass `id < node_count` and trap on conversion.
        guard e.nodeCount >= 1, e.nodeCount <= UInt32(Int32.max) else {
            throw FormatError("file \(i): \(e.nodeCount) nodes (1 to 2147483647)")
        }
        guard UInt64(e.firstCSTRecord.rawValue) + UInt64(e.cstRecordCount) <= UInt64(recordCount),
              UInt64(e.firstSourceRecord.rawValue) + UInt64(e.sourceRecordCount) <= UInt64(recordCount), e.cstRecordCount >= 1 else {
            throw FormatError("file \(i): records outside the record table")
        }
        return e
    }
}
