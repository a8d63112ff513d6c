/// Limits of one file's node-level diff, beyond which it falls back to the coarse diff.
package struct TreeDiffOptions: Sendable {
    /// Nodes of both sides together.
    package var maxNodes = 1_000_000
    /// Seconds of matching per file.
    package var maxSeconds = 2.0
    /// Work units (node visits, alignment cells) per file.
    package var maxWork = 400_000_000
    /// Minified or generated text (a line over `longLine` bytes, or lines averaging over
    /// `longAverage` bytes) gets the coarse diff unless `structuralLongLines` is set: a
    /// structural diff of one-line code reports positions no reviewer can read.
    package var structuralLongLines = false
    package static let longLine = 10_000
    package static let longAverage = 500
    /// Replay each edit script on the old tree and record whether it yields the new tree.
    package var checkReplay = false

    package init() {}
}

extension TreeDiff {
    /// The node-level diff of two versions of one file (same language; the kinds are compared
    /// by name, so two versions of a grammar work too). Needs both sources for the text of
    /// leaves; without them only the shapes are compared.
    package static func compute(old: FileTree, new: FileTree, options: TreeDiffOptions = TreeDiffOptions()) -> TreeDiff {
        let started = monotonicSeconds()
        let fa = TableFactsCache.shared.facts(old.table), fb = TableFactsCache.shared.facts(new.table)
        let a = DiffTree(old, kindLabels: fa.kindLabels, fieldLabels: fa.fieldLabels)
        let b = DiffTree(new, kindLabels: fb.kindLabels, fieldLabels: fb.fieldLabels)
        var result = TreeDiff(mode: .structural, changes: [], groups: [], oldNodes: a.n, newNodes: b.n, seconds: 0)
        guard a.n > 0, b.n > 0 else { return result }
        if a.hash[0] == b.hash[0] && a.n == b.n { // same tree, same text but for white space
            if options.checkReplay { // node for node: the empty script
                let same = (0..<Int32(a.n)).map { $0 }
                result.replay = .some(EditReplay(a: a, b: b, m1: same, m2: same).check([]))
            }
            result.seconds = monotonicSeconds() - started
            return result
        }
        let decls = DeclarationPair(a: Declarations(a, facts: fa), b: Declarations(b, facts: fb))
        var reason: String? = nil
        if a.n + b.n > options.maxNodes {
            reason = "\(a.n + b.n) nodes, over the limit of \(options.maxNodes)"
        } else if !options.structuralLongLines, let long = longLines(old) ?? longLines(new) {
            reason = long
        } else {
            var matcher = TreeMatcher(a, b, budget: DiffBudget(maxWork: options.maxWork, seconds: options.maxSeconds, from: started),
                                      identityFields: fb.identityFields, decls: decls)
            do {
                try matcher.run()
                var script = EditScript(a: a, b: b, m1: matcher.m1, m2: matcher.m2, facts: (fa, fb), decls: decls)
                let (changes, groups) = try script.build(budget: &matcher.budget)
                result.changes = changes
                result.groups = groups
                result.renames = script.renames()
                if options.checkReplay { result.replay = .some(EditReplay(a: a, b: b, m1: matcher.m1, m2: matcher.m2).check(changes)) }
                result.seconds = monotonicSeconds() - started
                return result
            } catch {
                reason = error.reason
            }
        }
        var coarse = CoarseMatcher(a, b, decls: decls)
        coarse.run()
        var script = EditScript(a: a, b: b, m1: coarse.m1, m2: coarse.m2, facts: (fa, fb), decls: decls)
        var unlimited = DiffBudget(maxWork: Int.max, seconds: 1e9)
        if let (changes, groups) = try? script.build(budget: &unlimited) {
            result.changes = changes
            result.groups = groups
            result.renames = script.renames()
            if options.checkReplay { result.replay = .some(EditReplay(a: a, b: b, m1: coarse.m1, m2: coarse.m2).check(changes)) }
        }
        result.mode = .coarse(reason: reason ?? "budget exceeded")
        result.seconds = monotonicSeconds() - started
        return result
    }

    /// Why a file looks minified or generated (see TreeDiffOptions.structuralLongLines), or nil.
    static func longLines(_ f: FileTree) -> String? {
        guard let src = f.source, !src.isEmpty else { return nil }
        var longest = 0, lines = 0, start = 0
        for (k, byte) in src.enumerated() where byte == 0x0A {
            longest = max(longest, k - start)
            lines += 1
            start = k + 1
        }
        if start < src.count { longest = max(longest, src.count - start); lines += 1 }
        if longest > TreeDiffOptions.longLine {
            return "minified or generated: a line of \(longest) bytes (over \(TreeDiffOptions.longLine))"
        }
        if src.count / max(lines, 1) > TreeDiffOptions.longAverage {
            return "minified or generated: lines of \(src.count / max(lines, 1)) bytes on average (over \(TreeDiffOptions.longAverage))"
        }
        return nil
    }
}
