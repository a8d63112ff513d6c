import CSTPack

/// `--vimgrep` (ripgrep's): `path:line:column:text`, the text being the node's first line.
struct VimgrepPrinter: HitPrinter {
    var style = PrintStyle()

    func print(_ ft: FileTree, _ hit: QueryHit) throws -> [UInt8] {
        let p = ft.point(ft.tree.starts[hit.node])
        let line = NodeText.firstLine(of: ft, node: hit.node)
        return Array((style.pathPrefix(ft) + style.paint("\(p?.line ?? 0):\(p?.column ?? 0)", PrintStyle.lineColor) + ":" + line + "\n").utf8)
    }
}
