import CSTPack

/// Every read a user of an archive can make, over every file: what the fuzz target
/// (Fuzz/FuzzArchive.swift, scripts/fuzz) runs on each input and what the regression tests
/// run on each input it found crashing. Errors are expected (the input is hostile); only a
/// trap, a hang or an oversized allocation is a failure. Each file is decoded about twice
/// (by the node API and by `verify`), plus single nodes from checkpoints.
package enum ReadEverything {
    /// Opens `bytes` as an archive and reads everything; returns how many reads succeeded.
    @discardableResult
    package static func run(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard let archive = try? Archive(copying: bytes, name: "input") else { return 0 }
        return run(archive)
    }

    @discardableResult
    package static func run(_ archive: Archive) -> Int {
        var ok = 0
        func attempt<T>(_ body: () throws -> T) -> T? {
            guard let v = try? body() else { return nil }
            ok += 1
            return v
        }
        let reader = ArchiveReader(archive, cacheLimit: 4 << 20, scanning: true)
        for i in 0..<archive.fileCount {
            if let p = attempt({ try archive.path(ofFile: i) }) { _ = attempt { try archive.fileIndex(path: p) } }
            if let ft = attempt({ try reader.fileTree(i) }) {
                // The node API over a decoded tree: text and position of every node.
                for n in 0..<ft.count {
                    _ = ft.text(n)
                    _ = ft.point(ft.tree.ends[n])
                }
                _ = ft.kindName(ft.count - 1); _ = ft.fieldName(ft.count - 1)
                _ = ft.tree.subtreeEnds(); _ = ft.tree.childLists(); _ = ft.tree.depth()
            } else {
                // Each part on its own, so that a failure of one does not hide the others.
                _ = attempt { try reader.tree(ofFile: i) }
                let source = attempt { try reader.source(ofFile: i) } ?? nil
                _ = attempt { try reader.lineStarts(ofFile: i, source: source) }
            }
            // The summary a search reads first, and what it says of a few texts.
            if let summary = attempt({ try archive.summary(ofFile: i) }), let summary {
                _ = summary.count(of: [true, false, true])
                for text in [[], Array("self".utf8), [UInt8](repeating: 0x61, count: 65)] { _ = summary.mayHaveLeaf(text) }
            }
            if let f = attempt({ try archive.file(i) }) {
                let n = Int(f.nodeCount)
                for id in Set([1, n / 2, n - 1, n]) { _ = attempt { try reader.node(ofFile: i, id: id) } }
                // Point lookups decode only part of a file, from its start or a checkpoint:
                // a reader without the whole tree cached takes that path.
                let pointReader = ArchiveReader(archive, cacheLimit: 4 << 20)
                pointReader.treeCacheLimit = 0
                let length = Int(f.sourceLength)
                for b in Set([0, length / 3, length / 2, length]) {
                    _ = attempt { try pointReader.fileTree(i, at: UInt32(truncatingIfNeeded: b)) }
                }
                _ = attempt { try pointReader.fileTree(i, line: 2, column: 3) }
            }
        }
        // The public API (issue 17) over the same bytes: every node, cursor walk and lookup.
        if let api = attempt({ try CSTArchive(opened: archive, path: archive.path, cacheLimit: 1 << 20) }) {
            for file in api.files {
                _ = attempt { try file.source() }
                guard let tree = attempt({ try file.syntaxTree() }) else { continue }
                for node in tree.nodes {
                    _ = (node.kind, node.fieldName, node.isNamed, node.isError, node.hasError, node.byteRange)
                    _ = (node.start, node.end, node.text, node.parent?.id, node.childCount, node.namedChildCount)
                    _ = (node.nextSibling, node.previousSibling, node.nextNamedSibling, node.previousNamedSibling)
                    _ = (node.child(field: "name"), node.namedChild(at: 0), node.child(at: node.childCount - 1))
                }
                var cursor = tree.walk()
                var steps = 0
                repeat {
                    steps += 1
                    if cursor.gotoFirstChild() { continue }
                    while !cursor.gotoNextSibling() { if !cursor.gotoParent() { break } }
                } while cursor.depth > 0 && steps <= tree.nodeCount
                let length = file.byteCount
                for b in Set([0, length / 2, length]) {
                    _ = tree.descendant(forByteRange: b..<b)
                    _ = tree.namedDescendant(forByteRange: 0..<b)
                }
                _ = (tree.node(atLine: 2, column: 3), tree.node(atLine: Int.max, column: Int.min), tree.node(id: tree.nodeCount))
                _ = attempt { try api.query("(_) @node", language: file.language, files: [file]) }
            }
            _ = api.file(path: "no/such/file")
        }
        _ = attempt { try archive.fileIndex(path: Array("no/such/file".utf8)) }
        _ = attempt { try StatsReport.compute(archive) }
        let report = Verifier.run(archive, options: VerifyOptions(), grammars: nil)
        if report.ok { ok += 1 }
        return ok
    }
}
