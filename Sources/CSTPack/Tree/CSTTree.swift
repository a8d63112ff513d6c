/// One file's concrete syntax tree as flat preorder arrays: what the parser produces,
/// what the codec encodes, and what decoding gives back. Node 0 is the root.
package struct CSTTree: Equatable, Sendable {
    package struct Flags: OptionSet, Sendable, Hashable {
        package let rawValue: UInt8
        package init(rawValue: UInt8) { self.rawValue = rawValue }
        package static let named = Flags(rawValue: 1)
        package static let extra = Flags(rawValue: 2)
        package static let missing = Flags(rawValue: 4)
        /// tree-sitter's `ts_node_has_error`: this node or a descendant is ERROR or MISSING.
        package static let hasError = Flags(rawValue: 8)
    }

    /// Kind code (index into the language's kind table; the last code is ERROR).
    package var kinds: [UInt16] = []
    /// Field id under the parent (0 = none).
    package var fields: [UInt16] = []
    package var flags: [Flags] = []
    package var starts: [UInt32] = []
    package var ends: [UInt32] = []
    /// Preorder index of the parent; -1 for the root.
    package var parents: [Int32] = []

    package init() {}

    package init(reservingCapacity n: Int) {
        kinds.reserveCapacity(n); fields.reserveCapacity(n); flags.reserveCapacity(n)
        starts.reserveCapacity(n); ends.reserveCapacity(n); parents.reserveCapacity(n)
    }

    package var count: Int { kinds.count }

    @inline(__always)
    package mutating func append(kind: UInt16, field: UInt16, flags f: Flags, start: UInt32, end: UInt32, parent: Int32) {
        kinds.append(kind); fields.append(field); flags.append(f)
        starts.append(start); ends.append(end); parents.append(parent)
    }

    /// Index of the first node after `i`'s subtree (preorder), computed in one pass.
    package func subtreeEnds() -> [Int32] {
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
    package func childLists() -> (offsets: [Int32], children: [Int32]) {
        var offsets: [Int32] = [], children: [Int32] = []
        parents.withUnsafeBufferPointer { Self.childLists(parents: $0, offsets: &offsets, children: &children) }
        return (offsets, children)
    }

    /// Children of node p are `children[offsets[p]..<offsets[p+1]]`, in order; the arrays
    /// are refilled (their storage reused).
    static func childLists(parents: UnsafeBufferPointer<Int32>, offsets: inout [Int32], children: inout [Int32]) {
        let count = parents.count
        offsets.removeAll(keepingCapacity: true)
        offsets.append(contentsOf: repeatElement(0, count: count + 1))
        // Raw buffers throughout: checked array accesses were most of this function's time,
        // and a pattern search runs it on every file. Parents come from the decoder, which
        // checked each is an earlier node (or -1 for the root).
        offsets.withUnsafeMutableBufferPointer { offsets in
            for i in 1..<max(count, 1) where parents[i] >= 0 { offsets[Int(parents[i]) + 1] &+= 1 }
            for i in 0..<count { offsets[i + 1] &+= offsets[i] }
        }
        children.removeAll(keepingCapacity: true)
        children.append(contentsOf: repeatElement(0, count: Int(offsets[count])))
        offsets.withUnsafeMutableBufferPointer { offsets in
            children.withUnsafeMutableBufferPointer { children in
                // Fill each list from its start, then shift the starts back.
                for i in 0..<count where parents[i] >= 0 {
                    let p = Int(parents[i])
                    children[Int(offsets[p])] = Int32(truncatingIfNeeded: i)
                    offsets[p] &+= 1
                }
                var previous: Int32 = 0
                for p in 0..<count {
                    let end = offsets[p]
                    offsets[p] = previous
                    previous = end
                }
            }
        }
    }

    /// Deepest nesting level (root = 1).
    package func depth() -> Int {
        var d = [Int32](repeating: 0, count: count)
        var best: Int32 = 0
        for i in 0..<count {
            d[i] = parents[i] < 0 ? 1 : d[Int(parents[i])] + 1
            best = max(best, d[i])
        }
        return Int(best)
    }
}
