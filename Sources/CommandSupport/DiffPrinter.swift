import CSTPack
/// The text forms of a diff: human-readable (optionally coloured), --stat, --name-status
/// (git's letters, tab-separated raw paths) and --json (one object per file, JSON Lines).
package struct DiffPrinter {
    package enum Format: Sendable { case human, stat, nameStatus, json }
    package let format: Format
    package let color: Bool

    package init(format: Format, color: Bool) {
        self.format = format
        self.color = color
    }

    private func paint(_ s: String, _ code: String) -> String { color ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s }

    private func statusColor(_ s: FileStatus) -> String {
        switch s {
        case .added: return "32"
        case .deleted: return "31"
        case .modified: return "33"
        case .renamed: return "36"
        }
    }

    private func opMark(_ op: NodeChange.Op) -> (String, String) {
        switch op {
        case .insert: return ("+", "32")
        case .delete: return ("-", "31")
        case .update: return ("~", "33")
        case .move: return (">", "35")
        }
    }

    /// One file, in the streaming formats (human, name-status, JSON).
    package func render(_ f: FileDiff) -> [UInt8] {
        switch format {
        case .nameStatus: return nameStatus(f)
        case .json: return Array((json(f) + "\n").utf8)
        case .human, .stat: return Array(human(f).utf8)
        }
    }

    // MARK: --name-status

    func nameStatus(_ f: FileDiff) -> [UInt8] {
        var out = Array(f.status.letter.utf8)
        if let o = f.old, f.status != .added { out += [9] + o.path }
        if let n = f.new, f.status != .deleted, f.status != .modified { out += [9] + n.path }
        return out + [10]
    }

    // MARK: Human

    package static func spanText(_ s: SourceSpan) -> String {
        "\(s.start.line):\(s.start.column)-\(s.end.line):\(s.end.column)"
    }

    package static func counts(_ d: TreeDiff) -> String {
        "+\(d.count(.insert)) -\(d.count(.delete)) ~\(d.count(.update)) >\(d.count(.move))"
    }

    private func pathText(_ f: FileDiff) -> String {
        let n = f.new?.displayPath, o = f.old?.displayPath
        if case .renamed = f.status, let o, let n { return "\(o) → \(n)" }
        return n ?? o ?? ""
    }

    func human(_ f: FileDiff) -> String {
        var header = paint(f.status.letter, statusColor(f.status)) + "  " + paint(pathText(f), "1")
        var body: [String] = []
        switch f.nodes {
        case .none:
            switch f.status {
            case .added: if let n = f.new { header += paint("  (\(n.language), \(lines(n.lines)))", "2") }
            case .deleted: if let o = f.old { header += paint("  (\(o.language), \(lines(o.lines)))", "2") }
            default: break
            }
        case .unavailable(let why):
            header += paint("  (no node-level diff: \(why))", "2")
        case .diff(let d):
            header += "  " + paint(Self.counts(d), "2")
            if case .coarse(let reason) = d.mode {
                body.append("    " + paint("coarse diff (\(reason)): whole subtrees only, no moves", "1;31"))
            }
            if d.changes.isEmpty {
                body.append("    " + paint("no structural change (layout, white space or comments outside the tree only)", "2"))
            }
            for g in d.groups {
                body.append("    " + groupTitle(g))
                for k in g.changes { body.append("      " + changeLine(d.changes[k])) }
            }
        }
        return ([header] + body).joined(separator: "\n") + "\n"
    }

    func groupTitle(_ g: ChangeGroup) -> String {
        guard !g.path.isEmpty else { return paint("(top level)", "36") }
        let path = g.path.map { d -> String in
            var s = "\(d.kind) `\(Self.shortened(d.name))`"
            if let o = d.oldName { s += " (was `\(Self.shortened(o))`)" }
            return s
        }.joined(separator: " › ")
        let parts = g.parts.isEmpty ? "" : ": " + g.parts.joined(separator: ", ") + " changed"
        return paint(path + parts, "36")
    }

    func changeLine(_ c: NodeChange) -> String {
        let (mark, code) = opMark(c.op)
        var s = paint("\(mark) \(c.op.rawValue)", code) + "  "
        switch c.op {
        case .insert:
            s += "\(c.new.map(Self.spanText) ?? "")  \(c.kind)  `\(Self.shortened(c.newText ?? ""))`" + keptText(c)
        case .delete:
            s += "old \(c.old.map(Self.spanText) ?? "")  \(c.kind)  `\(Self.shortened(c.oldText ?? ""))`" + keptText(c)
        case .update:
            s += "\(c.new.map(Self.spanText) ?? "")  \(c.kind)  " + updateText(c.oldText ?? "", c.newText ?? "")
        case .move:
            s += "\(c.old.map(Self.spanText) ?? "") → \(c.new.map(Self.spanText) ?? "")  \(c.kind)  `\(Self.shortened(c.newText ?? ""))`"
        }
        return s
    }

    /// What an insert wraps or a delete unwraps: it stays.
    private func keptText(_ c: NodeChange) -> String {
        guard let first = c.kept.first else { return "" }
        let more = c.kept.count > 1 ? " and \(c.kept.count - 1) more" : ""
        return paint("  (keeps \(Self.spanText(first))\(more))", "2")
    }

    /// Human output shows at most this many characters of a text on one line, and this many
    /// lines of an update's word diff; "…" marks what is left out.
    static let shortLimit = 60
    static let wordDiffLines = 4
    static let wordDiffWidth = 160

    /// The first non-blank line of a text, trimmed, at most shortLimit characters; "…" when
    /// cut or when more lines follow.
    static func shortened(_ text: String) -> String {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard let k = lines.firstIndex(where: { $0.contains { !$0.isWhitespace } }) else { return "" }
        let line = lines[k].trimmingCharacters(in: .whitespaces)
        var more = lines[(k + 1)...].contains { $0.contains { !$0.isWhitespace } }
        var out = line
        if out.count > shortLimit { out = String(out.prefix(shortLimit - 1)); more = true }
        return more ? out + "…" : out
    }

    /// An update: `old` → `new` with the changed words highlighted when both are short one-line
    /// texts; else the changed lines as a word diff (`[-deleted-]{+inserted+}` without
    /// colour, red and green with it), indented under the change.
    func updateText(_ old: String, _ new: String) -> String {
        let segments = WordDiff.segments(old, new)
        let oneLine = !old.contains("\n") && !new.contains("\n") && old.count <= Self.shortLimit && new.count <= Self.shortLimit
        if oneLine {
            var o = "", n = ""
            for g in segments {
                switch g.kind {
                case .same: o += g.text; n += g.text
                case .deleted: o += paint(g.text, "1;31")
                case .inserted: n += paint(g.text, "1;32")
                }
            }
            return "`\(o)` → `\(n)`"
        }
        // The combined text, line by line.
        var lines: [[WordDiff.Segment]] = [[]]
        for g in segments {
            for (k, piece) in g.text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                if k > 0 { lines.append([]) }
                if !piece.isEmpty { lines[lines.count - 1].append(WordDiff.Segment(kind: g.kind, text: String(piece))) }
            }
        }
        let changed = lines.indices.filter { lines[$0].contains { $0.kind != .same } }
        guard let first = changed.first, let last = changed.last else { return "`\(Self.shortened(new))`" }
        let shown = first...min(last, first + Self.wordDiffLines - 1)
        let indent = lines[shown].map { l -> Int in
            guard let s = l.first, s.kind == .same else { return 0 }
            return s.text.prefix { $0 == " " || $0 == "\t" }.count
        }.min() ?? 0
        var out = "word diff:"
        for k in shown {
            var text = "", width = 0, cut = false
            var toSkip = indent
            for var g in lines[k] {
                if toSkip > 0 && g.kind == .same {
                    let drop = min(toSkip, g.text.count)
                    g.text = String(g.text.dropFirst(drop)); toSkip -= drop
                }
                if width + g.text.count > Self.wordDiffWidth {
                    g.text = String(g.text.prefix(max(0, Self.wordDiffWidth - width))); cut = true
                }
                width += g.text.count
                switch g.kind {
                case .same: text += g.text
                case .deleted: text += color ? paint(g.text, "1;31") : "[-\(g.text)-]"
                case .inserted: text += color ? paint(g.text, "1;32") : "{+\(g.text)+}"
                }
                if cut { text += "…"; break }
            }
            out += "\n          " + text
        }
        if last > shown.upperBound { out += "\n          " + paint("… (\(last - shown.upperBound) more changed lines)", "2") }
        return out
    }

    // MARK: --stat

    /// Per-file counts and a closing total, once every file is known (columns are aligned).
    package func stat(_ files: [FileDiff]) -> String {
        var rows: [(String, String, String)] = []
        var totals = [0, 0, 0, 0]
        var byStatus: [String: Int] = [:]
        for f in files {
            let counts: String
            switch f.nodes {
            case .diff(let d):
                counts = Self.counts(d) + (d.isCoarse ? " (coarse)" : "")
                for (k, op) in [NodeChange.Op.insert, .delete, .update, .move].enumerated() { totals[k] += d.count(op) }
            case .unavailable: counts = "(no node-level diff)"
            case .none:
                switch f.status {
                case .added: counts = lines(f.new?.lines ?? 0) + " added"
                case .deleted: counts = lines(f.old?.lines ?? 0) + " deleted"
                case .renamed(let s): counts = "\(s)% similar"
                case .modified: counts = ""
                }
            }
            let key: String
            switch f.status {
            case .added: key = "added"
            case .deleted: key = "deleted"
            case .modified: key = "modified"
            case .renamed: key = "renamed"
            }
            byStatus[key, default: 0] += 1
            rows.append((String(f.status.letter.prefix(1)), pathText(f), counts))
        }
        let width = rows.map { $0.1.count }.max() ?? 0
        var lines = rows.map { r in
            " " + paint(r.0, statusColor(r.0 == "A" ? .added : r.0 == "D" ? .deleted : r.0 == "R" ? .renamed(score: 0) : .modified))
                + " " + r.1 + String(repeating: " ", count: width - r.1.count) + " | " + r.2
        }
        let statusText = ["added", "deleted", "modified", "renamed"].compactMap { k in byStatus[k].map { "\($0) \(k)" } }
        lines.append(" \(files.count) file\(files.count == 1 ? "" : "s") changed" + (statusText.isEmpty ? "" : " (" + statusText.joined(separator: ", ") + ")")
                     + "; nodes: \(totals[0]) inserted, \(totals[1]) deleted, \(totals[2]) updated, \(totals[3]) moved")
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: --json

    func json(_ f: FileDiff) -> String {
        func path(_ p: [UInt8]?) -> JSONValue { p.map { .string(String(decoding: $0, as: UTF8.self)) } ?? .null }
        // Positions as `query --json` gives them.
        func point(_ p: LineColumn) -> JSONValue { .object([("line", .int(p.line)), ("column", .int(p.column))]) }
        func span(_ s: SourceSpan?) -> JSONValue {
            guard let s else { return .null }
            return .object([("start", point(s.start)), ("end", point(s.end)),
                            ("start_byte", .int(s.startByte)), ("end_byte", .int(s.endByte))])
        }
        func text(_ s: String?) -> JSONValue { s.map { .string($0) } ?? .null }
        var score: JSONValue = .null
        if case .renamed(let s) = f.status { score = .int(s) }
        var nodes: JSONValue = .null
        var unavailable: JSONValue = .null
        switch f.nodes {
        case .none: break
        case .unavailable(let why): unavailable = .string(why)
        case .diff(let d):
            var reason: JSONValue = .null
            if case .coarse(let r) = d.mode { reason = .string(r) }
            let groups: [JSONValue] = d.groups.map { g in
                .object([("path", .array(g.path.map { p in
                    .object([("kind", .string(p.kind)), ("name", .string(p.name)), ("old_name", text(p.oldName))])
                })), ("parts", .array(g.parts.map { .string($0) }))])
            }
            let changes: [JSONValue] = d.changes.map { c in
                .object([("op", .string(c.op.rawValue)), ("kind", .string(c.kind)), ("group", .int(c.group)),
                         ("part", text(c.part)), ("old", span(c.old)), ("new", span(c.new)),
                         ("old_text", text(c.oldText)), ("new_text", text(c.newText)),
                         ("kept", .array(c.kept.map { span($0) }))])
            }
            var pairs: [(String, JSONValue)] = [("mode", .string(d.isCoarse ? "coarse" : "structural")), ("reason", reason),
                             ("inserted", .int(d.count(.insert))), ("deleted", .int(d.count(.delete))),
                             ("updated", .int(d.count(.update))), ("moved", .int(d.count(.move))),
                             ("old_nodes", .int(d.oldNodes)), ("new_nodes", .int(d.newNodes)),
                             ("seconds", .double((d.seconds * 1e6).rounded() / 1e6)),
                             ("groups", .array(groups)), ("changes", .array(changes)),
                             ("renames", .array(d.renames.map { r in
                                 .object([("kind", .string(r.kind)), ("old_name", .string(r.oldName)), ("new_name", .string(r.newName)),
                                          ("old_scope", .array(r.oldScope.map { .string($0) })),
                                          ("new_scope", .array(r.newScope.map { .string($0) })),
                                          ("old", span(r.old)), ("new", span(r.new))])
                             }))]
            if let r = d.replay { pairs.append(("replay", .string(r.map { "failed: " + $0 } ?? "ok"))) }
            nodes = .object(pairs)
        }
        return JSONValue.object([
            ("status", .string(String(f.status.letter.prefix(1)))), ("score", score),
            ("old_path", path(f.old?.path)), ("new_path", path(f.new?.path)),
            ("old_language", text(f.old?.language)), ("new_language", text(f.new?.language)),
            ("nodes", nodes), ("unavailable", unavailable),
        ]).serialized
    }

    private func lines(_ n: Int) -> String { n == 1 ? "1 line" : "\(n) lines" }
}
