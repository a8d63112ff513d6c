/// The 64-byte header (Spec/FORMAT.md, 4): magic, version, flags, the file's length, where
/// the section table is and its checksum, and the header's own checksum over bytes 0-55.
package struct ArchiveHeader: Sendable, Equatable {
    package var version: UInt32 = Format.version
    package var flags: Format.HeaderFlags
    package var fileLength: UInt64
    package var tableOffset: UInt64
    package var sectionCount: Int
    /// The largest raw segment length: readers may size one buffer for every segment.
    package var maxSegmentRaw: Int
    package var tableChecksum: UInt64

    package func write() -> [UInt8] {
        var w = ByteWriter(capacity: Format.headerSize)
        w.append(Format.magic)
        w.u32(version); w.u32(flags.rawValue)
        w.u64(fileLength); w.u64(tableOffset)
        w.u32(UInt32(sectionCount)); w.u32(UInt32(maxSegmentRaw))
        w.u64(tableChecksum)
        w.u64(0)
        w.u64(Hash.xxh3(w.bytes))
        return w.bytes
    }

    /// Reads and checks the header of `file` (the whole archive, `path` for messages).
    package static func read(_ file: ByteReader, path: String) throws(FormatError) -> ArchiveHeader {
        var h = try file.slice(at: 0, length: Format.headerSize, context: "\(path) header")
        guard Array(try h.bytes(8)) == Format.magic else { throw FormatError("\(path): not a cstpack archive (bad magic bytes)") }
        let version = try h.u32()
        guard Format.readableVersions.contains(version) else {
            throw FormatError("\(path): archive format version \(version); this cstpack reads versions \(Format.readableVersions.lowerBound) to \(Format.readableVersions.upperBound)")
        }
        let sum = Hash.xxh3(UnsafeRawBufferPointer(start: h.base, count: 56))
        let rawFlags = try h.u32()
        let header = ArchiveHeader(version: version, flags: Format.HeaderFlags(rawValue: rawFlags),
                                   fileLength: try h.u64(), tableOffset: try h.u64(), sectionCount: Int(try h.u32()),
                                   maxSegmentRaw: Int(try h.u32()), tableChecksum: try h.u64())
        guard try h.u64() == 0 else { throw FormatError("\(path): reserved header bytes 48-55 are not zero") }
        guard try h.u64() == sum else { throw FormatError("\(path): header checksum mismatch (corrupt header)") }
        guard Format.HeaderFlags.known.isSuperset(of: header.flags) else {
            throw FormatError("\(path): unknown header flags 0x\(String(rawFlags, radix: 16)) (written by a newer cstpack?)")
        }
        guard header.fileLength == UInt64(file.count) else {
            throw FormatError("\(path): archive is \(file.count) bytes but its header says \(header.fileLength) (truncated or extended)")
        }
        guard header.maxSegmentRaw <= Format.maxSegmentRaw else { throw FormatError("\(path): segment size \(header.maxSegmentRaw) too large") }
        guard header.sectionCount <= 64, header.tableOffset <= UInt64(file.count) else { throw FormatError("\(path): section table out of range") }
        return header
    }
}

/// An entry of the section table (5): which section, how its bytes are stored, where they
/// are, and their checksum (over the bytes as stored; SEGMENTS has none: each segment
/// carries its own).
package struct SectionEntry: Sendable, Equatable {
    package var id: Format.SectionID
    package var codec: Format.SectionCodec
    package var offset: UInt64
    package var length: UInt64
    package var checksum: UInt64

    package func write(to w: inout ByteWriter) {
        w.u32(id.rawValue); w.u32(codec.rawValue); w.u64(offset); w.u64(length); w.u64(checksum)
    }

    /// Writes the table; returns its bytes (the header holds their checksum).
    package static func writeTable(_ entries: [SectionEntry]) -> [UInt8] {
        var w = ByteWriter(capacity: entries.count * Format.sectionEntrySize)
        for e in entries { e.write(to: &w) }
        return w.bytes
    }

    /// Reads and checks the section table that `header` points to: each section of the
    /// archive's version exactly once, none unknown, each inside the file.
    package static func readTable(_ file: ByteReader, header: ArchiveHeader, path: String) throws(FormatError) -> [Format.SectionID: SectionEntry] {
        let table = try file.slice(at: Int(header.tableOffset), length: header.sectionCount * Format.sectionEntrySize,
                                   context: "\(path) section table")
        guard Hash.xxh3(UnsafeRawBufferPointer(start: table.base, count: table.count)) == header.tableChecksum else {
            throw FormatError("\(path): section table checksum mismatch")
        }
        let required = Format.SectionID.required(version: header.version)
        var t = table
        var found: [Format.SectionID: SectionEntry] = [:]
        for _ in 0..<header.sectionCount {
            let rawID = try t.u32()
            let rawCodec = try t.u32()
            guard let codec = Format.SectionCodec(rawValue: rawCodec) else {
                throw FormatError("\(path): section \(rawID) has unknown codec \(rawCodec)")
            }
            let offset = try t.u64(), length = try t.u64(), checksum = try t.u64()
            guard let id = Format.SectionID(rawValue: rawID), required.contains(id) else {
                throw FormatError("\(path): unknown section id \(rawID) in a version \(header.version) archive")
            }
            guard found[id] == nil else { throw FormatError("\(path): section \(id) appears twice") }
            guard offset >= UInt64(Format.headerSize), offset <= UInt64(file.count), length <= UInt64(file.count) - offset else {
                throw FormatError("\(path): section \(id) (\(offset)+\(length)) lies outside the file")
            }
            found[id] = SectionEntry(id: id, codec: codec, offset: offset, length: length, checksum: checksum)
        }
        for id in required where found[id] == nil {
            throw FormatError("\(path): section \(id) is missing")
        }
        return found
    }
}

