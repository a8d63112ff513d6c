/// A line table (Spec/FORMAT.md, 12): the row starts a source record holds instead of the
/// text (`--no-source`): a varint count, then each start as a varint delta from the last.
package enum LineTable {
    package static func encode(_ starts: [UInt32]) -> [UInt8] {
        var w = ByteWriter()
        w.varint(starts.count)
        var previous: UInt32 = 0
        for s in starts { w.varint(s - previous); previous = s }
        return w.bytes
    }

    package static func decode(_ bytes: UnsafeRawBufferPointer, sourceLength: Int) throws(FormatError) -> [UInt32] {
        var r = ByteReader(bytes, context: "line table")
        // Every row start takes at least one byte: the count is capped by the payload before
        // it sizes the reservation (source_length alone is an unchecked claim).
        let n = Int(try r.varint(max: min(UInt64(sourceLength) + 1, UInt64(bytes.count)), "row count"))
        var out: [UInt32] = []
        out.reserveCapacity(n)
        var position: UInt64 = 0
        for _ in 0..<n {
            position += try r.varint(max: UInt64(sourceLength), "row start")
            guard position <= UInt64(sourceLength) else { throw FormatError("line table: row starts past the source") }
            out.append(UInt32(position))
        }
        guard r.isAtEnd, out.first == 0 else { throw FormatError("line table: malformed") }
        return out
    }
}
