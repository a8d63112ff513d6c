/// Limits of one file's node-level diff, beyond which it falls back to the coarse diff.
public struct TreeDiffOptions: Sendable {
    /// Nodes of both sides together.
    public var maxNodes = 1_000_000
    /// Seconds of matching per file.
    public var maxSeconds = 2.0
    /// Work units (node visits, alignment cells) per file.
    public var maxWork = 400_000_000

    public init() {}
}

extension TreeDiff {
    /// The node-level diff of two versions of one file (same language; the kinds are compared
    /// by name, so two versions of a grammar work too). Needs both sources for the text of
    /// leaves; without them only the shapes are compared.
    public static func compute(old: FileTree, new: FileTree, options: TreeDiffOptions = TreeDiffOptions()) -> TreeDiff {
        let started = monotonicSeconds()
        let fa = TableFactsCache.shared.facts(old.table), fb = TableFactsCache.shared.facts(new.table)
        let a = DiffTree(old, kindLabels: fa.kindLabels, fieldLabels: fa.fieldLabels)
        let b = DiffTree(new, kindLabels: fb.kindLabels, fieldLabels: fb.fieldLabels)
        var result = TreeDiff(mode: .structural, changes: [], groups: [], oldNodes: a.n, newNodes: b.n, seconds: 0)
        guard a.n > 0, b.n > 0 else { return result }
        if a.hash[0] == b.hash[0] && a.n == b.n { // same tree, same text but for white space
            result.seconds = monotonicSeconds() - started
            return result
        }
        var reason: String? = nil
        if a.n + b.n > options.maxNodes {
            reason = "\(a.n + b.n) nodes, over the limit of \(options.maxNodes)"
        } else {
            var matcher = TreeMatcher(a, b, budget: DiffBudget(maxWork: options.maxWork, seconds: options.maxSeconds, from: started),
                                      identityFields: fb.identityFields)
            do {
                try matcher.run()
                var script = EditScript(a: a, b: b, m1: matcher.m1, m2: matcher.m2, facts: (fa, fb))
                let (changes, groups) = try script.build(budget: &matcher.budget)
                result.changes = changes
                result.groups = groups
                result.seconds = monotonicSeconds() - started
                return result
            } catch {
                reason = error.reason
            }
        }
        var coarse = CoarseMatcher(a, b)
        coarse.run()
        var script = EditScript(a: a, b: b, m1: coarse.m1, m2: coarse.m2, facts: (fa, fb))
        var unlimited = DiffBudget(maxWork: Int.max, seconds: 1e9)
        if let (changes, groups) = try? script.build(budget: &unlimited) {
            result.changes = changes
            result.groups = groups
        }
        result.mode = .coarse(reason: reason ?? "budget exceeded")
        result.seconds = monotonicSeconds() - started
        return result
    }
}
