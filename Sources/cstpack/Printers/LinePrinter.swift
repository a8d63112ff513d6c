import CSTPack

/// The default output: `path:line:col-line:col  kind  #id  @capture  [rule]  text`.
struct LinePrinter: HitPrinter {
    var style = PrintStyle()

    func print(_ ft: FileTree, _ hit: QueryHit) throws -> [UInt8] { Array(line(ft, hit).utf8) }

    func line(_ ft: FileTree, _ hit: QueryHit) -> String {
        let n = hit.node
        var s = style.pathPrefix(ft) + style.paint(NodeText.range(ft, n), PrintStyle.lineColor)
        s += "  " + style.paint(ft.kindName(n), PrintStyle.kindColor) + "  #\(n + ft.firstID)"
        if let c = hit.capture { s += "  " + style.paint("@\(c)", PrintStyle.captureColor) }
        if let r = hit.rule { s += "  " + style.paint("[\(r.id)]", PrintStyle.captureColor) }
        if let t = ft.text(n) { s += "  " + NodeText.shortText(t) }
        return s + "\n"
    }
}
