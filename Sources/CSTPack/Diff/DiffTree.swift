import CXXHash

import Glibc

/// What diffing needs to know about one language table, computed once per process.
struct TableFacts: Sendable {
    let kindLabels: [Int32]
    let fieldLabels: [Int32]
    /// Kinds that may name a declaration (function_definition, class_declaration, ...), and
    /// the function-like ones among them.
    let kindDecl: [Bool]
    let kindFunction: [Bool]
    /// Labels of the fields that identify a declaration: name, type, trait, declarator.
    let identityFields: [Int32]
    /// Labels of the fields `name`, `declarator` and `type`.
    let nameField: Int32
    let declaratorField: Int32
    let typeField: Int32
}

/// Process-wide labels: one LabelSpace shared by every diff (labels only need to agree between
/// the two sides of one), and the facts of each table seen, behind a mutex.
final class TableFactsCache: @unchecked Sendable {
    static let shared = TableFactsCache()
    private var mutex = pthread_mutex_t()
    private var space = LabelSpace()
    private var facts: [String: TableFacts] = [:]

    private init() { pthread_mutex_init(&mutex, nil) }

    func facts(_ t: LanguageTable) -> TableFacts {
        let key = "\(t.name)\u{0}\(t.kindCount)\u{0}\(t.fieldCount)\u{0}\(t.abi)\u{0}\(t.kindNames.last ?? "")\u{0}\(t.kindNames.first ?? "")"
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        if let f = facts[key], f.kindLabels.count == t.kindCount { return f }
        let kinds = space.kindLabels(t), fields = space.fieldLabels(t)
        let f = TableFacts(kindLabels: kinds, fieldLabels: fields,
                           kindDecl: t.kindNames.map(EditScript.isDeclKind),
                           kindFunction: t.kindNames.map(EditScript.isFunctionKind),
                           identityFields: ["name", "type", "trait", "declarator"].map { space.id("f:" + $0) },
                           nameField: space.id("f:name"), declaratorField: space.id("f:declarator"), typeField: space.id("f:type"))
        facts[key] = f
        return f
    }
}

/// Kind and field labels shared by the two sides of a diff: kinds are equal when their names
/// and named bits are (so aliases of one name are one label, and two versions of a grammar
/// still compare), fields when their names are.
struct LabelSpace {
    private var ids: [String: Int32] = [:]

    init() {}

    mutating func id(_ key: String) -> Int32 {
        if let v = ids[key] { return v }
        let v = Int32(ids.count + 1)
        ids[key] = v
        return v
    }

    /// Kind code -> label, for one language table.
    mutating func kindLabels(_ t: LanguageTable) -> [Int32] {
        zip(t.kindNames, t.kindNamed).map { id(($1 ? "k+" : "k-") + $0) }
    }

    /// Field id -> label (0 stays 0: no field).
    mutating func fieldLabels(_ t: LanguageTable) -> [Int32] {
        var out: [Int32] = [0]
        for f in t.fieldNames.dropFirst() { out.append(id("f:" + f)) }
        return out
    }
}

/// One side of a tree diff: the file's tree with what matching needs, all as flat arrays
/// indexed by preorder node id, computed bottom-up without recursion.
struct DiffTree {
    let file: FileTree
    let n: Int
    /// Kind label (LabelSpace), field label (0: none).
    let label: [Int32]
    let field: [Int32]
    let parent: [Int32]
    /// First node after the subtree.
    let end: [Int32]
    /// Children of node i: children[childStart[i] ..< childStart[i + 1]].
    let childStart: [Int32]
    let children: [Int32]
    /// Identity of the subtree: labels, own text and children's hashes, in order.
    let hash: [UInt64]
    /// Identity of the node's own text: what its children do not cover, each gap trimmed of
    /// surrounding white space (a token's whole text for leaves).
    let value: [UInt64]
    /// 1 for leaves.
    let height: [Int32]
    /// Index among the parent's children.
    let position: [Int32]

