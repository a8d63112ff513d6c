/// An index into one of the archive's tables, typed by the table (a tag type that is
/// never instantiated), so that a record's segment cannot be passed where a file is meant.
/// On disk each is a u32; a field that may name nothing is an optional here and
/// 0xFFFFFFFF there (Spec/FORMAT.md, 2).
package struct TableIndex<Table>: Hashable, Comparable, Sendable, CustomStringConvertible {
    package let rawValue: UInt32
    package init(rawValue: UInt32) { self.rawValue = rawValue }
    package init(_ index: Int) { rawValue = UInt32(index) }
    /// The index as an `Int`, for subscripts and the archive's accessors.
    package var index: Int { Int(rawValue) }
    package static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    package var description: String { "\(rawValue)" }
}

/// The tables, as tags of `TableIndex`.
package enum SegmentTableTag {}
package enum RecordTableTag {}
package enum BaseTableTag {}
package enum FileTableTag {}
package enum StringTableTag {}

/// A segment: an entry of SEGMENT_TABLE (8.2).
package typealias SegmentID = TableIndex<SegmentTableTag>
/// A record: an entry of RECORDS (8.3).
package typealias RecordID = TableIndex<RecordTableTag>
/// A base: an entry of BASES (9).
package typealias BaseID = TableIndex<BaseTableTag>
/// A file: an entry of FILES (10).
package typealias FileID = TableIndex<FileTableTag>
/// A string of STRINGS (6).
package typealias StringID = TableIndex<StringTableTag>

/// The on-disk "none" of an optional index.
private let noIndex: UInt32 = 0xFFFF_FFFF

extension ByteReader {
    package mutating func index<T>(_: TableIndex<T>.Type) throws(FormatError) -> TableIndex<T> { TableIndex(rawValue: try u32()) }

    /// An index that may be 0xFFFFFFFF ("none").
    package mutating func optionalIndex<T>(_: TableIndex<T>.Type) throws(FormatError) -> TableIndex<T>? {
        let v = try u32()
        return v == noIndex ? nil : TableIndex(rawValue: v)
    }
}

extension ByteWriter {
    package mutating func index<T>(_ i: TableIndex<T>) { u32(i.rawValue) }
    package mutating func optionalIndex<T>(_ i: TableIndex<T>?) { u32(i?.rawValue ?? noIndex) }
}
