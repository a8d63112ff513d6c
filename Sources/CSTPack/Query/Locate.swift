/// Finding files by path or glob, and nodes by id, position or kind.
package enum Locate {
    /// File indices selected by `pattern`: an exact stored path, or a glob (`*`, `?`,
    /// `[...]`, and `**` across folders). Unknown exact paths get close suggestions.
    package static func files(_ archive: Archive, matching pattern: String) throws -> [Int] {
        let p = Array(pattern.utf8)
        let isGlob = p.contains { $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "[") }
        if !isGlob {
            var path = p
            while path.starts(with: Array("./".utf8)) { path.removeFirst(2) }
            while path.count > 1 && path.last == UInt8(ascii: "/") { path.removeLast() }
            if let i = try archive.fileIndex(path: path) { return [i] }
            // A directory: every file under it (stored paths are sorted, so they are adjacent).
            let folder = path + [UInt8(ascii: "/")]
            var under: [Int] = []
            for i in 0..<archive.fileCount where try archive.path(ofFile: i).starts(with: folder) { under.append(i) }
            if !under.isEmpty || path == [UInt8(ascii: ".")] { return path == [UInt8(ascii: ".")] ? Array(0..<archive.fileCount) : under }
            var all: [String] = []
            for i in 0..<archive.fileCount { all.append(String(decoding: try archive.path(ofFile: i), as: UTF8.self)) }
            let base = pattern.split(separator: "/").last.map(String.init) ?? pattern
            var near = nearestNames(pattern, in: all, limit: 3)
            if near.isEmpty { near = all.filter { $0.hasSuffix("/" + base) || $0 == base }.prefix(3).map { $0 } }
            throw CSTPackError("no file '\(pattern)' in \(archive.path)" + (near.isEmpty ? "" : "; did you mean: \(near.joined(separator: ", "))?"))
        }
        var out: [Int] = []
        for i in 0..<archive.fileCount where glob(p[...], try archive.path(ofFile: i)[...]) { out.append(i) }
        return out
    }

    /// The files `patterns` select, in path order, each once: stored paths, directories
    /// (every file under them) and globs; a pattern `:!GLOB` (git's pathspec) and each of
    /// `excludes` take files out. Every positive pattern must select something. With no
    /// positive pattern, every file is selected.
    package static func select(_ archive: Archive, _ patterns: [String], excludes: [String] = []) throws -> [Int] {
        let negative = patterns.filter { $0.hasPrefix(":!") }.map { String($0.dropFirst(2)) } + excludes
        let positive = patterns.filter { !$0.hasPrefix(":!") }
        var chosen = Set<Int>()
        if positive.isEmpty { chosen = Set(0..<archive.fileCount) }
        for p in positive {
            let found = try files(archive, matching: p)
            if found.isEmpty { throw CSTPackError("no stored file matches '\(p)'") }
            chosen.formUnion(found)
        }
        for n in negative {
            let pattern = Array(n.utf8)
            for i in chosen {
                let path = try archive.path(ofFile: i)
                if glob(pattern[...], path[...]) || path.starts(with: pattern + [UInt8(ascii: "/")]) { chosen.remove(i) }
            }
        }
        return chosen.sorted()
    }

    /// A FILE argument as a stored path: given inside the directory the archive was built
    /// from (`cwd`, absolute), it is relative to `cwd`, as git reads paths; elsewhere it is a
    /// stored path as it is.
    package static func storedPattern(_ argument: String, archive: Archive, cwd: String?) -> String {
        // `:!GLOB` is the same path, excluded.
        if argument.hasPrefix(":!") { return ":!" + storedPattern(String(argument.dropFirst(2)), archive: archive, cwd: cwd) }
        guard let root = archive.treeState?.rootPath, !root.isEmpty, let cwd, !argument.hasPrefix("/"),
              cwd.hasPrefix(root + "/") else { return argument }
        var parts = cwd.dropFirst(root.count + 1).split(separator: "/").map(String.init)
        for part in argument.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default: parts.append(String(part))
            }
        }
        return parts.isEmpty ? "." : parts.joined(separator: "/")
    }

    /// Glob matching on bytes; `*` stays within a folder, `**/` spans any number of them.
    /// Runs as a set of positions in `s` reached after each pattern token (time O(|p|·|s|),
    /// no recursion): a backtracking matcher takes exponential time on patterns like
    /// `*a*a*a*a*b` and recursion as deep as the pattern's stars.
    package static func glob(_ p: ArraySlice<UInt8>, _ s: ArraySlice<UInt8>) -> Bool {
        let s = Array(s), n = s.count
        let slash = UInt8(ascii: "/")
        var reached = [Bool](repeating: false, count: n + 1)
        var next = reached
        reached[0] = true
        var p = p
        while let c = p.first {
            for k in 0...n { next[k] = false }
            switch c {
            case UInt8(ascii: "*") where p.dropFirst().first == UInt8(ascii: "*"):
                // Zero or more whole folders: stay, or move to just after any later slash.
                p = p.dropFirst(2)
                if p.first == slash { p = p.dropFirst() }
                if p.isEmpty { return reached.contains(true) } // a trailing ** takes anything
                var on = false
                for k in 0...n {
                    if reached[k] { on = true; next[k] = true }
                    if on && k < n && s[k] == slash { next[k + 1] = true }
                }
            case UInt8(ascii: "*"):
                // Any run of bytes up to and including the position of the next slash.
                p = p.dropFirst()
                var on = false
                for k in 0...n {
                    if reached[k] { on = true }
                    next[k] = on
                    if k < n && s[k] == slash { on = false }
                }
            case UInt8(ascii: "?"):
                p = p.dropFirst()
                for k in 0..<n where reached[k] && s[k] != slash { next[k + 1] = true }
            case UInt8(ascii: "["):
                // A ']' right after '[' (or "[!") is a member; no closing ']' matches nothing.
                guard let close = p.dropFirst(2).firstIndex(of: UInt8(ascii: "]")) else { return false }
                var set = p[(p.startIndex + 1)..<close]
                let negate = set.first == UInt8(ascii: "!") || set.first == UInt8(ascii: "^")
                if negate { set = set.dropFirst() }
                var member = [Bool](repeating: false, count: 256)
                var k = set.startIndex
                while k < set.endIndex {
                    if k + 2 < set.endIndex && set[k + 1] == UInt8(ascii: "-") {
                        if set[k] <= set[k + 2] { for b in set[k]...set[k + 2] { member[Int(b)] = true } }
                        k += 3
                    } else {
                        member[Int(set[k])] = true
                        k += 1
                    }
                }
                p = p[(close + 1)...]
                for k in 0..<n where reached[k] && member[Int(s[k])] != negate { next[k + 1] = true }
            default:
                p = p.dropFirst()
                for k in 0..<n where reached[k] && s[k] == c { next[k + 1] = true }
            }
            swap(&reached, &next)
            if !reached.contains(true) { return false }
        }
        return reached[n]
    }
}

