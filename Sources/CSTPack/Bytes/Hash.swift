import CXXHash

/// Checksums and content hashes: XXH3 (libxxhash), the one hash family used by the format.
package enum Hash {
    package static func xxh3(_ buffer: UnsafeRawBufferPointer) -> UInt64 {
        XXH3_64bits(buffer.baseAddress, buffer.count)
    }

    package static func xxh3(_ bytes: [UInt8]) -> UInt64 {
        bytes.withUnsafeBytes { xxh3($0) }
    }

    /// 128-bit content hash of a source file, as two little-endian halves (low, high).
    package static func content(_ buffer: UnsafeRawBufferPointer) -> ContentHash {
        let h = XXH3_128bits(buffer.baseAddress, buffer.count)
        return ContentHash(low: h.low64, high: h.high64)
    }
}

package struct ContentHash: Hashable, Sendable, CustomStringConvertible {
    package var low: UInt64
    package var high: UInt64
    package var description: String {
        String(high, radix: 16).leftPadded(to: 16) + String(low, radix: 16).leftPadded(to: 16)
    }
}

extension String {
    func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
