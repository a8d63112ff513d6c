import CSTPack

/// Turns one file's matches into the bytes `query` prints for them. Printers run in the
/// search's worker threads; the runner prints their bytes in file order.
protocol MatchPrinter: Sendable {
    func print(_ matches: FileMatches) throws -> [UInt8]
}

/// A printer that prints each hit on its own, from the file's tree.
protocol HitPrinter: MatchPrinter {
    func print(_ ft: FileTree, _ hit: QueryHit) throws -> [UInt8]
}

extension HitPrinter {
    func print(_ matches: FileMatches) throws -> [UInt8] {
        let ft = try matches.printable()
        var out: [UInt8] = []
        for hit in matches.hits { out += try print(ft, hit) }
        return out
    }
}

extension FileMatches {
    /// The tree a printer shows the hits in (the search has one unless it only counted).
    func printable() throws -> FileTree {
        guard let tree else { throw CSTPackError("\(path): the search counted the matches without keeping the tree to print them") }
        return tree
    }
}

/// `--heading`: the file's path once above its matches, a blank line after them.
struct HeadingPrinter: MatchPrinter {
    let inner: any MatchPrinter
    let style: PrintStyle

    func print(_ matches: FileMatches) throws -> [UInt8] {
        let out = try inner.print(matches)
        guard !out.isEmpty else { return out }
        return Array((style.paint(matches.path, PrintStyle.pathColor) + "\n").utf8) + out + [0x0A]
    }
}

/// How line output looks: colours, and whether each line names its file.
struct PrintStyle: Sendable {
    var color = false
    var path = true
    static let pathColor = "35", lineColor = "32", kindColor = "1;36", captureColor = "33"

    func paint(_ s: String, _ code: String) -> String {
        color ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s
    }

    /// `path:` before a line, unless the path is in a heading.
    func pathPrefix(_ ft: FileTree) -> String {
        path ? paint(ft.displayPath, Self.pathColor) + ":" : ""
    }
}

/// Pieces of a node's description that several printers share.
enum NodeText {
    /// `line:col-line:col`, or `@start-@end` without line starts.
    static func range(_ ft: FileTree, _ n: Int) -> String {
        guard let a = ft.point(ft.tree.starts[n]), let b = ft.point(ft.tree.ends[n]) else {
            return "@\(ft.tree.starts[n])-@\(ft.tree.ends[n])"
        }
        return "\(a.line):\(a.column)-\(b.line):\(b.column)"
    }

    /// The whole source line a node starts on (tabs kept, line end dropped).
    static func firstLine(of ft: FileTree, node n: Int) -> String {
        guard let source = ft.source, let starts = ft.lineStarts, let p = ft.point(ft.tree.starts[n]) else { return "" }
        return sourceLine(source, starts, p.line)
    }

    /// Source line `l` (1-based) without its line end.
    static func sourceLine(_ source: [UInt8], _ starts: [UInt32], _ l: Int) -> String {
        let from = Int(starts[l - 1])
        let to = l < starts.count ? Int(starts[l]) : source.count
        var line = source[from..<to]
        while let last = line.last, last == 0x0A || last == 0x0D { line = line.dropLast() }
        return String(decoding: line, as: UTF8.self)
    }

    /// The first line of a text, at most 80 characters, tabs as spaces.
    static func shortText(_ bytes: ArraySlice<UInt8>) -> String {
        let line = bytes.prefix { $0 != 0x0A && $0 != 0x0D }
        let more = line.count < bytes.count
        var s = String(String(decoding: line, as: UTF8.self).map { $0 == "\t" ? " " : $0 })
        if s.count > 80 { s = String(s.prefix(79)) + "…" } else if more { s += " …" }
        return s
    }
}