extension FileTree {
    /// Byte offset of a 1-based line and 1-based byte column, if inside the file.
    package func byteOffset(line: Int, column: Int) -> UInt32? {
        Self.byteOffset(line: line, column: column, lineStarts: lineStarts, sourceLength: sourceLength)
    }

    /// Why `byteOffset` found no byte at line:column: one line for the user.
    static func pointOutside(line: Int, column: Int, lineStarts: [UInt32]?, sourceLength: Int) -> String {
        guard let starts = lineStarts else { return "\(line):\(column): the file has no line table" }
        if line < 1 || column < 1 { return "\(line):\(column): lines and columns start at 1" }
        if line > starts.count { return "line \(line) is past the end of the file (\(starts.count) lines)" }
        let lineEnd = line < starts.count ? Int(starts[line]) - 1 : sourceLength
        let columns = lineEnd - Int(starts[line - 1]) + 1
        return "column \(column) is past the end of line \(line) (columns 1 to \(columns): bytes, the last one the line's end)"
    }

    static func byteOffset(line: Int, column: Int, lineStarts: [UInt32]?, sourceLength: Int) -> UInt32? {
        guard let starts = lineStarts, line >= 1, line <= starts.count, column >= 1 else { return nil }
        // The column may point at the line's end (its newline), not past it.
        let lineEnd = line < starts.count ? Int(starts[line]) - 1 : sourceLength
        // Compared as a distance from the line's start: `start + column` may overflow.
        let start = Int(starts[line - 1])
        guard column - 1 <= lineEnd - start, let offset = UInt32(exactly: start + column - 1) else { return nil }
        return offset
    }

    /// The smallest named node (any node with `anonymous`) spanning `byte`, as tree-sitter's
    /// `ts_node_named_descendant_for_byte_range(byte, byte)` finds it: nodes that start at
    /// or before the byte and end after it form one chain of ancestors; the answer is its
    /// deepest (named) member, else the root. Preorder starts never decrease, so the last
    /// node starting at or before the byte (a binary search) is in that chain or below it,
    /// and the answer is the first of it and its ancestors that ends after the byte.
    package func deepestNode(at byte: UInt32, anonymous: Bool = false) -> Int {
        let n = tree.count
        var lo = 1, hi = n
        while lo < hi {
            let mid = (lo + hi) / 2
            if tree.starts[mid] <= byte { lo = mid + 1 } else { hi = mid }
        }
        var j = lo - 1
        while j > 0 {
            if tree.ends[j] > byte && (anonymous || tree.flags[j].contains(.named)) { return j }
            let parent = Int(tree.parents[j])
            guard parent < j else { break } // a parent precedes its children in any tree we decode
            j = parent
        }
        return 0
    }

    /// The deepest node (named, unless `anonymous`) whose range holds all of `range`: the
    /// node at its start, or the nearest ancestor that reaches its end.
    package func deepestNode(spanning range: Range<UInt32>, anonymous: Bool = false) -> Int {
        var j = deepestNode(at: range.lowerBound, anonymous: anonymous)
        while j > 0 {
            if tree.ends[j] >= range.upperBound && tree.starts[j] <= range.lowerBound && (anonymous || tree.flags[j].contains(.named)) { return j }
            let parent = Int(tree.parents[j])
            guard parent >= 0, parent < j else { break }
            j = parent
        }
        return 0
    }
}
