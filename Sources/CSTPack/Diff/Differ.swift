import Glibc

/// `cstpack diff`: which files differ between two snapshots (by content hash, without
/// decoding anything), which of them were renamed (same hash, or similar lines), and for the
/// modified ones a node-level diff, computed in parallel and delivered in path order.
package final class DiffPlan: @unchecked Sendable {
    package let old: Snapshot
    package let new: Snapshot
    package let options: DiffOptions
    /// The files that differ, in byte order of their paths (the new path, else the old one),
    /// without node-level diffs yet.
    package private(set) var files: [FileDiff] = []
    package private(set) var warnings: [String] = []

    package init(old: Snapshot, new: Snapshot, options: DiffOptions) throws {
        self.old = old
        self.new = new
        self.options = options
        warnings = old.warnings + new.warnings
        let filter = PathFilter(options.paths + options.excludes.map { ":!" + $0 })
        let a = old.files, b = new.files
        // A PATH that names nothing on either side is a typo, not an empty diff.
        if let unmatched = filter.unmatched(in: a.map(\.path) + b.map(\.path)) {
            throw CSTPackError("PATH '\(unmatched)' matches no file of either side")
        }
        var removed: [Int] = [], added: [Int] = []
        var out: [FileDiff] = []
        var i = 0, j = 0
        while i < a.count || j < b.count {
            if j >= b.count || (i < a.count && a[i].path.lexicographicallyPrecedes(b[j].path)) {
                if filter.matches(a[i].path) { removed.append(i) }
                i += 1
            } else if i >= a.count || b[j].path.lexicographicallyPrecedes(a[i].path) {
                if filter.matches(b[j].path) { added.append(j) }
                j += 1
            } else {
                if a[i].hash != b[j].hash && filter.matches(a[i].path) {
                    out.append(FileDiff(status: .modified, old: a[i], new: b[j]))
                }
                i += 1; j += 1
            }
        }
        // Renames: identical content first, then similar lines.
        var addedByHash: [ContentHash: [Int]] = [:]
        for k in added { addedByHash[b[k].hash, default: []].append(k) }
        var takenNew = Set<Int>(), takenOld = Set<Int>()
        for k in removed {
            guard let cands = addedByHash[a[k].hash] else { continue }
            let free = cands.filter { !takenNew.contains($0) }
            guard !free.isEmpty else { continue }
            let base = baseName(a[k].path)
            let pick = free.first { baseName(b[$0].path) == base } ?? free[0]
            takenNew.insert(pick); takenOld.insert(k)
            out.append(FileDiff(status: .renamed(score: 100), old: a[k], new: b[pick]))
        }
        let restOld = removed.filter { !takenOld.contains($0) }
        let restNew = added.filter { !takenNew.contains($0) }
        if options.renameThreshold <= 100, !restOld.isEmpty, !restNew.isEmpty {
            if restOld.count * restNew.count > options.renameLimit {
                warnings.append("inexact rename detection skipped: \(restOld.count) removed × \(restNew.count) added files is over the limit of \(options.renameLimit) pairs")
            } else {
                for (o, n, score) in try similarPairs(restOld, restNew) {
                    takenOld.insert(o); takenNew.insert(n)
                    out.append(FileDiff(status: .renamed(score: score), old: a[o], new: b[n]))
                }
            }
        }
        for k in removed where !takenOld.contains(k) { out.append(FileDiff(status: .deleted, old: a[k], new: nil)) }
        for k in added where !takenNew.contains(k) { out.append(FileDiff(status: .added, old: nil, new: b[k])) }
        out.sort { $0.path.lexicographicallyPrecedes($1.path) }
        files = out
    }

    /// Greedy best-first pairing of removed and added files whose lines are similar enough.
    private func similarPairs(_ olds: [Int], _ news: [Int]) throws -> [(Int, Int, Int)] {
        let sigOld = try signatures(old, olds.map { old.files[$0] })
        let sigNew = try signatures(new, news.map { new.files[$0] })
        let threshold = options.renameThreshold
        var pairs: [(score: Int, sameBase: Bool, o: Int, n: Int)] = []
        for (x, so) in sigOld.enumerated() {
            guard let so else { continue }
            for (y, sn) in sigNew.enumerated() {
                guard let sn else { continue }
                let big = max(so.total, sn.total), small = min(so.total, sn.total)
                guard big > 0, small * 100 >= threshold * big else { continue }
                let score = so.common(with: sn) * 100 / big
                guard score >= threshold else { continue }
                pairs.append((score, baseName(old.files[olds[x]].path) == baseName(new.files[news[y]].path), x, y))
            }
        }
        pairs.sort { l, r in
            if l.score != r.score { return l.score > r.score }
            if l.sameBase != r.sameBase { return l.sameBase }
            return l.o != r.o ? l.o < r.o : l.n < r.n
        }
        var usedO = Set<Int>(), usedN = Set<Int>()
        var out: [(Int, Int, Int)] = []
        for p in pairs where !usedO.contains(p.o) && !usedN.contains(p.n) {
            usedO.insert(p.o); usedN.insert(p.n)
            out.append((olds[p.o], news[p.n], min(p.score, 99)))
        }
        return out
    }

    private func signatures(_ s: Snapshot, _ files: [SnapshotFile]) throws -> [LineSignature?] {
        let jobs = max(1, min(options.jobs, files.count))
        let queue = OrderedWorkQueue<LineSignature?>(total: files.count, window: jobs * 64)
        let join = startThreads(jobs) { _ in
            let loader = SnapshotLoader(s)
            while let i = queue.take() {
                let sig = (try? loader.source(files[i])).flatMap { $0.map(LineSignature.init) }
                queue.put(i, sig)
            }
        }
        var out: [LineSignature?] = []
        while let sig = queue.next() { out.append(sig) }
        join()
        return out
    }

    /// Computes the node-level diffs (unless options.nodeLevel is off) on options.jobs threads
    /// and hands every file to `each` in order.
    package func run(_ each: (Int, FileDiff) -> Void) {
        let files = self.files
        guard options.nodeLevel else {
            for (k, f) in files.enumerated() { each(k, f) }
            return
        }
        let jobs = max(1, min(options.jobs, files.count))
        let queue = OrderedWorkQueue<FileDiff>(total: files.count, window: jobs * 32)
        let join = startThreads(jobs) { _ in
            let oldLoader = SnapshotLoader(self.old), newLoader = SnapshotLoader(self.new)
            while let i = queue.take() {
                var f = files[i]
                f.nodes = self.nodeDiff(f, oldLoader, newLoader)
                queue.put(i, f, bytes: (f.treeDiff?.changes.count ?? 0) * 256)
            }
        }
        var k = 0
        while let f = queue.next() { each(k, f); k += 1 }
        join()
    }

    /// All files with their node-level diffs.
    package func collect() -> [FileDiff] {
        var out: [FileDiff] = []
        run { _, f in out.append(f) }
        return out
    }

    private func nodeDiff(_ f: FileDiff, _ oldLoader: SnapshotLoader, _ newLoader: SnapshotLoader) -> FileDiff.Nodes {
        guard let o = f.old, let n = f.new else { return .none }
        if case .renamed(let score) = f.status, score == 100 { return .none }
        guard o.language == n.language else { return .unavailable("language changed: \(o.language) → \(n.language)") }
        let ta: FileTree, tb: FileTree
        do {
            ta = try oldLoader.tree(o)
            tb = try newLoader.tree(n)
        } catch {
            return .unavailable("\(error)")
        }
        guard ta.source != nil, tb.source != nil else {
            return .unavailable("no source text in the archive (built with --no-source)")
        }
        return .diff(TreeDiff.compute(old: ta, new: tb, options: options.tree))
    }
}

