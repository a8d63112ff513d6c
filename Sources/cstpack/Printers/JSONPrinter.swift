import CSTPack

/// `--json`: one JSON object per hit (JSON Lines), with the query's match, pattern and
/// capture, a rule's id, message and severity, and a structural match's metavariables.
struct JSONPrinter: HitPrinter {
    func print(_ ft: FileTree, _ hit: QueryHit) throws -> [UInt8] {
        Array((object(ft, hit).serialized + "\n").utf8)
    }

    func object(_ ft: FileTree, _ hit: QueryHit) -> JSONValue {
        let n = hit.node
        let f = ft.tree.flags[n]
        func point(_ b: UInt32) -> JSONValue {
            guard let p = ft.point(b) else { return .null }
            return .object([("line", .int(p.line)), ("column", .int(p.column))])
        }
        var pairs: [(String, JSONValue)] = [
            ("path", .string(ft.displayPath)), ("id", .int(n + ft.firstID)), ("kind", .string(ft.kindName(n))),
            ("field", ft.fieldName(n).map { .string($0) } ?? .null),
            ("named", .bool(f.contains(.named))), ("extra", .bool(f.contains(.extra))),
            ("missing", .bool(f.contains(.missing))), ("error", .bool(ft.isError(n))),
            ("has_error", .bool(f.contains(.hasError))),
            ("start_byte", .int(Int(ft.tree.starts[n]))), ("end_byte", .int(Int(ft.tree.ends[n]))),
            ("start", point(ft.tree.starts[n])), ("end", point(ft.tree.ends[n])),
            ("text", ft.text(n).map { .string(String(decoding: $0, as: UTF8.self)) } ?? .null),
        ]
        if let m = hit.match { pairs.append(("match", .int(m))) }
        if let p = hit.pattern { pairs.append(("pattern", .int(p))) }
        if let c = hit.capture { pairs.append(("capture", .string(c))) }
        if let r = hit.rule {
            pairs.append(("rule", .string(r.id)))
            if let m = r.message { pairs.append(("message", .string(m))) }
            if let s = r.severity { pairs.append(("severity", .string(s))) }
        }
        if let vars = hit.variables {
            func node(_ k: Int) -> JSONValue {
                .object([("text", ft.text(k).map { .string(String(decoding: $0, as: UTF8.self)) } ?? .null),
                         ("start_byte", .int(Int(ft.tree.starts[k]))), ("end_byte", .int(Int(ft.tree.ends[k]))),
                         ("start", point(ft.tree.starts[k])), ("end", point(ft.tree.ends[k]))])
            }
            pairs.append(("vars", .object(vars.entries.map { e in
                (e.name, e.multiple ? .array(e.nodes.map(node)) : node(e.nodes[0]))
            })))
        }
        return .object(pairs)
    }
}
