import CSTPack

/// `--text`: each node's bytes exactly as stored (whatever their encoding), then a newline.
struct TextPrinter: HitPrinter {
    func print(_ ft: FileTree, _ hit: QueryHit) throws -> [UInt8] {
        guard let t = ft.text(hit.node) else { throw CSTPackError("the archive does not store this file's text (built with --no-source)") }
        return Array(t) + [0x0A]
    }
}