/// Which paths a diff is limited to: each spec is a path, a directory (its files), or a glob
/// in the syntax of every other command (Locate.glob: `*` stays in a folder, `**` crosses
/// folders); `:!GLOB` leaves paths out.
struct PathFilter {
    let specs: [[UInt8]]
    let patterns: [[UInt8]]
    let excluded: [[UInt8]]

    init(_ raw: [String]) {
        var specs: [[UInt8]] = [], patterns: [[UInt8]] = [], excluded: [[UInt8]] = []
        for r in raw {
            if r.hasPrefix(":!") { excluded.append(Array(r.dropFirst(2).utf8)); continue }
            var s = r
            while s.hasPrefix("./") { s.removeFirst(2) }
            while s.count > 1 && s.hasSuffix("/") { s.removeLast() }
            if s.contains(where: { "*?[".contains($0) }) { patterns.append(Array(s.utf8)) } else { specs.append(Array(s.utf8)) }
        }
        self.specs = specs
        self.patterns = patterns
        self.excluded = excluded
    }

    /// The first positive spec or pattern that matches none of `paths`.
    func unmatched(in paths: [[UInt8]]) -> String? {
        for s in specs where !s.isEmpty && s != [UInt8(ascii: ".")] {
            if !paths.contains(where: { $0 == s || ($0.starts(with: s) && $0.dropFirst(s.count).first == UInt8(ascii: "/")) }) {
                return String(decoding: s, as: UTF8.self)
            }
        }
        for p in patterns where !paths.contains(where: { Locate.glob(p[...], $0[...]) }) { return String(decoding: p, as: UTF8.self) }
        return nil
    }

