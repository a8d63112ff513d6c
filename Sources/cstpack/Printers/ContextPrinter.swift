import CSTPack

/// `-A`/`-B`/`-C`, grep's form: each hit's first line as `path:N:line`, the lines around it
/// as `path-N-line`; overlapping groups merge, others are separated by `--`.
struct ContextPrinter: MatchPrinter {
    var before = 0, after = 0
    var color = false

    func print(_ matches: FileMatches) throws -> [UInt8] {
        let ft = try matches.printable()
        let style = PrintStyle(color: color)
        guard let source = ft.source, let starts = ft.lineStarts else {
            // No source lines to show: the hits' lines alone.
            return try LinePrinter(style: style).print(matches)
        }
        let matched = Set(matches.hits.compactMap { ft.point(ft.tree.starts[$0.node])?.line })
        var ranges: [ClosedRange<Int>] = []
        for l in matched.sorted() {
            let r = max(1, l - before)...min(starts.count, l + after)
            if let last = ranges.last, r.lowerBound <= last.upperBound + 1 {
                ranges[ranges.count - 1] = last.lowerBound...max(last.upperBound, r.upperBound)
            } else {
                ranges.append(r)
            }
        }
        var out = ""
        for (k, r) in ranges.enumerated() {
            if k > 0 { out += "--\n" }
            for l in r {
                let sep = matched.contains(l) ? ":" : "-"
                out += style.paint(ft.displayPath, PrintStyle.pathColor) + sep + style.paint("\(l)", PrintStyle.lineColor) + sep
                    + NodeText.sourceLine(source, starts, l) + "\n"
            }
        }
        return Array(out.utf8)
    }
}
