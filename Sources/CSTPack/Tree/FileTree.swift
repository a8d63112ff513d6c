/// The node API that query, diff, verify and stats read through: one file's decoded tree
/// with its language's names, and its text and rows when the archive has them.
package struct FileTree: Sendable {
    package let path: [UInt8]
    package let table: LanguageTable
    package let tree: CSTTree
    package let source: [UInt8]?
    package let lineStarts: [UInt32]?
    /// Length of the file's text in bytes (known even when the text is not stored).
    package let sourceLength: Int
    /// The file's preorder id of `tree`'s node 0: 0 for a whole tree, more for the part of
    /// a file decoded from a checkpoint (its nodes' parents before that are -1 there).
    package let firstID: Int

    package init(path: [UInt8], table: LanguageTable, tree: CSTTree, source: [UInt8]?, lineStarts: [UInt32]?,
                sourceLength: Int? = nil, firstID: Int = 0) {
        self.firstID = firstID
        self.sourceLength = sourceLength ?? source?.count ?? Int(tree.ends.first ?? 0)
        self.path = path
        self.table = table
        self.tree = tree
        self.source = source
        self.lineStarts = lineStarts
    }

    package var displayPath: String { String(decoding: path, as: UTF8.self) }
    package var count: Int { tree.count }

    package func kindName(_ i: Int) -> String { table.kindNames[Int(tree.kinds[i])] }
    package func fieldName(_ i: Int) -> String? {
        let f = tree.fields[i]
        return f == 0 ? nil : table.fieldNames[Int(f)]
    }
    package func isNamed(_ i: Int) -> Bool { tree.flags[i].contains(.named) }
    package func isError(_ i: Int) -> Bool { tree.kinds[i] == table.errorKind }

    /// The node's source text, when stored.
    package func text(_ i: Int) -> ArraySlice<UInt8>? {
        guard let s = source else { return nil }
        return s[Int(tree.starts[i])..<Int(tree.ends[i])]
    }

    /// 1-based line and 1-based byte column of a byte offset (as compilers print them).
    package func point(_ byte: UInt32) -> (line: Int, column: Int)? {
        guard let starts = lineStarts else { return nil }
        var lo = 0, hi = starts.count
        while lo + 1 < hi {
            let mid = (lo + hi) / 2
            if starts[mid] <= byte { lo = mid } else { hi = mid }
        }
        return (lo + 1, Int(byte - starts[lo]) + 1)
    }
}

extension ArchiveReader {
    /// File `i` decoded with everything the node API offers. The last few decoded files
    /// are kept (see `treeCacheLimit`), so repeated lookups in one file decode it once.
    package func fileTree(_ i: Int) throws -> FileTree {
        if let hit = cachedTree(i) { return hit }
        let ft = try decodeFileTree(i)
        cacheTree(ft, for: i)
        return ft
    }

    /// The node at `byte` of file `i` by FileTree.deepestNode's rule, decoding the CST only
    /// as far as it takes: up to the first node that starts after the byte (the nodes
    /// spanning it are then known: the closed ones by their ends, the open ones because
    /// they contain that later node), then on to the end of the chosen node. The tree
    /// returned holds that prefix of the file's nodes: the chosen node and its subtree are
    /// complete; nodes after it are absent and its ancestors' ends are not final.
    package func fileTree(_ i: Int, at byte: UInt32, anonymous: Bool = false) throws -> (tree: FileTree, node: Int) {
        if let hit = cachedTree(i) { return (hit, hit.deepestNode(at: byte, anonymous: anonymous)) }
        let source = try source(ofFile: i)
        return try partialFileTree(i, at: byte, anonymous: anonymous, source: source, lineStarts: try lineStarts(ofFile: i, source: source))
    }

    /// The same for a 1-based line and byte column; nil when the point is outside the file.
    package func fileTree(_ i: Int, line: Int, column: Int, anonymous: Bool = false) throws -> (tree: FileTree, node: Int)? {
        if let hit = cachedTree(i) {
            return hit.byteOffset(line: line, column: column).map { (hit, hit.deepestNode(at: $0, anonymous: anonymous)) }
        }
        let f = try archive.file(i)
        let source = try source(ofFile: i)
        let starts = try lineStarts(ofFile: i, source: source)
        guard let byte = FileTree.byteOffset(line: line, column: column, lineStarts: starts, sourceLength: Int(f.sourceLength)) else { return nil }
        return try partialFileTree(i, at: byte, anonymous: anonymous, source: source, lineStarts: starts)
    }

    /// Why `fileTree(_:line:column:)` found nothing: one line for the user.
    package func pointOutside(_ i: Int, line: Int, column: Int) throws -> String {
        let source = try source(ofFile: i)
        return FileTree.pointOutside(line: line, column: column, lineStarts: try lineStarts(ofFile: i, source: source),
                                     sourceLength: Int(try archive.file(i).sourceLength))
    }

    private func partialFileTree(_ i: Int, at byte: UInt32, anonymous: Bool, source: [UInt8]?,
                                 lineStarts: [UInt32]?) throws -> (tree: FileTree, node: Int) {
        let f = try archive.file(i)
        let k = try lastCheckpoint(i, f, atOrBefore: byte)
        if k > 0, let found = try partialFileTree(i, f, fromRecord: k, at: byte, anonymous: anonymous, source: source, lineStarts: lineStarts) {
            return found
        }
        // From the file's first record every node is decoded, so there is always an answer.
        return try partialFileTree(i, f, fromRecord: 0, at: byte, anonymous: anonymous, source: source, lineStarts: lineStarts)!
    }