    func matches(_ path: [UInt8]) -> Bool {
        for x in excluded where Locate.glob(x[...], path[...]) || (path.starts(with: x) && path.dropFirst(x.count).first == UInt8(ascii: "/")) {
            return false
        }
        if specs.isEmpty && patterns.isEmpty { return true }
        for s in specs {
            if s.isEmpty || s == [UInt8(ascii: ".")] || s == path { return true }
            if path.count > s.count && path.starts(with: s) && path[s.count] == UInt8(ascii: "/") { return true }
        }
        for p in patterns where Locate.glob(p[...], path[...]) { return true }
        return false
    }
}

private func baseName(_ path: [UInt8]) -> ArraySlice<UInt8> {
    guard let slash = path.lastIndex(of: UInt8(ascii: "/")) else { return path[...] }
    return path[(slash + 1)...]
}

/// The lines of a file as a multiset of hashes weighted by length, white space around each
/// line ignored, blank lines left out: what rename similarity compares.
struct LineSignature: Sendable {
    var hashes: [UInt64] = []
    var weights: [Int] = []
    var total = 0

    init(_ bytes: [UInt8]) {
        var pairs: [(UInt64, Int)] = []
        bytes.withUnsafeBytes { raw in
            var s = 0
            let n = raw.count
            while s < n {
                var e = s
                while e < n && raw[e] != 0x0A { e += 1 }
                var ts = s, te = e
                while ts < te && isSpace(raw[ts]) { ts += 1 }
                while te > ts && isSpace(raw[te - 1]) { te -= 1 }
                if te > ts { pairs.append((Hash.xxh3(UnsafeRawBufferPointer(rebasing: raw[ts..<te])), te - ts + 1)) }
                s = e + 1
            }
        }
        pairs.sort { $0.0 < $1.0 }
        for (h, w) in pairs {
            total += w
            if let last = hashes.last, last == h { weights[weights.count - 1] += w } else { hashes.append(h); weights.append(w) }
        }
    }

    /// Weight of the lines both have (each line counted as often as the rarer side has it).
    func common(with o: LineSignature) -> Int {
        var i = 0, j = 0, sum = 0
        while i < hashes.count && j < o.hashes.count {
            if hashes[i] < o.hashes[j] { i += 1 } else if hashes[i] > o.hashes[j] { j += 1 } else {
                sum += min(weights[i], o.weights[j]); i += 1; j += 1
            }
        }
        return sum
    }
}