    init(_ file: FileTree, kindLabels: [Int32], fieldLabels: [Int32]) {
        self.file = file
        let t = file.tree
        n = t.count
        label = t.kinds.map { Int(Int($0)) < kindLabels.count ? kindLabels[Int($0)] : -1 }
        field = t.fields.map { Int($0) < fieldLabels.count ? fieldLabels[Int($0)] : 0 }
        parent = t.parents
        end = t.subtreeEnds()
        let lists = t.childLists()
        childStart = lists.offsets
        children = lists.children
        var position = [Int32](repeating: 0, count: n)
        for i in 0..<n {
            let s = Int(childStart[i]), e = Int(childStart[i + 1])
            for k in s..<e { position[Int(children[k])] = Int32(k - s) }
        }
        self.position = position
        var value = [UInt64](repeating: 0, count: n)
        if let source = file.source {
            source.withUnsafeBytes { raw in
                DiffTree.values(into: &value, tree: t, childStart: lists.offsets, children: lists.children, source: raw)
            }
        }
        self.value = value
        var hash = [UInt64](repeating: 0, count: n)
        var height = [Int32](repeating: 1, count: n)
        var i = n - 1
        while i >= 0 {
            var h = mix(UInt64(UInt32(bitPattern: label[i])) &* 0x9E37_79B9_7F4A_7C15 ^ value[i])
            var best: Int32 = 0
            for k in Int(childStart[i])..<Int(childStart[i + 1]) {
                let c = Int(children[k])
                h = mix(h &+ hash[c] &* 0xC2B2_AE3D_27D4_EB4F)
                if height[c] > best { best = height[c] }
            }
            hash[i] = h
            height[i] = best + 1
            i -= 1
        }
        self.hash = hash
        self.height = height
    }

    private static func values(into value: inout [UInt64], tree t: CSTTree, childStart: [Int32], children: [Int32],
                               source: UnsafeRawBufferPointer) {
        let limit = source.count
        func gapHash(_ a: Int, _ b: Int) -> UInt64? {
            var s = min(max(a, 0), limit), e = min(max(b, 0), limit)
            while s < e, isSpace(source[s]) { s += 1 }
            while e > s, isSpace(source[e - 1]) { e -= 1 }
            guard s < e else { return nil }
            return XXH3_64bits(source.baseAddress! + s, e - s)
        }
        for i in 0..<t.count {
            let cs = Int(childStart[i]), ce = Int(childStart[i + 1])
            if cs == ce {
                value[i] = gapHash(Int(t.starts[i]), Int(t.ends[i])) ?? 0
                continue
            }
            var h: UInt64 = 0
            var pos = Int(t.starts[i])
            for k in cs...ce {
                let next = k < ce ? Int(t.starts[Int(children[k])]) : Int(t.ends[i])
                if next > pos, let g = gapHash(pos, next) {
                    h = mix(h ^ (g &+ UInt64(k - cs) &* 0x1000_0000_01B3))
                }
                if k < ce { pos = max(pos, Int(t.ends[Int(children[k])])) }
            }
            value[i] = h
        }
    }

    @inline(__always) func size(_ i: Int) -> Int { Int(end[i]) - i }
    @inline(__always) func childCount(_ i: Int) -> Int { Int(childStart[i + 1] - childStart[i]) }
    @inline(__always) func isLeaf(_ i: Int) -> Bool { childStart[i] == childStart[i + 1] }
    @inline(__always) func child(_ i: Int, _ k: Int) -> Int { Int(children[Int(childStart[i]) + k]) }
    @inline(__always) func isAncestor(_ a: Int, of b: Int) -> Bool { a <= b && b < Int(end[a]) }

    /// An anonymous leaf whose text is all white space (Go's and Python's newline
    /// terminators): layout, not structure.
    func isLayout(_ i: Int) -> Bool {
        guard let src = file.source, !file.isNamed(i), isLeaf(i) else { return false }
        let s = Int(file.tree.starts[i]), e = Int(file.tree.ends[i])
        guard s < e, e <= src.count else { return false }
        return !src[s..<e].contains(where: { !isSpace($0) })
    }
}

@inline(__always) func isSpace(_ b: UInt8) -> Bool { b == 0x20 || (b >= 0x09 && b <= 0x0D) }

/// MurmurHash3's 64-bit finaliser: a bijection that spreads every input bit.
@inline(__always) func mix(_ x: UInt64) -> UInt64 {
    var z = x
    z = (z ^ (z >> 33)) &* 0xFF51_AFD7_ED55_8CCD
    z = (z ^ (z >> 33)) &* 0xC4CE_B9FE_1A85_EC53
    return z ^ (z >> 33)
}
