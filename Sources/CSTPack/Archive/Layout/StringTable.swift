/// STRINGS (Spec/FORMAT.md, 6): kind names, field names, language names and paths, each
/// stored once and referred to by its `StringID`. The write side interns as the other
/// sections are written; the read side is a checked view into the mapped section.
package struct StringTableBuilder {
    private var ids: [[UInt8]: StringID] = [:]
    private(set) var strings: [[UInt8]] = []

    package init() {}

    package mutating func intern(_ s: [UInt8]) -> StringID {
        if let id = ids[s] { return id }
        let id = StringID(strings.count)
        ids[s] = id
        strings.append(s)
        return id
    }

    package mutating func intern(_ s: String) -> StringID { intern(Array(s.utf8)) }

    func serialize() -> [UInt8] {
        var w = ByteWriter()
        w.u32(UInt32(strings.count))
        var offset: UInt32 = 0
        w.u32(0)
        for s in strings {
            offset += UInt32(s.count)
            w.u32(offset)
        }
        for s in strings { w.append(s) }
        return w.bytes
    }
}

package struct StringTable: @unchecked Sendable {
    let reader: ByteReader
    package let count: Int
    let blobStart: Int

    init(_ section: ByteReader) throws(FormatError) {
        var r = section
        let n = Int(try r.u32())
        guard n <= (r.remaining - 4) / 4 else { throw FormatError("string table: count \(n) does not fit the section") }
        count = n
        blobStart = 4 + (n + 1) * 4
        reader = section
        // Offsets must be non-decreasing and end at the section's end.
        var previous: UInt32 = try r.u32()
        guard previous == 0 else { throw FormatError("string table: first offset is \(previous), not 0") }
        for _ in 0..<n {
            let o = try r.u32()
            guard o >= previous else { throw FormatError("string table: offsets decrease") }
            previous = o
        }
        guard Int(previous) == section.count - blobStart else {
            throw FormatError("string table: strings end at \(previous), the section holds \(section.count - blobStart)")
        }
    }

    /// Inside the archive's memory: valid only while it lives, so not public.
    func bytes(_ id: StringID) throws(FormatError) -> UnsafeRawBufferPointer {
        guard id.index < count else { throw FormatError("string id \(id) outside the \(count) strings") }
        var r = reader
        try r.seek(to: 4 + id.index * 4)
        let a = Int(try r.u32()), b = Int(try r.u32())
        try r.seek(to: blobStart + a)
        return try r.bytes(b - a)
    }

    package func string(_ id: StringID) throws(FormatError) -> String {
        String(decoding: try bytes(id), as: UTF8.self)
    }

    package func byteArray(_ id: StringID) throws(FormatError) -> [UInt8] { Array(try bytes(id)) }
}
