/// A parsed tree-sitter query (the S-expression pattern language), resolved against one
/// language's kind and field names.
public struct Query: Sendable {
    public var patterns: [Pattern]
    /// Capture names, indexed by capture id.
    public var captureNames: [String]
    /// Predicates tree-sitter's query cursor does not apply either (`#is-not? local`, ...):
    /// accepted, and left to the application, as tree-sitter does.
    var unappliedPredicates: [String] = []

    public struct Pattern: Sendable {
        /// Top-level items: one node pattern, or several siblings (a group).
        public var items: [Item]
        public var predicates: [Predicate]
        /// Byte offset of the pattern in the query text.
        public var offset: Int
    }

    public enum Quantifier: Sendable { case one, optional, zeroOrMore, oneOrMore }

    /// One element of a sibling sequence: an expression with quantifier, field, anchors.
    public struct Item: Sendable {
        public var expr: Expr
        public var quantifier: Quantifier = .one
        /// Field the matched child must have (`field: expr`).
        public var field: UInt16? = nil
        /// `.` before this item: first named child, or immediately after the previous item.
        public var anchoredBefore = false
        /// `.` after this item: last named child, or immediately before the next item.
        public var anchoredAfter = false
        public var captures: [Int] = []
    }

    public indirect enum Expr: Sendable {
        /// `(kind children...)`; `kinds` nil for `(_)` (any named node).
        case node(kinds: Set<UInt16>?, children: [Item], negatedFields: [UInt16])
        /// `"token"`: anonymous nodes of that text.
        case token(Set<UInt16>)
        /// `_`: any node, named or anonymous.
        case any
        /// `[ a b c ]`: one of the alternatives (each a sequence of items).
        case alternation([[Item]])
        /// `( a b c )`: a sequence of sibling items.
        case group([Item])
    }

    public struct Predicate: Sendable {
        public enum Kind: String, Sendable {
            case eq = "eq?", notEq = "not-eq?", match = "match?", notMatch = "not-match?", anyOf = "any-of?"
            case notAnyOf = "not-any-of?", anyEq = "any-eq?", anyNotEq = "any-not-eq?", anyMatch = "any-match?"
            case anyNotMatch = "any-not-match?"

            /// `#any-…?` holds when some node of a quantified capture passes; the others,
            /// when every node does.
            var someNode: Bool { [.anyEq, .anyNotEq, .anyMatch, .anyNotMatch].contains(self) }
            var positive: Bool { [.eq, .match, .anyOf, .anyEq, .anyMatch].contains(self) }
            var isEquality: Bool { [.eq, .notEq, .anyEq, .anyNotEq].contains(self) }
            var isMatch: Bool { [.match, .notMatch, .anyMatch, .anyNotMatch].contains(self) }
        }
        public var kind: Kind
        public var capture: Int
        /// Compare with another capture's text (`#eq? @a @b`), else with `strings`.
        public var otherCapture: Int?
        public var strings: [String]
    }
}

/// A query syntax or naming error, with the byte offset where it was found.
public struct QueryError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public let offset: Int
    public let line: Int
    public let column: Int
    public var description: String { "query error at \(line):\(column): \(message)" }
}