extension SectionEntry {
    /// A metadata section's bytes as stored: zstd (a u64 raw length, then one frame) when
    /// `compress` and that saves bytes, else the raw bytes.
    package static func store(_ raw: [UInt8], compress: Bool) throws -> (codec: Format.SectionCodec, bytes: [UInt8]) {
        guard compress else { return (.stored, raw) }
        let packed = try SectionCompression.compress(raw)
        guard packed.count + 8 < raw.count else { return (.stored, raw) }
        var w = ByteWriter(capacity: packed.count + 8)
        w.u64(UInt64(raw.count))
        w.append(packed)
        return (.zstd, w.bytes)
    }

    /// The section's content in `file`, its checksum checked and, when stored compressed,
    /// decompressed into a buffer handed to `keep` (the caller owns and frees it). SEGMENTS
    /// is returned as it is: each segment is checked when it is read.
    package func content(of file: ByteReader, path: String, keep: (UnsafeMutableRawBufferPointer) -> Void) throws(FormatError) -> ByteReader {
        let context = "\(path) \(id) section"
        var r = try file.slice(at: Int(offset), length: Int(length), context: context)
        if id == .segments {
            guard codec == .stored else { throw FormatError("\(context): segments cannot be compressed as a section") }
            return r
        }
        let sum = Hash.xxh3(UnsafeRawBufferPointer(start: r.base, count: r.count))
        guard sum == checksum else { throw FormatError("\(path): \(id) section checksum mismatch (corrupt)") }
        guard codec == .zstd else { return r }
        let raw = try r.u64()
        let stored = try r.bytes(r.remaining)
        guard raw <= UInt64(max(stored.count * Format.maxSectionExpansion, 1 << 20)), raw <= UInt64(Format.maxSegmentRaw) else {
            throw FormatError("\(context): claims \(raw) bytes from \(stored.count) compressed")
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(Int(raw), 1), alignment: 16)
        keep(buffer)
        let out = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<Int(raw)])
        do {
            try SectionCompression.decompress(stored, into: out)
        } catch {
            throw FormatError("\(context): \(error.description)")
        }
        return ByteReader(UnsafeRawBufferPointer(out), context: context)
    }
}

/// The head of each fixed-entry table (8.2, 8.3, 9, 10): u32 count, u32 reserved (zero).
package enum TableHead {
    package static func write(count: Int, to w: inout ByteWriter) {
        w.u32(UInt32(count)); w.u32(0)
    }

    /// Reads the count and checks that `entrySize`-byte entries of that count fit in what
    /// follows (exactly, with `exact`: the table is the whole section).
    package static func read(_ r: inout ByteReader, entrySize: Int, name: String, exact: Bool) throws(FormatError) -> Int {
        let n = Int(try r.u32())
        guard try r.u32() == 0 else { throw FormatError("\(r.context): reserved field is not zero") }
        guard n <= r.remaining / entrySize, !exact || r.remaining == n * entrySize else {
            throw FormatError(exact ? "\(r.context): \(name) of \(n) entries does not match its \(r.count) bytes"
                                    : "\(r.context): \(n) \(name) do not fit")
        }
        return n
    }
}
