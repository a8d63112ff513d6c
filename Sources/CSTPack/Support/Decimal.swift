/// A decimal integer typed by a user, read without trapping: digits past Int's range are
/// reported as such (for a "must be between" message), not wrapped or trapped on.
package enum ParsedDecimal: Equatable, Sendable {
    case inRange(Int)
    case tooLarge
    case tooSmall
}

/// `[+-]?[0-9]+` as a ParsedDecimal; nil for anything else (empty, spaces, other characters).
package func parseDecimal<S: StringProtocol>(_ text: S) -> ParsedDecimal? {
    var digits = Substring(text)
    var negative = false
    if let sign = digits.first, sign == "-" || sign == "+" {
        negative = sign == "-"
        digits = digits.dropFirst()
    }
    guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
    var value = 0
    for d in digits.utf8 {
        let digit = Int(d - UInt8(ascii: "0"))
        let (times10, o1) = value.multipliedReportingOverflow(by: 10)
        // Accumulates negatively for a minus sign, so Int.min itself is in range.
        let (next, o2) = negative ? times10.subtractingReportingOverflow(digit) : times10.addingReportingOverflow(digit)
        if o1 || o2 { return negative ? .tooSmall : .tooLarge }
        value = next
    }
    return .inRange(value)
}
