// Fuzz target `arguments`: what `query FILE NODE` makes of its arguments. An input is up
// to three NUL-separated parts: NODE (NodeSelector: id, line:column, @byte, kind, query),
// a glob and a path (Locate.glob); the path's bytes also serve as a file's text for
// resolving line:column (FileTree.byteOffset, pointOutside). Also --lang EXT=NAME.

enum FuzzArguments {
    static func run(_ input: UnsafeRawBufferPointer) {
        let parts = input.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
        let node = String(decoding: parts[0], as: UTF8.self)
        let pattern: [UInt8] = parts.count > 1 ? Array(parts[1]) : []
        let path: [UInt8] = parts.count > 2 ? Array(parts[2]) : []
        _ = parseDecimal(node)
        _ = try? LanguageMap.parseOverrides([node])
        _ = Locate.glob(pattern[...], path[...])
        _ = NodeSelector.splitLocation(node)
        guard let selector = try? NodeSelector(node) else { return }
        var starts: [UInt32] = [0]
        for (k, b) in path.enumerated() where b == 0x0A { starts.append(UInt32(k + 1)) }
        switch selector {
        case .point(let line, let column):
            if FileTree.byteOffset(line: line, column: column, lineStarts: starts, sourceLength: path.count) == nil {
                _ = FileTree.pointOutside(line: line, column: column, lineStarts: starts, sourceLength: path.count)
            }
        case .span(let line, let column, let endLine, let endColumn):
            precondition((line, column) <= (endLine, endColumn))
            for (l, c) in [(line, column), (endLine, endColumn)] {
                if FileTree.byteOffset(line: l, column: c, lineStarts: starts, sourceLength: path.count) == nil {
                    _ = FileTree.pointOutside(line: l, column: c, lineStarts: starts, sourceLength: path.count)
                }
            }
        case .id(let n): precondition(NodeSelector.nodeIDs.contains(n))
        case .byte(let b): precondition(NodeSelector.bytes.contains(b))
        case .kind, .query: break
        }
    }
}
