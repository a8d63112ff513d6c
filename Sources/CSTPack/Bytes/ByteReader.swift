/// Bounds-checked reading of little-endian integers and LEB128 varints from bytes that
/// may be hostile (a mapped archive, a decompressed segment). Every decoder reads through
/// this type: no read touches memory before its bounds were checked.
package struct ByteReader {
    package let base: UnsafeRawPointer?
    package let count: Int
    package private(set) var offset: Int
    /// Names what is being read, for error messages ("segment 12", "file index").
    package let context: String

    package init(_ buffer: UnsafeRawBufferPointer, context: String) {
        base = buffer.baseAddress
        count = buffer.count
        offset = 0
        self.context = context
    }

    package var remaining: Int { count - offset }
    package var isAtEnd: Bool { offset >= count }

    @inline(__always)
    func need(_ n: Int) throws(FormatError) {
        if n < 0 || n > count - offset {
            throw FormatError("\(context): truncated at offset \(offset) (needs \(n) more bytes, \(count - offset) left)")
        }
    }

    package mutating func seek(to newOffset: Int) throws(FormatError) {
        guard newOffset >= 0, newOffset <= count else {
            throw FormatError("\(context): offset \(newOffset) outside 0...\(count)")
        }
        offset = newOffset
    }

    package mutating func skip(_ n: Int) throws(FormatError) {
        try need(n)
        offset += n
    }

    @inline(__always)
    mutating func fixed<T: FixedWidthInteger>(_: T.Type) throws(FormatError) -> T {
        try need(MemoryLayout<T>.size)
        let v = base!.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += MemoryLayout<T>.size
        return T(littleEndian: v)
    }

    @inline(__always)
    package mutating func u8() throws(FormatError) -> UInt8 { try fixed(UInt8.self) }
    package mutating func u16() throws(FormatError) -> UInt16 { try fixed(UInt16.self) }
    package mutating func u32() throws(FormatError) -> UInt32 { try fixed(UInt32.self) }
    package mutating func u64() throws(FormatError) -> UInt64 { try fixed(UInt64.self) }

    /// Unsigned LEB128 of at most 10 bytes; a value past 64 bits is an error (non-minimal
    /// encodings are accepted, as they decode to one value).
    @inline(__always)
    package mutating func varint() throws(FormatError) -> UInt64 {
        guard offset < count else { throw FormatError("\(context): truncated varint at offset \(offset)") }
        let first = base!.load(fromByteOffset: offset, as: UInt8.self)
        if first < 0x80 {
            offset += 1
            return UInt64(first)
        }
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < count else { throw FormatError("\(context): truncated varint at offset \(offset)") }
            let b = base!.load(fromByteOffset: offset, as: UInt8.self)
            offset += 1
            if shift == 63 && b > 1 { throw FormatError("\(context): varint overflows 64 bits at offset \(offset - 1)") }
            result |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return result }
            shift += 7
        }
    }

    /// A varint that must fit `limit` (a count or a length checked against what can exist).
    @inline(__always)
    package mutating func varint(max limit: UInt64, _ what: @autoclosure () -> String) throws(FormatError) -> UInt64 {
        let v = try varint()
        if v > limit { throw FormatError("\(context): \(what()) \(v) exceeds \(limit) at offset \(offset)") }
        return v
    }

    /// A view of the next `n` bytes (still inside the checked buffer).
    package mutating func bytes(_ n: Int) throws(FormatError) -> UnsafeRawBufferPointer {
        try need(n)
        let r = UnsafeRawBufferPointer(start: base! + offset, count: n)
        offset += n
        return r
    }

    /// `n` little-endian integers in a row (one copy on a little-endian machine).
    package mutating func integers<T: FixedWidthInteger>(_: T.Type, count n: Int) throws(FormatError) -> [T] {
        guard n >= 0, n <= remaining / MemoryLayout<T>.size else {
            throw FormatError("\(context): truncated at offset \(offset) (needs \(n) integers of \(MemoryLayout<T>.size) bytes, \(remaining) bytes left)")
        }
        let raw = try bytes(n * MemoryLayout<T>.size)
        let values = [T](unsafeUninitializedCapacity: n) { buffer, initialized in
            if n > 0 { UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: raw.baseAddress!, byteCount: raw.count) }
            initialized = n
        }
        #if _endian(little)
        return values
        #else
        return values.map { T(littleEndian: $0) }
        #endif
    }

    /// A sub-reader over `length` bytes at absolute `at`, checked against this buffer.
    package func slice(at start: Int, length: Int, context: String) throws(FormatError) -> ByteReader {
        guard start >= 0, length >= 0, start <= count, length <= count - start else {
            throw FormatError("\(context): range \(start)+\(length) outside the \(count) bytes of \(self.context)")
        }
        let buf = UnsafeRawBufferPointer(start: length == 0 ? base : base! + start, count: length)
        return ByteReader(buf, context: context)
    }
}

/// A structural problem in archive bytes: always a message, never a trap.
package struct FormatError: Error, CustomStringConvertible, Sendable {
    package let description: String
    package init(_ message: String) { description = message }
}
