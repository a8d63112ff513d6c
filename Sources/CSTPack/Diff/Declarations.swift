import CXXHash

/// The named declarations of one side of a diff (functions, classes, methods, ...), each with
/// its name and the declaration it is nested in: what matching pairs by name, what a rename
/// is checked against, and what changes are grouped under.
struct Declarations {
    /// Node i is a named declaration.
    let isDecl: [Bool]
    /// The node whose text is the declaration's name (-1 when not a declaration).
    let nameNode: [Int32]
    /// Hash of the name's text (0 when not a declaration).
    let nameHash: [UInt64]
    /// The nearest declaration strictly above node i (-1: the file's top level).
    let scope: [Int32]
    /// The declarations whose scope is a given declaration (key -1: the top level), in order.
    let members: [Int32: [Int32]]
    /// (scope, name hash) of every declaration: which names a scope holds.
    let names: Set<ScopedName>

    struct ScopedName: Hashable {
        let scope: Int32
        let name: UInt64
    }

    init(_ t: DiffTree, facts: TableFacts) {
        let n = t.n
        var isDecl = [Bool](repeating: false, count: n)
        var nameNode = [Int32](repeating: -1, count: n)
        var nameHash = [UInt64](repeating: 0, count: n)
        var scope = [Int32](repeating: -1, count: n)
        var members: [Int32: [Int32]] = [:]
        var names = Set<ScopedName>()
        let kinds = t.file.tree.kinds
        for i in 0..<n {
            let p = Int(t.parent[i])
            if p >= 0 { scope[i] = isDecl[p] ? Int32(p) : scope[p] }
            let kind = Int(kinds[i])
            guard i > 0, kind < facts.kindDecl.count, facts.kindDecl[kind], t.file.isNamed(i), !t.isLeaf(i),
                  let name = Self.nameNode(t, i, facts: facts) else { continue }
            let h = Self.textHash(t, name)
            guard h != 0 else { continue }
            isDecl[i] = true
            nameNode[i] = Int32(name)
            nameHash[i] = h
            members[scope[i], default: []].append(Int32(i))
            names.insert(ScopedName(scope: scope[i], name: h))
        }
        self.isDecl = isDecl
        self.nameNode = nameNode
        self.nameHash = nameHash
        self.scope = scope
        self.members = members
        self.names = names
    }

    /// Whether scope `s` (-1: top level) holds a declaration named `name`.
    func holds(_ name: UInt64, in s: Int32) -> Bool { names.contains(ScopedName(scope: s, name: name)) }

    private static func childWithField(_ t: DiffTree, _ i: Int, _ field: Int32) -> Int? {
        guard field != 0 else { return nil }
        for k in 0..<t.childCount(i) {
            let c = t.child(i, k)
            if t.field[c] == field { return c }
        }
        return nil
    }

    /// The node naming declaration i: its `name` field, else the end of its chain of
    /// `declarator`s (C's `int *f(void)`), else the type of an `impl`, else the name of a
    /// wrapped part that is not a declaration itself (Go's type_declaration, a JavaScript
    /// const); nil for an anonymous one.
    static func nameNode(_ t: DiffTree, _ i: Int, facts: TableFacts) -> Int? {
        var node = i
        for _ in 0..<8 {
            if let c = childWithField(t, node, facts.nameField) { return c }
            guard let d = childWithField(t, node, facts.declaratorField) else { break }
            if t.isLeaf(d) { return d }
            node = d
        }
        if node != i { return node }
        if let c = childWithField(t, i, facts.typeField), t.file.kindName(i).contains("impl") { return c }
        for k in 0..<t.childCount(i) {
            let c = t.child(i, k)
            // Not one around a declaration of its own (Python's decorated_definition).
            if t.file.isNamed(c), !EditScript.isDeclKind(t.file.kindName(c)), let n = childWithField(t, c, facts.nameField) { return n }
        }
        return nil
    }

    /// Hash of a node's text, white space around it ignored; 0 when it has none.
    static func textHash(_ t: DiffTree, _ i: Int) -> UInt64 {
        guard let src = t.file.source else { return 0 }
        var s = Int(t.file.tree.starts[i]), e = Int(t.file.tree.ends[i])
        s = min(max(s, 0), src.count); e = min(max(e, s), src.count)
        while s < e, isSpace(src[s]) { s += 1 }
        while e > s, isSpace(src[e - 1]) { e -= 1 }
        guard s < e else { return 0 }
        let h = src.withUnsafeBytes { XXH3_64bits($0.baseAddress! + s, e - s) }
        return h == 0 ? 1 : h
    }
}

/// Both sides' declarations, and the rule that keeps renames honest.
struct DeclarationPair {
    let a: Declarations
    let b: Declarations

    /// Whether old node x and new node y may be paired as far as names go: not both
    /// declarations, the same name, or a true rename: the old name is gone from y's scope
    /// and the new name was not in x's.
    func mayPair(_ x: Int, _ y: Int) -> Bool {
        guard a.isDecl[x], b.isDecl[y] else { return true }
        let p = a.nameHash[x], q = b.nameHash[y]
        if p == q { return true }
        return !b.holds(p, in: b.scope[y]) && !a.holds(q, in: a.scope[x])
    }
}
