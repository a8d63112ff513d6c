import CSTPack

/// `--count`: with `--by-file`, `path<TAB>count` per file with matches; without, nothing
/// per file (the total is printed once the search is done).
struct CountPrinter: MatchPrinter {
    var byFile = false

    func print(_ matches: FileMatches) throws -> [UInt8] {
        byFile ? Array("\(matches.path)\t\(matches.count)\n".utf8) : []
    }
}
