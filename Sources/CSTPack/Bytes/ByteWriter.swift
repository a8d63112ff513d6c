/// Appends little-endian integers and LEB128 varints to a growable byte array.
/// Every encoder writes through this one type, so the byte order lives in one place.
package struct ByteWriter: Sendable {
    package private(set) var bytes: [UInt8]

    package init(capacity: Int = 0) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    package var count: Int { bytes.count }

    @inline(__always)
    package mutating func u8(_ v: UInt8) { bytes.append(v) }

    package mutating func u16(_ v: UInt16) { append(littleEndian: v) }
    package mutating func u32(_ v: UInt32) { append(littleEndian: v) }
    package mutating func u64(_ v: UInt64) { append(littleEndian: v) }

    @inline(__always)
    mutating func append<T: FixedWidthInteger>(littleEndian v: T) {
        var le = v.littleEndian
        withUnsafeBytes(of: &le) { bytes.append(contentsOf: $0) }
    }

    /// Unsigned LEB128: 7 bits per byte, high bit set on all but the last byte.
    @inline(__always)
    package mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    @inline(__always)
    package mutating func varint(_ value: UInt32) { varint(UInt64(value)) }
    @inline(__always)
    package mutating func varint(_ value: Int) { varint(UInt64(value)) }

    /// A whole array of little-endian integers: one copy on a little-endian machine.
    package mutating func integers<T: FixedWidthInteger>(_ values: [T]) {
        #if _endian(little)
        values.withUnsafeBytes { bytes.append(contentsOf: $0) }
        #else
        for v in values { append(littleEndian: v) }
        #endif
    }

    package mutating func append(_ other: [UInt8]) { bytes.append(contentsOf: other) }
    package mutating func append(_ other: UnsafeRawBufferPointer) { bytes.append(contentsOf: other) }
    package mutating func zeros(_ n: Int) { bytes.append(contentsOf: repeatElement(0, count: n)) }

    /// Overwrites a little-endian integer at `offset` (used to patch lengths written later).
    package mutating func patch<T: FixedWidthInteger>(_ v: T, at offset: Int) {
        var le = v.littleEndian
        withUnsafeBytes(of: &le) { raw in
            for i in 0..<raw.count { bytes[offset + i] = raw[i] }
        }
    }

    package mutating func removeAll(keepingCapacity: Bool = true) { bytes.removeAll(keepingCapacity: keepingCapacity) }

    /// Number of bytes `varint(value)` writes.
    @inline(__always)
    package static func varintSize(_ value: UInt64) -> Int {
        var n = 1
        var v = value >> 7
        while v != 0 { n += 1; v >>= 7 }
        return n
    }
}