    /// The last of the file's CST records whose checkpoint position is at or before `byte`
    /// (positions never decrease: a binary search reading one varint per probe).
    private func lastCheckpoint(_ i: Int, _ f: FileEntry, atOrBefore byte: UInt32) throws -> Int {
        func position(_ k: Int) throws -> UInt64 {
            let bytes = try recordBytes(f.firstCSTRecord.index + k, stream: .cst)
            return try bytes.withUnsafeBytes { raw in
                var r = ByteReader(raw, context: "file \(i) record \(k)")
                return try r.varint(max: UInt64(f.sourceLength), "checkpoint position")
            }
        }
        var lo = 0, hi = Int(f.cstRecordCount) - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if try position(mid) <= UInt64(byte) { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }

    /// The node at `byte`, decoding from record `first` (a checkpoint, 11.5) up to the first
    /// node that starts after the byte, then on to the chosen node's end. Nodes before the
    /// checkpoint that span the byte are its open ancestors; if the answer is one of them
    /// (only possible from a later record), its facts are in an earlier record: nil then.
    /// The tree holds the nodes from the checkpoint on (`firstID`).
    private func partialFileTree(_ i: Int, _ f: FileEntry, fromRecord first: Int, at byte: UInt32, anonymous: Bool,
                                 source: [UInt8]?, lineStarts: [UInt32]?) throws -> (tree: FileTree, node: Int)? {
        let context = "file \(i)"
        let base = first == 0 ? 0 : Int(try archive.record(f.firstCSTRecord.index + first).first)
        try checkNodeCount(f, fromRecord: first, firstNode: base, context: context)
        var d = TreeDecoder(table: archive.languages[Int(f.language)], model: try archive.tagModel(language: Int(f.language)),
                            nodeCount: Int(f.nodeCount), sourceLength: Int(f.sourceLength), base: base, reusing: lookupBuffers)
        lookupBuffers = d.nodes
        // From the first record the root spans every byte: the answer when nothing deeper does.
        func deepest(open: [Int32]) -> Int32? {
            Self.deepest(d.nodes, base: base, open: open, byte: byte, anonymous: anonymous) ?? (base == 0 ? 0 : nil)
        }
        var best: Int32? = nil
        var searched = false, complete = false
        for k in first..<Int(f.cstRecordCount) where !complete {
            let recordIndex = f.firstCSTRecord.index + k
            let rec = try archive.record(recordIndex)
            guard Int(rec.first) == base + d.count else {
                throw FormatError("\(context) record \(k): says it starts at node \(rec.first), the stream is at node \(base + d.count)")
            }
            let bytes = try recordBytes(recordIndex, stream: .cst)
            complete = try bytes.withUnsafeBytes { raw in
                var r = ByteReader(raw, context: "\(context) record \(k)")
                try d.readState(&r, checkAgainstRunning: k > first)
                if !searched {
                    guard try d.run(&r, stopAfter: nil, stopBefore: UInt64(byte)) else { return false }
                    searched = true
                    best = deepest(open: d.openNodes)
                    guard let b = best else { return true } // an ancestor from before the checkpoint
                    // A closed node is final.
                    if !d.openNodes.contains(b) { return true }
                }
                return try d.run(&r, stopAfter: best)
            }
        }
        if !complete {
            // Every record was read: the stream must end whole, and every node is closed.
            _ = try d.finishInPlace(context: context)
            if !searched { best = deepest(open: []) }
        }
        guard let b = best else { return nil }
        var nodes = d.nodes.tree()
        if base > 0 {
            for j in nodes.parents.indices {
                let p = Int(nodes.parents[j])
                nodes.parents[j] = p < base ? -1 : Int32(p - base)
            }
        }
        let ft = FileTree(path: try archive.path(ofFile: i), table: archive.languages[Int(f.language)], tree: nodes, source: source,
                          lineStarts: lineStarts, sourceLength: Int(f.sourceLength), firstID: base)
        return (ft, Int(b) - base)
    }

    /// deepestNode's rule over nodes decoded from node `base` on, where the open ones
    /// (`open`: ascending ids, as the decoder's stack holds them) span the byte: the last
    /// in preorder that spans it, or nil when none does.
    static func deepest(_ n: TreeDecoder.Buffers, base: Int, open: [Int32], byte: UInt32, anonymous: Bool) -> Int32? {
        var best: Int32? = nil
        var k = 0
        for j in 0..<n.count {
            if n.starts[j] > byte { break }
            let id = Int32(base + j)
            while k < open.count && open[k] < id { k += 1 }
            let isOpen = k < open.count && open[k] == id
            if (isOpen || n.ends[j] > byte) && (anonymous || n.flags[j].contains(.named)) { best = id }
        }
        return best
    }

    private func decodeFileTree(_ i: Int) throws -> FileTree {
        let f = try archive.file(i)
        let source = try source(ofFile: i)
        return FileTree(path: try archive.path(ofFile: i), table: archive.languages[Int(f.language)],
                        tree: try tree(ofFile: i), source: source, lineStarts: try lineStarts(ofFile: i, source: source),
                        sourceLength: Int(f.sourceLength))
    }
}
