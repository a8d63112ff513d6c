/// LANGUAGES (Spec/FORMAT.md, 7): for each language, its name, ABI and grammar hash, its
/// node kinds (name and named bit) and its field names, all as STRINGS ids. A reader needs
/// no grammar: the table names every kind and field the CST records use.
extension LanguageTable {
    package static func writeSection(_ languages: [LanguageTable], strings: inout StringTableBuilder) -> [UInt8] {
        var w = ByteWriter()
        w.u32(UInt32(languages.count))
        for l in languages {
            w.index(strings.intern(l.name)); w.u32(l.abi); w.u64(l.grammarHash)
            w.u32(UInt32(l.kindCount))
            for (name, named) in zip(l.kindNames, l.kindNamed) { w.index(strings.intern(name)); w.u8(named ? 1 : 0) }
            w.u32(UInt32(l.fieldCount))
            for f in l.fieldNames.dropFirst() { w.index(strings.intern(f)) }
        }
        return w.bytes
    }

    /// Reads the section; each table's grammar hash must match its kinds and fields.
    package static func readSection(_ section: ByteReader, strings: StringTable) throws(FormatError) -> [LanguageTable] {
        var r = section
        let n = Int(try r.u32())
        guard n <= 0xFFFF else { throw FormatError("\(r.context): \(n) languages") }
        var out: [LanguageTable] = []
        for _ in 0..<n {
            let name = try strings.string(try r.index(StringID.self))
            let abi = try r.u32()
            let hash = try r.u64()
            let kinds = Int(try r.u32())
            guard kinds >= 1, kinds <= 0x10000, kinds * 5 <= r.remaining else { throw FormatError("\(r.context): \(name): \(kinds) kinds") }
            var kindNames: [String] = [], kindNamed: [Bool] = []
            for _ in 0..<kinds {
                kindNames.append(try strings.string(try r.index(StringID.self)))
                let named = try r.u8()
                guard named <= 1 else { throw FormatError("\(r.context): \(name): bad named flag") }
                kindNamed.append(named == 1)
            }
            let fields = Int(try r.u32())
            guard fields < 0xFFFF, fields * 4 <= r.remaining else { throw FormatError("\(r.context): \(name): \(fields) fields") }
            var fieldNames = [""]
            for _ in 0..<fields { fieldNames.append(try strings.string(try r.index(StringID.self))) }
            let table = LanguageTable(name: name, abi: abi, kindNames: kindNames, kindNamed: kindNamed, fieldNames: fieldNames)
            guard table.grammarHash == hash else { throw FormatError("\(r.context): \(name): grammar hash does not match its tables") }
            out.append(table)
        }
        guard r.isAtEnd else { throw FormatError("\(r.context): \(r.remaining) stray bytes") }
        return out
    }
}
