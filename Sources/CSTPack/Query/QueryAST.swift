/// A parsed tree-sitter query (the S-expression pattern language), resolved against one
/// language's kind and field names.
package struct Query: Sendable {
    package var patterns: [Pattern]
    /// Capture names, indexed by capture id.
    package var captureNames: [String]
    /// Predicates tree-sitter's query cursor does not apply either (`#is-not? local`, ...):
    /// accepted, and left to the application, as tree-sitter does.
    var unappliedPredicates: [String] = []
    /// The query text as tree-sitter 0.20.7 can check it (`(MISSING ...)` as the plain test,
    /// at the same offsets), or nil when it is the text itself.
    var plainText: String? = nil

    package struct Pattern: Sendable {
        /// Top-level items: one node pattern, or several siblings (a group).
        package var items: [Item]
        package var predicates: [Predicate]
        /// Byte offset of the pattern in the query text.
        package var offset: Int
    }

    package enum Quantifier: Sendable { case one, optional, zeroOrMore, oneOrMore }

    /// One element of a sibling sequence: an expression with quantifier, field, anchors.
    package struct Item: Sendable {
        package var expr: Expr
        package var quantifier: Quantifier = .one
        /// Field the matched child must have (`field: expr`).
        package var field: UInt16? = nil
        /// `.` before this item: first named child, or immediately after the previous item.
        package var anchoredBefore = false
        /// `.` after this item: last named child, or immediately before the next item.
        package var anchoredAfter = false
        package var captures: [Int] = []
    }

    package indirect enum Expr: Sendable {
        /// `(kind children...)`; `kinds` nil for `(_)` (any named node).
        case node(kinds: Set<UInt16>?, children: [Item], negatedFields: [UInt16])
        /// `"token"`: anonymous nodes of that text.
        case token(Set<UInt16>)
        /// `_`: any node, named or anonymous.
        case any
        /// `(MISSING)`, `(MISSING kind)`, `(MISSING "token")`: a node error recovery
        /// inserted (of those kinds; nil: any kind, named or anonymous).
        case missing(Set<UInt16>?)
        /// `[ a b c ]`: one of the alternatives (each a sequence of items).
        case alternation([[Item]])
        /// `( a b c )`: a sequence of sibling items.
        case group([Item])
    }

    package struct Predicate: Sendable {
        package enum Kind: String, Sendable {
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
        package var kind: Kind
        package var capture: Int
        /// Compare with another capture's text (`#eq? @a @b`), else with `strings`.
        package var otherCapture: Int?
        package var strings: [String]
    }
}

/// A query syntax or naming error, with the byte offset where it was found.
package struct QueryError: Error, CustomStringConvertible, Sendable {
    package let message: String
    package let offset: Int
    package let line: Int
    package let column: Int
    package var description: String { "query error at \(line):\(column): \(message)" }
}
