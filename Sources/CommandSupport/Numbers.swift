import ArgumentParser
import CSTPack

/// Integer options are read with `transform: saturatingInt`: digits past Int's range become
/// Int.min or Int.max, so the range check in `run()` reports them with the valid range (a
/// `cstpack: error:` line, exit 2) instead of ArgumentParser's "invalid value" (exit 64).
package func saturatingInt(_ text: String) throws -> Int {
    switch parseDecimal(text) {
    case .some(.inRange(let v)): return v
    case .some(.tooLarge): return Int.max
    case .some(.tooSmall): return Int.min
    case nil: throw ValidationError("'\(text)' is not a whole number")
    }
}

/// Throws "NAME must be between LOW and HIGH" unless `value` is nil or in `range`.
package func checkRange(_ value: Int?, _ range: ClosedRange<Int>, _ name: String, unit: String = "") throws {
    guard let v = value, !range.contains(v) else { return }
    throw CSTPackError("\(name) must be between \(range.lowerBound) and \(range.upperBound)\(unit)")
}

/// Milliseconds as microseconds (callers range-check first; saturates all the same).
package func microseconds(milliseconds ms: Int) -> UInt64 {
    let (us, overflow) = UInt64(clamping: ms).multipliedReportingOverflow(by: 1000)
    return overflow ? UInt64.max : us
}

/// The largest time limit in milliseconds (24.8 days): far past any use, and its
/// microseconds fit every type they pass through.
package let maxMilliseconds = Int(Int32.max)
