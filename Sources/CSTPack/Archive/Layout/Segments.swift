/// An entry of SEGMENT_TABLE (Spec/FORMAT.md, 8.2): where a segment's stored bytes are in
/// the SEGMENTS region, how they are compressed, which stream they hold, and the base
/// (a zstd dictionary) they were compressed with, if any.
package struct SegmentEntry: Sendable, Equatable {
    package var offset: UInt64
    package var storedLength: UInt32
    package var rawLength: UInt32
    package var codec: Codec
    package var stream: Format.Stream
    package var base: BaseID?
    /// XXH3 of the stored bytes.
    package var checksum: UInt64

    package func write(to w: inout ByteWriter) {
        w.u64(offset); w.u32(storedLength); w.u32(rawLength)
        w.u8(codec.rawValue); w.u8(stream.rawValue); w.u16(0); w.optionalIndex(base); w.u64(checksum)
    }

    /// Reads entry `i` and checks it against the archive: inside the SEGMENTS `region`, a
    /// raw length within `maxRaw`, a base that exists.
    package static func read(_ r: inout ByteReader, segment i: Int, region: SectionEntry, maxRaw: Int, baseCount: Int) throws(FormatError) -> SegmentEntry {
        let offset = try r.u64(), stored = try r.u32(), raw = try r.u32()
        let codecByte = try r.u8(), streamByte = try r.u8()
        guard try r.u16() == 0 else { throw FormatError("segment \(i): reserved field is not zero") }
        let base = try r.optionalIndex(BaseID.self), checksum = try r.u64()
        guard let codec = Codec(rawValue: codecByte) else { throw FormatError("segment \(i): unknown codec \(codecByte)") }
        guard let stream = Format.Stream(rawValue: streamByte) else { throw FormatError("segment \(i): unknown stream \(streamByte)") }
        let end = region.offset + region.length
        guard offset >= region.offset, offset <= end, UInt64(stored) <= end - offset else {
            throw FormatError("segment \(i): \(offset)+\(stored) lies outside the segments section")
        }
        guard raw >= 1, Int(raw) <= maxRaw else { throw FormatError("segment \(i): raw length \(raw) outside 1...\(maxRaw)") }
        if let b = base, b.index >= baseCount { throw FormatError("segment \(i): base \(b) does not exist") }
        return SegmentEntry(offset: offset, storedLength: stored, rawLength: raw, codec: codec, stream: stream, base: base, checksum: checksum)
    }
}

/// An entry of RECORDS (8.3): a byte range of a segment's raw bytes. CST records start
/// at a node (a checkpoint, 11.4); source records at a byte (text) or a row (line table).
package struct RecordEntry: Sendable, Equatable {
    package var segment: SegmentID
    package var offset: UInt32
    package var length: UInt32
    /// First node id (CST records) or first source byte / line (source records).
    package var first: UInt32

    package func write(to w: inout ByteWriter) {
        w.index(segment); w.u32(offset); w.u32(length); w.u32(first)
    }

    /// Reads entry `i`; its segment must exist (callers index per-segment tables with it).
    package static func read(_ r: inout ByteReader, record i: Int, segmentCount: Int) throws(FormatError) -> RecordEntry {
        let e = RecordEntry(segment: try r.index(SegmentID.self), offset: try r.u32(), length: try r.u32(), first: try r.u32())
        guard e.segment.index < segmentCount else {
            throw FormatError("record \(i): segment \(e.segment) does not exist (\(segmentCount) segments)")
        }
        return e
    }
}
