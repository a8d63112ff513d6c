import CSTPack

/// `--tree`: each hit's subtree as an indented S-expression with fields, ids and ranges,
/// under a `; path` line.
struct TreePrinter: HitPrinter {
    var depth: Int?
    var anonymous = false

    func print(_ ft: FileTree, _ hit: QueryHit) throws -> [UInt8] {
        Array(("; \(ft.displayPath)\n" + tree(ft, root: hit.node, capture: hit.capture)).utf8)
    }

    /// The subtree at `root` (an explicit stack: trees can be deep).
    func tree(_ ft: FileTree, root: Int, capture: String?) -> String {
        let ends = ft.tree.subtreeEnds()
        var out = capture.map { "; @\($0)\n" } ?? ""
        var open: [(end: Int, level: Int)] = []
        var i = root
        let stop = Int(ends[root])
        func closeUntil(_ j: Int) {
            while let top = open.last, top.end <= j { out += ")"; open.removeLast() }
        }
        while i < stop {
            closeUntil(i)
            let level = open.count
            let shown = anonymous || ft.isNamed(i) || i == root
            if !shown || (depth.map { level > $0 } ?? false) {
                i = shown ? Int(ends[i]) : i + 1
                continue
            }
            if i != root { out += "\n" + String(repeating: "  ", count: level) }
            if let f = ft.fieldName(i), i != root { out += f + ": " }
            let kind = ft.isNamed(i) ? ft.kindName(i) : "\"\(ft.kindName(i))\""
            out += "(\(kind) #\(i + ft.firstID) \(NodeText.range(ft, i))"
            let hasShownChild = Int(ends[i]) > i + 1
            if !hasShownChild || (depth.map { level >= $0 } ?? false), ft.isNamed(i), let t = ft.text(i), t.count <= 60,
               !t.contains(0x0A) {
                out += " " + JSONValue.quote(String(decoding: t, as: UTF8.self))
            }
            open.append((Int(ends[i]), level))
            if depth.map({ level >= $0 }) ?? false {
                i = Int(ends[i])
            } else {
                i += 1
            }
        }
        closeUntil(Int.max)
        return out + "\n"
    }
}
