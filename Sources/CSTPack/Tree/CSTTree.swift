/// One file's concrete syntax tree as flat preorder arrays: what the parser produces,
/// what the codec encodes, and what decoding gives back. Node 0 is the root.
public struct CSTTree: Equatable, Sendable {
    public struct Flags: OptionSet, Sendable, Hashable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let named = Flags(rawValue: 1)
        public static let extra = Flags(rawValue: 2)
        public static let missing = Flags(rawValue: 4)
        /// tree-sitter's `ts_node_has_error`: this node or a descendant is ERROR or MISSING.
        public static let hasError = Flags(rawValue: 8)
    }

    /// Kind code (index into the language's kind table; the last code is ERROR).
    public var kinds: [UInt16] = []
    /// Field id under the parent (0 = none).
    public var fields: [UInt16] = []
    public var flags: [Flags] = []
    public var starts: [UInt32] = []
    public var ends: [UInt32] = []
    /// Preorder index of the parent; -1 for the root.
    public var parents: [Int32] = []

    public init() {}

    public init(reservingCapacity n: Int) {
        kinds.reserveCapacity(n); fields.reserveCapacity(n); flags.reserveCapacity(n)
        starts.reserveCapacity(n); ends.reserveCapacity(n); parents.reserveCapacity(n)
    }

    public var count: Int { kinds.count }

    @inline(__always)
    public mutating func append(kind: UInt16, field: UInt16, flags f: Flags, start: UInt32, end: UInt32, parent: Int32) {
        kinds.append(kind); fields.append(field); flags.append(f)
        starts.append(start); ends.append(end); parents.append(parent)
    }

    /// Index of the first node after `i`'s subtree (preorder), computed in one pass.
    public func subtreeEnds() -> [Int32] {
        var result = [Int32](repeating: Int32(count), count: count)
        var stack: [Int32] = []
        for i in 0..<count {
            let p = parents[i]
            while let top = stack.last, top != p {
                result[Int(top)] = Int32(i)
                stack.removeLast()
            }
            stack.append(Int32(i))
        }
        return result
    }

    /// Children of every node, as ranges into a flat array (built once, O(n)).
    public func childLists() -> (offsets: [Int32], children: [Int32]) {
        var counts = [Int32](repeating: 0, count: count + 1)
        for i in 1..<max(count, 1) where parents[i] >= 0 { counts[Int(parents[i]) + 1] += 1 }
        for i in 0..<count { counts[i + 1] += counts[i] }
        var fill = counts
        var children = [Int32](repeating: 0, count: Int(counts[count]))
        for i in 0..<count where parents[i] >= 0 {
            let p = Int(parents[i])
            children[Int(fill[p])] = Int32(i)
            fill[p] += 1
        }
        return (counts, children)
    }

    /// Deepest nesting level (root = 1).
    public func depth() -> Int {
        var d = [Int32](repeating: 0, count: count)
        var best: Int32 = 0
        for i in 0..<count {
            d[i] = parents[i] < 0 ? 1 : d[Int(parents[i])] + 1
            best = max(best, d[i])
        }
        return Int(best)
    }
}
