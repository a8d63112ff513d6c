/// An index into one of the archive's tables, typed by the table, so that a record's
/// segment cannot be passed where a file is meant. On disk each is a u32; a field that may
/// name nothing is an optional here and 0xFFFFFFFF there (Spec/FORMAT.md, 2).
package protocol TableIndex: Hashable, Comparable, Sendable, CustomStringConvertible {
    var rawValue: UInt32 { get }
    init(rawValue: UInt32)
}

extension TableIndex {
    package init(_ index: Int) { self.init(rawValue: UInt32(index)) }
    /// The index as an `Int`, for subscripts and the archive's accessors.
    package var index: Int { Int(rawValue) }
    package static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    package var description: String { "\(rawValue)" }
}

/// A segment: an entry of SEGMENT_TABLE (8.2).
package struct SegmentID: TableIndex {
    package let rawValue: UInt32
    package init(rawValue: UInt32) { self.rawValue = rawValue }
}

/// A record: an entry of RECORDS (8.3).
package struct RecordID: TableIndex {
    package let rawValue: UInt32
    package init(rawValue: UInt32) { self.rawValue = rawValue }
}

/// A base: an entry of BASES (9).
package struct BaseID: TableIndex {
    package let rawValue: UInt32
    package init(rawValue: UInt32) { self.rawValue = rawValue }
}

/// A file: an entry of FILES (10).
package struct FileID: TableIndex {
    package let rawValue: UInt32
    package init(rawValue: UInt32) { self.rawValue = rawValue }
}

/// A string of STRINGS (6).
package struct StringID: TableIndex {
    package let rawValue: UInt32
    package init(rawValue: UInt32) { self.rawValue = rawValue }
}

/// The on-disk "none" of an optional index.
private let noIndex: UInt32 = 0xFFFF_FFFF

extension ByteReader {
    package mutating func index<T: TableIndex>(_: T.Type) throws(FormatError) -> T { T(rawValue: try u32()) }

    /// An index that may be 0xFFFFFFFF ("none").
    package mutating func optionalIndex<T: TableIndex>(_: T.Type) throws(FormatError) -> T? {
        let v = try u32()
        return v == noIndex ? nil : T(rawValue: v)
    }
}

extension ByteWriter {
    package mutating func index<T: TableIndex>(_ i: T) { u32(i.rawValue) }
    package mutating func optionalIndex<T: TableIndex>(_ i: T?) { u32(i?.rawValue ?? noIndex) }
}
