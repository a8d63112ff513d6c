/// What the archive stores about a grammar so that it can be read without the grammar:
/// its node kinds (tree-sitter symbols, plus ERROR), its field names and an identity hash.
package struct LanguageTable: Sendable, Equatable {
    package let name: String
    package let abi: UInt32
    /// Kind code -> kind name. Code `i` < `kindNames.count - 1` is tree-sitter symbol `i`;
    /// the last code is ERROR (tree-sitter's symbol 65535).
    package let kindNames: [String]
    /// Kind code -> named by default (the grammar's symbol metadata).
    package let kindNamed: [Bool]
    /// Field id -> name; index 0 is "" (no field).
    package let fieldNames: [String]

    /// Bytes a token of this kind usually spans: the UTF-8 length of an anonymous kind's
    /// name ("def" -> 3); nil for named kinds. Used to omit predictable token lengths.
    package let predictedLength: [UInt32?]

    package var errorKind: UInt16 { UInt16(kindNames.count - 1) }
    package var kindCount: Int { kindNames.count }
    package var fieldCount: Int { fieldNames.count - 1 }

    package init(name: String, abi: UInt32, kindNames: [String], kindNamed: [Bool], fieldNames: [String]) {
        self.name = name
        self.abi = abi
        self.kindNames = kindNames
        self.kindNamed = kindNamed
        self.fieldNames = fieldNames
        predictedLength = zip(kindNames, kindNamed).map { n, named in named ? nil : UInt32(n.utf8.count) }
    }

    /// Identity of the grammar's vocabulary: XXH3 over kind names, their named bits and
    /// field names. Two grammars with the same hash number their kinds and fields alike.
    package var grammarHash: UInt64 {
        var w = ByteWriter()
        for (n, named) in zip(kindNames, kindNamed) {
            w.append(Array(n.utf8)); w.u8(0); w.u8(named ? 1 : 0)
        }
        w.u8(0xFF)
        for f in fieldNames { w.append(Array(f.utf8)); w.u8(0) }
        return Hash.xxh3(w.bytes)
    }

    /// Kind codes whose name is `kind` (several symbols may share a name).
    package func kindCodes(named kind: String) -> [UInt16] {
        kindNames.indices.filter { kindNames[$0] == kind }.map { UInt16($0) }
    }
}
