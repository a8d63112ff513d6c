import Foundation

/// A JSON value for the `--json` outputs that are built by hand (one object per line).
package enum JSONValue {
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object([(String, JSONValue)])

    package var serialized: String {
        switch self {
        case .string(let s): return JSONValue.quote(s)
        case .int(let i): return "\(i)"
        case .double(let d): return d.isFinite ? "\(d)" : "null"
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        case .array(let a): return "[" + a.map(\.serialized).joined(separator: ",") + "]"
        case .object(let o): return "{" + o.map { JSONValue.quote($0.0) + ":" + $0.1.serialized }.joined(separator: ",") + "}"
        }
    }

    package static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += "\\u" + String(u.value, radix: 16).leftPadded(to: 4) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}

/// A JSON object keeping the given key order.
package func jsonObject(_ pairs: KeyValuePairs<String, JSONValue>) -> String {
    JSONValue.object(pairs.map { ($0.key, $0.value) }).serialized
}
