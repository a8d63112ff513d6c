/// An entry of BASES (Spec/FORMAT.md, 9): a shared blob that segments or records are
/// encoded against: a zstd dictionary, or a language's tag model (phase 2, 9.1). The blobs
/// follow the entries inside the section; `offset` counts from the section's start.
package struct BaseEntry: Sendable, Equatable {
    package var kind: Format.BaseKind
    package var stream: Format.Stream
    package var language: UInt16
    package var offset: UInt64
    package var length: UInt64
    /// XXH3 of the blob.
    package var checksum: UInt64

    package func write(to w: inout ByteWriter) {
        w.u8(kind.rawValue); w.u8(stream.rawValue); w.u16(language); w.u32(0)
        w.u64(offset); w.u64(length); w.u64(checksum)
    }

    /// Writes the section: the entries, then the blobs in the same order.
    package static func writeSection(_ blobs: [(kind: Format.BaseKind, stream: Format.Stream, language: UInt16, bytes: [UInt8])]) -> [UInt8] {
        var w = ByteWriter()
        TableHead.write(count: blobs.count, to: &w)
        var offset = UInt64(8 + blobs.count * Format.baseEntrySize)
        for b in blobs {
            BaseEntry(kind: b.kind, stream: b.stream, language: b.language, offset: offset,
                      length: UInt64(b.bytes.count), checksum: Hash.xxh3(b.bytes)).write(to: &w)
            offset += UInt64(b.bytes.count)
        }
        for b in blobs { w.append(b.bytes) }
        return w.bytes
    }

    /// Reads the section's entries, each checked: a known kind and stream, a tag model of
    /// an existing language, a blob inside the section after the entries.
    package static func readSection(_ section: ByteReader, languageCount: Int) throws(FormatError) -> [BaseEntry] {
        var r = section
        let n = try TableHead.read(&r, entrySize: Format.baseEntrySize, name: "bases", exact: false)
        let tableEnd = UInt64(8 + n * Format.baseEntrySize)
        var out: [BaseEntry] = []
        for _ in 0..<n {
            let kindByte = try r.u8(), streamByte = try r.u8(), language = try r.u16()
            guard let kind = Format.BaseKind(rawValue: kindByte), let stream = Format.Stream(rawValue: streamByte) else {
                throw FormatError("\(r.context): base of unknown kind \(kindByte) or stream \(streamByte)")
            }
            guard kind != .tagModel || (stream == .cst && Int(language) < languageCount) else {
                throw FormatError("\(r.context): tag model for stream \(streamByte), language \(language) (\(languageCount) languages)")
            }
            guard try r.u32() == 0 else { throw FormatError("\(r.context): reserved field is not zero") }
            let e = BaseEntry(kind: kind, stream: stream, language: language, offset: try r.u64(), length: try r.u64(), checksum: try r.u64())
            guard e.offset >= tableEnd, e.offset <= UInt64(section.count), e.length <= UInt64(section.count) - e.offset else {
                throw FormatError("\(r.context): base outside the section")
            }
            out.append(e)
        }
        return out
    }
}
